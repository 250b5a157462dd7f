//! An axum API protected by jwt-gate.
//!
//! ```text
//! cargo run --example axum                                         # a local test issuer; prints a token to try
//! cargo run --example axum -- https://auth.example.com/ api://orders   # your issuer and audience
//! ```
//!
//! Then `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me`.
//! `/health` is public; `/me` needs a token; `/orders` also the scope
//! `orders.read`. Stops with Ctrl-C.

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, JwtAuthLayer, RequireScopes, Validator};

async fn me(claims: Claims<serde_json::Value>) -> axum::Json<serde_json::Value> {
    axum::Json(claims.custom().clone())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (issuer, audience) = (args.next(), args.next());
    // Without arguments, a test issuer on loopback stands in for your IdP.
    let local = match issuer {
        Some(_) => None,
        None => Some(TestIssuer::start().await),
    };
    let mut builder =
        Validator::builder().audience(audience.unwrap_or_else(|| "api://orders".into()));
    builder = match (&local, issuer) {
        (Some(local), _) => builder.issuer(local.issuer()).allow_http(),
        (None, Some(issuer)) => builder.issuer(issuer),
        (None, None) => unreachable!(),
    };
    let validator = builder.build()?;
    validator.warm_up().await?;

    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/orders",
            get(|| async { "[]" }).layer(RequireScopes::all(["orders.read"])),
        )
        .layer(JwtAuthLayer::<serde_json::Value>::new(validator).realm("orders"));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    if let Some(local) = &local {
        let token = local
            .token()
            .audience("api://orders")
            .scope("orders.read")
            .sign();
        println!("try: curl -H 'Authorization: Bearer {token}' http://127.0.0.1:3000/me");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
