//! Import: snapshot → VelesDB (embedded data directory or velesdb-server over REST).
//!
//! 1. An id pre-pass reads only the id column of every chunk and refuses
//!    colliding or duplicated ids before anything is written.
//! 2. Chunks not yet in the import journal are read, blake3-checked and
//!    decoded in parallel on rayon (windows of `parallelism` chunks, handed
//!    over through a bounded channel), then bulk-upserted.
//! 3. After a chunk: `flush()`, then the journal records the hashes of the
//!    chunks upserted since the last flush (atomic write). A re-run skips
//!    journaled chunks; chunks upserted but not yet flushed when a crash hits
//!    are simply upserted again (upserts are idempotent by id). The flush
//!    runs after every chunk while it is cheap, and otherwise once the work
//!    since the previous flush is FLUSH_RATIO times what that flush took: its
//!    cost stays under 1/FLUSH_RATIO of the import (embedded VelesDB saves its
//!    HNSW graph in a flush, which grows with the collection), and a crash
//!    redoes at most that much work.

use super::mapping::{is_hashed, point_id, Mapping, MappingArgs};
use crate::error::{Error, Result};
use crate::model::{IdValue, Metric};
use crate::progress::{Output, Progress};
use crate::sink::embedded::Embedded;
use crate::sink::rest::RestServer;
use crate::sink::{CollectionPlan, Destination, Sink};
use crate::sink::repair::{payload_log_len, repair_payload_log, replay_stop, PAYLOAD_LOG};
use crate::snapshot::store::{cache_dir, short_key};
use crate::snapshot::{chunk, fsutil, ChunkEntry, CollectionEntry, Location, Manifest, JOURNAL_DIR};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;
use velesdb_core::Point;

#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub snapshot: Location,
    /// Where import journals go instead of `<snapshot>/.imports/` (always
    /// for a snapshot in an object store; default there: a cache directory).
    pub journal_dir: Option<PathBuf>,
    pub to: Destination,
    pub collection: String,
    pub metric: Option<Metric>,
    pub parallelism: usize,
    pub batch_size: usize,
    pub hnsw_m: Option<u32>,
    pub hnsw_ef_construction: Option<u32>,
    pub mapping: MappingArgs,
    /// Import the committed chunks of an unfinished export.
    pub partial: bool,
    /// VelesDB storage mode for a new collection.
    pub storage_mode: String,
    /// Check everything and report; write nothing.
    pub dry_run: bool,
}

