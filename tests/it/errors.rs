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
