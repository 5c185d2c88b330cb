//! `velesdb-migrate interactive`: a guided `migrate`.
//!
//! It asks for the source kind, the connection (secrets as the name of an
//! environment variable, or typed at a hidden prompt), lists what the source
//! holds (the `discover` code), previews the chosen collection (the
//! `export --dry-run` code), asks for the destination, and after a
//! confirmation writes a `migrate` config file (secrets as `${VAR}`) and runs
//! it through the same config machinery as `--config`, so the file that is
//! left behind is exactly what ran.
//!
//! Prompts are plain lines (defaults in brackets, numbered choices): they
//! work on any terminal and through a pseudo-terminal in tests. End of input
//! or Ctrl-C at any prompt stops with nothing written; a wrong answer is
//! asked again with the reason; a connection that fails shows the real error
//! and offers to retry, change the settings or quit.

use crate::cli::{self, Outcome};
use crate::config;
use crate::error::{Error, IoContext, Result};
use crate::model::{CollectionSchema, IdKind};
use crate::pipeline::export;
use crate::progress::Output;
use crate::sources::{self, Discovered};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// A session stops: the user quit (nothing written), or something failed.
enum Stop {
    Cancel(&'static str),
    Fail(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Fail(e)
    }
}

type Ask<T> = std::result::Result<T, Stop>;

/// Line-based prompts on any reader and writer (stdin/stdout in a session;
/// byte buffers in unit tests).
pub struct Prompter<R, W> {
    input: R,
    output: W,
    /// stdin is a terminal whose echo can be turned off for secrets.
    tty: bool,
}

impl<R: BufRead, W: Write> Prompter<R, W> {
    pub fn new(input: R, output: W, tty: bool) -> Self {
        Prompter { input, output, tty }
    }

    fn say(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.output, "{}", text.as_ref());
        let _ = self.output.flush();
    }

    /// One line of input, without its line end; end of input cancels.
    fn line(&mut self, prompt: &str) -> Ask<String> {
        let _ = write!(self.output, "{prompt}");
        let _ = self.output.flush();
        let mut s = String::new();
        match self.input.read_line(&mut s) {
            Ok(0) => {
                self.say("");
                Err(Stop::Cancel("end of input"))
            }
            Ok(_) => Ok(s.trim_end_matches(['\n', '\r']).to_owned()),
            Err(e) => Err(Stop::Fail(Error::io("reading the answer", e))),
        }
    }

    /// Ask until `check` accepts the answer (or the default, for an empty one).
    fn ask<T>(&mut self, question: &str, default: Option<&str>, check: impl Fn(&str) -> std::result::Result<T, String>) -> Ask<T> {
        loop {
            let prompt = match default {
                Some(d) if !d.is_empty() => format!("{question} [{d}]: "),
                _ => format!("{question}: "),
            };
            let answer = self.line(&prompt)?;
            let answer = answer.trim();
            let answer = if answer.is_empty() { default.unwrap_or("") } else { answer };
            match check(answer) {
                Ok(v) => return Ok(v),
                Err(why) => self.say(format!("  ✗ {why}")),
            }
        }
    }

    /// A non-empty answer.
    fn text(&mut self, question: &str, default: Option<&str>) -> Ask<String> {
        self.ask(question, default, |a| if a.is_empty() { Err("an answer is needed".into()) } else { Ok(a.to_owned()) })
    }

    /// A numbered choice (by number, or by the option's first word); returns its index.
    fn choose(&mut self, question: &str, options: &[String], default: usize) -> Ask<usize> {
        self.say(question);
        for (i, o) in options.iter().enumerate() {
            self.say(format!("  {}) {o}", i + 1));
        }
        let n = options.len();
        self.ask("Choose", Some(&(default + 1).to_string()), |a| {
            if let Ok(i) = a.parse::<usize>() {
                return if (1..=n).contains(&i) { Ok(i - 1) } else { Err(format!("answer a number from 1 to {n}")) };
            }
            options
                .iter()
                .position(|o| o.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(a)))
                .ok_or_else(|| format!("answer a number from 1 to {n}"))
        })
    }

    fn yes_no(&mut self, question: &str, default: bool) -> Ask<bool> {
        self.ask(&format!("{question} ({})", if default { "Y/n" } else { "y/N" }), None, |a| match a.to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "y" | "yes" => Ok(true),
            "n" | "no" => Ok(false),
            _ => Err("answer y or n".into()),
        })
    }

    /// A secret typed with the echo off (when stdin is a terminal).
    fn hidden(&mut self, question: &str) -> Ask<String> {
        loop {
            let guard = if self.tty { tty::no_echo() } else { None };
            // ECHONL stays on: the Enter key still moves to the next line.
            let answer = self.line(&format!("{question} (typing is hidden): "));
            drop(guard);
            let answer = answer?;
            if !answer.is_empty() {
                return Ok(answer);
            }
            self.say("  ✗ nothing was typed");
        }
    }
}

