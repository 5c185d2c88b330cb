//! Command line: clap definitions and one function per command.

use crate::error::{Error, Result};
use crate::model::Metric;
use crate::pipeline::{diff, export, import, mapping::MappingArgs, migrate, validate};
use crate::progress::Output;
use crate::runlog;
use crate::pipeline::publish::Mirror;
use crate::snapshot::store::StoreArgs;
use crate::snapshot::{archive, verify, Location, Manifest};
use crate::sink::{self, rest::RestArgs};
use crate::sources::{chroma, chroma_dir, connect_each, milvus, pgvector, pinecone, qdrant, supabase, weaviate, AnySource, Skipped, Source};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(name = "velesdb-migrate", version, about = "Move vector data into VelesDB through verifiable, resumable Parquet snapshots")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print a machine-readable JSON result on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress or notes on stderr (errors still print).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// No progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// How notes, progress and errors are written on stderr: pretty (for a
    /// terminal) or json (one JSON object per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Attempts per source request before giving up (default: 4; Milvus 5,
    /// Pinecone 10). Retried: 429, 5xx, timeouts, connection errors.
    #[arg(long, global = true, value_name = "N")]
    pub source_max_attempts: Option<u32>,
    /// First retry delay of source requests in ms (doubling, with jitter; default 500).
    #[arg(long, global = true, value_name = "MS")]
    pub source_retry_initial_ms: Option<u64>,
    /// Longest retry delay of source requests in ms (default 30000).
    #[arg(long, global = true, value_name = "MS")]
    pub source_retry_max_ms: Option<u64>,
    /// Growth of the retry delay of source requests per attempt (default 2:
    /// doubling; 1 keeps it constant).
    #[arg(long, global = true, value_name = "X")]
    pub source_retry_factor: Option<f64>,
    /// Serve Prometheus metrics (counters, batch latency quantiles, peak
    /// memory) on this address while the command runs, e.g. 127.0.0.1:9464.
    #[arg(long, global = true, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Read the command and its flags from a YAML file (see `init` and
    /// `config validate`); flags on the command line override its keys.
    // Read by `config::parse_args` before clap parses (it may appear anywhere
    // before `--`), so this field stays empty: it is here for --help.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream a source collection into a snapshot directory (resumable).
    Export {
        #[command(subcommand)]
        source: SourceArgs,
    },
    /// Import a snapshot into VelesDB (resumable).
    Import(ImportArgs),
    /// Continue an interrupted export, import or migrate: DIR is its snapshot
    /// (or staging) directory; without DIR, the most recent interrupted run
    /// found in the current directory. Secrets are re-read from the environment.
    Resume {
        dir: Option<PathBuf>,
        /// Only list the interrupted runs found.
        #[arg(long)]
        list: bool,
    },
    /// Export and import in one command: the import starts on committed
    /// chunks while the export goes on; re-run the same command to resume.
    /// Flags after the source name go to the source when it has them,
    /// otherwise to the import (`--to`, `--to-collection`, `--metric`, …).
    #[command(visible_alias = "from")]
    Migrate(MigrateArgs),
    /// Re-hash every chunk of a snapshot (directory or packed archive) and check it against its manifest.
    Verify {
        /// Snapshot directory or store URL (s3://, gs://, az://), or an archive made by `pack` (FILE, or FILE.000 for split parts).
        dir: String,
    },
    /// Pack a snapshot into one tar file (manifest first), optionally split into parts, for air-gapped transfer.
    Pack {
        /// Snapshot directory.
        dir: PathBuf,
        /// Archive to write (parts are FILE.000, FILE.001, … with --split-size).
        file: PathBuf,
        /// Largest part, in bytes (suffixes K, M, G: powers of 1024).
        #[arg(long, value_parser = parse_size, value_name = "SIZE")]
        split_size: Option<u64>,
        /// Pack the committed chunks of an unfinished export.
        #[arg(long)]
        partial: bool,
    },
    /// Restore a snapshot from an archive made by `pack`, checking every chunk.
    Unpack {
        /// Archive (FILE, or FILE.000 for split parts).
        file: PathBuf,
        /// New or empty directory to unpack into.
        dir: PathBuf,
    },
    /// List what a source holds: tables or collections with their vectors,
    /// metric, index, ids and metadata, as an export would record them.
    Discover {
        #[command(subcommand)]
        source: crate::discover::DiscoverSource,
    },
    /// Show what a snapshot holds.
    Inspect {
        /// Snapshot directory or store URL (s3://, gs://, az://).
        dir: String,
    },
    /// Compare a VelesDB collection with the snapshot it was imported from.
    Validate(ValidateArgs),
    /// Config files: `config validate FILE`.
    Config {
        #[command(subcommand)]
        action: crate::config::ConfigAction,
    },
    /// Write a commented config file template for `export <source>` or `import`.
    Init(crate::config::template::InitArgs),
    /// Ids added, removed and changed between two snapshots (exit 0 identical, 1 different, 2 error).
    Diff(DiffArgs),
    /// Guided migration on a terminal: asks for the source, connection,
    /// collection and destination, previews it, then runs it and writes the
    /// `migrate` config file it used (secrets stay in the environment).
    Interactive,
}

