//! Where a snapshot lives: a local directory, or a prefix in an object store
//! (`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`),
//! reached through the `object_store` crate.
//!
//! A snapshot in a store keeps the directory's relative paths under its
//! prefix (`formats/snapshot-v1.md`, section 10): `<prefix>/manifest.json`,
//! `<prefix>/chunks/<collection>/<seq>.parquet`.
//!
//! - **Reading** fetches the manifest, then each chunk with one streamed GET
//!   into memory (chunks are bounded, about 16 MiB of vectors), and checks
//!   its size and blake3 before anything decodes it.
//! - **Writing** (export, see [`Mirror`]) keeps the local commit protocol in a
//!   staging directory and mirrors each commit: first the chunk (multipart
//!   above the part size), then `manifest.json` with one PUT, which replaces
//!   the object atomically. The store's manifest is the commit point, exactly
//!   as the local one is for a directory.
//! - **Credentials** come only from the environment and the providers'
//!   standard chains (see [`Remote::open`]); a URL carrying a password or a
//!   query string is refused, and every message built from a store error is
//!   scrubbed of the secret values this process knows ([`scrub`]).

use super::chunk::{check_bytes, ChunkProblem};
use super::manifest::{ChunkEntry, Manifest};
use super::MANIFEST_FILE;
use crate::error::{Error, IoContext, Result};
use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path as ObjPath;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Store options shared by every command that reads or writes a snapshot.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct StoreArgs {
    /// Endpoint of an S3-compatible store (MinIO, Ceph, R2, moto, …) for
    /// s3:// snapshots; AWS_ENDPOINT_URL works too. An http:// endpoint
    /// allows plain HTTP.
    #[arg(long, global = true, env = "VELESDB_MIGRATE_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 addressing: `path` (ENDPOINT/BUCKET/KEY, what most S3-compatible
    /// stores need) or `virtual` (BUCKET.ENDPOINT/KEY). Default: path, unless
    /// AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true.
    #[arg(long, global = true, env = "VELESDB_MIGRATE_S3_ADDRESSING", value_parser = ["path", "virtual"], value_name = "STYLE")]
    pub s3_addressing: Option<String>,
}

/// A snapshot's place: a directory or a store prefix.
#[derive(Clone, Debug)]
pub enum Location {
    Dir(PathBuf),
    Store(Arc<Remote>),
}

impl Location {
    /// A directory path, `file://PATH`, or a store URL (`s3://`, `s3a://`,
    /// `gs://`, `az://`, `azure://`, `abfs(s)://`, `adl://`). Builds the store
    /// client (no network access yet).
    ///
    /// # Errors
    /// `Usage` for an unsupported scheme or a URL carrying credentials;
    /// `Store` when the provider's configuration is incomplete.
    pub fn parse(s: &str, args: &StoreArgs) -> Result<Location> {
        if !s.contains("://") {
            return Ok(Location::Dir(PathBuf::from(s)));
        }
        if s.starts_with("file://") {
            let url = url::Url::parse(s).map_err(|e| Error::Usage(format!("{s}: not a valid URL ({e})")))?;
            let path = url.to_file_path().map_err(|_| Error::Usage(format!("{s}: not a local file URL")))?;
            return Ok(Location::Dir(path));
        }
        Ok(Location::Store(Arc::new(Remote::open(s, args)?)))
    }

