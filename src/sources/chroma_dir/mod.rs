//! ChromaDB source that reads a local persistent directory (what `chroma run
//! --path DIR` and `PersistentClient(path=DIR)` of Chroma 1.x write) without
//! a server, for hosts where no Chroma can run. It records the same schema
//! and the same rows, in the same order, as `export chroma --url` against a
//! server on that directory.
//!
//! Layout (Chroma 1.5; facts checked against 1.5.9, see README):
//!
//! * `chroma.sqlite3` (rollback journal): `databases`, `collections` (with
//!   `dimension`, `config_json_str` and, from 1.5, `schema_str`, which holds
//!   the HNSW space and parameters), `segments` (one `METADATA` segment of
//!   type `urn:chroma:segment/metadata/sqlite` and one `VECTOR` segment of
//!   type `urn:chroma:segment/vector/hnsw-local-persisted` a collection),
//!   `embeddings` (one row a record of the metadata segment: sqlite row id,
//!   record id, seq_id of its last write), `embedding_metadata` (typed
//!   values; the document under `chroma:document`, the URI under
//!   `chroma:uri`), `embedding_metadata_array` (array values, one row an
//!   element, in order), `max_seq_id` (how far in the log each segment is),
//!   and `embeddings_queue`, the write-ahead log: one row a write (add 0,
//!   update 1, upsert 2, delete 3) with its vector as little-endian f32.
//! * `<vector segment id>/`: the HNSW files (see [`hnsw`]), written every
//!   `sync_threshold` (1000) writes only.
//!
//! Records, metadata, documents and URIs come from the metadata segment,
//! which Chroma updates on every write. Vectors come from the HNSW files as
//! of their `max_seq_id`, with the later writes of the log replayed on top,
//! as Chroma itself replays them when it opens the segment. The pages
//! follow the metadata segment's row ids (the order Chroma's `get` uses);
//! the cursor is the last row id of a page.
//!
//! Memory: the HNSW id map (record id → label, a few dozen bytes a record),
//! label → record number (4 bytes a label), and one entry per record written
//! since the last HNSW flush. Vectors are read per page by seeking.

mod hnsw;
mod pickle;

use super::chroma::{self, Args};
use super::{Description, Page, Source};
use crate::error::{Error, Result};
use crate::model::{Cursor, Dense, IdValue, Record};
use rusqlite::types::Value as Sql;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

const DB: &str = "chroma.sqlite3";
const METADATA_SEGMENT: &str = "urn:chroma:segment/metadata/sqlite";
const VECTOR_SEGMENT: &str = "urn:chroma:segment/vector/hnsw-local-persisted";
const DOCUMENT_KEY: &str = "chroma:document";
const URI_KEY: &str = "chroma:uri";
/// Chroma's own metadata keys, which its `get` does not return as metadata.
const RESERVED: &str = "chroma:";
/// The schema migrations this reader knows (Chroma 1.5.9 has exactly these):
/// a newer one may change the layout, so it is refused.
const KNOWN_MIGRATIONS: [(&str, i64); 3] = [("sysdb", 10), ("metadb", 6), ("embeddings_queue", 2)];
const TABLES: [&str; 8] = ["migrations", "databases", "collections", "segments", "embeddings", "embedding_metadata", "embeddings_queue", "max_seq_id"];
/// What to do when the directory cannot be read.
const USE_URL: &str = "start `chroma run --path DIR` on a copy of the directory and export with --url";

pub struct ChromaDir {
    args: Args,
    dir: PathBuf,
    target: String,
    db: Connection,
    state: Option<State>,
}

/// What `describe` found, for the pages.
struct State {
    /// The metadata segment (`embeddings.segment_id`).
    segment: String,
    /// Dimension and space of the vectors; `None` for an empty collection without a dimension.
    dim: Option<usize>,
    cosine: bool,
    /// The database has `embedding_metadata_array` (Chroma ≥ 1.5).
    arrays: bool,
    /// The HNSW segment's position in the log (`max_seq_id`).
    applied: i64,
    hnsw: Option<hnsw::Segment>,
    log: HashMap<String, Logged>,
}

