//! `diff A B`: which ids were added, removed and changed between two
//! snapshots, collection by collection, without loading either whole.
//!
//! Every record is reduced to its id and one 128-bit BLAKE3 digest per part
//! (each dense vector, each sparse vector, the metadata text, the document),
//! computed from the exact bits, so "changed" means any bit-level difference
//! and the report can say which parts differ.
//!
//! Both sides are then merge-joined by id, one chunk at a time per side
//! (every chunk is read with its size and BLAKE3 checked, then decoded).
//! That needs each side's ids in ascending order, which keyset-paged sources
//! give (pgvector, Qdrant with one id kind, Milvus, Weaviate). A side that is
//! not in that order (offset-paged Chroma; text ids under a non-byte
//! collation; Qdrant's mixed numeric/UUID ids) is sorted externally first
//! ([`super::spill`]): memory stays bounded either way.
//!
//! Order is [`IdValue`]'s: integers numerically, strings and UUIDs by bytes
//! (for canonical lowercase UUIDs that is PostgreSQL's uuid order).
//!
//! Fast path: chunks at the same position of both snapshots with the same
//! BLAKE3, rows and id range hold identical records; they are hash-checked but
//! not decoded. Ids are unique within a snapshot, so those ids cannot appear
//! anywhere else on either side, and skipping them keeps both streams sorted.

use super::spill::{Sorted, Sorter, SpillDir};
use crate::error::{Error, Result};
use crate::model::{CollectionSchema, Dense, IdKind, IdValue, Record};
use crate::progress::{Output, Progress};
use crate::snapshot::{chunk, ChunkEntry, CollectionEntry, Location};
use serde::Serialize;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub a: Location,
    pub b: Location,
    /// Compare only these collections (all when empty).
    pub only: Vec<String>,
    /// List at most this many ids per class (added, removed, changed) and collection.
    pub ids_limit: Option<usize>,
    /// Where unsorted sides are sorted (default: the system's temporary directory).
    pub spill_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub a: String,
    pub b: String,
    /// True when every collection is in both, with the same records and schema.
    pub identical: bool,
    pub collections: Vec<CollectionDiff>,
    pub peak_rss_bytes: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CollectionDiff {
    pub name: String,
    /// `both`, `only_in_a` or `only_in_b` (then no ids are listed).
    pub presence: String,
    pub rows_a: u64,
    pub rows_b: u64,
    /// Differences of schema or state (fields, types, metric, completeness).
    pub other_changes: Vec<String>,
    pub unchanged: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// Changed records per part (`vector:<name>`, `sparse:<name>`, `metadata`, `document`).
    pub changed_parts: BTreeMap<String, u64>,
    pub added_ids: Vec<IdValue>,
    pub removed_ids: Vec<IdValue>,
    pub changed_ids: Vec<ChangedId>,
    /// True when `--ids-limit` cut one of the id lists.
    pub ids_truncated: bool,
    /// Chunk pairs with equal hashes that were checked but not decoded.
    pub chunks_skipped: u64,
    /// Sides that were sorted on disk because their ids were not in order.
    pub sorted_on_disk: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChangedId {
    pub id: IdValue,
    pub parts: Vec<String>,
}

/// One record reduced to its id and a digest per part.
pub struct Entry {
    pub id: IdValue,
    pub digests: Box<[[u8; 16]]>,
}

/// Where a part's value comes from in one side's records.
#[derive(Clone, Copy, Debug)]
enum Src {
    Dense(usize),
    Sparse(usize),
    Metadata,
    Document,
    /// The field does not exist on this side.
    Absent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::A => "A",
            Side::B => "B",
        }
    }
}

