//! The client certificate a request presents (RFC 8705), from the one
//! source a validator names: the TLS stack (a [`ClientCertificate`]
//! extension, or tonic's TLS connection info), or a trusted proxy's header
//! (RFC 9440 `Client-Cert`, Envoy's `x-forwarded-client-cert`, a
//! URL-encoded PEM, bare base64 DER); and the check of a token's
//! `cnf.x5t#S256` against it.

use http::{Extensions, HeaderMap, HeaderName, HeaderValue};

use crate::jose::claims::Claims;
use crate::jose::cnf::{ClientCertificate, Thumbprint, is_der_sequence, pem_der};
use crate::jose::digest::hex_32;
use crate::jose::error::Error;
use crate::validator::mtls::{CertificateMode, CertificateSource, HeaderFormat, MtlsSettings};

/// A proxy's certificate header longer than this is refused unread: a
/// leaf certificate is a few kilobytes, Envoy's element with `Chain` a few
/// times that.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The certificate-binding check of validated claims: a token bound to a
/// certificate only from a request presenting it; with binding required,
/// no unbound token. The request's certificate is looked up only for a
/// bound token.
pub(crate) fn check<C>(
    settings: Option<&MtlsSettings>,
    claims: &Claims<C>,
    headers: &HeaderMap,
    extensions: Option<&Extensions>,
) -> Result<(), Error> {
    let bound = claims.registered().certificate_binding();
    let Some(settings) = settings else {
        // Parsing already refused such a token; kept as a second lock.
        return match bound {
            Some(_) => Err(Error::UnverifiedBinding),
            None => Ok(()),
        };
    };
    let Some(bound) = bound else {
        return match settings.mode {
            CertificateMode::Required => Err(Error::NotCertificateBound),
            _ => Ok(()),
        };
    };
    match presented(settings, headers, extensions) {
        Ok(Some(thumbprint)) if thumbprint == bound => Ok(()),
        Ok(Some(_)) => Err(Error::CertificateMismatch {
            reason: "the client certificate is not the one the token is bound to",
        }),
        Ok(None) => Err(Error::CertificateMismatch {
            reason: "the request presented no client certificate",
        }),
        Err(reason) => {
            tracing::warn!(
                target: "jwt_gate",
                reason,
                "the trusted proxy's client certificate header is unusable"
            );
            Err(Error::CertificateMismatch { reason })
        }
    }
}

/// The thumbprint of the request's client certificate from the settings'
/// source: `Ok(None)` when there is none, `Err` when a proxy's header is
/// there and cannot be read (why, for logs).
fn presented(
    settings: &MtlsSettings,
    headers: &HeaderMap,
    extensions: Option<&Extensions>,
) -> Result<Option<Thumbprint>, &'static str> {
    match &settings.source {
        CertificateSource::Tls => extensions.map_or(Ok(None), |e| tls_certificate(settings, e)),
        CertificateSource::Header { name, format } => {
            let Some(value) = single(headers, name, *format)? else {
                return Ok(None);
            };
            settings.thumbprint_of(value.as_bytes(), || read_value(value, *format))
        }
    }
}

/// The TLS stack's certificate: the extension an accept loop inserted,
/// else (feature `tonic-tls`) the leaf of tonic's TLS peer certificates,
/// whose DER is hashed once and remembered like a proxy's header value.
fn tls_certificate(
    settings: &MtlsSettings,
    extensions: &Extensions,
) -> Result<Option<Thumbprint>, &'static str> {
    if let Some(cert) = extensions.get::<ClientCertificate>() {
        return Ok(Some(cert.thumbprint_raw()));
    }
    #[cfg(feature = "tonic-tls")]
    {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        if let Some(info) = extensions.get::<TlsConnectInfo<TcpConnectInfo>>() {
            let Some(chain) = info.peer_certs() else {
                return Ok(None);
            };
            let Some(leaf) = chain.first() else {
                return Ok(None);
            };
            return settings.thumbprint_of(leaf, || Ok(Some(Thumbprint::of(leaf))));
        }
    }
    let _ = settings;
    Ok(None)
}

/// The proxy's header `name`: its one field line (Envoy's: its first),
/// not over the size limit.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    format: HeaderFormat,
) -> Result<Option<&'h HeaderValue>, &'static str> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // One field line: two are a client's copy the proxy did not strip, or
    // two proxies, and which one is meant cannot be told.
    if values.next().is_some() && format != HeaderFormat::EnvoyXfcc {
        return Err("the client certificate header occurs more than once");
    }
    if value.len() > MAX_HEADER_BYTES {
        return Err("the client certificate header is too large");
    }
    Ok(Some(value))
}

