//! Confirmation claims (`cnf`, RFC 7800): which bindings a token carries
//! and which a validator can check, and the client certificate a
//! certificate-bound token (RFC 8705) is checked against.
//!
//! Two bindings are known: a DPoP key's thumbprint (`jkt`, RFC 9449 §6.1)
//! and a certificate's (`x5t#S256`, RFC 8705 §3.1). A token carrying both
//! must prove both. Any other member, or a binding the validator is not
//! set up to check, makes the token [`Error::UnverifiedBinding`]: never a
//! bearer token.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::jose::error::Error;
use crate::jose::token::unique_object;

/// Which bindings the caller checks after validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bindings {
    /// `cnf.jkt`: the request's DPoP proof is checked.
    pub(crate) jkt: bool,
    /// `cnf.x5t#S256`: the request's client certificate is checked.
    pub(crate) x5t: bool,
}

impl Bindings {
    /// No binding checked: a bound token is refused.
    pub(crate) const NONE: Self = Self {
        jkt: false,
        x5t: false,
    };
}

/// The bindings a token's `cnf` carries.
#[derive(Debug, Default)]
pub(crate) struct Cnf {
    pub(crate) jkt: Option<String>,
    pub(crate) x5t: Option<Thumbprint>,
}

/// `cnf` read and checked against what `accept` can verify: an object with
/// `jkt` (a non-empty string) or `x5t#S256` (base64url of 32 bytes, no
/// padding), or both, and nothing else.
pub(crate) fn read(cnf: &RawValue, accept: Bindings) -> Result<Cnf, Error> {
    let Some(mut cnf) = unique_object(cnf.get().as_bytes()) else {
        return Err(Error::claim("cnf"));
    };
    let jkt = match cnf.remove("jkt") {
        Some(Value::String(jkt)) if !jkt.is_empty() => Some(jkt),
        Some(_) => return Err(Error::claim("cnf")),
        None => None,
    };
    let x5t = match cnf.remove("x5t#S256") {
        Some(Value::String(x5t)) => Some(x5t),
        Some(_) => return Err(Error::claim("cnf")),
        None => None,
    };
    let unchecked = (jkt.is_some() && !accept.jkt) || (x5t.is_some() && !accept.x5t);
    if !cnf.is_empty() || (jkt.is_none() && x5t.is_none()) || unchecked {
        return Err(Error::UnverifiedBinding);
    }
    // A thumbprint's shape matters only to a validator that compares it.
    let x5t = match x5t {
        Some(x5t) => Some(Thumbprint::parse(&x5t).ok_or_else(|| Error::claim("cnf"))?),
        None => None,
    };
    Ok(Cnf { jkt, x5t })
}

/// An RFC 8705 §3.1 certificate thumbprint: base64url (no padding) of the
/// SHA-256 of the certificate's DER, 43 characters. Held inline: comparing
/// two allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Thumbprint([u8; 43]);

impl Thumbprint {
    /// The thumbprint of the certificate `der`.
    pub(crate) fn of(der: &[u8]) -> Self {
        Self::from_hash(digest::digest(&digest::SHA256, der).as_ref())
    }

    /// The thumbprint whose SHA-256 is `hash` (32 bytes).
    pub(crate) fn from_hash(hash: &[u8]) -> Self {
        let mut out = [0u8; 43];
        let written = base64_simd::URL_SAFE_NO_PAD
            .encode(hash, base64_simd::Out::from_slice(&mut out))
            .len();
        debug_assert_eq!(written, 43);
        Self(out)
    }

    /// `text` when it has the shape of one: 43 base64url characters. (A
    /// spelling whose last character sets padding bits is kept: it is
    /// compared exactly, so it matches no certificate. RFC 8705's own
    /// example is one.)
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 43] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Self(bytes))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Base64url output is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client certificate presented on a request: its DER and its RFC 8705
/// thumbprint, computed once when made, so that checking a token's
/// `cnf.x5t#S256` against it is a 43-byte comparison. Cheap to clone.
///
/// With the TLS stack as the [certificate source](crate::mtls::CertificateSource),
/// the server's TLS accept loop makes one per connection from the peer's
/// leaf certificate and inserts it into every request's extensions (see
/// the `mtls` example); with a trusted proxy, jwt-gate reads the proxy's
/// header instead.
///
/// ```
/// use jwt_gate::mtls::ClientCertificate;
///
/// # let der: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
/// // `der`: the leaf of rustls' `peer_certificates()`.
/// let cert = ClientCertificate::from_der(der);
/// assert_eq!(cert.thumbprint().len(), 43);
/// assert_eq!(cert.der(), der);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq)]
struct Inner {
    der: Box<[u8]>,
    thumbprint: Thumbprint,
}

