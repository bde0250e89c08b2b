#!/usr/bin/env bash
# Prometheus 2.42 and Pushgateway 1.5 (Debian packages) for the local stack:
# Prometheus on 127.0.0.1:$PROMETHEUS_PORT (lifecycle API on: POST /-/reload), Pushgateway on
# 127.0.0.1:$PUSHGATEWAY_PORT, data in $STACK_DIR/prometheus. Scrape and evaluation every 2s;
# job shopdata-stream reads $STACK_DIR/prometheus/targets/*.json (file_sd), so a test makes its
# `stream --metrics-port` scraped by dropping a target file there; rules from
# templates/prometheus/*.rules.yml. The Debian services (9090/9091) are neither started nor used.
# Usage: prometheus.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

PROM_HOME="$STACK_DIR/prometheus"
PROM_URL="http://127.0.0.1:$PROMETHEUS_PORT"
PUSH_URL="http://127.0.0.1:$PUSHGATEWAY_PORT"

cmd_install() {
  command -v prometheus >/dev/null && command -v prometheus-pushgateway >/dev/null && return 0
  apt_install prometheus prometheus-pushgateway
  # Without systemd the package's service does not start; if an init script did, it is on 9090/9091
  # and does not collide with ours.
}

write_config() {
  mkdir -p "$PROM_HOME/data" "$PROM_HOME/targets"
  sed -e "s|@STACK_PROM@|$PROM_HOME|g" -e "s|@REPO_ROOT@|$REPO_ROOT|g" \
    -e "s|@PUSHGATEWAY_PORT@|$PUSHGATEWAY_PORT|g" -e "s|@PROMETHEUS_PORT@|$PROMETHEUS_PORT|g" \
    "$STACK_SCRIPTS/conf/prometheus/prometheus.yml.tmpl" >"$PROM_HOME/prometheus.yml"
  promtool check config "$PROM_HOME/prometheus.yml" >/dev/null \
    || die "invalid $PROM_HOME/prometheus.yml (or a rule file in templates/prometheus/); run: promtool check config $PROM_HOME/prometheus.yml"
}

ready() { curl -sf -o /dev/null "$1/-/ready"; }

cmd_start() {
  if is_running prometheus && is_running pushgateway && ready "$PROM_URL" && ready "$PUSH_URL"; then return 0; fi
  command -v prometheus >/dev/null || cmd_install
  write_config
  if ! is_running pushgateway; then
    port_open "$PUSHGATEWAY_PORT" && die "port $PUSHGATEWAY_PORT is taken by another process (not our pushgateway)"
    start_bg pushgateway prometheus-pushgateway --web.listen-address="127.0.0.1:$PUSHGATEWAY_PORT" \
      --persistence.file="$PROM_HOME/pushgateway.data" --persistence.interval=30s --web.enable-admin-api
  fi
  if ! is_running prometheus; then
    port_open "$PROMETHEUS_PORT" && die "port $PROMETHEUS_PORT is taken by another process (not our prometheus)"
    start_bg prometheus prometheus --config.file="$PROM_HOME/prometheus.yml" \
      --storage.tsdb.path="$PROM_HOME/data" --storage.tsdb.retention.time=2d \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle
  else
    curl -sf -X POST "$PROM_URL/-/reload" >/dev/null || true
  fi
  wait_for "pushgateway on $PUSH_URL" 30 ready "$PUSH_URL" || die "pushgateway did not get ready; see $STACK_DIR/logs/pushgateway.log"
  wait_for "prometheus on $PROM_URL" 60 ready "$PROM_URL" || die "prometheus did not get ready; see $STACK_DIR/logs/prometheus.log"
}

cmd_stop() {
  stop_bg prometheus
  stop_bg pushgateway
}

cmd_status() {
  local v pv
  v=$(prometheus --version 2>&1 | sed -n '1s/.*version \([^ ]*\).*/\1/p')
  pv=$(prometheus-pushgateway --version 2>&1 | sed -n '1s/.*version \([^ ]*\).*/\1/p')
  if is_running prometheus && is_running pushgateway && ready "$PROM_URL" && ready "$PUSH_URL"; then
    echo "Prometheus $v $PROM_URL, Pushgateway $pv $PUSH_URL, targets in $PROM_HOME/targets"
  else
    echo "Prometheus $v $PROM_URL / Pushgateway $pv $PUSH_URL not ready"
    return 1
  fi
}

service_main "$@"
