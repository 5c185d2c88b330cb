//! Config files: a YAML mapping whose keys are the long flags of one command.
//!
//! The clap tree stays the single source of truth. A config file is turned
//! into command-line arguments (`--key=value`, a switch for `true`, one
//! occurrence per list item, positionals last) and parsed by clap together
//! with the user's own arguments, so types, possible values, conflicts and
//! required flags are checked in one place. What this module adds: keys
//! checked against the command's flags (unknown key → line and the closest
//! flag), values checked for shape (a list where one value is expected, a
//! mapping), clap's errors traced back to the key and line that caused them,
//! and secrets (flags declared with `hide_env_values`) never shown.
//!
//! Precedence: a flag on the command line > its key in the config file > the
//! flag's environment variable > its default. A key whose flag is on the
//! command line is dropped entirely (a list is replaced, not extended).
//!
//! `--config FILE` (or `--config=FILE`) may appear anywhere before `--`, once.
//! The file names its command (`command: export pgvector`); the command line
//! may name it too (it must then agree), or name only a prefix (`export`).

pub mod emit;
mod file;
pub mod template;

pub use file::{interpolate, ConfigFile, Entry, Value};

use crate::cli::{emit, Cli, Outcome};
use crate::error::{Error, Result};
use crate::progress::Output;
use crate::sources::redact_url;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, CommandFactory};
use serde::Serialize;
use std::any::TypeId;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `velesdb-migrate config …`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigAction {
    /// Check a config file (keys, types, variables, required flags) without
    /// connecting anywhere, and print the command it runs with secrets masked.
    /// Exit 0 valid, 2 invalid.
    Validate {
        /// The YAML file.
        file: PathBuf,
    },
}

/// Parse the process arguments, reading `--config FILE` when present.
/// Without `--config` this is exactly `Cli::parse_from` (clap prints its
/// own errors and exits 2).
///
/// # Errors
/// `Usage` for a config file that is invalid or does not fit the command
/// line; `Io` when it cannot be read.
pub fn parse_args(argv: Vec<OsString>) -> Result<Cli> {
    let (config, tokens) = take_config_flag(&argv)?;
    let Some(path) = config else {
        let argv = crate::cli::relocate_migrate_flags(argv);
        crate::runlog::set_args(argv.clone());
        let json = wants_json(&argv);
        return match <Cli as clap::Parser>::try_parse_from(argv) {
            Ok(cli) => Ok(cli),
            // With --json a usage error is reported like every other error
            // (a JSON object on stdout, exit 2); otherwise clap prints its own.
            Err(e) if json && e.use_stderr() => {
                let text = e.render().to_string();
                let text = text.trim_end().strip_prefix("error: ").unwrap_or(text.trim_end());
                Err(Error::Usage(text.to_owned()))
            }
            Err(e) => e.exit(),
        };
    };
    let cfg = file::load(&path)?;
    let resolved = resolve(&cfg, &tokens)?;
    let mut full = vec![argv.first().cloned().unwrap_or_else(|| "velesdb-migrate".into())];
    full.extend(resolved.argv.iter().cloned());
    let full = crate::cli::relocate_migrate_flags(full);
    crate::runlog::set_args(full.clone());
    match <Cli as clap::Parser>::try_parse_from(full) {
        Ok(cli) => Ok(cli),
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => Err(explain(&e, &cfg, &resolved)),
    }
}

/// The command line a config file's `text` gives, as `--config` would read
/// it, with `env` as the environment, and `extra` as the arguments typed
/// after it. Returns the [`Cli`] and the full argument list (for run
/// records). `interactive` runs the file it writes through this.
///
/// # Errors
/// `Usage` for a file that is invalid, as for `--config`.
pub fn cli_from_text(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>, extra: &[&str]) -> Result<(Cli, Vec<OsString>)> {
    let cfg = file::parse(path, text, env)?;
    let tokens: Vec<OsString> = extra.iter().map(OsString::from).collect();
    let resolved = resolve(&cfg, &tokens)?;
    let mut full = vec![OsString::from("velesdb-migrate")];
    full.extend(resolved.argv.iter().cloned());
    let full = crate::cli::relocate_migrate_flags(full);
    match <Cli as clap::Parser>::try_parse_from(full.clone()) {
        Ok(cli) => Ok((cli, full)),
        Err(e) => Err(explain(&e, &cfg, &resolved)),
    }
}

