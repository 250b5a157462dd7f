//! One API trusting three kinds of issuers at once, all on loopback: an
//! Auth0-shaped tenant (trailing-slash issuer, `aud` an array, `scope` a
//! string), an IdentityServer-shaped one (`typ: at+jwt` required, `scope`
//! an array, `tenantId` and `admin` as strings), and templated tenants
//! (`…/tenants/{tenant}`, like Entra ID's `…/{tenant}/v2.0`) admitted by an
//! allow-list and discovered on first use.
//!
//! Run: `cargo run --example multi_issuer`

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Algorithm, Claims, IssuerBuilder, IssuerTemplate, JwtAuthLayer, Validator, de};
use serde::Deserialize;
use tower::ServiceExt;

/// The claims every issuer's tokens are read into.
#[derive(Debug, Deserialize)]
struct Tenant {
    #[serde(rename = "tenantId", default)]
    tenant_id: Option<String>,
    #[serde(default, deserialize_with = "de::option_bool_or_string")]
    admin: Option<bool>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth0 = TestIssuer::builder().trailing_slash().start().await;
    let ids = TestIssuer::builder()
        .algorithm(Algorithm::ES256)
        .start()
        .await;
    let tenants = TestIssuer::start().await;

    let validator = Validator::multi_issuer()
        .trust(
            IssuerBuilder::new()
                .issuer(auth0.issuer())
                .audience("https://api.example.com")
                .algorithms([Algorithm::RS256])
                .allow_http(),
        )
        .trust(
            IssuerBuilder::new()
                .issuer(ids.issuer())
                .audience("api://orders")
                .require_typ("at+jwt")
                .algorithms([Algorithm::ES256])
                .allow_http(),
        )
        .trust_template(
            IssuerTemplate::new(&tenants.tenant_issuer("{tenant}"))?
                .tenants(["contoso", "fabrikam"]),
            IssuerBuilder::new().audience("api://orders").allow_http(),
        )
        .max_discovered_issuers(1_000)
        .build()?;

    let app = Router::new()
        .route(
            "/whoami",
            get(|claims: Claims<Tenant>| async move {
                format!(
                    "iss={} tenantId={:?} admin={:?} scopes={:?}",
                    claims.issuer().unwrap_or("?"),
                    claims.tenant_id,
                    claims.admin,
                    claims.scopes().iter().collect::<Vec<_>>()
                )
            }),
        )
        .layer(JwtAuthLayer::new(validator.clone()).claims::<Tenant>());

    let stranger = TestIssuer::start().await;
    let cases = [
        (
            "Auth0-shaped",
            auth0
                .token()
                .audiences(&[
                    "https://api.example.com",
                    "https://example.eu.auth0.com/userinfo",
                ])
                .scope("orders.read profile")
                .header("typ", "JWT")
                .sign(),
        ),
        (
            "IdentityServer-shaped",
            ids.token()
                .audience("api://orders")
                .claim("scope", ["orders.read"])
                .claim("tenantId", "1741")
                .claim("admin", "false")
                .sign(),
        ),
        (
            "tenant contoso",
            tenants
                .token()
                .issuer(&tenants.tenant_issuer("contoso"))
                .audience("api://orders")
                .claim("tenantId", "contoso")
                .sign(),
        ),
        (
            "tenant not on the list",
            tenants
                .token()
                .issuer(&tenants.tenant_issuer("mallory"))
                .audience("api://orders")
                .sign(),
        ),
        (
            "IdentityServer token without at+jwt",
            ids.token()
                .audience("api://orders")
                .header("typ", "JWT")
                .sign(),
        ),
        (
            "claims Auth0's iss, signed elsewhere",
            stranger
                .token()
                .issuer(auth0.issuer())
                .audience("https://api.example.com")
                .sign(),
        ),
    ];
    for (name, token) in cases {
        let req = http::Request::get("/whoami")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())?;
        let res = app.clone().oneshot(req).await?;
        let status = res.status();
        let detail = match res.headers().get("www-authenticate") {
            Some(challenge) => challenge.to_str()?.to_owned(),
            None => {
                let body = axum::body::to_bytes(res.into_body(), 1 << 16).await?;
                String::from_utf8(body.to_vec())?
            }
        };
        println!("{name:<38} {status}  {detail}");
    }
    println!("\nissuers held:");
    for (issuer, status) in validator.issuer_statuses() {
        println!("  {issuer:<45} keys: {}", status.key_count);
    }
    println!(
        "fetches under /tenants/: {} (contoso only; mallory cost none)",
        tenants.tenant_fetches()
    );
    Ok(())
}
