#!/usr/bin/env bash
# Python virtualenv of the local stack ($STACK_DIR/venv): pyiceberg (SQLite catalog, S3 and local
# files), pyarrow, Apache Airflow 3. No process: start = install, stop does nothing.
# Usage: python.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"
. "$STACK_SCRIPTS/python/venv.sh"

VENV="$STACK_DIR/venv"

cmd_install() { ensure_venv "$VENV" "$STACK_SCRIPTS/python/requirements.txt" "$STACK_SCRIPTS/python/requirements.lock.txt"; }

cmd_status() {
  local line
  if line=$("$VENV/bin/python" - 2>/dev/null <<'PY'
import sys, importlib.metadata as md
v = {p: md.version(p) for p in ("pyiceberg", "pyarrow", "apache-airflow")}
import pyiceberg, pyarrow  # noqa: F401  (fails the status when the install is broken)
print(f"Python {sys.version.split()[0]} pyiceberg {v['pyiceberg']} pyarrow {v['pyarrow']} airflow {v['apache-airflow']} {sys.prefix}")
PY
  ); then
    echo "$line"
  else
    echo "virtualenv $VENV missing or broken (run scripts/stack/up python)"
    return 1
  fi
}

case "${1:-}" in
  install | start) cmd_install ;;
  stop) ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
