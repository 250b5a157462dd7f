//! Opaque tokens (RFC 7662) against a real issuer on loopback (`TestIssuer`,
//! over HTTP): claims, revocation within the cache's age, `exp`, client
//! authentication, faults (never 401, never a hang), single flight, the
//! bound on distinct garbage, RFC 9701 signed answers, routing with several
//! issuers, and the layer.

mod common;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::TenantClaims;
use http::{Request, StatusCode};
use jwt_gate::introspection::{ClientKey, IntrospectWhen, Introspection};
use jwt_gate::testing::{
    INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, IssuerMode, SigningKey, TestIssuer,
};
use jwt_gate::{
    Algorithm, AuthScheme, Claims, ClaimsOrigin, Error, FetchError, IssuerBuilder, JwtAuthLayer,
    Validator, ValidatorBuilder,
};
use tower::ServiceExt as _;

const AUD: &str = "api://orders";

fn basic() -> Introspection {
    Introspection::client_secret_basic(INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET)
}

fn builder(issuer: &TestIssuer, introspection: Introspection) -> ValidatorBuilder {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .introspection(introspection)
}

fn opaque(issuer: &TestIssuer) -> String {
    issuer
        .token()
        .audience(AUD)
        .scope("orders.read")
        .claim("tenantId", "1741")
        .claim("admin", "false")
        .opaque()
}

fn fetch_error(err: &Error) -> &FetchError {
    err.source()
        .and_then(|s| s.downcast_ref::<FetchError>())
        .unwrap_or_else(|| panic!("no FetchError behind {err:?}"))
}

#[tokio::test]
async fn active_opaque_token_gives_the_same_claims_as_a_jwt() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic()).build().unwrap();
    let token = opaque(&issuer);
    let claims: Claims<TenantClaims> = validator.validate(&token).await.unwrap();
    assert_eq!(claims.tenant_id, "1741");
    assert!(!claims.admin);
    assert!(claims.has_scope("orders.read"));
    assert_eq!(claims.issuer(), Some(issuer.issuer()));
    assert_eq!(claims.origin(), ClaimsOrigin::Introspection);
    assert_eq!(issuer.introspections(), 1);
    // Cached: no second call.
    let again: Claims<TenantClaims> = validator.validate(&token).await.unwrap();
    assert_eq!(again.tenant_id, "1741");
    assert_eq!(issuer.introspections(), 1);
    // Another claims type reads the cached answer again: still no call.
    let registered: Claims = validator.validate(&token).await.unwrap();
    assert_eq!(registered.subject(), Some("user-1"));
    assert_eq!(issuer.introspections(), 1);
    assert_eq!(validator.introspection_calls(), 1);

    // A JWT is validated locally, never sent to the authorization server.
    let jwt = issuer.token().audience(AUD).claim("tenantId", 1741).sign();
    let claims: Claims<TenantClaims> = validator.validate(&jwt).await.unwrap();
    assert_eq!(claims.tenant_id, "1741");
    assert_eq!(claims.origin(), ClaimsOrigin::Jwt);
    assert_eq!(issuer.introspections(), 1);
}

#[tokio::test]
async fn the_rules_apply_to_introspected_claims() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic())
        .require_scopes(["orders.read"])
        .build()
        .unwrap();
    let other_audience = issuer.token().audience("api://billing").opaque();
    assert!(matches!(
        validator.validate::<()>(&other_audience).await,
        Err(Error::InvalidAudience)
    ));
    let no_scope = issuer.token().audience(AUD).opaque();
    assert!(matches!(
        validator.validate::<()>(&no_scope).await,
        Err(Error::InsufficientScope { .. })
    ));
    let unknown = "2YotnFZFEjr1zCsicMWpAA";
    assert!(matches!(
        validator.validate::<()>(unknown).await,
        Err(Error::InactiveToken)
    ));
    assert_eq!(Error::InactiveToken.status(), StatusCode::UNAUTHORIZED);
    // Refusals are cached too: asking again costs no call.
    let calls = issuer.introspections();
    assert!(validator.validate::<()>(unknown).await.is_err());
    assert!(validator.validate::<()>(&other_audience).await.is_err());
    assert_eq!(issuer.introspections(), calls);
}

