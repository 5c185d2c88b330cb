//! Qdrant source (REST API).
//!
//! `GET /collections/{name}` gives the vectors (one unnamed vector, or named
//! ones), sparse vectors, distances and HNSW parameters. Points are read with
//! `POST /collections/{name}/points/scroll` (payload and every vector);
//! `next_page_offset`, the first id of the next page, is the cursor (never
//! `order_by`, which cannot page). Qdrant orders numeric ids before UUIDs,
//! so two probes tell the id kind: only numbers → `uint`, only UUIDs →
//! `uuid`, both → `string` (numbers as decimal text, which the import maps
//! back to the same u64).
//!
//! Distances: Cosine → cosine (Qdrant stores cosine vectors normalised, so
//! that is what is exported), Euclid → l2, Dot → dot, Manhattan → l1 (the
//! import asks for `--metric`). Multi-vectors are refused with a clear
//! message (the snapshot format has no column type for them yet).

use super::http::{json_flag, names_in, HttpSource};
use super::{redact_url, Description, Page, Source};
use crate::error::Result;
use crate::model::{
    CollectionSchema, Cursor, Dense, ElementType, IdField, IdKind, IdValue, IndexParams, Metric, Record, Sparse, VectorField, VectorKind,
};
use serde::Serialize;
use serde_json::Value;

/// `export qdrant` options.
#[derive(Clone, Debug, clap::Args, Serialize)]
pub struct Args {
    /// Qdrant REST URL.
    #[arg(long, default_value = "http://localhost:6333")]
    pub url: String,
    /// Collection name.
    #[arg(long, required_unless_present = "all", conflicts_with = "all", default_value = "", hide_default_value = true)]
    pub collection: String,
    /// `--all`: every collection of the server (database).
    #[command(flatten)]
    #[serde(skip)]
    pub every: super::AllArgs,
    /// API key (sent as the `api-key` header; never written or printed).
    #[arg(long, env = "QDRANT_API_KEY", hide_env_values = true)]
    #[serde(skip)]
    pub api_key: Option<String>,
    /// Qdrant filter (JSON) to export only some points (recorded in the manifest).
    #[arg(conflicts_with = "all", long)]
    pub filter: Option<String>,
}

/// Name given to Qdrant's unnamed (default) vector.
pub const UNNAMED: &str = "vector";

pub struct Qdrant {
    args: Args,
    http: HttpSource,
    base: String,
    filter: Option<Value>,
    id_kind: IdKind,
    /// (name in Qdrant's response, position among dense or sparse fields, is sparse)
    fields: Vec<(String, bool)>,
    unnamed: bool,
}

/// Every collection, described as an export would see it.
pub async fn discover(args: Args) -> Result<Vec<super::Discovered>> {
    let lister = Qdrant::connect(Args { collection: String::new(), every: Default::default(), ..args.clone() })?;
    let url = format!("{}/collections", args.url.trim_end_matches('/'));
    let list = lister.http.call("listing collections", || lister.http.client.get(&url)).await?;
    let mut out = Vec::new();
    for name in names_in(&list["result"]["collections"]) {
        let mut src = Qdrant::connect(Args { collection: name.clone(), every: Default::default(), ..args.clone() })?;
        out.push(super::Discovered::of(&mut src, String::new(), name).await);
    }
    Ok(out)
}

fn metric_of(distance: &str) -> Option<Metric> {
    match distance {
        "Cosine" => Some(Metric::Cosine),
        "Euclid" => Some(Metric::L2),
        "Dot" => Some(Metric::Dot),
        "Manhattan" => Some(Metric::L1),
        _ => None,
    }
}

impl Qdrant {
    pub fn connect(args: Args) -> Result<Qdrant> {
        let base = format!("{}/collections/{}", args.url.trim_end_matches('/'), args.collection);
        let target = format!("collection {} at {}", args.collection, redact_url(&args.url));
        let filter = json_flag("--filter", &args.filter)?;
        let http = HttpSource::new(
            "qdrant",
            target,
            args.api_key.clone().map(|k| ("api-key", k)),
            "; check --api-key (or QDRANT_API_KEY)",
            "; check --collection",
        )?;
        Ok(Qdrant { args, http, base, filter, id_kind: IdKind::Uint, fields: Vec::new(), unnamed: false })
    }