/// A source kind the session knows.
struct Kind {
    name: &'static str,
    what: &'static str,
    /// `discover` lists its collections.
    discover: bool,
}

const KINDS: &[Kind] = &[
    Kind { name: "pgvector", what: "PostgreSQL with pgvector", discover: true },
    Kind { name: "supabase", what: "Supabase (PostgreSQL + pgvector through its pooler)", discover: false },
    Kind { name: "chroma", what: "Chroma server", discover: true },
    Kind { name: "qdrant", what: "Qdrant", discover: true },
    Kind { name: "milvus", what: "Milvus", discover: true },
    Kind { name: "weaviate", what: "Weaviate", discover: false },
    Kind { name: "pinecone", what: "Pinecone", discover: false },
];

/// What the session has decided: the config file's keys, and the secrets
/// typed at hidden prompts (used for this run, never written).
#[derive(Default)]
struct Plan {
    kind: &'static str,
    /// Keys in order, values as written in the file (`${VAR}` for secrets).
    keys: Vec<(String, String)>,
    /// VAR → value, for secrets typed in this session.
    typed: Vec<(String, String)>,
    /// Why a variable needs an encoded value (the URL password).
    notes: Vec<String>,
}

impl Plan {
    fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.keys.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value,
            None => self.keys.push((key.to_owned(), value)),
        }
    }

    fn unset(&mut self, key: &str) {
        self.keys.retain(|(k, _)| k != key);
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn env(&self, name: &str) -> Option<String> {
        self.typed.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| std::env::var(name).ok())
    }

    /// A key's value with its variables resolved.
    fn resolved(&self, key: &str) -> Result<Option<String>> {
        self.get(key)
            .map(|v| config::interpolate(v, &|n| self.env(n)).map_err(|e| Error::Usage(format!("{key}: {e}"))))
            .transpose()
    }

    /// The environment variables the file reads (`${VAR}` in its values).
    fn vars(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, v) in &self.keys {
            let mut rest = v.as_str();
            while let Some(i) = rest.find("${") {
                let body = &rest[i + 2..];
                let end = body.find(['}', ':']).unwrap_or(body.len());
                if !out.iter().any(|o| o == &body[..end]) {
                    out.push(body[..end].to_owned());
                }
                rest = &body[end..];
            }
        }
        out
    }

    /// The typed secrets the file still reads.
    fn typed_vars(&self) -> Vec<String> {
        let vars = self.vars();
        self.typed.iter().map(|(k, _)| k.clone()).filter(|k| vars.contains(k)).collect()
    }

    /// The config file (no secret in it: they are `${VAR}`).
    fn text(&self, file: &Path) -> String {
        let mut s = format!(
            "# velesdb-migrate config file for `migrate {kind}`, written by `velesdb-migrate interactive`.\n\
             #\n\
             # Check it (connects nowhere): velesdb-migrate config validate {f}\n\
             # Run it (re-running resumes): velesdb-migrate --config {f}\n\
             # Every key it may hold:        velesdb-migrate init {kind} --migrate\n",
            kind = self.kind,
            f = file.display()
        );
        let vars = self.vars();
        if !vars.is_empty() {
            s.push_str(&format!("#\n# Secrets are read from the environment: export {} before running it.\n", vars.join(", ")));
        }
        for n in &self.notes {
            s.push_str(&format!("# {n}\n"));
        }
        s.push_str(&format!("\ncommand: migrate {}\n", self.kind));
        for (k, v) in &self.keys {
            s.push_str(&format!("{k}: {}\n", config::template::yaml_scalar(v)));
        }
        s
    }

    /// The command line this file gives, as `--config` reads it (`extra`:
    /// more arguments, as typed after it).
    fn cli(&self, file: &Path, extra: &[&str]) -> Result<(cli::Cli, Vec<std::ffi::OsString>)> {
        config::cli_from_text(file, &self.text(file), &|n| self.env(n), extra)
    }
}

/// `velesdb-migrate interactive`.
///
/// # Errors
/// `Usage` when stdin is not a terminal; the run's own errors.
pub fn run(_out: &Output) -> Result<Outcome> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "interactive asks questions and needs a terminal on stdin; for scripts and CI use a config file: \
             `velesdb-migrate init pgvector --migrate --out migrate.yaml` (any source), fill it in, then \
             `velesdb-migrate --config migrate.yaml`"
                .into(),
        ));
    }
    tty::catch_ctrl_c();
    let stdin = std::io::stdin();
    let mut p = Prompter::new(stdin.lock(), std::io::stdout(), true);
    match session(&mut p) {
        Ok(o) => Ok(o),
        Err(Stop::Cancel(why)) => {
            eprintln!("cancelled ({why}): nothing was written");
            Ok(Outcome::Cancelled)
        }
        Err(Stop::Fail(e)) => Err(e),
    }
}

