//! A DPoP proof's JSON: its header as an object without duplicate members
//! at any depth (RFC 7515 §4; so no two readers see different keys), and
//! the claims the checks read.

use std::fmt;

use serde::de::{self, Deserializer as _, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::jose::token::{Members, Str, Unique};

/// `json` as an object without duplicate members, `None` otherwise.
pub(crate) fn parse(json: &[u8]) -> Option<Map<String, Value>> {
    let json = std::str::from_utf8(json).ok()?;
    match serde_json::from_str::<Unique>(json).ok()?.0 {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The claims of a proof the checks read, as found: the rest is skipped.
#[derive(Default)]
pub(super) struct ProofClaims {
    pub(super) jti: Option<Value>,
    pub(super) htm: Option<Value>,
    pub(super) htu: Option<Value>,
    pub(super) iat: Option<Value>,
    pub(super) ath: Option<Value>,
    pub(super) nonce: Option<Value>,
}

impl ProofClaims {
    /// The payload's members the checks read; `None` when it is not a UTF-8
    /// JSON object without duplicate members.
    pub(super) fn parse(payload: &[u8]) -> Option<Self> {
        let json = std::str::from_utf8(payload).ok()?;
        let mut de = serde_json::Deserializer::from_str(json);
        let claims = de.deserialize_map(ClaimsVisitor).ok()?;
        de.end().ok()?;
        Some(claims)
    }
}

struct ClaimsVisitor;

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = ProofClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DPoP proof's claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProofClaims, A::Error> {
        let mut claims = ProofClaims::default();
        let mut seen = Members::default();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            if !seen.insert(&key.0) {
                return Err(de::Error::custom("duplicate member"));
            }
            let slot = match &*key.0 {
                "jti" => &mut claims.jti,
                "htm" => &mut claims.htm,
                "htu" => &mut claims.htu,
                "iat" => &mut claims.iat,
                "ath" => &mut claims.ath,
                "nonce" => &mut claims.nonce,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value::<Unique>()?.0);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn duplicates_at_any_depth_refused() {
        assert!(parse(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_some());
        assert!(parse(br#"{"a":1,"a":2}"#).is_none());
        assert!(parse(br#"{"jwk":{"x":"1","x":"2"}}"#).is_none());
        assert!(parse(br#"{"a":[{"b":1,"b":1}]}"#).is_none());
        assert!(parse(b"[1]").is_none());
        assert!(parse(b"{} x").is_none());
        assert!(parse(b"\xff").is_none());
    }
}
