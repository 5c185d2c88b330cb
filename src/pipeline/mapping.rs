//! How snapshot records become VelesDB points: id mapping, the chosen dense
//! vector, sparse vectors, payload. Import and validate share it, so what
//! validate expects is exactly what import wrote.

use crate::error::{Error, Result};
use crate::model::{Dense, IdValue, Record, VectorField};
use crate::snapshot::CollectionEntry;
use std::collections::BTreeMap;
use velesdb_core::sparse_index::SparseVector;
use velesdb_core::Point;

/// User choices that shape the points.
#[derive(Clone, Debug, clap::Args)]
pub struct MappingArgs {
    /// Snapshot collection to use when the snapshot holds several.
    #[arg(long)]
    pub from_collection: Option<String>,
    /// Dense vector field that becomes the collection's vector (default: the only dense one).
    #[arg(long)]
    pub vector: Option<String>,
    /// Payload field that keeps the source's original id.
    #[arg(long, default_value = "_original_id")]
    pub original_id_field: String,
    /// Do not store the original id in the payload.
    #[arg(long)]
    pub no_original_id: bool,
    /// Payload field that receives the document text.
    #[arg(long, default_value = "document")]
    pub document_field: String,
    /// Skip records whose chosen vector is NULL (they are counted and reported) instead of failing.
    #[arg(long)]
    pub skip_null_vectors: bool,
    #[command(flatten)]
    pub transforms: Transforms,
}

impl Default for MappingArgs {
    /// The command line's defaults.
    fn default() -> MappingArgs {
        MappingArgs {
            from_collection: None,
            vector: None,
            original_id_field: "_original_id".into(),
            no_original_id: false,
            document_field: "document".into(),
            skip_null_vectors: false,
            transforms: Transforms::default(),
        }
    }
}

/// Payload transforms, applied to each record's metadata in this order:
/// select, drop, rename, move into the document, set.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, serde::Serialize)]
pub struct Transforms {
    /// Keep only these metadata fields (comma-separated; repeatable).
    #[arg(long = "select-fields", value_delimiter = ',', value_name = "FIELDS")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<String>,
    /// Drop this metadata field (repeatable).
    #[arg(long = "drop-field", value_name = "FIELD")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// Rename a metadata field: OLD=NEW (repeatable).
    #[arg(long = "rename-field", value_name = "OLD=NEW", value_parser = parse_pair)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rename: Vec<(String, String)>,
    /// Move this metadata field into the document (replacing the source's
    /// document when the field is present; non-text values as JSON text).
    #[arg(long = "field-to-document", value_name = "FIELD")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_document: Option<String>,
    /// Set a constant field on every point: KEY=VALUE, VALUE as JSON when it
    /// parses (`3`, `true`, `{"a":1}`), else as text (repeatable).
    #[arg(long = "set-field", value_name = "KEY=VALUE", value_parser = parse_pair)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<(String, String)>,
}

fn parse_pair(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?}: expected NAME=VALUE")),
    }
}

impl Transforms {
    pub fn is_empty(&self) -> bool {
        *self == Transforms::default()
    }

    /// Apply to one record's metadata and document. Errors name the field;
    /// the caller adds the chunk and id.
    pub fn apply(&self, meta: &mut serde_json::Map<String, serde_json::Value>, doc: &mut Option<String>) -> std::result::Result<(), String> {
        if !self.select.is_empty() {
            meta.retain(|k, _| self.select.iter().any(|s| s == k));
        }
        for d in &self.drop {
            meta.remove(d);
        }
        for (old, new) in &self.rename {
            if let Some(v) = meta.remove(old) {
                if meta.contains_key(new) {
                    return Err(format!("--rename-field {old}={new}: the record already has a field {new:?}"));
                }
                meta.insert(new.clone(), v);
            }
        }
        if let Some(f) = &self.to_document {
            match meta.remove(f) {
                Some(serde_json::Value::String(t)) => *doc = Some(t),
                Some(serde_json::Value::Null) | None => {}
                Some(other) => *doc = Some(other.to_string()),
            }
        }
        for (k, v) in &self.set {
            let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.clone()));
            meta.insert(k.clone(), value);
        }
        Ok(())
    }
}

pub struct Mapping {
    pub collection: String,
    pub dense_pos: usize,
    pub dense: VectorField,
    /// (position among sparse fields, name)
    pub sparse: Vec<(usize, String)>,
    pub original_id_field: Option<String>,
    pub document_field: String,
    pub skip_null_vectors: bool,
    pub transforms: Transforms,
}

