//! Milvus source (gRPC `MilvusService`).
//!
//! `DescribeCollection` gives the fields (primary key Int64 or VarChar of any
//! name, vectors, scalars, the dynamic `$meta` field), `DescribeIndex` the
//! metric and HNSW parameters of each vector field (Milvus keeps the metric
//! on the index, not the schema), `Query` with `count(*)` the row count.
//!
//! Rows are read with the query-iterator protocol, never offset paging
//! (which stops at Milvus's 16 384-row offset+limit window): a first query
//! with the `iterator` parameters returns a session timestamp; every page is
//! then `pk > <last pk> [and (<filter>)]` with the `iterator` and
//! `reduce_stop_for_best` parameters, which make the server return the next
//! rows in primary-key order, and the session timestamp as the guarantee
//! timestamp, so all pages read the same MVCC snapshot. The cursor stored in
//! the manifest is the last primary key plus that timestamp; a resumed export
//! keeps reading the same snapshot (when the server no longer has it, it
//! starts a new session and says so: the key order still makes sure nothing
//! is skipped or read twice among rows that did not change).
//!
//! Vectors: FloatVector → f32, Float16Vector → f16, BFloat16Vector and
//! Int8Vector → f32 (exact), SparseFloatVector → sparse; BinaryVector and
//! vector arrays are refused with a message. Scalars keep their types in the
//! metadata; dynamic fields are merged into it.

use super::milvus_pb::{self as pb, field_data, scalar_field, vector_field, DataType};
use super::pgbinary::float_json;
use super::{redact_url, Description, Page, Source};
use crate::error::{Error, Result};
use crate::model::{
    CollectionSchema, Cursor, Dense, ElementType, IdField, IdKind, IdValue, IndexParams, MetadataField, Metric, Record, Sparse, VectorField,
    VectorKind,
};
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;
use tonic::codec::ProstCodec;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// `export milvus` options.
#[derive(Clone, Debug, clap::Args, Serialize)]
pub struct Args {
    /// Milvus gRPC address.
    #[arg(long, default_value = "http://localhost:19530")]
    pub url: String,
    /// Collection name.
    #[arg(long, required_unless_present = "all", conflicts_with = "all", default_value = "", hide_default_value = true)]
    pub collection: String,
    /// `--all`: every collection of the server (database).
    #[command(flatten)]
    #[serde(skip)]
    pub every: super::AllArgs,
    /// Database.
    #[arg(long, default_value = "default")]
    pub database: String,
    /// `user:password` or an API key (sent as gRPC `authorization`; never written or printed).
    #[arg(long, env = "MILVUS_TOKEN", hide_env_values = true)]
    #[serde(skip)]
    pub token: Option<String>,
    /// Export only this partition (repeat for several; default: all).
    #[arg(conflicts_with = "all", long = "partition")]
    pub partitions: Vec<String>,
    /// Milvus boolean expression selecting the rows to export (recorded in the manifest).
    #[arg(conflicts_with = "all", long)]
    pub filter: Option<String>,
    /// A VarChar field to carry as the document column instead of metadata.
    #[arg(conflicts_with = "all", long)]
    pub document_field: Option<String>,
    /// Load the collection first when it is not loaded (uses memory on the Milvus server).
    #[arg(long)]
    #[serde(skip)]
    pub load: bool,
}

/// Rows per `Query` call: Milvus refuses more than 16 384.
pub const MAX_QUERY_ROWS: usize = 16_384;
/// Keep a response well under the decoding limit set below.
const TARGET_RESPONSE_BYTES: usize = 48 << 20;

/// How one output column becomes part of a record.
#[derive(Clone, Debug)]
enum Role {
    Id,
    Dense { pos: usize, dim: usize },
    Sparse { pos: usize },
    Document,
    Meta,
    Dynamic,
}

pub struct Milvus {
    args: Args,
    channel: Channel,
    target: String,
    auth: Option<MetadataValue<tonic::metadata::Ascii>>,
    pk: String,
    kind: IdKind,
    collection_id: i64,
    columns: Vec<(String, Role)>,
    n_dense: usize,
    n_sparse: usize,
    row_bytes: usize,
    session_ts: Option<u64>,
}

/// Every collection of the database, described as an export would see it.
pub async fn discover(args: Args) -> Result<Vec<super::Discovered>> {
    let lister = Milvus::connect(Args { collection: String::new(), every: Default::default(), ..args.clone() })?;
    let res: pb::ShowCollectionsResponse =
        lister.call("ShowCollections", "listing collections", pb::ShowCollectionsRequest { db_name: args.database.clone() }).await?;
    let mut out = Vec::new();
    for name in res.collection_names {
        let mut src = Milvus::connect(Args { collection: name.clone(), every: Default::default(), ..args.clone() })?;
        out.push(super::Discovered::of(&mut src, args.database.clone(), name).await);
    }
    Ok(out)
}

