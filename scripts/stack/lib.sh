# Shared helpers for the local stack scripts. Source it; do not run it.
set -euo pipefail
STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SCRIPTS/../.." && pwd)"
# One ignored folder holds every service's data, pid and log files.
STACK_DIR="${SHOPDATA_STACK_DIR:-$REPO_ROOT/.stack}"
# Downloads that survive a clean clone (Maven uses ~/.m2, Go ~/go, pip ~/.cache/pip).
STACK_CACHE="${SHOPDATA_STACK_CACHE:-$HOME/.cache/shopdata-stack}"
mkdir -p "$STACK_DIR/logs" "$STACK_DIR/run" "$STACK_CACHE"
set -a
# shellcheck source=ports.env
. "$STACK_SCRIPTS/ports.env"
set +a

log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: polls COMMAND every 0.25 s (most services are up within 1-2 s).
wait_for() {
  local what=$1 timeout=$2; shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then
      log "$what not ready after ${timeout}s"
      return 1
    fi
    sleep 0.25
  done
  log "$what ready after $(( SECONDS - start ))s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pidfile() { echo "$STACK_DIR/run/$1.pid"; }
# pid_alive PID: true while PID runs. An exited daemon is a zombie until PID 1 reaps it, which the
# machine's init does only every ~2 s, so a zombie counts as gone.
pid_alive() {
  local st
  kill -0 "$1" 2>/dev/null && st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]
}
is_running() {
  local f; f=$(pidfile "$1")
  [[ -f $f ]] && pid_alive "$(cat "$f")"
}
# start_bg NAME COMMAND...: starts COMMAND detached, logging to $STACK_DIR/logs/NAME.log.
start_bg() {
  local name=$1; shift
  if is_running "$name"; then log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  log "starting $name"
  setsid "$@" >>"$STACK_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$(pidfile "$name")"
}
stop_bg() {
  local name=$1 f; f=$(pidfile "$name")
  if is_running "$name"; then
    local pid; pid=$(cat "$f")
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    # Poll often: most services exit within a second of SIGTERM; give up after 30 s.
    for _ in $(seq 1 150); do pid_alive "$pid" || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# apt_install PKG...: installs missing Debian packages; serialised by a lock because apt allows one at a time.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  (( ${#missing[@]} == 0 )) && return 0
  (
    flock 9
    local stamp="$STACK_CACHE/apt-updated"
    if [[ ! -f $stamp ]] || [[ -n $(find "$stamp" -mmin +720 2>/dev/null) ]]; then
      log "apt-get update"
      apt-get update -qq && touch "$stamp"
    fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 9>"$STACK_CACHE/apt.lock"
}

# allow_user_path USER DIR: lets a system user (postgres, clickhouse) reach DIR, adding only the
# search bit (o+x, no read) to the ancestors that lack it, e.g. when the repo is cloned under /root.
allow_user_path() {
  local user=$1 dir=$2 d=""
  runuser -u "$user" -- test -x "$dir" 2>/dev/null && return 0
  local IFS=/ part
  for part in $dir; do
    [[ -z $part ]] && continue
    d="$d/$part"
    if ! runuser -u "$user" -- test -x "$d" 2>/dev/null; then
      log "chmod o+x $d so that user $user can reach $dir"
      chmod o+x "$d"
    fi
  done
}

# service_main "$@": the subcommand dispatch every service script ends with (cmd_install,
# cmd_start, cmd_stop and cmd_status are the script's own).
service_main() {
  case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
  esac
}