fn session<R: BufRead, W: Write>(p: &mut Prompter<R, W>) -> Ask<Outcome> {
    p.say("velesdb-migrate interactive: moves one collection into VelesDB. Press Enter to take the [default]; Ctrl-C or Ctrl-D quits (nothing is written before the last confirmation).");
    p.say("");
    let names: Vec<String> = KINDS.iter().map(|k| format!("{} — {}", k.name, k.what)).collect();
    let kind = &KINDS[p.choose("Source:", &names, 0)?];
    let mut plan = Plan { kind: kind.name, ..Plan::default() };

    // Connection, then what the source holds (retried until it answers).
    let found = loop {
        connection(p, kind, &mut plan)?;
        if !kind.discover {
            break None;
        }
        if let Some(f) = discover_retrying(p, kind, &plan)? {
            break Some(f);
        }
    };
    pick_collection(p, kind, &mut plan, found)?;

    // Preview: the export's dry run (connects, counts, samples).
    let report = loop {
        p.say("Previewing (a dry run: reads one sample page, writes nothing)…");
        match preview(&plan) {
            Ok(r) => break r,
            Err(e) => {
                p.say(format!("  ✗ the preview failed: {e}"));
                if !retry(p)? {
                    connection(p, kind, &mut plan)?;
                    if !kind.discover {
                        pick_collection(p, kind, &mut plan, None)?;
                    }
                }
            }
        }
    };
    show_preview(p, &report);
    let Some(col) = report.collections.first() else {
        return Err(Stop::Fail(Error::Usage("the source returned no collection to migrate".into())));
    };
    let dense: Vec<&str> = col.schema.dense().map(|v| v.name.as_str()).collect();
    if dense.len() > 1 {
        let names: Vec<String> = dense.iter().map(|d| d.to_string()).collect();
        let i = p.choose("A VelesDB collection holds one dense vector. Which one?", &names, 0)?;
        plan.set("vector", dense[i]);
    }

    destination(p, &mut plan, &col.collection.replace('.', "_"))?;

    // Where the config goes, then the last confirmation.
    let default_file = format!("migrate-{}-{}.yaml", plan.kind, safe_name(&col.collection));
    let file = loop {
        let file = p.ask("Config file to write", Some(&default_file), |a| {
            let path = PathBuf::from(a);
            if path.is_dir() {
                return Err(format!("{a} is a directory: give a file name"));
            }
            match path.parent() {
                Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(format!("{} does not exist", d.display())),
                _ => Ok(path),
            }
        })?;
        if !file.exists() || p.yes_no(&format!("{} exists. Overwrite it?", file.display()), false)? {
            break file;
        }
    };
    // The file must parse exactly as `--config` will read it.
    plan.cli(&file, &[])?;
    p.say("");
    p.say(format!("The config file {} (no secret in it):", file.display()));
    for l in plan.text(&file).lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        p.say(format!("  {l}"));
    }
    p.say("");
    if !p.yes_no("Write it and run the migration now?", true)? {
        if p.yes_no("Write the config file without running it?", true)? {
            write_config(&file, &plan)?;
            p.say(format!("wrote {}; run it later with: velesdb-migrate --config {}", file.display(), file.display()));
            remind(p, &plan, &file);
            return Ok(Outcome::Ok);
        }
        return Err(Stop::Cancel("not confirmed"));
    }
    write_config(&file, &plan)?;
    p.say(format!("wrote {}; running it (Ctrl-C stops it; `velesdb-migrate --config {}` resumes)…", file.display(), file.display()));
    tty::default_ctrl_c();
    let (cli, argv) = plan.cli(&file, &[])?;
    crate::runlog::set_args(argv);
    let result = cli::run(cli);
    p.say("");
    match &result {
        Ok(_) => p.say(format!("Done. To run it again (or resume it after an interruption): velesdb-migrate --config {}", file.display())),
        Err(e) => p.say(format!("The migration stopped: {e}\nFix the cause, then resume it with: velesdb-migrate --config {}", file.display())),
    }
    remind(p, &plan, &file);
    Ok(result?)
}

/// Discovery until it answers (Some) or the user wants other settings (None).
fn discover_retrying<R: BufRead, W: Write>(p: &mut Prompter<R, W>, kind: &Kind, plan: &Plan) -> Ask<Option<Vec<Discovered>>> {
    loop {
        p.say("Connecting…");
        match discover(kind, plan) {
            Ok(f) => return Ok(Some(f)),
            Err(e) => {
                p.say(format!("  ✗ could not list what the source holds: {e}"));
                if !retry(p)? {
                    return Ok(None);
                }
            }
        }
    }
}

