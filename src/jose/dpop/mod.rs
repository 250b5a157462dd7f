//! DPoP (RFC 9449), the pure part: a proof's checks against the request it
//! came with ([`verify_proof`]), the token and its binding together
//! ([`validate_dpop`]), RFC 7638 key thumbprints, `ath`, and stateless
//! server nonces ([`DpopNonces`]). No I/O and no clock read: remembering
//! `jti`s (replay) and choosing the request's URL are the caller's part
//! (the [`Validator`](crate::Validator) and the layer do both).

mod htu;
mod nonce;
mod object;

use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use self::nonce::DpopNonces;
use crate::jose::algorithm::{AlgSet, Algorithm};
use crate::jose::claims::Claims;
use crate::jose::cnf::Bindings;
use crate::jose::error::Error;
use crate::jose::jwks::{KeySet, proof_key};
use crate::jose::signature::Verifier;
use crate::jose::time::UnixTime;
use crate::jose::token;
use crate::jose::validate::validate_checked;
use crate::jose::validation::Validation;

pub(crate) use self::htu::normalize as normalize_htu;

/// What a DPoP proof must meet besides naming its request: the algorithms
/// accepted, how fresh it must be, and size limits.
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::{Algorithm, dpop::DpopRules};
///
/// let rules = DpopRules::new()
///     .algorithms([Algorithm::ES256, Algorithm::EdDSA])
///     .max_age(Duration::from_secs(30));
/// # let _ = rules;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DpopRules {
    pub(crate) algorithms: AlgSet,
    pub(crate) max_age: Duration,
    pub(crate) leeway: Duration,
    pub(crate) max_jti_bytes: usize,
    pub(crate) max_proof_bytes: usize,
}

impl Default for DpopRules {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopRules {
    /// The defaults: every asymmetric algorithm, proofs at most 60 s old,
    /// 5 s of leeway for clock skew, `jti` of at most 128 bytes, proofs of
    /// at most 8 KiB.
    pub fn new() -> Self {
        Self {
            algorithms: AlgSet::ASYMMETRIC,
            max_age: Duration::from_secs(60),
            leeway: Duration::from_secs(5),
            max_jti_bytes: 128,
            max_proof_bytes: 8 * 1024,
        }
    }

    /// The proof algorithms accepted (sent as `algs` in the `DPoP`
    /// challenge). HS* are never accepted: a proof is signed with the
    /// client's private key and verified with the public key it carries.
    ///
    /// Defaults to RS256/384/512, PS256/384/512, ES256/384/512, EdDSA.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = AlgSet::from_iter(algorithms.into_iter().filter(|a| a.is_asymmetric()));
        self
    }

    /// The accepted algorithms, in the order of [`Algorithm`].
    pub fn allowed_algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.algorithms.iter()
    }

    /// How old a proof's `iat` may be (RFC 9449 §11.1). The replay store
    /// remembers each `jti` this long plus twice the leeway.
    ///
    /// Defaults to 60 s.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Clock skew tolerated on `iat`, both ways.
    ///
    /// Defaults to 5 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest `jti` accepted, in bytes (RFC 9449 §11.1 lets a server
    /// refuse "unnecessarily large" ones; real clients send 22 to 43).
    ///
    /// Defaults to 128.
    pub fn max_jti_bytes(mut self, max: usize) -> Self {
        self.max_jti_bytes = max;
        self
    }

    /// The longest proof accepted, in bytes, checked before decoding.
    ///
    /// Defaults to 8 KiB.
    pub fn max_proof_bytes(mut self, max: usize) -> Self {
        self.max_proof_bytes = max;
        self
    }

    /// How long a proof stays acceptable: what a replay store must remember
    /// its `jti` for.
    pub fn window(&self) -> Duration {
        self.max_age + self.leeway * 2
    }
}

/// The request a proof must name: its method, its URL (the URL the client
/// used: scheme, host, port and path; query and fragment are ignored) and
/// the access token sent with it.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    pub(crate) access_token: &'a str,
}

impl<'a> ProofRequest<'a> {
    /// The request `method` `url`, carrying `access_token`.
    pub fn new(method: &'a str, url: &'a str, access_token: &'a str) -> Self {
        Self {
            method,
            url,
            access_token,
        }
    }
}

/// A DPoP proof that passed [`verify_proof`]: the thumbprint of its key and
/// what the caller still has to judge (`jti` once, `nonce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    thumbprint: String,
    jti: String,
    iat: UnixTime,
    nonce: Option<String>,
    alg: Algorithm,
}

