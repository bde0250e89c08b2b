#!/usr/bin/env bash
# Runs the unit suite and the end-to-end platform test with the process clock set to other dates
# (libfaketime), to prove that no test depends on the day it runs.
# Usage: scripts/test-dates.sh [--unit-only] ["YYYY-MM-DD HH:MM:SS" ...]
#   default dates: a month-end and a leap day, both seconds before midnight UTC.
# The clock starts at the given instant and runs on (FAKETIME "@…"), so the runs cross midnight.
# Timers stay on the real monotonic clock (FAKETIME_DONT_FAKE_MONOTONIC=1). The servers of the stack
# keep the real clock: only the test process and the CLI processes it starts are moved.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/stack/lib.sh
unit_only=0
if [[ ${1:-} == --unit-only ]]; then unit_only=1; shift; fi
dates=("$@")
(( ${#dates[@]} > 0 )) || dates=("2027-01-31 23:59:40" "2028-02-29 23:59:30")

apt_install faketime
lib=$(dpkg -L libfaketime | grep '/libfaketime.so.1$' | head -n 1 || true)
[[ -f $lib ]] || die "libfaketime.so.1 not found (dpkg -L libfaketime)"
export PATH="$PWD/node_modules/.bin:$PATH"   # vitest needs Node 22
if (( unit_only == 0 )); then
  bash scripts/stack/up postgres clickhouse kafka connect ferretdb
  npm run build --silent
fi

for d in "${dates[@]}"; do
  log "clock at $d UTC: unit suite"
  TZ=UTC FAKETIME="@$d" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$lib" \
    npx vitest run --project unit --reporter=default
  (( unit_only == 1 )) && continue
  log "clock at $d UTC: end-to-end platform test"
  TZ=UTC FAKETIME="@$d" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$lib" \
    npx vitest run test/integration/e2e/platform.test.ts --reporter=default
done
log "every date passed: ${dates[*]}"
