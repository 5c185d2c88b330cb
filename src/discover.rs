//! `velesdb-migrate discover <source>`: list what a source holds, each
//! table, collection, class, tenant or namespace described exactly as an
//! export would record it (the sources' own describe code) or with the reason
//! it cannot be exported as it is; and with `--emit-config FILE`, write a
//! ready-to-run `export <source>` config for it.
//!
//! The connection flags are the export's (same names, defaults and
//! environment variables), so a discover command line turns into an export
//! command line by swapping the verb and naming what to export.
//!
//! What the emitted config exports:
//! - one exportable collection: that one (`table:`/`collection:`);
//! - several, for sources with `--all` (pgvector, Supabase, Chroma, Qdrant,
//!   Milvus): `all: true`, each into its own snapshot collection. `--all`
//!   exports exactly what discover lists as exportable (the same code decides),
//!   leaves the rest out with a warning, and records the list, so a resume
//!   refuses if the source changed in between;
//! - Weaviate (no `--all`): the first class that can be exported, with every
//!   active tenant of a multi-tenant class (`all-tenants`,
//!   `skip-inactive-tenants` when some are inactive); the other classes are
//!   listed in the comments;
//! - Pinecone (no `--all`): the first index that can be listed (serverless),
//!   with every namespace; the other indexes in the comments. When only
//!   pod-based indexes exist, the first one with `ids-file: ./ids.txt`.
//!
//! Nothing exportable → no file, and an error listing why.

use crate::cli::{emit, Outcome};
use crate::config::emit::export_config;
use crate::error::{Error, IoContext, Result};
use crate::progress::Output;
use crate::sources::{chroma, exportable, milvus, pgvector, pinecone, qdrant, redact_url, supabase, weaviate, Discovered};
use std::path::PathBuf;

/// `--emit-config FILE [--force]`, on every `discover` source.
#[derive(Debug, Clone, clap::Args)]
pub struct EmitArgs {
    /// Write a ready-to-run config file for `export <source>` of what was
    /// found (run it with `velesdb-migrate --config FILE`); secrets are
    /// written as ${VAR}, never in clear.
    #[arg(long, value_name = "FILE")]
    pub emit_config: Option<PathBuf>,
    /// Overwrite the --emit-config FILE when it exists.
    #[arg(long, requires = "emit_config")]
    pub force: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum DiscoverSource {
    /// Every table with a vector, halfvec or sparsevec column.
    Pgvector {
        /// PostgreSQL connection URL (the password is never printed).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        url: String,
        /// Only the tables of this schema (as `export --all --schema`).
        #[arg(long)]
        schema: Option<String>,
        #[command(flatten)]
        emit: EmitArgs,
    },
    /// Every table with a vector column of a Supabase project (through the pooler, as `export supabase`).
    Supabase {
        /// PostgreSQL connection URL (default: built from --project-ref; the password is never printed).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        url: Option<String>,
        #[command(flatten)]
        conn: supabase::Conn,
        /// Only the tables of this schema (as `export --all --schema`).
        #[arg(long)]
        schema: Option<String>,
        #[command(flatten)]
        emit: EmitArgs,
    },
    /// Every collection of a Chroma tenant/database.
    Chroma {
        /// Chroma server URL.
        #[arg(long, default_value = "http://localhost:8000")]
        url: String,
        /// A Chroma persistent directory to read instead of a server (no
        /// server may have it open).
        #[arg(long, value_name = "DIR")]
        path: Option<std::path::PathBuf>,
        #[arg(long, default_value = "default_tenant")]
        tenant: String,
        #[arg(long, default_value = "default_database")]
        database: String,
        /// Auth token (x-chroma-token).
        #[arg(long, env = "CHROMA_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[command(flatten)]
        emit: EmitArgs,
    },
    /// Every collection of a Qdrant server.
    Qdrant {
        /// Qdrant REST URL.
        #[arg(long, default_value = "http://localhost:6333")]
        url: String,
        /// API key.
        #[arg(long, env = "QDRANT_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        #[command(flatten)]
        emit: EmitArgs,
    },
    /// Every collection of a Milvus database.
    Milvus {
        /// Milvus gRPC address.
        #[arg(long, default_value = "http://localhost:19530")]
        url: String,
        #[arg(long, default_value = "default")]
        database: String,
        /// `user:password` or an API key.
        #[arg(long, env = "MILVUS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[command(flatten)]
        emit: EmitArgs,
    },
    /// Every class of a Weaviate server, and every tenant (with its activity status) of a multi-tenant class.
    Weaviate {
        /// Weaviate REST URL (without `/v1`).
        #[arg(long, default_value = "http://localhost:8080")]
        url: String,
        /// API key (sent as `Authorization: Bearer`; never written or printed).
        #[arg(long, env = "WEAVIATE_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Metric to record for vectors whose Weaviate distance VelesDB lacks (manhattan, hamming): cosine, l2 or dot.
        #[arg(long)]
        metric: Option<String>,
        #[command(flatten)]
        emit: EmitArgs,
    },
    /// Every index the API key sees, and every namespace of each with its vector count.
    Pinecone {
        /// API key (sent as the `Api-Key` header; never written or printed).
        #[arg(long, env = "PINECONE_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Control plane URL.
        #[arg(long, env = "PINECONE_CONTROLLER_HOST", default_value = "https://api.pinecone.io")]
        controller_host: String,
        #[command(flatten)]
        emit: EmitArgs,
    },
}

/// How the sources differ for printing and for the emitted config.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pg,
    Chroma,
    Qdrant,
    Milvus,
    Weaviate,
    Pinecone,
}

