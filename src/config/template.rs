//! `velesdb-migrate init`: commented config file templates, two per source
//! (`export <source>`, and `migrate <source>` with `--migrate`) and one for
//! `import`.
//!
//! The templates are committed under `templates/` (so they can be read and
//! reviewed) and embedded in the binary. They are generated from the clap
//! tree: every flag with its help text, default, environment variable and
//! possible values. A unit test regenerates them and fails when a flag or a
//! help text changed without the template (`VELESDB_MIGRATE_BLESS=1` rewrites
//! them).

use super::{command_keys, find, is_secret, keys, tree};
use crate::cli::{emit, Outcome};
use crate::error::{Error, IoContext, Result};
use crate::progress::Output;
use clap::{Arg, ArgAction, Command};
use serde::Serialize;
use std::path::PathBuf;

/// One template.
pub struct Template {
    /// `init NAME`.
    pub name: &'static str,
    /// The command it configures.
    pub command: &'static [&'static str],
    /// File name under `templates/`.
    pub file: &'static str,
    /// The committed text.
    pub text: &'static str,
    /// Keys written uncommented, with an example value. Every required flag
    /// is here, and the flags a run needs in practice (a connection URL).
    pub fill: &'static [(&'static str, &'static str)],
}

macro_rules! template {
    ($name:literal, [$($word:literal),+], $file:literal, $fill:expr) => {
        Template { name: $name, command: &[$($word),+], file: $file, text: include_str!(concat!("../../templates/", $file)), fill: $fill }
    };
}

pub const TEMPLATES: &[Template] = &[
    template!("pgvector", ["export", "pgvector"], "export-pgvector.yaml", &[("url", "${DATABASE_URL}"), ("table", "items"), ("out", "./snapshot")]),
    template!(
        "supabase",
        ["export", "supabase"],
        "export-supabase.yaml",
        &[("project-ref", "${SUPABASE_PROJECT_REF}"), ("password", "${SUPABASE_DB_PASSWORD}"), ("table", "documents"), ("out", "./snapshot")]
    ),
    template!("chroma", ["export", "chroma"], "export-chroma.yaml", &[("url", "http://localhost:8000"), ("collection", "docs"), ("out", "./snapshot")]),
    template!("qdrant", ["export", "qdrant"], "export-qdrant.yaml", &[("url", "http://localhost:6333"), ("collection", "docs"), ("out", "./snapshot")]),
    template!("milvus", ["export", "milvus"], "export-milvus.yaml", &[("url", "http://localhost:19530"), ("collection", "docs"), ("out", "./snapshot")]),
    template!("weaviate", ["export", "weaviate"], "export-weaviate.yaml", &[("url", "http://localhost:8080"), ("class", "Article"), ("out", "./snapshot")]),
    template!(
        "pinecone",
        ["export", "pinecone"],
        "export-pinecone.yaml",
        &[("api-key", "${PINECONE_API_KEY}"), ("index", "docs"), ("out", "./snapshot")]
    ),
    template!("import", ["import"], "import.yaml", &[("snapshot", "./snapshot"), ("to", "./velesdb-data"), ("collection", "docs")]),
    template!("pgvector", ["migrate", "pgvector"], "migrate-pgvector.yaml", &[("url", "${DATABASE_URL}"), ("table", "items"), ("to", "./velesdb-data")]),
    template!(
        "supabase",
        ["migrate", "supabase"],
        "migrate-supabase.yaml",
        &[("project-ref", "${SUPABASE_PROJECT_REF}"), ("password", "${SUPABASE_DB_PASSWORD}"), ("table", "documents"), ("to", "./velesdb-data")]
    ),
    template!("chroma", ["migrate", "chroma"], "migrate-chroma.yaml", &[("url", "http://localhost:8000"), ("collection", "docs"), ("to", "./velesdb-data")]),
    template!("qdrant", ["migrate", "qdrant"], "migrate-qdrant.yaml", &[("url", "http://localhost:6333"), ("collection", "docs"), ("to", "./velesdb-data")]),
    template!("milvus", ["migrate", "milvus"], "migrate-milvus.yaml", &[("url", "http://localhost:19530"), ("collection", "docs"), ("to", "./velesdb-data")]),
    template!("weaviate", ["migrate", "weaviate"], "migrate-weaviate.yaml", &[("url", "http://localhost:8080"), ("class", "Article"), ("to", "./velesdb-data")]),
    template!("pinecone", ["migrate", "pinecone"], "migrate-pinecone.yaml", &[("api-key", "${PINECONE_API_KEY}"), ("index", "docs"), ("to", "./velesdb-data")]),
];

