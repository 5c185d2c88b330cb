//! Qdrant source against the REST emulator (scripts/qdrant_emulator.py),
//! whose wire shapes the official qdrant-client proves by writing and reading
//! every collection used here over HTTP.

use crate::common::*;

fn f32_bits(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| (x.as_f64().unwrap() as f32).to_bits()).collect()
}

#[test]
fn named_dense_sparse_vectors_and_mixed_ids_match_the_official_client() {
    let d = TestDir::new();
    let q = QdrantEmulator::start(&d.path("qdrant"), None);
    assert_eq!(q.peer(&["named", "docs", "250"]).trim(), "250");
    let snap = d.path("snap");
    let s = ok_json(&["export", "qdrant", "--url", &q.url, "--collection", "docs", "--out", snap.to_str().unwrap(), "--chunk-rows", "40"]);
    assert_eq!(s["rows"], 250);
    let m = manifest(&snap);
    let c = &m["collections"][0];
    assert_eq!(c["schema"]["id"]["kind"], "string", "u64 and UUID ids mixed");
    let names: Vec<&str> = c["schema"]["vectors"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["image", "text", "bm25"]);
    assert_eq!(c["schema"]["vectors"][0]["metric"], "l2");
    assert_eq!(c["schema"]["vectors"][1]["metric"], "cosine");
    assert_eq!(c["schema"]["vectors"][2]["kind"], "sparse");

    // Row by row, the snapshot equals what the official client reads.
    let source: Vec<serde_json::Value> = serde_json::from_str(&q.peer(&["dump", "docs"])).unwrap();
    let mut rows = snapshot_rows(&snap);
    rows.sort_by_key(|r| r["id"].as_str().unwrap().to_owned());
    assert_eq!(rows.len(), source.len());
    for (got, want) in rows.iter().zip(&source) {
        let want_id = match &want["id"] { serde_json::Value::String(s) => s.clone(), n => n.to_string() };
        assert_eq!(got["id"], want_id.as_str());
        assert_eq!(f32_bits(&got["vec:text"]), f32_bits(&want["vector"]["text"]), "{want_id}");
        assert_eq!(f32_bits(&got["vec:image"]), f32_bits(&want["vector"]["image"]), "{want_id}");
        match want["vector"].get("bm25") {
            Some(sv) => {
                assert_eq!(got["sparse:bm25"]["indices"], sv["indices"], "{want_id}");
                assert_eq!(f32_bits(&got["sparse:bm25"]["values"]), f32_bits(&sv["values"]), "{want_id}");
            }
            None => assert!(got["sparse:bm25"].is_null(), "{want_id}"),
        }
        let meta: serde_json::Value = serde_json::from_str(got["metadata"].as_str().unwrap()).unwrap();
        let want_meta = if want["payload"].is_null() { serde_json::json!({}) } else { want["payload"].clone() };
        assert_eq!(meta, want_meta, "{want_id}");
    }
    // -0.0 and u64::MAX in payloads survive as text.
    let meta_text: String = rows.iter().map(|r| r["metadata"].as_str().unwrap().to_owned()).collect();
    assert!(meta_text.contains("\"f\":-0.0") && meta_text.contains("18446744073709551615"));

    // Each named vector into its own VelesDB collection, validated bit for bit.
    let db = d.path("db");
    for v in ["text", "image"] {
        let coll = format!("docs_{v}");
        let r = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", &coll, "--vector", v]);
        assert_eq!(r["collection_count"], 250);
        let val = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", &coll, "--vector", v, "--strict"]);
        assert_eq!(val["ok"], true, "{val:#}");
    }

    // --filter goes to Qdrant and is recorded.
    let snap2 = d.path("snap2");
    let filter = r#"{"must": [{"key": "i", "range": {"lt": 100}}]}"#;
    let s = ok_json(&["export", "qdrant", "--url", &q.url, "--collection", "docs", "--out", snap2.to_str().unwrap(), "--filter", filter]);
    let n = s["rows"].as_u64().unwrap();
    assert!(n > 0 && n < 250, "{s}");
    assert_eq!(manifest(&snap2)["collections"][0]["filter"], filter);
}

