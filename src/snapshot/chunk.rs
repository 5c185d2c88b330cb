//! Chunk files: records ⇄ Arrow ⇄ Parquet, with blake3 integrity.
//!
//! Column layout (specified in `formats/snapshot-v1.md`, section 3):
//! - `id`: Int64 | UInt64 | Utf8, not null
//! - `vec:<name>`: FixedSizeList<Float32 | Float16, dim>, nullable
//! - `sparse:<name>`: Struct<indices: List<UInt32>, values: List<Float32>>, nullable
//! - `metadata`: Utf8 JSON object, not null
//! - `document`: Utf8, nullable; only when the schema names a document field
//!
//! Determinism: the writer settings are fixed, `created_by` carries no
//! version, records arrive in id order and the metadata JSON has sorted keys,
//! so the same records always give the same bytes.

use super::fsutil;
use super::manifest::{chunk_file, ChunkEntry};
use super::store::Location;
use crate::error::{Error, IoContext, Result};
use crate::model::{
    CollectionSchema, Cursor, Dense, ElementType, IdKind, IdValue, Record, Sparse, VectorField,
};
use arrow_array::builder::{Float32Builder, ListBuilder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float16Type, Float32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float16Array, Float32Array, Int64Array, RecordBatch, StringArray, StructArray,
    UInt64Array,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Encoding, Type as PhysicalType, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub const COL_ID: &str = "id";
pub const COL_METADATA: &str = "metadata";
pub const COL_DOCUMENT: &str = "document";
/// Key in the Arrow schema metadata holding the chunk format version.
pub const META_VERSION_KEY: &str = "velesdb_migrate.chunk_format";
/// Fixed `created_by` (no version inside, so hashes do not change with releases).
pub const CREATED_BY: &str = "velesdb-migrate snapshot format 1";
const ZSTD_LEVEL: i32 = 1;
/// Rows handed to the Parquet writer at a time (see [`encode_chunk`]).
const WRITE_ROWS: usize = 1024;

/// The Arrow schema of a collection's chunks. Writer and reader both use it.
pub fn arrow_schema(schema: &CollectionSchema) -> SchemaRef {
    let mut fields = vec![Field::new(COL_ID, id_type(schema.id.kind), false)];
    for v in schema.dense() {
        let elem = match v.element {
            ElementType::F32 => DataType::Float32,
            ElementType::F16 => DataType::Float16,
        };
        fields.push(Field::new(
            &v.column,
            DataType::FixedSizeList(Arc::new(Field::new("item", elem, false)), v.dimension as i32),
            true,
        ));
    }
    for v in schema.sparse() {
        fields.push(Field::new(&v.column, DataType::Struct(sparse_fields()), true));
    }
    fields.push(Field::new(COL_METADATA, DataType::Utf8, false));
    if schema.document.is_some() {
        fields.push(Field::new(COL_DOCUMENT, DataType::Utf8, true));
    }
    let meta = HashMap::from([(META_VERSION_KEY.to_owned(), "1".to_owned())]);
    Arc::new(Schema::new_with_metadata(fields, meta))
}

fn id_type(kind: IdKind) -> DataType {
    match kind {
        IdKind::Int => DataType::Int64,
        IdKind::Uint => DataType::UInt64,
        IdKind::String | IdKind::Uuid => DataType::Utf8,
    }
}

fn sparse_fields() -> Fields {
    Fields::from(vec![
        Field::new("indices", DataType::List(Arc::new(Field::new("item", DataType::UInt32, false))), false),
        Field::new("values", DataType::List(Arc::new(Field::new("item", DataType::Float32, false))), false),
    ])
}

/// Fixed writer settings (formats/snapshot-v1.md, section 5): one row group
/// per chunk; dense vectors uncompressed and plain; everything else zstd,
/// with byte-stream-split for sparse values; no dictionary and no min/max
/// statistics for vectors.
fn writer_properties(schema: &Schema, rows: usize) -> Result<WriterProperties> {
    let descr = ArrowSchemaConverter::new()
        .convert(schema)
        .map_err(|e| Error::Usage(format!("internal: chunk schema: {e}")))?;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).expect("valid zstd level")))
        .set_created_by(CREATED_BY.to_owned())
        .set_max_row_group_row_count(Some(rows.max(1)));
    for col in descr.columns() {
        let is_vector = col.path().parts()[0] != COL_ID
            && col.path().parts()[0] != COL_METADATA
            && col.path().parts()[0] != COL_DOCUMENT;
        if is_vector {
            // Min/max of embedding values help no reader: skip computing them.
            b = b.set_column_dictionary_enabled(col.path().clone(), false);
            b = b.set_column_statistics_enabled(col.path().clone(), EnabledStatistics::None);
            let dense = col.path().parts()[0].starts_with("vec:");
            if dense {
                // Dense embeddings are near-random floats: zstd (with
                // byte-stream-split) saved ~16 % of their size for most of
                // the writer's CPU time. Stored plain.
                b = b.set_column_compression(col.path().clone(), Compression::UNCOMPRESSED);
                b = b.set_column_encoding(col.path().clone(), Encoding::PLAIN);
            } else if col.physical_type() == PhysicalType::FLOAT {
                b = b.set_column_encoding(col.path().clone(), Encoding::BYTE_STREAM_SPLIT);
            }
        }
    }
    Ok(b.build())
}