/// The certificate in one header value written as `format`.
fn read_value(
    value: &HeaderValue,
    format: HeaderFormat,
) -> Result<Option<Thumbprint>, &'static str> {
    let value = value
        .to_str()
        .map_err(|_| "the client certificate header is not ASCII")?
        .trim_matches([' ', '\t']);
    match format {
        HeaderFormat::ByteSequence => byte_sequence(value),
        HeaderFormat::EnvoyXfcc => xfcc(value),
        HeaderFormat::EscapedPem => escaped_pem(value),
        HeaderFormat::Base64Der => base64_der(value, false),
    }
}

/// RFC 9440 §2.1: `:` base64 `:` (RFC 8941 §3.3.5), standard alphabet,
/// padding optional (§4.2.7). An empty value or `::` is no certificate.
fn byte_sequence(value: &str) -> Result<Option<Thumbprint>, &'static str> {
    if value.is_empty() {
        return Ok(None);
    }
    let inner = value
        .strip_prefix(':')
        .and_then(|v| v.strip_suffix(':'))
        .ok_or("the Client-Cert header is not a byte sequence")?;
    base64_der(inner, true)
}

/// Standard base64 of a DER certificate; `optional_padding` for RFC 8941.
fn base64_der(text: &str, optional_padding: bool) -> Result<Option<Thumbprint>, &'static str> {
    if text.is_empty() {
        return Ok(None);
    }
    let unpadded = text.trim_end_matches('=');
    let engine = if optional_padding && unpadded.len() == text.len() {
        base64_simd::STANDARD_NO_PAD
    } else {
        base64_simd::STANDARD
    };
    let der = engine
        .decode_to_vec(text)
        .map_err(|_| "the client certificate header is not base64")?;
    certificate(&der)
}

/// The thumbprint of `der` when it is one DER structure.
fn certificate(der: &[u8]) -> Result<Option<Thumbprint>, &'static str> {
    if !is_der_sequence(der) {
        return Err("the client certificate header does not hold a certificate");
    }
    Ok(Some(Thumbprint::of(der)))
}

/// A URL-encoded PEM certificate.
fn escaped_pem(value: &str) -> Result<Option<Thumbprint>, &'static str> {
    if value.is_empty() {
        return Ok(None);
    }
    let pem = percent_decode(value).ok_or("the client certificate header is badly escaped")?;
    let der =
        pem_der(&pem).ok_or("the client certificate header does not hold one PEM certificate")?;
    Ok(Some(Thumbprint::of(&der)))
}

/// Envoy's `x-forwarded-client-cert`: its first element (the proxy that
/// terminated the client's TLS), `Cert` (URL-encoded PEM) else `Hash` (hex
/// SHA-256 of the DER); with both, they must agree.
fn xfcc(value: &str) -> Result<Option<Thumbprint>, &'static str> {
    const BAD: &str = "the x-forwarded-client-cert header is malformed";
    let first = split_unquoted(value, b',').next().unwrap_or_default();
    let mut cert = None;
    let mut hash = None;
    for pair in split_unquoted(first, b';') {
        let pair = pair.trim_matches([' ', '\t']);
        if pair.is_empty() {
            continue;
        }
        let (key, raw) = pair.split_once('=').ok_or(BAD)?;
        let slot = if key.eq_ignore_ascii_case("cert") {
            &mut cert
        } else if key.eq_ignore_ascii_case("hash") {
            &mut hash
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(BAD);
        }
        *slot = Some(unquote(raw).ok_or(BAD)?);
    }
    let from_hash = match hash {
        Some(hex) => Some(Thumbprint::from_hash(&hex_32(&hex).ok_or(BAD)?)),
        None => None,
    };
    let from_cert = match cert {
        Some(cert) => escaped_pem(&cert)?,
        None => None,
    };
    match (from_cert, from_hash) {
        (Some(a), Some(b)) if a != b => Err("the x-forwarded-client-cert Hash and Cert disagree"),
        (Some(t), _) | (None, Some(t)) => Ok(Some(t)),
        (None, None) => Ok(None),
    }
}