impl ClientCertificate {
    /// The certificate whose DER encoding is `der` (the leaf certificate
    /// of the TLS handshake). Hashes it once.
    pub fn from_der(der: impl AsRef<[u8]>) -> Self {
        let der = der.as_ref();
        Self {
            inner: Arc::new(Inner {
                der: der.into(),
                thumbprint: Thumbprint::of(der),
            }),
        }
    }

    /// The first certificate of `chain` (the leaf: TLS sends it first, as
    /// rustls' `peer_certificates()` and tonic's `peer_certs()` list it);
    /// `None` for an empty chain.
    pub fn from_chain<D: AsRef<[u8]>>(chain: &[D]) -> Option<Self> {
        chain.first().map(Self::from_der)
    }

    /// The certificate of a PEM document holding exactly one
    /// `CERTIFICATE` block and nothing else but whitespace; `None`
    /// otherwise (no block, two, a key, text around it, bad base64, a body
    /// that is not one DER structure).
    ///
    /// ```
    /// use jwt_gate::mtls::ClientCertificate;
    ///
    /// let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    /// let cert = ClientCertificate::from_pem(pem).unwrap();
    /// assert_eq!(cert.der(), [0x30, 0x03, 0x02, 0x01, 0x01]);
    /// assert!(ClientCertificate::from_pem(&format!("{pem}junk")).is_none());
    /// ```
    pub fn from_pem(pem: &str) -> Option<Self> {
        pem_der(pem).map(Self::from_der)
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The RFC 8705 §3.1 thumbprint: base64url (no padding) of the SHA-256
    /// of the DER, as a token bound to this certificate carries it in
    /// `cnf.x5t#S256`.
    pub fn thumbprint(&self) -> &str {
        self.inner.thumbprint.as_str()
    }

    pub(crate) fn thumbprint_raw(&self) -> Thumbprint {
        self.inner.thumbprint
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint", &self.inner.thumbprint)
            .field("der_len", &self.inner.der.len())
            .finish()
    }
}

/// The DER of a PEM document with exactly one `CERTIFICATE` block and only
/// whitespace around it; the body's lines may be split anywhere (nginx's
/// deprecated `$ssl_client_cert` continues them with tabs).
pub(crate) fn pem_der(pem: &str) -> Option<Vec<u8>> {
    pem_block(pem, "CERTIFICATE")
}

/// The DER of a PEM document with exactly one block labelled `label`
/// (`CERTIFICATE`, `PRIVATE KEY`), a DER SEQUENCE, and only whitespace
/// around it.
pub(crate) fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let rest = pem
        .trim()
        .strip_prefix("-----BEGIN ")?
        .strip_prefix(label)?
        .strip_prefix("-----")?;
    let (body, after) = rest.split_once("-----END ")?;
    if !after.strip_prefix(label)?.strip_prefix("-----")?.is_empty() {
        return None;
    }
    let body: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if body.contains(&b'-') {
        return None;
    }
    let der = base64_simd::STANDARD.decode_to_vec(&body).ok()?;
    is_der_sequence(&der).then_some(der)
}

