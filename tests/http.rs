//! The tower layer in an axum server on a real socket, called with reqwest:
//! statuses and exact challenge bytes (RFC 6750), optional mode, per-route
//! scopes, extractors, and the inner service never called on rejection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod common;

use axum::Router;
use axum::routing::{any, get};
use common::TenantClaims as Tenant;
use common::serve;
use jwt_gate::testing::{IssuerMode, TestIssuer};
use jwt_gate::{Claims, JwtAuthLayer, RequireScopes, Validator};

const AUD: &str = "api://orders";

struct Api {
    base: String,
    issuer: TestIssuer,
    calls: Arc<AtomicUsize>,
    client: reqwest::Client,
}

impl Api {
    /// An API on 127.0.0.1: `/orders` needs `orders.read` (layer level),
    /// `/admin` also `orders.admin` (RequireScopes), `/me` reads typed claims,
    /// `/public` is optional, `/unprotected` has no layer.
    async fn start() -> Self {
        let issuer = TestIssuer::start().await;
        let validator = Validator::builder()
            .issuer(issuer.issuer())
            .audience(AUD)
            .allow_http()
            .fetch_timeout(Duration::from_millis(500))
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(100))
            .build()
            .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = |calls: &Arc<AtomicUsize>, body: &'static str| {
            let calls = Arc::clone(calls);
            move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                body
            }
        };
        let protected = Router::new()
            .route("/orders", get(counted(&calls, "orders")))
            .route("/grpc", any(counted(&calls, "grpc")))
            .route(
                "/admin",
                get(counted(&calls, "admin")).layer(RequireScopes::all(["orders.admin"])),
            )
            .route(
                "/support",
                get(counted(&calls, "support"))
                    .layer(RequireScopes::any(["support", "orders.admin"])),
            )
            .route(
                "/me",
                get(|claims: Claims<Tenant>| async move {
                    format!(
                        "{} {} {}",
                        claims.subject().unwrap_or("-"),
                        claims.tenant_id,
                        claims.admin
                    )
                }),
            )
            .layer(
                JwtAuthLayer::new(validator.clone())
                    .claims::<Tenant>()
                    .realm("orders")
                    .require_scopes(["orders.read"])
                    .resource_metadata(
                        "https://api.example.com/.well-known/oauth-protected-resource",
                    ),
            );
        let public = Router::new()
            .route(
                "/public",
                get(|claims: Option<Claims>| async move {
                    claims.map_or("anonymous".to_owned(), |c| {
                        c.subject().unwrap_or("-").to_owned()
                    })
                }),
            )
            .route(
                "/public-admin",
                get(counted(&calls, "public-admin")).layer(RequireScopes::all(["orders.admin"])),
            )
            .layer(JwtAuthLayer::new(validator).optional().realm("orders"));
        let unprotected = Router::new().route("/unprotected", get(|_: Claims| async { "never" }));
        let base = serve(protected.merge(public).merge(unprotected)).await;
        Self {
            base,
            issuer,
            calls,
            client: reqwest::Client::new(),
        }
    }

    fn token(&self) -> jwt_gate::testing::TokenBuilder {
        self.issuer
            .token()
            .audience(AUD)
            .scope("orders.read")
            .claim("tenantId", "1741")
            .claim("admin", "false")
    }

    async fn get(&self, path: &str, auth: &[&str]) -> (u16, Option<String>, String) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        for value in auth {
            req = req.header("authorization", *value);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, challenge, res.text().await.unwrap())
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// A tokenless POST to `/grpc` with this content type.
    async fn post_grpc(&self, content_type: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/grpc", self.base))
            .header("content-type", content_type)
            .send()
            .await
            .unwrap()
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const RM: &str =
    r#", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#;

#[tokio::test]
async fn no_token_is_401_naming_the_scopes_the_route_needs() {
    // No error code (RFC 6750 §3.1); the scopes needed and the metadata
    // URL, as the MCP authorization spec asks.
    let api = Api::start().await;
    let (status, challenge, _) = api.get("/orders", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.unwrap(),
        format!(r#"Bearer realm="orders", scope="orders.read"{RM}"#)
    );
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn malformed_header_two_tokens_and_other_schemes_are_400_invalid_request() {
    let api = Api::start().await;
    let token = api.token().sign();
    let want = r#"Bearer realm="orders", error="invalid_request", error_description="The request must carry exactly one Bearer token, in the Authorization header""#;
    for auth in [
        vec!["Basic dXNlcjpwYXNz".to_owned()],
        vec!["Bearer".to_owned()],
        vec![format!("Bearer {token} extra")],
        vec![bearer(&token), bearer(&token)],
    ] {
        let auth: Vec<&str> = auth.iter().map(String::as_str).collect();
        let (status, challenge, _) = api.get("/orders", &auth).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (400, Some(want)),
            "{auth:?}"
        );
    }
    let (status, _, _) = api
        .get(&format!("/orders?access_token={token}"), &[&bearer(&token)])
        .await;
    assert_eq!(status, 400, "a token in two places");
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn invalid_tokens_are_401_invalid_token_with_fixed_descriptions() {
    let api = Api::start().await;
    let good = api.token().sign();
    let (h, p, s) = {
        let mut it = good.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let mut sig = s.as_bytes().to_vec();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let bad_signature = format!("{h}.{p}.{}", String::from_utf8(sig).unwrap());
    for (token, description) in [
        (
            api.token().expired_since(Duration::from_secs(3600)).sign(),
            "The access token expired",
        ),
        (bad_signature, "The access token signature is invalid"),
        (
            api.token().audience("api://billing").sign(),
            "The access token audience is not accepted",
        ),
        ("not-a-jwt".to_owned(), "The access token is malformed"),
    ] {
        let (status, challenge, _) = api.get("/orders", &[&bearer(&token)]).await;
        assert_eq!(status, 401, "{description}");
        assert_eq!(
            challenge.unwrap(),
            format!(
                r#"Bearer realm="orders", error="invalid_token", error_description="{description}"{RM}"#
            )
        );
    }
    assert_eq!(
        api.calls(),
        0,
        "the inner service is never called on rejection"
    );
}

#[tokio::test]
async fn insufficient_scope_is_403_at_layer_and_route_level() {
    let api = Api::start().await;
    let no_read = api.token().scope("profile").sign();
    let (status, challenge, _) = api.get("/orders", &[&bearer(&no_read)]).await;
    assert_eq!(status, 403);
    // resource_metadata on 403 too (MCP authorization spec).
    assert_eq!(
        challenge.unwrap(),
        format!(
            r#"Bearer realm="orders", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token", scope="orders.read"{RM}"#
        )
    );
    let reader = api.token().sign();
    let (status, challenge, _) = api.get("/admin", &[&bearer(&reader)]).await;
    assert_eq!(status, 403);
    assert!(
        challenge
            .unwrap()
            .ends_with(&format!(r#"scope="orders.admin"{RM}"#))
    );
    let (status, _, body) = api.get("/orders", &[&bearer(&reader)]).await;
    assert_eq!((status, body.as_str()), (200, "orders"));
    let admin = api.token().scope("orders.read orders.admin").sign();
    let (status, _, body) = api.get("/admin", &[&bearer(&admin)]).await;
    assert_eq!((status, body.as_str()), (200, "admin"));
    // any-of
    let (status, challenge, _) = api.get("/support", &[&bearer(&reader)]).await;
    assert_eq!(status, 403);
    assert!(
        challenge
            .unwrap()
            .ends_with(&format!(r#"scope="orders.admin support"{RM}"#))
    );
    let support = api.token().scope("orders.read support").sign();
    assert_eq!(api.get("/support", &[&bearer(&support)]).await.0, 200);
    assert_eq!(api.calls(), 3);
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after_and_no_challenge() {
    let api = Api::start().await;
    api.issuer.set_mode(IssuerMode::Down);
    let res = api
        .client
        .get(format!("{}/orders", api.base))
        .header("authorization", bearer(&api.token().sign()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // The key store's first backoff (1 s by default), not a fixed guess.
    assert_eq!(res.headers()["retry-after"], "1");
    assert!(res.headers().get("www-authenticate").is_none());
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn optional_mode_lets_anonymous_requests_through_but_not_bad_tokens() {
    let api = Api::start().await;
    let (status, challenge, body) = api.get("/public", &[]).await;
    assert_eq!((status, challenge, body.as_str()), (200, None, "anonymous"));
    let (status, _, body) = api
        .get("/public", &[&bearer(&api.token().subject("ada").sign())])
        .await;
    assert_eq!((status, body.as_str()), (200, "ada"));
    let expired = api.token().expired_since(Duration::from_secs(600)).sign();
    let (status, challenge, _) = api.get("/public", &[&bearer(&expired)]).await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
    // Anonymous callers meet RequireScopes with a 401, not a 403, told
    // the scopes the route needs.
    let (status, challenge, _) = api.get("/public-admin", &[]).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some(r#"Bearer realm="orders", scope="orders.admin""#))
    );
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn lowercase_bearer_and_typed_claims_reach_the_handler() {
    let api = Api::start().await;
    let token = api.token().subject("974899").sign();
    let (status, _, body) = api.get("/me", &[&format!("bearer {token}")]).await;
    assert_eq!((status, body.as_str()), (200, "974899 1741 false"));
}

#[tokio::test]
async fn extracting_claims_without_the_layer_is_a_500_naming_the_type() {
    let api = Api::start().await;
    let (status, _, body) = api.get("/unprotected", &[]).await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        "`Claims<()>` not found in request extensions. Is `JwtAuthLayer<()>` applied to this route?"
    );
}

#[tokio::test]
async fn grpc_requests_get_trailers_only_rejections_from_the_layer() {
    let api = Api::start().await;
    for (auth, code) in [
        (None, "16"),
        (Some(api.token().scope("profile").sign()), "7"),
        (
            Some(api.token().expired_since(Duration::from_secs(60)).sign()),
            "16",
        ),
    ] {
        let mut req = api
            .client
            .post(format!("{}/grpc", api.base))
            .header("content-type", "application/grpc");
        if let Some(token) = auth {
            req = req.header("authorization", bearer(&token));
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{:?}", res.headers());
        assert_eq!(
            res.headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap()),
            Some(code),
            "{:?}",
            res.headers()
        );
        assert!(res.headers().contains_key("grpc-message"));
    }
    assert_eq!(api.calls(), 0);
    // A cold API whose issuer is down: keys unavailable, gRPC 14.
    let cold = Api::start().await;
    cold.issuer.set_mode(IssuerMode::Down);
    let res = cold
        .client
        .post(format!("{}/grpc", cold.base))
        .header("content-type", "application/grpc+proto")
        .header("authorization", bearer(&cold.token().sign()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["grpc-status"], "14");
    assert_eq!(cold.calls(), 0);
}

#[tokio::test]
async fn the_rejection_body_hook_keeps_status_and_challenge() {
    let issuer = TestIssuer::start().await;
    let app = Router::new().route("/", get(|| async { "ok" })).layer(
        JwtAuthLayer::new(validator(&issuer))
            .realm("orders")
            .rejection_body(|e: &jwt_gate::Error| {
                axum::body::Body::from(format!(
                    r#"{{"error":"{}"}}"#,
                    e.bearer_code().unwrap_or("unauthorized")
                ))
            }),
    );
    let base = serve(app).await;
    let res = reqwest::Client::new()
        .get(&base)
        .header("authorization", "Bearer x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(res.text().await.unwrap(), r#"{"error":"invalid_token"}"#);
}

#[tokio::test]
async fn error_is_an_axum_response_with_the_same_mapping() {
    use axum::response::IntoResponse;
    let res = jwt_gate::Error::InsufficientScope {
        required: "orders.write".into(),
    }
    .into_response();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token", scope="orders.write""#
    );
    let res = jwt_gate::Error::KeysUnavailable {
        source: None,
        retry_after: None,
    }
    .into_response();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert!(res.headers().get("www-authenticate").is_none());
    let body = axum::body::to_bytes(
        jwt_gate::Error::MissingToken.into_response().into_body(),
        1024,
    )
    .await
    .unwrap();
    assert_eq!(&body[..], b"No access token was sent");
}

// ---- surprises found from outside ----

/// Serves `app` on a free port of 127.0.0.1; its base URL.
fn validator(issuer: &TestIssuer) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_optional_layer_lets_other_schemes_through_untouched() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/",
            get(
                |claims: Option<Claims>, headers: axum::http::HeaderMap| async move {
                    let auth = headers
                        .get("authorization")
                        .map_or("-", |v| v.to_str().unwrap())
                        .to_owned();
                    format!("{} {auth}", claims.is_some())
                },
            ),
        )
        .layer(JwtAuthLayer::new(validator(&issuer)).optional());
    let base = serve(app).await;
    let client = reqwest::Client::new();
    let get = |auth: &'static str| {
        let req = client.get(&base).header("authorization", auth);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    for scheme in ["Basic dXNlcjpwYXNz", "ApiKey k-123", "DPoP x.y.z"] {
        assert_eq!(get(scheme).await, (200, format!("false {scheme}")));
    }
    // A malformed or invalid bearer token is still ours to refuse.
    assert_eq!(get("Bearer a b").await.0, 400);
    assert_eq!(get("Bearer x.y.z").await.0, 401);
    let token = issuer.token().audience(AUD).sign();
    let res = client
        .get(&base)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a bearer token among other credentials");
}

#[tokio::test]
async fn require_scopes_any_of_nothing_denies_everyone() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/empty",
            get(|| async { "in" }).layer(RequireScopes::any(Vec::<String>::new())),
        )
        .route(
            "/blank",
            get(|| async { "in" }).layer(RequireScopes::any(["", "  "])),
        )
        .layer(JwtAuthLayer::new(validator(&issuer)).realm("orders"));
    let base = serve(app).await;
    let token = issuer
        .token()
        .audience(AUD)
        .scope("orders.read admin")
        .sign();
    for path in ["/empty", "/blank"] {
        let res = reqwest::Client::new()
            .get(format!("{base}{path}"))
            .header("authorization", bearer(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="orders", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token""#
        );
    }
}

#[tokio::test]
async fn optional_claims_of_another_type_are_a_500_not_anonymous() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/",
            get(|claims: Option<Claims<Tenant>>| async move {
                if claims.is_some() {
                    "signed in"
                } else {
                    "anonymous"
                }
            }),
        )
        .layer(JwtAuthLayer::new(validator(&issuer)).optional());
    let base = serve(app).await;
    let client = reqwest::Client::new();
    let res = client.get(&base).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.text().await.unwrap().as_str()),
        (200, "anonymous")
    );
    let token = issuer
        .token()
        .audience(AUD)
        .claim("tenantId", "1741")
        .sign();
    let res = client
        .get(&base)
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("TenantClaims>` not found in request extensions")
    );
    // Without any layer: the same 500, never a silent None.
    let bare = serve(Router::new().route(
        "/",
        get(|claims: Option<Claims>| async move { format!("{}", claims.is_some()) }),
    ))
    .await;
    assert_eq!(client.get(&bare).send().await.unwrap().status(), 500);
}

#[tokio::test]
async fn grpc_is_recognised_in_any_case_and_grpc_web_gets_its_own_content_type() {
    let api = Api::start().await;
    for (request_type, reply_type) in [
        ("Application/GRPC", "application/grpc"),
        ("application/grpc+proto", "application/grpc"),
        ("application/grpc-web", "application/grpc-web"),
        ("application/grpc-web+proto", "application/grpc-web+proto"),
        ("application/grpc-web-text", "application/grpc-web-text"),
        (
            "APPLICATION/GRPC-WEB-TEXT+proto",
            "APPLICATION/GRPC-WEB-TEXT+proto",
        ),
    ] {
        let res = api.post_grpc(request_type).await;
        assert_eq!(res.status(), 200, "{request_type}");
        assert_eq!(res.headers()["grpc-status"], "16", "{request_type}");
        assert_eq!(res.headers()["content-type"], reply_type);
    }
    // Not gRPC: an ordinary 401.
    for request_type in ["application/grpcx", "application/grpc-webby", "text/grpc"] {
        let res = api.post_grpc(request_type).await;
        assert_eq!(res.status(), 401, "{request_type}");
    }
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn bound_tokens_are_refused_by_the_layer_the_validator_and_the_cache() {
    let api = Api::start().await;
    let want = format!(
        r#"Bearer realm="orders", error="invalid_token", error_description="The access token is bound to a key or certificate and cannot be used as a bearer token"{RM}"#
    );
    for cnf in [
        serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        serde_json::json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        serde_json::json!({"osc": "unknown confirmation method"}),
    ] {
        let token = api.token().claim("cnf", &cnf).sign();
        // Twice: the second time would be a cache hit if the first had
        // been accepted.
        for _ in 0..2 {
            let (status, challenge, _) = api.get("/orders", &[&bearer(&token)]).await;
            assert_eq!((status, challenge.as_deref()), (401, Some(&*want)), "{cnf}");
        }
        let validator = validator(&api.issuer);
        for _ in 0..2 {
            assert!(matches!(
                validator.validate::<()>(&token).await,
                Err(jwt_gate::Error::UnverifiedBinding)
            ));
            assert!(matches!(
                validator.validate_without_waiting::<()>(&token),
                Err(jwt_gate::Error::UnverifiedBinding)
            ));
        }
        assert_eq!(validator.token_cache_stats().entries, 0);
    }
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn layer_require_scopes_calls_add_up_like_the_rules() {
    let issuer = TestIssuer::start().await;
    let app = Router::new().route("/", get(|| async { "in" })).layer(
        JwtAuthLayer::new(validator(&issuer))
            .require_scopes(["orders.read"])
            .require_scopes(["orders.write"]),
    );
    let base = serve(app).await;
    let call = |scope: &'static str| {
        let token = issuer.token().audience(AUD).scope(scope).sign();
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .get(&base)
                .header("authorization", bearer(&token))
                .send()
                .await
                .unwrap()
        }
    };
    let res = call("orders.read").await;
    assert_eq!(
        res.status(),
        403,
        "the first call's scope alone is not enough"
    );
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with(r#"scope="orders.read orders.write""#)
    );
    assert_eq!(call("orders.write").await.status(), 403);
    assert_eq!(call("orders.read orders.write").await.status(), 200);
}

#[tokio::test]
async fn route_guards_answer_with_the_layer_rejection_body() {
    let issuer = TestIssuer::start().await;
    let app = Router::new()
        .route(
            "/admin",
            get(|| async { "in" }).layer(RequireScopes::all(["admin"])),
        )
        .layer(
            JwtAuthLayer::new(validator(&issuer))
                .optional()
                .realm("orders")
                .rejection_body(|e: &jwt_gate::Error| {
                    axum::body::Body::from(format!(
                        r#"{{"status":{},"detail":"{}"}}"#,
                        e.status().as_u16(),
                        e.description()
                    ))
                }),
        );
    let base = serve(app).await;
    let token = issuer.token().audience(AUD).scope("orders.read").sign();
    let res = reqwest::Client::new()
        .get(format!("{base}/admin"))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with(r#"Bearer realm="orders", error="insufficient_scope""#)
    );
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"status":403,"detail":"The request requires higher privileges than provided by the access token"}"#
    );
    // Anonymous through the optional layer: the guard's 401, same body hook.
    let res = reqwest::Client::new()
        .get(format!("{base}/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="orders", scope="admin""#
    );
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"status":401,"detail":"No access token was sent"}"#
    );
}

#[tokio::test]
async fn role_and_predicate_guards_answer_403_with_exact_challenges() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .roles_from("roles")
        .roles_from("realm_access.roles")
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/admin",
            get(|| async { "admin" }).layer(jwt_gate::RequireRoles::all(["Orders.Admin"])),
        )
        .route(
            "/staff",
            get(|| async { "staff" }).layer(jwt_gate::RequireRoles::any(["support", "writer"])),
        )
        .route(
            "/tenant",
            get(|| async { "tenant" }).layer(jwt_gate::RequireClaims::new(|claims| {
                claims.get::<String>("tenantId").ok().flatten().as_deref() == Some("42")
            })),
        )
        .layer(JwtAuthLayer::new(validator).optional().realm("orders"));
    let base = serve(app).await;
    let call = |path: &'static str, token: Option<String>| {
        let base = base.clone();
        async move {
            let mut req = reqwest::Client::new().get(format!("{base}{path}"));
            if let Some(token) = token {
                req = req.header("authorization", bearer(&token));
            }
            let res = req.send().await.unwrap();
            let challenge = res
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), challenge)
        }
    };
    let forbidden = r#"Bearer realm="orders", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token""#;
    let admin = issuer
        .token()
        .audience(AUD)
        .claim("roles", ["Orders.Admin"])
        .claim("tenantId", "42")
        .sign();
    let keycloak_writer = issuer
        .token()
        .audience(AUD)
        .claim("realm_access", serde_json::json!({"roles": ["writer"]}))
        .claim("tenantId", "7")
        .sign();
    assert_eq!(call("/admin", Some(admin.clone())).await.0, 200);
    assert_eq!(call("/tenant", Some(admin.clone())).await.0, 200);
    assert_eq!(call("/staff", Some(keycloak_writer.clone())).await.0, 200);
    for (path, token) in [
        ("/admin", keycloak_writer.clone()),
        ("/staff", admin.clone()),
        ("/tenant", keycloak_writer.clone()),
    ] {
        let (status, challenge) = call(path, Some(token)).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (403, Some(forbidden)),
            "{path}"
        );
    }
    // Anonymous through the optional layer: 401 with a bare challenge.
    let (status, challenge) = call("/admin", None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some(r#"Bearer realm="orders""#))
    );
    // Roles of the wrong shape make the token invalid, not role-less.
    let bad = issuer.token().audience(AUD).claim("roles", [1, 2]).sign();
    assert_eq!(call("/admin", Some(bad)).await.0, 401);
}

