//! ChromaDB source (Chroma ≥ 1.0, HTTP API v2).
//!
//! The collection is looked up by name (`GET …/collections/{name}`), then
//! read with `POST …/collections/{id}/get` asking for embeddings, metadatas,
//! documents and uris. Chroma pages only by offset, so the cursor is an
//! offset; the record count taken at the start is checked after every page
//! and on resume, and any change stops the export with a clear message
//! instead of silently skipping or duplicating records.
//!
//! Mapping: ids are strings; the embedding becomes the dense field
//! `embedding` (f32); documents become the document column; metadata is kept
//! as Chroma returns it (Chroma's own sparse vectors stay in it as JSON); a
//! record's URI, when it has one, goes into the metadata key `_uri`. The
//! metric comes from `configuration_json.hnsw.space` (or the legacy
//! `hnsw:space` metadata): `l2` (Chroma's squared L2, same ranking) → l2,
//! `cosine` → cosine, `ip` → dot; HNSW `max_neighbors` / `ef_construction`
//! are carried as m / ef_construction.
//!
//! `--path DIR` reads a local persistent directory instead, without a
//! server: see [`super::chroma_dir`]. It records the same schema and rows.

use super::http::{json_flag, names_in, HttpSource};
use super::{redact_url, Description, Page, Source};
use crate::error::{Error, Result};
use crate::model::{
    CollectionSchema, Cursor, Dense, ElementType, IdField, IdKind, IdValue, IndexParams, Metric, Record, VectorField, VectorKind,
};
use serde::Serialize;

/// `export chroma` options.
#[derive(Clone, Debug, clap::Args, Serialize)]
pub struct Args {
    /// Chroma server URL.
    #[arg(long, default_value = "http://localhost:8000")]
    pub url: String,
    /// Read a local persistent Chroma directory (what `chroma run --path DIR`
    /// or `PersistentClient(path=DIR)` writes) without a server, instead of --url.
    /// No Chroma may be running on it; it is opened read-only.
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    /// Collection name.
    #[arg(long, required_unless_present = "all", conflicts_with = "all", default_value = "", hide_default_value = true)]
    pub collection: String,
    /// `--all`: every collection of the server (database).
    #[command(flatten)]
    #[serde(skip)]
    pub every: super::AllArgs,
    /// Tenant.
    #[arg(long, default_value = "default_tenant")]
    pub tenant: String,
    /// Database.
    #[arg(long, default_value = "default_database")]
    pub database: String,
    /// Auth token (sent as x-chroma-token; never written or printed).
    #[arg(long, env = "CHROMA_TOKEN", hide_env_values = true)]
    #[serde(skip)]
    pub token: Option<String>,
    /// Chroma `where` filter (JSON) to export only some records (recorded in the manifest).
    #[arg(conflicts_with = "all", long = "where")]
    pub filter: Option<String>,
}

pub struct Chroma {
    args: Args,
    http: HttpSource,
    base: String,
    filter: Option<serde_json::Value>,
    collection_id: Option<String>,
    count_at_start: u64,
}

/// Key under which a record's URI is kept in the metadata.
pub const URI_KEY: &str = "_uri";

impl Chroma {
    pub fn connect(args: Args) -> Result<Chroma> {
        let base = format!(
            "{}/api/v2/tenants/{}/databases/{}",
            args.url.trim_end_matches('/'),
            args.tenant,
            args.database
        );
        let target = format!("collection {} at {}", args.collection, redact_url(&args.url));
        let filter = json_flag("--where", &args.filter)?;
        let http = HttpSource::new(
            "chroma",
            target,
            args.token.clone().map(|t| ("x-chroma-token", t)),
            "; check --token (or CHROMA_TOKEN)",
            "; check --collection, --tenant and --database",
        )?;
        Ok(Chroma { args, http, base, filter, collection_id: None, count_at_start: 0 })
    }

    fn err(&self, message: impl Into<String>) -> Error {
        self.http.err(message)
    }

