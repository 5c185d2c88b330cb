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

/// The role `vm_password_user` with the password `right-password` (pg_hba
/// requires one: scripts/pg.sh), allowed to read `t`; its URL without the password.
pub fn password_role_reads(t: &str) -> String {
    psql(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vm_password_user') THEN
             CREATE ROLE vm_password_user LOGIN PASSWORD 'right-password';
           END IF;
         END $$; GRANT SELECT ON {t} TO vm_password_user;"
    ));
    let port = pg_url().rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    format!("postgres://vm_password_user@127.0.0.1:{port}/postgres")
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

/// A real velesdb-server (installed by scripts/setup.sh) on a free loopback port.
pub struct Server {
    child: Option<std::process::Child>,
    pub port: u16,
    pub url: String,
    pub dir: PathBuf,
    keys: Option<String>,
    rate_limit: bool,
}

pub fn server_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let o = Command::new("bash").arg(repo().join("scripts/velesdb-server.sh")).arg("bin").output().expect("run scripts/velesdb-server.sh");
        let bin = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        assert!(bin.exists(), "{} is missing: run `bash scripts/setup.sh`", bin.display());
        bin
    })
    .clone()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Plain HTTP GET on loopback; returns the status code (0 when unreachable).
pub fn http_status(port: u16, path: &str) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return 0 };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    if write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_err() {
        return 0;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

impl Server {
    /// Start a server; `keys` = comma-separated API keys; `rate_limit` keeps the default limiter on.
    pub fn start(dir: &Path, keys: Option<&str>, rate_limit: bool) -> Server {
        let mut s = Server { child: None, port: free_port(), url: String::new(), dir: dir.to_owned(), keys: keys.map(str::to_owned), rate_limit };
        s.url = format!("http://127.0.0.1:{}", s.port);
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let mut cmd = Command::new(server_bin());
        cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string(), "--data-dir", self.dir.to_str().unwrap()])
            .env("VELESDB_NO_UPDATE_CHECK", "1")
            .env_remove("VELESDB_API_KEYS")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !self.rate_limit {
            cmd.args(["--rate-limit", "0"]);
        }
        if let Some(k) = &self.keys {
            cmd.env("VELESDB_API_KEYS", k);
        }
        self.child = Some(cmd.spawn().expect("start velesdb-server"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while http_status(self.port, "/v1/ready") != 200 {
            assert!(std::time::Instant::now() < deadline, "velesdb-server did not become ready on port {}", self.port);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM: the server flushes and exits cleanly.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Small deterministic PRNG (xorshift); the seed is printed so a failure can be replayed.
pub struct Rng(u64);
impl Rng {
    pub fn new() -> Rng {
        let seed = std::env::var("VM_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("test seed: {seed} (replay with VM_TEST_SEED={seed})");
        Rng(seed)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Start `args` and SIGKILL it at a random moment while it works: once
/// `committed()` (chunks it has committed) has grown by a random 0-2 since
/// the start, plus a random 0-15 ms. Returns true if it finished first.
pub fn run_and_kill(args: &[&str], rng: &mut Rng, committed: &dyn Fn() -> usize) -> bool {
    use std::time::{Duration, Instant};
    let target = committed() + rng.below(3) as usize;
    let extra = Duration::from_millis(rng.below(16));
    let mut child = Command::new(bin()).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut reached: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            if !status.success() {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                panic!("run failed before it was killed: {args:?}: {err}");
            }
            return true;
        }
        match reached {
            None if committed() >= target => reached = Some(Instant::now()),
            Some(t) if t.elapsed() >= extra => break,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    false
}

/// Kill `args` at random moments up to `rounds` times (see [`run_and_kill`]),
/// stopping early when a run finishes; then run it to completion and return
/// (its JSON result, the number of kills).
pub fn kill_repeatedly_then_finish(args: &[&str], rounds: usize, committed: &dyn Fn() -> usize) -> (serde_json::Value, usize) {
    let mut rng = Rng::new();
    let mut kills = 0;
    for _ in 0..rounds {
        if run_and_kill(args, &mut rng, committed) {
            break;
        }
        kills += 1;
    }
    // Finish (or confirm completion) without interruption; args[0] is --quiet.
    (ok_json(&args[1..]), kills)
}

pub fn json_file(p: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// Chunks recorded as done in the import journal of `snap` for collection `coll` at `dest`.
pub fn journal_done(snap: &Path, coll: &str, dest: &str) -> usize {
    std::fs::read_dir(snap.join(".imports"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| json_file(&e.path()))
        .filter(|j| j["collection"] == coll && j["destination"] == dest)
        .map(|j| j["done"].as_array().map_or(0, |d| d.len()))
        .sum()
}

/// A real Chroma server (`chroma run`, from the peers venv) on a free loopback port.
pub struct ChromaServer {
    child: std::process::Child,
    pub port: u16,
    pub url: String,
}

impl ChromaServer {
    pub fn start(dir: &Path) -> ChromaServer {
        let port = free_port();
        let chroma = python().with_file_name("chroma");
        let child = Command::new(&chroma)
            .args(["run", "--path", dir.to_str().unwrap(), "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("ANONYMIZED_TELEMETRY", "False")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} ({e}): run `bash scripts/setup.sh`", chroma.display()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while http_status(port, "/api/v2/heartbeat") != 200 {
            assert!(std::time::Instant::now() < deadline, "chroma did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ChromaServer { child, port, url: format!("http://127.0.0.1:{port}") }
    }

    /// Run scripts/chroma_peer.py against this server; returns stdout.
    pub fn peer(&self, args: &[&str]) -> String {
        let o = Command::new(python())
            .arg(repo().join("scripts/chroma_peer.py"))
            .arg(self.port.to_string())
            .args(args)
            .env("ANONYMIZED_TELEMETRY", "False")
            .output()
            .unwrap();
        assert!(o.status.success(), "chroma_peer.py {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }
}

impl Drop for ChromaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every row of a snapshot, read by pyarrow (scripts/read_snapshot.py).
pub fn snapshot_rows(snap: &Path) -> Vec<serde_json::Value> {
    let o = Command::new(python()).arg(repo().join("scripts/read_snapshot.py")).arg(snap).output().expect("run pyarrow reader");
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap().as_array().unwrap().clone()
}

/// The Qdrant REST emulator (scripts/qdrant_emulator.py) on a free loopback port.
pub struct QdrantEmulator {
    child: std::process::Child,
    pub port: u16,
    pub url: String,
    key: Option<String>,
}

impl QdrantEmulator {
    pub fn start(dir: &Path, key: Option<&str>) -> QdrantEmulator {
        let port = free_port();
        let mut cmd = Command::new(python());
        cmd.arg(repo().join("scripts/qdrant_emulator.py")).arg(port.to_string()).arg(dir);
        if let Some(k) = key {
            cmd.arg(k);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start the Qdrant emulator");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while http_status(port, "/healthz") != 200 {
            assert!(std::time::Instant::now() < deadline, "the Qdrant emulator did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        QdrantEmulator { child, port, url: format!("http://127.0.0.1:{port}"), key: key.map(str::to_owned) }
    }

    /// Run scripts/qdrant_peer.py (the official client) against the emulator; returns stdout.
    pub fn peer(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(python());
        cmd.arg(repo().join("scripts/qdrant_peer.py")).arg(self.port.to_string()).args(args);
        if let Some(k) = &self.key {
            cmd.arg(k);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "qdrant_peer.py {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }
}

impl Drop for QdrantEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// pgbouncer in transaction mode in front of the test PostgreSQL (scripts/pgbouncer.sh).
pub struct PgBouncer {
    pub port: u16,
    pub url: String,
}

impl PgBouncer {
    pub fn start() -> PgBouncer {
        let port = free_port();
        let o = Command::new("bash").arg(repo().join("scripts/pgbouncer.sh")).args(["start", &port.to_string()]).output().unwrap();
        assert!(o.status.success(), "pgbouncer: {}", text(&o));
        PgBouncer { port, url: format!("postgres://postgres@127.0.0.1:{port}/postgres") }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(repo().join("scripts/pgbouncer.sh")).args(["stop", &self.port.to_string()]).output();
    }
}

/// Start `args` and SIGKILL it as soon as `committed()` reaches `n`.
/// Returns true if it finished first.
pub fn run_and_kill_after(args: &[&str], committed: &dyn Fn() -> usize, n: usize) -> bool {
    let mut child = Command::new(bin()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        if committed() >= n {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

/// Run the binary in `dir` with extra environment variables.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(bin()).current_dir(dir).args(args).envs(env.iter().copied()).output().expect("run velesdb-migrate")
}

/// The `--emit-config` round trip: in `dir`, run `discover ARGS --emit-config
/// discovered.yaml` (JSON), then `config validate`, then `--config` (the
/// export into `dir/snapshot`), then `verify`. `env` holds the secrets the
/// file names as variables (only the runs after discover get it). Returns
/// (what discover found, the config text, the export's JSON summary).
pub fn emit_validate_run(dir: &Path, discover: &[&str], env: &[(&str, &str)]) -> (serde_json::Value, String, serde_json::Value) {
    let json = |o: Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)))
    };
    let mut a = vec!["--json", "--quiet", "discover"];
    a.extend_from_slice(discover);
    a.extend(["--emit-config", "discovered.yaml"]);
    let found = json(run_in(dir, &a, &[]));
    let config = std::fs::read_to_string(dir.join("discovered.yaml")).expect("discover wrote the config");
    let v = json(run_in(dir, &["--json", "config", "validate", "discovered.yaml"], env));
    assert_eq!(v["valid"], true, "{v:#}\n{config}");
    let summary = json(run_in(dir, &["--json", "--quiet", "--config", "discovered.yaml"], env));
    let o = run_in(dir, &["--json", "verify", "snapshot"], &[]);
    assert!(o.status.success(), "the exported snapshot does not verify: {}", text(&o));
    (found, config, summary)
}
