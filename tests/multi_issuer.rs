//! Several issuers behind one `Validator`: each issuer's tokens pass under
//! its own rules only, `iss` routes but never vouches, untrusted and
//! unadmitted issuers cost no network call, and templated issuers stay
//! within their bound. All against real issuers on loopback.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Algorithm, Claims, Error, IssuerBuilder, IssuerTemplate, JwtAuthLayer, Validator};
use tower::ServiceExt;

/// Auth0-shaped (trailing slash, RS256, `aud` an array) and
/// IdentityServer-shaped (ES256 here, `typ: at+jwt` required, its own
/// audience).
struct Two {
    auth0: TestIssuer,
    ids: TestIssuer,
    validator: Validator,
}

async fn two() -> Two {
    let auth0 = TestIssuer::builder().trailing_slash().start().await;
    let ids = TestIssuer::builder()
        .algorithm(Algorithm::ES256)
        .start()
        .await;
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
        .build()
        .unwrap();
    Two {
        auth0,
        ids,
        validator,
    }
}

#[tokio::test]
async fn each_issuers_tokens_pass_under_its_own_rules_only() {
    let Two {
        auth0,
        ids,
        validator,
    } = two().await;
    // warm_up fetches every issuer configured up front.
    validator.warm_up().await.unwrap();
    assert_eq!((auth0.jwks_fetches(), ids.jwks_fetches()), (1, 1));
    let a = auth0
        .token()
        .audiences(&[
            "https://api.example.com",
            "https://example.eu.auth0.com/userinfo",
        ])
        .header("typ", "JWT")
        .sign();
    let claims: Claims = validator.validate(&a).await.unwrap();
    assert_eq!(claims.issuer(), Some(auth0.issuer()));
    let b = ids.token().audience("api://orders").sign();
    let claims: Claims = validator.validate(&b).await.unwrap();
    assert_eq!(claims.issuer(), Some(ids.issuer()));

    // Each issuer's audience is its own.
    let a_for_b = auth0.token().audience("api://orders").sign();
    let err = validator.validate::<()>(&a_for_b).await.unwrap_err();
    assert!(matches!(err, Error::InvalidAudience), "{err:?}");
    let b_for_a = ids.token().audience("https://api.example.com").sign();
    let err = validator.validate::<()>(&b_for_a).await.unwrap_err();
    assert!(matches!(err, Error::InvalidAudience), "{err:?}");
    // Only the IdentityServer-shaped issuer requires `typ: at+jwt`.
    let b_jwt = ids
        .token()
        .audience("api://orders")
        .header("typ", "JWT")
        .sign();
    let err = validator.validate::<()>(&b_jwt).await.unwrap_err();
    assert!(matches!(err, Error::InvalidType), "{err:?}");

    // Per-issuer status, and together.
    let statuses = validator.issuer_statuses();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0].0, auth0.issuer());
    assert!(
        statuses
            .iter()
            .all(|(_, s)| s.keys_loaded && s.key_count == 1)
    );
    let all = validator.status();
    assert!(all.keys_loaded);
    assert_eq!((all.key_count, all.fetches), (2, 2));
}

#[tokio::test]
async fn a_token_claiming_one_issuer_but_signed_by_another_fails() {
    let Two {
        auth0, validator, ..
    } = two().await;
    // Another RS256 issuer, whose key is also called `key-1`.
    let other = TestIssuer::start().await;
    let forged = other
        .token()
        .issuer(auth0.issuer())
        .audience("https://api.example.com")
        .sign();
    let err = validator.validate::<()>(&forged).await.unwrap_err();
    assert!(matches!(err, Error::InvalidSignature), "{err:?}");
    assert_eq!(other.discovery_fetches() + other.jwks_fetches(), 0);
}

