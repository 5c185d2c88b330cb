//! A running `velesdb-server` (8.x) over its REST API.
//!
//! Writes go to `POST /v1/collections/{name}/points` in request bodies sized
//! by bytes (the server refuses bodies over its `max_body_size`, 100 MiB by
//! default, and batches over 100 000 points), several requests in flight.
//! Every call retries with exponential backoff and full jitter on 429, 5xx,
//! timeouts and broken connections, honouring `Retry-After`. The default
//! server rate limiter (a burst of 100, then one request per 100 s) answers
//! 429 with a long `Retry-After`: that stops the import with the fix rather
//! than crawling for hours. 400/401/403/404/413/415/422 stop at once.

use super::{CollectionPlan, Sink};
use crate::error::{Error, Result};
use crate::util::{error_chain, retry_after, Backoff};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use velesdb_core::Point;

/// REST options shared by import and validate.
#[derive(Clone, Debug, clap::Args)]
pub struct RestArgs {
    /// API key for a velesdb-server started with API keys (sent as `Authorization: Bearer`; never printed or stored).
    #[arg(long, env = "VELESDB_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Requests in flight at once (REST).
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Largest request body in bytes (REST; the server's default limit is 100 MiB).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_request_bytes: usize,
    /// Attempts per request before giving up (REST).
    #[arg(long, default_value_t = 8)]
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubles each attempt, with jitter (REST).
    #[arg(long, default_value_t = 250)]
    pub retry_initial_ms: u64,
    /// Longest retry delay in milliseconds (REST).
    #[arg(long, default_value_t = 30_000)]
    pub retry_max_ms: u64,
    /// Growth of the retry delay per attempt (REST; 2 = doubling, 1 = constant).
    #[arg(long, default_value_t = 2.0)]
    pub retry_factor: f64,
    /// Per-request timeout in seconds (REST).
    #[arg(long, default_value_t = 300)]
    pub request_timeout_secs: u64,
}

#[derive(Clone)]
pub struct RestOptions {
    /// Base URL without a trailing slash.
    pub base: String,
    api_key: Option<String>,
    pub concurrency: usize,
    pub max_request_bytes: usize,
    pub max_attempts: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub retry_factor: f64,
    pub timeout: Duration,
}

impl std::fmt::Debug for RestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestOptions")
            .field("base", &self.base)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl RestArgs {
    pub fn options(&self, url: &str) -> Result<RestOptions> {
        if self.concurrency == 0 || self.max_attempts == 0 || self.max_request_bytes < 1024 {
            return Err(Error::Usage("--concurrency and --max-attempts must be at least 1, --max-request-bytes at least 1024".into()));
        }
        Ok(RestOptions {
            base: url.trim_end_matches('/').to_owned(),
            api_key: self.api_key.clone().filter(|k| !k.is_empty()),
            concurrency: self.concurrency,
            max_request_bytes: self.max_request_bytes,
            max_attempts: self.max_attempts,
            retry_initial: Duration::from_millis(self.retry_initial_ms),
            retry_max: Duration::from_millis(self.retry_max_ms.max(self.retry_initial_ms)),
            retry_factor: self.retry_factor,
            timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
        })
    }
}

/// A 429 asking to wait longer than this is the server's rate limiter, not load.
const RATE_LIMITER_WAIT: Duration = Duration::from_secs(30);

pub struct RestServer {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    opts: RestOptions,
    backoff: Backoff,
}

/// Collection as the server describes it.
#[derive(Debug, serde::Deserialize)]
struct CollectionInfo {
    dimension: usize,
    metric: String,
    point_count: u64,
}

impl RestServer {
    /// Connect and check the server answers and accepts the API key.
    pub fn connect(opts: RestOptions) -> Result<RestServer> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the async runtime", e))?;
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Sink { dest: opts.base.clone(), collection: String::new(), message: format!("HTTP client: {e}") })?;
        let backoff = Backoff::new(opts.retry_initial, opts.retry_max).with_factor(Some(opts.retry_factor));
        let s = RestServer { rt, client, opts, backoff };
        // Authenticated route: proves both reachability and the key.
        s.call("listing collections", "", || s.client.get(s.url("/v1/collections")))?;
        Ok(s)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.base)
    }

    fn err(&self, collection: &str, message: String) -> Error {
        Error::Sink { dest: self.opts.base.clone(), collection: collection.to_owned(), message }
    }

    /// Send a request with retries; returns the successful response body.
    /// `None` for a 404 when `allow_404`.
    async fn send(
        &self,
        what: &str,
        collection: &str,
        allow_404: bool,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Option<bytes::Bytes>> {
        let mut last = String::new();
        for attempt in 0..self.opts.max_attempts {
            let mut req = build();
            if let Some(k) = &self.opts.api_key {
                req = req.bearer_auth(k);
            }
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    let limiter = resp.headers().contains_key("x-ratelimit-limit");
                    if status.is_success() {
                        return resp.bytes().await.map(Some).map_err(|e| self.err(collection, format!("{what}: reading the response: {e}")));
                    }
                    if status == StatusCode::NOT_FOUND && allow_404 {
                        return Ok(None);
                    }
                    let body = resp.text().await.unwrap_or_default();
                    let body: String = body.chars().take(500).collect();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        if let Some(ra) = retry_after.filter(|ra| *ra > RATE_LIMITER_WAIT || limiter && *ra > RATE_LIMITER_WAIT) {
                            return Err(self.err(
                                collection,
                                format!(
                                    "{what}: the server's rate limiter refused the request and asks to wait {} s. \
                                     velesdb-server's default limiter allows a burst of 100 requests, then about one per 100 s; \
                                     restart it with --rate-limit 0 (or VELESDB_RATE_LIMIT=0), or raise the limit, then re-run to resume",
                                    ra.as_secs()
                                ),
                            ));
                        }
                        self.backoff.count("http_429");
                        last = format!("429 Too Many Requests: {body}");
                        retry_after.unwrap_or_else(|| self.backoff.delay(attempt))
                    } else if status.is_server_error() {
                        self.backoff.count("http_5xx");
                        last = format!("{status}: {body}");
                        self.backoff.delay(attempt)
                    } else {
                        let hint = match status.as_u16() {
                            401 | 403 => "; check the API key (--api-key or VELESDB_API_KEY)",
                            404 => "; the collection or route does not exist: check --collection and that the server is velesdb-server 8.x",
                            413 => "; the request body is over the server's max_body_size: lower --max-request-bytes",
                            _ => "",
                        };
                        return Err(self.err(collection, format!("{what}: the server answered {status}: {body}{hint}")));
                    }
                }
                Err(e) if e.is_timeout() => {
                    self.backoff.count("timeout");
                    last = format!("timed out: {e}");
                    self.backoff.delay(attempt)
                }
                Err(e) if e.is_connect() || e.is_request() || e.is_body() => {
                    self.backoff.count("connection");
                    last = format!("connection failed: {}", error_chain(&e));
                    self.backoff.delay(attempt)
                }
                Err(e) => return Err(self.err(collection, format!("{what}: {}", error_chain(&e)))),
            };
            if attempt + 1 < self.opts.max_attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(self.err(
            collection,
            format!(
                "{what}: gave up after {} attempts; last error: {last}. Check that the server at {} is up, then re-run the same command to resume",
                self.opts.max_attempts, self.opts.base
            ),
        ))
    }

    fn call(&self, what: &str, collection: &str, build: impl Fn() -> reqwest::RequestBuilder) -> Result<bytes::Bytes> {
        self.rt.block_on(self.send(what, collection, false, build)).map(|b| b.unwrap_or_default())
    }

    fn info(&self, name: &str) -> Result<Option<CollectionInfo>> {
        let url = self.url(&format!("/v1/collections/{name}"));
        let body = self.rt.block_on(self.send("reading the collection", name, true, || self.client.get(&url)))?;
        body.map(|b| serde_json::from_slice(&b).map_err(|e| self.err(name, format!("unexpected collection description: {e}"))))
            .transpose()
    }

    /// For dry runs: the point count of an existing compatible collection,
    /// `None` when it would be created; an error when it is incompatible.
    pub fn check_compatible(&self, plan: &CollectionPlan) -> Result<Option<u64>> {
        let wanted = rest_metric(plan.metric)
            .ok_or_else(|| self.err(&plan.name, format!("metric {} has no VelesDB equivalent; pass --metric cosine|l2|dot", plan.metric)))?;
        match self.info(&plan.name)? {
            Some(info) if info.dimension != plan.dimension || !same_metric(&info.metric, wanted) => Err(self.err(
                &plan.name,
                format!(
                    "the collection exists with dimension {} and metric {}, but the snapshot needs dimension {} and metric {}; \
                     import into another --collection, or delete the existing one",
                    info.dimension, info.metric, plan.dimension, plan.metric
                ),
            )),
            Some(info) => Ok(Some(info.point_count)),
            None => Ok(None),
        }
    }

    /// The collection for writing: created from `plan` when missing.
    /// Returns it, whether it was created, and how many points it held.
    pub fn into_collection(self, plan: &CollectionPlan) -> Result<(RestCollection, bool, u64)> {
        let wanted = rest_metric(plan.metric).expect("checked by check_compatible");
        let (created, before) = match self.check_compatible(plan)? {
            Some(count) => (false, count),
            None => {
                let mut body = serde_json::json!({
                    "name": plan.name,
                    "dimension": plan.dimension,
                    "metric": wanted,
                    "storage_mode": plan.storage_mode,
                });
                if let Some(m) = plan.hnsw_m {
                    body["hnsw_m"] = m.into();
                }
                if let Some(ef) = plan.hnsw_ef_construction {
                    body["hnsw_ef_construction"] = ef.into();
                }
                let url = self.url("/v1/collections");
                self.call("creating the collection", &plan.name, || self.client.post(&url).json(&body))?;
                (true, 0)
            }
        };
        Ok((RestCollection { server: self, name: plan.name.clone() }, created, before))
    }

    /// An existing collection, for reading back.
    pub fn into_existing(self, name: &str) -> Result<RestCollection> {
        if self.info(name)?.is_none() {
            return Err(self.err(name, "the collection does not exist; check --collection, or run the import first".into()));
        }
        Ok(RestCollection { server: self, name: name.to_owned() })
    }
}