/// Records → Arrow batch. Checks every vector against the schema.
pub fn to_batch(schema: &CollectionSchema, arrow: &SchemaRef, records: &[Record]) -> std::result::Result<RecordBatch, String> {
    let mut cols: Vec<ArrayRef> = Vec::new();
    cols.push(match schema.id.kind {
        IdKind::Int => Arc::new(Int64Array::from_iter_values(records.iter().map(|r| match &r.id {
            IdValue::Int(v) => Ok(*v),
            other => Err(other.clone()),
        }).collect::<std::result::Result<Vec<_>, _>>().map_err(|id| format!("id {id} is not an integer"))?)),
        IdKind::Uint => Arc::new(UInt64Array::from_iter_values(records.iter().map(|r| match &r.id {
            IdValue::Uint(v) => Ok(*v),
            other => Err(other.clone()),
        }).collect::<std::result::Result<Vec<_>, _>>().map_err(|id| format!("id {id} is not an unsigned integer"))?)),
        IdKind::String | IdKind::Uuid => Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.id.as_text()))),
    });
    for (i, field) in schema.dense().enumerate() {
        cols.push(dense_column(field, i, records)?);
    }
    for (i, _field) in schema.sparse().enumerate() {
        cols.push(sparse_column(i, records)?);
    }
    let mut meta = Vec::with_capacity(records.len());
    for r in records {
        meta.push(serde_json::to_string(&r.metadata).map_err(|e| format!("metadata of id {}: {e}", r.id))?);
    }
    cols.push(Arc::new(StringArray::from(meta)));
    if schema.document.is_some() {
        cols.push(Arc::new(StringArray::from_iter(records.iter().map(|r| r.document.as_deref()))));
    }
    RecordBatch::try_new(arrow.clone(), cols).map_err(|e| format!("building Arrow batch: {e}"))
}

fn dense_column(field: &VectorField, i: usize, records: &[Record]) -> std::result::Result<ArrayRef, String> {
    let dim = field.dimension as usize;
    let (elem, values, valid): (DataType, ArrayRef, Vec<bool>) = match field.element {
        ElementType::F32 => {
            let (v, valid) = flatten_dense(field, i, records, 0.0f32, |d| match d {
                Dense::F32(v) => Some(v),
                Dense::F16(_) => None,
            })?;
            (DataType::Float32, Arc::new(Float32Array::from(v)), valid)
        }
        ElementType::F16 => {
            let (v, valid) = flatten_dense(field, i, records, half::f16::ZERO, |d| match d {
                Dense::F16(v) => Some(v),
                Dense::F32(_) => None,
            })?;
            (DataType::Float16, Arc::new(Float16Array::from(v)), valid)
        }
    };
    let nulls = if valid.iter().all(|v| *v) { None } else { Some(NullBuffer::from(valid)) };
    let item = Arc::new(Field::new("item", elem, false));
    let arr = FixedSizeListArray::try_new(item, dim as i32, values, nulls).map_err(|e| e.to_string())?;
    Ok(Arc::new(arr))
}

