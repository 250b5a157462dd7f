//! [`SigningKey`]: the one test signer. [`TestIssuer`](super::TestIssuer)
//! signs with it, and so do this crate's own tests, benches and examples.

use std::fmt;

use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use aws_lc_rs::{hmac, rsa};
use serde_json::{Value, json};

use crate::jose::algorithm::{Algorithm, Family};
use crate::jose::error::ConfigError;
use crate::jose::jwks::KeySet;
use crate::jose::signature::min_hmac_len;
use crate::remote::client_auth::{sign_ecdsa, sign_rsa};

/// A private key that signs tokens, for tests: RSA, P-256, P-384, P-521,
/// Ed25519 or an HMAC secret.
///
/// ```
/// use jwt_gate::testing::SigningKey;
/// use jwt_gate::{Algorithm, Claims, UnixTime, Validation};
/// use serde_json::json;
///
/// let key = SigningKey::generate(Algorithm::ES512);
/// let token = key.sign_token(
///     &json!({"kid": "k1"}),
///     &json!({"aud": "api", "exp": 2_000_000_000}),
/// );
/// let rules = Validation::new().audience("api");
/// let claims: Claims = jwt_gate::validate(&token, &key.key_set("k1"), &rules, UnixTime::from_secs(1_900_000_000))?;
/// # let _ = claims;
/// # Ok::<(), jwt_gate::Error>(())
/// ```
pub struct SigningKey {
    key: PrivateKey,
    alg: Algorithm,
}

enum PrivateKey {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn ec_signing(family: Family) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    match family {
        Family::P256 => Some(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        Family::P384 => Some(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        Family::P521 => Some(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        _ => None,
    }
}

impl SigningKey {
    /// A fresh key for `alg`: RSA keys are 2048 bits, HMAC secrets as long
    /// as the hash.
    ///
    /// # Panics
    ///
    /// When the platform's random generator fails.
    pub fn generate(alg: Algorithm) -> Self {
        let key = match alg.family() {
            Family::Rsa => PrivateKey::Rsa(
                rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect("RSA key generation"),
            ),
            family @ (Family::P256 | Family::P384 | Family::P521) => PrivateKey::Ec(
                EcdsaKeyPair::generate(ec_signing(family).expect("an EC family"))
                    .expect("EC key generation"),
            ),
            Family::Ed25519 => PrivateKey::Ed(Ed25519KeyPair::generate().expect("Ed25519 key")),
            Family::Hmac => {
                let mut secret = vec![0; min_hmac_len(alg)];
                aws_lc_rs::rand::fill(&mut secret).expect("random secret");
                PrivateKey::Hmac(secret)
            }
        };
        Self { key, alg }
    }

    /// A key from a PKCS#8 DER private key, to sign with `alg` (which must
    /// fit the key).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the DER is not a private key for `alg`.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        let bad = |e: aws_lc_rs::error::KeyRejected| {
            ConfigError::new(
                "from_pkcs8",
                format!("not a PKCS#8 private key for {alg}: {e}"),
            )
        };
        let key = match alg.family() {
            Family::Rsa => PrivateKey::Rsa(rsa::KeyPair::from_pkcs8(der).map_err(bad)?),
            family @ (Family::P256 | Family::P384 | Family::P521) => PrivateKey::Ec(
                EcdsaKeyPair::from_pkcs8(ec_signing(family).expect("an EC family"), der)
                    .map_err(bad)?,
            ),
            Family::Ed25519 => {
                PrivateKey::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(bad)?)
            }
            Family::Hmac => {
                return Err(ConfigError::new(
                    "from_pkcs8",
                    "an HMAC secret is not PKCS#8: use SigningKey::hmac",
                ));
            }
        };
        Ok(Self { key, alg })
    }

    /// An HMAC key for `alg` (HS256/384/512) with this secret, of any
    /// length (to test the refusal of short secrets too).
    ///
    /// # Panics
    ///
    /// When `alg` is not an HMAC algorithm.
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Self {
        assert_eq!(alg.family(), Family::Hmac, "{alg} is not an HMAC algorithm");
        Self {
            key: PrivateKey::Hmac(secret.to_vec()),
            alg,
        }
    }

