//! `discover --emit-config`: the config written for what discovery found is
//! valid, runs the export it describes, and holds no secret. Real PostgreSQL
//! and a real Chroma server (the other sources' discover tests are in their
//! own files, next to their emulators).

use crate::common::*;

#[test]
fn pgvector_one_table_then_all_tables_from_an_emitted_config() {
    let s = table("emit");
    psql(&format!(
        "CREATE SCHEMA {s};
         CREATE TABLE {s}.good (id bigint PRIMARY KEY, embedding vector(3), title text, content text, n int);
         INSERT INTO {s}.good SELECT i, ARRAY[i, -i, 0.5]::real[]::vector, 't' || i, 'doc ' || i, i % 4 FROM generate_series(1, 40) i;
         CREATE INDEX ON {s}.good USING hnsw (embedding vector_cosine_ops) WITH (m = 12, ef_construction = 48);
         CREATE TABLE {s}.nokey (id int, v halfvec(2));"
    ));
    // A password in the URL (the test server trusts local connections, so any password works).
    let url = pg_url().replacen("postgres@", "postgres:pg-secret-9f1@", 1);
    assert!(url.contains("pg-secret-9f1"), "{url}");
    let env = [("DATABASE_URL", url.as_str())];
    let d = TestDir::new();
    let dir = d.path("one");
    std::fs::create_dir_all(&dir).unwrap();
    let (found, config, summary) = emit_validate_run(&dir, &["pgvector", "--url", &url, "--schema", &s], &env);

    // Discovery: both tables, described as the export records them.
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:#?}");
    let good = found.iter().find(|t| t["table"] == "good").unwrap();
    let c = &good["collection"];
    assert_eq!((c["id"]["name"].as_str(), c["id"]["kind"].as_str()), (Some("id"), Some("int")));
    assert_eq!((c["vectors"][0]["dimension"].as_u64(), c["vectors"][0]["metric"].as_str()), (Some(3), Some("cosine")));
    assert_eq!(c["vectors"][0]["index"]["m"], 12);
    let meta: Vec<&str> = c["metadata"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(meta, ["title", "n"]);
    assert_eq!(c["document"], "content");
    assert!(found.iter().any(|t| t["table"] == "nokey" && t["problem"].as_str().unwrap().contains("no primary key")));

    // One exportable table: its own config, the secret as a variable, the refused table named.
    assert!(!config.contains("pg-secret-9f1"), "the password is written nowhere:\n{config}");
    assert!(config.contains("\ncommand: export pgvector\n") && config.contains("\nurl: ${DATABASE_URL}\n"), "{config}");
    assert!(config.contains("\ntable: good\n") && config.contains(&format!("\nschema: {s}\n")) && config.contains("\nout: ./snapshot\n"), "{config}");
    let prose = config.replace("\n# ", " "); // comments unwrapped
    assert!(config.contains("# all: false") && prose.contains("nokey (see above)") && prose.contains("has no primary key"), "{config}");
    assert_eq!(summary["rows"], 40, "{summary:#}");
    let m = manifest(&dir.join("snapshot"));
    assert_eq!(m["collections"][0]["name"], format!("{s}.good"));
    assert_eq!(m["collections"][0]["schema"], *c, "the manifest records what discover showed");
    for f in ["discovered.yaml", "snapshot/manifest.json"] {
        assert!(!std::fs::read_to_string(dir.join(f)).unwrap().contains("pg-secret-9f1"), "{f}");
    }

    // The file exists: refused without --force, rewritten with it.
    let e = fails(&["discover", "pgvector", "--url", &url, "--schema", &s, "--emit-config", dir.join("discovered.yaml").to_str().unwrap()], 2);
    assert!(e.contains("exists") && e.contains("--force"), "{e}");
    let o = run_in(&dir, &["discover", "pgvector", "--url", &url, "--schema", &s, "--emit-config", "discovered.yaml", "--force"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    // The human table names every table with its vectors, and the problem.
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(human.contains("TABLE") && human.contains(&format!("{s}.good")) && human.contains("embedding (f32 dim 3 cosine)"), "{human}");
    assert!(human.contains("title, n, document: content") && human.contains("no primary key"), "{human}");

    // Two exportable tables: `all: true` (restricted to the schema), both exported.
    psql(&format!(
        "CREATE TABLE {s}.other (key text PRIMARY KEY, emb halfvec(2), extra jsonb);
         INSERT INTO {s}.other SELECT 'k' || i, ARRAY[i, 1]::real[]::halfvec, jsonb_build_object('x', i) FROM generate_series(1, 15) i;"
    ));
    let dir = d.path("all");
    std::fs::create_dir_all(&dir).unwrap();
    let (found, config, summary) = emit_validate_run(&dir, &["pgvector", "--url", &url, "--schema", &s], &env);
    assert_eq!(found.as_array().unwrap().len(), 3);
    assert!(config.contains("\nall: true\n") && config.contains(&format!("\nschema: {s}\n")) && config.contains("# table:"), "{config}");
    assert_eq!(summary["rows"], 55, "{summary:#}");
    assert_eq!(summary["skipped"][0]["source_name"], format!("{s}.nokey"), "{summary:#}");
    let names: Vec<String> = manifest(&dir.join("snapshot"))["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, [format!("{s}.good"), format!("{s}.other")]);

    // Nothing exportable: no file, and why.
    let empty = table("emit_none");
    psql(&format!("CREATE SCHEMA {empty}; CREATE TABLE {empty}.nokey (id int, v vector(2));"));
    let o = run_in(&dir, &["discover", "pgvector", "--url", &url, "--schema", &empty, "--emit-config", "none.yaml"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no primary key") && !dir.join("none.yaml").exists(), "{}", text(&o));
}

#[test]
fn chroma_collections_from_an_emitted_config() {
    let d = TestDir::new();
    let c = ChromaServer::start(&d.path("chroma"));
    c.peer(&["seed", "docs", "30"]);
    c.peer(&["seed", "more", "12"]);
    let dir = d.path("run");
    std::fs::create_dir_all(&dir).unwrap();
    // A token (the test server does not check it): written as ${CHROMA_TOKEN}.
    let env = [("CHROMA_TOKEN", "chroma-tok-77")];
    let (found, config, summary) = emit_validate_run(&dir, &["chroma", "--url", &c.url, "--token", "chroma-tok-77"], &env);
    let found = found.as_array().unwrap();
    let names: Vec<&str> = found.iter().map(|t| t["table"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{found:#?}");
    for (name, n) in [("docs", 30), ("more", 12)] {
        let t = found.iter().find(|t| t["table"] == name).unwrap();
        assert_eq!(t["rows_estimate"], n);
        let v = &t["collection"]["vectors"][0];
        assert_eq!((v["dimension"].as_u64(), v["metric"].as_str(), v["index"]["m"].as_u64()), (Some(8), Some("cosine"), Some(12)));
        assert_eq!(t["collection"]["id"]["kind"], "string");
    }
    assert!(!config.contains("chroma-tok-77") && config.contains("\ntoken: ${CHROMA_TOKEN}\n"), "{config}");
    assert!(config.contains("\nall: true\n") && config.contains(&format!("\nurl: {}\n", c.url)) && config.contains("\ntenant: default_tenant\n"), "{config}");
    assert_eq!(summary["rows"], 42, "{summary:#}");
    let m = manifest(&dir.join("snapshot"));
    let mut colls: Vec<(&str, u64)> = m["collections"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["totals"]["rows"].as_u64().unwrap())).collect();
    colls.sort();
    assert_eq!(colls, [("docs", 30), ("more", 12)]);
    assert!(!std::fs::read_to_string(dir.join("snapshot/manifest.json")).unwrap().contains("chroma-tok-77"));
}
