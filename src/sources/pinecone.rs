//! Pinecone source (REST, API version 2025-10 pinned).
//!
//! The index is resolved through the control plane (`GET /indexes/{name}`:
//! host, dimension, metric, vector type, serverless or pod spec), or given
//! directly with `--index-host`, in which case `describe_index_stats` says
//! what the index holds. Every request carries `Api-Key` and
//! `X-Pinecone-Api-Version: 2025-10`, so the answers keep the shape parsed
//! here whatever Pinecone's default version becomes.
//!
//! One source reads one namespace: `GET /vectors/list` pages the ids in
//! ascending byte order (asking for exactly as many ids as the chunk still
//! needs, at most 100), and `GET /vectors/fetch` reads them in requests
//! sized by URL length (under [`MAX_URL`] bytes, at most 1 000 ids),
//! several in flight under an [`AdaptiveLimit`] that halves on 429 and grows
//! back while the server answers. Listing runs while earlier fetches are in
//! flight. Records keep the listed order; an id listed but absent from the
//! fetch answer was deleted meanwhile and is counted, never silently
//! dropped; an id the fetch returns unasked stops the export.
//!
//! The cursor is the list's opaque `pagination.next` token
//! ([`Cursor::Token`]) after the last id of a chunk, so a resumed export
//! lists exactly what an uninterrupted one would. Pod-based indexes have no
//! list: their ids come from `--ids-file` (sorted, deduplicated), and the
//! cursor is then the last id of the chunk ([`Cursor::AfterKey`]).
//!
//! Mapping: ids are strings; dense `values` become the field `values`
//! (f32, the index dimension and metric: cosine → cosine, euclidean → l2,
//! dotproduct → dot); `sparseValues` become the sparse field
//! `sparse_values`, declared for dotproduct and sparse indexes (the only
//! ones that accept sparse values); metadata is kept as the JSON Pinecone
//! returns.

use super::http::{AdaptiveLimit, HttpSource};
use super::{Description, Page, ReadReport, Source};
use crate::error::{Error, Result};
use crate::model::{CollectionSchema, Cursor, Dense, ElementType, IdField, IdKind, IdValue, Metric, Record, Sparse, VectorField, VectorKind};
use crate::snapshot::manifest::valid_collection_name;
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The API version every request pins.
pub const API_VERSION: &str = "2025-10";
/// Longest fetch URL, in bytes (ids are up to 512 bytes, 1 536 percent-encoded).
pub const MAX_URL: usize = 8000;
/// Most ids per fetch request (Pinecone's limit).
pub const MAX_FETCH_IDS: usize = 1000;
/// Most ids per list page (Pinecone's limit).
pub const LIST_PAGE: usize = 100;
/// The name requests use for the default namespace.
pub const DEFAULT_NAMESPACE: &str = "__default__";

/// `export pinecone` options.
#[derive(Clone, Debug, clap::Args, Serialize)]
pub struct Args {
    /// API key (sent as the `Api-Key` header; never written or printed).
    #[arg(long, env = "PINECONE_API_KEY", hide_env_values = true)]
    #[serde(skip)]
    pub api_key: String,
    /// Index name, resolved to its host through the control plane (with
    /// --index-host: only names the snapshot's collections).
    #[arg(long, required_unless_present = "index_host")]
    pub index: Option<String>,
    /// Data-plane host of the index (`https://NAME-ID.svc.….pinecone.io`); skips the control plane.
    #[arg(long)]
    #[serde(skip)]
    pub index_host: Option<String>,
    /// Namespace to export (repeatable; `__default__` is the default one). Default: every namespace.
    #[arg(long = "namespace")]
    pub namespaces: Vec<String>,
    /// Export only the ids that start with this prefix (recorded as the filter).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Ids to export, one per line, instead of listing them: pod-based
    /// indexes cannot list ids.
    #[arg(long)]
    pub ids_file: Option<PathBuf>,
    /// Control plane URL.
    #[arg(long, env = "PINECONE_CONTROLLER_HOST", default_value = "https://api.pinecone.io")]
    #[serde(skip)]
    pub controller_host: String,
    /// Most fetch requests in flight; halved on 429, grown back while the index answers.
    #[arg(long, default_value_t = 8)]
    #[serde(skip)]
    pub concurrency: usize,
}

/// What the control plane (or `describe_index_stats`) says about the index.
#[derive(Clone, Debug)]
struct IndexInfo {
    name: String,
    host: String,
    dimension: Option<u32>,
    metric: Option<Metric>,
    metric_name: String,
    sparse_only: bool,
    /// `serverless`, `pod`, `byoc`, or `unknown` (--index-host).
    spec: String,
    notes: Vec<String>,
}

/// Ids read from `--ids-file`: sorted, deduplicated, filtered by `--prefix`.
struct IdsFile {
    ids: Vec<String>,
    blake3: String,
}