impl Template {
    /// A template for `migrate <source>` (`init <source> --migrate`).
    pub fn is_migrate(&self) -> bool {
        self.command[0] == "migrate"
    }

    /// The `init` arguments that print it (`pgvector --migrate`).
    pub fn init_args(&self) -> String {
        if self.is_migrate() {
            format!("{} --migrate", self.name)
        } else {
            self.name.to_owned()
        }
    }
}

/// `velesdb-migrate init` options.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// A source (a config file for `export <source>`, or with --migrate for
    /// `migrate <source>`) or `import`.
    #[arg(value_name = "SOURCE", value_parser = clap::builder::PossibleValuesParser::new(TEMPLATES.iter().filter(|t| !t.is_migrate()).map(|t| t.name)))]
    pub template: String,
    /// A config file for `migrate <source>` (export and import in one
    /// command) instead of `export <source>`.
    #[arg(long)]
    pub migrate: bool,
    /// Write the template to FILE (default: print it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite FILE when it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

#[derive(Serialize)]
struct InitReport<'a> {
    template: &'a str,
    command: String,
    /// Where it was written (none: printed as `text`).
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

/// `velesdb-migrate init`.
///
/// # Errors
/// `Usage` when `--out` exists (without `--force`), `Io` when it cannot be written.
pub fn init(a: InitArgs, out: &Output) -> Result<Outcome> {
    let t = TEMPLATES.iter().find(|t| t.name == a.template && t.is_migrate() == a.migrate).ok_or_else(|| {
        Error::Usage(format!("`{}` has no migrate template: `init <source> --migrate` is for `migrate <source>` (a source, not import)", a.template))
    })?;
    let command = t.command.join(" ");
    let Some(path) = a.out else {
        emit(out, &InitReport { template: t.name, command, file: None, text: Some(t.text) }, || print!("{}", t.text));
        return Ok(Outcome::Ok);
    };
    if path.exists() && !a.force {
        return Err(Error::Usage(format!("{} exists: pass --force to overwrite it, or choose another --out", path.display())));
    }
    std::fs::write(&path, t.text).ctx(|| format!("writing {}", path.display()))?;
    let shown = path.display().to_string();
    emit(out, &InitReport { template: t.name, command: command.clone(), file: Some(shown.clone()), text: None }, || {
        println!("wrote {shown}: a config file for `{command}`. Fill it in, check it with `velesdb-migrate config validate {shown}`, run it with `velesdb-migrate --config {shown}`.");
    });
    Ok(Outcome::Ok)
}

