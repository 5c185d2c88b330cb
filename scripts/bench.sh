#!/usr/bin/env bash
# Benchmark harness (not part of the test suite): throughput and peak memory
# of export and import against their raw baselines, on identical data.
#
#   bash scripts/bench.sh [ROWS] [DIM]        (default 100000 x 768)
#
# Steps (all on this machine, PostgreSQL from scripts/setup.sh):
#   1. table bench_<ROWS>_<DIM> with random vectors, an HNSW cosine index
#      (m=16, ef_construction=64: pgvector's defaults) and small metadata;
#      created once and reused.
#   d. raw baseline: COPY (SELECT ... ORDER BY id) TO STDOUT (FORMAT binary) into /dev/null
#   e. velesdb-migrate export pgvector
#   a. raw baseline: velesdb-core upsert_bulk of the same points, same HNSW
#      parameters (examples/raw_ingest.rs; data preloaded, only ingest timed)
#   b. velesdb-migrate import (embedded)
#   c. velesdb-migrate import over REST into a real velesdb-server (same settings)
# Prints rows/s, the ratios e/d and b/a, and peak RSS of our process
# (VmHWM, from the command's --json summary). (a), (b) and (c) alternate
# BENCH_IMPORT_RUNS times (default 3) and their medians are compared; (d)
# and (e) are the best of BENCH_RUNS (default 3). Set BENCH_SKIP_IMPORT=1 to
# measure only the export side, BENCH_NO_INDEX=1 to create the table without
# its HNSW index (building it for 1 000 000 x 768 takes most of an hour on 2
# cores; the export reads the same rows either way, but an import then uses
# VelesDB's default HNSW parameters: use it with BENCH_SKIP_IMPORT=1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="bench"
cd "$REPO"
ROWS="${1:-100000}"
DIM="${2:-768}"
T="bench_${ROWS}_${DIM}"
WORK="${BENCH_DIR:-$REPO/target/bench}/$T"
url="$(bash scripts/setup.sh)"
cargo build --release --quiet --bin velesdb-migrate --example raw_ingest
BIN="$REPO/target/release/velesdb-migrate"
PSQL() { bash scripts/pg.sh psql "$@"; }

if [[ "$(PSQL -A -t -c "SELECT to_regclass('$T') IS NOT NULL")" != "t" ]]; then
  log "creating $T ($ROWS x $DIM, random vectors); this takes a while once"
  PSQL -q <<SQL
SELECT setseed(0.1) \g /dev/null
CREATE TABLE $T (id bigint PRIMARY KEY, embedding vector($DIM), title text, tag int);
INSERT INTO $T
  SELECT i, (SELECT array_agg(random() * 2 - 1 + 0 * i + 0 * j)::real[] FROM generate_series(1, $DIM) j)::vector,
         'title ' || i, i % 100
  FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE $T;
SQL
fi
if [[ "${BENCH_NO_INDEX:-0}" != "1" && "$(PSQL -A -t -c "SELECT count(*) FROM pg_indexes WHERE tablename = '$T' AND indexdef LIKE '%hnsw%'")" == "0" ]]; then
  log "building the HNSW index of $T (once)"
  PSQL -q -c "SET maintenance_work_mem = '2GB'" -c "CREATE INDEX ON $T USING hnsw (embedding vector_cosine_ops)"
fi

now() { date +%s.%N; }
rate() { python3 -c "import sys; r, s = float(sys.argv[1]), float(sys.argv[2]); print(f'{r / s:.0f}')" "$1" "$2"; }
field() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

rm -rf "$WORK" && mkdir -p "$WORK"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [[ "${BENCH_NO_INDEX:-0}" == "1" ]]; then index_note="no index (BENCH_NO_INDEX=1)"; else index_note="HNSW cosine m=16 ef_construction=64"; fi
echo "data: $ROWS rows x $DIM dims (f32), $index_note"

# (d) raw binary COPY and (e) our export: best of RUNS each (the COPY
# baseline varies a lot between runs on a shared 2-core machine).
RUNS="${BENCH_RUNS:-3}"
best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }
d_times=(); e_times=()
for run in $(seq 1 "$RUNS"); do
  t0=$(now)
  PSQL -q -c "\\copy (SELECT id, embedding, title, tag FROM $T ORDER BY id) TO '/dev/null' WITH (FORMAT binary)"
  t1=$(now); d_times+=("$(python3 -c "print($t1 - $t0)")")
  rm -rf "$WORK/snapshot" && sync
  t0=$(now)
  "$BIN" --json --quiet export pgvector --url "$url" --table "$T" --out "$WORK/snapshot" > "$WORK/export.json"
  t1=$(now); e_times+=("$(python3 -c "print($t1 - $t0)")")
