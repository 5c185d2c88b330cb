//! Milvus source against a real Milvus Lite gRPC server (`milvus-lite
//! server`), filled with the official client (pymilvus).

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// A Milvus Lite server on a free loopback port (also used by `multi.rs`).
pub(crate) struct MilvusLite {
    child: std::process::Child,
    port: u16,
    pub(crate) url: String,
}

impl MilvusLite {
    pub(crate) fn start(dir: &Path) -> MilvusLite {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bin = python().with_file_name("milvus-lite");
        let child = Command::new(&bin)
            .args(["server", "--data-dir", dir.to_str().unwrap(), "--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} ({e}): run `bash scripts/setup.sh`", bin.display()));
        let server = MilvusLite { child, port, url: format!("http://127.0.0.1:{port}") };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "milvus-lite did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    /// Run scripts/milvus_peer.py (pymilvus) against this server; returns stdout.
    pub(crate) fn peer(&self, args: &[&str]) -> String {
        let o = Command::new(python()).arg(repo().join("scripts/milvus_peer.py")).arg(self.port.to_string()).args(args).output().unwrap();
        assert!(o.status.success(), "milvus_peer.py {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }
}

impl Drop for MilvusLite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn f32_bits(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| (x.as_f64().unwrap() as f32).to_bits()).collect()
}

#[test]
fn milvus_collection_exports_exactly_past_the_offset_window_and_imports() {
    let d = TestDir::new();
    let server = MilvusLite::start(&d.path("milvus"));
    let seeded = d.path("seeded.jsonl");
    // More rows than Milvus's 16 384-row offset+limit window.
    assert_eq!(server.peer(&["seed", "docs", "17000", seeded.to_str().unwrap()]).trim(), "17000");
    let snap = d.path("snap");
    let s = ok_json(&["export", "milvus", "--url", &server.url, "--collection", "docs", "--out", snap.to_str().unwrap(), "--chunk-rows", "17500"]);
    assert_eq!(s["rows"], 17000);
    assert_eq!(s["chunks"], 1, "one page is filled by two queries (16 384 + 616)");
    let m = manifest(&snap);
    let c = &m["collections"][0];
    assert_eq!(c["source_name"], "default.docs");
    assert_eq!(c["schema"]["id"]["name"], "doc_id");
    assert_eq!(c["schema"]["id"]["kind"], "string");
    let v = &c["schema"]["vectors"];
    assert_eq!((v[0]["name"].as_str(), v[0]["dimension"].as_u64(), v[0]["metric"].as_str()), (Some("v"), Some(8), Some("cosine")));
    assert_eq!(v[0]["index"]["type"], "hnsw");
    assert_eq!((v[1]["column"].as_str(), v[1]["metric"].as_str()), (Some("sparse:sp"), Some("dot")));
    let meta: Vec<&str> = c["schema"]["metadata"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(meta, ["n", "f", "d", "flag", "title", "tags", "j", "$meta"]);

    // Every row as the official client inserted it: keys, vectors bit-exact,
    // sparse pairs, typed scalars, nulls, arrays, JSON and dynamic fields.
    let mut want: Vec<serde_json::Value> =
        std::fs::read_to_string(&seeded).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    want.sort_by(|a, b| a["doc_id"].as_str().unwrap().as_bytes().cmp(b["doc_id"].as_str().unwrap().as_bytes()));
    let rows = snapshot_rows(&snap);
    assert_eq!(rows.len(), want.len());
    for (got, w) in rows.iter().zip(&want) {
        let key = w["doc_id"].as_str().unwrap();
        assert_eq!(got["id"], w["doc_id"], "rows in primary-key (byte) order");
        assert_eq!(f32_bits(&got["vec:v"]), f32_bits(&w["v"]), "{key}");
        let mut pairs: Vec<(u64, u32)> = w["sp"].as_object().unwrap().iter().map(|(k, v)| (k.parse().unwrap(), (v.as_f64().unwrap() as f32).to_bits())).collect();
        pairs.sort();
        let sp = &got["sparse:sp"];
        let got_pairs: Vec<(u64, u32)> = sp["indices"].as_array().unwrap().iter().zip(sp["values"].as_array().unwrap()).map(|(i, v)| (i.as_u64().unwrap(), (v.as_f64().unwrap() as f32).to_bits())).collect();
        assert_eq!(got_pairs, pairs, "{key}");
        let meta: serde_json::Value = serde_json::from_str(got["metadata"].as_str().unwrap()).unwrap();
        assert_eq!(meta["n"], w["n"], "{key}");
        assert_eq!((meta["f"].as_f64().unwrap() as f32).to_bits(), (w["f"].as_f64().unwrap() as f32).to_bits(), "{key}");
        assert_eq!(meta["d"], w["d"], "{key}");
        for k in ["flag", "title", "tags", "j"] {
            assert_eq!(meta[k], w[k], "{key} {k}");
        }
        assert_eq!(meta.get("extra"), w.get("extra"), "{key}: dynamic field");
    }

    let db = d.path("db");
    let r = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs"]);
    assert_eq!(r["collection_count"], 17000);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // --partition and --filter go to Milvus and are recorded.
    let part = d.path("part");
    let s = ok_json(&["export", "milvus", "--url", &server.url, "--collection", "docs", "--out", part.to_str().unwrap(), "--partition", "p2", "--filter", "d > -1000"]);
    // p2 holds the odd rows; d = -i/3 > -1000 keeps i < 3000.
    assert_eq!(s["rows"], 1500);
    let f = manifest(&part)["collections"][0]["filter"].as_str().unwrap().to_owned();
    assert!(f.contains("d > -1000") && f.contains("p2"), "{f}");
    assert!(snapshot_rows(&part).iter().all(|r| serde_json::from_str::<serde_json::Value>(r["metadata"].as_str().unwrap()).unwrap()["flag"] == false));

    // discover lists it as an export sees it.
    let found = ok_json(&["discover", "milvus", "--url", &server.url]);
    let docs = found.as_array().unwrap().iter().find(|t| t["table"] == "docs").expect("docs listed");
    assert_eq!(docs["rows_estimate"], 17000);
    assert_eq!(docs["collection"]["id"]["name"], "doc_id");
}

#[test]
fn milvus_int64_keys_resume_empty_and_errors() {
    let d = TestDir::new();
    let server = MilvusLite::start(&d.path("milvus"));
    assert_eq!(server.peer(&["seed-int", "nums", "6000"]).trim(), "6000");
    let whole = d.path("whole");
    let s = ok_json(&["export", "milvus", "--url", &server.url, "--collection", "nums", "--out", whole.to_str().unwrap(), "--chunk-rows", "500"]);
    assert_eq!(s["rows"], 6000);
    let rows = snapshot_rows(&whole);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.first(), Some(&i64::MIN));
    assert_eq!(ids.last(), Some(&i64::MAX), "the largest key is exported too");
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let m = manifest(&whole);
    let cursor = &m["collections"][0]["chunks"][0]["cursor"];
    assert_eq!(cursor["kind"], "after_key_at", "{cursor}");
    assert!(cursor["snapshot_ts"].as_u64().unwrap() > 0);

    // Killed at random moments and resumed: the same chunks as one run.
    let snap = d.path("snap");
    let args = ["--quiet", "export", "milvus", "--url", &server.url, "--collection", "nums", "--out", snap.to_str().unwrap(), "--chunk-rows", "500"];
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    let (s, kills) = kill_repeatedly_then_finish(&args, 3, &committed);
    assert_eq!(s["rows"], 6000, "after {kills} kills");
    assert_eq!(chunk_hashes(&snap), chunk_hashes(&whole));

    let db = d.path("db");
    ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "nums"]);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "nums", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // An empty collection gives an empty, complete snapshot.
    server.peer(&["empty", "void"]);
    let s = ok_json(&["export", "milvus", "--url", &server.url, "--collection", "void", "--out", d.path("void").to_str().unwrap()]);
    assert_eq!(s["rows"], 0);
    assert_eq!(manifest(&d.path("void"))["complete"], true);