/// One namespace of a Pinecone index.
pub struct Pinecone {
    args: Args,
    http: HttpSource,
    info: Arc<IndexInfo>,
    ids: Option<Arc<IdsFile>>,
    /// "" for the default namespace.
    namespace: String,
    collection: String,
    count: Option<u64>,
    limit: AdaptiveLimit,
    missing: AtomicU64,
    missing_sample: Mutex<Vec<String>>,
    /// The first namespace exported (says the index-wide notes).
    first: bool,
    startup_retries: BTreeMap<String, u64>,
}

/// Connect to the index and return one source per namespace to export.
///
/// # Errors
/// Bad flags, an unreachable or refusing server, an unknown index or
/// namespace, a pod-based index without `--ids-file`, or namespaces whose
/// collection names collide.
pub async fn open(args: Args) -> Result<Vec<Pinecone>> {
    if args.api_key.trim().is_empty() {
        return Err(Error::Usage("--api-key (or PINECONE_API_KEY) is empty".into()));
    }
    if args.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    if args.prefix.as_deref().is_some_and(|p| p.len() > 512) {
        return Err(Error::Usage("--prefix is longer than an id can be (512 bytes)".into()));
    }
    let ids = args.ids_file.as_ref().map(|p| read_ids(p, args.prefix.as_deref())).transpose()?.map(Arc::new);
    let label = args.index.clone().unwrap_or_else(|| args.index_host.clone().unwrap_or_default());
    let target = match &args.index_host {
        Some(h) => format!("index {label} at {}", normalize_host(h)),
        None => format!("index {label} at {}", args.controller_host.trim_end_matches('/')),
    };
    let http = HttpSource::new(
        "pinecone",
        target,
        Some(("Api-Key", args.api_key.clone())),
        "; check --api-key (or PINECONE_API_KEY): it must be a key of the project that holds the index",
        "; check --index and --index-host",
    )?
    .with_attempts(10);
    let info = match &args.index_host {
        Some(h) => IndexInfo {
            name: args.index.clone().unwrap_or_else(|| name_from_host(h)),
            host: normalize_host(h),
            dimension: None,
            metric: None,
            metric_name: String::new(),
            sparse_only: false,
            spec: "unknown".into(),
            notes: Vec::new(),
        },
        None => describe_index(&http, &args).await?,
    };
    if info.spec == "pod" && ids.is_none() {
        return Err(http.err(format!(
            "index {} is pod-based: Pinecone lists ids only in serverless indexes, so the export cannot find them itself. \
             Pass --ids-file FILE (one id per line) to export those ids, or migrate the index to serverless \
             on Pinecone's side first and export the new index",
            info.name
        )));
    }
    let out = namespace_sources(&http, &args, info, &ids).await?;
    // Without --ids-file, check now that the index can list ids (pod-based
    // ones cannot, and --index-host does not say which it is), before the
    // snapshot directory is created.
    if ids.is_none() {
        out[0].list(None, 1).await?;
    }
    Ok(out)
}

/// Read the index's stats into `info` and return one source per namespace
/// that `args.namespaces` chooses (every namespace when empty), with its count.
async fn namespace_sources(http: &HttpSource, args: &Args, mut info: IndexInfo, ids: &Option<Arc<IdsFile>>) -> Result<Vec<Pinecone>> {
    let url = format!("{}/describe_index_stats", info.host);
    let stats = http.call("reading the index stats", || http.client.post(&url).header(VERSION_HEADER, API_VERSION).json(&serde_json::json!({}))).await?;
    apply_stats(&mut info, &stats).map_err(|m| http.err(m))?;
    let counts = namespace_counts(&stats);
    let wanted = namespaces_to_export(&args.namespaces, &counts, &info.name).map_err(|m| http.err(m))?;
    let names = collection_names(&info.name, &wanted).map_err(|m| http.err(m))?;
    let info = Arc::new(info);
    let mut out = Vec::new();
    for (ns, collection) in wanted.into_iter().zip(names) {
        let count = counts.get(&ns).copied().or(Some(0));
        out.push(Pinecone::namespace(args, http, &info, ids, ns, collection, count, out.is_empty()));
    }
    Ok(out)
}

const VERSION_HEADER: &str = "X-Pinecone-Api-Version";