/// Whether `--json` is among the raw arguments (for reporting errors that
/// happen before clap has parsed them).
pub fn wants_json(argv: &[OsString]) -> bool {
    argv.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json")
}

/// Remove `--config FILE` / `--config=FILE` from the arguments (not the
/// program name); return the file and the rest.
fn take_config_flag(argv: &[OsString]) -> Result<(Option<PathBuf>, Vec<OsString>)> {
    let mut config = None;
    let mut rest = Vec::new();
    let mut it = argv.iter().skip(1);
    let set = |p: PathBuf, config: &mut Option<PathBuf>| match config.replace(p) {
        Some(_) => Err(Error::Usage("--config given twice: one config file per command".into())),
        None => Ok(()),
    };
    while let Some(a) = it.next() {
        if a == "--" {
            rest.push(a.clone());
            rest.extend(it.by_ref().cloned());
            break;
        }
        if a == "--config" {
            let f = it.next().ok_or_else(|| Error::Usage("--config needs a FILE".into()))?;
            set(PathBuf::from(f), &mut config)?;
        } else if let Some(f) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            set(PathBuf::from(f), &mut config)?;
        } else {
            rest.push(a.clone());
        }
    }
    Ok((config, rest))
}

/// A config file resolved against the clap tree and the command line.
#[derive(Debug)]
struct Resolved {
    /// Arguments for clap, without the program name.
    argv: Vec<OsString>,
    /// The command path (`["export", "pgvector"]`).
    command: Vec<String>,
    settings: Vec<Setting>,
}

/// One key of the file, as it applies to the command.
#[derive(Debug)]
struct Setting {
    /// The flag's name (`chunk-rows`), whatever spelling the file used.
    key: String,
    line: usize,
    /// Long flag (None for a positional).
    long: Option<String>,
    secret: bool,
    from_env: bool,
    /// The flag is on the command line, which wins.
    overridden: bool,
    /// The values passed to clap (no switch value).
    values: Vec<(String, usize)>,
    /// Arguments added for this key (empty when overridden or not set).
    args: Vec<String>,
    /// Shown in `config validate` (secrets masked).
    shown: serde_json::Value,
    /// What the flag takes, for messages.
    expected: String,
}

/// The command tree with globals propagated and positionals indexed.
fn tree() -> Command {
    let mut root = Cli::command();
    root.build();
    root
}

/// Keys a config file for the command at `path` may use: the flags of the
/// command itself, then those of the commands above it that it does not
/// have (`migrate`'s `--to`, `--to-collection`, … for `migrate <source>`:
/// on the command line they follow the source name too, and
/// `cli::relocate_migrate_flags` moves them; a flag both levels have is the
/// source's, as on the command line).
pub(crate) fn command_keys<'a>(root: &'a Command, path: &[String]) -> std::result::Result<Vec<(String, &'a Arg)>, String> {
    find(root, path)?;
    let mut out: Vec<(String, &Arg)> = Vec::new();
    for cmd in levels(root, path) {
        for (k, a) in keys(cmd) {
            if !out.iter().any(|(have, _)| *have == k) {
                out.push((k, a));
            }
        }
    }
    Ok(out)
}

/// The commands on `path` whose flags a config file may set, leaf first.
fn levels<'a>(root: &'a Command, path: &[String]) -> Vec<&'a Command> {
    (1..=path.len()).rev().filter_map(|d| find(root, &path[..d]).ok()).collect()
}

/// Keys a config file may use for `cmd`: (key, arg).
pub(crate) fn keys(cmd: &Command) -> Vec<(String, &Arg)> {
    cmd.get_arguments()
        .filter(|a| a.get_id() != "config" && matches!(a.get_action(), ArgAction::Set | ArgAction::Append | ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count))
        .filter_map(|a| key_of(a).map(|k| (k, a)))
        .collect()
}

