//! The tower layer: the bearer token from the request, validation, `Claims<C>`
//! into the request extensions, and rejections as RFC 6750 responses (or
//! gRPC trailers-only responses) — never as errors.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::GrantedScopes;
use crate::{Claims, Error, Scopes, Validator};

/// Builds the body of a rejection response. Status, `WWW-Authenticate` and
/// `Retry-After` are set by the layer whatever the body is.
///
/// Implemented by [`DefaultRejection`] (an empty `B::default()`) and by any
/// `Fn(&Error) -> B`.
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

/// What a challenge carries besides the error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Challenge {
    realm: Option<Arc<str>>,
    resource_metadata: Option<Arc<str>>,
}

/// Inserted into the extensions of every request the layer lets through, so
/// that [`RequireScopes`] works whatever the claims type.
#[derive(Clone)]
pub(crate) struct Authenticated {
    scopes: Option<Arc<dyn GrantedScopes>>,
    challenge: Arc<Challenge>,
}

impl Authenticated {
    /// The layer let the request through without a token (optional mode).
    #[cfg(feature = "axum")]
    pub(crate) fn is_anonymous(&self) -> bool {
        self.scopes.is_none()
    }
}

#[derive(Debug, Clone)]
struct Config {
    validator: Validator,
    optional: bool,
    required: Option<Requirement>,
    challenge: Arc<Challenge>,
}

/// Layer that authenticates requests with [`JwtAuth`].
///
/// ```
/// use jwt_gate::{JwtAuthLayer, KeySet, Validator};
///
/// # fn f() -> Result<(), jwt_gate::Error> {
/// # let keys = KeySet::new().with_secret(None, &[7; 32])?;
/// let validator = Validator::builder().keys(keys).audience("api://orders").build()?;
/// let layer = JwtAuthLayer::<()>::new(validator)
///     .realm("orders")
///     .require_scopes(["orders.read"]);
/// # let _ = layer; Ok(()) }
/// ```
pub struct JwtAuthLayer<C = (), R = DefaultRejection> {
    config: Config,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R: Clone> Clone for JwtAuthLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> fmt::Debug for JwtAuthLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("claims", &std::any::type_name::<C>())
            .field("config", &self.config)
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    /// Authenticates every request with `validator`; a request without a
    /// valid bearer token is rejected.
    pub fn new(validator: Validator) -> Self {
        Self {
            config: Config {
                validator,
                optional: false,
                required: None,
                challenge: Arc::default(),
            },
            rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl<C, R> JwtAuthLayer<C, R> {
    /// Lets requests without a bearer token through, without claims (so a
    /// handler can serve anonymous callers, or check an API key): no
    /// `Authorization` header, or only ones of another scheme (`Basic …`,
    /// `ApiKey …`), which are left untouched for the handler. A bearer
    /// token that is present but invalid is still rejected, and so is a
    /// malformed `Bearer` header or a token in the query string.
    ///
    /// Defaults to requiring a token.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.config.optional = true;
        self
    }

    /// Scopes every token must carry on the routes this layer covers, on
    /// top of the validator's own (HTTP 403 `insufficient_scope`).
    ///
    /// Defaults to none.
    #[must_use]
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.config.required = Some(Requirement::new(scopes, true));
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges.
    ///
    /// Defaults to none.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config.challenge).realm = Some(realm.into().into());
        self
    }

    /// The RFC 9728 protected-resource metadata URL, sent as
    /// `resource_metadata="…"` in 401 challenges.
    ///
    /// Defaults to none.
    #[must_use]
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config.challenge).resource_metadata = Some(url.into().into());
        self
    }

    /// Builds rejection bodies with `body` (status and challenge stay as
    /// the layer sets them), for example a JSON problem document.
    ///
    /// Defaults to an empty body.
    pub fn rejection_body<R2>(self, body: R2) -> JwtAuthLayer<C, R2> {
        JwtAuthLayer {
            config: self.config,
            rejection: body,
            _claims: PhantomData,
        }
    }
}