/// Every index the API key sees (`GET /indexes`) and, per index, every
/// namespace with its count, each described as `export pinecone --index
/// NAME` would record it: `schema` is the index, `table` the namespace
/// (`__default__` for the default one). A pod-based index is described too
/// and flagged as needing `--ids-file`; an index the export cannot read
/// (a document index, no host yet, …) carries the reason instead.
///
/// # Errors
/// An empty key, or a control plane that refuses or cannot be reached.
pub async fn discover(args: Args) -> Result<Vec<super::Discovered>> {
    if args.api_key.trim().is_empty() {
        return Err(Error::Usage("--api-key (or PINECONE_API_KEY) is empty".into()));
    }
    let base = args.controller_host.trim_end_matches('/').to_owned();
    let http = HttpSource::new(
        "pinecone",
        format!("project at {base}"),
        Some(("Api-Key", args.api_key.clone())),
        "; check --api-key (or PINECONE_API_KEY): it must be a key of the project",
        "; check --controller-host",
    )?
    .with_attempts(10);
    let list_url = format!("{base}/indexes");
    let list = http.call("listing indexes", || http.client.get(&list_url).header(VERSION_HEADER, API_VERSION)).await?;
    let mut models: Vec<Value> = list["indexes"].as_array().cloned().unwrap_or_default();
    models.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut out = Vec::new();
    for m in models {
        let name = m["name"].as_str().unwrap_or_default().to_owned();
        let http = http.retarget(format!("index {name} at {base}"));
        match discover_index(&http, &args, &name, &m).await {
            Ok(found) => out.extend(found),
            Err(e) => out.push(super::Discovered::refused(String::new(), name, e.to_string())),
        }
    }
    Ok(out)
}

/// The namespaces of one listed index (`m`: its `IndexModel`), described.
async fn discover_index(http: &HttpSource, args: &Args, name: &str, m: &Value) -> Result<Vec<super::Discovered>> {
    let info = index_info(name, m).map_err(|msg| http.err(msg))?;
    let pod = info.spec == "pod";
    let index_args = Args { index: Some(name.to_owned()), index_host: None, namespaces: Vec::new(), prefix: None, ids_file: None, ..args.clone() };
    let mut out = Vec::new();
    for mut src in namespace_sources(http, &index_args, info, &None).await? {
        let shown = if src.namespace.is_empty() { DEFAULT_NAMESPACE.to_owned() } else { src.namespace.clone() };
        let mut d = super::Discovered::of(&mut src, name.to_owned(), shown).await;
        if pod {
            d.needs = Some(
                "--ids-file FILE (one id per line): the index is pod-based and Pinecone lists ids only in serverless indexes".into(),
            );
        }
        out.push(d);
    }
    Ok(out)
}

/// `GET /indexes/{name}` on the control plane.
async fn describe_index(http: &HttpSource, args: &Args) -> Result<IndexInfo> {
    let name = args.index.clone().unwrap_or_default();
    let base = args.controller_host.trim_end_matches('/');
    let url = format!("{base}/indexes/{}", pct(&name));
    let answer = http.request("reading the index description", true, || http.client.get(&url).header(VERSION_HEADER, API_VERSION)).await?;
    let Some(m) = answer.body else {
        let list_url = format!("{base}/indexes");
        let list = http.call("listing indexes", || http.client.get(&list_url).header(VERSION_HEADER, API_VERSION)).await?;
        let names = super::http::names_in(&list["indexes"]);
        return Err(http.err(format!(
            "no index named {name} in this project (it has: {}); check --index",
            if names.is_empty() { "no index".to_owned() } else { names.join(", ") }
        )));
    };
    index_info(&name, &m).map_err(|msg| http.err(msg))
}

/// An `IndexModel` (API 2025-10) → what the export needs.
fn index_info(name: &str, m: &Value) -> std::result::Result<IndexInfo, String> {
    let spec = ["serverless", "pod", "byoc"].into_iter().find(|k| m["spec"].get(*k).is_some()).unwrap_or("unknown").to_owned();
    let host = m["host"].as_str().filter(|h| !h.is_empty()).ok_or("the index description has no host yet (is the index still initializing?)")?;
    let sparse_only = m["vector_type"].as_str() == Some("sparse");
    let dimension = m["dimension"].as_u64().map(|d| d as u32);
    if dimension.is_none() && !sparse_only {
        return Err(format!(
            "index {name} declares no dimension: it is probably a document index (API 2026-07), which this exporter does not read yet"
        ));
    }
    let metric_name = m["metric"].as_str().unwrap_or_default().to_owned();
    let mut notes = Vec::new();
    if m["status"]["ready"] == Value::Bool(false) {
        notes.push(format!("index {name} is not ready (state {})", m["status"]["state"]));
    }
    Ok(IndexInfo { name: name.to_owned(), host: normalize_host(host), dimension, metric: metric_of(&metric_name), metric_name, sparse_only, spec, notes })
}

/// Fill what `describe_index_stats` adds (everything, with --index-host).
fn apply_stats(info: &mut IndexInfo, stats: &Value) -> std::result::Result<(), String> {
    if info.metric_name.is_empty() {
        info.metric_name = stats["metric"].as_str().unwrap_or_default().to_owned();
        info.metric = metric_of(&info.metric_name);
        info.sparse_only = stats["vectorType"].as_str() == Some("sparse");
        info.dimension = stats["dimension"].as_u64().map(|d| d as u32);
        if info.metric_name.is_empty() {
            info.notes.push("the index stats name no metric: choose one with `import --metric`".into());
        }
    }
    match (info.dimension, stats["dimension"].as_u64()) {
        (Some(a), Some(b)) if u64::from(a) != b => Err(format!("the control plane says dimension {a} but the index stats say {b}")),
        (None, _) if !info.sparse_only => Err("neither the index description nor its stats give a dimension".into()),
        _ => Ok(()),
    }
}

