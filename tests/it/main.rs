//! Integration tests: the real binary against a real PostgreSQL + pgvector
//! (started by `scripts/setup.sh`) and embedded VelesDB.

mod api;
mod chroma;
mod chroma_dir;
mod common;
mod config;
mod discover;
mod docs;
mod errors;
mod interactive;
mod migrate;
mod milvus;
mod multi;
mod objstore;
mod pinecone;
mod qdrant;
mod resume;
mod rest;
mod roundtrip;
mod snapshot_files;
mod supabase;
mod weaviate;