/// FNV-1a 64 over bytes: the rule velesdb-core (`hash_id_bytes`) and the
/// upstream migrator use for non-numeric ids.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// VelesDB point id of a source id (documented in `formats/id-mapping.md`):
/// non-negative integers pass through; a string in canonical decimal form
/// (no sign, no leading zero) that fits u64 is that number; every other
/// string, UUID (canonical lowercase text) and negative integer (decimal
/// text) is FNV-1a 64 of its UTF-8 bytes.
///
/// ```
/// use velesdb_migrate::model::IdValue;
/// use velesdb_migrate::pipeline::mapping::point_id;
///
/// assert_eq!(point_id(&IdValue::Int(42)), 42);
/// assert_eq!(point_id(&IdValue::Str("42".into())), 42);
/// assert_eq!(point_id(&IdValue::Str("doc-1".into())), 4815726426097224347);
/// assert_eq!(point_id(&IdValue::Int(-5)), 562966479190349815);
/// ```
pub fn point_id(id: &IdValue) -> u64 {
    match id {
        IdValue::Int(v) if *v >= 0 => *v as u64,
        IdValue::Int(v) => fnv1a64(v.to_string().as_bytes()),
        IdValue::Uint(v) => *v,
        IdValue::Str(s) => canonical_u64(s).unwrap_or_else(|| fnv1a64(s.as_bytes())),
        IdValue::Uuid(s) => fnv1a64(s.as_bytes()),
    }
}

/// True when `point_id` hashes (so collisions are possible).
pub fn is_hashed(id: &IdValue) -> bool {
    match id {
        IdValue::Int(v) => *v < 0,
        IdValue::Uint(_) => false,
        IdValue::Str(s) => canonical_u64(s).is_none(),
        IdValue::Uuid(_) => true,
    }
}

fn canonical_u64(s: &str) -> Option<u64> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

impl Mapping {
    pub fn new(entry: &CollectionEntry, args: &MappingArgs) -> Result<Mapping> {
        let usage = |m: String| Error::Usage(m);
        let dense: Vec<&VectorField> = entry.schema.dense().collect();
        let names = || dense.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
        let dense_pos = match &args.vector {
            Some(v) => dense.iter().position(|f| &f.name == v).ok_or_else(|| {
                usage(format!("--vector {v}: the snapshot collection {} has no dense vector field of that name (it has: {})", entry.name, names()))
            })?,
            None if dense.len() == 1 => 0,
            None if dense.is_empty() => {
                return Err(usage(format!(
                    "the snapshot collection {} has no dense vector field; VelesDB collections need one",
                    entry.name
                )))
            }
            None => {
                return Err(usage(format!(
                    "the snapshot collection {} has several dense vector fields ({}); choose one with --vector NAME",
                    entry.name,
                    names()
                )))
            }
        };
        let original_id_field = (!args.no_original_id).then(|| args.original_id_field.clone());
        if original_id_field.as_deref() == Some(args.document_field.as_str()) {
            return Err(usage("--original-id-field and --document-field must differ".into()));
        }
        Ok(Mapping {
            collection: entry.name.clone(),
            dense_pos,
            dense: dense[dense_pos].clone(),
            sparse: entry.schema.sparse().enumerate().map(|(i, f)| (i, f.name.clone())).collect(),
            original_id_field,
            document_field: args.document_field.clone(),
            skip_null_vectors: args.skip_null_vectors,
            transforms: args.transforms.clone(),
        })
    }

    /// The payload VelesDB should hold for `rec`.
    pub fn payload(&self, rec: &Record, file: &str) -> Result<serde_json::Value> {
        let mut p = rec.metadata.clone();
        let mut document = rec.document.clone();
        self.transforms.apply(&mut p, &mut document).map_err(|m| Error::Data {
            collection: self.collection.clone(),
            message: format!("chunk {file}, id {}: {m}", rec.id),
        })?;
        let mut put = |k: &str, v: serde_json::Value, flag: &str| -> Result<()> {
            if p.insert(k.to_owned(), v).is_some() {
                return Err(Error::Data {
                    collection: self.collection.clone(),
                    message: format!(
                        "chunk {file}, id {}: the metadata already has a field {k:?}; choose another name with {flag}",
                        rec.id
                    ),
                });
            }
            Ok(())
        };
        if let Some(doc) = document {
            put(&self.document_field, doc.into(), "--document-field")?;
        }
        if let Some(f) = &self.original_id_field {
            put(f, rec.id.to_json(), "--original-id-field")?;
        }
        Ok(serde_json::Value::Object(p))
    }

    /// The dense vector as f32, checked. `Ok(None)`: NULL and skipping is allowed.
    pub fn vector(&self, rec: &Record, file: &str) -> Result<Option<Vec<f32>>> {
        let v = match &rec.dense[self.dense_pos] {
            Some(d) => d.to_f32(),
            None => return self.null_vector(rec, file),
        };
        self.check_finite(&v, rec, file)?;
        Ok(Some(v))
    }

