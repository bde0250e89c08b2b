# ensure_venv DIR REQUIREMENTS LOCK: creates or updates a virtualenv from pinned requirements.
# Source it after lib.sh. Skips all work when DIR was built from the same files and Python
# (stamp file); pip's cache (~/.cache/pip) makes a rebuild in a fresh clone mostly offline.
ensure_venv() {
  local venv=$1 req=$2 lock=$3 py=${SHOPDATA_PYTHON:-python3} stamp want
  command -v "$py" >/dev/null || die "$py not found; install Python 3.11 or set SHOPDATA_PYTHON"
  want=$( { "$py" -c 'import sys; print(sys.version)'; cat "$req" "$lock"; } | sha256sum | cut -c1-16)
  stamp="$venv/.shopdata-stamp"
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
    return 0
  fi
  if [[ ! -x $venv/bin/python ]]; then
    log "creating virtualenv $venv"
    rm -rf "$venv"
    if ! "$py" -m venv "$venv" 2>/dev/null; then
      # Debian's python3 needs python3-venv for ensurepip.
      rm -rf "$venv"; apt_install python3-venv; "$py" -m venv "$venv"
    fi
  fi
  log "pip install -r ${req##*/} -c ${lock##*/} into $venv"
  "$venv/bin/pip" install --quiet --no-input --disable-pip-version-check -r "$req" -c "$lock" \
    || die "pip install into $venv failed; see the output above"
  echo "$want" >"$stamp"
}
