//! Bad input gets a clear error, names what is wrong and writes nothing.

use crate::common::*;

#[test]
fn table_without_primary_key_is_refused_with_the_fix() {
    let t = table("nopk");
    psql(&format!("CREATE TABLE {t} (id int, embedding vector(2)); INSERT INTO {t} VALUES (1, '[1,2]');"));
    let d = TestDir::new();
    let url = pg_url();
    let e = fails(&["export", "pgvector", "--url", &url, "--table", &t, "--out", d.path("s").to_str().unwrap()], 1);
    assert!(e.contains("no primary key") && e.contains("ADD PRIMARY KEY") && e.contains("--id-column"), "{e}");
    // --id-column without a unique index is refused too.
    let e = fails(&["export", "pgvector", "--url", &url, "--table", &t, "--id-column", "id", "--out", d.path("s").to_str().unwrap()], 1);
    assert!(e.contains("unique index"), "{e}");
    // With a unique index it works.
    psql(&format!("CREATE UNIQUE INDEX ON {t} (id);"));
    let s = export(&t, &d.path("s2"), &["--id-column", "id"]);
    assert_eq!(s["rows"], 1);
}

#[test]
fn connection_problems_are_explained() {
    let d = TestDir::new();
    let out = d.path("s");
    let o = out.to_str().unwrap();
    let e = fails(&["export", "pgvector", "--url", "postgres://postgres:secret@127.0.0.1:1/postgres", "--table", "x", "--out", o], 1);
    assert!(e.contains("cannot reach the server") || e.contains("cannot connect"), "{e}");
    assert!(!e.contains("secret"), "password leaked: {e}");
    let base = pg_url();
    let bad_db = format!("{}_no_such_db", base);
    let e = fails(&["export", "pgvector", "--url", &bad_db, "--table", "x", "--out", o], 1);
    assert!(e.contains("does not exist") && e.contains("database name"), "{e}");
    let e = fails(&["export", "pgvector", "--url", &base, "--table", "no_such_table_here", "--out", o], 1);
    assert!(e.contains("does not exist") && e.contains("--table"), "{e}");
    assert!(!out.exists(), "nothing must be written on failure");
    // Usage errors exit 2.
    fails(&["export", "pgvector", "--table", "x"], 2);
}

#[test]
fn hashed_id_collision_is_detected_and_nothing_is_written() {
    // "abc" hashes to FNV-1a 64(abc); the decimal text of that number maps to the same id.
    let h = velesdb_core::hash_id_bytes(b"abc");
    let t = table("collide");
    psql(&format!("CREATE TABLE {t} (id text PRIMARY KEY, embedding vector(2)); INSERT INTO {t} VALUES ('abc', '[1,0]'), ('{h}', '[0,1]');"));
    let d = TestDir::new();
    let snap = d.path("snap");
    export(&t, &snap, &[]);
    let db = d.path("db");
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c", "--metric", "l2"], 1);
    assert!(e.contains("\"abc\"") && e.contains(&h.to_string()) && e.contains("collision"), "{e}");
    assert!(!db.join("c").exists(), "the collection must not be created");
}