    // Not loaded: a clear error, then --load loads it.
    server.peer(&["release", "nums"]);
    let e = fails(&["export", "milvus", "--url", &server.url, "--collection", "nums", "--out", d.path("x1").to_str().unwrap()], 1);
    assert!(e.contains("not loaded") && e.contains("--load"), "{e}");
    let s = ok_json(&["export", "milvus", "--url", &server.url, "--collection", "nums", "--out", d.path("x2").to_str().unwrap(), "--load"]);
    assert_eq!(s["rows"], 6000);

    let e = fails(&["export", "milvus", "--url", &server.url, "--collection", "missing_one", "--out", d.path("x3").to_str().unwrap()], 1);
    assert!(e.contains("missing_one") && e.contains("--collection"), "{e}");
    let e = fails(&["export", "milvus", "--url", "http://127.0.0.1:1", "--collection", "nums", "--out", d.path("x4").to_str().unwrap()], 1);
    assert!(e.contains("cannot reach the server") && e.contains("127.0.0.1:1"), "{e}");
    let e = fails(&["export", "milvus", "--url", &server.url, "--collection", "nums", "--out", d.path("x5").to_str().unwrap(), "--filter", "label >"], 1);
    assert!(e.contains("label >") && e.contains("check --filter"), "{e}");
}