    /// The private key as PKCS#8 DER (`None` for an HMAC secret): to hand
    /// to code that signs with it, such as a
    /// [`ClientKey`](crate::introspection::ClientKey).
    pub fn to_pkcs8(&self) -> Option<Vec<u8>> {
        use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
        match &self.key {
            PrivateKey::Rsa(kp) => {
                let der: Pkcs8V1Der<'static> = kp.as_der().ok()?;
                Some(der.as_ref().to_vec())
            }
            PrivateKey::Ec(kp) => kp.to_pkcs8v1().ok().map(|d| d.as_ref().to_vec()),
            PrivateKey::Ed(kp) => kp.to_pkcs8v1().ok().map(|d| d.as_ref().to_vec()),
            PrivateKey::Hmac(_) => None,
        }
    }

    /// The private key as a PEM `PRIVATE KEY` (PKCS#8) document (`None`
    /// for an HMAC secret).
    pub fn to_pkcs8_pem(&self) -> Option<String> {
        let b64 = base64_simd::STANDARD.encode_to_string(self.to_pkcs8()?);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        Some(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ))
    }

    /// The algorithm the key was made for.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Signs `message` with `alg`, which must fit the key's family (an RSA
    /// key signs RS* and PS* alike).
    ///
    /// # Panics
    ///
    /// When `alg` does not fit the key.
    pub fn sign(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        assert_eq!(
            alg.family(),
            self.alg.family(),
            "{alg} does not fit this key"
        );
        match &self.key {
            PrivateKey::Rsa(kp) => sign_rsa(kp, alg, message),
            PrivateKey::Ec(kp) => sign_ecdsa(kp, message),
            PrivateKey::Ed(kp) => kp.sign(message).as_ref().to_vec(),
            PrivateKey::Hmac(secret) => {
                let algorithm = match alg {
                    Algorithm::HS384 => hmac::HMAC_SHA384,
                    Algorithm::HS512 => hmac::HMAC_SHA512,
                    _ => hmac::HMAC_SHA256,
                };
                hmac::sign(&hmac::Key::new(algorithm, secret), message)
                    .as_ref()
                    .to_vec()
            }
        }
    }

    /// The public JWK with `kid`, `use: sig` and `alg` (for an HMAC key: the
    /// `oct` JWK holding the secret).
    pub fn public_jwk(&self, kid: &str) -> Value {
        let mut jwk = match &self.key {
            PrivateKey::Rsa(kp) => {
                let public = kp.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            PrivateKey::Ec(kp) => {
                let point = kp.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = match self.alg.family() {
                    Family::P256 => "P-256",
                    Family::P384 => "P-384",
                    _ => "P-521",
                };
                json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": b64(&point[1..=len]),
                    "y": b64(&point[1 + len..]),
                })
            }
            PrivateKey::Ed(kp) => json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(kp.public_key().as_ref()),
            }),
            PrivateKey::Hmac(secret) => json!({ "kty": "oct", "k": b64(secret) }),
        };
        jwk["kid"] = kid.into();
        jwk["use"] = "sig".into();
        jwk["alg"] = self.alg.as_str().into();
        jwk
    }

    /// A one-key [`KeySet`] of [`public_jwk`](Self::public_jwk) without its
    /// `alg`, so that it verifies every algorithm of the key's family (RS*
    /// and PS* for an RSA key); an HMAC key is included, as the application
    /// supplies it.
    ///
    /// # Panics
    ///
    /// Never for a key this type made.
    pub fn key_set(&self, kid: &str) -> KeySet {
        let mut jwk = self.public_jwk(kid);
        if let Some(jwk) = jwk.as_object_mut() {
            jwk.remove("alg");
        }
        KeySet::from_jwks(&json!({ "keys": [jwk] })).expect("a JWK Set of one key")
    }

    /// A compact JWS of `claims` with `header` (its `alg` set to the key's
    /// algorithm unless `header` names one).
    pub fn sign_token(&self, header: &Value, claims: &Value) -> String {
        let mut header = header.clone();
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some(name) => Algorithm::parse(name).unwrap_or(self.alg),
            None => {
                header["alg"] = self.alg.as_str().into();
                self.alg
            }
        };
        self.sign_raw(
            alg,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }

    /// A compact JWS of exactly these header and payload bytes, signed with
    /// `alg`: the way to build tokens that are malformed on purpose.
    pub fn sign_raw(&self, alg: Algorithm, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = self.sign(alg, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }
}

/// Base64url without padding, as JOSE writes it.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes)
}
