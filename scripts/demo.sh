#!/usr/bin/env bash
# The main job, end to end, on this machine with no external server:
#   1. start a local PostgreSQL + pgvector (scripts/pg.sh) and fill a
#      sample table (DEMO_ROWS rows of DEMO_DIM-dimensional vectors, text ids,
#      jsonb metadata, a document column, an HNSW cosine index);
#   2. export it into a snapshot (demo/snapshot) and verify the snapshot;
#   3. import it into an embedded VelesDB data directory (demo/velesdb-data);
#   4. validate every row of the destination against the snapshot.
# Idempotent: re-running starts the demo afresh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="demo"
cd "$REPO"
ROWS="${DEMO_ROWS:-5000}"
DIM="${DEMO_DIM:-384}"
OUT="${DEMO_DIR:-$REPO/demo}"

command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH; install the Rust toolchain (https://rustup.rs or apt-get install cargo)"
bash scripts/pg.sh start
url="$(bash scripts/pg.sh url)"
log "building velesdb-migrate (release; the first build takes several minutes)"
cargo build --release --quiet
BIN="$REPO/target/release/velesdb-migrate"

log "creating table demo_docs: $ROWS rows x $DIM dimensions"
bash scripts/pg.sh psql -q <<SQL
DROP TABLE IF EXISTS demo_docs;
CREATE TABLE demo_docs (
  id text PRIMARY KEY,
  embedding vector($DIM),
  metadata jsonb,
  published_at timestamptz,
  score float8,
  content text
);
SELECT setseed(0.42) \g /dev/null
INSERT INTO demo_docs
SELECT 'doc-' || i,
       (SELECT array_agg(random() * 2 - 1 + 0 * i + 0 * j)::real[] FROM generate_series(1, $DIM) j)::vector,
       jsonb_build_object('lang', (ARRAY['en','fr','de'])[1 + i % 3], 'source', jsonb_build_object('site', 'example.org', 'page', i % 97)),
       timestamptz '2024-01-01' + i * interval '1 hour',
       i / 7.0,
       'Sample document number ' || i
FROM generate_series(1, $ROWS) i;
CREATE INDEX ON demo_docs USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
SQL

rm -rf "$OUT" && mkdir -p "$OUT"
set -x
"$BIN" export pgvector --url "$url" --table demo_docs --out "$OUT/snapshot"
"$BIN" verify "$OUT/snapshot"
"$BIN" inspect "$OUT/snapshot"
"$BIN" import "$OUT/snapshot" --to "$OUT/velesdb-data" --collection demo_docs
"$BIN" validate "$OUT/snapshot" --to "$OUT/velesdb-data" --collection demo_docs --strict
set +x
log "done: snapshot in $OUT/snapshot, VelesDB data directory in $OUT/velesdb-data"
