//! DPoP at the resource server: the layer in an axum server on a real
//! socket, called with reqwest; tokens from `TestIssuer`, proofs from a
//! `DpopKey`. Modes, exact challenges (RFC 6750 / RFC 9449 §7.1), server
//! nonces, replay (in process and in a real Redis), proxies, gRPC, and the
//! request-level function for callers outside tower.

use std::sync::Arc;
use std::time::Duration;

mod common;

use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderMap, Method, Request, StatusCode};
use jwt_gate::dpop::{Dpop, DpopNonces, DpopRules, MemoryReplayStore, RedisReplayStore};
use jwt_gate::testing::{DpopKey, TestIssuer};
use jwt_gate::{AuthScheme, Claims, Error, JwtAuthLayer, Validator};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const AUD: &str = "api://orders";
const SECRET: &[u8] = b"a nonce secret shared by every replica";

fn validator(issuer: &TestIssuer, dpop: Dpop) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .dpop(dpop)
        .build()
        .unwrap()
}

/// `/claims` answers with what the handler sees: subject, scheme and the
/// bound key's thumbprint.
fn app(validator: Validator) -> Router {
    Router::new()
        .route(
            "/claims",
            get(|claims: Claims, scheme: AuthScheme| async move {
                Json(json!({
                    "sub": claims.subject(),
                    "scheme": format!("{scheme:?}"),
                    "jkt": claims.dpop_thumbprint(),
                }))
            })
            .post(|| async { "posted" }),
        )
        .layer(JwtAuthLayer::new(validator))
}

struct Api {
    base: String,
    issuer: TestIssuer,
    key: DpopKey,
    http: reqwest::Client,
}

impl Api {
    async fn start(dpop: Dpop) -> Self {
        let issuer = TestIssuer::start().await;
        let base = common::serve(app(validator(&issuer, dpop))).await;
        Self {
            base,
            issuer,
            key: DpopKey::generate(jwt_gate::Algorithm::ES256),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn bound_token(&self) -> String {
        self.issuer
            .token()
            .audience(AUD)
            .dpop_bound(&self.key)
            .sign()
    }

    fn proof(&self, method: &str, path: &str, token: &str) -> String {
        self.key
            .proof(method, &self.url(path))
            .access_token(token)
            .sign()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        common::get_with(&self.url(path), headers).await
    }

    /// `GET /claims` with `Authorization: Bearer <token>` (and a `DPoP`
    /// header when `proof` is given).
    async fn bearer_get(&self, token: &str, proof: Option<&str>) -> reqwest::Response {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend(proof.map(|p| ("dpop", p)));
        self.get("/claims", &headers).await
    }

    async fn dpop_get(&self, token: &str, proof: &str) -> reqwest::Response {
        let auth = format!("DPoP {token}");
        self.get("/claims", &[("authorization", &auth), ("dpop", proof)])
            .await
    }
}

fn challenges(res: &reqwest::Response) -> Vec<String> {
    common::challenges(res)
}

/// `Authorization: DPoP <token>` and these `DPoP` header values, for
/// `Validator::validate_request`.
fn dpop_headers(token: &str, proofs: impl IntoIterator<Item = http::HeaderValue>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
    for proof in proofs {
        headers.append("dpop", proof);
    }
    headers
}

/// `validator.validate_request` for GET `/orders` with these headers.
async fn get_orders(
    validator: &Validator,
    headers: &HeaderMap,
) -> Result<jwt_gate::Verified, Error> {
    let uri: http::Uri = "/orders".parse().unwrap();
    validator
        .validate_request(&Method::GET, &uri, headers)
        .await
}

const ALGS: &str = r#"algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA""#;

#[tokio::test]
async fn dpop_request_accepted_handler_sees_thumbprint_and_scheme() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    let res = api
        .dpop_get(&token, &api.proof("GET", "/claims", &token))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["scheme"], "Dpop");
    assert_eq!(body["jkt"], api.key.thumbprint());
    assert_eq!(body["sub"], "user-1");
    // A bearer token still works where DPoP is only allowed.
    let plain = api.issuer.token().audience(AUD).sign();
    let res = api.bearer_get(&plain, None).await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["scheme"], "Bearer");
}

