//! The library API (`velesdb_migrate::api`) against the test PostgreSQL and
//! embedded VelesDB: estimate, export, verify, import, validate, with the
//! progress callback and the report shape checked.

use crate::common::*;
use std::sync::{Arc, Mutex};
use velesdb_migrate::api::{Migrator, SourceSpec};
use velesdb_migrate::progress::ProgressUpdate;

#[test]
fn library_estimates_exports_imports_and_validates_with_progress() {
    let table = table("api");
    seed_vectors(&table, 2500, 16);
    let t = TestDir::new();
    let (snap, db) = (t.path("snap"), t.path("db"));
    let updates: Arc<Mutex<Vec<ProgressUpdate>>> = Arc::default();
    let seen = updates.clone();
    let m = Migrator::new().chunk_rows(1000).sample_rows(100).on_progress(move |u| seen.lock().unwrap().push(u.clone()));
    let source = SourceSpec::parse(["pgvector", "--url", &pg_url(), "--table", &table]).unwrap();

    let e = m.estimate(&source).unwrap();
    assert_eq!(e.operation, "estimate");
    assert_eq!(e.rows, 2500);
    assert_eq!(e.details.collections[0].sample_rows, 100);
    // The seeded vectors repeat a pattern, so they compress well: only bounds are certain.
    let size = e.details.estimated_snapshot_bytes.unwrap();
    assert!(size > 2500 && size < 2500 * (16 * 4 + 64), "{:?}", e.details);
    assert!(!snap.exists(), "estimate wrote nothing");

    let x = m.export(&source, &snap).unwrap();
    assert_eq!((x.rows, x.failed, x.success_rate), (2500, 0, 1.0));
    assert!(x.ok() && x.details.chunks == 3 && x.duration.as_nanos() > 0, "{x:?}");

    let v = m.verify(&snap).unwrap();
    assert!(v.ok(), "{:?}", v.errors);
    assert_eq!(v.rows, 2500);

    let i = m.import(&snap, &db).unwrap();
    assert_eq!((i.rows, i.failed), (2500, 0));
    assert_eq!(i.details[0].collection_count, 2500);

    let c = m.validate(&snap, &db).unwrap();
    assert!(c.ok(), "{:?}", c.errors);
    assert_eq!((c.rows, c.failed, c.success_rate), (2500, 0, 1.0));

    // Every task reported a start (done = 0), rose monotonically and ended once with its total.
    let ups = updates.lock().unwrap();
    for phase in ["export", "import", "validate"] {
        let mine: Vec<&ProgressUpdate> = ups.iter().filter(|u| u.phase == phase).collect();
        assert!(mine.len() >= 3, "{phase}: {mine:?}");
        assert_eq!(mine[0].done, 0, "{phase}");
        assert!(mine.windows(2).all(|w| w[0].done <= w[1].done), "{phase}: {mine:?}");
        let last = mine.last().unwrap();
        assert!(last.finished && last.done == 2500 && last.total == Some(2500), "{phase}: {last:?}");
        assert_eq!(mine.iter().filter(|u| u.finished).count(), 1, "{phase}");
    }
    // Export progress moved chunk by chunk.
    assert!(ups.iter().any(|u| u.phase == "export" && u.done == 1000 && !u.finished));
    psql(&format!("DROP TABLE {table}"));
}

#[test]
fn library_reports_failures_and_errors_in_the_result() {
    let table = table("apibad");
    seed_vectors(&table, 300, 8);
    let t = TestDir::new();
    let (snap, db) = (t.path("snap"), t.path("db"));
    let m = Migrator::new();
    let source = SourceSpec::parse(["pgvector", "--url", &pg_url(), "--table", &table]).unwrap();
    m.export(&source, &snap).unwrap();
    m.import(&snap, &db).unwrap();
    // Rows added to the snapshot side after the import: validate sees them missing.
    psql(&format!("INSERT INTO {table} SELECT i, (SELECT array_agg(0.25::real) FROM generate_series(1, 8))::vector, 'late', 0 FROM generate_series(301, 310) i"));
    let later = t.path("snap2");
    m.export(&source, &later).unwrap();
    let c = m.validate(&later, &db).unwrap();
    assert!(!c.ok());
    assert_eq!((c.rows, c.failed), (310, 10), "{c:?}");
    assert!((c.success_rate - 300.0 / 310.0).abs() < 1e-9);
    assert!(c.errors[0].contains("expected 310 rows, found 300") && c.errors[0].contains("10 missing"), "{:?}", c.errors);

    // A damaged chunk: verify counts its rows as failed and names the file.
    let man = manifest(&later);
    let chunk = &man["collections"][0]["chunks"][0];
    let file = later.join(chunk["file"].as_str().unwrap());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let v = m.verify(&later).unwrap();
    assert_eq!((v.rows, v.failed), (310, chunk["rows"].as_u64().unwrap()), "{v:?}");
    assert!(!v.ok() && v.errors[0].contains(chunk["file"].as_str().unwrap()), "{:?}", v.errors);

    // Flags that belong to the calls themselves are refused in a source's words.
    let e = m.export(&SourceSpec::parse(["pgvector", "--url", &pg_url(), "--table", &table, "--dry-run"]).unwrap(), t.path("x")).unwrap_err();
    assert!(e.to_string().contains("estimate()"), "{e}");

    // Usage errors come back as errors with a stable code, before anything runs.
    let e = SourceSpec::parse(["pgvector", "--table", "x", "--bogus"]).unwrap_err();
    assert_eq!(e.code(), "VM-USAGE");
    assert!(e.to_string().contains("--bogus"), "{e}");
    let e = m.export(&SourceSpec::parse(["pgvector", "--url", "postgres://nobody@127.0.0.1:1/x", "--table", "t"]).unwrap(), t.path("never")).unwrap_err();
    assert_eq!(e.code(), "VM-SOURCE", "{e}");
    assert!(!t.path("never").join("manifest.json").exists());
    psql(&format!("DROP TABLE {table}"));
}