fn metric_of(name: &str) -> Option<Metric> {
    match name.to_ascii_uppercase().as_str() {
        "COSINE" => Some(Metric::Cosine),
        "L2" => Some(Metric::L2),
        "IP" => Some(Metric::Dot),
        "HAMMING" => Some(Metric::Hamming),
        "JACCARD" => Some(Metric::Jaccard),
        _ => None,
    }
}

/// A Milvus expression string literal for `s` (quotes and backslashes escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number that Milvus may give as a JSON number or a string.
fn as_u32(v: &Value) -> Option<u32> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).map(|n| n as u32)
}

/// Metric, index parameters and metric name of an index description. The
/// build parameters come either as their own keys (older servers) or inside
/// a JSON `params` string (`{"M": "16", "efConstruction": "200"}`).
fn index_of(i: &pb::IndexDescription) -> (Option<Metric>, IndexParams, String) {
    let nested: Value = pb::get(&i.params, "params").and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null);
    let param = |k: &str| pb::get(&i.params, k).and_then(|v| v.trim().parse().ok()).or_else(|| as_u32(&nested[k]));
    let metric_name = pb::get(&i.params, "metric_type").or_else(|| nested["metric_type"].as_str()).unwrap_or("").to_owned();
    let params = IndexParams {
        kind: pb::get(&i.params, "index_type").or_else(|| nested["index_type"].as_str()).unwrap_or("").to_ascii_lowercase(),
        name: Some(i.index_name.clone()).filter(|n| !n.is_empty()),
        m: param("M"),
        ef_construction: param("efConstruction"),
        lists: param("nlist"),
    };
    (metric_of(&metric_name), params, metric_name)
}

fn type_name(t: i32) -> String {
    DataType::try_from(t).map(|d| format!("{d:?}")).unwrap_or_else(|_| format!("type {t}"))
}

impl Milvus {
    pub fn connect(args: Args) -> Result<Milvus> {
        let target = format!("collection {} (database {}) at {}", args.collection, args.database, redact_url(&args.url));
        let err = |m: String| Error::Source { source_kind: "milvus", target: target.clone(), message: m };
        if args.url.starts_with("https://") {
            return Err(err("TLS connections are not built in yet; reach the server over a TLS-terminating tunnel and pass its http:// address".into()));
        }
        let endpoint = Endpoint::from_shared(args.url.clone())
            .map_err(|e| err(format!("{} is not a valid address ({e}); use http://HOST:PORT", redact_url(&args.url))))?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        let auth = match &args.token {
            Some(t) => Some(
                MetadataValue::try_from(base64::engine::general_purpose::STANDARD.encode(t))
                    .map_err(|_| err("the token cannot be sent as gRPC metadata".into()))?,
            ),
            None => None,
        };
        Ok(Milvus {
            args,
            channel,
            target,
            auth,
            pk: String::new(),
            kind: IdKind::Int,
            collection_id: 0,
            columns: Vec::new(),
            n_dense: 0,
            n_sparse: 0,
            row_bytes: 64,
            session_ts: None,
        })
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Source { source_kind: "milvus", target: self.target.clone(), message: message.into() }
    }

