//! Config files written by `discover --emit-config`: a ready-to-run
//! `export <source>` config for what discovery found, laid out like the
//! `init` templates (every flag with its help text; the chosen keys filled
//! in, the others commented out).
//!
//! Secrets are never written: a key whose flag is a secret (see
//! [`super::is_secret`]) is written as `${VAR}` of the flag's environment
//! variable, whatever value discovery was given. Other values are quoted for
//! YAML and their `$` doubled, so the file reads back as exactly that text.

use super::template::{block, comment, yaml_scalar};
use super::{find, is_secret, keys, tree};
use clap::ArgAction;

/// The text of a config for `export <source>` with `fill` (flag long name,
/// value) set. `about` is put, as comments, under the header: what was
/// discovered and what the file chooses. `file` is the file's name, for the
/// run instructions.
///
/// # Panics
/// When `source` is not an export source or a key is not one of its flags
/// (a bug in the caller, covered by the unit tests).
pub fn export_config(source: &str, fill: &[(&str, String)], file: &str, about: &str) -> String {
    let root = tree();
    let path = ["export".to_owned(), source.to_owned()];
    let leaf = find(&root, &path).unwrap_or_else(|e| panic!("export {source}: {e}"));
    let all = keys(leaf);
    for (k, _) in fill {
        assert!(all.iter().any(|(key, _)| key == k), "export {source} has no flag --{k}");
    }
    let value = |k: &str, a: &clap::Arg| -> Option<String> {
        let (_, v) = fill.iter().find(|(f, _)| *f == k)?;
        Some(if is_secret(a) {
            let env = a.get_env().unwrap_or_else(|| panic!("secret flag --{k} has no environment variable"));
            format!("${{{}}}", env.to_string_lossy())
        } else if matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
            v.clone()
        } else if v.strip_prefix("./").is_some_and(|rest| !rest.is_empty() && yaml_scalar(rest) == rest) {
            v.clone() // a plain relative path reads back as itself
        } else {
            yaml_scalar(&v.replace('$', "$$"))
        })
    };
    let command = format!("export {source}");
    let mut s = String::new();
    comment(&mut s, &format!("velesdb-migrate config file for `{command}`, written by `velesdb-migrate discover {source} --emit-config`."));
    s.push_str(&format!("#\n# Check it (connects nowhere): velesdb-migrate config validate {file}\n# Run it:                       velesdb-migrate --config {file}\n#\n"));
    comment(&mut s, about);
    s.push_str("#\n");
    let secrets: Vec<String> = all
        .iter()
        .filter(|(k, a)| is_secret(a) && fill.iter().any(|(f, _)| f == k))
        .filter_map(|(_, a)| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    let mut intro = String::from(
        "Keys are the long flags of `velesdb-migrate export SOURCE --help` (snake_case works too); a flag given on \
         the command line overrides its key. true/false turn a switch on or off, a list repeats a flag, a key left \
         empty is not set. In values, ${VAR} is the environment variable VAR (an error when it is unset), \
         ${VAR:-default} is VAR or else the default, and $$ is a literal $.",
    )
    .replace("SOURCE", source);
    if !secrets.is_empty() {
        intro.push_str(&format!(
            " Secrets are never written here: set {} in the environment (to what you gave discover) before running it.",
            secrets.join(", ")
        ));
    }
    comment(&mut s, &intro);
    s.push_str(&format!("\ncommand: {command}\n"));
    let (globals, own): (Vec<_>, Vec<_>) = all.iter().filter(|(_, a)| !a.is_hide_set()).partition(|(_, a)| a.is_global_set());
    let (filled, rest): (Vec<_>, Vec<_>) = own.into_iter().partition(|(k, a)| value(k, a).is_some());
    for (k, a) in filled {
        block(&mut s, k, a, value(k, a).as_deref());
    }
    if !rest.is_empty() {
        s.push_str("\n# ---- Optional (uncomment to set) ----\n");
    }
    for (k, a) in rest {
        block(&mut s, k, a, None);
    }
    s.push_str("\n# ---- Options of every command ----\n");
    for (k, a) in globals {
        block(&mut s, k, a, None);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{file, resolve};
    use std::path::Path;

    /// A generated config parses, resolves and is accepted by clap; secrets
    /// become variables and literal `$` survive.
    #[test]
    fn filled_config_is_valid_and_keeps_secrets_out() {
        let fill = [("url", "postgres://u:hunter2@h/db".to_owned()), ("table", "we$ird 'name'".to_owned()), ("out", "./snapshot".to_owned())];
        let text = export_config("pgvector", &fill, "f.yaml", "Found:\n- one table");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\nurl: ${DATABASE_URL}\n") && text.contains("\ntable: 'we$$ird ''name'''\n"), "{text}");
        assert!(text.contains("# - one table") && text.contains("set DATABASE_URL in the environment"), "{text}");
        let env = |name: &str| (name == "DATABASE_URL").then(|| "postgres://x@h/db".to_owned());
        let cfg = file::parse(Path::new("f.yaml"), &text, &env).unwrap();
        let r = resolve(&cfg, &[]).unwrap();
        let mut argv = vec![std::ffi::OsString::from("velesdb-migrate")];
        argv.extend(r.argv);
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv).unwrap();
        let crate::cli::Command::Export { source: crate::cli::SourceArgs::Pgvector { args, .. } } = cli.command else { panic!() };
        assert_eq!(args.table.as_deref(), Some("we$ird 'name'"));

        let all = export_config("chroma", &[("url", "http://h:1".into()), ("all", "true".into()), ("out", "./snapshot".into())], "f.yaml", "x");
        assert!(all.contains("\nall: true\n") && all.contains("\n# collection:"), "{all}");
    }

    #[test]
    #[should_panic(expected = "no flag --nope")]
    fn unknown_keys_are_a_bug() {
        export_config("qdrant", &[("nope", "x".into())], "f.yaml", "");
    }
}
