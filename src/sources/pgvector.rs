//! PostgreSQL + pgvector source.
//!
//! Discovery reads the catalog: the primary key (or `--id-column`, which must
//! carry a single-column unique index), every `vector` / `halfvec` /
//! `sparsevec` column with its dimension, the metric and HNSW/IVFFlat
//! parameters of an index on it, and every other column as metadata.
//!
//! Reading uses keyset pagination on the id (`WHERE id > $1 ORDER BY id
//! LIMIT n`) with binary results: vectors are decoded from pgvector's binary
//! send format, never from text. The last id of a page is the resume cursor.

use super::{exportable, pgbinary as bin, AllArgs, redact_url, Description, Discovered, Page, Skipped, Source};
use crate::error::{Error, Result};
use crate::model::{
    CollectionSchema, Cursor, Dense, ElementType, IdField, IdKind, IdValue, IndexParams, MetadataField, Metric, Record,
    VectorField, VectorKind,
};
use serde::Serialize;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Row, ValueRef};
use std::time::Duration;

/// `export pgvector` options.
#[derive(Clone, Debug, clap::Args, Serialize)]
pub struct Args {
    /// PostgreSQL connection URL (postgres://user:password@host:port/db). The
    /// password is never written to the snapshot or printed.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    #[serde(skip)]
    pub url: Option<String>,
    /// Table to export.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub table: Option<String>,
    /// Schema of the table (default: resolved through the search_path). With
    /// --all: export only the tables of this schema.
    #[arg(long)]
    pub schema: Option<String>,
    /// `--all`: every table with a vector, halfvec or sparsevec column.
    #[command(flatten)]
    #[serde(skip)]
    pub every: AllArgs,
    /// Id column (default: the primary key). Must have a single-column unique index.
    #[arg(long, conflicts_with = "all")]
    pub id_column: Option<String>,
    /// Vector column(s) to export (repeatable; default: every vector, halfvec and sparsevec column).
    #[arg(long = "vector-column", conflicts_with = "all")]
    pub vector_columns: Vec<String>,
    /// Text column that becomes the document (default: the first text column
    /// named content, document, text, body, page_content or chunk).
    #[arg(long, conflicts_with_all = ["no_document", "all"])]
    pub document_column: Option<String>,
    /// Keep every text column in the metadata; no document column.
    #[arg(long)]
    pub no_document: bool,
    /// Keep jsonb columns under their own name instead of merging their keys into the metadata.
    #[arg(long)]
    pub no_merge_jsonb: bool,
    /// SQL condition to export only some rows (recorded in the manifest).
    #[arg(long = "where", conflicts_with = "all")]
    pub filter: Option<String>,
}

/// How one selected column is decoded.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Decode {
    Bool,
    Int,
    Float,
    /// `real`: written as the shortest decimal that reads back as the same f32.
    Float4,
    Text,
    Uuid,
    Json,
    Jsonb,
    /// jsonb whose object keys merge into the top-level metadata.
    JsonbMerged,
}

#[derive(Clone, Debug)]
struct MetaCol {
    name: String,
    decode: Decode,
}

#[derive(Clone, Debug)]
struct Plan {
    select_sql: String,
    id_kind: IdKind,
    id_type: String,
    id_sql: String,
    dense: Vec<ElementType>,
    sparse_count: usize,
    meta: Vec<MetaCol>,
    has_doc: bool,
}

pub struct Pgvector {
    kind: &'static str,
    args: Args,
    pool: PgPool,
    address: String,
    target: String,
    plan: Option<Plan>,
    ahead: Option<Ahead>,
}

#[derive(Debug)]
struct Column {
    name: String,
    typname: String,
    /// Schema of the column's type (where pgvector's functions live).
    typschema: String,
    format: String,
    typmod: i32,
    category: String,
}

