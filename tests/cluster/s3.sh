#!/usr/bin/env bash
# The project's S3 server (reelkube-s3server: gofakes3 behind SigV4 verification, tests/s3server)
# on the host for the cluster tests.
#   tests/cluster/s3.sh start   start it (idempotent); prints the endpoint pods use
#   tests/cluster/s3.sh stop    stop it
#   tests/cluster/s3.sh status  print the endpoint if it runs, else exit 1
# It listens on 0.0.0.0:$REELKUBE_S3_PORT (default 9000): pods reach it at
# http://<CNI bridge gateway>:PORT, the host at http://127.0.0.1:PORT.
# Every request must be signed (header or presigned URL, unexpired) with the one key pair it is
# started with: $REELKUBE_S3_ACCESS_KEY_ID / $REELKUBE_S3_SECRET_ACCESS_KEY, by default the
# test suite's (tests/support/reelkube_cluster.py: CREDENTIALS). Objects live in files under the
# cache; a start that launches a new server empties them, so nothing outlives a test run (the
# tests create their buckets).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_NAME=s3
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"

ACCESS_KEY_ID="${REELKUBE_S3_ACCESS_KEY_ID:-reelkube-e2e}"
SECRET_ACCESS_KEY="${REELKUBE_S3_SECRET_ACCESS_KEY:-reelkube-e2e-secret}"
S3_DIR="$CACHE_DIR/s3"
DATA_DIR="$S3_DIR/data"
CREDENTIALS_DIR="$S3_DIR/credentials"
PIDFILE="$S3_DIR/s3server.pid"
LOGFILE="$S3_DIR/s3server.log"
# What the running server was started with (binary stamp and key id): a start with other ones
# restarts it.
STARTED="$S3_DIR/s3server.started"
BINARY="$BIN_DIR/reelkube-s3server"
POD_ENDPOINT="http://$POD_GATEWAY:$S3_PORT"
HOST_ENDPOINT="http://127.0.0.1:$S3_PORT"
# Before the switch to reelkube-s3server this script ran moto_server; stop one left running.
LEGACY_MOTO_PIDFILE="$S3_DIR/moto.pid"

is_running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
answers() { curl -fsS -o /dev/null "$HOST_ENDPOINT/-/healthz" 2>/dev/null; }
wanted() { echo "$(cat "$BIN_DIR/.s3server.stamp" 2>/dev/null) key=$ACCESS_KEY_ID secret=$(printf %s "$SECRET_ACCESS_KEY" | sha256sum | cut -c1-16)"; }

# stop_pid PIDFILE NAME: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
  [[ -f "$1" ]] || return 0
  local pid
  pid="$(cat "$1")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $2 (pid $pid)"
  fi
  rm -f "$1"
}

case "${1:-}" in
  start)
    mkdir -p "$S3_DIR"
    # The stamp check makes this a no-op when tests/s3server has not changed.
    "$HERE/build.sh" s3server
    if is_running && answers && [[ "$(cat "$STARTED" 2>/dev/null)" == "$(wanted)" ]]; then
      echo "$POD_ENDPOINT"
      exit 0
    fi
    stop_pid "$PIDFILE" reelkube-s3server
    stop_pid "$LEGACY_MOTO_PIDFILE" "moto_server (replaced by reelkube-s3server)"
    rm -rf "$DATA_DIR" "$CREDENTIALS_DIR"
    mkdir -p "$DATA_DIR"
    (umask 077 && mkdir -p "$CREDENTIALS_DIR" &&
      printf %s "$ACCESS_KEY_ID" >"$CREDENTIALS_DIR/AWS_ACCESS_KEY_ID" &&
      printf %s "$SECRET_ACCESS_KEY" >"$CREDENTIALS_DIR/AWS_SECRET_ACCESS_KEY")
    echo "=== start $(date -Is)" >>"$LOGFILE"
    setsid "$BINARY" -listen "0.0.0.0:$S3_PORT" -data "$DATA_DIR" -credentials-dir "$CREDENTIALS_DIR" \
      -access-log >>"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
      answers && break
      is_running || fail "reelkube-s3server exited" "$LOGFILE"
      sleep 0.1
    done
    answers || fail "reelkube-s3server does not answer on $HOST_ENDPOINT" "$LOGFILE"
    wanted >"$STARTED"
    log "reelkube-s3server running (pid $(cat "$PIDFILE")); host endpoint $HOST_ENDPOINT; log $LOGFILE"
    echo "$POD_ENDPOINT"
    ;;
  stop)
    stop_pid "$PIDFILE" reelkube-s3server
    stop_pid "$LEGACY_MOTO_PIDFILE" moto_server
    rm -f "$STARTED"
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
