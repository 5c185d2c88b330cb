//! Pinecone source against the REST emulator (scripts/pinecone_emulator.py,
//! written from Pinecone's OpenAPI specs), whose wire shapes the official
//! `pinecone` SDK proves by writing and reading every index used here over
//! HTTP (scripts/pinecone_peer.py).

use crate::common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

pub(crate) const KEY: &str = "pc-test-key-5f2e";

/// The emulator: a control-plane port and one data-plane port per index.
pub(crate) struct PineconeEmulator {
    child: std::process::Child,
    control: u16,
    pub(crate) url: String,
    ports: BTreeMap<String, u16>,
}

impl PineconeEmulator {
    /// `specs`: `name:dimension:metric[:pod|serverless[:sparse]]`.
    pub(crate) fn start(specs: &[&str]) -> PineconeEmulator {
        let mut child = Command::new(python())
            .arg(repo().join("scripts/pinecone_emulator.py"))
            .arg(KEY)
            .args(specs)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Pinecone emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("the Pinecone emulator did not start ({e}): {line:?}"));
        let control = ready["control"].as_u64().unwrap() as u16;
        let ports = ready["indexes"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap() as u16)).collect();
        PineconeEmulator { child, control, url: format!("http://127.0.0.1:{control}"), ports }
    }

    fn host(&self, index: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[index])
    }

    /// Run scripts/pinecone_peer.py (the official SDK); returns its JSON output.
    fn peer(&self, args: &[&str]) -> Value {
        let o = Command::new(python())
            .arg(repo().join("scripts/pinecone_peer.py"))
            .arg(self.control.to_string())
            .arg(KEY)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "pinecone_peer.py {args:?}: {}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// A test control request (`/_emulator/...`).
    fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.control)).unwrap();
        let body = body.to_string();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
        serde_json::from_str(body).unwrap()
    }

    fn stats(&self) -> Value {
        self.control("GET", "/_emulator/stats", json!(null))
    }

    fn reset(&self) {
        self.control("POST", "/_emulator/reset", json!({}));
    }
}

impl Drop for PineconeEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn export_args<'a>(e: &'a PineconeEmulator, index: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["export", "pinecone", "--api-key", KEY, "--controller-host", &e.url, "--index", index, "--out", out.to_str().unwrap()];
    a.extend_from_slice(extra);
    a
}

fn bits(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| (x.as_f64().unwrap() as f32).to_bits()).collect()
}

/// Metadata numbers are doubles in Pinecone: 2.0 may come back as 2.
fn doubles(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(doubles).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), doubles(x))).collect()),
        other => other.clone(),
    }
}

/// Every row of a snapshot (pyarrow), with its collection under `_collection`.
fn rows_by_collection(snap: &Path) -> BTreeMap<String, Vec<Value>> {
    let o = Command::new(python()).arg(repo().join("scripts/read_snapshot.py")).arg(snap).arg("--with-collection").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap() {
        out.entry(r["_collection"].as_str().unwrap().to_owned()).or_default().push(r);
    }
    out
}

/// (file, blake3) of every chunk of every collection.
fn all_chunk_hashes(snap: &Path) -> Vec<(String, String)> {
    manifest(snap)["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["chunks"].as_array().unwrap().iter().map(|k| (k["file"].as_str().unwrap().to_owned(), k["blake3"].as_str().unwrap().to_owned())))
        .collect()
}

/// No file under `dir` contains `needle`.
fn no_file_holds(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().all(|e| {
        let p = e.path();
        if p.is_dir() {
            no_file_holds(&p, needle)
        } else {
            !std::fs::read(&p).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes())
        }
    })
}

