//! velesdb-migrate: move vector data out of other vector databases and into
//! VelesDB through verifiable, resumable Parquet snapshots.
//!
//! The binary is a thin layer over this library: [`pipeline::export`],
//! [`pipeline::import`], [`pipeline::validate`] and [`snapshot::verify`].

pub mod cli;
pub mod config;
pub mod error;
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
