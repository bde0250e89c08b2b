#!/usr/bin/env bash
# ClickHouse server 18.16 (Debian clickhouse-server) for the local stack: HTTP 127.0.0.1:$CH_HTTP_PORT,
# native TCP $CH_TCP_PORT, everything under $STACK_DIR/clickhouse, run as user clickhouse.
# User `default` has no password and is limited to loopback. The read-only BI user is not part of
# the stack: `shopdata warehouse bi-user` renders templates/clickhouse/*.in with its password hash.
# Plain *.xml files in templates/clickhouse/users.d are still copied into etc/users.d at every
# start, and the server reloads users config when those files change.
# Usage: clickhouse.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

CH_VERSION=18.16.1
CH_SERVER=/usr/sbin/clickhouse-server
CH_HOME="$STACK_DIR/clickhouse"
CH_ETC="$CH_HOME/etc"
CH_PID="$CH_HOME/run/clickhouse-server.pid"
CH_URL="http://127.0.0.1:$CH_HTTP_PORT"
CH_CONF_SRC="$STACK_SCRIPTS/conf/clickhouse"
CH_USERS_TEMPLATES="$REPO_ROOT/templates/clickhouse/users.d"

cmd_install() {
  [[ -x $CH_SERVER ]] || apt_install clickhouse-server clickhouse-client
  [[ -x $CH_SERVER ]] || die "$CH_SERVER missing after installing clickhouse-server"
  local v; v=$(dpkg-query -W -f='${Version}' clickhouse-server)
  [[ $v == "$CH_VERSION"* ]] || log "WARNING: clickhouse-server is $v, the stack is tested with $CH_VERSION"
}

# Regenerated at every start: Debian's config plus our overrides (config.d merges over config.xml).
write_config() {
  mkdir -p "$CH_ETC/config.d" "$CH_ETC/users.d" "$CH_HOME"/{data,tmp,user_files,format_schemas,log,run}
  cp /etc/clickhouse-server/config.xml /etc/clickhouse-server/users.xml "$CH_ETC/"
  sed -e "s|@CH_HOME@|$CH_HOME|g" -e "s|@CH_HTTP_PORT@|$CH_HTTP_PORT|" -e "s|@CH_TCP_PORT@|$CH_TCP_PORT|" \
    -e "s|@CH_INTERSERVER_PORT@|$CH_INTERSERVER_PORT|" "$CH_CONF_SRC/config.d-stack.xml" >"$CH_ETC/config.d/stack.xml"
  sync_users
  ln -sfn "$CH_HOME/log/clickhouse-server.log" "$STACK_DIR/logs/clickhouse.log"
  chown -R clickhouse:clickhouse "$CH_HOME"
  allow_user_path clickhouse "$CH_HOME"
}

# users.d = our loopback rule + the repo's templates; files no longer in templates are removed.
sync_users() {
  local f
  find "$CH_ETC/users.d" -maxdepth 1 -name '*.xml' -delete
  cp "$CH_CONF_SRC/users.d-stack-default.xml" "$CH_ETC/users.d/00-stack-default.xml"
  if [[ -d $CH_USERS_TEMPLATES ]]; then
    for f in "$CH_USERS_TEMPLATES"/*.xml; do [[ -e $f ]] && cp "$f" "$CH_ETC/users.d/"; done
  fi
  chown -R clickhouse:clickhouse "$CH_ETC/users.d"
}

server_pid() { [[ -f $CH_PID ]] && pid_alive "$(cat "$CH_PID")" && cat "$CH_PID"; }
answers() { [[ $(curl -sf "$CH_URL/?query=SELECT%20version()") == "$CH_VERSION"* ]]; }

cmd_start() {
  if server_pid >/dev/null && answers; then
    # Already up: still pick up changed BI-user templates (the server reloads users.d by itself).
    sync_users
    return 0
  fi
  [[ -x $CH_SERVER ]] || cmd_install
  if ! server_pid >/dev/null; then
    port_open "$CH_HTTP_PORT" && die "port $CH_HTTP_PORT is taken by another process (not our ClickHouse)"
    write_config
    rm -f "$CH_PID"
    log "starting clickhouse on $CH_URL"
    # Must run as clickhouse, daemonised, with a pid file in a directory that user can write.
    runuser -u clickhouse -- "$CH_SERVER" --config-file="$CH_ETC/config.xml" --daemon --pid-file="$CH_PID" \
      || die "clickhouse-server did not start; see $CH_HOME/log/clickhouse-server.err.log"
  fi
  wait_for "clickhouse on $CH_URL" 60 answers \
    || die "clickhouse did not answer; see $CH_HOME/log/clickhouse-server.err.log"
}

cmd_stop() {
  local pid
  pid=$(server_pid) || { rm -f "$CH_PID"; return 0; }
  log "stopping clickhouse (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do pid_alive "$pid" || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$CH_PID"
}

cmd_status() {
  local v
  if server_pid >/dev/null && v=$(curl -sf "$CH_URL/?query=SELECT%20version()"); then
    echo "ClickHouse $v $CH_URL (native tcp 127.0.0.1:$CH_TCP_PORT)"
  else
    echo "ClickHouse $CH_VERSION $CH_URL not answering"
    return 1
  fi
}

service_main "$@"
