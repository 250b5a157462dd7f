//! [`Error`] and THE mapping from an error to the wire: RFC 6750 error code,
//! HTTP status and `WWW-Authenticate` challenge.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::{HeaderValue, StatusCode};

use crate::Algorithm;
use crate::time::UnixTime;

/// A boxed cause, shared so that [`Error`] stays cheap to clone.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a request or a token was not accepted.
///
/// One enum for every surface: [`validate`](crate::validate) returns it, and
/// every adapter turns it into a response through the same three methods:
/// [`status`](Error::status), [`bearer_code`](Error::bearer_code) and
/// [`www_authenticate`](Error::www_authenticate).
///
/// `Display` says what failed and never contains the token; where there is an
/// underlying cause (a serde error, a network error) it is in
/// [`source()`](std::error::Error::source). The text sent to clients is the
/// fixed [`description`](Error::description).
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
    /// The `Authorization` header is present but is not a single
    /// `Bearer <token>` (RFC 6750 `invalid_request`).
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
    /// The token lacks a required scope.
    InsufficientScope {
        /// The required scopes, space-separated (sent as RFC 6750 `scope`).
        required: Arc<str>,
    },
    /// No usable signing keys could be obtained: the server's fault, not the
    /// client's (HTTP 503).
    KeysUnavailable {
        /// Why, when known.
        source: Option<Cause>,
    },
}

impl Error {
    /// The HTTP status to answer with.
    ///
    /// 400 for a malformed `Authorization` header, 403 for a missing scope,
    /// 503 when keys are unavailable, 401 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedHeader => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::KeysUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingToken
            | Self::MalformedToken { .. }
            | Self::TooLarge { .. }
            | Self::DisallowedAlgorithm { .. }
            | Self::UnknownKey { .. }
            | Self::InvalidSignature
            | Self::InvalidType
            | Self::Expired { .. }
            | Self::NotYetValid { .. }
            | Self::InvalidIssuer
            | Self::InvalidAudience
            | Self::InvalidClaims { .. }
            | Self::UnverifiedBinding => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 §3.1 `error` code, or `None` where none is sent: a
    /// request without a token (RFC 6750 §3.1) and a server-side failure.
    pub fn bearer_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken | Self::KeysUnavailable { .. } => None,
            Self::MalformedHeader => Some("invalid_request"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::MalformedToken { .. }
            | Self::TooLarge { .. }
            | Self::DisallowedAlgorithm { .. }
            | Self::UnknownKey { .. }
            | Self::InvalidSignature
            | Self::InvalidType
            | Self::Expired { .. }
            | Self::NotYetValid { .. }
            | Self::InvalidIssuer
            | Self::InvalidAudience
            | Self::InvalidClaims { .. }
            | Self::UnverifiedBinding => Some("invalid_token"),
        }
    }

    /// The fixed, client-safe `error_description`. It never contains token
    /// content.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingToken => "No access token was sent",
            Self::MalformedHeader => "The Authorization header is not a single Bearer token",
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
            Self::InvalidClaims { .. } => "The access token claims are invalid",
            Self::UnverifiedBinding => {
                "The access token is bound to a key or certificate and cannot be used as a bearer token"
            }
            Self::InsufficientScope { .. } => {
                "The request requires higher privileges than provided by the access token"
            }
            Self::KeysUnavailable { .. } => "The token signing keys are temporarily unavailable",
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3), or `None` where no
    /// challenge is sent (503 keys unavailable).
    ///
    /// Parameters are comma-separated in this order: `realm`, `error`,
    /// `error_description`, `scope`. `realm` is quoted and escaped; a realm
    /// that cannot appear in a header (control characters) is left out.
    ///
    /// ```
    /// use jwt_gate::Error;
    /// assert_eq!(
    ///     Error::MissingToken.www_authenticate(Some("example")).unwrap(),
    ///     r#"Bearer realm="example""#,
    /// );
    /// ```
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<HeaderValue> {
        self.challenge(realm, None)
    }

    /// The challenge with an optional RFC 9728 `resource_metadata` URL.
    pub(crate) fn challenge(
        &self,
        realm: Option<&str>,
        resource_metadata: Option<&str>,
    ) -> Option<HeaderValue> {
        if matches!(self, Self::KeysUnavailable { .. }) {
            return None;
        }
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(5);
        if let Some(realm) = realm {
            params.push(("realm", realm));
        }
        if let Some(code) = self.bearer_code() {
            params.push(("error", code));
            params.push(("error_description", self.description()));
        }
        if let Self::InsufficientScope { required } = self
            && !required.is_empty()
        {
            params.push(("scope", required));
        }
        if let Some(url) = resource_metadata {
            params.push(("resource_metadata", url));
        }
        let mut value = String::from("Bearer");
        for (i, (name, val)) in params.iter().enumerate() {
            value.push_str(if i == 0 { " " } else { ", " });
            value.push_str(name);
            value.push_str("=\"");
            for c in val.chars() {
                if c == '"' || c == '\\' {
                    value.push('\\');
                }
                value.push(c);
            }
            value.push('"');
        }
        HeaderValue::from_str(&value)
            .ok()
            .or_else(|| HeaderValue::from_str("Bearer").ok())
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
            Self::InsufficientScope { required } => {
                let mut s = String::new();
                let _ = write!(s, "token lacks a required scope (required: {required})");
                f.write_str(&s)
            }
            Self::KeysUnavailable { .. } => f.write_str("signing keys unavailable"),
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
            } => Some(&**source),
            _ => None,
        }
    }
}

