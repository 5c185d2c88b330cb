//! Entry point: parse, run, map the outcome to an exit code.
//! 0 success, 1 failure (error, or verify/validate found mismatches), 2 usage.
//! `diff` follows diff(1) instead: 0 identical, 1 different, 2 any error.

use std::process::ExitCode;
use velesdb_migrate::cli::{self, Outcome};
use velesdb_migrate::{config, Error};

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let json = config::wants_json(&argv);
    // Without --config this is clap's own parse (exits 2 on bad usage).
    let cli = match config::parse_args(argv) {
        Ok(cli) => cli,
        Err(e) => return fail(&e, json, false, false),
    };
    let json = cli.json;
    if matches!(cli.command, cli::Command::Export { .. }) {
        velesdb_migrate::util::tune_allocator_for_export();
    }
    let log_json = cli.log_format == cli::LogFormat::Json;
    let errors_exit_2 = cli.command.errors_exit_2();
    match cli::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::Cancelled) => ExitCode::from(130),
        Err(e) => fail(&e, json, errors_exit_2, log_json),
    }
}

fn fail(e: &Error, json: bool, errors_exit_2: bool, log_json: bool) -> ExitCode {
    if log_json {
        velesdb_migrate::progress::log_line("error", "error", serde_json::json!({ "code": e.code(), "message": e.to_string() }));
    } else {
        eprintln!("error[{}]: {e}", e.code());
    }
    if json {
        // Scripts reading stdout get the failure in the same format as results.
        let v = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
        println!("{v}");
    }
    ExitCode::from(if errors_exit_2 || matches!(e, Error::Usage(_)) { 2 } else { 1 })
}
