#!/usr/bin/env bash
# A local S3-compatible server for manual runs and demos: moto's server mode
# (PyPI moto[server], installed into the peers venv by `ensure_venv test`).
# The integration tests start their own moto per test on a free port
# (tests/it/objstore.rs); this script is for trying snapshots in a bucket by hand.
#
#   scripts/s3.sh start     install (once) and start on 127.0.0.1:PORT (idempotent)
#   scripts/s3.sh stop      SIGTERM the recorded server, SIGKILL after 5 s
#   scripts/s3.sh status    exit 0 if the server answers
#   scripts/s3.sh url       print http://127.0.0.1:PORT (use as --s3-endpoint)
#   scripts/s3.sh env       print export lines for the AWS_* variables it accepts
#
# moto keeps everything **in memory**: stopping it loses every bucket. It
# accepts any access key and secret (region us-east-1), needs signed
# requests and path-style addressing. Multipart parts below
# S3_UPLOAD_PART_MIN_SIZE bytes are refused, as on AWS (5 MiB); this script
# lowers it to 1 KiB unless S3_UPLOAD_PART_MIN_SIZE is set.
#
# Environment:
#   VELESDB_MIGRATE_S3_PORT    port (default 59000)
#   VELESDB_MIGRATE_PEERS_DIR  state dir (default $REPO/.peers); see lib.sh

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="s3"

S3_PORT="${VELESDB_MIGRATE_S3_PORT:-59000}"
if ! [[ "$S3_PORT" =~ ^[0-9]+$ ]] || ((S3_PORT < 1 || S3_PORT > 65535)); then
  die "VELESDB_MIGRATE_S3_PORT must be a port number, got '$S3_PORT'"
fi
STATE_DIR="$PEERS_DIR/s3-$S3_PORT"
PID_FILE="$STATE_DIR/moto.pid"
LOG_FILE="$STATE_DIR/moto.log"
URL="http://127.0.0.1:$S3_PORT"

answers() {
  # Any HTTP answer (moto says 200 to GET / with a bucket listing for signed
  # requests, 403 unsigned): the server is up.
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/" 2>/dev/null | grep -q '^[1-5][0-9][0-9]$'
}

recorded_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

cmd_start() {
  ensure_venv test
  mkdir -p "$STATE_DIR"
  if recorded_pid >/dev/null && answers; then
    log "already running on $URL"
    return 0
  fi
  log "starting moto_server on $URL"
  S3_UPLOAD_PART_MIN_SIZE="${S3_UPLOAD_PART_MIN_SIZE:-1024}" \
    setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 100); do
    answers && return 0
    sleep 0.1
  done
  tail -n 20 "$LOG_FILE" >&2 || true
  die "moto_server did not start on $URL"
}

cmd_stop() {
  local pid
  if ! pid="$(recorded_pid)"; then
    rm -f "$PID_FILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) answers ;;
  url) printf '%s\n' "$URL" ;;
  env)
    printf 'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1\n'
    printf 'export VELESDB_MIGRATE_S3_ENDPOINT=%s\n' "$URL"
    ;;
  *) die "usage: $0 {start|stop|status|url|env}" ;;
esac