const DOCUMENT_NAMES: &[&str] = &["content", "document", "text", "body", "page_content", "chunk"];

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Pgvector {
    pub async fn connect(args: Args) -> Result<Pgvector> {
        Self::connect_as("pgvector", args).await
    }

    /// Connect, naming the source `kind` in the manifest and messages
    /// (`supabase` is PostgreSQL + pgvector behind Supabase's endpoints).
    pub async fn connect_as(kind: &'static str, args: Args) -> Result<Pgvector> {
        let url = args.url.clone().ok_or_else(|| Error::Usage("--url is required (or set DATABASE_URL)".into()))?;
        let address = redact_url(&url);
        let target = format!("{} at {address}", args.table.as_deref().unwrap_or("every table"));
        let fail = |e: sqlx::Error| Error::Source { source_kind: kind, target: target.clone(), message: connect_hint(&e) };
        // One direct attempt first: the pool retries refused connections
        // until its timeout, which would make a wrong host hang for 30 s.
        let probe = tokio::time::timeout(Duration::from_secs(30), sqlx::PgConnection::connect(&url))
            .await
            .map_err(|_| fail(sqlx::Error::PoolTimedOut))?
            .map_err(fail)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .map_err(|e| Error::Source { source_kind: kind, target: target.clone(), message: connect_hint(&e) })?;
        Ok(Pgvector { kind, args, pool, address, target, plan: None, ahead: None })
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Source { source_kind: self.kind, target: self.target.clone(), message: message.into() }
    }

    fn sql_err(&self, what: &str, e: sqlx::Error) -> Error {
        self.err(format!("{what}: {}", describe_sql_error(&e)))
    }

    fn table_sql(&self) -> String {
        let table = self.args.table.as_deref().unwrap_or_default();
        match &self.args.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(table)),
            None => quote_ident(table),
        }
    }

    /// The same server and options, for `schema.table` (sharing the connection pool).
    fn for_table(&self, schema: &str, table: &str) -> Pgvector {
        Pgvector {
            kind: self.kind,
            args: Args { table: Some(table.to_owned()), schema: Some(schema.to_owned()), every: AllArgs::default(), ..self.args.clone() },
            pool: self.pool.clone(),
            address: self.address.clone(),
            target: format!("{schema}.{table} at {}", self.address),
            plan: None,
            ahead: None,
        }
    }

    /// Every table (and materialized view) with a vector, halfvec or
    /// sparsevec column, of `schema` or of every schema, described.
    async fn discover_tables(&self, schema: Option<&str>) -> Result<Vec<Discovered>> {
        let rows = sqlx::query(
            "SELECT DISTINCT n.nspname::text, c.relname::text, c.reltuples::float8 \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_type t ON t.oid = a.atttypid \
             WHERE t.typname IN ('vector', 'halfvec', 'sparsevec') AND a.attnum > 0 AND NOT a.attisdropped \
               AND c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND ($1::text IS NULL OR n.nspname = $1) \
             ORDER BY 1, 2",
        )
        .bind(schema)
        .persistent(false)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.sql_err("listing tables with vector columns", e))?;
        let mut out = Vec::new();
        for r in rows {
            let (schema, table, reltuples): (String, String, f64) = (r.get(0), r.get(1), r.get(2));
            let mut one = self.for_table(&schema, &table);
            let mut d = Discovered::of(&mut one, schema, table).await;
            d.rows_estimate = (reltuples >= 0.0).then_some(reltuples as u64);
            out.push(d);
        }
        Ok(out)
    }
}

fn describe_sql_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") | Some("28000") => format!("authentication failed ({}); check the user and password in --url", db.message()),
            Some("3D000") => format!("{}; check the database name in --url", db.message()),
            Some("42501") => format!("{}; the role needs SELECT on the table and USAGE on its schema", db.message()),
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        sqlx::Error::Io(io) => format!("cannot reach the server: {io}; check the host and port in --url and that PostgreSQL is running"),
        sqlx::Error::PoolTimedOut => "timed out connecting to the server; check the host and port in --url and the network".into(),
        sqlx::Error::Tls(t) => format!("TLS failed: {t}; try sslmode=disable for a local server, or fix the certificate"),
        other => other.to_string(),
    }
}

fn connect_hint(e: &sqlx::Error) -> String {
    format!("cannot connect: {}", describe_sql_error(e))
}

