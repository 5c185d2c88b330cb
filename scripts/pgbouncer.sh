#!/usr/bin/env bash
# pgbouncer in transaction mode in front of the test PostgreSQL (the way
# Supabase's port-6543 pooler behaves: no named prepared statements, no
# session state across transactions).
#
#   scripts/pgbouncer.sh install        install the Debian package (once)
#   scripts/pgbouncer.sh start PORT     install if needed and start on 127.0.0.1:PORT
#   scripts/pgbouncer.sh stop PORT
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="pgbouncer"
PG_PORT="${VELESDB_MIGRATE_PG_PORT:-55432}"

ensure_installed() {
  command -v pgbouncer >/dev/null 2>&1 && return 0
  [[ -x /usr/sbin/pgbouncer ]] && return 0
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    _apt_install pgbouncer
  else
    die "pgbouncer is not installed (Debian: apt-get install pgbouncer)"
  fi
}

bin() {
  command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer
}

cmd_start() {
  local port="$1" dir="$PEERS_DIR/pgbouncer-$1"
  ensure_installed
  mkdir -p "$dir"
  if [[ -f "$dir/pgbouncer.pid" ]] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then
    return 0
  fi
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$PG_PORT dbname=postgres
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 50
default_pool_size = 4
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  printf '"postgres" ""\n' >"$dir/userlist.txt"
  if [[ $EUID -eq 0 ]]; then
    # pgbouncer refuses to run as root.
    chown -R nobody "$dir"
    chmod 755 "$dir"
    (cd / && setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$(bin)" -d "$dir/pgbouncer.ini")
  else
    "$(bin)" -d "$dir/pgbouncer.ini"
  fi
  for _ in $(seq 1 100); do
    [[ -f "$dir/pgbouncer.pid" ]] && (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$dir/pgbouncer.log" >&2 || true
  die "pgbouncer did not start on 127.0.0.1:$port"
}

cmd_stop() {
  local dir="$PEERS_DIR/pgbouncer-$1"
  [[ -f "$dir/pgbouncer.pid" ]] || return 0
  kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
  rm -f "$dir/pgbouncer.pid"
}

case "${1:-}" in
  install) ensure_installed ;;
  start) cmd_start "${2:?port}" ;;
  stop) cmd_stop "${2:?port}" ;;
  *) die "usage: $0 {install|start PORT|stop PORT}" ;;
esac
