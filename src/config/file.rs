//! Reading a config file: YAML into a flat list of keys with their line
//! numbers, `${VAR}` / `${VAR:-default}` interpolated from the environment.
//!
//! Nothing here knows the flags: [`super`] checks the keys against the clap
//! tree. What this file guarantees: one YAML document holding a mapping of
//! string keys; every value a scalar or a list of scalars; every variable
//! resolved (an unset one without a default is an error naming the variable,
//! the key and the line).

use crate::error::{Error, Result};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::path::{Path, PathBuf};

/// One `key: value` of a config file.
#[derive(Clone, Debug)]
pub struct Entry {
    /// As written in the file.
    pub key: String,
    /// 1-based line of the key.
    pub line: usize,
    pub value: Value,
    /// The value used `${…}` (so it was not written in the file itself).
    pub from_env: bool,
}

/// A value, after interpolation.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `key:`, `~` or `null`: the key is not set.
    Null,
    Bool(bool),
    /// Any other scalar, as text (numbers as YAML resolved them).
    Text(String),
    /// A list of scalars, each with its line.
    List(Vec<(Value, usize)>),
    /// A mapping: no flag takes one (kept to say so with the line).
    Mapping,
}

impl Value {
    /// What it is, for messages ("a list", "a mapping", …).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "true/false",
            Value::Text(_) => "a single value",
            Value::List(_) => "a list",
            Value::Mapping => "a mapping",
        }
    }
}

/// A parsed config file.
#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// `command: export pgvector` split into words, with its line.
    pub command: Option<(Vec<String>, usize)>,
    pub entries: Vec<Entry>,
}

impl ConfigFile {
    /// `FILE line N` for messages.
    pub fn at(&self, line: usize) -> String {
        format!("{} line {line}", self.path.display())
    }
}

/// Read, parse and interpolate `path` with the process environment.
///
/// # Errors
/// `Usage` naming the file and line for anything malformed, or when the
/// file cannot be read (a wrong path is a usage error).
pub fn load(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Usage(format!("cannot read config file {}: {e}", path.display())))?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// [`load`] on text, with `env` as the environment (tests pass their own).
pub fn parse(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ConfigFile> {
    let file = path.display();
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        Error::Usage(format!("{file} line {} column {}: not valid YAML: {}", m.line(), m.col() + 1, e.info()))
    })?;
    let root = match docs.as_slice() {
        [] => return Err(Error::Usage(format!("{file} is empty: write `command: …` and the command's flags as keys (see `velesdb-migrate init`)"))),
        [one] => one,
        [_, second, ..] => {
            return Err(Error::Usage(format!(
                "{file} line {}: a second YAML document; a config file holds one command",
                second.span.start.line()
            )))
        }
    };
    let YamlData::Mapping(map) = &root.data else {
        return Err(Error::Usage(format!(
            "{file} line {}: expected a mapping of keys (`command: export pgvector`, `table: items`, …), found {}",
            root.span.start.line(),
            describe(root)
        )));
    };
    let mut cfg = ConfigFile { path: path.to_owned(), command: None, entries: Vec::new() };
    for (k, v) in map {
        let line = k.span.start.line();
        let key = match &k.data {
            YamlData::Value(Scalar::String(s)) => s.to_string(),
            _ => return Err(Error::Usage(format!("{file} line {line}: keys are flag names, found {}", describe(k)))),
        };
        let mut from_env = false;
        let mut interp = |s: &str, line: usize| -> Result<String> {
            from_env |= s.contains("${");
            interpolate(s, env).map_err(|e| Error::Usage(format!("{file} line {line}: {key}: {e}")))
        };
        let value = match &v.data {
            YamlData::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let l = item.span.start.line();
                    match scalar(item, l, &mut interp)? {
                        Some(val) => out.push((val, l)),
                        None => {
                            return Err(Error::Usage(format!(
                                "{file} line {l}: {key}: a list holds single values, found {}",
                                describe(item)
                            )))
                        }
                    }
                }
                Value::List(out)
            }
            YamlData::Mapping(_) => Value::Mapping,
            _ => scalar(v, v.span.start.line(), &mut interp)?.ok_or_else(|| {
                Error::Usage(format!("{file} line {line}: {key}: unsupported YAML value ({})", describe(v)))
            })?,
        };
        if key == "command" {
            let Value::Text(words) = &value else {
                return Err(Error::Usage(format!("{file} line {line}: command: expected the command as text, e.g. `command: export pgvector`")));
            };
            cfg.command = Some((words.split_whitespace().map(str::to_owned).collect(), line));
            continue;
        }
        cfg.entries.push(Entry { key, line, value, from_env });
    }
    Ok(cfg)
}