/// After a failure: true to try again as it is, false to change the
/// settings; quitting cancels.
fn retry<R: BufRead, W: Write>(p: &mut Prompter<R, W>) -> Ask<bool> {
    let opts = ["retry with the same settings", "change the connection settings", "quit"].map(String::from);
    match p.choose("What now?", &opts, 1)? {
        0 => Ok(true),
        1 => Ok(false),
        _ => Err(Stop::Cancel("quit after a connection error")),
    }
}

fn remind<R: BufRead, W: Write>(p: &mut Prompter<R, W>, plan: &Plan, file: &Path) {
    let typed = plan.typed_vars();
    if !typed.is_empty() {
        p.say(format!(
            "Before running it yourself, export {} in your shell with what you typed (it was not written anywhere{}).",
            typed.join(", "),
            if plan.notes.is_empty() { "" } else { "; see the note in the file" }
        ));
    }
    let vars = plan.vars();
    if !vars.is_empty() {
        p.say(format!("{} reads {} from the environment.", file.display(), vars.join(", ")));
    }
}

fn write_config(file: &Path, plan: &Plan) -> Result<()> {
    std::fs::write(file, plan.text(file)).ctx(|| format!("writing the config file {}", file.display()))
}

fn safe_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn valid_var(a: &str) -> std::result::Result<String, String> {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !a.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(a.to_owned())
    } else {
        Err(format!("`{a}` is not an environment variable name (letters, digits and _)"))
    }
}

fn http_url(a: &str) -> std::result::Result<String, String> {
    match url::Url::parse(a) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(a.trim_end_matches('/').to_owned()),
        Ok(u) => Err(format!("expected an http:// or https:// URL, not {}://", u.scheme())),
        Err(e) => Err(format!("not a URL ({e}); e.g. http://localhost:6333")),
    }
}

/// How a secret is given. Returns the value to write (`${VAR}`), or None.
fn secret<R: BufRead, W: Write>(p: &mut Prompter<R, W>, plan: &mut Plan, what: &str, default_var: &str, optional: bool) -> Ask<Option<String>> {
    let mut opts = Vec::new();
    if optional {
        opts.push(format!("none — no {what}"));
    }
    opts.push(format!("env — it is in an environment variable (e.g. {default_var})"));
    opts.push("type — type it now (hidden; you export it yourself before a rerun)".to_owned());
    loop {
        let i = p.choose(&format!("The {what}:"), &opts, 0)? + usize::from(!optional);
        match i {
            0 => return Ok(None),
            1 => {
                let var = p.ask("Name of the environment variable", Some(default_var), valid_var)?;
                match std::env::var(&var) {
                    Ok(v) if !v.is_empty() => {
                        plan.typed.retain(|(k, _)| *k != var);
                        return Ok(Some(var));
                    }
                    _ => p.say(format!("  ✗ {var} is not set in this environment: export it and answer again, or type the {what}")),
                }
            }
            _ => {
                let value = p.hidden(&format!("The {what}"))?;
                let var = p.ask("Environment variable the config file will read it from", Some(default_var), valid_var)?;
                plan.typed.retain(|(k, _)| *k != var);
                plan.typed.push((var.clone(), value));
                return Ok(Some(var));
            }
        }
    }
}

/// Ask the connection settings of `kind` into `plan`.
fn connection<R: BufRead, W: Write>(p: &mut Prompter<R, W>, kind: &Kind, plan: &mut Plan) -> Ask<()> {
    let keep = |plan: &Plan, k: &str, d: &str| plan.get(k).map(str::to_owned).unwrap_or_else(|| d.to_owned());
    let opt_secret = |p: &mut Prompter<R, W>, plan: &mut Plan, key: &str, what: &str, var: &str| -> Ask<()> {
        match secret(p, plan, what, var, true)? {
            Some(v) => plan.set(key, format!("${{{v}}}")),
            None => plan.unset(key),
        }
        Ok(())
    };
    match kind.name {
        "pgvector" => pg_connection(p, plan)?,
        "supabase" => {
            let d = keep(plan, "project-ref", "");
            let r = p.text("Supabase project ref (the id in https://<ref>.supabase.co)", (!d.is_empty()).then_some(d.as_str()))?;
            plan.set("project-ref", r);
            let d = keep(plan, "region", "us-east-1");
            plan.set("region", p.text("Project region", Some(&d))?);
            let v = secret(p, plan, "database password", "SUPABASE_DB_PASSWORD", false)?.expect("required");
            plan.set("password", format!("${{{v}}}"));
        }
        "chroma" => {
            let d = keep(plan, "url", "http://localhost:8000");
            plan.set("url", p.ask("Chroma server URL", Some(&d), http_url)?);
            let d = keep(plan, "tenant", "default_tenant");
            plan.set("tenant", p.text("Tenant", Some(&d))?);
            let d = keep(plan, "database", "default_database");
            plan.set("database", p.text("Database", Some(&d))?);
            opt_secret(p, plan, "token", "auth token", "CHROMA_TOKEN")?;
        }
        "qdrant" => {
            let d = keep(plan, "url", "http://localhost:6333");
            plan.set("url", p.ask("Qdrant REST URL", Some(&d), http_url)?);
            opt_secret(p, plan, "api-key", "API key", "QDRANT_API_KEY")?;
        }
        "milvus" => {
            let d = keep(plan, "url", "http://localhost:19530");
            plan.set("url", p.ask("Milvus gRPC address", Some(&d), http_url)?);
            let d = keep(plan, "database", "default");
            plan.set("database", p.text("Database", Some(&d))?);
            opt_secret(p, plan, "token", "token (user:password or API key)", "MILVUS_TOKEN")?;
        }
        "weaviate" => {
            let d = keep(plan, "url", "http://localhost:8080");
            plan.set("url", p.ask("Weaviate REST URL (without /v1)", Some(&d), http_url)?);
            opt_secret(p, plan, "api-key", "API key", "WEAVIATE_API_KEY")?;
        }
        "pinecone" => {
            let v = secret(p, plan, "API key", "PINECONE_API_KEY", false)?.expect("required");
            plan.set("api-key", format!("${{{v}}}"));
        }
        other => unreachable!("no connection questions for {other}"),
    }
    Ok(())
}

