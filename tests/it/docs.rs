//! The documentation is tested: every ```bash, ```sh and ```python block of
//! docs/*.md and docs/sources/*.md runs, in file order, against real peers.
//!
//! Annotations (HTML comments, invisible when rendered):
//! - `<!-- doc-test: peers=pg,chroma,… -->` (once per file, near the top;
//!   `peers=none` for none): the peers the file needs. Each exports
//!   environment variables to every block:
//!   - `pg`: `DATABASE_URL`, a fresh PostgreSQL database for this file
//!     (dropped afterwards), so `CREATE EXTENSION vector; CREATE TABLE …` is safe;
//!   - `pgbouncer`: `POOLER_URL`, the same database through a real pgbouncer in
//!     transaction mode (Supabase's port-6543 pooler; implies `pg`);
//!   - `chroma`: `CHROMA_URL` (a real `chroma run`);
//!   - `qdrant`: `QDRANT_URL` (the Qdrant REST emulator);
//!   - `milvus`: `MILVUS_URL` (a real Milvus Lite gRPC server);
//!   - `pinecone`: `PINECONE_API_KEY`, `PINECONE_CONTROLLER_HOST` (the
//!     emulator's control plane; the SDK takes it as `host=`). Its indexes
//!     are fixed at start: `<!-- doc-test: pinecone-indexes=docs:8:cosine,… -->`
//!     (`name:dimension:metric[:pod|serverless[:sparse]]`; default `docs:8:cosine`);
//!   - `weaviate`: `WEAVIATE_URL` (the Weaviate REST emulator);
//!   - `velesdb-server`: `VELESDB_URL` (a real velesdb-server).
//!
//!   Always set: `REPO` (the repository root), `PATH` starting with the
//!   directory of the built `velesdb-migrate`, then the peers venv (so
//!   `python3` has the official clients).
//! - `<!-- doc-test: skip (reason) -->` before a block: not run (counted and
//!   printed with its reason).
//! - `<!-- doc-test: exit=N -->` before a block: it must exit with N;
//!   `<!-- doc-test: stderr-contains=TEXT -->` (repeatable): its stderr must
//!   contain TEXT.
//!
//! A ```text block right after a run block (nothing but blank lines between)
//! is the output that block prints: each of its lines must be a line the
//! block printed (stdout or stderr), where `…` stands for any text (timings,
//! sizes, dates). Put prose between them to show a text block unchecked.
//!
//! Blocks run in one fresh temporary directory per file (state carries
//! across blocks through files there): bash/sh with `bash -euo pipefail -c`,
//! python with the venv's python. Other info strings are shown only and must
//! be one of `text`, `json`, `yaml`, `toml`, `sql` (so no command hides in an
//! untested block); a block without one is refused.
//!
//! To add a document: add a line to `doc_tests!` below
//! (`every_doc_has_a_test` fails until you do).

use crate::common::*;
use crate::milvus::MilvusLite;
use crate::pinecone::{PineconeEmulator, KEY as PINECONE_KEY};
use crate::weaviate::WeaviateEmulator;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

macro_rules! doc_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run_doc($file);
            }
        )*
        /// Every document with a test.
        const COVERED: &[&str] = &[$($file),*];
    };
}

doc_tests! {
    doc_errors => "docs/errors.md",
    doc_troubleshooting => "docs/troubleshooting.md",
    doc_sources_pgvector => "docs/sources/pgvector.md",
    doc_sources_supabase => "docs/sources/supabase.md",
    doc_sources_chroma => "docs/sources/chroma.md",
    doc_sources_qdrant => "docs/sources/qdrant.md",
    doc_sources_milvus => "docs/sources/milvus.md",
    doc_sources_pinecone => "docs/sources/pinecone.md",
    doc_sources_weaviate => "docs/sources/weaviate.md",
}

