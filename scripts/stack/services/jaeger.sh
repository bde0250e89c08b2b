#!/usr/bin/env bash
# Jaeger v2 (the `jaeger` binary of module github.com/jaegertracing/jaeger, built from the Go module
# proxy) for the local stack: in-memory storage, OTLP/HTTP receiver on 127.0.0.1:$JAEGER_OTLP_HTTP_PORT
# (POST /v1/traces), query API on 127.0.0.1:$JAEGER_QUERY_PORT (/api/services, /api/traces?service=…).
# No UI assets (the module zip has none): the API is what tests and operators' scripts use.
# Usage: jaeger.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

JAEGER_MODULE=github.com/jaegertracing/jaeger
# Jaeger v2 releases are also tagged v1.x in the Go module (v1.76.0 = v2.13.0).
JAEGER_VERSION=v1.76.0
JAEGER_BIN="$STACK_CACHE/bin/jaeger-$JAEGER_VERSION"
JAEGER_HOME="$STACK_DIR/jaeger"
QUERY_URL="http://127.0.0.1:$JAEGER_QUERY_PORT"

built() { [[ -x $JAEGER_BIN ]]; }

# `go install …@version` refuses modules whose go.mod has replace directives (Jaeger's has one), so
# build from the downloaded module source. Measured: 9 min on 2 shared cores (121 MB binary, cached in $STACK_CACHE/bin).
cmd_install() {
  built && return 0
  command -v go >/dev/null || die "Go is needed to build Jaeger $JAEGER_VERSION (install Go ≥ 1.24)"
  log "building Jaeger $JAEGER_VERSION (cmd/jaeger) from the Go module proxy"
  local src
  src=$(go mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $src && -d $src ]] || die "go mod download $JAEGER_MODULE@$JAEGER_VERSION failed"
  mkdir -p "$(dirname "$JAEGER_BIN")"
  # The module cache is read-only but buildable in place; -trimpath keeps cache paths out of the binary.
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$JAEGER_BIN.tmp" ./cmd/jaeger) \
    || die "go build of Jaeger $JAEGER_VERSION failed"
  mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
}

# Only what the stack needs: OTLP/HTTP in, memory storage, the query API (HTTP and its gRPC twin,
# both on loopback); no sampling extension, no collector self-metrics port (8888 is often taken).
write_config() {
  mkdir -p "$JAEGER_HOME"
  cat >"$JAEGER_HOME/config.yaml" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$JAEGER_QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$JAEGER_QUERY_GRPC_PORT
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 50000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$JAEGER_OTLP_HTTP_PORT
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

ready() { curl -sf -o /dev/null "$QUERY_URL/api/services"; }

cmd_start() {
  if is_running jaeger && ready; then return 0; fi
  built || cmd_install
  write_config
  if ! is_running jaeger; then
    port_open "$JAEGER_QUERY_PORT" && die "port $JAEGER_QUERY_PORT is taken by another process (not our Jaeger)"
    port_open "$JAEGER_OTLP_HTTP_PORT" && die "port $JAEGER_OTLP_HTTP_PORT is taken by another process (not our Jaeger)"
    start_bg jaeger "$JAEGER_BIN" --config "file:$JAEGER_HOME/config.yaml"
  fi
  wait_for "jaeger on $QUERY_URL" 60 ready || die "jaeger did not get ready; see $STACK_DIR/logs/jaeger.log"
}

cmd_stop() { stop_bg jaeger; }

cmd_status() {
  if is_running jaeger && ready; then
    echo "Jaeger $JAEGER_VERSION (memory) OTLP http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT, query $QUERY_URL"
  else
    echo "Jaeger $JAEGER_VERSION $QUERY_URL not answering"
    return 1
  fi
}

service_main "$@"
