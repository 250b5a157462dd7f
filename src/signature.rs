//! Algorithms and signature checks: the only file that names the crypto crate
//! (aws-lc-rs). Keys are parsed once into a [`Verifier`]; verifying a token
//! never parses a key again.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use aws_lc_rs::{hmac, rsa};

use crate::Algorithm;

/// Every algorithm this crate verifies, in a fixed order (bit positions of
/// [`AlgSet`]).
pub(crate) const ALL: [Algorithm; 12] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
];

/// The JWA name of an algorithm, exactly as `alg` spells it.
pub(crate) fn name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        _ => "unsupported",
    }
}

/// Parses an `alg` value: exact, case-sensitive JWA names only. `none` in any
/// spelling, and anything unknown, is `None`.
pub(crate) fn parse_alg(s: &str) -> Option<Algorithm> {
    ALL.into_iter().find(|alg| name(*alg) == s)
}

fn index(alg: Algorithm) -> Option<u32> {
    ALL.iter().position(|a| *a == alg).map(|i| i as u32)
}

/// A set of algorithms as a bit set: the allow-list check is one AND.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AlgSet(u16);

impl AlgSet {
    /// RS*, PS*, ES256, ES384, EdDSA: the first nine of [`ALL`].
    pub(crate) const ASYMMETRIC: Self = Self(0b1_1111_1111);

    pub(crate) fn from_iter(algs: impl IntoIterator<Item = Algorithm>) -> Self {
        Self(
            algs.into_iter()
                .filter_map(index)
                .fold(0, |set, i| set | 1 << i),
        )
    }

    pub(crate) fn contains(self, alg: Algorithm) -> bool {
        index(alg).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Algorithm> {
        ALL.into_iter().filter(move |alg| self.contains(*alg))
    }
}

impl std::fmt::Debug for AlgSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(name)).finish()
    }
}

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
    Hmac,
}

pub(crate) fn family(alg: Algorithm) -> Option<Family> {
    Some(match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Family::Rsa,
        Algorithm::ES256 => Family::P256,
        Algorithm::ES384 => Family::P384,
        Algorithm::EdDSA => Family::Ed25519,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        _ => return None,
    })
}

/// The algorithms a key of `family` can verify.
pub(crate) fn algorithms_of(family: Family) -> impl Iterator<Item = Algorithm> {
    ALL.into_iter()
        .filter(move |alg| self::family(*alg) == Some(family))
}

/// A key parsed once, ready to verify signatures for one algorithm.
#[derive(Clone)]
pub(crate) enum Verifier {
    Public(ParsedPublicKey),
    /// Boxed: an HMAC key holds its precomputed pads (over 1 KiB).
    Hmac(Box<hmac::Key>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Public(_) => "Verifier::Public",
            Self::Hmac(_) => "Verifier::Hmac",
        })
    }
}

impl Verifier {
    /// Checks `signature` over `message`. HMAC comparison is constant-time.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
            Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
        }
    }

    /// An RSA key from its big-endian modulus and exponent (no leading zeros).
    pub(crate) fn rsa(alg: Algorithm, n: &[u8], e: &[u8]) -> Option<Self> {
        let params: &'static signature::RsaParameters = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        };
        RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(params)
            .ok()
            .map(Self::Public)
    }

    /// An EC or Ed25519 key from its encoded public key: an uncompressed
    /// SEC1 point (`04 || x || y`), a raw Ed25519 key, or a
    /// SubjectPublicKeyInfo. The point is checked to be on the curve.
    pub(crate) fn ec_or_ed(alg: Algorithm, public_key: &[u8]) -> Option<Self> {
        let algorithm: &'static dyn signature::VerificationAlgorithm = match alg {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            _ => return None,
        };
        ParsedPublicKey::new(algorithm, public_key)
            .ok()
            .map(Self::Public)
    }

    /// An HMAC key. The caller checks the key length.
    pub(crate) fn hmac(alg: Algorithm, secret: &[u8]) -> Option<Self> {
        let algorithm = match alg {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return None,
        };
        Some(Self::Hmac(Box::new(hmac::Key::new(algorithm, secret))))
    }
}

/// A fingerprint of a key: SHA-256 over its `kid` and material, truncated
/// to 64 bits (collision-resistant, so a new key cannot pose as a removed one).
pub(crate) fn key_tag(kid: Option<&str>, material: &[&[u8]]) -> u64 {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(kid.unwrap_or_default().as_bytes());
    for part in material {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let digest = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// The minimum HMAC key length for `alg`: the hash size (RFC 7518 §3.2).
pub(crate) fn min_hmac_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// What a DER public key (SubjectPublicKeyInfo or PKCS#1) holds.
pub(crate) enum DerKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Family),
    Ed25519,
}