/// A snapshot's rows equal what the SDK upserted: ids in byte order, values
/// as float32, sparse values, metadata.
fn assert_rows_match(rows: &[Value], seeded: &[Value], what: &str) {
    let mut want: Vec<&Value> = seeded.iter().collect();
    want.sort_by(|a, b| a["id"].as_str().unwrap().as_bytes().cmp(b["id"].as_str().unwrap().as_bytes()));
    let got_ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want_ids: Vec<&str> = want.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got_ids, want_ids, "{what}: ids, in ascending byte order, each once");
    for (got, want) in rows.iter().zip(want) {
        let id = want["id"].as_str().unwrap();
        assert_eq!(bits(&got["vec:values"]), bits(&want["values"]), "{what} {id}: values");
        match want.get("sparse_values") {
            Some(sv) => {
                assert_eq!(got["sparse:sparse_values"]["indices"], sv["indices"], "{what} {id}");
                assert_eq!(bits(&got["sparse:sparse_values"]["values"]), bits(&sv["values"]), "{what} {id}");
            }
            None => assert!(got["sparse:sparse_values"].is_null(), "{what} {id}: no sparse values"),
        }
        let meta: Value = serde_json::from_str(got["metadata"].as_str().unwrap()).unwrap();
        assert_eq!(doubles(&meta), doubles(want.get("metadata").unwrap_or(&json!({}))), "{what} {id}: metadata");
    }
}

#[test]
fn the_official_sdk_reads_back_what_it_wrote_through_the_emulator() {
    let e = PineconeEmulator::start(&["docs:8:dotproduct"]);
    let seeded = e.peer(&["seed", "docs", "__default__=150", "ns-a=40", "team a/b=15"]);
    let dump = e.peer(&["dump", "docs"]);
    assert_eq!(dump["index"], json!({"name": "docs", "dimension": 8, "metric": "dotproduct", "vector_type": "dense", "host": e.host("docs"), "deployment": "ManagedDeployment"}));
    assert_eq!(dump["stats"], json!({"__default__": 150, "ns-a": 40, "team a/b": 15}));
    for (ns, recs) in seeded.as_object().unwrap() {
        let mut want: Vec<Value> = recs.as_array().unwrap().clone();
        want.sort_by(|a, b| a["id"].as_str().unwrap().as_bytes().cmp(b["id"].as_str().unwrap().as_bytes()));
        let got = dump["namespaces"][ns].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{ns}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g["id"], w["id"], "{ns}: list order is byte order");
            assert_eq!(bits(&g["values"]), bits(&w["values"]), "{ns} {}", w["id"]);
            assert_eq!(g.get("sparse_values").map(|s| (s["indices"].clone(), bits(&s["values"]))), w.get("sparse_values").map(|s| (s["indices"].clone(), bits(&s["values"]))));
            assert_eq!(g.get("metadata").map(doubles), w.get("metadata").map(doubles), "{ns} {}", w["id"]);
        }
    }
    let ids: Vec<&str> = dump["namespaces"]["__default__"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for awkward in ["a b", "x/y", "q?x=1", "a&b=c", "100%", "plus+sign", "hash#tag"] {
        assert!(ids.contains(&awkward), "{awkward}");
    }
    assert!(ids.iter().any(|i| i.len() == 512), "a 512-character id");
    // The SDK refuses what the API refuses (non-ASCII, over 512 characters) before sending.
    let rejects = e.peer(&["rejects", "docs"]).to_string();
    assert!(rejects.contains("ASCII") && rejects.contains("513"), "{rejects}");
    assert!(e.stats()["versions"]["2026-07"].as_u64().unwrap() > 0, "the SDK speaks API 2026-07");
}