    /// One unary call, retried on transient transport errors; a non-zero
    /// status in the answer becomes an error naming the call.
    async fn call<Req, Resp>(&self, method: &'static str, what: &str, req: Req) -> Result<Resp>
    where
        Req: prost::Message + Clone + 'static,
        Resp: prost::Message + Default + HasStatus + 'static,
    {
        let path = PathAndQuery::try_from(format!("{}{method}", pb::SERVICE)).expect("valid gRPC path");
        let mut last = String::new();
        let policy = super::http::retry_policy();
        let attempts = policy.max_attempts.unwrap_or(5).max(1);
        let backoff = crate::util::Backoff::new(policy.initial.unwrap_or(Duration::from_millis(400)), policy.max.unwrap_or(Duration::from_secs(30))).with_factor(policy.factor);
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff.delay(attempt - 1)).await;
            }
            let mut grpc = tonic::client::Grpc::new(self.channel.clone()).max_decoding_message_size(256 << 20);
            if let Err(e) = grpc.ready().await {
                last = format!("cannot reach the server: {e}");
                continue;
            }
            let mut request = tonic::Request::new(req.clone());
            request.metadata_mut().insert("dbname", MetadataValue::try_from(self.args.database.as_str()).map_err(|_| self.err("invalid --database"))?);
            if let Some(a) = &self.auth {
                request.metadata_mut().insert("authorization", a.clone());
            }
            match grpc.unary::<Req, Resp, _>(request, path.clone(), ProstCodec::default()).await {
                Ok(resp) => {
                    let resp = resp.into_inner();
                    if let Some(s) = resp.status().filter(|s| s.code != 0 || s.error_code != 0) {
                        let msg = format!("{what} failed: {} (Milvus code {})", s.reason, if s.code != 0 { s.code } else { s.error_code });
                        if s.retriable && attempt + 1 < attempts {
                            last = msg;
                            continue;
                        }
                        return Err(self.err(self.hint(msg)));
                    }
                    return Ok(resp);
                }
                Err(status) => {
                    use tonic::Code;
                    let msg = format!("{what} failed: {} ({:?})", status.message(), status.code());
                    match status.code() {
                        Code::Unavailable if status.message().contains("connect") => {
                            last = format!("cannot reach the server ({})", status.message())
                        }
                        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => last = msg,
                        Code::Unauthenticated | Code::PermissionDenied => {
                            return Err(self.err(format!("{msg}; check --token (or MILVUS_TOKEN): `user:password` or an API key")))
                        }
                        Code::Unimplemented => return Err(self.err(format!("{msg}; the server does not offer {method}"))),
                        _ => return Err(self.err(self.hint(msg))),
                    }
                }
            }
        }
        Err(self.err(format!("gave up after {attempts} attempts: {last}; is Milvus running at {}?", redact_url(&self.args.url))))
    }

    fn hint(&self, msg: String) -> String {
        let l = msg.to_ascii_lowercase();
        if l.contains("not found") || l.contains("not exist") {
            format!("{msg}; check --collection and --database (`velesdb-migrate discover milvus` lists them)")
        } else if l.contains("auth") || l.contains("credential") || l.contains("permission") {
            format!("{msg}; check --token (or MILVUS_TOKEN)")
        } else {
            msg
        }
    }

    /// Every row (the first page has no key to start after; unlike a
    /// `!= ""` or `< i64::MAX` bound, these keep the empty and largest keys).
    fn base_expr(&self) -> String {
        match self.kind {
            IdKind::String => format!("{} >= \"\"", self.pk),
            _ => format!("{} <= {}", self.pk, i64::MAX),
        }
    }

    fn query_request(&self, expr: String, output_fields: Vec<String>, limit: usize) -> pb::QueryRequest {
        pb::QueryRequest {
            db_name: self.args.database.clone(),
            collection_name: self.args.collection.clone(),
            expr,
            output_fields,
            partition_names: self.args.partitions.clone(),
            guarantee_timestamp: self.session_ts.unwrap_or(0),
            query_params: vec![
                pb::kv("limit", limit.to_string()),
                pb::kv("iterator", "True"),
                pb::kv("reduce_stop_for_best", "True"),
                pb::kv("collection_id", self.collection_id.to_string()),
            ],
            consistency_level: 0,
            use_default_consistency: self.session_ts.is_some(),
        }
    }

    /// Start a query session: the server answers with the MVCC timestamp
    /// every page will read at.
    async fn open_session(&mut self) -> Result<u64> {
        let req = self.query_request(self.with_filter(self.base_expr()), Vec::new(), 1);
        let res: pb::QueryResults = match self.call("Query", "starting a query session", req).await {
            Err(Error::Source { message, .. }) if self.args.filter.is_some() && !message.contains("cannot reach") => {
                return Err(self.err(format!("{message}; check --filter (a Milvus boolean expression)")))
            }
            other => other?,
        };
        let ts = if res.session_ts > 0 {
            res.session_ts
        } else {
            // Milvus's hybrid timestamp: physical milliseconds << 18.
            let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
            ms << 18
        };
        self.session_ts = Some(ts);
        Ok(ts)
    }

    fn with_filter(&self, expr: String) -> String {
        match &self.args.filter {
            Some(f) => format!("({expr}) and ({f})"),
            None => expr,
        }
    }

    fn after(&self, key: &Value) -> Result<String> {
        let lit = match (self.kind, key) {
            (IdKind::String, Value::String(s)) => quote(s),
            (IdKind::Int, Value::Number(n)) if n.is_i64() => n.to_string(),
            (_, other) => return Err(self.err(format!("internal: cursor key {other} does not match the primary key kind {:?}", self.kind))),
        };
        Ok(format!("{} > {lit}", self.pk))
    }

    fn output_fields(&self) -> Vec<String> {
        self.columns.iter().map(|(n, r)| if matches!(r, Role::Dynamic) { "$meta".to_owned() } else { n.clone() }).collect()
    }

    /// One query: up to `limit` rows after `key`, in primary-key order.
    async fn query_after(&self, key: Option<&Value>, limit: usize) -> Result<Vec<Record>> {
        let expr = match key {
            Some(k) => self.after(k)?,
            None => self.base_expr(),
        };
        let req = self.query_request(self.with_filter(expr), self.output_fields(), limit);
        let res: pb::QueryResults = self.call("Query", "reading rows", req).await?;
        let records = self.records(&res.fields_data)?;
        if records.len() > limit {
            return Err(self.err(format!("the server returned {} rows for a limit of {limit}", records.len())));
        }
        // The iterator parameters make Milvus return rows in key order; if a
        // server ignores them, paging by key would skip rows: stop instead.
        let mut prev = key.cloned();
        for r in &records {
            let k = r.id.to_json();
            if let Some(p) = &prev {
                if !key_less(p, &k) {
                    return Err(self.err(format!(
                        "the server returned primary key {k} after {p}, out of order: it ignores the query-iterator \
                         parameters, so the collection cannot be paged safely (Milvus ≥ 2.3 is needed)"
                    )));
                }
            }
            prev = Some(k);
        }
        Ok(records)
    }

    /// Columnar query results → records.
    fn records(&self, fields: &[pb::FieldData]) -> Result<Vec<Record>> {
        let find = |name: &str, dynamic: bool| {
            fields.iter().find(|f| if dynamic { f.is_dynamic || f.field_name == "$meta" } else { f.field_name == name && !f.is_dynamic })
        };
        let id_col = find(&self.pk, false).ok_or_else(|| self.err(format!("the query result has no primary key column {}", self.pk)))?;
        let ids = scalar(id_col).ok_or_else(|| self.err("the primary key column holds no values"))?;
        let n = scalar_len(ids);
        let mut records: Vec<Record> = (0..n)
            .map(|i| {
                let id = match (ids, self.kind) {
                    (scalar_field::Data::Long(a), IdKind::Int) => Ok(IdValue::Int(a.data[i])),
                    (scalar_field::Data::String(a), IdKind::String) => Ok(IdValue::Str(a.data[i].clone())),
                    _ => Err(self.err("the primary key column does not have the primary key's type")),
                }?;
                Ok(Record { id, dense: vec![None; self.n_dense], sparse: vec![None; self.n_sparse], metadata: Map::new(), document: None })
            })
            .collect::<Result<_>>()?;
        for (name, role) in &self.columns {
            if matches!(role, Role::Id) {
                continue;
            }
            let Some(col) = find(name, matches!(role, Role::Dynamic)) else {
                if matches!(role, Role::Dynamic) {
                    continue; // no dynamic values in this page
                }
                return Err(self.err(format!("the query result has no column {name}")));
            };
            let rows = Rows::new(col, n).map_err(|m| self.err(format!("field {name}: {m}")))?;
            let fail = |i: usize, m: String| {
                let key = scalar_value(ids, i).unwrap_or(Value::Null);
                self.err(format!("field {name}, primary key {key}: {m}"))
            };
            match role {
                Role::Id => {}
                Role::Dense { pos, dim } => {
                    for i in 0..n {
                        let v = rows.at(i).map(|j| dense_at(col, j, *dim)).transpose().map_err(|m| fail(i, m))?;
                        records[i].dense[*pos] = v;
                    }
                }
                Role::Sparse { pos } => {
                    for i in 0..n {
                        let v = rows.at(i).map(|j| sparse_at(col, j)).transpose().map_err(|m| fail(i, m))?;
                        records[i].sparse[*pos] = v;
                    }
                }
                Role::Document => {
                    for i in 0..n {
                        let v = rows.at(i).map(|j| scalar_at(col, j)).transpose().map_err(|m| fail(i, m))?;
                        records[i].document = match v {
                            None | Some(Value::Null) => None,
                            Some(Value::String(s)) => Some(s),
                            Some(other) => Some(other.to_string()),
                        };
                    }
                }
                Role::Meta => {
                    for i in 0..n {
                        let v = rows.at(i).map(|j| scalar_at(col, j)).transpose().map_err(|m| fail(i, m))?.unwrap_or(Value::Null);
                        records[i].metadata.insert(name.clone(), v);
                    }
                }
                Role::Dynamic => {
                    for i in 0..n {
                        match rows.at(i).map(|j| scalar_at(col, j)).transpose().map_err(|m| fail(i, m))? {
                            Some(Value::Object(m)) => {
                                for (k, v) in m {
                                    if records[i].metadata.contains_key(&k) {
                                        return Err(fail(i, format!("dynamic field {k} has the name of a schema field")));
                                    }
                                    records[i].metadata.insert(k, v);
                                }
                            }
                            None | Some(Value::Null) => {}
                            Some(other) => return Err(fail(i, format!("dynamic fields are not a JSON object: {other}"))),
                        }
                    }
                }
            }
        }
        Ok(records)
    }

    async fn ensure_loaded(&self) -> Result<()> {
        let req = pb::GetLoadStateRequest {
            collection_name: self.args.collection.clone(),
            partition_names: self.args.partitions.clone(),
            db_name: self.args.database.clone(),
        };
        let state = match self.call::<_, pb::GetLoadStateResponse>("GetLoadState", "reading the load state", req.clone()).await {
            Ok(s) => s.state,
            Err(_) => return Ok(()), // servers without GetLoadState answer the query itself
        };
        match state {
            3 => Ok(()),
            0 => Err(self.err("the collection does not exist; check --collection and --database")),
            _ if !self.args.load => Err(self.err(
                "the collection is not loaded, and Milvus only queries loaded collections; load it \
                 (pymilvus: client.load_collection(NAME)) or re-run with --load (this uses memory on the Milvus server)",
            )),
            _ => {
                if state == 1 {
                    let load = pb::LoadCollectionRequest { db_name: self.args.database.clone(), collection_name: self.args.collection.clone() };
                    let _: pb::Status = self.call("LoadCollection", "loading the collection", load).await?;
                }
                for _ in 0..600 {
                    let s: pb::GetLoadStateResponse = self.call("GetLoadState", "waiting for the load", req.clone()).await?;
                    if s.state == 3 {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(self.err("the collection did not finish loading within 5 minutes"))
            }
        }
    }

    async fn count(&self) -> Option<u64> {
        let req = pb::QueryRequest {
            db_name: self.args.database.clone(),
            collection_name: self.args.collection.clone(),
            expr: self.args.filter.clone().unwrap_or_default(),
            output_fields: vec!["count(*)".into()],
            partition_names: self.args.partitions.clone(),
            ..Default::default()
        };
        let res: pb::QueryResults = self.call("Query", "counting rows", req).await.ok()?;
        match res.fields_data.first().and_then(scalar) {
            Some(scalar_field::Data::Long(a)) => a.data.first().map(|n| *n as u64),
            _ => None,
        }
    }
}

/// Which response messages carry a status.
pub trait HasStatus {
    fn status(&self) -> Option<&pb::Status>;
}
macro_rules! has_status {
    ($($t:ty),*) => {$(impl HasStatus for $t { fn status(&self) -> Option<&pb::Status> { self.status.as_ref() } })*};
}
has_status!(pb::DescribeCollectionResponse, pb::ShowCollectionsResponse, pb::DescribeIndexResponse, pb::GetLoadStateResponse, pb::QueryResults);
impl HasStatus for pb::Status {
    fn status(&self) -> Option<&pb::Status> {
        Some(self)
    }
}

/// Key order of the snapshot (and of Milvus): numbers numerically, strings bytewise.
fn key_less(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_i64() < y.as_i64(),
        (Value::String(x), Value::String(y)) => x.as_bytes() < y.as_bytes(),
        _ => false,
    }
}

