//! Issue 7: `diff` between two snapshots, whole-source snapshots
//! (`export pgvector --all`, `import`/`validate` of every collection or
//! `--only`), and reproducible manifests. Against the real PostgreSQL.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;

/// `diff --json` with its exit code.
fn diff(a: &Path, b: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["--json", "--quiet", "diff", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), v, String::from_utf8_lossy(&o.stderr).to_string())
}

/// The manifest without the fields that hold the time of the export.
fn manifest_without_times(dir: &Path) -> Value {
    let mut m = manifest(dir);
    let o = m.as_object_mut().unwrap();
    assert!(o.remove("created_at").is_some() && o.remove("updated_at").is_some());
    m
}

/// (collection, file, blake3) of every chunk of every collection.
fn all_chunk_hashes(dir: &Path) -> Vec<(String, String, String)> {
    let m = manifest(dir);
    let mut out = Vec::new();
    for c in m["collections"].as_array().unwrap() {
        for k in c["chunks"].as_array().unwrap() {
            out.push((c["name"].as_str().unwrap().into(), k["file"].as_str().unwrap().into(), k["blake3"].as_str().unwrap().into()));
        }
    }
    out
}

fn ids(v: &Value) -> Vec<Value> {
    v.as_array().unwrap().clone()
}

#[test]
fn diff_names_added_removed_and_changed_ids_with_their_parts() {
    let t = table("diff");
    psql(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, embedding vector(3), n int, content text);
         INSERT INTO {t} SELECT i, ARRAY[i, -i, 0.5]::real[]::vector, i % 7, 'doc ' || i FROM generate_series(1, 50) i;"
    ));
    let d = TestDir::new();
    let (a, a2, b) = (d.path("a"), d.path("a2"), d.path("b"));
    export(&t, &a, &["--chunk-rows", "10"]);
    export(&t, &a2, &["--chunk-rows", "10"]);

    // Two exports of the same rows: identical, every chunk pair skipped (hash-checked, not decoded).
    let (code, r, err) = diff(&a, &a2, &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["identical"], true);
    assert_eq!(r["collections"][0]["unchanged"], 50);
    assert_eq!(r["collections"][0]["chunks_skipped"], 5);

    psql(&format!(
        "INSERT INTO {t} VALUES (51, '[51,-51,0.5]', 1, 'new'), (52, '[52,-52,0.5]', 2, 'new');
         DELETE FROM {t} WHERE id IN (5, 20);
         UPDATE {t} SET embedding = '[7,-7,0.25]' WHERE id = 7;
         UPDATE {t} SET n = 100 WHERE id = 8;
         UPDATE {t} SET content = 'changed' WHERE id = 9;
         UPDATE {t} SET embedding = '[10,-10,-0]', n = NULL WHERE id = 10;
         UPDATE {t} SET embedding = '[40,-40,0.5]', content = content WHERE id = 40;"
    ));
    export(&t, &b, &["--chunk-rows", "10"]);
    let (code, r, err) = diff(&a, &b, &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let c = &r["collections"][0];
    assert_eq!(r["identical"], false);
    assert_eq!((c["added"].as_u64(), c["removed"].as_u64(), c["changed"].as_u64(), c["unchanged"].as_u64()), (Some(2), Some(2), Some(4), Some(44)));
    assert_eq!(ids(&c["added_ids"]), [json!(51), json!(52)]);
    assert_eq!(ids(&c["removed_ids"]), [json!(5), json!(20)]);
    assert_eq!(
        c["changed_ids"],
        json!([
            {"id": 7, "parts": ["vector:embedding"]},
            {"id": 8, "parts": ["metadata"]},
            {"id": 9, "parts": ["document"]},
            {"id": 10, "parts": ["vector:embedding", "metadata"]}
        ])
    );
    assert_eq!(c["changed_parts"], json!({"document": 1, "metadata": 2, "vector:embedding": 2}));
    assert_eq!(c["other_changes"], json!([]));
    assert_eq!(c["ids_truncated"], false);

    // --ids-limit keeps the counts exact and lists the first ids only.
    let (code, r, _) = diff(&a, &b, &["--ids-limit", "1"]);
    assert_eq!(code, 1);
    let c = &r["collections"][0];
    assert_eq!((ids(&c["added_ids"]), ids(&c["removed_ids"]), c["changed_ids"].as_array().unwrap().len()), (vec![json!(51)], vec![json!(5)], 1));
    assert_eq!((c["added"].as_u64(), c["changed"].as_u64(), &c["ids_truncated"]), (Some(2), Some(4), &json!(true)));

    // The human form, and the reverse direction.
    let o = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.contains("2 added, 2 removed, 4 changed") && out.contains("+ 51, 52") && out.contains("10 (vector:embedding, metadata)"), "{out}");
    let (_, r, _) = diff(&b, &a, &[]);
    assert_eq!(ids(&r["collections"][0]["added_ids"]), [json!(5), json!(20)]);

    // A damaged chunk is an error (exit 2) naming the snapshot's chunk file.
    let bad = d.path("bad");
    std::fs::create_dir_all(bad.join("chunks")).unwrap();
    std::fs::copy(b.join("manifest.json"), bad.join("manifest.json")).unwrap();
    let name = manifest(&b)["collections"][0]["name"].as_str().unwrap().to_owned();
    let cdir = bad.join("chunks").join(&name);
    std::fs::create_dir_all(&cdir).unwrap();
    for e in std::fs::read_dir(b.join("chunks").join(&name)).unwrap().flatten() {
        std::fs::copy(e.path(), cdir.join(e.file_name())).unwrap();
    }
    let victim = cdir.join("000002.parquet");
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&victim, bytes).unwrap();
    let (code, r, err) = diff(&a, &bad, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}/chunks/{name}/000002.parquet", bad.display())) && err.contains("blake3"), "{err}");
    assert_eq!(r["error"]["code"], "VM-CHUNK");

    // Snapshots whose ids are of another kind are refused, not compared.
    psql(&format!(
        "DROP TABLE {t}; CREATE TABLE {t} (id text PRIMARY KEY, embedding vector(3), n int, content text);
         INSERT INTO {t} VALUES ('1', '[1,-1,0.5]', 1, 'doc 1');"
    ));
    let text_ids = d.path("text");
    export(&t, &text_ids, &[]);
    let (code, _, err) = diff(&a, &text_ids, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("id kinds differ"), "{err}");
    // Usage errors exit 2 too; so does a missing snapshot.
    assert_eq!(diff(&a, &b, &["--only", "nope"]).0, 2);
    assert_eq!(diff(&a, &d.path("missing"), &[]).0, 2);
}