/// Row-major values of dense field `i` (zeros under NULL rows) and the validity of each row.
fn flatten_dense<T: Copy>(
    field: &VectorField,
    i: usize,
    records: &[Record],
    zero: T,
    pick: impl Fn(&Dense) -> Option<&Vec<T>>,
) -> std::result::Result<(Vec<T>, Vec<bool>), String> {
    let dim = field.dimension as usize;
    let mut values = Vec::with_capacity(records.len() * dim);
    let mut valid = Vec::with_capacity(records.len());
    for r in records {
        match &r.dense[i] {
            Some(d) => {
                let v = pick(d).ok_or_else(|| format!("id {}: vector {} does not have the field's element type {:?}", r.id, field.name, field.element))?;
                if v.len() != dim {
                    return Err(format!("id {}: vector {} has {} dimensions, the field is declared with {dim}", r.id, field.name, v.len()));
                }
                values.extend_from_slice(v);
                valid.push(true);
            }
            None => {
                values.resize(values.len() + dim, zero);
                valid.push(false);
            }
        }
    }
    Ok((values, valid))
}

fn sparse_column(i: usize, records: &[Record]) -> std::result::Result<ArrayRef, String> {
    let mut idx = ListBuilder::new(UInt32Builder::new()).with_field(Arc::new(Field::new("item", DataType::UInt32, false)));
    let mut val = ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new("item", DataType::Float32, false)));
    let mut valid = Vec::with_capacity(records.len());
    for r in records {
        match &r.sparse[i] {
            Some(s) => {
                if s.indices.len() != s.values.len() {
                    return Err(format!("id {}: sparse vector has {} indices but {} values", r.id, s.indices.len(), s.values.len()));
                }
                idx.values().append_slice(&s.indices);
                val.values().append_slice(&s.values);
                valid.push(true);
            }
            None => valid.push(false),
        }
        // Child lists are never null: a null sparse vector is a null struct slot.
        idx.append(true);
        val.append(true);
    }
    let nulls = if valid.iter().all(|v| *v) { None } else { Some(NullBuffer::from(valid)) };
    let arr = StructArray::try_new(sparse_fields(), vec![Arc::new(idx.finish()), Arc::new(val.finish())], nulls)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(arr))
}

/// Records → Parquet file bytes.
pub fn encode_chunk(schema: &CollectionSchema, records: &[Record]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode_into(schema, records, &mut out)?;
    Ok(out)
}

/// Records → Parquet, written to `sink` as the writer produces it.
fn encode_into<W: std::io::Write + Send>(schema: &CollectionSchema, records: &[Record], sink: W) -> std::result::Result<(), String> {
    let arrow = arrow_schema(schema);
    let batch = to_batch(schema, &arrow, records)?;
    let props = writer_properties(&arrow, records.len()).map_err(|e| e.to_string())?;
    let mut w = ArrowWriter::try_new(sink, arrow, Some(props)).map_err(|e| e.to_string())?;
    // Still one row group, but written WRITE_ROWS rows at a time: the
    // writer's per-value scratch (levels, value indices) then stays a few MiB
    // instead of several times the chunk, which costs page faults.
    let mut at = 0;
    while at < batch.num_rows() {
        let n = WRITE_ROWS.min(batch.num_rows() - at);
        w.write(&batch.slice(at, n)).map_err(|e| e.to_string())?;
        at += n;
    }
    w.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// Encode, hash and durably write chunk `seq` of `collection` into the
/// snapshot at `dir`; returns its manifest entry. The file is complete on
/// disk when this returns, but it exists for readers only once the manifest
/// lists it.
pub fn write_chunk(
    dir: &Path,
    collection: &str,
    schema: &CollectionSchema,
    seq: u64,
    records: &[Record],
    cursor: Cursor,
) -> Result<ChunkEntry> {
    store_chunk(dir, prepare_chunk(dir, collection, schema, seq, records)?, cursor)
}

/// A chunk encoded, hashed and written to its temporary file (not yet
/// durable, not yet under its name).
#[derive(Debug)]
pub struct EncodedChunk {
    /// The temporary file, open, so the commit need not open it again.
    tmp: std::fs::File,
    seq: u64,
    file: String,
    bytes: u64,
    blake3: String,
    rows: u64,
    first_id: serde_json::Value,
    last_id: serde_json::Value,
}

/// Hashes and counts what goes through it, keeping the first I/O error
/// (the Parquet writer reports it only as text).
struct HashingFile {
    file: std::io::BufWriter<std::fs::File>,
    hasher: blake3::Hasher,
    bytes: u64,
    error: Option<std::io::Error>,
}

impl std::io::Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Hash first: that pulls the bytes into the CPU cache, so the
        // kernel's copy into the page cache reads them from there (the
        // kernel copying cold memory cost more than encoding the chunk).
        self.hasher.update(buf);
        self.file.write_all(buf).map_err(|e| self.keep(e))?;
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().map_err(|e| self.keep(e))
    }
}