impl Source for Pgvector {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn address(&self) -> String {
        self.address.clone()
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.args).expect("args serialize")
    }

    async fn describe(&mut self) -> Result<Description> {
        let table = self.table_sql();
        // One transaction for the whole discovery, and unnamed statements
        // only: both needed behind transaction-mode poolers (pgbouncer,
        // Supabase port 6543), harmless on a direct connection.
        let mut tx = self.pool.begin().await.map_err(|e| self.sql_err("starting a transaction", e))?;
        // Resolve the table (and its real schema).
        let row = sqlx::query("SELECT n.nspname::text, c.relname::text, c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)")
            .bind(&table)
            .persistent(false).fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.sql_err("looking up the table", e))?;
        let Some(row) = row else {
            return Err(self.err(format!(
                "table {table} does not exist (or is not visible to this role); check --table and --schema"
            )));
        };
        let nsp: String = row.get(0);
        let rel: String = row.get(1);
        let reltuples: f64 = row.get(2);
        let qualified = format!("{}.{}", quote_ident(&nsp), quote_ident(&rel));
        self.target = format!("{nsp}.{rel} at {}", self.address);
        // Row level security hides rows without an error: say so up front.
        let rls: Option<String> = sqlx::query_scalar(
            "SELECT current_user::text FROM pg_class c, pg_roles r WHERE c.oid = $1::regclass AND r.rolname = current_user \
             AND c.relrowsecurity AND NOT (r.rolsuper OR r.rolbypassrls) AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))",
        )
        .bind(&qualified)
        .persistent(false)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.sql_err("checking row level security", e))?;

        let cols: Vec<Column> = sqlx::query(
            "SELECT a.attname::text, t.typname::text, format_type(a.atttypid, a.atttypmod), a.atttypmod, t.typcategory::text, tn.nspname::text \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace \
             WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(&qualified)
        .persistent(false).fetch_all(&mut *tx)
        .await
        .map_err(|e| self.sql_err("reading the columns", e))?
        .iter()
        .map(|r| Column { name: r.get(0), typname: r.get(1), format: r.get(2), typmod: r.get(3), category: r.get(4), typschema: r.get(5) })
        .collect();

        // --- id column
        let id_name = match &self.args.id_column {
            Some(c) => {
                let unique: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                     WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = $2",
                )
                .bind(&qualified)
                .bind(c)
                .persistent(false).fetch_one(&mut *tx)
                .await
                .map_err(|e| self.sql_err("checking the id column", e))?;
                if unique == 0 {
                    return Err(self.err(format!(
                        "--id-column {c} has no single-column unique index, so rows cannot be paged by it safely; \
                         create one (CREATE UNIQUE INDEX ON {qualified} ({})) or use the primary key",
                        quote_ident(c)
                    )));
                }
                c.clone()
            }
            None => {
                let pk: Vec<String> = sqlx::query_scalar(
                    "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum",
                )
                .bind(&qualified)
                .persistent(false).fetch_all(&mut *tx)
                .await
                .map_err(|e| self.sql_err("reading the primary key", e))?;
                match pk.len() {
                    1 => pk[0].clone(),
                    0 => {
                        return Err(self.err(format!(
                            "the table has no primary key, so it cannot be read in a stable, resumable order; \
                             add one (ALTER TABLE {qualified} ADD PRIMARY KEY (id)) or pass --id-column naming a column with a unique index"
                        )))
                    }
                    _ => {
                        return Err(self.err(format!(
                            "the primary key has several columns ({}); pass --id-column naming a single column with a unique index",
                            pk.join(", ")
                        )))
                    }
                }
            }
        };
        let id_col = cols.iter().find(|c| c.name == id_name).ok_or_else(|| self.err(format!("id column {id_name} does not exist")))?;
        // A unique index allows NULLs, and keyset paging would skip those rows.
        let nulls: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {qualified} WHERE {} IS NULL{}",
            quote_ident(&id_name),
            self.args.filter.as_deref().map(|f| format!(" AND ({f})")).unwrap_or_default()
        ))
        .persistent(false).fetch_one(&mut *tx)
        .await
        .map_err(|e| self.sql_err("checking the id column for NULLs", e))?;
        if nulls > 0 {
            return Err(self.err(format!(
                "{nulls} row(s) have a NULL {id_name}, so they cannot be identified; give them ids (or exclude them with --where \"{id_name} IS NOT NULL\") and make the column NOT NULL"
            )));
        }
        let id_kind = match id_col.typname.as_str() {
            "int2" | "int4" | "int8" => IdKind::Int,
            "text" | "varchar" | "bpchar" => IdKind::String,
            "uuid" => IdKind::Uuid,
            other => {
                return Err(self.err(format!(
                    "id column {id_name} has type {other}; supported id types are smallint, integer, bigint, text, varchar, char and uuid. \
                     Pass --id-column with a column of one of those types"
                )))
            }
        };

        // --- vector columns
        let is_vec = |c: &Column| matches!(c.typname.as_str(), "vector" | "halfvec" | "sparsevec");
        for wanted in &self.args.vector_columns {
            match cols.iter().find(|c| &c.name == wanted) {
                Some(c) if is_vec(c) => {}
                Some(c) => return Err(self.err(format!("--vector-column {wanted} has type {}, not vector, halfvec or sparsevec", c.format))),
                None => return Err(self.err(format!("--vector-column {wanted} does not exist"))),
            }
        }
        let vec_cols: Vec<&Column> = cols
            .iter()
            .filter(|c| is_vec(c) && (self.args.vector_columns.is_empty() || self.args.vector_columns.contains(&c.name)))
            .collect();
        if vec_cols.is_empty() {
            return Err(self.err("the table has no vector, halfvec or sparsevec column; check --table (is pgvector installed in this database?)"));
        }
        let indexes = self.indexes(&mut tx, &qualified).await?;
        let mut notes = Vec::new();
        if let Some(role) = rls {
            notes.push(format!(
                "row level security is on for {nsp}.{rel} and applies to role {role}: the export reads only the rows its policies let {role} see \
                 (an export of 0 rows may mean no policy allows SELECT); use a role with BYPASSRLS or add a SELECT policy to read them all"
            ));
        }
        let mut dense = Vec::new();
        let mut sparse = Vec::new();
        for c in &vec_cols {
            let dimension = if c.typmod > 0 {
                c.typmod as u32
            } else {
                let d = self.sample_dimension(&mut tx, &qualified, c).await?;
                notes.push(format!("column {} has no declared dimension; found {d} in the data", c.name));
                d
            };
            let on_col: Vec<&(String, String, String, String, String)> = indexes.iter().filter(|i| i.0 == c.name).collect();
            let metrics: Vec<Option<Metric>> = on_col.iter().map(|i| opclass_metric(&i.2)).collect();
            let metric = match metrics.first() {
                Some(first) if metrics.iter().all(|m| m == first) => *first,
                Some(_) => {
                    notes.push(format!("column {} has indexes with different metrics; choose one with `import --metric`", c.name));
                    None
                }
                None => {
                    notes.push(format!("column {} has no HNSW/IVFFlat index, so its metric is unknown; choose one with `import --metric`", c.name));
                    None
                }
            };
            let index = on_col.iter().find(|i| i.1 == "hnsw").or(on_col.first()).map(|i| index_params(&i.1, &i.3, &i.4));
            let (kind, element, prefix) = match c.typname.as_str() {
                "vector" => (VectorKind::Dense, ElementType::F32, "vec"),
                "halfvec" => (VectorKind::Dense, ElementType::F16, "vec"),
                _ => (VectorKind::Sparse, ElementType::F32, "sparse"),
            };
            let field = VectorField {
                name: c.name.clone(),
                column: format!("{prefix}:{}", c.name),
                kind,
                element,
                dimension,
                metric,
                index,
                source_type: Some(c.format.clone()),
            };
            if kind == VectorKind::Dense { dense.push(field) } else { sparse.push(field) }
        }

        // --- document column
        let is_text = |c: &Column| matches!(c.typname.as_str(), "text" | "varchar" | "bpchar");
        let doc_col: Option<&Column> = if self.args.no_document {
            None
        } else if let Some(d) = &self.args.document_column {
            let c = cols.iter().find(|c| &c.name == d).ok_or_else(|| self.err(format!("--document-column {d} does not exist")))?;
            if !is_text(c) || c.name == id_name {
                return Err(self.err(format!("--document-column {d} must be a text column other than the id (it is {})", c.format)));
            }
            Some(c)
        } else {
            DOCUMENT_NAMES
                .iter()
                .find_map(|n| cols.iter().find(|c| c.name.eq_ignore_ascii_case(n) && is_text(c) && c.name != id_name))
        };
        if let Some(d) = doc_col {
            notes.push(format!("column {} becomes the document", d.name));
        }

        // --- metadata columns
        let mut meta = Vec::new();
        let mut meta_fields = Vec::new();
        let mut meta_sql = Vec::new();
        for c in cols.iter() {
            if c.name == id_name || is_vec(c) || doc_col.is_some_and(|d| d.name == c.name) {
                continue;
            }
            let q = quote_ident(&c.name);
            let (decode, expr, json) = match (c.typname.as_str(), c.category.as_str()) {
                ("bool", _) => (Decode::Bool, q, "bool"),
                ("int2" | "int4" | "int8", _) => (Decode::Int, q, "int"),
                ("float4", _) => (Decode::Float4, q, "float"),
                ("float8", _) => (Decode::Float, q, "float"),
                ("text" | "varchar" | "bpchar" | "name", _) => (Decode::Text, q, "string"),
                ("uuid", _) => (Decode::Uuid, q, "string"),
                ("json", _) => (Decode::Json, q, "json"),
                ("jsonb", _) if !self.args.no_merge_jsonb => (Decode::JsonbMerged, q, "merged"),
                ("jsonb", _) => (Decode::Jsonb, q, "json"),
                (_, "A") => (Decode::Jsonb, format!("to_jsonb({q})"), "json"),
                _ => (Decode::Text, format!("{q}::text"), "string"),
            };
            meta.push(MetaCol { name: c.name.clone(), decode });
            meta_fields.push(MetadataField { name: c.name.clone(), source_type: c.format.clone(), json: json.into() });
            meta_sql.push(expr);
        }

        let id_sql = quote_ident(&id_name);
        let mut select = vec![id_sql.clone()];
        for f in dense.iter().chain(sparse.iter()) {
            let c = cols.iter().find(|c| c.name == f.name).expect("vector column");
            select.push(send_expr(c));
        }
        select.extend(meta_sql);
        if let Some(d) = doc_col {
            select.push(quote_ident(&d.name));
        }
        let filter = self.args.filter.clone();
        let select_sql = format!("SELECT {} FROM {qualified} WHERE ", select.join(", "));

        // Make sure the filter is valid before any chunk is written.
        if let Some(f) = &filter {
            sqlx::query(&format!("SELECT 1 FROM {qualified} WHERE ({f}) LIMIT 0"))
                .persistent(false).execute(&mut *tx)
                .await
                .map_err(|e| self.sql_err("checking --where", e))?;
        }

        self.plan = Some(Plan {
            select_sql,
            id_kind,
            id_type: id_col.format.clone(),
            id_sql,
            dense: dense.iter().map(|f| f.element).collect(),
            sparse_count: sparse.len(),
            meta,
            has_doc: doc_col.is_some(),
        });
        let mut vectors = dense;
        vectors.extend(sparse);
        Ok(Description {
            name: collection_name(&nsp, &rel),
            source_name: format!("{nsp}.{rel}"),
            schema: CollectionSchema {
                id: IdField { name: id_name.clone(), kind: id_kind, source_type: Some(id_col.format.clone()) },
                vectors,
                metadata: meta_fields,
                document: doc_col.map(|d| d.name.clone()),
            },
            filter,
            count_estimate: (reltuples >= 0.0).then_some(reltuples as u64),
            count_exact: false,
            count_is_statistic: true,
            notes,
        })
    }

    async fn next_page(&mut self, cursor: &Cursor, limit: usize) -> Result<Page> {
        let plan = self.plan.clone().expect("describe() runs before next_page()");
        let key = match cursor {
            Cursor::Start => None,
            Cursor::End => return Ok(Page { records: Vec::new(), next: None }),
            Cursor::Offset { .. } | Cursor::From { .. } | Cursor::AfterKeyAt { .. } | Cursor::Token { .. } => {
                return Err(self.err("internal: this cursor cannot resume a pgvector export"))
            }
            Cursor::AfterKey { key } => Some(key_text(key)),
        };
        // The page read ahead (see below) if it is the one asked for.
        let ahead = match self.ahead.take() {
            Some(a) if a.cursor == *cursor && a.limit == limit => Some(a.rows),
            Some(a) => {
                a.rows.abort();
                None
            }
            None => None,
        };
        let rows = match ahead {
            Some(task) => task.await.map_err(|e| self.err(format!("internal: reading ahead: {e}")))?,
            None => fetch_page(self.pool.clone(), self.page_sql(&plan, key.is_some(), limit), key.clone()).await,
        }
        .map_err(|e| self.sql_err("reading rows", e))?;
        let n = rows.len();
        let next = if n < limit {
            None
        } else {
            let last = rows.last().expect("a full page has rows");
            let id = decode_id(&plan, last).map_err(|e| self.err(e))?;
            Some(Cursor::AfterKey { key: id.to_json() })
        };
        // From the second page on, read the next page while this one is
        // decoded and written: PostgreSQL works while we do. (Not after the
        // first page: a dry run reads only that one.) The read is the same
        // query it would be later, one page and one transaction each.
        if key.is_some() {
            if let Some(c @ Cursor::AfterKey { key: next_key }) = &next {
                let task = tokio::spawn(fetch_page(self.pool.clone(), self.page_sql(&plan, true, limit), Some(key_text(next_key))));
                self.ahead = Some(Ahead { cursor: c.clone(), limit, rows: task });
            }
        }
        // Decoding is CPU work: do it on rayon, not on the async runtime.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let p = plan.clone();
        rayon::spawn(move || {
            let _ = tx.send(rows.iter().map(|r| decode_row(&p, r)).collect::<std::result::Result<Vec<Record>, String>>());
        });
        let records = rx.await.expect("decoder thread").map_err(|e| self.err(e))?;
        Ok(Page { records, next })
    }
}

