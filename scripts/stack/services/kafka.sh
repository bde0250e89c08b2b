#!/usr/bin/env bash
# Kafka 4.x broker in KRaft combined mode (broker+controller), one node, on 127.0.0.1 only.
# Usage: kafka.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

KAFKA_HOME="$STACK_DIR/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_CONFIG="$KAFKA_HOME/server.properties"
KAFKA_CONF_SRC="$STACK_SCRIPTS/conf/kafka"
# Fixed so that the data folder stays valid across re-formats and clean clones (base64 of 16 bytes).
KAFKA_CLUSTER_ID="c2hvcGRhdGEtc3RhY2stMQ"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
# Two shared cores: a modest heap and the GC settings of Kafka's own start script.
KAFKA_JVM_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_CONF_SRC/log4j2.properties")

kafka_version() {
  local jar
  jar=$(compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" | head -n1) || return 1
  jar=${jar##*/kafka_2.13-}; echo "${jar%.jar}"
}

ensure_java() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
}

install() {
  ensure_java
  bash "$STACK_SCRIPTS/maven/copy-deps.sh" kafka "$KAFKA_LIBS"
  log "kafka $(kafka_version) jars in $KAFKA_LIBS"
}

render_config() {
  mkdir -p "$KAFKA_DATA"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DATA|g" "$KAFKA_CONF_SRC/server.properties" >"$KAFKA_CONFIG.tmp"
  mv "$KAFKA_CONFIG.tmp" "$KAFKA_CONFIG"
}

# Kafka cannot read metadata written by a newer Kafka (after lowering kafka.version in the pom).
KAFKA_DATA_VERSION="$KAFKA_HOME/data.kafka-version"
check_data_version() {
  [[ -f $KAFKA_DATA/meta.properties && -f $KAFKA_DATA_VERSION ]] || return 0
  local was now; was=$(cat "$KAFKA_DATA_VERSION"); now=$(kafka_version)
  if [[ $was != "$now" && $(printf '%s\n' "$was" "$now" | sort -V | tail -n1) == "$was" ]]; then
    die "$KAFKA_DATA was written by Kafka $was, newer than $now, which cannot read it; delete it (all topics are lost) or run scripts/stack/down --purge"
  fi
}

format_storage() {
  check_data_version
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    kafka_version >"$KAFKA_DATA_VERSION"
    return 0
  fi
  log "formatting KRaft storage in $KAFKA_DATA (cluster id $KAFKA_CLUSTER_ID)"
  java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$KAFKA_CONF_SRC/tools-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format --ignore-formatted \
    -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_CONFIG" >>"$STACK_DIR/logs/kafka.log" 2>&1 \
    || die "formatting Kafka storage failed; see $STACK_DIR/logs/kafka.log (delete $KAFKA_DATA to start afresh)"
  kafka_version >"$KAFKA_DATA_VERSION"
}

healthy() { is_running kafka && port_open "$KAFKA_PORT"; }
# wait_ready: like lib.sh's wait_for, but gives up at once when the JVM has exited.
wait_ready() {
  local start=$SECONDS
  until healthy; do
    is_running kafka || die "kafka exited during start; see the end of $STACK_DIR/logs/kafka.log"
    (( SECONDS - start < KAFKA_START_TIMEOUT )) || die "kafka not ready within ${KAFKA_START_TIMEOUT}s; see $STACK_DIR/logs/kafka.log"
    sleep 1
  done
  log "kafka ready after $(( SECONDS - start ))s"
}

# Name the process that holds a port, so that a clash says who to stop.
port_holder() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1; }

start() {
  if healthy; then return 0; fi
  [[ -f $KAFKA_LIBS/.stamp ]] || install
  # Two `up`s at once must not start two brokers on one data folder. fd 8 is closed for the JVM
  # so that the lock ends with this script, not with the broker.
  exec 8>"$STACK_DIR/run/kafka.lock"
  flock 8
  if healthy; then return 0; fi
  if ! is_running kafka; then
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
      port_open "$p" && die "port $p is taken by another process ($(port_holder "$p")); stop it or change ports.env"
    done
    render_config
    format_storage
    start_bg kafka java "${KAFKA_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONFIG" 8>&-
  fi
  wait_ready
}

# Connect cannot run without its broker, and a worker that loses the broker cannot leave its group
# cleanly (its next start then waits out the session timeout): stop it first.
stop() {
  is_running connect && bash "$STACK_SCRIPTS/services/connect.sh" stop
  stop_bg kafka
}

status() {
  local v; v=$(kafka_version 2>/dev/null) || v="?"
  echo "kafka $v KRaft broker+controller PLAINTEXT://127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)"
  healthy
}

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac
