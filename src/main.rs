//! Entry point: parse, run, map the outcome to an exit code.
//! 0 success, 1 failure (error, or verify/validate found mismatches), 2 usage.

use std::process::ExitCode;
use velesdb_migrate::cli::{self, Outcome};
use velesdb_migrate::Error;

fn main() -> ExitCode {
    let cli = cli::parse(); // exits 2 on bad usage
    let json = cli.json;
    match cli::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error[{}]: {e}", e.code());
            if json {
                // Scripts reading stdout get the failure in the same format as results.
                let v = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
                println!("{v}");
            }
            ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 })
        }
    }
}