const PEERS: &[&str] = &["none", "pg", "pgbouncer", "chroma", "qdrant", "milvus", "pinecone", "weaviate", "velesdb-server"];
const RUN_LANGS: &[&str] = &["bash", "sh", "python"];
const SHOW_LANGS: &[&str] = &["text", "json", "yaml", "toml", "sql"];
const BLOCK_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Debug, Default, PartialEq)]
struct Block {
    lang: String,
    /// 1-based line of the opening fence.
    line: usize,
    body: String,
    skip: Option<String>,
    exit: Option<i32>,
    stderr_contains: Vec<String>,
    /// A ```text block right after this one (only blank lines between): the
    /// output it shows, checked line by line.
    shows: Option<(usize, String)>,
}

#[derive(Debug, Default)]
struct Doc {
    peers: Option<Vec<String>>,
    pinecone_indexes: Vec<String>,
    blocks: Vec<Block>,
}

/// Parse a Markdown file into its fenced blocks and annotations; panics on a
/// malformed annotation or a block that would escape the test.
fn parse(file: &str, md: &str) -> Doc {
    let mut doc = Doc::default();
    let mut pending = Block::default();
    let mut pending_line: Option<usize> = None;
    let mut follows_run_block = false;
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let t = raw.trim();
        let n = i + 1;
        if let Some(a) = t.strip_prefix("<!-- doc-test:") {
            let a = a.strip_suffix("-->").unwrap_or_else(|| panic!("{file}:{n}: a doc-test annotation must end with --> on the same line")).trim();
            if let Some(p) = a.strip_prefix("peers=") {
                assert!(doc.peers.is_none(), "{file}:{n}: peers declared twice");
                let p: Vec<String> = p.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
                for x in &p {
                    assert!(PEERS.contains(&x.as_str()), "{file}:{n}: unknown peer {x:?} (known: {PEERS:?})");
                }
                doc.peers = Some(p.into_iter().filter(|x| x != "none").collect());
            } else if let Some(p) = a.strip_prefix("pinecone-indexes=") {
                doc.pinecone_indexes = p.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            } else if let Some(r) = a.strip_prefix("skip") {
                let r = r.trim();
                let reason = r.strip_prefix('(').and_then(|r| r.strip_suffix(')')).map(str::trim).unwrap_or("");
                assert!(!reason.is_empty(), "{file}:{n}: a skip needs a reason: <!-- doc-test: skip (why) -->");
                pending.skip = Some(reason.to_owned());
                pending_line = Some(n);
            } else if let Some(c) = a.strip_prefix("exit=") {
                pending.exit = Some(c.trim().parse().unwrap_or_else(|_| panic!("{file}:{n}: exit= needs a number")));
                pending_line = Some(n);
            } else if let Some(s) = a.strip_prefix("stderr-contains=") {
                pending.stderr_contains.push(s.to_owned());
                pending_line = Some(n);
            } else {
                panic!("{file}:{n}: unknown doc-test annotation {a:?} (peers=, pinecone-indexes=, skip (reason), exit=N, stderr-contains=TEXT)");
            }
            follows_run_block = false;
            i += 1;
            continue;
        }
        if let Some(rest) = t.strip_prefix("```") {
            let ticks = 3 + rest.chars().take_while(|&c| c == '`').count();
            let info = rest.trim_start_matches('`').trim();
            let lang = info.split([' ', ',', '{']).next().unwrap_or("").to_owned();
            let indent = raw.len() - raw.trim_start().len();
            let mut body = String::new();
            let mut j = i + 1;
            loop {
                assert!(j < lines.len(), "{file}:{n}: the code block is never closed");
                let l = lines[j];
                let lt = l.trim();
                if lt.len() >= ticks && lt.chars().all(|c| c == '`') {
                    break;
                }
                body.push_str(l.get(indent.min(l.len() - l.trim_start().len())..).unwrap_or(""));
                body.push('\n');
                j += 1;
            }
            assert!(!lang.is_empty(), "{file}:{n}: a code block needs a language: bash/sh/python (run) or text (output, not run)");
            let runs = RUN_LANGS.contains(&lang.as_str());
            assert!(
                runs || SHOW_LANGS.contains(&lang.as_str()),
                "{file}:{n}: code block language {lang:?} is neither run ({RUN_LANGS:?}) nor display-only ({SHOW_LANGS:?})"
            );
            let mut b = std::mem::take(&mut pending);
            if let Some(a) = pending_line.take() {
                assert!(runs, "{file}:{a}: a doc-test annotation precedes a {lang} block, which is never run");
            }
            if runs {
                b.lang = lang;
                b.line = n;
                b.body = body;
                doc.blocks.push(b);
            } else if lang == "text" && follows_run_block {
                doc.blocks.last_mut().unwrap().shows = Some((n, body));
            }
            follows_run_block = runs;
            i = j + 1;
            continue;
        }
        if !t.is_empty() {
            follows_run_block = false;
            if let Some(a) = pending_line {
                panic!("{file}:{a}: a doc-test annotation must come right before the code block it applies to");
            }
        }
        i += 1;
    }
    if let Some(a) = pending_line {
        panic!("{file}:{a}: a doc-test annotation with no code block after it");
    }
    doc
}