impl ImportOptions {
    /// The command line's defaults: import `snapshot` into `collection` at
    /// `to`, everything else as `velesdb-migrate import` would choose it.
    pub fn new(snapshot: Location, to: Destination, collection: &str) -> ImportOptions {
        ImportOptions {
            snapshot,
            journal_dir: None,
            to,
            collection: collection.to_owned(),
            metric: None,
            parallelism: 1,
            batch_size: 1000,
            hnsw_m: None,
            hnsw_ef_construction: None,
            mapping: MappingArgs::default(),
            partial: false,
            storage_mode: "full".into(),
            dry_run: false,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ImportSummary {
    pub snapshot: String,
    pub destination: String,
    pub collection: String,
    pub created_collection: bool,
    pub settings: CollectionPlan,
    pub chunks_total: u64,
    pub chunks_skipped: u64,
    pub chunks_imported: u64,
    pub points_upserted: u64,
    /// Ids skipped because their vector was NULL (`--skip-null-vectors`).
    pub skipped_null_vectors: Vec<serde_json::Value>,
    pub collection_count: u64,
    /// Dense vector fields of the snapshot that this import did not write.
    pub dense_vectors_not_imported: Vec<String>,
    /// Retried requests by category (REST destinations).
    pub retries: std::collections::BTreeMap<String, u64>,
    /// True for `--dry-run`: nothing was written.
    pub dry_run: bool,
    pub seconds: f64,
    pub points_per_second: f64,
    pub peak_rss_bytes: Option<u64>,
    /// Per-chunk upsert + flush latency (HDR histogram).
    pub latency: std::collections::BTreeMap<String, crate::metrics::Latency>,
}

impl ImportSummary {
    fn nothing(opts: &ImportOptions, snap_name: &str) -> ImportSummary {
        ImportSummary {
            snapshot: opts.snapshot.display(),
            destination: opts.to.key(),
            collection: opts.collection.clone(),
            created_collection: false,
            settings: CollectionPlan {
                name: opts.collection.clone(),
                dimension: 0,
                metric: opts.metric.unwrap_or(Metric::Cosine),
                hnsw_m: None,
                hnsw_ef_construction: None,
                storage_mode: opts.storage_mode.clone(),
                reasons: vec![format!("snapshot collection {snap_name} is empty with no known dimension")],
            },
            chunks_total: 0,
            chunks_skipped: 0,
            chunks_imported: 0,
            points_upserted: 0,
            skipped_null_vectors: Vec::new(),
            collection_count: 0,
            dense_vectors_not_imported: Vec::new(),
            retries: Default::default(),
            dry_run: opts.dry_run,
            seconds: 0.0,
            points_per_second: 0.0,
            peak_rss_bytes: crate::util::peak_rss_bytes(),
            latency: crate::metrics::latencies(&[crate::metrics::IMPORT_CHUNK]),
        }
    }
}

/// Import journal: which chunks (by blake3) are in the destination, and
/// the options that shaped the points (a resume must use the same).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    version: u32,
    destination: String,
    collection: String,
    snapshot_collection: String,
    #[serde(default)]
    mapping: serde_json::Value,
    /// Length of the collection's `payloads.log` after the last chunk this
    /// tool committed: a record boundary (see `sink::repair`).
    #[serde(default)]
    payload_log_checkpoint: Option<u64>,
    done: BTreeSet<String>,
}

fn save_journal(path: &Path, j: &Journal) -> Result<()> {
    fsutil::write_atomic(path, &serde_json::to_vec_pretty(j).expect("journal serializes"))
}

/// Before opening the data directory: cut a torn payload-log tail that a
/// killed run of this tool left after its last checkpoint, or refuse a log
/// torn by another writer (VelesDB would lose every payload appended after
/// it). See `sink::repair`.
fn guard_payload_log(coll_dir: &Path, checkpoint: Option<u64>, out: &Output) -> Result<()> {
    if !coll_dir.join("config.json").exists() || !coll_dir.join(PAYLOAD_LOG).exists() {
        return Ok(());
    }
    match checkpoint {
        Some(c) => {
            let removed = repair_payload_log(coll_dir, c)?;
            if removed > 0 {
                out.note(format!(
                    "removed a torn {removed}-byte record from the end of {} (left by an interrupted import; its chunk is imported again)",
                    coll_dir.join(PAYLOAD_LOG).display()
                ));
            }
        }
        None => {
            let path = coll_dir.join(PAYLOAD_LOG);
            let len = payload_log_len(coll_dir);
            let stop = replay_stop(&path, 0).map_err(|e| Error::io(format!("scanning {}", path.display()), e))?;
            if stop < len {
                return Err(Error::Sink {
                    dest: coll_dir.display().to_string(),
                    collection: String::new(),
                    message: format!(
                        "{} ends with a torn record at byte {stop} of {len} (a writer was killed); VelesDB would lose every payload \
                         written after it. Import into a new --collection, or truncate the file to {stop} bytes while nothing has the data directory open",
                        path.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

const JOURNAL_VERSION: u32 = 1;
/// See the module documentation, step 3.
const FLUSH_RATIO: u32 = 25;

/// Pick the snapshot collection to read.
pub fn select_collection<'a>(m: &'a Manifest, wanted: Option<&str>) -> Result<&'a CollectionEntry> {
    let names = || m.collections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    match wanted {
        Some(w) => m.collection(w).ok_or_else(|| Error::Usage(format!("--from-collection {w}: the snapshot has no such collection (it has: {})", names()))),
        None if m.collections.len() == 1 => Ok(&m.collections[0]),
        None if m.collections.is_empty() => Err(Error::Usage("the snapshot holds no collection".into())),
        None => Err(Error::Usage(format!("the snapshot holds several collections ({}); choose one with --from-collection", names()))),
    }
}

/// Which snapshot collections an import (or validate) reads, and the VelesDB
/// collection each goes to: (snapshot collection, VelesDB collection).
///
/// - `only` (repeatable `--only`) or `from_collection` (`--from-collection`)
///   pick collections; without either, every collection of the snapshot.
/// - `collection` (`--collection`) names the destination of exactly one
///   chosen collection; otherwise each goes to a VelesDB collection of its
///   own name, with `.` (not allowed in VelesDB names) turned into `_`.
///
/// # Errors
/// `Usage` for an unknown name, `--collection` with several collections, or
/// two collections that would land in the same VelesDB collection.
pub fn targets(m: &Manifest, only: &[String], from_collection: Option<&str>, collection: Option<&str>) -> Result<Vec<(String, String)>> {
    let names = || m.collections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut chosen: Vec<String> = Vec::new();
    for w in only.iter().map(String::as_str).chain(from_collection) {
        if m.collection(w).is_none() {
            return Err(Error::Usage(format!("{w}: the snapshot has no such collection (it has: {})", names())));
        }
        if !chosen.iter().any(|c| c == w) {
            chosen.push(w.to_owned());
        }
    }
    if chosen.is_empty() {
        chosen = m.collections.iter().map(|c| c.name.clone()).collect();
    }
    if chosen.is_empty() {
        return Err(Error::Usage("the snapshot holds no collection".into()));
    }
    let out: Vec<(String, String)> = match collection {
        Some(c) if chosen.len() == 1 => vec![(chosen.remove(0), c.to_owned())],
        Some(c) => {
            return Err(Error::Usage(format!(
                "--collection {c} names one VelesDB collection, but {} snapshot collections are chosen ({}); \
                 leave --collection out to import each into a collection of its own name, or choose one with --only NAME",
                chosen.len(),
                chosen.join(", ")
            )))
        }
        None => chosen.into_iter().map(|n| { let d = velesdb_name(&n); (n, d) }).collect(),
    };
    for (i, (snap, dest)) in out.iter().enumerate() {
        if let Some((other, _)) = out[..i].iter().find(|(_, d)| d == dest) {
            return Err(Error::Usage(format!(
                "snapshot collections {other} and {snap} would both go to VelesDB collection {dest}; import them one at a time with --only NAME --collection NEW_NAME"
            )));
        }
    }
    Ok(out)
}

/// `<snapshot>/.imports/<key>.json` for a snapshot directory; otherwise
/// (a store, or `--journal-dir`) `<journal dir>/<key>.json`, with the
/// snapshot's location in the key.
fn journal_path(snapshot: &Location, journal_dir: Option<&Path>, dest_key: &str, collection: &str, snap_coll: &str) -> PathBuf {
    let id = format!("{dest_key}\n{collection}\n{snap_coll}");
    match (snapshot, journal_dir) {
        (Location::Dir(dir), None) => dir.join(JOURNAL_DIR).join(format!("{}.json", short_key(&id))),
        (loc, dir) => {
            let root = dir.map(Path::to_owned).unwrap_or_else(|| cache_dir().join("journals"));
            let at = match loc {
                Location::Dir(d) => std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()).display().to_string(),
                Location::Store(r) => r.url.clone(),
            };
            root.join(format!("{}.json", short_key(&format!("{at}\n{id}"))))
        }
    }
}

fn plan_collection(entry: &CollectionEntry, mapping: &Mapping, opts: &ImportOptions) -> Result<CollectionPlan> {
    let f = &mapping.dense;
    let mut reasons = Vec::new();
    let metric = match (opts.metric, f.metric) {
        (Some(m), src) => {
            reasons.push(format!("metric {m}: from --metric{}", src.map(|s| format!(" (the source had {s})")).unwrap_or_default()));
            m
        }
        (None, Some(Metric::L1)) => {
            return Err(Error::Usage(format!(
                "vector {} uses the L1 (Manhattan) metric in the source, which VelesDB does not have; choose one with --metric cosine|l2|dot",
                f.name
            )))
        }
        (None, Some(m)) => {
            reasons.push(format!("metric {m}: from the source index on {}", f.name));
            m
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "the metric of vector {} is unknown (the source has no index on it); choose one with --metric cosine|l2|dot",
                f.name
            )))
        }
    };
    let src_hnsw = f.index.as_ref().filter(|i| i.kind == "hnsw");
    let pick = |flag: Option<u32>, src: Option<u32>, what: &str, reasons: &mut Vec<String>| match (flag, src) {
        (Some(v), _) => {
            reasons.push(format!("{what}={v}: from the command line"));
            Some(v)
        }
        (None, Some(v)) => {
            reasons.push(format!("{what}={v}: carried over from the source HNSW index"));
            Some(v)
        }
        (None, None) => {
            reasons.push(format!("{what}: VelesDB default (the source has no HNSW index)"));
            None
        }
    };
    let hnsw_m = pick(opts.hnsw_m, src_hnsw.and_then(|i| i.m), "hnsw m", &mut reasons);
    let hnsw_ef = pick(opts.hnsw_ef_construction, src_hnsw.and_then(|i| i.ef_construction), "hnsw ef_construction", &mut reasons);
    let _ = entry;
    if crate::sink::embedded::storage_mode(&opts.storage_mode).is_none() {
        return Err(Error::Usage(format!("--storage-mode {}: use full, sq8, binary, pq or rabitq", opts.storage_mode)));
    }
    if opts.storage_mode != "full" {
        reasons.push(format!("storage mode {}: from --storage-mode", opts.storage_mode));
    }
    Ok(CollectionPlan {
        name: opts.collection.clone(),
        dimension: f.dimension as usize,
        metric,
        hnsw_m,
        hnsw_ef_construction: hnsw_ef,
        storage_mode: opts.storage_mode.clone(),
        reasons,
    })
}

/// Read only the id column of every chunk and refuse duplicates and
/// collisions of the id mapping. Needed only when some ids are hashed.
fn check_ids(dir: &Location, entry: &CollectionEntry) -> Result<()> {
    // 8 bytes per row: the point ids alone, sorted; equal neighbours are
    // then traced back to their source ids with a second read.
    let per_chunk: Vec<Vec<u64>> = entry
        .chunks
        .par_iter()
        .map(|k| {
            let ids = chunk::read_ids(dir, entry, k).map_err(|e| {
                // A damaged file: report what the hash says rather than a decoder error.
                dir.read_chunk_verified(&entry.name, k).err().unwrap_or(e)
            })?;
            Ok(ids.iter().map(point_id).collect())
        })
        .collect::<Result<_>>()?;
    let mut all: Vec<u64> = per_chunk.into_iter().flatten().collect();
    all.par_sort_unstable();
    let Some(pid) = all.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]) else {
        return Ok(());
    };
    drop(all);
    let mut hits: Vec<(&str, IdValue)> = Vec::new();
    for k in &entry.chunks {
        for id in chunk::read_ids(dir, entry, k)? {
            if point_id(&id) == pid && hits.len() < 2 {
                // Make sure the chunk is intact before blaming the data.
                dir.read_chunk_verified(&entry.name, k)?;
                hits.push((k.file.as_str(), id));
            }
        }
    }
    let [(fa, a), (fb, b)] = [hits[0].clone(), hits[1].clone()];
    let message = if a == b {
        format!("id {a} appears twice in the snapshot (chunks {fa} and {fb}); the source id column is not unique. Nothing was imported")
    } else {
        format!(
            "source ids {a} and {b} both map to VelesDB id {pid} (64-bit hash collision); nothing was imported. \
             Change one of the ids in the source, or filter one out"
        )
    };
    Err(Error::Data { collection: entry.name.clone(), message })
}

struct Decoded {
    entry: ChunkEntry,
    points: Vec<Point>,
    skipped: Vec<serde_json::Value>,
    hashed_ids: bool,
}

fn decode(dir: &Location, snap: &CollectionEntry, k: &ChunkEntry, mapping: &Mapping) -> Result<Decoded> {
    let bytes = dir.read_chunk_verified(&snap.name, k)?;
    let records = chunk::decode_chunk(&snap.schema, bytes)
        .map_err(|message| Error::Chunk { collection: snap.name.clone(), file: k.file.clone(), message })?;
    if records.len() as u64 != k.rows {
        return Err(Error::Chunk {
            collection: snap.name.clone(),
            file: k.file.clone(),
            message: format!("holds {} rows, the manifest says {}", records.len(), k.rows),
        });
    }
    let mut points = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    let mut hashed_ids = false;
    for r in records {
        hashed_ids |= is_hashed(&r.id);
        let id = r.id.to_json();
        match mapping.into_point(r, &k.file)? {
            Some(p) => points.push(p),
            None => skipped.push(id),
        }
    }
    Ok(Decoded { entry: k.clone(), points, skipped, hashed_ids })
}

/// What an import checks before it reads any chunk: the snapshot collection
/// (finished, or `--partial`), the mapping, the clash of payload field names,
/// and the settings of the VelesDB collection (`None` for an empty
/// collection whose dimension is unknown: nothing to import). Pure: no I/O.
fn prepare(manifest: &Manifest, opts: &ImportOptions) -> Result<(CollectionEntry, Mapping, Option<CollectionPlan>)> {
    let snap = select_collection(manifest, opts.mapping.from_collection.as_deref())?.clone();
    if !snap.complete && !opts.partial {
        return Err(Error::Usage(format!(
            "the export of collection {} in {} is not finished; finish it (re-run the export) or pass --partial to import the committed chunks",
            snap.name,
            opts.snapshot.display()
        )));
    }
    let mapping = Mapping::new(&snap, &opts.mapping)?;
    if mapping.dense.dimension == 0 && snap.totals.rows == 0 {
        return Ok((snap, mapping, None));
    }
    // Metadata fields that would clash with the payload fields we add.
    for f in &snap.schema.metadata {
        let clash = (f.name == mapping.document_field && snap.schema.document.is_some()).then_some("--document-field")
            .or((Some(&f.name) == mapping.original_id_field.as_ref()).then_some("--original-id-field"));
        if let Some(flag) = clash {
            return Err(Error::Usage(format!(
                "the snapshot has a metadata field {:?}, which the import also uses for its own payload field; choose another name with {flag}",
                f.name
            )));
        }
    }
    let plan = plan_collection(&snap, &mapping, opts)?;
    Ok((snap, mapping, Some(plan)))
}

/// Import the snapshot collections `targets` chose, each with `opts` (whose
/// `collection` and `mapping.from_collection` are set per target). With
/// several, every one is checked ([`prepare`]) before the first is written.
pub fn run_targets(opts: &ImportOptions, targets: &[(String, String)], out: &Output) -> Result<Vec<ImportSummary>> {
    let per: Vec<ImportOptions> = targets
        .iter()
        .map(|(snap, dest)| {
            let mut o = opts.clone();
            o.collection = dest.clone();
            o.mapping.from_collection = Some(snap.clone());
            o
        })
        .collect();
    if per.len() > 1 {
        let manifest = opts.snapshot.load_manifest()?;
        for o in &per {
            prepare(&manifest, o)?;
        }
    }
    per.into_iter().map(|o| run(o, out)).collect()
}

/// The VelesDB collection a snapshot collection goes to by default: its
/// name with `.` as `_` (VelesDB names allow letters, digits, `_`, `-`).
pub fn velesdb_name(snapshot_collection: &str) -> String {
    snapshot_collection.replace('.', "_")
}

pub fn run(opts: ImportOptions, out: &Output) -> Result<ImportSummary> {
    let started = Instant::now();
    let manifest = opts.snapshot.load_manifest()?;
    let (snap, mapping, plan) = prepare(&manifest, &opts)?;
    let Some(plan) = plan else {
        out.note(format!(
            "the snapshot collection {} is empty and its source did not say the vector dimension; nothing to import, no collection created",
            snap.name
        ));
        return Ok(ImportSummary::nothing(&opts, &snap.name));
    };
    for r in &plan.reasons {
        out.note(format!("settings: {r}"));
    }
    let other_dense: Vec<String> = snap.schema.dense().filter(|f| f.name != mapping.dense.name).map(|f| f.name.clone()).collect();
    for name in &other_dense {
        out.note(format!(
            "note: dense vector {name} is not part of this collection (VelesDB holds one dense vector per collection); \
             import it into its own collection with --vector {name} --collection <name>"
        ));
    }
    // Duplicates and hash collisions are refused before anything is
    // written. Reads only the id column of each chunk.
    check_ids(&opts.snapshot, &snap)?;

    let jpath = journal_path(&opts.snapshot, opts.journal_dir.as_deref(), &opts.to.key(), &plan.name, &snap.name);
    let mut journal: Journal = match std::fs::read(&jpath) {
        Ok(b) => match serde_json::from_slice::<Journal>(&b) {
            Ok(j) if j.version == JOURNAL_VERSION => j,
            _ => {
                out.note(format!("the import journal {} is unreadable; importing every chunk again (upserts are idempotent)", jpath.display()));
                Journal::default()
            }
        },
        Err(_) => Journal::default(),
    };
    if opts.dry_run {
        return dry_run(&opts, &snap, plan, &journal, other_dense, started, out);
    }
    // Embedded only: the payload log of the collection, guarded against torn tails.
    let coll_dir = match &opts.to {
        Destination::Embedded(dir) => Some(dir.join(&plan.name)),
        Destination::Rest(_) => None,
    };
    if let Some(dir) = &coll_dir {
        guard_payload_log(dir, journal.payload_log_checkpoint, out)?;
    }
    let (sink, created, preexisting) = open_sink(&opts.to, &plan, opts.batch_size)?;
    if created {
        journal = Journal::default();
    }
    let mut mapping_opts = serde_json::json!({
        "vector": mapping.dense.name,
        "original_id_field": mapping.original_id_field,
        "document_field": mapping.document_field,
        "skip_null_vectors": mapping.skip_null_vectors,
    });
    if !mapping.transforms.is_empty() {
        mapping_opts["transforms"] = serde_json::to_value(&mapping.transforms).expect("transforms serialize");
    }
    if !journal.done.is_empty() && journal.mapping != mapping_opts {
        return Err(Error::Usage(format!(
            "this collection was partly imported from this snapshot with other options ({}); resume with the same options, or import into another --collection",
            journal.mapping
        )));
    }
    journal.mapping = mapping_opts;
    journal.version = JOURNAL_VERSION;
    journal.destination = sink.dest().to_owned();
    journal.collection = plan.name.clone();
    journal.snapshot_collection = snap.name.clone();
    let done_rows: u64 = snap.chunks.iter().filter(|k| journal.done.contains(&k.blake3)).map(|k| k.rows).sum();
    if done_rows > 0 && preexisting == 0 {
        out.note("the import journal does not match the destination (was the collection emptied?); importing every chunk again");
        journal.done.clear();
    }
    let pending: Vec<ChunkEntry> = snap.chunks.iter().filter(|k| !journal.done.contains(&k.blake3)).cloned().collect();
    let skipped_chunks = snap.chunks.len() as u64 - pending.len() as u64;
    if skipped_chunks > 0 {
        out.note(format!("resuming: {skipped_chunks} chunk(s) already imported according to the journal"));
    }
    if let Some(parent) = jpath.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    }
    // Record where the payload log ends before this run writes anything.
    journal.payload_log_checkpoint = coll_dir.as_deref().map(payload_log_len);
    save_journal(&jpath, &journal)?;

