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
//! DPoP (RFC 9449): `--dpop-proof PROOF --url URL [--method M]` checks the
//! token as `Authorization: DPoP` with this proof for the request `M URL`
//! (method default `GET`): the proof's signature, `typ`, `alg`, `jwk`,
//! `htm`, `htu`, `iat`, `ath`, and that the token's `cnf.jkt` is the proof
//! key's thumbprint. Each run starts with an empty replay store, so a proof
//! used before is not detected across runs.
//!
//! ```text
//! echo "$TOKEN" | cargo run --example validate -- --issuer https://auth.example.com --audience api://orders \
//!     --dpop-proof "$PROOF" --method GET --url https://api.example.com/orders
//! ```
//!
//! Certificate binding (RFC 8705): `--client-cert PEM_FILE` checks the
//! token as sent on a TLS connection that presented this certificate: a
//! token whose `cnf.x5t#S256` is the certificate's SHA-256 thumbprint is
//! accepted, one bound to another certificate refused (unbound tokens pass
//! too). Without it, a certificate-bound token is refused.
//!
//! ```text
//! echo "$TOKEN" | cargo run --example validate -- --issuer https://auth.example.com --audience api://orders \
//!     --client-cert client.pem
//! ```
//!
//! Opaque tokens (RFC 7662): `--introspect --introspect-client-id ID`
//! with `--introspect-client-secret S` (or the environment variable
//! `JWT_GATE_INTROSPECT_SECRET`, which keeps the secret out of the process
//! list) asks the issuer's introspection endpoint (discovered, or
//! `--introspect-endpoint URL`) about tokens that are not JWTs, as the
//! client jwt-gate authenticates as (`--introspect-auth basic|post`,
//! default basic; not the token's client, which `--client-id` matches).
//! `--introspect-when always` asks about JWTs too; `--introspect-jwt` asks
//! for RFC 9701 signed answers and accepts only those.
//!
//! ```text
//! echo "$OPAQUE" | JWT_GATE_INTROSPECT_SECRET=... cargo run --example validate -- \
//!     --issuer https://auth.example.com --audience api://orders --introspect --introspect-client-id orders-api
//! ```
//!
//! API keys: with `--api-keys FILE` (JSON: `[{"sha256": "<hex SHA-256 of
//! the key>", "claims": {…}}]`), stdin holds an API key instead of a
//! token, checked as `X-API-KEY`: the claims printed are the entry's.
//!
//! Last-known-good keys: `--key-snapshot FILE` writes the keys fetched to
//! `FILE`, and a later run while the issuer is down validates with them
//! (until `max_staleness`, 24 h, after they were fetched).
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
use jwt_gate::dpop::Dpop;
use jwt_gate::mtls::{CertificateBinding, ClientCertificate};

fn usage() -> ExitCode {
    eprintln!(
        "usage: validate {} [--dpop-proof PROOF --url URL [--method M]] [--client-cert PEM_FILE] < token (or key, with --api-keys)",
        flags::SHARED
    );
    ExitCode::from(2)
}

/// `--dpop-proof`, `--method`, `--url`.
#[derive(Default)]
struct DpopFlags {
    proof: Option<String>,
    method: Option<String>,
    url: Option<String>,
}

/// The request a DPoP proof is checked for: method, the URL's origin (the
/// validator's public origin) and its path.
struct ProofTarget {
    proof: String,
    method: http::Method,
    origin: String,
    path: http::Uri,
}

