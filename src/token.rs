//! The token itself: the strict compact-JWS split, base64url, the JOSE header
//! and the JSON-object rules shared by header and payload.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};

use crate::Error;

/// base64url without padding; rejects `=`, `+`, `/`, whitespace and
/// non-zero trailing bits (RFC 7515 §2, RFC 4648 §3.5).
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// The largest signature we accept: RSA-8192 (1024 bytes).
pub(crate) const MAX_SIGNATURE_LEN: usize = 1024;

/// A compact JWS split into its parts, with the header decoded.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    pub(crate) header: Header,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: what was signed.
    pub(crate) signing_input: &'a str,
    /// The payload, still base64url: decoded only once the signature verified.
    pub(crate) payload_b64: &'a str,
    pub(crate) signature_b64: &'a str,
}

/// Splits and checks the structure of a compact JWS, and decodes its header.
///
/// Order: size (before anything is decoded), three segments, base64url
/// alphabet of each segment, header JSON.
pub(crate) fn parse(token: &str, max_bytes: usize) -> Result<Jws<'_>, Error> {
    if token.len() > max_bytes {
        return Err(Error::TooLarge {
            size: token.len(),
            limit: max_bytes,
        });
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::malformed("not three dot-separated segments"));
    };
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(Error::malformed("empty segment"));
    }
    for segment in [header_b64, payload_b64, signature_b64] {
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::malformed("segment is not base64url"));
        }
    }
    let header_json = decode_b64(header_b64)?;
    let header = Header::from_json(&header_json)?;
    Ok(Jws {
        header,
        signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        payload_b64,
        signature_b64,
    })
}

/// Strict base64url decoding of one segment.
pub(crate) fn decode_b64(segment: &str) -> Result<Vec<u8>, Error> {
    B64.decode(segment)
        .map_err(|_| Error::malformed("segment is not canonical base64url"))
}

/// The whole segment as UTF-8 (RFC 7515 §4, RFC 7519 §7.2), members that
/// nobody reads included.
pub(crate) fn utf8(json: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(json).map_err(|_| Error::malformed("JSON is not UTF-8"))
}

/// The JOSE header members that matter for verification; the decoded header
/// is owned because its JSON lives in a temporary buffer.
#[derive(Debug, Default)]
pub(crate) struct Header {
    /// `alg` exactly as sent.
    pub(crate) alg: Box<str>,
    pub(crate) kid: Option<Box<str>>,
    pub(crate) typ: Option<Box<str>>,
}

impl Header {
    fn from_json(json: &[u8]) -> Result<Self, Error> {
        let json = utf8(json)?;
        let mut de = serde_json::Deserializer::from_str(json);
        let raw = de
            .deserialize_map(HeaderVisitor)
            .map_err(|_| Error::malformed("header is not a JSON object"))?;
        de.end()
            .map_err(|_| Error::malformed("trailing data after the header"))?;
        raw
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    // The outer Result carries JSON syntax errors, the inner one our rules.
    type Value = Result<Header, Error>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = Members::default();
        let mut header = Header::default();
        let mut alg = None;
        let mut verdict = Ok(());
        while let Some(key) = map.next_key::<Str<'de>>()? {
            if !seen.insert(&key.0) {
                verdict = verdict.and(Err(Error::malformed("duplicate header member")));
            }
            match &*key.0 {
                "alg" => match map.next_value::<Option<Str<'de>>>()? {
                    Some(v) => alg = Some(v.0.into()),
                    None => verdict = verdict.and(Err(Error::malformed("`alg` is not a string"))),
                },
                "kid" => header.kid = Some(map.next_value::<Str<'de>>()?.0.into()),
                "typ" => header.typ = Some(map.next_value::<Str<'de>>()?.0.into()),
                // RFC 7515 §4.1.11: we implement no extension, so any `crit`
                // (even an empty one, which is itself invalid) is refused.
                "crit" => {
                    map.next_value::<IgnoredAny>()?;
                    verdict = verdict.and(Err(Error::malformed("unsupported `crit` header")));
                }
                // RFC 7797: an unencoded payload is never what an access token is.
                "b64" => {
                    if map.next_value::<serde_json::Value>()? != serde_json::Value::Bool(true) {
                        verdict = verdict.and(Err(Error::malformed("`b64` other than true")));
                    }
                }
                // `jwk`, `jku`, `x5u`, `x5c` and the rest are never used to
                // pick or fetch a key (RFC 8725 §3.10): skipped unread.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(verdict.and_then(|()| {
            header.alg = alg.ok_or(Error::malformed("header has no `alg`"))?;
            Ok(header)
        }))
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
pub(crate) struct Str<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The member names of one JSON object, to refuse duplicates (RFC 7515 §5.2,
/// RFC 7519 §4). A few members are compared in a list; past that a hash set
/// keeps a hostile object with thousands of members linear.
#[derive(Default)]
pub(crate) struct Members {
    few: Vec<Box<str>>,
    many: HashSet<Box<str>>,
}

impl Members {
    const FEW: usize = 24;

    /// Records `name`; `false` when it was already there.
    pub(crate) fn insert(&mut self, name: &str) -> bool {
        if self.many.is_empty() {
            if self.few.iter().any(|n| **n == *name) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(name.into());
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(name.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        B64.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    #[test]
    fn splits_three_segments_and_keeps_the_signing_input() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#);
        let jws = parse(&t, 16 * 1024).unwrap();
        assert_eq!(&*jws.header.alg, "RS256");
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(jws.signing_input, &t[..t.rfind('.').unwrap()]);
        assert_eq!(jws.signature_b64, "c2ln");
    }

    #[test]
    fn size_is_checked_before_anything_is_decoded() {
        let err = parse("!!!!!", 4).unwrap_err();
        assert!(matches!(err, Error::TooLarge { size: 5, limit: 4 }));
    }

    #[test]
    fn segment_counts_other_than_three_are_malformed() {
        let h = b64(r#"{"alg":"RS256"}"#);
        for t in [
            h.clone(),
            format!("{h}.e30"),
            format!("{h}.e30.c2ln.c2ln"),
            format!("{h}.e30.c2ln.c2ln.c2ln"),
        ] {
            assert!(matches!(parse(&t, 1 << 20), Err(Error::MalformedToken { .. })), "{t}");
        }
    }

    #[test]
    fn escaped_header_strings_are_decoded() {
        let t = token(r#"{"alg":"RS\u0032\u00356","kid":"a\/b"}"#);
        let jws = parse(&t, 1 << 20).unwrap();
        assert_eq!(&*jws.header.alg, "RS256");
        assert_eq!(jws.header.kid.as_deref(), Some("a/b"));
    }

    #[test]
    fn many_members_still_detect_a_duplicate() {
        let mut m = Members::default();
        for i in 0..100 {
            assert!(m.insert(&format!("k{i}")));
        }
        assert!(!m.insert("k3"));
        assert!(!m.insert("k99"));
    }
}
