//! THE rejection: from an [`Error`] to the wire. Per variant the RFC 6750
//! code, the HTTP status and the `WWW-Authenticate` challenge; for a gRPC
//! request the trailers-only `grpc-status`; `Retry-After` on 503. The layer,
//! the per-route guards, the axum and the tonic adapters all answer through
//! this module.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::jose::claims::Scopes;
use crate::jose::dpop::DpopNonces;
use crate::jose::error::Error;
use crate::jose::time::UnixTime;

/// Builds the body of a rejection response. Status, `WWW-Authenticate` and
/// `Retry-After` are set by the layer whatever the body is.
///
/// Implemented by [`DefaultRejection`] (an empty `B::default()`) and by any
/// `Fn(&Error) -> B`. The body given to
/// [`JwtAuthLayer::rejection_body`](crate::JwtAuthLayer::rejection_body) also
/// builds the 401/403 of the [`RequireScopes`](crate::RequireScopes) behind
/// it (when their response body types are the same).
pub trait RejectionBody<B> {
    /// The body for a response rejecting the request with `error`.
    fn body(&self, error: &Error) -> B;
}

/// The default rejection body: `B::default()` (empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRejection;

impl<B: Default> RejectionBody<B> for DefaultRejection {
    fn body(&self, _: &Error) -> B {
        B::default()
    }
}

impl<B, F: Fn(&Error) -> B> RejectionBody<B> for F {
    fn body(&self, error: &Error) -> B {
        self(error)
    }
}

/// A layer's rejection body with its response body type erased, so that a
/// guard behind the layer (which does not know the layer's `R`) can build
/// the same bodies: an `Arc<dyn RejectionBody<B> + Send + Sync>`, made once
/// per service.
pub(crate) type ErasedBody = Box<dyn Any + Send + Sync>;

pub(crate) fn erase<B: 'static, R>(rejection: &R) -> ErasedBody
where
    R: RejectionBody<B> + Clone + Send + Sync + 'static,
{
    let body: Arc<dyn RejectionBody<B> + Send + Sync> = Arc::new(rejection.clone());
    Box::new(body)
}

/// The body `erased` (see [`erase`]) builds for `error`, or `B::default()`
/// when there is none for this body type.
pub(crate) fn erased_body<B: Default + 'static>(erased: Option<&ErasedBody>, error: &Error) -> B {
    erased
        .and_then(|e| e.downcast_ref::<Arc<dyn RejectionBody<B> + Send + Sync>>())
        .map_or_else(B::default, |r| r.body(error))
}

/// What a challenge carries besides the error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Challenge {
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) resource_metadata: Option<Arc<str>>,
    /// The scopes a request without a token is told it needs (the MCP
    /// authorization spec's hint): the validator's and the layer's.
    pub(crate) scope: Option<Arc<str>>,
    /// The `DPoP` challenge, when the validator accepts DPoP.
    pub(crate) dpop: Option<Arc<DpopChallenge>>,
    /// The header API keys arrive in, when the validator accepts them: a
    /// request without credentials is told of the `ApiKey` scheme too.
    pub(crate) api_key: Option<Arc<str>>,
}

/// What the `DPoP` challenge (RFC 9449 §7.1) says, and whether the `Bearer`
/// one is sent beside it.
#[derive(Debug)]
pub(crate) struct DpopChallenge {
    /// `algs`: the proof algorithms accepted, space-separated.
    pub(crate) algs: Box<str>,
    /// Bearer tokens are accepted too (DPoP allowed, not required).
    pub(crate) bearer: bool,
    /// Server nonces, when proofs must carry one: a 401 of the `DPoP`
    /// scheme carries a fresh `DPoP-Nonce`.
    pub(crate) nonces: Option<DpopNonces>,
}

