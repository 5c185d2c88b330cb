//! Snapshots in object storage, against a real S3-compatible server: moto's
//! server mode (`moto_server` from the peers venv), one in-memory server per
//! test on a free loopback port, path-style, signed requests.
//!
//! Every child inherits the test credentials (below) and an instance
//! metadata endpoint on a closed loopback port, so that no run, even one
//! stripped of credentials, ever asks the real metadata address.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Never printed by the tool: every output and file is searched for it.
const SECRET: &str = "vm-SECRET-4f1d9c-never-printed";
const KEY_ID: &str = "vm-test-key-id";

fn test_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9");
    });
}

/// One moto server (in memory, so each test has its own buckets). Also used by `multi.rs`.
pub(crate) struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    pub(crate) fn start() -> Moto {
        test_env();
        let port = free_port();
        let moto = python().with_file_name("moto_server");
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Small multipart parts are allowed, so tests exercise them on small chunks.
            .env("S3_UPLOAD_PART_MIN_SIZE", "1024")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} ({e}): run `bash scripts/setup.sh`", moto.display()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while http_status(port, "/") == 0 {
            assert!(std::time::Instant::now() < deadline, "moto_server did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Moto { child, endpoint: format!("http://127.0.0.1:{port}") }
    }

    /// scripts/s3_peer.py (boto3) against this server; returns stdout.
    fn peer(&self, args: &[&str]) -> String {
        let o = Command::new(python()).arg(repo().join("scripts/s3_peer.py")).arg(&self.endpoint).args(args).output().unwrap();
        assert!(o.status.success(), "s3_peer.py {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    pub(crate) fn bucket(&self, name: &str) {
        self.peer(&["mkbucket", name]);
    }

    /// key → size of every object under `prefix`.
    fn list(&self, bucket: &str, prefix: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(&self.peer(&["list", bucket, prefix])).unwrap().as_object().unwrap().clone()
    }

    pub(crate) fn object(&self, bucket: &str, key: &str, d: &TestDir) -> Vec<u8> {
        let f = d.path(&format!("get-{}", key.replace('/', "_")));
        self.peer(&["get", bucket, key, f.to_str().unwrap()]);
        std::fs::read(f).unwrap()
    }

    pub(crate) fn replace(&self, bucket: &str, key: &str, bytes: &[u8], d: &TestDir) {
        let f = d.path("upload.bin");
        std::fs::write(&f, bytes).unwrap();
        self.peer(&["put", bucket, key, f.to_str().unwrap()]);
    }

    /// The tool's arguments with this endpoint in front.
    pub(crate) fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["--s3-endpoint", self.endpoint.as_str()];
        a.extend_from_slice(rest);
        a
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn export_args<'a>(moto: &'a Moto, url: &'a str, t: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = moto.args(&["export", "pgvector", "--url", url, "--table", t, "--out", out]);
    a.extend_from_slice(extra);
    a
}

/// (file, blake3) of every chunk of a snapshot in the store, as `inspect` reads it.
fn store_hashes(moto: &Moto, url: &str) -> Vec<(String, String)> {
    let m = ok_json(&moto.args(&["inspect", url]));
    m["collections"][0]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["file"].as_str().unwrap().to_owned(), c["blake3"].as_str().unwrap().to_owned()))
        .collect()
}