/// Peak RSS of `diff` over two snapshot pairs whose sizes differ 5×: it must
/// not grow with the rows (it holds one chunk per side, not the snapshots).
#[test]
fn diff_memory_does_not_grow_with_the_snapshot() {
    let d = TestDir::new();
    let mut peaks = Vec::new();
    for rows in [40_000, 200_000] {
        let t = table("diffmem");
        psql(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, embedding vector(4), tag text);
             INSERT INTO {t} SELECT i, ARRAY[i % 97, i % 89, i % 83, 1]::real[]::vector, 't' || (i % 13) FROM generate_series(1, {rows}) i;"
        ));
        let (a, b) = (d.path(&format!("a{rows}")), d.path(&format!("b{rows}")));
        export(&t, &a, &["--chunk-rows", "2000"]);
        // Deleting the first row shifts every chunk boundary: nothing can be skipped.
        psql(&format!("DELETE FROM {t} WHERE id = 1; UPDATE {t} SET tag = 'x' WHERE id % 10000 = 0;"));
        export(&t, &b, &["--chunk-rows", "2000"]);
        let started = std::time::Instant::now();
        let (code, r, err) = diff(&a, &b, &["--ids-limit", "5"]);
        assert_eq!(code, 1, "{err}");
        let c = &r["collections"][0];
        assert_eq!((c["removed"].as_u64(), c["changed"].as_u64(), c["chunks_skipped"].as_u64()), (Some(1), Some(rows / 10_000), Some(0)));
        assert_eq!(c["unchanged"].as_u64(), Some(rows - 1 - rows / 10_000));
        let peak = r["peak_rss_bytes"].as_u64().unwrap();
        eprintln!("diff of 2 x {rows} rows: peak RSS {:.1} MiB, {:.2} s", peak as f64 / 1048576.0, started.elapsed().as_secs_f64());
        peaks.push(peak);
        psql(&format!("DROP TABLE {t}"));
    }
    let (small, large) = (peaks[0], peaks[1]);
    assert!(large < 64 << 20, "peak RSS {large} bytes for 200 000 rows");
    assert!(large <= small + (8 << 20), "peak RSS grew with the rows: {small} → {large} bytes");
}