    /// The local directory, when the snapshot is one.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Location::Dir(d) => Some(d),
            Location::Store(_) => None,
        }
    }

    /// How messages and reports name the snapshot (never with credentials).
    pub fn display(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::Store(r) => r.url.clone(),
        }
    }

    /// Load and check the manifest.
    ///
    /// # Errors
    /// `Manifest` when it is missing or invalid, `Store` when the store fails.
    pub fn load_manifest(&self) -> Result<Manifest> {
        match self {
            Location::Dir(d) => Manifest::load(d),
            Location::Store(r) => r.load_manifest(),
        }
    }

    /// Read a chunk and check its size and blake3 against `entry`.
    pub fn read_and_check(&self, entry: &ChunkEntry) -> std::result::Result<Vec<u8>, (ChunkProblem, String)> {
        match self {
            Location::Dir(d) => super::chunk::read_and_check(d, entry),
            Location::Store(r) => r.read_and_check(entry),
        }
    }

    /// [`Location::read_and_check`] with the error as the crate's error type.
    pub fn read_chunk_verified(&self, collection: &str, entry: &ChunkEntry) -> Result<Vec<u8>> {
        self.read_and_check(entry)
            .map_err(|(_, message)| Error::Chunk { collection: collection.to_owned(), file: entry.file.clone(), message })
    }
}

/// A snapshot prefix in an object store.
pub struct Remote {
    /// `scheme://bucket/prefix`, as given (no trailing slash, no credentials).
    pub url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
}

// The store's own Debug may show configuration values: print the URL only.
impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({})", self.url)
    }
}

/// One object read by byte ranges, for a Parquet reader: the footer by two
/// small GETs, then whatever [`RangeReader::prefetch`] fetched in one GET
/// (a column chunk) served from memory. Clones share the fetched bytes.
#[derive(Clone)]
pub struct RangeReader {
    inner: Arc<RangeInner>,
}

struct RangeInner {
    store: Arc<dyn ObjectStore>,
    key: ObjPath,
    url: String,
    /// The size the manifest gives (a different real size fails the reads).
    len: u64,
    /// (offset, bytes) of the prefetched range.
    cached: Mutex<Option<(u64, Bytes)>>,
    fetched: std::sync::atomic::AtomicU64,
}

impl RangeReader {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, key: ObjPath, url: String, len: u64) -> RangeReader {
        RangeReader { inner: Arc::new(RangeInner { store, key, url, len, cached: Mutex::new(None), fetched: Default::default() }) }
    }

    /// Fetch `start..end` now, in one request; reads inside it are then
    /// served from memory.
    pub fn prefetch(&self, start: u64, end: u64) -> parquet::errors::Result<()> {
        let got = self.fetch(start, end.min(self.inner.len))?;
        *self.inner.cached.lock().expect("range cache") = Some((start, got));
        Ok(())
    }

    /// Bytes fetched from the store so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.inner.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `start..end` from the prefetched range when it holds it.
    fn cached(&self, start: u64, end: Option<u64>) -> Option<Bytes> {
        let guard = self.inner.cached.lock().expect("range cache");
        let (at, bytes) = guard.as_ref()?;
        let stop = at + bytes.len() as u64;
        let end = end.unwrap_or(stop);
        (start >= *at && end <= stop && start <= end).then(|| bytes.slice((start - at) as usize..(end - at) as usize))
    }

    fn fetch(&self, start: u64, end: u64) -> parquet::errors::Result<Bytes> {
        let r = &self.inner;
        let got = block_on(r.store.get_range(&r.key, start..end))
            .map_err(|e| parquet::errors::ParquetError::General(format!("reading bytes {start}..{end} of {}: {}", r.url, explain(&e))))?;
        r.fetched.fetch_add(got.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if got.len() as u64 != end - start {
            return Err(parquet::errors::ParquetError::General(format!("{}: asked for {} bytes, got {}", r.url, end - start, got.len())));
        }
        Ok(got)
    }
}

impl parquet::file::reader::Length for RangeReader {
    fn len(&self) -> u64 {
        self.inner.len
    }
}

impl parquet::file::reader::ChunkReader for RangeReader {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        use bytes::Buf;
        // A page reader asks for "the rest of the file" at each page header:
        // inside the prefetched column chunk that is the rest of the chunk.
        match self.cached(start, None) {
            Some(b) => Ok(b.reader()),
            None => Ok(self.fetch(start, self.inner.len)?.reader()),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let end = start + length as u64;
        match self.cached(start, Some(end)) {
            Some(b) => Ok(b),
            None => self.fetch(start, end),
        }
    }
}

