//! A Chroma 1.x HNSW segment directory, read without hnswlib.
//!
//! Chroma persists its hnswlib fork (persistence version 1) as four files
//! plus the id map (`index_metadata.pickle`, see [`super::pickle`]):
//!
//! * `header.bin`, 100 bytes, native-endian (x86-64/aarch64: little):
//!   `i32 version (1)`, then `usize` offset_level0 (0), max_elements,
//!   cur_element_count, size_data_per_element, label_offset, offset_data,
//!   then `i32 maxlevel`, `u32 enterpoint`, `usize` maxM, maxM0, M,
//!   `f64 mult`, `usize ef_construction`;
//! * `data_level0.bin`: `cur_element_count` records of
//!   `size_data_per_element` bytes: a `u32` link count whose third byte
//!   carries the deletion mark (bit 0), `maxM0` `u32` links, the vector
//!   (`dim` f32, from `offset_data`), the label (`usize`, at `label_offset`);
//! * `length.bin`: one f32 per record, the vector's length before it was
//!   normalized (cosine space only: hnswlib stores unit vectors there, and
//!   Chroma's `get` returns `unit[i] * length`);
//! * `link_lists.bin`: the upper layers (not needed here).
//!
//! Opening a segment scans the labels of `data_level0.bin` once (a
//! sequential read) and keeps label → record number (4 bytes a label);
//! vectors are then read one by one with a seek, never the whole file.

use super::pickle;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The only persistence version Chroma 1.x writes.
const VERSION: i32 = 1;
const HEADER_LEN: usize = 100;
/// The deletion mark: bit 0 of the third byte of a record.
const DELETED: u8 = 0x01;

/// `header.bin`, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub elements: u64,
    pub stride: u64,
    pub label_offset: u64,
    pub data_offset: u64,
    pub dim: usize,
    pub m: u64,
    pub ef_construction: u64,
}

impl Header {
    /// Decode and check a header against the collection's dimension.
    pub fn parse(b: &[u8], dim: usize) -> Result<Header, String> {
        if b.len() < HEADER_LEN {
            return Err(format!("is {} bytes long; a Chroma 1.x HNSW header has {HEADER_LEN}", b.len()));
        }
        let u = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let version = i32::from_le_bytes(b[0..4].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(format!(
                "has persistence version {version}; this reader knows version {VERSION}, the one Chroma 1.x writes"
            ));
        }
        let (offset_level0, capacity, elements, stride, label_offset, data_offset) = (u(4), u(12), u(20), u(28), u(36), u(44));
        let (max_m, max_m0, m, ef_construction) = (u(60), u(68), u(76), u(92));
        let bad = |what: String| Err(format!("is not a Chroma 1.x HNSW header ({what}); the segment may be corrupt"));
        if offset_level0 != 0 {
            return bad(format!("level-0 offset {offset_level0}, expected 0"));
        }
        if elements > capacity {
            return bad(format!("{elements} elements for a capacity of {capacity}"));
        }
        if m == 0 || max_m == 0 || max_m0 < max_m || max_m0 > 0xffff {
            return bad(format!("M {m}, maxM {max_m}, maxM0 {max_m0}"));
        }
        if data_offset != 4 + 4 * max_m0 || label_offset <= data_offset || label_offset.checked_add(8) != Some(stride) {
            return bad(format!("record layout: data at {data_offset}, label at {label_offset}, {stride} bytes a record"));
        }
        let vector_bytes = label_offset - data_offset;
        if vector_bytes != 4 * dim as u64 {
            return Err(format!(
                "stores {vector_bytes} bytes per vector, but the collection's {dim} dimensions as f32 take {}: \
                 a quantized or different-dimension segment, which this reader does not support",
                4 * dim
            ));
        }
        Ok(Header { elements, stride, label_offset, data_offset, dim, m, ef_construction })
    }
}

/// An opened segment: its files, its id map and the record of every live label.
pub struct Segment {
    dir: PathBuf,
    header: Header,
    data: File,
    lengths: Option<File>,
    ids: HashMap<String, u32>,
    /// The legacy log position kept in the pickle (Chroma < 1.0).
    pub max_seq_id: Option<u64>,
    /// Label → record number + 1 (0: no live record).
    slots: Vec<u32>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("dir", &self.dir).field("header", &self.header).field("ids", &self.ids.len()).finish()
    }
}

