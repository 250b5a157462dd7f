//! The two errors: [`Error`], why a request or a token was not accepted
//! (its wire mapping is in `http::rejection`), and [`ConfigError`], a setup
//! mistake found by a builder or a fallible constructor.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use crate::jose::algorithm::Algorithm;
use crate::jose::time::UnixTime;

/// A boxed cause, shared so that [`Error`] stays cheap to clone.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a request or a token was not accepted.
///
/// One enum for every request-time failure: [`validate`](crate::validate)
/// and [`Validator`](crate::Validator) return it, and every adapter turns it
/// into a response through the same three methods:
/// [`status`](Error::status), [`bearer_code`](Error::bearer_code) and
/// [`www_authenticate`](Error::www_authenticate).
///
/// `Display` says what failed and never contains the token; where there is an
/// underlying cause (a serde error, a network error) it is in
/// [`source()`](std::error::Error::source). The text sent to clients is the
/// fixed [`description`](Error::description).
///
/// A setup mistake is never an `Error`: builders return [`ConfigError`].
///
/// ```
/// use jwt_gate::Error;
/// use http::StatusCode;
///
/// let err = Error::InvalidSignature;
/// assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(err.bearer_code(), Some("invalid_token"));
/// assert_eq!(
///     err.www_authenticate(Some("orders")).unwrap(),
///     r#"Bearer realm="orders", error="invalid_token", error_description="The access token signature is invalid""#,
/// );
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The request carried no bearer token.
    MissingToken,
    /// The request's credentials are malformed (RFC 6750 `invalid_request`,
    /// HTTP 400): an `Authorization` header that is not a single
    /// `Bearer <token>`, more than one `Authorization` header, or a token in
    /// the query string (RFC 6750 §2.3, not accepted), with or without a
    /// header.
    MalformedHeader,
    /// The token is not a well-formed compact JWS carrying a JWT: wrong number
    /// of segments, non-canonical base64url, a header or payload that is not a
    /// UTF-8 JSON object, duplicate members, or a `crit` / `b64` header this
    /// crate does not implement.
    MalformedToken {
        /// What was wrong, for logs (never token content).
        reason: &'static str,
    },
    /// The token is longer than [`Validation::max_token_bytes`](crate::Validation::max_token_bytes);
    /// nothing was decoded.
    TooLarge {
        /// The token's length in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The header's `alg` is not in the allow-list: `none` in any spelling,
    /// an algorithm this crate does not know, or one not configured.
    DisallowedAlgorithm {
        /// The algorithm, when it is one this crate knows.
        alg: Option<Algorithm>,
    },
    /// No usable key matches the token's `kid` and `alg`.
    UnknownKey {
        /// The token's `kid`, shortened to 64 characters.
        kid: Option<Box<str>>,
    },
    /// The signature does not verify with the selected key.
    InvalidSignature,
    /// The header's `typ` is not the required one, or names another kind of
    /// JWT (`dpop+jwt`, `logout+jwt`, …).
    InvalidType,
    /// `exp` is at or before now, after leeway.
    Expired {
        /// The token's `exp`.
        exp: UnixTime,
        /// The time validation ran at.
        now: UnixTime,
    },
    /// `nbf` (or `iat`) is after now, after leeway.
    NotYetValid {
        /// The token's `nbf` (or `iat`).
        nbf: UnixTime,
        /// The time validation ran at.
        now: UnixTime,
    },
    /// `iss` is missing or is not the configured issuer, byte for byte.
    InvalidIssuer,
    /// `aud` is missing or names none of the configured audiences.
    InvalidAudience,
    /// The token was issued to a client (`client_id`, else `azp`, else
    /// `cid`) that is not one of [`Validation::client_ids`](crate::Validation::client_ids).
    InvalidClient,
    /// The token is older than [`Validation::max_age`](crate::Validation::max_age)
    /// allows (counted from `iat`, with leeway).
    TooOld {
        /// The token's `iat`.
        iat: UnixTime,
        /// The time validation ran at.
        now: UnixTime,
    },
    /// The check of [`Validation::check_claims`](crate::Validation::check_claims)
    /// refused the token.
    ClaimCheck {
        /// The check's reason, for logs.
        reason: &'static str,
    },
    /// [`Validation::revoked_when`](crate::Validation::revoked_when) says the
    /// token is revoked (checked on verified-token cache hits too).
    Revoked,
    /// A claim that [`Validation::require_claim`](crate::Validation::require_claim)
    /// names is missing, or does not hold the required value.
    ClaimMismatch {
        /// The claim's name.
        claim: Arc<str>,
    },
    /// A claim is missing or has the wrong JSON type, or the payload did not
    /// deserialize into the caller's claims type.
    InvalidClaims {
        /// The registered claim at fault, when one is.
        claim: Option<&'static str>,
        /// The deserializer's error, when there is one.
        source: Option<Cause>,
    },
    /// The token is sender-constrained: it carries a confirmation claim
    /// (`cnf`, RFC 7800), such as a DPoP key thumbprint (`jkt`, RFC 9449) or
    /// a certificate hash (`x5t#S256`, RFC 8705), and the request did not
    /// prove possession of that key or certificate. Accepting it as a plain
    /// bearer token would throw that protection away.
    UnverifiedBinding,
    /// The DPoP proof (RFC 9449 §4.3) failed a check, or its key is not the
    /// one the token is bound to, or its `jti` was seen before (HTTP 401,
    /// `DPoP` challenge, `error="invalid_dpop_proof"`).
    InvalidDpopProof {
        /// Which check failed, for logs (never proof content).
        reason: &'static str,
    },
    /// The DPoP proof lacks a nonce this server issued, or carries a stale
    /// one (RFC 9449 §9): 401 `error="use_dpop_nonce"` with a fresh
    /// `DPoP-Nonce`, which the client puts in its next proof.
    UseDpopNonce,
    /// The `DPoP` scheme was used with a token that is not bound to a DPoP
    /// key (no `cnf.jkt`; HTTP 401 `invalid_token`).
    NotDpopBound,
    /// DPoP is required and the request used the `Bearer` scheme (HTTP 401
    /// `invalid_token`, with the `DPoP` challenge only).
    DpopRequired,
    /// The token is bound to a client certificate (`cnf.x5t#S256`, RFC 8705
    /// §3) and the request did not present that certificate: it presented
    /// none, another one, or the trusted proxy's certificate header could
    /// not be read (HTTP 401 `invalid_token`).
    CertificateMismatch {
        /// Which, for logs (never certificate content).
        reason: &'static str,
    },
    /// Certificate binding is required and the token is not bound to a
    /// client certificate (no `cnf.x5t#S256`; HTTP 401 `invalid_token`).
    NotCertificateBound,
    /// The replay store could not say whether a proof's `jti` is new (Redis
    /// unreachable): the request is refused, not let through (HTTP 503 with
    /// `Retry-After`).
    ReplayCheckUnavailable {
        /// Why, when known.
        source: Option<Cause>,
    },
    /// The token lacks a required scope.
    InsufficientScope {
        /// The required scopes, space-separated (sent as RFC 6750 `scope`).
        required: Arc<str>,
    },
    /// The token lacks a role a [`RequireRoles`](crate::RequireRoles) guard
    /// requires (HTTP 403 `insufficient_scope`, no `scope` parameter).
    MissingRole {
        /// The required roles, space-separated (for logs).
        required: Arc<str>,
    },
    /// A [`RequireClaims`](crate::RequireClaims) guard's predicate refused
    /// the validated claims (HTTP 403 `insufficient_scope`).
    NotPermitted,
    /// The authorization server says the opaque token is not active (RFC
    /// 7662 §2.2 `"active": false`): unknown, expired, revoked, or not for
    /// this resource (HTTP 401 `invalid_token`).
    InactiveToken,
    /// The authorization server could not say whether the token is active:
    /// its introspection endpoint is unreachable, slow, answered an error
    /// (our client credentials refused included: a setup problem, logged),
    /// or an unreadable document; or too many introspections are in flight
    /// (HTTP 503 with `Retry-After`, never 401: an outage is not the
    /// caller's fault).
    IntrospectionUnavailable {
        /// Why, when known.
        source: Option<Cause>,
    },
    /// The request's API key (`X-API-KEY`, or the configured header) is not
    /// one the server knows, or has expired (HTTP 401, on the `ApiKey`
    /// challenge).
    InvalidApiKey,
    /// The request's API key header is empty, repeated, or sent beside a
    /// token (`Authorization`, or a query token): one credential per
    /// request (HTTP 400 `invalid_request`, on the `ApiKey` challenge).
    MalformedApiKey,
    /// No usable signing keys could be obtained from the issuer (network,
    /// HTTP status, a bad document, no usable key): the server's fault, not
    /// the client's (HTTP 503 with `Retry-After`). Never a setup mistake:
    /// those are [`ConfigError`]s at `build()`.
    KeysUnavailable {
        /// Why, when known.
        source: Option<Cause>,
        /// When the key store will try again (what is left of its backoff
        /// after a failed fetch, or soon when a fetch is still running),
        /// sent as `Retry-After`; `None`: the default 5 s.
        retry_after: Option<Duration>,
    },
}

