//! The snapshot format, v1 (specified in `formats/`).
//!
//! A snapshot is a directory holding `manifest.json` and
//! `chunks/<collection>/<NNNNNN>.parquet`. Crash-safety rule: a chunk exists
//! only once the manifest lists it. Chunks are written to a temporary name,
//! fsynced and renamed; then the manifest is rewritten atomically (temp,
//! fsync, rename, fsync of the directory). Files that the manifest does not
//! list are leftovers of an interrupted run and are removed on resume.

pub mod archive;
pub mod chunk;
pub mod fsutil;
pub mod manifest;
pub mod store;
pub mod verify;

pub use chunk::{decode_chunk, encode_chunk, prepare_chunk, read_chunk_verified, store_chunk, write_chunk, EncodedChunk};
pub use manifest::{ChunkEntry, CollectionEntry, Manifest, SourceInfo, Totals};
pub use store::Location;

/// Format identifier written in every manifest.
pub const FORMAT_NAME: &str = "velesdb-migrate-snapshot";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest file inside a snapshot directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Directory (inside the snapshot) holding import journals; ignored by `verify`.
pub const JOURNAL_DIR: &str = ".imports";
