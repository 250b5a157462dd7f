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

/// Parses an `alg` value (of a token header or a JWK alike): exact,
/// case-sensitive JWA names only, plus `Ed25519`, RFC 9864's fully specified
/// name for EdDSA with Ed25519 (the only EdDSA curve verified here). `none`
/// in any spelling, and anything unknown, is `None`.
pub(crate) fn parse_alg(s: &str) -> Option<Algorithm> {
    if s == "Ed25519" {
        return Some(Algorithm::EdDSA);
    }
    ALL.into_iter().find(|alg| name(*alg) == s)
}

/// The encodings of the Ed25519 points of small order (order 1, 2, 4 or 8),
/// sign bit of x cleared: y = 0, 1, the two y of the order-8 points, p − 1,
/// and the non-canonical p (= 0) and p + 1 (= 1). The list libsodium checks
/// (`ge25519_has_small_order`).
const ED25519_SMALL_ORDER: [[u8; 32]; 7] = {
    /// p = 2^255 - 19 with its lowest byte replaced (little-endian).
    const fn near_p(low: u8) -> [u8; 32] {
        let mut b = [0xff; 32];
        b[0] = low;
        b[31] = 0x7f;
        b
    }
    let mut one = [0; 32];
    one[0] = 1;
    [
        [0; 32],
        one,
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
        near_p(0xec), // p - 1
        near_p(0xed), // p
        near_p(0xee), // p + 1
    ]
};

/// Whether an Ed25519 public key (raw, or the last 32 bytes of its
/// SubjectPublicKeyInfo) is a point of small order. With such a key a
/// signature (R of small order, S = 0) verifies for messages anyone picks,
/// so it is never usable (RFC 8032 §5.1.7 leaves this to the verifier).
pub(crate) fn is_small_order_ed25519(public_key: &[u8]) -> bool {
    let Some(start) = public_key.len().checked_sub(32) else {
        return false;
    };
    let mut y = [0u8; 32];
    y.copy_from_slice(&public_key[start..]);
    y[31] &= 0x7f;
    ED25519_SMALL_ORDER.contains(&y)
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

    /// The eight points of order dividing 8, canonically encoded: the list
    /// with the sign of x where x ≠ 0.
    fn torsion_encodings() -> Vec<[u8; 32]> {
        let mut out = vec![ED25519_SMALL_ORDER[1], ED25519_SMALL_ORDER[4]];
        for y in [
            ED25519_SMALL_ORDER[0],
            ED25519_SMALL_ORDER[2],
            ED25519_SMALL_ORDER[3],
        ] {
            let mut negative = y;
            negative[31] |= 0x80;
            out.extend([y, negative]);
        }
        out
    }

    #[test]
    fn the_two_order_8_y_values_sum_to_p() {
        let (a, b) = (ED25519_SMALL_ORDER[2], ED25519_SMALL_ORDER[3]);
        let mut carry = 0u16;
        let mut sum = [0u8; 32];
        for i in 0..32 {
            let v = u16::from(a[i]) + u16::from(b[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(sum, ED25519_SMALL_ORDER[5], "y8 + (p - y8) = p");
    }

    /// The attack the list exists for: with a small-order public key, a
    /// signature (R of small order, S = 0) verifies for a message the forger
    /// picks. Every listed point the crypto library would accept as a key
    /// is forgeable this way, and is refused as a key here.
    #[test]
    fn small_order_ed25519_keys_admit_forgeries_and_are_refused() {
        let torsion = torsion_encodings();
        let mut accepted_by_the_library = 0;
        for key in &torsion {
            let Ok(parsed) = ParsedPublicKey::new(&signature::ED25519, key) else {
                continue;
            };
            accepted_by_the_library += 1;
            let forged = (0u8..64).any(|m| {
                torsion.iter().any(|r| {
                    let mut sig = [0u8; 64];
                    sig[..32].copy_from_slice(r);
                    parsed.verify_sig(&[m], &sig).is_ok()
                })
            });
            assert!(forged, "no forgery found for {key:02x?}");
            assert!(is_small_order_ed25519(key));
            assert!(Verifier::ec_or_ed(Algorithm::EdDSA, key).is_some());
        }
        assert!(accepted_by_the_library >= 5, "{accepted_by_the_library}");
        for y in ED25519_SMALL_ORDER {
            let mut negative = y;
            negative[31] |= 0x80;
            assert!(is_small_order_ed25519(&y) && is_small_order_ed25519(&negative));
        }
        // An ordinary key (RFC 8037 A.2) is not.
        let rfc8037 = base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        assert!(!is_small_order_ed25519(&rfc8037));
    }

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
