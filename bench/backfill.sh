#!/usr/bin/env bash
# Compiles bench/backfill.ts (and the sources it imports) to node_modules/.cache/shopdata-bench-backfill
# and runs it on the project's Node 22 from the repository root (chDB reads the lake below the cwd).
# Usage: bash bench/backfill.sh [changes, default 2000000] [--format iceberg|parquet] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/backfill.tsconfig.json
exec ./node_modules/.bin/node --max-old-space-size=4096 node_modules/.cache/shopdata-bench-backfill/bench/backfill.js "$@"
