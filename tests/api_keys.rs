//! API keys over real HTTP (axum on a loopback socket, called with
//! reqwest): a good key gives its claims to the handler as the same
//! `Claims<C>` a token gives, a bearer token still works beside them, and
//! every misuse gets its documented response.

mod common;

use axum::routing::get;
use axum::{Json, Router};
use common::TenantClaims;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{ApiKeys, AuthScheme, Claims, JwtAuthLayer, RequireRoles, RequireScopes, Validator};
use serde_json::{Value, json};

const AUD: &str = "api://orders";
const KEY: &str = "k3y-0f-tenant-1741-0123456789abcdef";

async fn start(keys: ApiKeys) -> (String, TestIssuer) {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .roles_from("roles")
        .api_keys(keys)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/claims",
            get(
                |claims: Claims<TenantClaims>, scheme: AuthScheme| async move {
                    Json(json!({
                        "sub": claims.subject(),
                        "tenantId": claims.tenant_id,
                        "admin": claims.admin,
                        "origin": format!("{:?}", claims.origin()),
                        "scheme": format!("{scheme:?}"),
                    }))
                },
            ),
        )
        .route(
            "/admin",
            get(|| async { "admin" }).layer(RequireScopes::all(["admin"])),
        )
        .route(
            "/billing",
            get(|| async { "billing" }).layer(RequireRoles::any(["billing-admin"])),
        )
        .layer(JwtAuthLayer::new(validator).claims::<TenantClaims>());
    (common::serve(app).await, issuer)
}

fn keys() -> ApiKeys {
    ApiKeys::new()
        .key(
            KEY,
            json!({"sub": "billing-job", "tenantId": "1741", "admin": "false", "scope": "orders.read", "roles": ["billing-admin"]}),
        )
        .key("expired-key", json!({"sub": "old", "tenantId": 1, "exp": 1_000_000_000}))
}

async fn get_with(base: &str, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    common::get_with(&format!("{base}{path}"), headers).await
}

fn challenges(res: &reqwest::Response) -> Vec<String> {
    common::challenges(res)
}

#[tokio::test]
async fn a_good_key_gives_the_handler_the_same_claims_as_a_token() {
    let (base, issuer) = start(keys()).await;
    let res = get_with(&base, "/claims", &[("x-api-key", KEY)]).await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"sub": "billing-job", "tenantId": "1741", "admin": false, "origin": "ApiKey", "scheme": "ApiKey"})
    );
    // The header name is case-insensitive, as HTTP says.
    let res = get_with(&base, "/claims", &[("X-Api-Key", KEY)]).await;
    assert_eq!(res.status(), 200);
    // A token still works beside the keys.
    let token = issuer.token().audience(AUD).claim("tenantId", 1741).sign();
    let res = get_with(
        &base,
        "/claims",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["tenantId"], "1741");
    assert_eq!(body["origin"], "Jwt");
    // Route guards read the key's scopes and roles (the validator's
    // `roles_from`) like a token's.
    let res = get_with(&base, "/admin", &[("x-api-key", KEY)]).await;
    assert_eq!(res.status(), 403);
    let res = get_with(&base, "/billing", &[("x-api-key", KEY)]).await;
    assert_eq!(res.status(), 200);
    let res = get_with(
        &base,
        "/billing",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(res.status(), 403, "the token has no such role");
}

#[tokio::test]
async fn misuse_gets_the_documented_responses() {
    let (base, issuer) = start(keys()).await;
    let invalid = r#"ApiKey header="X-API-KEY", error="invalid_key", error_description="The API key is not accepted""#;
    let malformed = r#"ApiKey header="X-API-KEY", error="invalid_request", error_description="The request must carry exactly one API key, and no token beside it""#;
    for (why, headers, status, challenge) in [
        (
            "unknown key",
            vec![("x-api-key", "not-a-key")],
            401,
            invalid,
        ),
        (
            "a prefix of a key",
            vec![("x-api-key", &KEY[..10])],
            401,
            invalid,
        ),
        (
            "expired key",
            vec![("x-api-key", "expired-key")],
            401,
            invalid,
        ),
        ("empty key", vec![("x-api-key", "")], 400, malformed),
        (
            "two keys",
            vec![("x-api-key", KEY), ("x-api-key", KEY)],
            400,
            malformed,
        ),
    ] {
        let res = get_with(&base, "/claims", &headers).await;
        assert_eq!(res.status(), status, "{why}");
        assert_eq!(challenges(&res), vec![challenge.to_owned()], "{why}");
    }
    let token = issuer.token().audience(AUD).claim("tenantId", 1741).sign();
    let bearer = format!("Bearer {token}");
    let res = get_with(
        &base,
        "/claims",
        &[("x-api-key", KEY), ("authorization", &bearer)],
    )
    .await;
    assert_eq!(res.status(), 400, "key and bearer");
    assert_eq!(challenges(&res), vec![malformed.to_owned()]);
    let res = get_with(
        &base,
        &format!("/claims?access_token={token}"),
        &[("x-api-key", KEY)],
    )
    .await;
    assert_eq!(res.status(), 400, "key and query token");
    // No credential at all: both schemes are offered.
    let res = get_with(&base, "/claims", &[]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        vec![
            "Bearer".to_owned(),
            r#"ApiKey header="X-API-KEY""#.to_owned()
        ]
    );
}

#[tokio::test]
async fn keys_from_a_file_and_another_header() {
    let dir = std::env::temp_dir().join(format!("jwt-gate-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.json");
    // printf %s secret | sha256sum
    let entries = json!([{
        "name": "reporting",
        "sha256": "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
        "claims": {"sub": "reporting", "tenantId": "7"}
    }]);
    std::fs::write(&file, entries.to_string()).unwrap();
    let keys = ApiKeys::new().header("Api-Key").from_file(&file).unwrap();
    let (base, _issuer) = start(keys).await;
    let res = get_with(&base, "/claims", &[("api-key", "secret")]).await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["tenantId"], "7");
    let res = get_with(&base, "/claims", &[("x-api-key", "secret")]).await;
    assert_eq!(res.status(), 401, "the default header is not read");
    assert_eq!(
        challenges(&res),
        vec!["Bearer".to_owned(), r#"ApiKey header="api-key""#.to_owned()]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_key_standing_for_the_wrong_shape_is_found_at_build() {
    let err = Validator::builder()
        .keys(jwt_gate::KeySet::new().with_secret(None, &[7; 32]).unwrap())
        .audience(AUD)
        .api_keys(ApiKeys::new().key("k", json!({"scope": 42})))
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "api_keys");
}