/// What the writes after the HNSW files did to one record id.
#[derive(Debug, Default, PartialEq)]
struct Logged {
    exists: bool,
    /// The write whose vector the record has now (`None`: the HNSW files' vector).
    vector: Option<i64>,
    /// The last write that changed the record, as the metadata segment stores it (0: none).
    touched: i64,
}

/// Replay one log entry, with Chroma's rules: an add of an existing id and
/// an update or delete of a missing one change nothing; an update without a
/// vector keeps the vector.
fn replay(e: &mut Logged, seq: i64, op: i64, has_vector: bool) -> std::result::Result<(), String> {
    let need = |what: &str| if has_vector { Ok(()) } else { Err(format!("seq_id {seq}: {what} without a vector")) };
    match op {
        0 if !e.exists => {
            need("an add")?;
            *e = Logged { exists: true, vector: Some(seq), touched: seq };
        }
        0 => {}
        1 if e.exists => {
            e.touched = seq;
            if has_vector {
                e.vector = Some(seq);
            }
        }
        1 => {}
        2 => {
            need("an upsert")?;
            *e = Logged { exists: true, vector: Some(seq), touched: seq };
        }
        3 => e.exists = false,
        other => return Err(format!("seq_id {seq}: unknown operation code {other} (0 add, 1 update, 2 upsert, 3 delete)")),
    }
    Ok(())
}

/// Every collection of the directory's tenant/database, described as the
/// export would record it (for `export chroma --path DIR --all`).
pub async fn discover(args: Args) -> Result<Vec<super::Discovered>> {
    let lister = ChromaDir::open(Args { collection: String::new(), every: Default::default(), ..args.clone() })?;
    lister.check_layout()?;
    let sql = "SELECT c.name FROM collections c JOIN databases d ON d.id = c.database_id WHERE d.tenant_id = ?1 AND d.name = ?2 ORDER BY c.name";
    let mut stmt = lister.sql(lister.db.prepare(sql))?;
    let names: Vec<String> = lister.sql(stmt.query_map(params![args.tenant, args.database], |r| r.get(0)).and_then(|r| r.collect()))?;
    drop(stmt);
    drop(lister);
    let mut out = Vec::new();
    for name in names {
        let source_name = format!("{}/{}", args.tenant, args.database);
        match ChromaDir::open(Args { collection: name.clone(), every: Default::default(), ..args.clone() }) {
            Ok(mut src) => out.push(super::Discovered::of(&mut src, source_name, name).await),
            Err(e) => out.push(super::Discovered::refused(source_name, name, e.to_string())),
        }
    }
    Ok(out)
}

impl ChromaDir {
    /// Check the directory and open its database read-only.
    pub fn open(args: Args) -> Result<ChromaDir> {
        let given = args.path.clone().expect("--path was given");
        let target = format!("collection {} in {}", args.collection, given.display());
        let err = |message: String| Error::Source { source_kind: "chroma", target: target.clone(), message };
        if args.filter.is_some() {
            return Err(Error::Usage(
                "--where cannot be used with --path: Chroma evaluates filters in its server, and reading the directory \
                 involves none. Export the whole collection, or start `chroma run --path DIR` and export with --url and --where"
                    .into(),
            ));
        }
        let dir = given.canonicalize().map_err(|e| err(format!("{}: {e}", given.display())))?;
        let db_path = dir.join(DB);
        if !db_path.is_file() {
            return Err(err(format!(
                "{} has no {DB}: it is not a Chroma persistent directory (the --path of `chroma run`, or the path of PersistentClient)",
                dir.display()
            )));
        }
        let users = processes_using(&dir);
        if !users.is_empty() {
            return Err(err(format!(
                "{} is in use by {}: a Chroma server or client has its files open and may be writing them. \
                 Stop it and run the export again, or export from that server with --url",
                dir.display(),
                users.join(", ")
            )));
        }
        for suffix in ["-journal", "-wal"] {
            let p = dir.join(format!("{DB}{suffix}"));
            if p.exists() {
                return Err(err(format!(
                    "{} exists: a write to {DB} was interrupted (or is under way), and only a writer may roll it back. \
                     Start Chroma on the directory once (`chroma run --path {}`), stop it, and export again",
                    p.display(),
                    dir.display()
                )));
            }
        }
        let mut head = [0u8; 100];
        std::fs::File::open(&db_path)
            .and_then(|mut f| f.read_exact(&mut head))
            .map_err(|e| err(format!("{}: {e}", db_path.display())))?;
        if &head[..16] != b"SQLite format 3\0" {
            return Err(err(format!("{} is not a SQLite database", db_path.display())));
        }
        if head[18] == 2 || head[19] == 2 {
            return Err(err(format!(
                "{} uses write-ahead logging, which Chroma 1.x does not; reading it would create files in the directory. {USE_URL}",
                db_path.display()
            )));
        }
        let db = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .and_then(|db| db.pragma_update(None, "query_only", true).map(|_| db))
            .map_err(|e| err(format!("opening {} read-only: {e}", db_path.display())))?;
        Ok(ChromaDir { args, dir, target, db, state: None })
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Source { source_kind: "chroma", target: self.target.clone(), message: message.into() }
    }