/// A flag's key: its long name; a positional's: its value name in lower case
/// (`<SNAPSHOT>` → `snapshot`).
fn key_of(a: &Arg) -> Option<String> {
    if let Some(l) = a.get_long() {
        return Some(l.to_owned());
    }
    if a.is_positional() {
        let name = a.get_value_names().and_then(|v| v.first()).map(|s| s.to_string()).unwrap_or_else(|| a.get_id().to_string());
        return Some(name.to_lowercase().replace('_', "-"));
    }
    None
}

/// Secrets: passwords, tokens and API keys are declared with `hide_env_values`.
pub(crate) fn is_secret(a: &Arg) -> bool {
    a.is_hide_env_values_set()
}

/// Walk `root` along `path`; an unknown word gives a message with the
/// closest command.
fn find<'a>(root: &'a Command, path: &[String]) -> std::result::Result<&'a Command, String> {
    let mut cmd = root;
    for (i, word) in path.iter().enumerate() {
        let subs: Vec<&str> = cmd.get_subcommands().map(Command::get_name).filter(|n| *n != "help").collect();
        match cmd.get_subcommands().find(|c| (c.get_name() == word || c.get_all_aliases().any(|a| a == word)) && c.get_name() != "help") {
            Some(c) => cmd = c,
            None => {
                let here = path[..i].join(" ");
                let best = closest(word, subs.iter().copied());
                return Err(format!(
                    "unknown command `{}`{}; the commands{} are: {}",
                    path[..=i].join(" "),
                    best.map(|b| format!(" (did you mean `{}`?)", path[..i].iter().map(String::as_str).chain([b]).collect::<Vec<_>>().join(" "))).unwrap_or_default(),
                    if here.is_empty() { String::new() } else { format!(" under `{here}`") },
                    subs.join(", ")
                ));
            }
        }
    }
    Ok(cmd)
}

/// The most similar candidate, if any is close enough to be a typo.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// What the user typed, read against the clap tree.
#[derive(Default)]
struct Scan {
    /// Subcommand words found (in order).
    path: Vec<String>,
    /// Every other token, in order.
    rest: Vec<OsString>,
    /// Ids of the flags given.
    given: HashSet<String>,
    /// Positional values given.
    positionals: usize,
    /// A `--` was seen (what follows is positional).
    dashdash: bool,
}

/// Split the user's arguments into subcommand words and the rest, noting
/// which flags they set. Flags are looked up in `leaf` when known (the
/// config file names it: the command and those above it, leaf first), else
/// in the command reached so far.
fn scan(root: &Command, tokens: &[OsString], leaf: &[&Command]) -> Scan {
    let mut s = Scan::default();
    let mut cmd = root;
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i];
        let text = tok.to_string_lossy();
        let lookup: Vec<&Command> = if leaf.is_empty() { vec![cmd] } else { leaf.to_vec() };
        let by_long = |name: &str| lookup.iter().find_map(|c| c.get_arguments().find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))));
        let by_short = |ch: char| lookup.iter().find_map(|c| c.get_arguments().find(|a| a.get_short() == Some(ch)));
        if s.dashdash {
            s.positionals += 1;
        } else if text == "--" {
            s.dashdash = true;
        } else if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if let Some(a) = by_long(name) {
                s.given.insert(a.get_id().to_string());
                if a.get_action().takes_values() && !inline && i + 1 < tokens.len() {
                    s.rest.push(tok.clone());
                    i += 1;
                }
            }
        } else if text.len() > 1 && text.starts_with('-') {
            for (j, c) in text.char_indices().skip(1) {
                let Some(a) = by_short(c) else { break };
                s.given.insert(a.get_id().to_string());
                if a.get_action().takes_values() {
                    if j + c.len_utf8() == text.len() && i + 1 < tokens.len() {
                        s.rest.push(tok.clone());
                        i += 1;
                    }
                    break;
                }
            }
        } else if let Some(sub) = cmd.get_subcommands().find(|c| c.get_name() == text && c.get_name() != "help") {
            s.path.push(sub.get_name().to_owned());
            cmd = sub;
            i += 1;
            continue;
        } else {
            s.positionals += 1;
        }
        s.rest.push(tokens[i].clone());
        i += 1;
    }
    s
}

