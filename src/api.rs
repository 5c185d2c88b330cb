//! The library API: estimate, export, import and validate from Rust code,
//! with a progress callback and one result shape for every operation.
//!
//! A source is named exactly as on the command line (the same flags, the
//! same environment variables for secrets), so everything `velesdb-migrate
//! export <source> --help` documents works here too:
//!
//! ```no_run
//! use velesdb_migrate::api::{Migrator, SourceSpec};
//!
//! let source = SourceSpec::parse(["pgvector", "--url", "postgres://app@db/prod", "--table", "items"])?;
//! let m = Migrator::new().on_progress(|u| eprintln!("{} {}: {}/{:?}", u.phase, u.collection, u.done, u.total));
//! let estimate = m.estimate(&source)?;
//! println!("about {:?} bytes, {:?} s", estimate.details.estimated_snapshot_bytes, estimate.details.estimated_seconds);
//! let export = m.export(&source, "./snapshot")?;
//! let import = m.import("./snapshot", "./velesdb-data")?;
//! let check = m.validate("./snapshot", "./velesdb-data")?;
//! assert!(export.ok() && import.ok() && check.ok(), "{:?}", check.errors);
//! # Ok::<(), velesdb_migrate::Error>(())
//! ```
//!
//! Every call blocks until it is done (export runs its own tokio runtime;
//! do not call it from inside an async task — use `spawn_blocking`). A call
//! that cannot run at all (bad arguments, unreachable source, corrupted
//! snapshot) returns an [`Error`] with a stable [`Error::code`]; a call that
//! ran returns a [`Report`]: rows, failures, duration, success rate, the
//! problems found, and the operation's full summary in `details`.
//!
//! A runnable example against the committed fixture snapshot (it runs in
//! the tests), with the progress updates collected from the callback:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use velesdb_migrate::api::Migrator;
//!
//! let dir = std::env::temp_dir().join(format!("velesdb-api-doc-{}", std::process::id()));
//! # std::fs::remove_dir_all(&dir).ok();
//! // The fixture is read-only: copy it so the import journal can go beside it.
//! let snapshot = dir.join("snapshot");
//! velesdb_migrate::api::copy_dir("fixtures/snapshots/ok-small", &snapshot)?;
//! let updates = Arc::new(Mutex::new(Vec::new()));
//! let seen = updates.clone();
//! let m = Migrator::new().on_progress(move |u| seen.lock().unwrap().push((u.phase.clone(), u.done, u.finished)));
//!
//! let verified = m.verify(&snapshot)?;
//! assert!(verified.ok());
//! let imported = m.import(&snapshot, dir.join("velesdb"))?;
//! assert_eq!((imported.rows, imported.failed, imported.success_rate), (20, 0, 1.0));
//! let checked = m.validate(&snapshot, dir.join("velesdb"))?;
//! assert!(checked.ok(), "{:?}", checked.errors);
//! assert_eq!(checked.rows, 20);
//!
//! let updates = updates.lock().unwrap();
//! assert!(updates.contains(&("import".to_string(), 20, true)));
//! assert!(updates.contains(&("validate".to_string(), 20, true)));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), velesdb_migrate::Error>(())
//! ```

use crate::cli::SourceArgs;
use crate::error::{Error, Result};
use crate::pipeline::export::{self, DryRunReport, ExportSummary};
use crate::pipeline::import::{self, ImportOptions, ImportSummary};
use crate::pipeline::validate::{self, ValidateOptions, ValidateReport};
use crate::progress::{Output, ProgressFn, ProgressUpdate};
use crate::sink::rest::RestArgs;
use crate::sink::Destination;
use crate::snapshot::verify::{self as verify_mod, VerifyReport};
use crate::snapshot::store::StoreArgs;
use crate::snapshot::Location;
use clap::Parser;
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A source as the command line names it: the words after `export`
/// (`pgvector --url … --table items`, `qdrant --url … --collection docs`).
#[derive(Clone, Debug)]
pub struct SourceSpec {
    args: Vec<OsString>,
}

#[derive(Parser)]
#[command(name = "source", no_binary_name = true)]
struct SourceLine {
    #[command(subcommand)]
    source: SourceArgs,
}

#[derive(Parser)]
#[command(name = "destination", no_binary_name = true)]
struct DestinationLine {
    to: String,
    #[command(flatten)]
    rest: RestArgs,
}