#[derive(Debug, Subcommand)]
pub enum SourceArgs {
    /// PostgreSQL with pgvector.
    Pgvector {
        #[command(flatten)]
        args: pgvector::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
    /// ChromaDB (HTTP API v2, or a local directory with --path).
    Chroma {
        #[command(flatten)]
        args: chroma::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
    /// Supabase (PostgreSQL + pgvector; works through the transaction pooler).
    Supabase {
        #[command(flatten)]
        args: supabase::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
    /// Qdrant (REST API).
    Qdrant {
        #[command(flatten)]
        args: qdrant::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
    /// Milvus (gRPC, query iterator).
    Milvus {
        #[command(flatten)]
        args: milvus::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
    /// Weaviate (REST API; one class, one tenant or every tenant).
    Weaviate {
        #[command(flatten)]
        args: weaviate::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
    /// Pinecone (REST API 2025-10): every namespace of an index, or those given.
    Pinecone {
        #[command(flatten)]
        args: pinecone::Args,
        #[command(flatten)]
        common: ExportCommon,
    },
}

#[derive(Debug, clap::Args)]
pub struct ExportCommon {
    /// Snapshot to write (or to resume): a directory, or a store URL
    /// (s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX).
    /// Required by export; for migrate, the staging snapshot (kept).
    #[arg(long)]
    pub out: Option<String>,
    /// Rows per chunk (default: about 16 MiB of vectors per chunk).
    #[arg(long)]
    pub chunk_rows: Option<usize>,
    /// For a store URL: the local directory where each chunk is written and
    /// fsynced before its upload (then deleted). Default: a cache directory
    /// keyed by the URL (`$XDG_CACHE_HOME` or `~/.cache`, `velesdb-migrate/staging`).
    #[arg(long, env = "VELESDB_MIGRATE_STAGING_DIR", value_name = "DIR")]
    pub staging: Option<PathBuf>,
    /// For a store URL: chunks larger than this are uploaded in parts of this
    /// size (multipart upload; S3 wants at least 5M). Suffixes K, M, G.
    #[arg(long, env = "VELESDB_MIGRATE_PART_SIZE", value_parser = parse_size, default_value = "16M", value_name = "SIZE")]
    pub part_size: u64,
    /// Connect, describe, time a sample page and estimate the snapshot's size
    /// and the export's duration; write nothing (--out is not needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Rows in the --dry-run sample.
    #[arg(long, default_value_t = 1000)]
    pub sample_rows: usize,
}

impl ExportCommon {
    /// The export options, and the mirror when `--out` is a store URL (its
    /// staging directory is prepared here: the store's manifest decides).
    fn options(&self, store: &StoreArgs) -> Result<(export::ExportOptions, Option<Arc<Mirror>>)> {
        let chunk_rows = self.chunk_rows;
        let out = self.out.as_deref().ok_or_else(|| Error::Usage("--out is required: the snapshot directory or store URL to write".into()))?;
        Ok(match Location::parse(out, store)? {
            Location::Dir(out) => (export::ExportOptions { out, chunk_rows, publish: None }, None),
            Location::Store(remote) => {
                let mirror = Arc::new(Mirror::prepare(remote, self.staging.clone(), self.part_size)?);
                let out = mirror.staging().to_owned();
                (export::ExportOptions { out, chunk_rows, publish: Some(mirror.clone()) }, Some(mirror))
            }
        })
    }
}

impl SourceArgs {
    /// `--all`/`--strict`, for the sources that have them.
    pub(crate) fn every(&self) -> Option<&crate::sources::AllArgs> {
        match self {
            SourceArgs::Pgvector { args, .. } => Some(&args.every),
            SourceArgs::Supabase { args, .. } => Some(&args.pg.every),
            SourceArgs::Chroma { args, .. } => Some(&args.every),
            SourceArgs::Qdrant { args, .. } => Some(&args.every),
            SourceArgs::Milvus { args, .. } => Some(&args.every),
            SourceArgs::Weaviate { .. } | SourceArgs::Pinecone { .. } => None,
        }
    }

    pub(crate) fn common(&self) -> &ExportCommon {
        match self {
            SourceArgs::Pgvector { common, .. }
            | SourceArgs::Chroma { common, .. }
            | SourceArgs::Supabase { common, .. }
            | SourceArgs::Qdrant { common, .. }
            | SourceArgs::Milvus { common, .. }
            | SourceArgs::Weaviate { common, .. }
            | SourceArgs::Pinecone { common, .. } => common,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Destination {
    /// VelesDB destination: a local data directory (embedded VelesDB, the
    /// server must not have it open) or http(s)://HOST:PORT of a running velesdb-server.
    #[arg(long)]
    pub to: String,
    /// Collection in VelesDB (default: named after the snapshot collection,
    /// `.` turned into `_`). Names one destination, so with a snapshot of
    /// several collections it needs exactly one `--only NAME`.
    #[arg(long)]
    pub collection: Option<String>,
    #[command(flatten)]
    pub rest: RestArgs,
}

impl Destination {
    fn parse(&self) -> Result<sink::Destination> {
        sink::Destination::parse(&self.to, &self.rest)
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Snapshot directory or store URL (s3://, gs://, az://).
    #[arg(value_name = "SNAPSHOT")]
    pub dir: String,
    /// Directory for the import journal (which chunks are done). Default:
    /// `<snapshot>/.imports/` for a directory; for a store URL a local cache
    /// directory (`$XDG_CACHE_HOME` or `~/.cache`, `velesdb-migrate/journals`).
    #[arg(long, env = "VELESDB_MIGRATE_JOURNAL_DIR", value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Snapshot collection to use (repeatable; default: every collection,
    /// each into a VelesDB collection of its own name).
    #[arg(long, value_name = "NAME", conflicts_with = "from_collection")]
    pub only: Vec<String>,
    #[command(flatten)]
    pub dest: Destination,
    /// Distance metric (cosine, l2, dot); default: the source's.
    #[arg(long)]
    pub metric: Option<String>,
    /// Chunks read and decoded at once. Decoding always overlaps the writes;
    /// raise this only for a destination that is faster than decoding (it
    /// costs memory: about two chunks per unit).
    #[arg(long, default_value_t = 1)]
    pub parallelism: usize,
    /// Points per upsert call (embedded; REST requests are sized by --max-request-bytes).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// VelesDB storage mode for a new collection: full, sq8, binary, pq, rabitq.
    #[arg(long, default_value = "full")]
    pub storage_mode: String,
    /// Check the snapshot, the ids and the destination; report what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// HNSW M for a new collection (default: the source index's, else VelesDB's).
    #[arg(long)]
    pub hnsw_m: Option<u32>,
    /// HNSW ef_construction for a new collection (default: the source index's, else VelesDB's).
    #[arg(long)]
    pub hnsw_ef_construction: Option<u32>,
    /// Import the committed chunks of an unfinished export.
    #[arg(long)]
    pub partial: bool,
    #[command(flatten)]
    pub mapping: MappingArgs,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub source: SourceArgs,
    /// VelesDB destination: a local data directory (embedded) or http(s)://HOST:PORT of a velesdb-server.
    #[arg(long)]
    pub to: String,
    /// Collection in VelesDB (default: the source collection's name).
    #[arg(long)]
    pub to_collection: Option<String>,
    /// Keep the staging snapshot after success (always kept when --out names it).
    #[arg(long)]
    pub keep_snapshot: bool,
    /// Distance metric (cosine, l2, dot); default: the source's.
    #[arg(long)]
    pub metric: Option<String>,
    /// Points per upsert call (embedded).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// VelesDB storage mode for a new collection: full, sq8, binary, pq, rabitq.
    #[arg(long, default_value = "full")]
    pub storage_mode: String,
    /// HNSW M for a new collection (default: the source index's, else VelesDB's).
    #[arg(long)]
    pub hnsw_m: Option<u32>,
    /// HNSW ef_construction for a new collection (default: the source index's, else VelesDB's).
    #[arg(long)]
    pub hnsw_ef_construction: Option<u32>,
    #[command(flatten)]
    pub rest: RestArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Snapshot directory or store URL (s3://, gs://, az://).
    #[arg(value_name = "SNAPSHOT")]
    pub dir: String,
    /// Snapshot collection to use (repeatable; default: every collection,
    /// each into a VelesDB collection of its own name).
    #[arg(long, value_name = "NAME", conflicts_with = "from_collection")]
    pub only: Vec<String>,
    #[command(flatten)]
    pub dest: Destination,
    /// Compare about N rows spread over the snapshot (count and ids are always checked for them).
    #[arg(long, default_value_t = 1000, conflicts_with = "strict")]
    pub sample: u64,
    /// Compare every row.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub mapping: MappingArgs,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The older snapshot: directory or store URL (s3://, gs://, az://).
    pub a: String,
    /// The newer snapshot.
    pub b: String,
    /// Compare only this collection (repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// List at most N ids of each kind (added, removed, changed) per collection; the counts stay exact.
    #[arg(long, value_name = "N")]
    pub ids_limit: Option<usize>,
    /// Where ids that are not in ascending order are sorted (default: the system's temporary directory).
    #[arg(long, env = "VELESDB_MIGRATE_SPILL_DIR", value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

impl Command {
    /// `diff` follows diff(1): errors exit 2, not 1, since 1 means "different".
    pub fn errors_exit_2(&self) -> bool {
        matches!(self, Command::Diff(_))
    }
}

fn default_parallelism() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8)
}

/// What a command produced: success, or completed with findings (exit 1),
/// or stopped by the user at a prompt with nothing written (exit 130).
pub enum Outcome {
    Ok,
    Findings,
    Cancelled,
}

pub(crate) fn emit<T: Serialize>(out: &Output, value: &T, human: impl FnOnce()) {
    if out.json {
        println!("{}", serde_json::to_string_pretty(value).expect("report serializes"));
    } else {
        human();
    }
}

/// One result per snapshot collection: printed as it is when there is one
/// (the shape single-collection commands always had), else as
/// `{"collections": [...]}` in JSON and one block each in text.
fn emit_each<T: Serialize>(out: &Output, all: &[T], human: impl Fn(&T)) {
    match all {
        [one] => emit(out, one, || human(one)),
        _ => emit(out, &serde_json::json!({ "collections": all }), || all.iter().for_each(&human)),
    }
}

fn mib(b: Option<u64>) -> String {
    b.map(|b| format!("{:.1} MiB", b as f64 / 1048576.0)).unwrap_or_else(|| "n/a".into())
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let out = Output { quiet: cli.quiet, no_progress: cli.no_progress, json: cli.json, log_json: cli.log_format == LogFormat::Json, callback: None };
    crate::sources::http::set_retry_policy(crate::sources::http::RetryPolicy {
        max_attempts: cli.source_max_attempts,
        initial: cli.source_retry_initial_ms.map(std::time::Duration::from_millis),
        max: cli.source_retry_max_ms.map(std::time::Duration::from_millis),
        factor: cli.source_retry_factor,
    });
    if let Some(addr) = &cli.metrics_addr {
        let bound = crate::metrics::serve(addr)?;
        out.note(format!("metrics: http://{bound}/metrics (Prometheus text format)"));
    }
    match cli.command {
        Command::Export { source } => {
            source.every().map_or(Ok(()), |e| e.check())?;
            let rt = runtime()?;
            let common = source.common();
            if common.dry_run {
                let r = dry_run(source)?;
                emit(&out, &r, || {
                    println!("dry run of {}: nothing was written", r.source);
                    for c in &r.collections {
                        let rows = c.rows.map_or("unknown".into(), |n| n.to_string());
                        let size = c.estimated_snapshot_bytes.map_or("unknown".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0));
                        let time = c.estimated_seconds.map_or("unknown".into(), |s| format!("{s:.0} s"));
                        let vectors: Vec<String> = c.schema.vectors.iter().map(|v| format!("{} ({:?}, dim {})", v.name, v.kind, v.dimension)).collect();
                        println!(
                            "  {} ({}): {rows} rows, id {} ({:?}), vectors {}, {} metadata field(s); sample {} rows in {:.2} s; estimated snapshot {size}, export about {time}",
                            c.collection, c.source_name, c.schema.id.name, c.schema.id.kind, vectors.join(", "), c.schema.metadata.len(), c.sample_rows, c.sample_seconds
                        );
                    }
                });
                return Ok(Outcome::Ok);
            }
            let (mut opts, mirror) = common.options(&cli.store)?;
            let local = mirror.is_none().then(|| opts.out.clone());
            if let Some(dir) = &local {
                opts.publish = Some(runlog::Recorder::new("export", dir));
            }
            let mut s = rt.block_on(async {
                let (sources, skipped, strict) = connect(source).await?;
                export::run_all(sources, skipped, strict, opts, &out).await
            })?;
            if let Some(m) = mirror {
                m.finish(&mut s)?;
            }
            if let Some(dir) = &local {
                runlog::finish(dir, "export", None)?;
            }
            emit(&out, &s, || {
                for k in &s.skipped {
                    println!("left out {} ({}): {}", k.collection, k.source_name, k.problem);
                }
                println!(
                    "exported {} rows of {} into {} ({} chunks, {:.1} MiB){}",
                    s.rows,
                    s.source,
                    s.snapshot,
                    s.chunks,
                    s.bytes as f64 / 1048576.0,
                    if s.already_complete { " — already complete".to_string() } else { format!("; this run: {} rows in {:.1} s ({:.0} rows/s), peak memory {}", s.rows_this_run, s.seconds, s.rows_per_second, mib(s.peak_rss_bytes)) }
                );
                if !s.retries.is_empty() || s.missing > 0 {
                    println!("retried source requests: {:?}; records gone before they could be read: {}", s.retries, s.missing);
                }
            });
            Ok(Outcome::Ok)
        }
        Command::Import(a) => {
            let metric = parse_metric(a.metric.as_deref())?;
            let opts = import::ImportOptions {
                snapshot: Location::parse(&a.dir, &cli.store)?,
                journal_dir: a.journal_dir,
                to: a.dest.parse()?,
                collection: String::new(),
                metric,
                parallelism: a.parallelism,
                batch_size: a.batch_size,
                hnsw_m: a.hnsw_m,
                hnsw_ef_construction: a.hnsw_ef_construction,
                mapping: a.mapping,
                partial: a.partial,
                storage_mode: a.storage_mode,
                dry_run: a.dry_run,
            };
            let targets = import::targets(&opts.snapshot.load_manifest()?, &a.only, opts.mapping.from_collection.as_deref(), a.dest.collection.as_deref())?;
            init_rayon(opts.parallelism);
            let record = match (&opts.snapshot, opts.dry_run) {
                (Location::Dir(d), false) => Some((d.clone(), format!("{} {:?}", opts.to.key(), targets))),
                _ => None,
            };
            if let Some((d, key)) = &record {
                runlog::start(d, "import", Some(key))?;
            }
            let all = import::run_targets(&opts, &targets, &out)?;
            if let Some((d, key)) = &record {
                runlog::finish(d, "import", Some(key))?;
            }
            emit_each(&out, &all, |s| {
                if s.dry_run {
                    println!(
                        "dry run: would import {} chunk(s) of {} into {} / {} ({} already imported); nothing was written",
                        s.chunks_total - s.chunks_skipped, s.snapshot, s.destination, s.collection, s.chunks_skipped
                    );
                    return;
                }
                if !s.retries.is_empty() {
                    println!("retried requests: {:?}", s.retries);
                }
                println!(
                    "imported {} points into {} / {} in {:.1} s ({:.0} points/s); chunks: {} imported, {} already done; collection now holds {}; peak memory {}",
                    s.points_upserted, s.destination, s.collection, s.seconds, s.points_per_second, s.chunks_imported, s.chunks_skipped, s.collection_count, mib(s.peak_rss_bytes)
                );
                if !s.skipped_null_vectors.is_empty() {
                    println!("skipped {} rows with a NULL vector: {:?}", s.skipped_null_vectors.len(), s.skipped_null_vectors);
                }
            });
            Ok(Outcome::Ok)
        }
        Command::Migrate(a) => {
            let metric = parse_metric(a.metric.as_deref())?;
            let to = sink::Destination::parse(&a.to, &a.rest)?;
            let rt = runtime()?;
            let common = a.source.common();
            if common.dry_run {
                return Err(Error::Usage("migrate has no --dry-run: preview the source with `export <source> … --dry-run` (or use `interactive`, which shows it)".into()));
            }
            let (given_out, chunk_rows) = (common.out.clone(), common.chunk_rows);
            let (sources, skipped, strict) = rt.block_on(connect(a.source))?;
            let out_dir = match &given_out {
                Some(o) => match Location::parse(o, &cli.store)? {
                    Location::Dir(d) => d,
                    Location::Store(_) => {
                        return Err(Error::Usage("migrate stages its snapshot in a local directory; give --out a directory (export to a store URL with `export`)".into()))
                    }
                },
                None => default_staging(&sources, &to.key(), a.to_collection.as_deref()),
            };
            out.note(format!("staging snapshot: {}", out_dir.display()));
            let opts = migrate::MigrateOptions {
                export: export::ExportOptions { out: out_dir.clone(), chunk_rows, publish: Some(runlog::Recorder::new("migrate", &out_dir)) },
                import: import::ImportOptions {
                    metric,
                    batch_size: a.batch_size,
                    hnsw_m: a.hnsw_m,
                    hnsw_ef_construction: a.hnsw_ef_construction,
                    mapping: a.mapping,
                    partial: true,
                    storage_mode: a.storage_mode,
                    // The collection is set per snapshot collection by each round.
                    ..import::ImportOptions::new(Location::Dir(out_dir), to, "")
                },
                skipped,
                strict,
                dest_collection: a.to_collection,
                keep_snapshot: a.keep_snapshot || given_out.is_some(),
            };
            init_rayon(1);
            let staging = opts.export.out.clone();
            let s = migrate::run(&rt, sources, opts, &out)?;
            runlog::finish(&staging, "migrate", None)?;
            emit(&out, &s, || {
                for i in &s.imports {
                    println!(
                        "migrated {} rows of {} into {} / {} (collection now holds {})",
                        s.export.rows, s.export.source, i.destination, i.collection, i.collection_count
                    );
                }
                println!(
                    "{:.1} s in all; {} import round(s) ran during the export; staging snapshot {} {}; peak memory {}",
                    s.seconds,
                    s.rounds_during_export,
                    s.snapshot,
                    if s.snapshot_kept { "kept" } else { "removed" },
                    mib(s.peak_rss_bytes)
                );
            });
            Ok(Outcome::Ok)
        }
        Command::Resume { dir, list } => {
            let here = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
            let base = dir.unwrap_or(here);
            if list {
                let found: Vec<serde_json::Value> = runlog::find(&base)
                    .into_iter()
                    .map(|(p, r)| serde_json::json!({ "record": p.display().to_string(), "command": r.command, "args": r.args, "cwd": r.cwd, "started_at": r.started_at, "secrets_from_env": r.secrets_from_env }))
                    .collect();
                emit(&out, &found, || {
                    for f in &found {
                        println!("{} {} (started {}, in {})", f["command"].as_str().unwrap_or(""), f["args"], f["started_at"].as_str().unwrap_or(""), f["cwd"]);
                    }
                    if found.is_empty() {
                        println!("no interrupted run found");
                    }
                });
                return Ok(Outcome::Ok);
            }
            let rec = runlog::latest(&base)?;
            let missing = runlog::missing_secrets(&rec);
            if !missing.is_empty() {
                return Err(Error::Usage(format!(
                    "the interrupted {} needs secrets that are never recorded; set {} in the environment and run resume again",
                    rec.command,
                    missing.join(", ")
                )));
            }
            std::env::set_current_dir(&rec.cwd).map_err(|e| Error::io(format!("entering {}", rec.cwd.display()), e))?;
            let mut args: Vec<String> = vec!["velesdb-migrate".into()];
            args.extend(["--json", "--quiet", "--no-progress"].iter().zip([out.json, out.quiet, out.no_progress]).filter(|(_, on)| *on).map(|(f, _)| f.to_string()));
            args.extend(rec.args.iter().cloned());
            out.note(format!("resuming: velesdb-migrate {} (in {})", rec.args.join(" "), rec.cwd.display()));
            crate::runlog::set_args(args.iter().map(Into::into).collect());
            let again = Cli::try_parse_from(&args).map_err(|e| Error::Usage(format!("the recorded command no longer parses: {e}")))?;
            run(again)
        }
        Command::Pack { dir, file, split_size, partial } => {
            local_only(&[&dir, &file], "pack")?;
            let files = archive::pack(&dir, &file, split_size, partial)?;
            let sizes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            emit(&out, &serde_json::json!({ "snapshot": dir.display().to_string(), "files": names, "bytes": sizes }), || {
                println!("packed {} into {} ({:.1} MiB)", dir.display(), names.join(", "), sizes as f64 / 1048576.0)
            });
            Ok(Outcome::Ok)
        }
        Command::Unpack { file, dir } => {
            local_only(&[&file, &dir], "unpack")?;
            let r = archive::unpack(&file, &dir)?;
            report_verify(&out, &r, &format!("unpacked into {}", dir.display()));
            Ok(if r.ok() { Outcome::Ok } else { Outcome::Findings })
        }
        Command::Verify { dir } => {
            let r = match Location::parse(&dir, &cli.store)? {
                Location::Dir(dir) if dir.is_file() || archive::archive_parts(&dir).is_ok() => archive::verify_archive(&dir)?,
                loc => verify::verify_at(&loc)?,
            };
            report_verify(&out, &r, "verified");
            Ok(if r.ok() { Outcome::Ok } else { Outcome::Findings })
        }
        Command::Discover { source } => crate::discover::run(source, &out),
        Command::Inspect { dir } => {
            let m = Location::parse(&dir, &cli.store)?.load_manifest()?;
            emit(&out, &m, || print_inspect(&m));
            Ok(Outcome::Ok)
        }
        Command::Config { action } => crate::config::run(action, &out),
        Command::Init(a) => crate::config::template::init(a, &out),
        Command::Interactive => crate::interactive::run(&out),
        Command::Validate(a) => {
            let opts = validate::ValidateOptions {
                snapshot: Location::parse(&a.dir, &cli.store)?,
                to: a.dest.parse()?,
                collection: String::new(),
                sample: a.sample,
                strict: a.strict,
                parallelism: default_parallelism(),
                mapping: a.mapping,
            };
            let targets = import::targets(&opts.snapshot.load_manifest()?, &a.only, opts.mapping.from_collection.as_deref(), a.dest.collection.as_deref())?;
            let all = validate::run_targets(&opts, &targets, &out)?;
            emit_each(&out, &all, |r| {
                for f in &r.findings {
                    println!("MISMATCH {f}");
                }
                for n in &r.not_compared {
                    println!("not compared: {n}");
                }
                println!(
                    "{} / {}: {} points (expected {}), {} rows compared [{}], {} missing, {} vector and {} payload mismatches; {}",
                    r.destination, r.collection, r.actual_count, r.expected_count, r.rows_compared, r.mode, r.missing, r.vector_mismatches, r.payload_mismatches,
                    if r.ok { "OK" } else { "FAILED" }
                );
            });
            Ok(if all.iter().all(|r| r.ok) { Outcome::Ok } else { Outcome::Findings })
        }
        Command::Diff(a) => {
            let at = |s: &str| -> Result<Location> {
                let loc = Location::parse(s, &cli.store)?;
                match &loc {
                    Location::Dir(d) if d.is_file() || archive::archive_parts(d).is_ok() => Err(Error::Usage(format!(
                        "{s} is a packed archive; diff reads snapshot directories and store URLs: unpack it first"
                    ))),
                    _ => Ok(loc),
                }
            };
            let opts = diff::DiffOptions { a: at(&a.a)?, b: at(&a.b)?, only: a.only, ids_limit: a.ids_limit, spill_dir: a.spill_dir };
            let r = diff::run(&opts, &out)?;
            emit(&out, &r, || diff::print(&r));
            Ok(if r.identical { Outcome::Ok } else { Outcome::Findings })
        }
    }
}

/// `pack` and `unpack` work on local files only: refuse store URLs plainly
/// rather than as a path that does not exist.
fn local_only(paths: &[&std::path::Path], cmd: &str) -> Result<()> {
    match paths.iter().map(|p| p.to_string_lossy()).find(|p| p.contains("://")) {
        Some(p) => Err(Error::Usage(format!(
            "{cmd} works on local files and directories, not on {p}; a snapshot in a store is already one copyable unit \
             (or export into a directory to pack it)"
        ))),
        None => Ok(()),
    }
}

/// `123`, `64K`, `700M`, `4G` (powers of 1024).
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().map(|n| n * mult).map_err(|_| format!("{s:?} is not a size (e.g. 700M, 4G)"))
}

fn report_verify(out: &Output, r: &verify::VerifyReport, done: &str) {
    emit(out, r, || {
        for f in &r.findings {
            println!("BAD  {} [{}]: {}", f.file, f.kind, f.message);
        }
        println!(
            "{}: {} chunk(s), {} rows, {:.1} MiB checked; {}",
            r.snapshot,
            r.chunks_checked,
            r.rows,
            r.bytes as f64 / 1048576.0,
            if r.ok() { format!("all chunks match the manifest; {done}") } else { format!("{} problem(s)", r.findings.len()) }
        );
    });
}

fn parse_metric(m: Option<&str>) -> Result<Option<Metric>> {
    m.map(|s| Metric::parse(s).ok_or_else(|| Error::Usage(format!("--metric {s}: use cosine, l2 or dot"))))
        .transpose()
}

/// The async runtime of commands that talk to a source (two workers: the
/// async side only waits on the network).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}

/// For `migrate` (and `from`), a flag written after the source name that
/// the source does not have but migrate does (`--to`, `--to-collection`,
/// `--metric`, …) is moved before the source name, so
/// `migrate pgvector --url … --table items --to ./data` reads naturally.
pub fn relocate_migrate_flags(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(mig) = cmd.find_subcommand("migrate") else { return args };
    let Some(mi) = args.iter().skip(1).position(|a| a == "migrate" || a == "from").map(|p| p + 1) else { return args };
    let named = |i: usize| args[i].to_str().and_then(|t| mig.find_subcommand(t));
    let Some(si) = (mi + 1..args.len()).find(|&i| named(i).is_some()) else { return args };
    let src = named(si).expect("found above");
    let long = |c: &clap::Command, name: &str| c.get_arguments().find(|a| a.get_long() == Some(name)).map(|a| a.get_action().takes_values());
    let (mut moved, mut kept) = (Vec::new(), Vec::new());
    let mut i = si + 1;
    while i < args.len() {
        let t = args[i].to_string_lossy().into_owned();
        if t == "--" {
            kept.extend(args[i..].iter().cloned());
            break;
        }
        let mut take = 1;
        let mut to_migrate = false;
        if let Some(flag) = t.strip_prefix("--") {
            let (name, inline) = flag.split_once('=').map_or((flag, false), |(n, _)| (n, true));
            let (own, theirs) = (long(src, name), long(mig, name));
            let takes = match (own, theirs) {
                (Some(v), _) => v,
                (None, Some(v)) => {
                    to_migrate = true;
                    v
                }
                (None, None) => false,
            };
            if takes && !inline && i + 1 < args.len() {
                take = 2;
            }
        }
        let target = if to_migrate { &mut moved } else { &mut kept };
        target.extend(args[i..i + take].iter().cloned());
        i += take;
    }
    let mut out: Vec<std::ffi::OsString> = args[..si].to_vec();
    out.extend(moved);
    out.push(args[si].clone());
    out.extend(kept);
    out
}

/// Where `migrate` stages its snapshot when --out is not given: a directory
/// under `./.velesdb-migrate/`, named after the source and destination, so
/// that re-running the same command finds (and resumes) it.
fn default_staging(sources: &[AnySource], dest: &str, dest_collection: Option<&str>) -> PathBuf {
    let mut h = blake3::Hasher::new();
    for s in sources {
        h.update(s.kind().as_bytes());
        h.update(s.address().as_bytes());
        h.update(s.options().to_string().as_bytes());
    }
    h.update(dest.as_bytes());
    h.update(dest_collection.unwrap_or("").as_bytes());
    let kind = sources.first().map_or("source", |s| s.kind());
    PathBuf::from(".velesdb-migrate").join(format!("migrate-{kind}-{}", &h.finalize().to_hex()[..16]))
}

/// `export --dry-run` of the source the arguments name (its own
/// `--chunk-rows` and `--sample-rows`): connects, describes, samples;
/// writes nothing.
pub(crate) fn dry_run(source: SourceArgs) -> Result<export::DryRunReport> {
    let (chunk_rows, sample) = (source.common().chunk_rows, source.common().sample_rows);
    runtime()?.block_on(async { export::dry_run(connect(source).await?.0, chunk_rows, sample).await })
}

/// Connect to the source the arguments name: one [`AnySource`] per
/// collection to export. The one place that knows every source.
pub(crate) async fn connect(source: SourceArgs) -> Result<(Vec<AnySource>, Vec<Skipped>, bool)> {
    fn any<S: Into<AnySource>>(v: Vec<S>) -> Vec<AnySource> {
        v.into_iter().map(Into::into).collect()
    }
    let one = |s: AnySource| (vec![s], Vec::new(), false);
    Ok(match source {
        SourceArgs::Pgvector { args, .. } if args.every.all => {
            let strict = args.every.strict;
            let (srcs, skipped) = pgvector::connect_all("pgvector", args).await?;
            (any(srcs), skipped, strict)
        }
        SourceArgs::Supabase { args, .. } if args.pg.every.all => {
            let strict = args.pg.every.strict;
            let (srcs, skipped) = supabase::connect_all(args).await?;
            (any(srcs), skipped, strict)
        }
        SourceArgs::Chroma { args, .. } if args.every.all && args.path.is_some() => {
            let found = chroma_dir::discover(args.clone()).await?;
            let (srcs, skipped) = connect_each(found, |c| chroma_dir::ChromaDir::open(chroma::Args { collection: c, every: Default::default(), ..args.clone() }))?;
            (any(srcs), skipped, args.every.strict)
        }
        SourceArgs::Chroma { args, .. } if args.every.all => {
            let found = chroma::discover(args.clone()).await?;
            let (srcs, skipped) = connect_each(found, |c| chroma::Chroma::connect(chroma::Args { collection: c, every: Default::default(), ..args.clone() }))?;
            (any(srcs), skipped, args.every.strict)
        }
        SourceArgs::Qdrant { args, .. } if args.every.all => {
            let found = qdrant::discover(args.clone()).await?;
            let (srcs, skipped) = connect_each(found, |c| qdrant::Qdrant::connect(qdrant::Args { collection: c, every: Default::default(), ..args.clone() }))?;
            (any(srcs), skipped, args.every.strict)
        }
        SourceArgs::Milvus { args, .. } if args.every.all => {
            let found = milvus::discover(args.clone()).await?;
            let (srcs, skipped) = connect_each(found, |c| milvus::Milvus::connect(milvus::Args { collection: c, every: Default::default(), ..args.clone() }))?;
            (any(srcs), skipped, args.every.strict)
        }
        SourceArgs::Pgvector { args, .. } => one(pgvector::Pgvector::connect(args).await?.into()),
        SourceArgs::Chroma { args, .. } if args.path.is_some() => one(chroma_dir::ChromaDir::open(args)?.into()),
        SourceArgs::Chroma { args, .. } => one(chroma::Chroma::connect(args)?.into()),
        SourceArgs::Supabase { args, .. } => one(supabase::connect(args).await?.into()),
        SourceArgs::Qdrant { args, .. } => one(qdrant::Qdrant::connect(args)?.into()),
        SourceArgs::Milvus { args, .. } => one(milvus::Milvus::connect(args)?.into()),
        SourceArgs::Weaviate { args, .. } => (any(weaviate::connect(args).await?), Vec::new(), false),
        SourceArgs::Pinecone { args, .. } => (any(pinecone::open(args).await?), Vec::new(), false),
    })
}

fn init_rayon(threads: usize) {
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build_global();
}

fn print_inspect(m: &Manifest) {
    println!("snapshot format {} v{} (written by velesdb-migrate {})", m.format, m.format_version, m.tool_version);
    println!("source: {} at {}", m.source.kind, m.source.address);
    println!("created {}, updated {}, {}", m.created_at, m.updated_at, if m.complete { "complete" } else { "INCOMPLETE (export can be resumed)" });
    for c in &m.collections {
        println!();
        println!("collection {} (from {}){}", c.name, c.source_name, if c.complete { "" } else { " — incomplete" });
        println!("  id: {} ({:?}{})", c.schema.id.name, c.schema.id.kind, c.schema.id.source_type.as_deref().map(|t| format!(", {t}")).unwrap_or_default());
        for v in &c.schema.vectors {
            println!(
                "  vector {}: {:?} {:?} dim {}, metric {}{}",
                v.name,
                v.kind,
                v.element,
                v.dimension,
                v.metric.map(|m| m.to_string()).unwrap_or_else(|| "unknown".into()),
                v.index.as_ref().map(|i| format!(", index {} (m={:?}, ef_construction={:?}, lists={:?})", i.kind, i.m, i.ef_construction, i.lists)).unwrap_or_default()
            );
        }
        for f in &c.schema.metadata {
            println!("  metadata {}: {} -> {}", f.name, f.source_type, f.json);
        }
        if let Some(d) = &c.schema.document {
            println!("  document: {d}");
        }
        if let Some(f) = &c.filter {
            println!("  filter: {f}");
        }
        println!("  {} rows in {} chunks, {:.1} MiB (chunk size {} rows)", c.totals.rows, c.totals.chunks, c.totals.bytes as f64 / 1048576.0, c.chunk_rows);
        if let (Some(first), Some(last)) = (c.chunks.first(), c.chunks.last()) {
            println!("  ids {} .. {}", first.first_id, last.last_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("velesdb-migrate").chain(args.iter().copied()))
    }

    /// `--all` replaces the collection flag; the two exclude each other, and
    /// without `--all` the collection is still required.
    #[test]
    fn all_flags() {
        for (src, flag) in [("pgvector", "--table"), ("chroma", "--collection"), ("qdrant", "--collection"), ("milvus", "--collection")] {
            let c = parse(&["export", src, "--url", "http://h", "--all", "--out", "o"]).unwrap_or_else(|e| panic!("{src}: {e}"));
            let Command::Export { source } = c.command else { panic!() };
            let (all, strict) = match source {
                SourceArgs::Pgvector { args, .. } => (args.every.all, args.every.strict),
                SourceArgs::Chroma { args, .. } => (args.every.all, args.collection.is_empty()),
                SourceArgs::Qdrant { args, .. } => (args.every.all, args.collection.is_empty()),
                SourceArgs::Milvus { args, .. } => (args.every.all, args.collection.is_empty()),
                _ => unreachable!(),
            };
            assert!(all && (src == "pgvector") != strict, "{src}");
            assert!(parse(&["export", src, "--url", "http://h", "--out", "o"]).is_err(), "{src}: the collection is required without --all");
            assert!(parse(&["export", src, "--url", "http://h", "--all", flag, "x", "--out", "o"]).is_err(), "{src}: --all with {flag}");
            let c = parse(&["export", src, "--url", "http://h", "--strict", flag, "x", "--out", "o"]).unwrap();
            let Command::Export { source } = c.command else { panic!() };
            assert!(source.every().unwrap().check().is_err(), "{src}: --strict needs --all");
            assert!(parse(&["export", src, "--url", "http://h", flag, "x", "--out", "o"]).is_ok(), "{src}");
        }
        assert!(parse(&["export", "pgvector", "--all", "--where", "x", "--out", "o"]).is_err());
        assert!(parse(&["export", "qdrant", "--all", "--filter", "{}", "--out", "o"]).is_err());
        assert!(parse(&["import", "s", "--to", "d", "--only", "a", "--from-collection", "a"]).is_err());
        let c = parse(&["import", "s", "--to", "d", "--only", "a", "--only", "b"]).unwrap();
        let Command::Import(a) = c.command else { panic!() };
        assert_eq!((a.only, a.dest.collection), (vec!["a".to_owned(), "b".to_owned()], None));
    }
}