impl<S, C, R: Clone> Layer<S> for JwtAuthLayer<C, R> {
    type Service = JwtAuth<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            config: Arc::new(self.config.clone()),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

/// Middleware that authenticates requests by their bearer JWT and inserts
/// [`Claims<C>`](Claims) into the request extensions. See [`JwtAuthLayer`].
pub struct JwtAuth<S, C = (), R = DefaultRejection> {
    inner: S,
    config: Arc<Config>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C, R: Clone> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for JwtAuth<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("claims", &std::any::type_name::<C>())
            .field("config", &self.config)
            .finish()
    }
}

impl<S, C> JwtAuth<S, C> {
    /// A [`JwtAuthLayer`] for `validator`.
    pub fn layer(validator: Validator) -> JwtAuthLayer<C> {
        JwtAuthLayer::new(validator)
    }
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the middleware, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
    C: DeserializeOwned + Send + Sync + 'static,
    R: RejectionBody<ResBody> + Clone + Send + Sync + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let verdict = match bearer_token(req.headers(), req.uri()) {
            // Another scheme (Basic, an API key, …) is not ours to judge
            // when the layer is optional: the handler sees no claims.
            Err(_) if config.optional && other_scheme_only(req.headers(), req.uri()) => Ok(None),
            Err(error) => Err(error),
            Ok(None) if config.optional => Ok(None),
            Ok(None) => Err(Error::MissingToken),
            // Warm keys decide at once: no boxed future, no await.
            Ok(Some(token)) => match config.validator.validate_now::<C>(token) {
                Some(result) => result.and_then(|claims| config.check_scopes(claims).map(Some)),
                None => {
                    // The inner service is called later: take the one
                    // poll_ready drove to readiness, leave a clone behind.
                    let clone = self.inner.clone();
                    let inner = std::mem::replace(&mut self.inner, clone);
                    return self.validate_later(req, inner);
                }
            },
        };
        match verdict {
            // Called right away: the service poll_ready made ready.
            Ok(claims) => {
                config.admit(&mut req, claims);
                ResponseFuture::inner(self.inner.call(req))
            }
            Err(error) => ResponseFuture::ready(reject(
                &error,
                &config.challenge,
                req.headers(),
                &self.rejection,
            )),
        }
    }
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// The slow path (keys not loaded yet, or an unknown `kid` that may be
    /// refetched): validation awaits the key store in a boxed future.
    fn validate_later<ReqBody, ResBody>(
        &self,
        req: Request<ReqBody>,
        mut inner: S,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        ReqBody: Send + 'static,
        ResBody: Default + Send + 'static,
        C: DeserializeOwned + Send + Sync + 'static,
        R: RejectionBody<ResBody> + Clone + Send + Sync + 'static,
    {
        let config = Arc::clone(&self.config);
        let rejection = self.rejection.clone();
        // Only the head is borrowed while validating; the body is not touched.
        let (parts, body) = req.into_parts();
        ResponseFuture::boxed(async move {
            let verdict = match bearer_token(&parts.headers, &parts.uri) {
                // `validate_now` has just answered `None`: straight to the
                // waiting part, no second cache lookup or parse.
                Ok(Some(token)) => config
                    .validator
                    .validate_fetching::<C>(token)
                    .await
                    .and_then(|claims| config.check_scopes(claims)),
                Ok(None) => Err(Error::MissingToken),
                Err(error) => Err(error),
            };
            match verdict {
                Ok(claims) => {
                    let mut req = Request::from_parts(parts, body);
                    config.admit(&mut req, Some(claims));
                    inner.call(req).await
                }
                Err(error) => Ok(reject(
                    &error,
                    &config.challenge,
                    &parts.headers,
                    &rejection,
                )),
            }
        })
    }
}

impl Config {
    fn check_scopes<C>(&self, claims: Claims<C>) -> Result<Claims<C>, Error> {
        if let Some(required) = &self.required {
            required.check(claims.scopes())?;
        }
        Ok(claims)
    }