/// Apply `cfg` to the command line `tokens` (program name and `--config`
/// removed).
fn resolve(cfg: &ConfigFile, tokens: &[OsString]) -> Result<Resolved> {
    let root = tree();
    let file = cfg.path.display();
    let typed = scan(&root, tokens, &[]).path;
    let path = match &cfg.command {
        Some((words, line)) => {
            find(&root, words).map_err(|e| Error::Usage(format!("{file} line {line}: command: {e}")))?;
            if !words.starts_with(&typed) {
                return Err(Error::Usage(format!(
                    "{file} is for `{}` (line {line}) but the command line runs `{}`: run `velesdb-migrate --config {file}`, or use a config file for `{}`",
                    words.join(" "),
                    typed.join(" "),
                    typed.join(" ")
                )));
            }
            words.clone()
        }
        None if typed.is_empty() => {
            return Err(Error::Usage(format!("{file} does not say which command it is for: add `command: …` (e.g. `command: export pgvector` or `command: import`)")))
        }
        None => typed,
    };
    let leaf = find(&root, &path).map_err(Error::Usage)?;
    if leaf.get_subcommands().any(|c| c.get_name() != "help") {
        let subs: Vec<String> = leaf.get_subcommands().map(Command::get_name).filter(|n| *n != "help").map(|n| format!("`{} {n}`", path.join(" "))).collect();
        return Err(Error::Usage(format!("{file}: `{}` needs one more word: {}", path.join(" "), subs.join(", "))));
    }
    let user = scan(&root, tokens, &levels(&root, &path));
    let keys = command_keys(&root, &path).map_err(Error::Usage)?;
    let mut settings: Vec<Setting> = Vec::new();
    for e in &cfg.entries {
        let wanted = e.key.replace('_', "-");
        let Some((key, arg)) = keys.iter().find(|(k, _)| *k == wanted) else {
            return Err(unknown_key(cfg, e, &path, &keys));
        };
        if let Some(prev) = settings.iter().find(|s| s.key == *key) {
            return Err(Error::Usage(format!("{}: `{}` is set twice (also line {})", cfg.at(e.line), e.key, prev.line)));
        }
        settings.push(setting(cfg, e, key, arg, &user)?);
    }
    // Flags first, then the user's arguments, then positionals (after `--`
    // when the user did not write one, so a value starting with `-` stays a value).
    let mut argv: Vec<OsString> = path.iter().map(OsString::from).collect();
    argv.extend(settings.iter().filter(|s| s.long.is_some()).flat_map(|s| s.args.iter().map(OsString::from)));
    argv.extend(user.rest.iter().cloned());
    let positionals: Vec<&String> = settings.iter().filter(|s| s.long.is_none()).flat_map(|s| s.args.iter()).collect();
    if !positionals.is_empty() && !user.dashdash {
        argv.push("--".into());
    }
    argv.extend(positionals.into_iter().map(OsString::from));
    Ok(Resolved { argv, command: path, settings })
}

fn unknown_key(cfg: &ConfigFile, e: &Entry, path: &[String], keys: &[(String, &Arg)]) -> Error {
    let cmd = path.join(" ");
    let hint = if e.key == "config" {
        "a config file cannot name another one".to_owned()
    } else {
        match closest(&e.key.replace('_', "-"), keys.iter().map(|(k, _)| k.as_str())) {
            Some(k) => format!("did you mean `{k}`?"),
            None if path.len() > 1 && matches!(path[0].as_str(), "migrate" | "from") => {
                format!("the keys are the long flags of `velesdb-migrate {} --help` and `velesdb-migrate {cmd} --help`", path[0])
            }
            None => format!("the keys are the long flags of `velesdb-migrate {cmd} --help`"),
        }
    };
    Error::Usage(format!("{}: unknown key `{}` for `{cmd}`; {hint}", cfg.at(e.line), e.key))
}