#[tokio::test]
async fn revoked_token_is_refused_once_the_cache_max_age_has_passed() {
    let issuer = TestIssuer::start().await;
    let max_age = Duration::from_millis(600);
    let validator = builder(&issuer, basic().max_cache_age(max_age))
        .build()
        .unwrap();
    let token = opaque(&issuer);
    validator.validate::<()>(&token).await.unwrap();
    issuer.revoke(&token);
    // Within the cache's age the answer stands (the documented trade-off).
    validator.validate::<()>(&token).await.unwrap();
    tokio::time::sleep(max_age + Duration::from_millis(100)).await;
    assert!(matches!(
        validator.validate::<()>(&token).await,
        Err(Error::InactiveToken)
    ));
    assert_eq!(issuer.introspections(), 2);
}

#[tokio::test]
async fn zero_max_age_asks_on_every_request() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic().max_cache_age(Duration::ZERO))
        .build()
        .unwrap();
    let token = opaque(&issuer);
    validator.validate::<()>(&token).await.unwrap();
    validator.validate::<()>(&token).await.unwrap();
    issuer.revoke(&token);
    assert!(validator.validate::<()>(&token).await.is_err());
    assert_eq!(issuer.introspections(), 3);
}

#[tokio::test]
async fn the_cached_answer_ends_at_the_tokens_exp() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let token = issuer
        .token()
        .audience(AUD)
        .expires_in(Duration::from_secs(2))
        .opaque();
    validator.validate::<()>(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = validator.validate::<()>(&token).await.unwrap_err();
    assert!(
        matches!(err, Error::Expired { .. } | Error::InactiveToken),
        "{err:?}"
    );
    // An answer without `exp` is refused like a JWT without one.
    let no_exp = issuer.token().audience(AUD).without_claim("exp").opaque();
    assert!(matches!(
        validator.validate::<()>(&no_exp).await,
        Err(Error::InvalidClaims { .. })
    ));
}

/// Captures the `tracing` events of this thread: (level, message).
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write as _;
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn wrong_client_credentials_are_our_setup_not_the_callers_fault() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let issuer = TestIssuer::start().await;
    for introspection in [
        Introspection::client_secret_basic(INTROSPECTION_CLIENT_ID, "wrong"),
        Introspection::client_secret_post(INTROSPECTION_CLIENT_ID, "wrong"),
        Introspection::client_secret_post("someone-else", INTROSPECTION_CLIENT_SECRET),
    ] {
        let validator = builder(&issuer, introspection).build().unwrap();
        let err = validator
            .validate::<()>(&opaque(&issuer))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::IntrospectionUnavailable { .. }),
            "{err:?}"
        );
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(matches!(fetch_error(&err), FetchError::Status(401)));
        // The operator is told whose fault it is; the secret is not logged.
        let logs = logs.0.lock().unwrap().clone();
        assert!(
            logs.iter()
                .any(|(level, message)| *level == tracing::Level::ERROR
                    && message.contains("refused our client credentials")),
            "{logs:?}"
        );
        assert!(!logs.iter().any(|(_, m)| m.contains("wrong")), "{logs:?}");
    }
    // client_secret_post with the right secret works.
    let validator = builder(
        &issuer,
        Introspection::client_secret_post(INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET),
    )
    .build()
    .unwrap();
    validator.validate::<()>(&opaque(&issuer)).await.unwrap();
}

