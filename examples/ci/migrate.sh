#!/usr/bin/env bash
# Migrate one pgvector (or Supabase) table into VelesDB from CI:
# export -> verify -> import -> validate --strict, each step's `--json`
# report read back, each failure mapped to its own exit code.
#
# Environment (secrets stay in the environment: velesdb-migrate reads
# DATABASE_URL and VELESDB_API_KEY itself, so they never appear on a command
# line, in a log or in the snapshot):
#   DATABASE_URL        source PostgreSQL URL (required; a secret)
#   SOURCE_TABLE        table to export (required)
#   VELESDB_TARGET      destination: http(s)://HOST:PORT of a velesdb-server,
#                       or a VelesDB data directory (required)
#   VELESDB_API_KEY     the server's API key (optional; a secret)
#   VELESDB_COLLECTION  destination collection (default: SOURCE_TABLE)
#   VELESDB_VECTOR      the vector column to import when the table has several
#   SOURCE_KIND         pgvector (default) or supabase
#   SNAPSHOT_DIR        snapshot directory (default ./snapshot); re-running
#                       the script resumes the export and the import from it
#   VELESDB_MIGRATE     the binary (default: velesdb-migrate on PATH)
#
# Exit codes: 0 migrated and every row validated; 2 missing variable or bad
# usage; 10 export failed; 11 snapshot verification failed; 12 import failed;
# 13 validation failed or found differences.
# With GITHUB_STEP_SUMMARY set (GitHub Actions), appends a Markdown summary.
set -euo pipefail

need() { [[ -n "${!1:-}" ]] || { echo "migrate.sh: set $1 ($2)" >&2; exit 2; }; }
need DATABASE_URL "the source PostgreSQL URL"
need SOURCE_TABLE "the table to export"
need VELESDB_TARGET "a velesdb-server URL or a VelesDB data directory"
COLLECTION="${VELESDB_COLLECTION:-$SOURCE_TABLE}"
KIND="${SOURCE_KIND:-pgvector}"
SNAP="${SNAPSHOT_DIR:-./snapshot}"
VM="${VELESDB_MIGRATE:-velesdb-migrate}"
DEST=(--to "$VELESDB_TARGET" --collection "$COLLECTION")
[[ -n "${VELESDB_VECTOR:-}" ]] && DEST+=(--vector "$VELESDB_VECTOR")
REPORTS="$(mktemp -d)"
trap 'rm -rf "$REPORTS"' EXIT

# field FILE PATH...: print one value of a JSON report (python3, no jq needed).
field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$@"
}

# step NAME EXIT_CODE ARGS...: run velesdb-migrate --json ARGS, keep the report
# in $REPORTS/NAME.json; on failure print the stable error code and exit.
step() {
  local name="$1" code="$2" rc=0
  shift 2
  echo "== $name"
  "$VM" --json "$@" >"$REPORTS/$name.json" || rc=$?
  if ((rc != 0)); then
    if grep -q '"error"' "$REPORTS/$name.json" 2>/dev/null; then
      echo "$name failed: $(field "$REPORTS/$name.json" error code): $(field "$REPORTS/$name.json" error message)" >&2
    else
      echo "$name failed (exit $rc)" >&2
    fi
    ((rc == 2)) && exit 2 # usage: fix the flags or variables, not the data
    exit "$code"
  fi
}

step export 10 export "$KIND" --table "$SOURCE_TABLE" --out "$SNAP"
echo "exported $(field "$REPORTS/export.json" rows) rows in $(field "$REPORTS/export.json" chunks) chunks"

step verify 11 verify "$SNAP"
echo "verified $(field "$REPORTS/verify.json" chunks_checked) chunks"

step import 12 import "$SNAP" "${DEST[@]}"
echo "imported $(field "$REPORTS/import.json" points_upserted) points ($(field "$REPORTS/import.json" chunks_skipped) chunks already done)"

step validate 13 validate "$SNAP" "${DEST[@]}" --strict
rows="$(field "$REPORTS/validate.json" rows_compared)"
echo "validated $rows rows: ok"

if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    echo "### velesdb-migrate: $SOURCE_TABLE -> $COLLECTION"
    echo
    echo "| step | result |"
    echo "|---|---|"
    echo "| export | $(field "$REPORTS/export.json" rows) rows, $(field "$REPORTS/export.json" chunks) chunks |"
    echo "| verify | $(field "$REPORTS/verify.json" chunks_checked) chunks checked |"
    echo "| import | $(field "$REPORTS/import.json" points_upserted) points upserted |"
    echo "| validate --strict | $rows rows compared, ok |"
  } >>"$GITHUB_STEP_SUMMARY"
fi
