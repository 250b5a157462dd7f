//! [`Algorithm`]: the JWS algorithms jwt-gate verifies, by their JOSE
//! names (RFC 7518 §3.1, RFC 8037), and the allow-list bit set.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm jwt-gate verifies, named as a token's `alg`
/// header spells it.
///
/// jwt-gate's own enum: the public API does not depend on another crate's
/// major version. With the `jsonwebtoken` feature, `From<jsonwebtoken::Algorithm>`
/// converts from that crate's enum.
///
/// `none` is not an algorithm here, in any spelling: it cannot be named, so
/// it cannot be allowed.
///
/// ```
/// use jwt_gate::Algorithm;
///
/// let alg: Algorithm = "ES512".parse()?;
/// assert_eq!(alg, Algorithm::ES512);
/// assert_eq!(alg.to_string(), "ES512");
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!(!Algorithm::HS256.is_asymmetric());
/// # Ok::<(), jwt_gate::UnknownAlgorithm>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256 = 0,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// ECDSA with P-384 and SHA-384.
    ES384,
    /// ECDSA with P-521 and SHA-512.
    ES512,
    /// EdDSA with Ed25519 (RFC 8037; `Ed25519`, RFC 9864's fully specified
    /// name, is read as this too).
    EdDSA,
    /// HMAC with SHA-256 (shared secret; never from a fetched JWKS).
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl Algorithm {
    /// Every algorithm, in bit order of the allow-list set.
    pub(crate) const ALL: [Self; 13] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
        Self::HS256,
        Self::HS384,
        Self::HS512,
    ];

    /// The JOSE name, exactly as `alg` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Whether the algorithm verifies with a public key (everything but HS*).
    pub const fn is_asymmetric(self) -> bool {
        !matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The key family the algorithm needs.
    pub(crate) const fn family(self) -> Family {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                Family::Rsa
            }
            Self::ES256 => Family::P256,
            Self::ES384 => Family::P384,
            Self::ES512 => Family::P521,
            Self::EdDSA => Family::Ed25519,
            Self::HS256 | Self::HS384 | Self::HS512 => Family::Hmac,
        }
    }

    /// Parses an `alg` value (of a token header or a JWK alike): exact,
    /// case-sensitive JOSE names, plus `Ed25519`. `none` in any spelling,
    /// and anything unknown, is `None`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        if s == "Ed25519" {
            return Some(Self::EdDSA);
        }
        Self::ALL.into_iter().find(|alg| alg.as_str() == s)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// The JOSE name, case-sensitive (`RS256`, `ES512`, `EdDSA`, …; also
    /// `Ed25519`). `none` and unknown names are an error.
    fn from_str(s: &str) -> Result<Self, UnknownAlgorithm> {
        Self::parse(s).ok_or(UnknownAlgorithm(()))
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format_args!("unknown or disallowed algorithm {name:?}"))
        })
    }
}

/// `From` the `jsonwebtoken` crate's enum, for code that already names it.
///
/// # Panics
///
/// For an algorithm a later `jsonwebtoken` adds that jwt-gate does not
/// verify (the 12 of jsonwebtoken 11 all convert).
#[cfg(feature = "jsonwebtoken")]
#[cfg_attr(docsrs, doc(cfg(feature = "jsonwebtoken")))]
impl From<jsonwebtoken::Algorithm> for Algorithm {
    fn from(alg: jsonwebtoken::Algorithm) -> Self {
        use jsonwebtoken::Algorithm as J;
        match alg {
            J::HS256 => Self::HS256,
            J::HS384 => Self::HS384,
            J::HS512 => Self::HS512,
            J::ES256 => Self::ES256,
            J::ES384 => Self::ES384,
            J::RS256 => Self::RS256,
            J::RS384 => Self::RS384,
            J::RS512 => Self::RS512,
            J::PS256 => Self::PS256,
            J::PS384 => Self::PS384,
            J::PS512 => Self::PS512,
            J::EdDSA => Self::EdDSA,
            #[allow(unreachable_patterns)]
            other => panic!("jsonwebtoken algorithm {other:?} is not one jwt-gate verifies"),
        }
    }
}

/// The error of [`Algorithm::from_str`]: not a JOSE algorithm name jwt-gate
/// verifies (or `none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(());

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown or disallowed signature algorithm")
    }
}

impl std::error::Error for UnknownAlgorithm {}

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Rsa,
    P256,
    P384,
    P521,
    Ed25519,
    Hmac,
}

impl Family {
    /// The algorithms a key of this family can verify.
    pub(crate) fn algorithms(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |alg| alg.family() == self)
    }
}

/// A set of algorithms as a bit set: the allow-list check is one AND.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AlgSet(u16);

impl AlgSet {
    /// Every asymmetric algorithm: the default allow-list.
    pub(crate) const ASYMMETRIC: Self = Self(0b11_1111_1111);

    pub(crate) fn from_iter(algs: impl IntoIterator<Item = Algorithm>) -> Self {
        Self(algs.into_iter().fold(0, |set, alg| set | 1 << (alg as u8)))
    }

    pub(crate) fn contains(self, alg: Algorithm) -> bool {
        self.0 & (1 << (alg as u8)) != 0
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |alg| self.contains(*alg))
    }
}

impl fmt::Debug for AlgSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Algorithm::as_str))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_never_an_algorithm() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(Algorithm::ALL[alg as usize], alg, "bit order");
        }
        assert_eq!(Algorithm::parse("Ed25519"), Some(Algorithm::EdDSA));
        for s in [
            "none", "None", "NONE", "nOnE", "rs256", "RS256 ", "es512", "", "HS256\0", "ES256K",
        ] {
            assert_eq!(Algorithm::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn asymmetric_set_is_every_algorithm_but_hmac() {
        let set = AlgSet::ASYMMETRIC;
        assert_eq!(set.iter().count(), 10);
        for alg in Algorithm::ALL {
            assert_eq!(set.contains(alg), alg.is_asymmetric(), "{alg}");
        }
    }

    #[test]
    fn serde_uses_the_jose_names() {
        let json = serde_json::to_string(&[Algorithm::ES512, Algorithm::EdDSA]).unwrap();
        assert_eq!(json, r#"["ES512","EdDSA"]"#);
        let back: Vec<Algorithm> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [Algorithm::ES512, Algorithm::EdDSA]);
        assert!(serde_json::from_str::<Algorithm>(r#""none""#).is_err());
    }
}