#[test]
fn every_namespace_is_exported_bit_exact_and_imports_into_velesdb() {
    let e = PineconeEmulator::start(&["docs:8:dotproduct"]);
    let seeded = e.peer(&["seed", "docs", "__default__=1100", "ns-a=300", "team a/b=45"]);
    e.reset();
    let d = TestDir::new();
    let snap = d.path("snap");
    let s = ok_json(&export_args(&e, "docs", &snap, &["--chunk-rows", "97", "--concurrency", "4"]));
    assert_eq!(s["rows"], 1445, "{s:#}");
    let m = manifest(&snap);
    let colls = m["collections"].as_array().unwrap();
    let names: Vec<(&str, &str)> = colls.iter().map(|c| (c["name"].as_str().unwrap(), c["source_name"].as_str().unwrap())).collect();
    assert_eq!(names, [("docs", "docs/__default__"), ("docs.ns-a", "docs/ns-a"), ("docs.team_a_b", "docs/team a/b")]);
    let vectors = &colls[0]["schema"]["vectors"];
    assert_eq!((&vectors[0]["name"], &vectors[0]["dimension"], &vectors[0]["metric"]), (&json!("values"), &json!(8), &json!("dot")));
    assert_eq!((&vectors[1]["column"], &vectors[1]["kind"]), (&json!("sparse:sparse_values"), &json!("sparse")));
    assert_eq!(colls[0]["schema"]["id"]["kind"], "string");
    assert!(colls.iter().all(|c| c["complete"] == true && c["chunk_rows"] == 97));
    assert_eq!(colls[0]["chunks"][0]["cursor"]["kind"], "token", "pagination.next is the cursor");
    assert_eq!(colls[0]["chunks"].as_array().unwrap().last().unwrap()["cursor"], json!({"kind": "end"}));
    assert!(no_file_holds(&snap, KEY), "the API key is never written (manifest, chunks, run records)");

    let rows = rows_by_collection(&snap);
    assert_rows_match(&rows["docs"], seeded["__default__"].as_array().unwrap(), "__default__");
    assert_rows_match(&rows["docs.ns-a"], seeded["ns-a"].as_array().unwrap(), "ns-a");
    assert_rows_match(&rows["docs.team_a_b"], seeded["team a/b"].as_array().unwrap(), "team a/b");

    // On the wire: API 2025-10 only, list pages of at most 100, fetch URLs
    // under 8 000 bytes (the 512-byte id costs 1 536 encoded), every id fetched once.
    let st = e.stats();
    assert_eq!(st["versions"].as_object().unwrap().keys().collect::<Vec<_>>(), ["2025-10"], "{st}");
    assert!(st["list_limits"].as_array().unwrap().iter().all(|l| l.as_u64().unwrap() <= 100));
    assert!(st["longest_url"].as_u64().unwrap() <= 8000, "{}", st["longest_url"]);
    let fetched = st["fetched_ids"].as_object().unwrap();
    assert_eq!(fetched.values().map(|ids| ids.as_object().unwrap().len()).sum::<usize>(), 1445);
    assert!(fetched.values().flat_map(|ids| ids.as_object().unwrap().values()).all(|n| n == 1), "each id fetched exactly once");

    let db = d.path("db");
    let o = snap.to_str().unwrap();
    for (coll, n) in [("docs", 1100), ("docs.ns-a", 300), ("docs.team_a_b", 45)] {
        let dest = coll.replace('.', "_");
        let r = ok_json(&["import", o, "--from-collection", coll, "--to", db.to_str().unwrap(), "--collection", &dest]);
        assert_eq!(r["collection_count"], n, "{r:#}");
        assert_eq!(r["settings"]["metric"], "dot");
        let v = ok_json(&["validate", o, "--from-collection", coll, "--to", db.to_str().unwrap(), "--collection", &dest, "--strict"]);
        assert_eq!(v["ok"], true, "{v:#}");
    }
}

