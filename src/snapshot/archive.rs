//! Single-file snapshots for air-gapped transfer: `pack` writes a tar whose
//! first entry is `manifest.json`, then every chunk the manifest lists, in
//! manifest order (import journals are left out). Entries carry fixed
//! metadata (mtime 0, uid/gid 0, mode 0644), so the same snapshot always
//! packs to the same bytes. `--split-size` cuts the archive into parts
//! (`FILE.000`, `FILE.001`, … whose concatenation is the tar) for removable
//! media. `verify` checks an archive, and `unpack` restores it, without
//! trusting anything that is not in the manifest.

use super::manifest::Manifest;
use super::verify::{Finding, VerifyReport};
use super::{fsutil, MANIFEST_FILE};
use crate::error::{Error, IoContext, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Pack the complete snapshot `dir` into `out` (or parts `out.NNN` when
/// `split` is given). Returns the files written.
pub fn pack(dir: &Path, out: &Path, split: Option<u64>, partial: bool) -> Result<Vec<PathBuf>> {
    let manifest = Manifest::load(dir)?;
    if !manifest.complete && !partial {
        return Err(Error::Usage(format!(
            "{} is an unfinished export; finish it first, or pass --partial to pack the committed chunks",
            dir.display()
        )));
    }
    if let Some(0) = split {
        return Err(Error::Usage("--split-size must be more than 0".into()));
    }
    let sink = PartWriter::new(out, split)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, sink));
    let mut entries = vec![MANIFEST_FILE.to_owned()];
    for c in &manifest.collections {
        entries.extend(c.chunks.iter().map(|k| k.file.clone()));
    }
    for rel in &entries {
        let path = dir.join(rel);
        let mut f = File::open(&path).ctx(|| format!("opening {}", path.display()))?;
        let len = f.metadata().ctx(|| format!("reading {}", path.display()))?.len();
        let mut h = tar::Header::new_ustar();
        h.set_size(len);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, rel, &mut f).ctx(|| format!("adding {rel} to {}", out.display()))?;
    }
    let writer = tar.into_inner().ctx(|| format!("finishing {}", out.display()))?;
    let sink = writer.into_inner().map_err(|e| Error::io(format!("writing {}", out.display()), e.into_error()))?;
    sink.finish()
}

/// Writes one file, or consecutive parts of at most `split` bytes.
struct PartWriter {
    base: PathBuf,
    split: Option<u64>,
    current: Option<(File, u64)>,
    written: Vec<PathBuf>,
}

impl PartWriter {
    fn new(base: &Path, split: Option<u64>) -> Result<PartWriter> {
        let mut w = PartWriter { base: base.to_owned(), split, current: None, written: Vec::new() };
        w.open_next()?;
        Ok(w)
    }

    fn open_next(&mut self) -> Result<()> {
        self.close_current()?;
        let path = match self.split {
            None => self.base.clone(),
            Some(_) => part_path(&self.base, self.written.len()),
        };
        let f = File::create(&path).ctx(|| format!("creating {}", path.display()))?;
        self.written.push(path);
        self.current = Some((f, 0));
        Ok(())
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some((f, _)) = self.current.take() {
            f.sync_all().ctx(|| "fsync of an archive part".to_owned())?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.close_current()?;
        if let Some(parent) = self.base.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsutil::sync_dir(parent)?;
        }
        Ok(self.written)
    }
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let (Some(limit), Some((_, n))) = (self.split, &self.current) {
            if *n >= limit {
                self.open_next().map_err(|e| std::io::Error::other(e.to_string()))?;
            }
        }
        let (f, n) = self.current.as_mut().expect("a part is open");
        let room = match self.split {
            Some(limit) => (limit - *n).min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        let w = f.write(&buf[..room])?;
        *n += w as u64;
        Ok(w)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.current {
            Some((f, _)) => f.flush(),
            None => Ok(()),
        }
    }
}

fn part_path(base: &Path, i: usize) -> PathBuf {
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{i:03}"));
    base.with_file_name(name)
}

/// The files of an archive: `path` itself, or its parts `path.000`, … when
/// `path` does not exist (or names the first part).
pub fn archive_parts(path: &Path) -> Result<Vec<PathBuf>> {
    let name = path.to_string_lossy();
    let base = match name.strip_suffix(".000") {
        Some(b) => PathBuf::from(b),
        None if path.is_file() => return Ok(vec![path.to_owned()]),
        None => path.to_owned(),
    };
    let parts: Vec<PathBuf> = (0..).map(|i| part_path(&base, i)).take_while(|p| p.is_file()).collect();
    if parts.is_empty() {
        return Err(Error::Usage(format!("{} is neither an archive nor the first part of one (.000)", path.display())));
    }
    Ok(parts)
}