pub fn run(opts: &DiffOptions, out: &Output) -> Result<DiffReport> {
    let ma = opts.a.load_manifest()?;
    let mb = opts.b.load_manifest()?;
    let mut names: Vec<&str> = ma.collections.iter().map(|c| c.name.as_str()).collect();
    names.extend(mb.collections.iter().map(|c| c.name.as_str()).filter(|n| ma.collection(n).is_none()));
    for w in &opts.only {
        if !names.contains(&w.as_str()) {
            return Err(Error::Usage(format!("--only {w}: neither snapshot has such a collection (they have: {})", names.join(", "))));
        }
    }
    names.retain(|n| opts.only.is_empty() || opts.only.iter().any(|w| w == n));
    let mut report = DiffReport { a: opts.a.display(), b: opts.b.display(), identical: true, collections: Vec::new(), peak_rss_bytes: None };
    for name in names {
        let d = match (ma.collection(name), mb.collection(name)) {
            (Some(a), Some(b)) => compare(opts, a, b, out)?,
            (Some(a), None) => CollectionDiff { name: name.into(), presence: "only_in_a".into(), rows_a: a.totals.rows, ..Default::default() },
            (None, Some(b)) => CollectionDiff { name: name.into(), presence: "only_in_b".into(), rows_b: b.totals.rows, ..Default::default() },
            (None, None) => unreachable!("names come from the manifests"),
        };
        report.identical &= d.presence == "both" && d.added + d.removed + d.changed == 0 && d.other_changes.is_empty();
        report.collections.push(d);
    }
    report.peak_rss_bytes = crate::util::peak_rss_bytes();
    Ok(report)
}

/// Compare one collection present in both snapshots.
fn compare(opts: &DiffOptions, a: &CollectionEntry, b: &CollectionEntry, out: &Output) -> Result<CollectionDiff> {
    let kind = a.schema.id.kind;
    if b.schema.id.kind != kind {
        return Err(Error::Data {
            collection: a.name.clone(),
            message: format!(
                "the id kinds differ ({:?} in A, {:?} in B), so the ids cannot be matched; these are not snapshots of the same collection",
                kind, b.schema.id.kind
            ),
        });
    }
    let (labels, src_a, src_b) = layout(&a.schema, &b.schema);
    let mut d = CollectionDiff {
        name: a.name.clone(),
        presence: "both".into(),
        rows_a: a.totals.rows,
        rows_b: b.totals.rows,
        other_changes: other_changes(a, b),
        ..Default::default()
    };
    let progress = RefCell::new(Progress::new(out, "diff", &a.name, Some(a.totals.rows + b.totals.rows)));
    // Fast path: identical chunks at the same position (hash-checked, not decoded).
    let mut skip = vec![false; a.chunks.len().min(b.chunks.len())];
    for (i, s) in skip.iter_mut().enumerate() {
        let (ka, kb) = (&a.chunks[i], &b.chunks[i]);
        if ka.blake3 == kb.blake3 && ka.rows == kb.rows && ka.first_id == kb.first_id && ka.last_id == kb.last_id {
            opts.a.read_chunk_verified(&a.name, ka).map_err(|e| within(&opts.a, e))?;
            opts.b.read_chunk_verified(&b.name, kb).map_err(|e| within(&opts.b, e))?;
            *s = true;
            d.unchanged += ka.rows;
            d.chunks_skipped += 1;
            progress.borrow_mut().inc(ka.rows * 2);
        }
    }
    let kept = |c: &'_ CollectionEntry| -> Vec<ChunkEntry> {
        c.chunks.iter().enumerate().filter(|(i, _)| !skip.get(*i).copied().unwrap_or(false)).map(|(_, k)| k.clone()).collect()
    };
    let (chunks_a, chunks_b) = (kept(a), kept(b));
    // A side whose manifest already shows ids out of order is sorted at once;
    // one found out of order while merging is sorted and the merge redone.
    let mut spill_a = !ranges_ascending(kind, &chunks_a);
    let mut spill_b = !ranges_ascending(kind, &chunks_b);
    let base = d.clone();
    loop {
        let mut dir = SpillDir::new(opts.spill_dir.as_deref())?;
        let sa = Stream { loc: &opts.a, coll: a, chunks: &chunks_a, next: 0, buf: Vec::new().into_iter(), file: String::new(), srcs: &src_a, progress: &progress };
        let sb = Stream { loc: &opts.b, coll: b, chunks: &chunks_b, next: 0, buf: Vec::new().into_iter(), file: String::new(), srcs: &src_b, progress: &progress };
        let mut ca = Checked::new(Side::A, sa, spill_a, &mut dir, kind, labels.len())?;
        let mut cb = Checked::new(Side::B, sb, spill_b, &mut dir, kind, labels.len())?;
        let mut r = base.clone();
        match merge(&mut ca, &mut cb, &labels, opts.ids_limit, &mut r) {
            Ok(()) => {
                r.sorted_on_disk = [(spill_a, "A"), (spill_b, "B")].iter().filter(|(s, _)| *s).map(|(_, n)| (*n).to_owned()).collect();
                progress.borrow_mut().finish();
                return Ok(r);
            }
            Err(Stop::Fail(e)) => return Err(e),
            Err(Stop::Unsorted(side, file)) => {
                out.note(format!(
                    "{}: the ids of snapshot {} are not in ascending order (chunk {file}); sorting them on disk and comparing again",
                    a.name,
                    side.name()
                ));
                match side {
                    Side::A => spill_a = true,
                    Side::B => spill_b = true,
                }
                progress.borrow_mut().finish();
                *progress.borrow_mut() = Progress::new(out, "diff", &a.name, Some(a.totals.rows + b.totals.rows));
            }
        }
    }
}

