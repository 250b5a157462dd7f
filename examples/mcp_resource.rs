//! An MCP-style resource server (Model Context Protocol authorization
//! spec), all on loopback: RFC 9728 metadata naming the authorization
//! server and the scopes the routes require, tokens whose audience is the
//! server's canonical URI (RFC 8707), a 401 that names the scopes needed
//! and the metadata, a 403 `insufficient_scope` that names the metadata
//! too, and a scope hierarchy the authorization server defines
//! (`mcp:tools` grants `mcp:tools.read` and `mcp:tools.call`).
//!
//! Run: `cargo run --example mcp_resource`

use axum::Router;
use axum::routing::post;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, JwtAuthLayer, ProtectedResourceMetadata, RequireScopes, Validator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The authorization server (its token endpoint puts the requested
    // `resource` in `aud`).
    let idp = TestIssuer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // The MCP server's canonical URI: what clients ask tokens for, and the
    // one audience accepted (tokens for other servers are refused, and the
    // token is never passed on: handlers get the validated claims).
    let resource = format!("{base}/mcp");

    // Every call needs `mcp:tools.read`; `tools/call` also `mcp:tools.call`.
    let read = ["mcp:tools.read"];
    let call = RequireScopes::all(["mcp:tools.call"]);
    let metadata = ProtectedResourceMetadata::builder(&resource)
        .authorization_server(idp.issuer())
        .scopes_supported(read.into_iter().chain(call.scopes()))
        .resource_name("Example MCP server")
        .allow_http() // loopback only: MCP and RFC 9728 want https
        .build()?;
    let validator = Validator::builder()
        .issuer(idp.issuer())
        .audience(&resource)
        .implied_scopes("mcp:tools", ["mcp:tools.read", "mcp:tools.call"])
        .allow_http()
        .build()?;

    let app = Router::new()
        .route(
            "/mcp",
            post(|c: Claims| async move { reply("tools/list", &c) }),
        )
        .route(
            "/mcp/tools/call",
            post(|c: Claims| async move { reply("tools/call", &c) }).layer(call),
        )
        .layer(
            JwtAuthLayer::new(validator)
                .require_scopes(read)
                .resource_metadata(metadata.well_known_url()),
        )
        .route_service(&metadata.well_known_path(), metadata.service());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let show = |step: &str, res: &reqwest::Response| {
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        println!(
            "{step} → {}\n   WWW-Authenticate: {challenge}",
            res.status()
        );
    };
    let res = client.post(&resource).send().await?;
    show("1. POST /mcp without a token", &res);

    // The client follows the challenge to the metadata and the
    // authorization server, asking for the scope the challenge named.
    let found = jwt_gate::testing::discover_token(&resource, "mcp:tools.read").await?;
    let res = client
        .post(&resource)
        .bearer_auth(&found.access_token)
        .send()
        .await?;
    println!(
        "2. with a token for {} → {}: {}",
        found.resource,
        res.status(),
        res.text().await?.trim()
    );

    let res = client
        .post(format!("{resource}/tools/call"))
        .bearer_auth(&found.access_token)
        .send()
        .await?;
    show("3. POST /mcp/tools/call with mcp:tools.read only", &res);

    // The authorization server's broader scope, mapped by the hierarchy.
    let broad = idp.token().audience(&resource).scope("mcp:tools").sign();
    let res = client
        .post(format!("{resource}/tools/call"))
        .bearer_auth(&broad)
        .send()
        .await?;
    println!(
        "4. with mcp:tools → {}: {}",
        res.status(),
        res.text().await?.trim()
    );
    Ok(())
}

fn reply(method: &str, claims: &Claims) -> String {
    format!(
        "{method} for {} (scopes: {})",
        claims.subject().unwrap_or("?"),
        claims.scopes()
    )
}
