//! migrate: export into a staging snapshot and import it, in one command.
//!
//! The export runs as usual (source → bounded channel → chunk writer →
//! manifest). An importer thread watches the staging manifest and imports
//! the committed chunks while the export goes on (`import --partial`
//! rounds, each resumable through the import journal), then imports the
//! rest once the export has finished. Re-running the same command resumes
//! both phases from what the staging snapshot and its journal recorded. On
//! success the staging snapshot is removed unless it is to be kept.

use super::export::{self, ExportOptions, ExportSummary};
use super::import::{self, ImportOptions, ImportSummary};
use crate::error::{Error, IoContext, Result};
use crate::progress::Output;
use crate::snapshot::Manifest;
use crate::sources::Source;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// New chunks an import round waits for while the export goes on (the
/// last round takes whatever is left).
const ROUND_CHUNKS: usize = 4;

pub struct MigrateOptions {
    pub export: ExportOptions,
    /// Template for every import round (snapshot = the staging directory).
    pub import: ImportOptions,
    /// Destination collection names: `None` = the snapshot collection's name.
    pub dest_collection: Option<String>,
    /// Keep the staging snapshot after success.
    pub keep_snapshot: bool,
    /// `--all`: collections left out, and whether that is refused (`--strict`).
    pub skipped: Vec<crate::sources::Skipped>,
    pub strict: bool,
}

#[derive(Debug, Serialize)]
pub struct MigrateSummary {
    pub snapshot: String,
    pub snapshot_kept: bool,
    pub export: ExportSummary,
    /// The last import round of each collection (its counts are for the
    /// whole collection: `collection_count`, `chunks_total`).
    pub imports: Vec<ImportSummary>,
    /// Import rounds run while the export was still going on.
    pub rounds_during_export: u32,
    pub points_upserted: u64,
    pub seconds: f64,
    pub peak_rss_bytes: Option<u64>,
}

pub fn run<S: Source + 'static>(rt: &tokio::runtime::Runtime, sources: Vec<S>, opts: MigrateOptions, out: &Output) -> Result<MigrateSummary> {
    let started = Instant::now();
    if sources.len() > 1 && opts.dest_collection.is_some() {
        return Err(Error::Usage(
            "this source exports several collections; --to-collection names one destination, so leave it out \
             (each goes into a VelesDB collection of its own name)"
                .into(),
        ));
    }
    let staging = opts.export.out.clone();
    let export_done = Arc::new(AtomicBool::new(false));
    let export_failed = Arc::new(AtomicBool::new(false));
    let (fail_tx, mut fail_rx) = tokio::sync::oneshot::channel::<()>();
    let importer = {
        let (done, failed) = (export_done.clone(), export_failed.clone());
        let (template, dest) = (opts.import.clone(), opts.dest_collection.clone());
        let dir = staging.clone();
        let out = out.clone();
        std::thread::spawn(move || {
            let r = import_rounds(&dir, &template, dest.as_deref(), &done, &failed, &out);
            if r.is_err() {
                let _ = fail_tx.send(());
            }
            r
        })
    };
    let exported = rt.block_on(async {
        tokio::select! {
            r = export::run_all(sources, opts.skipped, opts.strict, opts.export, out) => r,
            Ok(()) = &mut fail_rx => Err(Error::Usage("stopped: the import failed (its error follows)".into())),
        }
    });
    match &exported {
        Ok(_) => export_done.store(true, Ordering::SeqCst),
        Err(_) => export_failed.store(true, Ordering::SeqCst),
    }
    let imported = importer.join().expect("importer thread panicked");
    // An import error explains an export stopped on its account.
    let (imports, rounds) = imported?;
    let export = exported?;
    let keep = opts.keep_snapshot;
    if !keep {
        std::fs::remove_dir_all(&staging).ctx(|| format!("removing the staging snapshot {}", staging.display()))?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(MigrateSummary {
        snapshot: staging.display().to_string(),
        snapshot_kept: keep,
        points_upserted: imports.iter().map(|i| i.points_upserted).sum(),
        export,
        imports,
        rounds_during_export: rounds,
        seconds: secs,
        peak_rss_bytes: crate::util::peak_rss_bytes(),
    })
}

/// Import rounds until the export is done and every collection is
/// imported; returns the final round of each collection and how many rounds
/// ran during the export.
fn import_rounds(
    dir: &PathBuf,
    template: &ImportOptions,
    dest: Option<&str>,
    done: &AtomicBool,
    failed: &AtomicBool,
    out: &Output,
) -> Result<(Vec<ImportSummary>, u32)> {
    let quiet = Output { quiet: true, no_progress: true, json: false, log_json: out.log_json, callback: None };
    let mut imported: BTreeMap<String, usize> = BTreeMap::new();
    let mut last: BTreeMap<String, ImportSummary> = BTreeMap::new();
    let mut rounds = 0u32;
    loop {
        // Read the flag before the manifest: once it is set, the manifest
        // read after it is the final one.
        let finished = done.load(Ordering::SeqCst);
        if failed.load(Ordering::SeqCst) {
            return Ok((last.into_values().collect(), rounds));
        }
        let manifest = if Manifest::path(dir).exists() { Some(Manifest::load(dir)?) } else { None };
        if let Some(m) = &manifest {
            for c in &m.collections {
                let have = imported.get(&c.name).copied();
                let committed = c.chunks.len();
                let due = match have {
                    None => finished || committed >= ROUND_CHUNKS || c.complete,
                    Some(h) => committed > h && (finished || c.complete || committed - h >= ROUND_CHUNKS),
                };
                if !due {
                    continue;
                }
                let mut opts = template.clone();
                opts.partial = !c.complete;
                opts.mapping.from_collection = Some(c.name.clone());
                opts.collection = dest.map(str::to_owned).unwrap_or_else(|| import::velesdb_name(&c.name));
                // The first round prints its settings; later ones stay quiet.
                let o = if have.is_none() { out.without_progress() } else { quiet.clone() };
                let s = import::run(opts, &o)?;
                if !finished {
                    rounds += 1;
                }
                imported.insert(c.name.clone(), committed);
                let upserted = last.get(&c.name).map_or(0, |p| p.points_upserted) + s.points_upserted;
                last.insert(c.name.clone(), ImportSummary { points_upserted: upserted, ..s });
            }
        }
        if finished {
            let m = manifest.ok_or_else(|| Error::Usage(format!("the export left no manifest in {}", dir.display())))?;
            if m.collections.iter().all(|c| c.complete && imported.get(&c.name) == Some(&c.chunks.len())) {
                return Ok((last.into_values().collect(), rounds));
            }
            continue;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