/// Our metric → the REST API's spelling.
pub fn rest_metric(m: crate::model::Metric) -> Option<&'static str> {
    use crate::model::Metric::*;
    Some(match m {
        Cosine => "cosine",
        L2 => "euclidean",
        Dot => "dot",
        Hamming => "hamming",
        Jaccard => "jaccard",
        L1 => return None,
    })
}

/// The server reports metrics by their Debug names (`euclidean`, `dotproduct`).
fn same_metric(reported: &str, wanted: &str) -> bool {
    let norm = |s: &str| match s.to_ascii_lowercase().as_str() {
        "l2" | "euclidean" => "euclidean".to_owned(),
        "dot" | "dotproduct" | "ip" | "inner" => "dot".to_owned(),
        other => other.to_owned(),
    };
    norm(reported) == norm(wanted)
}

/// One collection on a server.
pub struct RestCollection {
    server: RestServer,
    name: String,
}

#[derive(Serialize)]
struct RestPoint<'a> {
    id: u64,
    vector: &'a [f32],
    payload: &'a Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sparse_vectors: &'a Option<BTreeMap<String, velesdb_core::sparse_index::SparseVector>>,
}

/// Points → request bodies of at most `max_bytes` (and 100 000 points),
/// built one at a time as they are pulled, so only the bodies in flight are
/// in memory. Each point is serialised straight into its body (a point that
/// does not fit is cut off again and starts the next body).
pub struct Bodies<'a> {
    points: &'a [Point],
    next: usize,
    max_bytes: usize,
}

