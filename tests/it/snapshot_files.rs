//! Offline checks on the committed fixtures (fixtures/snapshots/): a valid
//! snapshot and corrupted variants. No source database is needed.

use crate::common::*;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures/snapshots").join(name)
}

/// Copy a fixture so tests never write into the repository.
fn copy_fixture(name: &str, d: &TestDir) -> PathBuf {
    let dst = d.path(name);
    copy_dir(&fixture(name), &dst);
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

fn verify_kinds(name: &str) -> Vec<String> {
    let o = run(&["--json", "verify", fixture(name).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    r["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn verify_accepts_the_valid_snapshot() {
    let r = ok_json(&["verify", fixture("ok-small").to_str().unwrap()]);
    assert_eq!(r["findings"], serde_json::json!([]));
    assert_eq!(r["chunks_checked"], 3);
    assert_eq!(r["rows"], 20);
}

#[test]
fn verify_names_each_kind_of_damage() {
    assert_eq!(verify_kinds("bad-hash"), ["hash"]);
    assert_eq!(verify_kinds("bad-truncated"), ["size"]);
    assert_eq!(verify_kinds("bad-missing-chunk"), ["missing"]);
    assert_eq!(verify_kinds("bad-unexpected-file"), ["unexpected_file"]);
    assert_eq!(verify_kinds("incomplete"), ["incomplete"]);
    let o = run(&["verify", fixture("bad-hash").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("chunks/fixture_docs/000001.parquet") && out.contains("blake3"), "{out}");
    let e = fails(&["verify", fixture("bad-version").to_str().unwrap()], 1);
    assert!(e.contains("format version 2 is not supported"), "{e}");
    let e = fails(&["verify", fixture("bad-manifest-json").to_str().unwrap()], 1);
    assert!(e.contains("not valid JSON"), "{e}");
    let e = fails(&["verify", "/nonexistent/snapshot"], 1);
    assert!(e.contains("is not a snapshot"), "{e}");
}

#[test]
fn inspect_shows_the_schema() {
    let o = run(&["inspect", fixture("ok-small").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    for needle in ["collection fixture_docs", "vector embedding", "dim 8, metric cosine", "m=Some(16)", "20 rows in 3 chunks", "document: content"] {
        assert!(s.contains(needle), "{needle} missing from:\n{s}");
    }
    let j = ok_json(&["inspect", fixture("ok-small").to_str().unwrap()]);
    assert_eq!(j["collections"][0]["totals"]["rows"], 20);
}

#[test]
fn import_refuses_a_corrupted_chunk_naming_it() {
    let d = TestDir::new();
    let snap = copy_fixture("bad-hash", &d);
    let db = d.path("db");
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"], 1);
    assert!(e.contains("000001.parquet") && e.contains("blake3") && e.contains("re-export"), "{e}");
}

#[test]
fn incomplete_snapshot_needs_partial() {
    let d = TestDir::new();
    let snap = copy_fixture("incomplete", &d);
    let db = d.path("db");
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"], 2);
    assert!(e.contains("not finished") && e.contains("--partial"), "{e}");
    let r = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c", "--partial"]);
    assert_eq!(r["points_upserted"], 16);
}

#[test]
fn fixture_imports_and_validates_offline_and_journal_skips_done_chunks() {
    let d = TestDir::new();
    let snap = copy_fixture("ok-small", &d);
    let db = d.path("db");
    let r = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs", "--parallelism", "2"]);
    assert_eq!(r["points_upserted"], 20);
    assert_eq!(r["settings"]["hnsw_m"], 16);
    assert_eq!(r["settings"]["hnsw_ef_construction"], 64);
    let r = ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs"]);
    assert_eq!(r["chunks_skipped"], 3);
    assert_eq!(r["points_upserted"], 0);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
    // The journal lives in .imports/ and verify ignores it.
    assert!(snap.join(".imports").is_dir());
    let r = ok_json(&["verify", snap.to_str().unwrap()]);
    assert_eq!(r["findings"], serde_json::json!([]));
    // Sampled validation compares a subset and still checks the count.
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs", "--sample", "5"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["rows_compared"], 5);
    // A different original-id field name makes validate see payload differences.
    let o = run(&["--json", "validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "docs", "--strict", "--original-id-field", "src_id"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["payload_mismatches"], 20);
}

#[test]
fn pack_verify_split_and_unpack_an_archive() {
    let d = TestDir::new();
    let snap = fixture("ok-small");
    let tar = d.path("snap.tar");
    let t = tar.to_str().unwrap();
    ok_json(&["pack", snap.to_str().unwrap(), t]);
    // Reproducible: the same snapshot packs to the same bytes.
    let again = d.path("again.tar");
    ok_json(&["pack", snap.to_str().unwrap(), again.to_str().unwrap()]);
    assert_eq!(std::fs::read(&tar).unwrap(), std::fs::read(&again).unwrap());
    let r = ok_json(&["verify", t]);
    assert_eq!(r["findings"], serde_json::json!([]));
    assert_eq!(r["rows"], 20);

    // Split into parts: their concatenation is the archive; verify and unpack read the parts.
    let parts = d.path("parts.tar");
    let p = ok_json(&["pack", snap.to_str().unwrap(), parts.to_str().unwrap(), "--split-size", "5K"]);
    let files: Vec<String> = p["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
    assert!(files.len() >= 3 && files[0].ends_with(".000"), "{files:?}");
    let joined: Vec<u8> = files.iter().flat_map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(joined, std::fs::read(&tar).unwrap());
    ok_json(&["verify", &files[0]]);
    let out = d.path("unpacked");
    ok_json(&["unpack", parts.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(ok_json(&["verify", out.to_str().unwrap()])["findings"], serde_json::json!([]));
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), std::fs::read(snap.join("manifest.json")).unwrap());

    // A flipped byte inside a chunk is named; unpack refuses to produce a snapshot.
    let mut bytes = std::fs::read(&tar).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xFF;
    let bad = d.path("bad.tar");
    std::fs::write(&bad, bytes).unwrap();
    let o = run(&["--json", "verify", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "hash", "{v:#}");
    let o = run(&["unpack", bad.to_str().unwrap(), d.path("bad-out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!d.path("bad-out/manifest.json").exists(), "a damaged archive must not unpack into a snapshot");
    // An unfinished export is not packed by accident.
    let e = fails(&["pack", fixture("incomplete").to_str().unwrap(), d.path("i.tar").to_str().unwrap()], 2);
    assert!(e.contains("--partial"), "{e}");
}
