#!/usr/bin/env bash
# A real velesdb-server for the REST tests and benchmarks.
#
#   scripts/velesdb-server.sh install     build velesdb-server 8.0.0 once (about 6 minutes on 2 cores;
#                                         skipped when present)
#   scripts/velesdb-server.sh bin         print the binary's path
#
# The tests start their own instances (each on a free 127.0.0.1 port with
# its own data directory, the rate limiter off, VELESDB_NO_UPDATE_CHECK=1).
# It is built without the default `update-check` feature, so it never
# contacts velesdb.com.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="velesdb-server"
VERSION="8.0.0"
# Outside the checkout, so fresh clones on the same machine (CI) reuse it.
ROOT="${VELESDB_SERVER_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/velesdb-migrate/velesdb-server-$VERSION}"
BIN="$ROOT/bin/velesdb-server"

installed() {
  [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -qF "velesdb-server $VERSION"
}

cmd_install() {
  if installed; then
    return 0
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH; install the Rust toolchain"
  log "building velesdb-server $VERSION into $ROOT (first time only; several minutes)"
  # --locked fails for this version (its lockfile pins a crate version the
  # registry does not have), so the newest compatible dependencies are used.
  cargo install velesdb-server --version "=$VERSION" --root "$ROOT" \
    --no-default-features --features persistence --quiet
  installed || die "velesdb-server $VERSION did not install into $ROOT"
}

case "${1:-}" in
  install) cmd_install ;;
  bin) printf '%s\n' "$BIN" ;;
  *) die "usage: $0 {install|bin}" ;;
esac