/// Part labels, and where each part comes from on side A and side B.
fn layout(a: &CollectionSchema, b: &CollectionSchema) -> (Vec<String>, Vec<Src>, Vec<Src>) {
    let mut labels = Vec::new();
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let dense = |s: &CollectionSchema| s.dense().map(|f| f.name.clone()).collect::<Vec<_>>();
    let sparse = |s: &CollectionSchema| s.sparse().map(|f| f.name.clone()).collect::<Vec<_>>();
    for (prefix, fa, fb, mk) in [("vector", dense(a), dense(b), Src::Dense as fn(usize) -> Src), ("sparse", sparse(a), sparse(b), Src::Sparse)] {
        let mut all = fa.clone();
        all.extend(fb.iter().filter(|n| !fa.contains(n)).cloned());
        for n in all {
            labels.push(format!("{prefix}:{n}"));
            sa.push(fa.iter().position(|x| *x == n).map_or(Src::Absent, mk));
            sb.push(fb.iter().position(|x| *x == n).map_or(Src::Absent, mk));
        }
    }
    labels.push("metadata".into());
    sa.push(Src::Metadata);
    sb.push(Src::Metadata);
    labels.push("document".into());
    sa.push(if a.document.is_some() { Src::Document } else { Src::Absent });
    sb.push(if b.document.is_some() { Src::Document } else { Src::Absent });
    (labels, sa, sb)
}

/// Schema and state differences, in words.
fn other_changes(a: &CollectionEntry, b: &CollectionEntry) -> Vec<String> {
    let mut v = Vec::new();
    let (sa, sb) = (&a.schema, &b.schema);
    if sa.id != sb.id {
        v.push(format!("id field: {} ({}) in A, {} ({}) in B", sa.id.name, sa.id.source_type.as_deref().unwrap_or("?"), sb.id.name, sb.id.source_type.as_deref().unwrap_or("?")));
    }
    for f in &sa.vectors {
        match sb.vectors.iter().find(|g| g.name == f.name) {
            None => v.push(format!("vector field {} only in A", f.name)),
            Some(g) if g != f => v.push(format!(
                "vector field {}: {:?} {:?} dim {} metric {} in A, {:?} {:?} dim {} metric {} in B (or index settings differ)",
                f.name, f.kind, f.element, f.dimension, f.metric.map_or("unknown".into(), |m| m.to_string()),
                g.kind, g.element, g.dimension, g.metric.map_or("unknown".into(), |m| m.to_string())
            )),
            Some(_) => {}
        }
    }
    for g in sb.vectors.iter().filter(|g| !sa.vectors.iter().any(|f| f.name == g.name)) {
        v.push(format!("vector field {} only in B", g.name));
    }
    if sa.metadata != sb.metadata {
        let names = |s: &CollectionSchema| s.metadata.iter().map(|m| format!("{} {}", m.name, m.source_type)).collect::<Vec<_>>().join(", ");
        v.push(format!("metadata fields: [{}] in A, [{}] in B", names(sa), names(sb)));
    }
    if sa.document != sb.document {
        v.push(format!("document field: {:?} in A, {:?} in B", sa.document, sb.document));
    }
    if a.filter != b.filter {
        v.push(format!("export filter: {:?} in A, {:?} in B", a.filter, b.filter));
    }
    if a.complete != b.complete {
        v.push(format!("export complete: {} in A, {} in B", a.complete, b.complete));
    }
    v
}

