#!/usr/bin/env bash
# Regenerate fixtures/snapshots/: a small valid snapshot exported from the
# test PostgreSQL, and corrupted variants of it. The result is committed;
# run this only when the snapshot format changes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"
bash scripts/pg.sh start >/dev/null
cargo build --release --quiet
BIN=target/release/velesdb-migrate
OUT=fixtures/snapshots
rm -rf "$OUT" && mkdir -p "$OUT"
bash scripts/pg.sh psql -q <<'SQL'
DROP TABLE IF EXISTS fixture_docs;
CREATE TABLE fixture_docs (id text PRIMARY KEY, embedding vector(8), sparse sparsevec(32), meta jsonb, rank bigint, content text);
CREATE INDEX ON fixture_docs USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
INSERT INTO fixture_docs
  SELECT 'doc-' || lpad(i::text, 3, '0'),
         (SELECT array_agg(((i * 7 + j * 3) % 11) / 10.0 - 0.5)::real[] FROM generate_series(1, 8) j)::vector,
         ('{' || (i % 32) + 1 || ':' || i || '}/32')::sparsevec,
         jsonb_build_object('lang', CASE WHEN i % 2 = 0 THEN 'en' ELSE 'fr' END, 'nested', jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i))),
         9007199254740000 + i,
         'document number ' || i
  FROM generate_series(1, 20) i;
SQL
"$BIN" --quiet export pgvector --url "$(bash scripts/pg.sh url)" --table fixture_docs --out "$OUT/ok-small" --chunk-rows 8 >/dev/null
bash scripts/pg.sh psql -q -c 'DROP TABLE fixture_docs'
C="$OUT/ok-small/chunks/fixture_docs"
variant() { rm -rf "$OUT/$1"; cp -r "$OUT/ok-small" "$OUT/$1"; }
# One byte flipped in the middle of chunk 1 (same size).
variant bad-hash
python3 - "$OUT/bad-hash/chunks/fixture_docs/000001.parquet" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 2] ^= 0xFF; open(p, 'wb').write(bytes(b))
PY
variant bad-truncated
truncate -s 100 "$OUT/bad-truncated/chunks/fixture_docs/000001.parquet"
variant bad-missing-chunk
rm "$OUT/bad-missing-chunk/chunks/fixture_docs/000002.parquet"
variant bad-unexpected-file
cp "$C/000000.parquet" "$OUT/bad-unexpected-file/chunks/fixture_docs/000099.parquet"
variant bad-version
python3 - "$OUT/bad-version/manifest.json" <<'PY'
import json, sys
p = sys.argv[1]; m = json.load(open(p)); m['format_version'] = 2; open(p, 'w').write(json.dumps(m, indent=2) + '\n')
PY
variant bad-manifest-json
truncate -s 200 "$OUT/bad-manifest-json/manifest.json"
# An interrupted export: the last chunk not yet committed.
variant incomplete
python3 - "$OUT/incomplete/manifest.json" <<'PY'
import json, sys
p = sys.argv[1]; m = json.load(open(p)); c = m['collections'][0]
last = c['chunks'].pop()
c['totals'] = {'rows': c['totals']['rows'] - last['rows'], 'bytes': c['totals']['bytes'] - last['bytes'], 'chunks': c['totals']['chunks'] - 1}
c['complete'] = False; m['complete'] = False
open(p, 'w').write(json.dumps(m, indent=2) + '\n')
PY
rm "$OUT/incomplete/chunks/fixture_docs/000002.parquet"
log "fixtures written to $OUT"