/// A fixed reason, as the `source()` of an error.
#[derive(Debug)]
pub(crate) struct Reason(pub(crate) &'static str);

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Reason {}

/// [`Error::KeysUnavailable`] with a fixed reason.
pub(crate) fn reason_unavailable(reason: &'static str) -> Error {
    Error::KeysUnavailable {
        source: Some(Arc::new(Reason(reason))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Error> {
        vec![
            Error::MissingToken,
            Error::MalformedHeader,
            Error::malformed("x"),
            Error::TooLarge { size: 2, limit: 1 },
            Error::DisallowedAlgorithm { alg: None },
            Error::unknown_key(Some("k")),
            Error::InvalidSignature,
            Error::InvalidType,
            Error::Expired {
                exp: UnixTime::from_secs(1),
                now: UnixTime::from_secs(2),
            },
            Error::NotYetValid {
                nbf: UnixTime::from_secs(2),
                now: UnixTime::from_secs(1),
            },
            Error::InvalidIssuer,
            Error::InvalidAudience,
            Error::claim("exp"),
            Error::UnverifiedBinding,
            Error::InsufficientScope {
                required: "a b".into(),
            },
            Error::KeysUnavailable { source: None },
        ]
    }

    // RFC 6750 §3, first example (no error code when the request had no token).
    #[test]
    fn missing_token_challenge_matches_rfc6750_example_byte_for_byte() {
        let v = Error::MissingToken
            .www_authenticate(Some("example"))
            .unwrap();
        assert_eq!(v.as_bytes(), br#"Bearer realm="example""#);
    }

    // RFC 6750 §3, second example, unfolded onto one line (RFC 7230 §3.2.4
    // deprecates line folding; the parameters and their order are the RFC's).
    #[test]
    fn expired_challenge_matches_rfc6750_example_byte_for_byte() {
        let err = Error::Expired {
            exp: UnixTime::from_secs(1),
            now: UnixTime::from_secs(2),
        };
        let v = err.www_authenticate(Some("example")).unwrap();
        assert_eq!(
            v.as_bytes(),
            br#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#
        );
    }

    #[test]
    fn insufficient_scope_challenge_carries_scope_and_403() {
        let err = Error::InsufficientScope {
            required: "orders.read orders.write".into(),
        };
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            err.www_authenticate(None).unwrap(),
            r#"Bearer error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token", scope="orders.read orders.write""#
        );
    }

    #[test]
    fn malformed_header_is_400_invalid_request() {
        let err = Error::MalformedHeader;
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            err.www_authenticate(None).unwrap(),
            r#"Bearer error="invalid_request", error_description="The Authorization header is not a single Bearer token""#
        );
    }

    #[test]
    fn keys_unavailable_is_503_without_challenge() {
        let err = Error::KeysUnavailable { source: None };
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.bearer_code(), None);
        assert!(err.www_authenticate(Some("x")).is_none());
    }

    #[test]
    fn realm_is_escaped_and_control_characters_fall_back() {
        let v = Error::MissingToken
            .www_authenticate(Some(r#"a"b\c"#))
            .unwrap();
        assert_eq!(v, r#"Bearer realm="a\"b\\c""#);
        let v = Error::MissingToken.www_authenticate(Some("a\nb")).unwrap();
        assert_eq!(v, "Bearer");
    }

    #[test]
    fn resource_metadata_is_appended_last() {
        let v = Error::InvalidSignature
            .challenge(
                Some("api"),
                Some("https://api.example.com/.well-known/oauth-protected-resource"),
            )
            .unwrap();
        assert!(v.to_str().unwrap().ends_with(
            r#", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#
        ));
    }

    #[test]
    fn every_invalid_token_variant_is_401_with_invalid_token() {
        for err in all() {
            let code = err.bearer_code();
            match err.status() {
                StatusCode::UNAUTHORIZED => {
                    assert!(
                        code == Some("invalid_token") || matches!(err, Error::MissingToken),
                        "{err:?}"
                    )
                }
                StatusCode::BAD_REQUEST => assert_eq!(code, Some("invalid_request")),
                StatusCode::FORBIDDEN => assert_eq!(code, Some("insufficient_scope")),
                StatusCode::SERVICE_UNAVAILABLE => assert_eq!(code, None),
                other => panic!("unexpected status {other}"),
            }
            // Display is lowercase and has no trailing period.
            let text = err.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert!(text.chars().next().unwrap().is_lowercase(), "{text}");
        }
    }
}
