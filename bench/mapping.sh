#!/usr/bin/env bash
# Compiles bench/mapping.ts (and the sources it imports) to node_modules/.cache/shopdata-bench and
# runs it on the project's Node 22. Usage: bash bench/mapping.sh [changes, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/mapping.tsconfig.json
exec ./node_modules/.bin/node node_modules/.cache/shopdata-bench/bench/mapping.js "$@"