fn scalar(f: &pb::FieldData) -> Option<&scalar_field::Data> {
    match &f.field {
        Some(field_data::Field::Scalars(s)) => s.data.as_ref(),
        _ => None,
    }
}

fn scalar_len(d: &scalar_field::Data) -> usize {
    use scalar_field::Data::*;
    match d {
        Bool(a) => a.data.len(),
        Int(a) => a.data.len(),
        Long(a) | Timestamptz(a) => a.data.len(),
        Float(a) => a.data.len(),
        Double(a) => a.data.len(),
        String(a) | GeometryWkt(a) => a.data.len(),
        Bytes(a) | Json(a) | Geometry(a) => a.data.len(),
        Array(a) => a.data.len(),
    }
}

/// Element `i` of a scalar column as JSON, types kept.
fn scalar_value(d: &scalar_field::Data, i: usize) -> std::result::Result<Value, String> {
    use scalar_field::Data::*;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<std::string::String>();
    Ok(match d {
        Bool(a) => Value::Bool(a.data[i]),
        Int(a) => Value::from(a.data[i]),
        Long(a) | Timestamptz(a) => Value::from(a.data[i]),
        Float(a) => float_json(f64::from(a.data[i])),
        Double(a) => float_json(a.data[i]),
        String(a) | GeometryWkt(a) => Value::String(a.data[i].clone()),
        Bytes(a) | Geometry(a) => Value::String(hex(&a.data[i])),
        Json(a) => {
            if a.data[i].is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&a.data[i]).map_err(|e| format!("JSON value cannot be parsed: {e}"))?
            }
        }
        Array(a) => match a.data[i].data.as_ref() {
            Some(inner) => Value::Array((0..scalar_len(inner)).map(|j| scalar_value(inner, j)).collect::<std::result::Result<_, _>>()?),
            None => Value::Array(Vec::new()),
        },
    })
}

