//! A real tonic server behind `JwtAuthLayer` (and one behind
//! `JwtInterceptor`), called by a real tonic client: the status codes the
//! client sees, and the claims the handler sees. No protoc: the messages are
//! plain UTF-8 strings with a tiny codec.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use jwt_gate::testing::{IssuerMode, TestIssuer};
use jwt_gate::tonic::JwtInterceptor;
use jwt_gate::{JwtAuthLayer, Validator};
use tonic::{Code, Status};

const AUD: &str = "api://orders";

use jwt_gate::testing::TextCodec as Text;

/// `/test.Whoami/Ask`: answers with the caller's `sub`, `tenantId` and
/// how it authenticated.
#[derive(Clone)]
struct Whoami {
    calls: Arc<AtomicUsize>,
}

impl tonic::server::NamedService for Whoami {
    const NAME: &'static str = "test.Whoami";
}

struct Ask(Arc<AtomicUsize>);

impl tonic::server::UnaryService<String> for Ask {
    type Response = String;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<String>, Status>> + Send>>;
    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        // The interceptor has no scheme to report: "-".
        let scheme =
            jwt_gate::tonic::auth_scheme(&request).map_or("-".to_owned(), |s| format!("{s:?}"));
        let answer = jwt_gate::tonic::claims_as::<serde_json::Value>(&request)
            .map(|c| format!("{} {} {scheme}", c.subject().unwrap_or("-"), c["tenantId"]))
            .ok_or_else(|| Status::internal("no claims"));
        Box::pin(async move { answer.map(tonic::Response::new) })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Whoami {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let calls = Arc::clone(&self.calls);
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(Text);
            Ok(grpc.unary(Ask(calls), req).await)
        })
    }
}

struct Fixture {
    issuer: TestIssuer,
    url: String,
    calls: Arc<AtomicUsize>,
}

fn validator(issuer: &TestIssuer) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .require_scopes(["orders.read"])
        .allow_http()
        .fetch_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

async fn bind() -> (tokio_stream::wrappers::TcpListenerStream, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        url,
    )
}

/// A tonic server with the tower layer in front.
async fn with_layer() -> Fixture {
    let issuer = TestIssuer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (incoming, url) = bind().await;
    let router = tonic::transport::Server::builder()
        .layer(JwtAuthLayer::new(validator(&issuer)).claims::<serde_json::Value>())
        .add_service(Whoami {
            calls: Arc::clone(&calls),
        });
    tokio::spawn(router.serve_with_incoming(incoming));
    Fixture { issuer, url, calls }
}

/// A tonic server behind `JwtInterceptor`: its URL and call count.
async fn with_interceptor(validator: Validator) -> (String, Arc<AtomicUsize>) {
    intercepted_on(tonic::transport::Server::builder(), validator).await
}

/// `server` (plain, or with TLS) serving `Whoami` behind `JwtInterceptor`
/// on loopback: its `http://` URL and call count.
async fn intercepted_on(
    mut server: tonic::transport::Server,
    validator: Validator,
) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let (incoming, url) = bind().await;
    let service = tonic::service::interceptor::InterceptedService::new(
        Whoami {
            calls: Arc::clone(&calls),
        },
        JwtInterceptor::new(validator).claims::<serde_json::Value>(),
    );
    tokio::spawn(server.add_service(service).serve_with_incoming(incoming));
    (url, calls)
}

async fn ask(url: &str, token: Option<&str>) -> Result<String, Status> {
    let auth = token.map(|t| format!("Bearer {t}"));
    ask_with(url, auth.as_deref(), None).await
}

/// A call with this `authorization` and `dpop` metadata.
async fn ask_with(url: &str, auth: Option<&str>, dpop: Option<&str>) -> Result<String, Status> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    ask_on(channel, auth, dpop).await
}

