//! A JSON object read for a DPoP proof: like `serde_json::Value`, but a
//! duplicate member at any depth is an error (RFC 7515 §4, RFC 7519 §4),
//! so that no two readers can see different keys or claims.

use std::fmt;

use serde::de::{self, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value without duplicate members.
pub(super) struct Unique(pub(super) Value);

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Self)
    }
}

/// `json` as an object without duplicate members, `None` otherwise.
pub(crate) fn parse(json: &[u8]) -> Option<Map<String, Value>> {
    let json = std::str::from_utf8(json).ok()?;
    match serde_json::from_str::<Unique>(json).ok()?.0 {
        Value::Object(map) => Some(map),
        _ => None,
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
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if out.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate member"));
            }
        }
        Ok(Value::Object(out))
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
        let mut seen = crate::jose::token::Members::default();
        while let Some(key) = map.next_key::<crate::jose::token::Str<'de>>()? {
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
