#!/usr/bin/env bash
# Apache Iceberg REST catalog of the local stack: the server of Iceberg's iceberg-rest-fixture image
# (org.apache.iceberg.rest.RESTCatalogServer from iceberg-open-api's test fixtures, version pinned in
# maven/pom.xml) behind a connector bound to 127.0.0.1:$ICEBERG_REST_PORT
# (conf/iceberg-rest/LoopbackRESTCatalogServer.java; upstream listens on every interface).
# Catalog metadata: Iceberg's JDBC catalog in SQLite, $STACK_DIR/iceberg-rest/catalog.db (kept
# across restarts). Table files: the stack's S3 (moto), s3://shopdata-lake/catalog/<namespace>/<table>.
# Moto keeps objects in memory only: after an s3 restart the catalog still lists tables whose files
# are gone; `down --purge` (or deleting catalog.db) starts both afresh.
# No authentication: any client on this machine may read and write.
# Usage: iceberg-rest.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

REST_HOME="$STACK_DIR/iceberg-rest"
REST_LIBS="$REST_HOME/libs"
LAUNCHER_SRC="$STACK_SCRIPTS/conf/iceberg-rest/LoopbackRESTCatalogServer.java"
LAUNCHER_DIR="$REST_HOME/launcher"
CATALOG_DB="$REST_HOME/catalog.db"
REST_URL="http://127.0.0.1:$ICEBERG_REST_PORT"
S3_URL="http://127.0.0.1:$S3_PORT"
WAREHOUSE="s3://shopdata-lake/catalog"
REST_START_TIMEOUT="${ICEBERG_REST_START_TIMEOUT:-120}"
REST_JVM_OPTS=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

rest_version() {
  local jar
  jar=$(compgen -G "$REST_LIBS/iceberg-open-api-*-test-fixtures.jar" | head -n1) || return 1
  jar=${jar##*/iceberg-open-api-}; echo "${jar%-test-fixtures.jar}"
}

# The launcher is compiled against the fixture's jars; recompiled when its source or the jars change.
compile_launcher() {
  local want
  want=$( { cat "$LAUNCHER_SRC"; cat "$REST_LIBS/.stamp"; } | sha256sum | cut -c1-16)
  [[ -f $LAUNCHER_DIR/.stamp && $(cat "$LAUNCHER_DIR/.stamp") == "$want" ]] && return 0
  command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
  rm -rf "$LAUNCHER_DIR.tmp"
  javac -nowarn -proc:none -cp "$REST_LIBS/*" -d "$LAUNCHER_DIR.tmp" "$LAUNCHER_SRC" \
    || die "compiling $LAUNCHER_SRC failed"
  echo "$want" >"$LAUNCHER_DIR.tmp/.stamp"
  rm -rf "$LAUNCHER_DIR"
  mv "$LAUNCHER_DIR.tmp" "$LAUNCHER_DIR"
}

cmd_install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  command -v curl >/dev/null || apt_install curl
  bash "$STACK_SCRIPTS/maven/copy-deps.sh" iceberg-rest "$REST_LIBS"
  compile_launcher
  log "iceberg-rest $(rest_version) jars in $REST_LIBS"
}

answers() { curl -sf --max-time 5 -o /dev/null "$REST_URL/v1/config"; }
healthy() { is_running iceberg-rest && answers; }

cmd_start() {
  if healthy; then return 0; fi
  [[ -f $REST_LIBS/.stamp && -f $LAUNCHER_DIR/.stamp ]] || cmd_install
  compile_launcher
  bash "$STACK_SCRIPTS/services/s3.sh" start
  exec 8>"$STACK_DIR/run/iceberg-rest.lock"
  flock 8
  if healthy; then return 0; fi
  if ! is_running iceberg-rest; then
    port_open "$ICEBERG_REST_PORT" && die "port $ICEBERG_REST_PORT is taken by another process; stop it or change ICEBERG_REST_PORT in ports.env"
    mkdir -p "$REST_HOME"
    # RESTCatalogServer reads CATALOG_* variables as catalog properties (CATALOG_S3_PATH__STYLE__ACCESS
    # → s3.path-style-access). Moto accepts any key; the AWS SDK needs some. Two pooled SQLite
    # connections answer SQLITE_BUSY (HTTP 500) to concurrent commits: one connection serialises
    # them, and the busy timeout covers readers of the file in other processes.
    CATALOG_REST_HOST=127.0.0.1 CATALOG_REST_PORT="$ICEBERG_REST_PORT" CATALOG_CLIENTS=1 \
      CATALOG_URI="jdbc:sqlite:$CATALOG_DB?busy_timeout=30000" \
      CATALOG_WAREHOUSE="$WAREHOUSE" CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO \
      CATALOG_S3_ENDPOINT="$S3_URL" CATALOG_S3_PATH__STYLE__ACCESS=true CATALOG_CLIENT_REGION=us-east-1 \
      AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
      start_bg iceberg-rest java "${REST_JVM_OPTS[@]}" -cp "$LAUNCHER_DIR:$REST_LIBS/*" \
      org.apache.iceberg.rest.LoopbackRESTCatalogServer 8>&-
  fi
  local start=$SECONDS
  until answers; do
    is_running iceberg-rest || die "iceberg-rest exited during start; see the end of $STACK_DIR/logs/iceberg-rest.log"
    (( SECONDS - start < REST_START_TIMEOUT )) || die "iceberg-rest not ready within ${REST_START_TIMEOUT}s; see $STACK_DIR/logs/iceberg-rest.log"
    sleep 0.5
  done
  log "iceberg-rest ready after $(( SECONDS - start ))s on $REST_URL"
}

cmd_stop() { stop_bg iceberg-rest; }

cmd_status() {
  local v namespaces
  v=$(rest_version 2>/dev/null) || v="?"
  if healthy; then
    namespaces=$(curl -sf --max-time 5 "$REST_URL/v1/namespaces" | jq '.namespaces | length' 2>/dev/null) || namespaces="?"
    echo "Iceberg REST catalog $v $REST_URL warehouse $WAREHOUSE, metadata $CATALOG_DB ($namespaces namespaces)"
  else
    echo "Iceberg REST catalog $v $REST_URL not answering"
    return 1
  fi
}

service_main "$@"
