#!/usr/bin/env bash
# The replicated warehouse of the local stack: three ClickHouse 18.16 servers (Debian
# clickhouse-server) on loopback forming cluster `shopdata` — ch1 and ch2 are the two replicas of
# shard 1, ch3 is shard 2 — coordinated by ZooKeeper (zookeeper.sh). Node N listens on
# CHC<N>_HTTP_PORT / CHC<N>_TCP_PORT / CHC<N>_INTERSERVER_PORT and keeps everything under
# $STACK_DIR/clickhouse-cluster/chN. Like clickhouse.sh, users.d holds the loopback `default` user
# and templates/clickhouse/users.d/*.xml (the BI user). `start` starts whichever node is not
# running (tests kill -9 one and start it again); `status` prints one line per node.
# Usage: clickhouse-cluster.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

CH_VERSION=18.16.1
CH_SERVER=/usr/sbin/clickhouse-server
CLUSTER_HOME="$STACK_DIR/clickhouse-cluster"
CONF_SRC="$STACK_SCRIPTS/conf/clickhouse-cluster"
USERS_TEMPLATES="$REPO_ROOT/templates/clickhouse/users.d"
NODES=(1 2 3)

# node_var N NAME → the value of CHC<N>_<NAME> from ports.env.
node_var() { local v="CHC$1_$2"; echo "${!v}"; }
node_home() { echo "$CLUSTER_HOME/ch$1"; }
node_shard() { [[ $1 == 3 ]] && echo 2 || echo 1; }
node_url() { echo "http://127.0.0.1:$(node_var "$1" HTTP_PORT)"; }
node_pidfile() { echo "$(node_home "$1")/run/clickhouse-server.pid"; }
node_pid() { local f; f=$(node_pidfile "$1"); [[ -f $f ]] && pid_alive "$(cat "$f")" && cat "$f"; }
node_query() { curl -sf --max-time 5 "$(node_url "$1")/" --data-binary "$2"; }
node_answers() { [[ $(node_query "$1" 'SELECT version()') == "$CH_VERSION"* ]]; }

cmd_install() {
  [[ -x $CH_SERVER ]] || apt_install clickhouse-server clickhouse-client
  [[ -x $CH_SERVER ]] || die "$CH_SERVER missing after installing clickhouse-server"
  local v; v=$(dpkg-query -W -f='${Version}' clickhouse-server)
  [[ $v == "$CH_VERSION"* ]] || log "WARNING: clickhouse-server is $v, the stack is tested with $CH_VERSION"
  bash "$STACK_SCRIPTS/services/zookeeper.sh" install
}

write_config() {
  local n=$1 home etc
  home=$(node_home "$n"); etc="$home/etc"
  mkdir -p "$etc/config.d" "$etc/users.d" "$home"/{data,tmp,user_files,format_schemas,log,run}
  cp /etc/clickhouse-server/config.xml /etc/clickhouse-server/users.xml "$etc/"
  sed -e "s|@HOME@|$home|g" -e "s|@HTTP_PORT@|$(node_var "$n" HTTP_PORT)|" \
    -e "s|@TCP_PORT@|$(node_var "$n" TCP_PORT)|" -e "s|@INTERSERVER_PORT@|$(node_var "$n" INTERSERVER_PORT)|" \
    -e "s|@ZK_PORT@|$ZK_PORT|g" -e "s|@SHARD@|$(node_shard "$n")|" -e "s|@REPLICA@|ch$n|" \
    -e "s|@CHC1_TCP_PORT@|$CHC1_TCP_PORT|" -e "s|@CHC2_TCP_PORT@|$CHC2_TCP_PORT|" \
    -e "s|@CHC3_TCP_PORT@|$CHC3_TCP_PORT|" "$CONF_SRC/config.d-node.xml" >"$etc/config.d/node.xml"
  sync_users "$n"
  ln -sfn "$home/log/clickhouse-server.log" "$STACK_DIR/logs/clickhouse-ch$n.log"
  chown -R clickhouse:clickhouse "$home"
  allow_user_path clickhouse "$home"
}

sync_users() {
  local etc f; etc="$(node_home "$1")/etc"
  find "$etc/users.d" -maxdepth 1 -name '*.xml' -delete
  cp "$CONF_SRC/users.d-node-default.xml" "$etc/users.d/00-node-default.xml"
  if [[ -d $USERS_TEMPLATES ]]; then
    for f in "$USERS_TEMPLATES"/*.xml; do [[ -e $f ]] && cp "$f" "$etc/users.d/"; done
  fi
  chown -R clickhouse:clickhouse "$etc/users.d"
}

start_node() {
  local n=$1 pidf
  pidf=$(node_pidfile "$n")
  if node_pid "$n" >/dev/null; then sync_users "$n"; return 0; fi
  port_open "$(node_var "$n" HTTP_PORT)" && die "port $(node_var "$n" HTTP_PORT) of ch$n is taken by another process"
  write_config "$n"
  rm -f "$pidf"
  log "starting ch$n (shard $(node_shard "$n"), replica ch$n) on $(node_url "$n")"
  runuser -u clickhouse -- "$CH_SERVER" --config-file="$(node_home "$n")/etc/config.xml" --daemon --pid-file="$pidf" \
    || die "ch$n did not start; see $(node_home "$n")/log/clickhouse-server.err.log"
}

cmd_start() {
  [[ -x $CH_SERVER ]] || cmd_install
  bash "$STACK_SCRIPTS/services/zookeeper.sh" start
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in "${NODES[@]}"; do
    wait_for "ch$n on $(node_url "$n")" 60 node_answers "$n" \
      || die "ch$n did not answer; see $(node_home "$n")/log/clickhouse-server.err.log"
  done
}

stop_node() {
  local n=$1 pid
  pid=$(node_pid "$n") || { rm -f "$(node_pidfile "$n")"; return 0; }
  log "stopping ch$n (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do pid_alive "$pid" || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$(node_pidfile "$n")"
}

cmd_stop() {
  local n
  for n in "${NODES[@]}"; do stop_node "$n"; done
  bash "$STACK_SCRIPTS/services/zookeeper.sh" stop
}

# One line per node: state, shard/replica, URL, resident memory, replicated tables read-only.
cmd_status() {
  local n rc=0 pid rss ro line
  for n in "${NODES[@]}"; do
    line="ch$n shard $(node_shard "$n") replica ch$n $(node_url "$n") (tcp $(node_var "$n" TCP_PORT))"
    if pid=$(node_pid "$n") && node_answers "$n"; then
      rss=$(( $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) / 1024 ))
      ro=$(node_query "$n" 'SELECT countIf(is_readonly) FROM system.replicas' || echo '?')
      echo "$line up, ClickHouse $CH_VERSION, ${rss} MB RSS, ${ro} read-only replicated tables"
    else
      echo "$line DOWN"; rc=1
    fi
  done
  return $rc
}

service_main "$@"
