//! Integration tests: the real binary against a real PostgreSQL + pgvector
//! (started by `scripts/setup.sh`) and embedded VelesDB.

mod chroma;
mod common;
mod errors;
mod milvus;
mod multi;
mod objstore;
mod qdrant;
mod resume;
mod rest;
mod roundtrip;
mod snapshot_files;
mod supabase;
mod weaviate;
