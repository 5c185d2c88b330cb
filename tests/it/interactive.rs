//! `interactive`, driven through a real pseudo-terminal (the binary sees a
//! terminal on stdin, stdout and stderr), against the test PostgreSQL and
//! embedded VelesDB; and `migrate` config files.

use crate::common::*;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The binary on the slave side of a new pty, in its own session with the
/// pty as its controlling terminal (so Ctrl-C is a SIGINT from the line
/// discipline, as on a real terminal).
struct Pty {
    master: std::fs::File,
    child: Child,
    /// Everything the program wrote (and the terminal echoed).
    seen: String,
    /// Where the last `expect` matched.
    pos: usize,
    /// A slave descriptor kept open to read the terminal's settings.
    slave: Option<std::fs::File>,
}

// A failed assertion must not leave the program waiting on its terminal.
impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

impl Pty {
    fn spawn(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Pty {
        Pty::spawn_with(cwd, args, envs, false)
    }

    /// `keep_slave`: keep a slave descriptor to check the echo setting (the
    /// master then sees no end of file when the program exits).
    fn spawn_with(cwd: &Path, args: &[&str], envs: &[(&str, &str)], keep_slave: bool) -> Pty {
        // SAFETY: plain pty calls; the pre_exec closure only calls
        // async-signal-safe functions (setsid, ioctl).
        let (master, slave) = unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
            assert_eq!(libc::grantpt(m), 0);
            assert_eq!(libc::unlockpt(m), 0);
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
            let s = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            assert!(s >= 0, "open pty slave: {}", std::io::Error::last_os_error());
            let ws = libc::winsize { ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
            libc::ioctl(s, libc::TIOCSWINSZ, &ws);
            (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s))
        };
        let kept = keep_slave.then(|| slave.try_clone().unwrap());
        let mut cmd = Command::new(bin());
        cmd.current_dir(cwd)
            .args(args)
            .envs(envs.iter().copied())
            .env_remove("PGPASSWORD")
            .env_remove("DATABASE_URL")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start velesdb-migrate on a pty");
        drop(cmd); // our copies of the slave side: EOF/EIO once the child exits
        Pty { master, child, seen: String::new(), pos: 0, slave: kept }
    }

