//! A configurable resource server: an axum API protected by jwt-gate, to
//! try against your own provider (DESIGN.md §8).
//!
//! ```text
//! cargo run --example axum                      # a local test issuer; prints a token to try
//! cargo run --example axum -- --issuer https://auth.example.com/ --audience api://orders \
//!     [--client-id ID]... [--scope S]... [--typ T] [--require-claim NAME=VALUE]... \
//!     [--max-age SECS] [--role R]... [--roles-claim PATH]... [--admin-scope admin] \
//!     [--preset NAME --its-flags ...] \
//!     [--resource https://api.example.com] \
//!     [--dpop off|allowed|required] [--dpop-nonce] [--public-url URL] [--redis URL] \
//!     [--client-cert-header NAME [--client-cert-format F] [--mtls allowed|required]] \
//!     [--optional] [--listen 127.0.0.1:3000]
//! ```
//!
//! Serves `GET /claims` (any valid token: 200 with the claims as JSON and
//! how the caller authenticated), `GET /admin` (also needs the scope
//! `--admin-scope`, default `admin`), and, with `--resource URL`, the
//! RFC 9728 metadata at its well-known path (the 401 challenges point to
//! it). `--optional` lets requests without a token through (`/claims`
//! answers with `"claims": null`; `/admin` still needs a token). Prints
//! `listening on http://ADDR` once it accepts connections. Without
//! `--issuer`, `--jwks-uri` or `--preset` (the presets of
//! `jwt_gate::providers`, with the flags of the `validate` example), a test
//! issuer on loopback stands in for your IdP. Unknown flags exit 2. Stops
//! with Ctrl-C.
//!
//! DPoP (RFC 9449): `--dpop allowed` accepts `Authorization: DPoP` with a
//! proof beside bearer tokens, `--dpop required` only DPoP (default `off`:
//! bound tokens refused). `--dpop-nonce` demands server nonces (the secret
//! from `JWT_GATE_DPOP_NONCE_SECRET`, at least 32 bytes, so that several
//! servers accept each other's nonces; else a random one). `--public-url
//! URL` is the origin clients use (behind a proxy); `--redis URL` keeps
//! proofs in Redis, so that servers sharing it refuse each other's replays.
//! `/claims` says `"authenticated": "dpop"` or `"bearer"`.
//!
//! Certificate-bound tokens (RFC 8705): this server speaks plain http, so
//! the client certificate comes from the TLS-terminating proxy in front of
//! it, in the header `--client-cert-header NAME` (the proxy must strip it
//! from client requests). `--client-cert-format` says how the proxy writes
//! it: `byte-sequence` (RFC 9440 `Client-Cert: :<base64 DER>:`, the
//! default), `envoy` (`x-forwarded-client-cert`), `escaped-pem` (nginx's
//! `$ssl_client_escaped_cert`) or `base64-der`. `--mtls allowed` (the
//! default with a header) accepts bound and unbound tokens, `--mtls
//! required` only bound ones. `/claims` shows the matched `x5t#S256`. For
//! TLS ending in the server itself, see the `mtls` example.
//!
//! Opaque tokens and API keys take the `validate` example's flags:
//! `--introspect --introspect-client-id ID` (secret from
//! `--introspect-client-secret` or `JWT_GATE_INTROSPECT_SECRET`) and
//! `--api-keys FILE` (keys arrive in `X-API-KEY`). `/claims` says
//! `"origin": "jwt"`, `"introspection"` or `"api_key"`, and
//! `"authenticated": "api_key"` for a key.
//!
//! `--key-snapshot FILE` keeps the last keys fetched in `FILE`: restarted
//! while the issuer is down, the server still validates tokens with them.

#[path = "support/flags.rs"]
mod flags;

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use flags::KeyFlags;
use jwt_gate::dpop::{Dpop, DpopMode, DpopNonces, RedisReplayStore};
use jwt_gate::mtls::{CertificateBinding, CertificateMode, HeaderFormat};
use jwt_gate::{
    AuthScheme, Claims, ClaimsOrigin, JwtAuthLayer, ProtectedResourceMetadata, RequireRoles,
    RequireScopes,
};
use serde_json::{Value, json};

