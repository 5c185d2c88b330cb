//! Run records: what `resume` needs to continue an interrupted export,
//! import or migrate.
//!
//! When one of those commands starts on a local snapshot directory it writes
//! `<snapshot>/.imports/run-<command>[-<destination hash>].json`: the
//! command line (after `migrate`'s flag relocation) with every secret taken
//! out, the working directory and the environment variables the secrets
//! must be re-read from. A run that succeeds marks its record finished.
//! `resume` re-runs the most recent unfinished record; the phases
//! themselves resume from the manifest and the import journal as usual.
//!
//! Secrets are the flags whose environment fallback is hidden
//! (`hide_env_values`: passwords, tokens, API keys, database URLs). A URL
//! without a password is kept as it is; anything else is dropped and must
//! come from the environment variable the flag reads.

use crate::error::{Error, IoContext, Result};
use crate::snapshot::{fsutil, JOURNAL_DIR};
use crate::sources::redact_url;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static ARGS: Mutex<Option<Vec<OsString>>> = Mutex::new(None);

/// Remember the command line (by `cli::parse`, and by `resume` for the
/// command it re-runs).
pub fn set_args(args: Vec<OsString>) {
    *ARGS.lock().expect("args lock") = Some(args);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub version: u32,
    /// `export`, `import` or `migrate`.
    pub command: String,
    /// Arguments after the program name, secrets removed.
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Environment variables that must hold the secrets left out of `args`.
    pub secrets_from_env: Vec<String>,
    pub started_at: String,
    pub finished: bool,
}

fn record_path(snapshot: &Path, command: &str, key: Option<&str>) -> PathBuf {
    let name = match key {
        Some(k) => format!("run-{command}-{}.json", &blake3::hash(k.as_bytes()).to_hex()[..12]),
        None => format!("run-{command}.json"),
    };
    snapshot.join(JOURNAL_DIR).join(name)
}

/// The command line with secrets removed, and where they must come from.
fn scrub(args: &[OsString]) -> (Vec<String>, Vec<String>) {
    use clap::CommandFactory;
    let root = crate::cli::Cli::command();
    // A secret flag of `cmd` (or a global one): its environment variable.
    fn secret_env(cmd: &clap::Command, name: &str) -> Option<String> {
        cmd.get_arguments()
            .find(|a| a.is_hide_env_values_set() && a.get_long() == Some(name))
            .map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default())
    }
    // The command level each flag belongs to follows the words seen so far
    // (`migrate --api-key …` is VelesDB's key, `migrate qdrant --api-key …` Qdrant's).
    let mut cmd = &root;
    let (mut out, mut envs) = (Vec::new(), Vec::new());
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).peekable();
    while let Some(a) = it.next() {
        let (name, inline) = match a.strip_prefix("--") {
            Some(f) => f.split_once('=').map_or((f.to_owned(), None), |(n, v)| (n.to_owned(), Some(v.to_owned()))),
            None => {
                if let Some(sub) = cmd.find_subcommand(&a) {
                    cmd = sub;
                }
                out.push(a);
                continue;
            }
        };
        // Presentation flags belong to the run that resumes.
        if inline.is_none() && matches!(name.as_str(), "json" | "quiet" | "no-progress") {
            continue;
        }
        let Some(env) = secret_env(cmd, &name).or_else(|| secret_env(&root, &name)) else {
            out.push(a);
            continue;
        };
        let value = match inline {
            Some(v) => v,
            None => it.next().unwrap_or_default(),
        };
        if value.contains("://") && redact_url(&value) == value {
            out.push(format!("--{name}"));
            out.push(value); // a URL without a password
        } else if !env.is_empty() {
            envs.push(env.clone());
        }
    }
    (out, envs)
}

/// Write the run record of a command starting on `snapshot`.
pub fn start(snapshot: &Path, command: &str, key: Option<&str>) -> Result<()> {
    let Some(args) = ARGS.lock().expect("args lock").clone() else { return Ok(()) };
    let (args, secrets_from_env) = scrub(&args);
    let rec = RunRecord {
        version: 1,
        command: command.into(),
        args,
        cwd: std::env::current_dir().unwrap_or_default(),
        secrets_from_env,
        started_at: fsutil::now_rfc3339(),
        finished: false,
    };
    let path = record_path(snapshot, command, key);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).ctx(|| format!("creating {}", p.display()))?;
    }
    fsutil::write_atomic(&path, &serde_json::to_vec_pretty(&rec).expect("record serializes"))
}