    /// The terminal echoes what is typed.
    fn echo_on(&self) -> bool {
        let fd = self.slave.as_ref().expect("spawned with keep_slave").as_raw_fd();
        // SAFETY: tcgetattr fills a plain C struct.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            t.c_lflag & libc::ECHO != 0
        }
    }

    /// Read what is available within `wait`; false at the end (child gone).
    fn pump(&mut self, wait: Duration) -> bool {
        let mut pfd = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
        if n <= 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => false, // EIO: the slave side is closed
            Ok(k) => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..k]));
                true
            }
        }
    }

    /// Wait until `needle` appears after the previous match.
    fn expect(&mut self, needle: &str) {
        self.expect_within(needle, Duration::from_secs(120));
    }

    fn expect_within(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.seen[self.pos..].find(needle) {
                self.pos += i + needle.len();
                return;
            }
            let alive = self.pump(Duration::from_millis(200));
            assert!(alive || self.seen[self.pos..].contains(needle), "the program ended before `{needle}`:\n{}", self.seen);
            assert!(Instant::now() < deadline, "no `{needle}` within {timeout:?}:\n{}", self.seen);
        }
    }

    fn send(&mut self, line: &str) {
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Read to the end; the exit code.
    fn finish(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.pump(Duration::from_millis(200)) {
            if Instant::now() > deadline {
                self.child.kill().ok();
                panic!("the program did not end:\n{}", self.seen);
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                // Drain what is left.
                while self.pump(Duration::from_millis(100)) && !self.seen.is_empty() {
                    let before = self.seen.len();
                    self.pump(Duration::from_millis(100));
                    if self.seen.len() == before {
                        break;
                    }
                }
                break;
            }
        }
        self.child.wait().unwrap().code()
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn run_env_in(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(bin()).current_dir(cwd).args(args).envs(envs.iter().copied()).output().unwrap()
}

#[test]
fn a_full_session_migrates_and_writes_a_config_that_runs_again() {
    let t = table("inter");
    seed_vectors(&t, 1200, 8);
    let url = password_role_reads(&t);
    let d = TestDir::new();
    let cwd = d.path("");
    let db = d.path("db");
    let cfg = d.path("m.yaml");
    let started = Instant::now();
    let mut s = Pty::spawn(&cwd, &["interactive"], &[]);
    s.expect("Source:");
    s.expect("Choose [1]: ");
    s.send("1");
    s.expect("PostgreSQL connection:");
    s.expect("Choose [1]: ");
    s.send("");
    s.expect("PostgreSQL URL without the password [postgres://postgres@localhost:5432/postgres]: ");
    // A password in the URL is refused with the reason.
    s.send(&url.replace("vm_password_user@", "vm_password_user:oops@"));
    s.expect("leave the password out of the URL");
    // So is one in the query string (sqlx reads `?password=`).
    s.send(&format!("{url}?password=oops2"));
    s.expect("any secret query parameter");
    s.send(&url);
    s.expect("The database password:");
    s.send("3");
    s.expect("The database password (typing is hidden): ");
    s.send("wrong-password");
    s.expect("Environment variable the config file will read it from [PGPASSWORD]: ");
    s.send("VM_IT_PG_PASSWORD");
    // The real error, then a retry with other settings.
    s.expect("could not list what the source holds");
    s.expect("password authentication failed");
    s.expect("What now?");
    s.expect("Choose [2]: ");
    s.send("");
    s.expect("PostgreSQL connection:");
    s.send("1");
    s.expect("PostgreSQL URL without the password [");
    s.expect("]: ");
    s.send("");
    s.expect("The database password:");
    s.send("type");
    s.expect("(typing is hidden): ");
    s.send("right-password");
    s.expect("read it from [PGPASSWORD]: ");
    s.send("VM_IT_PG_PASSWORD");
    s.expect("Table to migrate:");
    s.expect("Choose [1]: ");
    // Answer with the table's name (its number depends on the other tests' tables).
    s.send(&format!("public.{t}"));
    s.expect("Previewing");
    s.expect(&format!("{t} (from public.{t}): 1200 rows"));
    s.expect("id `id` (Int) → VelesDB point ids");
    s.expect("vector embedding: Dense F32, dimension 8, metric l2");
    s.expect("metadata: title (text), n (integer)");
    s.expect("estimated snapshot");
    s.expect("Destination:");
    s.expect("Choose [1]: ");
    s.send("");
    s.expect("VelesDB data directory [./velesdb-data]: ");
    s.send(db.to_str().unwrap());
    s.expect(&format!("Collection in VelesDB [{t}]: "));
    s.send("");
    s.expect(&format!("Config file to write [migrate-pgvector-{t}.yaml]: "));
    // An existing file is not overwritten without a yes.
    std::fs::write(d.path("taken.yaml"), "keep me\n").unwrap();
    s.send(d.path("taken.yaml").to_str().unwrap());
    s.expect("taken.yaml exists. Overwrite it? (y/N): ");
    s.send("");
    s.expect("Config file to write [");
    s.expect("]: ");
    s.send(cfg.to_str().unwrap());
    s.expect("url: 'postgres://vm_password_user:${VM_IT_PG_PASSWORD}@127.0.0.1:");
    s.expect("Write it and run the migration now? (Y/n): ");
    s.send("");
    s.expect_within("Done. To run it again", Duration::from_secs(300));
    s.expect(&format!("velesdb-migrate --config {}", cfg.display()));
    s.expect("export VM_IT_PG_PASSWORD");
    assert_eq!(s.finish(), Some(0), "{}", s.seen);
    eprintln!("interactive session: {:.1} s", started.elapsed().as_secs_f64());
    if std::env::var_os("VM_IT_SHOW_TRANSCRIPT").is_some() {
        eprintln!("{}", s.seen);
    }
    // The hidden prompt did not echo; no secret in the transcript or the file.
    let written = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(std::fs::read_to_string(d.path("taken.yaml")).unwrap(), "keep me\n");
    assert!(!s.seen.contains("right-password") && !s.seen.contains("wrong-password"), "{}", s.seen);
    assert!(!written.contains("right-password") && written.contains("${VM_IT_PG_PASSWORD}"), "{written}");
    assert!(!cwd.join(".velesdb-migrate").read_dir().map(|mut r| r.next().is_some()).unwrap_or(false), "the staging snapshot is removed");

    // The data is there: export the table again and validate every row.
    let snap = d.path("snap");
    export(&t, &snap, &[]);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", &t, "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["actual_count"], 1200, "{v:#}");

    // The written file is valid, masks nothing it should not show, and runs.
    let env = [("VM_IT_PG_PASSWORD", "right-password")];
    let o = run_env_in(&cwd, &["--json", "config", "validate", cfg.to_str().unwrap()], &env);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["command"], "migrate pgvector");
    assert!(!text(&o).contains("right-password"), "{}", text(&o));
    let o = run_env_in(&cwd, &["--json", "--quiet", "--config", cfg.to_str().unwrap()], &env);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["imports"][0]["collection_count"], 1200, "{r:#}");
    assert!(!text(&o).contains("right-password"));
    // Without the variable, the rerun names it.
    let o = run_env_in(&cwd, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("VM_IT_PG_PASSWORD is not set"), "{}", text(&o));
}