/// The arguments for one key, with its shape checked.
fn setting(cfg: &ConfigFile, e: &Entry, key: &str, arg: &Arg, user: &Scan) -> Result<Setting> {
    let secret = is_secret(arg);
    let long = arg.get_long().map(str::to_owned);
    let mismatch = |found: &str, line: usize| Error::Usage(format!("{}: {key}: expected {}, found {found}", cfg.at(line), expected(arg)));
    let text = |v: &Value, line: usize| -> Result<String> {
        match v {
            Value::Text(t) => Ok(t.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(mismatch(other.kind(), line)),
        }
    };
    let mut values: Vec<(String, usize)> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let shown: serde_json::Value;
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => {
            let on = match &e.value {
                Value::Null => None,
                Value::Bool(b) => Some(*b),
                Value::Text(t) if t == "true" || t == "false" => Some(t == "true"),
                Value::Text(t) => return Err(mismatch(&format!("`{t}`"), e.line)),
                other => return Err(mismatch(other.kind(), e.line)),
            };
            shown = on.map_or(serde_json::Value::Null, serde_json::Value::Bool);
            // The switch's flag stores the opposite of its default.
            if on == Some(matches!(arg.get_action(), ArgAction::SetTrue)) {
                args.push(format!("--{}", long.as_deref().unwrap_or(key)));
            }
        }
        ArgAction::Count => {
            let n = match &e.value {
                Value::Null => 0,
                Value::Text(t) => t.parse::<usize>().map_err(|_| mismatch(&format!("`{t}`"), e.line))?,
                other => return Err(mismatch(other.kind(), e.line)),
            };
            shown = n.into();
            args.extend(std::iter::repeat_n(format!("--{}", long.as_deref().unwrap_or(key)), n));
        }
        ArgAction::Append => {
            match &e.value {
                Value::Null => {}
                Value::List(items) => {
                    for (v, line) in items {
                        values.push((text(v, *line)?, *line));
                    }
                }
                v => values.push((text(v, e.line)?, e.line)),
            }
            shown = serde_json::Value::Array(values.iter().map(|(v, _)| show(v, secret)).collect());
        }
        _ => {
            match &e.value {
                Value::Null => {}
                v => values.push((text(v, e.line)?, e.line)),
            }
            shown = values.first().map_or(serde_json::Value::Null, |(v, _)| show(v, secret));
        }
    }
    if !values.is_empty() {
        args = values.iter().map(|(v, _)| match &long {
            Some(l) => format!("--{l}={v}"),
            None => v.clone(),
        }).collect();
    }
    let overridden = match &long {
        Some(_) => user.given.contains(arg.get_id().as_str()),
        None => arg.get_index().is_some_and(|i| i <= user.positionals),
    };
    if overridden {
        args.clear();
    }
    Ok(Setting { key: key.to_owned(), line: e.line, long, secret, from_env: e.from_env, overridden, values, args, shown, expected: expected(arg) })
}

fn show(v: &str, secret: bool) -> serde_json::Value {
    if secret {
        "***".into()
    } else {
        redact_url(v).into()
    }
}

/// What a flag takes, for messages.
fn expected(arg: &Arg) -> String {
    let one = match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => return "true or false".into(),
        ArgAction::Count => return "a count (0, 1, 2, …)".into(),
        _ => {
            let pv: Vec<String> = arg.get_possible_values().iter().map(|p| p.get_name().to_owned()).collect();
            let t = arg.get_value_parser().type_id();
            if !pv.is_empty() {
                format!("one of {}", pv.join(", "))
            } else if arg.get_value_names().and_then(|v| v.first()).is_some_and(|n| n.as_str() == "SIZE") {
                // The flags parsed by `parse_size` are named <SIZE>.
                "a size (bytes, or with K, M or G: 16M)".into()
            } else if [TypeId::of::<usize>(), TypeId::of::<u64>(), TypeId::of::<u32>(), TypeId::of::<u16>(), TypeId::of::<u8>()].iter().any(|id| t == *id) {
                "a whole number".into()
            } else if [TypeId::of::<i64>(), TypeId::of::<i32>()].iter().any(|id| t == *id) {
                "an integer".into()
            } else if [TypeId::of::<f64>(), TypeId::of::<f32>()].iter().any(|id| t == *id) {
                "a number".into()
            } else if t == TypeId::of::<PathBuf>() {
                "a path".into()
            } else {
                "text".into()
            }
        }
    };
    if matches!(arg.get_action(), ArgAction::Append) {
        format!("{one}, or a list of them")
    } else {
        one
    }
}