/// A scalar node as a [`Value`] (strings interpolated); `None` for a
/// collection or anything else that is not a scalar.
fn scalar(node: &MarkedYaml, line: usize, interp: &mut dyn FnMut(&str, usize) -> Result<String>) -> Result<Option<Value>> {
    let data = match &node.data {
        YamlData::Tagged(_, inner) => &inner.data,
        d => d,
    };
    Ok(Some(match data {
        YamlData::Value(Scalar::Null) => Value::Null,
        YamlData::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        YamlData::Value(Scalar::Integer(i)) => Value::Text(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Value::Text(f.to_string()),
        YamlData::Value(Scalar::String(s)) => Value::Text(interp(s, line)?),
        _ => return Ok(None),
    }))
}

fn describe(node: &MarkedYaml) -> &'static str {
    match &node.data {
        YamlData::Mapping(_) => "a mapping",
        YamlData::Sequence(_) => "a list",
        YamlData::Value(Scalar::Null) => "nothing",
        YamlData::Value(Scalar::Boolean(_)) => "true/false",
        YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::String(_)) => "text",
        YamlData::Alias(_) | YamlData::BadValue => "an unresolved alias",
        _ => "an unsupported value",
    }
}

/// Replace `${VAR}` and `${VAR:-default}` (default when VAR is unset or
/// empty, as in the shell) with the environment; `$$` is a literal `$`; any
/// other `$` is kept as it is.
///
/// # Errors
/// A message naming the variable when it is unset and has no default, or
/// when the `${…}` is malformed.
pub fn interpolate(s: &str, env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("`${{` without its closing `}}` in {s:?}"))?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("`${{{}}}` is not a variable reference (use ${{NAME}} or ${{NAME:-default}}; $$ is a literal $)", &body[..end]));
            }
            match (env(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(format!("environment variable {name} is not set (set it, or write ${{{name}:-default}})")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn interpolation() {
        assert_eq!(interpolate("postgres://${HOST}:5432/x", &env).unwrap(), "postgres://db.local:5432/x");
        assert_eq!(interpolate("${MISSING:-5000}", &env).unwrap(), "5000");
        assert_eq!(interpolate("${EMPTY:-d}|${EMPTY}", &env).unwrap(), "d|");
        assert_eq!(interpolate("${HOST:-x}", &env).unwrap(), "db.local");
        assert_eq!(interpolate("cost $$5, $1 and $HOST stay", &env).unwrap(), "cost $5, $1 and $HOST stay");
        assert_eq!(interpolate("$${HOST}", &env).unwrap(), "${HOST}");
        assert_eq!(interpolate("${MISSING:-}", &env).unwrap(), "");
        let e = interpolate("a ${MISSING} b", &env).unwrap_err();
        assert!(e.contains("MISSING is not set"), "{e}");
        assert!(interpolate("${HOST", &env).unwrap_err().contains("closing"));
        assert!(interpolate("${A B}", &env).unwrap_err().contains("not a variable"));
        assert!(interpolate("${}", &env).unwrap_err().contains("not a variable"));
    }

    #[test]
    fn keys_values_and_lines() {
        let text = "# a comment\ncommand: export pgvector\nurl: ${HOST}\nchunk-rows: 5000\nno-document: true\nschema:\nvector-column:\n  - a\n  - ${MISSING:-b}\nwhere: {a: 1}\n";
        let c = parse(Path::new("f.yaml"), text, &env).unwrap();
        assert_eq!(c.command, Some((vec!["export".to_owned(), "pgvector".to_owned()], 2)));
        let got: Vec<(&str, usize, &Value, bool)> = c.entries.iter().map(|e| (e.key.as_str(), e.line, &e.value, e.from_env)).collect();
        assert_eq!(
            got,
            vec![
                ("url", 3, &Value::Text("db.local".into()), true),
                ("chunk-rows", 4, &Value::Text("5000".into()), false),
                ("no-document", 5, &Value::Bool(true), false),
                ("schema", 6, &Value::Null, false),
                ("vector-column", 7, &Value::List(vec![(Value::Text("a".into()), 8), (Value::Text("b".into()), 9)]), true),
                ("where", 10, &Value::Mapping, false),
            ]
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: &[(&str, &[&str])] = &[
            ("table: a\ntable: b\n", &["f.yaml line 2", "duplicated key"]),
            ("table: [a\n", &["not valid YAML"]),
            ("- a\n- b\n", &["expected a mapping", "a list"]),
            ("table: x\n---\ntable: y\n", &["line 3", "second YAML document"]),
            ("a: 1\nurl: ${NOPE}\n", &["f.yaml line 2: url: environment variable NOPE is not set"]),
            ("a:\n  - [1, 2]\n", &["line 2", "a list holds single values"]),
            ("", &["empty"]),
        ];
        for (text, parts) in cases {
            let e = parse(Path::new("f.yaml"), text, &env).unwrap_err().to_string();
            assert!(parts.iter().all(|p| e.contains(p)), "{text:?} → {e}");
        }
    }
}
