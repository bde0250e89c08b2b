#!/usr/bin/env bash
# Apache Superset 6 for the local stack, in its own virtualenv ($STACK_DIR/venv-superset; its pins
# conflict with Airflow's): metadata in SQLite ($STACK_DIR/superset/superset.db), gunicorn on
# 127.0.0.1:$SUPERSET_PORT, admin user admin/admin, CSRF off so scripts and tests use the REST API
# with a bearer token. ClickHouse is reached with clickhouse-sqlalchemy over HTTP
# (clickhouse+http://shopdata_bi:…@127.0.0.1:$CH_HTTP_PORT/mart), which works with 18.16.
# Measured on 2 shared cores: pip install 3 min 48 s (818 MB venv), first `db upgrade` + `init` 33 s,
# gunicorn ready 5-8 s after start.
# Usage: superset.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"
. "$STACK_SCRIPTS/python/venv.sh"

VENV="$STACK_DIR/venv-superset"
SS_HOME="$STACK_DIR/superset"
SS_URL="http://127.0.0.1:$SUPERSET_PORT"
export SUPERSET_CONFIG_PATH="$SS_HOME/superset_config.py"
export FLASK_APP=superset

cmd_install() {
  ensure_venv "$VENV" "$STACK_SCRIPTS/python/superset-requirements.txt" "$STACK_SCRIPTS/python/superset-requirements.lock.txt"
  write_config
  # Metadata schema, admin user, roles: once per metadata database (stamp), ~1-2 min.
  local stamp="$SS_HOME/.initialised-$(sha256sum "$STACK_SCRIPTS/python/superset-requirements.lock.txt" | cut -c1-12)"
  if [[ ! -f $stamp ]]; then
    log "superset db upgrade / create-admin / init"
    "$VENV/bin/superset" db upgrade >>"$STACK_DIR/logs/superset-init.log" 2>&1 || die "superset db upgrade failed; see $STACK_DIR/logs/superset-init.log"
    "$VENV/bin/superset" fab create-admin --username admin --firstname Admin --lastname Stack \
      --email admin@localhost --password admin >>"$STACK_DIR/logs/superset-init.log" 2>&1 || true
    "$VENV/bin/superset" init >>"$STACK_DIR/logs/superset-init.log" 2>&1 || die "superset init failed; see $STACK_DIR/logs/superset-init.log"
    touch "$stamp"
  fi
}

write_config() {
  mkdir -p "$SS_HOME"
  local key_file="$SS_HOME/secret_key"
  [[ -s $key_file ]] || head -c 42 /dev/urandom | base64 >"$key_file"
  cat >"$SUPERSET_CONFIG_PATH" <<PY
# Written by scripts/stack/services/superset.sh at every start; edits are lost.
SECRET_KEY = open("$key_file").read().strip()
SQLALCHEMY_DATABASE_URI = "sqlite:///$SS_HOME/superset.db?check_same_thread=false"
# Loopback-only development instance driven through the REST API (tests, scripts).
WTF_CSRF_ENABLED = False
TALISMAN_ENABLED = False
RATELIMIT_ENABLED = False
SUPERSET_WEBSERVER_TIMEOUT = 120
PREVENT_UNSAFE_DB_CONNECTIONS = False
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
PY
}

ready() { curl -sf -o /dev/null "$SS_URL/health"; }

cmd_start() {
  if is_running superset && ready; then return 0; fi
  cmd_install
  if ! is_running superset; then
    port_open "$SUPERSET_PORT" && die "port $SUPERSET_PORT is taken by another process (not our Superset)"
    start_bg superset "$VENV/bin/gunicorn" --bind "127.0.0.1:$SUPERSET_PORT" --workers 1 --threads 4 \
      --timeout 120 --limit-request-line 0 --limit-request-field_size 0 "superset.app:create_app()"
  fi
  wait_for "superset on $SS_URL" 180 ready || die "superset did not get ready; see $STACK_DIR/logs/superset.log"
}

cmd_stop() { stop_bg superset; }

cmd_status() {
  local v
  v=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-superset"))' 2>/dev/null || echo '?')
  if is_running superset && ready; then
    echo "Superset $v $SS_URL (admin/admin, metadata $SS_HOME/superset.db)"
  else
    echo "Superset $v $SS_URL not answering"
    return 1
  fi
}

service_main "$@"
