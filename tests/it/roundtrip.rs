//! pgvector → snapshot → embedded VelesDB → validate, on awkward data.

use crate::common::*;

fn import(snap: &std::path::Path, db: &std::path::Path, coll: &str, extra: &[&str]) -> serde_json::Value {
    let mut a = vec!["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", coll];
    a.extend_from_slice(extra);
    ok_json(&a)
}

fn validate_strict(snap: &std::path::Path, db: &std::path::Path, coll: &str, extra: &[&str]) -> serde_json::Value {
    let mut a = vec!["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", coll, "--strict"];
    a.extend_from_slice(extra);
    let r = ok_json(&a);
    assert_eq!(r["ok"], true, "{r:#}");
    r
}

#[test]
fn text_ids_halfvec_sparsevec_and_lossless_metadata() {
    let t = table("awkward");
    psql(&format!(
        r#"CREATE TABLE {t} (id text PRIMARY KEY, embedding vector(4), h halfvec(4), s sparsevec(10),
              meta jsonb, big bigint, neg_zero float8, weird float8, price numeric, at timestamptz, tags int[], title text, content text);
           CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops) WITH (m = 12, ef_construction = 48);
           INSERT INTO {t} VALUES
            ('plain', '[1,2,3,4]', '[0.5,0.25,0.125,1]', '{{1:1.5,10:-2}}/10', '{{"a":{{"b":[1,null,"x"]}},"n":null}}', 9007199254740993, '-0'::float8, 'NaN', 12.50, '2024-01-02 03:04:05+00', '{{1,2}}', 'T1', 'hello'),
            ('with "quotes"', '[0,0,0,1]', NULL, NULL, NULL, -9223372036854775808, 0, 'Infinity', NULL, NULL, NULL, NULL, NULL),
            ('sl/ash\back', '[-1,-2,-3,-4]', '[65504,-65504,0.000061035156,0]', '{{2:3}}/10', '{{"deep":{{"deeper":{{"deepest":[{{}}]}}}}}}', 0, 1e-300, '-Infinity', -0.001, NULL, '{{}}', 'x', 'body'),
            ('spaces  and tabs', '[1,1,1,1]', '[1,1,1,1]', '{{}}/10', '{{}}', 1, 2, 3, 4, NULL, NULL, NULL, NULL),
            ('ünïcødé 🚀 文字', '[0.1,0.2,0.3,0.4]', '[0.1,0.2,0.3,0.4]', '{{5:0.5}}/10', '{{"emoji":"🚀"}}', 2, 3, 4, 5, NULL, NULL, NULL, 'doc'),
            ('42', '[4,2,4,2]', '[4,2,4,2]', NULL, NULL, 42, 42, 42, 42, NULL, NULL, NULL, NULL),
            ('042', '[0,4,2,0]', '[0,4,2,0]', NULL, NULL, 42, 42, 42, 42, NULL, NULL, NULL, NULL);"#
    ));
    let d = TestDir::new();
    let snap = d.path("snap");
    let s = export(&t, &snap, &["--chunk-rows", "3"]);
    assert_eq!(s["rows"], 7);
    assert_eq!(s["chunks"], 3);

    // The manifest describes the source faithfully.
    let m = manifest(&snap);
    let c = &m["collections"][0];
    assert_eq!(m["complete"], true);
    assert_eq!(c["schema"]["id"]["kind"], "string");
    let v = &c["schema"]["vectors"];
    assert_eq!(v[0]["name"], "embedding");
    assert_eq!(v[0]["dimension"], 4);
    assert_eq!(v[0]["metric"], "cosine");
    assert_eq!(v[0]["index"]["m"], 12);
    assert_eq!(v[0]["index"]["ef_construction"], 48);
    assert_eq!(v[1]["element"], "f16");
    assert_eq!(v[2]["kind"], "sparse");
    assert_eq!(v[2]["dimension"], 10);
    assert_eq!(c["schema"]["document"], "content");
    assert!(!m["source"]["address"].as_str().unwrap().contains("password"));

    // Chunks are in id order (PostgreSQL's collation order) and cover every row once.
    let ids: Vec<String> = psql(&format!("SELECT id FROM {t} ORDER BY id")).lines().map(str::to_owned).collect();
    let firsts: Vec<String> = c["chunks"].as_array().unwrap().iter().map(|k| k["first_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(firsts, vec![ids[0].clone(), ids[3].clone(), ids[6].clone()]);

    // Import the f32 vector, then validate every row bit for bit.
    let db = d.path("db");
    let i = import(&snap, &db, "docs", &["--vector", "embedding"]);
    assert_eq!(i["points_upserted"], 7);
    assert_eq!(i["collection_count"], 7);
    assert_eq!(i["settings"]["metric"], "cosine");
    assert_eq!(i["settings"]["hnsw_m"], 12);
    assert_eq!(i["dense_vectors_not_imported"], serde_json::json!(["h"]));
    let r = validate_strict(&snap, &db, "docs", &["--vector", "embedding"]);
    assert_eq!(r["rows_compared"], 7);
    assert!(r["not_compared"][0].as_str().unwrap().contains("sparse"));

    // The halfvec field into its own collection: NULL rows skipped and reported; f16 widened exactly.
    let i = import(&snap, &db, "docs_half", &["--vector", "h", "--metric", "dot", "--skip-null-vectors"]);
    assert_eq!(i["points_upserted"], 6);
    assert_eq!(i["skipped_null_vectors"], serde_json::json!(["with \"quotes\""]));
    validate_strict(&snap, &db, "docs_half", &["--vector", "h", "--skip-null-vectors"]);

    // Without --skip-null-vectors a NULL vector is an error naming the id.
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs_half2", "--vector", "h", "--metric", "dot"], 1);
    assert!(e.contains("with \\\"quotes\\\"") && e.contains("--skip-null-vectors"), "{e}");

    // An independent Parquet reader (pyarrow) reads every chunk and sees the exact values.
    let o = std::process::Command::new(python())
        .arg(repo().join("scripts/read_snapshot.py"))
        .arg(&snap)
        .output()
        .expect("run pyarrow reader");
    assert!(o.status.success(), "{}", text(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let got_ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let plain = rows.iter().find(|r| r["id"] == "plain").unwrap();
    assert_eq!(plain["vec:embedding"], serde_json::json!([1.0, 2.0, 3.0, 4.0]));
    assert_eq!(plain["vec:h"], serde_json::json!([0.5, 0.25, 0.125, 1.0]));
    assert_eq!(plain["sparse:s"], serde_json::json!({"indices": [0, 9], "values": [1.5, -2.0]}));
    assert_eq!(plain["document"], "hello");
    // The metadata column is the exact JSON text: 64-bit ints, -0.0, nested, nulls, NaN as a string.
    let meta = plain["metadata"].as_str().unwrap();
    for needle in ["\"big\":9007199254740993", "\"neg_zero\":-0.0", "\"weird\":\"NaN\"", "\"a\":{\"b\":[1,null,\"x\"]}", "\"n\":null", "\"price\":\"12.50\"", "\"tags\":[1,2]", "\"title\":\"T1\""] {
        assert!(meta.contains(needle), "{needle} not in {meta}");
    }
    let quotes = rows.iter().find(|r| r["id"] == "with \"quotes\"").unwrap();
    assert!(quotes["metadata"].as_str().unwrap().contains("\"big\":-9223372036854775808"));
    assert!(quotes["vec:h"].is_null());
}

#[test]
fn uuid_and_signed_integer_ids() {
    let t = table("uuids");
    psql(&format!(
        "CREATE TABLE {t} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), embedding vector(3), n int);
         INSERT INTO {t} (embedding, n) SELECT ARRAY[i, i * 2, i * 3]::real[]::vector, i FROM generate_series(1, 25) i;"
    ));
    let d = TestDir::new();
    let snap = d.path("snap");
    export(&t, &snap, &["--chunk-rows", "10"]);
    assert_eq!(manifest(&snap)["collections"][0]["schema"]["id"]["kind"], "uuid");
    let db = d.path("db");
    ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "u", "--metric", "l2"]);
    validate_strict(&snap, &db, "u", &[]);

    let t2 = table("ints");
    psql(&format!(
        "CREATE TABLE {t2} (id bigint PRIMARY KEY, embedding vector(2));
         INSERT INTO {t2} VALUES (-9223372036854775808, '[1,0]'), (-5, '[0,1]'), (0, '[1,1]'), (9223372036854775807, '[2,2]');"
    ));
    let snap2 = d.path("snap2");
    export(&t2, &snap2, &["--chunk-rows", "3"]);
    ok_json(&["import", snap2.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "i", "--metric", "l2"]);
    let r = validate_strict(&snap2, &db, "i", &[]);
    assert_eq!(r["actual_count"], 4);
}

#[test]
fn empty_table_and_exactly_one_chunk() {
    let t = table("empty");
    psql(&format!("CREATE TABLE {t} (id int PRIMARY KEY, embedding vector(5)); CREATE INDEX ON {t} USING hnsw (embedding vector_ip_ops);"));
    let d = TestDir::new();
    let snap = d.path("snap");
    let s = export(&t, &snap, &[]);
    assert_eq!(s["rows"], 0);
    assert_eq!(s["chunks"], 0);
    assert_eq!(manifest(&snap)["complete"], true);
    let db = d.path("db");
    let i = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "e"]);
    assert_eq!(i["created_collection"], true);
    assert_eq!(i["settings"]["metric"], "dot");
    assert_eq!(i["collection_count"], 0);
    validate_strict(&snap, &db, "e", &[]);

    let t1 = table("one");
    seed_vectors(&t1, 50, 8);
    let snap1 = d.path("snap1");
    let s = export(&t1, &snap1, &["--chunk-rows", "50"]);
    assert_eq!(s["chunks"], 1);
    assert_eq!(s["rows"], 50);
    ok_json(&["import", snap1.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "one"]);
    validate_strict(&snap1, &db, "one", &[]);
    // --where exports a subset and is recorded.
    let snap2 = d.path("snap2");
    let s = export(&t1, &snap2, &["--where", "n = 3"]);
    assert_eq!(s["rows"], 7);
    assert_eq!(manifest(&snap2)["collections"][0]["filter"], "n = 3");
}

#[test]
fn discover_lists_tables_as_an_export_would_see_them() {
    let s = table("disc");
    psql(&format!(
        "CREATE SCHEMA {s};
         CREATE TABLE {s}.good (id bigint PRIMARY KEY, embedding vector(3), title text);
         CREATE INDEX ON {s}.good USING hnsw (embedding vector_l2_ops) WITH (m = 10, ef_construction = 50);
         CREATE TABLE {s}.nokey (id int, v halfvec(2));"
    ));
    let url = pg_url();
    let found = ok_json(&["discover", "pgvector", "--url", &url]);
    let mine: Vec<&serde_json::Value> = found.as_array().unwrap().iter().filter(|t| t["schema"] == s.as_str()).collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let good = mine.iter().find(|t| t["table"] == "good").unwrap();
    assert_eq!(good["collection"]["id"]["kind"], "int");
    assert_eq!(good["collection"]["vectors"][0]["metric"], "l2");
    assert_eq!(good["collection"]["vectors"][0]["index"]["m"], 10);
    let nokey = mine.iter().find(|t| t["table"] == "nokey").unwrap();
    assert!(nokey["problem"].as_str().unwrap().contains("no primary key"), "{nokey}");
}
