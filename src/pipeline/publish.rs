//! Export into an object store: the local commit protocol runs in a staging
//! directory, and [`Mirror`] copies each commit to the store in the same
//! order (`formats/snapshot-v1.md`, section 10):
//!
//! 1. the chunk, complete, under its final key (multipart above the part
//!    size); until step 2 it is an unlisted object, ignored by readers;
//! 2. `manifest.json`, with one PUT that replaces it atomically: **the
//!    commit point**;
//! 3. the local chunk file is deleted, so the staging directory holds at
//!    most the chunk in flight.
//!
//! Resume ([`prepare_staging`]): the store's manifest, not the staging
//! directory's, says what is committed. It is copied into the staging
//! directory and the export resumes as it would from a directory; chunks
//! the local manifest had but the store had not are re-created byte for
//! byte (chunks are deterministic) and overwrite any unlisted object.

use super::export::{ExportSummary, Publish};
use crate::error::{Error, IoContext, Result};
use crate::snapshot::store::{cache_dir, short_key, Remote};
use crate::snapshot::{fsutil, ChunkEntry, Manifest, MANIFEST_FILE};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Mirrors an export's local commits to a store prefix.
#[derive(Debug)]
pub struct Mirror {
    remote: Arc<Remote>,
    part_size: usize,
    staging: PathBuf,
}

impl Mirror {
    /// Prepare `staging` (default: a cache directory keyed by the URL) for
    /// an export into `remote`, and the mirror that publishes its commits.
    ///
    /// # Errors
    /// `Usage` when the prefix holds objects but no snapshot; `Manifest`
    /// when the store's manifest is invalid; `Store` when the store fails.
    pub fn prepare(remote: Arc<Remote>, staging: Option<PathBuf>, part_size: u64) -> Result<Mirror> {
        if part_size == 0 {
            return Err(Error::Usage("--part-size must be more than 0".into()));
        }
        let staging = staging.unwrap_or_else(|| cache_dir().join("staging").join(short_key(&remote.url)));
        prepare_staging(&remote, &staging)?;
        Ok(Mirror { remote, part_size: part_size.min(usize::MAX as u64) as usize, staging })
    }

    /// The directory the export writes into.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// After a successful export: name the store in the summary and clear
    /// the staging directory (only the files an export writes there).
    pub fn finish(&self, summary: &mut ExportSummary) -> Result<()> {
        summary.snapshot = self.remote.url.clone();
        clear_snapshot_files(&self.staging)?;
        let _ = std::fs::remove_dir(&self.staging); // only when empty
        Ok(())
    }
}

impl Publish for Mirror {
    fn committed(&self, dir: &Path, chunk: Option<&ChunkEntry>) -> Result<()> {
        // 1. The chunk, under its final key.
        if let Some(k) = chunk {
            self.remote.upload_file(&k.file, &dir.join(&k.file), self.part_size)?;
        }
        // 2. The manifest as just saved locally: the commit point.
        let path = Manifest::path(dir);
        let bytes = std::fs::read(&path).ctx(|| format!("reading {}", path.display()))?;
        self.remote.put(MANIFEST_FILE, bytes)?;
        // 3. The committed chunk is in the store; free the local disk.
        if let Some(k) = chunk {
            let p = dir.join(&k.file);
            std::fs::remove_file(&p).ctx(|| format!("removing {} after its upload", p.display()))?;
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.remote.url.clone()
    }
}

/// Make `staging` match what the store has committed: the store's manifest
/// when it has one (a resume), else nothing (a new export; the prefix must
/// then be empty).
fn prepare_staging(remote: &Remote, staging: &Path) -> Result<()> {
    std::fs::create_dir_all(staging).ctx(|| format!("creating the staging directory {}", staging.display()))?;
    match remote.get(MANIFEST_FILE)? {
        Some(bytes) => {
            // Refuse a damaged manifest before anything is written.
            Manifest::from_bytes(&PathBuf::from(remote.url_of(MANIFEST_FILE)), &bytes)?;
            fsutil::write_atomic(&Manifest::path(staging), &bytes)
        }
        None => {
            if let Some((first, _)) = remote.list()?.into_iter().next() {
                return Err(Error::Usage(format!(
                    "{} is not empty and holds no snapshot (it has {first}, but no {MANIFEST_FILE}); choose a new or empty prefix for --out",
                    remote.url
                )));
            }
            // Whatever the staging directory holds was never committed to the store.
            clear_snapshot_files(staging)
        }
    }
}

/// Remove what an export writes into a directory (manifest, its temp
/// file, chunks/), and nothing else.
fn clear_snapshot_files(dir: &Path) -> Result<()> {
    let manifest = Manifest::path(dir);
    for f in [fsutil::tmp_path(&manifest), manifest] {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(format!("removing {}", f.display()), e)),
            _ => {}
        }
    }
    let chunks = dir.join("chunks");
    if chunks.exists() {
        std::fs::remove_dir_all(&chunks).ctx(|| format!("removing {}", chunks.display()))?;
    }
    Ok(())
}