/// Turn clap's error on the combined arguments into one that names the
/// config file's keys and lines.
fn explain(e: &clap::Error, cfg: &ConfigFile, r: &Resolved) -> Error {
    let file = cfg.path.display();
    let arg_names: Vec<String> = [ContextKind::InvalidArg, ContextKind::PriorArg]
        .into_iter()
        .filter_map(|k| e.get(k))
        .flat_map(|v| match v {
            ContextValue::String(s) => vec![s.clone()],
            ContextValue::Strings(v) => v.clone(),
            _ => Vec::new(),
        })
        .collect();
    // `--chunk-rows <CHUNK_ROWS>` or `<SNAPSHOT>` → the setting, if the file set it.
    let from_file = |name: &str| -> Option<&Setting> {
        let first = name.split_whitespace().next()?;
        r.settings.iter().filter(|s| !s.overridden && !s.args.is_empty()).find(|s| match &s.long {
            Some(l) => first == format!("--{l}"),
            None => first.trim_matches(['<', '>']).to_lowercase().replace('_', "-") == s.key,
        })
    };
    if matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        if let Some(s) = arg_names.first().and_then(|n| from_file(n)) {
            let bad = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(v)) => Some(v.clone()),
                _ => None,
            };
            let line = bad.as_ref().and_then(|b| s.values.iter().find(|(v, _)| v == b)).map_or(s.line, |(_, l)| *l);
            let found = match (&bad, s.secret) {
                (Some(b), false) => format!("`{b}`"),
                _ => "a value that is not shown (secret)".into(),
            };
            // A parser's message may quote the value: not for a secret.
            let cause = std::error::Error::source(e).filter(|_| !s.secret).map(|c| format!(" ({c})")).unwrap_or_default();
            return Error::Usage(format!("{}: {}: expected {}, found {found}{cause}", cfg.at(line), s.key, s.expected));
        }
    }
    let rendered = e.render().to_string();
    let mut msg: Vec<&str> = rendered.lines().filter(|l| !l.starts_with("For more information")).collect();
    while msg.last().is_some_and(|l| l.trim().is_empty()) {
        msg.pop();
    }
    let mut text = msg.join("\n");
    if let Some(rest) = text.strip_prefix("error: ") {
        text = rest.to_owned();
    }
    let involved: Vec<String> = arg_names.iter().filter_map(|n| from_file(n)).map(|s| format!("`{}` (line {})", s.key, s.line)).collect();
    let note = if e.kind() == ErrorKind::MissingRequiredArgument {
        format!("add the missing key(s) to {file} or pass the flag(s) on the command line")
    } else if involved.is_empty() {
        format!("the command was built from {file} (its keys first, then the command-line flags)")
    } else {
        format!("from {file}: {}", involved.join(", "))
    };
    Error::Usage(format!("{text}\n  ({note})"))
}

/// What `config validate` reports.
#[derive(Debug, Serialize)]
pub struct ValidateReport {
    pub file: String,
    pub valid: bool,
    /// `export pgvector`
    pub command: String,
    /// The arguments it runs with (secrets as `***`).
    pub args: Vec<String>,
    pub settings: Vec<SettingReport>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SettingReport {
    pub key: String,
    pub line: usize,
    /// As the command receives it; `***` for a secret.
    pub value: serde_json::Value,
    pub secret: bool,
    /// Taken (at least partly) from the environment through `${…}`.
    pub from_env: bool,
}

/// Check `path` as `--config path` would use it, without running anything.
///
/// # Errors
/// `Usage` describing the first problem (key, line, what was expected).
pub fn validate(path: &Path) -> Result<ValidateReport> {
    let cfg = file::load(path)?;
    let r = resolve(&cfg, &[])?;
    let mut full = vec![OsString::from("velesdb-migrate")];
    full.extend(r.argv.iter().cloned());
    let full = crate::cli::relocate_migrate_flags(full);
    Cli::command().try_get_matches_from(full).map_err(|e| explain(&e, &cfg, &r))?;
    let mut args: Vec<String> = r.command.clone();
    let mut notes = Vec::new();
    for s in &r.settings {
        for a in &s.args {
            args.push(match (s.secret, &s.long) {
                (true, Some(l)) => format!("--{l}=***"),
                (true, None) => "***".into(),
                (false, _) => redact_url(a),
            });
        }
        if s.secret && !s.from_env && s.values.iter().any(|(v, _)| !v.contains("://") || redact_url(v) != *v) {
            notes.push(format!("line {}: `{}` is written in the file; keep secrets in the environment (`{}: ${{VAR}}`)", s.line, s.key, s.key));
        }
    }
    let settings = r
        .settings
        .iter()
        .map(|s| SettingReport { key: s.key.clone(), line: s.line, value: s.shown.clone(), secret: s.secret, from_env: s.from_env })
        .collect();
    Ok(ValidateReport { file: path.display().to_string(), valid: true, command: r.command.join(" "), args, settings, notes })
}

/// `velesdb-migrate config …`
///
/// # Errors
/// See [`validate`].
pub fn run(action: ConfigAction, out: &Output) -> Result<Outcome> {
    match action {
        ConfigAction::Validate { file } => {
            let r = validate(&file)?;
            emit(out, &r, || {
                println!("{} is valid; it runs:", r.file);
                println!("  velesdb-migrate {}", r.args.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" "));
                for n in &r.notes {
                    println!("note: {n}");
                }
            });
            Ok(Outcome::Ok)
        }
    }
}

