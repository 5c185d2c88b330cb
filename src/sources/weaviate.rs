//! Weaviate source (REST API).
//!
//! `GET /v1/schema/{class}` gives the vectors (the class's own vector, named
//! `default` in the snapshot, and every named vector of `vectorConfig`),
//! their distances, HNSW parameters and the property types. Objects are read
//! with the REST cursor `GET /v1/objects?class=C&after=<uuid>&limit=N&include=vector`
//! (never `offset`, which the server caps at `QUERY_MAXIMUM_RESULTS`, 10 000
//! by default): objects come in ascending UUID order and the last UUID is
//! the cursor (`after` is exclusive). The count comes from GraphQL
//! `{Aggregate{C{meta{count}}}}`. Weaviate declares no vector dimension, so
//! it is read from the first objects that carry each vector.
//!
//! Multi-tenant classes: `GET /v1/schema/{class}/tenants` lists the tenants;
//! each exported tenant is its own source, hence its own snapshot collection
//! `<class>.<tenant>`. Only active tenants can be read; inactive ones are
//! refused (or skipped) unless `--activate-tenants` sets them `HOT` with
//! `PUT /v1/schema/{class}/tenants`, a write to the source.
//!
//! Distances: cosine → cosine, dot → dot, l2-squared → l2 (same ranking);
//! manhattan and hamming have no VelesDB equivalent and stop the export
//! unless `--metric` names the metric to record instead. Properties become
//! the metadata, typed by the schema (`number` values stay floats even when
//! the server prints them without a decimal point, `int` values integers);
//! dates stay RFC 3339 text, geo coordinates, phone numbers, nested objects
//! and cross-references stay JSON.

use super::http::HttpSource;
use super::{redact_url, Description, Page, Source};
use crate::error::{Error, Result};
use crate::model::{
    CollectionSchema, Cursor, Dense, ElementType, IdField, IdKind, IdValue, IndexParams, MetadataField, Metric, Record, VectorField,
    VectorKind,
};
use crate::snapshot::manifest::valid_collection_name;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// `export weaviate` options.
#[derive(Clone, Debug, clap::Args, Serialize)]
pub struct Args {
    /// Weaviate REST URL (without `/v1`).
    #[arg(long, default_value = "http://localhost:8080")]
    pub url: String,
    /// Class (collection) name.
    #[arg(long)]
    pub class: String,
    /// The tenant to export, for a multi-tenant class.
    #[arg(long, conflicts_with = "all_tenants")]
    pub tenant: Option<String>,
    /// Every tenant of a multi-tenant class, each into its own snapshot collection `<class>.<tenant>`.
    #[arg(long)]
    pub all_tenants: bool,
    /// Set inactive tenants to HOT before reading them (a write to the source).
    #[arg(long)]
    pub activate_tenants: bool,
    /// With --all-tenants: leave inactive tenants out (each is named) instead of stopping.
    #[arg(long, requires = "all_tenants", conflicts_with = "activate_tenants")]
    pub skip_inactive_tenants: bool,
    /// Metric to record for vectors whose Weaviate distance VelesDB lacks (manhattan, hamming): cosine, l2 or dot.
    #[arg(long)]
    pub metric: Option<String>,
    /// API key (sent as `Authorization: Bearer`; never written or printed).
    #[arg(long, env = "WEAVIATE_API_KEY", hide_env_values = true)]
    #[serde(skip)]
    pub api_key: Option<String>,
    /// Objects per request (at most the server's QUERY_MAXIMUM_RESULTS); does not change the chunks.
    #[arg(long, default_value_t = 1000)]
    #[serde(skip)]
    pub page_size: usize,
}

/// Snapshot name of the class's own (unnamed) vector, as Weaviate calls it.
pub const DEFAULT_VECTOR: &str = "default";

/// How long an activated tenant may take to become readable.
const ACTIVATION_TIMEOUT: Duration = Duration::from_secs(120);