/// Three exportable tables (bigint/text/uuid ids, different dimensions and
/// metrics) and one without a primary key, in a schema of their own.
fn seed_schema() -> String {
    let s = table("mall");
    psql(&format!(
        "CREATE SCHEMA {s};
         CREATE TABLE {s}.alpha (id bigint PRIMARY KEY, embedding vector(8), n int);
         INSERT INTO {s}.alpha SELECT i, (SELECT array_agg(((i * 7 + j) % 11)::real) FROM generate_series(1, 8) j)::vector, i FROM generate_series(1, 300) i;
         CREATE INDEX ON {s}.alpha USING hnsw (embedding vector_cosine_ops);
         CREATE TABLE {s}.beta (id text PRIMARY KEY, v vector(3), content text);
         INSERT INTO {s}.beta SELECT 'b-' || i, ARRAY[i, 1, 2]::real[]::vector, 'text ' || i FROM generate_series(1, 120) i;
         CREATE INDEX ON {s}.beta USING hnsw (v vector_l2_ops);
         CREATE TABLE {s}.gamma (id uuid PRIMARY KEY, e vector(16), meta jsonb);
         INSERT INTO {s}.gamma SELECT md5(i::text)::uuid, (SELECT array_agg(((i + j) % 5)::real + 1) FROM generate_series(1, 16) j)::vector, jsonb_build_object('k', i) FROM generate_series(1, 200) i;
         CREATE INDEX ON {s}.gamma USING hnsw (e vector_ip_ops);
         CREATE TABLE {s}.nokey (id bigint, embedding vector(3));
         INSERT INTO {s}.nokey VALUES (1, '[1,2,3]');"
    ));
    s
}

