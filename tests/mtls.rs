//! Certificate-bound tokens (RFC 8705) at the resource server: an axum
//! server over real TLS (rustls, asking for client certificates) behind
//! the layer, called by reqwest with client identities; the same through a
//! trusted proxy's header (RFC 9440 `Client-Cert`, Envoy, nginx); hostile
//! headers; DPoP and certificate binding together; the request-level
//! function for callers outside tower.

mod common;
#[path = "../examples/support/tls.rs"]
mod tls;

use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use jwt_gate::dpop::Dpop;
use jwt_gate::mtls::{CertificateBinding, ClientCertificate, HeaderFormat};
use jwt_gate::testing::{DpopKey, TestCertificate, TestIssuer};
use jwt_gate::{Claims, Error, JwtAuthLayer, Validator};
use serde_json::{Value, json};

const AUD: &str = "api://orders";
const MISMATCH: &str =
    "The access token is bound to a client certificate the request did not present";

fn validator(issuer: &TestIssuer, binding: CertificateBinding) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .certificate_binding(binding)
        .build()
        .unwrap()
}

/// `/claims`: the subject and the certificate thumbprint that matched.
fn app(validator: Validator) -> Router {
    Router::new()
        .route(
            "/claims",
            get(|claims: Claims| async move {
                Json(json!({
                    "sub": claims.subject(),
                    "x5t#S256": claims.certificate_thumbprint(),
                }))
            }),
        )
        .layer(JwtAuthLayer::new(validator))
}

/// The API over TLS on loopback, asking (not requiring) every client for
/// a certificate; its own CA.
struct TlsApi {
    url: String,
    ca: TestCertificate,
    issuer: TestIssuer,
    /// Handshakes that resumed an earlier session.
    resumed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TlsApi {
    async fn start(binding: CertificateBinding) -> Self {
        let issuer = TestIssuer::start().await;
        let ca = TestCertificate::ca("test CA");
        let server = TestCertificate::signed_by("localhost", &ca);
        let config = tls::server_config(server.der(), &server.key_der(), false).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let resumed = std::sync::Arc::default();
        let app = app(validator(&issuer, binding));
        tokio::spawn(tls::serve_counting(
            listener,
            config,
            app,
            std::sync::Arc::clone(&resumed),
        ));
        Self {
            url: format!("https://localhost:{port}/claims"),
            ca,
            issuer,
            resumed,
        }
    }

    /// A client trusting the API's CA, presenting `identity` if any.
    fn client_builder(&self, identity: Option<&TestCertificate>) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.ca.pem().as_bytes()).unwrap()])
            .resolve("localhost", ([127, 0, 0, 1], 0).into());
        match identity {
            Some(id) => {
                builder.identity(reqwest::Identity::from_pem(id.identity_pem().as_bytes()).unwrap())
            }
            None => builder,
        }
    }

    fn client(&self, identity: Option<&TestCertificate>) -> reqwest::Client {
        self.client_builder(identity).build().unwrap()
    }

    async fn get(
        &self,
        identity: Option<&TestCertificate>,
        token: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.client(identity).get(&self.url).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    fn bound_to(&self, cert: &TestCertificate) -> String {
        bound_token(&self.issuer, cert)
    }
}

/// A token for this API bound to `cert`.
fn bound_token(issuer: &TestIssuer, cert: &TestCertificate) -> String {
    issuer.token().audience(AUD).certificate_bound(cert).sign()
}

fn challenge(res: &reqwest::Response) -> &str {
    res.headers()["www-authenticate"].to_str().unwrap()
}