/// One class, or one tenant of a multi-tenant class.
pub struct Weaviate {
    args: Args,
    http: HttpSource,
    /// `<url>/v1`
    base: String,
    /// The class name as the schema spells it.
    class: String,
    tenant: Option<String>,
    /// Notes from connecting (activation, skipped tenants), shown by describe.
    pending_notes: Vec<String>,
    /// (snapshot name, the object's own `vector` rather than `vectors[name]`)
    slots: Vec<(String, bool)>,
    /// The class's property list (types for the metadata).
    properties: Value,
}

fn metric_of(distance: &str) -> Option<Metric> {
    match distance {
        "cosine" => Some(Metric::Cosine),
        "dot" => Some(Metric::Dot),
        "l2-squared" => Some(Metric::L2),
        _ => None,
    }
}

/// A tenant can be read when it is ACTIVE (HOT in older servers).
fn is_active(status: &str) -> bool {
    matches!(status, "ACTIVE" | "HOT")
}

/// `name (STATUS), …` of a tenant list.
fn tenant_list(tenants: &[(String, String)]) -> String {
    tenants.iter().map(|(n, s)| format!("{n} ({s})")).collect::<Vec<_>>().join(", ")
}

fn parse_tenants(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| Some((t["name"].as_str()?.to_owned(), t["activityStatus"].as_str().unwrap_or("ACTIVE").to_owned())))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Connect and plan the export: one source for a plain class or a chosen
/// tenant, one per tenant with `--all-tenants`.
pub async fn connect(args: Args) -> Result<Vec<Weaviate>> {
    if args.page_size == 0 {
        return Err(Error::Usage("--page-size must be at least 1".into()));
    }
    if let Some(m) = &args.metric {
        parse_override(m)?;
    }
    let mut probe = Weaviate::new(args.clone(), None)?;
    let class_def = probe.class_def().await?;
    probe.class = class_def["class"].as_str().unwrap_or(&args.class).to_owned();
    let multi = class_def["multiTenancyConfig"]["enabled"].as_bool().unwrap_or(false);
    if !multi {
        if args.tenant.is_some() || args.all_tenants {
            return Err(probe.http.err("the class is not multi-tenant; drop --tenant / --all-tenants"));
        }
        return Ok(vec![probe]);
    }
    let tenants = probe.tenants().await?;
    let chosen: Vec<(String, String)> = match (&args.tenant, args.all_tenants) {
        (Some(t), _) => match tenants.iter().find(|(n, _)| n == t) {
            Some(found) => vec![found.clone()],
            None => return Err(probe.http.err(format!("no tenant {t:?}; the class has: {}", tenant_list(&tenants)))),
        },
        (None, true) => tenants.clone(),
        (None, false) => {
            return Err(probe.http.err(format!(
                "the class is multi-tenant: choose --tenant NAME or --all-tenants; its tenants: {}",
                if tenants.is_empty() { "none".to_owned() } else { tenant_list(&tenants) }
            )))
        }
    };
    let inactive: Vec<(String, String)> = chosen.iter().filter(|(_, s)| !is_active(s)).cloned().collect();
    let mut notes = Vec::new();
    let mut skip = Vec::new();
    if !inactive.is_empty() {
        if args.activate_tenants {
            probe.activate(&inactive).await?;
            notes.push(format!("activated tenant(s) {} (--activate-tenants); they stay HOT", tenant_list(&inactive)));
        } else if args.skip_inactive_tenants {
            notes.push(format!("skipped inactive tenant(s) {} (--skip-inactive-tenants); they are not in the snapshot", tenant_list(&inactive)));
            skip = inactive.iter().map(|(n, _)| n.clone()).collect();
        } else {
            return Err(probe.http.err(format!(
                "tenant(s) {} are not active and cannot be read; re-run with --activate-tenants to set them HOT \
                 (a write to the source){}",
                tenant_list(&inactive),
                if args.all_tenants { ", or --skip-inactive-tenants to leave them out" } else { "" }
            )));
        }
    }
    let mut sources = Vec::new();
    for (name, _) in chosen.iter().filter(|(n, _)| !skip.contains(n)) {
        let mut s = Weaviate::new(args.clone(), Some(name.clone()))?;
        s.class = probe.class.clone();
        if sources.is_empty() {
            s.pending_notes = std::mem::take(&mut notes);
        }
        sources.push(s);
    }
    if sources.is_empty() {
        return Err(probe.http.err("no active tenant to export"));
    }
    Ok(sources)
}

