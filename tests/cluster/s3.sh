#!/usr/bin/env bash
# An S3 server (moto) on the host for the cluster tests.
#   tests/cluster/s3.sh start   start it (idempotent); prints the endpoint pods use
#   tests/cluster/s3.sh stop    stop it
#   tests/cluster/s3.sh status  print the endpoint if it runs, else exit 1
# It listens on 0.0.0.0:$REELKUBE_S3_PORT (default 9000): pods reach it at
# http://<CNI bridge gateway>:PORT, the host at http://127.0.0.1:PORT.
# moto keeps everything in memory; restarting it empties every bucket.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_NAME=s3
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"

VENV="$CACHE_DIR/moto-venv"
S3_DIR="$CACHE_DIR/s3"
PIDFILE="$S3_DIR/moto.pid"
LOGFILE="$S3_DIR/moto.log"
POD_ENDPOINT="http://$POD_GATEWAY:$S3_PORT"
HOST_ENDPOINT="http://127.0.0.1:$S3_PORT"

is_running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
answers() { curl -fsS -o /dev/null "$HOST_ENDPOINT/moto-api/" 2>/dev/null; }

case "${1:-}" in
  start)
    mkdir -p "$S3_DIR"
    if is_running && answers; then
      echo "$POD_ENDPOINT"
      exit 0
    fi
    if [[ ! -x "$VENV/bin/moto_server" ]]; then
      log "installing moto[server] into $VENV"
      python3 -m venv "$VENV" >>"$LOGFILE" 2>&1 || fail "python3 -m venv failed" "$LOGFILE"
      "$VENV/bin/pip" install -q 'moto[server]>=5' >>"$LOGFILE" 2>&1 ||
        fail "pip install moto[server] failed" "$LOGFILE"
    fi
    is_running && kill "$(cat "$PIDFILE")" 2>/dev/null
    echo "=== start $(date -Is)" >>"$LOGFILE"
    setsid "$VENV/bin/moto_server" -H 0.0.0.0 -p "$S3_PORT" >>"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 60); do
      answers && break
      is_running || fail "moto_server exited" "$LOGFILE"
      sleep 0.5
    done
    answers || fail "moto_server does not answer on $HOST_ENDPOINT" "$LOGFILE"
    log "moto_server running (pid $(cat "$PIDFILE")); host endpoint $HOST_ENDPOINT"
    echo "$POD_ENDPOINT"
    ;;
  stop)
    if is_running; then
      pid="$(cat "$PIDFILE")"
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      log "stopped moto_server (pid $pid)"
    fi
    rm -f "$PIDFILE"
    ;;
  status)
    is_running && answers || exit 1
    echo "$POD_ENDPOINT"
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
