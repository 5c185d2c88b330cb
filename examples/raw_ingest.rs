//! Benchmark baseline: the raw velesdb-core bulk-ingest rate on the same data
//! and collection settings our `import` uses. Loads every point of a snapshot
//! into memory first (not timed), then times only `upsert_bulk` calls and the
//! final `flush_full`.
//!
//!   cargo run --release --example raw_ingest -- SNAPSHOT DATA_DIR [BATCH]

use std::time::Instant;
use velesdb_migrate::pipeline::mapping::{Mapping, MappingArgs};
use velesdb_migrate::sink::embedded::velesdb_metric;
use velesdb_migrate::snapshot::{decode_chunk, read_chunk_verified, Manifest};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (snap, data) = (std::path::PathBuf::from(&args[1]), std::path::PathBuf::from(&args[2]));
    let batch: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let m = Manifest::load(&snap).expect("manifest");
    let c = &m.collections[0];
    let margs = MappingArgs::default();
    let mapping = Mapping::new(c, &margs).expect("mapping");
    let mut points = Vec::new();
    for k in &c.chunks {
        let recs = decode_chunk(&c.schema, read_chunk_verified(&snap, &c.name, k).expect("chunk")).expect("decode");
        for r in &recs {
            points.push(mapping.point(r, &k.file).expect("point").expect("vector"));
        }
    }
    let f = &mapping.dense;
    let idx = f.index.clone().unwrap_or_default();
    let db = velesdb_core::Database::open(&data).expect("open");
    db.create_vector_collection_with_hnsw(
        "raw",
        f.dimension as usize,
        velesdb_metric(f.metric.expect("metric")).expect("metric"),
        velesdb_core::StorageMode::Full,
        idx.m.map(|v| v as usize),
        idx.ef_construction.map(|v| v as usize),
    )
    .expect("create");
    let coll = db.get_vector_collection("raw").expect("collection");
    let t = Instant::now();
    for b in points.chunks(batch) {
        coll.upsert_bulk(b).expect("upsert");
    }
    coll.flush_full().expect("flush");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"points\": {}, \"seconds\": {secs:.3}, \"points_per_second\": {:.1}, \"peak_rss_bytes\": {}}}",
        points.len(),
        points.len() as f64 / secs,
        velesdb_migrate::util::peak_rss_bytes().unwrap_or(0)
    );
}