/// The peers a document asked for, running while this lives.
struct Peers {
    env: Vec<(String, String)>,
    _dir: TestDir,
    _guards: Vec<Box<dyn std::any::Any>>,
    db: Option<String>,
}

impl Drop for Peers {
    fn drop(&mut self) {
        self._guards.clear();
        if let Some(db) = &self.db {
            // Not `psql()`: a panic here, while a failed test unwinds, would abort the run.
            let _ = Command::new("bash")
                .arg(repo().join("scripts/pg.sh"))
                .args(["psql", "-q", "-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")])
                .output();
        }
    }
}

/// A PostgreSQL URL for database `db` on the test server.
fn db_url(base: &str, db: &str) -> String {
    let (head, _) = base.rsplit_once('/').expect("a database URL with a path");
    format!("{head}/{db}")
}

fn start_peers(file: &str, doc: &Doc) -> Peers {
    let peers = doc.peers.clone().unwrap_or_else(|| panic!("{file}: declare its peers near the top: <!-- doc-test: peers=pg,… --> (or peers=none)"));
    let dir = TestDir::new();
    let mut p = Peers { env: Vec::new(), _dir: TestDir::new(), _guards: Vec::new(), db: None };
    let has = |x: &str| peers.iter().any(|p| p == x);
    if has("pg") || has("pgbouncer") {
        let stem: String = file.trim_end_matches(".md").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let db = format!("{}_{}", stem.to_ascii_lowercase(), std::process::id());
        psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE);\nCREATE DATABASE {db};"));
        p.env.push(("DATABASE_URL".into(), db_url(&pg_url(), &db)));
        if has("pgbouncer") {
            let b = PgBouncer::start();
            p.env.push(("POOLER_URL".into(), db_url(&b.url, &db)));
            p._guards.push(Box::new(b));
        }
        p.db = Some(db);
    }
    if has("chroma") {
        let c = ChromaServer::start(&dir.path("chroma"));
        p.env.push(("CHROMA_URL".into(), c.url.clone()));
        p._guards.push(Box::new(c));
    }
    if has("qdrant") {
        let q = QdrantEmulator::start(&dir.path("qdrant"), None);
        p.env.push(("QDRANT_URL".into(), q.url.clone()));
        p._guards.push(Box::new(q));
    }
    if has("milvus") {
        let m = MilvusLite::start(&dir.path("milvus"));
        p.env.push(("MILVUS_URL".into(), m.url.clone()));
        p._guards.push(Box::new(m));
    }
    if has("pinecone") {
        let specs: Vec<&str> =
            if doc.pinecone_indexes.is_empty() { vec!["docs:8:cosine"] } else { doc.pinecone_indexes.iter().map(String::as_str).collect() };
        let e = PineconeEmulator::start(&specs);
        p.env.push(("PINECONE_API_KEY".into(), PINECONE_KEY.into()));
        p.env.push(("PINECONE_CONTROLLER_HOST".into(), e.url.clone()));
        p._guards.push(Box::new(e));
    }
    if has("weaviate") {
        let w = WeaviateEmulator::start(&dir.path("weaviate"), None, 10_000);
        p.env.push(("WEAVIATE_URL".into(), w.url.clone()));
        p._guards.push(Box::new(w));
    }
    if has("velesdb-server") {
        let s = Server::start(&dir.path("velesdb-server"), None, false);
        p.env.push(("VELESDB_URL".into(), s.url.clone()));
        p._guards.push(Box::new(s));
    }
    p._dir = dir;
    p
}

