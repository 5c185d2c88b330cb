//! ChromaDB source against a real Chroma server (`chroma run`), driven with
//! the official Python client.

use crate::common::*;

#[test]
fn chroma_collection_exports_exactly_and_imports() {
    let d = TestDir::new();
    let server = ChromaServer::start(&d.path("chroma"));
    assert_eq!(server.peer(&["seed", "docs", "1200"]).trim(), "1200");
    let snap = d.path("snap");
    let s = ok_json(&["export", "chroma", "--url", &server.url, "--collection", "docs", "--out", snap.to_str().unwrap(), "--chunk-rows", "250"]);
    assert_eq!(s["rows"], 1200);
    assert_eq!(s["chunks"], 5);
    let m = manifest(&snap);
    let v = &m["collections"][0]["schema"]["vectors"][0];
    assert_eq!(v["dimension"], 8);
    assert_eq!(v["metric"], "cosine");
    assert_eq!(v["index"]["m"], 12);
    assert_eq!(v["index"]["ef_construction"], 80);

    // The snapshot holds exactly what the official client reads from the server.
    let source: Vec<serde_json::Value> = serde_json::from_str(&server.peer(&["dump", "docs"])).unwrap();
    assert_rows_are(&snap, &source);

    let db = d.path("db");
    let r = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs"]);
    assert_eq!(r["collection_count"], 1200);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // --where is passed to Chroma and recorded.
    let snap2 = d.path("snap2");
    let s = ok_json(&["export", "chroma", "--url", &server.url, "--collection", "docs", "--out", snap2.to_str().unwrap(), "--where", r#"{"tag": "t1"}"#]);
    assert!(s["rows"].as_u64().unwrap() > 0 && s["rows"].as_u64().unwrap() < 1200, "{s}");
    assert_eq!(manifest(&snap2)["collections"][0]["filter"], r#"{"tag": "t1"}"#);
}

/// The rows of the snapshot `snap` are `dump` (what `chroma_peer.py dump`
/// printed): same ids, f32 vectors bit for bit, metadata with the URI under
/// `_uri`, documents.
pub fn assert_rows_are(snap: &std::path::Path, dump: &[serde_json::Value]) {
    let mut rows = snapshot_rows(snap);
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(rows.len(), dump.len());
    for (got, want) in rows.iter().zip(dump) {
        assert_eq!(got["id"], want["id"]);
        let as_f32 = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| (x.as_f64().unwrap() as f32).to_bits()).collect::<Vec<_>>();
        assert_eq!(as_f32(&got["vec:embedding"]), as_f32(&want["embedding"]), "{}", want["id"]);
        let mut meta: serde_json::Value = serde_json::from_str(got["metadata"].as_str().unwrap()).unwrap();
        let uri = meta.as_object_mut().unwrap().remove("_uri");
        assert_eq!(uri.unwrap_or(serde_json::Value::Null), want["uri"], "{}", want["id"]);
        let want_meta = if want["metadata"].is_null() { serde_json::json!({}) } else { want["metadata"].clone() };
        assert_eq!(meta, want_meta, "{}", want["id"]);
        assert_eq!(got["document"], want["document"], "{}", want["id"]);
    }
}

#[test]
fn chroma_changes_during_an_export_are_refused_and_errors_are_clear() {
    let d = TestDir::new();
    let server = ChromaServer::start(&d.path("chroma"));
    server.peer(&["seed", "moving", "3000"]);
    let snap = d.path("snap");
    let args = ["--quiet", "export", "chroma", "--url", &server.url, "--collection", "moving", "--out", snap.to_str().unwrap(), "--chunk-rows", "100"];
    // Killed once at least one chunk is committed, so the re-run is a resume.
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    assert!(!run_and_kill_after(&args, &committed, 1), "the export finished before it could be interrupted");
    server.peer(&["add", "moving", "late-arrival"]);
    let e = fails(&args[1..], 1);
    assert!(e.contains("changed since this export started") && e.contains("3000") && e.contains("3001"), "{e}");

    let e = fails(&["export", "chroma", "--url", &server.url, "--collection", "nope-missing", "--out", d.path("x").to_str().unwrap()], 1);
    assert!(e.contains("404") && e.contains("--collection"), "{e}");
    let e = fails(&["export", "chroma", "--url", "http://127.0.0.1:1", "--collection", "docs", "--out", d.path("x").to_str().unwrap()], 1);
    assert!(e.contains("cannot reach the server"), "{e}");

    // An empty collection exports to an empty, complete snapshot.
    server.peer(&["empty", "void"]);
    let s = ok_json(&["export", "chroma", "--url", &server.url, "--collection", "void", "--out", d.path("void").to_str().unwrap()]);
    assert_eq!(s["rows"], 0);
    let r = ok_json(&["import", d.path("void").to_str().unwrap(), "--to", d.path("db").to_str().unwrap(), "--collection", "void"]);
    assert_eq!(r["points_upserted"], 0);
}

#[test]
fn chroma_export_killed_at_random_resumes_to_identical_chunks() {
    let d = TestDir::new();
    let server = ChromaServer::start(&d.path("chroma"));
    server.peer(&["seed", "steady", "2000"]);
    let whole = d.path("whole");
    ok_json(&["export", "chroma", "--url", &server.url, "--collection", "steady", "--out", whole.to_str().unwrap(), "--chunk-rows", "100"]);
    let snap = d.path("snap");
    let args = ["--quiet", "export", "chroma", "--url", &server.url, "--collection", "steady", "--out", snap.to_str().unwrap(), "--chunk-rows", "100"];
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    let (s, kills) = kill_repeatedly_then_finish(&args, 3, &committed);
    assert!(kills >= 1, "the export was never interrupted");
    assert_eq!(s["rows"], 2000);
    assert_eq!(chunk_hashes(&snap), chunk_hashes(&whole));
    let db = d.path("db");
    ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "steady"]);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "steady", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
}
