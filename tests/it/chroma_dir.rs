//! `export chroma --path`: a Chroma persistent directory written by a real
//! Chroma server (`chroma run`, fed by the official client), read after the
//! server is stopped, against `export chroma --url` of the same data.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (size, modification time, blake3) of every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime, String)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let (p, meta) = (e.path(), e.metadata().unwrap());
            if meta.is_dir() {
                todo.push(p);
            } else {
                let hash = blake3::hash(&std::fs::read(&p).unwrap()).to_hex().to_string();
                out.insert(p.strip_prefix(dir).unwrap().to_owned(), (meta.len(), meta.modified().unwrap(), hash));
            }
        }
    }
    out
}

fn copy(src: &Path, dst: &Path) {
    assert!(Command::new("cp").arg("-a").arg(src).arg(dst).status().unwrap().success());
}

/// The segment directory of the directory's only flushed HNSW segment.
fn hnsw_dir(dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.join("index_metadata.pickle").is_file()).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

fn export_path(dir: &Path, collection: &str, out: &Path) -> Vec<String> {
    vec!["export".into(), "chroma".into(), "--path".into(), dir.display().to_string(), "--collection".into(), collection.into(), "--out".into(), out.display().to_string()]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn chroma_directory_exports_what_the_server_returns_and_resumes() {
    let d = TestDir::new();
    let data = d.path("chroma");
    let server = ChromaServer::start(&data);
    // Records flushed to the HNSW files (every 1000 writes) and others only in
    // the log, with updates, upserts, deletes and re-adds on both sides.
    server.peer(&["churn", "mix", "2000", "cosine", "16"]);
    server.peer(&["churn", "flat", "1200", "l2", "8"]);
    let dump: Vec<serde_json::Value> = serde_json::from_str(&server.peer(&["dump", "mix"])).unwrap();
    let mut by_url = BTreeMap::new();
    for c in ["mix", "flat"] {
        let snap = d.path(&format!("url-{c}"));
        ok_json(&["export", "chroma", "--url", &server.url, "--collection", c, "--out", snap.to_str().unwrap(), "--chunk-rows", "300"]);
        by_url.insert(c, snap);
    }
    // A directory with a server on it is refused.
    let e = fails(&strs(&export_path(&data, "mix", &d.path("busy"))), 1);
    assert!(e.contains("is in use by pid") && e.contains("--url"), "{e}");
    drop(server); // SIGKILL, as a crash or a plain kill would

    let before = tree(&data);
    for (c, url_snap) in &by_url {
        let snap = d.path(&format!("path-{c}"));
        let mut args = export_path(&data, c, &snap);
        args.extend(["--chunk-rows".into(), "300".into()]);
        let o = run(&strs(&args));
        assert!(o.status.success(), "{}", text(&o));
        // Both sources of vectors are exercised.
        assert!(String::from_utf8_lossy(&o.stderr).contains("vectors come from Chroma's write-ahead log"), "{}", text(&o));
        // Byte for byte the chunks of the export through the server.
        assert_eq!(chunk_hashes(&snap), chunk_hashes(url_snap), "{c}");
        let (m, u) = (manifest(&snap), manifest(url_snap));
        assert_eq!(m["collections"][0]["schema"], u["collections"][0]["schema"], "{c}");
        assert_eq!(m["collections"][0]["source_count"], u["collections"][0]["source_count"], "{c}");
        assert_eq!(m["source"]["kind"], "chroma");
        assert_eq!(m["source"]["address"], data.canonicalize().unwrap().display().to_string());
    }
    let m = manifest(&d.path("path-mix"));
    let v = &m["collections"][0]["schema"]["vectors"][0];
    assert_eq!((v["dimension"].as_u64(), v["metric"].as_str()), (Some(16), Some("cosine")));
    assert_eq!((v["index"]["m"].as_u64(), v["index"]["ef_construction"].as_u64()), (Some(12), Some(80)));

    // The rows are what the official client reads from the server.
    crate::chroma::assert_rows_are(&d.path("path-mix"), &dump);
    assert!(dump.iter().any(|r| r["metadata"]["ints"].is_array()), "the data has array metadata");

    let db = d.path("db");
    let r = ok_json(&["import", d.path("path-mix").to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "mix"]);
    assert_eq!(r["collection_count"].as_u64(), Some(dump.len() as u64));
    let v = ok_json(&["validate", d.path("path-mix").to_str().unwrap(), "--to", db.to_str().unwrap(), "--collection", "mix", "--strict"]);
    assert_eq!(v["ok"], true, "{v:#}");

    // --all reads the collection list from the directory (no server runs now):
    // each collection's chunks are those of its single export.
    let all = d.path("path-all");
    let r = ok_json(&["export", "chroma", "--path", data.to_str().unwrap(), "--all", "--out", all.to_str().unwrap(), "--chunk-rows", "300"]);
    assert_eq!(r["collections"].as_array().unwrap().len(), 2, "{r:#}");
    let m = manifest(&all);
    for c in m["collections"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let hashes: Vec<(String, String)> = c["chunks"].as_array().unwrap().iter().map(|k| (k["file"].as_str().unwrap().rsplit('/').next().unwrap().to_owned(), k["blake3"].as_str().unwrap().to_owned())).collect();
        let single: Vec<(String, String)> = chunk_hashes(&d.path(&format!("path-{name}"))).into_iter().map(|(f, h)| (f.rsplit('/').next().unwrap().to_owned(), h)).collect();
        assert_eq!(hashes, single, "{name}");
    }

    // discover reads the directory too, and its config exports every collection.
    let cfg = d.path("discovered.yaml");
    let found = ok_json(&["discover", "chroma", "--path", data.to_str().unwrap(), "--emit-config", cfg.to_str().unwrap()]);
    let listed: Vec<(&str, u64)> = found.as_array().unwrap().iter().map(|c| (c["table"].as_str().unwrap(), c["rows_estimate"].as_u64().unwrap())).collect();
    assert_eq!(listed, [("flat", manifest(&d.path("path-flat"))["collections"][0]["totals"]["rows"].as_u64().unwrap()), ("mix", dump.len() as u64)]);
    let r = ok_json(&["--config", cfg.to_str().unwrap(), "--out", d.path("from-config").to_str().unwrap(), "--chunk-rows", "300"]);
    assert_eq!(r["collections"].as_array().unwrap().len(), 2, "{r:#}");
    let chunks = |m: serde_json::Value| m["collections"].as_array().unwrap().iter().map(|c| (c["name"].clone(), c["chunks"].clone())).collect::<Vec<_>>();
    assert_eq!(chunks(manifest(&d.path("from-config"))), chunks(manifest(&all)));

    // Killed exports resume to the same chunks.
    let snap = d.path("killed");
    let mut args = vec!["--quiet".to_string()];
    args.extend(export_path(&data, "mix", &snap));
    args.extend(["--chunk-rows".into(), "100".into()]);
    let args = strs(&args);
    let committed = || json_file(&snap.join("manifest.json")).map_or(0, |m| m["collections"][0]["chunks"].as_array().map_or(0, |c| c.len()));
    assert!(!run_and_kill_after(&args, &committed, 2), "the export finished before it could be interrupted");
    let (s, kills) = kill_repeatedly_then_finish(&args, 3, &committed);
    assert!(s["resumed_chunks"].as_u64().unwrap() >= 2, "{s} after {kills} more kills");
    let mut reference = export_path(&data, "mix", &d.path("whole"));
    reference.extend(["--chunk-rows".into(), "100".into()]);
    ok_json(&strs(&reference));
    assert_eq!(chunk_hashes(&snap), chunk_hashes(&d.path("whole")));

    // Nothing in the directory was written, created or removed.
    assert_eq!(tree(&data), before);
}

#[test]
fn chroma_directory_layouts_it_cannot_read_are_named() {
    let d = TestDir::new();
    let data = d.path("chroma");
    let server = ChromaServer::start(&data);
    server.peer(&["seed", "docs", "1100"]);
    server.peer(&["empty", "void"]);
    drop(server);
    let out = |n: &str| d.path(n).display().to_string();
    let fails_on = |dir: &Path, collection: &str| fails(&strs(&export_path(dir, collection, &d.path(&table("out")))), 1);

    // Flags.
    let e = fails(&["export", "chroma", "--path", data.to_str().unwrap(), "--collection", "docs", "--out", &out("w"), "--where", r#"{"tag": "t1"}"#], 2);
    assert!(e.contains("--where cannot be used with --path") && e.contains("--url"), "{e}");
    let e = fails(&["export", "chroma", "--path", data.to_str().unwrap(), "--url", "http://127.0.0.1:1", "--collection", "docs", "--out", &out("w")], 2);
    assert!(e.contains("cannot be used with"), "{e}");

    // Not a Chroma directory; a collection it does not hold.
    std::fs::create_dir_all(d.path("plain")).unwrap();
    let e = fails_on(&d.path("plain"), "docs");
    assert!(e.contains("has no chroma.sqlite3") && e.contains("not a Chroma persistent directory"), "{e}");
    let e = fails_on(&data, "nope");
    assert!(e.contains("no collection \"nope\"") && e.contains("it holds docs, void") && e.contains("--collection"), "{e}");

    // An empty collection exports to an empty, complete snapshot.
    let s = ok_json(&strs(&export_path(&data, "void", &d.path("void"))));
    assert_eq!(s["rows"], 0);

    // Damaged copies: each names the file and the reason.
    let broken = |name: &str, damage: &dyn Fn(&Path)| -> String {
        let copy_dir = d.path(name);
        copy(&data, &copy_dir);
        damage(&copy_dir);
        fails_on(&copy_dir, "docs")
    };
    let e = broken("truncated", &|c| {
        let f = hnsw_dir(c).join("data_level0.bin");
        let len = std::fs::metadata(&f).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(len - 100).unwrap();
    });
    assert!(e.contains("data_level0.bin is truncated") && e.contains("--url"), "{e}");
    let e = broken("version", &|c| {
        let f = hnsw_dir(c).join("header.bin");
        let mut b = std::fs::read(&f).unwrap();
        b[0] = 7;
        std::fs::write(&f, b).unwrap();
    });
    assert!(e.contains("header.bin has persistence version 7"), "{e}");
    let e = broken("pickle", &|c| std::fs::write(hnsw_dir(c).join("index_metadata.pickle"), b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08chromadb\x94\x93").unwrap());
    assert!(e.contains("index_metadata.pickle") && e.contains("STACK_GLOBAL"), "{e}");
    let e = broken("missing", &|c| std::fs::remove_dir_all(hnsw_dir(c)).unwrap());
    assert!(e.contains("is missing, although chroma.sqlite3 says Chroma wrote the collection's vectors there"), "{e}");
    let e = broken("journal", &|c| std::fs::write(c.join("chroma.sqlite3-journal"), b"x").unwrap());
    assert!(e.contains("chroma.sqlite3-journal exists") && e.contains("interrupted"), "{e}");
    let e = broken("newer", &|c| {
        let sql = "INSERT INTO migrations (dir, version, filename, sql, hash) VALUES ('metadb', 7, '00007-future.sqlite.sql', '', '')";
        let py = format!("import sqlite3; c = sqlite3.connect({:?}); c.execute({sql:?}); c.commit()", c.join("chroma.sqlite3").display().to_string());
        assert!(Command::new(python()).args(["-c", &py]).status().unwrap().success());
    });
    assert!(e.contains("migrated by a newer Chroma (migration metadb 7, 00007-future.sqlite.sql)"), "{e}");
    let e = broken("notsqlite", &|c| std::fs::write(c.join("chroma.sqlite3"), vec![0u8; 4096]).unwrap());
    assert!(e.contains("is not a SQLite database"), "{e}");
}
