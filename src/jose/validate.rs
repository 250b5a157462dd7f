//! [`validate`]: the pure core every other surface calls.

use std::mem::MaybeUninit;

use serde::de::DeserializeOwned;

use crate::jose::algorithm::Algorithm;
use crate::jose::claims::{self, Claims, ClaimsRef};
use crate::jose::cnf::Bindings;
use crate::jose::error::Error;
use crate::jose::jwks::KeySet;
use crate::jose::time::UnixTime;
use crate::jose::token::{self, MAX_SIGNATURE_LEN};
use crate::jose::validation::{Validation, check_typ};

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
///    [`Error::NotYetValid`]), the maximum age from `iat` when set
///    ([`Error::TooOld`]);
/// 9. `iss` ([`Error::InvalidIssuer`]), the ID-token guard when on
///    ([`Error::InvalidType`]), `aud` ([`Error::InvalidAudience`];
///    skipped when no audience but client ids are configured), the client
///    (`client_id`, else `azp`, else `cid`; [`Error::InvalidClient`]), required claim values
///    ([`Error::ClaimMismatch`]), the roles of
///    [`Validation::roles_from`] (of the wrong shape: [`Error::InvalidClaims`]),
///    your check ([`Error::ClaimCheck`]),
///    revocation ([`Error::Revoked`]), no confirmation claim `cnf`
///    ([`Error::UnverifiedBinding`]: a sender-constrained token is not
///    accepted as a bearer token), scopes ([`Error::InsufficientScope`]);
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn validate<C: DeserializeOwned>(
    token: &str,
    keys: &KeySet,
    rules: &Validation,
    now: UnixTime,
) -> Result<Claims<C>, Error> {
    validate_checked(token, keys, rules, now, Bindings::NONE).map(|(claims, _)| claims)
}

/// [`validate`], also returning the tag of the key that verified the token.
/// A token bound to a DPoP key (`cnf.jkt`) or a client certificate
/// (`cnf.x5t#S256`) is accepted when `bindings` says so: the caller checks
/// the proof or the certificate.
pub(crate) fn validate_checked<C: DeserializeOwned>(
    token: &str,
    keys: &KeySet,
    rules: &Validation,
    now: UnixTime,
    bindings: Bindings,
) -> Result<(Claims<C>, u64), Error> {
    let mut header_buf = [MaybeUninit::uninit(); token::HEADER_INLINE];
    let jws = token::parse(token, rules.max_token_bytes, &mut header_buf)?;
    let header = token::Header::parse(&jws.header)?;
    let alg = Algorithm::parse(&header.alg);
    let alg = match alg {
        Some(alg) if rules.algorithms.contains(alg) => alg,
        _ => return Err(Error::DisallowedAlgorithm { alg }),
    };
    let (verifier, tag, key_issuer) = keys.select(header.kid.as_deref(), alg)?;
    let mut buf = [MaybeUninit::uninit(); MAX_SIGNATURE_LEN];
    let signature = token::decode_b64_into(jws.signature_b64, &mut buf)
        .map_err(|_| Error::malformed("signature is not canonical base64url"))?
        .ok_or(Error::InvalidSignature)?;
    if !verifier.verify(jws.signing_input.as_bytes(), signature) {
        return Err(Error::InvalidSignature);
    }
    check_typ(header.typ.as_deref(), rules.require_typ.as_deref())?;
    let claims: Claims<C> = claims::check(jws.payload, rules, now, key_issuer.is_some(), bindings)?;
    if let Some(key_issuer) = key_issuer {
        check_key_issuer(key_issuer, claims.registered())?;
    }
    Ok((claims, tag))
}

/// A compact JWS whose signature verified, its payload not yet read.
#[derive(Debug)]
pub(crate) struct Signed {
    /// The header's `typ`, as sent.
    pub(crate) typ: Option<String>,
    pub(crate) payload: Vec<u8>,
}

/// Verifies a compact JWS of at most `max_bytes` with `keys` under one of
/// `algorithms` (the key chosen as [`validate`] chooses it): for what is
/// checked off the request path (RFC 9701 introspection answers, the test
/// issuer's own tokens). [`validate`] keeps its own pass, which allocates
/// nothing before the signature.
pub(crate) fn verify_signed(
    jws: &str,
    keys: &KeySet,
    algorithms: &[Algorithm],
    max_bytes: usize,
) -> Result<Signed, Error> {
    let mut header_buf = [MaybeUninit::uninit(); token::HEADER_INLINE];
    let parsed = token::parse(jws, max_bytes, &mut header_buf)?;
    let header = token::Header::parse(&parsed.header)?;
    let alg = Algorithm::parse(&header.alg);
    let alg = match alg {
        Some(alg) if algorithms.contains(&alg) => alg,
        _ => return Err(Error::DisallowedAlgorithm { alg }),
    };
    let (verifier, _, _) = keys.select(header.kid.as_deref(), alg)?;
    let mut buf = [MaybeUninit::uninit(); MAX_SIGNATURE_LEN];
    let signature = token::decode_b64_into(parsed.signature_b64, &mut buf)
        .map_err(|_| Error::malformed("signature is not canonical base64url"))?
        .ok_or(Error::InvalidSignature)?;
    if !verifier.verify(parsed.signing_input.as_bytes(), signature) {
        return Err(Error::InvalidSignature);
    }
    Ok(Signed {
        typ: header.typ.map(String::from),
        payload: parsed.payload,
    })
}

/// A key whose JWK names an `issuer` (Entra ID publishes one per key, with
/// `{tenantid}` for multi-tenant keys) verifies only tokens of that issuer:
/// with one key set shared across tenants, a key must not vouch for a token
/// that claims another tenant. Entra ID publishes keys with the v2.0 issuer
/// only, so a v1.0 token (`https://sts.windows.net/{tid}/`) is checked as
/// the v2.0 issuer of its tenant, its `tid` being the tenant its `iss` names
/// (as Microsoft.IdentityModel does).
fn check_key_issuer(key_issuer: &str, claims: ClaimsRef<'_>) -> Result<(), Error> {
    let iss = claims.issuer().ok_or(Error::InvalidIssuer)?;
    let tid = claims.tenant();
    if key_names(key_issuer, tid, iss) {
        return Ok(());
    }
    let v1_tenant = iss
        .strip_prefix("https://sts.windows.net/")
        .and_then(|rest| rest.strip_suffix('/'));
    if let Some(tenant) = v1_tenant
        && tid == Some(tenant)
        && key_names(
            key_issuer,
            tid,
            &format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        )
    {
        return Ok(());
    }
    Err(Error::InvalidIssuer)
}

/// The key's `issuer`, with `tid` for `{tenantid}`, is `iss`.
fn key_names(key_issuer: &str, tid: Option<&str>, iss: &str) -> bool {
    match key_issuer.split_once("{tenantid}") {
        None => key_issuer == iss,
        Some((prefix, suffix)) => tid.is_some_and(|tid| {
            iss.len() == prefix.len() + tid.len() + suffix.len()
                && iss.starts_with(prefix)
                && iss.ends_with(suffix)
                && iss.get(prefix.len()..prefix.len() + tid.len()) == Some(tid)
        }),
    }
}