impl DpopFlags {
    fn target(self) -> Result<Option<ProofTarget>, String> {
        let Some(proof) = self.proof else {
            return match (self.method, self.url) {
                (None, None) => Ok(None),
                _ => Err("--method and --url go with --dpop-proof".to_owned()),
            };
        };
        let url = self.url.ok_or("--dpop-proof needs --url")?;
        let uri: http::Uri = url.parse().map_err(|e| format!("--url {url:?}: {e}"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(format!("--url {url:?}: an absolute http(s) URL"));
        };
        let method = self.method.unwrap_or_else(|| "GET".to_owned());
        Ok(Some(ProofTarget {
            proof,
            method: method
                .parse()
                .map_err(|_| format!("--method {method:?}: an HTTP method"))?,
            origin: format!("{scheme}://{authority}"),
            path: uri
                .path()
                .parse()
                .map_err(|e| format!("--url {url:?}: {e}"))?,
        }))
    }
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
    let mut dpop = DpopFlags::default();
    let mut client_cert = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--dpop-proof" => Some(&mut dpop.proof),
            "--method" => Some(&mut dpop.method),
            "--url" => Some(&mut dpop.url),
            "--client-cert" => Some(&mut client_cert),
            _ => None,
        };
        if let Some(slot) = slot {
            let Some(value) = args.next() else {
                eprintln!("{arg} needs a value");
                return usage();
            };
            *slot = Some(value);
            continue;
        }
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
    let target = match dpop.target() {
        Ok(target) => target,
        Err(why) => {
            eprintln!("{why}");
            return usage();
        }
    };
    let certificate = match client_cert.as_deref().map(read_certificate).transpose() {
        Ok(certificate) => certificate,
        Err(why) => {
            eprintln!("{why}");
            return usage();
        }
    };
    let roles = keys.roles.clone();
    let api_key = keys.api_keys.is_some();
    let builder = match keys.into_builder() {
        Ok(builder) => builder,
        Err(flags::BadFlag(why)) => {
            eprintln!("{why}");
            return usage();
        }
    };
    let builder = match &target {
        Some(target) => builder.dpop(Dpop::allowed().public_origin(target.origin.as_str())),
        None => builder,
    };
    let builder = match &certificate {
        Some(_) => builder.certificate_binding(CertificateBinding::allowed()),
        None => builder,
    };
    // One request and no one else to serve: it may wait for the whole
    // fetch (a server's requests wait at most 1 s, the default).
    let builder = builder.max_key_wait(std::time::Duration::from_secs(5));
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
    let token = token.trim();
    let validated = match (&target, certificate) {
        (_, _) if api_key => {
            let Ok(key) = http::HeaderValue::from_str(token) else {
                eprintln!("the key is not a valid header value");
                return ExitCode::FAILURE;
            };
            let mut request = http::Request::new(());
            request.headers_mut().insert("x-api-key", key);
            validator
                .validate_http_request::<serde_json::Value, _>(&request)
                .await
                .map(jwt_gate::Verified::into_claims)
        }
        (None, None) => validator.validate::<serde_json::Value>(token).await,
        (target, certificate) => {
            // The request the token came on: its scheme and proof, and the
            // certificate of its TLS connection.
            let (scheme, method, path) = match target {
                Some(t) => ("DPoP", t.method.clone(), t.path.clone()),
                None => ("Bearer", http::Method::GET, http::Uri::from_static("/")),
            };
            let mut request = http::Request::new(());
            *request.method_mut() = method;
            *request.uri_mut() = path;
            let headers = request.headers_mut();
            let Ok(auth) = format!("{scheme} {token}").parse() else {
                eprintln!("the token is not a valid header value");
                return ExitCode::FAILURE;
            };
            headers.insert(http::header::AUTHORIZATION, auth);
            if let Some(target) = target {
                let Ok(proof) = target.proof.parse() else {
                    eprintln!("the proof is not a valid header value");
                    return ExitCode::FAILURE;
                };
                headers.insert("dpop", proof);
            }
            if let Some(certificate) = certificate {
                request.extensions_mut().insert(certificate);
            }
            validator
                .validate_http_request::<serde_json::Value, _>(&request)
                .await
                .map(jwt_gate::Verified::into_claims)
        }
    };
    let result = validated.and_then(|claims| match roles.iter().all(|r| claims.has_role(r)) {
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

/// The first certificate in the PEM file `path` (the leaf: a file may go
/// on with the chain, or the private key).
fn read_certificate(path: &str) -> Result<ClientCertificate, String> {
    const END: &str = "-----END CERTIFICATE-----";
    let pem = std::fs::read_to_string(path).map_err(|e| format!("--client-cert {path:?}: {e}"))?;
    let first = pem.find("-----BEGIN CERTIFICATE-----").and_then(|start| {
        pem[start..]
            .find(END)
            .map(|end| &pem[start..start + end + END.len()])
    });
    first
        .and_then(ClientCertificate::from_pem)
        .ok_or_else(|| format!("--client-cert {path:?}: no PEM CERTIFICATE in it"))
}

fn print_claims(claims: &Claims<serde_json::Value>) {
    let pretty = serde_json::to_string_pretty(claims.custom()).unwrap_or_default();
    println!("{pretty}");
}