#[tokio::test]
async fn an_untrusted_issuer_causes_no_fetch_at_all() {
    let Two {
        auth0,
        ids,
        validator,
    } = two().await;
    let stranger = TestIssuer::start().await;
    let token = stranger.token().audience("api://orders").sign();
    for _ in 0..100 {
        let err = validator.validate::<()>(&token).await.unwrap_err();
        assert!(matches!(err, Error::InvalidIssuer), "{err:?}");
        let err = validator
            .validate_without_waiting::<()>(&token)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidIssuer), "{err:?}");
    }
    // No `iss` at all cannot be routed either.
    let anonymous = ids
        .token()
        .audience("api://orders")
        .without_claim("iss")
        .sign();
    let err = validator.validate::<()>(&anonymous).await.unwrap_err();
    assert!(matches!(err, Error::InvalidIssuer), "{err:?}");
    for issuer in [&auth0, &ids, &stranger] {
        assert_eq!(
            issuer.discovery_fetches() + issuer.metadata_fetches() + issuer.jwks_fetches(),
            0
        );
    }
}

fn templated(issuer: &TestIssuer, template: IssuerTemplate, max: u64) -> Validator {
    Validator::multi_issuer()
        .trust(
            IssuerBuilder::new()
                .issuer(issuer.issuer())
                .audience("api://orders")
                .allow_http(),
        )
        .trust_template(
            template,
            IssuerBuilder::new()
                .audience("api://orders")
                .algorithms([Algorithm::ES256])
                .allow_http(),
        )
        .max_discovered_issuers(max)
        .build()
        .unwrap()
}

/// An ES256 issuer with tenants, and a validator trusting it and the
/// tenants `admit` lets through its template, at most `max` of them held.
async fn tenants_of(
    admit: impl FnOnce(IssuerTemplate) -> IssuerTemplate,
    max: u64,
) -> (TestIssuer, Validator) {
    let idp = TestIssuer::builder()
        .algorithm(Algorithm::ES256)
        .start()
        .await;
    let template = IssuerTemplate::new(&idp.tenant_issuer("{tenant}")).unwrap();
    let validator = templated(&idp, admit(template), max);
    (idp, validator)
}

fn tenant_token(idp: &TestIssuer, tenant: &str) -> String {
    idp.token()
        .issuer(&idp.tenant_issuer(tenant))
        .audience("api://orders")
        .sign()
}

#[tokio::test]
async fn made_up_tenants_outside_the_allow_list_cause_no_fetch() {
    let (idp, validator) = tenants_of(|t| t.tenants(["contoso", "fabrikam"]), 10).await;
    for i in 0..10_000 {
        let token = tenant_token(&idp, &format!("made-up-{i}"));
        let err = validator.validate::<()>(&token).await.unwrap_err();
        assert!(matches!(err, Error::InvalidIssuer), "{err:?}");
    }
    assert_eq!(idp.tenant_fetches(), 0);
    assert_eq!(validator.issuer_statuses().len(), 1, "no issuer set up");

    // An admitted tenant is discovered on its first token, once.
    let contoso = tenant_token(&idp, "contoso");
    for _ in 0..5 {
        let claims: Claims = validator.validate(&contoso).await.unwrap();
        assert_eq!(claims.issuer(), Some(&*idp.tenant_issuer("contoso")));
    }
    assert_eq!(idp.tenant_fetches(), 2, "discovery and JWKS, once");
    let statuses = validator.issuer_statuses();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[1].0, idp.tenant_issuer("contoso"));
}

#[tokio::test]
async fn approved_tenants_stay_within_the_bound_of_discovered_issuers() {
    let max = 20;
    let (idp, validator) = tenants_of(|t| t.tenant_filter(|t| t.starts_with("ok-")), max).await;
    let tenants = 300;
    for i in 0..tenants {
        let token = tenant_token(&idp, &format!("ok-{i}"));
        validator.validate::<()>(&token).await.unwrap();
        assert!(
            validator.issuer_statuses().len() as u64 <= max + 1,
            "after {i} tenants"
        );
    }
    assert_eq!(idp.tenant_fetches(), 2 * tenants, "each discovered once");
}