impl Error {
    /// The fixed, client-safe `error_description`. It never contains token
    /// content.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingToken => "No access token was sent",
            Self::MalformedHeader => {
                "The request must carry exactly one Bearer token, in the Authorization header"
            }
            Self::MalformedToken { .. } => "The access token is malformed",
            Self::TooLarge { .. } => "The access token is too large",
            Self::DisallowedAlgorithm { .. } => "The access token algorithm is not allowed",
            Self::UnknownKey { .. } => "The access token signing key is unknown",
            Self::InvalidSignature => "The access token signature is invalid",
            Self::InvalidType => "The access token type is not accepted",
            // RFC 6750 §3's own example text.
            Self::Expired { .. } => "The access token expired",
            Self::NotYetValid { .. } => "The access token is not yet valid",
            Self::InvalidIssuer => "The access token issuer is not trusted",
            Self::InvalidAudience => "The access token audience is not accepted",
            Self::InvalidClient => "The access token was issued to a client that is not accepted",
            Self::TooOld { .. } => "The access token is too old",
            Self::ClaimMismatch { .. } | Self::ClaimCheck { .. } => {
                "The access token claims are not accepted"
            }
            Self::Revoked => "The access token has been revoked",
            Self::InvalidClaims { .. } => "The access token claims are invalid",
            Self::UnverifiedBinding => {
                "The access token is bound to a key or certificate and cannot be used as a bearer token"
            }
            Self::InvalidDpopProof { .. } => "The DPoP proof is invalid",
            Self::UseDpopNonce => "The resource server requires a nonce in the DPoP proof",
            Self::NotDpopBound => "The access token is not bound to a DPoP key",
            Self::DpopRequired => {
                "The resource requires a DPoP-bound access token and a DPoP proof"
            }
            Self::CertificateMismatch { .. } => {
                "The access token is bound to a client certificate the request did not present"
            }
            Self::NotCertificateBound => {
                "The resource requires an access token bound to a client certificate"
            }
            Self::ReplayCheckUnavailable { .. } => {
                "The DPoP replay check is temporarily unavailable"
            }
            Self::InsufficientScope { .. } => {
                "The request requires higher privileges than provided by the access token"
            }
            Self::MissingRole { .. } | Self::NotPermitted => {
                "The request requires higher privileges than provided by the access token"
            }
            Self::KeysUnavailable { .. } => "The token signing keys are temporarily unavailable",
            Self::InactiveToken => "The access token is not active",
            Self::IntrospectionUnavailable { .. } => {
                "The authorization server cannot be asked about the token at the moment"
            }
            Self::InvalidApiKey => "The API key is not accepted",
            Self::MalformedApiKey => {
                "The request must carry exactly one API key, and no token beside it"
            }
        }
    }

    pub(crate) fn malformed(reason: &'static str) -> Self {
        Self::MalformedToken { reason }
    }

    pub(crate) fn claim(claim: &'static str) -> Self {
        Self::InvalidClaims {
            claim: Some(claim),
            source: None,
        }
    }

    pub(crate) fn unknown_key(kid: Option<&str>) -> Self {
        Self::UnknownKey {
            kid: kid.map(|kid| kid.chars().take(64).collect::<String>().into_boxed_str()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingToken => f.write_str("no bearer token in the request"),
            Self::MalformedHeader => {
                f.write_str("authorization header is not a single bearer token")
            }
            Self::MalformedToken { reason } => write!(f, "malformed token: {reason}"),
            Self::TooLarge { size, limit } => {
                write!(
                    f,
                    "token of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            Self::DisallowedAlgorithm { alg: Some(alg) } => {
                write!(f, "algorithm {alg:?} is not allowed")
            }
            Self::DisallowedAlgorithm { alg: None } => {
                f.write_str("algorithm is unknown or `none`")
            }
            Self::UnknownKey { kid: Some(kid) } => write!(f, "no usable key for kid {kid:?}"),
            Self::UnknownKey { kid: None } => f.write_str("no usable key for a token without kid"),
            Self::InvalidSignature => f.write_str("signature does not verify"),
            Self::InvalidType => f.write_str("token type (typ) is not accepted"),
            Self::Expired { exp, now } => {
                write!(
                    f,
                    "token expired at {} (now {})",
                    exp.as_secs(),
                    now.as_secs()
                )
            }
            Self::NotYetValid { nbf, now } => write!(
                f,
                "token not valid before {} (now {})",
                nbf.as_secs(),
                now.as_secs()
            ),
            Self::InvalidIssuer => f.write_str("issuer is missing or not trusted"),
            Self::InvalidAudience => f.write_str("audience is missing or not accepted"),
            Self::InvalidClient => {
                f.write_str("client (client_id, azp or cid) is missing or not accepted")
            }
            Self::TooOld { iat, now } => write!(
                f,
                "token issued at {} is older than allowed (now {})",
                iat.as_secs(),
                now.as_secs()
            ),
            Self::ClaimCheck { reason } => write!(f, "claim check refused the token: {reason}"),
            Self::Revoked => f.write_str("token is revoked"),
            Self::ClaimMismatch { claim } => {
                write!(f, "claim `{claim}` is missing or lacks the required value")
            }
            Self::InvalidClaims {
                claim: Some(claim), ..
            } => {
                write!(f, "claim `{claim}` is missing or has the wrong type")
            }
            Self::InvalidClaims { claim: None, .. } => {
                f.write_str("claims do not deserialize into the claims type")
            }
            Self::UnverifiedBinding => {
                f.write_str("token is sender-constrained (cnf) and its binding is not checked")
            }
            Self::InvalidDpopProof { reason } => write!(f, "invalid DPoP proof: {reason}"),
            Self::UseDpopNonce => f.write_str("the DPoP proof lacks a current server nonce"),
            Self::NotDpopBound => {
                f.write_str("the DPoP scheme was used with a token without cnf.jkt")
            }
            Self::DpopRequired => f.write_str("bearer token where DPoP is required"),
            Self::CertificateMismatch { reason } => {
                write!(f, "certificate-bound token: {reason}")
            }
            Self::NotCertificateBound => {
                f.write_str("token without cnf.x5t#S256 where certificate binding is required")
            }
            Self::ReplayCheckUnavailable { .. } => {
                f.write_str("the DPoP replay store is unavailable")
            }
            Self::InsufficientScope { required } => {
                let mut s = String::new();
                let _ = write!(s, "token lacks a required scope (required: {required})");
                f.write_str(&s)
            }
            Self::MissingRole { required } => {
                write!(f, "token lacks a required role (required: {required})")
            }
            Self::NotPermitted => f.write_str("claims do not satisfy the route's predicate"),
            Self::KeysUnavailable { .. } => f.write_str("signing keys unavailable"),
            Self::InactiveToken => {
                f.write_str("the authorization server says the token is not active")
            }
            Self::IntrospectionUnavailable { .. } => f.write_str("token introspection unavailable"),
            Self::InvalidApiKey => f.write_str("unknown or expired API key"),
            Self::MalformedApiKey => {
                f.write_str("API key header empty, repeated, or beside a token")
            }
        }
    }
}

/// Every [`Error::kind`], in the order of the variants.
pub(crate) const KINDS: [&str; 34] = [
    "missing_token",
    "malformed_header",
    "malformed_token",
    "too_large",
    "disallowed_algorithm",
    "unknown_key",
    "invalid_signature",
    "invalid_type",
    "expired",
    "not_yet_valid",
    "invalid_issuer",
    "invalid_audience",
    "invalid_client",
    "too_old",
    "claim_check",
    "revoked",
    "claim_mismatch",
    "invalid_claims",
    "unverified_binding",
    "invalid_dpop_proof",
    "use_dpop_nonce",
    "not_dpop_bound",
    "dpop_required",
    "certificate_mismatch",
    "not_certificate_bound",
    "replay_check_unavailable",
    "insufficient_scope",
    "missing_role",
    "not_permitted",
    "inactive_token",
    "introspection_unavailable",
    "invalid_api_key",
    "malformed_api_key",
    "keys_unavailable",
];

impl Error {
    /// The variant's name in snake case (`"expired"`, `"invalid_signature"`,
    /// `"keys_unavailable"`, …): stable, low-cardinality, and free of token
    /// content, for logs and metric labels.
    ///
    /// ```
    /// assert_eq!(jwt_gate::Error::InvalidSignature.kind(), "invalid_signature");
    /// ```
    pub fn kind(&self) -> &'static str {
        KINDS[self.kind_index()]
    }

    /// The position of the variant in [`KINDS`].
    pub(crate) fn kind_index(&self) -> usize {
        match self {
            Self::MissingToken => 0,
            Self::MalformedHeader => 1,
            Self::MalformedToken { .. } => 2,
            Self::TooLarge { .. } => 3,
            Self::DisallowedAlgorithm { .. } => 4,
            Self::UnknownKey { .. } => 5,
            Self::InvalidSignature => 6,
            Self::InvalidType => 7,
            Self::Expired { .. } => 8,
            Self::NotYetValid { .. } => 9,
            Self::InvalidIssuer => 10,
            Self::InvalidAudience => 11,
            Self::InvalidClient => 12,
            Self::TooOld { .. } => 13,
            Self::ClaimCheck { .. } => 14,
            Self::Revoked => 15,
            Self::ClaimMismatch { .. } => 16,
            Self::InvalidClaims { .. } => 17,
            Self::UnverifiedBinding => 18,
            Self::InvalidDpopProof { .. } => 19,
            Self::UseDpopNonce => 20,
            Self::NotDpopBound => 21,
            Self::DpopRequired => 22,
            Self::CertificateMismatch { .. } => 23,
            Self::NotCertificateBound => 24,
            Self::ReplayCheckUnavailable { .. } => 25,
            Self::InsufficientScope { .. } => 26,
            Self::MissingRole { .. } => 27,
            Self::NotPermitted => 28,
            Self::InactiveToken => 29,
            Self::IntrospectionUnavailable { .. } => 30,
            Self::InvalidApiKey => 31,
            Self::MalformedApiKey => 32,
            Self::KeysUnavailable { .. } => 33,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidClaims {
                source: Some(source),
                ..
            }
            | Self::KeysUnavailable {
                source: Some(source),
                ..
            }
            | Self::ReplayCheckUnavailable {
                source: Some(source),
            }
            | Self::IntrospectionUnavailable {
                source: Some(source),
            } => Some(&**source),
            _ => None,
        }
    }
}

