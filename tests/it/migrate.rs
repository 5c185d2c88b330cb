//! `migrate` (alias `from`): export and import in one command against the
//! real PostgreSQL + pgvector and embedded VelesDB.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// Run the binary in `cwd` (migrate stages under ./.velesdb-migrate).
fn run_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin()).current_dir(cwd).args(args).output().expect("run velesdb-migrate")
}

fn ok_in(cwd: &Path, args: &[&str]) -> serde_json::Value {
    ok_in_env(cwd, args, &[])
}

/// Chunks recorded as done by every import journal of a snapshot.
fn journal_chunks(snap: &Path) -> usize {
    std::fs::read_dir(snap.join(".imports"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| json_file(&e.path()))
        .map(|j| j["done"].as_array().map_or(0, |d| d.len()))
        .sum()
}

#[test]
fn migrate_exports_imports_and_removes_its_staging_snapshot() {
    let d = TestDir::new();
    let t = table("mig");
    seed_vectors(&t, 3000, 16);
    let url = pg_url();
    let db = d.path("db");
    // Destination flags after the source name are the import's.
    let s = ok_in(&d.path(""), &["migrate", "pgvector", "--url", &url, "--table", &t, "--chunk-rows", "500", "--to", db.to_str().unwrap(), "--to-collection", "items"]);
    assert_eq!(s["export"]["rows"], 3000);
    assert_eq!(s["imports"][0]["collection"], "items");
    assert_eq!(s["imports"][0]["collection_count"], 3000);
    assert_eq!(s["points_upserted"], 3000);
    assert_eq!(s["snapshot_kept"], false);
    let staging = d.path("").join(s["snapshot"].as_str().unwrap());
    assert!(!staging.exists(), "the staging snapshot is removed on success: {}", staging.display());

    // `from` is the same command; --keep-snapshot keeps the staging snapshot,
    // which validates against what was imported.
    let db2 = d.path("db2");
    let s = ok_in(&d.path(""), &["from", "pgvector", "--url", &url, "--table", &t, "--to", db2.to_str().unwrap(), "--keep-snapshot"]);
    let staging = d.path("").join(s["snapshot"].as_str().unwrap());
    assert!(staging.join("manifest.json").exists());
    let v = ok_json(&["validate", staging.to_str().unwrap(), "--to", db2.to_str().unwrap(), "--collection", &t, "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // A source error stops it with the source's message and exit code.
    let o = run_in(&d.path(""), &["migrate", "pgvector", "--url", &url, "--table", "no_such_table_here", "--to", db.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no_such_table_here"), "{}", text(&o));
}

#[test]
fn migrate_imports_while_exporting_and_resumes_after_a_kill() {
    let d = TestDir::new();
    let t = table("migk");
    seed_vectors(&t, 4000, 8);
    let url = pg_url();
    let db = d.path("db");
    let snap = d.path("snap");
    // pg_sleep slows the source down (about 1 ms a row) so the export is
    // still running when the import has finished its first chunks.
    let args = [
        "--quiet", "migrate", "pgvector", "--url", &url, "--table", &t, "--where", "pg_sleep(0.001) IS NOT NULL",
        "--chunk-rows", "250", "--out", snap.to_str().unwrap(), "--to", db.to_str().unwrap(),
    ];
    let overlapped = kill_when(&d.path(""), &args, &[], &|| {
        let incomplete = json_file(&snap.join("manifest.json")).is_some_and(|m| m["complete"] == false);
        incomplete && journal_chunks(&snap) >= 1
    });
    assert!(overlapped, "chunks were imported while the export was still running");

    // The same command resumes both phases and finishes.
    let mut a = vec!["--json"];
    a.extend_from_slice(&args);
    let o = run_in(&d.path(""), &a);
    assert!(o.status.success(), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["export"]["rows"], 4000);
    assert!(s["export"]["resumed_chunks"].as_u64().unwrap() >= 1, "{s:#}");
    assert_eq!(s["imports"][0]["collection_count"], 4000);
    assert!(s["imports"][0]["chunks_skipped"].as_u64().unwrap() >= 1 || s["rounds_during_export"].as_u64().unwrap() >= 1, "{s:#}");
    assert_eq!(s["snapshot_kept"], true, "--out names a snapshot to keep");
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", &t, "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
}

#[test]
fn export_dry_run_estimates_and_writes_nothing() {
    let d = TestDir::new();
    let t = table("dry");
    seed_vectors(&t, 5000, 32);
    let out = d.path("never");
    let url = pg_url();
    let r = ok_json(&["export", "pgvector", "--url", &url, "--table", &t, "--out", out.to_str().unwrap(), "--dry-run", "--sample-rows", "500"]);
    assert!(!out.exists(), "a dry run writes nothing");
    assert_eq!(r["dry_run"], true);
    let c = &r["collections"][0];
    assert_eq!(c["rows"], 5000);
    assert_eq!(c["sample_rows"], 500);
    assert_eq!(c["schema"]["vectors"][0]["dimension"], 32);
    assert!(r["estimated_seconds"].as_f64().unwrap() > 0.0);
    // The size estimate is within 25 % of the real snapshot's.
    let est = r["estimated_snapshot_bytes"].as_f64().unwrap();
    let real = export(&t, &d.path("snap"), &[])["bytes"].as_f64().unwrap();
    assert!((est - real).abs() / real < 0.25, "estimated {est} bytes, real {real}");
    // Bad credentials are found by the dry run too.
    let e = fails(&["export", "pgvector", "--url", "postgres://postgres@127.0.0.1:1/postgres", "--table", &t, "--dry-run"], 1);
    assert!(e.contains("127.0.0.1:1"), "{e}");
}

/// Start `args` in `cwd`; kill it once `ready()` holds (or it ends); true if killed first.
fn kill_when(cwd: &Path, args: &[&str], envs: &[(&str, &str)], ready: &dyn Fn() -> bool) -> bool {
    let mut child = Command::new(bin()).current_dir(cwd).args(args).envs(envs.iter().copied()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if ready() {
            child.kill().ok();
            child.wait().ok();
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().ok();
    child.wait().ok();
    false
}

#[test]
fn resume_continues_the_interrupted_export_and_migrate() {
    let d = TestDir::new();
    let cwd = d.path("");
    let t = table("res");
    seed_vectors(&t, 3000, 8);
    // The password role reads the table; its password must not be recorded.
    let secret_url = password_role_reads(&t).replacen("vm_password_user@", "vm_password_user:right-password@", 1);
    let whole = d.path("whole");
    export(&t, &whole, &["--chunk-rows", "100"]);

    let snap = d.path("snap");
    let args = ["--quiet", "export", "pgvector", "--url", &secret_url, "--table", &t, "--where", "pg_sleep(0.001) IS NOT NULL", "--chunk-rows", "100", "--out", "snap"];
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    assert!(kill_when(&cwd, &args, &[], &|| committed() >= 2), "the export finished before it could be interrupted");
    let record = std::fs::read_to_string(snap.join(".imports/run-export.json")).unwrap();
    assert!(!record.contains("right-password") && record.contains("DATABASE_URL"), "{record}");
    assert_eq!(fails_in(&cwd, &["resume"], &[], 2).contains("DATABASE_URL"), true);
    let s = ok_in_env(&cwd, &["resume"], &[("DATABASE_URL", &secret_url)]);
    assert_eq!(s["rows"], 3000);
    assert!(s["resumed_chunks"].as_u64().unwrap() >= 2, "{s:#}");
    // Same rows as one uninterrupted export (the filter only slows the source).
    let hashes = |p: &Path| chunk_hashes(p).into_iter().map(|(_, h)| h).collect::<Vec<_>>();
    assert_eq!(hashes(&snap), hashes(&whole));
    assert!(fails_in(&cwd, &["resume"], &[], 2).contains("no interrupted"), "a finished run is not resumed again");

    // An interrupted migrate (default staging directory) resumes too.
    let db = d.path("db");
    let margs = ["--quiet", "migrate", "pgvector", "--url", &pg_url(), "--table", &t, "--where", "pg_sleep(0.001) IS NOT NULL", "--chunk-rows", "100", "--to", db.to_str().unwrap()];
    // Killed once its run record exists (written right after the first manifest).
    let recorded = || std::fs::read_dir(cwd.join(".velesdb-migrate")).into_iter().flatten().flatten().any(|e| e.path().join(".imports/run-migrate.json").exists());
    assert!(kill_when(&cwd, &margs, &[], &recorded), "the migrate finished before it could be interrupted");
    let listed = ok_in_env(&cwd, &["resume", "--list"], &[]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    assert_eq!(listed[0]["command"], "migrate");
    let s = ok_in_env(&cwd, &["resume"], &[]);
    assert_eq!(s["imports"][0]["collection_count"], 3000, "{s:#}");
    assert_eq!(s["snapshot_kept"], false);
}

fn ok_in_env(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> serde_json::Value {
    let mut a = vec!["--json", "--quiet"];
    a.extend_from_slice(args);
    let o = Command::new(bin()).current_dir(cwd).args(&a).env_remove("DATABASE_URL").envs(envs.iter().copied()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)))
}

fn fails_in(cwd: &Path, args: &[&str], envs: &[(&str, &str)], code: i32) -> String {
    let o = Command::new(bin()).current_dir(cwd).args(args).env_remove("DATABASE_URL").envs(envs.iter().copied()).output().unwrap();
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn import_transforms_shape_the_payload_and_are_recorded() {
    let d = TestDir::new();
    let t = table("xf");
    seed_vectors(&t, 400, 8);
    let snap = d.path("snap");
    export(&t, &snap, &["--chunk-rows", "100"]);
    let (s, db) = (snap.to_str().unwrap(), d.path("db"));
    let db = db.to_str().unwrap();
    let xf = ["--rename-field", "n=num", "--field-to-document", "title", "--set-field", "tenant=acme", "--set-field", "version=3"];
    let mut a = vec!["import", s, "--to", db, "--collection", "shaped"];
    a.extend_from_slice(&xf);
    assert_eq!(ok_json(&a)["collection_count"], 400);
    // validate computes the payload with the same transforms: all equal…
    let mut v = vec!["validate", s, "--to", db, "--collection", "shaped", "--strict"];
    v.extend_from_slice(&xf);
    assert_eq!(ok_json(&v)["ok"], true);
    // …and without them, every payload differs from the plain one.
    let o = run(&["--json", "validate", s, "--to", db, "--collection", "shaped", "--strict"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Resuming into the collection with other transforms is refused.
    let e = fails(&["import", s, "--to", db, "--collection", "shaped", "--drop-field", "n"], 2);
    assert!(e.contains("other options") && e.contains("transforms"), "{e}");
    // --select-fields keeps only the named fields.
    assert_eq!(ok_json(&["import", s, "--to", db, "--collection", "slim", "--select-fields", "n"])["collection_count"], 400);
    assert_eq!(ok_json(&["validate", s, "--to", db, "--collection", "slim", "--strict", "--select-fields", "n"])["ok"], true);
    // A rename onto an existing field names the record.
    let e = fails(&["import", s, "--to", db, "--collection", "clash", "--rename-field", "n=title"], 1);
    assert!(e.contains("--rename-field n=title") && e.contains("id "), "{e}");
}

/// GET `path` from 127.0.0.1:`port` with a bare HTTP/1.1 request; the body.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
}

#[test]
fn metrics_endpoint_json_logs_and_latency_quantiles() {
    use std::io::BufRead;
    let d = TestDir::new();
    let t = table("obs");
    seed_vectors(&t, 3000, 8);
    let url = pg_url();
    let snap = d.path("snap");
    let mut child = Command::new(bin())
        .args(["--json", "--log-format", "json", "--metrics-addr", "127.0.0.1:0", "export", "pgvector", "--url", &url, "--table", &t])
        .args(["--where", "pg_sleep(0.001) IS NOT NULL", "--chunk-rows", "200", "--out", snap.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let mut addr = None;
    for l in lines.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&l.unwrap()).expect("every stderr line is JSON");
        assert!(v["ts"].is_string() && v["level"].is_string(), "{v}");
        if let Some(m) = v["message"].as_str().and_then(|m| m.strip_prefix("metrics: http://")) {
            addr = Some(m.split('/').next().unwrap().to_owned());
            break;
        }
    }
    let addr = addr.expect("the metrics address is logged");
    // Scrape while the export runs, once a few chunks are committed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut scraped = String::new();
    while std::time::Instant::now() < deadline {
        scraped = http_get(&addr, "/metrics");
        let rows = scraped.lines().find_map(|l| l.strip_prefix("velesdb_migrate_rows_exported_total ")).and_then(|n| n.parse::<u64>().ok());
        if rows.is_some_and(|n| n >= 400) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(scraped.contains("# TYPE velesdb_migrate_rows_exported_total counter"), "{scraped}");
    assert!(scraped.contains("velesdb_migrate_batch_seconds{batch=\"chunk_write\",quantile=\"0.99\"}"), "{scraped}");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    for l in &rest {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["rows"], 3000);
    let page = &s["latency"]["source_page"];
    assert_eq!(page["count"].as_u64().unwrap(), 16, "15 full pages and the empty last one: {s:#}");
    assert!(page["p50_ms"].as_f64().unwrap() > 0.0 && page["p50_ms"].as_f64() <= page["p99_ms"].as_f64(), "{page}");
    assert_eq!(s["latency"]["chunk_write"]["count"], 15);
    // Errors are JSON lines too.
    let o = Command::new(bin()).args(["--log-format", "json", "export", "pgvector", "--url", &url, "--table", "no_such_table_x", "--out", d.path("x").to_str().unwrap()]).output().unwrap();
    let e: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stderr).lines().last().unwrap()).unwrap();
    assert_eq!((e["level"].as_str(), e["code"].as_str()), (Some("error"), Some("VM-SOURCE")), "{e}");
}

#[test]
fn source_retry_policy_comes_from_the_flags() {
    let d = TestDir::new();
    let started = std::time::Instant::now();
    let e = fails(
        &["--source-max-attempts", "2", "--source-retry-initial-ms", "1", "--source-retry-factor", "1.5", "export", "chroma", "--url", "http://127.0.0.1:1", "--collection", "c", "--out", d.path("a").to_str().unwrap()],
        1,
    );
    assert!(e.contains("gave up after 2 attempts") && e.contains("cannot reach the server"), "{e}");
    let e = fails(
        &["--source-max-attempts", "3", "--source-retry-max-ms", "5", "export", "milvus", "--url", "http://127.0.0.1:1", "--collection", "c", "--out", d.path("b").to_str().unwrap()],
        1,
    );
    assert!(e.contains("gave up after 3 attempts") && e.contains("cannot reach the server"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "short delays were used");
}