impl HashingFile {
    /// Keep the first error as it is; the writer gets a copy.
    fn keep(&mut self, e: std::io::Error) -> std::io::Error {
        let copy = std::io::Error::new(e.kind(), e.to_string());
        self.error.get_or_insert(e);
        copy
    }
}

/// The part of [`write_chunk`] that can run for several chunks at once:
/// encode chunk `seq`, hash it and write it to its temporary file, right
/// as the Parquet writer produces it (nothing of the chunk is kept in
/// memory afterwards). [`store_chunk`] then makes it durable, in order.
pub fn prepare_chunk(dir: &Path, collection: &str, schema: &CollectionSchema, seq: u64, records: &[Record]) -> Result<EncodedChunk> {
    let file = chunk_file(collection, seq);
    let err = |message: String| Error::Chunk { collection: collection.to_owned(), file: file.clone(), message };
    let (first_id, last_id) = match (records.first(), records.last()) {
        (Some(f), Some(l)) => (f.id.to_json(), l.id.to_json()),
        _ => return Err(err("internal: empty chunk".into())),
    };
    let path = dir.join(&file);
    let parent = path.parent().expect("chunk path has a parent");
    if !parent.is_dir() {
        std::fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
        // Make the new directory entries durable: chunks/<collection> in
        // chunks/, and chunks/ in the snapshot directory.
        fsutil::sync_dir(&dir.join("chunks"))?;
        fsutil::sync_dir(dir)?;
    }
    let tmp = fsutil::tmp_path(&path);
    let f = std::fs::File::create(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    let mut sink = HashingFile { file: std::io::BufWriter::with_capacity(1 << 18, f), hasher: blake3::Hasher::new(), bytes: 0, error: None };
    let io_err = |e| Error::io(format!("writing {}", tmp.display()), e);
    let written = match encode_into(schema, records, &mut sink) {
        // into_inner flushes what is still buffered.
        Ok(()) => sink.file.into_inner().map_err(|e| io_err(e.into_error())),
        Err(message) => Err(sink.error.take().map(io_err).unwrap_or_else(|| err(message))),
    };
    let tmp_file = match written {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    Ok(EncodedChunk {
        tmp: tmp_file,
        seq,
        file,
        bytes: sink.bytes,
        blake3: sink.hasher.finalize().to_hex().to_string(),
        rows: records.len() as u64,
        first_id,
        last_id,
    })
}

/// The ordered part of [`write_chunk`]: make a prepared chunk durable under
/// its name (fsync, rename, fsync of the directory).
pub fn store_chunk(dir: &Path, chunk: EncodedChunk, cursor: Cursor) -> Result<ChunkEntry> {
    fsutil::commit_tmp(chunk.tmp, &dir.join(&chunk.file))?;
    Ok(ChunkEntry {
        seq: chunk.seq,
        file: chunk.file,
        rows: chunk.rows,
        bytes: chunk.bytes,
        blake3: chunk.blake3,
        first_id: chunk.first_id,
        last_id: chunk.last_id,
        cursor,
    })
}

/// What is wrong with a chunk file, as `verify` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkProblem {
    Missing,
    Unreadable,
    Size,
    Hash,
}

impl ChunkProblem {
    pub fn name(self) -> &'static str {
        match self {
            ChunkProblem::Missing => "missing",
            ChunkProblem::Unreadable => "unreadable",
            ChunkProblem::Size => "size",
            ChunkProblem::Hash => "hash",
        }
    }
}

