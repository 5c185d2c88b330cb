//! `verify`: re-hash every chunk and compare the snapshot (a directory, or a
//! prefix in an object store) with its manifest. Reports every finding
//! rather than stopping at the first.

use super::manifest::Manifest;
use super::store::{Location, Remote};
use super::{JOURNAL_DIR, MANIFEST_FILE};
use crate::error::Result;
use parquet::file::reader::{FileReader, SerializedFileReader};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub collection: String,
    /// Chunk file (relative to the snapshot) or other path concerned.
    pub file: String,
    /// `missing`, `size`, `hash`, `rows`, `unreadable`, `unexpected_file`, `incomplete`.
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub snapshot: String,
    pub complete: bool,
    pub collections: usize,
    pub chunks_checked: u64,
    pub rows: u64,
    pub bytes: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The report for `manifest` read from `snapshot`, findings sorted.
    pub fn new(snapshot: String, manifest: &Manifest, chunks_checked: u64, rows: u64, bytes: u64, mut findings: Vec<Finding>) -> VerifyReport {
        findings.sort_by(|a, b| (&a.collection, &a.file).cmp(&(&b.collection, &b.file)));
        VerifyReport {
            snapshot,
            complete: manifest.complete,
            collections: manifest.collections.len(),
            chunks_checked,
            rows,
            bytes,
            findings,
        }
    }
}

/// Check the snapshot directory `dir`. The manifest must load; everything else is a finding.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    verify_at(&Location::Dir(dir.to_owned()))
}

/// Check the snapshot at `loc`: a store's chunks are fetched one GET each
/// (a few at once), never the whole snapshot.
pub fn verify_at(loc: &Location) -> Result<VerifyReport> {
    let manifest = loc.load_manifest()?;
    let mut findings = Vec::new();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut rows = 0;
    let mut bytes = 0;
    let mut checked = 0;
    for c in &manifest.collections {
        if !c.complete {
            findings.push(Finding {
                collection: c.name.clone(),
                file: MANIFEST_FILE.into(),
                kind: "incomplete".into(),
                message: "the export of this collection did not finish; re-run the same export command to resume it".into(),
            });
        }
        expected.extend(c.chunks.iter().map(|k| k.file.clone()));
        let per_chunk: Vec<Vec<Finding>> = c
            .chunks
            .par_iter()
            .map(|k| {
                let f = |kind: &str, message: String| Finding {
                    collection: c.name.clone(),
                    file: k.file.clone(),
                    kind: kind.into(),
                    message,
                };
                let data = match loc.read_and_check(k) {
                    Ok(d) => d,
                    Err((problem, msg)) => return vec![f(problem.name(), msg)],
                };
                match SerializedFileReader::new(bytes::Bytes::from(data)) {
                    Ok(r) => {
                        let n = r.metadata().file_metadata().num_rows() as u64;
                        if n != k.rows {
                            vec![f("rows", format!("holds {n} rows, the manifest says {}", k.rows))]
                        } else {
                            vec![]
                        }
                    }
                    Err(e) => vec![f("unreadable", format!("not a readable Parquet file: {e}"))],
                }
            })
            .collect();
        findings.extend(per_chunk.into_iter().flatten());
        rows += c.totals.rows;
        bytes += c.totals.bytes;
        checked += c.chunks.len() as u64;
    }
    findings.extend(match loc {
        Location::Dir(dir) => unexpected_files(dir, &expected),
        Location::Store(r) => unexpected_objects(r, &expected)?,
    });
    Ok(VerifyReport::new(loc.display(), &manifest, checked, rows, bytes, findings))
}

fn unexpected(collection: &str, file: String, message: &str) -> Finding {
    Finding { collection: collection.to_owned(), file, kind: "unexpected_file".into(), message: message.into() }
}

const UNLISTED: &str = "not listed in the manifest (leftover of an interrupted export, or foreign file); re-run the export to clean it up, or delete it";
const FOREIGN: &str = "not part of the snapshot format";

/// Objects under the prefix that the manifest does not list (import
/// journals of a copied directory, `.imports/`, are ignored as locally).
fn unexpected_objects(r: &Remote, expected: &BTreeSet<String>) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for (rel, _) in r.list()? {
        if rel == MANIFEST_FILE || expected.contains(&rel) || rel.starts_with(&format!("{JOURNAL_DIR}/")) {
            continue;
        }
        match rel.strip_prefix("chunks/") {
            Some(rest) => out.push(unexpected(rest.split('/').next().unwrap_or(""), rel.clone(), UNLISTED)),
            None => out.push(unexpected("", rel, FOREIGN)),
        }
    }
    Ok(out)
}

fn unexpected_files(dir: &Path, expected: &BTreeSet<String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Files under chunks/ that the manifest does not list.
    let chunks_dir = dir.join("chunks");
    if chunks_dir.is_dir() {
        for entry in walk(&chunks_dir) {
            let rel = entry
                .strip_prefix(dir)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            if !expected.contains(&rel) {
                findings.push(unexpected(rel.split('/').nth(1).unwrap_or(""), rel.clone(), UNLISTED));
            }
        }
    }
    // Anything else at the top level besides the manifest, chunks/ and journals.
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name != MANIFEST_FILE && name != "chunks" && name != JOURNAL_DIR {
                findings.push(unexpected("", name, FOREIGN));
            }
        }
    }
    findings
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
