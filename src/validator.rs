//! [`Validation`] (the rules) and [`validate`] (the pure core).

use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::signature::{self, AlgSet};
use crate::time::UnixTime;
use crate::token::{self, MAX_SIGNATURE_LEN};
use crate::{Algorithm, Claims, Error, KeySet, Scopes};

/// The rules a token must meet.
///
/// Every setter consumes and returns the rules, and says its default. The
/// defaults are strict: an audience must be configured (RFC 9068 §4), `none`
/// is never accepted, HS* only when listed explicitly.
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::{Algorithm, Validation};
///
/// let rules = Validation::new()
///     .issuer("https://auth.example.com/")
///     .audience("api://orders")
///     .require_scopes(["orders.read"])
///     .algorithms([Algorithm::RS256, Algorithm::ES256])
///     .leeway(Duration::from_secs(30))
///     .require_typ("at+jwt")
///     .max_token_bytes(8 * 1024);
/// # let _ = rules;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Validation {
    pub(crate) issuer: Option<Box<str>>,
    pub(crate) audiences: Vec<Box<str>>,
    pub(crate) required_scopes: Scopes,
    pub(crate) required_scopes_text: Arc<str>,
    pub(crate) algorithms: AlgSet,
    pub(crate) leeway: Duration,
    /// Lowercase, without an `application/` prefix.
    pub(crate) require_typ: Option<Box<str>>,
    pub(crate) max_token_bytes: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// The default rules: every asymmetric algorithm, 60 s leeway, 16 KiB
    /// tokens, no issuer, no required scope, no audience yet (set one: until
    /// then every token fails with [`Error::InvalidAudience`]).
    pub fn new() -> Self {
        Self {
            issuer: None,
            audiences: Vec::new(),
            required_scopes: Scopes::default(),
            required_scopes_text: Arc::from(""),
            algorithms: AlgSet::ASYMMETRIC,
            leeway: Duration::from_secs(60),
            require_typ: None,
            max_token_bytes: 16 * 1024,
        }
    }

    /// The issuer `iss` must equal, byte for byte: no normalisation, so
    /// `https://a.example/` and `https://a.example` differ. Once set, `iss`
    /// is required.
    ///
    /// Defaults to no issuer check.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into().into_boxed_str());
        self
    }

    /// Adds an accepted audience: the token's `aud` (a string or an array)
    /// must contain at least one accepted audience, byte for byte.
    ///
    /// Defaults to none, which rejects every token: RFC 9068 §4 requires
    /// the check.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into().into_boxed_str());
        self
    }

    /// Adds several accepted audiences (any-of).
    ///
    /// Defaults to none.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences
            .extend(audiences.into_iter().map(|a| a.into().into_boxed_str()));
        self
    }

    /// Scopes the token must all carry, in `scope` (string or array) or else
    /// `scp`. A missing scope is [`Error::InsufficientScope`] (HTTP 403).
    ///
    /// Defaults to none.
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let added: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let all: Scopes = self
            .required_scopes
            .iter()
            .chain(added.iter().map(String::as_str))
            .collect();
        self.required_scopes_text = Arc::from(all.to_string());
        self.required_scopes = all;
        self
    }

    /// The algorithms accepted in `alg`, replacing the list. `none` can never
    /// be accepted; HS256/384/512 only verify with keys the application
    /// supplied itself ([`KeySet::with_secret`], or `oct` keys in
    /// [`KeySet::from_jwks_json`]), never with keys fetched from an issuer.
    ///
    /// Defaults to RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and
    /// EdDSA.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = AlgSet::from_iter(algorithms);
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in whole seconds.
    ///
    /// Defaults to 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires the header `typ` to be this media type, compared
    /// case-insensitively with or without `application/` (RFC 9068 §4 asks
    /// for `at+jwt`).
    ///
    /// Defaults to not required: then a missing `typ`, `JWT`, `JOSE` and
    /// `at+jwt` pass, and any other type (such as `dpop+jwt` or
    /// `logout+jwt`, which name other kinds of token) is refused.
    pub fn require_typ(mut self, typ: impl AsRef<str>) -> Self {
        self.require_typ = Some(normalize_typ(typ.as_ref()).into_boxed_str());
        self
    }

    /// The longest token accepted, in bytes; longer ones are refused before
    /// anything is decoded.
    ///
    /// Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }
}

fn normalize_typ(typ: &str) -> String {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.to_ascii_lowercase()
}

fn check_typ(typ: Option<&str>, required: Option<&str>) -> Result<(), Error> {
    let typ = typ.map(normalize_typ);
    let ok = match (required, typ.as_deref()) {
        (Some(required), typ) => typ == Some(required),
        (None, None | Some("jwt" | "jose" | "at+jwt")) => true,
        (None, Some(_)) => false,
    };
    if ok { Ok(()) } else { Err(Error::InvalidType) }
}

