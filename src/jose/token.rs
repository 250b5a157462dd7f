//! The token itself: the strict compact-JWS split, base64url, the JOSE header
//! and the JSON-object rules shared by header and payload.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::mem::MaybeUninit;

use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::jose::error::Error;

/// base64url without padding (SIMD-accelerated); rejects `=`, `+`, `/`,
/// whitespace and non-zero trailing bits (RFC 7515 §2, RFC 4648 §3.5).
const B64: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

/// The largest signature we accept: RSA-8192 (1024 bytes).
pub(crate) const MAX_SIGNATURE_LEN: usize = 1024;

/// A compact JWS split into its parts, header and payload decoded.
#[derive(Debug)]
pub(crate) struct Jws<'a, 'b> {
    /// The decoded header JSON: in the caller's buffer when it fits.
    pub(crate) header: Cow<'b, [u8]>,
    /// The decoded payload, not yet parsed: JSON is read only once the
    /// signature verified.
    pub(crate) payload: Vec<u8>,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: what was signed.
    pub(crate) signing_input: &'a str,
    pub(crate) signature_b64: &'a str,
}

/// Room on the stack for a decoded header (real headers are under 200 bytes).
pub(crate) const HEADER_INLINE: usize = 384;

/// Splits a compact JWS and decodes its header (into `header_buf` when it
/// fits) and payload.
///
/// Order: size (before anything is decoded), three segments, canonical
/// base64url for header and payload (the decoder refuses any byte outside
/// the alphabet, a stray `.` included, padding and non-zero trailing bits).
pub(crate) fn parse<'a, 'b>(
    token: &'a str,
    max_bytes: usize,
    header_buf: &'b mut [MaybeUninit<u8>],
) -> Result<Jws<'a, 'b>, Error> {
    if token.len() > max_bytes {
        return Err(Error::TooLarge {
            size: token.len(),
            limit: max_bytes,
        });
    }
    let segments = || Error::malformed("not three dot-separated segments");
    let (signing_input, signature_b64) = token.rsplit_once('.').ok_or_else(segments)?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or_else(segments)?;
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(Error::malformed("empty segment"));
    }
    // A fourth segment leaves a '.' in the payload, which is not base64url.
    let payload = decode_b64(payload_b64).map_err(|e| {
        if payload_b64.contains('.') {
            segments()
        } else {
            e
        }
    })?;
    let header = match decode_b64_into(header_b64, header_buf)? {
        Some(header) => Cow::Borrowed(header),
        None => Cow::Owned(decode_b64(header_b64)?),
    };
    Ok(Jws {
        header,
        payload,
        signing_input,
        signature_b64,
    })
}

/// Strict base64url decoding of one segment.
pub(crate) fn decode_b64(segment: &str) -> Result<Vec<u8>, Error> {
    B64.decode_to_vec(segment)
        .map_err(|_| Error::malformed("segment is not canonical base64url"))
}

/// Strict base64url decoding into `buf`; `None` when it does not fit.
pub(crate) fn decode_b64_into<'b>(
    segment: &str,
    buf: &'b mut [MaybeUninit<u8>],
) -> Result<Option<&'b [u8]>, Error> {
    let invalid = |_| Error::malformed("segment is not canonical base64url");
    let len = B64.decoded_length(segment.as_bytes()).map_err(invalid)?;
    let Some(out) = buf.get_mut(..len) else {
        return Ok(None);
    };
    let out = B64
        .decode(segment.as_bytes(), base64_simd::Out::from_uninit_slice(out))
        .map_err(invalid)?;
    Ok(Some(out))
}

/// The whole segment as UTF-8 (RFC 7515 §4, RFC 7519 §7.2), members that
/// nobody reads included.
pub(crate) fn utf8(json: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(json).map_err(|_| Error::malformed("JSON is not UTF-8"))
}

/// The JOSE header members that matter for verification, borrowed from the
/// decoded header.
#[derive(Debug, Default)]
pub(crate) struct Header<'a> {
    /// `alg` exactly as sent.
    pub(crate) alg: Cow<'a, str>,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
}