    /// Map an sqlite error to one that names the file.
    fn sql<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
        r.map_err(|e| self.err(format!("reading {}: {e}", self.dir.join(DB).display())))
    }

    fn col<T: rusqlite::types::FromSql>(&self, r: &rusqlite::Row<'_>, i: usize) -> Result<T> {
        self.sql(r.get(i))
    }

    /// Columns 2 to 5 of a metadata row, as a JSON value.
    fn value(&self, r: &rusqlite::Row<'_>, id: &str, key: &str) -> Result<Option<Value>> {
        value_of(self.col(r, 2)?, self.col(r, 3)?, self.col(r, 4)?, self.col(r, 5)?)
            .map_err(|m| self.err(format!("id {id:?}, metadata key {key:?}: {m}")))
    }

    /// The database has Chroma's tables and only migrations this reader knows.
    fn check_layout(&self) -> Result<bool> {
        let db = self.dir.join(DB);
        let mut stmt = self.sql(self.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'"))?;
        let tables: Vec<String> = self.sql(stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect()))?;
        if let Some(t) = TABLES.iter().find(|t| !tables.iter().any(|x| x == *t)) {
            return Err(self.err(format!("{} has no table {t}: it is not a database that Chroma 1.x wrote", db.display())));
        }
        let mut stmt = self.sql(self.db.prepare("SELECT dir, version, filename FROM migrations ORDER BY dir, version"))?;
        let migrations: Vec<(String, i64, String)> =
            self.sql(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).and_then(|r| r.collect()))?;
        for (dir, version, file) in &migrations {
            match KNOWN_MIGRATIONS.iter().find(|(d, _)| d == dir) {
                Some((_, known)) if version <= known => {}
                known => {
                    return Err(self.err(format!(
                        "{} was migrated by a newer Chroma (migration {dir} {version}, {file}); this reader knows the layout \
                         of Chroma 1.5 ({}), and a newer one may store records differently. {USE_URL}",
                        db.display(),
                        known.map_or("no migrations of that kind".into(), |(d, v)| format!("{d} up to {v}"))
                    )))
                }
            }
        }
        Ok(tables.iter().any(|t| t == "embedding_metadata_array"))
    }

    fn find_collection(&self) -> Result<(String, Option<i64>, Option<String>, Option<String>)> {
        let mut stmt = self.sql(self.db.prepare("SELECT name FROM pragma_table_info('collections')"))?;
        let cols: Vec<String> = self.sql(stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect()))?;
        let has = |c: &str| cols.iter().any(|x| x == c);
        let sql = format!(
            "SELECT c.id, c.dimension, {}, {} FROM collections c JOIN databases d ON d.id = c.database_id \
             WHERE d.tenant_id = ?1 AND d.name = ?2 AND c.name = ?3",
            if has("config_json_str") { "c.config_json_str" } else { "NULL" },
            if has("schema_str") { "c.schema_str" } else { "NULL" }
        );
        let a = &self.args;
        let found = self.sql(
            self.db
                .query_row(&sql, params![a.tenant, a.database, a.collection], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional(),
        )?;
        if let Some(c) = found {
            return Ok(c);
        }
        let mut stmt = self.sql(self.db.prepare(
            "SELECT c.name FROM collections c JOIN databases d ON d.id = c.database_id WHERE d.tenant_id = ?1 AND d.name = ?2 ORDER BY c.name",
        ))?;
        let names: Vec<String> = self.sql(stmt.query_map(params![a.tenant, a.database], |r| r.get(0)).and_then(|r| r.collect()))?;
        Err(self.err(format!(
            "no collection {:?} in tenant {:?}, database {:?} of {} (it holds {}); check --collection, --tenant and --database",
            a.collection,
            a.tenant,
            a.database,
            self.dir.display(),
            if names.is_empty() { "none".into() } else { names.join(", ") }
        )))
    }

    /// The collection's two segments: (metadata segment id, vector segment id).
    fn segments(&self, collection: &str) -> Result<(String, String)> {
        let mut stmt = self.sql(self.db.prepare("SELECT id, type, scope FROM segments WHERE collection = ?1 ORDER BY scope, id"))?;
        let segs: Vec<(String, String, String)> =
            self.sql(stmt.query_map([collection], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).and_then(|r| r.collect()))?;
        let pick = |scope: &str, kind: &str| -> Result<String> {
            let of: Vec<&(String, String, String)> = segs.iter().filter(|s| s.2 == scope).collect();
            match of.as_slice() {
                [(id, t, _)] if t == kind => Ok(id.clone()),
                [(id, t, _)] => Err(self.err(format!(
                    "the collection's {scope} segment {id} has type {t}; this reader reads only {kind} (what Chroma 1.x keeps \
                     in a local directory). {USE_URL}"
                ))),
                _ => Err(self.err(format!("the collection has {} {scope} segments in {DB}; Chroma 1.x has exactly one", of.len()))),
            }
        };
        Ok((pick("METADATA", METADATA_SEGMENT)?, pick("VECTOR", VECTOR_SEGMENT)?))
    }

    fn max_seq_id(&self, segment: &str) -> Result<Option<i64>> {
        let v: Option<Sql> = self.sql(self.db.query_row("SELECT seq_id FROM max_seq_id WHERE segment_id = ?1", [segment], |r| r.get(0)).optional())?;
        v.map(|v| seq_of(v).map_err(|m| self.err(format!("max_seq_id of segment {segment}: {m}")))).transpose()
    }

    /// The HNSW space and parameters: the collection's schema (Chroma 1.5),
    /// else its configuration (1.0 – 1.4), else the legacy `hnsw:*` metadata.
    fn hnsw_config(&self, collection: &str, config: Option<&str>, schema: Option<&str>) -> Result<(String, Option<u32>, Option<u32>)> {
        let parse = |what: &str, s: Option<&str>| -> Result<Value> {
            s.map(|s| serde_json::from_str(s).map_err(|e| self.err(format!("the collection's {what} in {DB} is not JSON: {e}"))))
                .transpose()
                .map(|v| v.unwrap_or(Value::Null))
        };
        let schema = parse("schema_str", schema)?;
        let config = parse("config_json_str", config)?;
        let from_schema = |v: &Value| {
            let c = &v["float_list"]["vector_index"]["config"];
            c.is_object().then(|| (c["space"].clone(), c["hnsw"]["max_neighbors"].clone(), c["hnsw"]["ef_construction"].clone()))
        };
        let legacy = &config["hnsw_configuration"];
        let (space, m, ef) = from_schema(&schema["keys"]["#embedding"])
            .or_else(|| from_schema(&schema["defaults"]))
            .or_else(|| {
                let h = &config["hnsw"];
                h.is_object().then(|| (h["space"].clone(), h["max_neighbors"].clone(), h["ef_construction"].clone()))
            })
            .or_else(|| legacy.is_object().then(|| (legacy["space"].clone(), legacy["M"].clone(), legacy["ef_construction"].clone())))
            .unwrap_or_default();
        let mut stmt = self.sql(self.db.prepare("SELECT key, str_value, int_value FROM collection_metadata WHERE collection_id = ?1"))?;
        let meta: HashMap<String, (Option<String>, Option<i64>)> =
            self.sql(stmt.query_map([collection], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))).and_then(|r| r.collect()))?;
        let meta_int = |k: &str| meta.get(k).and_then(|v| v.1).and_then(|v| u32::try_from(v).ok());
        let space = space.as_str().map(str::to_owned).or_else(|| meta.get("hnsw:space").and_then(|v| v.0.clone())).unwrap_or_else(|| "l2".into());
        let int = |v: &Value| v.as_u64().and_then(|v| u32::try_from(v).ok());
        Ok((space, int(&m).or_else(|| meta_int("hnsw:M")), int(&ef).or_else(|| meta_int("hnsw:construction_ef"))))
    }

    /// Open the HNSW files of the vector segment and replay the log after them.
    fn vectors(&self, collection: &str, vector_segment: &str, dim: usize, cosine: bool) -> Result<(i64, Option<hnsw::Segment>, HashMap<String, Logged>)> {
        let seg_dir = self.dir.join(vector_segment);
        let mut applied = self.max_seq_id(vector_segment)?;
        let header = if seg_dir.is_dir() { hnsw::read_header(&seg_dir, dim).map_err(|m| self.err(format!("{m}. {USE_URL}")))? } else { None };
        let pickle = seg_dir.join("index_metadata.pickle");
        let hnsw = match header {
            Some(h) if pickle.is_file() => Some(hnsw::Segment::open(&seg_dir, h, cosine).map_err(|m| self.err(format!("{m}. {USE_URL}")))?),
            Some(h) if h.elements > 0 => {
                return Err(self.err(format!(
                    "{} is missing, although header.bin lists {} records: the segment was not written completely. {USE_URL}",
                    pickle.display(),
                    h.elements
                )))
            }
            _ => None,
        };
        if applied.is_none() {
            // Chroma before 1.0 kept the position in the pickle; 1.x moves it to sqlite.
            applied = hnsw.as_ref().and_then(|h| h.max_seq_id).and_then(|v| i64::try_from(v).ok());
        }
        let applied = applied.unwrap_or(0);
        if hnsw.is_none() && applied > 0 {
            let missing = if seg_dir.is_dir() { pickle } else { seg_dir };
            return Err(self.err(format!(
                "{} is missing, although {DB} says Chroma wrote the collection's vectors there up to seq_id {applied}. {USE_URL}",
                missing.display()
            )));
        }
        let Some(topic) = self.topic(collection)? else { return Ok((applied, hnsw, HashMap::new())) };
        let mut stmt = self.sql(self.db.prepare(
            "SELECT seq_id, operation, id, vector IS NOT NULL FROM embeddings_queue WHERE topic = ?1 AND seq_id > ?2 ORDER BY seq_id",
        ))?;
        let mut rows = self.sql(stmt.query(params![topic, applied]))?;
        let mut log: HashMap<String, Logged> = HashMap::new();
        while let Some(r) = self.sql(rows.next())? {
            let (seq, op, id, has_vector): (i64, i64, String, bool) = (self.col(r, 0)?, self.col(r, 1)?, self.col(r, 2)?, self.col(r, 3)?);
            let in_hnsw = hnsw.as_ref().is_some_and(|h| h.contains(&id));
            let e = log.entry(id).or_insert_with(|| Logged { exists: in_hnsw, ..Logged::default() });
            replay(e, seq, op, has_vector).map_err(|m| self.err(format!("the log (embeddings_queue) of {DB}: {m}")))?;
        }
        Ok((applied, hnsw, log))
    }

    /// The collection's log topic (`persistent://<tenant>/<namespace>/<collection id>`), if it has entries.
    fn topic(&self, collection: &str) -> Result<Option<String>> {
        let mut stmt = self.sql(self.db.prepare("SELECT DISTINCT topic FROM embeddings_queue"))?;
        let topics: Vec<String> = self.sql(stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect()))?;
        let mine: Vec<String> = topics.into_iter().filter(|t| t.strip_suffix(collection).is_some_and(|p| p.ends_with('/'))).collect();
        match mine.len() {
            0 | 1 => Ok(mine.into_iter().next()),
            n => Err(self.err(format!("the log of {DB} has {n} topics for the collection ({}); Chroma 1.x writes one", mine.join(", ")))),
        }
    }

    fn log_vector(&self, seq: i64, dim: usize, cosine: bool) -> Result<Vec<f32>> {
        let (blob, encoding): (Vec<u8>, Option<String>) =
            self.sql(self.db.query_row("SELECT vector, encoding FROM embeddings_queue WHERE seq_id = ?1", [seq], |r| Ok((r.get(0)?, r.get(1)?))))?;
        if encoding.as_deref().is_some_and(|e| e != "FLOAT32") || blob.len() != dim * 4 {
            return Err(self.err(format!(
                "the log entry seq_id {seq} holds a {} vector of {} bytes; expected FLOAT32, {} bytes ({dim} dimensions)",
                encoding.as_deref().unwrap_or("(no encoding)"),
                blob.len(),
                dim * 4
            )));
        }
        let mut v: Vec<f32> = blob.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        if cosine {
            hnsw::cosine_roundtrip(&mut v);
        }
        Ok(v)
    }
}

