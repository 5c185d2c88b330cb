//! Supabase = PostgreSQL + pgvector behind a transaction-mode pooler. A real
//! pgbouncer in transaction mode stands in for port 6543: no named prepared
//! statements survive between transactions there.

use crate::common::*;

#[test]
fn export_through_a_transaction_pooler_equals_the_direct_export() {
    let t = table("pooled");
    psql(&format!(
        "CREATE TABLE {t} (id uuid PRIMARY KEY, embedding vector(6), h halfvec(6), s sparsevec(50), meta jsonb, content text);
         INSERT INTO {t}
           SELECT md5(i::text)::uuid,
                  ARRAY[i, i % 7, -i, 0.5, i / 3.0, 1]::real[]::vector,
                  ARRAY[1, 2, 3, 4, 5, i % 9]::real[]::halfvec,
                  ('{{' || (i % 50) + 1 || ':' || i || '}}/50')::sparsevec,
                  jsonb_build_object('i', i, 'nested', jsonb_build_object('x', i % 3)),
                  'text ' || i
           FROM generate_series(1, 2500) i;
         CREATE INDEX ON {t} USING hnsw (embedding vector_ip_ops);"
    ));
    let d = TestDir::new();
    let direct = d.path("direct");
    export(&t, &direct, &["--chunk-rows", "300"]);

    let pooler = PgBouncer::start();
    let snap = d.path("pooled");
    let o = snap.to_str().unwrap();
    // Killed and resumed through the pooler too.
    let args = ["--quiet", "export", "supabase", "--url", &pooler.url, "--table", &t, "--out", o, "--chunk-rows", "300"];
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    let (s, kills) = kill_repeatedly_then_finish(&args, 3, &committed);
    assert!(kills >= 1, "the pooled export was never interrupted");
    assert_eq!(s["rows"], 2500);
    assert_eq!(chunk_hashes(&snap), chunk_hashes(&direct), "the pooler changed the chunks");
    assert_eq!(manifest(&snap)["source"]["kind"], "supabase");

    let db = d.path("db");
    ok_json(&["import", o, "--to", db.to_str().unwrap(), "--collection", "c", "--vector", "embedding"]);
    let v = ok_json(&["validate", o, "--to", db.to_str().unwrap(), "--collection", "c", "--vector", "embedding", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // --project-ref without a password is a usage error naming the fix.
    let e = fails(&["export", "supabase", "--project-ref", "abcd", "--table", &t, "--out", d.path("x").to_str().unwrap()], 2);
    assert!(e.contains("--password") || e.contains("SUPABASE_DB_PASSWORD"), "{e}");
}

#[test]
fn discover_through_the_pooler_and_an_emitted_config() {
    let s = table("sbdisc");
    psql(&format!(
        "CREATE SCHEMA {s};
         CREATE TABLE {s}.documents (id uuid PRIMARY KEY, embedding vector(4), s sparsevec(30), meta jsonb, content text);
         INSERT INTO {s}.documents
           SELECT md5(i::text)::uuid, ARRAY[i, 1, 2, 3]::real[]::vector, ('{{' || (i % 30) + 1 || ':1}}/30')::sparsevec,
                  jsonb_build_object('i', i), 'text ' || i
           FROM generate_series(1, 25) i;
         CREATE INDEX ON {s}.documents USING hnsw (embedding vector_ip_ops);"
    ));
    let pooler = PgBouncer::start();
    let found = ok_json(&["discover", "supabase", "--url", &pooler.url, "--schema", &s]);
    let t = &found[0];
    assert_eq!((found.as_array().unwrap().len(), t["table"].as_str()), (1, Some("documents")), "{found:#}");
    let c = &t["collection"];
    assert_eq!(c["id"]["kind"], "uuid");
    let vectors: Vec<(&str, &str, u64)> =
        c["vectors"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v["kind"].as_str().unwrap(), v["dimension"].as_u64().unwrap())).collect();
    assert_eq!(vectors, [("embedding", "dense", 4), ("s", "sparse", 30)]);
    assert_eq!(c["vectors"][0]["metric"], "dot");
    assert_eq!((c["document"].as_str(), c["metadata"][0]["name"].as_str()), (Some("content"), Some("meta")));

    // The emitted config runs `export supabase` through the same pooler.
    let d = TestDir::new();
    let env = [("DATABASE_URL", pooler.url.as_str())];
    let (_, config, summary) = emit_validate_run(d.dir.path(), &["supabase", "--url", &pooler.url, "--schema", &s], &env);
    assert!(config.contains("\ncommand: export supabase\n") && config.contains("\nurl: ${DATABASE_URL}\n") && config.contains("\ntable: documents\n"), "{config}");
    assert_eq!(summary["rows"], 25, "{summary:#}");
    assert_eq!(manifest(&d.path("snapshot"))["source"]["kind"], "supabase");
    assert_eq!(manifest(&d.path("snapshot"))["collections"][0]["schema"], *c);

    // --project-ref without a password: the fix is named.
    let e = fails(&["discover", "supabase", "--project-ref", "abcd"], 2);
    assert!(e.contains("--password") || e.contains("SUPABASE_DB_PASSWORD"), "{e}");
}
