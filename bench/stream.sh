#!/usr/bin/env bash
# Compiles bench/stream.ts (and what it imports) and runs it on the project's Node 22 against the
# local stack (Kafka 127.0.0.1:19092, ClickHouse 18.16 127.0.0.1:18123). The CLI must be built
# (npm run build). Usage: bash bench/stream.sh [events, default 500000] [--slow-clickhouse]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/stream.tsconfig.json
# The test helpers it reuses read scripts/stack/ports.env relative to themselves.
ln -sfn "$PWD/scripts" node_modules/.cache/shopdata-bench-stream/scripts
exec ./node_modules/.bin/node node_modules/.cache/shopdata-bench-stream/bench/stream.js "$@"
