//! Import into a real velesdb-server over REST: round trip, resume, API
//! keys, the default rate limiter, a server killed mid-import.

use crate::common::*;

fn snapshot_of(rows: usize, dim: usize, chunk_rows: &str, d: &TestDir) -> std::path::PathBuf {
    let t = table("rest");
    seed_vectors(&t, rows, dim);
    let snap = d.path("snap");
    export(&t, &snap, &["--chunk-rows", chunk_rows]);
    snap
}

#[test]
fn rest_import_validates_resumes_and_dry_runs() {
    let d = TestDir::new();
    let snap = snapshot_of(1_200, 16, "100", &d);
    let server = Server::start(&d.path("server"), None, false);
    let s = snap.to_str().unwrap();
    // Small bodies: several requests per chunk, three in flight.
    let r = ok_json(&["import", s, "--to", &server.url, "--collection", "c", "--max-request-bytes", "20000", "--concurrency", "3"]);
    assert_eq!(r["points_upserted"], 1_200);
    assert_eq!(r["collection_count"], 1_200);
    assert_eq!(r["created_collection"], true);
    assert_eq!(r["settings"]["hnsw_m"], 8);
    let v = ok_json(&["validate", s, "--to", &server.url, "--collection", "c", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
    // Re-running skips every chunk; a dry run writes nothing and says so.
    let r = ok_json(&["import", s, "--to", &server.url, "--collection", "c"]);
    assert_eq!(r["chunks_skipped"], 12);
    let r = ok_json(&["import", s, "--to", &server.url, "--collection", "c2", "--dry-run"]);
    assert_eq!(r["dry_run"], true);
    assert_eq!(http_status(server.port, "/v1/collections/c2"), 404, "a dry run must not create the collection");
    // An existing collection with another metric is refused with the fix.
    let e = fails(&["import", s, "--to", &server.url, "--collection", "c", "--metric", "dot"], 1);
    assert!(e.contains("metric") && e.contains("--collection"), "{e}");
}

#[test]
fn rest_api_keys_are_required_used_and_never_leaked() {
    let d = TestDir::new();
    let snap = snapshot_of(200, 8, "50", &d);
    let key = "sekret-key-4242-abcdef";
    let server = Server::start(&d.path("server"), Some(&format!("other-key,{key}")), false);
    let s = snap.to_str().unwrap();
    let o = run(&["import", s, "--to", &server.url, "--collection", "c"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("401") && e.contains("API key"), "{e}");
    let o = run(&["--json", "import", s, "--to", &server.url, "--collection", "c", "--api-key", key]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(key), "the key leaked into the output");
    let o = std::process::Command::new(bin())
        .args(["--json", "validate", s, "--to", &server.url, "--collection", "c", "--strict"])
        .env("VELESDB_API_KEY", key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for entry in walk(&snap) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(key), "the key leaked into {}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn default_rate_limiter_stops_with_the_fix() {
    let d = TestDir::new();
    // 150 chunks: more requests than the limiter's burst of 100.
    let snap = snapshot_of(300, 4, "2", &d);
    let server = Server::start(&d.path("server"), None, true);
    let started = std::time::Instant::now();
    let e = fails(&["import", snap.to_str().unwrap(), "--to", &server.url, "--collection", "c"], 1);
    assert!(e.contains("rate limiter") && e.contains("--rate-limit 0"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "it must stop, not crawl");
}

#[test]
fn server_killed_and_restarted_mid_import_loses_nothing() {
    let d = TestDir::new();
    let snap = snapshot_of(3_000, 32, "150", &d);
    let mut server = Server::start(&d.path("server"), None, false);
    let s = snap.to_str().unwrap().to_owned();
    let url = server.url.clone();
    let mut child = std::process::Command::new(bin())
        .args(["--json", "--quiet", "import", &s, "--to", &url, "--collection", "c", "--retry-initial-ms", "100", "--max-attempts", "20"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while journal_done(&snap, "c", &url) < 4 {
        assert!(std::time::Instant::now() < deadline, "the import made no progress");
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the import ended before the server was killed: {st:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill();
    std::thread::sleep(std::time::Duration::from_millis(700));
    server.restart();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["collection_count"], 3_000, "{r:#}");
    assert!(r["retries"]["connection"].as_u64().unwrap_or(0) > 0, "the outage was not noticed: {r:#}");
    let v = ok_json(&["validate", &s, "--to", &url, "--collection", "c", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
}

#[test]
fn rest_import_killed_at_random_resumes() {
    let d = TestDir::new();
    let snap = snapshot_of(2_000, 16, "100", &d);
    let server = Server::start(&d.path("server"), None, false);
    let s = snap.to_str().unwrap();
    let args = ["--quiet", "import", s, "--to", &server.url, "--collection", "c"];
    let committed = || journal_done(&snap, "c", &server.url);
    let (r, kills) = kill_repeatedly_then_finish(&args, 6, &committed);
    assert!(kills >= 2, "the import was hardly interrupted ({kills} kills)");
    assert_eq!(r["collection_count"], 2_000);
    let v = ok_json(&["validate", s, "--to", &server.url, "--collection", "c", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
}