    async fn scroll(&self, offset: Option<&Value>, limit: usize, with_data: bool) -> Result<Value> {
        let mut body = serde_json::json!({ "limit": limit, "with_payload": with_data, "with_vector": with_data });
        if let Some(o) = offset {
            body["offset"] = o.clone();
        }
        if let Some(f) = &self.filter {
            body["filter"] = f.clone();
        }
        let url = format!("{}/points/scroll", self.base);
        let v = self.http.call("scrolling points", || self.http.client.post(&url).json(&body)).await?;
        Ok(v["result"].clone())
    }

    /// Which id kinds the collection holds (numeric ids sort before UUIDs).
    async fn detect_id_kind(&self) -> Result<IdKind> {
        let first = self.scroll(None, 1, false).await?;
        let numeric = first["points"][0]["id"].is_u64();
        if !numeric {
            return Ok(IdKind::Uuid); // only UUIDs (or empty)
        }
        let uuid = Value::String("00000000-0000-0000-0000-000000000000".into());
        let probe = self.scroll(Some(&uuid), 1, false).await?;
        Ok(if probe["points"][0]["id"].is_string() { IdKind::String } else { IdKind::Uint })
    }
}

impl Source for Qdrant {
    fn kind(&self) -> &'static str {
        "qdrant"
    }

    fn address(&self) -> String {
        redact_url(&self.args.url)
    }

    fn options(&self) -> Value {
        serde_json::to_value(&self.args).expect("args serialize")
    }

    async fn describe(&mut self) -> Result<Description> {
        let info = self.http.call("reading the collection", || self.http.client.get(&self.base)).await?;
        let info = &info["result"];
        let params = &info["config"]["params"];
        let coll_hnsw = &info["config"]["hnsw_config"];
        let mut notes = Vec::new();
        let vectors = &params["vectors"];
        let named: Vec<(String, &Value)> = if vectors.get("size").is_some() {
            self.unnamed = true;
            vec![(UNNAMED.to_owned(), vectors)]
        } else {
            vectors.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect()).unwrap_or_default()
        };
        let mut dense = Vec::new();
        for (name, p) in &named {
            if !p["multivector_config"].is_null() {
                return Err(self.http.err(format!(
                    "vector {name} is a multi-vector, which the snapshot format cannot carry yet; the export stops rather than drop it"
                )));
            }
            let distance = p["distance"].as_str().unwrap_or("");
            let metric = metric_of(distance);
            if metric == Some(Metric::Cosine) {
                notes.push(format!("vector {name}: Qdrant stores cosine vectors normalised, so they are exported unit-length"));
            }
            if let Some(dt) = p["datatype"].as_str().filter(|d| *d != "float32") {
                notes.push(format!("vector {name} is stored as {dt}; Qdrant returns it as floats, exported as f32"));
            }
            let hnsw = |k: &str| p["hnsw_config"][k].as_u64().or(coll_hnsw[k].as_u64()).map(|v| v as u32);
            dense.push(VectorField {
                name: name.clone(),
                column: format!("vec:{name}"),
                kind: VectorKind::Dense,
                element: ElementType::F32,
                dimension: p["size"].as_u64().ok_or_else(|| self.http.err(format!("vector {name} has no size")))? as u32,
                metric,
                index: Some(IndexParams { kind: "hnsw".into(), name: None, m: hnsw("m"), ef_construction: hnsw("ef_construct"), lists: None }),
                source_type: Some(format!("qdrant {distance} {}", if self.unnamed { "unnamed vector" } else { "named vector" })),
            });
        }
        let mut sparse = Vec::new();
        if let Some(m) = params["sparse_vectors"].as_object() {
            for name in m.keys() {
                sparse.push(VectorField {
                    name: name.clone(),
                    column: format!("sparse:{name}"),
                    kind: VectorKind::Sparse,
                    element: ElementType::F32,
                    dimension: 0, // Qdrant sparse vectors declare no dimension
                    metric: None,
                    index: None,
                    source_type: Some("qdrant sparse vector".into()),
                });
            }
        }
        self.fields = dense.iter().map(|f| (f.name.clone(), false)).chain(sparse.iter().map(|f| (f.name.clone(), true))).collect();
        self.id_kind = self.detect_id_kind().await?;
        let mut count_body = serde_json::json!({ "exact": true });
        if let Some(f) = &self.filter {
            count_body["filter"] = f.clone();
        }
        let url = format!("{}/points/count", self.base);
        let count = self.http.call("counting points", || self.http.client.post(&url).json(&count_body)).await?;
        let mut vectors_all = dense;
        vectors_all.extend(sparse);
        Ok(Description {
            name: self.args.collection.clone(),
            source_name: self.args.collection.clone(),
            schema: CollectionSchema {
                id: IdField { name: "id".into(), kind: self.id_kind, source_type: Some("qdrant point id".into()) },
                vectors: vectors_all,
                metadata: Vec::new(),
                document: None,
            },
            filter: self.args.filter.clone(),
            count_estimate: count["result"]["count"].as_u64(),
            count_exact: false,
            count_is_statistic: false,
            notes,
        })
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let offset = match cursor {
            Cursor::Start => None,
            Cursor::From { key } => Some(key.clone()),
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            other => return Err(self.http.err(format!("internal: cursor {other:?} cannot resume a Qdrant export"))),
        };
        let res = self.scroll(offset.as_ref(), limit, true).await?;
        let records = page_records(&res, self.id_kind, self.unnamed, &self.fields).map_err(|m| self.http.err(m))?;
        let next = match &res["next_page_offset"] {
            Value::Null => None,
            v => Some(Cursor::From { key: v.clone() }),
        };
        Ok(Page { records, next })
    }
}

