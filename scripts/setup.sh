#!/usr/bin/env bash
# One-stop, idempotent setup for the tests: checks the Rust toolchain is there,
# then installs (once) and starts the local PostgreSQL 18 + pgvector server.
# It does not build anything; run cargo yourself afterwards.
#
#   bash scripts/setup.sh        # prints the server URL on stdout
#
# A second run skips everything already done and takes about a second.
# Environment: see scripts/lib.sh and scripts/pg.sh (VELESDB_MIGRATE_PG_PORT, ...).

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="setup"

if ! command -v cargo >/dev/null 2>&1; then
  hint=""
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    hint=" (found $HOME/.cargo/bin/cargo: add \$HOME/.cargo/bin to PATH)"
  fi
  die "cargo not found on PATH$hint; install the Rust toolchain (https://rustup.rs or apt-get install cargo)"
fi

# The test peers: Python packages (Chroma server, Qdrant client, moto S3 server), PostgreSQL
# + pgvector, a velesdb-server build and pgbouncer (all skipped when present).
ensure_venv test
bash "$REPO/scripts/pg.sh" start
bash "$REPO/scripts/velesdb-server.sh" install
bash "$REPO/scripts/pgbouncer.sh" install

url="$(bash "$REPO/scripts/pg.sh" url)"
log "PostgreSQL + pgvector: $url"
printf '%s\n' "$url"
