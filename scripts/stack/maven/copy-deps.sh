#!/usr/bin/env bash
# copy-deps.sh MODULE OUT_DIR: puts the runtime jars of maven/MODULE/pom.xml into OUT_DIR.
# Skips Maven when OUT_DIR already holds the jars of the same poms (a stamp with their hash), so a
# warm install costs a few milliseconds. Maven runs are serialised by a lock: `up` installs services
# in parallel and two Mavens writing ~/.m2 at once can corrupt it.
set -euo pipefail
MAVEN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module=$1 out=$2
pom="$MAVEN_DIR/$module/pom.xml"
[[ -f $pom ]] || { echo "copy-deps: no such module: $pom" >&2; exit 2; }
lock_dir="${SHOPDATA_STACK_CACHE:-$HOME/.cache/shopdata-stack}"
mkdir -p "$lock_dir" "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")" # Maven resolves relative paths from the pom's folder

stamp_of() { cat "$MAVEN_DIR/pom.xml" "$pom" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1; }
want=$(stamp_of)
up_to_date() { [[ -f $out/.stamp && $(cat "$out/.stamp") == "$want" ]]; }
up_to_date && exit 0

exec 9>"$lock_dir/maven.lock"
flock 9
up_to_date && exit 0 # another install finished it while we waited

command -v mvn >/dev/null || { echo "copy-deps: mvn not found; install Maven 3.8+ (apt-get install maven)" >&2; exit 1; }
tmp="$out.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
# -B: no colours or progress bars in logs. Output is shown only if Maven fails.
if ! mvn_out=$(mvn -B -q -f "$pom" dependency:copy-dependencies -Dstack.out="$tmp" 2>&1); then
  printf '%s\n' "$mvn_out" >&2
  echo "copy-deps: Maven could not resolve $module; check network access to Maven Central or ~/.m2" >&2
  exit 1
fi
compgen -G "$tmp/*.jar" >/dev/null || { echo "copy-deps: Maven copied no jars for $module" >&2; exit 1; }
echo "$want" >"$tmp/.stamp"
# Swap in whole, so a running JVM never sees a half-filled folder and stale jars disappear.
rm -rf "$out.old"
[[ -d $out ]] && mv "$out" "$out.old"
mv "$tmp" "$out"
rm -rf "$out.old"
echo "copy-deps: $module -> $out ($(ls "$out"/*.jar | wc -l) jars, $(( SECONDS - start ))s)" >&2
