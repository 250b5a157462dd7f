//! An API a client can discover end to end, all on loopback: the 401
//! challenge names the RFC 9728 metadata, the metadata names the
//! authorization server, its RFC 8414 metadata names the token endpoint, a
//! token is asked for this resource (RFC 8707), and the call succeeds.
//!
//! Run: `cargo run --example protected_resource`

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, JwtAuthLayer, ProtectedResourceMetadata, Validator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The authorization server: a TestIssuer with a client-credentials
    // token endpoint that puts the requested `resource` in `aud`.
    let idp = TestIssuer::start().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // The resource identifier: what clients ask tokens for, and therefore
    // the audience this API accepts (RFC 8707).
    let resource = format!("{base}/orders");

    let metadata = ProtectedResourceMetadata::builder(&resource)
        .authorization_server(idp.issuer())
        .scopes_supported(["orders.read", "orders.write"])
        .resource_name("Orders API")
        .allow_http() // loopback only; RFC 9728 wants https
        .build()?;
    let validator = Validator::builder()
        .issuer(idp.issuer())
        .audience(&resource)
        .allow_http()
        .build()?;

    let api = Router::new()
        .route(
            "/orders",
            get(|claims: Claims| async move {
                format!("orders for client {}\n", claims.subject().unwrap_or("?"))
            }),
        )
        .layer(
            JwtAuthLayer::new(validator)
                .require_scopes(["orders.read"])
                .resource_metadata(metadata.well_known_url()),
        )
        .route_service(&metadata.well_known_path(), metadata.service());
    tokio::spawn(async move { axum::serve(listener, api).await });

    let client = reqwest::Client::new();
    let found = jwt_gate::testing::discover_token(&resource, "orders.read").await?;
    println!(
        "1. GET {resource} → 401\n   WWW-Authenticate: {}",
        found.challenge
    );
    println!(
        "2. GET {} → resource {}",
        found.resource_metadata, found.resource
    );
    println!(
        "3. authorization server {} → token endpoint {}",
        found.authorization_server, found.token_endpoint
    );
    println!(
        "4. POST {} (resource={}) → a token",
        found.token_endpoint, found.resource
    );
    let res = client
        .get(&resource)
        .bearer_auth(&found.access_token)
        .send()
        .await?;
    println!(
        "5. GET {resource} with it → {}: {}",
        res.status(),
        res.text().await?.trim()
    );

    // A token for another resource is refused here (its `aud` differs).
    let other = jwt_gate::testing::request_token(
        &found.token_endpoint,
        &format!("{base}/billing"),
        "orders.read",
    )
    .await?;
    let res = client.get(&resource).bearer_auth(&other).send().await?;
    println!(
        "6. a token for {base}/billing → {}: {}",
        res.status(),
        res.headers()["www-authenticate"].to_str()?
    );
    Ok(())
}
