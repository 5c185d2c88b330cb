//! Sources: the databases we export from. One file per source; adding a
//! source means one file, one `SourceArgs` arm and one `match` arm below.
//!
//! Contract: for the same cursor, `next_page` returns the same records in the
//! same (ascending id) order, so a resumed export re-reads at most the chunk
//! that was in flight and produces byte-identical chunks.

pub mod chroma;
pub mod chroma_dir;
pub mod http;
pub mod milvus;
mod milvus_pb;
pub mod pgbinary;
pub mod pgvector;
pub mod pinecone;
pub mod qdrant;
pub mod supabase;
pub mod weaviate;

use crate::error::Result;
use crate::model::{CollectionSchema, Cursor, Record};
use std::collections::BTreeMap;
use std::future::Future;

/// What a source says about the collection before the first page.
#[derive(Clone, Debug)]
pub struct Description {
    /// Name of the collection inside the snapshot.
    pub name: String,
    /// Fully qualified source name (`public.items`).
    pub source_name: String,
    pub schema: CollectionSchema,
    /// Source-native filter, recorded in the manifest.
    pub filter: Option<String>,
    /// Row count (estimate) for progress.
    pub count_estimate: Option<u64>,
    /// The count is exact and must not change while the export runs or
    /// between a run and its resume (offset-paged sources).
    pub count_exact: bool,
    /// The count comes from planner statistics (PostgreSQL's `reltuples`),
    /// which change without the data changing (ANALYZE, autovacuum): shown
    /// in progress only, never recorded in the manifest, so two exports of
    /// unchanged data give the same manifest.
    pub count_is_statistic: bool,
    /// Informational notes to print (choices made during discovery).
    pub notes: Vec<String>,
}

/// One page of records and the cursor that follows it.
pub struct Page {
    pub records: Vec<Record>,
    /// Cursor after the last record of this page; `None` when the source is exhausted.
    pub next: Option<Cursor>,
}

/// A vector database we can read from.
pub trait Source: Send {
    /// `pgvector`, `qdrant`, ...
    fn kind(&self) -> &'static str;
    /// Server address without credentials (for the manifest and messages).
    fn address(&self) -> String;
    /// The options that shape the export (no secrets); a resume must match them.
    fn options(&self) -> serde_json::Value;
    /// Inspect the collection: ids, vectors, metadata, metric, index.
    fn describe(&mut self) -> impl Future<Output = Result<Description>> + Send;
    /// Up to `limit` records after `cursor`, in ascending id order.
    fn next_page(&mut self, cursor: &Cursor, limit: usize) -> impl Future<Output = Result<Page>> + Send;
    /// What the reading met so far (retries, records that vanished), for the summary.
    fn report(&self) -> ReadReport {
        ReadReport::default()
    }
}

/// What a source met while reading.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ReadReport {
    /// Requests retried, by cause (`http_429`, `http_5xx`, `connection`, `timeout`).
    pub retries: BTreeMap<String, u64>,
    /// Records listed but gone when read (deleted while the export ran).
    pub missing: u64,
    /// What to tell the user about it.
    pub notes: Vec<String>,
}

/// Redact the password (and any `password=` query parameter) of a URL.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(p) => p,
        None => return url.to_owned(),
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts() {
        assert_eq!(redact_url("postgres://u:s3cr%40t@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db?sslmode=require&password=x"), "postgres://u@h/db?sslmode=require&password=***");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}

/// One table or collection found by `discover`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Discovered {
    /// Schema (PostgreSQL) or tenant/database (Chroma); empty when the source has none.
    pub schema: String,
    pub table: String,
    /// Row count (estimate for PostgreSQL), when known.
    pub rows_estimate: Option<u64>,
    /// What an export would record, when it can be exported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<CollectionSchema>,
    /// Why it cannot be exported as it is (and the fix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The source's own state of it, when it has one (a Weaviate tenant's
    /// activity status: ACTIVE, INACTIVE, OFFLOADED, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A flag the export needs beyond the connection, and why (a pod-based
    /// Pinecone index: `--ids-file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<String>,
    /// What the export would say about it (choices made while describing it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Discovered {
    /// Describe one collection with `source`.
    pub async fn of<S: Source>(source: &mut S, schema: String, table: String) -> Discovered {
        match source.describe().await {
            Ok(d) => Discovered { rows_estimate: d.count_estimate, collection: Some(d.schema), notes: d.notes, ..Discovered::new(schema, table) },
            Err(e) => Discovered::refused(schema, table, e.to_string()),
        }
    }

    /// Nothing known yet about `schema`.`table`.
    pub fn new(schema: String, table: String) -> Discovered {
        Discovered { schema, table, rows_estimate: None, collection: None, problem: None, status: None, needs: None, notes: Vec::new() }
    }

    /// `schema`.`table` cannot be exported as it is, because of `problem`.
    pub fn refused(schema: String, table: String, problem: String) -> Discovered {
        Discovered { problem: Some(problem), ..Discovered::new(schema, table) }
    }
}