/// Whether `der` is one DER SEQUENCE spanning all of it (as a certificate
/// is): junk decoded from a broken header is refused before it is hashed.
pub(crate) fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (len, body) = match *first {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let n = usize::from(long & 0x7f);
            let Some((len, body)) = rest.split_at_checked(n) else {
                return false;
            };
            if len[0] == 0 {
                return false;
            }
            (
                len.iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b)),
                body,
            )
        }
        _ => return false,
    };
    body.len() == len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    const BOTH: Bindings = Bindings {
        jkt: true,
        x5t: true,
    };
    const X5T: &str = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2";

    #[test]
    fn reads_each_binding_and_both() {
        let cnf = read(&raw(&format!(r#"{{"x5t#S256":"{X5T}"}}"#)), BOTH).unwrap();
        assert_eq!(cnf.x5t.unwrap().as_str(), X5T);
        assert!(cnf.jkt.is_none());
        let cnf = read(
            &raw(&format!(r#"{{"jkt":"abc","x5t#S256":"{X5T}"}}"#)),
            BOTH,
        )
        .unwrap();
        assert_eq!(cnf.jkt.as_deref(), Some("abc"));
        assert!(cnf.x5t.is_some());
    }

    #[test]
    fn a_binding_nobody_checks_is_refused() {
        let x5t = raw(&format!(r#"{{"x5t#S256":"{X5T}"}}"#));
        for accept in [
            Bindings::NONE,
            Bindings {
                jkt: true,
                x5t: false,
            },
        ] {
            assert!(matches!(read(&x5t, accept), Err(Error::UnverifiedBinding)));
        }
        let both = raw(&format!(r#"{{"jkt":"abc","x5t#S256":"{X5T}"}}"#));
        let only_x5t = Bindings {
            jkt: false,
            x5t: true,
        };
        assert!(matches!(
            read(&both, only_x5t),
            Err(Error::UnverifiedBinding)
        ));
        for other in [r#"{}"#, r#"{"jwk":{}}"#, r#"{"jku":"https://x"}"#] {
            assert!(matches!(
                read(&raw(other), BOTH),
                Err(Error::UnverifiedBinding)
            ));
        }
        let extra = raw(&format!(r#"{{"x5t#S256":"{X5T}","kid":"1"}}"#));
        assert!(matches!(read(&extra, BOTH), Err(Error::UnverifiedBinding)));
        // Unchecked, a malformed thumbprint is still a binding nobody checks.
        let short = raw(r#"{"x5t#S256":"abc"}"#);
        assert!(matches!(
            read(&short, Bindings::NONE),
            Err(Error::UnverifiedBinding)
        ));
    }

    #[test]
    fn a_malformed_thumbprint_is_invalid_claims() {
        let padded = format!("{X5T}=");
        let std_alphabet = X5T.replace('_', "/");
        let short = &X5T[..42];
        for bad in [padded.as_str(), &std_alphabet, short, ""] {
            let cnf = raw(&format!(r#"{{"x5t#S256":"{bad}"}}"#));
            assert!(
                matches!(
                    read(&cnf, BOTH),
                    Err(Error::InvalidClaims {
                        claim: Some("cnf"),
                        ..
                    })
                ),
                "{bad}"
            );
        }
        for bad in [
            r#"{"x5t#S256":7}"#,
            r#"{"x5t#S256":null}"#,
            r#"[]"#,
            r#""x""#,
        ] {
            assert!(
                matches!(read(&raw(bad), BOTH), Err(Error::InvalidClaims { .. })),
                "{bad}"
            );
        }
        let dup = raw(&format!(r#"{{"x5t#S256":"{X5T}","x5t#S256":"{X5T}"}}"#));
        assert!(matches!(read(&dup, BOTH), Err(Error::InvalidClaims { .. })));
    }

    #[test]
    fn thumbprint_is_base64url_sha256_of_der() {
        // SHA-256("abc"), RFC 6234 vector, in base64url.
        assert_eq!(
            Thumbprint::of(b"abc").as_str(),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert!(Thumbprint::parse(Thumbprint::of(b"abc").as_str()).is_some());
    }

    #[test]
    fn pem_is_one_certificate_block_and_nothing_else() {
        let body = "MAMCAQE=";
        let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----");
        assert_eq!(pem_der(&pem).unwrap(), [0x30, 3, 2, 1, 1]);
        assert_eq!(
            pem_der(&format!("  \n{pem}\r\n")).unwrap(),
            [0x30, 3, 2, 1, 1]
        );
        let tabbed = pem.replace('\n', "\n\t");
        assert_eq!(pem_der(&tabbed).unwrap(), [0x30, 3, 2, 1, 1]);
        for bad in [
            format!("{pem}\njunk"),
            format!("junk{pem}"),
            format!("{pem}\n{pem}"),
            pem.replace("CERTIFICATE", "PRIVATE KEY"),
            pem.replace(body, "MAMCAQ"),
            pem.replace(body, "!!!!"),
            pem.replace(body, "MAQCAQE="),
            String::new(),
        ] {
            assert!(pem_der(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn der_sequence_spans_the_input() {
        assert!(is_der_sequence(&[0x30, 0]));
        assert!(is_der_sequence(&[0x30, 0x81, 1, 5]));
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.resize(4 + 256, 0);
        assert!(is_der_sequence(&long));
        assert!(!is_der_sequence(&long[..long.len() - 1]));
        for bad in [
            &[][..],
            &[0x31, 0],
            &[0x30],
            &[0x30, 1],
            &[0x30, 0x80],
            &[0x30, 0x81, 0],
        ] {
            assert!(!is_der_sequence(bad), "{bad:?}");
        }
        assert!(!is_der_sequence(&[0x30, 0x85, 0, 0, 0, 0, 1]));
    }
}