#[tokio::test]
async fn same_proof_twice_rejected() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    let proof = api.proof("GET", "/claims", &token);
    assert_eq!(api.dpop_get(&token, &proof).await.status(), 200);
    let again = api.dpop_get(&token, &proof).await;
    assert_eq!(again.status(), 401);
    assert_eq!(
        challenges(&again),
        [format!(
            r#"DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", {ALGS}"#
        )]
    );
}

#[tokio::test]
async fn cached_token_still_needs_a_fresh_proof_of_its_key() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    for _ in 0..3 {
        let proof = api.proof("GET", "/claims", &token);
        assert_eq!(api.dpop_get(&token, &proof).await.status(), 200);
    }
    // The token is cached now; a proof of another key, or none, is refused.
    let thief = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let stolen = thief
        .proof("GET", &api.url("/claims"))
        .access_token(&token)
        .sign();
    assert_eq!(api.dpop_get(&token, &stolen).await.status(), 401);
    let res = api
        .get("/claims", &[("authorization", &format!("DPoP {token}"))])
        .await;
    assert_eq!(res.status(), 401);
    assert!(challenges(&res)[0].contains(r#"error="invalid_dpop_proof""#));
    // Sent as a bearer token from the cache: refused too.
    let res = api.bearer_get(&token, None).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn bound_token_as_bearer_401_with_both_challenges() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    let proof = api.proof("GET", "/claims", &token);
    // Even with a valid proof beside it: the scheme says Bearer.
    let res = api.bearer_get(&token, Some(&proof)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        [
            r#"Bearer error="invalid_token", error_description="The access token is bound to a key or certificate and cannot be used as a bearer token""#.to_owned(),
            format!("DPoP {ALGS}"),
        ]
    );
}

#[tokio::test]
async fn dpop_header_with_bearer_400() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.issuer.token().audience(AUD).sign();
    let proof = api.proof("GET", "/claims", &token);
    let res = api.bearer_get(&token, Some(&proof)).await;
    assert_eq!(res.status(), 400);
    assert!(challenges(&res)[0].starts_with(r#"Bearer error="invalid_request""#));
    // With DPoP off the header means nothing: the bearer token is judged alone.
    let off = Api::start(Dpop::off()).await;
    let token = off.issuer.token().audience(AUD).sign();
    let res = off.bearer_get(&token, Some(&proof)).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn dpop_scheme_with_an_unbound_token_401() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.issuer.token().audience(AUD).sign();
    let res = api
        .dpop_get(&token, &api.proof("GET", "/claims", &token))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        [format!(
            r#"DPoP error="invalid_token", error_description="The access token is not bound to a DPoP key", {ALGS}"#
        )]
    );
}

#[tokio::test]
async fn no_token_challenges_byte_exact() {
    let allowed = Api::start(Dpop::allowed()).await;
    let res = allowed.get("/claims", &[]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        ["Bearer".to_owned(), format!("DPoP {ALGS}")]
    );

    let required = Api::start(Dpop::required().rules(
        DpopRules::new().algorithms([jwt_gate::Algorithm::ES256, jwt_gate::Algorithm::EdDSA]),
    ))
    .await;
    let res = required.get("/claims", &[]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(challenges(&res), [r#"DPoP algs="ES256 EdDSA""#]);
}

#[tokio::test]
async fn bearer_where_dpop_is_required_401() {
    let api = Api::start(Dpop::required()).await;
    let token = api.issuer.token().audience(AUD).sign();
    let res = api.bearer_get(&token, None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        [format!(
            r#"DPoP error="invalid_token", error_description="The resource requires a DPoP-bound access token and a DPoP proof", {ALGS}"#
        )]
    );
    let bound = api.bound_token();
    let ok = api
        .dpop_get(&bound, &api.proof("GET", "/claims", &bound))
        .await;
    assert_eq!(ok.status(), 200);
}

/// Required means required on every entry point: the token-only ones
/// (which can check no proof) refuse every token.
#[tokio::test]
async fn dpop_required_holds_on_the_token_only_entry_points() {
    let issuer = TestIssuer::start().await;
    let v = validator(&issuer, Dpop::required());
    let unbound = issuer.token().audience(AUD).sign();
    let err = v.validate::<()>(&unbound).await.unwrap_err();
    assert!(matches!(err, Error::DpopRequired), "{err:?}");
    let err = v.validate_without_waiting::<()>(&unbound).unwrap_err();
    assert!(matches!(err, Error::DpopRequired), "{err:?}");
    let bound = issuer
        .token()
        .audience(AUD)
        .dpop_bound(&DpopKey::generate(jwt_gate::Algorithm::ES256))
        .sign();
    let err = v.validate::<()>(&bound).await.unwrap_err();
    assert!(matches!(err, Error::UnverifiedBinding), "{err:?}");
    // Allowed: unbound tokens pass there.
    let v = validator(&issuer, Dpop::allowed());
    assert!(v.validate::<()>(&unbound).await.is_ok());
}

#[tokio::test]
async fn dpop_off_keeps_bound_tokens_out() {
    let api = Api::start(Dpop::off()).await;
    let token = api.bound_token();
    let proof = api.proof("GET", "/claims", &token);
    assert_eq!(api.dpop_get(&token, &proof).await.status(), 400);
    let res = api.bearer_get(&token, None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        [
            r#"Bearer error="invalid_token", error_description="The access token is bound to a key or certificate and cannot be used as a bearer token""#
        ]
    );
}

#[tokio::test]
async fn missing_or_repeated_dpop_header_refused() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    let auth = format!("DPoP {token}");
    let res = api.get("/claims", &[("authorization", &auth)]).await;
    assert_eq!(res.status(), 401);
    let (a, b) = (
        api.proof("GET", "/claims", &token),
        api.proof("GET", "/claims", &token),
    );
    let res = api
        .get(
            "/claims",
            &[("authorization", &auth), ("dpop", &a), ("dpop", &b)],
        )
        .await;
    assert_eq!(res.status(), 401);
    assert!(challenges(&res)[0].starts_with(r#"DPoP error="invalid_dpop_proof""#));
    // Two Authorization headers: malformed.
    let res = api
        .get(
            "/claims",
            &[
                ("authorization", &auth),
                ("authorization", &auth),
                ("dpop", &a),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn proof_for_another_url_or_method_refused() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    for proof in [
        api.proof("POST", "/claims", &token),
        api.proof("GET", "/other", &token),
        api.key
            .proof("GET", &api.url("/claims").replace("127.0.0.1", "localhost"))
            .access_token(&token)
            .sign(),
    ] {
        assert_eq!(api.dpop_get(&token, &proof).await.status(), 401);
    }
    // Query and fragment are not part of htu: the request's query is fine.
    let res = api
        .http
        .get(api.url("/claims?page=2"))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", api.proof("GET", "/claims", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn server_nonce_demanded_then_accepted() {
    let nonces = DpopNonces::new(SECRET).unwrap();
    let api = Api::start(Dpop::allowed().nonces(nonces)).await;
    let token = api.bound_token();
    let res = api
        .dpop_get(&token, &api.proof("GET", "/claims", &token))
        .await;
    assert_eq!(res.status(), 401);
    // Only the DPoP challenge, so clients that retry on use_dpop_nonce do.
    assert_eq!(
        challenges(&res),
        [format!(
            r#"DPoP error="use_dpop_nonce", error_description="The resource server requires a nonce in the DPoP proof", {ALGS}"#
        )]
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let proof = api
        .key
        .proof("GET", &api.url("/claims"))
        .access_token(&token)
        .nonce(&nonce)
        .sign();
    let res = api.dpop_get(&token, &proof).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("dpop-nonce").is_none());
}

#[tokio::test]
async fn foreign_or_garbage_nonce_gets_use_dpop_nonce() {
    let api = Api::start(Dpop::allowed().nonces(DpopNonces::new(SECRET).unwrap())).await;
    let token = api.bound_token();
    let other = DpopNonces::new([9u8; 32]).unwrap();
    for nonce in [other.issue(jwt_gate::UnixTime::now()), "garbage".to_owned()] {
        let proof = api
            .key
            .proof("GET", &api.url("/claims"))
            .access_token(&token)
            .nonce(&nonce)
            .sign();
        let res = api.dpop_get(&token, &proof).await;
        assert_eq!(res.status(), 401);
        assert!(challenges(&res)[0].contains(r#"error="use_dpop_nonce""#));
        assert!(res.headers().contains_key("dpop-nonce"));
    }
}

#[tokio::test]
async fn replicas_sharing_the_secret_accept_each_others_nonces() {
    let issuer = TestIssuer::start().await;
    let replica = |issuer: &TestIssuer| {
        app(validator(
            issuer,
            Dpop::required().nonces(DpopNonces::new(SECRET).unwrap()),
        ))
    };
    let (a, b) = (
        common::serve(replica(&issuer)).await,
        common::serve(replica(&issuer)).await,
    );
    let key = DpopKey::generate(jwt_gate::Algorithm::EdDSA);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    let http = reqwest::Client::new();
    let call = |base: String, nonce: Option<String>| {
        let mut proof = key
            .proof("GET", &format!("{base}/claims"))
            .access_token(&token);
        if let Some(nonce) = &nonce {
            proof = proof.nonce(nonce);
        }
        http.get(format!("{base}/claims"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof.sign())
            .send()
    };
    let first = call(a.clone(), None).await.unwrap();
    assert_eq!(first.status(), 401);
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(call(b, Some(nonce)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn nonce_of_the_previous_slot_accepted_with_a_fresh_one_back() {
    let nonces = DpopNonces::new(SECRET)
        .unwrap()
        .slot(Duration::from_secs(1));
    let api = Api::start(Dpop::allowed().nonces(nonces.clone())).await;
    let token = api.bound_token();
    let old = nonces.issue(jwt_gate::UnixTime::now());
    // Into the next slot: the old nonce is still accepted, a new one sent.
    let slot = jwt_gate::UnixTime::now().as_secs();
    while jwt_gate::UnixTime::now().as_secs() == slot {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let proof = api
        .key
        .proof("GET", &api.url("/claims"))
        .access_token(&token)
        .nonce(&old)
        .sign();
    let res = api.dpop_get(&token, &proof).await;
    assert_eq!(res.status(), 200);
    let fresh = res.headers()["dpop-nonce"].to_str().unwrap();
    assert_ne!(fresh, old);
    assert!(nonces.accepts(fresh, jwt_gate::UnixTime::now()));
}

#[tokio::test]
async fn public_origin_behind_a_proxy() {
    let api = Api::start(Dpop::allowed().public_origin("https://api.example.com/orders-api")).await;
    let token = api.bound_token();
    let public = api
        .key
        .proof("GET", "https://api.example.com/orders-api/claims")
        .access_token(&token)
        .sign();
    assert_eq!(api.dpop_get(&token, &public).await.status(), 200);
    // The URL the server itself sees is not the one clients use.
    let internal = api.proof("GET", "/claims", &token);
    assert_eq!(api.dpop_get(&token, &internal).await.status(), 401);
}

#[tokio::test]
async fn forwarded_headers_only_when_trusted() {
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "api.example.com"),
    ];
    for trusted in [true, false] {
        let dpop = if trusted {
            Dpop::allowed().trust_forwarded_headers()
        } else {
            Dpop::allowed()
        };
        let api = Api::start(dpop).await;
        let token = api.bound_token();
        let proof = api
            .key
            .proof("GET", "https://api.example.com/claims")
            .access_token(&token)
            .sign();
        let auth = format!("DPoP {token}");
        let mut headers = vec![("authorization", auth.as_str()), ("dpop", proof.as_str())];
        headers.extend(forwarded);
        let status = api.get("/claims", &headers).await.status();
        assert_eq!(
            status,
            if trusted { 200 } else { 401 },
            "trusted: {trusted}"
        );
    }
}

#[tokio::test]
async fn grpc_request_gets_trailers_only_status() {
    let api = Api::start(Dpop::allowed()).await;
    let token = api.bound_token();
    let res = api
        .get(
            "/claims",
            &[
                ("authorization", &format!("DPoP {token}")),
                ("content-type", "application/grpc"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["grpc-message"], "The DPoP proof is invalid");
}

/// An issuer, a validator with DPoP allowed for `https://api.example.com`,
/// a client key and a token bound to it: for `validate_request` without a
/// server.
async fn outside_tower() -> (TestIssuer, Validator, DpopKey, String) {
    let issuer = TestIssuer::start().await;
    let validator = validator(
        &issuer,
        Dpop::allowed().public_origin("https://api.example.com"),
    );
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    (issuer, validator, key, token)
}

#[tokio::test]
async fn validate_request_outside_tower() {
    let (_issuer, validator, key, token) = outside_tower().await;
    let proof = key
        .proof("DELETE", "https://api.example.com/orders/7")
        .access_token(&token)
        .sign();
    let headers = dpop_headers(&token, [proof.parse().unwrap()]);
    let uri = "/orders/7".parse().unwrap();
    let verified = validator
        .validate_request::<()>(&Method::DELETE, &uri, &headers)
        .await
        .unwrap();
    assert_eq!(verified.scheme(), AuthScheme::Dpop);
    assert_eq!(verified.claims().dpop_thumbprint(), Some(key.thumbprint()));
    // The same again is a replay; the response says so as the layer would.
    let err = validator
        .validate_request::<()>(&Method::DELETE, &uri, &headers)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidDpopProof { .. }));
    let res: http::Response<()> = validator.reject(&err, &headers);
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with(r#"DPoP error="invalid_dpop_proof""#)
    );
    // Token-only entry points never take a bound token.
    assert!(matches!(
        validator.validate::<()>(&token).await,
        Err(Error::UnverifiedBinding)
    ));
}

/// 10 000 concurrent requests over 100 proofs, spread over `routers` (the
/// replicas): how many were accepted.
async fn replay_race(routers: &[Router], issuer: &TestIssuer, key: &DpopKey, base: &str) -> usize {
    let token = issuer.token().audience(AUD).dpop_bound(key).sign();
    let proofs: Vec<String> = (0..100)
        .map(|_| {
            key.proof("GET", &format!("{base}/claims"))
                .access_token(&token)
                .sign()
        })
        .collect();
    let proofs = Arc::new(proofs);
    let host = base.trim_start_matches("http://").to_owned();
    let mut tasks = Vec::new();
    for i in 0..10_000 {
        let router = routers[i % routers.len()].clone();
        let (proofs, token, host) = (Arc::clone(&proofs), token.clone(), host.clone());
        tasks.push(tokio::spawn(async move {
            let req = Request::get("/claims")
                .header("host", host)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", &proofs[i % 100])
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status() == StatusCode::OK
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += usize::from(task.await.unwrap());
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_reusing_100_proofs_accept_exactly_100_in_process() {
    let issuer = TestIssuer::start().await;
    let router = app(validator(&issuer, Dpop::allowed()));
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    assert_eq!(
        replay_race(&[router], &issuer, &key, "http://api.test").await,
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_reusing_100_proofs_accept_exactly_100_across_two_replicas_with_redis()
 {
    let Some(redis) = common::redis() else { return };
    let issuer = TestIssuer::start().await;
    let store = || {
        RedisReplayStore::new(&redis.url)
            .unwrap()
            .key_prefix(format!("test-race-{}:", std::process::id()))
    };
    let (a, b) = (
        app(validator(&issuer, Dpop::allowed().replay_store(store()))),
        app(validator(&issuer, Dpop::allowed().replay_store(store()))),
    );
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    // One proof, accepted by one replica, refused by the other.
    let proof = key
        .proof("GET", "http://api.test/claims")
        .access_token(&token)
        .sign();
    let send = |router: Router| {
        let req = Request::get("/claims")
            .header("host", "api.test")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", &proof)
            .body(axum::body::Body::empty())
            .unwrap();
        async move { router.oneshot(req).await.unwrap().status() }
    };
    assert_eq!(send(a.clone()).await, StatusCode::OK);
    assert_eq!(send(b.clone()).await, StatusCode::UNAUTHORIZED);
    // The race, half on each replica.
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    assert_eq!(
        replay_race(&[a, b], &issuer, &key, "http://api.test").await,
        100
    );
}

#[tokio::test]
async fn replay_store_down_fails_closed_with_503() {
    let issuer = TestIssuer::start().await;
    let port = common::free_port();
    let store = RedisReplayStore::new(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .timeout(Duration::from_millis(200));
    let base = common::serve(app(validator(&issuer, Dpop::allowed().replay_store(store)))).await;
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    let proof = key
        .proof("GET", &format!("{base}/claims"))
        .access_token(&token)
        .sign();
    let res = reqwest::Client::new()
        .get(format!("{base}/claims"))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers().get("www-authenticate").is_none());
}

#[test]
fn in_process_store_stays_bounded_under_a_flood_of_unique_jtis() {
    use jwt_gate::dpop::ReplayStore as _;
    let store = MemoryReplayStore::new(10_000);
    let ttl = Duration::from_secs(70);
    let mut refused = 0;
    for i in 0..50_000u32 {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&i.to_le_bytes());
        match store.first_use_now(key, ttl).unwrap() {
            Ok(first) => assert!(first),
            Err(_) => refused += 1,
        }
        assert!(store.len() <= 10_000);
    }
    // Full: new proofs are refused (503), old ones never forgotten early.
    assert_eq!(refused, 40_000);
    let mut first = [0u8; 32];
    first[..4].copy_from_slice(&0u32.to_le_bytes());
    assert!(!store.first_use_now(first, ttl).unwrap().unwrap());
}

/// A replay store that counts the proofs it is asked about (and accepts
/// each once, in memory): what reaches the store.
#[derive(Debug, Default)]
struct Counting {
    asked: Arc<std::sync::atomic::AtomicUsize>,
    inner: MemoryReplayStore,
}

impl jwt_gate::dpop::ReplayStore for Counting {
    fn first_use(&self, key: [u8; 32], ttl: Duration) -> jwt_gate::dpop::ReplayFuture<'_> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.first_use(key, ttl)
    }
}

#[tokio::test]
async fn failed_check_does_not_consume_jti() {
    let issuer = TestIssuer::start().await;
    let store = Counting::default();
    let asked = Arc::clone(&store.asked);
    let dpop = Dpop::allowed()
        .nonces(DpopNonces::new(SECRET).unwrap())
        .replay_store(store);
    let base = common::serve(app(validator(&issuer, dpop))).await;
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    let url = format!("{base}/claims");
    let nonce = DpopNonces::new(SECRET)
        .unwrap()
        .issue(jwt_gate::UnixTime::now());
    let http = reqwest::Client::new();
    let send = |proof: String| {
        http.get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    for bad in [
        key.proof("POST", &url)
            .access_token(&token)
            .nonce(&nonce)
            .sign(),
        key.proof("GET", &url)
            .access_token("another")
            .nonce(&nonce)
            .sign(),
        key.proof("GET", &url).access_token(&token).sign(),
        DpopKey::generate(jwt_gate::Algorithm::ES256)
            .proof("GET", &url)
            .access_token(&token)
            .nonce(&nonce)
            .sign(),
    ] {
        assert_eq!(send(bad).await.unwrap().status(), 401);
    }
    // No failed proof reached the store (a store without `first_use_now`:
    // the layer's awaiting path).
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
    let good = key
        .proof("GET", &url)
        .access_token(&token)
        .nonce(&nonce)
        .sign();
    assert_eq!(send(good.clone()).await.unwrap().status(), 200);
    assert_eq!(send(good).await.unwrap().status(), 401);
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn hostile_dpop_headers_get_typed_errors() {
    let (_issuer, validator, key, token) = outside_tower().await;
    let run = |proofs: Vec<http::HeaderValue>| {
        let headers = dpop_headers(&token, proofs);
        let validator = validator.clone();
        async move { get_orders(&validator, &headers).await }
    };
    let good = key
        .proof("GET", "https://api.example.com/orders")
        .access_token(&token)
        .sign();
    let cases: Vec<Vec<http::HeaderValue>> = vec![
        vec![http::HeaderValue::from_bytes(b"\xff\xfe.\x80.\x81").unwrap()],
        vec![http::HeaderValue::from_str(&"A".repeat(100_000)).unwrap()],
        vec![http::HeaderValue::from_str(&format!("{good}, {good}")).unwrap()],
        vec![http::HeaderValue::from_static("")],
        vec![http::HeaderValue::from_static("a.b.c")],
        (0..1000)
            .map(|_| http::HeaderValue::from_str(&good).unwrap())
            .collect(),
        vec![http::HeaderValue::from_str(&format!("{good}.extra")).unwrap()],
    ];
    for proofs in cases {
        let n = proofs.len();
        let result = run(proofs).await;
        assert!(
            matches!(result, Err(Error::InvalidDpopProof { .. })),
            "{n} header(s): {result:?}"
        );
    }
    // The good proof, once, still passes: nothing above consumed it.
    assert!(run(vec![good.parse().unwrap()]).await.is_ok());
}

/// Redis goes away and comes back on the same port: proofs are refused with
/// 503 meanwhile (never accepted unchecked), and the store reconnects by
/// itself.
#[tokio::test]
async fn redis_outage_fails_closed_then_recovers() {
    if common::redis().is_none() {
        return;
    }
    let port = common::free_port();
    let start = || common::redis_server(port).unwrap();
    let mut server = start();
    let issuer = TestIssuer::start().await;
    let store = RedisReplayStore::new(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .timeout(Duration::from_millis(300));
    let validator = validator(
        &issuer,
        Dpop::allowed()
            .public_origin("https://api.example.com")
            .replay_store(store),
    );
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    let call = || {
        let proof = key
            .proof("GET", "https://api.example.com/orders")
            .access_token(&token)
            .sign();
        let headers = dpop_headers(&token, [proof.parse().unwrap()]);
        let validator = validator.clone();
        async move { get_orders(&validator, &headers).await }
    };
    assert!(call().await.is_ok());
    server.kill().unwrap();
    server.wait().unwrap();
    let down = call().await;
    assert!(
        matches!(down, Err(Error::ReplayCheckUnavailable { .. })),
        "{down:?}"
    );
    let mut server = start();
    let mut recovered = false;
    for _ in 0..50 {
        if call().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    let _ = server.wait();
    assert!(recovered, "the store did not reconnect");
}

#[tokio::test]
async fn redis_unreachable_accepted_only_when_asked() {
    let issuer = TestIssuer::start().await;
    let port = common::free_port();
    let store = RedisReplayStore::new(&format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .timeout(Duration::from_millis(200))
        .accept_when_unreachable();
    let validator = validator(
        &issuer,
        Dpop::allowed()
            .public_origin("https://api.example.com")
            .replay_store(store),
    );
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let token = issuer.token().audience(AUD).dpop_bound(&key).sign();
    let proof = key
        .proof("GET", "https://api.example.com/orders")
        .access_token(&token)
        .sign();
    let headers = dpop_headers(&token, [proof.parse().unwrap()]);
    // Availability over replay protection, as configured: the same proof
    // passes twice while Redis cannot be reached.
    assert!(get_orders(&validator, &headers).await.is_ok());
    assert!(get_orders(&validator, &headers).await.is_ok());
}
