//! Signature checks: the only file of the pure core that names the crypto
//! crate (aws-lc-rs). Keys are parsed once into a [`Verifier`]; verifying a
//! token never parses a key again.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use aws_lc_rs::{hmac, rsa};

use crate::jose::algorithm::{Algorithm, Family};

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
            Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
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
    if ParsedPublicKey::new(&signature::ECDSA_P521_SHA512_FIXED, der).is_ok() {
        return Some(DerKey::Ec(Family::P521));
    }
    if der.len() > 32 && ParsedPublicKey::new(&signature::ED25519, der).is_ok() {
        return Some(DerKey::Ed25519);
    }
    None
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

    /// Wycheproof `ecdsa_secp521r1_sha512_p1363_test.json` (C2SP/wycheproof
    /// commit 81ee421), tcId 1-12 verbatim: the message-independent cases
    /// and the JWS transplants are in `tests/data/wycheproof_es512.json`.
    #[test]
    fn es512_verifies_wycheproof_p1363_vectors_as_they_say() {
        let hex = |s: &str| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        };
        let key = hex(concat!(
            "04005c6457ec088d532f482093965ae53ccd07e556ed59e2af945cd8c7a95c1c644f8a56a8a8a3cd77392d",
            "dd861e8a924dac99c69069093bd52a52fa6c56004a074508007878d6d42e4b4dd1e9c0696cb3e19f63033c",
            "3db4e60d473259b3ebe079aaf0a986ee6177f8217a78c68b813f7e149a4e56fd9562c07fed3d895942d7d1",
            "01cb83f6"
        ));
        let verifier = Verifier::ec_or_ed(Algorithm::ES512, &key).expect("the P-521 key parses");
        let s = "0028b5d0926a4172b349b0fd2e929487a5edb94b142df923a697e7446acdacdba0a029e43d69111174dba2fe747122709a69ce69d5285e174a01a93022fea8318ac1";
        let cases: [(u32, String, bool); 7] = [
            (
                1,
                "004e4223ee43e8cb89de3b1339ffc279e582f82c7ab0f71bbde43dbe374ac75ffbef29acdf8e70750b9a04f66fda48351de7bbfd515720b0ec5cd736f9b73bdf864501d74a2f6d95be8d4cb64f02d16d6b785a1246b4ebd206dc596818bb953253245f5a27a24a1aae1e218fdccd8cd7d4990b666d4bf4902b84fdad123f941fe906d948"
                    .to_owned(),
                true,
            ),
            (
                2,
                format!(
                    "024e4223ee43e8cb89de3b1339ffc279e582f82c7ab0f71bbde43dbe374ac75ffbe97b3367122fa4a20584c271233f3ec3b7f7b31b0faa4d340b92a6b0d5cd17ea4e{s}"
                ),
                false,
            ),
            (
                4,
                format!(
                    "01b1bddc11bc17347621c4ecc6003d861a7d07d3854f08e4421bc241c8b538a0040b27d9a7f54eba8ad17ad5916eaed487e87fb8786168eb5b51e438bd675558ddc4{s}"
                ),
                false,
            ),
            (
                5,
                format!(
                    "024e4223ee43e8cb89de3b1339ffc279e582f82c7ab0f71bbde43dbe374ac75ffbef29acdf8e70750b9a04f66fda48351de7bbfd515720b0ec5cd736f9b73bdf8645{s}"
                ),
                false,
            ),
            (
                7,
                format!(
                    "0228b5d0926a4172b349b0fd2e929487a5edb94b142df923a697e7446acdacdba09a7b6ac4ecd0410b4722ca75ba197a403a0a1f9ee0e7b391b0649fda1d3969eeca{s}"
                ),
                false,
            ),
            (
                9,
                format!(
                    "0228b5d0926a4172b349b0fd2e929487a5edb94b142df923a697e7446acdacdba0a029e43d69111174dba2fe747122709a69ce69d5285e174a01a93022fea8318ac1{s}"
                ),
                false,
            ),
            (11, "00".repeat(132), false),
        ];
        for (tc, sig, valid) in cases {
            assert_eq!(
                verifier.verify(&hex("313233343030"), &hex(&sig)),
                valid,
                "tcId {tc}"
            );
        }
    }
}