/// A seq_id: an integer (Chroma ≥ 0.5), or 8 big-endian bytes (older).
fn seq_of(v: Sql) -> std::result::Result<i64, String> {
    match v {
        Sql::Integer(i) => Ok(i),
        Sql::Blob(b) if b.len() == 8 => Ok(i64::from_be_bytes(b.try_into().expect("8 bytes"))),
        other => Err(format!("{other:?} is not a seq_id")),
    }
}

/// A metadata value as Chroma's `get` returns it (string, else int, else float, else bool).
fn value_of(s: Option<String>, i: Option<i64>, f: Option<f64>, b: Option<i64>) -> std::result::Result<Option<Value>, String> {
    Ok(Some(match (s, i, f, b) {
        (Some(s), ..) => Value::String(s),
        (None, Some(i), ..) => i.into(),
        (None, None, Some(f), _) => serde_json::Number::from_f64(f).ok_or_else(|| format!("the float {f} has no JSON form"))?.into(),
        (None, None, None, Some(b)) => Value::Bool(b != 0),
        (None, None, None, None) => return Ok(None),
    }))
}

/// `pid N (name)` of every other process with a file of `dir` open (Linux; elsewhere none are seen).
fn processes_using(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if !cfg!(target_os = "linux") {
        return found;
    }
    let me = std::process::id();
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let open = std::fs::read_dir(p.path().join("fd")).into_iter().flatten().flatten();
        if open.filter_map(|fd| std::fs::read_link(fd.path()).ok()).any(|t| t.starts_with(dir)) {
            let name = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
            found.push(format!("pid {pid} ({})", name.trim()));
        }
    }
    found
}