#[test]
fn end_of_input_and_ctrl_c_write_nothing() {
    let d = TestDir::new();
    let cwd = d.path("");
    // An unreachable server is reported with the real error; then Ctrl-D.
    let mut s = Pty::spawn(&cwd, &["interactive"], &[]);
    s.expect("Choose [1]: ");
    s.send("pgvector");
    s.expect("Choose [1]: ");
    s.send("1");
    s.expect("without the password [");
    s.expect("]: ");
    s.send("postgres://postgres@127.0.0.1:1/postgres");
    s.expect("The database password:");
    s.send("none");
    s.expect("could not list what the source holds");
    s.expect("127.0.0.1:1");
    s.expect("What now?");
    s.expect("Choose [2]: ");
    s.send("1"); // the same settings again: the same error
    s.expect("could not list what the source holds");
    s.expect("Choose [2]: ");
    s.send_raw(&[4]); // Ctrl-D: end of input
    s.expect("cancelled (end of input): nothing was written");
    assert_eq!(s.finish(), Some(130), "{}", s.seen);
    assert!(files_in(&cwd).is_empty(), "{:?}", files_in(&cwd));

    // Ctrl-C at the hidden prompt: the terminal is given back, nothing written.
    let mut s = Pty::spawn_with(&cwd, &["interactive"], &[], true);
    assert!(s.echo_on());
    s.expect("Choose [1]: ");
    s.send("");
    s.expect("Choose [1]: ");
    s.send("");
    s.expect("]: ");
    s.send("postgres://someone@127.0.0.1:1/postgres");
    s.expect("The database password:");
    s.send("3");
    s.expect("(typing is hidden): ");
    assert!(!s.echo_on(), "the echo is off at the hidden prompt");
    s.send_raw(&[3]);
    s.expect("cancelled (Ctrl-C): nothing was written");
    assert_eq!(s.finish(), Some(130), "{}", s.seen);
    assert!(s.echo_on(), "Ctrl-C gives the echo back");
    assert!(files_in(&cwd).is_empty(), "{:?}", files_in(&cwd));
}

#[test]
fn interactive_refuses_a_stdin_that_is_not_a_terminal() {
    let d = TestDir::new();
    let o = Command::new(bin()).current_dir(d.path("")).arg("interactive").stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("needs a terminal on stdin") && e.contains("--config") && e.contains("init pgvector --migrate"), "{e}");
    assert!(files_in(&d.path("")).is_empty());
}

