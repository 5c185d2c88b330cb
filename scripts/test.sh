#!/usr/bin/env bash
# Run the whole test suite: starts (idempotently) the PostgreSQL + pgvector
# server the integration tests use, then unit, integration and doc tests.
# Ends with one line totalling every test binary's results.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="test"
cd "$REPO"
bash scripts/setup.sh >/dev/null
log_file="$(mktemp)"
trap 'rm -f "$log_file"' EXIT
set +e
cargo test --release "$@" 2>&1 | tee "$log_file"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log_file"
exit "$status"
