//! Introspection responses, pure: whether the authorization server says a
//! token is active (RFC 7662 §2.2), from a JSON document or from a signed
//! JWT response (RFC 9701 §5), and the claims object it vouches for. The
//! claims then go through the same rules as a JWT's
//! ([`claims::introspected`](crate::jose::claims::introspected)).

use serde_json::{Map, Value};

use crate::jose::algorithm::Algorithm;
use crate::jose::error::Error;
use crate::jose::jwks::KeySet;
use crate::jose::time::UnixTime;
use crate::jose::token::unique_object;
use crate::jose::validate::verify_signed;

/// What the authorization server said.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Active: the response's members as a JSON object (`iss` filled in
    /// with the issuer asked when the response has none), for the rules.
    Active(Vec<u8>),
    /// `"active": false`.
    Inactive,
}

/// Why a response cannot be read: the authorization server's fault (HTTP
/// 503 for the request), for logs.
pub(crate) type Unreadable = &'static str;

/// The `typ` of an RFC 9701 response (also with the `application/` prefix,
/// RFC 7515 §4.1.9).
const JWT_TYP: &str = "token-introspection+jwt";

/// An RFC 7662 §2.2 JSON response: an object without duplicate members,
/// `active` a JSON boolean (a string `"true"` is not one), and for a DPoP-
/// bound token, `token_type` (when sent) `DPoP` (RFC 9449 §6.2). `issuer`
/// is the authorization server asked: the response came from it over an
/// authenticated channel, so a missing `iss` is its own.
pub(crate) fn read_json(body: &[u8], issuer: Option<&str>) -> Result<Verdict, Unreadable> {
    let object = unique_object(body)
        .ok_or("the introspection response is not a JSON object without duplicate members")?;
    verdict(object, issuer)
}

fn verdict(mut object: Map<String, Value>, issuer: Option<&str>) -> Result<Verdict, Unreadable> {
    match object.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Verdict::Inactive),
        Some(_) => return Err("`active` is not a JSON boolean"),
        None => return Err("the introspection response has no `active`"),
    }
    let bound_to_key = object
        .get("cnf")
        .and_then(Value::as_object)
        .is_some_and(|cnf| cnf.contains_key("jkt"));
    if bound_to_key
        && let Some(token_type) = object.get("token_type")
        && !token_type
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"))
    {
        return Err("a token bound to a DPoP key whose `token_type` is not DPoP");
    }
    if let Some(issuer) = issuer {
        object
            .entry("iss")
            .or_insert_with(|| Value::String(issuer.to_owned()));
    }
    serde_json::to_vec(&object)
        .map(Verdict::Active)
        .map_err(|_| "the introspection response cannot be re-encoded")
}

/// What an RFC 9701 JWT response must show besides its signature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JwtResponseRules<'a> {
    /// The authorization server: the response's `iss`.
    pub(crate) issuer: &'a str,
    /// The resource server's client id at the authorization server: the
    /// response's `aud`.
    pub(crate) client_id: &'a str,
    /// Algorithms the response may be signed with.
    pub(crate) algorithms: &'a [Algorithm],
    /// The leeway for `iat` in the future and `exp`.
    pub(crate) leeway_secs: u64,
}

/// An RFC 9701 §5 response: a compact JWS signed by the authorization
/// server with one of `keys`, `typ` `token-introspection+jwt`, `iss` the
/// authorization server, `aud` our client id, `iat` present (and not in the
/// future), `token_introspection` an object read as [`read_json`] reads a
/// JSON response. JWE responses are not supported (refused as unreadable).
pub(crate) fn read_jwt(
    jwt: &[u8],
    keys: &KeySet,
    rules: JwtResponseRules<'_>,
    now: UnixTime,
) -> Result<Verdict, Unreadable> {
    let jwt = std::str::from_utf8(jwt)
        .map_err(|_| "the JWT response is not text")?
        .trim_ascii();
    let signed = verify_signed(jwt, keys, rules.algorithms, 64 * 1024).map_err(|e| match e {
        Error::MalformedToken { .. } | Error::TooLarge { .. } => {
            "the JWT response is not a compact JWS (an encrypted response?)"
        }
        Error::DisallowedAlgorithm { .. } => "the JWT response's algorithm is not allowed",
        Error::UnknownKey { .. } => "no key of the issuer verifies the JWT response",
        _ => "the JWT response's signature does not verify",
    })?;
    let typ = signed.typ.as_deref().unwrap_or_default();
    let typ = typ.strip_prefix("application/").unwrap_or(typ);
    if !typ.eq_ignore_ascii_case(JWT_TYP) {
        return Err("the JWT response's typ is not token-introspection+jwt");
    }
    let mut payload = unique_object(&signed.payload)
        .ok_or("the JWT response's payload is not a JSON object without duplicate members")?;
    if payload.get("iss").and_then(Value::as_str) != Some(rules.issuer) {
        return Err("the JWT response's iss is not the issuer");
    }
    let aud_ok = match payload.get("aud") {
        Some(Value::String(aud)) => aud == rules.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(rules.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err("the JWT response's aud is not our client id");
    }
    let iat = payload
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or("the JWT response has no numeric iat")?;
    if iat > now.as_secs().saturating_add(rules.leeway_secs) as f64 {
        return Err("the JWT response was issued in the future");
    }
    if let Some(exp) = payload.get("exp").and_then(Value::as_f64)
        && exp + rules.leeway_secs as f64 <= now.as_secs() as f64
    {
        return Err("the JWT response has expired");
    }
    let Some(Value::Object(inner)) = payload.remove("token_introspection") else {
        return Err("the JWT response has no token_introspection object");
    };
    verdict(inner, Some(rules.issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(body: &str) -> serde_json::Value {
        match read_json(body.as_bytes(), Some("https://as.example")).unwrap() {
            Verdict::Active(json) => serde_json::from_slice(&json).unwrap(),
            Verdict::Inactive => panic!("inactive"),
        }
    }

    #[test]
    fn active_must_be_boolean() {
        assert_eq!(
            read_json(br#"{"active":false}"#, None),
            Ok(Verdict::Inactive)
        );
        for refused in [
            &br#"{"active":"true"}"#[..],
            br#"{"active":1}"#,
            br#"{"sub":"a"}"#,
            br#"{"active":true,"active":false}"#,
            b"[true]",
            b"<html>",
            b"",
        ] {
            assert!(read_json(refused, None).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn the_issuer_asked_fills_a_missing_iss() {
        let claims = active(r#"{"active":true,"sub":"u1","exp":2000000000}"#);
        assert_eq!(claims["iss"], "https://as.example");
        // A response's own `iss` is kept, for the rules to judge.
        let claims = active(r#"{"active":true,"iss":"https://other"}"#);
        assert_eq!(claims["iss"], "https://other");
    }

    #[test]
    fn dpop_bound_token_type_must_be_dpop() {
        let body = r#"{"active":true,"cnf":{"jkt":"abc"},"token_type":"Bearer"}"#;
        assert!(read_json(body.as_bytes(), None).is_err());
        let body = r#"{"active":true,"cnf":{"jkt":"abc"},"token_type":"DPoP"}"#;
        assert!(read_json(body.as_bytes(), None).is_ok());
        let body = r#"{"active":true,"cnf":{"jkt":"abc"}}"#;
        assert!(read_json(body.as_bytes(), None).is_ok());
    }
}