impl Source for ChromaDir {
    fn kind(&self) -> &'static str {
        "chroma"
    }

    fn address(&self) -> String {
        self.dir.display().to_string()
    }

    fn options(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.dir,
            "collection": self.args.collection,
            "tenant": self.args.tenant,
            "database": self.args.database,
        })
    }

    async fn describe(&mut self) -> Result<Description> {
        let has_arrays = self.check_layout()?;
        let (collection, dimension, config, schema) = self.find_collection()?;
        let (metadata_segment, vector_segment) = self.segments(&collection)?;
        let meta_applied = self.max_seq_id(&metadata_segment)?.unwrap_or(0);
        if let Some(topic) = self.topic(&collection)? {
            let last: Option<i64> = self.sql(self.db.query_row("SELECT max(seq_id) FROM embeddings_queue WHERE topic = ?1", [&topic], |r| r.get(0)))?;
            if let Some(last) = last.filter(|&l| l > meta_applied) {
                return Err(self.err(format!(
                    "the log (embeddings_queue) holds writes up to seq_id {last} that Chroma has not applied to the collection's \
                     records yet (they are applied up to {meta_applied}): it stopped in the middle of a write. Start Chroma on the \
                     directory once (`chroma run --path {}`) and read the collection (for example its count), stop it, and export again",
                    self.dir.display()
                )));
            }
        }
        let count: i64 = self.sql(self.db.query_row("SELECT count(*) FROM embeddings WHERE segment_id = ?1", [&metadata_segment], |r| r.get(0)))?;
        let count = count as u64;
        let (space, m, ef_construction) = self.hnsw_config(&collection, config.as_deref(), schema.as_deref())?;
        let cosine = space == "cosine";
        let dim = match dimension {
            Some(d) => Some(usize::try_from(d).map_err(|_| self.err(format!("the collection's dimension {d} is not valid")))?),
            None if count == 0 => None,
            None => return Err(self.err("the collection has no dimension in chroma.sqlite3 although it holds records")),
        };
        let (applied, hnsw, log) = match dim {
            Some(d) => self.vectors(&collection, &vector_segment, d, cosine)?,
            None => (0, None, HashMap::new()),
        };
        let in_hnsw = hnsw.as_ref().map_or(0, |h| h.len());
        let replaced = log.keys().filter(|id| hnsw.as_ref().is_some_and(|h| h.contains(id))).count();
        let from_log = log.values().filter(|l| l.exists).count();
        let live = (in_hnsw - replaced + from_log) as u64;
        if live != count {
            return Err(self.err(format!(
                "the vectors ({in_hnsw} in the HNSW files, with the log applied: {live}) do not match the {count} records of the \
                 metadata segment; the directory is inconsistent. {USE_URL}"
            )));
        }
        let mut desc = chroma::description(&self.args, &space, m, ef_construction, dim.unwrap_or(0) as u32, count);
        let pending = log.values().filter(|l| l.exists && l.vector.is_some()).count();
        if pending > 0 {
            desc.notes.push(format!("{pending} vectors come from Chroma's write-ahead log (not yet in the HNSW files)"));
        }
        self.state = Some(State { segment: metadata_segment, dim, cosine, arrays: has_arrays, applied, hnsw, log });
        Ok(desc)
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let after = match cursor {
            Cursor::Start => 0,
            Cursor::AfterKey { key } => key.as_i64().ok_or_else(|| self.err(format!("internal: {key} is not a row id of {DB}")))?,
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            other => return Err(self.err(format!("internal: the cursor {other:?} cannot resume a Chroma directory export"))),
        };
        let mut state = self.state.take().expect("describe() runs first");
        let page = self.page(&mut state, after, limit);
        self.state = Some(state);
        page
    }
}