fn scalar_at(f: &pb::FieldData, i: usize) -> std::result::Result<Value, String> {
    match scalar(f) {
        Some(d) if i < scalar_len(d) => scalar_value(d, i),
        Some(_) => Err("fewer values than rows".into()),
        None => Ok(Value::Null),
    }
}

fn dense_at(f: &pb::FieldData, i: usize, dim: usize) -> std::result::Result<Dense, String> {
    let Some(field_data::Field::Vectors(v)) = &f.field else { return Err("not a vector column".into()) };
    let slice = |len: usize, width: usize| -> std::result::Result<std::ops::Range<usize>, String> {
        let (a, b) = (i * dim * width, (i + 1) * dim * width);
        if b > len {
            return Err(format!("the vector data is shorter than {} rows of {dim} dimensions", i + 1));
        }
        Ok(a..b)
    };
    match &v.data {
        Some(vector_field::Data::Float(a)) => Ok(Dense::F32(a.data[slice(a.data.len(), 1)?].to_vec())),
        Some(vector_field::Data::Float16(b)) => {
            Ok(Dense::F16(b[slice(b.len(), 2)?].chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]])).collect()))
        }
        Some(vector_field::Data::BFloat16(b)) => {
            Ok(Dense::F32(b[slice(b.len(), 2)?].chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect()))
        }
        Some(vector_field::Data::Int8(b)) => Ok(Dense::F32(b[slice(b.len(), 1)?].iter().map(|x| f32::from(*x as i8)).collect())),
        _ => Err("unsupported vector data".into()),
    }
}