    let total_rows: u64 = pending.iter().map(|k| k.rows).sum();
    let mut progress = Progress::new(out, "import", &plan.name, Some(total_rows));
    let parallelism = opts.parallelism.max(1);
    // One decoded chunk waits while the sink writes another: memory stays
    // at a few chunks whatever the snapshot size.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Decoded>>(1);
    let dir = opts.snapshot.clone();
    let snap2 = snap.clone();
    let producer = std::thread::spawn(move || {
        for window in pending.chunks(parallelism) {
            let decoded: Vec<Result<Decoded>> = window.par_iter().map(|k| decode(&dir, &snap2, k, &mapping)).collect();
            for d in decoded {
                let stop = d.is_err();
                if tx.send(d).is_err() || stop {
                    return;
                }
            }
        }
    });

    let mut upserted = 0u64;
    let mut imported_chunks = 0u64;
    let mut skipped_null = Vec::new();
    // Chunks upserted since the last flush (not yet durable, not journaled).
    let mut unflushed: Vec<String> = Vec::new();
    let (mut since_flush, mut flush_cost) = (Instant::now(), std::time::Duration::ZERO);
    let result: Result<()> = (|| {
        for d in rx {
            let d = d?;
            if preexisting > 0 && d.hashed_ids {
                check_existing(sink.as_ref(), &d, &mapping_field(&opts.mapping), &snap.name)?;
            }
            let t = Instant::now();
            sink.upsert(&d.points, &d.entry.file)?;
            unflushed.push(d.entry.blake3.clone());
            if since_flush.elapsed() >= flush_cost * FLUSH_RATIO {
                let f = Instant::now();
                sink.flush()?;
                journal.done.extend(unflushed.drain(..));
                journal.payload_log_checkpoint = coll_dir.as_deref().map(payload_log_len);
                save_journal(&jpath, &journal)?;
                flush_cost = f.elapsed();
                since_flush = Instant::now();
            }
            crate::metrics::observe(crate::metrics::IMPORT_CHUNK, t.elapsed());
            crate::metrics::add(crate::metrics::POINTS_IMPORTED, d.points.len() as u64);
            crate::metrics::add(crate::metrics::CHUNKS_IMPORTED, 1);
            upserted += d.points.len() as u64;
            skipped_null.extend(d.skipped);
            imported_chunks += 1;
            progress.inc(d.entry.rows);
        }
        Ok(())
    })();
    let _ = producer.join();
    progress.finish();
    result?;
    sink.finish()?;
    journal.done.extend(unflushed);
    journal.payload_log_checkpoint = coll_dir.as_deref().map(payload_log_len);
    save_journal(&jpath, &journal)?;
    let retries = sink.retries();
    if retries.get("connection").copied().unwrap_or(0) > 0 {
        out.note(
            "warning: the server was unreachable for a while during this import. If it was killed rather than stopped, \
             velesdb-core 8.0.0 can lose payloads written after its restart at its next restart (a torn payload log; \
             see formats/id-mapping.md): after the next restart, run `validate --strict` and re-import what it reports",
        );
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(ImportSummary {
        snapshot: opts.snapshot.display(),
        destination: sink.dest().to_owned(),
        collection: plan.name.clone(),
        created_collection: created,
        settings: plan,
        chunks_total: snap.chunks.len() as u64,
        chunks_skipped: skipped_chunks,
        chunks_imported: imported_chunks,
        points_upserted: upserted,
        skipped_null_vectors: skipped_null,
        collection_count: sink.count()?,
        dense_vectors_not_imported: other_dense,
        retries,
        dry_run: false,
        seconds: secs,
        points_per_second: if secs > 0.0 { upserted as f64 / secs } else { 0.0 },
        peak_rss_bytes: crate::util::peak_rss_bytes(),
        latency: crate::metrics::latencies(&[crate::metrics::IMPORT_CHUNK]),
    })
}

/// Open the destination collection for writing (created from `plan` when
/// missing). Returns the sink, whether it was created, and the points it held.
pub fn open_sink(to: &Destination, plan: &CollectionPlan, batch_size: usize) -> Result<(Box<dyn Sink>, bool, u64)> {
    Ok(match to {
        Destination::Embedded(dir) => {
            let (c, created, before) = Embedded::open(dir)?.into_collection(plan, batch_size)?;
            (Box::new(c), created, before)
        }
        Destination::Rest(o) => {
            let (c, created, before) = RestServer::connect(o.clone())?.into_collection(plan)?;
            (Box::new(c), created, before)
        }
    })
}

/// Open an existing destination collection for reading back.
pub fn open_existing(to: &Destination, name: &str) -> Result<Box<dyn Sink>> {
    Ok(match to {
        Destination::Embedded(dir) => Box::new(Embedded::open_existing_dir(dir)?.into_existing(name)?),
        Destination::Rest(o) => Box::new(RestServer::connect(o.clone())?.into_existing(name)?),
    })
}

/// `--dry-run`: check the snapshot, the ids and the destination, and say
/// what an import would do. Writes nothing anywhere.
fn dry_run(
    opts: &ImportOptions,
    snap: &CollectionEntry,
    plan: CollectionPlan,
    journal: &Journal,
    other_dense: Vec<String>,
    started: Instant,
    out: &Output,
) -> Result<ImportSummary> {
    // Every chunk is hash-checked (in parallel) so a damaged snapshot shows now.
    snap.chunks.par_iter().try_for_each(|k| opts.snapshot.read_chunk_verified(&snap.name, k).map(|_| ()))?;
    let existing = match &opts.to {
        Destination::Embedded(dir) if !dir.join(&plan.name).join("config.json").exists() => None,
        Destination::Embedded(dir) => Some(Embedded::open_existing_dir(dir)?.into_existing(&plan.name)?.count()?),
        Destination::Rest(o) => {
            let server = RestServer::connect(o.clone())?;
            server.check_compatible(&plan)?
        }
    };
    let done: u64 = snap.chunks.iter().filter(|k| journal.done.contains(&k.blake3)).count() as u64;
    match existing {
        Some(n) => out.note(format!("dry run: collection {} exists with {n} points; {} of {} chunks already imported", plan.name, done, snap.chunks.len())),
        None => out.note(format!("dry run: collection {} would be created (dimension {}, metric {})", plan.name, plan.dimension, plan.metric)),
    }
    Ok(ImportSummary {
        snapshot: opts.snapshot.display(),
        destination: match &opts.to {
            Destination::Embedded(d) => d.display().to_string(),
            Destination::Rest(o) => o.base.clone(),
        },
        collection: plan.name.clone(),
        created_collection: false,
        settings: plan,
        chunks_total: snap.chunks.len() as u64,
        chunks_skipped: done,
        chunks_imported: 0,
        points_upserted: 0,
        skipped_null_vectors: Vec::new(),
        collection_count: existing.unwrap_or(0),
        dense_vectors_not_imported: other_dense,
        retries: Default::default(),
        dry_run: true,
        seconds: started.elapsed().as_secs_f64(),
        points_per_second: 0.0,
        peak_rss_bytes: crate::util::peak_rss_bytes(),
        latency: crate::metrics::latencies(&[crate::metrics::IMPORT_CHUNK]),
    })
}

fn mapping_field(a: &MappingArgs) -> Option<String> {
    (!a.no_original_id).then(|| a.original_id_field.clone())
}

/// When importing into a collection that already held points, a hashed id
/// may land on a point that came from a different source id: refuse.
fn check_existing(sink: &dyn Sink, d: &Decoded, field: &Option<String>, snap: &str) -> Result<()> {
    let Some(field) = field else { return Ok(()) };
    let ids: Vec<u64> = d.points.iter().map(|p| p.id).collect();
    for (p, existing) in d.points.iter().zip(sink.get(&ids)?) {
        let Some(existing) = existing else { continue };
        let ours = p.payload.as_ref().and_then(|v| v.get(field));
        let theirs = existing.payload.as_ref().and_then(|v| v.get(field));
        if theirs.is_some() && ours != theirs {
            return Err(Error::Data {
                collection: snap.to_owned(),
                message: format!(
                    "chunk {}: source id {} maps to VelesDB id {}, which already holds a point from source id {}; \
                     nothing of this chunk was written. Import into a new --collection",
                    d.entry.file,
                    ours.map(|v| v.to_string()).unwrap_or_default(),
                    p.id,
                    theirs.map(|v| v.to_string()).unwrap_or_default()
                ),
            });
        }
    }
    Ok(())
}
