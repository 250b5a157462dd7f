//! JWK parsing and hygiene, and [`KeySet`]: the parsed, usable keys.

use std::sync::Arc;

use serde::Deserialize;

use crate::jose::algorithm::{Algorithm, Family};
use crate::jose::error::{ConfigError, Error};
use crate::jose::signature::{self, DerKey, Verifier};

/// A set of verification keys, each parsed once and ready to verify.
///
/// Built from a JWK Set ([`from_jwks_json`](KeySet::from_jwks_json)), from PEM
/// public keys ([`with_pem`](KeySet::with_pem)) or from a shared secret
/// ([`with_secret`](KeySet::with_secret)). Unusable JWKs are skipped one by
/// one, never the whole set: see [`skipped`](KeySet::skipped) for which and
/// why. Cheap to clone.
///
/// A JWK is unusable when its `use` is not `sig`, its `key_ops` lack
/// `verify` or repeat a value (RFC 7517 §4.3), its `alg` is unknown or does
/// not fit its `kty`/`crv`, it publishes private key material (`d`, `p`,
/// `q`, `dp`, `dq`, `qi`, `oth`: whoever read the JWK Set could sign with
/// it), an RSA modulus is under 2048 or over 8192 bits or `e` is 1 or even,
/// an EC point is not on its curve, an Ed25519 key is a point of small
/// order (with which anyone can forge signatures), or an HMAC key is
/// shorter than its hash. A JWK that names an `issuer` (Entra ID; not a
/// JOSE member) verifies only tokens of that issuer, `{tenantid}` standing
/// for the token's `tid`. The same key listed twice under the same `kid`
/// counts once; two different keys under one `kid` make that `kid`
/// ambiguous, and tokens naming it are refused.
///
/// ```
/// use jwt_gate::KeySet;
///
/// let jwks = r#"{"keys":[
///   {"kty":"EC","crv":"P-256","kid":"ec-1","use":"sig","alg":"ES256",
///    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
///    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
///   {"kty":"RSA","kid":"tiny","n":"AQAB","e":"AQAB"}
/// ]}"#;
/// let keys = KeySet::from_jwks_json(jwks)?;
/// assert_eq!(keys.len(), 1);
/// assert_eq!(keys.skipped()[0].kid(), Some("tiny"));
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Arc<Vec<Key>>,
    skipped: Arc<Vec<SkippedKey>>,
}

/// A JWK that [`KeySet`] left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    kid: Option<String>,
    reason: &'static str,
}

impl SkippedKey {
    /// The JWK's `kid`, if it had one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Why the key is unusable.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

#[derive(Clone)]
struct Key {
    kid: Option<Box<str>>,
    /// A fingerprint of `kid` and the key material: the verified-token cache
    /// drops an entry once no key with its tag is left.
    tag: u64,
    /// One verifier per algorithm this key may verify (one when the JWK
    /// names its `alg`).
    verifiers: Vec<(Algorithm, Verifier)>,
    /// The JWK's `issuer` (Entra ID): the key verifies only tokens of that
    /// issuer, `{tenantid}` standing for the token's `tid`.
    issuer: Option<Box<str>>,
}

impl Key {
    /// The same `kid`, material and algorithms.
    fn same_as(&self, other: &Self) -> bool {
        self.tag == other.tag
            && self.kid == other.kid
            && self.issuer == other.issuer
            && self.verifiers.len() == other.verifiers.len()
            && self
                .verifiers
                .iter()
                .zip(&other.verifiers)
                .all(|((a, _), (b, _))| a == b)
    }

    fn verifier(&self, alg: Algorithm) -> Option<&Verifier> {
        self.verifiers
            .iter()
            .find_map(|(a, v)| (*a == alg).then_some(v))
    }
}

/// Where a JWK Set came from: symmetric keys are only ever trusted when the
/// application supplied them itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Local,
    Remote,
}

impl KeySet {
    /// An empty set (every token fails with [`Error::UnknownKey`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a JWK Set document (`{"keys": [...]}`) supplied by the
    /// application. Symmetric (`oct`) keys are accepted here, because the
    /// application holds them; they are refused in JWKS fetched from an
    /// issuer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the document is not a JSON object with a
    /// `keys` array. Unusable keys are skipped, not errors.
    pub fn from_jwks_json(json: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::parse_jwks(json.as_ref(), Origin::Local)
            .map_err(|why| ConfigError::new("from_jwks_json", why))
    }