#[tokio::test]
async fn private_key_jwt_authenticates_with_a_signed_assertion() {
    let issuer = TestIssuer::start().await;
    let key = SigningKey::generate(Algorithm::ES256);
    issuer.register_client_key(key.key_set("rs-key"));
    let client_key = ClientKey::from_pkcs8_pem(Algorithm::ES256, &key.to_pkcs8_pem().unwrap())
        .unwrap()
        .kid("rs-key");
    let validator = builder(
        &issuer,
        Introspection::private_key_jwt(INTROSPECTION_CLIENT_ID, client_key),
    )
    .build()
    .unwrap();
    let claims: Claims<TenantClaims> = validator.validate(&opaque(&issuer)).await.unwrap();
    assert_eq!(claims.tenant_id, "1741");
    // Another key is refused by the server: 503, not 401.
    let other = SigningKey::generate(Algorithm::ES256);
    let other = ClientKey::from_pkcs8_der(Algorithm::ES256, &other.to_pkcs8().unwrap()).unwrap();
    let validator = builder(
        &issuer,
        Introspection::private_key_jwt(INTROSPECTION_CLIENT_ID, other),
    )
    .build()
    .unwrap();
    let err = validator
        .validate::<()>(&opaque(&issuer))
        .await
        .unwrap_err();
    assert!(matches!(fetch_error(&err), FetchError::Status(401)));
}

#[tokio::test]
async fn every_fault_is_503_within_the_timeout_never_401_never_a_hang() {
    let issuer = TestIssuer::start().await;
    let timeout = Duration::from_millis(400);
    let faults = [
        IssuerMode::Down,
        IssuerMode::Status(500),
        IssuerMode::Status(404),
        IssuerMode::Slow(Duration::from_secs(5)),
        IssuerMode::Garbage,
        IssuerMode::Oversized(1024 * 1024),
    ];
    for fault in faults {
        let validator = builder(
            &issuer,
            basic()
                .timeout(timeout)
                .endpoint(issuer.introspection_endpoint()),
        )
        .build()
        .unwrap();
        issuer.set_mode(fault.clone());
        let started = Instant::now();
        let err = validator
            .validate::<()>(&opaque(&issuer))
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(
            matches!(err, Error::IntrospectionUnavailable { .. }),
            "{fault:?}: {err:?}"
        );
        let response: http::Response<()> = validator.reject(&err, &http::HeaderMap::new());
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{fault:?}"
        );
        assert!(response.headers().contains_key("retry-after"), "{fault:?}");
        assert!(
            waited < timeout * 5,
            "{fault:?} held the request {waited:?}"
        );
        // Not cached: once the server is back, the same token works.
        issuer.set_mode(IssuerMode::Normal);
        let token = opaque(&issuer);
        validator.validate::<()>(&token).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_with_one_new_token_make_one_call() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Slow(Duration::from_millis(200)));
    let validator = builder(&issuer, basic().endpoint(issuer.introspection_endpoint()))
        .build()
        .unwrap();
    let token = Arc::new(opaque(&issuer));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (validator, token) = (validator.clone(), Arc::clone(&token));
            tokio::spawn(async move { validator.validate::<TenantClaims>(&token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().tenant_id, "1741");
    }
    assert_eq!(issuer.introspections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_distinct_garbage_tokens_make_a_bounded_number_of_calls() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Slow(Duration::from_millis(50)));
    let timeout = Duration::from_millis(300);
    let validator = builder(
        &issuer,
        basic()
            .endpoint(issuer.introspection_endpoint())
            .max_concurrent(4)
            .timeout(timeout),
    )
    .build()
    .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let validator = validator.clone();
            tokio::spawn(async move { validator.validate::<()>(&format!("garbage-{i}")).await })
        })
        .collect();
    let mut overloaded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Err(Error::InactiveToken) => {}
            Err(e @ Error::IntrospectionUnavailable { .. }) => match fetch_error(&e) {
                FetchError::Overloaded => overloaded += 1,
                // A call that got a slot late and ran out of time.
                FetchError::Network(_) => {}
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }
    // At most 4 calls at a time, each at least 50 ms: the calls made are
    // bounded by the time the flood lasted, not by its size.
    let elapsed = started.elapsed().as_millis() as usize;
    let calls = issuer.introspections();
    assert!(
        calls <= 4 * (elapsed / 50 + 1),
        "{calls} calls in {elapsed} ms"
    );
    assert!(calls < 1_000, "{calls} calls");
    assert!(overloaded > 5_000, "{overloaded} told the server is busy");
}