#[test]
fn export_all_tables_into_one_snapshot_then_import_all_or_only_one() {
    let s = seed_schema();
    let d = TestDir::new();
    let url = pg_url();
    let reference = d.path("ref");
    let export_all = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["--quiet", "export", "pgvector", "--url", &url, "--all", "--schema", &s, "--out", out.to_str().unwrap(), "--chunk-rows", "40"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let args = export_all(&reference, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&[&["--json"], &args[..]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["rows"], 620);
    assert_eq!(summary["skipped"][0]["collection"], format!("{s}.nokey"));
    assert!(summary["skipped"][0]["problem"].as_str().unwrap().contains("no primary key"), "{summary:#}");
    let m = manifest(&reference);
    let names: Vec<&str> = m["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, [format!("{s}.alpha"), format!("{s}.beta"), format!("{s}.gamma")]);
    let kinds: Vec<&str> = m["collections"].as_array().unwrap().iter().map(|c| c["schema"]["id"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["int", "string", "uuid"]);
    assert_eq!(m["complete"], true);
    // The warning names the table left out (without --quiet).
    let o = run(&["export", "pgvector", "--url", &url, "--all", "--schema", &s, "--out", d.path("loud").to_str().unwrap(), "--chunk-rows", "40"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("warning: {s}.nokey ({s}.nokey) is left out")), "{}", text(&o));

    // --strict refuses before writing anything; --all excludes --table.
    let strict = d.path("strict");
    let e = fails(&["export", "pgvector", "--url", &url, "--all", "--schema", &s, "--strict", "--out", strict.to_str().unwrap()], 2);
    assert!(e.contains("--strict") && e.contains("nokey") && e.contains("nothing was exported"), "{e}");
    assert!(!strict.join("manifest.json").exists());
    fails(&["export", "pgvector", "--url", &url, "--all", "--table", "x", "--out", strict.to_str().unwrap()], 2);

    // Killed at random and resumed: the same chunks, and a manifest identical but for its times.
    let snap = d.path("snap");
    let args = export_all(&snap, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"].as_array().unwrap().iter().map(|c| c["chunks"].as_array().unwrap().len()).sum());
    let (r, kills) = kill_repeatedly_then_finish(&args, 6, &committed);
    eprintln!("export --all killed {kills} time(s) before completing");
    assert!(kills >= 1, "the export was never interrupted; the test proved nothing");
    assert_eq!(r["rows"], 620);
    assert_eq!(all_chunk_hashes(&snap), all_chunk_hashes(&reference));
    assert_eq!(all_chunk_hashes(&snap).len(), 8 + 3 + 5);
    assert_eq!(manifest_without_times(&snap), manifest_without_times(&reference));
    let (code, r, err) = diff(&reference, &snap, &[]);
    assert_eq!((code, &r["identical"]), (0, &json!(true)), "{err}");

    // Import every collection, each into a VelesDB collection of its own name ('.' → '_').
    let db = d.path("db");
    let i = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap()]);
    let got: Vec<(String, u64)> =
        i["collections"].as_array().unwrap().iter().map(|c| (c["collection"].as_str().unwrap().to_owned(), c["collection_count"].as_u64().unwrap())).collect();
    assert_eq!(got, [(format!("{s}_alpha"), 300), (format!("{s}_beta"), 120), (format!("{s}_gamma"), 200)]);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--strict"]);
    for c in v["collections"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{c:#}");
    }
    assert_eq!(v["collections"].as_array().unwrap().len(), 3);
    // Run again: every chunk is already in the journals of the three collections.
    let again = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap()]);
    for c in again["collections"].as_array().unwrap() {
        assert_eq!(c["chunks_imported"], 0, "{c:#}");
    }

    // --only one collection, into a collection named with --collection.
    let db2 = d.path("db2");
    let beta = format!("{s}.beta");
    let i = ok_json(&["import", snap.to_str().unwrap(), "--to", db2.to_str().unwrap(), "--only", &beta, "--collection", "just_beta"]);
    assert_eq!((&i["collection"], &i["points_upserted"]), (&json!("just_beta"), &json!(120)));
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db2.to_str().unwrap(), "--only", &beta, "--collection", "just_beta", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
    assert!(!db2.join(format!("{s}_alpha")).exists(), "only the chosen collection is imported");
    // --collection names one destination: refused with several collections; unknown names refused.
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db2.to_str().unwrap(), "--collection", "x"], 2);
    assert!(e.contains("--only NAME"), "{e}");
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db2.to_str().unwrap(), "--only", "nope"], 2);
    assert!(e.contains("no such collection"), "{e}");
    psql(&format!("DROP SCHEMA {s} CASCADE"));
}