/// `Retry-After` says what the key store will do: the rest of its backoff
/// when the IdP is down, one second when the keys are still on their way
/// (the request's wait ran out, the fetch goes on).
#[tokio::test]
async fn retry_after_on_503_follows_the_key_stores_backoff_and_fetch() {
    let issuer = TestIssuer::start().await;
    let down = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .retry_backoff(Duration::from_secs(7), Duration::from_secs(60))
        .build()
        .unwrap();
    let slow = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .max_key_wait(Duration::from_millis(200))
        .build()
        .unwrap();
    let app = |v: Validator| {
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(JwtAuthLayer::new(v))
    };
    let (down_base, slow_base) = (serve(app(down)).await, serve(app(slow)).await);
    let token = issuer.token().audience(AUD).sign();
    let client = reqwest::Client::new();
    let call = |base: String| {
        let req = client
            .get(base)
            .header("authorization", format!("Bearer {token}"));
        async move { req.send().await.unwrap() }
    };

    issuer.set_mode(IssuerMode::Down);
    for _ in 0..2 {
        let res = call(down_base.clone()).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "7");
        assert!(res.headers().get("www-authenticate").is_none());
    }

    issuer.set_mode(IssuerMode::Slow(Duration::from_secs(2)));
    let started = std::time::Instant::now();
    let res = call(slow_base.clone()).await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
}