/// Quote a word for display when the shell would split or expand it.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> ConfigFile {
        file::parse(Path::new("c.yaml"), text, &|n| (n == "PG").then(|| "postgres://u:pw@h/db".to_owned())).unwrap()
    }

    /// The error for a file that must not resolve.
    fn err(text: &str) -> String {
        resolve(&cfg(text), &[]).unwrap_err().to_string()
    }

    fn args(r: &Resolved) -> Vec<String> {
        r.argv.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    fn toks(t: &[&str]) -> Vec<OsString> {
        t.iter().map(OsString::from).collect()
    }

    #[test]
    fn builds_arguments_flags_first_positionals_last() {
        let c = cfg("command: import\nsnapshot: ./snap\nto: ./db\ncollection: docs\nbatch_size: 10\ndry-run: true\npartial: false\nmetric:\n");
        let r = resolve(&c, &toks(&["--json"])).unwrap();
        assert_eq!(args(&r), ["import", "--to=./db", "--collection=docs", "--batch-size=10", "--dry-run", "--json", "--", "./snap"]);
        // The command line wins, flag by flag and for the positional.
        let r = resolve(&c, &toks(&["import", "other", "--batch-size", "99", "--to=x"])).unwrap();
        assert_eq!(args(&r), ["import", "--collection=docs", "--dry-run", "other", "--batch-size", "99", "--to=x"]);
        assert!(r.settings.iter().filter(|s| s.overridden).map(|s| s.key.as_str()).eq(["snapshot", "to", "batch-size"]));
    }

    #[test]
    fn lists_and_globals() {
        let c = cfg("command: export pgvector\nurl: ${PG}\ntable: t\nout: o\nvector-column: [a, b]\nquiet: true\ns3-addressing: path\n");
        let r = resolve(&c, &[]).unwrap();
        assert_eq!(args(&r), ["export", "pgvector", "--url=postgres://u:pw@h/db", "--table=t", "--out=o", "--vector-column=a", "--vector-column=b", "--quiet", "--s3-addressing=path"]);
        let url = r.settings.iter().find(|s| s.key == "url").unwrap();
        assert!(url.secret && url.from_env && url.shown == "***");
        // A list on the command line replaces the file's list.
        let r = resolve(&c, &toks(&["--vector-column", "z"])).unwrap();
        assert!(!args(&r).iter().any(|a| a.starts_with("--vector-column=")));
        // The command line may name a prefix of the file's command, not another command.
        assert!(resolve(&c, &toks(&["export", "--table", "x"])).is_ok());
        let e = resolve(&c, &toks(&["import"])).unwrap_err().to_string();
        assert!(e.contains("is for `export pgvector`") && e.contains("runs `import`"), "{e}");
    }

    /// Each file fails with a message holding every expected part.
    fn refused(cases: &[(&str, &[&str])]) {
        for (text, parts) in cases {
            let e = err(text);
            assert!(parts.iter().all(|p| e.contains(p)), "{text:?} → {e}");
        }
    }

    #[test]
    fn unknown_keys_and_commands_suggest() {
        refused(&[
            ("command: export pgvector\ntable: t\nchunk-row: 5\n", &["c.yaml line 3: unknown key `chunk-row`", "did you mean `chunk-rows`?"]),
            ("command: export pgvectr\n", &["line 1", "did you mean `export pgvector`?"]),
            ("command: export\n", &["`export pgvector`"]),
            ("table: t\n", &["add `command: …`"]),
            ("command: import\nconfig: x.yaml\n", &["cannot name another"]),
            ("command: import\nbatch-size: 1\nbatch_size: 2\n", &["line 3", "set twice (also line 2)"]),
        ]);
    }

    #[test]
    fn wrong_shapes_name_the_expected_type() {
        refused(&[
            ("command: import\nbatch-size: {a: 1}\n", &["line 2: batch-size: expected a whole number, found a mapping"]),
            ("command: import\nbatch-size: [1, 2]\n", &["found a list"]),
            ("command: import\ndry-run: yes\n", &["dry-run: expected true or false, found `yes`"]),
            ("command: export pgvector\nvector-column: {a: 1}\n", &["expected text, or a list of them, found a mapping"]),
        ]);
    }

    /// `migrate <source>` takes the keys of both levels: the source's and
    /// migrate's own (`to`, `to-collection`, import options), which the
    /// command line moves before the source name.
    #[test]
    fn migrate_takes_the_keys_of_both_levels() {
        let text = "command: migrate pgvector\nurl: ${PG}\ntable: t\nto: ./db\nto-collection: items\nkeep-snapshot: true\nchunk-rows: 5\nbatch-size: 7\nrename-field: [a=b]\n";
        let r = resolve(&cfg(text), &[]).unwrap();
        let mut argv = vec![OsString::from("velesdb-migrate")];
        argv.extend(r.argv.iter().cloned());
        let argv = crate::cli::relocate_migrate_flags(argv);
        let cli = <Cli as clap::Parser>::try_parse_from(argv).unwrap();
        let crate::cli::Command::Migrate(m) = cli.command else { panic!("not migrate") };
        assert_eq!((m.to.as_str(), m.to_collection.as_deref(), m.keep_snapshot, m.batch_size), ("./db", Some("items"), true, 7));
        let crate::cli::SourceArgs::Pgvector { args: pg, common } = m.source else { panic!("not pgvector") };
        assert_eq!((pg.table.as_deref(), common.chunk_rows), (Some("t"), Some(5)));
        // A migrate-level flag on the command line overrides its key.
        let r = resolve(&cfg(text), &toks(&["--to", "./other"])).unwrap();
        assert!(r.settings.iter().any(|s| s.key == "to" && s.overridden), "{:?}", r.settings);
        assert!(!args(&r).iter().any(|a| a == "--to=./db"));
        // `from` is the same command.
        assert!(resolve(&cfg("command: from qdrant\ncollection: c\nto: ./db\napi-key: k\n"), &[]).is_ok());
        refused(&[
            ("command: migrate pgvector\ntable: t\nto: d\nto-colection: x\n", &["c.yaml line 4: unknown key `to-colection` for `migrate pgvector`", "did you mean `to-collection`?"]),
            ("command: migrate pgvector\ntable: t\nto: d\nzzz: 1\n", &["`velesdb-migrate migrate --help` and `velesdb-migrate migrate pgvector --help`"]),
        ]);
        // Secrets of either level are masked.
        let r = resolve(&cfg("command: migrate qdrant\ncollection: c\nto: http://h:1\napi-key: ${PG}\n"), &[]).unwrap();
        assert!(r.settings.iter().any(|s| s.key == "api-key" && s.secret && s.shown == "***"));
    }

    #[test]
    fn config_flag_is_taken_anywhere_before_double_dash() {
        let (c, rest) = take_config_flag(&toks(&["vm", "--json", "--config", "a.yaml", "import", "--", "--config"])).unwrap();
        assert_eq!(c, Some(PathBuf::from("a.yaml")));
        assert_eq!(rest, toks(&["--json", "import", "--", "--config"]));
        let (c, _) = take_config_flag(&toks(&["vm", "import", "--config=b.yaml"])).unwrap();
        assert_eq!(c, Some(PathBuf::from("b.yaml")));
        assert!(take_config_flag(&toks(&["vm", "--config", "a", "--config", "b"])).is_err());
        assert!(take_config_flag(&toks(&["vm", "--config"])).is_err());
    }
}
