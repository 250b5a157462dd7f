//! RFC 9728 metadata served over a real socket, the `resource_metadata`
//! challenge parameter byte for byte, and RFC 8707: a client discovers the
//! API end to end and its token, asked for this resource, is the only kind
//! accepted.

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{JwtAuthLayer, ProtectedResourceMetadata, Validator};
use serde_json::{Value, json};

struct Api {
    base: String,
    resource: String,
    metadata_url: String,
    idp: TestIssuer,
    client: reqwest::Client,
}

/// `/orders` (needs `orders.read`) and its metadata, on 127.0.0.1.
async fn start() -> Api {
    let idp = TestIssuer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}/orders");
    let metadata = ProtectedResourceMetadata::builder(&resource)
        .authorization_server(idp.issuer())
        .scopes_supported(["orders.read", "orders.write"])
        .bearer_methods_supported(["header"])
        .resource_signing_alg_values_supported(["RS256", "ES256"])
        .resource_name("Orders API")
        .resource_documentation("https://docs.example.com/orders")
        .resource_policy_uri("https://example.com/policy")
        .resource_tos_uri("https://example.com/tos")
        .jwks_uri(format!("{base}/jwks"))
        .tls_client_certificate_bound_access_tokens(false)
        .authorization_details_types_supported(["payment_initiation"])
        .dpop_signing_alg_values_supported(["ES256"])
        .dpop_bound_access_tokens_required(false)
        .field("x_extension", json!({"a": 1}))
        .allow_http()
        .build()
        .unwrap();
    let validator = Validator::builder()
        .issuer(idp.issuer())
        .audience(&resource)
        .allow_http()
        .build()
        .unwrap();
    let metadata_url = metadata.well_known_url();
    let api = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .layer(
            JwtAuthLayer::new(validator)
                .require_scopes(["orders.read"])
                .resource_metadata(&metadata_url),
        )
        .route_service(&metadata.well_known_path(), metadata.service());
    tokio::spawn(async move { axum::serve(listener, api).await });
    Api {
        base,
        resource,
        metadata_url,
        idp,
        client: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn metadata_matches_rfc_9728_field_for_field() {
    let api = start().await;
    assert_eq!(
        api.metadata_url,
        format!("{}/.well-known/oauth-protected-resource/orders", api.base)
    );
    let res = api.client.get(&api.metadata_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "resource": api.resource,
            "authorization_servers": [api.idp.issuer()],
            "jwks_uri": format!("{}/jwks", api.base),
            "scopes_supported": ["orders.read", "orders.write"],
            "bearer_methods_supported": ["header"],
            "resource_signing_alg_values_supported": ["RS256", "ES256"],
            "resource_name": "Orders API",
            "resource_documentation": "https://docs.example.com/orders",
            "resource_policy_uri": "https://example.com/policy",
            "resource_tos_uri": "https://example.com/tos",
            "tls_client_certificate_bound_access_tokens": false,
            "authorization_details_types_supported": ["payment_initiation"],
            "dpop_signing_alg_values_supported": ["ES256"],
            "dpop_bound_access_tokens_required": false,
            "x_extension": {"a": 1},
        })
    );
    // Only the path-inserted form of this resource is served (the root
    // form falls through to the protected router here).
    let root = format!("{}/.well-known/oauth-protected-resource", api.base);
    assert_ne!(api.client.get(&root).send().await.unwrap().status(), 200);
    let post = api.client.post(&api.metadata_url).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn challenges_carry_the_exact_resource_metadata_parameter() {
    let api = start().await;
    let challenge = |res: reqwest::Response| {
        (
            res.status().as_u16(),
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned(),
        )
    };
    let url = &api.resource;
    let missing = challenge(api.client.get(url).send().await.unwrap());
    // The scopes needed, then where to get a token (MCP authorization spec).
    assert_eq!(
        missing,
        (
            401,
            format!(
                r#"Bearer scope="orders.read", resource_metadata="{}""#,
                api.metadata_url
            )
        )
    );
    let expired = api
        .idp
        .token()
        .audience(url)
        .scope("orders.read")
        .expired_since(std::time::Duration::from_secs(120))
        .sign();
    let res = api
        .client
        .get(url)
        .bearer_auth(expired)
        .send()
        .await
        .unwrap();
    assert_eq!(
        challenge(res),
        (
            401,
            format!(
                r#"Bearer error="invalid_token", error_description="The access token expired", resource_metadata="{}""#,
                api.metadata_url
            )
        )
    );
    // 403 insufficient_scope carries it too (MCP authorization spec: the
    // client may need to ask the authorization server for more).
    let reader = api.idp.token().audience(url).scope("profile").sign();
    let res = api
        .client
        .get(url)
        .bearer_auth(reader)
        .send()
        .await
        .unwrap();
    assert_eq!(
        challenge(res),
        (
            403,
            format!(
                r#"Bearer error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token", scope="orders.read", resource_metadata="{}""#,
                api.metadata_url
            )
        )
    );
}

#[tokio::test]
async fn a_client_discovers_the_api_and_only_a_token_for_this_resource_passes() {
    let api = start().await;
    let found = jwt_gate::testing::discover_token(&api.resource, "orders.read")
        .await
        .unwrap();
    assert_eq!(found.resource, api.resource);
    assert_eq!(found.authorization_server, api.idp.issuer());
    let ok = api
        .client
        .get(&api.resource)
        .bearer_auth(&found.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // RFC 8707: the same client, the same scope, another resource → its
    // `aud` is that resource, and this API refuses it.
    let billing = format!("{}/billing", api.base);
    let other = jwt_gate::testing::request_token(&found.token_endpoint, &billing, "orders.read")
        .await
        .unwrap();
    let res = api
        .client
        .get(&api.resource)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("audience is not accepted")
    );
    // And the authorization server wants exactly one resource.
    let err = jwt_gate::testing::request_token(&found.token_endpoint, "", "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_target"), "{err}");
    assert_eq!(api.idp.tokens_issued(), 2);
}
