#!/usr/bin/env bash
# `cluster` = ZooKeeper + the three replicated ClickHouse servers (clickhouse-cluster.sh), so that
# `scripts/stack/up cluster`, `status cluster` and `down cluster` handle the replicated warehouse
# as one service. It is not in the default set of `up`: the single server stays the warehouse of
# every other test.
# Usage: cluster.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"
svc() { bash "$STACK_SCRIPTS/services/$1.sh" "$2"; }
cmd_install() { svc zookeeper install && svc clickhouse-cluster install; }
cmd_start() { svc zookeeper start && svc clickhouse-cluster start; }
cmd_stop() { svc clickhouse-cluster stop; }
cmd_status() {
  local rc=0
  svc zookeeper status || rc=1
  # One indented line per ClickHouse node.
  svc clickhouse-cluster status | sed 's/^/            /' || rc=1
  [[ ${PIPESTATUS[0]} == 0 ]] || rc=1
  return $rc
}
service_main "$@"