/// A `migrate` config file (keys of the source and of migrate) run for real.
#[test]
fn a_migrate_config_file_runs_and_validates() {
    let t = table("migcfg");
    seed_vectors(&t, 900, 8);
    let d = TestDir::new();
    let cwd = d.path("");
    let cfg = d.path("migrate.yaml");
    std::fs::write(
        &cfg,
        format!(
            "command: migrate pgvector\nurl: ${{VM_IT_MIG_URL}}\ntable: {t}\nchunk-rows: 300\nto: ./db\nto-collection: items\nkeep-snapshot: true\nout: ./staging\nrename-field: [title=name]\n"
        ),
    )
    .unwrap();
    let env = [("VM_IT_MIG_URL", pg_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = run_env_in(&cwd, &["config", "validate", cfg.to_str().unwrap()], &env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("velesdb-migrate migrate pgvector '--url=***'") && String::from_utf8_lossy(&o.stdout).contains("--to=./db --to-collection=items --keep-snapshot"), "{}", text(&o));
    let o = run_env_in(&cwd, &["--json", "--quiet", "--config", cfg.to_str().unwrap()], &env);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["export"]["chunks"], 3, "{r:#}");
    assert_eq!(r["imports"][0]["collection"], "items");
    assert_eq!(r["imports"][0]["collection_count"], 900);
    let v = ok_json(&[
        "validate", cwd.join("staging").to_str().unwrap(), "--to", cwd.join("db").to_str().unwrap(), "--collection", "items", "--rename-field", "title=name", "--strict",
    ]);
    assert_eq!(v["ok"], true, "{v:#}");
    // A flag on the command line overrides a migrate-level key.
    let o = run_env_in(&cwd, &["--json", "--quiet", "--config", cfg.to_str().unwrap(), "--to-collection", "other"], &env);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["imports"][0]["collection"], "other");
    // Unknown keys of either level, with the line.
    std::fs::write(d.path("bad.yaml"), format!("command: migrate pgvector\ntable: {t}\nto: ./db\nkeep-snapshots: true\n")).unwrap();
    let o = run_env_in(&cwd, &["config", "validate", "bad.yaml"], &env);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.yaml line 4: unknown key `keep-snapshots` for `migrate pgvector`; did you mean `keep-snapshot`?"), "{}", text(&o));
    // Missing `to`: the fix names the file.
    std::fs::write(d.path("noto.yaml"), format!("command: migrate pgvector\ntable: {t}\n")).unwrap();
    let o = run_env_in(&cwd, &["config", "validate", "noto.yaml"], &env);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--to") && String::from_utf8_lossy(&o.stderr).contains("add the missing key(s) to noto.yaml"), "{}", text(&o));
}

