//! Quickstart: an API protected by jwt-gate, called with real tokens.
//!
//! Starts a test issuer (discovery + JWKS over HTTP on 127.0.0.1) and an axum
//! API behind `JwtAuthLayer`, mints tokens (good, IdentityServer-shaped,
//! expired, another audience, missing scope, tampered), calls the API with
//! each, and prints what a client gets back. Needs no network beyond
//! loopback.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, JwtAuthLayer, Validator};
use serde::Deserialize;

/// Your claims. IdentityServer sends `"admin": "false"` and
/// `"tenantId": "1741"` as strings; `jwt_gate::de` reads both shapes.
#[derive(Debug, Deserialize)]
struct MyClaims {
    #[serde(
        rename = "tenantId",
        deserialize_with = "jwt_gate::de::string_or_number"
    )]
    tenant_id: String,
    #[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]
    admin: bool,
}

async fn orders(claims: Claims<MyClaims>) -> String {
    format!(
        "orders of tenant {} for {} (admin: {}, scopes: {})",
        claims.tenant_id,
        claims.subject().unwrap_or("?"),
        claims.admin,
        claims.scopes()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The identity provider: a real issuer on loopback.
    let issuer = TestIssuer::start().await;

    // The resource server: one validator, one layer.
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api://orders")
        .allow_http() // the test issuer speaks plain http on 127.0.0.1
        .build()?;
    validator.warm_up().await?;
    let app = Router::new().route("/orders", get(orders)).layer(
        JwtAuthLayer::new(validator)
            .claims::<MyClaims>()
            .realm("orders")
            .require_scopes(["orders.read"]),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/orders", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let base = || issuer.token().audience("api://orders").scope("orders.read");
    let good = base().claim("tenantId", 42).claim("admin", true).sign();
    let tampered = {
        let (input, _) = good.rsplit_once('.').expect("a JWT");
        format!("{input}.{}", "A".repeat(342))
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("good token", Some(good.clone())),
        (
            "IdentityServer-shaped",
            Some(
                base()
                    .subject("974899")
                    .claim("scope", ["orders.read", "tamarack"])
                    .claim("admin", "false")
                    .claim("tenantId", "1741")
                    .claim("client_id", "ext-1741-sample-client")
                    .sign(),
            ),
        ),
        ("no token", None),
        ("not a bearer header", Some("Basic dXNlcjpwYXNz".into())),
        (
            "expired",
            Some(
                base()
                    .claim("tenantId", 1)
                    .expired_since(Duration::from_secs(3600))
                    .sign(),
            ),
        ),
        (
            "wrong audience",
            Some(base().claim("tenantId", 1).audience("api://billing").sign()),
        ),
        (
            "missing scope",
            Some(base().claim("tenantId", 1).scope("profile").sign()),
        ),
        ("tampered signature", Some(tampered)),
    ];

    let client = reqwest::Client::new();
    println!("{:<22} {:<6} response", "request", "status");
    println!("{}", "-".repeat(110));
    for (name, token) in cases {
        let mut request = client.get(&url);
        if let Some(token) = token {
            let value = if token.starts_with("Basic ") {
                token
            } else {
                format!("Bearer {token}")
            };
            request = request.header("authorization", value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await?;
        match challenge {
            None => println!("{name:<22} {status:<6} {body}"),
            Some(challenge) => println!("{name:<22} {status:<6} WWW-Authenticate: {challenge}"),
        }
    }
    Ok(())
}