#[test]
fn unnamed_vector_u64_ids_resume_and_api_key() {
    let d = TestDir::new();
    let key = "qdrant-secret-77";
    let q = QdrantEmulator::start(&d.path("qdrant"), Some(key));
    q.peer(&["plain", "plain", "1000"]);
    let snap = d.path("snap");
    let o = snap.to_str().unwrap();
    let e = fails(&["export", "qdrant", "--url", &q.url, "--collection", "plain", "--out", o], 1);
    assert!(e.contains("401") && e.contains("--api-key"), "{e}");

    // Killed at random and resumed from next_page_offset: identical chunks.
    let reference = d.path("ref");
    export_qdrant(&q.url, key, &reference);
    let args = ["--quiet", "export", "qdrant", "--url", &q.url, "--collection", "plain", "--api-key", key, "--out", o, "--chunk-rows", "50"];
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    let (s, kills) = kill_repeatedly_then_finish(&args, 5, &committed);
    assert!(kills >= 1, "the export was never interrupted");
    assert_eq!(s["rows"], 1000);
    assert_eq!(chunk_hashes(&snap), chunk_hashes(&reference));
    let m = manifest(&snap);
    assert_eq!(m["collections"][0]["schema"]["id"]["kind"], "uint");
    assert_eq!(m["collections"][0]["chunks"].as_array().unwrap().last().unwrap()["last_id"], 18446744073709551615u64);
    assert!(!std::fs::read_to_string(snap.join("manifest.json")).unwrap().contains(key));

    let db = d.path("db");
    let r = ok_json(&["import", o, "--to", db.to_str().unwrap(), "--collection", "plain"]);
    assert_eq!(r["settings"]["metric"], "dot");
    let v = ok_json(&["validate", o, "--to", db.to_str().unwrap(), "--collection", "plain", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // An empty collection exports to an empty, complete snapshot and imports nothing.
    q.peer(&["empty", "void"]);
    let void = d.path("void");
    let s = ok_json(&["export", "qdrant", "--url", &q.url, "--collection", "void", "--api-key", key, "--out", void.to_str().unwrap()]);
    assert_eq!(s["rows"], 0);
    assert_eq!(manifest(&void)["complete"], true);
    let r = ok_json(&["import", void.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "void"]);
    assert_eq!(r["points_upserted"], 0);

    // Manhattan has no VelesDB equivalent: the import asks for --metric.
    q.peer(&["manhattan", "manh"]);
    let snap3 = d.path("manh");
    ok_json(&["export", "qdrant", "--url", &q.url, "--collection", "manh", "--api-key", key, "--out", snap3.to_str().unwrap()]);
    let e = fails(&["import", snap3.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "manh"], 2);
    assert!(e.contains("L1") && e.contains("--metric"), "{e}");
}

fn export_qdrant(url: &str, key: &str, out: &std::path::Path) {
    ok_json(&["export", "qdrant", "--url", url, "--collection", "plain", "--api-key", key, "--out", out.to_str().unwrap(), "--chunk-rows", "50"]);
}

#[test]
fn discover_lists_qdrant_and_chroma_collections() {
    let d = TestDir::new();
    let q = QdrantEmulator::start(&d.path("qdrant"), None);
    q.peer(&["plain", "first", "10"]);
    q.peer(&["manhattan", "second"]);
    let found = ok_json(&["discover", "qdrant", "--url", &q.url]);
    let names: Vec<&str> = found.as_array().unwrap().iter().map(|t| t["table"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{found:#}");
    let first = found.as_array().unwrap().iter().find(|t| t["table"] == "first").unwrap();
    assert_eq!(first["collection"]["vectors"][0]["metric"], "dot");
    assert_eq!(first["rows_estimate"], 10);
    // --emit-config: both collections (`all: true`), run from the file.
    let run_dir = d.path("emit");
    std::fs::create_dir_all(&run_dir).unwrap();
    let (_, config, summary) = emit_validate_run(&run_dir, &["qdrant", "--url", &q.url], &[]);
    assert!(config.contains("\ncommand: export qdrant\n") && config.contains("\nall: true\n"), "{config}");
    assert_eq!(summary["collections"].as_array().map(Vec::len), Some(2), "{summary:#}");

    let c = ChromaServer::start(&d.path("chroma"));
    c.peer(&["seed", "docs", "20"]);
    let found = ok_json(&["discover", "chroma", "--url", &c.url]);
    assert_eq!(found[0]["table"], "docs", "{found:#}");
    assert_eq!(found[0]["collection"]["vectors"][0]["dimension"], 8);
    assert_eq!(found[0]["rows_estimate"], 20);
}