#[test]
fn existing_collection_with_other_dimension_is_refused() {
    let (a, b) = (table("dim_a"), table("dim_b"));
    seed_vectors(&a, 10, 4);
    seed_vectors(&b, 10, 6);
    let d = TestDir::new();
    export(&a, &d.path("a"), &[]);
    export(&b, &d.path("b"), &[]);
    let db = d.path("db");
    ok_json(&["import", d.path("a").to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"]);
    let e = fails(&["import", d.path("b").to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"], 1);
    assert!(e.contains("dimension 4") && e.contains("dimension 6") && e.contains("--collection"), "{e}");
}

#[test]
fn jsonb_key_colliding_with_a_column_is_reported() {
    let t = table("jsonbclash");
    psql(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, embedding vector(2), title text, meta jsonb);
         INSERT INTO {t} VALUES (7, '[1,2]', 't', '{{\"title\": \"other\"}}');"
    ));
    let d = TestDir::new();
    let url = pg_url();
    let out = d.path("s");
    let e = fails(&["export", "pgvector", "--url", &url, "--table", &t, "--out", out.to_str().unwrap()], 1);
    assert!(e.contains("id 7") && e.contains("title") && e.contains("--no-merge-jsonb"), "{e}");
    let s = export(&t, &d.path("s2"), &["--no-merge-jsonb"]);
    assert_eq!(s["rows"], 1);
}

#[test]
fn wrong_password_is_explained_without_leaking_it() {
    psql(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vm_password_user') THEN
             CREATE ROLE vm_password_user LOGIN PASSWORD 'right-password';
           END IF;
         END $$;",
    );
    let d = TestDir::new();
    let port = pg_url().rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    let url = format!("postgres://vm_password_user:wrong-pw-123@127.0.0.1:{port}/postgres");
    let e = fails(&["export", "pgvector", "--url", &url, "--table", "x", "--out", d.path("s").to_str().unwrap()], 1);
    assert!(e.contains("authentication failed") && e.contains("password"), "{e}");
    assert!(!e.contains("wrong-pw-123"), "password leaked: {e}");
}

#[test]
fn vectors_of_mixed_dimensions_are_refused_naming_the_row() {
    let t = table("mixeddim");
    psql(&format!("CREATE TABLE {t} (id int PRIMARY KEY, embedding vector); INSERT INTO {t} VALUES (1, '[1,2,3]'), (2, '[1,2,3,4]');"));
    let d = TestDir::new();
    let url = pg_url();
    let e = fails(&["export", "pgvector", "--url", &url, "--table", &t, "--out", d.path("s").to_str().unwrap()], 1);
    assert!(e.contains("id 2") && e.contains("4 dimensions") && e.contains("declared with 3"), "{e}");
}

#[test]
fn duplicate_ids_in_a_snapshot_are_refused() {
    // Build a snapshot whose two chunks hold the same string id, with the library.
    use velesdb_migrate::model::*;
    use velesdb_migrate::snapshot::{write_chunk, CollectionEntry, Manifest, SourceInfo, Totals};
    let d = TestDir::new();
    let snap = d.path("snap");
    std::fs::create_dir_all(&snap).unwrap();
    let schema = CollectionSchema {
        id: IdField { name: "id".into(), kind: IdKind::String, source_type: None },
        vectors: vec![VectorField {
            name: "v".into(),
            column: "vec:v".into(),
            kind: VectorKind::Dense,
            element: ElementType::F32,
            dimension: 2,
            metric: Some(Metric::L2),
            index: None,
            source_type: None,
        }],
        metadata: vec![],
        document: None,
    };
    let rec = |id: &str| Record { id: IdValue::Str(id.into()), dense: vec![Some(Dense::F32(vec![1.0, 2.0]))], sparse: vec![], metadata: Default::default(), document: None };
    let mut m = Manifest::new(SourceInfo { kind: "test".into(), address: "-".into(), options: serde_json::json!({}) });
    let mut c = CollectionEntry { name: "dup".into(), source_name: "dup".into(), schema: schema.clone(), filter: None, chunk_rows: 2, source_count: None, chunks: vec![], totals: Totals::default(), complete: true };
    c.push_chunk(write_chunk(&snap, "dup", &schema, 0, &[rec("a"), rec("b")], Cursor::AfterKey { key: "b".into() }).unwrap());
    c.push_chunk(write_chunk(&snap, "dup", &schema, 1, &[rec("b")], Cursor::End).unwrap());
    m.collections.push(c);
    m.complete = true;
    m.save(&snap).unwrap();
    let db = d.path("db");
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"], 1);
    assert!(e.contains("\"b\" appears twice") && e.contains("000000.parquet") && e.contains("000001.parquet"), "{e}");
}

#[test]
fn data_directory_open_elsewhere_is_explained() {
    let t = table("locked");
    seed_vectors(&t, 5, 2);
    let d = TestDir::new();
    let snap = d.path("snap");
    export(&t, &snap, &[]);
    let db = d.path("db");
    let _held = velesdb_core::Database::open(&db).unwrap(); // this test process holds the lock
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"], 1);
    assert!(e.contains("another process") && e.contains("velesdb-server"), "{e}");
}

#[test]
fn usage_errors_with_json_are_json_too() {
    let o = run(&["--json", "export", "pgvector", "--table", "x", "--bogus-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    assert_eq!(v["error"]["code"], "VM-USAGE", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("--bogus-flag"), "{v}");
    // Without --json clap prints its own message and nothing goes to stdout.
    let o = run(&["export", "pgvector", "--table", "x", "--bogus-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty() && String::from_utf8_lossy(&o.stderr).contains("--bogus-flag"), "{}", text(&o));
}

#[test]
fn row_level_security_that_hides_rows_is_announced() {
    let t = table("rls");
    let role = format!("{t}_reader");
    psql(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, embedding vector(2)); INSERT INTO {t} VALUES (1, '[1,2]'), (2, '[3,4]');
         ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
         CREATE ROLE {role} LOGIN; GRANT SELECT ON {t} TO {role};"
    ));
    let d = TestDir::new();
    let url = pg_url().replacen("postgres@", &format!("{role}@"), 1);
    let o = run(&["export", "pgvector", "--url", &url, "--table", &t, "--out", d.path("s").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("row level security is on") && err.contains(&format!("applies to role {role}")) && err.contains("BYPASSRLS"), "{}", text(&o));
    assert_eq!(manifest(&d.path("s"))["collections"][0]["totals"]["rows"], 0);
    // The owner (postgres, a superuser) is not subject to it: no note, every row.
    let o = run(&["export", "pgvector", "--url", &pg_url(), "--table", &t, "--out", d.path("s2").to_str().unwrap()]);
    assert!(o.status.success() && !String::from_utf8_lossy(&o.stderr).contains("row level security"), "{}", text(&o));
    assert_eq!(manifest(&d.path("s2"))["collections"][0]["totals"]["rows"], 2);
    psql(&format!("DROP TABLE {t}; DROP ROLE {role};"));
}
