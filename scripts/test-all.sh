#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing, brings the real local stack up,
# builds, type-checks, lints and runs every test suite, then prints a closing summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
stamp() { printf '[test-all %4ss] %s\n' "$(( SECONDS - t0 ))" "$*" >&2; }

if [[ ! -x node_modules/.bin/node ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  stamp "installing npm dependencies"
  npm install --no-audit --no-fund
fi
export PATH="$PWD/node_modules/.bin:$PATH"   # Node 22 from the `node` devDependency
stamp "node $(node --version)"

stamp "bringing the local stack up (scripts/stack/up)"
bash scripts/stack/up

stamp "build + type-check + lint"
npm run build
npx tsc -p tsconfig.json --noEmit
npm run lint --silent

stamp "tests"
mkdir -p .stack/reports
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=.stack/reports/vitest.json
rc=$?
stamp "unit suite again with the clock at other dates (scripts/test-dates.sh --unit-only)"
bash scripts/test-dates.sh --unit-only >.stack/reports/test-dates.log 2>&1
dates_rc=$?
if (( dates_rc != 0 )); then
  tail -n 60 .stack/reports/test-dates.log >&2
  stamp "the unit suite fails under another clock: a test depends on the date"
  (( rc != 0 )) || rc=$dates_rc
fi
set -e
stamp "done (vitest exit $rc)"
# The closing line, last: "tests: N passed, N failed, N skipped".
node scripts/test-summary.mjs .stack/reports/vitest.json || true
exit $rc
