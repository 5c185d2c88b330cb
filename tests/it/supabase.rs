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
