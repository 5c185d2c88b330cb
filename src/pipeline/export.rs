//! Export: source → bounded channel → chunk writer thread → manifest.
//!
//! The async side only waits on the source; encoding, hashing and file I/O
//! run on a dedicated thread. The channel holds at most `QUEUE` pages, so
//! memory stays at a few chunks whatever the source size.

use crate::error::{Error, IoContext, Result};
use crate::metrics;
use crate::model::{CollectionSchema, Cursor};
use crate::progress::{Output, Progress};
use crate::snapshot::manifest::{chunk_file, valid_collection_name};
use crate::snapshot::{fsutil, prepare_chunk, store_chunk, ChunkEntry, CollectionEntry, Manifest, SourceInfo, Totals};
use crate::sources::{Description, Page, Skipped, Source};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Pages buffered between the source and the writer.
const QUEUE: usize = 2;
/// Chunks encoded at once (on rayon) while the writer commits them in order.
const ENCODING: usize = 2;

#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub out: PathBuf,
    /// Rows per chunk; `None` = sized from the vector width (about 16 MiB of vectors).
    pub chunk_rows: Option<usize>,
    /// Mirrors every commit of `out` elsewhere (an object store); `out` is then a staging directory.
    pub publish: Option<Arc<dyn Publish>>,
}

/// Receives every commit of the local snapshot: once at the start (the
/// manifest as this run begins), after each committed chunk (with its
/// entry), and after each manifest update that commits no chunk.
pub trait Publish: Send + Sync + std::fmt::Debug {
    /// # Errors
    /// The export stops with the error; what was published stays committed.
    fn committed(&self, dir: &Path, chunk: Option<&ChunkEntry>) -> Result<()>;
    /// How summaries and notes name the published snapshot.
    fn target(&self) -> String;
}