#[test]
fn a_killed_export_resumes_from_the_manifest_cursor_with_identical_chunks() {
    let e = PineconeEmulator::start(&["docs:16:cosine"]);
    e.peer(&["seed", "docs", "__default__=1600", "ns-a=500"]);
    let d = TestDir::new();
    let reference = d.path("ref");
    ok_json(&export_args(&e, "docs", &reference, &["--chunk-rows", "60"]));
    let snap = d.path("snap");
    let mut args = vec!["--quiet"];
    args.extend(export_args(&e, "docs", &snap, &["--chunk-rows", "60"]));
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"].as_array().unwrap().iter().map(|c| c["chunks"].as_array().unwrap().len()).sum());
    let (s, kills) = kill_repeatedly_then_finish(&args, 6, &committed);
    assert!(kills >= 1, "the export was never interrupted");
    assert_eq!(s["rows"], 2100);
    assert_eq!(all_chunk_hashes(&snap), all_chunk_hashes(&reference));
    let m = manifest(&snap);
    assert_eq!(m["collections"][1]["schema"]["vectors"].as_array().unwrap().len(), 1, "a cosine index has no sparse field");
    assert_eq!(m["collections"][1]["schema"]["vectors"][0]["metric"], "cosine");
    let ids: Vec<String> = rows_by_collection(&snap)["docs"].iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "no id lost or repeated across the kills");
}

#[test]
fn throttling_and_server_errors_are_retried_without_losing_or_repeating_vectors() {
    let e = PineconeEmulator::start(&["docs:8:euclidean"]);
    e.peer(&["seed", "docs", "__default__=4000"]);
    let d = TestDir::new();

    // The index serves two fetches at a time and answers 429 (Retry-After: 1) beyond.
    e.reset();
    e.control("POST", "/_emulator/faults", json!({"max_inflight_fetch": 2, "fetch_latency_ms": 150, "retry_after": 1}));
    let snap = d.path("throttled");
    let s = ok_json(&export_args(&e, "docs", &snap, &["--chunk-rows", "2000", "--concurrency", "8"]));
    let st = e.stats();
    let throttled = st["faults"]["429"].as_u64().unwrap();
    assert!(throttled > 0, "{st}");
    assert_eq!(s["retries"]["http_429"], throttled, "every 429 is counted: {s:#}");
    assert!(s["seconds"].as_f64().unwrap() >= 1.0, "Retry-After: 1 is honoured");
    let note = s["collections"][0]["notes"].to_string();
    let lowest: usize = note.split("went down to ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{note}"));
    assert!(lowest <= 2, "the fetches in flight shrank to what the index serves: {note}");
    assert_exactly_once(&st, 4000);
    assert_eq!(s["rows"], 4000);

    // Every 5th request fails with 503: retried with backoff.
    e.reset();
    e.control("POST", "/_emulator/faults", json!({"max_inflight_fetch": 0, "fetch_latency_ms": 0, "every": 5, "status": 503, "retry_after": 0}));
    let snap2 = d.path("unavailable");
    let s2 = ok_json(&export_args(&e, "docs", &snap2, &["--chunk-rows", "700"]));
    let st = e.stats();
    assert!(st["faults"]["503"].as_u64().unwrap() > 3, "{st}");
    assert_eq!(s2["retries"]["http_5xx"], st["faults"]["503"], "{s2:#}");
    assert_exactly_once(&st, 4000);
    assert_eq!(rows_by_collection(&snap)["docs"], rows_by_collection(&snap2)["docs"], "same rows whatever the faults");
    e.control("POST", "/_emulator/faults", json!({"every": 0}));
}

fn assert_exactly_once(stats: &Value, n: usize) {
    let ids = stats["fetched_ids"]["docs/__default__"].as_object().unwrap();
    assert_eq!(ids.len(), n);
    assert!(ids.values().all(|c| c == 1), "each id served once");
}