    async fn count(&self, id: &str) -> Result<u64> {
        let url = format!("{}/collections/{id}/count", self.base);
        let v = self.http.call("counting records", || self.http.client.get(&url)).await?;
        v.as_u64().ok_or_else(|| self.err(format!("count is not a number: {v}")))
    }
}

/// Every collection of the tenant/database, described as an export would see it.
pub async fn discover(args: Args) -> Result<Vec<super::Discovered>> {
    let lister = Chroma::connect(Args { collection: String::new(), every: Default::default(), ..args.clone() })?;
    let url = format!("{}/collections?limit=100000&offset=0", lister.base);
    let list = lister.http.call("listing collections", || lister.http.client.get(&url)).await?;
    let mut out = Vec::new();
    for name in names_in(&list) {
        let mut src = Chroma::connect(Args { collection: name.clone(), every: Default::default(), ..args.clone() })?;
        out.push(super::Discovered::of(&mut src, format!("{}/{}", args.tenant, args.database), name).await);
    }
    Ok(out)
}

/// A record's URI goes into its metadata under [`URI_KEY`].
pub(crate) fn put_uri(metadata: &mut serde_json::Map<String, serde_json::Value>, uri: String, id: &str) -> std::result::Result<(), String> {
    if metadata.insert(URI_KEY.into(), uri.into()).is_some() {
        return Err(format!("id {id:?}: the metadata already has a key {URI_KEY:?}, where the record's URI would go"));
    }
    Ok(())
}

/// What an export records about a Chroma collection, from its HNSW space and
/// parameters (the same whether they come from a server or a directory).
pub(crate) fn description(args: &Args, space: &str, m: Option<u32>, ef_construction: Option<u32>, dimension: u32, count: u64) -> Description {
    let mut notes = Vec::new();
    let metric = metric_of(space);
    if metric.is_none() {
        notes.push(format!("unknown Chroma space {space:?}; choose a metric with `import --metric`"));
    } else if space == "l2" {
        notes.push("Chroma's l2 space is squared L2; VelesDB's euclidean ranks identically".into());
    }
    let index = Some(IndexParams { kind: "hnsw".into(), name: None, m, ef_construction, lists: None });
    Description {
        name: args.collection.clone(),
        source_name: format!("{}/{}/{}", args.tenant, args.database, args.collection),
        schema: CollectionSchema {
            id: IdField { name: "id".into(), kind: IdKind::String, source_type: Some("string".into()) },
            vectors: vec![VectorField {
                name: "embedding".into(),
                column: "vec:embedding".into(),
                kind: VectorKind::Dense,
                element: ElementType::F32,
                dimension,
                metric,
                index,
                source_type: Some("chroma embedding".into()),
            }],
            metadata: Vec::new(),
            document: Some("document".into()),
        },
        filter: args.filter.clone(),
        count_estimate: Some(count),
        count_exact: true,
        count_is_statistic: false,
        notes,
    }
}

fn metric_of(space: &str) -> Option<Metric> {
    match space {
        "l2" => Some(Metric::L2),
        "cosine" => Some(Metric::Cosine),
        "ip" => Some(Metric::Dot),
        _ => None,
    }
}

