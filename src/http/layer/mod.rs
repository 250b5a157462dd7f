//! The tower middleware: [`JwtAuthLayer`] / [`JwtAuth`] authenticate every
//! request and insert [`Claims<C>`](crate::Claims) into its extensions;
//! [`RequireScopes`] guards single routes behind it. Rejections are
//! responses (RFC 6750, or gRPC trailers-only), never errors, so one layer
//! serves hyper, axum and tonic.
//!
//! The crate root re-exports the names you write; the service and future
//! types live here, as tower-http scopes `timeout::ResponseFuture`.

mod future;
mod require_scopes;

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::require_scopes::{
    GuardService, RequireClaims, RequireRoles, RequireScopes, RequireScopesService,
};
pub use crate::http::rejection::{DefaultRejection, RejectionBody};

use self::require_scopes::Requirement;
use crate::http::authenticate::{AuthScheme, Head, Pending, Verified};
use crate::http::extract::other_scheme_only;
use crate::http::rejection::{self, Challenge, ErasedBody};
use crate::jose::claims::{Claims, Granted, Scopes};
use crate::jose::error::Error;
use crate::telemetry;
use crate::validator::Validator;

/// Inserted into the extensions of every request the layer lets through, so
/// that [`RequireScopes`] works whatever the claims type, and answers with
/// the layer's challenge and rejection body.
#[derive(Clone)]
pub(crate) struct Authenticated {
    claims: Option<Arc<dyn Granted>>,
    shared: Arc<Shared>,
    /// How the caller authenticated (`None`: let through without a token).
    pub(crate) scheme: Option<AuthScheme>,
}

impl Authenticated {
    /// The layer let the request through without a token (optional mode).
    #[cfg(feature = "axum")]
    pub(crate) fn is_anonymous(&self) -> bool {
        self.claims.is_none()
    }
}

/// A layer's settings.
#[derive(Debug, Clone)]
struct Settings {
    validator: Validator,
    optional: bool,
    required: Option<Requirement>,
    challenge: Challenge,
}

/// What a layer and every service it makes share, behind one `Arc` (so
/// `layer()`, which axum may call per request, allocates nothing): the
/// settings, and the rejection body with its response body type erased for
/// [`RequireScopes`], made on the first request.
struct Shared {
    settings: Settings,
    erased_body: OnceLock<ErasedBody>,
}

/// A copy with new settings to come: the erased body is made again.
impl Clone for Shared {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
            erased_body: OnceLock::new(),
        }
    }
}

impl Shared {
    fn new(settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            erased_body: OnceLock::new(),
        })
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

/// Layer that authenticates requests with [`JwtAuth`].
///
/// `JwtAuthLayer::new(validator)` inserts [`Claims`] (registered claims
/// only); [`claims::<C>()`](Self::claims) picks your claims type.
///
/// ```
/// use jwt_gate::{JwtAuthLayer, KeySet, Validator};
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(rename = "tenantId")]
///     tenant_id: String,
/// }
///
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// # let keys = KeySet::new().with_secret(None, &[7; 32])?;
/// let validator = Validator::builder().keys(keys).audience("api://orders").build()?;
/// let layer = JwtAuthLayer::new(validator.clone())
///     .realm("orders")
///     .require_scopes(["orders.read"]);
/// let typed = JwtAuthLayer::new(validator).claims::<MyClaims>();
/// # let _ = (layer, typed); Ok(()) }
/// ```
pub struct JwtAuthLayer<C = (), R = DefaultRejection> {
    shared: Arc<Shared>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R: Clone> Clone for JwtAuthLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R> fmt::Debug for JwtAuthLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("claims", &std::any::type_name::<C>())
            .field("settings", &self.shared.settings)
            .finish()
    }
}