/// Variables of the caller's environment that would change what a block does.
const CLEARED_ENV: &[&str] = &[
    "DATABASE_URL",
    "POOLER_URL",
    "CHROMA_URL",
    "CHROMA_TOKEN",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "MILVUS_URL",
    "MILVUS_TOKEN",
    "PINECONE_API_KEY",
    "PINECONE_CONTROLLER_HOST",
    "WEAVIATE_URL",
    "WEAVIATE_API_KEY",
    "VELESDB_URL",
    "VELESDB_API_KEY",
    "SUPABASE_DB_PASSWORD",
    "VELESDB_MIGRATE_STAGING_DIR",
    "VELESDB_MIGRATE_JOURNAL_DIR",
    "VELESDB_MIGRATE_SPILL_DIR",
    "VELESDB_MIGRATE_PART_SIZE",
    "GITHUB_STEP_SUMMARY",
];

/// The environment every block gets: PATH with the binary and the venv first, REPO, the peers.
fn base_env(peers: &[(String, String)]) -> Vec<(String, String)> {
    let bin_dir = bin().parent().unwrap().to_owned();
    let venv_bin = python().parent().unwrap().to_owned();
    let path = std::env::join_paths([bin_dir, venv_bin].into_iter().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())))
        .unwrap();
    let mut env = vec![
        ("PATH".to_owned(), path.to_string_lossy().into_owned()),
        ("REPO".to_owned(), repo().to_string_lossy().into_owned()),
        ("ANONYMIZED_TELEMETRY".to_owned(), "False".to_owned()),
        ("NO_COLOR".to_owned(), "1".to_owned()),
    ];
    env.extend(peers.iter().cloned());
    env
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `program args` in `cwd` with `env`, in its own process group, killed after [`BLOCK_TIMEOUT`].
fn run_script(mut cmd: Command, cwd: &Path, env: &[(String, String)], logs: &Path) -> Ran {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(logs.join("stdout")).unwrap();
    let err = std::fs::File::create(logs.join("stderr")).unwrap();
    for k in CLEARED_ENV {
        cmd.env_remove(k);
    }
    cmd.current_dir(cwd).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    let mut child = cmd.spawn().expect("start the block");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > BLOCK_TIMEOUT {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Leftover background processes of the block (none expected) go too.
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
    Ran {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(logs.join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(logs.join("stderr")).unwrap_or_default(),
    }
}

/// `got` is the line `want` shows, where each `…` in `want` stands for any text.
fn matches_shown(want: &str, got: &str) -> bool {
    let parts: Vec<&str> = want.split('…').collect();
    if parts.len() == 1 {
        return want == got;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !got.starts_with(first) || !got[first.len()..].ends_with(last) || got.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &got[first.len()..got.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn run_doc(file: &str) {
    let path = repo().join(file);
    let md = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e} (a document listed in doc_tests! must exist)"));
    let doc = parse(file, &md);
    let peers = start_peers(file, &doc);
    let env = base_env(&peers.env);
    let work = TestDir::new();
    let logs = TestDir::new();
    let (mut ran, mut skipped) = (0, Vec::new());
    for b in &doc.blocks {
        if let Some(reason) = &b.skip {
            skipped.push(format!("{file}:{} ({reason})", b.line));
            continue;
        }
        let cmd = if b.lang == "python" {
            let script = logs.path(&format!("block-{}.py", b.line));
            std::fs::write(&script, &b.body).unwrap();
            let mut c = Command::new(python());
            c.arg(script);
            c
        } else {
            let mut c = Command::new("bash");
            c.args(["-euo", "pipefail", "-c", &b.body]);
            c
        };
        let r = run_script(cmd, work.dir.path(), &env, logs.dir.path());
        let want = b.exit.unwrap_or(0);
        let show = || {
            format!(
                "{file}:{} ({} block) exited with {:?}, expected {want}\n--- block ---\n{}--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
                b.line,
                b.lang,
                r.code,
                b.body,
                tail(&r.stdout, 4000),
                tail(&r.stderr, 4000)
            )
        };
        assert_eq!(r.code, Some(want), "{}", show());
        for s in &b.stderr_contains {
            assert!(r.stderr.contains(s.as_str()), "stderr does not contain {s:?}:\n{}", show());
        }
        if let Some((line, shown)) = &b.shows {
            let printed: Vec<&str> = r.stdout.lines().chain(r.stderr.lines()).map(str::trim_end).collect();
            for want in shown.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                assert!(
                    printed.iter().any(|got| matches_shown(want, got)),
                    "{file}:{line}: the output shown has a line the block at line {} did not print:\n  {want}\n{}",
                    b.line,
                    show()
                );
            }
        }
        ran += 1;
    }
    eprintln!("{file}: {ran} blocks run, {} skipped", skipped.len());
    for s in &skipped {
        eprintln!("  skipped {s}");
    }
    assert!(ran > 0, "{file}: no block was run");
    drop(peers);
}

fn md_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(repo()).unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn every_doc_has_a_test() {
    let mut docs = md_files(&repo().join("docs"));
    docs.extend(md_files(&repo().join("docs/sources")));
    let untested: Vec<&String> = docs.iter().filter(|d| !COVERED.contains(&d.as_str())).collect();
    assert!(untested.is_empty(), "documents without a test: {untested:?}: add them to doc_tests! in tests/it/docs.rs");
    for d in COVERED {
        assert!(repo().join(d).exists(), "{d} is listed in doc_tests! but does not exist");
        // Parsing alone catches malformed annotations and unrunnable blocks early.
        let doc = parse(d, &std::fs::read_to_string(repo().join(d)).unwrap());
        let skips = doc.blocks.iter().filter(|b| b.skip.is_some()).count();
        eprintln!("{d}: {} runnable blocks, {skips} skipped", doc.blocks.len());
    }
}

/// Every example script is run by some document's test (or, for workflows, by
/// `github_actions_workflow_runs`).
#[test]
fn every_example_is_run_by_a_doc() {
    let mut run_text = String::new();
    for d in COVERED {
        let doc = parse(d, &std::fs::read_to_string(repo().join(d)).unwrap());
        for b in doc.blocks.iter().filter(|b| b.skip.is_none()) {
            run_text.push_str(&b.body);
        }
    }
    let mut missing = Vec::new();
    for sub in ["examples/python", "examples/ci"] {
        for e in std::fs::read_dir(repo().join(sub)).into_iter().flatten().flatten() {
            let rel = format!("{sub}/{}", e.file_name().to_string_lossy());
            if rel.ends_with(".py") || rel.ends_with(".sh") {
                if !run_text.contains(&rel) {
                    missing.push(rel);
                }
            }
        }
    }
    assert!(missing.is_empty(), "examples no document runs (show them in a ```bash block of a guide): {missing:?}");
}

#[test]
fn annotations_are_parsed_strictly() {
    let ok = "<!-- doc-test: peers=pg -->\n# T\n\n<!-- doc-test: exit=2 -->\n<!-- doc-test: stderr-contains=error[VM-USAGE] -->\n```bash\nfalse\n```\n\n```text\nout\n```\n<!-- doc-test: skip (needs the cloud) -->\n```python\nx\n```\n";
    let d = parse("t.md", ok);
    assert_eq!(d.peers, Some(vec!["pg".to_owned()]));
    assert_eq!(d.blocks.len(), 2);
    assert_eq!((d.blocks[0].line, d.blocks[0].exit, d.blocks[0].stderr_contains.as_slice()), (6, Some(2), &["error[VM-USAGE]".to_owned()][..]));
    assert_eq!(d.blocks[1].skip.as_deref(), Some("needs the cloud"));
    assert_eq!(d.blocks[0].shows, Some((10, "out\n".to_owned())));
    assert!(matches_shown("exported … rows in … s", "exported 5 rows in 0.1 s"));
    assert!(matches_shown("a…", "abc") && matches_shown("…c", "abc") && !matches_shown("a…b…c", "acb") && !matches_shown("ab…ba", "aba"));
    for (bad, why) in [
        ("```\nls\n```\n", "needs a language"),
        ("```console\nls\n```\n", "neither run"),
        ("<!-- doc-test: skip -->\n```bash\nls\n```\n", "needs a reason"),
        ("<!-- doc-test: exit=1 -->\nprose\n```bash\nls\n```\n", "right before"),
        ("<!-- doc-test: exit=1 -->\n```text\nls\n```\n", "never run"),
        ("<!-- doc-test: peers=mongo -->\n", "unknown peer"),
        ("<!-- doc-test: retries=3 -->\n", "unknown doc-test annotation"),
        ("```bash\nls\n", "never closed"),
    ] {
        let e = std::panic::catch_unwind(|| parse("t.md", bad)).expect_err(bad);
        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains(why), "{bad:?}: {msg}");
    }
}

// ---- GitHub Actions ----

fn yaml_get<'a>(node: &'a MarkedYaml<'a>, key: &str) -> Option<&'a MarkedYaml<'a>> {
    match &node.data {
        YamlData::Mapping(m) => m.iter().find(|(k, _)| matches!(&k.data, YamlData::Value(Scalar::String(s)) if s == key)).map(|(_, v)| v),
        _ => None,
    }
}

fn yaml_str(node: &MarkedYaml) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml_env(node: Option<&MarkedYaml>, ctx: &dyn Fn(&str) -> String) -> Vec<(String, String)> {
    let Some(YamlData::Mapping(m)) = node.map(|n| &n.data) else { return Vec::new() };
    m.iter().map(|(k, v)| (yaml_str(k).unwrap(), ctx(&yaml_str(v).unwrap_or_default()))).collect()
}

/// Replace `${{ secrets.X }}`, `${{ vars.X }}`, `${{ github.workspace }}`,
/// `${{ runner.temp }}` (the only expressions the workflow may use).
fn expand(s: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let j = rest[i..].find("}}").unwrap_or_else(|| panic!("unclosed expression in {s:?}")) + i;
        let expr = rest[i + 3..j].trim();
        out.push_str(values.get(expr).unwrap_or_else(|| panic!("the workflow uses ${{{{ {expr} }}}}, which the test does not provide")));
        rest = &rest[j + 2..];
    }
    out.push_str(rest);
    out
}