/// An id of `kind` from its JSON form in the manifest.
fn id_of(kind: IdKind, v: &serde_json::Value) -> Option<IdValue> {
    Some(match kind {
        IdKind::Int => IdValue::Int(v.as_i64()?),
        IdKind::Uint => IdValue::Uint(v.as_u64()?),
        IdKind::String => IdValue::Str(v.as_str()?.to_owned()),
        IdKind::Uuid => IdValue::Uuid(v.as_str()?.to_owned()),
    })
}

/// True when the chunks' id ranges are ordered and disjoint (rows inside
/// chunks are checked while merging).
fn ranges_ascending(kind: IdKind, chunks: &[ChunkEntry]) -> bool {
    let mut prev: Option<IdValue> = None;
    for k in chunks {
        let (Some(f), Some(l)) = (id_of(kind, &k.first_id), id_of(kind, &k.last_id)) else { return false };
        if f > l || prev.as_ref().is_some_and(|p| *p >= f) {
            return false;
        }
        prev = Some(l);
    }
    true
}

/// One side's chunks, read and digested one at a time, in manifest order.
struct Stream<'a> {
    loc: &'a Location,
    coll: &'a CollectionEntry,
    chunks: &'a [ChunkEntry],
    next: usize,
    buf: std::vec::IntoIter<Entry>,
    /// The chunk the buffered entries come from (for messages).
    file: String,
    srcs: &'a [Src],
    progress: &'a RefCell<Progress>,
}

/// A chunk error names the chunk by its path inside `loc`, since two snapshots are read.
fn within(loc: &Location, e: Error) -> Error {
    match e {
        Error::Chunk { collection, file, message } => Error::Chunk { collection, file: format!("{}/{file}", loc.display()), message },
        other => other,
    }
}

impl Stream<'_> {
    fn next(&mut self) -> Result<Option<Entry>> {
        self.next_entry().map_err(|e| within(self.loc, e))
    }

    fn next_entry(&mut self) -> Result<Option<Entry>> {
        loop {
            if let Some(e) = self.buf.next() {
                return Ok(Some(e));
            }
            let Some(k) = self.chunks.get(self.next) else { return Ok(None) };
            self.next += 1;
            let err = |message: String| Error::Chunk { collection: self.coll.name.clone(), file: k.file.clone(), message };
            let bytes = self.loc.read_chunk_verified(&self.coll.name, k)?;
            let records = chunk::decode_chunk(&self.coll.schema, bytes).map_err(err)?;
            if records.len() as u64 != k.rows {
                return Err(err(format!("holds {} rows, the manifest says {}", records.len(), k.rows)));
            }
            self.file = k.file.clone();
            self.progress.borrow_mut().inc(k.rows);
            let entries: Vec<Entry> = records.into_iter().map(|r| Entry { digests: digest(&r, self.srcs), id: r.id }).collect();
            self.buf = entries.into_iter();
        }
    }
}

/// 128 bits of BLAKE3 per part, over a tag and the exact bits of the value.
fn digest(r: &Record, srcs: &[Src]) -> Box<[[u8; 16]]> {
    let mut buf = Vec::new();
    srcs.iter()
        .map(|s| {
            buf.clear();
            match *s {
                Src::Absent => buf.push(0xFF),
                Src::Dense(i) => match &r.dense[i] {
                    None => buf.push(0),
                    Some(Dense::F32(v)) => {
                        buf.push(1);
                        v.iter().for_each(|x| buf.extend_from_slice(&x.to_bits().to_le_bytes()));
                    }
                    Some(Dense::F16(v)) => {
                        buf.push(2);
                        v.iter().for_each(|x| buf.extend_from_slice(&x.to_bits().to_le_bytes()));
                    }
                },
                Src::Sparse(i) => match &r.sparse[i] {
                    None => buf.push(0),
                    Some(s) => {
                        buf.push(1);
                        buf.extend_from_slice(&(s.indices.len() as u64).to_le_bytes());
                        s.indices.iter().for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
                        s.values.iter().for_each(|x| buf.extend_from_slice(&x.to_bits().to_le_bytes()));
                    }
                },
                // The chunk's canonical JSON text (sorted keys, exact numbers, -0.0 kept).
                Src::Metadata => buf.extend_from_slice(serde_json::to_string(&r.metadata).expect("JSON map serializes").as_bytes()),
                Src::Document => match &r.document {
                    None => buf.push(0),
                    Some(t) => {
                        buf.push(1);
                        buf.extend_from_slice(t.as_bytes());
                    }
                },
            }
            let h = blake3::hash(&buf);
            h.as_bytes()[..16].try_into().expect("16 bytes")
        })
        .collect()
}