/// Reads the parts one after the other.
struct Parts {
    files: std::vec::IntoIter<PathBuf>,
    current: Option<BufReader<File>>,
}

impl Read for Parts {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(r) = &mut self.current {
                let n = r.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
            }
            match self.files.next() {
                Some(p) => self.current = Some(BufReader::with_capacity(1 << 20, File::open(p)?)),
                None => return Ok(0),
            }
        }
    }
}

/// Walk an archive: the manifest first, then each entry checked against
/// it; `keep` receives each verified entry (path, bytes) to write out.
fn walk(archive: &Path, mut keep: impl FnMut(&str, &[u8]) -> Result<()>) -> Result<VerifyReport> {
    let parts = archive_parts(archive)?;
    let reader = Parts { files: parts.into_iter(), current: None };
    let mut tar = tar::Archive::new(reader);
    let mut entries = tar.entries().ctx(|| format!("reading {}", archive.display()))?;
    let bad = |m: String| Error::Manifest { path: archive.to_owned(), message: m };
    let mut first = entries
        .next()
        .ok_or_else(|| bad("the archive is empty".into()))?
        .ctx(|| format!("reading {}", archive.display()))?;
    let first_name = first.path().ctx(|| "an entry name".to_owned())?.to_string_lossy().to_string();
    if first_name != MANIFEST_FILE {
        return Err(bad(format!("the first entry is {first_name:?}, not {MANIFEST_FILE}: not a velesdb-migrate archive")));
    }
    let mut mbytes = Vec::new();
    first.read_to_end(&mut mbytes).ctx(|| "reading the manifest".to_owned())?;
    let manifest = Manifest::from_bytes(&archive.join(MANIFEST_FILE), &mbytes)?;
    keep(MANIFEST_FILE, &mbytes)?;
    // Expected chunks: path → (collection, size, hash, rows)
    let mut expected: BTreeMap<String, (String, u64, String, u64)> = BTreeMap::new();
    for c in &manifest.collections {
        for k in &c.chunks {
            expected.insert(k.file.clone(), (c.name.clone(), k.bytes, k.blake3.clone(), k.rows));
        }
    }
    let mut findings = Vec::new();
    let (mut rows, mut bytes, mut checked) = (0, 0, 0);
    for e in entries {
        let mut e = e.ctx(|| format!("reading {} (truncated or damaged?)", archive.display()))?;
        let name = e.path().ctx(|| "an entry name".to_owned())?.to_string_lossy().to_string();
        let Some((coll, size, hash, nrows)) = expected.remove(&name) else {
            findings.push(Finding { collection: String::new(), file: name, kind: "unexpected_file".into(), message: "not listed in the manifest".into() });
            continue;
        };
        let mut data = Vec::with_capacity(size as usize);
        e.read_to_end(&mut data).ctx(|| format!("reading {name} from the archive"))?;
        match super::chunk::check_bytes(&data, size, &hash) {
            Err((problem, message)) => {
                findings.push(Finding { collection: coll, file: name, kind: problem.name().into(), message });
            }
            Ok(()) => {
                keep(&name, &data)?;
                rows += nrows;
                bytes += size;
                checked += 1;
            }
        }
    }
    for (name, (coll, ..)) in expected {
        findings.push(Finding { collection: coll, file: name, kind: "missing".into(), message: "listed in the manifest but not in the archive".into() });
    }
    if !manifest.complete {
        findings.push(Finding {
            collection: String::new(),
            file: MANIFEST_FILE.into(),
            kind: "incomplete".into(),
            message: "the archived export was not finished".into(),
        });
    }
    Ok(VerifyReport::new(archive.display().to_string(), &manifest, checked, rows, bytes, findings))
}

/// Check an archive (or its parts) without unpacking it.
pub fn verify_archive(archive: &Path) -> Result<VerifyReport> {
    walk(archive, |_, _| Ok(()))
}

/// Unpack an archive into the new or empty directory `dir`, writing only
/// entries that match the manifest; the manifest is written last, so an
/// interrupted unpack never looks like a snapshot.
pub fn unpack(archive: &Path, dir: &Path) -> Result<VerifyReport> {
    if dir.exists() && std::fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))?.next().is_some() {
        return Err(Error::Usage(format!("{} is not empty; unpack into a new or empty directory", dir.display())));
    }
    std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let mut manifest = Vec::new();
    let report = walk(archive, |name, data| {
        if name == MANIFEST_FILE {
            manifest = data.to_vec();
            return Ok(());
        }
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
        }
        fsutil::write_atomic(&path, data)
    })?;
    if report.ok() {
        fsutil::write_atomic(&dir.join(MANIFEST_FILE), &manifest)?;
    }
    Ok(report)
}
