//! Embedded VelesDB: a local data directory opened with velesdb-core.

use crate::error::{Error, Result};
use crate::model::Metric;
use std::path::Path;
use velesdb_core::{Database, DistanceMetric, StorageMode, VectorCollection};

pub struct Embedded {
    pub db: Database,
    pub dest: String,
    dir: std::path::PathBuf,
}

/// Collection settings derived from the snapshot and the user's overrides.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CollectionPlan {
    pub name: String,
    pub dimension: usize,
    pub metric: Metric,
    pub hnsw_m: Option<u32>,
    pub hnsw_ef_construction: Option<u32>,
    /// Why these settings (printed to the user).
    pub reasons: Vec<String>,
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
                StorageMode::Full,
                plan.hnsw_m.map(|v| v as usize),
                plan.hnsw_ef_construction.map(|v| v as usize),
            )
            .map_err(|e| self.err(&plan.name, format!("cannot create the collection: {e}")))?;
        let c = self.existing(&plan.name).ok_or_else(|| self.err(&plan.name, "collection vanished after creation".into()))?;
        Ok((c, true))
    }
}