    /// Like [`from_jwks_json`](KeySet::from_jwks_json), from an already
    /// parsed JSON value.
    ///
    /// # Errors
    ///
    /// As [`from_jwks_json`](KeySet::from_jwks_json).
    pub fn from_jwks(jwks: &serde_json::Value) -> Result<Self, ConfigError> {
        Self::from_value(jwks, Origin::Local).map_err(|why| ConfigError::new("from_jwks", why))
    }

    /// A JWK Set document; the error says why it is not one.
    pub(crate) fn parse_jwks(json: &[u8], origin: Origin) -> Result<Self, &'static str> {
        let value: serde_json::Value = serde_json::from_slice(json).map_err(|_| "not JSON")?;
        Self::from_value(&value, origin)
    }

    fn from_value(jwks: &serde_json::Value, origin: Origin) -> Result<Self, &'static str> {
        let keys = jwks
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or("not a JWK Set: no `keys` array")?;
        let mut set = Self::new();
        for jwk in keys {
            set.push_jwk(jwk, origin);
        }
        Ok(set)
    }

    /// Adds a PEM public key: `PUBLIC KEY` (SubjectPublicKeyInfo: RSA, P-256,
    /// P-384, P-521, Ed25519) or `RSA PUBLIC KEY` (PKCS#1). `kid` is the key id
    /// tokens name it by; `None` serves tokens without `kid`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the PEM holds no usable public key.
    ///
    /// ```
    /// use jwt_gate::KeySet;
    /// let pem = "-----BEGIN PUBLIC KEY-----
    /// MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
    /// -----END PUBLIC KEY-----";
    /// let keys = KeySet::new().with_pem(Some("ed-1"), pem)?;
    /// assert_eq!(keys.len(), 1);
    /// # Ok::<(), jwt_gate::ConfigError>(())
    /// ```
    pub fn with_pem(self, kid: Option<&str>, pem: &str) -> Result<Self, ConfigError> {
        let invalid = |why| ConfigError::new("with_pem", why);
        let der = pem_to_der(pem).ok_or_else(|| invalid("not a PEM public key"))?;
        let key = match signature::identify_der(&der) {
            Some(DerKey::Rsa { n, e }) => rsa_key(kid, None, &n, &e),
            Some(DerKey::Ec(family)) => public_key(kid, None, family, &der),
            Some(DerKey::Ed25519) => public_key(kid, None, Family::Ed25519, &der),
            None => Err("not an RSA, P-256, P-384, P-521 or Ed25519 public key"),
        }
        .map_err(invalid)?;
        Ok(self.with_key(key))
    }

    /// Adds a shared HMAC secret for HS256/384/512 (used only for the
    /// algorithms whose hash is no longer than the secret, RFC 7518 §3.2).
    /// HS* must also be listed in [`Validation::algorithms`](crate::Validation::algorithms).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the secret is shorter than 32 bytes.
    pub fn with_secret(self, kid: Option<&str>, secret: &[u8]) -> Result<Self, ConfigError> {
        let key =
            hmac_key(kid, None, secret).map_err(|why| ConfigError::new("with_secret", why))?;
        Ok(self.with_key(key))
    }

    fn with_key(mut self, key: Key) -> Self {
        Arc::make_mut(&mut self.keys).push(key);
        self
    }

    fn push_jwk(&mut self, jwk: &serde_json::Value, origin: Origin) {
        let kid = jwk.get("kid").and_then(|k| k.as_str());
        match parse_jwk(jwk, origin) {
            // The very same key listed again is one key, not an ambiguity.
            Ok(key) if self.keys.iter().any(|k| k.same_as(&key)) => {}
            Ok(key) => Arc::make_mut(&mut self.keys).push(key),
            Err(reason) => {
                if reason == PRIVATE_MATERIAL {
                    tracing::warn!(target: "jwt_gate", kid = ?kid, "a JWK publishes private key material: not trusted");
                }
                Arc::make_mut(&mut self.skipped).push(SkippedKey {
                    kid: kid.map(str::to_owned),
                    reason,
                });
            }
        }
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// `true` when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of the usable keys, in document order.
    pub fn kids(&self) -> impl Iterator<Item = Option<&str>> {
        self.keys.iter().map(|k| k.kid.as_deref())
    }

    /// The JWKs that were left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// The one key that may verify a token with this `kid` and `alg`.
    ///
    /// With a `kid`: the usable key with exactly that `kid`; two such keys
    /// are ambiguous and refused. Without a `kid`: the single usable key for
    /// `alg`, if there is exactly one.
    /// Also returns the key's tag (see [`has_tag`](Self::has_tag)) and the
    /// issuer the key is bound to, if its JWK names one.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(&Verifier, u64, Option<&str>), Error> {
        let mut found = None;
        for key in self.keys.iter() {
            if kid.is_some() && key.kid.as_deref() != kid {
                continue;
            }
            if let Some(verifier) = key.verifier(alg) {
                if found.is_some() {
                    return Err(Error::unknown_key(kid));
                }
                found = Some((verifier, key.tag, key.issuer.as_deref()));
            }
        }
        found.ok_or_else(|| Error::unknown_key(kid))
    }

    /// Whether the key that verified a cached token (by its tag) is still
    /// in the set.
    pub(crate) fn has_tag(&self, tag: u64) -> bool {
        self.keys.iter().any(|k| k.tag == tag)
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// The JWK members we read; the rest are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    /// Entra ID's issuer binding of a key (not a JOSE member).
    issuer: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
}