fn sparse_at(f: &pb::FieldData, i: usize) -> std::result::Result<Sparse, String> {
    let Some(field_data::Field::Vectors(pb::VectorField { data: Some(vector_field::Data::Sparse(s)), .. })) = &f.field else {
        return Err("not a sparse vector column".into());
    };
    let row = s.contents.get(i).ok_or("fewer sparse rows than rows")?;
    if row.len() % 8 != 0 {
        return Err(format!("a sparse row of {} bytes is not a list of (u32, f32) pairs", row.len()));
    }
    let mut out = Sparse::default();
    for pair in row.chunks_exact(8) {
        out.indices.push(u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]));
        out.values.push(f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]));
    }
    Ok(out)
}

/// Row → position in a column's data, with nullable columns (`valid_data`)
/// sent either full-length or with only the valid rows.
struct Rows {
    valid: Vec<bool>,
    compact: bool,
    prefix: Vec<usize>,
}

impl Rows {
    fn new(f: &pb::FieldData, n: usize) -> std::result::Result<Rows, String> {
        if f.valid_data.is_empty() {
            return Ok(Rows { valid: Vec::new(), compact: false, prefix: Vec::new() });
        }
        if f.valid_data.len() != n {
            return Err(format!("{} validity flags for {n} rows", f.valid_data.len()));
        }
        let valid_count = f.valid_data.iter().filter(|v| **v).count();
        let len = match &f.field {
            Some(field_data::Field::Scalars(s)) => s.data.as_ref().map_or(0, scalar_len),
            Some(field_data::Field::Vectors(v)) => match &v.data {
                Some(vector_field::Data::Float(a)) => a.data.len() / (v.dim.max(1) as usize),
                Some(vector_field::Data::Sparse(s)) => s.contents.len(),
                Some(vector_field::Data::Float16(b)) | Some(vector_field::Data::BFloat16(b)) => b.len() / (2 * v.dim.max(1) as usize),
                Some(vector_field::Data::Int8(b)) => b.len() / (v.dim.max(1) as usize),
                _ => 0,
            },
            None => 0,
        };
        let compact = len == valid_count && len != n;
        let mut prefix = Vec::with_capacity(n);
        let mut k = 0;
        for v in &f.valid_data {
            prefix.push(k);
            k += usize::from(*v);
        }
        Ok(Rows { valid: f.valid_data.clone(), compact, prefix })
    }

    fn at(&self, i: usize) -> Option<usize> {
        if self.valid.is_empty() {
            return Some(i);
        }
        if !self.valid[i] {
            return None;
        }
        Some(if self.compact { self.prefix[i] } else { i })
    }
}