impl ChromaDir {
    fn page(&self, st: &mut State, after: i64, limit: usize) -> Result<Page> {
        // NOT INDEXED: walk the row ids from the cursor; the (segment_id,
        // embedding_id) index would read the whole segment for every page.
        let mut stmt = self.sql(self.db.prepare_cached(
            "SELECT id, embedding_id, seq_id FROM embeddings NOT INDEXED WHERE segment_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        ))?;
        let rows: Vec<(i64, String, Sql)> =
            self.sql(stmt.query_map(params![st.segment, after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).and_then(|r| r.collect()))?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0)) else {
            return Ok(Page { records: Vec::new(), next: None });
        };
        let mut metas: Vec<Map<String, Value>> = vec![Map::new(); rows.len()];
        let mut docs: Vec<Option<String>> = vec![None; rows.len()];
        let mut uris: Vec<Option<String>> = vec![None; rows.len()];
        let at = |rowid: i64| rows.binary_search_by_key(&rowid, |r| r.0).ok();
        let mut stmt = self.sql(self.db.prepare_cached(
            "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value FROM embeddings e NOT INDEXED \
             JOIN embedding_metadata m ON m.id = e.id WHERE e.segment_id = ?1 AND e.id BETWEEN ?2 AND ?3",
        ))?;
        let mut q = self.sql(stmt.query(params![st.segment, first, last]))?;
        while let Some(r) = self.sql(q.next())? {
            let (rowid, key): (i64, String) = (self.col(r, 0)?, self.col(r, 1)?);
            let Some(i) = at(rowid) else { continue };
            let v = self.value(r, &rows[i].1, &key)?;
            match (key.as_str(), v) {
                (_, None) => {}
                (DOCUMENT_KEY, Some(Value::String(s))) => docs[i] = Some(s),
                (URI_KEY, Some(Value::String(s))) => uris[i] = Some(s),
                (k, _) if k.starts_with(RESERVED) => {}
                (_, Some(v)) => {
                    metas[i].insert(key, v);
                }
            }
        }
        if st.arrays {
            let mut stmt = self.sql(self.db.prepare_cached(
                "SELECT a.id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value FROM embeddings e NOT INDEXED \
                 JOIN embedding_metadata_array a ON a.id = e.id WHERE e.segment_id = ?1 AND e.id BETWEEN ?2 AND ?3 ORDER BY a.id, a.rowid",
            ))?;
            let mut q = self.sql(stmt.query(params![st.segment, first, last]))?;
            while let Some(r) = self.sql(q.next())? {
                let (rowid, key): (i64, String) = (self.col(r, 0)?, self.col(r, 1)?);
                let Some(i) = at(rowid).filter(|_| !key.starts_with(RESERVED)) else { continue };
                let id = &rows[i].1;
                let Some(v) = self.value(r, id, &key)? else { continue };
                match metas[i].entry(key.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(a) => a.push(v),
                    _ => return Err(self.err(format!("id {id:?}: metadata key {key:?} holds both a value and an array in {DB}"))),
                }
            }
        }
        let mut records = Vec::with_capacity(rows.len());
        for (i, (_, id, seq)) in rows.into_iter().enumerate() {
            let seq = seq_of(seq).map_err(|m| self.err(format!("id {id:?}: embeddings.seq_id {m}")))?;
            let logged = st.log.get(&id);
            let touched = logged.map_or(0, |l| l.touched);
            if touched != if seq > st.applied { seq } else { 0 } || logged.is_some_and(|l| !l.exists) {
                return Err(self.err(format!(
                    "id {id:?}: the record's last write is seq_id {seq}, but the log after the HNSW files (seq_id > {}) says {}: \
                     the log and the records do not match (was the log purged by hand?). {USE_URL}",
                    st.applied,
                    match logged {
                        Some(l) if !l.exists => "it was deleted".to_string(),
                        Some(l) => format!("its last write is seq_id {}", l.touched),
                        None => "nothing".to_string(),
                    }
                )));
            }
            let dim = st.dim.expect("a collection with records has a dimension");
            let vector = match logged.and_then(|l| l.vector) {
                Some(seq) => self.log_vector(seq, dim, st.cosine)?,
                None => {
                    let v = match st.hnsw.as_mut() {
                        Some(h) => h.vector(&id).map_err(|m| self.err(format!("{m}. {USE_URL}")))?,
                        None => None,
                    };
                    v.ok_or_else(|| self.err(format!("id {id:?} has no vector in the HNSW files nor in the log. {USE_URL}")))?
                }
            };
            let mut metadata = std::mem::take(&mut metas[i]);
            if let Some(u) = uris[i].take() {
                chroma::put_uri(&mut metadata, u, &id).map_err(|m| self.err(m))?;
            }
            records.push(Record { id: IdValue::Str(id), dense: vec![Some(Dense::F32(vector))], sparse: Vec::new(), metadata, document: docs[i].take() });
        }
        Ok(Page { records, next: Some(Cursor::AfterKey { key: last.into() }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_the_log_with_chromas_rules() {
        let mut e = Logged { exists: true, ..Logged::default() }; // in the HNSW files
        replay(&mut e, 10, 0, true).unwrap(); // add of an existing id: ignored
        assert_eq!(e, Logged { exists: true, vector: None, touched: 0 });
        replay(&mut e, 11, 1, false).unwrap(); // metadata-only update
        assert_eq!(e, Logged { exists: true, vector: None, touched: 11 });
        replay(&mut e, 12, 3, false).unwrap();
        replay(&mut e, 13, 1, true).unwrap(); // update of a deleted id: ignored
        assert!(!e.exists);
        replay(&mut e, 14, 2, true).unwrap();
        assert_eq!(e, Logged { exists: true, vector: Some(14), touched: 14 });
        let mut n = Logged::default();
        assert!(replay(&mut n, 15, 0, false).unwrap_err().contains("an add without a vector"));
        assert!(replay(&mut n, 16, 7, true).unwrap_err().contains("unknown operation code 7"));
    }

    #[test]
    fn metadata_values_as_chroma_returns_them() {
        assert_eq!(value_of(Some("s".into()), None, None, None).unwrap(), Some(Value::String("s".into())));
        assert_eq!(value_of(None, Some(9007199254740993), None, None).unwrap(), Some(9007199254740993i64.into()));
        assert_eq!(value_of(None, None, Some(1.0), None).unwrap().unwrap().to_string(), "1.0");
        assert_eq!(value_of(None, None, None, Some(0)).unwrap(), Some(Value::Bool(false)));
        assert_eq!(value_of(None, None, None, None).unwrap(), None);
        assert!(value_of(None, None, Some(f64::NAN), None).is_err());
        assert_eq!(seq_of(Sql::Blob(vec![0, 0, 0, 0, 0, 0, 1, 0])).unwrap(), 256);
    }
}
