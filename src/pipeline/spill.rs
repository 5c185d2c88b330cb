//! External sort for `diff`: a stream of (id, digests) entries that is not
//! in id order is cut into sorted runs of bounded size, written to a
//! temporary directory, then merged (k-way, at most `MAX_FANIN` runs open at
//! once; more runs are first merged in groups). Memory stays at one run
//! buffer plus one read buffer per open run, whatever the number of rows.

use super::diff::Entry;
use crate::error::{Error, IoContext, Result};
use crate::model::{IdKind, IdValue};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Entries kept in memory before a run is sorted and written (by estimated bytes).
const RUN_BYTES: usize = 32 << 20;
/// Runs merged at once.
const MAX_FANIN: usize = 128;
/// Read buffer per open run.
const READ_BUF: usize = 64 << 10;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory removed (with its runs) when dropped.
pub struct SpillDir {
    path: PathBuf,
    runs: usize,
}

impl SpillDir {
    /// A new directory under `parent` (default: the system's temporary directory).
    pub fn new(parent: Option<&Path>) -> Result<SpillDir> {
        let parent = parent.map(Path::to_owned).unwrap_or_else(std::env::temp_dir);
        let path = parent.join(format!("velesdb-migrate-diff-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&path).ctx(|| format!("creating the spill directory {} (choose another with --spill-dir)", path.display()))?;
        Ok(SpillDir { path, runs: 0 })
    }

    fn next_path(&mut self) -> PathBuf {
        self.runs += 1;
        self.path.join(format!("run-{:06}.bin", self.runs))
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Sorts what `next` yields; entries come back in ascending id order.
pub struct Sorter<'a> {
    dir: &'a mut SpillDir,
    kind: IdKind,
    parts: usize,
    buf: Vec<Entry>,
    buf_bytes: usize,
    runs: Vec<PathBuf>,
}

impl<'a> Sorter<'a> {
    pub fn new(dir: &'a mut SpillDir, kind: IdKind, parts: usize) -> Sorter<'a> {
        Sorter { dir, kind, parts, buf: Vec::new(), buf_bytes: 0, runs: Vec::new() }
    }

    pub fn push(&mut self, e: Entry) -> Result<()> {
        self.buf_bytes += std::mem::size_of::<Entry>() + self.parts * 16 + id_heap_bytes(&e.id);
        self.buf.push(e);
        if self.buf_bytes >= RUN_BYTES {
            self.write_run()?;
        }
        Ok(())
    }

    fn write_run(&mut self) -> Result<()> {
        self.buf.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let path = self.dir.next_path();
        let mut w = RunWriter::create(&path)?;
        for e in self.buf.drain(..) {
            w.write(&e)?;
        }
        w.finish()?;
        self.buf_bytes = 0;
        self.runs.push(path);
        Ok(())
    }

    /// The sorted stream. Small inputs never touch the disk.
    pub fn finish(mut self) -> Result<Sorted> {
        if self.runs.is_empty() {
            self.buf.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            return Ok(Sorted::Memory(std::mem::take(&mut self.buf).into_iter()));
        }
        if !self.buf.is_empty() {
            self.write_run()?;
        }
        let mut runs = std::mem::take(&mut self.runs);
        while runs.len() > MAX_FANIN {
            let mut merged = Vec::new();
            for group in runs.chunks(MAX_FANIN) {
                let mut m = Merge::open(group, self.kind, self.parts)?;
                let path = self.dir.next_path();
                let mut w = RunWriter::create(&path)?;
                while let Some(e) = m.next_entry()? {
                    w.write(&e)?;
                }
                w.finish()?;
                for p in group {
                    let _ = std::fs::remove_file(p);
                }
                merged.push(path);
            }
            runs = merged;
        }
        Ok(Sorted::Runs(Merge::open(&runs, self.kind, self.parts)?))
    }
}

fn id_heap_bytes(id: &IdValue) -> usize {
    match id {
        IdValue::Str(s) | IdValue::Uuid(s) => s.len(),
        _ => 0,
    }
}

/// Entries in ascending id order (equal ids stay adjacent).
pub enum Sorted {
    Memory(std::vec::IntoIter<Entry>),
    Runs(Merge),
}

impl Sorted {
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        match self {
            Sorted::Memory(it) => Ok(it.next()),
            Sorted::Runs(m) => m.next_entry(),
        }
    }
}

/// Run file: per entry, the id (i64/u64 little-endian, or u32 length +
/// UTF-8 bytes) then the part digests, 16 bytes each.
struct RunWriter {
    path: PathBuf,
    w: BufWriter<std::fs::File>,
}

impl RunWriter {
    fn create(path: &Path) -> Result<RunWriter> {
        let f = std::fs::File::create(path).ctx(|| format!("creating {}", path.display()))?;
        Ok(RunWriter { path: path.to_owned(), w: BufWriter::with_capacity(READ_BUF, f) })
    }

    fn write(&mut self, e: &Entry) -> Result<()> {
        let r = match &e.id {
            IdValue::Int(v) => self.w.write_all(&v.to_le_bytes()),
            IdValue::Uint(v) => self.w.write_all(&v.to_le_bytes()),
            IdValue::Str(s) | IdValue::Uuid(s) => {
                self.w.write_all(&(s.len() as u32).to_le_bytes()).and_then(|_| self.w.write_all(s.as_bytes()))
            }
        };
        r.and_then(|_| e.digests.iter().try_for_each(|d| self.w.write_all(d)))
            .ctx(|| format!("writing {}", self.path.display()))
    }

    fn finish(mut self) -> Result<()> {
        self.w.flush().ctx(|| format!("writing {}", self.path.display()))
    }
}

struct RunReader {
    path: PathBuf,
    r: BufReader<std::fs::File>,
    kind: IdKind,
    parts: usize,
}

impl RunReader {
    fn next(&mut self) -> Result<Option<Entry>> {
        let err = |e: std::io::Error| Error::io(format!("reading {}", self.path.display()), e);
        let mut head = [0u8; 8];
        let n = match self.kind {
            IdKind::Int | IdKind::Uint => 8,
            IdKind::String | IdKind::Uuid => 4,
        };
        // End of file exactly at an entry boundary is the end of the run.
        match self.r.read_exact(&mut head[..n]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(err(e)),
        }
        let id = match self.kind {
            IdKind::Int => IdValue::Int(i64::from_le_bytes(head)),
            IdKind::Uint => IdValue::Uint(u64::from_le_bytes(head)),
            IdKind::String | IdKind::Uuid => {
                let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
                let mut s = vec![0u8; len];
                self.r.read_exact(&mut s).map_err(err)?;
                let s = String::from_utf8(s).map_err(|e| Error::io(format!("reading {}", self.path.display()), std::io::Error::other(e)))?;
                if self.kind == IdKind::Uuid { IdValue::Uuid(s) } else { IdValue::Str(s) }
            }
        };
        let mut digests = vec![[0u8; 16]; self.parts];
        for d in digests.iter_mut() {
            self.r.read_exact(d).map_err(err)?;
        }
        Ok(Some(Entry { id, digests: digests.into_boxed_slice() }))
    }
}

/// k-way merge of sorted runs.
pub struct Merge {
    readers: Vec<RunReader>,
    heap: BinaryHeap<Reverse<(IdValue, usize)>>,
    pending: Vec<Option<Entry>>,
}

impl Merge {
    fn open(paths: &[PathBuf], kind: IdKind, parts: usize) -> Result<Merge> {
        let mut m = Merge { readers: Vec::new(), heap: BinaryHeap::new(), pending: Vec::new() };
        for p in paths {
            let f = std::fs::File::open(p).ctx(|| format!("opening {}", p.display()))?;
            m.readers.push(RunReader { path: p.clone(), r: BufReader::with_capacity(READ_BUF, f), kind, parts });
            m.pending.push(None);
            m.refill(m.readers.len() - 1)?;
        }
        Ok(m)
    }

    fn refill(&mut self, i: usize) -> Result<()> {
        if let Some(e) = self.readers[i].next()? {
            self.heap.push(Reverse((e.id.clone(), i)));
            self.pending[i] = Some(e);
        }
        Ok(())
    }

    fn next_entry(&mut self) -> Result<Option<Entry>> {
        let Some(Reverse((_, i))) = self.heap.pop() else { return Ok(None) };
        let e = self.pending[i].take().expect("a heap item has its entry");
        self.refill(i)?;
        Ok(Some(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: IdValue, d: u8) -> Entry {
        Entry { id, digests: vec![[d; 16]; 2].into_boxed_slice() }
    }

    #[test]
    fn runs_merge_back_in_order() {
        let mut dir = SpillDir::new(None).unwrap();
        let path = dir.path.clone();
        let mut s = Sorter::new(&mut dir, IdKind::String, 2);
        // Force many small runs (and a multi-level merge) by writing them by hand.
        let ids: Vec<String> = (0..1000).map(|i| format!("k{}", (i * 7919) % 1000)).collect();
        for chunk in ids.chunks(3) {
            for id in chunk {
                s.push(entry(IdValue::Str(id.clone()), id.len() as u8)).unwrap();
            }
            s.write_run().unwrap();
        }
        assert!(s.runs.len() > MAX_FANIN);
        let mut sorted = s.finish().unwrap();
        let mut got = Vec::new();
        while let Some(e) = sorted.next_entry().unwrap() {
            assert_eq!(e.digests[1], [e.id.as_text().len() as u8; 16]);
            got.push(e.id.as_text());
        }
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want);
        drop(sorted);
        drop(dir);
        assert!(!path.exists(), "the spill directory is removed");
    }

    #[test]
    fn small_inputs_stay_in_memory() {
        let mut dir = SpillDir::new(None).unwrap();
        let mut s = Sorter::new(&mut dir, IdKind::Int, 2);
        for v in [5i64, -3, 9, i64::MIN] {
            s.push(entry(IdValue::Int(v), 1)).unwrap();
        }
        let mut sorted = s.finish().unwrap();
        assert!(matches!(sorted, Sorted::Memory(_)));
        let mut got = Vec::new();
        while let Some(e) = sorted.next_entry().unwrap() {
            got.push(e.id);
        }
        assert_eq!(got, [i64::MIN, -3, 5, 9].map(IdValue::Int));
    }
}
