//! Embedded VelesDB: a local data directory opened with velesdb-core.

use super::{CollectionPlan, Sink};
use crate::error::{Error, Result};
use crate::model::Metric;
use std::path::Path;
use velesdb_core::{Database, DistanceMetric, Point, StorageMode, VectorCollection};

pub struct Embedded {
    pub db: Database,
    pub dest: String,
    dir: std::path::PathBuf,
}

/// `--storage-mode` spelling → velesdb-core (the REST API's names).
pub fn storage_mode(s: &str) -> Option<StorageMode> {
    Some(match s {
        "full" | "f32" => StorageMode::Full,
        "sq8" | "int8" => StorageMode::SQ8,
        "binary" | "bit" => StorageMode::Binary,
        "pq" | "product_quantization" => StorageMode::ProductQuantization,
        "rabitq" => StorageMode::RaBitQ,
        _ => return None,
    })
}

pub fn velesdb_metric(m: Metric) -> Option<DistanceMetric> {
    match m {
        Metric::Cosine => Some(DistanceMetric::Cosine),
        Metric::L2 => Some(DistanceMetric::Euclidean),
        Metric::Dot => Some(DistanceMetric::DotProduct),
        Metric::Hamming => Some(DistanceMetric::Hamming),
        Metric::Jaccard => Some(DistanceMetric::Jaccard),
        Metric::L1 => None,
    }
}

impl Embedded {
    pub fn open(dir: &Path) -> Result<Embedded> {
        let dest = dir.display().to_string();
        let db = Database::open(dir).map_err(|e| {
            let msg = e.to_string();
            let hint = if msg.contains("VELES-031") || msg.contains("already opened") {
                "; another process (a velesdb-server or another import) has this data directory open: stop it first, or import into a running server over REST"
            } else {
                ""
            };
            Error::Sink { dest: dest.clone(), collection: String::new(), message: format!("cannot open the data directory: {msg}{hint}") }
        })?;
        Ok(Embedded { db, dest, dir: dir.to_owned() })
    }

    fn err(&self, collection: &str, message: String) -> Error {
        Error::Sink { dest: self.dest.clone(), collection: collection.to_owned(), message }
    }

    /// The collection if it exists.
    pub fn existing(&self, name: &str) -> Option<VectorCollection> {
        self.db.get_vector_collection(name)
    }

    /// Open the collection, creating it from `plan` when missing; refuse
    /// when an existing one disagrees on dimension or metric.
    /// Returns the collection and whether it was created now.
    pub fn ensure(&self, plan: &CollectionPlan) -> Result<(VectorCollection, bool)> {
        let metric = velesdb_metric(plan.metric).ok_or_else(|| {
            self.err(&plan.name, format!("metric {} has no VelesDB equivalent; pass --metric cosine|l2|dot", plan.metric))
        })?;
        if let Some(c) = self.existing(&plan.name) {
            let cfg = c.config();
            if cfg.dimension != plan.dimension || cfg.metric != metric {
                return Err(self.err(
                    &plan.name,
                    format!(
                        "the collection exists with dimension {} and metric {:?}, but the snapshot needs dimension {} and metric {}; \
                         import into another --collection, or delete the existing one",
                        cfg.dimension, cfg.metric, plan.dimension, plan.metric
                    ),
                ));
            }
            return Ok((c, false));
        }
        if self.db.list_collections().iter().any(|n| n == &plan.name) {
            return Err(self.err(&plan.name, "a collection of another type (graph or metadata-only) has this name; choose another --collection".into()));
        }
        // A directory VelesDB did not load as a collection. Without a
        // config.json it is the remains of a creation that was killed
        // midway (VelesDB skips such directories): clear it and create
        // again. With one, VelesDB failed to load it: leave it alone.
        let leftover = self.dir.join(&plan.name);
        if leftover.is_dir() {
            if leftover.join("config.json").exists() {
                return Err(self.err(
                    &plan.name,
                    format!("{} exists but VelesDB could not load it as a collection; inspect or remove it, or choose another --collection", leftover.display()),
                ));
            }
            std::fs::remove_dir_all(&leftover)
                .map_err(|e| self.err(&plan.name, format!("cannot remove the half-created collection {}: {e}", leftover.display())))?;
        }
        self.db
            .create_vector_collection_with_hnsw(
                &plan.name,
                plan.dimension,
                metric,
                storage_mode(&plan.storage_mode).ok_or_else(|| self.err(&plan.name, format!("unknown storage mode {}", plan.storage_mode)))?,
                plan.hnsw_m.map(|v| v as usize),
                plan.hnsw_ef_construction.map(|v| v as usize),
            )
            .map_err(|e| self.err(&plan.name, format!("cannot create the collection: {e}")))?;
        let c = self.existing(&plan.name).ok_or_else(|| self.err(&plan.name, "collection vanished after creation".into()))?;
        Ok((c, true))
    }
}