impl SourceSpec {
    /// Parse the source's words (checked now, read again at each call so
    /// secrets come from the environment of that moment).
    ///
    /// # Errors
    /// `Usage` with clap's explanation when the words do not name a source
    /// with valid flags.
    pub fn parse<I, S>(args: I) -> Result<SourceSpec>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let spec = SourceSpec { args: args.into_iter().map(Into::into).collect() };
        spec.parsed(&[])?;
        Ok(spec)
    }

    /// Whether the words give `flag` (`--flag V` or `--flag=V`).
    fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a.to_str().is_some_and(|a| a == flag || a.starts_with(&format!("{flag}="))))
    }

    fn parsed(&self, extra: &[&str]) -> Result<SourceArgs> {
        let words = self.args.iter().cloned().chain(extra.iter().map(OsString::from));
        SourceLine::try_parse_from(words).map(|l| l.source).map_err(|e| Error::Usage(format!("source: {}", e.render().to_string().trim_end())))
    }
}

/// What every operation returns.
#[derive(Clone, Debug, Serialize)]
pub struct Report<T> {
    /// `estimate`, `export`, `import`, `validate` or `verify`.
    pub operation: &'static str,
    /// Rows handled by this call: read from the source in this run (export:
    /// rows of chunks committed by an earlier, resumed run are not counted
    /// again), imported, compared (validate), checked (verify), or counted by
    /// the source (estimate).
    pub rows: u64,
    /// Rows that did not make it: records the source listed but could no
    /// longer read (export), rows skipped for a NULL vector (import), rows
    /// missing, extra or different in the destination (validate), rows of
    /// damaged or missing chunks (verify).
    pub failed: u64,
    #[serde(with = "seconds")]
    pub duration: Duration,
    /// `(rows - failed) / rows`; 1.0 when there were no rows.
    pub success_rate: f64,
    /// The problems found, one line each (empty when all went well).
    pub errors: Vec<String>,
    /// The operation's own summary, as `--json` prints it.
    pub details: T,
}

impl<T> Report<T> {
    fn new(operation: &'static str, rows: u64, failed: u64, started: Instant, errors: Vec<String>, details: T) -> Report<T> {
        let success_rate = if rows == 0 { 1.0 } else { rows.saturating_sub(failed) as f64 / rows as f64 };
        Report { operation, rows, failed, duration: started.elapsed(), success_rate, errors, details }
    }

    /// No failed row and no problem.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errors.is_empty()
    }
}