/// The text of `t` generated from the clap tree (what the committed file must hold).
pub fn generate(t: &Template) -> String {
    let root = tree();
    let path: Vec<String> = t.command.iter().map(|w| w.to_string()).collect();
    let leaf = find(&root, &path).expect("template command exists");
    let command = t.command.join(" ");
    let about = sentence(&leaf.get_about().map(|a| a.to_string()).unwrap_or_default());
    let (about, help) = if t.is_migrate() {
        (format!("export and import in one command (the import starts on committed chunks while the export goes on; re-run to resume). Source: {about}"), format!("`velesdb-migrate migrate --help` and `velesdb-migrate {command} --help`"))
    } else {
        (about, format!("`velesdb-migrate {command} --help`"))
    };
    let mut s = String::new();
    comment(&mut s, &format!("velesdb-migrate config file for `{command}`: {about}"));
    s.push_str(&format!("#\n# Check it (connects nowhere): velesdb-migrate config validate {file}\n# Run it:                       velesdb-migrate --config {file}\n#\n", file = t.file));
    let intro = format!(
        "Keys are the long flags of {help} (snake_case works too); \
         a flag given on the command line overrides its key. true/false turn a switch on or off, \
         a list repeats a flag, a key left empty is not set. In values, ${{VAR}} is the environment \
         variable VAR (an error when it is unset), ${{VAR:-default}} is VAR or else the default, and \
         $$ is a literal $. Secrets (passwords, tokens, API keys) are never printed, logged or written \
         to the snapshot: keep them in the environment, as shown.\n\n\
         Written by `velesdb-migrate init {name}`; kept in the repository as templates/{file}.",
        file = t.file,
        name = t.init_args(),
    );
    comment(&mut s, &intro);
    s.push_str(&format!("\ncommand: {command}\n"));
    let all = command_keys(&root, &path).expect("template command exists");
    // For migrate: the keys of the source, then those of `migrate` itself.
    let leaf_keys: Vec<String> = keys(leaf).into_iter().map(|(k, _)| k).collect();
    let fill = |k: &str| t.fill.iter().find(|(f, _)| *f == k).map(|(_, v)| *v);
    let (globals, own): (Vec<_>, Vec<_>) = all.iter().filter(|(_, a)| !a.is_hide_set()).partition(|(_, a)| a.is_global_set());
    let (filled, rest): (Vec<_>, Vec<_>) = own.into_iter().partition(|(k, a)| fill(k).is_some() || a.is_required_set());
    for (k, a) in filled {
        let v = fill(k).unwrap_or_else(|| panic!("template {}: required flag `{k}` needs an example value in TEMPLATES", t.name));
        block(&mut s, k, a, Some(v));
    }
    let (source, upper): (Vec<_>, Vec<_>) = rest.into_iter().partition(|(k, _)| leaf_keys.contains(k));
    if !source.is_empty() {
        s.push_str(if t.is_migrate() { "\n# ---- Optional, the source (uncomment to set) ----\n" } else { "\n# ---- Optional (uncomment to set) ----\n" });
    }
    for (k, a) in source {
        block(&mut s, k, a, None);
    }
    if !upper.is_empty() {
        s.push_str("\n# ---- Optional, the destination and the import (uncomment to set) ----\n");
    }
    for (k, a) in upper {
        block(&mut s, k, a, None);
    }
    s.push_str("\n# ---- Options of every command ----\n");
    for (k, a) in globals {
        block(&mut s, k, a, None);
    }
    s
}

/// One key: its help as a comment, then `key: value` (commented when not filled).
pub(super) fn block(s: &mut String, key: &str, a: &Arg, fill: Option<&str>) {
    s.push('\n');
    let help = a.get_long_help().or(a.get_help()).map(|h| h.to_string()).unwrap_or_default();
    let mut facts = Vec::new();
    let pv: Vec<String> = a.get_possible_values().iter().filter(|p| !p.is_hide_set()).map(|p| p.get_name().to_owned()).collect();
    if !pv.is_empty() && !matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        facts.push(format!("One of: {}.", pv.join(", ")));
    }
    if let Some(env) = a.get_env() {
        facts.push(format!("Environment variable: {}.", env.to_string_lossy()));
    }
    if is_secret(a) {
        facts.push("Secret: never printed, logged or written to the snapshot; keep it in the environment.".to_owned());
    }
    if matches!(a.get_action(), ArgAction::Append) {
        facts.push("A list (the flag repeated).".to_owned());
    }
    comment(s, &[sentence(&help), facts.join(" ")].iter().filter(|p| !p.is_empty()).cloned().collect::<Vec<_>>().join(" "));
    match fill {
        Some(v) => s.push_str(&format!("{key}: {v}\n")),
        None => {
            let v = match a.get_action() {
                ArgAction::SetTrue => "false".to_owned(),
                ArgAction::SetFalse => "true".to_owned(),
                ArgAction::Count => "0".to_owned(),
                ArgAction::Append => "[]".to_owned(),
                _ => match (a.get_default_values().first(), a.get_env()) {
                    (Some(d), _) => yaml_scalar(&d.to_string_lossy()),
                    (None, Some(env)) if is_secret(a) => format!("${{{}}}", env.to_string_lossy()),
                    _ => String::new(),
                },
            };
            s.push_str(format!("# {key}: {v}").trim_end());
            s.push('\n');
        }
    }
}

/// `text` ending with a period (clap drops the period of a one-line help).
fn sentence(text: &str) -> String {
    let t = text.trim_end();
    if t.ends_with(['.', '!', '?', ':']) || t.is_empty() {
        t.to_owned()
    } else {
        format!("{t}.")
    }
}