/// One collection of an open embedded database: the [`Sink`] used by
/// import and validate.
pub struct EmbeddedCollection {
    // Keeps the data directory open (and locked) while the collection is used.
    _db: Database,
    coll: VectorCollection,
    dest: String,
    name: String,
    /// Points per `upsert_bulk` call.
    batch_size: usize,
}

impl Embedded {
    /// The collection `name` for writing: created from `plan` when missing.
    /// Returns it, whether it was created, and how many points it held.
    pub fn into_collection(self, plan: &CollectionPlan, batch_size: usize) -> Result<(EmbeddedCollection, bool, u64)> {
        let before = self.existing(&plan.name).map(|c| c.len() as u64).unwrap_or(0);
        let (coll, created) = self.ensure(plan)?;
        let c = EmbeddedCollection { dest: self.dest.clone(), name: plan.name.clone(), coll, batch_size: batch_size.max(1), _db: self.db };
        Ok((c, created, before))
    }

    /// Open a data directory that must already exist (validate, dry runs).
    pub fn open_existing_dir(dir: &Path) -> Result<Embedded> {
        if !dir.is_dir() {
            return Err(Error::Sink {
                dest: dir.display().to_string(),
                collection: String::new(),
                message: "the data directory does not exist; check --to".into(),
            });
        }
        Embedded::open(dir)
    }

    /// An existing collection, for reading back.
    pub fn into_existing(self, name: &str) -> Result<EmbeddedCollection> {
        let coll = self.existing(name).ok_or_else(|| {
            self.err(name, "the collection does not exist; check --collection, or run the import first".into())
        })?;
        Ok(EmbeddedCollection { dest: self.dest.clone(), name: name.to_owned(), coll, batch_size: 1000, _db: self.db })
    }
}

impl EmbeddedCollection {
    fn err(&self, message: String) -> Error {
        Error::Sink { dest: self.dest.clone(), collection: self.name.clone(), message }
    }
}

impl Sink for EmbeddedCollection {
    fn dest(&self) -> &str {
        &self.dest
    }
    fn count(&self) -> Result<u64> {
        Ok(self.coll.len() as u64)
    }
    fn upsert(&self, points: &[Point], chunk: &str) -> Result<()> {
        for batch in points.chunks(self.batch_size) {
            self.coll
                .upsert_bulk(batch)
                .map_err(|e| self.err(format!("upsert of chunk {chunk} failed: {e}; re-run the same import to resume")))?;
        }
        Ok(())
    }
    fn flush(&self) -> Result<()> {
        self.coll.flush().map_err(|e| self.err(format!("flush failed: {e}; re-run the same import to resume")))
    }
    fn finish(&self) -> Result<()> {
        self.coll.flush_full().map_err(|e| self.err(format!("final flush failed: {e}; re-run the same import")))
    }
    fn get(&self, ids: &[u64]) -> Result<Vec<Option<Point>>> {
        Ok(self.coll.get(ids))
    }
}