impl Source for Chroma {
    fn kind(&self) -> &'static str {
        "chroma"
    }

    fn address(&self) -> String {
        redact_url(&self.args.url)
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.args).expect("args serialize")
    }

    async fn describe(&mut self) -> Result<Description> {
        let url = format!("{}/collections/{}", self.base, self.args.collection);
        let c = self.http.call("looking up the collection", || self.http.client.get(&url)).await?;
        let id = c["id"].as_str().ok_or_else(|| self.err("the collection description has no id"))?.to_owned();
        let count = self.count(&id).await?;
        let config = &c["configuration_json"];
        let hnsw = if config["hnsw"].is_object() { &config["hnsw"] } else { &config["spann"] };
        let space = hnsw["space"].as_str().or(c["metadata"]["hnsw:space"].as_str()).unwrap_or("l2");
        let dimension = match c["dimension"].as_u64() {
            Some(d) => d as u32,
            None if count == 0 => 0,
            None => return Err(self.err("the collection reports no dimension although it holds records")),
        };
        let m = hnsw["max_neighbors"].as_u64().map(|v| v as u32);
        let ef_construction = hnsw["ef_construction"].as_u64().map(|v| v as u32);
        self.collection_id = Some(id);
        self.count_at_start = count;
        Ok(description(&self.args, space, m, ef_construction, dimension, count))
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let offset = match cursor {
            Cursor::Start => 0,
            Cursor::Offset { offset } => *offset,
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            Cursor::AfterKey { .. } | Cursor::AfterKeyAt { .. } | Cursor::From { .. } | Cursor::Token { .. } => {
                return Err(self.err("internal: a key cursor cannot resume a Chroma export"))
            }
        };
        let id = self.collection_id.clone().expect("describe() runs first");
        let url = format!("{}/collections/{id}/get", self.base);
        let mut body = serde_json::json!({
            "limit": limit,
            "offset": offset,
            "include": ["embeddings", "metadatas", "documents", "uris"],
        });
        if let Some(f) = &self.filter {
            body["where"] = f.clone();
        }
        let resp = self.http.call("reading records", || self.http.client.post(&url).json(&body)).await?;
        let now = self.count(&id).await?;
        if now != self.count_at_start {
            return Err(self.err(format!(
                "the collection changed during the export ({} records at the start, {now} now). Chroma pages by offset only, \
                 so records would be skipped or duplicated: stop the writers and export into a new directory",
                self.count_at_start
            )));
        }
        let records = page_records(&resp).map_err(|m| self.err(m))?;
        let n = records.len() as u64;
        let next = (n as usize == limit).then_some(Cursor::Offset { offset: offset + n });
        Ok(Page { records, next })
    }
}

/// A `get` response → records.
pub fn page_records(resp: &serde_json::Value) -> std::result::Result<Vec<Record>, String> {
    let ids = resp["ids"].as_array().ok_or("the response has no ids")?;
    let col = |name: &str| resp[name].as_array();
    let (embs, docs, metas, uris) = (col("embeddings"), col("documents"), col("metadatas"), col("uris"));
    let mut out = Vec::with_capacity(ids.len());
    for (i, idv) in ids.iter().enumerate() {
        let id = idv.as_str().ok_or_else(|| format!("id {idv} is not a string"))?.to_owned();
        let vector = match embs.and_then(|e| e.get(i)) {
            Some(serde_json::Value::Array(v)) => Some(Dense::F32(
                v.iter().map(|x| x.as_f64().map(|f| f as f32)).collect::<Option<Vec<f32>>>().ok_or_else(|| format!("id {id:?}: embedding holds a non-number"))?,
            )),
            _ => None,
        };
        let mut metadata = match metas.and_then(|m| m.get(i)) {
            Some(serde_json::Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        if let Some(serde_json::Value::String(u)) = uris.and_then(|u| u.get(i)) {
            put_uri(&mut metadata, u.clone(), &id)?;
        }
        let document = docs.and_then(|d| d.get(i)).and_then(|d| d.as_str()).map(str::to_owned);
        out.push(Record { id: IdValue::Str(id), dense: vec![vector], sparse: Vec::new(), metadata, document });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_get_response() {
        let r = serde_json::json!({
            "ids": ["a", "b"],
            "embeddings": [[0.5, -1.0], [0.25, 2.0]],
            "documents": ["doc a", null],
            "uris": [null, "s3://x/b"],
            "metadatas": [{"k": 1, "nested": [1, 2]}, null],
            "include": ["embeddings", "metadatas", "documents", "uris"]
        });
        let recs = page_records(&r).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].id, IdValue::Str("a".into()));
        assert_eq!(recs[0].dense[0], Some(Dense::F32(vec![0.5, -1.0])));
        assert_eq!(recs[0].document.as_deref(), Some("doc a"));
        assert_eq!(recs[0].metadata["k"], 1);
        assert_eq!(recs[1].metadata[URI_KEY], "s3://x/b");
        assert_eq!(recs[1].document, None);
        assert_eq!(metric_of("ip"), Some(Metric::Dot));
    }
}
