#!/usr/bin/env bash
# Compiles bench/check.ts (and the sources it imports) to node_modules/.cache/shopdata-bench-check
# and runs it on the project's Node 22.
# Usage: bash bench/check.sh [satellite rows, default 10000000] [warehouse URL, default a temp chdb: dir]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/check.tsconfig.json
exec ./node_modules/.bin/node node_modules/.cache/shopdata-bench-check/bench/check.js "$@"