/// The members that hold a private key (RFC 7518 §6.2.2, §6.3.2; RFC 8037
/// §2): a JWK Set is public, and a key published with them is compromised.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

const PRIVATE_MATERIAL: Skip = "the JWK publishes private key material";

type Skip = &'static str;

fn parse_jwk(value: &serde_json::Value, origin: Origin) -> Result<Key, Skip> {
    let jwk = Jwk::deserialize(value).map_err(|_| "members of the wrong JSON type")?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("`use` is not `sig`");
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|op| op == "verify") {
            return Err("`key_ops` lacks `verify`");
        }
        // RFC 7517 §4.3: duplicate key operation values MUST NOT be present.
        if ops.iter().enumerate().any(|(i, op)| ops[..i].contains(op)) {
            return Err("`key_ops` repeats a value");
        }
    }
    if jwk.kty != "oct" && PRIVATE_MEMBERS.iter().any(|m| value.get(m).is_some()) {
        return Err(PRIVATE_MATERIAL);
    }
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(Algorithm::parse(name).ok_or("unknown or unsupported `alg`")?),
    };
    let kid = jwk.kid.as_deref();
    let b64 = |field: &Option<String>| -> Result<Vec<u8>, Skip> {
        let s = field.as_deref().ok_or("missing key member")?;
        crate::jose::token::decode_b64(s).map_err(|_| "key member is not base64url")
    };
    let mut key = match jwk.kty.as_str() {
        "RSA" => rsa_key(kid, alg, &b64(&jwk.n)?, &b64(&jwk.e)?),
        "EC" => {
            let (family, len) = match jwk.crv.as_deref() {
                Some("P-256") => (Family::P256, 32),
                Some("P-384") => (Family::P384, 48),
                Some("P-521") => (Family::P521, 66),
                _ => return Err("unsupported EC curve"),
            };
            let (x, y) = (b64(&jwk.x)?, b64(&jwk.y)?);
            if x.len() != len || y.len() != len {
                return Err("EC coordinates of the wrong length");
            }
            let point = [&[4u8][..], &x, &y].concat();
            public_key(kid, alg, family, &point)
        }
        "OKP" => {
            if jwk.crv.as_deref() != Some("Ed25519") {
                return Err("unsupported OKP curve");
            }
            let x = b64(&jwk.x)?;
            if x.len() != 32 {
                return Err("Ed25519 key of the wrong length");
            }
            public_key(kid, alg, Family::Ed25519, &x)
        }
        "oct" if origin == Origin::Remote => {
            Err("symmetric keys are never trusted from a fetched JWKS")
        }
        "oct" => hmac_key(kid, alg, &b64(&jwk.k)?),
        _ => Err("unsupported `kty`"),
    }?;
    key.issuer = jwk.issuer.map(String::into_boxed_str);
    Ok(key)
}

/// The verifier of a DPoP proof's own `jwk` for `alg` (RFC 9449 §4.3): the
/// rules of a fetched key set (public members only, never `oct`, RSA of
/// 2048 to 8192 bits, P-256/384/521 or Ed25519 on the curve, `use`,
/// `key_ops` and `alg` fitting), read for `alg` alone.
pub(crate) fn proof_key(jwk: &serde_json::Value, alg: Algorithm) -> Result<Verifier, Skip> {
    let key = match jwk.get("alg") {
        Some(_) => parse_jwk(jwk, Origin::Remote)?,
        None => {
            let mut jwk = jwk.clone();
            if let Some(object) = jwk.as_object_mut() {
                object.insert("alg".to_owned(), alg.as_str().into());
            }
            parse_jwk(&jwk, Origin::Remote)?
        }
    };
    key.verifiers
        .into_iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, verifier)| verifier)
        .ok_or("the key does not fit `alg`")
}