    /// Lets the request in: its claims (if any) and what [`RequireScopes`]
    /// needs go into the extensions.
    fn admit<C: Send + Sync + 'static, B>(&self, req: &mut Request<B>, claims: Option<Claims<C>>) {
        let scopes = claims.as_ref().map(Claims::granted_scopes);
        let extensions = req.extensions_mut();
        if let Some(claims) = claims {
            extensions.insert(claims);
        }
        extensions.insert(Authenticated {
            scopes,
            challenge: Arc::clone(&self.challenge),
        });
    }
}

/// The bearer token of a request (RFC 6750 §2.1): exactly one
/// `Authorization: Bearer <token>` (scheme case-insensitive), no token in
/// the query as well. `None` when there is no `Authorization` header.
pub(crate) fn bearer_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
) -> Result<Option<&'a str>, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let in_query = has_query_token(uri);
    let Some(value) = values.next() else {
        // RFC 6750 §2.3 tokens in the URI are not accepted: say so.
        return if in_query {
            Err(Error::MalformedHeader)
        } else {
            Ok(None)
        };
    };
    if values.next().is_some() || in_query {
        return Err(Error::MalformedHeader);
    }
    // A header value holds no control characters (http checks that); a
    // token with other characters than base64url fails validation as
    // malformed (401), a second word makes the header malformed (400).
    // Byte scans (`contains` on bytes is memchr) keep this cheap: it runs
    // on every request.
    let bytes = value.as_bytes();
    let (scheme, rest) = bytes.split_at_checked(6).ok_or(Error::MalformedHeader)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return Err(Error::MalformedHeader);
    }
    let start = rest
        .iter()
        .position(|&b| b != b' ')
        .ok_or(Error::MalformedHeader)?;
    let token = &rest[start..];
    if token.contains(&b' ') || token.iter().all(|&b| b == b'=') {
        return Err(Error::MalformedHeader);
    }
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| Error::MalformedHeader)
}

/// Whether the request carries `Authorization` headers of schemes other
/// than Bearer only, and no RFC 6750 §2.3 query token.
fn other_scheme_only(headers: &HeaderMap, uri: &Uri) -> bool {
    let mut values = headers.get_all(AUTHORIZATION).iter().peekable();
    values.peek().is_some()
        && !has_query_token(uri)
        && values.all(|v| {
            let scheme = v
                .as_bytes()
                .split(|&b| b == b' ')
                .next()
                .unwrap_or_default();
            !scheme.eq_ignore_ascii_case(b"bearer")
        })
}