/// The namespaces asked for (normalised, sorted, deduplicated; each must be
/// in the stats), or every namespace of the stats (the default one of an
/// empty index).
fn namespaces_to_export(asked: &[String], counts: &BTreeMap<String, u64>, index: &str) -> std::result::Result<Vec<String>, String> {
    if asked.is_empty() {
        let all: Vec<String> = counts.keys().cloned().collect();
        return Ok(if all.is_empty() { vec![String::new()] } else { all });
    }
    let mut v: Vec<String> = asked.iter().map(|n| normalize_namespace(n).to_owned()).collect();
    v.sort();
    v.dedup();
    match v.iter().find(|n| !counts.contains_key(*n) && !counts.is_empty()) {
        Some(unknown) => Err(format!(
            "namespace {} is not in index {index} (it holds {}); check --namespace (counts lag writes by a few seconds)",
            display_namespace(unknown),
            counts.keys().map(|n| display_namespace(n)).collect::<Vec<_>>().join(", ")
        )),
        None => Ok(v),
    }
}

/// Namespace → vector count, the default namespace under "".
fn namespace_counts(stats: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(m) = stats["namespaces"].as_object() {
        for (k, v) in m {
            let n = v["vectorCount"].as_u64().or(v["vector_count"].as_u64()).unwrap_or(0);
            *out.entry(normalize_namespace(k).to_owned()).or_insert(0) += n;
        }
    }
    out
}

fn normalize_namespace(ns: &str) -> &str {
    if ns == DEFAULT_NAMESPACE {
        ""
    } else {
        ns
    }
}

fn display_namespace(ns: &str) -> String {
    if ns.is_empty() {
        DEFAULT_NAMESPACE.to_owned()
    } else {
        format!("{ns:?}")
    }
}

/// Collection names: the index name for the default namespace,
/// `<index>.<namespace>` otherwise, with characters a collection name cannot
/// hold replaced by `_`; refused when two namespaces end up with one name.
fn collection_names(index: &str, namespaces: &[String]) -> std::result::Result<Vec<String>, String> {
    let base: String = index.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for ns in namespaces {
        let name = if ns.is_empty() {
            base.clone()
        } else {
            let clean: String = ns.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect();
            format!("{base}.{clean}")
        };
        if !valid_collection_name(&name) {
            return Err(format!(
                "namespace {} cannot be named in a snapshot ({name:?} is not a valid collection name: 1-200 ASCII letters, digits, _ - .); \
                 export the other namespaces with --namespace",
                display_namespace(ns)
            ));
        }
        if let Some(other) = seen.insert(name.clone(), ns) {
            return Err(format!(
                "namespaces {} and {} would both become collection {name}; export them into separate snapshots with --namespace",
                display_namespace(other),
                display_namespace(ns)
            ));
        }
        out.push(name);
    }
    Ok(out)
}

fn metric_of(name: &str) -> Option<Metric> {
    match name {
        "cosine" => Some(Metric::Cosine),
        "euclidean" => Some(Metric::L2),
        "dotproduct" => Some(Metric::Dot),
        _ => None,
    }
}

/// `https://` unless a scheme is given; no trailing slash.
fn normalize_host(h: &str) -> String {
    let h = h.trim().trim_end_matches('/');
    if h.contains("://") {
        h.to_owned()
    } else {
        format!("https://{h}")
    }
}

/// A collection name for --index-host without --index: the host's first
/// label (`docs-abc123` of `docs-abc123.svc.….pinecone.io`), or the whole
/// address for an IP.
fn name_from_host(h: &str) -> String {
    let h = h.split_once("://").map_or(h, |(_, rest)| rest);
    let host = h.split(['/', ':']).next().unwrap_or(h);
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        host.to_owned()
    } else {
        host.split('.').next().unwrap_or(host).to_owned()
    }
}

/// `--ids-file`: one id per line (blank lines skipped), sorted by bytes, deduplicated.
fn read_ids(path: &std::path::Path, prefix: Option<&str>) -> Result<IdsFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("reading --ids-file {}", path.display()), e))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::Usage(format!("--ids-file {} is not UTF-8 text", path.display())))?;
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty() && prefix.is_none_or(|p| l.starts_with(p)))
        .map(str::to_owned)
        .collect();
    if let Some(bad) = ids.iter().find(|i| i.len() > 512) {
        return Err(Error::Usage(format!("--ids-file {}: id {:?}… is longer than 512 bytes", path.display(), &bad[..40])));
    }
    ids.sort();
    ids.dedup();
    Ok(IdsFile { blake3: blake3::hash(text.as_bytes()).to_hex().to_string(), ids })
}

/// Percent-encode everything but RFC 3986 unreserved characters (a space
/// becomes `%20`, which every query parser reads as a space).
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_len(s: &str) -> usize {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') { 1 } else { 3 }).sum()
}