/// Validates a compact JWS access token against `keys` and `rules` at time
/// `now`, and returns its claims, with your claims type `C` (use `()` for
/// none). No I/O, no clock read: the pure core every other surface calls.
///
/// The checks run in this order; the first failure is returned:
///
/// 1. size: at most [`Validation::max_token_bytes`], before decoding
///    ([`Error::TooLarge`]);
/// 2. structure: three segments of canonical base64url, a header that is a
///    UTF-8 JSON object without duplicate members, no `crit`, no `b64: false`
///    ([`Error::MalformedToken`]);
/// 3. `alg` in the allow-list ([`Error::DisallowedAlgorithm`]);
/// 4. key: by exact `kid`, usable for `alg`; without `kid`, the only usable
///    key ([`Error::UnknownKey`]); `jwk`/`jku`/`x5u`/`x5c` are never used;
/// 5. signature ([`Error::InvalidSignature`]);
/// 6. `typ` ([`Error::InvalidType`]);
/// 7. payload: a UTF-8 JSON object without duplicate members
///    ([`Error::MalformedToken`]), registered claims of the right JSON type
///    ([`Error::InvalidClaims`]);
/// 8. `exp` (required; expired when `now >= exp + leeway`), `nbf` and `iat`
///    (not yet valid when `now < nbf - leeway`) ([`Error::Expired`],
///    [`Error::NotYetValid`]);
/// 9. `iss` ([`Error::InvalidIssuer`]), `aud` ([`Error::InvalidAudience`]),
///    scopes ([`Error::InsufficientScope`]);
/// 10. your type `C` ([`Error::InvalidClaims`]).
///
/// The payload's JSON is not read until the signature has verified.
///
/// # Errors
///
/// The [`Error`] of the first check that failed.
///
/// ```
/// use jwt_gate::{Claims, KeySet, UnixTime, Validation, Algorithm};
///
/// let keys = KeySet::new().with_secret(Some("k1"), b"an-application-secret-of-32-bytes!")?;
/// let rules = Validation::new()
///     .algorithms([Algorithm::HS256])
///     .issuer("https://auth.example.com/")
///     .audience("api://orders");
/// // {"alg":"HS256","kid":"k1"} . {"iss":"https://auth.example.com/","aud":"api://orders","exp":2000000000,"sub":"u1","scope":"orders.read"}
/// let token = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20vIiwiYXVkIjoiYXBpOi8vb3JkZXJzIiwiZXhwIjoyMDAwMDAwMDAwLCJzdWIiOiJ1MSIsInNjb3BlIjoib3JkZXJzLnJlYWQifQ.KdQNmTY5d4i8aFN1vxFJM8LChvlM29SsmGpQr168rbg";
/// let claims: Claims = jwt_gate::validate(token, &keys, &rules, UnixTime::from_secs(1_900_000_000))?;
/// assert_eq!(claims.subject(), Some("u1"));
/// assert!(claims.has_scope("orders.read"));
///
/// let late = jwt_gate::validate::<()>(token, &keys, &rules, UnixTime::from_secs(2_000_000_060));
/// assert!(matches!(late, Err(jwt_gate::Error::Expired { .. })));
/// # Ok::<(), jwt_gate::Error>(())
/// ```
pub fn validate<C: DeserializeOwned>(
    token: &str,
    keys: &KeySet,
    rules: &Validation,
    now: UnixTime,
) -> Result<Claims<C>, Error> {
    let mut header_buf = [MaybeUninit::uninit(); token::HEADER_INLINE];
    let jws = token::parse(token, rules.max_token_bytes, &mut header_buf)?;
    let header = token::Header::parse(&jws.header)?;
    let alg = signature::parse_alg(&header.alg);
    let alg = match alg {
        Some(alg) if rules.algorithms.contains(alg) => alg,
        _ => return Err(Error::DisallowedAlgorithm { alg }),
    };
    let verifier = keys.select(header.kid.as_deref(), alg)?;
    let mut buf = [MaybeUninit::uninit(); MAX_SIGNATURE_LEN];
    let signature = token::decode_b64_into(jws.signature_b64, &mut buf)
        .map_err(|_| Error::malformed("signature is not canonical base64url"))?
        .ok_or(Error::InvalidSignature)?;
    if !verifier.verify(jws.signing_input.as_bytes(), signature) {
        return Err(Error::InvalidSignature);
    }
    check_typ(header.typ.as_deref(), rules.require_typ.as_deref())?;
    crate::claims::check(jws.payload, rules, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_rules() {
        assert!(check_typ(None, None).is_ok());
        assert!(check_typ(Some("JWT"), None).is_ok());
        assert!(check_typ(Some("application/AT+JWT"), None).is_ok());
        assert!(check_typ(Some("dpop+jwt"), None).is_err());
        assert!(check_typ(Some("logout+jwt"), None).is_err());
        assert!(check_typ(Some("at+jwt"), Some("at+jwt")).is_ok());
        assert!(check_typ(Some("Application/At+Jwt"), Some("at+jwt")).is_ok());
        assert!(check_typ(Some("JWT"), Some("at+jwt")).is_err());
        assert!(check_typ(None, Some("at+jwt")).is_err());
        assert!(check_typ(Some("application/"), Some("at+jwt")).is_err());
    }

    #[test]
    fn require_scopes_accumulates_and_is_joined_once() {
        let rules = Validation::new()
            .require_scopes(["b", "a"])
            .require_scopes(["a", "c"]);
        assert_eq!(&*rules.required_scopes_text, "a b c");
    }
}