fn invalid_token(description: &str) -> String {
    format!(r#"Bearer error="invalid_token", error_description="{description}""#)
}

#[tokio::test]
async fn matching_certificate_over_tls_200_and_the_handler_sees_the_thumbprint() {
    let api = TlsApi::start(CertificateBinding::allowed()).await;
    let alice = TestCertificate::self_signed("alice");
    let res = api.get(Some(&alice), &api.bound_to(&alice), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(body["x5t#S256"], alice.thumbprint());
    // The thumbprint is RFC 8705's: base64url (no padding) of the
    // SHA-256 of the DER, not of the PEM text.
    use base64::Engine as _;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(alice.thumbprint(), b64url.encode(sha256(alice.der())));
    assert_ne!(
        alice.thumbprint(),
        b64url.encode(sha256(alice.pem().as_bytes()))
    );
}

/// A new connection that resumes an earlier TLS session carries the same
/// client certificate (rustls keeps it with the session): still 200.
#[tokio::test]
async fn resumed_session_keeps_cert() {
    let api = TlsApi::start(CertificateBinding::required()).await;
    let alice = TestCertificate::self_signed("alice");
    // No pooled connections: every request a new TLS connection.
    let client = api
        .client_builder(Some(&alice))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let token = api.bound_to(&alice);
    for _ in 0..3 {
        let res = client
            .get(&api.url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert!(
        api.resumed.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "no handshake resumed: the test would prove nothing"
    );
}

#[tokio::test]
async fn bound_token_other_cert_401() {
    let api = TlsApi::start(CertificateBinding::allowed()).await;
    let alice = TestCertificate::self_signed("alice");
    let mallory = TestCertificate::self_signed("mallory");
    let res = api.get(Some(&mallory), &api.bound_to(&alice), &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), invalid_token(MISMATCH));
}

#[tokio::test]
async fn bound_token_no_cert_401() {
    let api = TlsApi::start(CertificateBinding::allowed()).await;
    let alice = TestCertificate::self_signed("alice");
    let res = api.get(None, &api.bound_to(&alice), &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), invalid_token(MISMATCH));
}

#[tokio::test]
async fn unbound_token_200_when_allowed_401_when_required() {
    let alice = TestCertificate::self_signed("alice");
    let api = TlsApi::start(CertificateBinding::allowed()).await;
    let unbound = api.issuer.token().audience(AUD).sign();
    assert_eq!(api.get(Some(&alice), &unbound, &[]).await.status(), 200);
    assert_eq!(api.get(None, &unbound, &[]).await.status(), 200);

    let api = TlsApi::start(CertificateBinding::required()).await;
    let unbound = api.issuer.token().audience(AUD).sign();
    let res = api.get(Some(&alice), &unbound, &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&res),
        invalid_token("The resource requires an access token bound to a client certificate")
    );
    assert_eq!(
        api.get(Some(&alice), &api.bound_to(&alice), &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn forged_client_cert_header_direct_ignored() {
    // The certificate comes from TLS: a client's own `Client-Cert` (even
    // the right one) is not looked at.
    let api = TlsApi::start(CertificateBinding::allowed()).await;
    let alice = TestCertificate::self_signed("alice");
    let forged = format!(":{}:", base64_std(alice.der()));
    let res = api
        .get(None, &api.bound_to(&alice), &[("client-cert", &forged)])
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let mallory = TestCertificate::self_signed("mallory");
    let res = api
        .get(
            Some(&mallory),
            &api.bound_to(&alice),
            &[("client-cert", &forged)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn binding_off_refuses_bound_tokens() {
    let api = TlsApi::start(CertificateBinding::off()).await;
    let alice = TestCertificate::self_signed("alice");
    let res = api.get(Some(&alice), &api.bound_to(&alice), &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&res),
        invalid_token(
            "The access token is bound to a key or certificate and cannot be used as a bearer token"
        )
    );
}

fn base64_std(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Behind a TLS-terminating proxy: plain HTTP, the proxy's header.
struct ProxiedApi {
    base: String,
    issuer: TestIssuer,
    http: reqwest::Client,
}

impl ProxiedApi {
    async fn start(binding: CertificateBinding) -> Self {
        let issuer = TestIssuer::start().await;
        let base = common::serve(app(validator(&issuer, binding))).await;
        Self {
            base,
            issuer,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/claims", self.base))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn client_cert_header_from_a_trusted_proxy() {
    let api = ProxiedApi::start(CertificateBinding::allowed().from_client_cert_header()).await;
    let alice = TestCertificate::self_signed("alice");
    let mallory = TestCertificate::self_signed("mallory");
    let token = bound_token(&api.issuer, &alice);
    let header = |cert: &TestCertificate| format!(":{}:", base64_std(cert.der()));
    let res = api.get(&token, &[("client-cert", &header(&alice))]).await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(body["x5t#S256"], alice.thumbprint());
    // Unpadded (RFC 8941 §4.2.7) is the same certificate.
    let unpadded = header(&alice).replace('=', "");
    assert_eq!(
        api.get(&token, &[("client-cert", &unpadded)])
            .await
            .status(),
        200
    );
    let res = api.get(&token, &[("client-cert", &header(&mallory))]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res), invalid_token(MISMATCH));
    assert_eq!(api.get(&token, &[]).await.status(), 401);
    // Only the configured header counts.
    let res = api
        .get(&token, &[("x-ssl-client-cert", &header(&alice))])
        .await;
    assert_eq!(res.status(), 401);
}

fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'+' | b'/' | b'=' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn sha256_hex(der: &[u8]) -> String {
    sha256(der).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn envoy_and_nginx_headers() {
    let alice = TestCertificate::self_signed("alice");
    let mallory = TestCertificate::self_signed("mallory");
    let xfcc = CertificateBinding::allowed()
        .from_header("x-forwarded-client-cert", HeaderFormat::EnvoyXfcc);
    let api = ProxiedApi::start(xfcc).await;
    let token = bound_token(&api.issuer, &alice);
    let by_hash = format!(
        "By=spiffe://cluster.local/ns/orders/sa/api;Hash={};Subject=\"CN=alice,O=a;b\";URI=",
        sha256_hex(alice.der())
    );
    let by_cert = format!("Cert=\"{}\"", escape(alice.pem()));
    for (value, status) in [
        (by_hash.clone(), 200),
        (by_cert, 200),
        (format!("Hash={}", sha256_hex(mallory.der())), 401),
        // The first element is the proxy next to the client.
        (format!("{by_hash},Hash={}", sha256_hex(mallory.der())), 200),
        (format!("Hash={},{by_hash}", sha256_hex(mallory.der())), 401),
    ] {
        let res = api
            .get(&token, &[("x-forwarded-client-cert", &value)])
            .await;
        assert_eq!(res.status(), status, "{value}");
    }

    let nginx =
        CertificateBinding::required().from_header("X-SSL-Client-Cert", HeaderFormat::EscapedPem);
    let api = ProxiedApi::start(nginx).await;
    let token = bound_token(&api.issuer, &alice);
    let escaped = escape(alice.pem());
    assert_eq!(
        api.get(&token, &[("x-ssl-client-cert", &escaped)])
            .await
            .status(),
        200
    );
    let other = escape(mallory.pem());
    assert_eq!(
        api.get(&token, &[("x-ssl-client-cert", &other)])
            .await
            .status(),
        401
    );
}

/// Every hostile header value, through `validate_request`: a typed 401,
/// never a panic or a pass.
#[tokio::test]
async fn hostile_proxy_headers_get_typed_errors() {
    let issuer = TestIssuer::start().await;
    let alice = TestCertificate::self_signed("alice");
    let token = bound_token(&issuer, &alice);
    let good = base64_std(alice.der());
    let pem = alice.pem().to_owned();
    let cases: Vec<(HeaderFormat, Vec<Vec<u8>>)> = vec![
        (
            HeaderFormat::ByteSequence,
            vec![b":!!!garbage!!!:".to_vec()],
        ),
        (
            HeaderFormat::ByteSequence,
            vec![format!(":{good}").into_bytes()],
        ),
        (
            HeaderFormat::ByteSequence,
            vec![format!(":{}:", "QUFB".repeat(30_000)).into_bytes()],
        ),
        (
            HeaderFormat::ByteSequence,
            vec![
                format!(":{good}:").into_bytes(),
                format!(":{good}:").into_bytes(),
            ],
        ),
        (
            HeaderFormat::ByteSequence,
            vec![format!(":{good}:, :{good}:").into_bytes()],
        ),
        (HeaderFormat::ByteSequence, vec![b":\xff\xfe:".to_vec()]),
        (HeaderFormat::ByteSequence, vec![b":AAAA:".to_vec()]),
        (
            HeaderFormat::EscapedPem,
            vec![escape(&format!("{pem}trailing junk")).into_bytes()],
        ),
        (
            HeaderFormat::EscapedPem,
            vec![escape(&format!("{pem}{pem}")).into_bytes()],
        ),
        (HeaderFormat::EscapedPem, vec![b"%E0%A4%A".to_vec()]),
        (HeaderFormat::EnvoyXfcc, vec![b"Hash=\"".to_vec()]),
        (HeaderFormat::EnvoyXfcc, vec![b"Hash=zz".to_vec()]),
        (HeaderFormat::EnvoyXfcc, vec![b";;;,,,===".to_vec()]),
        (HeaderFormat::Base64Der, vec![b"MAMCAQE".to_vec()]),
    ];
    for (format, values) in cases {
        let validator = validator(
            &issuer,
            CertificateBinding::allowed().from_header("x-cert", format),
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        for value in &values {
            headers.append("x-cert", HeaderValue::from_bytes(value).unwrap());
        }
        let uri = "/claims".parse().unwrap();
        let err = validator
            .validate_request::<()>(&Method::GET, &uri, &headers)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::CertificateMismatch { .. }),
            "{format:?} {:?}: {err:?}",
            String::from_utf8_lossy(&values[0][..values[0].len().min(40)])
        );
        assert_eq!(err.status(), 401);
        assert_eq!(err.description(), MISMATCH);
        // An unbound token does not need the header, broken or not.
        let unbound = issuer.token().audience(AUD).sign();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {unbound}")).unwrap(),
        );
        assert!(
            validator
                .validate_request::<()>(&Method::GET, &uri, &headers)
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
async fn validate_http_request_reads_the_tls_extension() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer, CertificateBinding::allowed());
    let alice = TestCertificate::self_signed("alice");
    let token = bound_token(&issuer, &alice);
    let request = |cert: Option<ClientCertificate>| {
        let mut request = Request::get("/claims")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        if let Some(cert) = cert {
            request.extensions_mut().insert(cert);
        }
        request
    };
    let verified = validator
        .validate_http_request::<(), _>(&request(Some(alice.client_certificate())))
        .await
        .unwrap();
    assert_eq!(
        verified.claims().certificate_thumbprint(),
        Some(alice.thumbprint().as_str())
    );
    let other = TestCertificate::self_signed("bob").client_certificate();
    for cert in [Some(other), None] {
        let err = validator
            .validate_http_request::<(), _>(&request(cert))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::CertificateMismatch { .. }), "{err:?}");
    }
    // Without extensions, `validate_request` sees no TLS certificate.
    let req = request(Some(alice.client_certificate()));
    let err = validator
        .validate_request::<()>(req.method(), req.uri(), req.headers())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CertificateMismatch { .. }));
    // A token alone proves no certificate.
    assert!(matches!(
        validator.validate::<()>(&token).await.unwrap_err(),
        Error::UnverifiedBinding
    ));
    assert!(matches!(
        validator
            .validate_without_waiting::<()>(&token)
            .unwrap_err(),
        Error::UnverifiedBinding
    ));
}

#[tokio::test]
async fn jkt_and_x5t_both_enforced() {
    let issuer = TestIssuer::start().await;
    let key = DpopKey::generate(jwt_gate::Algorithm::ES256);
    let alice = TestCertificate::self_signed("alice");
    let token = issuer
        .token()
        .audience(AUD)
        .dpop_bound(&key)
        .certificate_bound(&alice)
        .sign();
    let both = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .dpop(Dpop::allowed().public_origin("https://api.example.com"))
        .certificate_binding(CertificateBinding::allowed())
        .build()
        .unwrap();
    let request = |cert: Option<&TestCertificate>, scheme: &str| {
        let proof = key
            .proof("GET", "https://api.example.com/claims")
            .access_token(&token)
            .sign();
        let mut request = Request::get("/claims")
            .header("authorization", format!("{scheme} {token}"))
            .header("dpop", proof)
            .body(())
            .unwrap();
        if let Some(cert) = cert {
            request.extensions_mut().insert(cert.client_certificate());
        }
        request
    };
    let ok = both
        .validate_http_request::<(), _>(&request(Some(&alice), "DPoP"))
        .await
        .unwrap();
    assert_eq!(ok.scheme(), jwt_gate::AuthScheme::Dpop);
    assert_eq!(ok.claims().dpop_thumbprint(), Some(key.thumbprint()));
    // A proof without the certificate, or the certificate without a proof.
    let err = both
        .validate_http_request::<(), _>(&request(None, "DPoP"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CertificateMismatch { .. }), "{err:?}");
    let mut bearer = request(Some(&alice), "Bearer");
    bearer.headers_mut().remove("dpop");
    let err = both
        .validate_http_request::<(), _>(&bearer)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnverifiedBinding), "{err:?}");
    // A validator checking only one of the two refuses the token.
    for one in [
        validator(&issuer, CertificateBinding::allowed()),
        Validator::builder()
            .issuer(issuer.issuer())
            .audience(AUD)
            .allow_http()
            .dpop(Dpop::allowed().public_origin("https://api.example.com"))
            .build()
            .unwrap(),
    ] {
        let err = one
            .validate_http_request::<(), _>(&request(Some(&alice), "DPoP"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::UnverifiedBinding | Error::MalformedHeader),
            "{err:?}"
        );
    }
}

/// Required means required on every entry point: the token-only ones
/// (which see no certificate) refuse every token.
#[tokio::test]
async fn binding_required_holds_on_the_token_only_entry_points() {
    let issuer = TestIssuer::start().await;
    let v = validator(&issuer, CertificateBinding::required());
    let unbound = issuer.token().audience(AUD).sign();
    let err = v.validate::<()>(&unbound).await.unwrap_err();
    assert!(matches!(err, Error::NotCertificateBound), "{err:?}");
    let err = v.validate_without_waiting::<()>(&unbound).unwrap_err();
    assert!(matches!(err, Error::NotCertificateBound), "{err:?}");
    let alice = TestCertificate::self_signed("alice");
    let bound = bound_token(&issuer, &alice);
    let err = v.validate::<()>(&bound).await.unwrap_err();
    assert!(matches!(err, Error::UnverifiedBinding), "{err:?}");
}

/// The future holds the request's head, not the request: a body that is
/// `Send` but not `Sync` (hyper's is one) still makes a `Send` future, so
/// it can be awaited in a spawned task.
#[test]
fn validate_http_request_is_send_for_a_body_that_is_not_sync() {
    fn send<T: Send>(_: &T) {}
    let keys = jwt_gate::KeySet::new().with_secret(None, &[7; 32]).unwrap();
    let validator = Validator::builder()
        .keys(keys)
        .audience(AUD)
        .build()
        .unwrap();
    let request = Request::new(std::cell::Cell::new(0u8));
    send(&validator.validate_http_request::<(), _>(&request));
}