fn publish(p: &Option<Arc<dyn Publish>>, dir: &Path, chunk: Option<&ChunkEntry>) -> Result<()> {
    p.as_ref().map_or(Ok(()), |p| p.committed(dir, chunk))
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportSummary {
    pub snapshot: String,
    pub collection: String,
    pub source: String,
    /// True when the snapshot was already complete and nothing was read.
    pub already_complete: bool,
    /// Chunks that were already committed before this run (resume).
    pub resumed_chunks: u64,
    pub chunks: u64,
    pub rows: u64,
    pub bytes: u64,
    pub rows_this_run: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub peak_rss_bytes: Option<u64>,
    /// Source requests retried in this run, by cause (all collections).
    pub retries: BTreeMap<String, u64>,
    /// Records the source listed but could not read any more (deleted meanwhile; all collections).
    pub missing: u64,
    /// Per-batch latency (HDR histogram): reading a page from the source,
    /// writing and committing a chunk.
    pub latency: BTreeMap<String, metrics::Latency>,
    /// One entry per collection, in export order.
    pub collections: Vec<CollectionSummary>,
    /// `--all`: collections of the source that were left out, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CollectionSummary {
    pub collection: String,
    pub source_name: String,
    pub already_complete: bool,
    pub resumed_chunks: u64,
    pub chunks: u64,
    pub rows: u64,
    pub bytes: u64,
    pub rows_this_run: u64,
    pub seconds: f64,
    /// Source requests retried in this run, by cause.
    pub retries: BTreeMap<String, u64>,
    /// Records the source listed but could not read any more (deleted meanwhile).
    pub missing: u64,
    /// What the source says about this run (retries, throttling, vanished records).
    pub notes: Vec<String>,
}

/// Chunk size from the vector width: about 16 MiB of raw vector data,
/// rounded to a thousand rows, between 1 000 and 100 000.
pub fn auto_chunk_rows(schema: &CollectionSchema) -> usize {
    let width: u64 = schema
        .dense()
        .map(|v| u64::from(v.dimension) * if v.element == crate::model::ElementType::F16 { 2 } else { 4 })
        .sum::<u64>()
        .max(64);
    let rows = (16u64 << 20) / width;
    ((rows / 1000) * 1000).clamp(1000, 100_000) as usize
}

/// Export one collection.
pub async fn run<S: Source>(source: S, opts: ExportOptions, out: &Output) -> Result<ExportSummary> {
    run_many(vec![source], opts, out).await
}

/// `--all`: export `sources` (what discovery found exportable) into one
/// snapshot. The collections in `skipped` are named in warnings and in the
/// summary, or, with `strict`, make the export stop before it writes anything.
pub async fn run_all<S: Source>(sources: Vec<S>, skipped: Vec<Skipped>, strict: bool, opts: ExportOptions, out: &Output) -> Result<ExportSummary> {
    let list = || skipped.iter().map(|s| format!("  {} ({}): {}", s.collection, s.source_name, s.problem)).collect::<Vec<_>>().join("\n");
    if strict && !skipped.is_empty() {
        return Err(Error::Usage(format!(
            "--strict: {} collection(s) of the source cannot be exported, so nothing was exported:\n{}\nfix them, or drop --strict to leave them out",
            skipped.len(),
            list()
        )));
    }
    if sources.is_empty() {
        let why = if skipped.is_empty() { String::new() } else { format!(":\n{}", list()) };
        return Err(Error::Usage(format!("nothing to export: the source has no collection that can be exported{why}")));
    }
    for s in &skipped {
        out.note(format!("warning: {} ({}) is left out: {}", s.collection, s.source_name, s.problem));
    }
    let mut summary = run_many(sources, opts, out).await?;
    summary.skipped = skipped;
    Ok(summary)
}

/// Export several collections of one source into one snapshot, one after
/// the other (each `Source` is one collection; their names must differ).
/// Every collection is described first, so the manifest lists them all from
/// the first commit; a resume skips the complete ones and continues the
/// first incomplete one from its cursor.
pub async fn run_many<S: Source>(mut sources: Vec<S>, opts: ExportOptions, out: &Output) -> Result<ExportSummary> {
    let started = Instant::now();
    if sources.is_empty() {
        return Err(Error::Usage("nothing to export: the source has no collection to read".into()));
    }
    if opts.chunk_rows == Some(0) {
        return Err(Error::Usage("--chunk-rows must be at least 1".into()));
    }
    let mut descs = Vec::with_capacity(sources.len());
    for s in sources.iter_mut() {
        let desc = s.describe().await?;
        for n in &desc.notes {
            out.note(format!("note: {n}"));
        }
        if !valid_collection_name(&desc.name) {
            return Err(Error::Usage(format!("collection name {:?} cannot be used as a directory name", desc.name)));
        }
        if descs.iter().any(|d: &Description| d.name == desc.name) {
            return Err(Error::Usage(format!(
                "two collections of the source would both be called {:?} in the snapshot; export them separately",
                desc.name
            )));
        }
        descs.push(desc);
    }
    let rows_for = |d: &Description| opts.chunk_rows.unwrap_or_else(|| auto_chunk_rows(&d.schema));
    // The single-collection form is what every snapshot so far recorded.
    let options = if sources.len() == 1 {
        serde_json::json!({ "source": sources[0].options(), "chunk_rows": rows_for(&descs[0]) })
    } else {
        let each: Vec<serde_json::Value> = sources.iter().map(|s| s.options()).collect();
        serde_json::json!({ "sources": each, "chunk_rows": opts.chunk_rows })
    };
    let (kind, address) = (sources[0].kind(), sources[0].address());
    let dir = opts.out.clone();
    let manifest_path = Manifest::path(&dir);

    let mut manifest = if manifest_path.exists() {
        let m = Manifest::load(&dir)?;
        if m.source.kind != kind || m.source.address != address || m.source.options != options {
            return Err(Error::Manifest {
                path: manifest_path,
                message: format!(
                    "this directory holds an export made with different options ({} at {}, {}); \
                     re-run with exactly the same arguments to resume it, or choose another --out",
                    m.source.kind, m.source.address, m.source.options
                ),
            });
        }
        for desc in &descs {
            check_resumable(&m, &manifest_path, desc)?;
        }
        m
    } else {
        // A run killed while writing its very first manifest leaves only
        // manifest.json.tmp: that directory is ours to start again.
        let leftover = fsutil::tmp_path(&manifest_path);
        if leftover.exists() {
            std::fs::remove_file(&leftover).ctx(|| format!("removing leftover {}", leftover.display()))?;
        }
        // The journal directory may hold this run's own record (`resume`).
        let mut entries = std::fs::read_dir(&dir).into_iter().flatten().flatten();
        if dir.exists() && entries.any(|e| e.file_name() != crate::snapshot::JOURNAL_DIR) {
            return Err(Error::Usage(format!(
                "{} is not empty and holds no snapshot; choose a new or empty directory for --out",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let mut m = Manifest::new(SourceInfo { kind: kind.into(), address: address.clone(), options });
        for desc in &descs {
            m.collections.push(CollectionEntry {
                name: desc.name.clone(),
                source_name: desc.source_name.clone(),
                schema: desc.schema.clone(),
                filter: desc.filter.clone(),
                chunk_rows: rows_for(desc) as u64,
                source_count: desc.count_estimate.filter(|_| !desc.count_is_statistic),
                chunks: Vec::new(),
                totals: Totals::default(),
                complete: false,
            });
        }
        m.save(&dir)?;
        m
    };
    publish(&opts.publish, &dir, None)?;
    let shown = opts.publish.as_ref().map_or_else(|| dir.display().to_string(), |p| p.target());

    let mut done = Vec::with_capacity(sources.len());
    for (source, desc) in sources.iter_mut().zip(&descs) {
        let ci = manifest.collections.iter().position(|c| c.name == desc.name).expect("collection present");
        let resumed_chunks = manifest.collections[ci].chunks.len() as u64;
        let before = Instant::now();
        if manifest.collections[ci].complete {
            if descs.len() == 1 {
                out.note(format!("{shown}: the snapshot is already complete; nothing to do"));
            }
            done.push(collection_summary(&manifest, ci, true, resumed_chunks, 0, before));
            continue;
        }
        let (m, rows) = export_collection(source, desc, manifest, ci, &dir, &opts.publish, out).await?;
        manifest = m;
        let report = source.report();
        for n in &report.notes {
            out.note(format!("note: {n}"));
        }
        let mut c = collection_summary(&manifest, ci, false, resumed_chunks, rows, before);
        (c.retries, c.missing, c.notes) = (report.retries, report.missing, report.notes);
        done.push(c);
    }
    if !manifest.complete {
        manifest.complete = manifest.collections.iter().all(|c| c.complete);
        manifest.save(&dir)?;
        publish(&opts.publish, &dir, None)?;
    }
    let mut s = summary(&manifest, &dir, address, done, started);
    s.snapshot = shown;
    Ok(s)
}

/// A resumed export must find the collection as the first run described it.
fn check_resumable(m: &Manifest, manifest_path: &Path, desc: &Description) -> Result<()> {
    let c = m.collection(&desc.name).ok_or_else(|| Error::Manifest {
        path: manifest_path.to_path_buf(),
        message: format!("holds no collection {}; choose another --out", desc.name),
    })?;
    if desc.count_exact && c.source_count != desc.count_estimate {
        return Err(Error::Manifest {
            path: manifest_path.to_path_buf(),
            message: format!(
                "the collection {} changed since this export started ({} records then, {} now); it is read by offset, \
                 so resuming would skip or duplicate records: export into a new directory",
                desc.name,
                c.source_count.map_or("?".into(), |n| n.to_string()),
                desc.count_estimate.map_or("?".into(), |n| n.to_string())
            ),
        });
    }
    if c.schema != desc.schema {
        return Err(Error::Manifest {
            path: manifest_path.to_path_buf(),
            message: format!(
                "the schema of {} changed since this export started (columns, types or indexes); \
                 export into a new directory",
                desc.name
            ),
        });
    }
    Ok(())
}

/// Read one collection to its end, committing a chunk per page; returns
/// the manifest (with the collection complete) and the rows read this run.
async fn export_collection<S: Source>(
    source: &mut S,
    desc: &Description,
    mut manifest: Manifest,
    ci: usize,
    dir: &Path,
    publisher: &Option<Arc<dyn Publish>>,
    out: &Output,
) -> Result<(Manifest, u64)> {
    let resumed_chunks = manifest.collections[ci].chunks.len() as u64;
    remove_unlisted(dir, &manifest.collections[ci])?;
    if resumed_chunks > 0 {
        out.note(format!(
            "{}: resuming after chunk {} ({} rows already exported)",
            desc.name,
            resumed_chunks - 1,
            manifest.collections[ci].totals.rows
        ));
    }
    let chunk_rows = manifest.collections[ci].chunk_rows as usize;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Page>(QUEUE);
    let mut cursor = manifest.collections[ci].resume_cursor();
    let wdir = dir.to_path_buf();
    let name = desc.name.clone();
    let schema = desc.schema.clone();
    let wpub = publisher.clone();
    let mut progress = Progress::new(out, "export", &name, desc.count_estimate);
    progress.inc(manifest.collections[ci].totals.rows);
    let writer = std::thread::spawn(move || -> Result<(Manifest, u64)> {
        // Pages are encoded and hashed on rayon, up to ENCODING at once, and
        // committed strictly in order as each one is ready.
        futures::executor::block_on(async move {
            let mut rows = 0u64;
            let mut pending: std::collections::VecDeque<(Cursor, tokio::sync::oneshot::Receiver<Result<crate::snapshot::EncodedChunk>>, Instant)> =
                std::collections::VecDeque::new();
            let mut next_seq = manifest.collections[ci].chunks.len() as u64;
            let mut open = true;
            let result: Result<()> = async {
                while open || !pending.is_empty() {
                    let done = tokio::select! {
                        biased;
                        enc = async { (&mut pending.front_mut().expect("pending").1).await }, if !pending.is_empty() => enc,
                        page = rx.recv(), if open && pending.len() < ENCODING => {
                            let Some(page) = page else {
                                open = false;
                                continue;
                            };
                            let (tx, done) = tokio::sync::oneshot::channel();
                            let (name, schema, seq, dir) = (name.clone(), schema.clone(), next_seq, wdir.clone());
                            next_seq += 1;
                            // No next cursor: the source said it is exhausted, so a resume reads nothing more.
                            let cursor = page.next.clone().unwrap_or(Cursor::End);
                            rayon::spawn(move || {
                                let _ = tx.send(prepare_chunk(&dir, &name, &schema, seq, &page.records));
                            });
                            pending.push_back((cursor, done, Instant::now()));
                            continue;
                        }
                    };
                    let (cursor, _, t) = pending.pop_front().expect("pending");
                    let entry = store_chunk(&wdir, done.expect("chunk encoder")?, cursor)?;
                    rows += entry.rows;
                    progress.inc(entry.rows);
                    let (n, bytes) = (entry.rows, entry.bytes);
                    manifest.collections[ci].push_chunk(entry);
                    // Commit point: from here on the chunk exists.
                    manifest.save(&wdir)?;
                    publish(&wpub, &wdir, manifest.collections[ci].chunks.last())?;
                    metrics::observe(metrics::CHUNK_WRITE, t.elapsed());
                    metrics::add(metrics::ROWS_EXPORTED, n);
                    metrics::add(metrics::BYTES_EXPORTED, bytes);
                    metrics::add(metrics::CHUNKS_EXPORTED, 1);
                }
                Ok(())
            }
            .await;
            if result.is_err() {
                // Chunks still being encoded write their temporary files:
                // let them finish, so none is written after this returns
                // (a resume in the same process removes leftovers first).
                for (_, done, _) in pending.drain(..) {
                    let _ = done.await;
                }
            }
            result?;
            progress.finish();
            Ok((manifest, rows))
        })
    });

    let mut read_result: Result<()> = Ok(());
    if cursor != Cursor::End {
        loop {
            let t = Instant::now();
            let page = match source.next_page(&cursor, chunk_rows).await {
                Ok(p) => {
                    metrics::observe(metrics::SOURCE_PAGE, t.elapsed());
                    p
                }
                Err(e) => {
                    read_result = Err(e);
                    break;
                }
            };
            let next = page.next.clone();
            if page.records.is_empty() {
                break;
            }
            if tx.send(page).await.is_err() {
                break; // the writer failed; its error is reported below
            }
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
    }
    drop(tx);
    let (mut manifest, rows) = writer.join().expect("writer thread panicked")?;
    read_result?;
    manifest.collections[ci].complete = true;
    manifest.complete = manifest.collections.iter().all(|c| c.complete);
    manifest.save(dir)?;
    publish(publisher, dir, None)?;
    Ok((manifest, rows))
}

fn collection_summary(m: &Manifest, ci: usize, already: bool, resumed: u64, rows: u64, started: Instant) -> CollectionSummary {
    let c = &m.collections[ci];
    let secs = started.elapsed().as_secs_f64();
    CollectionSummary {
        collection: c.name.clone(),
        source_name: c.source_name.clone(),
        already_complete: already,
        resumed_chunks: resumed,
        chunks: c.totals.chunks,
        rows: c.totals.rows,
        bytes: c.totals.bytes,
        rows_this_run: rows,
        seconds: secs,
        retries: BTreeMap::new(),
        missing: 0,
        notes: Vec::new(),
    }
}

fn summary(m: &Manifest, dir: &Path, address: String, collections: Vec<CollectionSummary>, started: Instant) -> ExportSummary {
    let secs = started.elapsed().as_secs_f64();
    let rows_this_run: u64 = collections.iter().map(|c| c.rows_this_run).sum();
    let names: Vec<&str> = collections.iter().map(|c| c.source_name.as_str()).collect();
    ExportSummary {
        snapshot: dir.display().to_string(),
        collection: collections.iter().map(|c| c.collection.as_str()).collect::<Vec<_>>().join(","),
        source: format!("{} {} ({address})", m.source.kind, names.join(", ")),
        already_complete: collections.iter().all(|c| c.already_complete),
        resumed_chunks: collections.iter().map(|c| c.resumed_chunks).sum(),
        chunks: collections.iter().map(|c| c.chunks).sum(),
        rows: collections.iter().map(|c| c.rows).sum(),
        bytes: collections.iter().map(|c| c.bytes).sum(),
        rows_this_run,
        seconds: secs,
        rows_per_second: if secs > 0.0 { rows_this_run as f64 / secs } else { 0.0 },
        peak_rss_bytes: crate::util::peak_rss_bytes(),
        retries: collections.iter().flat_map(|c| &c.retries).fold(BTreeMap::new(), |mut all, (k, n)| {
            *all.entry(k.clone()).or_default() += n;
            all
        }),
        missing: collections.iter().map(|c| c.missing).sum(),
        latency: metrics::latencies(&[metrics::SOURCE_PAGE, metrics::CHUNK_WRITE]),
        collections,
        skipped: Vec::new(),
    }
}

/// Delete chunk files (and temp files) that the manifest does not list:
/// leftovers of an interrupted run.
fn remove_unlisted(dir: &Path, c: &CollectionEntry) -> Result<()> {
    let cdir = dir.join("chunks").join(&c.name);
    if !cdir.is_dir() {
        return Ok(());
    }
    let listed: BTreeSet<String> = (0..c.chunks.len() as u64).map(|s| chunk_file(&c.name, s)).collect();
    for e in std::fs::read_dir(&cdir).ctx(|| format!("reading {}", cdir.display()))?.flatten() {
        let rel = format!("chunks/{}/{}", c.name, e.file_name().to_string_lossy());
        if !listed.contains(&rel) {
            std::fs::remove_file(e.path()).ctx(|| format!("removing leftover {}", e.path().display()))?;
        }
    }
    let _ = fsutil::sync_dir(&cdir);
    Ok(())
}

/// What `export --dry-run` found: nothing is written anywhere.
#[derive(Clone, Debug, Serialize)]
pub struct DryRunReport {
    pub dry_run: bool,
    pub source: String,
    pub collections: Vec<DryRunCollection>,
    /// Sum of the estimates (when every collection has one).
    pub estimated_snapshot_bytes: Option<u64>,
    pub estimated_seconds: Option<f64>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DryRunCollection {
    pub collection: String,
    pub source_name: String,
    pub schema: CollectionSchema,
    pub filter: Option<String>,
    /// The source's count (exact or estimated, as the source reports it).
    pub rows: Option<u64>,
    pub chunk_rows: usize,
    /// The sample: the first page, read, encoded and compressed like a chunk, in memory.
    pub sample_rows: usize,
    pub sample_seconds: f64,
    pub bytes_per_row: Option<f64>,
    pub estimated_snapshot_bytes: Option<u64>,
    /// From the sample's read + encode rate; a first page is usually slower
    /// than the average (connection set-up, cold caches), so this errs long.
    pub estimated_seconds: Option<f64>,
    pub notes: Vec<String>,
}

/// Connect, describe every collection and time a sample page (read and
/// encoded in memory) to estimate the snapshot's size and the export's
/// duration. Writes nothing.
pub async fn dry_run<S: Source>(mut sources: Vec<S>, chunk_rows: Option<usize>, sample_rows: usize) -> Result<DryRunReport> {
    let started = Instant::now();
    let mut collections = Vec::new();
    let mut source = String::new();
    for s in sources.iter_mut() {
        let desc = s.describe().await?;
        source = format!("{} ({})", s.kind(), s.address());
        let chunk_rows = chunk_rows.unwrap_or_else(|| auto_chunk_rows(&desc.schema));
        let t = Instant::now();
        let page = s.next_page(&Cursor::Start, sample_rows.clamp(1, chunk_rows)).await?;
        let n = page.records.len();
        // Encode the whole sample and its first half: the difference is the
        // cost of a row, the rest the fixed cost of a chunk (footer, schema).
        let encode = |records: &[crate::model::Record]| {
            crate::snapshot::encode_chunk(&desc.schema, records)
                .map(|b| b.len() as f64)
                .map_err(|m| Error::Data { collection: desc.name.clone(), message: format!("the sample cannot be encoded: {m}") })
        };
        let (bytes_per_row, per_chunk) = if n >= 2 {
            let (whole, half) = (encode(&page.records)?, encode(&page.records[..n / 2])?);
            let per_row = ((whole - half) / (n - n / 2) as f64).max(0.0);
            (Some(per_row), (whole - per_row * n as f64).max(0.0))
        } else if n == 1 {
            (Some(encode(&page.records)?), 0.0)
        } else {
            (None, 0.0)
        };
        let secs = t.elapsed().as_secs_f64();
        let rows = desc.count_estimate;
        let chunks = rows.map(|r| r.div_ceil(chunk_rows as u64));
        collections.push(DryRunCollection {
            collection: desc.name,
            source_name: desc.source_name,
            schema: desc.schema,
            filter: desc.filter,
            rows,
            chunk_rows,
            sample_rows: n,
            sample_seconds: secs,
            bytes_per_row,
            estimated_snapshot_bytes: match (rows, bytes_per_row) {
                (Some(0), _) => Some(0),
                (Some(r), Some(b)) => Some((r as f64 * b + chunks.unwrap_or(1) as f64 * per_chunk) as u64),
                _ => None,
            },
            estimated_seconds: match rows {
                Some(0) => Some(0.0),
                Some(r) if n > 0 => Some(r as f64 * secs / n as f64),
                _ => None,
            },
            notes: desc.notes,
        });
    }
    let sum_u = |f: fn(&DryRunCollection) -> Option<u64>| collections.iter().map(f).sum::<Option<u64>>();
    let sum_f = |f: fn(&DryRunCollection) -> Option<f64>| collections.iter().map(f).sum::<Option<f64>>();
    Ok(DryRunReport {
        dry_run: true,
        source,
        estimated_snapshot_bytes: sum_u(|c| c.estimated_snapshot_bytes),
        estimated_seconds: sum_f(|c| c.estimated_seconds),
        collections,
        seconds: started.elapsed().as_secs_f64(),
    })
}
