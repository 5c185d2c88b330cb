//! Destinations: embedded VelesDB (a local data directory opened with
//! velesdb-core) and a running `velesdb-server` over REST. Import and
//! validate see both through the [`Sink`] trait.

pub mod embedded;
pub mod repair;
pub mod rest;

use crate::error::Result;
use crate::model::Metric;
use std::path::PathBuf;
use velesdb_core::Point;

/// Collection settings derived from the snapshot and the user's overrides.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CollectionPlan {
    pub name: String,
    pub dimension: usize,
    pub metric: Metric,
    pub hnsw_m: Option<u32>,
    pub hnsw_ef_construction: Option<u32>,
    /// VelesDB storage mode: full, sq8, binary, pq, rabitq.
    pub storage_mode: String,
    /// Why these settings (printed to the user).
    pub reasons: Vec<String>,
}

/// One VelesDB collection, open for writing or reading back.
pub trait Sink: Sync {
    /// Where the data goes, for messages (no secrets).
    fn dest(&self) -> &str;
    /// Points in the collection now.
    fn count(&self) -> Result<u64>;
    /// Upsert points (idempotent by id); durable when this returns.
    fn upsert(&self, points: &[Point], chunk: &str) -> Result<()>;
    /// Cheap durability point after a chunk.
    fn flush(&self) -> Result<()>;
    /// Final flush at the end of an import.
    fn finish(&self) -> Result<()>;
    /// Points by id (`None` when absent), in the order asked.
    fn get(&self, ids: &[u64]) -> Result<Vec<Option<Point>>>;
    /// Retries made so far, by category (REST only).
    fn retries(&self) -> std::collections::BTreeMap<String, u64> {
        Default::default()
    }
}

/// Where `--to` points.
#[derive(Clone, Debug)]
pub enum Destination {
    Embedded(PathBuf),
    Rest(rest::RestOptions),
}

impl Destination {
    pub fn parse(to: &str, rest: &rest::RestArgs) -> Result<Destination> {
        if to.starts_with("http://") || to.starts_with("https://") {
            Ok(Destination::Rest(rest.options(to)?))
        } else {
            Ok(Destination::Embedded(PathBuf::from(to)))
        }
    }

    /// Stable identity for import journals.
    pub fn key(&self) -> String {
        match self {
            Destination::Embedded(dir) => stable_path(dir).display().to_string(),
            Destination::Rest(o) => o.base.clone(),
        }
    }
}

/// `p` canonicalized; for a directory not created yet, its nearest existing
/// ancestor canonicalized plus the rest, so the key is the same before and
/// after the first import creates it (a relative `--to ./db` otherwise gave
/// the first run's journal another key, and a re-run imported everything again).
fn stable_path(p: &std::path::Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() { std::path::Path::new(".") } else { parent };
            stable_path(parent).join(name)
        }
        _ => p.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_key_is_the_same_before_and_after_the_directory_exists() {
        // Through a symlink, as `./db` goes through the working directory.
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, base.path().join("link")).unwrap();
        let dest = Destination::Embedded(base.path().join("link/db/inner"));
        let before = dest.key();
        std::fs::create_dir_all(real.join("db/inner")).unwrap();
        assert_eq!(before, dest.key());
        assert_eq!(before, std::fs::canonicalize(&real).unwrap().join("db/inner").display().to_string());
    }
}