impl Challenge {
    /// This challenge, naming `route`'s scopes too for a request without a
    /// token (a guard's all-of scopes behind an optional layer).
    pub(crate) fn needing(&self, route: &Scopes) -> Self {
        let layer = self.scope.as_deref().unwrap_or_default().split(' ');
        let needed: Scopes = layer
            .chain(route.iter())
            .filter(|s| !s.is_empty())
            .collect();
        Self {
            scope: Some(Arc::from(needed.to_string())),
            ..self.clone()
        }
    }
}

/// The header of RFC 9449 §8 that hands a client a server nonce.
pub(crate) const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// How long a client should wait before retrying after a 503 when nothing
/// better is known: the one place this number is written.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Error {
    /// How long the client should wait before retrying, for the errors
    /// answered with 503 (`None` for the others): for
    /// [`KeysUnavailable`](Error::KeysUnavailable) what the key store says
    /// (the rest of its backoff after a failed fetch, one second while a
    /// fetch is still running), otherwise 5 s. Sent as `Retry-After`, in
    /// whole seconds rounded up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use jwt_gate::Error;
    ///
    /// let err = Error::KeysUnavailable { source: None, retry_after: Some(Duration::from_millis(2500)) };
    /// assert_eq!(err.retry_after(), Some(Duration::from_millis(2500)));
    /// assert_eq!(Error::InvalidSignature.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::KeysUnavailable { retry_after, .. } => {
                Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
            }
            _ if self.status() == StatusCode::SERVICE_UNAVAILABLE => Some(DEFAULT_RETRY_AFTER),
            _ => None,
        }
    }

    /// The HTTP status to answer with.
    ///
    /// 400 for a malformed `Authorization` header, 403 for a missing scope,
    /// 503 when keys are unavailable, 401 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedHeader | Self::MalformedApiKey => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } | Self::MissingRole { .. } | Self::NotPermitted => {
                StatusCode::FORBIDDEN
            }
            Self::KeysUnavailable { .. }
            | Self::ReplayCheckUnavailable { .. }
            | Self::IntrospectionUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingToken
            | Self::InactiveToken
            | Self::InvalidApiKey
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
            | Self::InvalidClient
            | Self::TooOld { .. }
            | Self::ClaimMismatch { .. }
            | Self::ClaimCheck { .. }
            | Self::Revoked
            | Self::InvalidClaims { .. }
            | Self::UnverifiedBinding
            | Self::InvalidDpopProof { .. }
            | Self::UseDpopNonce
            | Self::NotDpopBound
            | Self::DpopRequired
            | Self::CertificateMismatch { .. }
            | Self::NotCertificateBound => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 §3.1 (or RFC 9449 §7.1) `error` code, or `None` where
    /// none is sent: a request without a token (RFC 6750 §3.1) and a
    /// server-side failure.
    pub fn bearer_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken
            | Self::KeysUnavailable { .. }
            | Self::ReplayCheckUnavailable { .. }
            | Self::IntrospectionUnavailable { .. } => None,
            // Not a bearer token: the code goes on the `ApiKey` challenge.
            Self::InvalidApiKey => Some("invalid_key"),
            Self::InvalidDpopProof { .. } => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
            Self::MalformedHeader | Self::MalformedApiKey => Some("invalid_request"),
            Self::InsufficientScope { .. } | Self::MissingRole { .. } | Self::NotPermitted => {
                Some("insufficient_scope")
            }
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
            | Self::InvalidClient
            | Self::TooOld { .. }
            | Self::ClaimMismatch { .. }
            | Self::ClaimCheck { .. }
            | Self::Revoked
            | Self::InvalidClaims { .. }
            | Self::UnverifiedBinding
            | Self::NotDpopBound
            | Self::DpopRequired
            | Self::CertificateMismatch { .. }
            | Self::NotCertificateBound
            | Self::InactiveToken => Some("invalid_token"),
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
        self.challenge(realm, None, None)
    }

    /// The `ApiKey` challenge (this crate's, documented in the README):
    /// `ApiKey header="X-API-KEY"`, with `error="invalid_key"` for a key
    /// that is not accepted.
    fn api_key_challenge(&self, realm: Option<&str>, header: &str) -> Option<HeaderValue> {
        let mut value = String::from("ApiKey");
        let mut params = Vec::with_capacity(4);
        if let Some(realm) = realm {
            params.push(("realm", realm));
        }
        params.push(("header", header));
        if let Some(code) = self.bearer_code().filter(|_| self.is_api_key()) {
            params.push(("error", code));
            params.push(("error_description", self.description()));
        }
        push_params(&mut value, &params);
        HeaderValue::from_str(&value).ok()
    }

    /// Whether the error is about the API key: it goes on the `ApiKey`
    /// challenge alone.
    fn is_api_key(&self) -> bool {
        matches!(self, Self::InvalidApiKey | Self::MalformedApiKey)
    }

    /// Whether the error is about DPoP itself: it goes on the `DPoP`
    /// challenge whatever scheme the request used.
    fn is_dpop(&self) -> bool {
        matches!(
            self,
            Self::InvalidDpopProof { .. }
                | Self::UseDpopNonce
                | Self::NotDpopBound
                | Self::DpopRequired
        )
    }

    /// The `Bearer` challenge with an optional RFC 9728 `resource_metadata`
    /// URL, and for a request without a token, the scopes it needs.
    fn challenge(
        &self,
        realm: Option<&str>,
        needed_scope: Option<&str>,
        resource_metadata: Option<&str>,
    ) -> Option<HeaderValue> {
        self.scheme_challenge("Bearer", true, realm, needed_scope, resource_metadata, None)
    }

    /// A challenge of `scheme`: with this error's code when `with_error`,
    /// and `algs` last (the `DPoP` scheme, RFC 9449 §7.1).
    fn scheme_challenge(
        &self,
        scheme: &str,
        with_error: bool,
        realm: Option<&str>,
        needed_scope: Option<&str>,
        resource_metadata: Option<&str>,
        algs: Option<&str>,
    ) -> Option<HeaderValue> {
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(6);
        if let Some(realm) = realm {
            params.push(("realm", realm));
        }
        let code = self.bearer_code().filter(|_| with_error);
        if let Some(code) = code {
            params.push(("error", code));
            params.push(("error_description", self.description()));
        }
        if let Self::InsufficientScope { required } = self
            && !required.is_empty()
            && code.is_some()
        {
            params.push(("scope", required));
        }
        if let (Self::MissingToken, Some(scope)) = (self, needed_scope)
            && !scope.is_empty()
        {
            params.push(("scope", scope));
        }
        if let Some(url) = resource_metadata {
            params.push(("resource_metadata", url));
        }
        if let Some(algs) = algs {
            params.push(("algs", algs));
        }
        let mut value = String::from(scheme);
        push_params(&mut value, &params);
        HeaderValue::from_str(&value)
            .ok()
            .or_else(|| HeaderValue::from_str(scheme).ok())
    }
}