/// PostgreSQL: the URL without its password, then the password (or the
/// whole URL from an environment variable).
fn pg_connection<R: BufRead, W: Write>(p: &mut Prompter<R, W>, plan: &mut Plan) -> Ask<()> {
    let how = ["url — type the URL (the password, if any, is asked separately)", "env — the whole URL is in an environment variable"].map(String::from);
    if p.choose("PostgreSQL connection:", &how, 0)? == 1 {
        loop {
            let var = p.ask("Name of the environment variable", Some("DATABASE_URL"), valid_var)?;
            if std::env::var(&var).is_ok_and(|v| !v.is_empty()) {
                plan.set("url", format!("${{{var}}}"));
                plan.notes.clear();
                return Ok(());
            }
            p.say(format!("  ✗ {var} is not set in this environment: export it and answer again"));
        }
    }
    let default = plan.get("url").filter(|u| !u.starts_with("${")).map(|u| {
        let mut x = url::Url::parse(&u.replace("${", "").replace('}', "")).ok();
        if let Some(x) = x.as_mut() {
            let _ = x.set_password(None);
        }
        x.map_or_else(|| "postgres://postgres@localhost:5432/postgres".to_owned(), |x| x.to_string())
    });
    let default = default.unwrap_or_else(|| "postgres://postgres@localhost:5432/postgres".to_owned());
    let u = p.ask("PostgreSQL URL without the password", Some(&default), |a| {
        let u = url::Url::parse(a).map_err(|e| format!("not a URL ({e}); e.g. postgres://user@host:5432/db"))?;
        if !matches!(u.scheme(), "postgres" | "postgresql") {
            return Err(format!("expected postgres://… or postgresql://…, not {}://", u.scheme()));
        }
        if u.password().is_some() || crate::sources::redact_url(a) != a {
            return Err("leave the password out of the URL, and any secret query parameter: it would be shown and written; it is asked next".into());
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err("the URL needs a host: postgres://user@HOST:5432/db".into());
        }
        Ok(u)
    })?;
    plan.notes.clear();
    let with_user = !u.username().is_empty();
    let pw = if with_user {
        secret(p, plan, "database password", "PGPASSWORD", true)?
    } else {
        p.say("(no user in the URL: the server's default user and no password)");
        None
    };
    match pw {
        None => plan.set("url", u.to_string()),
        Some(var) => {
            // The variable's value goes into the URL as it is: a password
            // typed here is percent-encoded for this run, and the user is
            // told when the exported value must be encoded too.
            let mut x = u.clone();
            x.set_password(Some("VMPASSWORDPLACEHOLDER")).map_err(|_| Error::Usage("this URL cannot hold a password".into()))?;
            plan.set("url", x.to_string().replace("VMPASSWORDPLACEHOLDER", &format!("${{{var}}}")));
            if let Some(slot) = plan.typed.iter_mut().find(|(k, _)| *k == var) {
                let mut enc = url::Url::parse("postgres://u@h").expect("static URL");
                let _ = enc.set_password(Some(&slot.1));
                let encoded = enc.password().unwrap_or_default().to_owned();
                if encoded != slot.1 {
                    plan.notes.push(format!("{var} goes into the URL as it is: export it percent-encoded (@ as %40, : as %3A, / as %2F, …)."));
                }
                slot.1 = encoded;
            } else {
                plan.notes.push(format!("{var} goes into the URL as it is: percent-encode characters such as @ : / ? # in it."));
            }
        }
    }
    Ok(())
}