#[test]
fn wrong_key_pod_index_unknown_index_empty_index_prefix_and_vanished_ids() {
    let e = PineconeEmulator::start(&["docs:8:dotproduct", "pods:4:cosine:pod", "empty:4:euclidean"]);
    e.peer(&["seed", "docs", "__default__=120", "ns-a=30"]);
    e.peer(&["seed", "pods", "__default__=40"]);
    let d = TestDir::new();
    let out = d.path("s");
    let o = out.to_str().unwrap();

    // A wrong key: the index is named, the flag to fix too, the key never echoed.
    let e1 = fails(&["export", "pinecone", "--api-key", "wrong-key-123", "--controller-host", &e.url, "--index", "docs", "--out", o], 1);
    assert!(e1.contains("401") && e1.contains("index docs") && e1.contains("--api-key") && !e1.contains("wrong-key-123"), "{e1}");
    let e2 = fails(&["export", "pinecone", "--api-key", "wrong-key-123", "--index-host", &e.host("docs"), "--out", o], 1);
    assert!(e2.contains("401") && e2.contains("--api-key"), "{e2}");
    // Unknown index: the project's indexes are listed.
    let e3 = fails(&export_args(&e, "nope", &out, &[]), 1);
    assert!(e3.contains("no index named nope") && e3.contains("docs, empty, pods") && e3.contains("--index"), "{e3}");
    // Unknown namespace.
    let e4 = fails(&export_args(&e, "docs", &out, &["--namespace", "missing"]), 1);
    assert!(e4.contains("\"missing\"") && e4.contains("__default__") && e4.contains("--namespace"), "{e4}");
    // A pod-based index cannot list ids.
    let e5 = fails(&export_args(&e, "pods", &out, &[]), 1);
    assert!(e5.contains("pod-based") && e5.contains("--ids-file") && e5.contains("serverless"), "{e5}");
    let e6 = fails(&["export", "pinecone", "--api-key", KEY, "--index-host", &e.host("pods"), "--out", o], 1);
    assert!(e6.contains("400") && e6.contains("--ids-file"), "{e6}");
    // No snapshot is started (only the run record `export` writes first).
    assert!(!out.join("manifest.json").exists() && !out.join("chunks").exists(), "no snapshot is written on failure");

    // With --ids-file (unsorted, a duplicate, an id the index does not hold).
    let ids = d.path("ids.txt");
    let mut lines: Vec<String> = (0..29).rev().map(|i| format!("doc-{i:05}")).collect();
    lines.extend(["a b".into(), "doc-00003".into(), "not-there".into(), "100%".into()]);
    std::fs::write(&ids, lines.join("\n") + "\n").unwrap();
    let pod_snap = d.path("pod");
    let s = ok_json(&export_args(&e, "pods", &pod_snap, &["--ids-file", ids.to_str().unwrap(), "--chunk-rows", "7"]));
    assert_eq!((&s["rows"], &s["missing"]), (&json!(31), &json!(1)), "{s:#}");
    let m = manifest(&pod_snap);
    assert_eq!(m["collections"][0]["chunks"][0]["cursor"]["kind"], "after_key");
    let pod_ids: Vec<String> = rows_by_collection(&pod_snap)["pods"].iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(pod_ids.first().map(String::as_str), Some("100%"));
    assert!(pod_ids.windows(2).all(|w| w[0] < w[1]), "ascending, no duplicate");
    assert_eq!(m["collections"][0]["schema"]["vectors"][0]["metric"], "cosine");

    // An empty index: one empty, complete collection.
    let empty = d.path("empty");
    let s = ok_json(&export_args(&e, "empty", &empty, &[]));
    assert_eq!(s["rows"], 0);
    let m = manifest(&empty);
    assert_eq!((&m["collections"][0]["name"], &m["complete"]), (&json!("empty"), &json!(true)));
    assert_eq!(m["collections"][0]["schema"]["vectors"][0]["metric"], "l2");

    // --prefix: a partial export, recorded as the filter; --index-host and PINECONE_API_KEY.
    let part = d.path("prefix");
    let o = Command::new(bin())
        .args(["--json", "--quiet", "export", "pinecone", "--index-host", &e.host("docs"), "--index", "docs", "--namespace", "__default__", "--prefix", "doc-0005"])
        .args(["--out", part.to_str().unwrap()])
        .env("PINECONE_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["rows"], 10, "doc-00050 … doc-00059");
    let m = manifest(&part);
    assert_eq!(m["collections"][0]["filter"], r#"{"prefix":"doc-0005"}"#);
    assert_eq!(m["source"]["address"], e.host("docs"));

    // Ids deleted between list and fetch are counted, never silently dropped.
    e.control("POST", "/_emulator/vanish", json!({"index": "docs", "namespace": "ns-a", "ids": ["doc-00001", "doc-00002"]}));
    let vanished = d.path("vanished");
    let s = ok_json(&export_args(&e, "docs", &vanished, &["--namespace", "ns-a"]));
    assert_eq!((&s["rows"], &s["missing"]), (&json!(28), &json!(2)), "{s:#}");
    assert!(s["collections"][0]["notes"].to_string().contains("doc-00001"), "{s:#}");
}

#[test]
fn discover_lists_every_index_and_namespace_and_emits_a_config() {
    let e = PineconeEmulator::start(&["docs:8:dotproduct", "pods:4:cosine:pod", "empty:4:euclidean"]);
    e.peer(&["seed", "docs", "__default__=120", "ns-a=30"]);
    e.peer(&["seed", "pods", "__default__=40"]);
    let d = TestDir::new();
    let env = [("PINECONE_API_KEY", KEY)];
    let (found, config, summary) = emit_validate_run(d.dir.path(), &["pinecone", "--api-key", KEY, "--controller-host", &e.url], &env);

    let entries: Vec<(&str, &str, u64)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["schema"].as_str().unwrap(), t["table"].as_str().unwrap(), t["rows_estimate"].as_u64().unwrap()))
        .collect();
    assert_eq!(entries, [("docs", "__default__", 120), ("docs", "ns-a", 30), ("empty", "__default__", 0), ("pods", "__default__", 40)]);
    let docs = &found[0]["collection"];
    let vectors: Vec<(&str, &str, u64, Option<&str>)> = docs["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["kind"].as_str().unwrap(), v["dimension"].as_u64().unwrap(), v["metric"].as_str()))
        .collect();
    assert_eq!(vectors, [("values", "dense", 8, Some("dot")), ("sparse_values", "sparse", 0, None)]);
    assert_eq!((docs["id"]["kind"].as_str(), docs["metadata"].as_array().map(Vec::len)), (Some("string"), Some(0)));
    assert_eq!(found[2]["collection"]["vectors"][0]["metric"], "l2");
    assert!(found[0]["needs"].is_null());
    assert!(found[3]["needs"].as_str().unwrap().contains("--ids-file") && found[3]["collection"]["vectors"][0]["metric"] == "cosine", "{found:#}");

    // The config exports the first index that can list its ids, every namespace.
    assert!(!config.contains(KEY) && config.contains("\napi-key: ${PINECONE_API_KEY}\n") && config.contains("\nindex: docs\n"), "{config}");
    assert!(config.contains("# ids-file:") && config.contains("empty, pods"), "{config}");
    assert_eq!(summary["rows"], 150, "{summary:#}");
    let names: Vec<String> = manifest(&d.path("snapshot"))["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["docs", "docs.ns-a"]);
    assert!(no_file_holds(d.dir.path(), KEY), "the API key is in no file");

    // Human table: the pod index flagged.
    let o = run(&["discover", "pinecone", "--api-key", KEY, "--controller-host", &e.url]);
    assert!(o.status.success(), "{}", text(&o));
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(human.contains("pods/__default__") && human.contains("needs --ids-file") && human.contains("values (f32 dim 8 dot)"), "{human}");
    let e1 = fails(&["discover", "pinecone", "--api-key", "wrong-key-123", "--controller-host", &e.url], 1);
    assert!(e1.contains("401") && e1.contains("--api-key") && !e1.contains("wrong-key-123"), "{e1}");
}