/// Declares [`AnySource`], one variant per source type, delegating the
/// [`Source`] trait to the variant it holds.
macro_rules! any_source {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// Any source, so that export and migrate handle them alike.
        pub enum AnySource {
            $($variant($ty)),*
        }

        $(impl From<$ty> for AnySource {
            fn from(s: $ty) -> AnySource {
                AnySource::$variant(s)
            }
        })*

        impl Source for AnySource {
            fn kind(&self) -> &'static str {
                match self { $(AnySource::$variant(s) => s.kind()),* }
            }
            fn address(&self) -> String {
                match self { $(AnySource::$variant(s) => s.address()),* }
            }
            fn options(&self) -> serde_json::Value {
                match self { $(AnySource::$variant(s) => s.options()),* }
            }
            async fn describe(&mut self) -> Result<Description> {
                match self { $(AnySource::$variant(s) => s.describe().await),* }
            }
            async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
                match self { $(AnySource::$variant(s) => s.next_page(cursor, limit).await),* }
            }
            fn report(&self) -> ReadReport {
                match self { $(AnySource::$variant(s) => s.report()),* }
            }
        }
    };
}

any_source! {
    Pgvector(pgvector::Pgvector),
    Chroma(chroma::Chroma),
    ChromaDir(chroma_dir::ChromaDir),
    Qdrant(qdrant::Qdrant),
    Milvus(milvus::Milvus),
    Weaviate(weaviate::Weaviate),
    Pinecone(pinecone::Pinecone),
}

/// `--all` and `--strict`, for the sources whose collections `discover` lists.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct AllArgs {
    /// Export every table or collection that `discover` lists, each into its
    /// own snapshot collection (named as a single export would name it).
    #[arg(long)]
    pub all: bool,
    /// With --all: refuse to export anything when one of them cannot be
    /// exported (default: leave it out with a warning).
    #[arg(long)]
    pub strict: bool,
}

impl AllArgs {
    /// `--strict` means something only with `--all` (clap's `requires` is
    /// satisfied by the flag's default value, so this is checked here).
    pub fn check(&self) -> Result<()> {
        if self.strict && !self.all {
            return Err(crate::Error::Usage("--strict applies to --all only; add --all, or drop --strict".into()));
        }
        Ok(())
    }
}

/// `--all` for sources named by one collection: connect to every exportable
/// collection that `found` lists (`connect(name)`); the rest are left out.
pub fn connect_each<S>(found: Vec<Discovered>, connect: impl Fn(String) -> Result<S>) -> Result<(Vec<S>, Vec<Skipped>)> {
    let (ok, skipped) = exportable(found, |d| d.table.clone());
    Ok((ok.into_iter().map(|d| connect(d.table)).collect::<Result<_>>()?, skipped))
}

/// A collection that `--all` leaves out, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Skipped {
    /// The snapshot collection name it would have had.
    pub collection: String,
    /// Where it is in the source (`schema.table`, `tenant/database/name`, …).
    pub source_name: String,
    pub problem: String,
}

/// `--all`: the discovered collections that can be exported, and the others
/// with the reason: a problem found by discovery, a snapshot collection name
/// that breaks the name rule, or a name that two collections would share
/// (then both are left out: neither choice would be obvious).
pub fn exportable(found: Vec<Discovered>, name_of: impl Fn(&Discovered) -> String) -> (Vec<Discovered>, Vec<Skipped>) {
    let names: Vec<String> = found.iter().map(&name_of).collect();
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for (d, name) in found.into_iter().zip(&names) {
        let source_name = if d.schema.is_empty() { d.table.clone() } else { format!("{}.{}", d.schema, d.table) };
        let problem = if let Some(p) = &d.problem {
            Some(p.clone())
        } else if !crate::snapshot::manifest::valid_collection_name(name) {
            Some(format!(
                "its snapshot collection name {name:?} is not allowed (ASCII letters, digits, `_`, `-`, `.`; at most 200 bytes); export it alone after renaming it"
            ))
        } else if names.iter().filter(|n| *n == name).count() > 1 {
            Some(format!("another collection of the source would also be called {name:?} in the snapshot; export them separately"))
        } else {
            None
        };
        match problem {
            Some(problem) => skipped.push(Skipped { collection: name.clone(), source_name, problem }),
            None => ok.push(d),
        }
    }
    (ok, skipped)
}