/// List the collections with the `discover` code of the source.
fn discover(kind: &Kind, plan: &Plan) -> Result<Vec<Discovered>> {
    let get = |k: &str| plan.resolved(k);
    let rt = cli::runtime()?;
    let must = |k: &str| -> Result<String> { get(k)?.ok_or_else(|| Error::Usage(format!("{k} is not set"))) };
    match kind.name {
        "pgvector" => rt.block_on(sources::pgvector::discover(&must("url")?)),
        "chroma" => rt.block_on(sources::chroma::discover(sources::chroma::Args {
            url: must("url")?,
            path: None,
            collection: String::new(),
            every: Default::default(),
            tenant: must("tenant")?,
            database: must("database")?,
            token: get("token")?,
            filter: None,
        })),
        "qdrant" => rt.block_on(sources::qdrant::discover(sources::qdrant::Args {
            url: must("url")?,
            collection: String::new(),
            every: Default::default(),
            api_key: get("api-key")?,
            filter: None,
        })),
        "milvus" => rt.block_on(sources::milvus::discover(sources::milvus::Args {
            url: must("url")?,
            collection: String::new(),
            every: Default::default(),
            database: must("database")?,
            token: get("token")?,
            partitions: Vec::new(),
            filter: None,
            document_field: None,
            load: false,
        })),
        other => Err(Error::Usage(format!("{other} has no discovery"))),
    }
}

/// The key naming the collection for `kind`.
fn collection_key(kind: &str) -> &'static str {
    match kind {
        "pgvector" | "supabase" => "table",
        "weaviate" => "class",
        "pinecone" => "index",
        _ => "collection",
    }
}

fn describe(d: &Discovered) -> String {
    let rows = d.rows_estimate.map(|n| format!("~{n} rows")).unwrap_or_else(|| "rows unknown".into());
    match (&d.collection, &d.problem) {
        (Some(c), _) => {
            let vectors: Vec<String> = c.vectors.iter().map(|v| format!("{} dim {}", v.name, v.dimension)).collect();
            format!("{rows}; id {}; vectors {}; {} metadata field(s)", c.id.name, vectors.join(", "), c.metadata.len())
        }
        // The problem without the `source (target at address): ` prefix the listing already shows.
        (None, Some(p)) => format!("{rows}; cannot be exported as is: {}", p.split_once("): ").map_or(p.as_str(), |(_, why)| why)),
        (None, None) => rows,
    }
}

fn pick_collection<R: BufRead, W: Write>(p: &mut Prompter<R, W>, kind: &Kind, plan: &mut Plan, found: Option<Vec<Discovered>>) -> Ask<()> {
    let key = collection_key(kind.name);
    let what = match key {
        "table" => "Table",
        "class" => "Class (collection)",
        "index" => "Index",
        _ => "Collection",
    };
    let Some(found) = found else {
        let d = plan.get(key).map(str::to_owned);
        let name = p.text(&format!("{what} to migrate (this source has no listing here)"), d.as_deref())?;
        plan.set(key, name);
        return Ok(());
    };
    let full = |d: &Discovered| if d.schema.is_empty() || kind.name != "pgvector" { d.table.clone() } else { format!("{}.{}", d.schema, d.table) };
    let ok: Vec<&Discovered> = found.iter().filter(|d| d.collection.is_some()).collect();
    let left: Vec<&Discovered> = found.iter().filter(|d| d.collection.is_none()).collect();
    const SHOWN: usize = 5;
    for d in left.iter().take(SHOWN) {
        p.say(format!("  (left out) {}: {}", full(d), describe(d)));
    }
    if left.len() > SHOWN {
        p.say(format!("  … and {} more left out (`velesdb-migrate discover {}` describes each)", left.len() - SHOWN, kind.name));
    }
    let chosen: Option<&Discovered> = if ok.is_empty() {
        p.say(format!("No {} here can be exported as it is.", if key == "table" { "table with a vector column" } else { "collection" }));
        None
    } else {
        let mut opts: Vec<String> = ok.iter().map(|d| format!("{} — {}", full(d), describe(d))).collect();
        opts.push("other — type a name".into());
        let i = p.choose(&format!("{what} to migrate:"), &opts, 0)?;
        ok.get(i).copied()
    };
    match chosen {
        Some(d) => {
            plan.set(key, d.table.clone());
            if kind.name == "pgvector" && !d.schema.is_empty() {
                plan.set("schema", d.schema.clone());
            }
        }
        None => {
            let name = p.text(&format!("{what} name"), None)?;
            match (kind.name, name.split_once('.')) {
                ("pgvector", Some((s, t))) => {
                    plan.set("schema", s);
                    plan.set(key, t);
                }
                _ => {
                    plan.unset("schema");
                    plan.set(key, name);
                }
            }
        }
    }
    Ok(())
}

