//! Crash safety: SIGKILL at random moments, then re-run; the result must
//! equal an uninterrupted run. Also determinism and argument checks.

use crate::common::*;

#[test]
fn export_killed_at_random_resumes_to_identical_chunks() {
    let t = table("killexp");
    seed_vectors(&t, 20_000, 48);
    let d = TestDir::new();
    let reference = d.path("ref");
    export(&t, &reference, &["--chunk-rows", "700"]);
    let reference_hashes = chunk_hashes(&reference);
    assert_eq!(reference_hashes.len(), 29);

    let snap = d.path("snap");
    let url = pg_url();
    let args = ["--quiet", "export", "pgvector", "--url", &url, "--table", &t, "--out", snap.to_str().unwrap(), "--chunk-rows", "700"];
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    let (s, kills) = kill_repeatedly_then_finish(&args, 8, &committed);
    assert_eq!(s["rows"], 20_000);
    eprintln!("export killed {kills} time(s) before completing");
    assert!(kills >= 2, "the export was hardly interrupted; the test proved nothing");
    assert_eq!(chunk_hashes(&snap), reference_hashes, "resumed export differs from an uninterrupted one");
    let v = ok_json(&["verify", snap.to_str().unwrap()]);
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");

    // Re-running a complete export does nothing and succeeds.
    let again = ok_json(&args[1..]);
    assert_eq!(again["already_complete"], true);
    assert_eq!(chunk_hashes(&snap), reference_hashes);

    // Different arguments on an existing snapshot are refused.
    let e = fails(&["export", "pgvector", "--url", &url, "--table", &t, "--out", snap.to_str().unwrap(), "--chunk-rows", "500"], 1);
    assert!(e.contains("different options"), "{e}");
}

#[test]
fn import_killed_at_random_resumes_to_identical_contents() {
    let t = table("killimp");
    // Long enough for several journal commits per run: the import flushes
    // and journals only once the work since the last flush is 25 times what
    // that flush took, a few times a second here.
    seed_vectors(&t, 12_000, 32);
    let d = TestDir::new();
    let snap = d.path("snap");
    export(&t, &snap, &["--chunk-rows", "150"]);

    let reference_db = d.path("ref-db");
    ok_json(&["import", snap.to_str().unwrap(), "--to", reference_db.to_str().unwrap(), "--collection", "c"]);

    let db = d.path("db");
    let args = ["--quiet", "import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"];
    let committed = || journal_done(&snap, "c", db.to_str().unwrap());
    let (s, kills) = kill_repeatedly_then_finish(&args, 8, &committed);
    eprintln!("import killed {kills} time(s) before completing; final run upserted {} points", s["points_upserted"]);
    assert!(kills >= 2, "the import was hardly interrupted; the test proved nothing");
    assert_eq!(s["collection_count"], 12_000);
    for dbdir in [&reference_db, &db] {
        let r = ok_json(&["validate", snap.to_str().unwrap(), "--to", dbdir.to_str().unwrap(), "--collection", "c", "--strict"]);
        assert_eq!(r["ok"], true, "{r:#}");
        assert_eq!(r["actual_count"], 12_000);
    }
}

#[test]
fn same_rows_give_byte_identical_chunks() {
    let t = table("determ");
    seed_vectors(&t, 2_500, 16);
    let d = TestDir::new();
    let (a, b) = (d.path("a"), d.path("b"));
    export(&t, &a, &["--chunk-rows", "1000"]);
    export(&t, &b, &["--chunk-rows", "1000"]);
    let ha = chunk_hashes(&a);
    assert_eq!(ha.len(), 3);
    assert_eq!(ha, chunk_hashes(&b));
    for (file, _) in &ha {
        assert_eq!(std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap(), "{file}");
    }
}

/// A torn record at the end of VelesDB's payload log (a run killed
/// mid-append) is cut before the data directory is reopened; otherwise
/// velesdb-core 8.0.0 would append after it and lose those payloads on the
/// next open (see src/sink/repair.rs).
#[test]
fn torn_payload_log_tail_is_repaired_and_nothing_is_lost() {
    use std::io::Write;
    let t = table("torn");
    seed_vectors(&t, 600, 8);
    let d = TestDir::new();
    let snap = d.path("snap");
    export(&t, &snap, &["--chunk-rows", "100"]);
    let db = d.path("db");
    ok_json(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"]);

    // Pretend the last chunk (ids 501..=600) was being written when the
    // process died: its points are not in the collection, it is not in the
    // journal, and the payload log ends with half a store record.
    {
        let vdb = velesdb_core::Database::open(&db).unwrap();
        let coll = vdb.get_vector_collection("c").unwrap();
        coll.delete(&(501..=600).collect::<Vec<u64>>()).unwrap();
        coll.flush_full().unwrap();
    }
    let log = db.join("c/payloads.log");
    let clean_len = std::fs::metadata(&log).unwrap().len();
    // The import journal (the directory also holds run records).
    let journal_file = std::fs::read_dir(snap.join(".imports"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| json_file(p).is_some_and(|j| j["done"].is_array()))
        .expect("an import journal");
    let mut j: serde_json::Value = serde_json::from_slice(&std::fs::read(&journal_file).unwrap()).unwrap();
    let last = chunk_hashes(&snap).last().unwrap().1.clone();
    j["done"] = serde_json::Value::Array(j["done"].as_array().unwrap().iter().filter(|h| **h != last).cloned().collect());
    j["payload_log_checkpoint"] = clean_len.into();
    std::fs::write(&journal_file, serde_json::to_vec(&j).unwrap()).unwrap();
    let mut torn = vec![0xC3u8];
    torn.extend(42u64.to_le_bytes());
    torn.extend(500u32.to_le_bytes());
    torn.extend(b"{\"partial\":");
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(&torn).unwrap();

    let o = run(&["--json", "import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("removed a torn {}-byte record", torn.len())), "{err}");
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["chunks_imported"], 1);
    assert!(std::fs::metadata(&log).unwrap().len() > clean_len);
    // validate reopens the directory: every payload must still be there.
    let r = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c", "--strict"]);
    assert_eq!(r["ok"], true, "{r:#}");

    // Without a checkpoint of ours, a torn log is not ours to cut: refuse.
    std::fs::remove_dir_all(snap.join(".imports")).unwrap();
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(&torn).unwrap();
    let e = fails(&["import", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "c"], 1);
    assert!(e.contains("torn record") && e.contains("new --collection"), "{e}");
}

#[test]
fn an_export_killed_before_its_first_manifest_starts_again() {
    let t = table("firstmanifest");
    seed_vectors(&t, 30, 4);
    let d = TestDir::new();
    let snap = d.path("snap");
    // What a kill during the very first manifest write leaves behind.
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("manifest.json.tmp"), b"{\"format\": \"velesdb-mig").unwrap();
    let s = export(&t, &snap, &[]);
    assert_eq!(s["rows"], 30);
    assert!(!snap.join("manifest.json.tmp").exists());
    // Anything else in the directory is still refused.
    let other = d.path("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"mine").unwrap();
    let url = pg_url();
    let e = fails(&["export", "pgvector", "--url", &url, "--table", &t, "--out", other.to_str().unwrap()], 2);
    assert!(e.contains("not empty"), "{e}");
}
