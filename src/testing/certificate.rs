//! [`TestCertificate`]: X.509 certificates and their keys for tests of
//! certificate-bound tokens (RFC 8705): self-signed client certificates
//! (`self_signed_tls_client_auth`), a CA and the certificates it signs
//! (`tls_client_auth`, and servers' certificates).

use std::fmt;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

use crate::jose::cnf::ClientCertificate;

/// A certificate (ECDSA P-256) and its private key, made for a test.
///
/// ```
/// use jwt_gate::testing::{TestCertificate, TestIssuer};
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let client = TestCertificate::self_signed("client-a");
/// let issuer = TestIssuer::start().await;
/// // `cnf.x5t#S256` = the certificate's thumbprint.
/// let token = issuer.token().certificate_bound(&client).sign();
/// // For reqwest: `reqwest::Identity::from_pem(client.identity_pem().as_bytes())`.
/// assert!(client.identity_pem().contains("PRIVATE KEY"));
/// # let _ = token; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TestCertificate {
    params: CertificateParams,
    key: Arc<KeyPair>,
    der: Vec<u8>,
    pem: String,
}

impl fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCertificate")
            .field("thumbprint", &self.client_certificate().thumbprint())
            .finish_non_exhaustive()
    }
}

impl TestCertificate {
    /// A self-signed certificate with common name and DNS name `name` (a
    /// client's, or a server's such as `localhost`).
    ///
    /// # Panics
    ///
    /// When `name` cannot be a DNS name, or key generation fails.
    pub fn self_signed(name: &str) -> Self {
        let (params, key) = Self::params(name, false);
        let cert = params.self_signed(&key).expect("a self-signed certificate");
        Self::new(params, key, &cert)
    }

    /// A self-signed CA certificate that can sign others
    /// ([`signed_by`](Self::signed_by)).
    ///
    /// # Panics
    ///
    /// As [`self_signed`](Self::self_signed).
    pub fn ca(name: &str) -> Self {
        let (params, key) = Self::params(name, true);
        let cert = params.self_signed(&key).expect("a CA certificate");
        Self::new(params, key, &cert)
    }

    /// A certificate for `name` signed by `ca`.
    ///
    /// # Panics
    ///
    /// As [`self_signed`](Self::self_signed).
    pub fn signed_by(name: &str, ca: &Self) -> Self {
        let (params, key) = Self::params(name, false);
        let issuer = Issuer::from_params(&ca.params, &*ca.key);
        let cert = params
            .signed_by(&key, &issuer)
            .expect("a signed certificate");
        Self::new(params, key, &cert)
    }

    fn params(name: &str, ca: bool) -> (CertificateParams, KeyPair) {
        let mut params =
            CertificateParams::new(vec![name.to_owned()]).expect("a DNS name for the certificate");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        (params, KeyPair::generate().expect("a P-256 key"))
    }

    fn new(params: CertificateParams, key: KeyPair, cert: &rcgen::Certificate) -> Self {
        Self {
            params,
            key: Arc::new(key),
            der: cert.der().to_vec(),
            pem: cert.pem(),
        }
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The private key as PKCS#8 DER (for rustls' `PrivateKeyDer`).
    pub fn key_der(&self) -> Vec<u8> {
        self.key.serialize_der()
    }

    /// Certificate and key in one PEM document: a TLS client's identity
    /// (`reqwest::Identity::from_pem`).
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.pem, self.key_pem())
    }

    /// The certificate as the TLS stack hands it to jwt-gate.
    pub fn client_certificate(&self) -> ClientCertificate {
        ClientCertificate::from_der(&self.der)
    }

    /// The RFC 8705 thumbprint a token bound to this certificate carries
    /// (`cnf.x5t#S256`).
    pub fn thumbprint(&self) -> String {
        self.client_certificate().thumbprint().to_owned()
    }
}
