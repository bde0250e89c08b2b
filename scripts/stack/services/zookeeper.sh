#!/usr/bin/env bash
# ZooKeeper 3.8 (Debian `zookeeper`) for the replicated ClickHouse: one standalone server on
# 127.0.0.1:$ZK_PORT, data in $STACK_DIR/zookeeper, a small heap. Part of `scripts/stack/up cluster`.
# Usage: zookeeper.sh install|start|stop|status
. "$(dirname "$0")/../lib.sh"

ZK_VERSION=3.8
ZK_HOME="$STACK_DIR/zookeeper"
ZK_JAR=/usr/share/java/zookeeper.jar
# zookeeper.jar's manifest names its dependencies; slf4j-simple makes it log (to logs/zookeeper.log).
ZK_CP="$ZK_HOME/conf:$ZK_JAR:/usr/share/java/slf4j-simple.jar"
ZK_JVM_OPTS=(-Xms32m -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  -Dzookeeper.admin.enableServer=false -Dorg.slf4j.simpleLogger.showDateTime=true
  # The health check's four-letter words would otherwise log three lines each.
  -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.NIOServerCnxn=warn
  -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.command.FourLetterCommands=warn)

cmd_install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  [[ -f $ZK_JAR ]] || apt_install zookeeper
  [[ -f $ZK_JAR ]] || die "$ZK_JAR missing after installing zookeeper"
  [[ -f /usr/share/java/slf4j-simple.jar ]] || apt_install libslf4j-java
  local v; v=$(dpkg-query -W -f='${Version}' zookeeper)
  [[ $v == "$ZK_VERSION"* ]] || log "WARNING: zookeeper is $v, the stack is tested with $ZK_VERSION"
}

# ruok → imok on the client port (four-letter words are whitelisted in zoo.cfg).
answers() {
  local reply
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" && printf ruok >&3 && timeout 2 cat <&3) 2>/dev/null) || return 1
  [[ $reply == imok ]]
}

cmd_start() {
  if is_running zookeeper && answers; then return 0; fi
  [[ -f $ZK_JAR ]] || cmd_install
  if ! is_running zookeeper; then
    port_open "$ZK_PORT" && die "port $ZK_PORT is taken by another process (not our ZooKeeper)"
    mkdir -p "$ZK_HOME/conf" "$ZK_HOME/data"
    sed -e "s|@ZK_DATA@|$ZK_HOME/data|" -e "s|@ZK_PORT@|$ZK_PORT|" "$STACK_SCRIPTS/conf/zookeeper/zoo.cfg" \
      >"$ZK_HOME/conf/zoo.cfg"
    start_bg zookeeper java "${ZK_JVM_OPTS[@]}" -cp "$ZK_CP" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZK_HOME/conf/zoo.cfg"
  fi
  wait_for "zookeeper on 127.0.0.1:$ZK_PORT" 60 answers || die "zookeeper did not answer; see $STACK_DIR/logs/zookeeper.log"
}

cmd_stop() { stop_bg zookeeper; }

cmd_status() {
  if is_running zookeeper && answers; then
    local mode
    mode=$( (exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null \
      | sed -n -e 's/^Zookeeper version: \([0-9.]*\).*/\1/p' | head -n1)
    echo "ZooKeeper ${mode:-$ZK_VERSION} 127.0.0.1:$ZK_PORT (standalone, data $ZK_HOME/data)"
  else
    echo "ZooKeeper $ZK_VERSION 127.0.0.1:$ZK_PORT not answering"
    return 1
  fi
}

service_main "$@"