/// A scroll result → records.
pub fn page_records(res: &Value, kind: IdKind, unnamed: bool, fields: &[(String, bool)]) -> std::result::Result<Vec<Record>, String> {
    let points = res["points"].as_array().ok_or("the scroll result has no points")?;
    let mut out = Vec::with_capacity(points.len());
    for p in points {
        let id = match (&p["id"], kind) {
            (Value::Number(n), IdKind::Uint) => IdValue::Uint(n.as_u64().ok_or_else(|| format!("id {n} is not a u64"))?),
            (Value::String(s), IdKind::Uuid) => IdValue::Uuid(s.to_ascii_lowercase()),
            (Value::Number(n), IdKind::String) => IdValue::Str(n.to_string()),
            (Value::String(s), IdKind::String) => IdValue::Str(s.to_ascii_lowercase()),
            (other, k) => return Err(format!("point id {other} does not match the collection's id kind {k:?} (ids changed during the export?)")),
        };
        let mut dense = Vec::new();
        let mut sparse = Vec::new();
        for (name, is_sparse) in fields {
            let v = if unnamed { &p["vector"] } else { &p["vector"][name] };
            if *is_sparse {
                sparse.push(match v {
                    Value::Object(o) => Some(Sparse {
                        indices: o["indices"].as_array().ok_or("sparse indices")?.iter().map(|x| x.as_u64().map(|x| x as u32)).collect::<Option<_>>().ok_or("sparse index is not a number")?,
                        values: o["values"].as_array().ok_or("sparse values")?.iter().map(|x| x.as_f64().map(|x| x as f32)).collect::<Option<_>>().ok_or("sparse value is not a number")?,
                    }),
                    _ => None,
                });
            } else {
                dense.push(match v {
                    Value::Array(a) => Some(Dense::F32(
                        a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect::<Option<Vec<f32>>>().ok_or_else(|| format!("point {id}: vector {name} holds a non-number"))?,
                    )),
                    _ => None,
                });
            }
        }
        let metadata = match &p["payload"] {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        out.push(Record { id, dense, sparse, metadata, document: None });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_named_dense_and_sparse_vectors() {
        let res = serde_json::json!({"points": [
            {"id": 18446744073709551615u64, "payload": {"a": {"b": null}}, "vector": {"text": [0.5, 1.0], "bm": {"indices": [3, 9], "values": [1.5, -2.0]}}},
            {"id": 7, "payload": null, "vector": {"text": [1.0, 2.0]}}
        ], "next_page_offset": null});
        let fields = vec![("text".to_owned(), false), ("bm".to_owned(), true)];
        let recs = page_records(&res, IdKind::Uint, false, &fields).unwrap();
        assert_eq!(recs[0].id, IdValue::Uint(u64::MAX));
        assert_eq!(recs[0].dense[0], Some(Dense::F32(vec![0.5, 1.0])));
        assert_eq!(recs[0].sparse[0], Some(Sparse { indices: vec![3, 9], values: vec![1.5, -2.0] }));
        assert_eq!(recs[1].sparse[0], None);
        assert!(recs[1].metadata.is_empty());
        let mixed = page_records(&res, IdKind::String, false, &fields).unwrap();
        assert_eq!(mixed[1].id, IdValue::Str("7".into()));
        assert!(page_records(&res, IdKind::Uuid, false, &fields).is_err());
        assert_eq!(metric_of("Euclid"), Some(Metric::L2));
    }
}
