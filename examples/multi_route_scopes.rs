//! One layer authenticates, per-route `RequireScopes` authorizes.
//!
//! `GET /orders` needs `orders.read`; `POST /orders` needs `orders.read` and
//! `orders.write`; `/admin` needs `orders.admin` or `support`. The example
//! calls each route with a few tokens and prints the answers.
//!
//! ```text
//! cargo run --example multi_route_scopes
//! ```

use axum::Router;
use axum::handler::Handler;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{JwtAuthLayer, RequireScopes, Validator};

async fn list() -> &'static str {
    "list"
}

async fn create() -> &'static str {
    "created"
}

async fn admin() -> &'static str {
    "admin"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api://orders")
        .allow_http()
        .build()?;

    let app = Router::new()
        // Each handler gets its own requirement (a layer on the method router
        // would cover every method added before it).
        .route(
            "/orders",
            get(list.layer(RequireScopes::all(["orders.read"])))
                .post(create.layer(RequireScopes::all(["orders.read", "orders.write"]))),
        )
        .route(
            "/admin",
            get(admin.layer(RequireScopes::any(["orders.admin", "support"]))),
        )
        .layer(JwtAuthLayer::new(validator).realm("orders"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    println!(
        "{:<28} {:<14} {:<6} answer",
        "token scopes", "request", "status"
    );
    for scopes in [
        "orders.read",
        "orders.read orders.write",
        "support",
        "orders.admin orders.read",
    ] {
        let token = issuer.token().audience("api://orders").scope(scopes).sign();
        for (method, path) in [("GET", "/orders"), ("POST", "/orders"), ("GET", "/admin")] {
            let request = match method {
                "POST" => client.post(format!("{base}{path}")),
                _ => client.get(format!("{base}{path}")),
            };
            let response = request.bearer_auth(&token).send().await?;
            let status = response.status().as_u16();
            let answer = match response.headers().get("www-authenticate") {
                Some(challenge) => challenge.to_str()?.to_owned(),
                None => response.text().await?,
            };
            println!(
                "{scopes:<28} {:<14} {status:<6} {answer}",
                format!("{method} {path}")
            );
        }
    }
    Ok(())
}
