//! Validate one token from stdin against a real issuer.
//!
//! ```text
//! echo "$TOKEN" | cargo run --example validate -- --issuer https://auth.example.com/ --audience api://orders [--scope orders.read]... [--allow-http]
//! ```
//!
//! Fetches the issuer's discovery document and keys, then prints the token's
//! claims as pretty JSON on stdout and exits 0, or prints the typed error
//! and its causes on stderr and exits 1 (2 for bad arguments).

use std::io::Read;
use std::process::ExitCode;

use jwt_gate::{Claims, Validator};

const USAGE: &str =
    "usage: validate --issuer URL --audience AUD [--scope S]... [--allow-http] < token";

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let mut builder = Validator::builder();
    let (mut issuer, mut audience) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next();
        builder = match (arg.as_str(), value_needed(&arg).then(&mut value).flatten()) {
            ("--issuer", Some(v)) => {
                issuer = true;
                builder.issuer(v)
            }
            ("--audience", Some(v)) => {
                audience = true;
                builder.audience(v)
            }
            ("--scope", Some(v)) => builder.require_scopes([v]),
            ("--allow-http", None) => builder.allow_http(),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        };
    }
    if !issuer || !audience {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut token = String::new();
    if std::io::stdin().read_to_string(&mut token).is_err() {
        eprintln!("could not read the token from stdin");
        return ExitCode::from(2);
    }
    let token = token.trim();
    let result = match builder.build() {
        Ok(validator) => validator.validate::<serde_json::Value>(token).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(claims) => {
            print_claims(&claims);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rejected: {error}");
            eprintln!("  HTTP {}: {}", error.status(), error.description());
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  because: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn value_needed(flag: &str) -> bool {
    matches!(flag, "--issuer" | "--audience" | "--scope")
}

fn print_claims(claims: &Claims<serde_json::Value>) {
    let pretty = serde_json::to_string_pretty(claims.custom()).unwrap_or_default();
    println!("{pretty}");
}