done
d_s=$(best "${d_times[@]}"); e_s=$(best "${e_times[@]}")
echo "d raw COPY binary:        $(rate "$ROWS" "$d_s") rows/s (best of $RUNS: ${d_s%????????} s; all: ${d_times[*]})"
e_rss=$(field "$WORK/export.json" peak_rss_bytes)
echo "e velesdb-migrate export: $(rate "$ROWS" "$e_s") rows/s (best of $RUNS: ${e_s%????????} s; all: ${e_times[*]}), peak RSS $((e_rss / 1048576)) MiB, snapshot $(( $(field "$WORK/export.json" bytes) / 1048576 )) MiB"
echo "  e/d = $(python3 -c "print(f'{$d_s / $e_s:.2f}')")"

if [[ "${BENCH_SKIP_IMPORT:-0}" != "1" ]]; then
  # (a), (b) and (c) alternate, IRUNS times each, on fresh destinations; the
  # medians are compared (HNSW insertion on 2 cores varies by ~10 % between
  # identical runs, so one run of each says little about a 5 % gap).
  IRUNS="${BENCH_IMPORT_RUNS:-3}"
  SERVER_BIN="$(bash scripts/velesdb-server.sh bin)"
  bash scripts/velesdb-server.sh install
  PORT="${BENCH_SERVER_PORT:-18765}"
  SERVER_PID=""
  trap '[[ -n "$SERVER_PID" ]] && kill $SERVER_PID 2>/dev/null || true' EXIT
  r2() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
  median() { python3 -c "import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
  # timed_import DESTINATION REPORT: run our import, print its seconds (whole command)
  timed_import() {
    local t0 t1
    t0=$(now)
    "$BIN" --json --quiet import "$WORK/snapshot" --to "$1" --collection bench > "$2"
    t1=$(now); python3 -c "print($t1 - $t0)"
  }
  a_all=(); b_all=(); c_all=(); a_rss=0; b_rss=0; c_rss=0
  maxi() { python3 -c "import sys; print(max(int(x) for x in sys.argv[1:]))" "$@"; }
  for run in $(seq 1 "$IRUNS"); do
    # (a) raw velesdb-core ingest (points preloaded; only the ingest timed)
    rm -rf "$WORK/raw-db"
    "$REPO/target/release/examples/raw_ingest" "$WORK/snapshot" "$WORK/raw-db" > "$WORK/raw.json"
    a_all+=("$(field "$WORK/raw.json" seconds)"); a_rss=$(maxi "$a_rss" "$(field "$WORK/raw.json" peak_rss_bytes)")
    # (b) our import, embedded
    rm -rf "$WORK/db"
    b_all+=("$(timed_import "$WORK/db" "$WORK/import.json")"); b_rss=$(maxi "$b_rss" "$(field "$WORK/import.json" peak_rss_bytes)")
    # (c) our import over REST into a real velesdb-server (rate limiter off)
    rm -rf "$WORK/server-data" && mkdir -p "$WORK/server-data"
    VELESDB_NO_UPDATE_CHECK=1 "$SERVER_BIN" --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/server-data" --rate-limit 0 \
      >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/v1/ready" >/dev/null && break; sleep 0.1; done
    c_all+=("$(timed_import "http://127.0.0.1:$PORT" "$WORK/import-rest.json")"); c_rss=$(maxi "$c_rss" "$(field "$WORK/import-rest.json" peak_rss_bytes)")
    kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  done
  a_s=$(median "${a_all[@]}"); b_s=$(median "${b_all[@]}"); c_s=$(median "${c_all[@]}")
  echo "a raw velesdb-core ingest: $(rate "$ROWS" "$a_s") points/s (median of $IRUNS: $(r2 "$a_s") s; all: ${a_all[*]}), peak RSS $((a_rss / 1048576)) MiB (all points preloaded)"
  echo "b velesdb-migrate import embedded: $(rate "$ROWS" "$b_s") points/s (median of $IRUNS: $(r2 "$b_s") s, whole command; all: ${b_all[*]}), peak RSS of our process $((b_rss / 1048576)) MiB"
  echo "  b/a = $(python3 -c "print(f'{$a_s / $b_s:.2f}')")"
  echo "c velesdb-migrate import over REST: $(rate "$ROWS" "$c_s") points/s (median of $IRUNS: $(r2 "$c_s") s, whole command; all: ${c_all[*]}), peak RSS of our process $((c_rss / 1048576)) MiB"
  echo "  c/a = $(python3 -c "print(f'{$a_s / $c_s:.2f}')")"
fi