impl DiscoverSource {
    fn source(&self) -> &'static str {
        match self {
            DiscoverSource::Pgvector { .. } => "pgvector",
            DiscoverSource::Supabase { .. } => "supabase",
            DiscoverSource::Chroma { .. } => "chroma",
            DiscoverSource::Qdrant { .. } => "qdrant",
            DiscoverSource::Milvus { .. } => "milvus",
            DiscoverSource::Weaviate { .. } => "weaviate",
            DiscoverSource::Pinecone { .. } => "pinecone",
        }
    }

    fn kind(&self) -> Kind {
        match self {
            DiscoverSource::Pgvector { .. } | DiscoverSource::Supabase { .. } => Kind::Pg,
            DiscoverSource::Chroma { .. } => Kind::Chroma,
            DiscoverSource::Qdrant { .. } => Kind::Qdrant,
            DiscoverSource::Milvus { .. } => Kind::Milvus,
            DiscoverSource::Weaviate { .. } => Kind::Weaviate,
            DiscoverSource::Pinecone { .. } => Kind::Pinecone,
        }
    }

    fn emit(&self) -> &EmitArgs {
        match self {
            DiscoverSource::Pgvector { emit, .. }
            | DiscoverSource::Supabase { emit, .. }
            | DiscoverSource::Chroma { emit, .. }
            | DiscoverSource::Qdrant { emit, .. }
            | DiscoverSource::Milvus { emit, .. }
            | DiscoverSource::Weaviate { emit, .. }
            | DiscoverSource::Pinecone { emit, .. } => emit,
        }
    }

    /// The export flags that reach the same server as these discover flags
    /// (secrets included: the config writer turns them into `${VAR}`).
    fn connection(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, Option<String>)> = match self {
            DiscoverSource::Pgvector { url, schema, .. } => vec![("url", Some(url.clone())), ("schema", schema.clone())],
            DiscoverSource::Supabase { url, conn, schema, .. } => {
                // The project ref wins over a URL (supabase::conn_url).
                let by_ref = conn.project_ref.is_some();
                vec![
                    ("url", url.clone().filter(|_| !by_ref)),
                    ("project-ref", conn.project_ref.clone()),
                    ("password", conn.password.clone().filter(|_| by_ref)),
                    ("region", by_ref.then(|| conn.region.clone())),
                    ("pooler", by_ref.then(|| conn.pooler.clone())),
                    ("schema", schema.clone()),
                ]
            }
            DiscoverSource::Chroma { path: Some(p), tenant, database, .. } => {
                vec![("path", Some(p.display().to_string())), ("tenant", Some(tenant.clone())), ("database", Some(database.clone()))]
            }
            DiscoverSource::Chroma { url, tenant, database, token, .. } => {
                vec![("url", Some(url.clone())), ("tenant", Some(tenant.clone())), ("database", Some(database.clone())), ("token", token.clone())]
            }
            DiscoverSource::Qdrant { url, api_key, .. } => vec![("url", Some(url.clone())), ("api-key", api_key.clone())],
            DiscoverSource::Milvus { url, database, token, .. } => {
                vec![("url", Some(url.clone())), ("database", Some(database.clone())), ("token", token.clone())]
            }
            DiscoverSource::Weaviate { url, api_key, metric, .. } => {
                vec![("url", Some(url.clone())), ("api-key", api_key.clone()), ("metric", metric.clone())]
            }
            DiscoverSource::Pinecone { api_key, controller_host, .. } => {
                vec![("api-key", Some(api_key.clone())), ("controller-host", Some(controller_host.clone()))]
            }
        };
        v.retain(|(_, x)| x.is_some());
        v.into_iter().map(|(k, x)| (k, x.unwrap_or_default())).collect()
    }

    /// Where discovery looked (no secrets), for the config's comments.
    fn address(&self) -> String {
        match self {
            DiscoverSource::Pgvector { url, .. } => redact_url(url),
            DiscoverSource::Supabase { url: Some(url), conn, .. } if conn.project_ref.is_none() => redact_url(url),
            DiscoverSource::Supabase { conn, .. } => format!("project {} ({} endpoint)", conn.project_ref.as_deref().unwrap_or("?"), conn.pooler),
            DiscoverSource::Chroma { path: Some(p), tenant, database, .. } => format!("{} (tenant {tenant}, database {database})", p.display()),
            DiscoverSource::Chroma { url, tenant, database, .. } => format!("{} (tenant {tenant}, database {database})", redact_url(url)),
            DiscoverSource::Milvus { url, database, .. } => format!("{} (database {database})", redact_url(url)),
            DiscoverSource::Qdrant { url, .. } | DiscoverSource::Weaviate { url, .. } => redact_url(url),
            DiscoverSource::Pinecone { controller_host, .. } => redact_url(controller_host),
        }
    }

    async fn discover(&self) -> Result<Vec<Discovered>> {
        match self {
            DiscoverSource::Pgvector { url, schema, .. } => pgvector::discover_in("pgvector", url, schema.as_deref()).await,
            DiscoverSource::Supabase { url, conn, schema, .. } => supabase::discover(url.as_deref(), conn, schema.as_deref()).await,
            DiscoverSource::Chroma { url, path, tenant, database, token, .. } => {
                let args = chroma::Args {
                    url: url.clone(),
                    path: path.clone(),
                    collection: String::new(),
                    every: Default::default(),
                    tenant: tenant.clone(),
                    database: database.clone(),
                    token: token.clone(),
                    filter: None,
                };
                if path.is_some() {
                    crate::sources::chroma_dir::discover(args).await
                } else {
                    chroma::discover(args).await
                }
            }
            DiscoverSource::Qdrant { url, api_key, .. } => {
                qdrant::discover(qdrant::Args { url: url.clone(), collection: String::new(), every: Default::default(), api_key: api_key.clone(), filter: None })
                    .await
            }
            DiscoverSource::Milvus { url, database, token, .. } => {
                milvus::discover(milvus::Args {
                    url: url.clone(),
                    collection: String::new(),
                    every: Default::default(),
                    database: database.clone(),
                    token: token.clone(),
                    partitions: Vec::new(),
                    filter: None,
                    document_field: None,
                    load: false,
                })
                .await
            }
            DiscoverSource::Weaviate { url, api_key, metric, .. } => {
                weaviate::discover(weaviate::Args {
                    url: url.clone(),
                    class: String::new(),
                    tenant: None,
                    all_tenants: false,
                    activate_tenants: false,
                    skip_inactive_tenants: false,
                    metric: metric.clone(),
                    api_key: api_key.clone(),
                    page_size: 1000,
                })
                .await
            }
            DiscoverSource::Pinecone { api_key, controller_host, .. } => {
                pinecone::discover(pinecone::Args {
                    api_key: api_key.clone(),
                    index: None,
                    index_host: None,
                    namespaces: Vec::new(),
                    prefix: None,
                    ids_file: None,
                    controller_host: controller_host.clone(),
                    concurrency: 8,
                })
                .await
            }
        }
    }
}