fn usage() -> String {
    format!(
        "usage: axum [{}] [--admin-scope S] [--resource URL] [--dpop off|allowed|required] [--dpop-nonce] [--public-url URL] [--redis URL] [--client-cert-header NAME [--client-cert-format byte-sequence|envoy|escaped-pem|base64-der] [--mtls allowed|required]] [--optional] [--listen ADDR]",
        flags::SHARED
    )
}

/// What the caller proved, and its claims.
async fn claims(claims: Option<Claims<Value>>, scheme: Option<AuthScheme>) -> Json<Value> {
    let how = match scheme {
        Some(AuthScheme::Dpop) => "dpop",
        Some(AuthScheme::ApiKey) => "api_key",
        _ => "bearer",
    };
    Json(match claims {
        Some(claims) => json!({
            "authenticated": how,
            "origin": match claims.origin() {
                ClaimsOrigin::Introspection => "introspection",
                ClaimsOrigin::ApiKey => "api_key",
                _ => "jwt",
            },
            "dpop_jkt": claims.dpop_thumbprint(),
            "x5t#S256": claims.certificate_thumbprint(),
            "roles": claims.roles().iter().collect::<Vec<_>>(),
            "claims": claims.custom(),
        }),
        None => json!({ "authenticated": "anonymous", "claims": null }),
    })
}

