//! velesdb-migrate: move vector data out of other vector databases and into
//! VelesDB through verifiable, resumable Parquet snapshots.
//!
//! For most programs, [`api`] is the place to start: a [`api::Migrator`]
//! estimates, exports, imports, validates and verifies, with a progress
//! callback and one [`api::Report`] shape (rows, failures, duration, success
//! rate, errors, and the full summary).
//!
//! The binary is a thin layer over this library: [`pipeline::export`],
//! [`pipeline::import`], [`pipeline::validate`], [`pipeline::migrate`],
//! [`pipeline::diff`] and [`snapshot::verify`]. Each takes an options struct
//! and returns a result struct (counts, bytes, seconds, throughput, peak
//! memory, latency quantiles, retries), with progress and notes going to
//! an [`progress::Output`]; errors are [`Error`] values with a stable code
//! ([`Error::code`]).
//!
//! Check a snapshot, import it into an embedded VelesDB directory and
//! compare the two (this runs in the tests against a committed fixture):
//!
//! ```
//! use velesdb_migrate::pipeline::{import, validate};
//! use velesdb_migrate::progress::Output;
//! use velesdb_migrate::sink::Destination;
//! use velesdb_migrate::snapshot::{verify, Location};
//!
//! let snapshot = std::path::Path::new("fixtures/snapshots/ok-small");
//! let report = verify::verify(snapshot)?;
//! assert!(report.ok());
//!
//! let data = std::env::temp_dir().join(format!("velesdb-doc-{}", std::process::id()));
//! let quiet = Output { quiet: true, ..Default::default() };
//! let mut opts = import::ImportOptions::new(Location::Dir(snapshot.into()), Destination::Embedded(data.join("db")), "docs");
//! // The journal goes next to the data, not into the (read-only) snapshot.
//! opts.journal_dir = Some(data.join("journals"));
//! let summary = import::run(opts.clone(), &quiet)?;
//! assert_eq!(summary.collection_count, 20);
//!
//! let check = validate::ValidateOptions {
//!     snapshot: opts.snapshot,
//!     to: opts.to,
//!     collection: "docs".into(),
//!     sample: 0,
//!     strict: true,
//!     parallelism: 1,
//!     mapping: Default::default(),
//! };
//! assert!(validate::run(check, &quiet)?.ok);
//! # std::fs::remove_dir_all(&data).ok();
//! # Ok::<(), velesdb_migrate::Error>(())
//! ```

pub mod api;
pub mod cli;
pub mod config;
pub mod discover;
pub mod error;
pub mod interactive;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod runlog;
pub mod sink;
pub mod snapshot;
pub mod sources;
pub mod util;

pub use error::{Error, Result};
