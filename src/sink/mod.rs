//! Destinations. Embedded VelesDB (a local data directory through
//! velesdb-core) is the one implemented; a `velesdb-server` REST sink is
//! tracked separately.

pub mod embedded;
pub mod repair;