#[tokio::test]
async fn a_tenant_whose_discovery_fails_is_retried_with_backoff_not_per_token() {
    let (idp, validator) = tenants_of(|t| t.tenants(["contoso"]), 10).await;
    let token = tenant_token(&idp, "contoso");
    idp.set_mode(jwt_gate::testing::IssuerMode::Status(500));
    for _ in 0..200 {
        let err = validator.validate::<()>(&token).await.unwrap_err();
        assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
    }
    assert_eq!(idp.tenant_fetches(), 1, "one attempt, then the backoff");
    let status = &validator.issuer_statuses()[1].1;
    assert!(!status.keys_loaded && status.last_error.is_some());
    // The issuer recovers: after the backoff (1 s) the tenant is served.
    idp.set_mode(jwt_gate::testing::IssuerMode::Normal);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    validator.validate::<()>(&token).await.unwrap();
}

#[tokio::test]
async fn the_layer_validate_without_waiting_and_the_token_cache_work_per_issuer() {
    let Two {
        auth0,
        ids,
        validator,
    } = two().await;
    let app = Router::new()
        .route(
            "/orders",
            get(|claims: Claims| async move { claims.issuer().unwrap_or_default().to_owned() }),
        )
        .layer(JwtAuthLayer::new(validator.clone()));
    let call = |token: String| {
        let app = app.clone();
        async move {
            let req = http::Request::get("/orders")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            let challenge = res
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            (status, challenge, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let a = auth0.token().audience("https://api.example.com").sign();
    let b = ids.token().audience("api://orders").sign();
    for _ in 0..3 {
        assert_eq!(call(a.clone()).await.2, auth0.issuer());
        assert_eq!(call(b.clone()).await.2, ids.issuer());
    }
    let stats = validator.token_cache_stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (2, 4, 2));
    let stranger = TestIssuer::start().await;
    let (status, challenge, _) = call(stranger.token().audience("api://orders").sign()).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer error="invalid_token", error_description="The access token issuer is not trusted""#
    );

    // validate_without_waiting never waits: a templated tenant's first token starts
    // its discovery in the background.
    let (idp, validator) = tenants_of(|t| t.tenants(["contoso"]), 10).await;
    let token = tenant_token(&idp, "contoso");
    let err = validator
        .validate_without_waiting::<()>(&token)
        .unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
    let start = std::time::Instant::now();
    while validator.validate_without_waiting::<()>(&token).is_err() {
        assert!(start.elapsed() < Duration::from_secs(5), "never fetched");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(idp.tenant_fetches(), 2);
}

#[test]
fn configuration_mistakes_are_caught_by_build() {
    let err = |b: jwt_gate::MultiIssuerBuilder| b.build().unwrap_err().to_string();
    assert!(err(Validator::multi_issuer()).contains("no issuer"));
    let named = || {
        IssuerBuilder::new()
            .issuer("https://a.example.com")
            .audience("x")
    };
    assert!(err(Validator::multi_issuer().trust(named()).trust(named())).contains("trusted twice"));
    assert!(
        err(Validator::multi_issuer().trust(IssuerBuilder::new().audience("x")))
            .contains("names no issuer")
    );
    let template = IssuerTemplate::new("https://login.example.com/{tenant}/v2.0").unwrap();
    assert!(
        err(Validator::multi_issuer().trust_template(template.clone(), named()))
            .contains("template")
    );
    let http = IssuerTemplate::new("http://login.example.com/{tenant}").unwrap();
    assert!(
        Validator::multi_issuer()
            .trust_template(http, IssuerBuilder::new().audience("x"))
            .build()
            .is_err()
    );
    assert!(
        Validator::multi_issuer()
            .trust_template(template, IssuerBuilder::new().audience("x"))
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn dot_segment_tenants_are_refused_without_a_fetch() {
    // `.` and `..` are URL-unreserved characters, but as a path segment
    // they would rewrite the discovery URL (to the root issuer's here).
    let (idp, validator) = tenants_of(|t| t.tenant_filter(|_| true), 10).await;
    for tenant in [".", ".."] {
        let err = validator
            .validate::<()>(&tenant_token(&idp, tenant))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidIssuer), "{tenant}: {err:?}");
    }
    assert_eq!(idp.tenant_fetches() + idp.discovery_fetches(), 0);
    assert_eq!(validator.issuer_statuses().len(), 1, "no issuer set up");
}