/// Take the next fetch batch from the front of `pending`: as many ids as fit
/// a URL of `budget` bytes (each costs `&ids=` plus its encoding) and
/// [`MAX_FETCH_IDS`]. Only a full batch unless `flush`.
fn take_batch(pending: &mut VecDeque<String>, budget: usize, flush: bool) -> Option<Vec<String>> {
    let mut used = 0;
    let mut n = 0;
    for id in pending.iter() {
        let cost = pct_len(id) + "&ids=".len();
        if n == MAX_FETCH_IDS || (n > 0 && used + cost > budget) {
            return Some(pending.drain(..n).collect());
        }
        used += cost;
        n += 1;
    }
    (flush && n > 0).then(|| pending.drain(..).collect())
}

/// Listing state of one page: the token to list from, ids still wanted.
struct Lister {
    token: Option<String>,
    left: usize,
    done: bool,
    pending: VecDeque<String>,
    last: Option<String>,
}

impl Pinecone {
    /// The source of namespace `ns` (collection `collection`, `count`
    /// vectors by the stats); `first` says the index-wide notes.
    #[allow(clippy::too_many_arguments)]
    fn namespace(
        args: &Args,
        http: &HttpSource,
        info: &Arc<IndexInfo>,
        ids: &Option<Arc<IdsFile>>,
        ns: String,
        collection: String,
        count: Option<u64>,
        first: bool,
    ) -> Pinecone {
        let target = format!("index {} namespace {} at {}", info.name, display_namespace(&ns), info.host);
        Pinecone {
            http: http.retarget(target),
            // What opening cost in retries is reported with the first namespace.
            startup_retries: if first { http.retries() } else { BTreeMap::new() },
            count,
            limit: AdaptiveLimit::new(args.concurrency.div_ceil(2), args.concurrency),
            args: args.clone(),
            info: info.clone(),
            ids: ids.clone(),
            namespace: ns,
            collection,
            missing: AtomicU64::new(0),
            missing_sample: Mutex::new(Vec::new()),
            first,
        }
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.http.client.get(url).header(VERSION_HEADER, API_VERSION)
    }

    /// The namespace as Pinecone names it (`__default__` for the default one).
    fn namespace_name(&self) -> &str {
        if self.namespace.is_empty() {
            DEFAULT_NAMESPACE
        } else {
            &self.namespace
        }
    }

    /// `namespace=…&` for a named namespace; nothing for the default one.
    fn ns_param(&self) -> String {
        if self.namespace.is_empty() {
            String::new()
        } else {
            format!("namespace={}&", pct(&self.namespace))
        }
    }

    fn fetch_base(&self) -> String {
        format!("{}/vectors/fetch?{}", self.info.host, self.ns_param())
    }

