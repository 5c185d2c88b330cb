//! The three pipelines: export (source → snapshot), import (snapshot →
//! VelesDB) and validate (VelesDB vs snapshot).

pub mod export;
pub mod import;
pub mod mapping;
pub mod migrate;
pub mod publish;
pub mod validate;
