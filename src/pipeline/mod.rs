//! The pipelines: export (source → snapshot), import (snapshot →
//! VelesDB), validate (VelesDB vs snapshot) and diff (snapshot vs snapshot).

pub mod diff;
pub mod export;
pub mod import;
pub mod mapping;
pub mod migrate;
pub mod publish;
pub mod spill;
pub mod validate;