mod seconds {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Runs operations with shared settings. Quiet by default (nothing on
/// stderr); progress goes to the callback.
#[derive(Clone)]
pub struct Migrator {
    out: Output,
    chunk_rows: Option<usize>,
    sample_rows: usize,
    store: StoreArgs,
    import: Option<Arc<dyn Fn(&mut ImportOptions) + Send + Sync>>,
    strict: bool,
}

impl Default for Migrator {
    fn default() -> Self {
        Migrator::new()
    }
}

impl Migrator {
    pub fn new() -> Migrator {
        Migrator {
            out: Output { quiet: true, no_progress: true, ..Default::default() },
            chunk_rows: None,
            sample_rows: 1000,
            store: StoreArgs::default(),
            import: None,
            strict: true,
        }
    }

    /// Call `f` with every progress update (see [`ProgressUpdate`]).
    pub fn on_progress(mut self, f: impl Fn(&ProgressUpdate) + Send + Sync + 'static) -> Migrator {
        let f: ProgressFn = Arc::new(f);
        self.out.callback = Some(f);
        self
    }

    /// Print the CLI's notes (settings chosen, warnings) on stderr.
    pub fn notes(mut self, on: bool) -> Migrator {
        self.out.quiet = !on;
        self
    }

    /// Rows per chunk of an export (default: about 16 MiB of vectors).
    pub fn chunk_rows(mut self, rows: usize) -> Migrator {
        self.chunk_rows = Some(rows);
        self
    }

    /// Rows read by [`Migrator::estimate`]'s sample (default 1000).
    pub fn sample_rows(mut self, rows: usize) -> Migrator {
        self.sample_rows = rows;
        self
    }

    /// Object-store settings for `s3://` / `gs://` / `az://` snapshots.
    pub fn store(mut self, store: StoreArgs) -> Migrator {
        self.store = store;
        self
    }

    /// Adjust the import options (HNSW parameters, mapping, transforms,
    /// parallelism…) of [`Migrator::import`]; they start as the CLI's defaults.
    pub fn import_options(mut self, f: impl Fn(&mut ImportOptions) + Send + Sync + 'static) -> Migrator {
        self.import = Some(Arc::new(f));
        self
    }

    /// Validate every row (default) or a sample of 1 000 rows per collection.
    pub fn strict_validation(mut self, strict: bool) -> Migrator {
        self.strict = strict;
        self
    }

    /// Connect, describe every collection, time a sample page and estimate
    /// the snapshot's size and the export's duration. Writes nothing.
    ///
    /// # Errors
    /// The source cannot be reached or described.
    pub fn estimate(&self, source: &SourceSpec) -> Result<Report<DryRunReport>> {
        let started = Instant::now();
        // The Migrator's settings unless the source's words give their own.
        let (rows, chunk) = (self.sample_rows.to_string(), self.chunk_rows.map(|c| c.to_string()));
        let mut extra = Vec::new();
        for (flag, value) in [("--sample-rows", Some(&rows)), ("--chunk-rows", chunk.as_ref())] {
            if let Some(v) = value.filter(|_| !source.has(flag)) {
                extra.extend([flag, v.as_str()]);
            }
        }
        let r = crate::cli::dry_run(source.parsed(&extra)?)?;
        // A source without a count is no failure: `details` says `rows: None`.
        let rows = r.collections.iter().filter_map(|c| c.rows).sum();
        Ok(Report::new("estimate", rows, 0, started, Vec::new(), r))
    }

    /// Export `source` into the snapshot `out` (a directory, or a store URL);
    /// resumes when `out` holds an unfinished export of the same source.
    ///
    /// # Errors
    /// As `velesdb-migrate export`: the source, the snapshot directory, a
    /// resume of another source.
    pub fn export(&self, source: &SourceSpec, out: impl AsRef<Path>) -> Result<Report<ExportSummary>> {
        let started = Instant::now();
        let out = out.as_ref().to_string_lossy().into_owned();
        let given = source.parsed(&[])?;
        let common = given.common();
        if common.out.is_some() || common.dry_run {
            return Err(Error::Usage("source: leave --out and --dry-run out of the source's words: the snapshot is export()'s argument, a dry run is estimate()".into()));
        }
        given.every().map_or(Ok(()), |e| e.check())?;
        let chunk_rows = common.chunk_rows.or(self.chunk_rows);
        let args = source.parsed(&["--out", &out])?;
        let location = Location::parse(&out, &self.store)?;
        let Location::Dir(dir) = location else {
            return Err(Error::Usage("the library exports into a directory; use `velesdb-migrate export` for a store URL".into()));
        };
        let opts = export::ExportOptions { out: dir, chunk_rows, publish: None };
        let out = &self.out;
        let s = crate::cli::runtime()?.block_on(async {
            let (sources, skipped, strict) = crate::cli::connect(args).await?;
            export::run_all(sources, skipped, strict, opts, out).await
        })?;
        let errors = s.skipped.iter().map(|k| format!("left out {} ({}): {}", k.collection, k.source_name, k.problem)).collect();
        Ok(Report::new("export", s.rows_this_run + s.missing, s.missing, started, errors, s))
    }

    /// Import every collection of `snapshot` into VelesDB at `to` (a data
    /// directory for embedded VelesDB, or `http(s)://HOST:PORT` of a
    /// velesdb-server; `VELESDB_API_KEY` is read for a server), each into a
    /// collection of its own name (`.` as `_`). Resumes from the journal.
    ///
    /// # Errors
    /// As `velesdb-migrate import`.
    pub fn import(&self, snapshot: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<Report<Vec<ImportSummary>>> {
        let started = Instant::now();
        let mut opts = ImportOptions::new(self.location(snapshot.as_ref())?, destination(to.as_ref())?, "");
        if let Some(f) = &self.import {
            f(&mut opts);
        }
        let collection = std::mem::take(&mut opts.collection);
        let targets = import::targets(&opts.snapshot.load_manifest()?, &[], opts.mapping.from_collection.as_deref(), Some(collection.as_str()).filter(|c| !c.is_empty()))?;
        let all = import::run_targets(&opts, &targets, &self.out)?;
        let rows = all.iter().map(|s| s.points_upserted).sum::<u64>();
        let failed = all.iter().map(|s| s.skipped_null_vectors.len() as u64).sum::<u64>();
        let errors = all
            .iter()
            .filter(|s| !s.skipped_null_vectors.is_empty())
            .map(|s| format!("{}: {} row(s) skipped for a NULL vector: {:?}", s.collection, s.skipped_null_vectors.len(), s.skipped_null_vectors))
            .collect();
        Ok(Report::new("import", rows + failed, failed, started, errors, all))
    }

    /// Compare every collection of `snapshot` with VelesDB at `to` (every
    /// row, or a sample: [`Migrator::strict_validation`]).
    ///
    /// # Errors
    /// The snapshot or the destination cannot be read.
    pub fn validate(&self, snapshot: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<Report<Vec<ValidateReport>>> {
        let started = Instant::now();
        let snapshot = self.location(snapshot.as_ref())?;
        // The collections and mapping the import chose (same options).
        let mut o = ImportOptions::new(snapshot.clone(), destination(to.as_ref())?, "");
        if let Some(f) = &self.import {
            f(&mut o);
        }
        let targets = import::targets(&snapshot.load_manifest()?, &[], o.mapping.from_collection.as_deref(), Some(o.collection.as_str()).filter(|c| !c.is_empty()))?;
        let mapping = o.mapping;
        let opts = ValidateOptions {
            snapshot,
            to: destination(to.as_ref())?,
            collection: String::new(),
            sample: 1000,
            strict: self.strict,
            parallelism: 1,
            mapping,
        };
        let all = validate::run_targets(&opts, &targets, &self.out)?;
        // Strict: every row of the snapshot (and any extra point); sample: the rows compared.
        let extra = |r: &ValidateReport| r.actual_count.saturating_sub(r.expected_count);
        let rows = all.iter().map(|r| if self.strict { r.rows_compared.max(r.expected_count) + extra(r) } else { r.rows_compared }).sum();
        let failed = all.iter().map(|r| r.missing + r.vector_mismatches + r.payload_mismatches + if self.strict { extra(r) } else { 0 }).sum();
        let errors = all.iter().filter(|r| !r.ok).flat_map(|r| {
            let head = format!("{}: expected {} rows, found {}; {} missing, {} vector and {} payload mismatches", r.collection, r.expected_count, r.actual_count, r.missing, r.vector_mismatches, r.payload_mismatches);
            std::iter::once(head).chain(r.findings.iter().map(move |f| format!("{}: {f}", r.collection)))
        }).collect();
        Ok(Report::new("validate", rows, failed, started, errors, all))
    }

    /// Check every chunk of a snapshot (directory or store URL) against its manifest
    /// (sizes, blake3 hashes, row counts), offline.
    ///
    /// # Errors
    /// The manifest cannot be read.
    pub fn verify(&self, snapshot: impl AsRef<Path>) -> Result<Report<VerifyReport>> {
        let started = Instant::now();
        let location = self.location(snapshot.as_ref())?;
        let r = verify_mod::verify_at(&location)?;
        let errors: Vec<String> = r.findings.iter().map(|f| format!("{} {} ({}): {}", f.collection, f.file, f.kind, f.message)).collect();
        let bad: std::collections::BTreeSet<&str> = r.findings.iter().map(|f| f.file.as_str()).collect();
        let manifest = location.load_manifest()?;
        let chunks = || manifest.collections.iter().flat_map(|c| &c.chunks);
        let failed = chunks().filter(|k| bad.contains(k.file.as_str())).map(|k| k.rows).sum();
        let rows = chunks().map(|k| k.rows).sum();
        Ok(Report::new("verify", rows, failed, started, errors, r))
    }

    fn location(&self, p: &Path) -> Result<Location> {
        Location::parse(&p.to_string_lossy(), &self.store)
    }
}

fn destination(to: &Path) -> Result<Destination> {
    let to = to.to_string_lossy();
    let line = DestinationLine::try_parse_from([to.as_ref()]).map_err(|e| Error::Usage(format!("destination: {}", e.render().to_string().trim_end())))?;
    Destination::parse(&line.to, &line.rest)
}

/// Copy a directory tree (a snapshot, say) file by file.
///
/// # Errors
/// `Io` naming the file that could not be read or written.
pub fn copy_dir(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<()> {
    use crate::error::IoContext;
    let (from, to) = (from.as_ref(), to.as_ref());
    std::fs::create_dir_all(to).ctx(|| format!("creating {}", to.display()))?;
    for e in std::fs::read_dir(from).ctx(|| format!("reading {}", from.display()))? {
        let e = e.ctx(|| format!("reading {}", from.display()))?;
        let target: PathBuf = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).ctx(|| format!("copying {} to {}", e.path().display(), target.display()))?;
        }
    }
    Ok(())
}