/// Two exports of the same unchanged rows give identical manifests but for
/// `created_at`/`updated_at`, even when PostgreSQL's statistics change in
/// between (ANALYZE changes `reltuples`, which is therefore not recorded).
#[test]
fn manifests_of_unchanged_data_are_identical_but_for_times() {
    let t = table("repro");
    // No index: PostgreSQL has no row estimate for the table until ANALYZE.
    psql(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, embedding vector(8), meta jsonb, score float8);
         INSERT INTO {t} SELECT i, (SELECT array_agg((i * j % 17) / 16.0)::real[] FROM generate_series(1, 8) j)::vector,
                                jsonb_build_object('z', i, 'a', 'x' || i, 'm', jsonb_build_object('q', i % 3, 'b', 0.1)), i / 3.0
         FROM generate_series(1, 1500) i;"
    ));
    let d = TestDir::new();
    let (a, b) = (d.path("a"), d.path("b"));
    export(&t, &a, &["--chunk-rows", "400"]);
    psql(&format!("ANALYZE {t}"));
    export(&t, &b, &["--chunk-rows", "400"]);
    assert_eq!(manifest_without_times(&a), manifest_without_times(&b));
    assert_eq!(chunk_hashes(&a).len(), 4);
    // Byte for byte, once the two time fields are set equal.
    let (ma, mb) = (std::fs::read_to_string(a.join("manifest.json")).unwrap(), std::fs::read_to_string(b.join("manifest.json")).unwrap());
    let times = |m: &str| -> Vec<String> { m.lines().filter(|l| l.contains("\"created_at\"") || l.contains("\"updated_at\"")).map(str::to_owned).collect() };
    let mut mb2 = mb.clone();
    for (x, y) in times(&mb).iter().zip(times(&ma)) {
        mb2 = mb2.replace(x, &y);
    }
    assert_eq!(ma, mb2);
}

/// Names and row counts of a snapshot's collections.
fn collections(dir: &Path) -> Vec<(String, u64)> {
    let m = manifest(dir);
    m["collections"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap().to_owned(), c["totals"]["rows"].as_u64().unwrap())).collect()
}

/// `export SOURCE --url URL --all`; checks the rows and the collections (sorted by name).
fn export_all_of(source: &str, url: &str, out: &Path, chunk_rows: &str, want: &[(&str, u64)]) {
    let s = ok_json(&["export", source, "--url", url, "--all", "--out", out.to_str().unwrap(), "--chunk-rows", chunk_rows]);
    assert_eq!(s["rows"].as_u64(), Some(want.iter().map(|w| w.1).sum()));
    let mut got = collections(out);
    got.sort();
    assert_eq!(got, want.iter().map(|(n, r)| (n.to_string(), *r)).collect::<Vec<_>>());
}

