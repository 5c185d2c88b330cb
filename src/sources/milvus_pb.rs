//! The part of Milvus's gRPC protocol (`milvus.proto.milvus.MilvusService`)
//! the Milvus source uses, as prost messages.
//!
//! Written by hand from the field numbers of the public `milvus-proto`
//! definitions (`milvus.proto`, `schema.proto`, `common.proto`), so the build
//! needs no `protoc`. Protobuf ignores fields a reader does not declare, so
//! only what we read or send is declared here; every number below must match
//! the public definition.

use prost::{Enumeration, Message};

pub const SERVICE: &str = "/milvus.proto.milvus.MilvusService/";

#[derive(Clone, PartialEq, Message)]
pub struct Status {
    /// Legacy error code (0 = success).
    #[prost(int32, tag = "1")]
    pub error_code: i32,
    #[prost(string, tag = "2")]
    pub reason: String,
    /// Newer error code (0 = success).
    #[prost(int32, tag = "3")]
    pub code: i32,
    #[prost(bool, tag = "4")]
    pub retriable: bool,
    #[prost(string, tag = "5")]
    pub detail: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct KeyValuePair {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

pub fn kv(key: &str, value: impl Into<String>) -> KeyValuePair {
    KeyValuePair { key: key.into(), value: value.into() }
}

/// Looks a key up in a list of pairs.
pub fn get<'a>(pairs: &'a [KeyValuePair], key: &str) -> Option<&'a str> {
    pairs.iter().find(|p| p.key == key).map(|p| p.value.as_str())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum DataType {
    None = 0,
    Bool = 1,
    Int8 = 2,
    Int16 = 3,
    Int32 = 4,
    Int64 = 5,
    Float = 10,
    Double = 11,
    String = 20,
    VarChar = 21,
    Array = 22,
    Json = 23,
    Geometry = 24,
    Text = 25,
    Timestamptz = 26,
    BinaryVector = 100,
    FloatVector = 101,
    Float16Vector = 102,
    BFloat16Vector = 103,
    SparseFloatVector = 104,
    Int8Vector = 105,
    ArrayOfVector = 106,
}

#[derive(Clone, PartialEq, Message)]
pub struct FieldSchema {
    #[prost(int64, tag = "1")]
    pub field_id: i64,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(bool, tag = "3")]
    pub is_primary_key: bool,
    #[prost(int32, tag = "5")]
    pub data_type: i32,
    #[prost(message, repeated, tag = "6")]
    pub type_params: Vec<KeyValuePair>,
    #[prost(bool, tag = "8")]
    pub auto_id: bool,
    #[prost(int32, tag = "10")]
    pub element_type: i32,
    #[prost(bool, tag = "12")]
    pub is_dynamic: bool,
    #[prost(bool, tag = "15")]
    pub nullable: bool,
    #[prost(bool, tag = "16")]
    pub is_function_output: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct CollectionSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "4")]
    pub fields: Vec<FieldSchema>,
    #[prost(bool, tag = "5")]
    pub enable_dynamic_field: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeCollectionRequest {
    #[prost(string, tag = "2")]
    pub db_name: String,
    #[prost(string, tag = "3")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeCollectionResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "2")]
    pub schema: Option<CollectionSchema>,
    #[prost(int64, tag = "3")]
    pub collection_id: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ShowCollectionsRequest {
    #[prost(string, tag = "2")]
    pub db_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ShowCollectionsResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(string, repeated, tag = "2")]
    pub collection_names: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeIndexRequest {
    #[prost(string, tag = "2")]
    pub db_name: String,
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(string, tag = "4")]
    pub field_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct IndexDescription {
    #[prost(string, tag = "1")]
    pub index_name: String,
    #[prost(message, repeated, tag = "3")]
    pub params: Vec<KeyValuePair>,
    #[prost(string, tag = "4")]
    pub field_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeIndexResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub index_descriptions: Vec<IndexDescription>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetLoadStateRequest {
    #[prost(string, tag = "2")]
    pub collection_name: String,
    #[prost(string, repeated, tag = "3")]
    pub partition_names: Vec<String>,
    #[prost(string, tag = "4")]
    pub db_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetLoadStateResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    /// 0 not exist, 1 not loaded, 2 loading, 3 loaded.
    #[prost(int32, tag = "2")]
    pub state: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct LoadCollectionRequest {
    #[prost(string, tag = "2")]
    pub db_name: String,
    #[prost(string, tag = "3")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct QueryRequest {
    #[prost(string, tag = "2")]
    pub db_name: String,
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(string, tag = "4")]
    pub expr: String,
    #[prost(string, repeated, tag = "5")]
    pub output_fields: Vec<String>,
    #[prost(string, repeated, tag = "6")]
    pub partition_names: Vec<String>,
    #[prost(uint64, tag = "8")]
    pub guarantee_timestamp: u64,
    #[prost(message, repeated, tag = "9")]
    pub query_params: Vec<KeyValuePair>,
    /// 0 = Strong.
    #[prost(int32, tag = "11")]
    pub consistency_level: i32,
    #[prost(bool, tag = "12")]
    pub use_default_consistency: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct QueryResults {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub fields_data: Vec<FieldData>,
    #[prost(uint64, tag = "5")]
    pub session_ts: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct FieldData {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub field_name: String,
    #[prost(oneof = "field_data::Field", tags = "3, 4")]
    pub field: Option<field_data::Field>,
    #[prost(bool, tag = "6")]
    pub is_dynamic: bool,
    #[prost(bool, repeated, tag = "7")]
    pub valid_data: Vec<bool>,
}

pub mod field_data {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Field {
        #[prost(message, tag = "3")]
        Scalars(super::ScalarField),
        #[prost(message, tag = "4")]
        Vectors(super::VectorField),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct BoolArray {
    #[prost(bool, repeated, tag = "1")]
    pub data: Vec<bool>,
}
#[derive(Clone, PartialEq, Message)]
pub struct IntArray {
    #[prost(int32, repeated, tag = "1")]
    pub data: Vec<i32>,
}
#[derive(Clone, PartialEq, Message)]
pub struct LongArray {
    #[prost(int64, repeated, tag = "1")]
    pub data: Vec<i64>,
}
#[derive(Clone, PartialEq, Message)]
pub struct FloatArray {
    #[prost(float, repeated, tag = "1")]
    pub data: Vec<f32>,
}
#[derive(Clone, PartialEq, Message)]
pub struct DoubleArray {
    #[prost(double, repeated, tag = "1")]
    pub data: Vec<f64>,
}
#[derive(Clone, PartialEq, Message)]
pub struct StringArray {
    #[prost(string, repeated, tag = "1")]
    pub data: Vec<String>,
}
#[derive(Clone, PartialEq, Message)]
pub struct BytesArray {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub data: Vec<Vec<u8>>,
}
#[derive(Clone, PartialEq, Message)]
pub struct ArrayArray {
    #[prost(message, repeated, tag = "1")]
    pub data: Vec<ScalarField>,
    #[prost(int32, tag = "2")]
    pub element_type: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScalarField {
    #[prost(oneof = "scalar_field::Data", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12")]
    pub data: Option<scalar_field::Data>,
}

pub mod scalar_field {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        #[prost(message, tag = "1")]
        Bool(super::BoolArray),
        #[prost(message, tag = "2")]
        Int(super::IntArray),
        #[prost(message, tag = "3")]
        Long(super::LongArray),
        #[prost(message, tag = "4")]
        Float(super::FloatArray),
        #[prost(message, tag = "5")]
        Double(super::DoubleArray),
        #[prost(message, tag = "6")]
        String(super::StringArray),
        #[prost(message, tag = "7")]
        Bytes(super::BytesArray),
        #[prost(message, tag = "8")]
        Array(super::ArrayArray),
        /// JSON documents, one per row.
        #[prost(message, tag = "9")]
        Json(super::BytesArray),
        /// Geometry as WKB.
        #[prost(message, tag = "10")]
        Geometry(super::BytesArray),
        /// Timestamps with time zone, microseconds since the epoch.
        #[prost(message, tag = "11")]
        Timestamptz(super::LongArray),
        /// Geometry as WKT.
        #[prost(message, tag = "12")]
        GeometryWkt(super::StringArray),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct SparseFloatArray {
    /// One row per entry: (u32 index, f32 value) pairs, little-endian.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub contents: Vec<Vec<u8>>,
    #[prost(int64, tag = "2")]
    pub dim: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct VectorField {
    #[prost(int64, tag = "1")]
    pub dim: i64,
    #[prost(oneof = "vector_field::Data", tags = "2, 3, 4, 5, 6, 7")]
    pub data: Option<vector_field::Data>,
}

pub mod vector_field {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        #[prost(message, tag = "2")]
        Float(super::FloatArray),
        #[prost(bytes = "vec", tag = "3")]
        Binary(Vec<u8>),
        #[prost(bytes = "vec", tag = "4")]
        Float16(Vec<u8>),
        #[prost(bytes = "vec", tag = "5")]
        BFloat16(Vec<u8>),
        #[prost(message, tag = "6")]
        Sparse(super::SparseFloatArray),
        #[prost(bytes = "vec", tag = "7")]
        Int8(Vec<u8>),
    }
}