#[tokio::test]
async fn signed_jwt_answers_are_verified_with_the_issuers_keys() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic().signed_responses())
        .build()
        .unwrap();
    let token = opaque(&issuer);
    let claims: Claims<TenantClaims> = validator.validate(&token).await.unwrap();
    assert_eq!(claims.tenant_id, "1741");
    issuer.revoke(&opaque(&issuer));
    let revoked = issuer.token().audience(AUD).opaque();
    issuer.revoke(&revoked);
    assert!(matches!(
        validator.validate::<()>(&revoked).await,
        Err(Error::InactiveToken)
    ));
    // Signed answers need the issuer, to check them against.
    let err = Validator::builder()
        .jwks_uri(issuer.jwks_uri())
        .audience(AUD)
        .allow_http()
        .introspection(
            basic()
                .signed_responses()
                .endpoint(issuer.introspection_endpoint()),
        )
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "introspection");
}

#[tokio::test]
async fn always_mode_asks_about_jwts_too_and_sees_revocation() {
    let issuer = TestIssuer::start().await;
    let validator = builder(
        &issuer,
        basic()
            .when(IntrospectWhen::Always)
            .max_cache_age(Duration::ZERO),
    )
    .build()
    .unwrap();
    let jwt = issuer
        .token()
        .audience(AUD)
        .claim("tenantId", "1741")
        .sign();
    let claims: Claims<TenantClaims> = validator.validate(&jwt).await.unwrap();
    assert_eq!(claims.origin(), ClaimsOrigin::Introspection);
    assert_eq!(issuer.introspections(), 1);
    issuer.revoke(&jwt);
    assert!(matches!(
        validator.validate::<()>(&jwt).await,
        Err(Error::InactiveToken)
    ));
}

/// One issuer of a multi-issuer validator, introspecting or not.
fn trusted(issuer: &TestIssuer, introspects: bool) -> IssuerBuilder {
    let builder = IssuerBuilder::new()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http();
    match introspects {
        true => builder.introspection(basic()),
        false => builder,
    }
}

#[tokio::test]
async fn with_several_issuers_opaque_tokens_go_to_the_one_that_introspects() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let validator = Validator::multi_issuer()
        .trust(trusted(&a, true))
        .trust(trusted(&b, false))
        .build()
        .unwrap();
    let claims: Claims<TenantClaims> = validator.validate(&opaque(&a)).await.unwrap();
    assert_eq!(claims.tenant_id, "1741");
    let jwt = b.token().audience(AUD).sign();
    validator.validate::<()>(&jwt).await.unwrap();
    assert_eq!(a.introspections(), 1);
    // Two issuers cannot both take tokens that name no issuer.
    let err = Validator::multi_issuer()
        .trust(trusted(&a, true))
        .trust(trusted(&b, true))
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "introspection");
}

#[tokio::test]
async fn setup_mistakes_are_found_at_build() {
    let issuer = TestIssuer::start().await;
    for (introspection, why) in [
        (Introspection::client_secret_basic("", "x"), "empty id"),
        (Introspection::client_secret_post("rs", ""), "empty secret"),
        (basic().timeout(Duration::ZERO), "zero timeout"),
        (basic().max_concurrent(0), "no slot"),
        (
            basic().endpoint("http://example.com/introspect"),
            "plain http",
        ),
    ] {
        let err = builder(&issuer, introspection).build().unwrap_err();
        assert_eq!(err.setting(), "introspection", "{why}");
    }
}

#[tokio::test]
async fn a_token_bound_to_a_key_is_not_a_bearer_token_here_either() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic()).build().unwrap();
    let key = jwt_gate::testing::DpopKey::generate(Algorithm::ES256);
    let bound = issuer.token().audience(AUD).dpop_bound(&key).opaque();
    assert!(matches!(
        validator.validate::<()>(&bound).await,
        Err(Error::UnverifiedBinding)
    ));
}

