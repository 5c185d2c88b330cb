//! Shared helpers: the binary, the PostgreSQL peer, per-test directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_velesdb-migrate"))
}

/// URL of the test PostgreSQL (scripts/setup.sh starts it).
pub fn pg_url() -> String {
    std::env::var("VELESDB_MIGRATE_PG_URL").unwrap_or_else(|_| {
        let port = std::env::var("VELESDB_MIGRATE_PG_PORT").unwrap_or_else(|_| "55432".into());
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    })
}

/// Run SQL through the bundled psql; panics with psql's output on failure.
pub fn psql(sql: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("bash")
        .arg(repo().join("scripts/pg.sh"))
        .args(["psql", "-q", "-A", "-t", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/pg.sh");
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "psql failed (is the test PostgreSQL running? run `bash scripts/setup.sh`):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fresh directory per test, removed at the end.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDir {
    pub fn new() -> TestDir {
        TestDir { dir: tempfile::Builder::new().prefix("vm-it-").tempdir().unwrap() }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// A table name unique to this test process and call.
pub fn table(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run velesdb-migrate")
}

pub fn text(o: &Output) -> String {
    format!("status {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Run and require success; returns stdout parsed as JSON (pass --json).
pub fn ok_json(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json", "--quiet"];
    a.extend_from_slice(args);
    let o = run(&a);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)))
}

/// Run and require failure with `code`; returns stderr.
pub fn fails(args: &[&str], code: i32) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn export(table: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let url = pg_url();
    let mut a = vec!["export", "pgvector", "--url", &url, "--table", table, "--out", out.to_str().unwrap()];
    a.extend_from_slice(extra);
    ok_json(&a)
}

pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// (file, blake3) of every chunk in the manifest.
pub fn chunk_hashes(dir: &Path) -> Vec<(String, String)> {
    manifest(dir)["collections"][0]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["file"].as_str().unwrap().to_owned(), c["blake3"].as_str().unwrap().to_owned()))
        .collect()
}

/// The Python of the peers venv (has pyarrow).
pub fn python() -> PathBuf {
    let dir = std::env::var("VELESDB_MIGRATE_PEERS_DIR").map(PathBuf::from).unwrap_or_else(|_| repo().join(".peers"));
    dir.join("venv/bin/python")
}

/// Fill `table` with `n` rows of `dim`-dimensional vectors (deterministic values).
pub fn seed_vectors(table: &str, n: usize, dim: usize) {
    psql(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({dim}), title text, n int);
         INSERT INTO {table}
           SELECT i, (SELECT array_agg(((i * 31 + j * 17) % 1000) / 1000.0 - 0.5)::real[] FROM generate_series(1, {dim}) j)::vector,
                  'row ' || i, i % 7
           FROM generate_series(1, {n}) i;
         CREATE INDEX ON {table} USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 40);"
    ));
}
