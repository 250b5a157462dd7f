//! Validate one token from stdin against a real issuer (DESIGN.md §8).
//!
//! ```text
//! echo "$TOKEN" | cargo run --example validate -- --issuer https://auth.example.com/ --audience api://orders [--scope orders.read]...
//! echo "$TOKEN" | cargo run --example validate -- --jwks-uri https://auth.example.com/jwks --audience api://orders --typ at+jwt
//! ```
//!
//! Flags: `--issuer URL` (discovery, and the exact `iss`) or `--jwks-uri
//! URL` (keys without discovery; with `--issuer` too, `iss` is still
//! checked), `--audience AUD` (repeatable, any of), `--client-id ID`
//! (repeatable, any of `client_id`/`azp`/`cid`; stands in for the audience
//! when none is given, as for Cognito), `--scope S` (repeatable, all of),
//! `--typ T`, `--require-claim NAME=VALUE` (repeatable: a string claim, or a
//! member of an array claim), `--max-age SECS` (from `iat`), `--role R`
//! (repeatable: roles the token must carry) with `--roles-claim PATH`
//! (repeatable: `roles`, `permissions`, `realm_access.roles`, …),
//! `--allow-http` (a loopback issuer), `--preset NAME` with the preset's
//! own flags instead of `--issuer` (`cognito --region R --user-pool ID`
//! with `--client-id`, `entra --tenant TID`, `keycloak --base-url URL
//! --realm R`, `auth0 --domain D`, `okta --domain D [--auth-server ID]`,
//! `zitadel --domain D`, `google`; see `jwt_gate::providers`).
//!
//! ```text
//! echo "$TOKEN" | cargo run --example validate -- --preset entra --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 --audience api://orders --role Orders.Read.All
//! ```
//!
//! Prints the token's claims as pretty JSON on stdout and exits 0, or
//! prints the typed error and its causes on stderr and exits 1. Bad
//! arguments, unknown flags and setup mistakes (a `ConfigError`) exit 2.

#[path = "support/flags.rs"]
mod flags;

use std::io::Read;
use std::process::ExitCode;

use flags::KeyFlags;
use jwt_gate::Claims;

fn usage() -> ExitCode {
    eprintln!("usage: validate {} < token", flags::SHARED);
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let mut keys = KeyFlags::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match keys.take(&arg, &mut args) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("unknown flag {arg:?}");
                return usage();
            }
            Err(flags::BadFlag(why)) => {
                eprintln!("{why}");
                return usage();
            }
        }
    }
    if !keys.has_source() || !keys.has_audience() {
        eprintln!(
            "a key source (--issuer, --jwks-uri or --preset) and --audience or --client-id are required"
        );
        return usage();
    }
    let roles = keys.roles.clone();
    let builder = match keys.into_builder() {
        Ok(builder) => builder,
        Err(flags::BadFlag(why)) => {
            eprintln!("{why}");
            return usage();
        }
    };
    let validator = match builder.build() {
        Ok(validator) => validator,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let mut token = String::new();
    if std::io::stdin().read_to_string(&mut token).is_err() {
        eprintln!("could not read the token from stdin");
        return ExitCode::from(2);
    }
    let result = validator
        .validate::<serde_json::Value>(token.trim())
        .await
        .and_then(|claims| match roles.iter().all(|r| claims.has_role(r)) {
            true => Ok(claims),
            false => Err(jwt_gate::Error::MissingRole {
                required: roles.join(" ").into(),
            }),
        });
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

fn print_claims(claims: &Claims<serde_json::Value>) {
    let pretty = serde_json::to_string_pretty(claims.custom()).unwrap_or_default();
    println!("{pretty}");
}