/// A call on `channel` with this `authorization` and `dpop` metadata.
async fn ask_on(
    channel: tonic::transport::Channel,
    auth: Option<&str>,
    dpop: Option<&str>,
) -> Result<String, Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = tonic::Request::new("who am I?".to_owned());
    if let Some(auth) = auth {
        request
            .metadata_mut()
            .insert("authorization", auth.parse().unwrap());
    }
    if let Some(proof) = dpop {
        request
            .metadata_mut()
            .insert("dpop", proof.parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_static("/test.Whoami/Ask");
    client
        .unary(request, path, Text)
        .await
        .map(tonic::Response::into_inner)
}

fn token(issuer: &TestIssuer) -> jwt_gate::testing::TokenBuilder {
    issuer
        .token()
        .audience(AUD)
        .scope("orders.read")
        .subject("974899")
        .claim("tenantId", "1741")
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let f = with_layer().await;
    let answer = ask(&f.url, Some(&token(&f.issuer).sign())).await.unwrap();
    assert_eq!(answer, r#"974899 "1741" Bearer"#);
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_tonic_client_sees_unauthenticated_permission_denied_and_unavailable() {
    let f = with_layer().await;
    let missing = ask(&f.url, None).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert_eq!(missing.message(), "No access token was sent");
    let expired = token(&f.issuer)
        .expired_since(Duration::from_secs(60))
        .sign();
    let status = ask(&f.url, Some(&expired)).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "The access token expired")
    );
    let no_scope = token(&f.issuer).scope("profile").sign();
    assert_eq!(
        ask(&f.url, Some(&no_scope)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        f.calls.load(Ordering::SeqCst),
        0,
        "the handler is never called on rejection"
    );

    let cold = with_layer().await;
    cold.issuer.set_mode(IssuerMode::Down);
    let status = ask(&cold.url, Some(&token(&cold.issuer).sign()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(cold.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn dpop_over_grpc_through_the_layer() {
    let issuer = TestIssuer::start().await;
    let (incoming, url) = bind().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .dpop(jwt_gate::dpop::Dpop::required())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let router = tonic::transport::Server::builder()
        .layer(JwtAuthLayer::new(validator).claims::<serde_json::Value>())
        .add_service(Whoami {
            calls: Arc::clone(&calls),
        });
    tokio::spawn(router.serve_with_incoming(incoming));
    let key = jwt_gate::testing::DpopKey::generate(jwt_gate::Algorithm::ES256);
    let bound = token(&issuer).dpop_bound(&key).sign();
    // gRPC is POST to /package.Service/Method on the channel's origin.
    let htu = format!("{url}/test.Whoami/Ask");
    let proof = key.proof("POST", &htu).access_token(&bound).sign();
    let auth = format!("DPoP {bound}");
    let answer = ask_with(&url, Some(&auth), Some(&proof)).await.unwrap();
    assert_eq!(answer, r#"974899 "1741" Dpop"#);
    // The same proof again, a bearer token, a proof for GET: unauthenticated.
    let replayed = ask_with(&url, Some(&auth), Some(&proof)).await.unwrap_err();
    assert_eq!(
        (replayed.code(), replayed.message()),
        (Code::Unauthenticated, "The DPoP proof is invalid")
    );
    let bearer = ask(&url, Some(&token(&issuer).sign())).await.unwrap_err();
    assert_eq!(bearer.code(), Code::Unauthenticated);
    let get = key.proof("GET", &htu).access_token(&bound).sign();
    let wrong = ask_with(&url, Some(&auth), Some(&get)).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// The interceptor checks no proof: with DPoP required it lets no token in.
#[tokio::test]
async fn the_interceptor_refuses_every_token_where_dpop_is_required() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .dpop(jwt_gate::dpop::Dpop::required())
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    let (url, calls) = with_interceptor(validator).await;
    let refused = ask(&url, Some(&token(&issuer).sign())).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(
        refused.message(),
        "The resource requires a DPoP-bound access token and a DPoP proof"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_interceptor_validates_with_cached_keys() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let (url, calls) = with_interceptor(validator.clone()).await;
    let good = token(&issuer).sign();
    // No keys held yet: the interceptor does not wait on the network.
    assert_eq!(
        ask(&url, Some(&good)).await.unwrap_err().code(),
        Code::Unavailable
    );
    validator.warm_up().await.unwrap();
    assert_eq!(ask(&url, Some(&good)).await.unwrap(), r#"974899 "1741" -"#);
    assert_eq!(
        ask(&url, None).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let reader_only = token(&issuer).scope("profile").sign();
    assert_eq!(
        ask(&url, Some(&reader_only)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A tonic TLS server asking for client certificates (signed by `ca`),
/// with jwt-gate reading tonic's peer certificates (feature `tonic-tls`):
/// the layer on one, the interceptor on another.
#[cfg(feature = "tonic-tls")]
mod mtls {
    use jwt_gate::mtls::CertificateBinding;
    use jwt_gate::testing::TestCertificate;
    use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, ServerTlsConfig};

    use super::*;

    struct Tls {
        ca: TestCertificate,
        server: TestCertificate,
    }

    impl Tls {
        fn new() -> Self {
            let ca = TestCertificate::ca("grpc CA");
            let server = TestCertificate::signed_by("localhost", &ca);
            Self { ca, server }
        }

        fn server_config(&self) -> ServerTlsConfig {
            ServerTlsConfig::new()
                .identity(Identity::from_pem(self.server.pem(), self.server.key_pem()))
                .client_ca_root(Certificate::from_pem(self.ca.pem()))
                .client_auth_optional(true)
        }

        /// A channel to `addr` presenting `identity`, if any.
        async fn channel(&self, addr: &str, identity: Option<&TestCertificate>) -> Channel {
            let mut tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(self.ca.pem()))
                .domain_name("localhost");
            if let Some(id) = identity {
                tls = tls.identity(Identity::from_pem(id.pem(), id.key_pem()));
            }
            Channel::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .unwrap()
        }
    }

    impl Tls {
        /// A tonic TLS server on loopback behind the layer; its address.
        async fn serve_with_layer(&self, validator: Validator) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let router = tonic::transport::Server::builder()
                .tls_config(self.server_config())
                .unwrap()
                .layer(JwtAuthLayer::new(validator).claims::<serde_json::Value>())
                .add_service(Whoami {
                    calls: Arc::new(AtomicUsize::new(0)),
                });
            tokio::spawn(router.serve_with_incoming(incoming));
            addr
        }
    }

    fn bound_validator(issuer: &TestIssuer, binding: CertificateBinding) -> Validator {
        Validator::builder()
            .issuer(issuer.issuer())
            .audience(AUD)
            .require_scopes(["orders.read"])
            .allow_http()
            .certificate_binding(binding)
            .build()
            .unwrap()
    }

    /// Each case: (token, client identity) → Ok(answer) or the code.
    async fn check_cases(tls: &Tls, addr: &str, issuer: &TestIssuer, scheme: &str) {
        let ca = &tls.ca;
        let alice = TestCertificate::signed_by("alice", ca);
        let bob = TestCertificate::signed_by("bob", ca);
        let bound = token(issuer).certificate_bound(&alice).sign();
        let auth = format!("Bearer {bound}");
        let channel = tls.channel(addr, Some(&alice)).await;
        assert_eq!(
            ask_on(channel, Some(&auth), None).await.unwrap(),
            format!(r#"974899 "1741" {scheme}"#)
        );
        for identity in [Some(&bob), None] {
            let channel = tls.channel(addr, identity).await;
            let refused = ask_on(channel, Some(&auth), None).await.unwrap_err();
            assert_eq!(refused.code(), Code::Unauthenticated, "{identity:?}");
            assert_eq!(
                refused.message(),
                "The access token is bound to a client certificate the request did not present"
            );
        }
        // Unbound tokens pass where binding is allowed.
        let unbound = format!("Bearer {}", token(issuer).sign());
        let channel = tls.channel(addr, None).await;
        assert!(ask_on(channel, Some(&unbound), None).await.is_ok());
    }

    #[tokio::test]
    async fn certificate_bound_tokens_over_mtls_through_the_layer() {
        let issuer = TestIssuer::start().await;
        let tls = Tls::new();
        let validator = bound_validator(&issuer, CertificateBinding::allowed());
        let addr = tls.serve_with_layer(validator).await;
        check_cases(&tls, &addr, &issuer, "Bearer").await;
    }

    #[tokio::test]
    async fn certificate_bound_tokens_over_mtls_through_the_interceptor() {
        let issuer = TestIssuer::start().await;
        let tls = Tls::new();
        let validator = bound_validator(&issuer, CertificateBinding::allowed());
        validator.warm_up().await.unwrap();
        let server = tonic::transport::Server::builder()
            .tls_config(tls.server_config())
            .unwrap();
        let (url, _) = intercepted_on(server, validator).await;
        let addr = url.trim_start_matches("http://");
        check_cases(&tls, addr, &issuer, "-").await;
    }

    #[tokio::test]
    async fn binding_required_refuses_unbound_tokens_over_grpc() {
        let issuer = TestIssuer::start().await;
        let tls = Tls::new();
        let validator = bound_validator(&issuer, CertificateBinding::required());
        let addr = tls.serve_with_layer(validator).await;
        let alice = TestCertificate::signed_by("alice", &tls.ca);
        let unbound = format!("Bearer {}", token(&issuer).sign());
        let channel = tls.channel(&addr, Some(&alice)).await;
        let refused = ask_on(channel, Some(&unbound), None).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        assert_eq!(
            refused.message(),
            "The resource requires an access token bound to a client certificate"
        );
    }
}

#[test]
fn errors_map_to_tonic_statuses() {
    let status = Status::from(jwt_gate::Error::InvalidSignature);
    assert_eq!(
        (status.code(), status.message()),
        (
            Code::Unauthenticated,
            "The access token signature is invalid"
        )
    );
    let status = Status::from(&jwt_gate::Error::InsufficientScope {
        required: "a".into(),
    });
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = Status::from(&jwt_gate::Error::KeysUnavailable {
        source: None,
        retry_after: None,
    });
    assert_eq!(status.code(), Code::Unavailable);
}

/// A call with these metadata pairs.
async fn ask_with_metadata(url: &str, metadata: &[(&'static str, &str)]) -> Result<String, Status> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = tonic::Request::new("who am I?".to_owned());
    for (name, value) in metadata {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_static("/test.Whoami/Ask");
    client
        .unary(request, path, Text)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn api_keys_through_the_interceptor_and_the_layer() {
    let issuer = TestIssuer::start().await;
    let keys = jwt_gate::ApiKeys::new().key(
        "k3y-for-tenant-1741",
        serde_json::json!({"sub": "billing-job", "tenantId": "1741", "scope": "orders.read"}),
    );
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .api_keys(keys)
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    let (intercepted, _) = with_interceptor(validator.clone()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (incoming, layered) = bind().await;
    let router = tonic::transport::Server::builder()
        .layer(JwtAuthLayer::new(validator).claims::<serde_json::Value>())
        .add_service(Whoami {
            calls: Arc::clone(&calls),
        });
    tokio::spawn(router.serve_with_incoming(incoming));
    let bearer = format!("Bearer {}", token(&issuer).sign());
    for (url, scheme) in [(&intercepted, "-"), (&layered, "ApiKey")] {
        assert_eq!(
            ask_with_metadata(url, &[("x-api-key", "k3y-for-tenant-1741")])
                .await
                .unwrap(),
            format!(r#"billing-job "1741" {scheme}"#)
        );
        for refused in [
            vec![("x-api-key", "not-a-key")],
            vec![
                ("x-api-key", "k3y-for-tenant-1741"),
                ("authorization", bearer.as_str()),
            ],
        ] {
            let status = ask_with_metadata(url, &refused).await.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{url} {refused:?}");
        }
        // A token still works beside the keys.
        assert!(
            ask_with_metadata(url, &[("authorization", bearer.as_str())])
                .await
                .is_ok()
        );
    }
}