fn has_query_token(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")))
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

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: &str = "5";

/// The response rejecting a request (with these headers) with `error`.
fn reject<B: Default>(
    error: &Error,
    challenge: &Challenge,
    request_headers: &HeaderMap,
    rejection: &impl RejectionBody<B>,
) -> Response<B> {
    tracing::debug!(target: "jwt_gate", %error, status = error.status().as_u16(), "request rejected");
    if let Some(content_type) = grpc_reply_type(request_headers) {
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
    let mut res = Response::new(rejection.body(error));
    *res.status_mut() = error.status();
    let resource_metadata = challenge
        .resource_metadata
        .as_deref()
        .filter(|_| error.status() == StatusCode::UNAUTHORIZED);
    if let Some(value) = error.challenge(challenge.realm.as_deref(), resource_metadata) {
        res.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    if error.status() == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    res
}

pin_project_lite::pin_project! {
    /// Response future of [`JwtAuth`] and [`RequireScopesService`]: the
    /// inner service's future, a ready rejection, or (only while keys are
    /// being fetched) a boxed validation.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response<B>> },
        Boxed { future: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    fn boxed(future: impl Future<Output = Result<Response<B>, E>> + Send + 'static) -> Self {
        Self {
            kind: Kind::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Requirement {
    scopes: Scopes,
    all: bool,
    text: Arc<str>,
}

impl Requirement {
    fn new<I, S>(scopes: I, all: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Scopes = scopes.into_iter().collect();
        let text = Arc::from(scopes.to_string());
        Self { scopes, all, text }
    }

    fn check(&self, granted: &Scopes) -> Result<(), Error> {
        // Any of no scope is never satisfied: an empty any-of denies.
        let ok = if self.all {
            granted.contains_all(&self.scopes)
        } else {
            self.scopes.iter().any(|s| granted.contains(s))
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InsufficientScope {
                required: Arc::clone(&self.text),
            })
        }
    }
}

/// A per-route layer requiring scopes that [`JwtAuthLayer`] already
/// validated, whatever the claims type: 403 `insufficient_scope` when they
/// are missing, 401 when the (optional) layer let an anonymous request
/// through.
///
/// ```
/// use jwt_gate::RequireScopes;
/// let write = RequireScopes::all(["orders.read", "orders.write"]);
/// let either = RequireScopes::any(["orders.admin", "support"]);
/// # let _ = (write, either);
/// ```
#[derive(Debug, Clone)]
pub struct RequireScopes {
    requirement: Requirement,
}

impl RequireScopes {
    /// Every one of `scopes` must be granted.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            requirement: Requirement::new(scopes, true),
        }
    }

    /// At least one of `scopes` must be granted.
    ///
    /// With no scope at all (an empty list, or only blanks) no request can
    /// satisfy it: every request is denied with 403, and a warning is
    /// logged here, where the mistake is made.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let requirement = Requirement::new(scopes, false);
        if requirement.scopes.is_empty() {
            tracing::warn!(target: "jwt_gate", "RequireScopes::any with no scope denies every request");
        }
        Self { requirement }
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            requirement: Arc::new(self.requirement.clone()),
        }
    }
}

/// Middleware of [`RequireScopes`].
#[derive(Debug, Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    requirement: Arc<Requirement>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopesService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let verdict = match req.extensions().get::<Authenticated>() {
            None => {
                tracing::error!(target: "jwt_gate", "RequireScopes without JwtAuthLayer in front of it");
                let mut res = Response::new(ResBody::default());
                *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return ResponseFuture::ready(res);
            }
            Some(auth) => match &auth.scopes {
                None => Err((Error::MissingToken, Arc::clone(&auth.challenge))),
                Some(granted) => self
                    .requirement
                    .check(granted.scopes())
                    .map_err(|e| (e, Arc::clone(&auth.challenge))),
            },
        };
        match verdict {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err((error, challenge)) => {
                ResponseFuture::ready(reject(&error, &challenge, req.headers(), &DefaultRejection))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_token_rules() {
        let uri: Uri = "/orders".parse().unwrap();
        let ok = |v: &[&str]| bearer_token(&headers(v), &uri).map(|t| t.map(str::to_owned));
        assert_eq!(
            ok(&["Bearer abc.def.ghi"]).unwrap().as_deref(),
            Some("abc.def.ghi")
        );
        assert_eq!(ok(&["bearer abc"]).unwrap().as_deref(), Some("abc"));
        assert_eq!(ok(&["BEARER  abc=="]).unwrap().as_deref(), Some("abc=="));
        // Not base64url, but one word: left to validation (401 malformed).
        assert_eq!(ok(&["Bearer a,b"]).unwrap().as_deref(), Some("a,b"));
        assert_eq!(ok(&[]).unwrap(), None);
        for bad in [
            &["Basic dXNlcjpwYXNz"][..],
            &["Bearer"],
            &["Bearer "],
            &["Bearer a b"],
            &["Bearertoken"],
            &["Bearer a", "Bearer b"],
            &["Bearer ===="],
        ] {
            assert!(matches!(ok(bad), Err(Error::MalformedHeader)), "{bad:?}");
        }
        for bytes in [&b"Bearer abc\xff"[..], b"B\xe9arer abc", b"Bearer\tabc"] {
            let mut h = HeaderMap::new();
            h.append(AUTHORIZATION, HeaderValue::from_bytes(bytes).unwrap());
            assert!(matches!(
                bearer_token(&h, &uri),
                Err(Error::MalformedHeader)
            ));
        }
        let query: Uri = "/orders?access_token=abc".parse().unwrap();
        assert!(bearer_token(&headers(&["Bearer abc"]), &query).is_err());
        assert!(bearer_token(&headers(&[]), &query).is_err());
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
        assert_eq!(grpc_code(&Error::KeysUnavailable { source: None }), 14);
    }
}
