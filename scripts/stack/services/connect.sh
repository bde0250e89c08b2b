#!/usr/bin/env bash
# Kafka Connect in distributed mode (one worker) with the Debezium PostgreSQL and MongoDB plugins and
# Apache Iceberg's sink (templates/connectors/shop-lake.yaml). REST on 127.0.0.1 only. Needs the broker of kafka.sh, which `start` brings up when it is down.
# Usage: connect.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

KAFKA_LIBS="$STACK_DIR/kafka/libs"
CONNECT_HOME="$STACK_DIR/connect"
PLUGIN_DIR="$CONNECT_HOME/plugins"
CONNECT_CONFIG="$CONNECT_HOME/connect-distributed.properties"
CONNECT_URL="http://127.0.0.1:$CONNECT_PORT"
# Measured 2–9 s (plugin discovery, internal topics, group join); generous for a loaded machine.
CONNECT_START_TIMEOUT="${CONNECT_START_TIMEOUT:-180}"
# service_load reads the plugins' ServiceLoader manifests instead of scanning every class.
# Set CONNECT_PLUGIN_DISCOVERY=hybrid_warn if a plugin without manifests must be found.
CONNECT_PLUGIN_DISCOVERY="${CONNECT_PLUGIN_DISCOVERY:-service_load}"
# Plugin folders under $PLUGIN_DIR, each one Maven module of scripts/stack/maven.
PLUGINS=(debezium-postgres debezium-mongodb iceberg-sink)
REQUIRED_PLUGINS=(io.debezium.connector.postgresql.PostgresConnector io.debezium.connector.mongodb.MongoDbConnector
  org.apache.iceberg.connect.IcebergSinkConnector)
CONNECT_JVM_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$STACK_SCRIPTS/conf/kafka/log4j2.properties")

install() {
  command -v curl >/dev/null || apt_install curl # readiness and status use the REST API
  bash "$STACK_SCRIPTS/services/kafka.sh" install # Connect runs on the broker's classpath
  local p
  for p in "${PLUGINS[@]}"; do
    bash "$STACK_SCRIPTS/maven/copy-deps.sh" "$p" "$PLUGIN_DIR/$p"
  done
  log "connect plugins in $PLUGIN_DIR: $(ls "$PLUGIN_DIR" | tr '\n' ' ')"
}

render_config() {
  mkdir -p "$CONNECT_HOME"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONNECT_PORT@|$CONNECT_PORT|g" \
    -e "s|@PLUGIN_DIR@|$PLUGIN_DIR|g" -e "s|@PLUGIN_DISCOVERY@|$CONNECT_PLUGIN_DISCOVERY|g" \
    "$STACK_SCRIPTS/conf/connect/connect-distributed.properties" >"$CONNECT_CONFIG.tmp"
  mv "$CONNECT_CONFIG.tmp" "$CONNECT_CONFIG"
}

# Ready = the worker has joined its group (GET /health is 200 only then, KIP-1017) and lists every
# required connector plugin.
joined() { curl -sf --max-time 5 -o /dev/null "$CONNECT_URL/health"; }
plugins_listed() {
  joined || return 1
  local body c
  body=$(curl -sf --max-time 5 "$CONNECT_URL/connector-plugins") || return 1
  for c in "${REQUIRED_PLUGINS[@]}"; do [[ $body == *"\"$c\""* ]] || return 1; done
}
healthy() { is_running connect && plugins_listed; }
# wait_ready: like lib.sh's wait_for, but gives up at once when the JVM has exited.
wait_ready() {
  local start=$SECONDS
  until healthy; do
    is_running connect || die "connect exited during start; see the end of $STACK_DIR/logs/connect.log"
    (( SECONDS - start < CONNECT_START_TIMEOUT )) || die "connect not ready within ${CONNECT_START_TIMEOUT}s; see $STACK_DIR/logs/connect.log"
    sleep 1
  done
  log "connect ready after $(( SECONDS - start ))s"
}

start() {
  if healthy; then return 0; fi
  local p
  [[ -f $KAFKA_LIBS/.stamp ]] || install
  for p in "${PLUGINS[@]}"; do [[ -f $PLUGIN_DIR/$p/.stamp ]] || install; done
  bash "$STACK_SCRIPTS/services/kafka.sh" start
  # One worker per stack even when two `up`s race; fd 8 is closed for the JVM (see kafka.sh).
  exec 8>"$STACK_DIR/run/connect.lock"
  flock 8
  if healthy; then return 0; fi
  # A worker that runs but lacks a plugin was started before the plugin was installed (Connect scans
  # plugin.path only at start): restart it. Its connectors resume from their committed offsets.
  if is_running connect && joined && ! plugins_listed; then
    log "connect runs without all of ${REQUIRED_PLUGINS[*]##*.}; restarting it to load the new plugins"
    stop_bg connect
  fi
  if ! is_running connect; then
    port_open "$CONNECT_PORT" && die "port $CONNECT_PORT is taken by another process; stop it or change CONNECT_PORT in ports.env"
    render_config
    # The worker resolves ${env:SHOPDATA_POSTGRES_PASSWORD} and ${env:AWS_*} in connector configs
    # (templates/connectors/): secrets live in the worker's environment, never in a connector config.
    # The S3 keys are the ones the stack's moto server accepts.
    SHOPDATA_POSTGRES_PASSWORD=shopdata AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
      start_bg connect java "${CONNECT_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" \
      org.apache.kafka.connect.cli.ConnectDistributed "$CONNECT_CONFIG" 8>&-
  fi
  wait_ready
}

stop() { stop_bg connect; }

status() {
  local info version="?" dbz="?" iceberg="?" plugins
  if info=$(curl -sf --max-time 5 "$CONNECT_URL/" 2>/dev/null); then
    version=$(jq -r .version <<<"$info" 2>/dev/null || echo "?")
    plugins=$(curl -sf --max-time 5 "$CONNECT_URL/connector-plugins" 2>/dev/null || echo '[]')
    dbz=$(jq -r '[.[] | select(.class | startswith("io.debezium")) | .version] | unique | join(",")' <<<"$plugins" 2>/dev/null || echo "?")
    iceberg=$(jq -r '[.[] | select(.class | startswith("org.apache.iceberg")) | .version] | unique | join(",")' <<<"$plugins" 2>/dev/null || echo "?")
  fi
  echo "connect $version (debezium ${dbz:-none}, iceberg sink ${iceberg:-none}) $CONNECT_URL"
  healthy
}

case "${1:-}" in
  install | start | stop | status) "$1" ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac
