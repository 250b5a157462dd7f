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

#[path = "support/flags.rs"]
mod flags;

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use flags::KeyFlags;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, JwtAuthLayer, ProtectedResourceMetadata, RequireRoles, RequireScopes};
use serde_json::{Value, json};

fn usage() -> String {
    format!(
        "usage: axum [{}] [--admin-scope S] [--resource URL] [--optional] [--listen ADDR]",
        flags::SHARED
    )
}

/// What the caller proved, and its claims.
async fn claims(claims: Option<Claims<Value>>) -> Json<Value> {
    Json(match claims {
        Some(claims) => json!({
            "authenticated": "bearer",
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
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        keys: KeyFlags::default(),
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        admin_scope: "admin".to_owned(),
        resource: None,
        optional: false,
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
            _ => match options.keys.take(&arg, &mut args) {
                Ok(true) => {}
                Ok(false) => return Err(format!("unknown flag {arg:?}")),
                Err(flags::BadFlag(why)) => return Err(why),
            },
        }
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
    let local = if options.keys.has_source() {
        None
    } else {
        let local = TestIssuer::start().await;
        let mut flags = ["--issuer", local.issuer(), "--allow-http"]
            .map(String::from)
            .into_iter();
        while let Some(flag) = flags.next() {
            options.keys.take(&flag, &mut flags)?;
        }
        Some(local)
    };
    if !options.keys.has_audience() {
        options.keys.take(
            "--audience",
            &mut std::iter::once("api://orders".to_owned()),
        )?;
    }
    let roles = options.keys.roles.clone();
    let allow_http = options.keys.allow_http;
    let builder = options.keys.into_builder()?;
    let authorization_server = builder.configured_issuer().map(str::to_owned);
    let validator = builder.build()?;

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
