//! [`DpopKey`]: a DPoP client's key pair for tests, making proofs
//! (RFC 9449 §4) with any member overridden for negative tests.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use serde_json::{Value, json};

use super::signer::{SigningKey, b64};
use crate::jose::algorithm::Algorithm;
use crate::jose::dpop::{access_token_hash, jwk_thumbprint};
use crate::jose::time::UnixTime;

/// A DPoP client's key: its public JWK, its RFC 7638 thumbprint (bind
/// tokens to it with [`TokenBuilder::dpop_bound`](super::TokenBuilder::dpop_bound)),
/// and proofs signed with it.
///
/// ```
/// use jwt_gate::testing::DpopKey;
/// use jwt_gate::{Algorithm, UnixTime, dpop};
///
/// let key = DpopKey::generate(Algorithm::ES256);
/// let proof = key.proof("GET", "https://api.example.com/orders").access_token("tok").sign();
/// let request = dpop::ProofRequest::new("GET", "https://api.example.com/orders", "tok");
/// let checked = dpop::verify_proof(&proof, &request, &dpop::DpopRules::new(), UnixTime::now())?;
/// assert_eq!(checked.thumbprint(), key.thumbprint());
/// # Ok::<(), jwt_gate::Error>(())
/// ```
pub struct DpopKey {
    key: SigningKey,
    jwk: Value,
    thumbprint: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.algorithm())
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl DpopKey {
    /// A new key for `alg` (an asymmetric algorithm; ES256 is what most
    /// clients use).
    ///
    /// # Panics
    ///
    /// For an HMAC algorithm: a proof is signed with a private key.
    pub fn generate(alg: Algorithm) -> Self {
        assert!(alg.is_asymmetric(), "a DPoP key is asymmetric");
        Self::from_signing_key(SigningKey::generate(alg))
    }

    /// A DPoP key from a test signing key (its algorithm signs proofs).
    ///
    /// # Panics
    ///
    /// For an HMAC key.
    pub fn from_signing_key(key: SigningKey) -> Self {
        assert!(key.algorithm().is_asymmetric(), "a DPoP key is asymmetric");
        let mut jwk = key.public_jwk("");
        if let Some(jwk) = jwk.as_object_mut() {
            for member in ["kid", "use", "alg"] {
                jwk.remove(member);
            }
        }
        let thumbprint = jwk_thumbprint(&jwk).expect("a public JWK");
        Self {
            key,
            jwk,
            thumbprint,
        }
    }

    /// The public JWK a proof carries (`kty` and key members only).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint: a bound token's `cnf.jkt`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for `method` `url`: `typ` `dpop+jwt`, this key's `alg` and
    /// `jwk`, a random `jti`, `iat` now. Add the token with
    /// [`access_token`](ProofBuilder::access_token).
    pub fn proof(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        let mut jti = [0u8; 16];
        SystemRandom::new().fill(&mut jti).expect("randomness");
        ProofBuilder {
            key: self,
            header: json!({
                "typ": "dpop+jwt",
                "alg": self.key.algorithm().as_str(),
                "jwk": self.jwk,
            }),
            claims: json!({
                "jti": b64(&jti),
                "htm": method,
                "htu": url,
                "iat": UnixTime::now().as_secs(),
            }),
        }
    }
}

/// A DPoP proof being made by a [`DpopKey`]. Finish with
/// [`sign`](Self::sign).
#[must_use]
#[derive(Debug)]
pub struct ProofBuilder<'k> {
    key: &'k DpopKey,
    header: Value,
    claims: Value,
}

impl ProofBuilder<'_> {
    /// `ath`: the hash of the access token sent with the proof.
    pub fn access_token(self, token: &str) -> Self {
        self.claim("ath", access_token_hash(token))
    }

    /// `nonce`: a server nonce (from a `DPoP-Nonce` header).
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    /// `jti`.
    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }

    /// `iat`.
    pub fn issued_at(self, iat: UnixTime) -> Self {
        self.claim("iat", iat.as_secs())
    }

    /// Any claim, replacing one of the same name (`Value::Null` removes it).
    ///
    /// # Panics
    ///
    /// When `value` cannot be serialized to JSON.
    pub fn claim(mut self, name: &str, value: impl serde::Serialize) -> Self {
        set(&mut self.claims, name, value);
        self
    }

    /// Any header member, replacing one of the same name (`Value::Null`
    /// removes it): `typ`, `alg`, `jwk`.
    ///
    /// # Panics
    ///
    /// When `value` cannot be serialized to JSON.
    pub fn header(mut self, name: &str, value: impl serde::Serialize) -> Self {
        set(&mut self.header, name, value);
        self
    }

    /// Signs with the key's algorithm (whatever the header's `alg` says).
    pub fn sign(self) -> String {
        self.key.key.sign_raw(
            self.key.key.algorithm(),
            self.header.to_string().as_bytes(),
            self.claims.to_string().as_bytes(),
        )
    }
}

fn set(object: &mut Value, name: &str, value: impl serde::Serialize) {
    let value = serde_json::to_value(value).expect("a JSON value");
    if let Some(object) = object.as_object_mut() {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.to_owned(), value);
        }
    }
}