pub fn request_bodies(points: &[Point], max_bytes: usize) -> Bodies<'_> {
    Bodies { points, next: 0, max_bytes }
}

impl Iterator for Bodies<'_> {
    type Item = std::result::Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        const HEAD: &[u8] = b"{\"points\":[";
        const TAIL: &[u8] = b"]}";
        const MAX_POINTS: usize = 100_000;
        let mut cur: Vec<u8> = HEAD.to_vec();
        let mut n = 0usize;
        while let Some(p) = self.points.get(self.next) {
            let mark = cur.len();
            if n > 0 {
                cur.push(b',');
            }
            let at = cur.len();
            let point = RestPoint { id: p.id, vector: &p.vector, payload: &p.payload, sparse_vectors: &p.sparse_vectors };
            if let Err(e) = serde_json::to_writer(&mut cur, &point) {
                self.next = self.points.len(); // stop after this error
                return Some(Err(format!("point {}: {e}", p.id)));
            }
            let one = cur.len() - at;
            if HEAD.len() + one + TAIL.len() > self.max_bytes {
                self.next = self.points.len();
                return Some(Err(format!("point {} alone is {one} bytes, over --max-request-bytes {}; raise it", p.id, self.max_bytes)));
            }
            if n > 0 && (cur.len() + TAIL.len() > self.max_bytes || n == MAX_POINTS) {
                cur.truncate(mark);
                break;
            }
            if n == 0 {
                // Room for the rest at this point's size: no regrowth (and copy) of the body.
                let want = ((one + 1) * (self.points.len() - self.next)).min(self.max_bytes) + TAIL.len();
                cur.reserve(want.saturating_sub(cur.len()));
            }
            n += 1;
            self.next += 1;
        }
        if n == 0 {
            return None;
        }
        cur.extend_from_slice(TAIL);
        Some(Ok(cur))
    }
}