/// Read a chunk file and check its size and blake3 against the manifest entry.
pub fn read_and_check(dir: &Path, entry: &ChunkEntry) -> std::result::Result<Vec<u8>, (ChunkProblem, String)> {
    let bytes = std::fs::read(dir.join(&entry.file)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            (ChunkProblem::Missing, "the file is missing; restore the snapshot from a copy or re-export".to_owned())
        } else {
            (ChunkProblem::Unreadable, format!("cannot read: {e}"))
        }
    })?;
    check_bytes(&bytes, entry.bytes, &entry.blake3)?;
    Ok(bytes)
}

/// A chunk's bytes against the size and blake3 the manifest records.
pub fn check_bytes(bytes: &[u8], size: u64, blake3_hex: &str) -> std::result::Result<(), (ChunkProblem, String)> {
    if bytes.len() as u64 != size {
        return Err((
            ChunkProblem::Size,
            format!("size is {} bytes, the manifest says {size} (truncated or replaced); restore it or re-export", bytes.len()),
        ));
    }
    let hash = blake3::hash(bytes).to_hex().to_string();
    if hash != blake3_hex {
        return Err((ChunkProblem::Hash, format!("blake3 {hash} differs from the manifest's {blake3_hex} (corrupted); restore it or re-export")));
    }
    Ok(())
}

/// [`read_and_check`] with the error as the crate's error type.
pub fn read_chunk_verified(dir: &Path, collection: &str, entry: &ChunkEntry) -> Result<Vec<u8>> {
    read_and_check(dir, entry).map_err(|(_, message)| Error::Chunk { collection: collection.to_owned(), file: entry.file.clone(), message })
}

/// Parquet bytes → records, checking the columns against the schema.
pub fn decode_chunk(schema: &CollectionSchema, bytes: Vec<u8>) -> std::result::Result<Vec<Record>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    if builder.schema().metadata().get(META_VERSION_KEY).map(String::as_str) != Some("1") {
        return Err(format!("not a velesdb-migrate chunk of format 1 (Arrow schema metadata {META_VERSION_KEY} missing or different)"));
    }
    let reader = builder.with_batch_size(8192).build().map_err(|e| e.to_string())?;
    let expected = arrow_schema(schema);
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("decoding: {e}"))?;
        if batch.schema().fields() != expected.fields() {
            return Err(format!(
                "columns do not match the manifest schema (found {:?})",
                batch.schema().fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
            ));
        }
        decode_batch(schema, &batch, &mut out)?;
    }
    Ok(out)
}