/// Retries of one request: connection failures and 5xx, with backoff.
/// Bounded so that an unreachable endpoint fails in seconds, not minutes.
const MAX_RETRIES: usize = 4;
const RETRY_TIMEOUT: Duration = Duration::from_secs(60);
/// Whole-request timeout (a 16 MiB part needs a slow link to exceed it);
/// `AWS_TIMEOUT` / `GOOGLE_TIMEOUT` / `AZURE_TIMEOUT` override it.
const REQUEST_TIMEOUT: &str = "120s";
/// Multipart parts uploaded at once by one chunk upload.
const PART_CONCURRENCY: usize = 2;

impl Remote {
    /// Build the client for `url` from the environment:
    ///
    /// - S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    ///   `AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`,
    ///   `AWS_ALLOW_HTTP`, …; else the shared credentials file
    ///   (`AWS_PROFILE`, `~/.aws/credentials`, `~/.aws/config`); else web
    ///   identity, ECS task role or EC2 instance metadata (object_store's chain).
    /// - GCS: `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_APPLICATION_CREDENTIALS`, the
    ///   gcloud application-default credentials, else the metadata server.
    /// - Azure: `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`,
    ///   a SAS token, a service principal, workload identity, or managed identity.
    ///
    /// # Errors
    /// `Usage` for a URL object_store cannot serve or that carries a secret;
    /// `Store` when the builder refuses the configuration.
    pub fn open(s: &str, args: &StoreArgs) -> Result<Remote> {
        let url = url::Url::parse(s).map_err(|e| Error::Usage(format!("{}: not a valid URL ({e})", redact_url(s))))?;
        if url.password().is_some() || url.query().is_some() {
            let shown = redact_url(s);
            return Err(Error::Usage(format!(
                "{shown}: credentials or options in the URL are not accepted (they would end up in logs and manifests); \
                 give them through the environment (AWS_*, GOOGLE_*, AZURE_*)"
            )));
        }
        // Shown as given (no secret in it now), so reports match the command line.
        let shown = s.trim_end_matches('/').to_owned();
        if url.host_str().unwrap_or("").is_empty() {
            return Err(Error::Usage(format!("{shown}: the URL names no bucket or container")));
        }
        register_env_secrets();
        let retry = RetryConfig { max_retries: MAX_RETRIES, retry_timeout: RETRY_TIMEOUT, ..Default::default() };
        let fail = |e: object_store::Error| Error::Store { url: shown.clone(), message: scrub(&e.to_string()) };
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "s3" | "s3a" => {
                let mut b = AmazonS3Builder::from_env().with_url(url.as_str()).with_retry(retry);
                b = aws_shared_config(b);
                if let Some(e) = &args.s3_endpoint {
                    b = b.with_endpoint(e);
                }
                if b.get_config_value(&AmazonS3ConfigKey::Endpoint).is_some_and(|e| e.starts_with("http://")) {
                    b = b.with_allow_http(true);
                }
                if let Some(style) = &args.s3_addressing {
                    b = b.with_virtual_hosted_style_request(style == "virtual");
                }
                if std::env::var_os("AWS_TIMEOUT").is_none() {
                    b = b.with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT);
                }
                Arc::new(b.build().map_err(fail)?)
            }
            "gs" => {
                let mut b = GoogleCloudStorageBuilder::from_env().with_url(url.as_str()).with_retry(retry);
                if std::env::var_os("GOOGLE_TIMEOUT").is_none() {
                    b = b.with_config(GoogleConfigKey::Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT);
                }
                Arc::new(b.build().map_err(fail)?)
            }
            "az" | "azure" | "abfs" | "abfss" | "adl" => {
                let mut b = MicrosoftAzureBuilder::from_env().with_url(url.as_str()).with_retry(retry);
                if std::env::var_os("AZURE_TIMEOUT").is_none() {
                    b = b.with_config(AzureConfigKey::Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT);
                }
                Arc::new(b.build().map_err(fail)?)
            }
            other => {
                return Err(Error::Usage(format!(
                    "{shown}: `{other}://` is not a snapshot location; use a directory, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX"
                )))
            }
        };
        let prefix = ObjPath::from_url_path(url.path()).map_err(|e| Error::Usage(format!("{shown}: {e}")))?;
        Ok(Remote { url: shown, store, prefix })
    }

    /// The object key of `rel` (a snapshot-relative path such as `chunks/t/000000.parquet`).
    fn key(&self, rel: &str) -> ObjPath {
        let mut parts: Vec<_> = self.prefix.parts().collect();
        parts.extend(rel.split('/').filter(|p| !p.is_empty()).map(object_store::path::PathPart::from));
        ObjPath::from_iter(parts)
    }

    /// `url/rel`, for messages.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    fn err(&self, what: &str, e: &object_store::Error) -> Error {
        Error::Store { url: self.url.clone(), message: format!("{what}: {}", explain(e)) }
    }

    /// The bytes of `rel`, or `None` when there is no such object.
    pub fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        let key = self.key(rel);
        block_on(async {
            match self.store.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .map_err(|e| self.err(&format!("reading {rel}"), &e))
    }

    fn load_manifest(&self) -> Result<Manifest> {
        let shown = PathBuf::from(self.url_of(MANIFEST_FILE));
        let key = self.key(MANIFEST_FILE);
        let got = block_on(async {
            match self.store.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(e @ object_store::Error::NotFound { .. }) if !missing_bucket(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .map_err(|e| self.err(&format!("reading {MANIFEST_FILE}"), &e))?;
        match got {
            Some(bytes) => Manifest::from_bytes(&shown, &bytes),
            None => Err(Error::Manifest {
                path: shown,
                message: format!(
                    "{} is not a snapshot (no {MANIFEST_FILE}); check the URL, or run `velesdb-migrate export` into it first",
                    self.url
                ),
            }),
        }
    }

    /// One streamed GET of a chunk into memory, checked against the manifest
    /// entry: the object's size first (nothing is downloaded when it is
    /// wrong), then the bytes' length and blake3.
    fn read_and_check(&self, entry: &ChunkEntry) -> std::result::Result<Vec<u8>, (ChunkProblem, String)> {
        let key = self.key(&entry.file);
        let fetched = block_on(async {
            let r = match self.store.get(&key).await {
                Ok(r) => r,
                Err(e) => return Err(e),
            };
            if r.meta.size != entry.bytes {
                return Ok(Err(r.meta.size));
            }
            let mut buf = Vec::with_capacity(entry.bytes as usize);
            let mut body = r.into_stream();
            while let Some(part) = body.next().await {
                buf.extend_from_slice(&part?);
            }
            Ok(Ok(buf))
        });
        let buf = match fetched {
            Ok(Ok(buf)) => buf,
            Ok(Err(size)) => {
                return Err((
                    ChunkProblem::Size,
                    format!("the object holds {size} bytes, the manifest says {} (truncated or replaced); restore it or re-export", entry.bytes),
                ))
            }
            Err(e @ object_store::Error::NotFound { .. }) if !missing_bucket(&e) => {
                return Err((ChunkProblem::Missing, format!("the object {} is missing; restore it or re-export", self.url_of(&entry.file))))
            }
            Err(e) => return Err((ChunkProblem::Unreadable, format!("cannot read {}: {}", self.url_of(&entry.file), explain(&e)))),
        };
        check_bytes(&buf, entry.bytes, &entry.blake3)?;
        Ok(buf)
    }

    /// The chunk `entry` as a Parquet [`ChunkReader`]: byte ranges fetched
    /// on demand (the footer, then only the columns read). Nothing is
    /// hash-checked: use it where a whole, verified read follows anyway.
    ///
    /// [`ChunkReader`]: parquet::file::reader::ChunkReader
    pub fn ranges(&self, entry: &ChunkEntry) -> RangeReader {
        RangeReader::new(self.store.clone(), self.key(&entry.file), self.url_of(&entry.file), entry.bytes)
    }

    /// Every object under the prefix: (snapshot-relative path, size), sorted.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let prefix = self.prefix.clone();
        let metas = block_on(async {
            let mut out = Vec::new();
            let mut s = self.store.list(Some(&prefix));
            while let Some(m) = s.next().await {
                out.push(m?);
            }
            Ok::<_, object_store::Error>(out)
        })
        .map_err(|e| self.err("listing the prefix", &e))?;
        let skip = self.prefix.parts().count();
        let mut out: Vec<(String, u64)> = metas
            .into_iter()
            .map(|m| (m.location.parts().skip(skip).map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/"), m.size))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Replace the object `rel` with `bytes` (one PUT: readers see the old
    /// object or the new one).
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let key = self.key(rel);
        block_on(self.store.put(&key, PutPayload::from(bytes))).map(|_| ()).map_err(|e| self.err(&format!("writing {rel}"), &e))
    }

    /// Upload the local file `path` as `rel`: one PUT up to `part_size`
    /// bytes, a multipart upload in parts of `part_size` above (at most
    /// [`PART_CONCURRENCY`] parts in memory and in flight).
    pub fn upload_file(&self, rel: &str, path: &Path, part_size: usize) -> Result<()> {
        let len = std::fs::metadata(path).ctx(|| format!("reading {}", path.display()))?.len();
        if len <= part_size as u64 {
            return self.put(rel, std::fs::read(path).ctx(|| format!("reading {}", path.display()))?);
        }
        let key = self.key(rel);
        let mut file = std::fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
        let result: std::result::Result<(), UploadError> = block_on(async {
            let upload = self.store.put_multipart(&key).await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, part_size);
            let step: std::result::Result<(), UploadError> = async {
                loop {
                    w.wait_for_capacity(PART_CONCURRENCY).await?;
                    let mut part = vec![0u8; part_size];
                    let n = read_full(&mut file, &mut part).map_err(UploadError::Io)?;
                    if n == 0 {
                        return Ok(());
                    }
                    part.truncate(n);
                    w.put(Bytes::from(part));
                }
            }
            .await;
            match step {
                Ok(()) => w.finish().await.map(|_| ()).map_err(UploadError::Store),
                Err(e) => {
                    let _ = w.abort().await;
                    Err(e)
                }
            }
        });
        result.map_err(|e| match e {
            UploadError::Store(e) => self.err(&format!("uploading {rel}"), &e),
            UploadError::Io(e) => Error::io(format!("reading {}", path.display()), e),
        })
    }
}

enum UploadError {
    Store(object_store::Error),
    Io(std::io::Error),
}

impl From<object_store::Error> for UploadError {
    fn from(e: object_store::Error) -> Self {
        UploadError::Store(e)
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A 404 that means "no such bucket/container", not "no such object".
fn missing_bucket(e: &object_store::Error) -> bool {
    let s = e.to_string();
    s.contains("NoSuchBucket") || s.contains("ContainerNotFound") || s.contains("bucket does not exist")
}

/// A store error as a message that says what to do; never with secrets.
fn explain(e: &object_store::Error) -> String {
    use object_store::Error as E;
    // One line, bounded: a server's XML error body can be long.
    let mut raw = scrub(&e.to_string()).split_whitespace().collect::<Vec<_>>().join(" ");
    if raw.len() > 500 {
        let cut = (0..=500).rev().find(|i| raw.is_char_boundary(*i)).unwrap_or(0);
        raw.truncate(cut);
        raw.push('…');
    }
    // Where the providers look for credentials when none are configured:
    // the EC2, GCE and Azure instance metadata services.
    let metadata = ["/latest/api/token", "/latest/meta-data", "computeMetadata", "metadata/identity"].iter().any(|m| raw.contains(m));
    let hint = match e {
        _ if missing_bucket(e) => "the bucket (or container) does not exist, or these credentials cannot see it; create it or fix the URL",
        E::Unauthenticated { .. } | E::PermissionDenied { .. } => {
            "access denied: check the credentials in the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, \
             GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_NAME/AZURE_STORAGE_ACCOUNT_KEY) and the bucket's permissions"
        }
        _ if metadata || raw.contains("redential") => {
            "no usable credentials: none in the environment or the shared config files, and no instance metadata service answered; \
             set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), GOOGLE_APPLICATION_CREDENTIALS, or \
             AZURE_STORAGE_ACCOUNT_NAME/AZURE_STORAGE_ACCOUNT_KEY"
        }
        _ if raw.contains("error sending request") || raw.contains("dns error") || raw.contains("onnect") => {
            "cannot reach the store: check the endpoint (--s3-endpoint or AWS_ENDPOINT_URL, and --s3-addressing) and the network, then re-run the same command"
        }
        _ => return raw,
    };
    format!("{hint} ({raw})")
}

/// The URL without userinfo password or query (for messages about a URL
/// that is refused for carrying them).
fn redact_url(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        // Unparsable: show the scheme only, the rest may hold a secret.
        Err(_) => format!("{}://…", s.split("://").next().unwrap_or("")),
    }
}

/// Secret values (from the environment or a credentials file) that no
/// message may contain.
fn secrets() -> &'static Mutex<Vec<String>> {
    static S: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Vec::new()))
}

fn add_secret(v: &str) {
    if v.len() >= 4 {
        let mut s = secrets().lock().expect("secret list");
        if !s.iter().any(|x| x == v) {
            s.push(v.to_owned());
        }
    }
}

const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SSE_CUSTOMER_KEY_BASE64",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
];