/// Write `text` as `#` comment lines wrapped at 79 columns (paragraphs kept).
pub(super) fn comment(s: &mut String, text: &str) {
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            s.push_str("#\n");
        }
        for line in para.lines() {
            let mut cur = String::from("#");
            for word in line.split_whitespace() {
                if cur.len() > 1 && cur.len() + 1 + word.len() > 79 {
                    s.push_str(&cur);
                    s.push('\n');
                    cur = String::from("#");
                }
                cur.push(' ');
                cur.push_str(word);
            }
            s.push_str(&cur);
            s.push('\n');
        }
    }
}

/// `v` as a YAML scalar that reads back as the same text.
pub(crate) fn yaml_scalar(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c))
        && !v.starts_with(['-', ':', '.'])
        && !["true", "false", "null", "~", "yes", "no"].contains(&v.to_ascii_lowercase().as_str());
    if plain {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "''"))
    }
}

/// Names of the export sources (the subcommands of `export`).
pub fn export_sources(root: &Command) -> Vec<String> {
    root.find_subcommand("export").map(|e| e.get_subcommands().map(|c| c.get_name().to_owned()).filter(|n| n != "help").collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{file, resolve};
    use std::path::Path;

    /// Every template is what the clap tree generates; with
    /// VELESDB_MIGRATE_BLESS=1 the files are rewritten instead.
    #[test]
    fn templates_are_generated_from_the_flags() {
        let bless = std::env::var_os("VELESDB_MIGRATE_BLESS").is_some();
        let mut stale = Vec::new();
        for t in TEMPLATES {
            let want = generate(t);
            if want != t.text {
                if bless {
                    std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates").join(t.file), &want).unwrap();
                }
                stale.push(t.file);
            }
        }
        assert!(
            bless || stale.is_empty(),
            "templates out of date with the flags: {stale:?}; regenerate with `VELESDB_MIGRATE_BLESS=1 cargo test --release --lib config::template` and review the diff"
        );
    }

    #[test]
    fn every_export_source_has_a_template() {
        for cmd in ["export", "migrate"] {
            let have: Vec<&str> = TEMPLATES.iter().filter(|t| t.command[0] == cmd).map(|t| t.command[1]).collect();
            for s in export_sources(&tree()) {
                assert!(have.contains(&s.as_str()), "{cmd} {s} has no template: add it to TEMPLATES in src/config/template.rs, then regenerate (see templates_are_generated_from_the_flags)");
                assert!(TEMPLATES.iter().any(|t| t.command == [cmd, s.as_str()] && t.file == format!("{cmd}-{s}.yaml")), "{cmd} {s}: file name");
            }
        }
    }

    /// Each template is a valid config once its variables are set, and
    /// mentions every key of its command.
    #[test]
    fn templates_are_valid_and_complete() {
        let env = |name: &str| Some(format!("value-of-{name}"));
        for t in TEMPLATES {
            let cfg = file::parse(Path::new(t.file), t.text, &env).unwrap_or_else(|e| panic!("{}: {e}", t.file));
            let r = resolve(&cfg, &[]).unwrap_or_else(|e| panic!("{}: {e}", t.file));
            let mut argv = vec![std::ffi::OsString::from("velesdb-migrate")];
            argv.extend(r.argv);
            let argv = crate::cli::relocate_migrate_flags(argv);
            if let Err(e) = <crate::cli::Cli as clap::Parser>::try_parse_from(argv) {
                panic!("{}: {e}", t.file);
            }
            let root = tree();
            let path: Vec<String> = t.command.iter().map(|w| w.to_string()).collect();
            for (k, a) in command_keys(&root, &path).unwrap() {
                if !a.is_hide_set() {
                    assert!(t.text.contains(&format!("\n{k}: ")) || t.text.contains(&format!("\n# {k}:")), "{}: no `{k}`", t.file);
                }
            }
        }
    }

    #[test]
    fn scalars_round_trip() {
        assert_eq!(yaml_scalar("16M"), "16M");
        assert_eq!(yaml_scalar("http://localhost:8000"), "http://localhost:8000");
        assert_eq!(yaml_scalar("yes"), "'yes'");
        assert_eq!(yaml_scalar("a b"), "'a b'");
        assert_eq!(yaml_scalar("it's"), "'it''s'");
    }
}