/// Qdrant `--all`, and `diff` on ids that are not in byte order: the mixed
/// u64/UUID ids of a Qdrant collection are exported as strings in Qdrant's
/// order (numbers numerically, then UUIDs), so diff sorts them on disk.
#[test]
fn export_all_from_qdrant_and_diff_ids_out_of_byte_order() {
    let d = TestDir::new();
    let q = QdrantEmulator::start(&d.path("qdrant"), None);
    assert_eq!(q.peer(&["named", "docs", "250"]).trim(), "250");
    assert_eq!(q.peer(&["plain", "nums", "300"]).trim(), "300");
    let all = d.path("all");
    export_all_of("qdrant", &q.url, &all, "70", &[("docs", 250), ("nums", 300)]);

    // The same collection exported alone with other chunks: matched by id, not by chunk.
    let one = d.path("one");
    ok_json(&["export", "qdrant", "--url", &q.url, "--collection", "docs", "--out", one.to_str().unwrap(), "--chunk-rows", "40"]);
    let (code, r, err) = diff(&one, &all, &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let docs = r["collections"].as_array().unwrap().iter().find(|c| c["name"] == "docs").unwrap();
    assert_eq!((docs["unchanged"].as_u64(), docs["added"].as_u64(), docs["removed"].as_u64(), docs["changed"].as_u64()), (Some(250), Some(0), Some(0), Some(0)), "{docs:#}");
    assert_eq!(docs["sorted_on_disk"], json!(["A", "B"]));
    let nums = r["collections"].as_array().unwrap().iter().find(|c| c["name"] == "nums").unwrap();
    assert_eq!((&nums["presence"], &nums["rows_b"]), (&json!("only_in_b"), &json!(300)));
    let (code, r, _) = diff(&one, &all, &["--only", "docs"]);
    assert_eq!((code, &r["identical"]), (0, &json!(true)));

    // Importing every collection checks them all first: `docs` has two dense
    // vectors and no --vector, so nothing is written, not even `nums`.
    let db = d.path("db");
    let e = fails(&["import", all.to_str().unwrap(), "--to", db.to_str().unwrap()], 2);
    assert!(e.contains("several dense vector fields"), "{e}");
    assert!(!db.join("nums").exists());
}

#[test]
fn export_all_from_chroma() {
    let d = TestDir::new();
    let server = ChromaServer::start(&d.path("chroma"));
    assert_eq!(server.peer(&["seed", "first", "300"]).trim(), "300");
    assert_eq!(server.peer(&["seed", "second", "120"]).trim(), "120");
    let (a, b) = (d.path("a"), d.path("b"));
    for out in [&a, &b] {
        export_all_of("chroma", &server.url, out, "100", &[("first", 300), ("second", 120)]);
    }
    assert_eq!(manifest_without_times(&a), manifest_without_times(&b));
    let db = d.path("db");
    let i = ok_json(&["import", a.to_str().unwrap(), "--to", db.to_str().unwrap()]);
    assert_eq!(i["collections"].as_array().unwrap().len(), 2);
    let v = ok_json(&["validate", a.to_str().unwrap(), "--to", db.to_str().unwrap(), "--strict"]);
    assert!(v["collections"].as_array().unwrap().iter().all(|c| c["ok"] == true), "{v:#}");
}

#[test]
fn export_all_from_milvus() {
    let d = TestDir::new();
    let server = crate::milvus::MilvusLite::start(&d.path("milvus"));
    assert_eq!(server.peer(&["seed", "docs", "300", d.path("seeded.jsonl").to_str().unwrap()]).trim(), "300");
    assert_eq!(server.peer(&["seed-int", "ints", "200"]).trim(), "200");
    let snap = d.path("snap");
    export_all_of("milvus", &server.url, &snap, "64", &[("docs", 300), ("ints", 200)]);
    let m = manifest(&snap);
    let kinds: Vec<&str> = m["collections"].as_array().unwrap().iter().map(|c| c["schema"]["id"]["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"int") && kinds.contains(&"string"), "{kinds:?}");
    let (code, r, err) = diff(&snap, &snap, &[]);
    assert_eq!((code, &r["identical"]), (0, &json!(true)), "{err}");
}

/// `diff` reads snapshots in object storage like `verify` does: an export
/// into S3 (moto) against the same rows exported into a directory.
#[test]
fn diff_reads_a_snapshot_in_object_storage() {
    let t = table("diffs3");
    seed_vectors(&t, 300, 4);
    let d = TestDir::new();
    let moto = crate::objstore::Moto::start();
    moto.bucket("snaps");
    let (url, dir) = (pg_url(), d.path("dir"));
    export(&t, &dir, &["--chunk-rows", "100"]);
    ok_json(&moto.args(&["export", "pgvector", "--url", &url, "--table", &t, "--out", "s3://snaps/x", "--chunk-rows", "100"]));
    let o = run(&moto.args(&["--json", "diff", "s3://snaps/x", dir.to_str().unwrap()]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((&r["collections"][0]["unchanged"], &r["collections"][0]["chunks_skipped"]), (&json!(300), &json!(3)));
    // A damaged object is named by its URL; exit 2.
    let key = format!("x/chunks/{t}/000001.parquet");
    let mut bytes = moto.object("snaps", &key, &d);
    bytes[10] ^= 0xFF;
    moto.replace("snaps", &key, &bytes, &d);
    let o = run(&moto.args(&["diff", dir.to_str().unwrap(), "s3://snaps/x"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err.contains(&format!("s3://snaps/x/chunks/{t}/000001.parquet")) && err.contains("blake3"), "{err}");
}