/// `velesdb-migrate discover <source>`.
///
/// # Errors
/// The source's (connection, listing); `Usage` when `--emit-config` exists
/// without `--force` or nothing found can be exported; `Io` when it cannot
/// be written.
pub fn run(source: DiscoverSource, out: &Output) -> Result<Outcome> {
    let emit_args = source.emit().clone();
    if let Some(p) = &emit_args.emit_config {
        // Only flags declared secret become ${VAR} (PostgreSQL's URL is one);
        // another source's URL carrying a password or token would be written in clear.
        let secret_url = source.kind() == Kind::Pg;
        if let Some((k, _)) = source.connection().into_iter().find(|(k, v)| !secret_url && *k == "url" && crate::sources::redact_url(v) != *v) {
            return Err(Error::Usage(format!(
                "--emit-config: the --{k} holds credentials, which would be written into {} in clear; give them with the source's \
                 secret flag or its environment variable (see `velesdb-migrate export {} --help`) and the URL without them",
                p.display(),
                source.source()
            )));
        }
        if p.exists() && !emit_args.force {
            return Err(Error::Usage(format!("{} exists: pass --force to overwrite it, or choose another --emit-config FILE", p.display())));
        }
    }
    let rt = crate::cli::runtime()?;
    let found = rt.block_on(source.discover())?;
    let kind = source.kind();
    emit(out, &found, || print_table(kind, &found));
    if let Some(path) = &emit_args.emit_config {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        let (fill, about) = plan(&source, &found)?;
        let text = export_config(source.source(), &fill, &name, &about);
        std::fs::write(path, text).ctx(|| format!("writing --emit-config {}", path.display()))?;
        let shown = path.display().to_string();
        out.note(format!(
            "wrote {shown}: a config for `export {}`; check it with `velesdb-migrate config validate {shown}`, run it with `velesdb-migrate --config {shown}`",
            source.source()
        ));
    }
    Ok(Outcome::Ok)
}

