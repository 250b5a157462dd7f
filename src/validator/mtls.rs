//! [`CertificateBinding`]: a validator's settings for certificate-bound
//! tokens (RFC 8705): off, allowed or required, and the one place the
//! request's client certificate comes from.

use http::HeaderName;

use crate::jose::cnf::Thumbprint;
use crate::jose::error::ConfigError;

/// Whether a validator accepts tokens bound to a client certificate
/// (`cnf.x5t#S256`), and tokens without that binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CertificateMode {
    /// No certificate binding: a token bound to a certificate is refused
    /// ([`Error::UnverifiedBinding`](crate::Error::UnverifiedBinding)),
    /// never taken as a bearer token.
    #[default]
    Off,
    /// A certificate-bound token is accepted from a request that presents
    /// its certificate; unbound tokens are accepted too.
    Allowed,
    /// Only certificate-bound tokens, each from a request that presents its
    /// certificate.
    Required,
}

/// Where a request's client certificate comes from: one explicit choice
/// per validator.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CertificateSource {
    /// The TLS stack: a [`ClientCertificate`](crate::mtls::ClientCertificate)
    /// in the request's extensions, which the server's TLS accept loop puts
    /// there (see the `mtls` example), or with feature `tonic-tls`, the
    /// peer certificates of tonic's own TLS server (`Request::peer_certs`).
    /// Headers are never read.
    #[default]
    Tls,
    /// A header a TLS-terminating proxy sets. The proxy must remove the
    /// header from every client request and set it only from the TLS
    /// connection: a client that can send it chooses its certificate.
    Header {
        /// The header, lowercase.
        name: HeaderName,
        /// How the proxy writes the certificate.
        format: HeaderFormat,
    },
}

/// How a proxy writes the client certificate into its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderFormat {
    /// RFC 9440 `Client-Cert`: a structured-field byte sequence, the DER in
    /// standard base64 between colons (`:MIIB…=:`); padding optional
    /// (RFC 8941 §4.2.7), one field line only.
    ByteSequence,
    /// Envoy's `x-forwarded-client-cert`: `;`-separated `key=value` pairs,
    /// one element per proxy; the first element's `Cert` (URL-encoded PEM)
    /// or else its `Hash` (hex SHA-256 of the DER) is used. With both, they
    /// must agree.
    EnvoyXfcc,
    /// A URL-encoded PEM certificate: nginx's `$ssl_client_escaped_cert`,
    /// AWS ALB's `X-Amzn-Mtls-Clientcert`. `+` is a plus, not a space.
    EscapedPem,
    /// The DER in standard base64, nothing around it (Cloud Foundry's
    /// `X-Forwarded-Client-Cert`).
    Base64Der,
}

/// A validator's certificate-binding settings (RFC 8705), for
/// [`ValidatorBuilder::certificate_binding`](crate::ValidatorBuilder::certificate_binding).
///
/// A token whose `cnf` carries `x5t#S256` is accepted only from a request
/// whose client certificate hashes to it (SHA-256 of the DER, base64url;
/// RFC 8705 §3.1); no certificate, or another one, is 401 `invalid_token`.
/// The certificate comes from one [source](CertificateSource): the TLS
/// stack (the default), or a header set by a TLS-terminating proxy you
/// control. The chain is not validated here (RFC 8705 §6.2): that is the
/// TLS layer's job, and possession of the key is what the handshake
/// proved.
///
/// A token bound to a DPoP key too (`cnf` with `jkt` and `x5t#S256`)
/// must pass both checks.
///
/// ```
/// use jwt_gate::Validator;
/// use jwt_gate::mtls::CertificateBinding;
///
/// # fn f() -> Result<(), jwt_gate::ConfigError> {
/// // TLS ends at a proxy that sends the client certificate as RFC 9440
/// // `Client-Cert` (and strips that header from client requests).
/// let validator = Validator::builder()
///     .issuer("https://auth.example.com")
///     .audience("api://orders")
///     .certificate_binding(CertificateBinding::required().from_client_cert_header())
///     .build()?;
/// # let _ = validator; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CertificateBinding {
    mode: CertificateMode,
    source: Source,
}

/// The source as configured: a header name is checked at `build()`.
#[derive(Debug, Clone)]
enum Source {
    Tls,
    Header(String, HeaderFormat),
}

impl CertificateBinding {
    /// No certificate binding (the default of a validator): bound tokens
    /// are refused.
    pub fn off() -> Self {
        Self::mode(CertificateMode::Off)
    }

    /// Certificate-bound tokens accepted with their certificate; unbound
    /// tokens accepted too.
    pub fn allowed() -> Self {
        Self::mode(CertificateMode::Allowed)
    }