/// Another source with discovery (the Qdrant emulator, with an API key read
/// from an environment variable), a choice between two dense vectors, and a
/// velesdb-server destination that is first unreachable.
#[test]
fn a_qdrant_session_into_a_velesdb_server() {
    const KEY: &str = "vm-it-qdrant-key-5521";
    let d = TestDir::new();
    let cwd = d.path("");
    let q = QdrantEmulator::start(&d.path("qdrant"), Some(KEY));
    assert_eq!(q.peer(&["named", "docs", "120"]).trim(), "120");
    let srv = Server::start(&d.path("server"), None, false);
    let cfg = d.path("q.yaml");
    let mut s = Pty::spawn(&cwd, &["interactive"], &[("QDRANT_API_KEY", KEY)]);
    s.expect("Choose [1]: ");
    s.send("qdrant");
    s.expect("Qdrant REST URL [http://localhost:6333]: ");
    s.send("localhost:6333"); // not a URL with a scheme
    s.expect("✗");
    s.send(&q.url);
    s.expect("The API key:");
    s.send("env");
    s.expect("Name of the environment variable [QDRANT_API_KEY]: ");
    s.send("VM_IT_SURELY_UNSET_KEY");
    s.expect("VM_IT_SURELY_UNSET_KEY is not set in this environment");
    s.expect("The API key:");
    s.send("2");
    s.expect("[QDRANT_API_KEY]: ");
    s.send("");
    s.expect("Collection to migrate:");
    s.expect("docs — ");
    s.expect("Choose [1]: ");
    s.send("docs");
    s.expect("120 rows");
    s.expect("vector image: Dense F32");
    s.expect("vector text: Dense F32");
    s.expect("Which one?");
    s.expect("Choose [1]: ");
    s.send("text");
    s.expect("Destination:");
    s.send("server");
    s.expect("velesdb-server URL [http://localhost:8080]: ");
    s.send("http://127.0.0.1:1");
    s.expect("✗ ");
    s.expect("127.0.0.1:1");
    s.expect("What now?");
    s.send("again");
    s.expect("Destination:");
    s.send("2");
    s.expect("velesdb-server URL [http://localhost:8080]: ");
    s.send(&srv.url);
    s.expect("Collection in VelesDB [docs]: ");
    s.send("");
    s.expect("Config file to write [migrate-qdrant-docs.yaml]: ");
    s.send(cfg.to_str().unwrap());
    s.expect("api-key: '${QDRANT_API_KEY}'");
    s.expect("vector: text");
    s.expect("(Y/n): ");
    s.send("y");
    s.expect_within("Done. To run it again", Duration::from_secs(300));
    assert_eq!(s.finish(), Some(0), "{}", s.seen);
    let written = std::fs::read_to_string(&cfg).unwrap();
    assert!(!written.contains(KEY) && !s.seen.contains(KEY), "{written}\n{}", s.seen);
    // Every row is in the server, as a fresh export of the collection says.
    let snap = d.path("snap");
    ok_json(&["export", "qdrant", "--url", &q.url, "--api-key", KEY, "--collection", "docs", "--out", snap.to_str().unwrap()]);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", &srv.url, "--collection", "docs", "--vector", "text", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["actual_count"], 120, "{v:#}");
    // The file is valid with the key in the environment.
    let o = run_env_in(&cwd, &["config", "validate", cfg.to_str().unwrap()], &[("QDRANT_API_KEY", KEY)]);
    assert!(o.status.success() && !text(&o).contains(KEY), "{}", text(&o));
}

/// Chroma (a real server): its collections listed by the discover code, one
/// migrated into an embedded directory.
#[test]
fn a_chroma_session_into_an_embedded_directory() {
    let d = TestDir::new();
    let cwd = d.path("");
    let server = ChromaServer::start(&d.path("chroma"));
    assert_eq!(server.peer(&["seed", "docs", "300"]).trim(), "300");
    server.peer(&["empty", "void"]);
    let db = d.path("db");
    let cfg = d.path("c.yaml");
    let mut s = Pty::spawn(&cwd, &["interactive"], &[]);
    s.expect("Choose [1]: ");
    s.send("3");
    s.expect("Chroma server URL [http://localhost:8000]: ");
    s.send(&server.url);
    s.expect("Tenant [default_tenant]: ");
    s.send("");
    s.expect("Database [default_database]: ");
    s.send("");
    s.expect("The auth token:");
    s.expect("Choose [1]: ");
    s.send("none");
    s.expect("Collection to migrate:");
    s.expect("docs — ");
    s.expect("Choose [1]: ");
    s.send("docs");
    s.expect("docs (from default_tenant/default_database/docs): 300 rows");
    s.expect("metric cosine");
    s.expect("Destination:");
    s.send("embedded");
    s.expect("VelesDB data directory [./velesdb-data]: ");
    s.send(db.to_str().unwrap());
    s.expect("Collection in VelesDB [docs]: ");
    s.send("chroma_docs");
    s.expect("Config file to write [migrate-chroma-docs.yaml]: ");
    s.send(cfg.to_str().unwrap());
    s.expect("(Y/n): ");
    s.send("");
    s.expect_within("Done. To run it again", Duration::from_secs(300));
    assert_eq!(s.finish(), Some(0), "{}", s.seen);
    let snap = d.path("snap");
    ok_json(&["export", "chroma", "--url", &server.url, "--collection", "docs", "--out", snap.to_str().unwrap()]);
    let v = ok_json(&["validate", snap.to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "chroma_docs", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["actual_count"], 300, "{v:#}");
    let o = run_env_in(&cwd, &["--json", "config", "validate", cfg.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["command"], "migrate chroma");
}
