//! A DPoP proof's JSON: the claims the checks read. (Its header is read as
//! an object without duplicate members at any depth, RFC 7515 §4:
//! `token::unique_object`.)

use std::fmt;

use serde::de::{self, Deserializer as _, MapAccess, Visitor};
use serde_json::Value;

use crate::jose::token::{Members, Str, Unique};

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