impl<'a> Header<'a> {
    pub(crate) fn parse(json: &'a [u8]) -> Result<Self, Error> {
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
    type Value = Result<Header<'de>, Error>;

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
                    Some(v) => alg = Some(v.0),
                    None => verdict = verdict.and(Err(Error::malformed("`alg` is not a string"))),
                },
                "kid" => header.kid = Some(map.next_value::<Str<'de>>()?.0),
                "typ" => header.typ = Some(map.next_value::<Str<'de>>()?.0),
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
/// RFC 7519 §4). Names are kept as 64-bit FNV-1a hashes: equal names always
/// collide, so no duplicate is missed; two distinct names colliding would
/// make the token's own issuer's token unreadable, never another's. A few
/// hashes are compared in place; past that a hash set keeps a hostile object
/// with thousands of members linear.
#[derive(Default)]
pub(crate) struct Members {
    few: [u64; Self::FEW],
    len: usize,
    many: HashSet<u64>,
}

impl Members {
    const FEW: usize = 32;

    /// Records `name`; `false` when it was already there.
    pub(crate) fn insert(&mut self, name: &str) -> bool {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        if self.len < Self::FEW {
            if self.few[..self.len].contains(&hash) {
                return false;
            }
            self.few[self.len] = hash;
            self.len += 1;
            return true;
        }
        if self.many.is_empty() {
            self.many.extend(self.few);
        }
        self.many.insert(hash)
    }
}

/// `json` as an object without duplicate members at any depth (RFC 7515
/// §4: no two readers see different values), `None` otherwise: a DPoP
/// proof's header, a `cnf` claim.
pub(crate) fn unique_object(json: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let json = std::str::from_utf8(json).ok()?;
    match serde_json::from_str::<Unique>(json).ok()?.0 {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A JSON value whose objects, at any depth, have no duplicate members, so
/// that no two readers see different values (RFC 8725 §3.12): role paths,
/// and DPoP proof headers with their `jwk`.
pub(crate) struct Unique(pub(crate) Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without duplicate members")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if members.insert(key, value).is_some() {
                return Err(serde::de::Error::custom("duplicate member"));
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_object_refuses_duplicates_at_any_depth() {
        let parse = unique_object;
        assert!(parse(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_some());
        assert!(parse(br#"{"a":1,"a":2}"#).is_none());
        assert!(parse(br#"{"jwk":{"x":"1","x":"2"}}"#).is_none());
        assert!(parse(br#"{"a":[{"b":1,"b":1}]}"#).is_none());
        assert!(parse(b"[1]").is_none());
        assert!(parse(b"{} x").is_none());
        assert!(parse(b"\xff").is_none());
    }

    fn b64(s: &str) -> String {
        B64.encode_to_string(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    #[test]
    fn splits_three_segments_and_keeps_the_signing_input() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#);
        let mut buf = [MaybeUninit::uninit(); HEADER_INLINE];
        let jws = parse(&t, 16 * 1024, &mut buf).unwrap();
        let header = Header::parse(&jws.header).unwrap();
        assert_eq!(&*header.alg, "RS256");
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(jws.payload, b"{}");
        assert_eq!(jws.signing_input, &t[..t.rfind('.').unwrap()]);
        assert_eq!(jws.signature_b64, "c2ln");
    }

    #[test]
    fn size_is_checked_before_anything_is_decoded() {
        let err = parse("!!!!!", 4, &mut []).unwrap_err();
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
            assert!(
                matches!(
                    parse(&t, 1 << 20, &mut []),
                    Err(Error::MalformedToken { .. })
                ),
                "{t}"
            );
        }
    }

    #[test]
    fn escaped_header_strings_are_decoded() {
        let t = token(r#"{"alg":"RS\u0032\u00356","kid":"a\/b"}"#);
        let mut buf = [MaybeUninit::uninit(); HEADER_INLINE];
        let jws = parse(&t, 1 << 20, &mut buf).unwrap();
        let header = Header::parse(&jws.header).unwrap();
        assert_eq!(&*header.alg, "RS256");
        assert_eq!(header.kid.as_deref(), Some("a/b"));
    }

    #[test]
    fn many_members_still_detect_a_duplicate() {
        let mut m = Members::default();
        for i in 0..100 {
            assert!(m.insert(&format!("k{i}")));
        }
        assert!(!m.insert("k40"));
        assert!(!m.insert("k3"));
        assert!(!m.insert("k99"));
    }
}