    fn null_vector(&self, rec: &Record, file: &str) -> Result<Option<Vec<f32>>> {
        if self.skip_null_vectors {
            return Ok(None);
        }
        Err(Error::Data {
            collection: self.collection.clone(),
            message: format!(
                "chunk {file}, id {}: vector {} is NULL; fix the source row, or pass --skip-null-vectors to skip such rows (they are reported)",
                rec.id, self.dense.name
            ),
        })
    }

    fn check_finite(&self, v: &[f32], rec: &Record, file: &str) -> Result<()> {
        match v.iter().position(|x| !x.is_finite()) {
            None => Ok(()),
            Some(i) => Err(Error::Data {
                collection: self.collection.clone(),
                message: format!(
                    "chunk {file}, id {}: vector {} has a non-finite value ({}) at position {i}; VelesDB cannot index it. Fix the source row",
                    rec.id, self.dense.name, v[i]
                ),
            }),
        }
    }

    pub fn sparse_vectors(&self, rec: &Record) -> Option<BTreeMap<String, SparseVector>> {
        let mut map = BTreeMap::new();
        for (pos, name) in &self.sparse {
            if let Some(s) = &rec.sparse[*pos] {
                let pairs = s.indices.iter().copied().zip(s.values.iter().copied()).collect();
                map.insert(name.clone(), SparseVector::new(pairs));
            }
        }
        (!map.is_empty()).then_some(map)
    }

    /// Build the point for `rec`; `Ok(None)` when it is skipped (NULL vector).
    pub fn point(&self, rec: &Record, file: &str) -> Result<Option<Point>> {
        let Some(vector) = self.vector(rec, file)? else { return Ok(None) };
        let payload = self.payload(rec, file)?;
        Ok(Some(Point::with_sparse(point_id(&rec.id), vector, Some(payload), self.sparse_vectors(rec))))
    }

    /// [`Mapping::point`] consuming the record: an f32 vector moves instead
    /// of being copied, so a decoded chunk is not held twice.
    pub fn into_point(&self, mut rec: Record, file: &str) -> Result<Option<Point>> {
        let vector = match rec.dense[self.dense_pos].take() {
            Some(Dense::F32(v)) => v,
            Some(d) => d.to_f32(),
            None => return self.null_vector(&rec, file).map(|_| None),
        };
        self.check_finite(&vector, &rec, file)?;
        let payload = self.payload(&rec, file)?;
        let sparse = self.sparse_vectors(&rec);
        Ok(Some(Point::with_sparse(point_id(&rec.id), vector, Some(payload), sparse)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_velesdb_core() {
        for s in ["", "a", "doc-42", "550e8400-e29b-41d4-a716-446655440000", "ü/\"x\" y"] {
            assert_eq!(fnv1a64(s.as_bytes()), velesdb_core::hash_id_bytes(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn non_finite_vectors_are_refused() {
        use crate::model::*;
        let schema = CollectionSchema {
            id: IdField { name: "id".into(), kind: IdKind::Int, source_type: None },
            vectors: vec![VectorField { name: "v".into(), column: "vec:v".into(), kind: VectorKind::Dense, element: ElementType::F32, dimension: 2, metric: Some(Metric::L2), index: None, source_type: None }],
            metadata: vec![],
            document: None,
        };
        let entry = crate::snapshot::CollectionEntry { name: "c".into(), source_name: "c".into(), schema, filter: None, chunk_rows: 1, source_count: None, chunks: vec![], totals: Default::default(), complete: true };
        let args = MappingArgs { from_collection: None, vector: None, original_id_field: "_original_id".into(), no_original_id: false, document_field: "document".into(), skip_null_vectors: false, transforms: Transforms::default() };
        let m = Mapping::new(&entry, &args).unwrap();
        let rec = Record { id: IdValue::Int(5), dense: vec![Some(Dense::F32(vec![1.0, f32::NAN]))], sparse: vec![], metadata: Default::default(), document: None };
        let e = m.point(&rec, "chunks/c/000003.parquet").unwrap_err().to_string();
        assert!(e.contains("000003.parquet") && e.contains("id 5") && e.contains("NaN"), "{e}");
    }

    #[test]
    fn id_rules() {
        assert_eq!(point_id(&IdValue::Int(42)), 42);
        assert_eq!(point_id(&IdValue::Int(-1)), fnv1a64(b"-1"));
        assert_eq!(point_id(&IdValue::Uint(u64::MAX)), u64::MAX);
        assert_eq!(point_id(&IdValue::Str("42".into())), 42);
        assert_eq!(point_id(&IdValue::Str("042".into())), fnv1a64(b"042"));
        assert_eq!(point_id(&IdValue::Str("18446744073709551616".into())), fnv1a64(b"18446744073709551616"));
        assert!(is_hashed(&IdValue::Str("a".into())));
        assert!(!is_hashed(&IdValue::Str("7".into())));
    }
}
