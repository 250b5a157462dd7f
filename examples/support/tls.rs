//! Serving an axum router over TLS with client certificates, so that
//! jwt-gate sees each connection's certificate: the accept loop makes one
//! `ClientCertificate` per connection (hashed once) and inserts it into
//! every request of that connection. Shared by the `mtls` example and the
//! tests (`#[path]`-included; not every user uses every item).
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use jwt_gate::mtls::ClientCertificate;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Accepts any client certificate (RFC 8705 §2.2,
/// `self_signed_tls_client_auth`: the token's binding, not a CA, says
/// which certificate is right), but still checks the handshake signature,
/// which proves the client holds the certificate's private key.
/// `mandatory: false` lets clients without a certificate in (unbound
/// tokens, or none).
#[derive(Debug)]
pub(crate) struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl AnyClientCertificate {
    pub(crate) fn new(provider: &CryptoProvider, mandatory: bool) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
            mandatory,
        }
    }
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A rustls server config with `cert_der`/`key_der` (PKCS#8) as the
/// server's identity, asking every client for a certificate.
pub(crate) fn server_config(
    cert_der: &[u8],
    key_der: &[u8],
    mandatory: bool,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(AnyClientCertificate::new(&provider, mandatory));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert_der.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec())),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` until the task is dropped: each
/// connection's handshake in its own task (bounded by a timeout, so a
/// slow client holds up no one), its client certificate inserted into the
/// extensions of each of its requests.
pub(crate) async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: axum::Router,
) {
    serve_counting(listener, config, app, Arc::default()).await;
}

/// [`serve`], counting the handshakes that resumed an earlier session
/// (whose client certificate rustls keeps with the session).
pub(crate) async fn serve_counting(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: axum::Router,
    resumed: Arc<AtomicUsize>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let resumed = Arc::clone(&resumed);
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
            let Ok(Ok(tls)) = handshake.await else {
                return;
            };
            if tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                resumed.fetch_add(1, Ordering::SeqCst);
            }
            // The leaf certificate, hashed once for the connection.
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(ClientCertificate::from_chain);
            let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
                if let Some(certificate) = &certificate {
                    request.extensions_mut().insert(certificate.clone());
                }
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