    /// One list page: (ids, next token).
    async fn list(&self, token: Option<&str>, limit: usize) -> Result<(Vec<String>, Option<String>)> {
        let mut url = format!("{}/vectors/list?{}limit={limit}", self.info.host, self.ns_param());
        if let Some(p) = &self.args.prefix {
            url.push_str(&format!("&prefix={}", pct(p)));
        }
        if let Some(t) = token {
            url.push_str(&format!("&paginationToken={}", pct(t)));
        }
        // A refused list (not the key) is what a pod-based index answers.
        let v = self.http.call("listing ids", || self.get(&url)).await.map_err(|e| match e {
            Error::Source { source_kind, target, message }
                if message.contains("the server answered 4") && !message.contains("answered 401") && !message.contains("answered 403") =>
            {
                let message = format!(
                    "{message}. Pinecone lists ids only in serverless indexes: for a pod-based index pass --ids-file FILE, \
                     or migrate it to serverless first"
                );
                Error::Source { source_kind, target, message }
            }
            other => other,
        })?;
        let ids = v["vectors"]
            .as_array()
            .ok_or_else(|| self.http.err("the list answer has no `vectors` array"))?
            .iter()
            .map(|x| x["id"].as_str().map(str::to_owned).ok_or_else(|| self.http.err("a listed id is not a string")))
            .collect::<Result<Vec<_>>>()?;
        let next = v["pagination"]["next"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
        Ok((ids, next))
    }

    /// Fetch every batch (several in flight) and turn the answers into
    /// records in batch order; missing ids are counted.
    async fn fetch_all(&self, batches: impl Stream<Item = Result<Vec<String>>> + Send) -> Result<Vec<Record>> {
        let base = self.fetch_base();
        let answers: Vec<(Vec<String>, Value)> =
            batches.map(|batch| self.fetch_one(&base, batch)).buffered(self.args.concurrency).try_collect().await?;
        let mut records = Vec::new();
        for (batch, mut answer) in answers {
            let Some(found) = answer.get_mut("vectors").and_then(Value::as_object_mut) else {
                return Err(self.http.err("the fetch answer has no `vectors` object"));
            };
            for id in batch {
                match found.remove(&id) {
                    Some(v) => records.push(self.record(id, v)?),
                    None => {
                        self.missing.fetch_add(1, Ordering::Relaxed);
                        let mut sample = self.missing_sample.lock().expect("missing ids");
                        if sample.len() < 5 {
                            sample.push(id);
                        }
                    }
                }
            }
            if let Some(extra) = found.keys().next() {
                return Err(self.http.err(format!("the fetch answer holds id {extra:?}, which was not asked for; the export stops rather than duplicate records")));
            }
        }
        Ok(records)
    }

    /// One fetch request, in a slot of the adaptive limit.
    async fn fetch_one(&self, base: &str, batch: Result<Vec<String>>) -> Result<(Vec<String>, Value)> {
        let batch = batch?;
        let mut url = base.to_owned();
        for (i, id) in batch.iter().enumerate() {
            url.push_str(if i == 0 { "ids=" } else { "&ids=" });
            url.push_str(&pct(id));
        }
        let slot = self.limit.acquire().await;
        let answer = self.http.request("fetching vectors", false, || self.get(&url)).await;
        drop(slot);
        let answer = answer?;
        self.limit.record(answer.throttled > 0);
        Ok((batch, answer.body.unwrap_or_default()))
    }

    /// A fetched vector → a record.
    fn record(&self, id: String, v: Value) -> Result<Record> {
        let bad = |what: String| self.http.err(format!("vector {id:?}: {what}"));
        if v["id"].as_str().is_some_and(|x| x != id) {
            return Err(bad(format!("the fetch answer files it under another id ({})", v["id"])));
        }
        let mut dense = Vec::new();
        if !self.info.sparse_only {
            let values = match v["values"].as_array() {
                Some(a) if !a.is_empty() => Some(a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect::<Option<Vec<f32>>>().ok_or_else(|| bad("a value is not a number".into()))?),
                _ => None,
            };
            if let (Some(vals), Some(d)) = (&values, self.info.dimension) {
                if vals.len() != d as usize {
                    return Err(bad(format!("it has {} values but the index dimension is {d}", vals.len())));
                }
            }
            dense.push(values.map(Dense::F32));
        }
        let sparse_value = match &v["sparseValues"] {
            Value::Object(o) => {
                let indices = o.get("indices").and_then(Value::as_array).ok_or_else(|| bad("sparseValues has no indices".into()))?;
                let values = o.get("values").and_then(Value::as_array).ok_or_else(|| bad("sparseValues has no values".into()))?;
                if indices.len() != values.len() {
                    return Err(bad(format!("sparseValues has {} indices but {} values", indices.len(), values.len())));
                }
                Some(Sparse {
                    indices: indices.iter().map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok())).collect::<Option<_>>().ok_or_else(|| bad("a sparse index is not a u32".into()))?,
                    values: values.iter().map(|x| x.as_f64().map(|x| x as f32)).collect::<Option<_>>().ok_or_else(|| bad("a sparse value is not a number".into()))?,
                })
            }
            _ => None,
        };
        let sparse = if self.has_sparse() {
            vec![sparse_value]
        } else if sparse_value.is_some() {
            return Err(bad(format!("it has sparse values, which a {} index cannot hold; the export stops rather than drop them", self.info.metric_name)));
        } else {
            Vec::new()
        };
        let metadata = match v.get("metadata") {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        Ok(Record { id: IdValue::Str(id), dense, sparse, metadata, document: None })
    }

    fn has_sparse(&self) -> bool {
        self.info.sparse_only || self.info.metric == Some(Metric::Dot)
    }

    /// The next fetch batch: list more ids until one is full (or the page is
    /// listed); at the end, leave the token to continue from in `next_token`.
    async fn list_step(&self, mut l: Lister, budget: usize, next_token: &Mutex<Option<String>>) -> Option<(Result<Vec<String>>, Lister)> {
        loop {
            if let Some(b) = take_batch(&mut l.pending, budget, l.done) {
                return Some((Ok(b), l));
            }
            if l.done {
                *next_token.lock().expect("token") = l.token.take();
                return None;
            }
            match self.list(l.token.as_deref(), l.left.min(LIST_PAGE)).await {
                Ok((ids, next)) => {
                    for id in ids {
                        if l.last.as_ref().is_some_and(|last| *last >= id) {
                            l.done = true;
                            let e = self.http.err(format!("the list is not in ascending byte order at id {id:?}; the export stops rather than skip or repeat ids"));
                            return Some((Err(e), l));
                        }
                        l.last = Some(id.clone());
                        l.left = l.left.saturating_sub(1);
                        l.pending.push_back(id);
                    }
                    l.done = next.is_none() || l.left == 0;
                    l.token = next;
                }
                Err(e) => {
                    l.done = true;
                    return Some((Err(e), l));
                }
            }
        }
    }