fn decode_batch(schema: &CollectionSchema, batch: &RecordBatch, out: &mut Vec<Record>) -> std::result::Result<(), String> {
    let n = batch.num_rows();
    let id_col = batch.column(0);
    let dense: Vec<(&VectorField, &FixedSizeListArray)> =
        schema.dense().map(|f| (f, batch.column_by_name(&f.column).expect("checked").as_fixed_size_list())).collect();
    let sparse: Vec<&StructArray> =
        schema.sparse().map(|f| batch.column_by_name(&f.column).expect("checked").as_struct()).collect();
    let meta = batch.column_by_name(COL_METADATA).expect("checked").as_string::<i32>();
    let doc = batch.column_by_name(COL_DOCUMENT).map(|c| c.as_string::<i32>());
    for row in 0..n {
        let id = match schema.id.kind {
            IdKind::Int => IdValue::Int(id_col.as_primitive::<Int64Type>().value(row)),
            IdKind::Uint => IdValue::Uint(id_col.as_primitive::<UInt64Type>().value(row)),
            IdKind::String => IdValue::Str(id_col.as_string::<i32>().value(row).to_owned()),
            IdKind::Uuid => IdValue::Uuid(id_col.as_string::<i32>().value(row).to_owned()),
        };
        let dense_vals = dense
            .iter()
            .map(|(f, arr)| {
                if arr.is_null(row) {
                    return None;
                }
                let v = arr.value(row);
                Some(match f.element {
                    ElementType::F32 => Dense::F32(v.as_primitive::<Float32Type>().values().to_vec()),
                    ElementType::F16 => Dense::F16(v.as_primitive::<Float16Type>().values().to_vec()),
                })
            })
            .collect();
        let sparse_vals = sparse
            .iter()
            .map(|arr| {
                if arr.is_null(row) {
                    return None;
                }
                let idx = arr.column(0).as_list::<i32>().value(row);
                let val = arr.column(1).as_list::<i32>().value(row);
                Some(Sparse {
                    indices: idx.as_primitive::<UInt32Type>().values().to_vec(),
                    values: val.as_primitive::<Float32Type>().values().to_vec(),
                })
            })
            .collect();
        let metadata = match serde_json::from_str::<serde_json::Value>(meta.value(row)) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return Err(format!("row {row}: metadata is not a JSON object")),
            Err(e) => return Err(format!("row {row}: metadata is not valid JSON: {e}")),
        };
        let document = doc.and_then(|d| if d.is_null(row) { None } else { Some(d.value(row).to_owned()) });
        out.push(Record { id, dense: dense_vals, sparse: sparse_vals, metadata, document });
    }
    Ok(())
}

/// Only the id column of a chunk, without a hash check (the caller verifies
/// the chunk when it reads it whole). In a directory this reads just that
/// column's pages; from a store, the footer and that column's bytes (three
/// range requests).
pub fn read_ids(loc: &Location, entry: &crate::snapshot::CollectionEntry, k: &ChunkEntry) -> Result<Vec<IdValue>> {
    match loc {
        Location::Dir(dir) => {
            let f = std::fs::File::open(dir.join(&k.file))
                .map_err(|e| Error::Chunk { collection: entry.name.clone(), file: k.file.clone(), message: format!("cannot open: {e}") })?;
            ids_of(f, entry, k)
        }
        // The footer and the id column only, by byte ranges: the vectors are
        // fetched (and the whole file hash-checked) once, when it is decoded.
        Location::Store(r) => ids_by_ranges(&r.ranges(k), entry, k),
    }
}

/// [`read_ids`] over byte ranges: the footer, then the id column's bytes in one request.
pub(crate) fn ids_by_ranges(r: &super::store::RangeReader, entry: &crate::snapshot::CollectionEntry, k: &ChunkEntry) -> Result<Vec<IdValue>> {
    let err = |message: String| Error::Chunk { collection: entry.name.clone(), file: k.file.clone(), message };
    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(r)
        .map_err(|e| err(format!("not a readable Parquet file: {e}")))?;
    // One row group per chunk (formats/snapshot-v1.md): one prefetch.
    if let Some(rg) = meta.row_groups().first() {
        let (start, len) = rg.column(0).byte_range();
        r.prefetch(start, start + len).map_err(|e| err(e.to_string()))?;
    }
    ids_of(r.clone(), entry, k)
}