#[tokio::test]
async fn the_layer_hands_handlers_the_same_claims_and_answers_503_on_outage() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic()).build().unwrap();
    let app = Router::new()
        .route(
            "/claims",
            get(
                |claims: Claims<TenantClaims>, scheme: AuthScheme| async move {
                    format!("{} {:?} {:?}", claims.tenant_id, claims.origin(), scheme)
                },
            ),
        )
        .layer(JwtAuthLayer::new(validator).claims::<TenantClaims>());
    let request = |token: &str| {
        Request::get("/claims")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let response = app
        .clone()
        .oneshot(request(&opaque(&issuer)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"1741 Introspection Bearer");

    let response = app
        .clone()
        .oneshot(request("2YotnFZFEjr1zCsicMWpAA"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="invalid_token", error_description="The access token is not active""#
    );

    issuer.set_mode(IssuerMode::Status(502));
    let response = app.oneshot(request(&opaque(&issuer))).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(!response.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn a_dpop_bound_opaque_token_needs_its_proof_on_every_request_cached_or_not() {
    use jwt_gate::dpop::Dpop;
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic())
        .dpop(Dpop::allowed().public_origin("https://api.example.com"))
        .build()
        .unwrap();
    let key = jwt_gate::testing::DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).opaque();
    let uri: http::Uri = "/orders".parse().unwrap();
    let headers = |scheme: &str, proof: Option<String>| {
        let mut h = http::HeaderMap::new();
        h.insert(
            "authorization",
            format!("{scheme} {token}").parse().unwrap(),
        );
        if let Some(proof) = proof {
            h.insert("dpop", proof.parse().unwrap());
        }
        h
    };
    let proof = || {
        Some(
            key.proof("GET", "https://api.example.com/orders")
                .access_token(&token)
                .sign(),
        )
    };
    for _ in 0..2 {
        let verified = validator
            .validate_request::<()>(&http::Method::GET, &uri, &headers("DPoP", proof()))
            .await
            .unwrap();
        assert_eq!(verified.scheme(), AuthScheme::Dpop);
        assert_eq!(verified.claims().dpop_thumbprint(), Some(key.thumbprint()));
        assert_eq!(verified.claims().origin(), ClaimsOrigin::Introspection);
    }
    // Cached now, still: no proof, or as Bearer, is refused.
    let no_proof = validator
        .validate_request::<()>(&http::Method::GET, &uri, &headers("DPoP", None))
        .await;
    assert!(matches!(no_proof, Err(Error::InvalidDpopProof { .. })));
    let bearer = validator
        .validate_request::<()>(&http::Method::GET, &uri, &headers("Bearer", None))
        .await;
    assert!(matches!(bearer, Err(Error::UnverifiedBinding)));
    assert_eq!(issuer.introspections(), 1);
}

#[tokio::test]
async fn forget_token_asks_again_at_once() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic()).build().unwrap();
    let token = opaque(&issuer);
    validator.validate::<()>(&token).await.unwrap();
    // Served by this thread's front copy too.
    validator.validate_without_waiting::<()>(&token).unwrap();
    issuer.revoke(&token);
    validator.validate_without_waiting::<()>(&token).unwrap();
    validator.forget_token(&token);
    assert!(matches!(
        validator.validate::<()>(&token).await,
        Err(Error::InactiveToken)
    ));
    assert!(matches!(
        validator.validate_without_waiting::<()>(&token),
        Err(Error::InactiveToken)
    ));
    assert_eq!(issuer.introspections(), 2);
}

#[tokio::test]
async fn warm_up_discovers_the_introspection_endpoint_and_fails_fast_without_one() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer, basic()).build().unwrap();
    validator.warm_up().await.unwrap();
    // A provider that does not offer introspection: told at startup, as 503.
    let mut document = issuer.discovery_document();
    document
        .as_object_mut()
        .unwrap()
        .remove("introspection_endpoint");
    issuer.override_discovery(Some(document));
    let validator = builder(&issuer, basic()).build().unwrap();
    let err = validator.warm_up().await.unwrap_err();
    assert!(
        matches!(err, Error::IntrospectionUnavailable { .. }),
        "{err:?}"
    );
    assert!(matches!(fetch_error(&err), FetchError::InvalidDocument(_)));
}