/// Every class and, per multi-tenant class, every tenant with its activity
/// status, each described as `export weaviate` would record it: a plain
/// class has `table` = class (empty `schema`), a tenant `schema` = class and
/// `table` = tenant (its snapshot collection is `<class>.<tenant>`). Tenants
/// that are not active cannot be read: they carry the fix instead.
///
/// # Errors
/// A server that refuses or cannot be reached while listing the classes.
pub async fn discover(args: Args) -> Result<Vec<super::Discovered>> {
    let plain = Args { class: String::new(), tenant: None, all_tenants: false, activate_tenants: false, skip_inactive_tenants: false, ..args };
    let lister = Weaviate::new(plain.clone(), None)?;
    let url = format!("{}/schema", lister.base);
    let schema = lister.http.call("listing classes", || lister.http.client.get(&url)).await?;
    let mut classes: Vec<(String, bool)> = schema["classes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["class"].as_str()?.to_owned(), c["multiTenancyConfig"]["enabled"].as_bool().unwrap_or(false))))
        .collect();
    classes.sort();
    let mut out = Vec::new();
    for (class, multi) in classes {
        let one = Args { class: class.clone(), ..plain.clone() };
        if !multi {
            let mut src = Weaviate::new(one, None)?;
            out.push(super::Discovered::of(&mut src, String::new(), class).await);
            continue;
        }
        let tenants = match Weaviate::new(one.clone(), None)?.tenants().await {
            Ok(t) if t.is_empty() => {
                out.push(super::Discovered::refused(String::new(), class, "a multi-tenant class without tenants: nothing to export".into()));
                continue;
            }
            Ok(t) => t,
            Err(e) => {
                out.push(super::Discovered::refused(String::new(), class, e.to_string()));
                continue;
            }
        };
        for (tenant, status) in tenants {
            let mut d = if is_active(&status) {
                let mut src = Weaviate::new(one.clone(), Some(tenant.clone()))?;
                super::Discovered::of(&mut src, class.clone(), tenant).await
            } else {
                super::Discovered::refused(
                    class.clone(),
                    tenant,
                    format!(
                        "the tenant is {status} and cannot be read; export it with --activate-tenants (sets it HOT, a write to the source), \
                         or leave it out with --all-tenants --skip-inactive-tenants"
                    ),
                )
            };
            d.status = Some(status);
            out.push(d);
        }
    }
    Ok(out)
}

/// `--metric` for distances VelesDB lacks.
fn parse_override(m: &str) -> Result<Metric> {
    match Metric::parse(m) {
        Some(x @ (Metric::Cosine | Metric::L2 | Metric::Dot)) => Ok(x),
        _ => Err(Error::Usage(format!("--metric {m}: use cosine, l2 or dot"))),
    }
}

impl Weaviate {
    fn new(args: Args, tenant: Option<String>) -> Result<Weaviate> {
        let url = args.url.trim_end_matches('/');
        let base = format!("{url}/v1");
        let target = match &tenant {
            Some(t) => format!("class {} tenant {t} at {}", args.class, redact_url(url)),
            None => format!("class {} at {}", args.class, redact_url(url)),
        };
        let http = HttpSource::new(
            "weaviate",
            target,
            args.api_key.clone().map(|k| ("Authorization", format!("Bearer {k}"))),
            "; check --api-key (or WEAVIATE_API_KEY)",
            "; check --class (and --tenant)",
        )?;
        let class = args.class.clone();
        Ok(Weaviate { args, http, base, class, tenant, pending_notes: Vec::new(), slots: Vec::new(), properties: Value::Null })
    }

    async fn class_def(&self) -> Result<Value> {
        let url = format!("{}/schema/{}", self.base, self.args.class);
        match self.http.call("reading the class", || self.http.client.get(&url)).await {
            Err(Error::Source { message, .. }) if message.contains("answered 404") => {
                let all = format!("{}/schema", self.base);
                let schema = self.http.call("listing classes", || self.http.client.get(&all)).await?;
                let names: Vec<&str> = schema["classes"].as_array().map(|a| a.iter().filter_map(|c| c["class"].as_str()).collect()).unwrap_or_default();
                Err(self.http.err(format!(
                    "no class {:?}; the server has: {}",
                    self.args.class,
                    if names.is_empty() { "no class".to_owned() } else { names.join(", ") }
                )))
            }
            other => other,
        }
    }

    async fn tenants(&self) -> Result<Vec<(String, String)>> {
        let url = format!("{}/schema/{}/tenants", self.base, self.class);
        Ok(parse_tenants(&self.http.call("listing tenants", || self.http.client.get(&url)).await?))
    }

    /// Set `tenants` HOT and wait until the server reports them active.
    async fn activate(&self, tenants: &[(String, String)]) -> Result<()> {
        let url = format!("{}/schema/{}/tenants", self.base, self.class);
        let body: Vec<Value> = tenants.iter().map(|(n, _)| serde_json::json!({ "name": n, "activityStatus": "HOT" })).collect();
        self.http.call("activating tenants", || self.http.client.put(&url).json(&body)).await?;
        let deadline = tokio::time::Instant::now() + ACTIVATION_TIMEOUT;
        loop {
            let now = self.tenants().await?;
            let waiting: Vec<(String, String)> =
                now.into_iter().filter(|(n, s)| tenants.iter().any(|(t, _)| t == n) && !is_active(s)).collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.http.err(format!(
                    "tenant(s) {} did not become active within {} s of --activate-tenants; re-run when they are",
                    tenant_list(&waiting),
                    ACTIVATION_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One REST cursor request: up to `limit` objects after `after` ("" = from the start).
    async fn list(&self, after: &str, limit: usize) -> Result<Vec<Value>> {
        let url = format!("{}/objects", self.base);
        let limit = limit.to_string();
        let mut query = vec![("class", self.class.as_str()), ("after", after), ("limit", limit.as_str()), ("include", "vector")];
        if let Some(t) = &self.tenant {
            query.push(("tenant", t.as_str()));
        }
        let v = self.http.call("listing objects", || self.http.client.get(&url).query(&query)).await?;
        let objects = v["objects"].as_array().cloned().unwrap_or_default();
        // The cursor relies on ascending UUIDs: check rather than trust.
        let mut prev = after.to_ascii_lowercase();
        for o in &objects {
            let id = o["id"].as_str().unwrap_or("").to_ascii_lowercase();
            if !prev.is_empty() && id <= prev {
                return Err(self.http.err(format!(
                    "the server returned object {id} after {prev}: the REST cursor must give ascending UUIDs; is this a Weaviate server?"
                )));
            }
            prev = id;
        }
        Ok(objects)
    }

    /// Exact object count (GraphQL Aggregate), for progress.
    async fn count(&self) -> Result<u64> {
        let args = match &self.tenant {
            Some(t) => format!("(tenant: {})", serde_json::to_string(t).expect("string serializes")),
            None => String::new(),
        };
        let body = serde_json::json!({ "query": format!("{{Aggregate{{{}{args}{{meta{{count}}}}}}}}", self.class) });
        let url = format!("{}/graphql", self.base);
        let v = self.http.call("counting objects", || self.http.client.post(&url).json(&body)).await?;
        if let Some(e) = v["errors"].as_array().filter(|e| !e.is_empty()) {
            return Err(self.http.err(format!("counting objects: GraphQL answered {}", Value::Array(e.clone()))));
        }
        v["data"]["Aggregate"][&self.class][0]["meta"]["count"]
            .as_u64()
            .ok_or_else(|| self.http.err(format!("counting objects: unexpected answer {v}")))
    }

    /// The dimension of each vector slot, from the first objects that carry it.
    async fn dimensions(&self) -> Result<Vec<u32>> {
        let mut dims: Vec<Option<u32>> = vec![None; self.slots.len()];
        let (mut after, mut limit) = (String::new(), 1);
        loop {
            let objects = self.list(&after, limit).await?;
            for o in &objects {
                for (i, (name, own)) in self.slots.iter().enumerate() {
                    if dims[i].is_none() {
                        if let Some(Value::Array(a)) = slot_value(o, name, *own) {
                            dims[i] = (!a.is_empty()).then_some(a.len() as u32);
                        }
                    }
                }
            }
            if dims.iter().all(Option::is_some) || objects.len() < limit {
                break;
            }
            after = objects.last().and_then(|o| o["id"].as_str()).unwrap_or("").to_owned();
            limit = self.args.page_size;
        }
        Ok(dims.into_iter().map(|d| d.unwrap_or(0)).collect())
    }
}

/// The JSON of one vector slot of an object.
fn slot_value<'a>(o: &'a Value, name: &str, own: bool) -> Option<&'a Value> {
    if own {
        o.get("vector")
    } else {
        o.get("vectors").and_then(|v| v.get(name))
    }
}

/// The snapshot field of one Weaviate vector (`c` holds its `vectorIndexType`
/// and `vectorIndexConfig`), with a note on how its distance was mapped.
fn vector_field(name: &str, own: bool, c: &Value, over: Option<Metric>) -> std::result::Result<(VectorField, Option<String>), String> {
    let cfg = &c["vectorIndexConfig"];
    let index_type = c["vectorIndexType"].as_str().unwrap_or("hnsw");
    if cfg["multivector"]["enabled"].as_bool() == Some(true) {
        return Err(format!("vector {name} is a multi-vector, which the snapshot format cannot carry yet; the export stops rather than drop it"));
    }
    let distance = cfg["distance"].as_str().unwrap_or("cosine");
    let (metric, note) = match (metric_of(distance), over) {
        (Some(m), _) => {
            let note = (distance == "l2-squared")
                .then(|| format!("vector {name}: Weaviate's l2-squared is recorded as l2 (rank-equivalent: same neighbours, distances not squared)"));
            (m, note)
        }
        (None, Some(m)) => (m, Some(format!("vector {name}: Weaviate distance {distance} has no VelesDB equivalent; recorded as {m} (--metric)"))),
        (None, None) => {
            return Err(format!(
                "vector {name} uses the {distance} distance, which VelesDB does not have; choose the metric to record with --metric cosine|l2|dot"
            ))
        }
    };
    let hnsw = if index_type == "dynamic" { &cfg["hnsw"] } else { cfg };
    let param = |k: &str| hnsw[k].as_u64().map(|v| v as u32);
    let index = match index_type {
        "hnsw" | "dynamic" => IndexParams { kind: index_type.into(), name: None, m: param("maxConnections"), ef_construction: param("efConstruction"), lists: None },
        other => IndexParams { kind: other.into(), ..IndexParams::default() },
    };
    let field = VectorField {
        name: name.to_owned(),
        column: format!("vec:{name}"),
        kind: VectorKind::Dense,
        element: ElementType::F32,
        dimension: 0, // Weaviate declares none: read from the objects
        metric: Some(metric),
        index: Some(index),
        source_type: Some(format!("weaviate {index_type} {distance} {}", if own { "class vector" } else { "named vector" })),
    };
    Ok((field, note))
}

/// The metadata field a Weaviate property becomes.
fn metadata_field(p: &Value) -> Option<MetadataField> {
    let name = p["name"].as_str()?.to_owned();
    let ty = p["dataType"][0].as_str().unwrap_or("");
    let json = match ty {
        "int" => "int",
        "number" => "float",
        "boolean" => "bool",
        "text" | "string" | "uuid" | "date" | "blob" => "string",
        _ => "json",
    };
    let source_type = if ty.starts_with(|c: char| c.is_ascii_uppercase()) {
        let targets: Vec<&str> = p["dataType"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        format!("cross-reference to {}", targets.join("|"))
    } else {
        ty.to_owned()
    };
    Some(MetadataField { name, source_type, json: json.into() })
}

/// A property value, typed by its declared dataType: Go prints a float64
/// without a fractional part as an integer (`2`), so `number` values (and
/// geo coordinates) are turned back into floats and `int` values into
/// integers.
fn typed(v: &Value, ty: &str, nested: &Value) -> Value {
    match (ty, v) {
        ("number", Value::Number(n)) => n.as_f64().map_or_else(|| v.clone(), Value::from),
        ("int", Value::Number(n)) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => v.clone(),
        },
        (t, Value::Array(a)) if t.ends_with("[]") => Value::Array(a.iter().map(|x| typed(x, &t[..t.len() - 2], nested)).collect()),
        ("object", Value::Object(m)) => Value::Object(typed_object(m, nested)),
        ("geoCoordinates", Value::Object(m)) => {
            let floats = serde_json::json!([{"name": "latitude", "dataType": ["number"]}, {"name": "longitude", "dataType": ["number"]}]);
            Value::Object(typed_object(m, &floats))
        }
        _ => v.clone(),
    }
}

/// The properties of one object (or nested object), typed by `props` (the schema's property list).
fn typed_object(m: &Map<String, Value>, props: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        let decl = props.as_array().and_then(|a| a.iter().find(|p| p["name"] == k.as_str()));
        let value = match decl {
            Some(p) => typed(v, p["dataType"][0].as_str().unwrap_or(""), &p["nestedProperties"]),
            None => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    out
}

/// Objects of a cursor page → records.
pub fn page_records(objects: &[Value], slots: &[(String, bool)], properties: &Value) -> std::result::Result<Vec<Record>, String> {
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        let id = o["id"].as_str().ok_or_else(|| format!("an object has no id: {o}"))?.to_ascii_lowercase();
        let mut dense = Vec::with_capacity(slots.len());
        for (name, own) in slots {
            dense.push(match slot_value(o, name, *own) {
                Some(Value::Array(a)) if a.first().is_some_and(Value::is_array) => {
                    return Err(format!("object {id}: vector {name} is a multi-vector, which the snapshot format cannot carry yet"))
                }
                Some(Value::Array(a)) if !a.is_empty() => Some(Dense::F32(
                    a.iter()
                        .map(|x| x.as_f64().map(|x| x as f32))
                        .collect::<Option<Vec<f32>>>()
                        .ok_or_else(|| format!("object {id}: vector {name} holds a non-number"))?,
                )),
                _ => None,
            });
        }
        let metadata = match &o["properties"] {
            Value::Object(m) => typed_object(m, properties),
            _ => Map::new(),
        };
        out.push(Record { id: IdValue::Uuid(id), dense, sparse: Vec::new(), metadata, document: None });
    }
    Ok(out)
}

impl Source for Weaviate {
    fn kind(&self) -> &'static str {
        "weaviate"
    }

    fn address(&self) -> String {
        redact_url(&self.args.url)
    }

    fn options(&self) -> Value {
        serde_json::to_value(&self.args).expect("args serialize")
    }

    async fn describe(&mut self) -> Result<Description> {
        let def = self.class_def().await?;
        self.class = def["class"].as_str().unwrap_or(&self.args.class).to_owned();
        let mut notes = std::mem::take(&mut self.pending_notes);
        let named = def["vectorConfig"].as_object().filter(|m| !m.is_empty());
        // The class's own vector exists without named vectors, or beside them when configured.
        let mut configs: Vec<(String, bool, &Value)> = Vec::new();
        if named.is_none() || def["vectorIndexConfig"].is_object() {
            configs.push((DEFAULT_VECTOR.to_owned(), true, &def));
        }
        for (name, c) in named.into_iter().flatten() {
            if name == DEFAULT_VECTOR && configs.iter().any(|(_, own, _)| *own) {
                return Err(self.http.err("the class has both its own vector and a named vector called \"default\"; the snapshot cannot name both"));
            }
            configs.push((name.clone(), false, c));
        }
        let over = self.args.metric.as_deref().map(parse_override).transpose()?;
        let mut vectors = Vec::new();
        for (name, own, c) in &configs {
            let (field, note) = vector_field(name, *own, c, over).map_err(|m| self.http.err(m))?;
            notes.extend(note);
            vectors.push(field);
        }
        self.slots = configs.iter().map(|(n, own, _)| (n.clone(), *own)).collect();
        self.properties = def["properties"].clone();
        let metadata: Vec<MetadataField> = self.properties.as_array().into_iter().flatten().filter_map(metadata_field).collect();
        for (f, d) in vectors.iter_mut().zip(self.dimensions().await?) {
            f.dimension = d;
            if d == 0 {
                notes.push(format!("vector {}: no object carries it, so its dimension is unknown (recorded as 0)", f.name));
            }
        }
        let count = self.count().await?;
        let (name, source_name) = match &self.tenant {
            Some(t) => (format!("{}.{t}", self.class), format!("{}/{t}", self.class)),
            None => (self.class.clone(), self.class.clone()),
        };
        if !valid_collection_name(&name) {
            return Err(Error::Usage(format!(
                "{source_name} cannot be named {name:?} in a snapshot (letters, digits, '_', '-' and '.' only)"
            )));
        }
        Ok(Description {
            name,
            source_name,
            schema: CollectionSchema {
                id: IdField { name: "id".into(), kind: IdKind::Uuid, source_type: Some("weaviate object uuid".into()) },
                vectors,
                metadata,
                document: None,
            },
            filter: None,
            count_estimate: Some(count),
            count_exact: false,
            count_is_statistic: false,
            notes,
        })
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let mut after = match cursor {
            Cursor::Start => String::new(),
            Cursor::AfterKey { key: Value::String(k) } => k.clone(),
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            other => return Err(self.http.err(format!("internal: cursor {other:?} cannot resume a Weaviate export"))),
        };
        let mut records = Vec::with_capacity(limit);
        while records.len() < limit {
            let want = (limit - records.len()).min(self.args.page_size);
            let objects = self.list(&after, want).await?;
            records.extend(page_records(&objects, &self.slots, &self.properties).map_err(|m| self.http.err(m))?);
            if objects.len() < want {
                return Ok(Page { records, next: None });
            }
            after = records.last().map(|r| r.id.as_text()).unwrap_or_default();
        }
        Ok(Page { records, next: Some(Cursor::AfterKey { key: Value::String(after) }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_objects_with_class_and_named_vectors() {
        let props = json!([
            {"name": "score", "dataType": ["number"]},
            {"name": "n", "dataType": ["int"]},
            {"name": "scores", "dataType": ["number[]"]},
            {"name": "meta", "dataType": ["object"], "nestedProperties": [{"name": "w", "dataType": ["number"]}]},
            {"name": "when", "dataType": ["date"]},
            {"name": "at", "dataType": ["geoCoordinates"]}
        ]);
        let objects = vec![
            json!({"class": "Doc", "id": "0A8F0000-0000-0000-0000-000000000001", "vector": [1, 0.5],
                   "vectors": {"text": [0.25, -1, 2]},
                   "properties": {"score": 2, "n": 3, "scores": [1, 1.5], "meta": {"w": 4, "x": 1}, "when": "2024-01-02T03:04:05Z", "extra": null,
                                  "at": {"latitude": 52, "longitude": 4.5}}}),
            json!({"class": "Doc", "id": "1b000000-0000-0000-0000-000000000002", "vectors": {}}),
        ];
        let slots = vec![(DEFAULT_VECTOR.to_owned(), true), ("text".to_owned(), false)];
        let recs = page_records(&objects, &slots, &props).unwrap();
        assert_eq!(recs[0].id, IdValue::Uuid("0a8f0000-0000-0000-0000-000000000001".into()));
        assert_eq!(recs[0].dense, vec![Some(Dense::F32(vec![1.0, 0.5])), Some(Dense::F32(vec![0.25, -1.0, 2.0]))]);
        let meta = serde_json::to_string(&recs[0].metadata).unwrap();
        assert!(meta.contains("\"score\":2.0") && meta.contains("\"n\":3") && meta.contains("\"scores\":[1.0,1.5]"), "{meta}");
        assert!(meta.contains("\"meta\":{\"w\":4.0,\"x\":1}") && meta.contains("\"extra\":null"), "{meta}");
        assert!(meta.contains("\"at\":{\"latitude\":52.0,\"longitude\":4.5}"), "{meta}");
        assert_eq!(recs[1].dense, vec![None, None]);
        assert!(recs[1].metadata.is_empty());

        let multi = vec![json!({"id": "00000000-0000-0000-0000-000000000003", "vectors": {"text": [[1, 2], [3, 4]]}})];
        assert!(page_records(&multi, &slots, &props).unwrap_err().contains("multi-vector"));
    }

    #[test]
    fn metrics_tenants_and_property_types() {
        assert_eq!(metric_of("l2-squared"), Some(Metric::L2));
        assert_eq!(metric_of("manhattan"), None);
        assert_eq!(metric_of("hamming"), None);
        assert!(parse_override("l1").is_err());
        assert!(is_active("HOT") && is_active("ACTIVE") && !is_active("COLD") && !is_active("OFFLOADED") && !is_active("FROZEN"));
        let t = parse_tenants(&json!([{"name": "b", "activityStatus": "COLD"}, {"name": "a", "activityStatus": "HOT"}]));
        assert_eq!(tenant_list(&t), "a (HOT), b (COLD)");
        let f = metadata_field(&json!({"name": "author", "dataType": ["Person", "Org"]})).unwrap();
        assert_eq!((f.source_type.as_str(), f.json.as_str()), ("cross-reference to Person|Org", "json"));
        assert_eq!(metadata_field(&json!({"name": "loc", "dataType": ["geoCoordinates"]})).unwrap().json, "json");
        assert_eq!(metadata_field(&json!({"name": "d", "dataType": ["date"]})).unwrap().json, "string");
    }

    #[test]
    fn vector_fields_distances_and_index_parameters() {
        let hnsw = json!({"vectorIndexType": "hnsw", "vectorIndexConfig": {"distance": "l2-squared", "maxConnections": 24, "efConstruction": 200}});
        let (f, note) = vector_field("text", false, &hnsw, None).unwrap();
        assert_eq!((f.metric, f.column.as_str()), (Some(Metric::L2), "vec:text"));
        assert_eq!(f.index, Some(IndexParams { kind: "hnsw".into(), name: None, m: Some(24), ef_construction: Some(200), lists: None }));
        assert!(note.unwrap().contains("rank-equivalent"));
        let dynamic = json!({"vectorIndexType": "dynamic", "vectorIndexConfig": {"distance": "dot", "hnsw": {"maxConnections": 8}}});
        let (f, note) = vector_field("default", true, &dynamic, None).unwrap();
        assert_eq!((f.metric, f.index.unwrap().m, note), (Some(Metric::Dot), Some(8), None));
        let manhattan = json!({"vectorIndexType": "flat", "vectorIndexConfig": {"distance": "manhattan"}});
        assert!(vector_field("v", false, &manhattan, None).unwrap_err().contains("--metric"));
        let (f, note) = vector_field("v", false, &manhattan, Some(Metric::Cosine)).unwrap();
        assert_eq!((f.metric, f.index.unwrap().kind.as_str()), (Some(Metric::Cosine), "flat"));
        assert!(note.unwrap().contains("manhattan"));
        let multi = json!({"vectorIndexConfig": {"multivector": {"enabled": true}}});
        assert!(vector_field("colbert", false, &multi, None).unwrap_err().contains("multi-vector"));
        let default = vector_field("v", false, &json!({}), None).unwrap().0;
        assert_eq!((default.metric, default.index.unwrap().kind.as_str()), (Some(Metric::Cosine), "hnsw"));
    }
}