/// The example's own flags, then the shared ones.
struct Options {
    keys: KeyFlags,
    listen: SocketAddr,
    admin_scope: String,
    resource: Option<String>,
    optional: bool,
    dpop: DpopMode,
    dpop_nonce: bool,
    public_url: Option<String>,
    redis: Option<String>,
    client_cert_header: Option<String>,
    client_cert_format: HeaderFormat,
    mtls: Option<CertificateMode>,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        keys: KeyFlags::default(),
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        admin_scope: "admin".to_owned(),
        resource: None,
        optional: false,
        dpop: DpopMode::Off,
        dpop_nonce: false,
        public_url: None,
        redis: None,
        client_cert_header: None,
        client_cert_format: HeaderFormat::ByteSequence,
        mtls: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let addr = value()?;
                options.listen = addr
                    .parse()
                    .map_err(|e| format!("--listen {addr:?}: {e}"))?;
            }
            "--admin-scope" => options.admin_scope = value()?,
            "--resource" => options.resource = Some(value()?),
            "--optional" => options.optional = true,
            "--dpop" => {
                options.dpop = match value()?.as_str() {
                    "off" => DpopMode::Off,
                    "allowed" => DpopMode::Allowed,
                    "required" => DpopMode::Required,
                    other => return Err(format!("--dpop {other:?}: off, allowed or required")),
                }
            }
            "--dpop-nonce" => options.dpop_nonce = true,
            "--public-url" => options.public_url = Some(value()?),
            "--redis" => options.redis = Some(value()?),
            "--client-cert-header" => options.client_cert_header = Some(value()?),
            "--client-cert-format" => {
                options.client_cert_format = match value()?.as_str() {
                    "byte-sequence" => HeaderFormat::ByteSequence,
                    "envoy" => HeaderFormat::EnvoyXfcc,
                    "escaped-pem" => HeaderFormat::EscapedPem,
                    "base64-der" => HeaderFormat::Base64Der,
                    other => {
                        return Err(format!(
                            "--client-cert-format {other:?}: byte-sequence, envoy, escaped-pem or base64-der"
                        ));
                    }
                }
            }
            "--mtls" => {
                options.mtls = Some(match value()?.as_str() {
                    "off" => CertificateMode::Off,
                    "allowed" => CertificateMode::Allowed,
                    "required" => CertificateMode::Required,
                    other => return Err(format!("--mtls {other:?}: off, allowed or required")),
                })
            }
            _ => match options.keys.take(&arg, &mut args) {
                Ok(true) => {}
                Ok(false) => return Err(format!("unknown flag {arg:?}")),
                Err(flags::BadFlag(why)) => return Err(why),
            },
        }
    }
    let mtls_on = !matches!(options.mtls, None | Some(CertificateMode::Off));
    if mtls_on && options.client_cert_header.is_none() {
        return Err(
            "--mtls needs --client-cert-header: this server speaks plain http, the certificate comes from the proxy"
                .to_owned(),
        );
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(why) => {
            eprintln!("{why}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}

async fn serve(mut options: Options) -> Result<(), Box<dyn std::error::Error>> {
    // Without a key source, a test issuer on loopback stands in for your IdP.
    let local = options.keys.or_local_issuer().await?;
    let roles = options.keys.roles.clone();
    let allow_http = options.keys.allow_http;
    let dpop = dpop(&options)?;
    let dpop_on = options.dpop != DpopMode::Off;
    let binding = certificate_binding(&options);
    let builder = options.keys.into_builder()?;
    let authorization_server = builder.configured_issuer().map(str::to_owned);
    let validator = builder.dpop(dpop).certificate_binding(binding).build()?;
    let mtls_on = validator.certificate_mode() != CertificateMode::Off;

    let mut layer = JwtAuthLayer::new(validator)
        .claims::<Value>()
        .realm("jwt-gate");
    if options.optional {
        layer = layer.optional();
    }
    let mut app = Router::new().route("/claims", get(claims)).route(
        "/admin",
        get(claims).layer(RequireScopes::all([options.admin_scope.as_str()])),
    );
    if !roles.is_empty() {
        // Every route: behind the authenticating layer added below.
        app = app.layer(RequireRoles::all(&roles));
    }
    if let Some(resource) = &options.resource {
        let mut metadata = ProtectedResourceMetadata::builder(resource.as_str())
            .scopes_supported([options.admin_scope.as_str()])
            .bearer_methods_supported(["header"]);
        if dpop_on {
            metadata = metadata
                .dpop_signing_alg_values_supported(validator_algs())
                .dpop_bound_access_tokens_required(options.dpop == DpopMode::Required);
        }
        if mtls_on {
            metadata = metadata.tls_client_certificate_bound_access_tokens(true);
        }
        if let Some(issuer) = authorization_server {
            metadata = metadata.authorization_server(issuer);
        }
        if allow_http {
            metadata = metadata.allow_http();
        }
        let metadata = metadata.build()?;
        layer = layer.resource_metadata(metadata.well_known_url());
        app = app
            .layer(layer)
            .route_service(&metadata.well_known_path(), metadata.service());
    } else {
        app = app.layer(layer);
    }

    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    if let Some(local) = &local {
        let token = local
            .token()
            .audience("api://orders")
            .scope(&options.admin_scope)
            .sign();
        println!("try: curl -H 'Authorization: Bearer {token}' http://{addr}/claims");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The certificate binding the flags ask for: from the proxy's header,
/// allowed unless `--mtls` says otherwise.
fn certificate_binding(options: &Options) -> CertificateBinding {
    match &options.client_cert_header {
        None => CertificateBinding::off(),
        Some(name) => CertificateBinding::mode(options.mtls.unwrap_or(CertificateMode::Allowed))
            .from_header(name.as_str(), options.client_cert_format),
    }
}

/// The DPoP setting the flags ask for.
fn dpop(options: &Options) -> Result<Dpop, Box<dyn std::error::Error>> {
    let mut dpop = Dpop::mode(options.dpop);
    if options.dpop_nonce {
        let secret = match std::env::var("JWT_GATE_DPOP_NONCE_SECRET") {
            Ok(secret) => secret.into_bytes(),
            Err(_) => {
                let mut secret = vec![0; 32];
                aws_lc_rs::rand::SecureRandom::fill(
                    &aws_lc_rs::rand::SystemRandom::new(),
                    &mut secret,
                )
                .map_err(|_| "no randomness for the nonce secret")?;
                secret
            }
        };
        dpop = dpop.nonces(DpopNonces::new(secret)?);
    }
    if let Some(url) = &options.public_url {
        dpop = dpop.public_origin(url.as_str());
    }
    if let Some(url) = &options.redis {
        dpop = dpop.replay_store(RedisReplayStore::new(url)?);
    }
    Ok(dpop)
}

/// The proof algorithms a DPoP validator accepts by default.
fn validator_algs() -> Vec<&'static str> {
    jwt_gate::dpop::DpopRules::new()
        .allowed_algorithms()
        .map(jwt_gate::Algorithm::as_str)
        .collect()
}