/// The algorithms a key may serve: its own `alg` if it names one (which must
/// fit the key), else every algorithm of its family.
fn algorithms(alg: Option<Algorithm>, family: Family) -> Result<Vec<Algorithm>, Skip> {
    match alg {
        Some(alg) if alg.family() == family => Ok(vec![alg]),
        Some(_) => Err("`alg` does not fit the key type"),
        None => Ok(family.algorithms().collect()),
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn rsa_key(kid: Option<&str>, alg: Option<Algorithm>, n: &[u8], e: &[u8]) -> Result<Key, Skip> {
    let (n, e) = (strip_zeros(n), strip_zeros(e));
    // An empty or all-zero modulus has no bits (and no first byte).
    let bits = n
        .first()
        .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if bits < 2048 {
        return Err("RSA modulus shorter than 2048 bits");
    }
    if bits > 8192 {
        return Err("RSA modulus longer than 8192 bits");
    }
    if e.len() > 4 || e.last().is_none_or(|b| b & 1 == 0) || e == [1] {
        return Err("RSA exponent is 1, even or too large");
    }
    let verifiers = algorithms(alg, Family::Rsa)?
        .into_iter()
        .map(|alg| Verifier::rsa(alg, n, e).map(|v| (alg, v)))
        .collect::<Option<Vec<_>>>()
        .ok_or("invalid RSA key")?;
    Ok(Key {
        kid: kid.map(Into::into),
        issuer: None,
        tag: signature::key_tag(kid, &[n, e]),
        verifiers,
    })
}

fn public_key(
    kid: Option<&str>,
    alg: Option<Algorithm>,
    family: Family,
    public_key: &[u8],
) -> Result<Key, Skip> {
    if family == Family::Ed25519 && signature::is_small_order_ed25519(public_key) {
        return Err("Ed25519 key of small order (anyone could forge its signatures)");
    }
    let verifiers = algorithms(alg, family)?
        .into_iter()
        .map(|alg| Verifier::ec_or_ed(alg, public_key).map(|v| (alg, v)))
        .collect::<Option<Vec<_>>>()
        .ok_or("invalid public key (point not on the curve)")?;
    Ok(Key {
        kid: kid.map(Into::into),
        issuer: None,
        tag: signature::key_tag(kid, &[public_key]),
        verifiers,
    })
}

fn hmac_key(kid: Option<&str>, alg: Option<Algorithm>, secret: &[u8]) -> Result<Key, Skip> {
    let verifiers: Vec<_> = algorithms(alg, Family::Hmac)?
        .into_iter()
        .filter(|alg| secret.len() >= signature::min_hmac_len(*alg))
        .filter_map(|alg| Verifier::hmac(alg, secret).map(|v| (alg, v)))
        .collect();
    if verifiers.is_empty() {
        return Err("HMAC key shorter than its hash");
    }
    Ok(Key {
        kid: kid.map(Into::into),
        issuer: None,
        tag: signature::key_tag(kid, &[secret]),
        verifiers,
    })
}

/// The DER inside the first `-----BEGIN …PUBLIC KEY-----` block.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + 11..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return None;
    }
    let body = &rest[label_end + 5..];
    let end = body.find("-----END ")?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64_simd::STANDARD.decode_to_vec(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_jwks_never_yields_symmetric_keys() {
        let jwks = br#"{"keys":[{"kty":"oct","kid":"h","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}"#;
        let remote = KeySet::parse_jwks(jwks, Origin::Remote).unwrap();
        assert!(remote.is_empty());
        assert_eq!(
            remote.skipped()[0].reason(),
            "symmetric keys are never trusted from a fetched JWKS"
        );
        let local = KeySet::parse_jwks(jwks, Origin::Local).unwrap();
        assert_eq!(local.len(), 1);
    }

    #[test]
    fn not_a_jwk_set_is_an_error() {
        for doc in [
            &b"[]"[..],
            b"{}",
            b"{\"keys\":{}}",
            b"nope",
            b"{\"keys\":[]",
        ] {
            assert!(KeySet::from_jwks_json(doc).is_err());
        }
        assert!(KeySet::from_jwks_json(r#"{"keys":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn pem_labels_other_than_public_key_are_refused() {
        assert!(
            pem_to_der("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_none()
        );
        assert!(pem_to_der("garbage").is_none());
    }
}