/// The workflow's `run:` steps, executed in order with the workflow, job and
/// step `env`, against the test PostgreSQL and a real velesdb-server
/// (`uses:` steps — checkout, toolchain, cache, artifact upload — are skipped
/// and counted; the uploaded path must exist afterwards).
#[test]
fn github_actions_workflow_runs() {
    let file = "examples/github-actions/velesdb-migrate.yml";
    let yaml = std::fs::read_to_string(repo().join(file)).unwrap();
    let docs = MarkedYaml::load_from_str(&yaml).unwrap_or_else(|e| panic!("{file}: {e:?}"));
    let root = &docs[0];

    let peers = start_peers(file, &Doc { peers: Some(vec!["pg".into(), "velesdb-server".into()]), ..Doc::default() });
    let peer = |k: &str| peers.env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    // The source table the workflow's variables name, seeded like a real one.
    let db = peer("DATABASE_URL");
    let o = Command::new("psql")
        .args([db.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(
            "CREATE EXTENSION IF NOT EXISTS vector;
             CREATE TABLE documents (id bigint PRIMARY KEY, embedding vector(4), content text, meta jsonb);
             INSERT INTO documents SELECT i, ARRAY[i, i % 3, 1, -i]::real[]::vector, 'doc ' || i, jsonb_build_object('n', i) FROM generate_series(1, 250) i;
             CREATE INDEX ON documents USING hnsw (embedding vector_cosine_ops);",
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    let temp = TestDir::new();
    let mut values = BTreeMap::new();
    values.insert("secrets.DATABASE_URL".to_owned(), db.clone());
    values.insert("secrets.VELESDB_URL".to_owned(), peer("VELESDB_URL"));
    values.insert("secrets.VELESDB_API_KEY".to_owned(), String::new());
    values.insert("vars.SOURCE_TABLE".to_owned(), "documents".to_owned());
    values.insert("vars.VELESDB_COLLECTION".to_owned(), "documents".to_owned());
    values.insert("github.workspace".to_owned(), repo().to_string_lossy().into_owned());
    values.insert("runner.temp".to_owned(), temp.dir.path().to_string_lossy().into_owned());
    let ctx = |s: &str| expand(s, &values);

    let workflow_env = yaml_env(yaml_get(root, "env"), &ctx);
    let Some(YamlData::Mapping(jobs)) = yaml_get(root, "jobs").map(|j| &j.data) else { panic!("{file}: no jobs") };
    let logs = TestDir::new();
    let (mut ran, mut skipped, mut uploads) = (0, Vec::new(), Vec::new());
    for (job_name, job) in jobs {
        let job_name = yaml_str(job_name).unwrap();
        let job_env = yaml_env(yaml_get(job, "env"), &ctx);
        let Some(YamlData::Sequence(steps)) = yaml_get(job, "steps").map(|s| &s.data) else { panic!("{file}: job {job_name} has no steps") };
        for step in steps {
            let name = yaml_get(step, "name").and_then(yaml_str).unwrap_or_default();
            if let Some(uses) = yaml_get(step, "uses").and_then(yaml_str) {
                if uses.starts_with("actions/upload-artifact") {
                    let p = yaml_get(step, "with").and_then(|w| yaml_get(w, "path")).and_then(yaml_str).expect("upload-artifact with a path");
                    uploads.push(ctx(&p));
                }
                skipped.push(format!("{name} ({uses})"));
                continue;
            }
            let script = yaml_get(step, "run").and_then(yaml_str).unwrap_or_else(|| panic!("{file}: step {name:?} has neither uses nor run"));
            let script = ctx(&script);
            let mut env = base_env(&[]);
            env.extend(workflow_env.iter().cloned());
            env.extend(job_env.iter().cloned());
            env.extend(yaml_env(yaml_get(step, "env"), &ctx));
            env.push(("GITHUB_WORKSPACE".into(), repo().to_string_lossy().into_owned()));
            env.push(("RUNNER_TEMP".into(), temp.dir.path().to_string_lossy().into_owned()));
            env.push(("GITHUB_STEP_SUMMARY".into(), temp.path("step-summary.md").to_string_lossy().into_owned()));
            let cwd = yaml_get(step, "working-directory").and_then(yaml_str).map(|d| repo().join(ctx(&d))).unwrap_or_else(repo);
            // GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script]);
            let r = run_script(cmd, &cwd, &env, logs.dir.path());
            assert_eq!(r.code, Some(0), "{file}: step {name:?} failed ({:?})\n--- run ---\n{script}\n--- stdout ---\n{}\n--- stderr ---\n{}", r.code, tail(&r.stdout, 4000), tail(&r.stderr, 4000));
            ran += 1;
        }
    }
    eprintln!("{file}: {ran} run steps executed, {} uses steps skipped: {skipped:?}", skipped.len());
    assert!(ran >= 2, "{file}: expected the install and migrate steps to run");
    assert!(!uploads.is_empty(), "{file}: the snapshot is not uploaded as an artifact");
    for u in &uploads {
        let p = PathBuf::from(u);
        assert!(p.join("manifest.json").exists(), "{file}: the artifact path {u} holds no snapshot");
    }
    let summary = std::fs::read_to_string(temp.path("step-summary.md")).unwrap_or_default();
    assert!(summary.contains("250"), "the step summary does not report the 250 rows: {summary}");
    // The destination really holds the rows: validate again from here.
    let v = ok_json(&["validate", &uploads[0], "--to", &peer("VELESDB_URL"), "--collection", "documents", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");
}

// ---- README ----

const COMMANDS: &[&str] =
    &["export", "import", "resume", "migrate", "from", "verify", "pack", "unpack", "discover", "inspect", "validate", "config", "init", "diff"];
/// Commands whose first argument is a sub-subcommand (a source, `validate`).
const NESTED: &[&str] = &["export", "discover", "migrate", "from", "init", "config"];
const SOURCES: &[&str] = &["pgvector", "supabase", "chroma", "qdrant", "milvus", "pinecone", "weaviate"];

fn help(path: &[&str]) -> String {
    static CACHE: std::sync::Mutex<BTreeMap<String, String>> = std::sync::Mutex::new(BTreeMap::new());
    let key = path.join(" ");
    if let Some(h) = CACHE.lock().unwrap().get(&key) {
        return h.clone();
    }
    let o = Command::new(bin()).args(path).arg("--help").output().unwrap();
    assert!(o.status.success(), "velesdb-migrate {key} --help: {}", text(&o));
    let h = String::from_utf8_lossy(&o.stdout).into_owned();
    CACHE.lock().unwrap().insert(key, h.clone());
    h
}

/// `--flag` as a whole option name in `help`.
fn help_has(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| !help[i + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-'))
}

/// The README's ```bash blocks are synopses (`[--schema public]`, `…`,
/// `a|b`), not runnable commands; the runnable forms are in docs/ and run
/// by the tests above. Here every synopsis line is checked against the real
/// CLI: each `velesdb-migrate …` names a real (sub)command and only flags
/// that command accepts (from its `--help`), and each `bash scripts/…` exists.
#[test]
fn readme_synopses_match_the_cli() {
    let md = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, l) in md.lines().enumerate() {
        match (&mut cur, l.trim_start().strip_prefix("```")) {
            (None, Some("bash")) => cur = Some((i + 1, String::new())),
            (Some(_), Some("")) => blocks.push(cur.take().unwrap()),
            (Some((_, body)), _) => {
                body.push_str(l);
                body.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 10, "README bash blocks not found");
    let (mut commands, mut flags) = (0, 0);
    for (line, body) in &blocks {
        for cmd in body.replace("\\\n", " ").lines() {
            // Drop a trailing comment (`  # …`).
            let cmd = cmd.split(" #").next().unwrap().trim();
            if cmd.is_empty() || cmd.starts_with('#') || cmd.starts_with("export ") {
                continue;
            }
            if let Some(script) = cmd.strip_prefix("bash ") {
                let script = script.split_whitespace().next().unwrap();
                assert!(repo().join(script).exists(), "README.md:{line}: {script} does not exist");
                continue;
            }
            let rest = cmd.strip_prefix("velesdb-migrate").unwrap_or_else(|| panic!("README.md:{line}: not a velesdb-migrate command: {cmd}"));
            let words: Vec<&str> = rest.split_whitespace().collect();
            // The command path: the first known command, then its source (or `a|b|c`, or `<source>`).
            let at = words.iter().position(|w| COMMANDS.contains(w));
            let mut paths: Vec<Vec<&str>> = vec![vec![]];
            if let Some(at) = at {
                let c = words[at];
                paths = vec![vec![c]];
                if NESTED.contains(&c) {
                    let sub = words.get(at + 1).copied().unwrap_or("");
                    let subs: Vec<&str> = if sub == "<source>" { SOURCES.to_vec() } else { sub.split('|').collect() };
                    paths = subs.iter().map(|s| vec![c, *s]).collect();
                }
            }
            for path in &paths {
                // A flag may belong to the command or to a parent (`migrate --to`, global flags).
                let h: String = (0..=path.len()).rev().map(|n| help(&path[..n])).collect();
                commands += 1;
                for w in rest.split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == '|' || c == '"' || c == '\'') {
                    let Some(name) = w.strip_prefix("--") else { continue };
                    let name: String = name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                    if name.is_empty() {
                        continue;
                    }
                    let flag = format!("--{name}");
                    assert!(
                        help_has(&h, &flag),
                        "README.md:{line}: `velesdb-migrate {}` has no {flag} (synopsis: {cmd})",
                        path.join(" ")
                    );
                    flags += 1;
                }
            }
        }
    }
    eprintln!("README.md: {} bash blocks, {commands} command synopses and {flags} flags checked against --help", blocks.len());
}