/// ` name="value", …` after a scheme, values quoted and escaped.
fn push_params(value: &mut String, params: &[(&str, &str)]) {
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
}

/// Whether the request's `Authorization` scheme is `DPoP`.
fn used_dpop(headers: Option<&HeaderMap>) -> bool {
    headers
        .and_then(|h| h.get(http::header::AUTHORIZATION))
        .and_then(|v| v.as_bytes().get(..5))
        .is_some_and(|s| s.eq_ignore_ascii_case(b"dpop "))
}

/// The response rejecting a request with `error`: the one place a
/// rejection is built. `request_headers` (when known) decides whether it is
/// a gRPC request, answered trailers-only with `grpc-status`; otherwise
/// `body` is the body, with status, challenge and `Retry-After` set here.
pub(crate) fn response<B: Default>(
    error: &Error,
    challenge: &Challenge,
    request_headers: Option<&HeaderMap>,
    body: impl FnOnce() -> B,
) -> Response<B> {
    tracing::debug!(target: "jwt_gate", %error, status = error.status().as_u16(), "request rejected");
    if let Some(content_type) = request_headers.and_then(grpc_reply_type) {
        let mut res = Response::new(B::default());
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert("grpc-status", HeaderValue::from(grpc_code(error)));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static(error.description()),
        );
        return res;
    }
    let mut res = Response::new(body());
    *res.status_mut() = error.status();
    // RFC 9728 §5.1 on 401; the MCP authorization spec also on 403.
    let resource_metadata = challenge.resource_metadata.as_deref().filter(|_| {
        matches!(
            error.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        )
    });
    let realm = challenge.realm.as_deref();
    let scope = challenge.scope.as_deref();
    let api_key = challenge
        .api_key
        .as_deref()
        .filter(|_| matches!(error, Error::MissingToken) || error.is_api_key())
        .and_then(|header| error.api_key_challenge(realm, header));
    if error.is_api_key() {
        // About the key alone: no token challenge beside it.
        if let Some(value) = api_key {
            res.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        return res;
    }
    match challenge.dpop.as_deref() {
        None => {
            // Without the validator's DPoP settings (axum's `IntoResponse`),
            // a DPoP error still goes on a `DPoP` challenge.
            let scheme = if error.is_dpop() { "DPoP" } else { "Bearer" };
            if let Some(value) =
                error.scheme_challenge(scheme, true, realm, scope, resource_metadata, None)
            {
                res.headers_mut().append(WWW_AUTHENTICATE, value);
            }
        }
        Some(dpop) => {
            // The error goes on the challenge of the scheme it is about
            // (RFC 9449 §7.2); a DPoP error is answered with the `DPoP`
            // challenge alone, as clients that retry on `use_dpop_nonce`
            // expect.
            let on_dpop = error.is_dpop() || used_dpop(request_headers);
            let headers = res.headers_mut();
            if dpop.bearer
                && !on_dpop
                && let Some(value) = error.challenge(realm, scope, resource_metadata)
            {
                headers.append(WWW_AUTHENTICATE, value);
            }
            let with_error = on_dpop || !dpop.bearer;
            if let Some(value) = error.scheme_challenge(
                "DPoP",
                with_error,
                realm,
                scope,
                resource_metadata,
                Some(&dpop.algs),
            ) {
                headers.append(WWW_AUTHENTICATE, value);
            }
            if let Some(nonces) = &dpop.nonces
                && error.status() == StatusCode::UNAUTHORIZED
                && (on_dpop || !dpop.bearer)
                && let Ok(nonce) = HeaderValue::from_str(&nonces.issue(UnixTime::now()))
            {
                headers.insert(DPOP_NONCE, nonce);
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
        }
    }
    if let Some(value) = api_key {
        res.headers_mut().append(WWW_AUTHENTICATE, value);
    }
    if let Some(wait) = error.retry_after() {
        res.headers_mut()
            .insert(RETRY_AFTER, retry_after_secs(wait));
    }
    res
}

/// `Retry-After` in whole seconds, rounded up, at least 1 (0 would invite
/// an immediate retry storm).
fn retry_after_secs(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

/// For a gRPC request (`content-type: application/grpc`, `application/grpc+…`
/// or gRPC-Web, compared case-insensitively): the content type of its
/// trailers-only rejection. gRPC-Web clients get their own content type
/// back, gRPC clients `application/grpc`.
fn grpc_reply_type(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(CONTENT_TYPE)?;
    let bytes = value.as_bytes();
    let (prefix, rest) = bytes.split_at_checked(16)?;
    if !prefix.eq_ignore_ascii_case(b"application/grpc") {
        return None;
    }
    let ends = |rest: &[u8]| matches!(rest.first(), None | Some(b'+' | b';' | b' '));
    if ends(rest) {
        return Some(HeaderValue::from_static("application/grpc"));
    }
    let web = rest.get(..4)?.eq_ignore_ascii_case(b"-web");
    let after = &rest[4..];
    let text = after
        .get(..5)
        .is_some_and(|t| t.eq_ignore_ascii_case(b"-text"));
    (web && (ends(after) || (text && ends(&after[5..])))).then(|| value.clone())
}

/// The gRPC status code for an error: 16 unauthenticated, 7 permission
/// denied, 14 unavailable.
pub(crate) fn grpc_code(error: &Error) -> u16 {
    match error.status() {
        StatusCode::FORBIDDEN => 7,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        _ => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::time::UnixTime;

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
            Error::InvalidClient,
            Error::TooOld {
                iat: UnixTime::from_secs(1),
                now: UnixTime::from_secs(9),
            },
            Error::ClaimMismatch {
                claim: "token_use".into(),
            },
            Error::ClaimCheck { reason: "tenant" },
            Error::Revoked,
            Error::claim("exp"),
            Error::UnverifiedBinding,
            Error::InvalidDpopProof { reason: "x" },
            Error::UseDpopNonce,
            Error::NotDpopBound,
            Error::DpopRequired,
            Error::CertificateMismatch { reason: "x" },
            Error::NotCertificateBound,
            Error::ReplayCheckUnavailable { source: None },
            Error::InsufficientScope {
                required: "a b".into(),
            },
            Error::MissingRole {
                required: "admin".into(),
            },
            Error::NotPermitted,
            Error::KeysUnavailable {
                source: None,
                retry_after: None,
            },
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
            r#"Bearer error="invalid_request", error_description="The request must carry exactly one Bearer token, in the Authorization header""#
        );
    }

    #[test]
    fn keys_unavailable_is_503_without_challenge() {
        let err = Error::KeysUnavailable {
            source: None,
            retry_after: None,
        };
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
                Some("orders.read"),
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
                    let expected = match err {
                        Error::MissingToken => None,
                        Error::InvalidDpopProof { .. } => Some("invalid_dpop_proof"),
                        Error::UseDpopNonce => Some("use_dpop_nonce"),
                        _ => Some("invalid_token"),
                    };
                    assert_eq!(code, expected, "{err:?}");
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

    #[test]
    fn grpc_codes() {
        assert_eq!(grpc_code(&Error::MissingToken), 16);
        assert_eq!(grpc_code(&Error::MalformedHeader), 16);
        assert_eq!(
            grpc_code(&Error::InsufficientScope {
                required: "a".into()
            }),
            7
        );
        assert_eq!(
            grpc_code(&Error::KeysUnavailable {
                source: None,
                retry_after: None,
            }),
            14
        );
    }

    #[test]
    fn dpop_errors_go_on_a_dpop_challenge_even_without_dpop_settings() {
        let res = response(
            &Error::InvalidDpopProof { reason: "x" },
            &Challenge::default(),
            None,
            || (),
        );
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid""#
        );
        let res = response(
            &Error::ReplayCheckUnavailable { source: None },
            &Challenge::default(),
            None,
            || (),
        );
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(res.headers()[RETRY_AFTER], "5");
    }

    #[test]
    fn keys_unavailable_response_carries_retry_after_and_no_challenge() {
        let res = response(
            &Error::KeysUnavailable {
                source: None,
                retry_after: None,
            },
            &Challenge::default(),
            None,
            || (),
        );
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[RETRY_AFTER], "5");
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn retry_after_is_the_key_stores_wait_rounded_up() {
        for (wait, header) in [
            (Duration::from_millis(2500), "3"),
            (Duration::from_secs(40), "40"),
            (Duration::from_millis(1), "1"),
            (Duration::ZERO, "1"),
        ] {
            let err = Error::KeysUnavailable {
                source: None,
                retry_after: Some(wait),
            };
            let res = response(&err, &Challenge::default(), None, || ());
            assert_eq!(res.headers()[RETRY_AFTER], header, "{wait:?}");
        }
        assert!(
            response(&Error::InvalidSignature, &Challenge::default(), None, || ())
                .headers()
                .get(RETRY_AFTER)
                .is_none()
        );
    }
}
