//! `manifest.json`: what a snapshot holds and how far the export got.

use super::{fsutil, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE};
use crate::error::{Error, Result};
use crate::model::{CollectionSchema, Cursor};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole manifest (format v1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `velesdb-migrate-snapshot`.
    pub format: String,
    /// Format version (1).
    pub format_version: u32,
    /// Version of the tool that last wrote this manifest.
    pub tool_version: String,
    /// When the export started (RFC 3339 UTC).
    pub created_at: String,
    /// When this manifest was last written.
    pub updated_at: String,
    /// Where the data came from (no secrets).
    pub source: SourceInfo,
    /// One entry per exported collection/table.
    pub collections: Vec<CollectionEntry>,
    /// True once every collection is complete.
    pub complete: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// `pgvector`, `qdrant`, ...
    pub kind: String,
    /// Server address with credentials removed.
    pub address: String,
    /// The export options that shape the chunks (no secrets). A resumed
    /// export must present the same options.
    pub options: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionEntry {
    /// Name inside the snapshot (also the chunk directory name).
    pub name: String,
    /// Fully qualified name in the source (`public.items`).
    pub source_name: String,
    pub schema: CollectionSchema,
    /// Source-native filter applied to the export, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Maximum rows per chunk.
    pub chunk_rows: u64,
    /// Rows the source reported before the export started (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_count: Option<u64>,
    pub chunks: Vec<ChunkEntry>,
    pub totals: Totals,
    /// True once the source was read to the end.
    pub complete: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub rows: u64,
    pub bytes: u64,
    pub chunks: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkEntry {
    /// 0-based sequence number within the collection.
    pub seq: u64,
    /// Path relative to the snapshot directory (`chunks/items/000000.parquet`).
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// blake3 of the whole file, lowercase hex.
    pub blake3: String,
    /// First and last id in the chunk (chunks are in ascending id order).
    pub first_id: serde_json::Value,
    pub last_id: serde_json::Value,
    /// Source cursor that resumes right after this chunk.
    pub cursor: Cursor,
}

impl Manifest {
    pub fn new(source: SourceInfo) -> Manifest {
        let now = fsutil::now_rfc3339();
        Manifest {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: now.clone(),
            updated_at: now,
            source,
            collections: Vec::new(),
            complete: false,
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_FILE)
    }

    /// Load and check the manifest of the snapshot in `dir`.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = Self::path(dir);
        let bytes = std::fs::read(&path).map_err(|e| Error::Manifest {
            path: path.clone(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{} is not a snapshot (no {MANIFEST_FILE}); check the path, or run `velesdb-migrate export` into it first", dir.display())
            } else {
                format!("cannot read: {e}")
            },
        })?;
        Self::from_bytes(&path, &bytes)
    }

    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Manifest> {
        let bad = |message: String| Error::Manifest {
            path: path.to_owned(),
            message,
        };
        // Look at the version first so a newer format gets a clear message
        // rather than a field-level parse error.
        let raw: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not valid JSON ({e}); the file is corrupted: re-export, or restore it from a copy")))?;
        if raw.get("format").and_then(|v| v.as_str()) != Some(FORMAT_NAME) {
            return Err(bad(format!("not a {FORMAT_NAME} manifest (field `format` missing or different)")));
        }
        match raw.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "format version {v} is not supported by this tool (it reads version {FORMAT_VERSION}); use a matching velesdb-migrate release"
                )))
            }
            None => return Err(bad("field `format_version` is missing or not an integer".into())),
        }
        let m: Manifest = serde_json::from_value(raw).map_err(|e| bad(format!("invalid manifest: {e}")))?;
        m.check().map_err(bad)?;
        Ok(m)
    }

    /// Internal consistency: totals add up, chunk files are where they should be.
    fn check(&self) -> std::result::Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for c in &self.collections {
            if !names.insert(c.name.as_str()) {
                return Err(format!("collection {} is listed twice", c.name));
            }
        }
        if self.complete != self.collections.iter().all(|c| c.complete) {
            return Err("the top-level `complete` flag disagrees with the collections'".into());
        }
        for c in &self.collections {
            if !valid_collection_name(&c.name) {
                return Err(format!("collection name {:?} is not allowed", c.name));
            }
            let rows: u64 = c.chunks.iter().map(|k| k.rows).sum();
            let bytes: u64 = c.chunks.iter().map(|k| k.bytes).sum();
            if rows != c.totals.rows || bytes != c.totals.bytes || c.chunks.len() as u64 != c.totals.chunks {
                return Err(format!("totals of collection {} do not add up to its chunks", c.name));
            }
            for (i, k) in c.chunks.iter().enumerate() {
                if k.seq != i as u64 || k.file != chunk_file(&c.name, k.seq) {
                    return Err(format!("chunk list of collection {} is out of order at entry {i}", c.name));
                }
            }
        }
        Ok(())
    }

    /// Write the manifest atomically into `dir`.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        self.updated_at = fsutil::now_rfc3339();
        self.tool_version = env!("CARGO_PKG_VERSION").to_owned();
        let mut bytes = serde_json::to_vec_pretty(self).expect("manifest serializes");
        bytes.push(b'\n');
        fsutil::write_atomic(&Self::path(dir), &bytes)
    }

    pub fn collection(&self, name: &str) -> Option<&CollectionEntry> {
        self.collections.iter().find(|c| c.name == name)
    }

}

impl CollectionEntry {
    pub fn push_chunk(&mut self, entry: ChunkEntry) {
        self.totals.rows += entry.rows;
        self.totals.bytes += entry.bytes;
        self.totals.chunks += 1;
        self.chunks.push(entry);
    }

    /// Cursor to resume from: after the last committed chunk.
    pub fn resume_cursor(&self) -> Cursor {
        self.chunks.last().map(|c| c.cursor.clone()).unwrap_or(Cursor::Start)
    }
}

/// Relative path of chunk `seq` of `collection`.
pub fn chunk_file(collection: &str, seq: u64) -> String {
    format!("chunks/{collection}/{seq:06}.parquet")
}

/// Collection names become directory names: keep them portable.
pub fn valid_collection_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_collection_name("public.items"));
        assert!(valid_collection_name("a-b_c"));
        assert!(!valid_collection_name("../x"));
        assert!(!valid_collection_name(".hidden"));
        assert!(!valid_collection_name("a/b"));
        assert_eq!(chunk_file("t", 7), "chunks/t/000007.parquet");
    }

    #[test]
    fn rejects_other_versions() {
        let p = Path::new("m.json");
        let e = Manifest::from_bytes(p, br#"{"format":"velesdb-migrate-snapshot","format_version":9}"#).unwrap_err();
        assert!(e.to_string().contains("version 9 is not supported"), "{e}");
        let e = Manifest::from_bytes(p, b"{not json").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }
}