impl Source for Milvus {
    fn kind(&self) -> &'static str {
        "milvus"
    }

    fn address(&self) -> String {
        redact_url(&self.args.url)
    }

    fn options(&self) -> Value {
        serde_json::to_value(&self.args).expect("args serialize")
    }

    async fn describe(&mut self) -> Result<Description> {
        let req = pb::DescribeCollectionRequest { db_name: self.args.database.clone(), collection_name: self.args.collection.clone() };
        let desc: pb::DescribeCollectionResponse = self.call("DescribeCollection", "describing the collection", req).await?;
        let schema = desc.schema.ok_or_else(|| self.err("the server returned no schema"))?;
        self.collection_id = desc.collection_id;
        let idx_req = pb::DescribeIndexRequest {
            db_name: self.args.database.clone(),
            collection_name: self.args.collection.clone(),
            field_name: String::new(),
        };
        // A collection without an index answers with an error status.
        let indexes = self.call::<_, pb::DescribeIndexResponse>("DescribeIndex", "reading the indexes", idx_req).await.map(|r| r.index_descriptions).unwrap_or_default();
        let mut notes = Vec::new();
        let mut columns = Vec::new();
        let mut vectors = Vec::new();
        let mut metadata = Vec::new();
        let mut document = None;
        let mut id = None;
        let (mut n_dense, mut n_sparse, mut row_bytes) = (0usize, 0usize, 64usize);
        for f in &schema.fields {
            let dt = DataType::try_from(f.data_type).unwrap_or(DataType::None);
            let tname = type_name(f.data_type);
            if f.is_dynamic {
                continue; // handled below, through enable_dynamic_field
            }
            if f.is_primary_key {
                let kind = match dt {
                    DataType::Int64 => IdKind::Int,
                    DataType::VarChar => IdKind::String,
                    _ => return Err(self.err(format!("primary key {} has type {tname}; only Int64 and VarChar keys exist in Milvus", f.name))),
                };
                self.pk = f.name.clone();
                self.kind = kind;
                id = Some(IdField { name: f.name.clone(), kind, source_type: Some(format!("milvus {tname}{}", if f.auto_id { " (auto id)" } else { "" })) });
                columns.push((f.name.clone(), Role::Id));
                continue;
            }
            let dim = pb::get(&f.type_params, "dim").and_then(|d| d.parse::<u32>().ok()).unwrap_or(0);
            let index = indexes.iter().find(|i| i.field_name == f.name);
            let (metric, index_params, metric_name) = match index {
                Some(i) => {
                    let (metric, params, name) = index_of(i);
                    (metric, Some(params), name)
                }
                None => (None, None, String::new()),
            };
            let mut dense_field = |element: ElementType, width: usize, note: Option<String>| {
                if let Some(n) = note {
                    notes.push(n);
                }
                if index.is_none() {
                    notes.push(format!("vector field {} has no index, so Milvus records no metric for it; the import asks for --metric", f.name));
                }
                row_bytes += dim as usize * width;
                columns.push((f.name.clone(), Role::Dense { pos: n_dense, dim: dim as usize }));
                n_dense += 1;
                vectors.push(VectorField {
                    name: f.name.clone(),
                    column: format!("vec:{}", f.name),
                    kind: VectorKind::Dense,
                    element,
                    dimension: dim,
                    metric,
                    index: index_params.clone(),
                    source_type: Some(format!("milvus {tname}({dim}) {metric_name}").trim_end().to_owned()),
                });
            };
            match dt {
                DataType::FloatVector => dense_field(ElementType::F32, 4, None),
                DataType::Float16Vector => dense_field(ElementType::F16, 2, None),
                DataType::BFloat16Vector => {
                    dense_field(ElementType::F32, 4, Some(format!("vector field {} is BFloat16: exported as f32 (exact)", f.name)))
                }
                DataType::Int8Vector => dense_field(ElementType::F32, 4, Some(format!("vector field {} is Int8: exported as f32 (exact)", f.name))),
                DataType::SparseFloatVector => {
                    row_bytes += 256;
                    columns.push((f.name.clone(), Role::Sparse { pos: n_sparse }));
                    n_sparse += 1;
                    vectors.push(VectorField {
                        name: f.name.clone(),
                        column: format!("sparse:{}", f.name),
                        kind: VectorKind::Sparse,
                        element: ElementType::F32,
                        dimension: 0,
                        metric,
                        index: index_params,
                        source_type: Some(format!("milvus SparseFloatVector {metric_name}").trim_end().to_owned()),
                    });
                    if f.is_function_output {
                        notes.push(format!("sparse field {} is the output of a function (BM25): its stored values are exported", f.name));
                    }
                }
                DataType::BinaryVector | DataType::ArrayOfVector => {
                    return Err(self.err(format!(
                        "field {} is a {tname}, which VelesDB cannot hold (no binary or multi-vector type); \
                         the export stops rather than drop it",
                        f.name
                    )));
                }
                _ if self.args.document_field.as_deref() == Some(f.name.as_str()) => {
                    if !matches!(dt, DataType::VarChar | DataType::String | DataType::Text) {
                        return Err(Error::Usage(format!("--document-field {} has type {tname}; it must be a text field", f.name)));
                    }
                    row_bytes += 256;
                    columns.push((f.name.clone(), Role::Document));
                    document = Some(f.name.clone());
                }
                _ => {
                    let json = match dt {
                        DataType::Bool => "bool",
                        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Timestamptz => "int",
                        DataType::Float | DataType::Double => "float",
                        DataType::VarChar | DataType::String | DataType::Text | DataType::Geometry => "string",
                        _ => "json",
                    };
                    let source_type = if dt == DataType::Array { format!("milvus Array<{}>", type_name(f.element_type)) } else { format!("milvus {tname}") };
                    row_bytes += 32;
                    columns.push((f.name.clone(), Role::Meta));
                    metadata.push(MetadataField { name: f.name.clone(), source_type, json: json.into() });
                }
            }
        }
        if let Some(d) = &self.args.document_field {
            if document.is_none() {
                return Err(Error::Usage(format!("--document-field {d}: the collection has no such field")));
            }
        }
        if schema.enable_dynamic_field {
            row_bytes += 128;
            columns.push(("$meta".into(), Role::Dynamic));
            metadata.push(MetadataField { name: "$meta".into(), source_type: "milvus dynamic fields".into(), json: "merged".into() });
        }
        let id = id.ok_or_else(|| self.err("the collection has no primary key field"))?;
        if vectors.is_empty() {
            return Err(self.err("the collection has no vector field"));
        }
        self.columns = columns;
        self.n_dense = n_dense;
        self.n_sparse = n_sparse;
        self.row_bytes = row_bytes;
        self.ensure_loaded().await?;
        let count = self.count().await;
        let mut filters = Vec::new();
        if let Some(f) = &self.args.filter {
            filters.push(f.clone());
        }
        if !self.args.partitions.is_empty() {
            filters.push(format!("partitions: {}", self.args.partitions.join(", ")));
        }
        Ok(Description {
            name: self.args.collection.clone(),
            source_name: format!("{}.{}", self.args.database, self.args.collection),
            schema: CollectionSchema { id, vectors, metadata, document },
            filter: if filters.is_empty() { None } else { Some(filters.join("; ")) },
            count_estimate: count,
            count_exact: false,
            count_is_statistic: false,
            notes,
        })
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let mut key = match cursor {
            Cursor::Start => None,
            Cursor::AfterKey { key } => Some(key.clone()),
            Cursor::AfterKeyAt { key, snapshot_ts } => {
                if self.session_ts.is_none() {
                    self.session_ts = Some(*snapshot_ts);
                }
                Some(key.clone())
            }
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            other => return Err(self.err(format!("internal: cursor {other:?} cannot resume a Milvus export"))),
        };
        if self.session_ts.is_none() {
            self.open_session().await?;
        }
        let per_query = (TARGET_RESPONSE_BYTES / self.row_bytes.max(1)).clamp(1, MAX_QUERY_ROWS);
        let mut records: Vec<Record> = Vec::new();
        let mut exhausted = false;
        while records.len() < limit {
            let want = per_query.min(limit - records.len());
            let page = match self.query_after(key.as_ref(), want).await {
                Ok(p) => p,
                // A resumed export whose snapshot the server has dropped
                // (garbage-collected timestamp): start a new session.
                Err(e) if matches!(cursor, Cursor::AfterKeyAt { .. }) && records.is_empty() && e.to_string().to_ascii_lowercase().contains("timestamp") => {
                    self.open_session().await?;
                    self.query_after(key.as_ref(), want).await?
                }
                Err(e) => return Err(e),
            };
            let got = page.len();
            if let Some(last) = page.last() {
                key = Some(last.id.to_json());
            }
            records.extend(page);
            if got < want {
                exhausted = true;
                break;
            }
        }
        let next = match (&key, exhausted) {
            (_, true) | (None, _) => None,
            (Some(k), false) => Some(Cursor::AfterKeyAt { key: k.clone(), snapshot_ts: self.session_ts.unwrap_or(0) }),
        };
        Ok(Page { records, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_expression_strings() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("x\ny"), r#""x\ny""#);
        assert_eq!(quote("é"), "\"é\"");
    }

    #[test]
    fn decodes_sparse_rows_and_nullable_columns() {
        let mut row = Vec::new();
        for (i, v) in [(3u32, 1.5f32), (70000, -2.0)] {
            row.extend_from_slice(&i.to_le_bytes());
            row.extend_from_slice(&v.to_le_bytes());
        }
        let f = pb::FieldData {
            r#type: DataType::SparseFloatVector as i32,
            field_name: "sp".into(),
            field: Some(field_data::Field::Vectors(pb::VectorField {
                dim: 70001,
                data: Some(vector_field::Data::Sparse(pb::SparseFloatArray { contents: vec![row], dim: 70001 })),
            })),
            is_dynamic: false,
            valid_data: vec![],
        };
        assert_eq!(sparse_at(&f, 0).unwrap(), Sparse { indices: vec![3, 70000], values: vec![1.5, -2.0] });
        // A nullable column sent with only its valid rows.
        let n = pb::FieldData {
            r#type: DataType::Int64 as i32,
            field_name: "n".into(),
            field: Some(field_data::Field::Scalars(pb::ScalarField { data: Some(scalar_field::Data::Long(pb::LongArray { data: vec![7, 9] })) })),
            is_dynamic: false,
            valid_data: vec![false, true, false, true],
        };
        let rows = Rows::new(&n, 4).unwrap();
        let got: Vec<Value> = (0..4).map(|i| rows.at(i).map(|j| scalar_at(&n, j).unwrap()).unwrap_or(Value::Null)).collect();
        assert_eq!(got, vec![Value::Null, Value::from(7), Value::Null, Value::from(9)]);
    }

    #[test]
    fn reads_index_parameters_in_both_layouts() {
        let desc = |params: Vec<pb::KeyValuePair>| pb::IndexDescription { index_name: "v_idx".into(), params, field_name: "v".into() };
        let (metric, p, name) = index_of(&desc(vec![
            pb::kv("index_type", "HNSW"),
            pb::kv("metric_type", "L2"),
            pb::kv("params", r#"{"M":"16","efConstruction":"200"}"#),
        ]));
        assert_eq!((metric, name.as_str()), (Some(Metric::L2), "L2"));
        assert_eq!((p.kind.as_str(), p.m, p.ef_construction, p.name.as_deref()), ("hnsw", Some(16), Some(200), Some("v_idx")));
        let (metric, p, _) = index_of(&desc(vec![pb::kv("index_type", "IVF_FLAT"), pb::kv("metric_type", "IP"), pb::kv("nlist", "128")]));
        assert_eq!((metric, p.lists, p.m), (Some(Metric::Dot), Some(128), None));
    }

    #[test]
    fn keys_order_like_milvus() {
        assert!(key_less(&Value::from(-5), &Value::from(3)));
        assert!(key_less(&Value::from("Z"), &Value::from("a")));
        assert!(!key_less(&Value::from("b"), &Value::from("b")));
        assert_eq!(metric_of("IP"), Some(Metric::Dot));
    }
}