/// Identifies a DER-encoded public key.
pub(crate) fn identify_der(der: &[u8]) -> Option<DerKey> {
    if let Ok(key) = rsa::PublicKey::from_der(der) {
        return Some(DerKey::Rsa {
            n: key.modulus().big_endian_without_leading_zero().to_vec(),
            e: key.exponent().big_endian_without_leading_zero().to_vec(),
        });
    }
    if ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, der).is_ok() {
        return Some(DerKey::Ec(Family::P256));
    }
    if ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, der).is_ok() {
        return Some(DerKey::Ec(Family::P384));
    }
    if der.len() > 32 && ParsedPublicKey::new(&signature::ED25519, der).is_ok() {
        return Some(DerKey::Ed25519);
    }
    None
}

/// A private key that signs tokens: the `testing` feature's issuer.
#[cfg(feature = "testing")]
pub(crate) struct SigningKey {
    key: PrivateKey,
    pub(crate) alg: Algorithm,
}

#[cfg(feature = "testing")]
enum PrivateKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
    Ed(aws_lc_rs::signature::Ed25519KeyPair),
}

#[cfg(feature = "testing")]
impl SigningKey {
    /// A fresh key for `alg` (RSA keys are 2048 bits).
    ///
    /// # Panics
    ///
    /// For HS* and unknown algorithms: an issuer publishes public keys only.
    pub(crate) fn generate(alg: Algorithm) -> Self {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
            Ed25519KeyPair,
        };
        let key = match family(alg) {
            Some(Family::Rsa) => PrivateKey::Rsa(
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .expect("RSA key generation"),
            ),
            Some(Family::P256) => PrivateKey::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key"),
            ),
            Some(Family::P384) => PrivateKey::Ec(
                EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).expect("P-384 key"),
            ),
            Some(Family::Ed25519) => {
                PrivateKey::Ed(Ed25519KeyPair::generate().expect("Ed25519 key"))
            }
            _ => panic!("a test issuer signs with asymmetric keys only, not {alg:?}"),
        };
        Self { key, alg }
    }

    /// Signs `message` with `alg`, which must fit the key's family.
    ///
    /// # Panics
    ///
    /// When `alg` does not fit the key.
    pub(crate) fn sign(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        use aws_lc_rs::signature as sig;
        assert_eq!(
            family(alg),
            family(self.alg),
            "{alg:?} does not fit this key"
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.key {
            PrivateKey::Rsa(kp) => {
                let padding: &'static dyn sig::RsaEncoding = match alg {
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_SHA512,
                    _ => &sig::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; kp.public_modulus_len()];
                kp.sign(padding, &rng, message, &mut out)
                    .expect("RSA signing");
                out
            }
            PrivateKey::Ec(kp) => kp
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            PrivateKey::Ed(kp) => kp.sign(message).as_ref().to_vec(),
        }
    }

    /// The public JWK, with `kid`, `use: sig` and `alg`.
    pub(crate) fn public_jwk(&self, kid: &str) -> serde_json::Value {
        use aws_lc_rs::signature::KeyPair as _;
        let b64 = |bytes: &[u8]| base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes);
        let mut jwk = match &self.key {
            PrivateKey::Rsa(kp) => {
                let public = kp.public_key();
                serde_json::json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            PrivateKey::Ec(kp) => {
                let point = kp.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                serde_json::json!({
                    "kty": "EC",
                    "crv": if self.alg == Algorithm::ES256 { "P-256" } else { "P-384" },
                    "x": b64(&point[1..=len]),
                    "y": b64(&point[1 + len..]),
                })
            }
            PrivateKey::Ed(kp) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(kp.public_key().as_ref()),
            }),
        };
        jwk["kid"] = kid.into();
        jwk["use"] = "sig".into();
        jwk["alg"] = name(self.alg).into();
        jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip_and_none_is_never_an_algorithm() {
        for alg in ALL {
            assert_eq!(parse_alg(name(alg)), Some(alg));
        }
        for s in [
            "none", "None", "NONE", "nOnE", "rs256", "RS256 ", "ES512", "", "HS256\0",
        ] {
            assert_eq!(parse_alg(s), None, "{s:?}");
        }
    }

    #[test]
    fn asymmetric_set_has_no_hmac() {
        let set = AlgSet::ASYMMETRIC;
        assert_eq!(set.iter().count(), 9);
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(!set.contains(alg));
        }
        assert!(set.contains(Algorithm::EdDSA));
    }
}