fn register_env_secrets() {
    for v in SECRET_VARS {
        if let Ok(val) = std::env::var(v) {
            add_secret(&val);
        }
    }
}

/// `s` with every known secret value replaced by `***`.
pub fn scrub(s: &str) -> String {
    let mut out = s.to_owned();
    for secret in secrets().lock().expect("secret list").iter() {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

/// S3 credentials and region from the shared AWS files when the
/// environment has none: profile `AWS_PROFILE` (else `default`) of
/// `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`) and of
/// `AWS_CONFIG_FILE` (else `~/.aws/config`). Static keys only
/// (`credential_process` and SSO profiles are not read).
fn aws_shared_config(mut b: AmazonS3Builder) -> AmazonS3Builder {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |var: &str, default: &str| std::env::var_os(var).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(default)));
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    if b.get_config_value(&AmazonS3ConfigKey::AccessKeyId).is_none() {
        if let Some(text) = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials").and_then(|p| std::fs::read_to_string(p).ok()) {
            let s = ini_section(&text, &profile);
            if let (Some(id), Some(secret)) = (s.get("aws_access_key_id"), s.get("aws_secret_access_key")) {
                add_secret(secret);
                b = b.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(t) = s.get("aws_session_token") {
                    add_secret(t);
                    b = b.with_token(t);
                }
            }
        }
    }
    if b.get_config_value(&AmazonS3ConfigKey::Region).is_none() {
        if let Some(text) = file("AWS_CONFIG_FILE", ".aws/config").and_then(|p| std::fs::read_to_string(p).ok()) {
            let name = if profile == "default" { profile.clone() } else { format!("profile {profile}") };
            if let Some(r) = ini_section(&text, &name).get("region") {
                b = b.with_region(r);
            }
        }
    }
    b
}

