//! Export: source → bounded channel → chunk writer thread → manifest.
//!
//! The async side only waits on the source; encoding, hashing and file I/O
//! run on a dedicated thread. The channel holds at most `QUEUE` pages, so
//! memory stays at a few chunks whatever the source size.

use crate::error::{Error, IoContext, Result};
use crate::model::{CollectionSchema, Cursor};
use crate::progress::{Output, Progress};
use crate::snapshot::manifest::{chunk_file, valid_collection_name};
use crate::snapshot::{fsutil, write_chunk, CollectionEntry, Manifest, SourceInfo, Totals};
use crate::sources::{Page, Source};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Pages buffered between the source and the writer.
const QUEUE: usize = 2;

#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub out: PathBuf,
    /// Rows per chunk; `None` = sized from the vector width (about 16 MiB of vectors).
    pub chunk_rows: Option<usize>,
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
    /// Source requests retried in this run, by cause.
    pub retries: std::collections::BTreeMap<String, u64>,
    /// Records the source listed but could not read any more (deleted meanwhile).
    pub missing: u64,
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

pub async fn run<S: Source>(mut source: S, opts: ExportOptions, out: &Output) -> Result<ExportSummary> {
    let started = Instant::now();
    let desc = source.describe().await?;
    for n in &desc.notes {
        out.note(format!("note: {n}"));
    }
    if !valid_collection_name(&desc.name) {
        return Err(Error::Usage(format!("collection name {:?} cannot be used as a directory name", desc.name)));
    }
    let chunk_rows = opts.chunk_rows.unwrap_or_else(|| auto_chunk_rows(&desc.schema));
    if chunk_rows == 0 {
        return Err(Error::Usage("--chunk-rows must be at least 1".into()));
    }
    let options = serde_json::json!({ "source": source.options(), "chunk_rows": chunk_rows });
    let dir = opts.out.clone();
    let manifest_path = Manifest::path(&dir);

    let mut manifest = if manifest_path.exists() {
        let m = Manifest::load(&dir)?;
        if m.source.kind != source.kind() || m.source.address != source.address() || m.source.options != options {
            return Err(Error::Manifest {
                path: manifest_path,
                message: format!(
                    "this directory holds an export made with different options ({} at {}, {}); \
                     re-run with exactly the same arguments to resume it, or choose another --out",
                    m.source.kind, m.source.address, m.source.options
                ),
            });
        }
        let c = m.collection(&desc.name).ok_or_else(|| Error::Manifest {
            path: manifest_path.clone(),
            message: format!("holds no collection {}; choose another --out", desc.name),
        })?;
        if desc.count_exact && c.source_count != desc.count_estimate {
            return Err(Error::Manifest {
                path: manifest_path.clone(),
                message: format!(
                    "the collection changed since this export started ({} records then, {} now); it is read by offset, \
                     so resuming would skip or duplicate records: export into a new directory",
                    c.source_count.map_or("?".into(), |n| n.to_string()),
                    desc.count_estimate.map_or("?".into(), |n| n.to_string())
                ),
            });
        }
        if c.schema != desc.schema {
            return Err(Error::Manifest {
                path: manifest_path.clone(),
                message: "the source's schema changed since this export started (columns, types or indexes); \
                          export into a new directory"
                    .into(),
            });
        }
        m
    } else {
        // A run killed while writing its very first manifest leaves only
        // manifest.json.tmp: that directory is ours to start again.
        let leftover = fsutil::tmp_path(&manifest_path);
        if leftover.exists() {
            std::fs::remove_file(&leftover).ctx(|| format!("removing leftover {}", leftover.display()))?;
        }
        if dir.exists() && std::fs::read_dir(&dir).ctx(|| format!("reading {}", dir.display()))?.next().is_some() {
            return Err(Error::Usage(format!(
                "{} is not empty and holds no snapshot; choose a new or empty directory for --out",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let mut m = Manifest::new(SourceInfo { kind: source.kind().into(), address: source.address(), options });
        m.collections.push(CollectionEntry {
            name: desc.name.clone(),
            source_name: desc.source_name.clone(),
            schema: desc.schema.clone(),
            filter: desc.filter.clone(),
            chunk_rows: chunk_rows as u64,
            source_count: desc.count_estimate,
            chunks: Vec::new(),
            totals: Totals::default(),
            complete: false,
        });
        m.save(&dir)?;
        m
    };

    let ci = manifest.collections.iter().position(|c| c.name == desc.name).expect("collection present");
    let resumed_chunks = manifest.collections[ci].chunks.len() as u64;
    if manifest.collections[ci].complete {
        out.note(format!("{}: the snapshot is already complete; nothing to do", dir.display()));
        return Ok(summary(&manifest, ci, &dir, source.address(), true, resumed_chunks, 0, started));
    }
    remove_unlisted(&dir, &manifest.collections[ci])?;
    if resumed_chunks > 0 {
        out.note(format!("resuming after chunk {} ({} rows already exported)", resumed_chunks - 1, manifest.collections[ci].totals.rows));
    }

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Page>(QUEUE);
    let mut cursor = manifest.collections[ci].resume_cursor();
    let wdir = dir.clone();
    let name = desc.name.clone();
    let schema = desc.schema.clone();
    let mut progress = Progress::new(out, &format!("export {name}"), desc.count_estimate);
    progress.inc(manifest.collections[ci].totals.rows);
    let writer = std::thread::spawn(move || -> Result<(Manifest, u64)> {
        let mut rows = 0u64;
        while let Some(page) = rx.blocking_recv() {
            let seq = manifest.collections[ci].chunks.len() as u64;
            let last = page.records.last().expect("pages sent are never empty");
            let cursor = page.next.clone().unwrap_or(Cursor::AfterKey { key: last.id.to_json() });
            let entry = write_chunk(&wdir, &name, &schema, seq, &page.records, cursor)?;
            rows += entry.rows;
            progress.inc(entry.rows);
            manifest.collections[ci].push_chunk(entry);
            // Commit point: from here on the chunk exists.
            manifest.save(&wdir)?;
        }
        progress.finish();
        Ok((manifest, rows))
    });

    let mut read_result: Result<()> = Ok(());
    if cursor != Cursor::End {
        loop {
            let page = match source.next_page(&cursor, chunk_rows).await {
                Ok(p) => p,
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
    manifest.save(&dir)?;
    let report = source.report();
    for n in &report.notes {
        out.note(format!("note: {n}"));
    }
    let mut s = summary(&manifest, ci, &dir, source.address(), false, resumed_chunks, rows, started);
    (s.retries, s.missing) = (report.retries, report.missing);
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
fn summary(m: &Manifest, ci: usize, dir: &Path, address: String, already: bool, resumed: u64, rows: u64, started: Instant) -> ExportSummary {
    let c = &m.collections[ci];
    let secs = started.elapsed().as_secs_f64();
    ExportSummary {
        snapshot: dir.display().to_string(),
        collection: c.name.clone(),
        source: format!("{} {} ({address})", m.source.kind, c.source_name),
        already_complete: already,
        resumed_chunks: resumed,
        chunks: c.totals.chunks,
        rows: c.totals.rows,
        bytes: c.totals.bytes,
        rows_this_run: rows,
        seconds: secs,
        rows_per_second: if secs > 0.0 { rows as f64 / secs } else { 0.0 },
        peak_rss_bytes: crate::util::peak_rss_bytes(),
        retries: Default::default(),
        missing: 0,
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
