#!/usr/bin/env bash
# Compiles bench/archive.ts (and what it imports) and runs it on the project's Node 22 against the
# local stack (Kafka 127.0.0.1:19092; with --s3 the S3 at 127.0.0.1:19333). The CLI must be built
# (npm run build). Usage: bash bench/archive.sh [events, default 200000] [--s3]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/archive.tsconfig.json
# The test helpers it reuses read scripts/stack/ports.env relative to themselves.
ln -sfn "$PWD/scripts" node_modules/.cache/shopdata-bench-archive/scripts
exec ./node_modules/.bin/node node_modules/.cache/shopdata-bench-archive/bench/archive.js "$@"