/// How an entry is named in the source (`schema.table`, `class/tenant`, `index/namespace`).
fn display_name(kind: Kind, d: &Discovered) -> String {
    match (kind, d.schema.is_empty()) {
        (_, true) | (Kind::Chroma | Kind::Milvus, _) => d.table.clone(),
        (Kind::Weaviate | Kind::Pinecone, false) => format!("{}/{}", d.schema, d.table),
        _ => format!("{}.{}", d.schema, d.table),
    }
}

fn rows(kind: Kind, d: &Discovered) -> String {
    match d.rows_estimate {
        Some(n) if kind == Kind::Pg => format!("~{n}"),
        Some(n) => n.to_string(),
        None => "?".into(),
    }
}

fn vectors(d: &Discovered) -> String {
    let Some(c) = &d.collection else { return String::new() };
    c.vectors
        .iter()
        .map(|v| {
            let dim = if v.dimension == 0 { "dim ?".to_owned() } else { format!("dim {}", v.dimension) };
            let kind = if v.kind == crate::model::VectorKind::Sparse { "sparse " } else { "" };
            let metric = v.metric.map(|m| m.to_string()).unwrap_or_else(|| "metric ?".into());
            format!("{} ({kind}{} {dim} {metric})", v.name, serde_name(&v.element))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn metadata(d: &Discovered) -> String {
    let Some(c) = &d.collection else { return String::new() };
    let mut names: Vec<String> = c.metadata.iter().map(|f| f.name.clone()).collect();
    if let Some(doc) = &c.document {
        names.push(format!("document: {doc}"));
    }
    if names.is_empty() {
        "-".into()
    } else {
        names.join(", ")
    }
}

fn id(d: &Discovered) -> String {
    d.collection.as_ref().map(|c| format!("{} ({})", c.id.name, serde_name(&c.id.kind))).unwrap_or_default()
}

/// How a unit enum value is spelled in the JSON output (`f32`, `uuid`).
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_owned)).unwrap_or_default()
}

/// One line about an entry, for the config's comments.
fn summary(kind: Kind, d: &Discovered) -> String {
    let name = display_name(kind, d);
    let status = d.status.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
    match (&d.collection, &d.problem) {
        (Some(_), _) => format!(
            "{name}{status}: {} rows; id: {}; vectors: {}; metadata: {}{}",
            rows(kind, d),
            id(d),
            vectors(d),
            metadata(d),
            d.needs.as_deref().map(|n| format!("; needs {n}")).unwrap_or_default()
        ),
        (None, Some(p)) => format!("{name}{status}: cannot be exported as it is: {p}"),
        (None, None) => format!("{name}{status}"),
    }
}