/// `value` split at `sep` outside double quotes (a `\` escapes inside).
fn split_unquoted(value: &str, sep: u8) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    let mut cuts = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        match (*b, quoted, escaped) {
            (_, true, true) => escaped = false,
            (b'\\', true, false) => escaped = true,
            (b'"', _, false) => quoted = !quoted,
            (b, false, _) if b == sep => {
                cuts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cuts.push(&value[start..]);
    cuts.into_iter()
}

/// A value as written, or between double quotes with `\` escapes.
fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return (!raw.contains('"')).then(|| raw.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// `%XX` decoded (`+` stays `+`: this is not a form); `None` for a bad
/// escape or text that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::mtls::CertificateBinding;

    /// The certificate in the proxy's header `name`, written as `format`.
    fn from_header(
        headers: &HeaderMap,
        name: &HeaderName,
        format: HeaderFormat,
    ) -> Result<Option<Thumbprint>, &'static str> {
        match single(headers, name, format)? {
            Some(value) => read_value(value, format),
            None => Ok(None),
        }
    }

    /// A small DER SEQUENCE standing for a certificate.
    const DER: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x01];

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn read(format: HeaderFormat, values: &[&str]) -> Result<Option<Thumbprint>, &'static str> {
        let name = HeaderName::from_static("x-cert");
        from_header(&headers("x-cert", values), &name, format)
    }

    fn want() -> Option<Thumbprint> {
        Some(Thumbprint::of(&DER))
    }

    #[test]
    fn sf_binary_standard_alphabet_padded_or_not() {
        assert_eq!(
            read(HeaderFormat::ByteSequence, &[":MAMCAQE=:"]),
            Ok(want())
        );
        assert_eq!(read(HeaderFormat::ByteSequence, &[":MAMCAQE:"]), Ok(want()));
        assert_eq!(
            read(HeaderFormat::ByteSequence, &["  :MAMCAQE=:\t"]),
            Ok(want())
        );
        assert_eq!(read(HeaderFormat::ByteSequence, &["::"]), Ok(None));
        assert_eq!(read(HeaderFormat::ByteSequence, &[""]), Ok(None));
        assert_eq!(read(HeaderFormat::ByteSequence, &[]), Ok(None));
    }

    #[test]
    fn sf_binary_refuses_what_is_not_one_certificate() {
        for bad in [
            "MAMCAQE=",
            ":MAMCAQE=",
            ":MAMC-AQE:",
            ":!!!!:",
            ":MAMCAQE=:, :MAMCAQE=:",
            ":AAAA:",
            ":MAMCAQE===:",
        ] {
            assert!(read(HeaderFormat::ByteSequence, &[bad]).is_err(), "{bad}");
        }
        assert!(read(HeaderFormat::ByteSequence, &[":MAMCAQE=:", ":MAMCAQE=:"]).is_err());
        let huge = format!(":{}:", "A".repeat(MAX_HEADER_BYTES));
        assert!(read(HeaderFormat::ByteSequence, &[&huge]).is_err());
        let mut h = HeaderMap::new();
        h.insert("x-cert", HeaderValue::from_bytes(b":\xff:").unwrap());
        let name = HeaderName::from_static("x-cert");
        assert!(from_header(&h, &name, HeaderFormat::ByteSequence).is_err());
    }

    fn pem() -> String {
        "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n".to_owned()
    }

    fn escape(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    char::from(b).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn escaped_pem_as_nginx_writes_it() {
        assert_eq!(
            read(HeaderFormat::EscapedPem, &[&escape(&pem())]),
            Ok(want())
        );
        assert_eq!(read(HeaderFormat::EscapedPem, &[""]), Ok(None));
        let junk = escape(&format!("{}junk", pem()));
        assert!(read(HeaderFormat::EscapedPem, &[&junk]).is_err());
        assert!(read(HeaderFormat::EscapedPem, &["%ZZ"]).is_err());
        assert!(read(HeaderFormat::EscapedPem, &["%FF%FE"]).is_err());
        assert!(read(HeaderFormat::EscapedPem, &["%4"]).is_err());
    }

    #[test]
    fn pem_with_plus_and_slash_is_percent_decoded_not_form_decoded() {
        // DER bytes whose base64 holds `+` and `/`.
        let der = [0x30, 0x03, 0x00, 0xfb, 0xf0];
        let b64 = base64_simd::STANDARD.encode_to_string(der);
        assert!(b64.contains('+') && b64.contains('/'), "{b64}");
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        // nginx leaves `+` and `/` as they are.
        let escaped = pem.replace('\n', "%0A").replace(' ', "%20");
        assert_eq!(
            read(HeaderFormat::EscapedPem, &[&escaped]),
            Ok(Some(Thumbprint::of(&der)))
        );
    }

    #[test]
    fn base64_der_as_cloud_foundry_writes_it() {
        assert_eq!(read(HeaderFormat::Base64Der, &["MAMCAQE="]), Ok(want()));
        assert!(read(HeaderFormat::Base64Der, &["MAMCAQE"]).is_err());
        assert!(read(HeaderFormat::Base64Der, &[":MAMCAQE=:"]).is_err());
    }

    use crate::jose::digest::sha256;

    fn hex(t: &[u8]) -> String {
        t.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn xfcc_hash_hex_to_x5t() {
        let hash = hex(&sha256(&DER));
        let value =
            format!("By=spiffe://cluster.local/ns/a/sa/b;Hash={hash};Subject=\"CN=client\"");
        assert_eq!(read(HeaderFormat::EnvoyXfcc, &[&value]), Ok(want()));
        let upper = format!("hash={}", hash.to_uppercase());
        assert_eq!(read(HeaderFormat::EnvoyXfcc, &[&upper]), Ok(want()));
    }

    #[test]
    fn xfcc_cert_quoted_subject_with_semicolon_and_two_elements_leftmost() {
        let other = hex(&sha256(b"other"));
        let value = format!(
            "Subject=\"CN=a;O=b,c\";Cert=\"{}\";URI=spiffe://x,By=spiffe://y;Hash={other}",
            escape(&pem())
        );
        assert_eq!(read(HeaderFormat::EnvoyXfcc, &[&value]), Ok(want()));
        // A second field line is a later proxy's: the first still wins.
        let first = format!("Hash={}", hex(&sha256(&DER)));
        let second = format!("Hash={other}");
        assert_eq!(
            read(HeaderFormat::EnvoyXfcc, &[&first, &second]),
            Ok(want())
        );
    }

    #[test]
    fn xfcc_refuses_disagreement_and_garbage() {
        let other = hex(&sha256(b"other"));
        let value = format!("Hash={other};Cert=\"{}\"", escape(&pem()));
        assert!(read(HeaderFormat::EnvoyXfcc, &[&value]).is_err());
        for bad in [
            "Hash=abc",
            "Hash",
            "Hash=\"unterminated",
            "Hash=1;Hash=2",
            "Cert=\"%ZZ\"",
            "Cert=not-a-pem",
        ] {
            assert!(read(HeaderFormat::EnvoyXfcc, &[bad]).is_err(), "{bad}");
        }
        assert_eq!(
            read(HeaderFormat::EnvoyXfcc, &["By=spiffe://y;URI=x"]),
            Ok(None)
        );
    }

    fn settings(binding: CertificateBinding) -> MtlsSettings {
        binding.build().unwrap().unwrap()
    }

    #[test]
    fn tls_source_reads_the_extension_only() {
        let tls = settings(CertificateBinding::allowed());
        let mut ext = Extensions::new();
        let h = headers("client-cert", &[":MAMCAQE=:"]);
        assert_eq!(presented(&tls, &h, Some(&ext)), Ok(None));
        ext.insert(ClientCertificate::from_der(DER));
        assert_eq!(presented(&tls, &h, Some(&ext)), Ok(want()));
        assert_eq!(presented(&tls, &h, None), Ok(None));
    }

    #[test]
    fn header_values_remembered_only_when_they_held_a_certificate() {
        let proxy = settings(CertificateBinding::allowed().from_client_cert_header());
        let good = headers("client-cert", &[":MAMCAQE=:"]);
        assert_eq!(presented(&proxy, &good, None), Ok(want()));
        assert_eq!(proxy.remembered(), 1);
        // The same bytes again: from memory, the same answer.
        assert_eq!(presented(&proxy, &good, None), Ok(want()));
        assert_eq!(proxy.remembered(), 1);
        let bad = headers("client-cert", &[":MAMCAQ=:"]);
        assert!(presented(&proxy, &bad, None).is_err());
        assert!(presented(&proxy, &bad, None).is_err());
        assert_eq!(proxy.remembered(), 1);
        // A remembered value still counts once per field line.
        let twice = headers("client-cert", &[":MAMCAQE=:", ":MAMCAQE=:"]);
        assert!(presented(&proxy, &twice, None).is_err());
    }
}