    /// List up to `limit` ids from `token` while fetching them.
    async fn read_listed(&self, token: Option<String>, limit: usize) -> Result<(Vec<Record>, Option<String>)> {
        let budget = MAX_URL.saturating_sub(self.fetch_base().len());
        let lister = Lister { token, left: limit, done: false, pending: VecDeque::new(), last: None };
        let next_token: Mutex<Option<String>> = Mutex::new(None);
        let next_token_ref = &next_token;
        let batches = stream::unfold(lister, move |l| self.list_step(l, budget, next_token_ref)).boxed();
        let records = self.fetch_all(batches).await?;
        let next = next_token.lock().expect("token").take();
        Ok((records, next))
    }
}

impl Source for Pinecone {
    fn kind(&self) -> &'static str {
        "pinecone"
    }

    fn address(&self) -> String {
        match &self.args.index_host {
            Some(h) => normalize_host(h),
            None => format!("{}/indexes/{}", self.args.controller_host.trim_end_matches('/'), self.args.index.clone().unwrap_or_default()),
        }
    }

    fn options(&self) -> Value {
        let mut v = serde_json::to_value(&self.args).expect("args serialize");
        v["api_version"] = API_VERSION.into();
        v["ids_file_blake3"] = self.ids.as_ref().map(|f| f.blake3.clone()).into();
        v["namespace"] = self.namespace_name().into();
        v
    }

    async fn describe(&mut self) -> Result<Description> {
        let info = &self.info;
        // Index-wide notes once, with the first namespace.
        let mut notes = if self.first { info.notes.clone() } else { Vec::new() };
        let mut vectors = Vec::new();
        if !info.sparse_only {
            vectors.push(VectorField {
                name: "values".into(),
                column: "vec:values".into(),
                kind: VectorKind::Dense,
                element: ElementType::F32,
                dimension: info.dimension.unwrap_or(0),
                metric: info.metric,
                index: None,
                source_type: Some(format!("pinecone {} {} index", info.metric_name, info.spec)),
            });
        }
        if self.has_sparse() {
            vectors.push(VectorField {
                name: "sparse_values".into(),
                column: "sparse:sparse_values".into(),
                kind: VectorKind::Sparse,
                element: ElementType::F32,
                dimension: 0, // Pinecone sparse vectors declare no dimension
                metric: if info.sparse_only { info.metric } else { None },
                index: None,
                source_type: Some("pinecone sparseValues".into()),
            });
            if !info.sparse_only && self.first {
                notes.push("a dotproduct index may hold sparse values: they go to sparse:sparse_values (null where a record has none)".into());
            }
        }
        if let Some(f) = &self.ids {
            notes.push(format!("{}: {} ids from --ids-file (ids that are not in the namespace are counted as missing)", self.collection, f.ids.len()));
        }
        if self.collection != info.name && self.collection != format!("{}.{}", info.name, self.namespace) {
            notes.push(format!("namespace {} is exported as collection {}", display_namespace(&self.namespace), self.collection));
        }
        Ok(Description {
            name: self.collection.clone(),
            source_name: format!("{}/{}", info.name, self.namespace_name()),
            schema: CollectionSchema {
                id: IdField { name: "id".into(), kind: IdKind::String, source_type: Some("pinecone vector id".into()) },
                vectors,
                metadata: Vec::new(),
                document: None,
            },
            filter: self.args.prefix.as_ref().map(|p| serde_json::json!({ "prefix": p }).to_string()),
            count_estimate: if self.ids.is_some() || self.args.prefix.is_some() { None } else { self.count },
            count_exact: false,
            // describe_index_stats may lag behind writes.
            count_is_statistic: true,
            notes,
        })
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let limit = limit.max(1);
        if let Some(file) = self.ids.clone() {
            let mut start = match cursor {
                Cursor::Start => 0,
                Cursor::AfterKey { key: Value::String(k) } => file.ids.partition_point(|x| x <= k),
                Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
                other => return Err(self.http.err(format!("internal: cursor {other:?} cannot resume an --ids-file export"))),
            };
            let budget = MAX_URL.saturating_sub(self.fetch_base().len());
            loop {
                let end = (start + limit).min(file.ids.len());
                let mut pending: VecDeque<String> = file.ids[start..end].iter().cloned().collect();
                let batches: Vec<Result<Vec<String>>> = std::iter::from_fn(|| take_batch(&mut pending, budget, true).map(Ok)).collect();
                let records = self.fetch_all(stream::iter(batches)).await?;
                let next = if end < file.ids.len() { Cursor::AfterKey { key: file.ids[end - 1].clone().into() } } else { Cursor::End };
                if !records.is_empty() || next == Cursor::End {
                    return Ok(Page { records, next: Some(next) });
                }
                start = end; // every id of this page was missing: read on
            }
        }
        let mut token = match cursor {
            Cursor::Start => None,
            Cursor::Token { token } => Some(token.clone()),
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            other => return Err(self.http.err(format!("internal: cursor {other:?} cannot resume a Pinecone export"))),
        };
        loop {
            let (records, next) = self.read_listed(token, limit).await?;
            if !records.is_empty() || next.is_none() {
                return Ok(Page { records, next: Some(next.map_or(Cursor::End, |token| Cursor::Token { token })) });
            }
            token = next; // every listed id vanished before its fetch: list on
        }
    }

    fn report(&self) -> ReadReport {
        let missing = self.missing.load(Ordering::Relaxed);
        let mut notes = Vec::new();
        if missing > 0 {
            notes.push(format!(
                "{}: {missing} listed id(s) were gone when fetched (deleted during the export, or absent from --ids-file's namespace), e.g. {:?}",
                self.collection,
                self.missing_sample.lock().expect("missing ids")
            ));
        }
        let mut retries = self.http.retries();
        for (k, n) in &self.startup_retries {
            *retries.entry(k.clone()).or_default() += n;
        }
        let (now, lowest) = self.limit.levels();
        if !retries.is_empty() {
            notes.push(format!(
                "{}: retried requests {retries:?}; fetches in flight went down to {lowest} (now {now}, at most {})",
                self.collection, self.args.concurrency
            ));
        }
        ReadReport { retries, missing, notes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_awkward_ids_and_sizes_fetch_batches_by_url_length() {
        assert_eq!(pct("a b/c?d&e%f+g#é~_.-"), "a%20b%2Fc%3Fd%26e%25f%2Bg%23%C3%A9~_.-");
        assert_eq!(pct_len("a b/é"), pct("a b/é").len());
        let long = "/".repeat(512); // 1 536 bytes encoded
        let mut pending: VecDeque<String> = (0..20).map(|i| format!("{long}{i}")).collect();
        let first = take_batch(&mut pending, 7900, false).unwrap();
        assert_eq!(first.len(), 5, "5 × 1 543 bytes fit in 7 900");
        let mut total = first.len();
        while let Some(b) = take_batch(&mut pending, 7900, true) {
            assert!(b.iter().map(|i| pct_len(i) + 5).sum::<usize>() <= 7900);
            total += b.len();
        }
        assert_eq!(total, 20);
        let mut short: VecDeque<String> = (0..2500).map(|i| format!("{i}")).collect();
        assert_eq!(take_batch(&mut short, usize::MAX, false).unwrap().len(), MAX_FETCH_IDS);
        assert!(take_batch(&mut short, usize::MAX, false).is_some());
        assert!(take_batch(&mut short, usize::MAX, false).is_none(), "500 left: not a full batch");
        assert_eq!(take_batch(&mut short, usize::MAX, true).unwrap().len(), 500);
    }

    #[test]
    fn names_namespaces_and_refuses_collisions() {
        let ns = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(collection_names("docs", &ns(&["", "a", "b c", "é"])).unwrap(), ["docs", "docs.a", "docs.b_c", "docs._"]);
        let e = collection_names("docs", &ns(&["a b", "a_b"])).unwrap_err();
        assert!(e.contains("\"a b\"") && e.contains("\"a_b\"") && e.contains("--namespace"), "{e}");
        assert!(collection_names("docs", &ns(&[&"x".repeat(300)])).is_err());
        assert_eq!(normalize_namespace("__default__"), "");
        assert_eq!(name_from_host("https://docs-abc123.svc.aped-1.pinecone.io"), "docs-abc123");
        assert_eq!(name_from_host("http://127.0.0.1:5081"), "127.0.0.1");
    }

    #[test]
    fn reads_the_2025_10_index_model() {
        let m = serde_json::json!({"name": "movies", "dimension": 8, "metric": "dotproduct", "host": "movies-1.svc.pinecone.io",
            "spec": {"pod": {"environment": "us-east-1-aws", "pod_type": "p1.x1"}}, "status": {"ready": true, "state": "Ready"}, "vector_type": "dense"});
        let i = index_info("movies", &m).unwrap();
        assert_eq!((i.spec.as_str(), i.host.as_str(), i.dimension, i.metric), ("pod", "https://movies-1.svc.pinecone.io", Some(8), Some(Metric::Dot)));
        let doc = serde_json::json!({"name": "d", "host": "h", "spec": {"serverless": {}}, "schema": {"fields": {}}});
        assert!(index_info("d", &doc).unwrap_err().contains("document index"));
        let stats = serde_json::json!({"namespaces": {"": {"vectorCount": 3}, "__default__": {"vectorCount": 1}, "b": {"vectorCount": 2}}});
        let counts = namespace_counts(&stats);
        assert_eq!(counts, BTreeMap::from([("".to_owned(), 4), ("b".to_owned(), 2)]));
        let asked = |v: &[&str]| namespaces_to_export(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &counts, "i");
        assert_eq!(asked(&[]).unwrap(), ["", "b"]);
        assert_eq!(asked(&["b", "__default__", ""]).unwrap(), ["", "b"]);
        assert!(asked(&["c"]).unwrap_err().contains("\"c\" is not in index i (it holds __default__, \"b\")"));
        assert_eq!(namespaces_to_export(&[], &BTreeMap::new(), "i").unwrap(), [""]);
    }
}
