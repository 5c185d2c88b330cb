//! Entry point: parse, run, map the outcome to an exit code.
//! 0 success, 1 failure (error, or verify/validate found mismatches), 2 usage.

use std::process::ExitCode;
use velesdb_migrate::cli::{self, Outcome};
use velesdb_migrate::{config, Error};

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let json = config::wants_json(&argv);
    // Without --config this is clap's own parse (exits 2 on bad usage).
    let cli = match config::parse_args(argv) {
        Ok(cli) => cli,
        Err(e) => return fail(&e, json),
    };
    let json = cli.json;
    match cli::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) => fail(&e, json),
    }
}

fn fail(e: &Error, json: bool) -> ExitCode {
    eprintln!("error[{}]: {e}", e.code());
    if json {
        // Scripts reading stdout get the failure in the same format as results.
        let v = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
        println!("{v}");
    }
    ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 })
}