    /// Only certificate-bound tokens, with their certificate.
    pub fn required() -> Self {
        Self::mode(CertificateMode::Required)
    }

    /// A mode chosen at run time (a flag, a setting).
    pub fn mode(mode: CertificateMode) -> Self {
        Self {
            mode,
            source: Source::Tls,
        }
    }

    /// The certificate of the TLS connection (the default): see
    /// [`CertificateSource::Tls`].
    pub fn from_tls(mut self) -> Self {
        self.source = Source::Tls;
        self
    }

    /// The RFC 9440 `Client-Cert` header of a trusted TLS-terminating
    /// proxy: `from_header("client-cert", HeaderFormat::ByteSequence)`.
    pub fn from_client_cert_header(self) -> Self {
        self.from_header("client-cert", HeaderFormat::ByteSequence)
    }

    /// The header `name` of a trusted TLS-terminating proxy, written as
    /// `format`. Only behind a proxy that removes `name` from every client
    /// request: a client that can set it chooses the certificate its
    /// tokens are checked against. A name that is not a valid header name
    /// is a [`ConfigError`] at `build()`.
    pub fn from_header(mut self, name: impl Into<String>, format: HeaderFormat) -> Self {
        self.source = Source::Header(name.into(), format);
        self
    }

    /// Checks the settings (at the validator's `build()`).
    pub(crate) fn build(self) -> Result<Option<MtlsSettings>, ConfigError> {
        if self.mode == CertificateMode::Off {
            return Ok(None);
        }
        let source = match self.source {
            Source::Tls => CertificateSource::Tls,
            Source::Header(name, format) => CertificateSource::Header {
                name: HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(
                    |_| {
                        ConfigError::new(
                            "certificate_binding",
                            format!("not a header name: {name:?}"),
                        )
                    },
                )?,
                format,
            },
        };
        Ok(Some(MtlsSettings {
            mode: self.mode,
            source,
            seen: moka::sync::Cache::builder()
                .weigher(weigh)
                .max_capacity(SEEN_BYTES)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        }))
    }
}

/// Bytes of proxy header values remembered with their thumbprints: a few
/// thousand clients' certificates.
const SEEN_BYTES: u64 = 4 * 1024 * 1024;

#[allow(
    clippy::borrowed_box,
    reason = "moka's weigher takes the key type by reference"
)]
fn weigh(value: &Box<[u8]>, _: &Thumbprint) -> u32 {
    u32::try_from(value.len() + 64).unwrap_or(u32::MAX)
}

/// A validator's certificate-binding settings, checked.
#[derive(Debug)]
pub(crate) struct MtlsSettings {
    pub(crate) mode: CertificateMode,
    pub(crate) source: CertificateSource,
    /// A proxy's header values (or tonic's peer certificates' DER) seen,
    /// with the thumbprint of the certificate each holds: they come again
    /// with every request of a client, so each is decoded and hashed once.
    /// Only values that held a certificate are kept; a hit is the very same
    /// bytes.
    seen: moka::sync::Cache<Box<[u8]>, Thumbprint, foldhash::fast::RandomState>,
}

impl MtlsSettings {
    /// The thumbprint of the certificate in the header `value`, read by
    /// `read` the first time this value is seen.
    pub(crate) fn thumbprint_of(
        &self,
        value: &[u8],
        read: impl FnOnce() -> Result<Option<Thumbprint>, &'static str>,
    ) -> Result<Option<Thumbprint>, &'static str> {
        if let Some(thumbprint) = self.seen.get(value) {
            return Ok(Some(thumbprint));
        }
        let thumbprint = read()?;
        if let Some(thumbprint) = thumbprint {
            self.seen.insert(value.into(), thumbprint);
        }
        Ok(thumbprint)
    }

    /// How many values are remembered.
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> u64 {
        self.seen.run_pending_tasks();
        self.seen.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_name_mistakes_found_at_build() {
        for bad in ["", "client cert", "client-cert:", "x\n"] {
            let err = CertificateBinding::allowed()
                .from_header(bad, HeaderFormat::ByteSequence)
                .build()
                .unwrap_err();
            assert_eq!(err.setting(), "certificate_binding", "{bad:?}");
        }
        let settings = CertificateBinding::required()
            .from_header("X-SSL-Client-Cert", HeaderFormat::EscapedPem)
            .build()
            .unwrap()
            .unwrap();
        assert_eq!(
            settings.source,
            CertificateSource::Header {
                name: HeaderName::from_static("x-ssl-client-cert"),
                format: HeaderFormat::EscapedPem
            }
        );
        assert!(CertificateBinding::off().build().unwrap().is_none());
    }
}