impl JwtAuthLayer {
    /// Authenticates every request with `validator`; a request without a
    /// valid bearer token is rejected. Handlers get [`Claims`] (registered
    /// claims); [`claims`](Self::claims) picks another claims type.
    pub fn new(validator: Validator) -> Self {
        let challenge = Challenge {
            dpop: validator.dpop_challenge(),
            api_key: validator.api_keys().map(|k| Arc::clone(&k.display)),
            ..Challenge::default()
        };
        let mut settings = Settings {
            validator,
            optional: false,
            required: None,
            challenge,
        };
        settings.name_needed_scopes();
        Self {
            shared: Shared::new(settings),
            rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl<C, R> JwtAuthLayer<C, R> {
    /// Deserializes each token's payload into `C2` as well, and inserts
    /// `Claims<C2>` instead. A payload that does not deserialize is
    /// rejected (401 `invalid_token`).
    ///
    /// Defaults to `()`: registered claims only.
    pub fn claims<C2>(self) -> JwtAuthLayer<C2, R> {
        JwtAuthLayer {
            shared: self.shared,
            rejection: self.rejection,
            _claims: PhantomData,
        }
    }

    /// The settings, to change (copied first if a service shares them).
    fn settings_mut(&mut self) -> &mut Settings {
        &mut Arc::make_mut(&mut self.shared).settings
    }

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
        self.settings_mut().optional = true;
        self
    }

    /// Scopes every token must carry on the routes this layer covers, on
    /// top of the validator's own (HTTP 403 `insufficient_scope`). Calls
    /// add up, like [`Validation::require_scopes`](crate::Validation::require_scopes).
    ///
    /// Defaults to none.
    #[must_use]
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let added = Requirement::all(scopes);
        let settings = self.settings_mut();
        settings.required = Some(match settings.required.take() {
            Some(earlier) => earlier.and(&added),
            None => added,
        });
        settings.name_needed_scopes();
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges.
    ///
    /// Defaults to none.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.settings_mut().challenge.realm = Some(realm.into().into());
        self
    }

    /// The RFC 9728 protected-resource metadata URL, sent as
    /// `resource_metadata="…"` in 401 challenges (RFC 9728 §5.1) and in
    /// 403 `insufficient_scope` ones (as the MCP authorization spec asks),
    /// here and in the guards behind the layer.
    ///
    /// Defaults to none.
    #[must_use]
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.settings_mut().challenge.resource_metadata = Some(url.into().into());
        self
    }