#[derive(serde::Deserialize)]
struct RestPointOut {
    vector: Vec<f64>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

impl Sink for RestCollection {
    fn dest(&self) -> &str {
        &self.server.opts.base
    }

    fn count(&self) -> Result<u64> {
        self.server
            .info(&self.name)?
            .map(|i| i.point_count)
            .ok_or_else(|| self.server.err(&self.name, "the collection disappeared from the server".into()))
    }

    fn upsert(&self, points: &[Point], chunk: &str) -> Result<()> {
        let s = &self.server;
        let url = s.url(&format!("/v1/collections/{}/points", self.name));
        let what = format!("upserting chunk {chunk}");
        // Bodies are encoded as request slots free up: at most `concurrency`
        // bodies exist at a time, whatever the chunk size.
        let bodies = request_bodies(points, s.opts.max_request_bytes)
            .map(|b| b.map(bytes::Bytes::from).map_err(|m| s.err(&self.name, format!("chunk {chunk}: {m}"))));
        s.rt.block_on(
            stream::iter(bodies)
                .map_ok(|body| {
                    let url = url.clone();
                    let what = what.clone();
                    async move {
                        s.send(&what, &self.name, false, || {
                            s.client.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone())
                        })
                        .await
                        .map(|_| ())
                    }
                })
                .try_buffer_unordered(s.opts.concurrency)
                .try_collect::<Vec<()>>(),
        )?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        // Each upsert answers after the server's WAL fsync: nothing to do per chunk.
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        let url = self.server.url(&format!("/v1/collections/{}/flush", self.name));
        self.server.call("flushing the collection", &self.name, || self.server.client.post(&url)).map(|_| ())
    }

    fn get(&self, ids: &[u64]) -> Result<Vec<Option<Point>>> {
        let s = &self.server;
        s.rt.block_on(
            stream::iter(ids.iter().copied())
                .map(|id| async move {
                    let url = s.url(&format!("/v1/collections/{}/points/{id}", self.name));
                    let body = s.send("reading a point back", &self.name, true, || s.client.get(&url)).await?;
                    body.map(|b| {
                        let p: RestPointOut =
                            serde_json::from_slice(&b).map_err(|e| s.err(&self.name, format!("point {id}: unexpected response: {e}")))?;
                        // The server widens f32 to f64 text: narrowing back is exact.
                        Ok(Point::new(id, p.vector.iter().map(|v| *v as f32).collect(), p.payload))
                    })
                    .transpose()
                })
                .buffered(16)
                .try_collect::<Vec<_>>(),
        )
    }

    fn retries(&self) -> BTreeMap<String, u64> {
        self.server.backoff.retries()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_split_by_bytes_and_stay_valid_json() {
        let pts: Vec<Point> = (0..50).map(|i| Point::new(i, vec![0.1; 64], Some(serde_json::json!({"i": i})))).collect();
        let one = serde_json::to_vec(&RestPoint { id: 0, vector: &pts[0].vector, payload: &pts[0].payload, sparse_vectors: &None }).unwrap().len();
        let bodies: Vec<Vec<u8>> = request_bodies(&pts, one * 10 + 20).collect::<Result<_, _>>().unwrap();
        assert!(bodies.len() >= 5, "{}", bodies.len());
        let mut ids = Vec::new();
        for b in &bodies {
            assert!(b.len() <= one * 10 + 20);
            let v: serde_json::Value = serde_json::from_slice(b).unwrap();
            ids.extend(v["points"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()));
        }
        assert_eq!(ids, (0..50).collect::<Vec<u64>>());
        assert!(request_bodies(&pts, one / 2).next().unwrap().unwrap_err().contains("--max-request-bytes"));
        assert_eq!(request_bodies(&[], 1 << 20).count(), 0);
    }

    #[test]
    fn metric_names() {
        assert!(same_metric("euclidean", "euclidean"));
        assert!(same_metric("dotproduct", "dot"));
        assert!(!same_metric("cosine", "dot"));
    }
}