enum Stop {
    /// The side's ids went down at this chunk: sort it and start again.
    Unsorted(Side, String),
    Fail(Error),
}

enum Source<'a> {
    Direct(Stream<'a>),
    Sorted(Sorted),
}

/// A side's entries with their order checked: strictly ascending ids.
struct Checked<'a> {
    side: Side,
    src: Source<'a>,
    last: Option<IdValue>,
    name: String,
}

impl<'a> Checked<'a> {
    fn new(side: Side, mut s: Stream<'a>, spill: bool, dir: &mut SpillDir, kind: IdKind, parts: usize) -> Result<Checked<'a>> {
        let name = s.coll.name.clone();
        let src = if spill {
            let mut sorter = Sorter::new(dir, kind, parts);
            while let Some(e) = s.next()? {
                sorter.push(e)?;
            }
            Source::Sorted(sorter.finish()?)
        } else {
            Source::Direct(s)
        };
        Ok(Checked { side, src, last: None, name })
    }

    fn next(&mut self) -> std::result::Result<Option<Entry>, Stop> {
        let (e, file) = match &mut self.src {
            Source::Direct(s) => (s.next().map_err(Stop::Fail)?, s.file.clone()),
            Source::Sorted(s) => (s.next_entry().map_err(Stop::Fail)?, String::new()),
        };
        let Some(e) = e else { return Ok(None) };
        if let Some(last) = &self.last {
            match e.id.cmp(last) {
                Ordering::Greater => {}
                Ordering::Equal => {
                    return Err(Stop::Fail(Error::Data {
                        collection: self.name.clone(),
                        message: format!(
                            "id {} appears twice in snapshot {}{}; its id column is not unique, so records cannot be matched by id",
                            e.id,
                            self.side.name(),
                            if file.is_empty() { String::new() } else { format!(" (chunk {file})") }
                        ),
                    }))
                }
                Ordering::Less => return Err(Stop::Unsorted(self.side, file)),
            }
        }
        self.last = Some(e.id.clone());
        Ok(Some(e))
    }
}

/// Merge-join two id-ordered streams into `d`.
fn merge(a: &mut Checked, b: &mut Checked, labels: &[String], limit: Option<usize>, d: &mut CollectionDiff) -> std::result::Result<(), Stop> {
    let room = |n: usize, d: &mut CollectionDiff| {
        let ok = limit.is_none_or(|l| n < l);
        d.ids_truncated |= !ok;
        ok
    };
    let (mut x, mut y) = (a.next()?, b.next()?);
    loop {
        match (x.take(), y.take()) {
            (None, None) => return Ok(()),
            (Some(ea), eb) if eb.as_ref().is_none_or(|eb| ea.id < eb.id) => {
                d.removed += 1;
                if room(d.removed_ids.len(), d) {
                    d.removed_ids.push(ea.id);
                }
                x = a.next()?;
                y = eb;
            }
            (ea, Some(eb)) if ea.as_ref().is_none_or(|ea| eb.id < ea.id) => {
                d.added += 1;
                if room(d.added_ids.len(), d) {
                    d.added_ids.push(eb.id);
                }
                x = ea;
                y = b.next()?;
            }
            (Some(ea), Some(eb)) => {
                let parts: Vec<String> =
                    labels.iter().zip(ea.digests.iter().zip(eb.digests.iter())).filter(|(_, (p, q))| p != q).map(|(l, _)| l.clone()).collect();
                if parts.is_empty() {
                    d.unchanged += 1;
                } else {
                    d.changed += 1;
                    for p in &parts {
                        *d.changed_parts.entry(p.clone()).or_default() += 1;
                    }
                    if room(d.changed_ids.len(), d) {
                        d.changed_ids.push(ChangedId { id: ea.id, parts });
                    }
                }
                x = a.next()?;
                y = b.next()?;
            }
            _ => unreachable!("covered above"),
        }
    }
}

/// The human form of a report.
pub fn print(r: &DiffReport) {
    let show = |ids: &mut dyn Iterator<Item = String>, total: u64, shown: usize| {
        let mut s: Vec<String> = ids.collect();
        if (shown as u64) < total {
            s.push(format!("… and {} more", total - shown as u64));
        }
        s.join(", ")
    };
    for c in &r.collections {
        match c.presence.as_str() {
            "only_in_a" => println!("collection {}: only in A ({} rows)", c.name, c.rows_a),
            "only_in_b" => println!("collection {}: only in B ({} rows)", c.name, c.rows_b),
            _ => {
                let parts: Vec<String> = c.changed_parts.iter().map(|(k, v)| format!("{k} {v}")).collect();
                println!(
                    "collection {}: {} added, {} removed, {} changed{}, {} unchanged (rows {} in A, {} in B)",
                    c.name,
                    c.added,
                    c.removed,
                    c.changed,
                    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) },
                    c.unchanged,
                    c.rows_a,
                    c.rows_b
                );
                for o in &c.other_changes {
                    println!("  ! {o}");
                }
                if c.added > 0 {
                    println!("  + {}", show(&mut c.added_ids.iter().map(|i| i.to_string()), c.added, c.added_ids.len()));
                }
                if c.removed > 0 {
                    println!("  - {}", show(&mut c.removed_ids.iter().map(|i| i.to_string()), c.removed, c.removed_ids.len()));
                }
                if c.changed > 0 {
                    let mut it = c.changed_ids.iter().map(|i| format!("{} ({})", i.id, i.parts.join(", ")));
                    println!("  ~ {}", show(&mut it, c.changed, c.changed_ids.len()));
                }
            }
        }
    }
    println!("{} and {}: {}", r.a, r.b, if r.identical { "identical" } else { "differ" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(first: serde_json::Value, last: serde_json::Value) -> ChunkEntry {
        ChunkEntry { seq: 0, file: String::new(), rows: 1, bytes: 0, blake3: String::new(), first_id: first, last_id: last, cursor: crate::model::Cursor::Start }
    }

    /// The order each id kind is compared in, as the sources produce it.
    #[test]
    fn id_order_per_kind() {
        use serde_json::json;
        // int: numerically, negatives first (pgvector ORDER BY bigint).
        assert!(ranges_ascending(IdKind::Int, &[chunk(json!(-10), json!(-2)), chunk(json!(9), json!(10))]));
        assert!(!ranges_ascending(IdKind::Int, &[chunk(json!(9), json!(10)), chunk(json!(-10), json!(-2))]));
        // uint: numerically over the whole u64 range (Qdrant).
        assert!(ranges_ascending(IdKind::Uint, &[chunk(json!(2), json!(9)), chunk(json!(10), json!(u64::MAX))]));
        // string: bytewise, so "10" < "9" and "B" < "a".
        assert!(ranges_ascending(IdKind::String, &[chunk(json!("10"), json!("9")), chunk(json!("B"), json!("a"))]));
        assert!(!ranges_ascending(IdKind::String, &[chunk(json!("a"), json!("b")), chunk(json!("B"), json!("c"))]));
        // uuid: canonical lowercase text, bytewise = PostgreSQL's uuid order.
        assert!(ranges_ascending(
            IdKind::Uuid,
            &[chunk(json!("0fffffff-0000-0000-0000-000000000000"), json!("10000000-0000-0000-0000-000000000000")),
              chunk(json!("a0000000-0000-0000-0000-000000000000"), json!("ffffffff-ffff-ffff-ffff-ffffffffffff"))]
        ));
        // Overlapping ranges, or a JSON form that is not the kind's, mean "not ordered".
        assert!(!ranges_ascending(IdKind::Int, &[chunk(json!(1), json!(5)), chunk(json!(5), json!(6))]));
        assert!(!ranges_ascending(IdKind::Int, &[chunk(json!("1"), json!("5"))]));
    }

    /// A snapshot of string ids in the given (not necessarily sorted) order,
    /// `per_chunk` rows a chunk, vector `[v(id), 1.0]`.
    fn snapshot(dir: &std::path::Path, ids: &[&str], per_chunk: usize, v: impl Fn(&str) -> f32) {
        use crate::model::{ElementType, IdField, VectorField, VectorKind};
        use crate::snapshot::{write_chunk, Manifest, SourceInfo};
        let schema = CollectionSchema {
            id: IdField { name: "id".into(), kind: IdKind::String, source_type: None },
            vectors: vec![VectorField { name: "e".into(), column: "vec:e".into(), kind: VectorKind::Dense, element: ElementType::F32, dimension: 2, metric: None, index: None, source_type: None }],
            metadata: vec![],
            document: None,
        };
        let mut m = Manifest::new(SourceInfo { kind: "test".into(), address: "-".into(), options: serde_json::json!({}) });
        let mut c = CollectionEntry { name: "c".into(), source_name: "c".into(), schema: schema.clone(), filter: None, chunk_rows: per_chunk as u64, source_count: None, chunks: vec![], totals: Default::default(), complete: true };
        for (seq, part) in ids.chunks(per_chunk).enumerate() {
            let recs: Vec<Record> = part
                .iter()
                .map(|id| Record { id: IdValue::Str((*id).into()), dense: vec![Some(Dense::F32(vec![v(id), 1.0]))], sparse: vec![], metadata: Default::default(), document: None })
                .collect();
            let cursor = crate::model::Cursor::Offset { offset: ((seq + 1) * per_chunk) as u64 };
            c.push_chunk(write_chunk(dir, "c", &schema, seq as u64, &recs, cursor).unwrap());
        }
        m.collections.push(c);
        m.complete = true;
        m.save(dir).unwrap();
    }

    /// Sides out of id order are sorted on disk: one seen from the manifest's
    /// ranges, one found while merging (then the merge starts again).
    #[test]
    fn unsorted_sides_are_sorted_and_give_the_same_answer() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        // A: chunk 0 is ["9", "10"]: first > last in bytes, visible in the manifest.
        snapshot(&a, &["9", "10", "b", "a"], 2, |_| 0.5);
        // B: one chunk whose first and last ids look ordered, but "a" > "9" inside.
        snapshot(&b, &["10", "a", "9", "c"], 4, |id| if id == "a" { 0.25 } else { 0.5 });
        let opts = DiffOptions { a: Location::Dir(a), b: Location::Dir(b), only: vec![], ids_limit: None, spill_dir: Some(d.path().to_owned()) };
        let r = run(&opts, &Output { quiet: true, no_progress: true, json: true, ..Default::default() }).unwrap();
        let c = &r.collections[0];
        assert!(!r.identical);
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (1, 1, 1, 2));
        assert_eq!(c.added_ids, [IdValue::Str("c".into())]);
        assert_eq!(c.removed_ids, [IdValue::Str("b".into())]);
        assert_eq!(c.changed_ids[0].id, IdValue::Str("a".into()));
        assert_eq!(c.changed_ids[0].parts, ["vector:e"]);
        assert_eq!(c.sorted_on_disk, ["A", "B"]);
        // Nothing is left in the spill directory.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn digests_see_bits_and_parts() {
        use crate::model::Sparse;
        let rec = |v: f32, doc: Option<&str>| Record {
            id: IdValue::Int(1),
            dense: vec![Some(Dense::F32(vec![v, 1.0]))],
            sparse: vec![Some(Sparse { indices: vec![1], values: vec![0.5] })],
            metadata: serde_json::Map::new(),
            document: doc.map(str::to_owned),
        };
        let srcs = [Src::Dense(0), Src::Sparse(0), Src::Metadata, Src::Document];
        let (a, b, c) = (digest(&rec(0.0, None), &srcs), digest(&rec(-0.0, None), &srcs), digest(&rec(0.0, Some("")), &srcs));
        assert_ne!(a[0], b[0], "-0.0 and 0.0 differ bit for bit");
        assert_eq!(a[1..], b[1..]);
        assert_ne!(a[3], c[3], "NULL and empty documents differ");
        assert_eq!(a[..3], c[..3]);
    }
}