impl DpopProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key (base64url): the
    /// `cnf.jkt` of a token bound to it.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The proof's `jti`, to be accepted once within the proof window.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The proof's `iat`.
    pub fn issued_at(&self) -> UnixTime {
        self.iat
    }

    /// The proof's `nonce`, if it carries one.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The proof's `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key under which a replay store remembers this proof: SHA-256
    /// over the thumbprint and the `jti` (a `jti` is unique per key), so
    /// that stored keys have one size and hold nothing of the request.
    pub fn replay_key(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(self.thumbprint.as_bytes());
        ctx.update(b".");
        ctx.update(self.jti.as_bytes());
        let mut out = [0; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidDpopProof { reason }
}

/// Checks a DPoP proof (RFC 9449 §4.3) for `request` at time `now`, in this
/// order:
///
/// 1. size: at most [`DpopRules::max_proof_bytes`], before decoding;
/// 2. a compact JWS of canonical base64url; header and payload UTF-8 JSON
///    objects without duplicate members;
/// 3. `typ` `dpop+jwt`; no `crit`;
/// 4. `alg` asymmetric and in [`DpopRules::algorithms`];
/// 5. `jwk` a public key (no private member), of a type, size and curve
///    the core accepts and fitting `alg`;
/// 6. the signature, by that key;
/// 7. `jti` (a string of 1 to [`DpopRules::max_jti_bytes`] bytes), `htm`,
///    `htu`, `iat` present and of their types; `nonce`, if present, a string;
/// 8. `htm` equal to the request method;
/// 9. `htu` equal to the request URL, both without query and fragment,
///    after RFC 3986 §6 normalisation (scheme and host case, default port,
///    dot-segments, percent-encoding of unreserved characters);
/// 10. `iat` within [`DpopRules::max_age`] before `now`, with leeway both
///     ways;
/// 11. `ath` equal to base64url(SHA-256(access token)).
///
/// It does not check the token's binding (`cnf.jkt` against
/// [`DpopProof::thumbprint`]; [`validate_dpop`] does), the nonce, or that
/// the `jti` is new: those are the caller's.
///
/// # Errors
///
/// [`Error::InvalidDpopProof`], whose `reason` says which check failed.
pub fn verify_proof(
    proof: &str,
    request: &ProofRequest<'_>,
    rules: &DpopRules,
    now: UnixTime,
) -> Result<DpopProof, Error> {
    verify_proof_with(proof, request, rules, now, |_, header| {
        proof_header(header, rules).map(Arc::new)
    })
}

/// A proof's JOSE header checked (`typ`, no `crit`, `alg`, `jwk`), its key
/// parsed and its thumbprint taken: the same for every proof a client
/// signs with one key, so a validator keeps a few, by header segment.
#[derive(Debug)]
pub(crate) struct ProofKey {
    alg: Algorithm,
    verifier: Verifier,
    thumbprint: String,
}

/// Checks a proof's decoded JOSE header against `rules` and parses its key.
pub(crate) fn proof_header(header: &[u8], rules: &DpopRules) -> Result<ProofKey, Error> {
    let header = token::unique_object(header).ok_or(invalid("the proof header is malformed"))?;
    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(is_dpop_typ) {
        return Err(invalid("the proof typ is not dpop+jwt"));
    }
    if header.contains_key("crit") {
        return Err(invalid("the proof header has crit"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::parse)
        .filter(|alg| alg.is_asymmetric() && rules.algorithms.contains(*alg))
        .ok_or(invalid("the proof algorithm is not allowed"))?;
    let jwk = header
        .get("jwk")
        .filter(|jwk| jwk.is_object())
        .ok_or(invalid("the proof header has no jwk"))?;
    let verifier = proof_key(jwk, alg).map_err(|_| invalid("the proof jwk is not acceptable"))?;
    let thumbprint = jwk_thumbprint(jwk).ok_or(invalid("the proof jwk is not acceptable"))?;
    Ok(ProofKey {
        alg,
        verifier,
        thumbprint,
    })
}

/// [`verify_proof`] with the header's checks and key from `key_of`, given
/// the header's base64url segment and its decoded bytes (a cache, or
/// [`proof_header`]).
pub(crate) fn verify_proof_with(
    proof: &str,
    request: &ProofRequest<'_>,
    rules: &DpopRules,
    now: UnixTime,
    key_of: impl FnOnce(&str, &[u8]) -> Result<Arc<ProofKey>, Error>,
) -> Result<DpopProof, Error> {
    if proof.len() > rules.max_proof_bytes {
        return Err(invalid("the proof is too large"));
    }
    let mut header_buf = [MaybeUninit::uninit(); token::HEADER_INLINE];
    let jws = token::parse(proof, rules.max_proof_bytes, &mut header_buf)
        .map_err(|_| invalid("the proof is not a compact JWS"))?;
    let segment = jws.signing_input.split_once('.').map_or("", |(h, _)| h);
    let key = key_of(segment, &jws.header)?;
    let mut sig_buf = [MaybeUninit::uninit(); token::MAX_SIGNATURE_LEN];
    let signature = token::decode_b64_into(jws.signature_b64, &mut sig_buf)
        .ok()
        .flatten()
        .ok_or(invalid("the proof signature is malformed"))?;
    if !key.verifier.verify(jws.signing_input.as_bytes(), signature) {
        return Err(invalid("the proof signature is invalid"));
    }
    let claims = object::ProofClaims::parse(&jws.payload)
        .ok_or(invalid("the proof claims are malformed"))?;
    // Borrowed: only `jti` and `nonce` are kept, the rest only compared.
    fn text(value: &Option<Value>) -> Result<Option<&str>, Error> {
        match value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid("a proof claim has the wrong type")),
        }
    }
    let jti = text(&claims.jti)?.ok_or(invalid("the proof has no jti"))?;
    if jti.is_empty() || jti.len() > rules.max_jti_bytes {
        return Err(invalid("the proof jti is empty or too long"));
    }
    let htm = text(&claims.htm)?.ok_or(invalid("the proof has no htm"))?;
    let htu = text(&claims.htu)?.ok_or(invalid("the proof has no htu"))?;
    let iat = match &claims.iat {
        Some(Value::Number(n)) => n.as_f64().filter(|n| n.is_finite() && *n >= 0.0),
        _ => None,
    }
    .ok_or(invalid("the proof has no numeric iat"))?;
    let nonce = text(&claims.nonce)?;
    let ath = text(&claims.ath)?;
    if htm != request.method {
        return Err(invalid("the proof htm is not the request method"));
    }
    if !same_url(htu, request.url) {
        return Err(invalid("the proof htu is not the request URL"));
    }
    let (now_f, max_age, leeway) = (
        now.as_secs() as f64,
        rules.max_age.as_secs_f64(),
        rules.leeway.as_secs_f64(),
    );
    if iat > now_f + leeway {
        return Err(invalid("the proof iat is in the future"));
    }
    if iat < now_f - max_age - leeway {
        return Err(invalid("the proof is too old"));
    }
    if ath != Some(&*access_token_hash(request.access_token)) {
        return Err(invalid("the proof ath is not the access token hash"));
    }
    Ok(DpopProof {
        thumbprint: key.thumbprint.clone(),
        jti: jti.to_owned(),
        iat: UnixTime::from_secs(iat as u64),
        nonce: nonce.map(str::to_owned),
        alg: key.alg,
    })
}

/// Whether `htu` names the request URL `url`: both without query and
/// fragment, equal as they are (the common case, no parsing) or after
/// normalisation. `url` must be an absolute http(s) URL.
fn same_url(htu: &str, url: &str) -> bool {
    // Equal strings name the same URL (the common case: no parsing); it
    // must still be an http(s) URL without user info, as normalisation
    // requires.
    let url_bare = &url[..url
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(url.len())];
    if let Some(rest) = htu.strip_prefix(url_bare)
        && matches!(rest.as_bytes().first(), None | Some(b'?' | b'#'))
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.as_bytes().contains(&b'@')
        && !url.as_bytes().contains(&b'\\')
    {
        return true;
    }
    match (normalize_htu(htu), normalize_htu(url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `typ` `dpop+jwt`, compared as RFC 7515 §4.1.9 says (case-insensitive,
/// an optional `application/` prefix).
fn is_dpop_typ(typ: &str) -> bool {
    let bytes = typ.as_bytes();
    let bare = match bytes.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"application/") => &bytes[12..],
        _ => bytes,
    };
    bare.eq_ignore_ascii_case(b"dpop+jwt")
}

/// Validates a DPoP-bound access token and its proof together, at time
/// `now`: [`validate`](crate::validate) (a token with `cnf.jkt` accepted),
/// [`verify_proof`] for `request` with this token, and the binding: the
/// token's `cnf.jkt` equal to the proof key's RFC 7638 thumbprint.
///
/// The nonce and replay checks are the caller's: see
/// [`DpopProof::nonce`], [`DpopProof::replay_key`] and [`DpopNonces`].
///
/// # Errors
///
/// As [`validate`](crate::validate); [`Error::NotDpopBound`] for a token
/// without `cnf.jkt`; [`Error::InvalidDpopProof`] for a proof that fails a
/// check or whose key is not the token's.
///
/// ```
/// use jwt_gate::{Claims, KeySet, UnixTime, Validation, dpop};
/// # fn f(token: &str, proof: &str, keys: &KeySet) -> Result<(), jwt_gate::Error> {
/// let rules = Validation::new().issuer("https://auth.example.com").audience("api://orders");
/// let request = dpop::ProofRequest::new("GET", "https://api.example.com/orders", token);
/// let (claims, proof): (Claims, _) =
///     dpop::validate_dpop(token, proof, &request, keys, &rules, &dpop::DpopRules::new(), UnixTime::now())?;
/// assert_eq!(claims.dpop_thumbprint(), Some(proof.thumbprint()));
/// # Ok(()) }
/// ```
pub fn validate_dpop<C: DeserializeOwned>(
    token: &str,
    proof: &str,
    request: &ProofRequest<'_>,
    keys: &KeySet,
    rules: &Validation,
    dpop: &DpopRules,
    now: UnixTime,
) -> Result<(Claims<C>, DpopProof), Error> {
    let (claims, _) = validate_checked(
        token,
        keys,
        rules,
        now,
        Bindings {
            jkt: true,
            x5t: false,
        },
    )?;
    let proof = check_bound(&claims, proof, request, dpop, now, |_, header| {
        proof_header(header, dpop).map(Arc::new)
    })?;
    Ok((claims, proof))
}

/// [`verify_proof_with`] for a validated token's claims, and the binding.
pub(crate) fn check_bound<C>(
    claims: &Claims<C>,
    proof: &str,
    request: &ProofRequest<'_>,
    rules: &DpopRules,
    now: UnixTime,
    key_of: impl FnOnce(&str, &[u8]) -> Result<Arc<ProofKey>, Error>,
) -> Result<DpopProof, Error> {
    let jkt = claims.dpop_thumbprint().ok_or(Error::NotDpopBound)?;
    let proof = verify_proof_with(proof, request, rules, now, key_of)?;
    if proof.thumbprint != jkt {
        return Err(invalid(
            "the proof key is not the one the token is bound to",
        ));
    }
    Ok(proof)
}

/// The RFC 7638 SHA-256 thumbprint (base64url) of a public JWK: its
/// required members in lexicographic order, without whitespace: `e`,
/// `kty`, `n` (RSA); `crv`, `kty`, `x`, `y` (EC); `crv`, `kty`, `x` (OKP,
/// RFC 8037 §2). `None` for another `kty` or a required member that is
/// missing or not a string.
///
/// ```
/// use jwt_gate::dpop::jwk_thumbprint;
/// let jwk = serde_json::json!({
///     "kty": "EC", "crv": "P-256",
///     "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
///     "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
/// });
/// // RFC 9449 §A's example key.
/// assert_eq!(jwk_thumbprint(&jwk).unwrap(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
/// ```
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let jwk: &Map<String, Value> = jwk.as_object()?;
    let kty = jwk.get("kty")?.as_str()?;
    let members: &[&str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push('"');
        canonical.push_str(name);
        canonical.push_str("\":");
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(b64_sha256(canonical.as_bytes()))
}

/// `ath`: base64url(SHA-256(the access token's ASCII)) (RFC 9449 §4.2).
///
/// ```
/// // RFC 9449 §7.1's example token and hash.
/// assert_eq!(
///     jwt_gate::dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
///     "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
/// );
/// ```
pub fn access_token_hash(access_token: &str) -> String {
    b64_sha256(access_token.as_bytes())
}

fn b64_sha256(bytes: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, bytes);
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(hash.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_rsa_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprint_needs_the_required_members_as_strings() {
        assert!(jwk_thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": "a"})).is_none());
        assert!(jwk_thumbprint(&json!({"kty": "oct", "k": "a"})).is_none());
        assert!(jwk_thumbprint(&json!({"kty": "OKP", "crv": "Ed25519", "x": 1})).is_none());
        assert!(jwk_thumbprint(&json!("EC")).is_none());
        // A mismatched kty/crv is hashed, not a panic (the key itself is
        // refused before, by the JWK rules).
        assert!(jwk_thumbprint(&json!({"kty": "OKP", "crv": "P-256", "x": "a"})).is_some());
    }

    #[test]
    fn identical_urls_match_without_parsing_only_when_absolute_http() {
        assert!(same_url(
            "https://api.example.com/a?x",
            "https://api.example.com/a"
        ));
        assert!(same_url(
            "https://api.example.com/a",
            "https://API.example.com:443/a"
        ));
        assert!(!same_url("/a", "/a"));
        assert!(!same_url("ftp://x/a", "ftp://x/a"));
        assert!(!same_url("https://u@x/a", "https://u@x/a"));
        assert!(!same_url("https://x/a", "https://x/b"));
    }

    #[test]
    fn dpop_typ_spellings() {
        assert!(is_dpop_typ("dpop+jwt"));
        assert!(is_dpop_typ("DPoP+JWT"));
        assert!(is_dpop_typ("application/dpop+jwt"));
        assert!(!is_dpop_typ("at+jwt"));
        assert!(!is_dpop_typ("JWT"));
        assert!(!is_dpop_typ("dpop+jwt "));
    }
}