    /// Builds rejection bodies with `body` (status and challenge stay as
    /// the layer sets them), for example a JSON problem document. The
    /// [`RequireScopes`] guards behind this layer use it too.
    ///
    /// Defaults to an empty body.
    pub fn rejection_body<R2>(self, body: R2) -> JwtAuthLayer<C, R2> {
        JwtAuthLayer {
            // A new body: its erased form is made again.
            shared: Shared::new(self.shared.settings.clone()),
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
            shared: Arc::clone(&self.shared),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

/// Middleware that authenticates requests by their bearer JWT and inserts
/// [`Claims<C>`](Claims) into the request extensions. See [`JwtAuthLayer`].
pub struct JwtAuth<S, C = (), R = DefaultRejection> {
    inner: S,
    shared: Arc<Shared>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C, R: Clone> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
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
            .field("settings", &self.shared.settings)
            .finish()
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
        let settings = &self.shared.settings;
        let validator = &settings.validator;
        let mode = validator.dpop_mode();
        let verdict = match validator.credential(Head::of(&req)) {
            // Another scheme (Basic, an API key, …) is not ours to judge
            // when the layer is optional: the handler sees no claims.
            Err(_) if settings.optional && other_scheme_only(req.headers(), req.uri(), mode) => {
                Ok(None)
            }
            Err(error) => Err(error),
            Ok(None) if settings.optional => Ok(None),
            Ok(None) => Err(Error::MissingToken),
            // Warm keys (and an in-process replay store) decide at once:
            // no boxed future, no await.
            Ok(Some(found)) => {
                match validator.authenticate_now::<C>(Head::of(&req), found) {
                    Pending::Done(result) => result
                        .and_then(|verified| verified.map_claims(|c| settings.check_scopes(c)))
                        .map(Some),
                    pending => {
                        // The inner service is called later: take the one
                        // poll_ready drove to readiness, leave a clone behind.
                        let clone = self.inner.clone();
                        let inner = std::mem::replace(&mut self.inner, clone);
                        return self.validate_later(req, inner, pending);
                    }
                }
            }
        };
        match &verdict {
            Ok(None) => {}
            Ok(Some(_)) => telemetry::judged_as(None),
            Err(e) => telemetry::judged_as(Some(e)),
        }
        match verdict {
            // Called right away: the service poll_ready made ready.
            Ok(verified) => {
                let nonce = self.admit::<ResBody>(&mut req, verified);
                ResponseFuture::inner_with_nonce(self.inner.call(req), nonce)
            }
            Err(error) => ResponseFuture::ready(rejection::response(
                &error,
                &settings.challenge,
                Some(req.headers()),
                || self.rejection.body(&error),
            )),
        }
    }
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// The slow path (keys not loaded yet, an unknown `kid` that may be
    /// refetched, or a replay store that answers over the network): the
    /// rest awaits in a boxed future.
    fn validate_later<ReqBody, ResBody>(
        &self,
        req: Request<ReqBody>,
        mut inner: S,
        pending: Pending<C>,
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
        let this = JwtAuth::<(), C, R> {
            inner: (),
            shared: Arc::clone(&self.shared),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        };
        // Only the head is borrowed while validating; the body is not touched.
        let (parts, body) = req.into_parts();
        ResponseFuture::boxed(async move {
            let settings = &this.shared.settings;
            let validator = &settings.validator;
            let pending = match pending {
                // `authenticate_now` has just answered: straight to the
                // waiting part, no second cache lookup or parse.
                Pending::Fetch => {
                    validator
                        .authenticate_fetching(Head::of_parts(&parts))
                        .await
                }
                pending => Ok(pending),
            };
            let verdict = match pending {
                Ok(pending) => validator
                    .finish(pending)
                    .await
                    .and_then(|verified| verified.map_claims(|c| settings.check_scopes(c))),
                Err(error) => Err(error),
            };
            telemetry::judged(&verdict);
            match verdict {
                Ok(verified) => {
                    let mut req = Request::from_parts(parts, body);
                    let nonce = this.admit::<ResBody>(&mut req, Some(verified));
                    ResponseFuture::inner_with_nonce(inner.call(req), nonce).await
                }
                Err(error) => Ok(rejection::response(
                    &error,
                    &settings.challenge,
                    Some(&parts.headers),
                    || this.rejection.body(&error),
                )),
            }
        })
    }

    /// Lets the request in: its claims (if any) and what [`RequireScopes`]
    /// needs go into the extensions.
    /// Returns the `DPoP-Nonce` for the response, if any.
    fn admit<ResBody: 'static>(
        &self,
        req: &mut Request<impl Sized>,
        verified: Option<Verified<C>>,
    ) -> Option<http::HeaderValue>
    where
        C: Send + Sync + 'static,
        R: RejectionBody<ResBody> + Clone + Send + Sync + 'static,
    {
        let (claims, scheme, nonce) = match verified.map(Verified::into_parts) {
            Some((claims, scheme, nonce)) => (Some(claims), Some(scheme), nonce),
            None => (None, None, None),
        };
        // Once per layer; then an atomic load. (A layer applied to services
        // of several response body types erases the first one's;
        // `RequireScopes` behind the others answers with an empty body.)
        self.shared
            .erased_body
            .get_or_init(|| rejection::erase::<ResBody, R>(&self.rejection));
        let granted = claims.as_ref().map(Claims::granted);
        let extensions = req.extensions_mut();
        if let Some(claims) = claims {
            extensions.insert(claims);
        }
        extensions.insert(Authenticated {
            claims: granted,
            shared: Arc::clone(&self.shared),
            scheme,
        });
        nonce
    }
}

impl Settings {
    /// The scopes a request without a token is told it needs
    /// (`scope="…"` of the 401 challenge, as the MCP authorization spec
    /// asks): the validator's required scopes and the layer's.
    fn name_needed_scopes(&mut self) {
        let validator = self
            .validator
            .required_scopes()
            .into_iter()
            .flat_map(|s| s.iter());
        let layer = self.required.iter().flat_map(|r| r.scopes().iter());
        let needed: Scopes = validator.chain(layer).collect();
        self.challenge.scope = (!needed.is_empty()).then(|| Arc::from(needed.to_string()));
    }

    fn check_scopes<C>(&self, claims: Claims<C>) -> Result<Claims<C>, Error> {
        if let Some(required) = &self.required {
            required.check(claims.scopes())?;
        }
        Ok(claims)
    }
}