/// The export's dry run of the plan's source and collection.
fn preview(plan: &Plan) -> Result<export::DryRunReport> {
    let (c, _) = plan.cli(Path::new("interactive.yaml"), &["--to", "./preview-only"])?;
    let cli::Command::Migrate(m) = c.command else { unreachable!("a migrate config") };
    cli::dry_run(m.source)
}

fn id_mapping(s: &CollectionSchema) -> String {
    let how = match s.id.kind {
        IdKind::Int => "non-negative integers stay the point ids, negative ones are hashed (FNV-1a 64)",
        IdKind::Uint => "the integers stay the point ids",
        IdKind::String => "decimal strings become those numbers, other strings are hashed (FNV-1a 64)",
        IdKind::Uuid => "UUIDs are hashed (FNV-1a 64)",
    };
    format!("id `{}` ({:?}) → VelesDB point ids: {how}; the original id is kept in the payload field `_original_id`", s.id.name, s.id.kind)
}

fn show_preview<R: BufRead, W: Write>(p: &mut Prompter<R, W>, r: &export::DryRunReport) {
    p.say(format!("Preview of {} (nothing was written):", r.source));
    for c in &r.collections {
        let rows = c.rows.map_or("unknown".into(), |n| n.to_string());
        p.say(format!("  {} (from {}): {rows} rows", c.collection, c.source_name));
        p.say(format!("  {}", id_mapping(&c.schema)));
        for v in &c.schema.vectors {
            let param = |name: &str, v: Option<u32>| v.map(|v| format!(" {name}={v}")).unwrap_or_default();
            let index = v.index.as_ref().map(|i| format!(", index {}{}{}", i.kind, param("m", i.m), param("ef_construction", i.ef_construction))).unwrap_or_default();
            p.say(format!(
                "  vector {}: {:?} {:?}, dimension {}, metric {}{index}",
                v.name,
                v.kind,
                v.element,
                v.dimension,
                v.metric.map(|m| m.to_string()).unwrap_or_else(|| "unknown".into())
            ));
        }
        let meta: Vec<String> = c.schema.metadata.iter().map(|f| format!("{} ({})", f.name, f.source_type)).collect();
        p.say(format!("  metadata: {}", if meta.is_empty() { "none".to_owned() } else { meta.join(", ") }));
        p.say(format!("  document: {}", c.schema.document.as_deref().unwrap_or("none")));
        let size = c.estimated_snapshot_bytes.map_or("unknown".into(), |b| if b < 1 << 20 { format!("{:.0} KiB", (b as f64 / 1024.0).ceil()) } else { format!("{:.1} MiB", b as f64 / 1048576.0) });
        let time = c.estimated_seconds.map_or("unknown".into(), |s| format!("about {s:.0} s"));
        p.say(format!("  estimated snapshot {size}, export {time} (from a sample of {} rows)", c.sample_rows));
        for n in &c.notes {
            p.say(format!("  note: {n}"));
        }
    }
}

/// Embedded directory or velesdb-server, and the collection name.
fn destination<R: BufRead, W: Write>(p: &mut Prompter<R, W>, plan: &mut Plan, default_collection: &str) -> Ask<()> {
    let opts = ["embedded — a VelesDB data directory on this machine".to_owned(), "server — a running velesdb-server (http://HOST:PORT)".to_owned()];
    loop {
        if p.choose("Destination:", &opts, 0)? == 0 {
            let dir = p.ask("VelesDB data directory", Some("./velesdb-data"), |a| {
                let path = Path::new(a);
                if path.exists() && !path.is_dir() {
                    Err(format!("{a} exists and is not a directory"))
                } else {
                    Ok(a.to_owned())
                }
            })?;
            plan.set("to", dir);
            break;
        }
        let url = p.ask("velesdb-server URL", Some("http://localhost:8080"), http_url)?;
        p.say("Checking the server…");
        match check_server(&url) {
            Ok(()) => {
                plan.set("to", url);
                break;
            }
            Err(e) => {
                p.say(format!("  ✗ {e}"));
                p.say("  (a server started with API keys reads the key from VELESDB_API_KEY: export it and choose the server again)");
                let again = ["again — choose the destination again".to_owned(), "quit".to_owned()];
                if p.choose("What now?", &again, 0)? == 1 {
                    return Err(Stop::Cancel("quit after a destination error"));
                }
            }
        }
    }
    let name = p.ask("Collection in VelesDB", Some(default_collection), |a| {
        if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c == '/') {
            Err("a name without spaces or /".into())
        } else {
            Ok(a.to_owned())
        }
    })?;
    plan.set("to-collection", name);
    Ok(())
}

/// Reach the server (and its API key check) as the import will.
fn check_server(url: &str) -> Result<()> {
    #[derive(clap::Parser)]
    struct Rest {
        #[command(flatten)]
        rest: crate::sink::rest::RestArgs,
    }
    let r = <Rest as clap::Parser>::try_parse_from(["rest", "--max-attempts", "1"]).map_err(|e| Error::Usage(e.to_string()))?;
    crate::sink::rest::RestServer::connect(r.rest.options(url)?).map(|_| ())
}

