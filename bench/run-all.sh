#!/usr/bin/env bash
# Runs every benchmark; each prints its figure next to a baseline measured in the same run, as a
# ratio. Needs the local stack for all but startup and mapping (scripts/stack/up).
# Usage: bash bench/run-all.sh [startup mapping seed stream backfill check top replay-lines]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
npm run build >/dev/null
all=(startup mapping seed stream backfill check top replay-lines)
for b in "${@:-${all[@]}}"; do
  echo "=== bench: $b ==="
  case $b in
    startup) node bench/startup.ts 20 ;;
    mapping) bash bench/mapping.sh 1000000 ;;
    seed) node bench/seed.ts ;;
    stream) bash bench/stream.sh ;;
    backfill) bash bench/backfill.sh 2000000 ;;
    check) bash bench/check.sh ;;
    top) node bench/top.ts 30 200 ;;
    replay-lines) node bench/replay-lines.ts 32 ;;
    *) echo "unknown benchmark $b" >&2; exit 2 ;;
  esac
done
