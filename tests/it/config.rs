//! Config files (`--config FILE`, `config validate`, `init`): the real binary
//! against the test PostgreSQL and embedded VelesDB.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run the binary with extra environment variables.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(bin()).args(args).envs(env.iter().copied()).output().expect("run velesdb-migrate")
}

/// Run with `env`, require success, parse stdout as JSON (pass --json).
fn ok_json_env(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let o = run_env(args, env);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)))
}

/// Run with `env`, require exit code 2 (usage); return stderr.
fn usage_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = run_env(args, env);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(d: &TestDir, name: &str, yaml: &str) -> PathBuf {
    let p = d.path(name);
    std::fs::write(&p, yaml).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir`, read as (lossy) text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn export_import_and_validate_run_from_config_files() {
    let t = table("cfg_run");
    seed_vectors(&t, 30, 4);
    let d = TestDir::new();
    let url = pg_url();
    let dir = d.dir.path().to_str().unwrap().to_owned();
    let env = [("VM_CFG_PG_URL", url.as_str()), ("VM_CFG_TABLE", t.as_str()), ("VM_CFG_DIR", dir.as_str())];
    let export = write(
        &d,
        "export.yaml",
        "# export the seeded table\n\
         command: export pgvector\n\
         url: ${VM_CFG_PG_URL}\n\
         table: ${VM_CFG_TABLE}\n\
         out: ${VM_CFG_DIR}/snap\n\
         chunk-rows: ${VM_CFG_UNSET_CHUNK_ROWS:-5}\n\
         vector-column: [embedding]\n\
         no_merge_jsonb: true\n",
    );
    let e = ok_json_env(&["--json", "--quiet", "--config", s(&export)], &env);
    assert_eq!((e["rows"].as_u64(), e["chunks"].as_u64()), (Some(30), Some(6)), "{e}");
    let m = manifest(&d.path("snap"));
    assert_eq!(m["collections"][0]["chunk_rows"], 5);

    let import = write(
        &d,
        "import.yaml",
        "command: import\nsnapshot: ${VM_CFG_DIR}/snap\nto: ${VM_CFG_DIR}/db\ncollection: docs\nbatch_size: 7\nstorage-mode: full\n",
    );
    let i = ok_json_env(&["--config", s(&import), "--json", "--quiet"], &env);
    assert_eq!(i["points_upserted"], 30, "{i}");
    assert_eq!(i["collection_count"], 30, "{i}");

    let validate = write(&d, "validate.yaml", "command: validate\nsnapshot: ${VM_CFG_DIR}/snap\nto: ${VM_CFG_DIR}/db\ncollection: docs\nstrict: true\njson: true\nquiet: true\n");
    let v = ok_json_env(&["--config", s(&validate)], &env);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["rows_compared"], 30, "{v}");
}

#[test]
fn command_line_flags_override_the_file() {
    let t = table("cfg_override");
    seed_vectors(&t, 30, 4);
    let d = TestDir::new();
    let cfg = write(&d, "e.yaml", &format!("command: export pgvector\nurl: {}\ntable: {t}\nout: {}\nchunk-rows: 5\n", pg_url(), s(&d.path("from-file"))));
    // The command line may name the command too, and its flags win.
    let e = ok_json(&["export", "pgvector", "--config", s(&cfg), "--chunk-rows", "10", "--out", s(&d.path("from-flag"))]);
    assert_eq!(e["chunks"], 3, "{e}");
    assert_eq!(manifest(&d.path("from-flag"))["collections"][0]["chunk_rows"], 10);
    assert!(!d.path("from-file").exists(), "--out on the command line replaces the file's out");
    // `--config=FILE` before the command, and only the file's values.
    let inline = format!("--config={}", s(&cfg));
    let e = ok_json(&[&inline]);
    assert_eq!(e["chunks"], 6, "{e}");
    // The command line must not name another command.
    let err = usage_error(&["import", "--config", s(&cfg)], &[]);
    assert!(err.contains("is for `export pgvector`") && err.contains("runs `import`"), "{err}");
}

#[test]
fn bad_files_are_refused_with_key_line_and_fix() {
    let d = TestDir::new();
    let out = d.path("never");
    let head = format!("command: export pgvector\nurl: {}\ntable: items\nout: {}\n", pg_url(), s(&out));
    let bad = |name: &str, tail: &str| {
        let p = write(&d, name, &format!("{head}{tail}"));
        (usage_error(&["--config", s(&p)], &[]), usage_error(&["config", "validate", s(&p)], &[]))
    };
    // Unknown key: its line and the closest flag.
    let (run, check) = bad("unknown.yaml", "chunk-row: 5\n");
    for e in [&run, &check] {
        assert!(e.contains("unknown.yaml line 5: unknown key `chunk-row`") && e.contains("did you mean `chunk-rows`?"), "{e}");
    }
    // Wrong types: a mapping, text for a number, text for a switch, a bad choice.
    let (e, _) = bad("mapping.yaml", "chunk-rows:\n  n: 5\n");
    assert!(e.contains("mapping.yaml line 5: chunk-rows: expected a whole number, found a mapping"), "{e}");
    let (e, _) = bad("text.yaml", "chunk-rows: abc\n");
    assert!(e.contains("text.yaml line 5: chunk-rows: expected a whole number, found `abc`"), "{e}");
    let (e, _) = bad("switch.yaml", "no-document: maybe\n");
    assert!(e.contains("line 5: no-document: expected true or false, found `maybe`"), "{e}");
    let (e, _) = bad("choice.yaml", "s3-addressing: sideways\n");
    assert!(e.contains("line 5: s3-addressing: expected one of path, virtual, found `sideways`"), "{e}");
    let (e, _) = bad("list.yaml", "part-size:\n  - 1M\n  - 2M\n");
    assert!(e.contains("line 5: part-size: expected a size") && e.contains("found a list"), "{e}");
    // An unset variable without a default names the variable, the key and the line.
    let (e, _) = bad("unset.yaml", "where: id > ${VM_CFG_SURELY_UNSET_VAR}\n");
    assert!(e.contains("unset.yaml line 5: where: environment variable VM_CFG_SURELY_UNSET_VAR is not set"), "{e}");
    // Not YAML, a duplicate key, conflicting flags, a missing required flag.
    let (e, _) = bad("broken.yaml", "where: [unclosed\n");
    assert!(e.contains("broken.yaml line") && e.contains("not valid YAML"), "{e}");
    let (e, _) = bad("twice.yaml", "table: other\n");
    assert!(e.contains("twice.yaml line 5") && e.contains("duplicated key"), "{e}");
    let (e, _) = bad("conflict.yaml", "document-column: body\nno-document: true\n");
    assert!(e.contains("cannot be used with") && e.contains("`document-column` (line 5), `no-document` (line 6)"), "{e}");
    let p = write(&d, "missing.yaml", "command: import\nto: ./db\n");
    let e = usage_error(&["config", "validate", s(&p)], &[]);
    assert!(e.contains("<SNAPSHOT>") && e.contains("add the missing key(s) to"), "{e}");
    let e = usage_error(&["--config", s(&d.path("no-such.yaml"))], &[]);
    assert!(e.contains("cannot read config file") && e.contains("no-such.yaml"), "{e}");
    // --json: the error is on stdout too.
    let p = write(&d, "unknown2.yaml", &format!("{head}chunk-row: 5\n"));
    let o = run_env(&["--json", "--config", s(&p)], &[]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(j["error"]["code"], "VM-USAGE");
    assert!(!out.exists(), "nothing may be written for an invalid file");
}

#[test]
fn defaults_apply_and_validate_shows_the_resolved_command() {
    let d = TestDir::new();
    let p = write(
        &d,
        "c.yaml",
        "command: export chroma\ncollection: ${VM_CFG_SURELY_UNSET_VAR:-docs}\nout: ${VM_CFG_OUT}\nwhere: '{\"lang\": \"en\"}'\ntenant: cost-$$5\n",
    );
    let v = ok_json_env(&["--json", "config", "validate", s(&p)], &[("VM_CFG_OUT", "/tmp/x y")]);
    assert_eq!(v["command"], "export chroma");
    assert_eq!(v["args"], serde_json::json!(["export", "chroma", "--collection=docs", "--out=/tmp/x y", "--where={\"lang\": \"en\"}", "--tenant=cost-$5"]));
    assert_eq!(v["settings"][0], serde_json::json!({"key": "collection", "line": 2, "value": "docs", "secret": false, "from_env": true}));
    let o = run_env(&["config", "validate", s(&p)], &[("VM_CFG_OUT", "/tmp/x y")]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("c.yaml is valid") && out.contains("export chroma --collection=docs '--out=/tmp/x y'"), "{out}");
}

#[test]
fn secrets_are_masked_and_never_written() {
    const PW: &str = "Cfg-S3cret-Pw-981";
    const KEY: &str = "cfg-api-key-7731";
    let t = table("cfg_secret");
    seed_vectors(&t, 12, 3);
    let d = TestDir::new();
    let url = pg_url().replacen('@', &format!(":{PW}@"), 1);
    assert!(url.contains(PW));
    let env = [("VM_CFG_SECRET_URL", url.as_str()), ("VM_CFG_API_KEY", KEY)];
    let snap = d.path("snap");
    let export = write(&d, "e.yaml", &format!("command: export pgvector\nurl: ${{VM_CFG_SECRET_URL}}\ntable: {t}\nout: {}\n", s(&snap)));
    let literal = write(&d, "literal.yaml", &format!("command: export pgvector\nurl: {url}\ntable: {t}\nout: {}\n", s(&snap)));
    let import = write(&d, "i.yaml", "command: import\nsnapshot: ./s\nto: http://127.0.0.1:1\ncollection: c\napi-key: ${VM_CFG_API_KEY}\n");
    let mut seen = String::new();
    for f in [&export, &literal, &import] {
        for args in [vec!["config", "validate", s(f)], vec!["--json", "config", "validate", s(f)]] {
            let o = run_env(&args, &env);
            assert!(o.status.success(), "{}", text(&o));
            assert!(String::from_utf8_lossy(&o.stdout).contains("***"), "{}", text(&o));
            seen.push_str(&text(&o));
        }
    }
    // A secret written in the file itself gets a note.
    let o = run_env(&["config", "validate", s(&literal)], &env);
    assert!(String::from_utf8_lossy(&o.stdout).contains("keep secrets in the environment"), "{}", text(&o));
    // Run the export (with progress notes on stderr) and look everywhere.
    let o = run_env(&["--json", "--config", s(&export)], &env);
    assert!(o.status.success(), "{}", text(&o));
    seen.push_str(&text(&o));
    assert_eq!(manifest(&snap)["collections"][0]["totals"]["rows"], 12);
    seen.push_str(&all_text(&snap));
    // A failing run does not echo it either.
    let bad = write(&d, "bad.yaml", &format!("command: export pgvector\nurl: ${{VM_CFG_SECRET_URL}}\ntable: no_such_table_here\nout: {}\n", s(&d.path("x"))));
    let o = run_env(&["--config", s(&bad)], &env);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    seen.push_str(&text(&o));
    assert!(!seen.contains(PW) && !seen.contains(KEY), "a secret leaked:\n{seen}");
}

#[test]
fn every_template_validates_and_init_writes_it() {
    let dir = repo().join("templates");
    let env = [("DATABASE_URL", "postgres://u:pw@h/db"), ("SUPABASE_PROJECT_REF", "abcd"), ("SUPABASE_DB_PASSWORD", "pw"), ("PINECONE_API_KEY", "pk")];
    let d = TestDir::new();
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let file = e.path();
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        // export-NAME.yaml: `init NAME`; migrate-NAME.yaml: `init NAME --migrate`.
        let (name, migrate) = match stem.strip_prefix("migrate-") {
            Some(n) => (n.to_owned(), true),
            None => (stem.strip_prefix("export-").unwrap_or(&stem).to_owned(), false),
        };
        let init = |extra: &[&str]| -> Vec<String> {
            let mut a = vec!["init".to_owned(), name.clone()];
            if migrate {
                a.push("--migrate".into());
            }
            a.extend(extra.iter().map(|s| s.to_string()));
            a
        };
        let v = ok_json_env(&["--json", "config", "validate", s(&file)], &env);
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["command"].as_str().unwrap().starts_with("migrate "), migrate, "{v}");
        // `init NAME` prints the committed file, and writes it with --out.
        let o = run(&strs_of(&init(&[])));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), std::fs::read_to_string(&file).unwrap(), "init {name} differs from {}", file.display());
        let out = d.path(&format!("{stem}.yaml"));
        ok_json(&strs_of(&init(&["--out", s(&out)])));
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());
        let e = fails(&strs_of(&init(&["--out", s(&out)])), 2);
        assert!(e.contains("exists") && e.contains("--force"), "{e}");
        ok_json(&strs_of(&init(&["--out", s(&out), "--force"])));
        names.push(stem);
    }
    // One file per template the binary knows (every source twice, export
    // and migrate, and import; the unit tests check that every source has both).
    names.sort();
    let mut known: Vec<&str> = velesdb_migrate::config::template::TEMPLATES.iter().map(|t| t.file.trim_end_matches(".yaml")).collect();
    known.sort();
    assert_eq!(names, known);
    assert!(names.len() >= 15, "{names:?}");
    let e = fails(&["init", "nosuch"], 2);
    assert!(e.contains("pgvector"), "{e}");
    let e = fails(&["init", "import", "--migrate"], 2);
    assert!(e.contains("no migrate template"), "{e}");
}

fn strs_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
