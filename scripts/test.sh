#!/usr/bin/env bash
# Run the whole test suite: starts (idempotently) the PostgreSQL + pgvector
# server the integration tests use, then unit and integration tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="test"
cd "$REPO"
bash scripts/setup.sh >/dev/null
cargo test --release "$@"