/// Chunks recorded as done in the journals under `dir`.
fn journals_done(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json")) // not the .json.tmp being written
        .filter_map(|e| json_file(&e.path()))
        .map(|j| j["done"].as_array().map_or(0, |d| d.len()))
        .sum()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A seeded table, a moto server with a bucket `snaps`, a directory, and the
/// snapshot URL `s3://snaps/<table>`.
struct Case {
    t: String,
    moto: Moto,
    d: TestDir,
    pg: String,
    url: String,
}

fn case(prefix: &str, rows: usize, dim: usize) -> Case {
    let t = table(prefix);
    seed_vectors(&t, rows, dim);
    let moto = Moto::start();
    moto.bucket("snaps");
    let url = format!("s3://snaps/{t}");
    Case { t, moto, d: TestDir::new(), pg: pg_url(), url }
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    assert!(!String::from_utf8_lossy(bytes).contains(SECRET), "the secret access key appears in {what}");
}

#[test]
fn objstore_export_verify_inspect_import_validate_through_s3() {
    let Case { t, moto, d, pg, .. } = case("os_rt", 1_000, 64);
    let url = format!("s3://snaps/team a/{t}");
    let staging = d.path("staging");

    // Export with small parts: chunks of ~50 KB go up as multipart uploads.
    let s = ok_json(&export_args(&moto, &pg, &t, &url, &["--chunk-rows", "200", "--part-size", "2K", "--staging", staging.to_str().unwrap()]));
    assert_eq!(s["snapshot"], url.as_str());
    assert_eq!((s["rows"].as_u64(), s["chunks"].as_u64()), (Some(1_000), Some(5)));
    assert!(files_under(&staging).is_empty(), "the staging directory keeps files after a complete export: {:?}", files_under(&staging));

    // Same relative paths under the prefix; nothing else.
    let objects = moto.list("snaps", &format!("team a/{t}/"));
    let mut keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    keys.sort();
    let mut want: Vec<String> = (0..5).map(|i| format!("team a/{t}/chunks/{t}/{i:06}.parquet")).collect();
    want.push(format!("team a/{t}/manifest.json"));
    assert_eq!(keys, want);
    // The chunks went up in parts (S3's multipart ETag is md5-N), the manifest in one PUT.
    let chunk0 = format!("team a/{t}/chunks/{t}/000000.parquet");
    let head: serde_json::Value = serde_json::from_str(&moto.peer(&["head", "snaps", &chunk0])).unwrap();
    let size = head["size"].as_u64().unwrap();
    let parts = size.div_ceil(2 * 1024);
    assert!(parts >= 2, "chunk of {size} bytes is too small to test multipart");
    assert!(head["etag"].as_str().unwrap().ends_with(&format!("-{parts}")), "{head}");
    let head: serde_json::Value = serde_json::from_str(&moto.peer(&["head", "snaps", &format!("team a/{t}/manifest.json")])).unwrap();
    assert!(!head["etag"].as_str().unwrap().contains('-'), "{head}");

    // Byte-identical to the same export into a directory.
    let local = d.path("local");
    export(&t, &local, &["--chunk-rows", "200"]);
    assert_eq!(store_hashes(&moto, &url), chunk_hashes(&local));
    assert_eq!(moto.object("snaps", &chunk0, &d), std::fs::read(local.join(format!("chunks/{t}/000000.parquet"))).unwrap());

    // verify and inspect read from the store.
    let v = ok_json(&moto.args(&["verify", &url]));
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");
    assert_eq!((v["chunks_checked"].as_u64(), v["rows"].as_u64(), v["snapshot"].as_str()), (Some(5), Some(1_000), Some(url.as_str())));
    let o = run(&moto.args(&["inspect", &url]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1000 rows in 5 chunks"), "{}", text(&o));

    // Import streamed from the bucket, journal kept locally; a re-run skips every chunk.
    let db = d.path("db");
    let journals = d.path("journals");
    let import = moto.args(&["import", &url, "--to", db.to_str().unwrap(), "--collection", "c", "--journal-dir", journals.to_str().unwrap()]);
    let r = ok_json(&import);
    assert_eq!((r["points_upserted"].as_u64(), r["snapshot"].as_str()), (Some(1_000), Some(url.as_str())));
    assert_eq!(journals_done(&journals), 5);
    let r = ok_json(&import);
    assert_eq!((r["chunks_skipped"].as_u64(), r["points_upserted"].as_u64()), (Some(5), Some(0)));
    let v = ok_json(&moto.args(&["validate", &url, "--to", db.to_str().unwrap(), "--collection", "c", "--strict"]));
    assert_eq!((v["ok"].as_bool(), v["rows_compared"].as_u64()), (Some(true), Some(1_000)), "{v:#}");

    // Without --journal-dir, the journal goes to the cache directory, not the bucket.
    let cache = d.path("cache");
    let o = Command::new(bin())
        .args(moto.args(&["--json", "import", &url, "--to", db.to_str().unwrap(), "--collection", "c"]))
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(journals_done(&cache.join("velesdb-migrate/journals")), 5);
    assert_eq!(moto.list("snaps", &format!("team a/{t}/")).len(), 6, "the import wrote into the bucket");

    // The secret is nowhere: outputs, manifest, journals.
    assert_no_secret("the export summary", s.to_string().as_bytes());
    assert_no_secret("the manifest", &moto.object("snaps", &format!("team a/{t}/manifest.json"), &d));
    for f in files_under(&journals).into_iter().chain(files_under(&cache)) {
        assert_no_secret(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
    assert_no_secret("import output", &o.stdout);
    assert_no_secret("import output", &o.stderr);
}

#[test]
fn objstore_export_killed_midway_resumes_into_the_bucket() {
    let Case { t, moto, d, pg, url } = case("os_kill", 3_000, 32);
    let staging = d.path("staging");
    let mut args = vec!["--quiet"];
    args.extend(export_args(&moto, &pg, &t, &url, &["--chunk-rows", "100", "--staging", staging.to_str().unwrap()]));
    // Commits as the staging directory sees them: a kill lands before, during
    // or after the mirror of a commit to the store.
    let committed = || json_file(&staging.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));

    // First a kill at a known point: the store holds a partial snapshot.
    assert!(!run_and_kill_after(&args, &committed, 4), "the export finished before it could be killed");
    let v = run(&moto.args(&["--json", "verify", &url]));
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    let v: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "incomplete"), "{v:#}");
    let db = d.path("db");
    let e = fails(&moto.args(&["import", &url, "--to", db.to_str().unwrap(), "--collection", "c"]), 2);
    assert!(e.contains("not finished") && e.contains("--partial"), "{e}");

    // Then kills at random moments, and a run to the end.
    let (s, kills) = kill_repeatedly_then_finish(&args, 4, &committed);
    eprintln!("export into the bucket killed {kills} more time(s) before completing");
    assert!(kills >= 1, "the export was not interrupted at random; the test proved less than it says");
    assert_eq!((s["rows"].as_u64(), s["chunks"].as_u64()), (Some(3_000), Some(30)));

    // Identical to an uninterrupted export, and nothing left over in the bucket.
    let local = d.path("local");
    export(&t, &local, &["--chunk-rows", "100"]);
    assert_eq!(store_hashes(&moto, &url), chunk_hashes(&local), "the resumed export differs from an uninterrupted one");
    assert_eq!(moto.list("snaps", &format!("{t}/")).len(), 31);
    let v = ok_json(&moto.args(&["verify", &url]));
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");
    // A complete export says so and changes nothing.
    let again = ok_json(&args[1..]);
    assert_eq!(again["already_complete"], true);

    // An import streamed from the bucket, killed and resumed, validates.
    let journals = d.path("journals");
    let import = ["--quiet", "--s3-endpoint", moto.endpoint.as_str(), "import", url.as_str(), "--to", db.to_str().unwrap(), "--collection", "c", "--journal-dir", journals.to_str().unwrap()];
    let finished = run_and_kill_after(&import, &|| journals_done(&journals), 3);
    let mut resume = vec!["--json"];
    resume.extend_from_slice(&import[1..]);
    let o = run(&resume);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["collection_count"], 3_000);
    if !finished {
        assert!(r["chunks_skipped"].as_u64().unwrap() >= 3, "the journal kept outside the bucket was not used: {}", text(&o));
    }
    let v = ok_json(&moto.args(&["validate", &url, "--to", db.to_str().unwrap(), "--collection", "c", "--strict"]));
    assert_eq!(v["ok"], true, "{v:#}");
}

#[test]
fn objstore_damaged_objects_are_named_by_verify_and_import() {
    let Case { t, moto, d, pg, url } = case("os_bad", 400, 16);
    ok_json(&export_args(&moto, &pg, &t, &url, &["--chunk-rows", "100", "--staging", d.path("staging").to_str().unwrap()]));
    let key = |i: u32| format!("{t}/chunks/{t}/{i:06}.parquet");
    let file = |i: u32| format!("chunks/{t}/{i:06}.parquet");
    let verify_findings = || {
        let o = run(&moto.args(&["--json", "verify", &url]));
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["findings"].as_array().unwrap().iter().map(|f| (f["file"].as_str().unwrap().to_owned(), f["kind"].as_str().unwrap().to_owned())).collect::<Vec<_>>()
    };

    // A flipped byte (same size), a truncated object, a deleted one, a foreign one.
    let mut bytes = moto.object("snaps", &key(1), &d);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    moto.replace("snaps", &key(1), &bytes, &d);
    let short = moto.object("snaps", &key(2), &d);
    moto.replace("snaps", &key(2), &short[..short.len() - 10], &d);
    moto.peer(&["rm", "snaps", &key(3)]);
    moto.replace("snaps", &key(7), b"not ours", &d);
    assert_eq!(
        verify_findings(),
        vec![
            (file(1), "hash".to_owned()),
            (file(2), "size".to_owned()),
            (file(3), "missing".to_owned()),
            (file(7), "unexpected_file".to_owned()),
        ]
    );
    let o = run(&moto.args(&["verify", &url]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&file(1)) && out.contains("blake3") && out.contains("re-export"), "{out}");

    // import and validate refuse the damaged chunk, naming it, before decoding it.
    let db = d.path("db");
    let e = fails(&moto.args(&["import", &url, "--to", db.to_str().unwrap(), "--collection", "c", "--journal-dir", d.path("j").to_str().unwrap()]), 1);
    assert!(e.contains("error[VM-CHUNK]") && (e.contains(&file(1)) || e.contains(&file(2)) || e.contains(&file(3))), "{e}");
    assert_no_secret("import error", e.as_bytes());
}

#[test]
fn objstore_errors_are_clear_and_never_echo_secrets() {
    let moto = Moto::start();
    moto.bucket("snaps");
    let d = TestDir::new();
    let mut outputs: Vec<String> = Vec::new();
    let mut expect = |args: Vec<&str>, code: i32, needles: &[&str]| {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o));
        let all = text(&o);
        for n in needles {
            assert!(all.contains(n), "{n:?} missing from {all}");
        }
        outputs.push(all);
    };
    // No such bucket; no snapshot at the prefix.
    expect(moto.args(&["verify", "s3://no-such-bucket/x"]), 1, &["error[VM-STORE]", "s3://no-such-bucket/x", "does not exist"]);
    expect(moto.args(&["--json", "inspect", "s3://snaps/nothing"]), 1, &["VM-MANIFEST", "s3://snaps/nothing is not a snapshot", "\"code\""]);
    // Nothing listens on the endpoint.
    let closed = format!("http://127.0.0.1:{}", free_port());
    expect(vec!["--s3-endpoint", &closed, "verify", "s3://snaps/x"], 1, &["error[VM-STORE]", "cannot reach the store", "--s3-endpoint"]);
    // Credentials in the URL are refused without being echoed.
    let bad = format!("s3://{KEY_ID}:{SECRET}@snaps/x");
    expect(moto.args(&["verify", &bad]), 2, &["error[VM-USAGE]", "not accepted", "environment"]);
    expect(moto.args(&["verify", "ftp://host/x"]), 2, &["not a snapshot location"]);
    // A prefix with objects but no manifest is not exported into.
    let f = d.path("f");
    std::fs::write(&f, b"x").unwrap();
    moto.peer(&["put", "snaps", "full/other.txt", f.to_str().unwrap()]);
    let pg = pg_url();
    expect(export_args(&moto, &pg, "whatever", "s3://snaps/full", &["--staging", d.path("st").to_str().unwrap()]), 2, &["is not empty", "other.txt"]);

    // No credentials anywhere: the message says which variables to set.
    let o = Command::new(bin())
        .args(moto.args(&["verify", "s3://snaps/x"]))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", d.path("home"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no usable credentials") && text(&o).contains("AWS_ACCESS_KEY_ID"), "{}", text(&o));
    // …and the shared credentials file is a source of them.
    std::fs::create_dir_all(d.path("home/.aws")).unwrap();
    std::fs::write(d.path("home/.aws/credentials"), format!("[ci]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")).unwrap();
    let o = Command::new(bin())
        .args(moto.args(&["verify", "s3://snaps/x"]))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", d.path("home"))
        .env("AWS_PROFILE", "ci")
        .output()
        .unwrap();
    assert!(text(&o).contains("is not a snapshot"), "{}", text(&o));
    outputs.push(text(&o));

    for o in &outputs {
        assert_no_secret("an error message", o.as_bytes());
    }
}
