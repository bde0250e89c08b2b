#!/usr/bin/env bash
# Compiles bench/stream-processes.ts (and what it imports) and runs it on the project's Node 22:
# events/s of 1, 2, 3 … `shopdata stream` processes in one consumer group over 12-partition
# topics, into the replicated cluster (scripts/stack/up cluster) or the single server. The CLI must
# be built (npm run build).
# Usage: bash bench/stream-processes.sh [--processes 1,2,3] [--events 100000] [--warehouse cluster|single]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/stream-processes.tsconfig.json
# The test helpers it reuses read scripts/stack/ports.env relative to themselves.
ln -sfn "$PWD/scripts" node_modules/.cache/shopdata-bench-stream-processes/scripts
exec ./node_modules/.bin/node node_modules/.cache/shopdata-bench-stream-processes/bench/stream-processes.js "$@"