fn ids_of<R: parquet::file::reader::ChunkReader + 'static>(r: R, entry: &crate::snapshot::CollectionEntry, k: &ChunkEntry) -> Result<Vec<IdValue>> {
    let err = |message: String| Error::Chunk { collection: entry.name.clone(), file: k.file.clone(), message };
    let builder = ParquetRecordBatchReaderBuilder::try_new(r).map_err(|e| err(format!("not a readable Parquet file: {e}")))?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [0]);
    let reader = builder.with_projection(mask).with_batch_size(65536).build().map_err(|e| err(e.to_string()))?;
    let mut out = Vec::with_capacity(k.rows as usize);
    for b in reader {
        let b = b.map_err(|e| err(format!("decoding ids: {e}")))?;
        let c = b.column(0);
        if c.data_type() != &id_type(entry.schema.id.kind) || c.null_count() > 0 {
            return Err(err(format!("the id column has type {} (or nulls); it does not match the manifest", c.data_type())));
        }
        for row in 0..b.num_rows() {
            out.push(match entry.schema.id.kind {
                IdKind::Int => IdValue::Int(c.as_primitive::<Int64Type>().value(row)),
                IdKind::Uint => IdValue::Uint(c.as_primitive::<UInt64Type>().value(row)),
                IdKind::String => IdValue::Str(c.as_string::<i32>().value(row).to_owned()),
                IdKind::Uuid => IdValue::Uuid(c.as_string::<i32>().value(row).to_owned()),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IdField, MetadataField, VectorKind};

    pub(crate) fn sample_schema() -> CollectionSchema {
        CollectionSchema {
            id: IdField { name: "id".into(), kind: IdKind::String, source_type: Some("text".into()) },
            vectors: vec![
                VectorField { name: "e".into(), column: "vec:e".into(), kind: VectorKind::Dense, element: ElementType::F32, dimension: 3, metric: None, index: None, source_type: None },
                VectorField { name: "h".into(), column: "vec:h".into(), kind: VectorKind::Dense, element: ElementType::F16, dimension: 2, metric: None, index: None, source_type: None },
                VectorField { name: "s".into(), column: "sparse:s".into(), kind: VectorKind::Sparse, element: ElementType::F32, dimension: 100, metric: None, index: None, source_type: None },
            ],
            metadata: vec![MetadataField { name: "n".into(), source_type: "bigint".into(), json: "int".into() }],
            document: Some("body".into()),
        }
    }

    fn sample_records() -> Vec<Record> {
        let mut m = serde_json::Map::new();
        m.insert("n".into(), serde_json::json!(9007199254740993_i64));
        m.insert("z".into(), serde_json::json!(-0.0));
        m.insert("nested".into(), serde_json::json!({"a": [1, null, {"b": "é"}]}));
        vec![
            Record {
                id: IdValue::Str("a \"quoted\"/id".into()),
                dense: vec![Some(Dense::F32(vec![1.0, -0.0, f32::MIN_POSITIVE])), Some(Dense::F16(vec![half::f16::from_f32(0.5), half::f16::MAX]))],
                sparse: vec![Some(Sparse { indices: vec![0, 99], values: vec![1.5, -2.0] })],
                metadata: m,
                document: Some("hello".into()),
            },
            Record {
                id: IdValue::Str("ü".into()),
                dense: vec![None, None],
                sparse: vec![None],
                metadata: serde_json::Map::new(),
                document: None,
            },
        ]
    }

    #[test]
    fn ids_from_a_store_fetch_the_footer_and_the_id_column_only() {
        use object_store::{memory::InMemory, path::Path as ObjPath, ObjectStoreExt};
        let m = crate::snapshot::Manifest::load(std::path::Path::new("fixtures/snapshots/ok-small")).unwrap();
        let mut entry = m.collections[0].clone();
        entry.schema.vectors = vec![VectorField { name: "e".into(), column: "vec:e".into(), kind: VectorKind::Dense, element: ElementType::F32, dimension: 256, metric: None, index: None, source_type: None }];
        entry.schema.metadata.clear();
        entry.schema.document = None;
        let records: Vec<Record> = (0..2000)
            .map(|i| Record { id: IdValue::Str(format!("id-{i:05}")), dense: vec![Some(Dense::F32((0..256).map(|j| ((i * 7 + j) % 97) as f32 / 97.0).collect()))], sparse: vec![], metadata: Default::default(), document: None })
            .collect();
        let bytes = encode_chunk(&entry.schema, &records).unwrap();
        let mut k = entry.chunks[0].clone();
        (k.file, k.rows, k.bytes) = ("x.parquet".into(), 2000, bytes.len() as u64);
        let store: Arc<dyn object_store::ObjectStore> = Arc::new(InMemory::new());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(store.put(&ObjPath::from("x.parquet"), bytes.clone().into())).unwrap();
        let r = crate::snapshot::store::RangeReader::new(store, ObjPath::from("x.parquet"), "memory:///x.parquet".into(), k.bytes);
        let ids = ids_by_ranges(&r, &entry, &k).unwrap();
        assert_eq!(ids, records.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
        // 2 MB of vectors stay in the store: footer + id column only.
        assert!(r.bytes_fetched() * 20 < k.bytes, "fetched {} of {} bytes", r.bytes_fetched(), k.bytes);
    }

    #[test]
    fn a_written_chunk_is_the_encoded_bytes_under_their_hash() {
        let d = tempfile::tempdir().unwrap();
        let (s, recs) = (sample_schema(), sample_records());
        let e = write_chunk(d.path(), "c", &s, 3, &recs, Cursor::End).unwrap();
        let bytes = encode_chunk(&s, &recs).unwrap();
        assert_eq!(std::fs::read(d.path().join(&e.file)).unwrap(), bytes);
        assert_eq!((e.bytes, e.blake3.as_str(), e.rows), (bytes.len() as u64, blake3::hash(&bytes).to_hex().as_str(), 2));
        assert!(!fsutil::tmp_path(&d.path().join(&e.file)).exists(), "the temporary file was renamed");
    }

    #[test]
    fn a_full_disk_is_an_io_error_naming_the_file_and_leaves_nothing() {
        // Writes to /dev/full fail with ENOSPC: the chunk's temporary file points there.
        let d = tempfile::tempdir().unwrap();
        let tmp = fsutil::tmp_path(&d.path().join(chunk_file("c", 0)));
        std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let err = prepare_chunk(d.path(), "c", &sample_schema(), 0, &sample_records()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(msg.contains("000000.parquet.tmp") && msg.contains("the disk is full"), "{msg}");
        assert!(!tmp.exists() && !d.path().join(chunk_file("c", 0)).exists());
    }

    #[test]
    fn roundtrip_is_exact_and_deterministic() {
        let s = sample_schema();
        let recs = sample_records();
        let a = encode_chunk(&s, &recs).unwrap();
        let b = encode_chunk(&s, &recs).unwrap();
        assert_eq!(a, b, "same records must give identical bytes");
        let back = decode_chunk(&s, a).unwrap();
        assert_eq!(back.len(), 2);
        // -0.0 == 0.0 under PartialEq: compare the bits too.
        if let Some(Dense::F32(v)) = &back[0].dense[0] {
            assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
        } else {
            panic!("vector lost");
        }
        assert_eq!(back[0].metadata["z"].as_f64().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(back, recs);
    }

    #[test]
    fn wrong_dimension_is_refused() {
        let s = sample_schema();
        let mut recs = sample_records();
        recs[0].dense[0] = Some(Dense::F32(vec![1.0]));
        let e = encode_chunk(&s, &recs).unwrap_err();
        assert!(e.contains("has 1 dimensions") && e.contains("a \\\"quoted\\\"/id"), "{e}");
    }

    #[test]
    fn dense_vectors_are_stored_plain_the_rest_zstd_in_one_row_group() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let s = sample_schema();
        // More rows than one writer call takes, to see they still form one row group.
        let recs: Vec<Record> = (0..WRITE_ROWS * 2 + 7)
            .map(|i| {
                let mut r = sample_records()[i % 2].clone();
                r.id = IdValue::Str(format!("{i:06}"));
                r
            })
            .collect();
        let bytes = encode_chunk(&s, &recs).unwrap();
        assert_eq!(bytes, encode_chunk(&s, &recs).unwrap(), "deterministic");
        let f = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
        assert_eq!(f.metadata().num_row_groups(), 1);
        for c in f.metadata().row_group(0).columns() {
            let path = c.column_path().string();
            let encodings: Vec<Encoding> = c.encodings().collect();
            if path.starts_with("vec:") {
                assert_eq!(c.compression(), Compression::UNCOMPRESSED, "{path}");
                assert!(!encodings.contains(&Encoding::BYTE_STREAM_SPLIT), "{path}: {encodings:?}");
            } else {
                assert!(matches!(c.compression(), Compression::ZSTD(_)), "{path}");
            }
            if path.starts_with("sparse:s.values.") {
                assert!(encodings.contains(&Encoding::BYTE_STREAM_SPLIT), "{path}: {encodings:?}");
            }
        }
        assert_eq!(decode_chunk(&s, bytes).unwrap(), recs);
    }
}
