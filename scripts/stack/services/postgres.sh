#!/usr/bin/env bash
# PostgreSQL 15 (Debian) for the local stack: its own cluster in $STACK_DIR/postgres/data on
# 127.0.0.1:$PG_PORT, wal_level=logical, role shopdata/shopdata (SUPERUSER REPLICATION), database
# shop with templates/postgres/shop.sql. The Debian default cluster (5432) is never touched.
# Usage: postgres.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_HOME="$STACK_DIR/postgres"
PG_DATA="$PG_HOME/data"
PG_LOG="$STACK_DIR/logs/postgres.log"
PG_CONF_SRC="$STACK_SCRIPTS/conf/postgres"
PG_SCHEMA="$REPO_ROOT/templates/postgres/shop.sql"
PG_USER=shopdata PG_PASSWORD=shopdata PG_DB=shop
# A Unix socket path must stay under ~107 bytes; a deep checkout falls back to /tmp.
SOCKET_DIR="$PG_HOME/run"
(( ${#SOCKET_DIR} + 20 > 100 )) && SOCKET_DIR="/tmp/shopdata-pg-$PG_PORT"

as_pg() { runuser -u postgres -- "$@"; }
# psql as the OS superuser over the socket (peer auth).
psql_admin() { as_pg "$PG_BIN/psql" -h "$SOCKET_DIR" -p "$PG_PORT" -X -q -v ON_ERROR_STOP=1 "$@"; }
tcp_url() { echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"; }

cmd_install() {
  [[ -x $PG_BIN/initdb ]] || apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
  # The Debian package may have created and started its own cluster; leave it as it is.
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL $PG_MAJOR binaries missing in $PG_BIN after install"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    mkdir -p "$PG_HOME"
    chown postgres:postgres "$PG_HOME"
    allow_user_path postgres "$PG_HOME"
    log "initdb $PG_DATA"
    rm -rf "$PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    echo "include = 'shopdata.conf'" >>"$PG_DATA/postgresql.conf"
  fi
}

write_config() {
  mkdir -p "$SOCKET_DIR"; chown postgres:postgres "$SOCKET_DIR"
  sed -e "s|@PG_PORT@|$PG_PORT|" -e "s|@SOCKET_DIR@|$SOCKET_DIR|" \
    "$PG_CONF_SRC/shopdata.conf" >"$PG_DATA/shopdata.conf"
  cp "$PG_CONF_SRC/pg_hba.conf" "$PG_DATA/pg_hba.conf"
  chown postgres:postgres "$PG_DATA/shopdata.conf" "$PG_DATA/pg_hba.conf"
}

# Role, database and schema; every statement is idempotent.
bootstrap() {
  psql_admin -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN;
  END IF;
END
\$\$;
-- SUPERUSER: Debezium and the tests create publications, slots and per-test databases.
ALTER ROLE $PG_USER WITH LOGIN SUPERUSER REPLICATION PASSWORD '$PG_PASSWORD';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB')
\gexec
SQL
  # Run as shopdata so that the tables belong to it.
  PGPASSWORD=$PG_PASSWORD PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" "$(tcp_url)" -X -q -v ON_ERROR_STOP=1 -f "$PG_SCHEMA" >/dev/null
}

healthy() {
  PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" "$(tcp_url)" -X -tAc "SELECT 1" >/dev/null 2>&1
}

cmd_start() {
  # Already up: re-apply the (idempotent) schema so that a changed shop.sql takes effect.
  if healthy; then bootstrap; return 0; fi
  [[ -f $PG_DATA/PG_VERSION ]] || cmd_install
  write_config
  touch "$PG_LOG"; chown postgres:postgres "$PG_LOG"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "starting postgres on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
      || die "postgres did not start; see $PG_LOG"
  fi
  wait_for "postgres socket" 30 as_pg "$PG_BIN/pg_isready" -q -h "$SOCKET_DIR" -p "$PG_PORT"
  bootstrap
  healthy || die "postgres runs but $(tcp_url) does not answer; see $PG_LOG"
}

cmd_stop() {
  [[ -f $PG_DATA/PG_VERSION ]] || return 0
  if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "stopping postgres"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
  fi
}

cmd_status() {
  local v wal
  if v=$(PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" "$(tcp_url)" -X -tAc "SHOW server_version" 2>/dev/null) \
    && wal=$(PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" "$(tcp_url)" -X -tAc "SHOW wal_level" 2>/dev/null); then
    echo "PostgreSQL ${v%% *} $(tcp_url) wal_level=$wal"
  else
    echo "PostgreSQL $PG_MAJOR $(tcp_url) not answering"
    return 1
  fi
}

service_main "$@"