/// A file of the segment, for messages.
fn file(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn open(dir: &Path, name: &str) -> Result<File, String> {
    File::open(dir.join(name)).map_err(|e| format!("{}: {e}", file(dir, name)))
}

fn len(f: &File, dir: &Path, name: &str) -> Result<u64, String> {
    f.metadata().map(|m| m.len()).map_err(|e| format!("{}: {e}", file(dir, name)))
}

/// The header of `dir`, if it has one (a segment Chroma never persisted has none).
pub fn read_header(dir: &Path, dim: usize) -> Result<Option<Header>, String> {
    let path = dir.join("header.bin");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    Header::parse(&bytes, dim).map(Some).map_err(|m| format!("{} {m}", path.display()))
}

impl Segment {
    /// Open the segment in `dir` (whose header is `header`) and check it
    /// against its id map.
    pub fn open(dir: &Path, header: Header, cosine: bool) -> Result<Segment, String> {
        let pickle_path = dir.join("index_metadata.pickle");
        let bytes = std::fs::read(&pickle_path).map_err(|e| format!("{}: {e}", pickle_path.display()))?;
        let map = pickle::parse(&bytes).map_err(|m| format!("{}: {m}", pickle_path.display()))?;
        drop(bytes);
        if let Some(d) = map.dimensionality {
            if d != header.dim as u64 {
                return Err(format!("{} says dimension {d}, the collection has {}", pickle_path.display(), header.dim));
            }
        }
        let data = open(dir, "data_level0.bin")?;
        let need = header.elements * header.stride;
        let have = len(&data, dir, "data_level0.bin")?;
        if have < need {
            return Err(format!(
                "{} is truncated: {have} bytes, but header.bin lists {} records of {} bytes ({need} bytes)",
                file(dir, "data_level0.bin"),
                header.elements,
                header.stride
            ));
        }
        let lengths = if cosine {
            let f = open(dir, "length.bin")?;
            let (have, need) = (len(&f, dir, "length.bin")?, header.elements * 4);
            if have < need {
                return Err(format!("{} is truncated: {have} bytes for {} records ({need} bytes)", file(dir, "length.bin"), header.elements));
            }
            Some(f)
        } else {
            None
        };
        let slots = scan_labels(&data, &header, map.total_elements_added, dir)?;
        let mut seg = Segment { dir: dir.to_owned(), header, data, lengths, ids: map.id_to_label, max_seq_id: map.max_seq_id, slots };
        seg.data.seek(SeekFrom::Start(0)).map_err(|e| format!("{}: {e}", file(dir, "data_level0.bin")))?;
        if let Some((id, label)) = seg.ids.iter().find(|(_, &l)| seg.slot(l).is_none()) {
            return Err(format!(
                "{} maps id {id:?} to label {label}, which no live record of data_level0.bin has: the files do not belong together",
                pickle_path.display()
            ));
        }
        let live = seg.slots.iter().filter(|&&s| s != 0).count();
        if live != seg.ids.len() {
            return Err(format!(
                "data_level0.bin has {live} live records but {} maps {} ids: the files do not belong together",
                pickle_path.display(),
                seg.ids.len()
            ));
        }
        Ok(seg)
    }

    fn slot(&self, label: u32) -> Option<u64> {
        self.slots.get(label as usize).copied().filter(|&s| s != 0).map(|s| u64::from(s - 1))
    }

    /// Is `id` in the segment?
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// How many ids the segment holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The vector of `id` as Chroma's `get` returns it; `None` if the segment does not hold `id`.
    pub fn vector(&mut self, id: &str) -> Result<Option<Vec<f32>>, String> {
        let Some(&label) = self.ids.get(id) else { return Ok(None) };
        let n = self.slot(label).expect("checked at open");
        let h = &self.header;
        let mut rec = vec![0u8; h.stride as usize];
        let name = "data_level0.bin";
        self.data
            .seek(SeekFrom::Start(n * h.stride))
            .and_then(|_| self.data.read_exact(&mut rec))
            .map_err(|e| format!("{}: record {n}: {e}", file(&self.dir, name)))?;
        let stored = u64::from_le_bytes(rec[h.label_offset as usize..].try_into().expect("8 bytes"));
        if stored != u64::from(label) || rec[2] & DELETED != 0 {
            return Err(format!("{}: record {n} changed while it was read (another process writes the directory)", file(&self.dir, name)));
        }
        let mut v: Vec<f32> = rec[h.data_offset as usize..h.label_offset as usize]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        if let Some(lengths) = self.lengths.as_mut() {
            let sq: f32 = v.iter().map(|x| x * x).sum();
            if sq != 0.0 && !(0.99..=1.01).contains(&sq) {
                return Err(format!(
                    "{}: record {n} (id {id:?}) is not a unit vector (squared norm {sq}), although the collection's space is cosine \
                     and Chroma stores cosine vectors normalized: the segment does not match the collection's configuration",
                    file(&self.dir, name)
                ));
            }
            let mut b = [0u8; 4];
            lengths
                .seek(SeekFrom::Start(n * 4))
                .and_then(|_| lengths.read_exact(&mut b))
                .map_err(|e| format!("{}: record {n}: {e}", file(&self.dir, "length.bin")))?;
            let length = f32::from_le_bytes(b);
            for x in &mut v {
                *x *= length;
            }
        }
        Ok(Some(v))
    }
}

/// Label → record number + 1 for every record not marked deleted (one sequential pass).
fn scan_labels(data: &File, h: &Header, total_labels: u64, dir: &Path) -> Result<Vec<u32>, String> {
    let name = "data_level0.bin";
    if total_labels > u64::from(u32::MAX) || h.elements > u64::from(u32::MAX) {
        return Err(format!("{}: more than 2^32 labels or records", file(dir, name)));
    }
    let mut slots = vec![0u32; total_labels as usize + 1];
    let mut r = BufReader::with_capacity(1 << 20, data);
    let mut rec = vec![0u8; h.stride as usize];
    for n in 0..h.elements {
        r.read_exact(&mut rec).map_err(|e| format!("{}: record {n}: {e}", file(dir, name)))?;
        if rec[2] & DELETED != 0 {
            continue;
        }
        let label = u64::from_le_bytes(rec[h.label_offset as usize..].try_into().expect("8 bytes"));
        let slot = usize::try_from(label).ok().filter(|&l| l >= 1 && l < slots.len()).ok_or_else(|| {
            format!(
                "{}: record {n} has label {label}, outside 1..={total_labels} (index_metadata.pickle's total_elements_added): \
                 the files do not belong together",
                file(dir, name)
            )
        })?;
        if slots[slot] != 0 {
            return Err(format!("{}: records {} and {n} both hold label {label}: the segment is corrupt", file(dir, name), slots[slot] - 1));
        }
        slots[slot] = n as u32 + 1;
    }
    Ok(slots)
}

/// What Chroma's `get` returns for a vector written to a cosine collection:
/// its hnswlib normalizes on insert (squared norm summed in order in f32,
/// `length = sqrtf(sum)`, `unit = x * (1 / (length + 1e-30))`) and keeps
/// `length`; `get` multiplies back. Applied to vectors still in the log, so
/// they come out exactly as they will once Chroma indexes them (checked
/// against Chroma 1.5.9 for dimensions 3 to 768).
pub fn cosine_roundtrip(v: &mut [f32]) {
    let mut sum = 0.0f32;
    for x in v.iter() {
        sum += x * x;
    }
    let length = sum.sqrt();
    let inv = 1.0f32 / (length + 1e-30f32);
    for x in v.iter_mut() {
        *x = (*x * inv) * length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(dim: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(1i32.to_le_bytes());
        let max_m0 = 24u64;
        let data = 4 + 4 * max_m0;
        let label = data + 4 * dim;
        for v in [0, 1024, 1000, label + 8, label, data] {
            b.extend(v.to_le_bytes());
        }
        b.extend(3i32.to_le_bytes());
        b.extend(140u32.to_le_bytes());
        for v in [12u64, max_m0, 12] {
            b.extend(v.to_le_bytes());
        }
        b.extend(0.4f64.to_le_bytes());
        b.extend(80u64.to_le_bytes());
        b
    }

    #[test]
    fn parses_and_checks_headers() {
        // The header Chroma 1.5.9 wrote for 1000 8-dimensional vectors, M 12, ef_construction 80.
        let h = Header::parse(&header(8), 8).unwrap();
        assert_eq!((h.elements, h.stride, h.label_offset, h.data_offset, h.m, h.ef_construction), (1000, 140, 132, 100, 12, 80));
        assert!(Header::parse(&header(8), 16).unwrap_err().contains("quantized or different-dimension"));
        let mut b = header(8);
        b[0] = 2;
        assert!(Header::parse(&b, 8).unwrap_err().contains("persistence version 2"));
        assert!(Header::parse(&b[..60], 8).unwrap_err().contains("60 bytes"));
    }

    #[test]
    fn cosine_roundtrip_matches_chroma() {
        // Chroma 1.5.9 returned [-0.46900004, -0.452, …] for [-0.469, -0.452, …] (cosine, dim 8).
        let mut v: Vec<f32> = (0..8).map(|j| (((31 + j * 17) % 1000) as f64 / 1000.0 - 0.5) as f32).collect();
        cosine_roundtrip(&mut v);
        assert_eq!(v, [-0.46900004, -0.452, -0.43500003, -0.418, -0.40100002, -0.384, -0.36700004, -0.35]);
        let mut zero = vec![0.0f32; 4];
        cosine_roundtrip(&mut zero);
        assert_eq!(zero, vec![0.0; 4]);
    }
}