/// The terminal: echo off for secrets, Ctrl-C restores it and exits.
#[cfg(unix)]
mod tty {
    use std::sync::OnceLock;

    static SAVED: OnceLock<libc::termios> = OnceLock::new();

    /// Ctrl-C at a prompt: restore the terminal, say nothing was written, exit 130.
    pub fn catch_ctrl_c() {
        // SAFETY: tcgetattr fills a plain C struct; the handler only calls
        // async-signal-safe functions (tcsetattr, write, _exit).
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) == 0 {
                let _ = SAVED.set(t);
            }
            libc::signal(libc::SIGINT, on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }

    /// Before the run: Ctrl-C stops it the usual way (it can be resumed).
    pub fn default_ctrl_c() {
        // SAFETY: resets a signal disposition.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
        }
    }

    extern "C" fn on_sigint(_: libc::c_int) {
        const MSG: &[u8] = b"\ncancelled (Ctrl-C): nothing was written\n";
        // SAFETY: async-signal-safe calls only.
        unsafe {
            if let Some(t) = SAVED.get() {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(130);
        }
    }

    /// Echo off until dropped (None when stdin is not a terminal).
    pub struct NoEcho(libc::termios);

    pub fn no_echo() -> Option<NoEcho> {
        // SAFETY: plain termios calls on fd 0.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            t.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK);
            t.c_lflag |= libc::ECHONL;
            (libc::tcsetattr(0, libc::TCSANOW, &t) == 0).then_some(NoEcho(saved))
        }
    }

    impl Drop for NoEcho {
        fn drop(&mut self) {
            // SAFETY: restores the settings read in `no_echo`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &self.0);
            }
        }
    }
}

#[cfg(not(unix))]
mod tty {
    pub fn catch_ctrl_c() {}
    pub fn default_ctrl_c() {}
    pub struct NoEcho;
    pub fn no_echo() -> Option<NoEcho> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompter(input: &str) -> Prompter<std::io::Cursor<Vec<u8>>, Vec<u8>> {
        Prompter::new(std::io::Cursor::new(input.as_bytes().to_vec()), Vec::new(), false)
    }

    #[test]
    fn answers_are_asked_again_with_the_reason() {
        let mut p = prompter("9\nqdrant\n\n");
        let opts: Vec<String> = ["pgvector — a", "qdrant — b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(p.choose("Source:", &opts, 0).ok(), Some(1));
        assert_eq!(p.choose("Source:", &opts, 0).ok(), Some(0), "Enter takes the default");
        let shown = String::from_utf8_lossy(&p.output).into_owned();
        assert!(shown.contains("✗ answer a number from 1 to 2") && shown.contains("Choose [1]: "), "{shown}");
        let mut p = prompter("ftp://x\nhttp://h:1/\n");
        assert_eq!(p.ask("URL", None, http_url).ok().as_deref(), Some("http://h:1"));
        assert!(String::from_utf8_lossy(&p.output).contains("expected an http:// or https:// URL, not ftp://"));
    }

    #[test]
    fn end_of_input_cancels() {
        let mut p = prompter("");
        assert!(matches!(p.text("Table", None), Err(Stop::Cancel(_))));
        let mut p = prompter("maybe\n");
        assert!(matches!(p.yes_no("Run?", true), Err(Stop::Cancel(_))));
    }

    #[test]
    fn the_file_holds_variables_not_secrets() {
        let mut p = prompter("1\npostgres://alice@db.example:5432/app\n3\np@ss:w/rd\nVM_TEST_PW\n");
        let mut plan = Plan { kind: "pgvector", ..Plan::default() };
        assert!(connection(&mut p, &KINDS[0], &mut plan).is_ok());
        plan.set("table", "items");
        plan.set("to", "./db");
        let text = plan.text(Path::new("m.yaml"));
        assert!(!text.contains("p@ss"), "{text}");
        assert!(text.contains("url: 'postgres://alice:${VM_TEST_PW}@db.example:5432/app'"), "{text}");
        assert!(text.contains("export it percent-encoded"), "{text}");
        assert_eq!(plan.resolved("url").unwrap().as_deref(), Some("postgres://alice:p%40ss%3Aw%2Frd@db.example:5432/app"));
        let (c, _) = plan.cli(Path::new("m.yaml"), &[]).unwrap();
        assert!(matches!(c.command, cli::Command::Migrate(_)));
        assert_eq!(plan.vars(), ["VM_TEST_PW"]);
        // A typed secret no longer used is not asked to be exported.
        plan.set("url", "postgres://alice@db.example:5432/app");
        assert!(plan.vars().is_empty() && plan.typed_vars().is_empty());
    }
}
