//! Weaviate source against the REST emulator (scripts/weaviate_emulator.py),
//! written from Weaviate's OpenAPI spec. The official weaviate-client
//! (scripts/weaviate_peer.py) creates every class and tenant and writes
//! objects through it over REST; its read-backs prove the emulator's shapes.

use crate::common::*;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The emulator on an ephemeral loopback port (it prints the port once listening).
pub(crate) struct WeaviateEmulator {
    child: std::process::Child,
    port: u16,
    pub(crate) url: String,
    key: Option<String>,
    log: PathBuf,
}

impl WeaviateEmulator {
    pub(crate) fn start(dir: &Path, key: Option<&str>, max_results: usize) -> WeaviateEmulator {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join("requests.jsonl");
        let mut cmd = Command::new(python());
        cmd.arg(repo().join("scripts/weaviate_emulator.py"))
            .args(["--port", "0", "--max-results", &max_results.to_string(), "--log", log.to_str().unwrap()]);
        if let Some(k) = key {
            cmd.args(["--api-key", k]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start the Weaviate emulator");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the Weaviate emulator did not start (printed {line:?})"));
        WeaviateEmulator { child, port, url: format!("http://127.0.0.1:{port}"), key: key.map(str::to_owned), log }
    }

    /// Run scripts/weaviate_peer.py (the official client) against the emulator; returns stdout.
    fn peer(&self, args: &[&str]) -> String {
        let o = Command::new(python())
            .arg(repo().join("scripts/weaviate_peer.py"))
            .arg(self.port.to_string())
            .arg(self.key.as_deref().unwrap_or("-"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "weaviate_peer.py {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// `export weaviate --url … [--api-key …] ARGS --out OUT`, required to succeed.
    fn export(&self, out: &Path, args: &[&str]) -> Value {
        let mut a = vec!["export", "weaviate", "--url", &self.url, "--out", out.to_str().unwrap()];
        if let Some(k) = &self.key {
            a.extend(["--api-key", k.as_str()]);
        }
        a.extend_from_slice(args);
        ok_json(&a)
    }

    /// (method, path) of every request the emulator answered so far.
    fn requests(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|j| (j["method"].as_str().unwrap().to_owned(), j["path"].as_str().unwrap().to_owned()))
            .collect()
    }
}

impl Drop for WeaviateEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn f32_bits(v: &Value) -> Option<Vec<u32>> {
    v.as_array().map(|a| a.iter().map(|x| (x.as_f64().unwrap() as f32).to_bits()).collect())
}

/// Each snapshot row equals the expected row written by the peer: id, every vector bit for bit (or NULL), typed metadata.
fn assert_rows_match(rows: &[Value], expected: &[Value], vectors: &[&str]) {
    assert_eq!(rows.len(), expected.len());
    for (got, want) in rows.iter().zip(expected) {
        let id = want["id"].as_str().unwrap();
        assert_eq!(got["id"], id);
        for v in vectors {
            assert_eq!(f32_bits(&got[format!("vec:{v}").as_str()]), f32_bits(&want["vectors"][*v]), "{id} vector {v}");
        }
        let meta: Value = serde_json::from_str(got["metadata"].as_str().unwrap()).unwrap();
        assert_eq!(meta, want["metadata"], "{id}");
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// (file, blake3) of every chunk of every collection.
fn all_chunk_hashes(dir: &Path) -> Vec<(String, String)> {
    let m = manifest(dir);
    m["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["chunks"].as_array().unwrap().iter())
        .map(|c| (c["file"].as_str().unwrap().to_owned(), c["blake3"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn official_client_reads_back_what_it_wrote_over_rest() {
    let d = TestDir::new();
    let w = WeaviateEmulator::start(&d.path("w"), Some("proof-key-1"), 10_000);
    let report_path = d.path("proof.json");
    w.peer(&["proof", report_path.to_str().unwrap()]);
    let report = read_json(&report_path);
    let checked: Vec<&str> = report["checked"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(checked.len(), 20, "{report:#}");
    // A wrong key: the client's first request (GET /v1/meta) gets the 401 and the client raises.
    assert_eq!(report["wrong_key"], "UnexpectedStatusCodeError: True", "{report:#}");

    // Every request the client made went to a REST endpoint the emulator implements (gRPC was never needed).
    let reqs = w.requests();
    let seen = |m: &str, p: &str| reqs.iter().any(|(rm, rp)| rm == m && rp.starts_with(p));
    for (m, p) in [
        ("GET", "/v1/meta"),
        ("GET", "/v1/.well-known/ready"),
        ("POST", "/v1/schema"),
        ("GET", "/v1/schema/Article"),
        ("POST", "/v1/objects"),
        ("HEAD", "/v1/objects/Article/"),
        ("DELETE", "/v1/objects/Article/"),
        ("POST", "/v1/graphql"),
        ("POST", "/v1/schema/Tenanted/tenants"),
        ("PUT", "/v1/schema/Tenanted/tenants"),
        ("GET", "/v1/schema/Tenanted/tenants/b"),
        ("HEAD", "/v1/schema/Tenanted/tenants/a"),
        ("DELETE", "/v1/schema/Tenanted"),
    ] {
        assert!(seen(m, p), "the client never sent {m} {p}: {reqs:?}");
    }

    // The exporter reads the class the client created, with its HNSW settings.
    let snap = d.path("snap");
    let s = w.export(&snap, &["--class", "article"]);
    assert_eq!(s["rows"], 4);
    let c = &manifest(&snap)["collections"][0];
    assert_eq!(c["name"], "Article");
    let text = c["schema"]["vectors"].as_array().unwrap().iter().find(|v| v["name"] == "text").unwrap();
    assert_eq!((text["metric"].as_str(), text["dimension"].as_u64()), (Some("cosine"), Some(4)));
    assert_eq!((text["index"]["m"].as_u64(), text["index"]["ef_construction"].as_u64()), (Some(24), Some(200)));
    assert!(!std::fs::read_to_string(snap.join("manifest.json")).unwrap().contains("proof-key-1"));
}

#[test]
fn class_vector_named_vectors_and_awkward_properties_past_the_offset_cap() {
    let d = TestDir::new();
    // QUERY_MAXIMUM_RESULTS lowered to 1000: offset paging cannot get past object 1000, the cursor must.
    let w = WeaviateEmulator::start(&d.path("w"), None, 1000);
    let expected_path = d.path("expected.json");
    w.peer(&["seed", "Docs", "2500", expected_path.to_str().unwrap()]);
    assert_eq!(w.peer(&["offset", "Docs", "995"]).trim(), "422", "offset paging must stop at the cap");

    let snap = d.path("snap");
    let s = w.export(&snap, &["--class", "Docs", "--chunk-rows", "700", "--page-size", "300"]);
    assert_eq!((s["rows"].as_u64(), s["chunks"].as_u64()), (Some(2500), Some(4)));
    let lists = w.requests().iter().filter(|(m, p)| m == "GET" && p == "/v1/objects").count();
    assert!(lists >= 9, "pages of at most 300 objects: {lists} list requests");

    let m = manifest(&snap);
    let c = &m["collections"][0];
    assert_eq!((c["name"].as_str(), c["source_count"].as_u64()), (Some("Docs"), Some(2500)));
    assert_eq!(c["schema"]["id"]["kind"], "uuid");
    let vectors: Vec<(&str, &str, u64, &str)> = c["schema"]["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["metric"].as_str().unwrap(), v["dimension"].as_u64().unwrap(), v["index"]["type"].as_str().unwrap()))
        .collect();
    assert_eq!(vectors, [("default", "dot", 8, "hnsw"), ("image", "l2", 8, "flat"), ("text", "cosine", 16, "hnsw")]);
    assert_eq!(c["schema"]["vectors"][0]["index"]["m"], 20);
    assert_eq!(c["schema"]["vectors"][2]["index"]["ef_construction"], 200);
    let meta_types: Vec<(&str, &str)> = c["schema"]["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["json"].as_str().unwrap()))
        .collect();
    assert!(meta_types.contains(&("score", "float")) && meta_types.contains(&("count", "int")) && meta_types.contains(&("location", "json")));
    // A chunk's cursor is its last UUID (the last chunk: end, the source is
    // exhausted); chunks are in ascending UUID order.
    let chunks = c["chunks"].as_array().unwrap();
    assert_eq!(chunks.last().unwrap()["cursor"]["kind"], "end");
    let before_last = &chunks[chunks.len() - 2];
    assert_eq!(before_last["cursor"]["kind"], "after_key");
    assert_eq!(before_last["cursor"]["key"], before_last["last_id"]);

    // Row by row: ids, the three vectors bit for bit (NULL where an object lacks one), typed properties
    // (`number` stays a float although the server prints 2.0 as 2; top-level nulls are absent, as in Weaviate).
    let expected = read_json(&expected_path);
    let rows = snapshot_rows(&snap);
    assert_rows_match(&rows, expected.as_array().unwrap(), &["default", "text", "image"]);
    let all_meta: String = rows.iter().map(|r| r["metadata"].as_str().unwrap().to_owned()).collect();
    assert!(all_meta.contains("\"score\":1.0") && all_meta.contains("\"w\":0.0") && all_meta.contains("\"count\":-1,"), "typed numbers");

    // Each vector into its own VelesDB collection, validated row by row.
    let db = d.path("db");
    let o = snap.to_str().unwrap();
    for (v, coll, present) in [("text", "docs_text", 2142), ("default", "docs_default", 2000), ("image", "docs_image", 1666)] {
        let r = ok_json(&["import", o, "--to", db.to_str().unwrap(), "--collection", coll, "--vector", v, "--skip-null-vectors"]);
        assert_eq!(r["collection_count"], present, "{v}: {r:#}");
        let val = ok_json(&["validate", o, "--to", db.to_str().unwrap(), "--collection", coll, "--vector", v, "--skip-null-vectors", "--strict"]);
        assert_eq!(val["ok"], true, "{val:#}");
    }
    let r = ok_json(&["import", o, "--to", db.to_str().unwrap(), "--collection", "docs_text2", "--vector", "text", "--skip-null-vectors", "--dry-run"]);
    assert_eq!(r["dry_run"], true);
}

#[test]
fn every_tenant_into_its_own_collection_inactive_ones_refused_skipped_or_activated() {
    let d = TestDir::new();
    let w = WeaviateEmulator::start(&d.path("w"), Some("mt-key"), 10_000);
    let expected_path = d.path("expected.json");
    w.peer(&["tenants", "Mt", expected_path.to_str().unwrap()]);
    let expected: Vec<Value> = read_json(&expected_path).as_array().unwrap().clone();
    let of = |tenants: &[&str]| -> Vec<Value> { expected.iter().filter(|r| tenants.contains(&r["tenant"].as_str().unwrap())).cloned().collect() };
    let base = ["export", "weaviate", "--url", w.url.as_str(), "--api-key", "mt-key", "--class", "Mt"];
    let with = |extra: &[&str], out: &Path| -> Vec<String> {
        let mut a: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
        a
    };
    let fails_with = |extra: &[&str]| -> String {
        let a = with(extra, &d.path("refused"));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        fails(&a, 1)
    };

    let e = fails_with(&[]);
    assert!(e.contains("--all-tenants") && e.contains("alpha (ACTIVE)") && e.contains("gamma (INACTIVE)") && e.contains("delta (OFFLOADED)"), "{e}");
    let e = fails_with(&["--all-tenants"]);
    assert!(e.contains("delta (OFFLOADED), gamma (INACTIVE)") && e.contains("--activate-tenants") && e.contains("--skip-inactive-tenants"), "{e}");
    assert!(!e.contains("alpha"), "{e}");
    let e = fails_with(&["--tenant", "gamma"]);
    assert!(e.contains("gamma (INACTIVE)") && e.contains("--activate-tenants"), "{e}");
    let e = fails_with(&["--tenant", "nobody"]);
    assert!(e.contains("no tenant \"nobody\"") && e.contains("beta (ACTIVE)"), "{e}");
    assert!(!d.path("refused").join("manifest.json").exists());

    // --skip-inactive-tenants: the active tenants only, each its own collection, the skipped ones named.
    let skip = d.path("skip");
    let a = with(&["--all-tenants", "--skip-inactive-tenants"], &skip);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("skipped inactive tenant(s) delta (OFFLOADED), gamma (INACTIVE)"), "{}", text(&o));
    let m = manifest(&skip);
    let names: Vec<(&str, &str)> =
        m["collections"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["source_name"].as_str().unwrap())).collect();
    assert_eq!(names, [("Mt.alpha", "Mt/alpha"), ("Mt.beta", "Mt/beta")]);
    assert_rows_match(&snapshot_rows(&skip), &of(&["alpha", "beta"]), &["emb"]);
    assert_eq!(w.peer(&["tenant-status", "Mt"]).trim(), r#"{"alpha": "ACTIVE", "beta": "ACTIVE", "gamma": "INACTIVE", "delta": "OFFLOADED"}"#);

    // --activate-tenants: gamma and delta are set HOT (delta goes through ONLOADING) and exported too.
    let all = d.path("all");
    let s = w.export(&all, &["--class", "Mt", "--all-tenants", "--activate-tenants"]);
    let rows: Vec<(&str, u64)> =
        s["collections"].as_array().unwrap().iter().map(|c| (c["collection"].as_str().unwrap(), c["rows"].as_u64().unwrap())).collect();
    assert_eq!(rows, [("Mt.alpha", 120), ("Mt.beta", 80), ("Mt.delta", 30), ("Mt.gamma", 50)]);
    assert_rows_match(&snapshot_rows(&all), &of(&["alpha", "beta", "delta", "gamma"]), &["emb"]);
    assert_eq!(w.peer(&["tenant-status", "Mt"]).trim(), r#"{"alpha": "ACTIVE", "beta": "ACTIVE", "gamma": "ACTIVE", "delta": "ACTIVE"}"#);
    assert!(w.requests().iter().any(|(m, p)| m == "PUT" && p == "/v1/schema/Mt/tenants"));
    let m = manifest(&all);
    assert_eq!(m["complete"], true);
    assert_eq!(m["collections"][2]["source_count"], 30, "per-tenant Aggregate count");

    // One tenant of the snapshot into VelesDB.
    let db = d.path("db");
    let o = all.to_str().unwrap();
    let r = ok_json(&["import", o, "--to", db.to_str().unwrap(), "--collection", "delta", "--from-collection", "Mt.delta"]);
    assert_eq!((r["collection_count"].as_u64(), r["settings"]["metric"].as_str()), (Some(30), Some("cosine")));
    let v = ok_json(&["validate", o, "--to", db.to_str().unwrap(), "--collection", "delta", "--from-collection", "Mt.delta", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // --tenant: one collection named <class>.<tenant>.
    let one = d.path("one");
    assert_eq!(w.export(&one, &["--class", "Mt", "--tenant", "gamma"])["rows"], 50);
    assert_eq!(manifest(&one)["collections"][0]["name"], "Mt.gamma");
}

#[test]
fn all_tenants_export_killed_and_resumed_gives_identical_chunks() {
    let d = TestDir::new();
    let w = WeaviateEmulator::start(&d.path("w"), None, 10_000);
    w.peer(&["tenants", "Mt", d.path("expected.json").to_str().unwrap()]);
    let reference = d.path("ref");
    let args = ["--class", "Mt", "--all-tenants", "--activate-tenants", "--chunk-rows", "15", "--page-size", "7"];
    w.export(&reference, &args);
    let reference_hashes = all_chunk_hashes(&reference);
    assert_eq!(reference_hashes.len(), 8 + 6 + 2 + 4);

    let snap = d.path("snap");
    let o = snap.to_str().unwrap();
    let mut a = vec!["--quiet", "export", "weaviate", "--url", w.url.as_str(), "--out", o];
    a.extend_from_slice(&args);
    let committed = || {
        json_file(&snap.join("manifest.json"))
            .map_or(0, |m| m["collections"].as_array().unwrap().iter().map(|c| c["chunks"].as_array().map_or(0, |x| x.len())).sum())
    };
    let (s, kills) = kill_repeatedly_then_finish(&a, 6, &committed);
    assert!(kills >= 1, "the export was never interrupted");
    assert_eq!(s["rows"], 280);
    assert_eq!(all_chunk_hashes(&snap), reference_hashes);
    let v = ok_json(&["verify", o]);
    assert_eq!(v["findings"].as_array().map_or(0, |f| f.len()), 0, "{v:#}");
}

#[test]
fn errors_key_class_distance_and_empty_class() {
    let d = TestDir::new();
    let key = "weaviate-secret-42";
    let w = WeaviateEmulator::start(&d.path("w"), Some(key), 10_000);
    w.peer(&["plain", "Plain", "30"]);
    w.peer(&["distance", "Manh", "manhattan"]);
    w.peer(&["distance", "Hamm", "hamming"]);
    w.peer(&["empty", "Void"]);
    let out = d.path("x");
    let o = out.to_str().unwrap();

    // Missing and wrong API key: 401, the flag named, the key never echoed.
    let e = fails(&["export", "weaviate", "--url", &w.url, "--class", "Plain", "--out", o], 1);
    assert!(e.contains("401") && e.contains("--api-key"), "{e}");
    let e = fails(&["export", "weaviate", "--url", &w.url, "--class", "Plain", "--api-key", "nope-nope", "--out", o], 1);
    assert!(e.contains("401") && e.contains("invalid api key") && !e.contains("nope-nope"), "{e}");

    // Unknown class: the classes the server has.
    let e = fails(&["export", "weaviate", "--url", &w.url, "--class", "Missing", "--api-key", key, "--out", o], 1);
    assert!(e.contains("no class \"Missing\"") && e.contains("Plain") && e.contains("Void"), "{e}");
    // A plain class with --tenant.
    let e = fails(&["export", "weaviate", "--url", &w.url, "--class", "Plain", "--api-key", key, "--tenant", "t", "--out", o], 1);
    assert!(e.contains("not multi-tenant"), "{e}");

    // Manhattan and hamming: refused without --metric, recorded as asked with it.
    for (class, distance) in [("Manh", "manhattan"), ("Hamm", "hamming")] {
        let e = fails(&["export", "weaviate", "--url", &w.url, "--class", class, "--api-key", key, "--out", o], 1);
        assert!(e.contains(&format!("vector v uses the {distance} distance")) && e.contains("--metric"), "{e}");
    }
    let e = fails(&["export", "weaviate", "--url", &w.url, "--class", "Manh", "--api-key", key, "--metric", "l1", "--out", o], 2);
    assert!(e.contains("--metric l1"), "{e}");
    assert!(!out.join("manifest.json").exists());
    let manh = d.path("manh");
    w.export(&manh, &["--class", "Manh", "--metric", "l2"]);
    let v = &manifest(&manh)["collections"][0]["schema"]["vectors"][0];
    assert_eq!((v["metric"].as_str(), v["dimension"].as_u64()), (Some("l2"), Some(3)));
    assert!(v["source_type"].as_str().unwrap().contains("manhattan"), "{v}");

    // An empty class: an empty, complete snapshot (the dimension is unknown).
    let void = d.path("void");
    let s = w.export(&void, &["--class", "Void"]);
    assert_eq!((s["rows"].as_u64(), s["chunks"].as_u64()), (Some(0), Some(0)));
    let m = manifest(&void);
    assert_eq!((m["complete"].as_bool(), m["collections"][0]["schema"]["vectors"][0]["dimension"].as_u64()), (Some(true), Some(0)));

    // The plain class: the key is in no file; the run is idempotent once complete.
    let plain = d.path("plain");
    assert_eq!(w.export(&plain, &["--class", "Plain"])["rows"], 30);
    assert_eq!(w.export(&plain, &["--class", "Plain"])["already_complete"], true);
    assert!(!std::fs::read_to_string(plain.join("manifest.json")).unwrap().contains(key));
    let e = fails(&["export", "weaviate", "--url", &w.url, "--class", "Plain", "--api-key", key, "--page-size", "0", "--out", o], 2);
    assert!(e.contains("--page-size"), "{e}");
}

#[test]
fn discover_lists_classes_and_tenants_and_emits_a_config_that_exports_the_active_ones() {
    let d = TestDir::new();
    let key = "weaviate-disc-key-3";
    let w = WeaviateEmulator::start(&d.path("w"), Some(key), 10_000);
    w.peer(&["plain", "Plain", "30"]);
    w.peer(&["tenants", "Mt", d.path("expected.json").to_str().unwrap()]);
    w.peer(&["distance", "Manh", "manhattan"]);
    let dir = d.path("run");
    std::fs::create_dir_all(&dir).unwrap();
    let env = [("WEAVIATE_API_KEY", key)];
    let (found, config, summary) = emit_validate_run(&dir, &["weaviate", "--url", &w.url, "--api-key", key], &env);

    // Every class; every tenant of the multi-tenant one with its status.
    let entries: Vec<(&str, &str, Option<&str>)> =
        found.as_array().unwrap().iter().map(|t| (t["schema"].as_str().unwrap(), t["table"].as_str().unwrap(), t["status"].as_str())).collect();
    assert_eq!(
        entries,
        [
            ("", "Manh", None),
            ("Mt", "alpha", Some("ACTIVE")),
            ("Mt", "beta", Some("ACTIVE")),
            ("Mt", "delta", Some("OFFLOADED")),
            ("Mt", "gamma", Some("INACTIVE")),
            ("", "Plain", None)
        ]
    );
    let by = |s: &str, t: &str| found.as_array().unwrap().iter().find(|x| x["schema"] == s && x["table"] == t).unwrap().clone();
    let manh = by("", "Manh");
    assert!(manh["problem"].as_str().unwrap().contains("manhattan") && manh["problem"].as_str().unwrap().contains("--metric"), "{manh}");
    let alpha = by("Mt", "alpha");
    assert_eq!(alpha["rows_estimate"], 120);
    let v = &alpha["collection"]["vectors"][0];
    assert_eq!((v["name"].as_str(), v["dimension"].as_u64(), v["metric"].as_str()), (Some("emb"), Some(12), Some("cosine")));
    assert_eq!((v["index"]["m"].as_u64(), v["index"]["ef_construction"].as_u64()), (Some(16), Some(64)));
    let meta: Vec<&str> = alpha["collection"]["metadata"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(meta, ["n", "who"]);
    assert_eq!(by("Mt", "beta")["rows_estimate"], 80);
    let gamma = by("Mt", "gamma");
    assert!(gamma["collection"].is_null() && gamma["problem"].as_str().unwrap().contains("--activate-tenants"), "{gamma}");
    let plain = by("", "Plain");
    assert_eq!(plain["rows_estimate"], 30);
    let v = &plain["collection"]["vectors"][0];
    assert_eq!((v["name"].as_str(), v["dimension"].as_u64(), v["metric"].as_str()), (Some("default"), Some(6), Some("dot")));
    assert_eq!(plain["collection"]["id"]["kind"], "uuid");
    assert_eq!(plain["collection"]["metadata"][0]["name"], "i");

    // The config: the first exportable class (Manh needs --metric), its active tenants; Plain offered in the comments.
    assert!(!config.contains(key) && config.contains("\napi-key: ${WEAVIATE_API_KEY}\n"), "{config}");
    assert!(config.contains("\nclass: Mt\n") && config.contains("\nall-tenants: true\n") && config.contains("\nskip-inactive-tenants: true\n"), "{config}");
    assert!(config.contains("activate-tenants: true") && config.contains("Plain"), "{config}");
    let rows: Vec<(&str, u64)> =
        summary["collections"].as_array().unwrap().iter().map(|c| (c["collection"].as_str().unwrap(), c["rows"].as_u64().unwrap())).collect();
    assert_eq!(rows, [("Mt.alpha", 120), ("Mt.beta", 80)], "{summary:#}");
    assert!(!std::fs::read_to_string(dir.join("snapshot/manifest.json")).unwrap().contains(key));
    assert_eq!(w.peer(&["tenant-status", "Mt"]).trim(), r#"{"alpha": "ACTIVE", "beta": "ACTIVE", "gamma": "INACTIVE", "delta": "OFFLOADED"}"#, "discover writes nothing");

    // --metric (as on export) makes the manhattan class describable; the human table shows the statuses.
    let o = run(&["discover", "weaviate", "--url", &w.url, "--api-key", key, "--metric", "l2"]);
    assert!(o.status.success(), "{}", text(&o));
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(human.contains("Mt/gamma") && human.contains("INACTIVE") && human.contains("v (f32 dim 3 l2)") && human.contains("n, who"), "{human}");
    // A wrong key: 401 and the flag, the key never echoed.
    let e = fails(&["discover", "weaviate", "--url", &w.url, "--api-key", "nope-nope"], 1);
    assert!(e.contains("401") && e.contains("--api-key") && !e.contains("nope-nope"), "{e}");
}