/// Mark the run record of a command finished (if the snapshot still exists).
pub fn finish(snapshot: &Path, command: &str, key: Option<&str>) -> Result<()> {
    let path = record_path(snapshot, command, key);
    if let Ok(b) = std::fs::read(&path) {
        if let Ok(mut rec) = serde_json::from_slice::<RunRecord>(&b) {
            rec.finished = true;
            fsutil::write_atomic(&path, &serde_json::to_vec_pretty(&rec).expect("record serializes"))?;
        }
    }
    Ok(())
}

/// Unfinished run records under `dir`: its own `.imports/`, those of the
/// directories in it and of `./.velesdb-migrate/*` (migrate's staging).
pub fn find(dir: &Path) -> Vec<(PathBuf, RunRecord)> {
    let mut snaps = vec![dir.to_path_buf()];
    for base in [dir.to_path_buf(), dir.join(".velesdb-migrate")] {
        if let Ok(rd) = std::fs::read_dir(&base) {
            snaps.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    let mut found = Vec::new();
    for s in snaps {
        let Ok(rd) = std::fs::read_dir(s.join(JOURNAL_DIR)) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("run-") || !name.ends_with(".json") {
                continue;
            }
            if let Some(rec) = std::fs::read(e.path()).ok().and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok()) {
                if !rec.finished {
                    found.push((e.path(), rec));
                }
            }
        }
    }
    found.sort_by(|a, b| a.1.started_at.cmp(&b.1.started_at));
    found
}

/// The record `resume` continues: the most recent unfinished one.
pub fn latest(dir: &Path) -> Result<RunRecord> {
    let found = find(dir);
    found.into_iter().last().map(|(_, r)| r).ok_or_else(|| {
        Error::Usage(format!(
            "no interrupted export, import or migrate found in {} (looked in its .imports/, its subdirectories' and ./.velesdb-migrate/*); \
             give the snapshot directory: velesdb-migrate resume DIR",
            dir.display()
        ))
    })
}

/// The environment variables a record needs that are not set.
pub fn missing_secrets(rec: &RunRecord) -> Vec<String> {
    rec.secrets_from_env.iter().filter(|v| std::env::var_os(v).is_none()).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_taken_out_and_named() {
        let args: Vec<OsString> = [
            "velesdb-migrate", "export", "qdrant", "--url", "http://h:6333", "--collection", "c", "--api-key", "s3cret", "--out", "snap",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let (out, envs) = scrub(&args);
        assert!(!out.iter().any(|a| a.contains("s3cret")), "{out:?}");
        assert_eq!(envs, vec!["QDRANT_API_KEY".to_owned()]);
        assert!(out.contains(&"--collection".to_owned()));
        // A database URL with a password is a secret; without one it is kept.
        let args: Vec<OsString> = ["x", "export", "pgvector", "--url=postgres://u:pw@h/db", "--table", "t"].iter().map(OsString::from).collect();
        let (out, envs) = scrub(&args);
        assert!(!out.iter().any(|a| a.contains("pw")) && envs == vec!["DATABASE_URL".to_owned()], "{out:?} {envs:?}");
        let args: Vec<OsString> = ["x", "export", "pgvector", "--url", "postgres://u@h/db", "--table", "t"].iter().map(OsString::from).collect();
        let (out, _) = scrub(&args);
        assert!(out.contains(&"postgres://u@h/db".to_owned()), "{out:?}");
        // migrate: the destination's key and the source's key, each with its own variable.
        let args: Vec<OsString> = ["x", "migrate", "--to", "http://v:8080", "--api-key", "dest-key", "qdrant", "--collection", "c", "--api-key", "src-key"]
            .iter()
            .map(OsString::from)
            .collect();
        let (out, envs) = scrub(&args);
        assert!(!out.iter().any(|a| a == "dest-key" || a == "src-key"), "{out:?}");
        assert_eq!(envs, vec!["VELESDB_API_KEY".to_owned(), "QDRANT_API_KEY".to_owned()]);
    }
}

/// Writes the run record of an export (or a migrate's export) once its
/// manifest exists, so a run that fails before writing anything leaves
/// nothing behind. Used as the export's commit hook for local snapshots.
#[derive(Debug)]
pub struct Recorder {
    command: &'static str,
    dir: PathBuf,
    written: std::sync::atomic::AtomicBool,
}

impl Recorder {
    pub fn new(command: &'static str, dir: &Path) -> std::sync::Arc<Recorder> {
        std::sync::Arc::new(Recorder { command, dir: dir.to_path_buf(), written: Default::default() })
    }
}

impl crate::pipeline::export::Publish for Recorder {
    fn committed(&self, dir: &Path, _chunk: Option<&crate::snapshot::ChunkEntry>) -> Result<()> {
        if !self.written.swap(true, std::sync::atomic::Ordering::SeqCst) {
            start(dir, self.command, None)?;
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.dir.display().to_string()
    }
}