/// A cursor key as the text bound to `CAST($1 AS <id type>)`.
fn key_text(key: &serde_json::Value) -> String {
    match key {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A page being read ahead: its cursor and size, and the read.
struct Ahead {
    cursor: Cursor,
    limit: usize,
    rows: tokio::task::JoinHandle<std::result::Result<Vec<PgRow>, sqlx::Error>>,
}

impl Drop for Pgvector {
    fn drop(&mut self) {
        if let Some(a) = self.ahead.take() {
            a.rows.abort();
        }
    }
}

/// One page: its own transaction, an unnamed statement (both needed behind
/// transaction-mode poolers).
async fn fetch_page(pool: PgPool, sql: String, key: Option<String>) -> std::result::Result<Vec<PgRow>, sqlx::Error> {
    let mut q = sqlx::query(&sql);
    if let Some(k) = &key {
        q = q.bind(k);
    }
    let mut tx = pool.begin().await?;
    let rows = q.persistent(false).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

impl Pgvector {
    /// The page query: rows after `$1` (when `after`) in id order, at most `limit`.
    fn page_sql(&self, plan: &Plan, after: bool, limit: usize) -> String {
        let mut sql = plan.select_sql.clone();
        if after {
            sql.push_str(&format!("{} > CAST($1 AS {})", plan.id_sql, plan.id_type));
        } else {
            sql.push_str("TRUE");
        }
        if let Some(f) = &self.args.filter {
            sql.push_str(&format!(" AND ({f})"));
        }
        sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", plan.id_sql));
        sql
    }
}

impl Pgvector {
    /// (column, access method, opclass, index name, reloptions) for HNSW/IVFFlat indexes.
    async fn indexes(&self, tx: &mut sqlx::PgConnection, qualified: &str) -> Result<Vec<(String, String, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT a.attname::text, am.amname::text, oc.opcname::text, ic.relname::text, coalesce(array_to_string(ic.reloptions, ','), '') \
             FROM pg_index i \
             JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
             JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[]) AS k(attnum, opc) ON true \
             JOIN pg_opclass oc ON oc.oid = k.opc \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1::regclass AND am.amname IN ('hnsw', 'ivfflat') ORDER BY ic.relname",
        )
        .bind(qualified)
        .persistent(false).fetch_all(&mut *tx)
        .await
        .map_err(|e| self.sql_err("reading the vector indexes", e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect())
    }

    async fn sample_dimension(&self, tx: &mut sqlx::PgConnection, qualified: &str, c: &Column) -> Result<u32> {
        let q = quote_ident(&c.name);
        let row = sqlx::query(&format!("SELECT {} FROM {qualified} WHERE {q} IS NOT NULL LIMIT 1", send_expr(c)))
            .persistent(false).fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.sql_err("sampling a vector", e))?;
        let Some(row) = row else {
            return Err(self.err(format!(
                "column {} declares no dimension and holds no vector, so its dimension is unknown; declare it ({}(N)) or pick other columns with --vector-column",
                c.name, c.typname
            )));
        };
        let raw = row.try_get_raw(0).map_err(|e| self.sql_err("sampling a vector", e))?;
        let b = raw.as_bytes().map_err(|e| self.err(e.to_string()))?;
        Ok(match c.typname.as_str() {
            "vector" => bin::vector(b).map_err(|e| self.err(e))?.len() as u32,
            "halfvec" => bin::halfvec(b).map_err(|e| self.err(e))?.len() as u32,
            _ => bin::sparsevec(b).map_err(|e| self.err(e))?.0,
        })
    }
}

/// A vector column as its binary send format, typed `bytea`: the bytes are
/// exactly what binary results would carry, and the driver needs no lookup
/// of the extension's types (such lookups prepare named statements, which
/// transaction-mode poolers cannot keep).
fn send_expr(c: &Column) -> String {
    format!("{}.{}({})", quote_ident(&c.typschema), quote_ident(&format!("{}_send", c.typname)), quote_ident(&c.name))
}

fn opclass_metric(opclass: &str) -> Option<Metric> {
    let suffix = opclass.rsplit_once('_').map(|(a, _)| a).unwrap_or(opclass); // drop "_ops"
    match suffix.rsplit_once('_').map(|(_, m)| m) {
        Some("cosine") => Some(Metric::Cosine),
        Some("l2") => Some(Metric::L2),
        Some("ip") => Some(Metric::Dot),
        Some("l1") => Some(Metric::L1),
        Some("hamming") => Some(Metric::Hamming),
        Some("jaccard") => Some(Metric::Jaccard),
        _ => None,
    }
}

/// pgvector defaults when an option is not set: hnsw m=16, ef_construction=64; ivfflat lists=100.
fn index_params(am: &str, name: &str, reloptions: &str) -> IndexParams {
    let opt = |k: &str| -> Option<u32> {
        reloptions.split(',').find_map(|kv| kv.split_once('=').filter(|(key, _)| *key == k).and_then(|(_, v)| v.parse().ok()))
    };
    let mut p = IndexParams { kind: am.to_owned(), name: Some(name.to_owned()), ..Default::default() };
    if am == "hnsw" {
        p.m = Some(opt("m").unwrap_or(16));
        p.ef_construction = Some(opt("ef_construction").unwrap_or(64));
    } else {
        p.lists = Some(opt("lists").unwrap_or(100));
    }
    p
}

/// The id of a row (its first column).
fn decode_id(plan: &Plan, row: &PgRow) -> std::result::Result<IdValue, String> {
    let raw = row.try_get_raw(0).map_err(|e| e.to_string())?;
    let idb = raw.as_bytes().map_err(|e| format!("id: {e}"))?;
    Ok(match plan.id_kind {
        IdKind::Int => IdValue::Int(bin::int(idb)?),
        IdKind::Uint => unreachable!("PostgreSQL has no unsigned ids"),
        IdKind::String => IdValue::Str(bin::text(idb)?),
        IdKind::Uuid => IdValue::Uuid(bin::uuid(idb)?),
    })
}

fn decode_row(plan: &Plan, row: &PgRow) -> std::result::Result<Record, String> {
    let id = decode_id(plan, row)?;
    let mut col = 1usize;
    let mut next = || {
        let v = row.try_get_raw(col).map_err(|e| e.to_string());
        col += 1;
        v
    };
    let ctx = |what: &str, e: String| format!("id {id}, column {what}: {e}");
    let mut dense = Vec::with_capacity(plan.dense.len());
    for el in &plan.dense {
        let raw = next()?;
        dense.push(if raw.is_null() {
            None
        } else {
            let b = raw.as_bytes().map_err(|e| e.to_string())?;
            Some(match el {
                ElementType::F32 => Dense::F32(bin::vector(b).map_err(|e| ctx("vector", e))?),
                ElementType::F16 => Dense::F16(bin::halfvec(b).map_err(|e| ctx("halfvec", e))?),
            })
        });
    }
    let mut sparse = Vec::with_capacity(plan.sparse_count);
    for _ in 0..plan.sparse_count {
        let raw = next()?;
        sparse.push(if raw.is_null() {
            None
        } else {
            Some(bin::sparsevec(raw.as_bytes().map_err(|e| e.to_string())?).map_err(|e| ctx("sparsevec", e))?.1)
        });
    }
    let mut metadata = serde_json::Map::new();
    for m in &plan.meta {
        let raw = next()?;
        if raw.is_null() {
            if let Some(prev) = metadata.insert(m.name.clone(), serde_json::Value::Null) {
                return Err(collision(&id, &m.name, &prev));
            }
            continue;
        }
        let b = raw.as_bytes().map_err(|e| e.to_string())?;
        let e = |e: String| ctx(&m.name, e);
        let value = match m.decode {
            Decode::Bool => bin::boolean(b).map_err(e)?.into(),
            Decode::Int => bin::int(b).map_err(e)?.into(),
            Decode::Float => bin::float_json(bin::float(b).map_err(e)?),
            Decode::Float4 => bin::float_json(bin::float4_shortest(b).map_err(e)?),
            Decode::Text => bin::text(b).map_err(e)?.into(),
            Decode::Uuid => bin::uuid(b).map_err(e)?.into(),
            Decode::Json => bin::json(b).map_err(e)?,
            Decode::Jsonb => bin::jsonb(b).map_err(e)?,
            Decode::JsonbMerged => match bin::jsonb(b).map_err(e)? {
                serde_json::Value::Object(obj) => {
                    for (k, v) in obj {
                        if metadata.contains_key(&k) {
                            return Err(format!(
                                "id {id}: key {k:?} of jsonb column {} collides with another metadata field; re-run with --no-merge-jsonb to keep jsonb columns under their own names",
                                m.name
                            ));
                        }
                        metadata.insert(k, v);
                    }
                    continue;
                }
                other => other,
            },
        };
        if let Some(prev) = metadata.insert(m.name.clone(), value) {
            return Err(collision(&id, &m.name, &prev));
        }
    }
    let document = if plan.has_doc {
        let raw = next()?;
        if raw.is_null() { None } else { Some(bin::text(raw.as_bytes().map_err(|e| e.to_string())?)?) }
    } else {
        None
    };
    Ok(Record { id, dense, sparse, metadata, document })
}

fn collision(id: &IdValue, name: &str, _prev: &serde_json::Value) -> String {
    format!("id {id}: column {name:?} collides with a key merged from a jsonb column; re-run with --no-merge-jsonb")
}

/// The snapshot collection name of `schema.table`: the table's name in
/// schema `public`, `<schema>.<table>` otherwise (the same for `--table`
/// and `--all`, so a table keeps its name in either kind of snapshot).
pub fn collection_name(schema: &str, table: &str) -> String {
    if schema == "public" { table.to_owned() } else { format!("{schema}.{table}") }
}

/// Every table (and materialized view) with a vector, halfvec or sparsevec
/// column, each described as `export pgvector` would see it.
pub async fn discover(url: &str) -> Result<Vec<Discovered>> {
    discover_in("pgvector", url, None).await
}

/// [`discover`] naming the source `kind` (`supabase`), only the tables of
/// `schema` when given (as `export --all --schema` would take them).
pub async fn discover_in(kind: &'static str, url: &str, schema: Option<&str>) -> Result<Vec<Discovered>> {
    let src = Pgvector::connect_as(kind, Args {
        url: Some(url.to_owned()),
        table: None,
        schema: None,
        every: AllArgs::default(),
        id_column: None,
        vector_columns: Vec::new(),
        document_column: None,
        no_document: false,
        no_merge_jsonb: false,
        filter: None,
    })
    .await?;
    src.discover_tables(schema).await
}

/// `--all`: one source per table that discovery finds exportable (sharing
/// one connection pool), and the tables left out with the reason. Sources
/// are in discovery order (schema, then table), so a re-run lists them alike.
pub async fn connect_all(kind: &'static str, args: Args) -> Result<(Vec<Pgvector>, Vec<Skipped>)> {
    let lister = Pgvector::connect_as(kind, Args { table: None, ..args.clone() }).await?;
    let found = lister.discover_tables(args.schema.as_deref()).await?;
    let (ok, skipped) = exportable(found, |d| collection_name(&d.schema, &d.table));
    Ok((ok.iter().map(|d| lister.for_table(&d.schema, &d.table)).collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opclasses() {
        assert_eq!(opclass_metric("vector_cosine_ops"), Some(Metric::Cosine));
        assert_eq!(opclass_metric("halfvec_l2_ops"), Some(Metric::L2));
        assert_eq!(opclass_metric("sparsevec_ip_ops"), Some(Metric::Dot));
        assert_eq!(opclass_metric("vector_l1_ops"), Some(Metric::L1));
        assert_eq!(opclass_metric("bit_hamming_ops"), Some(Metric::Hamming));
    }

    #[test]
    fn index_options() {
        let p = index_params("hnsw", "i", "m=24,ef_construction=200");
        assert_eq!((p.m, p.ef_construction), (Some(24), Some(200)));
        let p = index_params("hnsw", "i", "");
        assert_eq!((p.m, p.ef_construction), (Some(16), Some(64)));
        assert_eq!(index_params("ivfflat", "i", "lists=7").lists, Some(7));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