/// The `key = value` pairs of `[section]` in an INI text.
fn ini_section(text: &str, section: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == section;
        } else if inside && !line.starts_with('#') && !line.starts_with(';') {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
    }
    out
}

/// The runtime that drives store requests for the synchronous pipelines
/// (rayon workers, the export's writer thread). Never dropped.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("store-io")
            .enable_all()
            .build()
            .expect("starting the object-store runtime")
    })
}

/// Run a store future to completion from synchronous code. From inside an
/// async context (where blocking the thread on another runtime is not
/// allowed) it runs on a helper thread.
fn block_on<F>(f: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(|| runtime().block_on(f)).join().expect("object-store thread panicked"))
    } else {
        runtime().block_on(f)
    }
}

/// Default place for local state of remote snapshots (export staging,
/// import journals): `$XDG_CACHE_HOME/velesdb-migrate`, else
/// `~/.cache/velesdb-migrate`, else the system temp dir.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("velesdb-migrate")
}

/// A short stable key for a string (directory and journal names).
pub fn short_key(s: &str) -> String {
    blake3::hash(s.as_bytes()).to_hex()[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(url: &str) -> Location {
        Location::parse(url, &StoreArgs { s3_endpoint: Some("http://127.0.0.1:9".into()), s3_addressing: Some("path".into()) }).unwrap()
    }

    #[test]
    fn paths_and_urls() {
        assert!(matches!(Location::parse("./snap", &StoreArgs::default()).unwrap(), Location::Dir(p) if p == Path::new("./snap")));
        assert!(matches!(Location::parse("file:///tmp/snap", &StoreArgs::default()).unwrap(), Location::Dir(p) if p == Path::new("/tmp/snap")));
        let Location::Store(r) = s3("s3://bucket/some/prefix/") else { panic!("not a store") };
        assert_eq!(r.url, "s3://bucket/some/prefix");
        assert_eq!(r.key("manifest.json").as_ref(), "some/prefix/manifest.json");
        assert_eq!(r.key("chunks/t/000001.parquet").as_ref(), "some/prefix/chunks/t/000001.parquet");
        let Location::Store(r) = s3("s3://bucket") else { panic!("not a store") };
        assert_eq!(r.key("manifest.json").as_ref(), "manifest.json");
        let Location::Store(r) = s3("s3://bucket/with%20space") else { panic!("not a store") };
        assert_eq!(r.key("manifest.json").as_ref(), "with space/manifest.json");
    }

    #[test]
    fn refuses_secrets_and_unknown_schemes() {
        let e = Location::parse("s3://key:hunter2secret@bucket/p", &StoreArgs::default()).unwrap_err().to_string();
        assert!(e.contains("not accepted") && !e.contains("hunter2secret"), "{e}");
        let e = Location::parse("s3://bucket/p?secret=hunter2secret", &StoreArgs::default()).unwrap_err().to_string();
        assert!(e.contains("not accepted") && !e.contains("hunter2secret"), "{e}");
        let e = Location::parse("ftp://host/p", &StoreArgs::default()).unwrap_err().to_string();
        assert!(e.contains("not a snapshot location"), "{e}");
    }

    #[test]
    fn gcs_and_azure_urls_build_without_network() {
        // Builders only check configuration; no request is sent here.
        let Location::Store(r) = Location::parse("gs://bucket/p", &StoreArgs::default()).unwrap() else { panic!() };
        assert_eq!(r.key("manifest.json").as_ref(), "p/manifest.json");
        std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", "devaccount");
        let Location::Store(r) = Location::parse("az://container/p/q", &StoreArgs::default()).unwrap() else { panic!() };
        assert_eq!(r.key("manifest.json").as_ref(), "p/q/manifest.json");
        assert_eq!(format!("{:?}", Location::Store(r)), "Store(Remote(az://container/p/q))");
    }

    #[test]
    fn scrubs_known_secrets_and_reads_ini() {
        add_secret("very-secret-value");
        assert_eq!(scrub("token very-secret-value in a message"), "token *** in a message");
        let ini = "[default]\naws_access_key_id = A\n[profile x]\nregion = eu-west-1\n[other]\naws_access_key_id=B\n";
        assert_eq!(ini_section(ini, "default").get("aws_access_key_id").map(String::as_str), Some("A"));
        assert_eq!(ini_section(ini, "profile x").get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(ini_section(ini, "other").get("aws_access_key_id").map(String::as_str), Some("B"));
    }
}
