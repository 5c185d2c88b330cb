//! The source-neutral data model: what every source produces and what the
//! snapshot stores. Nothing here knows about Parquet, PostgreSQL or VelesDB.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a source identifies its records. Recorded in the manifest; decides the
/// Arrow type of the `id` column and the id mapping at import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// Signed 64-bit integers (PostgreSQL smallint/integer/bigint). Arrow `Int64`.
    Int,
    /// Unsigned 64-bit integers (Qdrant point ids). Arrow `UInt64`.
    Uint,
    /// Arbitrary UTF-8 strings. Arrow `Utf8`.
    String,
    /// UUIDs, stored in canonical lowercase hyphenated form. Arrow `Utf8`.
    Uuid,
}

/// One record id, exactly as the source has it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdValue {
    Int(i64),
    Uint(u64),
    Str(String),
    Uuid(String),
}

impl IdValue {
    pub fn kind(&self) -> IdKind {
        match self {
            IdValue::Int(_) => IdKind::Int,
            IdValue::Uint(_) => IdKind::Uint,
            IdValue::Str(_) => IdKind::String,
            IdValue::Uuid(_) => IdKind::Uuid,
        }
    }

    /// The JSON form used in the manifest and payloads: a number for integer
    /// kinds, a string otherwise.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            IdValue::Int(v) => (*v).into(),
            IdValue::Uint(v) => (*v).into(),
            IdValue::Str(s) | IdValue::Uuid(s) => s.clone().into(),
        }
    }

    /// The id as text (what a SQL cursor binds, and what error messages show).
    pub fn as_text(&self) -> String {
        match self {
            IdValue::Int(v) => v.to_string(),
            IdValue::Uint(v) => v.to_string(),
            IdValue::Str(s) | IdValue::Uuid(s) => s.clone(),
        }
    }
}

impl fmt::Display for IdValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdValue::Int(v) => write!(f, "{v}"),
            IdValue::Uint(v) => write!(f, "{v}"),
            IdValue::Str(s) | IdValue::Uuid(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for IdValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// Distance metric as the source defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Cosine,
    /// L2 (Euclidean) distance.
    L2,
    /// Inner (dot) product.
    Dot,
    /// L1 (Manhattan) distance: VelesDB has no equivalent.
    L1,
    Hamming,
    Jaccard,
}

impl Metric {
    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s.to_ascii_lowercase().as_str() {
            "cosine" => Metric::Cosine,
            "l2" | "euclidean" | "euclid" => Metric::L2,
            "dot" | "ip" | "inner" | "dotproduct" | "inner_product" => Metric::Dot,
            "l1" | "manhattan" => Metric::L1,
            "hamming" => Metric::Hamming,
            "jaccard" => Metric::Jaccard,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::Dot => "dot",
            Metric::L1 => "l1",
            Metric::Hamming => "hamming",
            Metric::Jaccard => "jaccard",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Element type of a dense vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementType {
    F32,
    F16,
}

/// Dense or sparse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorKind {
    Dense,
    Sparse,
}

/// ANN index parameters as the source reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexParams {
    /// `hnsw`, `ivfflat`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Source index name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HNSW `m` (max links per node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<u32>,
    /// HNSW `ef_construction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<u32>,
    /// IVFFlat `lists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<u32>,
}

/// One vector field of the source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorField {
    /// Field name in the source (column, named vector).
    pub name: String,
    /// Column name in the chunk files (`vec:<name>` or `sparse:<name>`).
    pub column: String,
    pub kind: VectorKind,
    /// Element type of a dense vector (sparse values are always f32).
    pub element: ElementType,
    /// Number of dimensions (for sparse: the declared dimension of the space).
    pub dimension: u32,
    /// Distance metric, when the source says (index operator class, collection config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// ANN index parameters, when the source has an index on this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexParams>,
    /// The source's own type name (`vector(768)`, `halfvec(3)`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
}

/// One metadata field of the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataField {
    pub name: String,
    /// The source's type name (`bigint`, `jsonb`, `timestamp with time zone`, ...).
    pub source_type: String,
    /// How the value is represented in the metadata JSON: `bool`, `int`,
    /// `float`, `string`, `json` (any JSON value), `merged` (a JSON object
    /// whose keys are merged into the top-level metadata).
    pub json: String,
}

/// The id field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdField {
    /// Source field/column name.
    pub name: String,
    pub kind: IdKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
}

/// What the source holds, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSchema {
    pub id: IdField,
    pub vectors: Vec<VectorField>,
    pub metadata: Vec<MetadataField>,
    /// Source field that became the document column, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

impl CollectionSchema {
    pub fn dense(&self) -> impl Iterator<Item = &VectorField> {
        self.vectors.iter().filter(|v| v.kind == VectorKind::Dense)
    }
    pub fn sparse(&self) -> impl Iterator<Item = &VectorField> {
        self.vectors.iter().filter(|v| v.kind == VectorKind::Sparse)
    }
}

/// A dense vector value.
#[derive(Clone, Debug, PartialEq)]
pub enum Dense {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
}

impl Dense {
    pub fn len(&self) -> usize {
        match self {
            Dense::F32(v) => v.len(),
            Dense::F16(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Widen to f32 (exact for f16).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Dense::F32(v) => v.clone(),
            Dense::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        }
    }
}

/// A sparse vector value: parallel index/value arrays, indices 0-based.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sparse {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// One record read from a source. `dense` and `sparse` follow the order of
/// the schema's dense and sparse fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: IdValue,
    pub dense: Vec<Option<Dense>>,
    pub sparse: Vec<Option<Sparse>>,
    /// Metadata as a JSON object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub document: Option<String>,
}

/// Where to continue reading. Persisted in the manifest after every chunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cursor {
    /// Nothing read yet.
    Start,
    /// Keyset pagination: the next page holds records whose key is greater than `key`.
    AfterKey { key: serde_json::Value },
    /// Keyset pagination read at a pinned source snapshot (Milvus's query
    /// session timestamp): records whose key is greater than `key`, as of
    /// `snapshot_ts`.
    AfterKeyAt { key: serde_json::Value, snapshot_ts: u64 },
    /// A server-issued position the next page starts at, inclusive (Qdrant's
    /// `next_page_offset`: a point id).
    From { key: serde_json::Value },
    /// Offset pagination (Chroma): the next page starts at this record number.
    Offset { offset: u64 },
    /// An opaque server-issued continuation token (Pinecone's
    /// `pagination.next`): the next page is the one the token names.
    Token { token: String },
    /// The source is exhausted.
    End,
}