/// The human table: one row per entry, problems and needs under it.
fn print_table(kind: Kind, found: &[Discovered]) {
    if found.is_empty() {
        println!(
            "{}",
            match kind {
                Kind::Pg => "no table with a vector, halfvec or sparsevec column",
                Kind::Weaviate => "no class",
                Kind::Pinecone => "no index",
                _ => "no collection",
            }
        );
        return;
    }
    let head = [if kind == Kind::Pg { "TABLE" } else { "NAME" }, "STATUS", "ROWS", "ID", "VECTORS", "METADATA"];
    let table: Vec<[String; 6]> = found
        .iter()
        .map(|d| {
            let ok = d.collection.is_some();
            [
                display_name(kind, d),
                d.status.clone().unwrap_or_else(|| if ok { "ok".into() } else { "refused".into() }),
                if ok { rows(kind, d) } else { "-".into() },
                id(d),
                vectors(d),
                metadata(d),
            ]
        })
        .collect();
    let width: Vec<usize> = (0..6).map(|i| table.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(head[i].len())).collect();
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 5 {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(&head);
    for (d, r) in found.iter().zip(&table) {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
        if let Some(p) = &d.problem {
            println!("    cannot be exported as it is: {p}");
        }
        if let Some(n) = &d.needs {
            println!("    needs {n}");
        }
    }
}

/// The classes (Weaviate) or indexes (Pinecone) of `found`, in discovery
/// order: an entry's `schema` when it has one (it is then a tenant or a
/// namespace), else its own name.
fn parents(found: &[Discovered]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in found {
        let parent = if d.schema.is_empty() { &d.table } else { &d.schema };
        if !out.contains(parent) {
            out.push(parent.clone());
        }
    }
    out
}

/// What the emitted config fills in, and the comment that explains it.
fn plan(source: &DiscoverSource, found: &[Discovered]) -> Result<(Vec<(&'static str, String)>, String)> {
    let kind = source.kind();
    let mut fill = source.connection();
    let mut about = format!("Discovered at {}:\n", source.address());
    for d in found {
        about.push_str(&format!("- {}\n", summary(kind, d)));
    }
    let nothing = || {
        let why: Vec<String> = found.iter().map(|d| summary(kind, d)).collect();
        Error::Usage(format!(
            "no config written: nothing found can be exported{}",
            if why.is_empty() { String::new() } else { format!(" ({})", why.join("; ")) }
        ))
    };
    let choice = match kind {
        Kind::Pg | Kind::Chroma | Kind::Qdrant | Kind::Milvus => {
            let name_of = |d: &Discovered| if kind == Kind::Pg { pgvector::collection_name(&d.schema, &d.table) } else { d.table.clone() };
            let (ok, skipped) = exportable(found.to_vec(), name_of);
            let what = if kind == Kind::Pg { "table" } else { "collection" };
            // Problems found by discovery are listed above; name the others' reason.
            let left_out = |skipped: &[crate::sources::Skipped]| {
                skipped
                    .iter()
                    .map(|k| match found.iter().any(|d| d.problem.as_deref() == Some(k.problem.as_str())) {
                        true => format!("{} (see above)", k.source_name),
                        false => format!("{} ({})", k.source_name, k.problem),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match ok.as_slice() {
                [] if skipped.is_empty() => return Err(nothing()),
                [] => {
                    let why: Vec<String> = skipped.iter().map(|k| format!("{}: {}", k.source_name, k.problem)).collect();
                    return Err(Error::Usage(format!("no config written: nothing found can be exported ({})", why.join("; "))));
                }
                [one] => {
                    fill.push((what, one.table.clone()));
                    if kind == Kind::Pg && !fill.iter().any(|(k, _)| *k == "schema") {
                        fill.push(("schema", one.schema.clone()));
                    }
                    let mut s = format!("This file exports {} into one snapshot collection.", display_name(kind, one));
                    if !skipped.is_empty() {
                        s.push_str(&format!(" Left out: {}.", left_out(&skipped)));
                    }
                    s
                }
                many => {
                    fill.push(("all", "true".into()));
                    let names: Vec<String> = many.iter().map(|d| display_name(kind, d)).collect();
                    let mut s = format!(
                        "This file exports all {} of them that can be exported ({}) with `all: true`, each into its own snapshot \
                         collection; to export one {what} only, replace `all: true` with `{what}: NAME`.",
                        many.len(),
                        names.join(", ")
                    );
                    if !skipped.is_empty() {
                        s.push_str(&format!(
                            " --all leaves out (with a warning; add `strict: true` to refuse instead): {}.",
                            left_out(&skipped)
                        ));
                    }
                    s
                }
            }
        }
        Kind::Weaviate => {
            // Classes in discovery order; a class is exportable when one of its entries is.
            let classes = parents(found);
            let of = |c: &str| found.iter().filter(|d| if d.schema.is_empty() { d.table == c } else { d.schema == c }).collect::<Vec<_>>();
            let chosen = classes.iter().find(|c| of(c).iter().any(|d| d.collection.is_some())).ok_or_else(nothing)?;
            let entries = of(chosen);
            fill.push(("class", chosen.clone()));
            let mut s = format!("This file exports class {chosen}");
            if entries.iter().any(|d| !d.schema.is_empty()) {
                let active: Vec<&&Discovered> = entries.iter().filter(|d| d.collection.is_some()).collect();
                let inactive: Vec<String> =
                    entries.iter().filter(|d| d.collection.is_none()).map(|d| format!("{} ({})", d.table, d.status.as_deref().unwrap_or("?"))).collect();
                if active.len() == 1 && inactive.is_empty() {
                    fill.push(("tenant", active[0].table.clone()));
                    s.push_str(&format!(", tenant {} (snapshot collection {chosen}.{})", active[0].table, active[0].table));
                } else {
                    fill.push(("all-tenants", "true".into()));
                    s.push_str(", every tenant into its own snapshot collection <class>.<tenant>");
                    if !inactive.is_empty() {
                        fill.push(("skip-inactive-tenants", "true".into()));
                        s.push_str(&format!(
                            "; the inactive tenants {} are left out (skip-inactive-tenants): to export them too, replace it with \
                             `activate-tenants: true`, which sets them HOT (a write to the source)",
                            inactive.join(", ")
                        ));
                    }
                }
            }
            s.push('.');
            let others: Vec<&String> = classes.iter().filter(|c| *c != chosen && of(c).iter().any(|d| d.collection.is_some())).collect();
            if !others.is_empty() {
                s.push_str(&format!(
                    " An export reads one class: to export another, set `class:` to {} (a multi-tenant class also needs `tenant:` or `all-tenants: true`) \
                     and write it to another `out:`.",
                    others.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            s
        }
        Kind::Pinecone => {
            let indexes = parents(found);
            let of = |i: &str| found.iter().filter(|d| d.schema == i && d.collection.is_some()).collect::<Vec<_>>();
            let listable = indexes.iter().find(|i| !of(i).is_empty() && of(i).iter().all(|d| d.needs.is_none()));
            let chosen = listable.or_else(|| indexes.iter().find(|i| !of(i).is_empty())).ok_or_else(nothing)?;
            fill.push(("index", chosen.clone()));
            let namespaces: Vec<String> = of(chosen).iter().map(|d| d.table.clone()).collect();
            let mut s = format!("This file exports index {chosen}, every namespace ({}) into its own snapshot collection.", namespaces.join(", "));
            if listable.is_none() {
                fill.push(("ids-file", "./ids.txt".into()));
                s.push_str(
                    " The index is pod-based: Pinecone cannot list its ids, so put the ids to export in ./ids.txt (one per line) \
                     before running it.",
                );
            }
            let others: Vec<&String> = indexes.iter().filter(|i| *i != chosen && !of(i).is_empty()).collect();
            if !others.is_empty() {
                s.push_str(&format!(
                    " An export reads one index: to export another, set `index:` to {} and write it to another `out:`.",
                    others.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            s
        }
    };
    fill.push(("out", "./snapshot".into()));
    about.push('\n');
    about.push_str(&choice);
    Ok((fill, about))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CollectionSchema, ElementType, IdField, IdKind, Metric, VectorField, VectorKind};
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        s: DiscoverSource,
    }

    fn source(args: &[&str]) -> DiscoverSource {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied())).unwrap().s
    }

    fn ok(schema: &str, table: &str) -> Discovered {
        let vectors = vec![VectorField {
            name: "v".into(),
            column: "vec:v".into(),
            kind: VectorKind::Dense,
            element: ElementType::F32,
            dimension: 4,
            metric: Some(Metric::Cosine),
            index: None,
            source_type: None,
        }];
        let collection = CollectionSchema { id: IdField { name: "id".into(), kind: IdKind::String, source_type: None }, vectors, metadata: Vec::new(), document: None };
        Discovered { rows_estimate: Some(7), collection: Some(collection), ..Discovered::new(schema.into(), table.into()) }
    }

    fn config(s: &DiscoverSource, found: &[Discovered]) -> String {
        let (fill, about) = plan(s, found).unwrap();
        export_config(s.source(), &fill, "f.yaml", &about)
    }

    #[test]
    fn supabase_by_project_ref_keeps_the_password_out() {
        let s = source(&["supabase", "--project-ref", "abcd", "--password", "pw-123", "--region", "eu-west-2"]);
        let text = config(&s, &[ok("public", "documents")]);
        assert!(!text.contains("pw-123"), "{text}");
        for line in ["project-ref: abcd", "password: ${SUPABASE_DB_PASSWORD}", "region: eu-west-2", "pooler: transaction", "table: documents", "schema: public"] {
            assert!(text.contains(&format!("\n{line}\n")), "{line}:\n{text}");
        }
        assert!(text.contains("Discovered at project abcd (transaction endpoint)"), "{text}");
    }

    #[test]
    fn pinecone_prefers_a_listable_index_else_asks_for_ids() {
        let s = source(&["pinecone", "--api-key", "k-1", "--controller-host", "http://h:1"]);
        let mut pod = ok("pods", "__default__");
        pod.needs = Some("--ids-file FILE".into());
        let text = config(&s, &[Discovered::refused(String::new(), "docidx".into(), "document index".into()), pod.clone(), ok("zeta", "ns")]);
        assert!(text.contains("\nindex: zeta\n") && text.contains("\n# ids-file:") && !text.contains("k-1"), "{text}");
        let text = config(&s, &[pod]);
        assert!(text.contains("\nindex: pods\n") && text.contains("\nids-file: ./ids.txt\n") && text.contains("pod-based"), "{text}");
        assert!(plan(&s, &[Discovered::refused(String::new(), "docidx".into(), "document index".into())]).unwrap_err().to_string().contains("document index"));
    }

    #[test]
    fn weaviate_one_tenant_and_plain_classes() {
        let s = source(&["weaviate", "--url", "http://w:8080"]);
        let mut t = ok("Mt", "only");
        t.status = Some("ACTIVE".into());
        let text = config(&s, &[t, ok("", "Plain")]);
        assert!(text.contains("\nclass: Mt\n") && text.contains("\ntenant: only\n") && text.contains("# all-tenants: false"), "{text}");
        assert!(text.replace("\n# ", " ").contains("set `class:` to Plain"), "{text}");
        assert!(!text.contains("\napi-key:"), "no key given, none written: {text}");
        let text = config(&s, &[ok("", "Plain")]);
        assert!(text.contains("\nclass: Plain\n") && text.contains("# tenant:"), "{text}");
    }

    #[test]
    fn collections_with_all_or_alone() {
        let s = source(&["qdrant", "--url", "http://q:6333", "--api-key", "qk-9"]);
        let text = config(&s, &[ok("", "a"), ok("", "b"), Discovered::refused(String::new(), "c".into(), "multi-vectors".into())]);
        assert!(text.contains("\nall: true\n") && text.contains("\napi-key: ${QDRANT_API_KEY}\n") && !text.contains("qk-9"), "{text}");
        assert!(text.replace("\n# ", " ").contains("c (see above)"), "{text}");
        // Two names that collide in the snapshot are left out by --all too, with the reason.
        let text = config(&s, &[ok("", "a"), ok("", "a"), ok("", "b")]);
        assert!(text.contains("\ncollection: b\n") && text.replace("\n# ", " ").contains("would also be called"), "{text}");
        assert!(plan(&s, &[ok("", "a"), ok("", "a")]).unwrap_err().to_string().contains("would also be called"));
        assert!(plan(&s, &[]).is_err());
    }
}