/// A setup mistake: a builder's `build()` or a fallible constructor
/// ([`KeySet::with_pem`](crate::KeySet::with_pem),
/// [`IssuerTemplate::new`](crate::IssuerTemplate::new), …) was given a
/// setting that cannot work. Found before any request is served, never
/// turned into a response: a setup mistake must not reach a client as 503.
///
/// `Display` names the setting (as the method that sets it is named) and
/// says why.
///
/// There is no conversion into [`Error`], on purpose: a handler that
/// returns `Result<_, jwt_gate::Error>` cannot `?` a setup mistake into a
/// client's response.
///
/// ```compile_fail
/// fn handler() -> Result<(), jwt_gate::Error> {
///     let _keys = jwt_gate::KeySet::new().with_secret(None, b"too short")?;
///     Ok(())
/// }
/// ```
///
/// ```
/// use jwt_gate::Validator;
///
/// let err = Validator::builder()
///     .issuer("http://auth.example.com/")
///     .audience("api://orders")
///     .build()
///     .unwrap_err();
/// assert_eq!(err.setting(), "issuer");
/// assert_eq!(
///     err.to_string(),
///     "invalid `issuer`: plain http needs allow_http() (loopback only): http://auth.example.com/",
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ConfigError {
    setting: &'static str,
    reason: Cow<'static, str>,
    source: Option<Cause>,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            setting,
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The setting at fault, named as the method that sets it (`issuer`,
    /// `jwks_uri`, `with_secret`, …).
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// Why the setting cannot work.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.setting, self.reason)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_a_distinct_snake_case_name() {
        let mut seen = std::collections::HashSet::new();
        for kind in KINDS {
            assert!(seen.insert(kind), "{kind} twice");
            assert!(
                kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{kind}"
            );
        }
        assert_eq!(Error::MissingToken.kind(), "missing_token");
        let unavailable = Error::KeysUnavailable {
            source: None,
            retry_after: None,
        };
        assert_eq!(unavailable.kind(), "keys_unavailable");
        assert_eq!(Error::MalformedApiKey.kind(), "malformed_api_key");
        // The variant's Debug name, in snake case.
        for error in [
            Error::InvalidSignature,
            Error::NotCertificateBound,
            Error::UseDpopNonce,
        ] {
            let debug = format!("{error:?}");
            let snake: String = debug
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && c.is_ascii_uppercase()).then_some('_');
                    sep.into_iter()
                        .chain(std::iter::once(c.to_ascii_lowercase()))
                })
                .collect();
            assert_eq!(error.kind(), snake);
        }
    }
}
