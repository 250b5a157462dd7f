//! The per-route guards behind [`JwtAuthLayer`]: [`RequireScopes`],
//! [`RequireRoles`] and [`RequireClaims`], whatever the claims type.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

#[cfg(doc)]
use super::JwtAuthLayer;
use super::{Authenticated, ResponseFuture};
use crate::http::rejection;
use crate::jose::claims::{ClaimsRef, Scopes};
use crate::jose::error::Error;

/// Scopes (or roles) a request must carry: all of them, or any one.
#[derive(Debug, Clone)]
pub(crate) struct Requirement {
    scopes: Scopes,
    all: bool,
    text: Arc<str>,
}

/// What a guard checks.
#[derive(Clone)]
enum Guard {
    Scopes(Requirement),
    Roles(Requirement),
    Claims(Arc<dyn Fn(ClaimsRef<'_>) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scopes(r) => f.debug_tuple("Scopes").field(r).finish(),
            Self::Roles(r) => f.debug_tuple("Roles").field(r).finish(),
            Self::Claims(_) => f.write_str("Claims(<fn>)"),
        }
    }
}

impl Guard {
    /// The scopes a request must carry whatever else it holds: an all-of
    /// scope guard's, named in the challenge to a request without a token.
    fn needed_scopes(&self) -> Option<&Scopes> {
        match self {
            Self::Scopes(required) if required.all => Some(&required.scopes),
            _ => None,
        }
    }

    fn check(&self, claims: ClaimsRef<'_>) -> Result<(), Error> {
        match self {
            Self::Scopes(required) => required.check(claims.scopes()),
            Self::Roles(required) => {
                required
                    .holds(claims.roles())
                    .then_some(())
                    .ok_or_else(|| Error::MissingRole {
                        required: Arc::clone(&required.text),
                    })
            }
            Self::Claims(allowed) => allowed(claims).then_some(()).ok_or(Error::NotPermitted),
        }
    }
}

impl Requirement {
    pub(crate) fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(scopes.into_iter().collect(), true)
    }

    /// Both all-of requirements: the union of their scopes.
    pub(crate) fn and(&self, other: &Self) -> Self {
        Self::all(self.scopes.iter().chain(other.scopes.iter()))
    }

    /// Any one of `items`; none at all denies every request, which is
    /// logged here, where the mistake is made (`guard` names it).
    fn any(items: Scopes, guard: &'static str) -> Self {
        let requirement = Self::new(items, false);
        if requirement.scopes.is_empty() {
            tracing::warn!(target: "jwt_gate", guard, "an any-of guard with nothing listed denies every request");
        }
        requirement
    }

    fn new(scopes: Scopes, all: bool) -> Self {
        let text = Arc::from(scopes.to_string());
        Self { scopes, all, text }
    }

    /// The scopes (or roles) listed.
    pub(crate) fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// Whether `granted` meets it. Any of nothing is never met: an empty
    /// any-of denies.
    fn holds(&self, granted: &Scopes) -> bool {
        if self.all {
            granted.contains_all(&self.scopes)
        } else {
            self.scopes.iter().any(|s| granted.contains(s))
        }
    }

    pub(crate) fn check(&self, granted: &Scopes) -> Result<(), Error> {
        if self.holds(granted) {
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
/// through, naming (all-of) the scopes the route needs in the challenge's
/// `scope`, as the MCP authorization spec asks. Status, challenge and body
/// are the layer's own: its `realm`, `resource_metadata` and
/// [`rejection_body`](JwtAuthLayer::rejection_body).
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
            requirement: Requirement::all(scopes),
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
        Self {
            requirement: Requirement::any(scopes.into_iter().collect(), "RequireScopes::any"),
        }
    }

    /// The scopes listed, sorted: for the `scopes_supported` of your
    /// [RFC 9728 metadata](crate::ProtectedResourceMetadata), so that it
    /// names exactly what the routes require.
    ///
    /// ```
    /// use jwt_gate::{ProtectedResourceMetadata, RequireScopes};
    ///
    /// let read = RequireScopes::all(["mcp:tools.read"]);
    /// let call = RequireScopes::all(["mcp:tools.read", "mcp:tools.call"]);
    /// let metadata = ProtectedResourceMetadata::builder("https://mcp.example.com")
    ///     .authorization_server("https://auth.example.com")
    ///     .scopes_supported(read.scopes().chain(call.scopes()))
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), jwt_gate::ConfigError>(())
    /// ```
    pub fn scopes(&self) -> impl ExactSizeIterator<Item = &str> {
        self.requirement.scopes.iter()
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: Arc::new(Guard::Scopes(self.requirement.clone())),
        }
    }
}

/// A per-route layer requiring roles (or permissions, or groups) read by
/// [`Validation::roles_from`](crate::Validation::roles_from), whatever the
/// claims type: 403 `insufficient_scope` (without a `scope` parameter: a
/// role is not a scope) when they are missing, 401 for an anonymous
/// request. Status, challenge and body are the layer's own.
///
/// ```
/// use jwt_gate::RequireRoles;
/// let admins = RequireRoles::all(["Orders.Admin"]);
/// let staff = RequireRoles::any(["orders:write", "support"]);
/// # let _ = (admins, staff);
/// ```
#[derive(Debug, Clone)]
pub struct RequireRoles {
    requirement: Requirement,
}

impl RequireRoles {
    /// Every one of `roles` must be granted.
    pub fn all<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            requirement: Requirement::new(Scopes::from_names(roles), true),
        }
    }

    /// At least one of `roles` must be granted; with none listed, no
    /// request can (denied, with a warning logged here).
    pub fn any<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            requirement: Requirement::any(Scopes::from_names(roles), "RequireRoles::any"),
        }
    }
}

impl<S> Layer<S> for RequireRoles {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: Arc::new(Guard::Roles(self.requirement.clone())),
        }
    }
}

/// A per-route layer admitting the requests whose validated claims pass a
/// predicate of yours, whatever the claims type: 403 `insufficient_scope`
/// ([`Error::NotPermitted`]) when it answers `false`, 401 for an anonymous
/// request.
///
/// ```
/// use jwt_gate::RequireClaims;
/// let same_tenant = RequireClaims::new(|claims| {
///     claims.get::<String>("tenantId").ok().flatten().as_deref() == Some("tenant-42")
/// });
/// # let _ = same_tenant;
/// ```
#[derive(Clone)]
pub struct RequireClaims {
    allowed: Arc<dyn Fn(ClaimsRef<'_>) -> bool + Send + Sync>,
}

impl std::fmt::Debug for RequireClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequireClaims(<fn>)")
    }
}

impl RequireClaims {
    /// Admits the requests for which `allowed` answers `true`.
    pub fn new(allowed: impl Fn(ClaimsRef<'_>) -> bool + Send + Sync + 'static) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }
}

impl<S> Layer<S> for RequireClaims {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: Arc::new(Guard::Claims(Arc::clone(&self.allowed))),
        }
    }
}

/// Middleware of [`RequireScopes`], [`RequireRoles`] and [`RequireClaims`].
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Arc<Guard>,
}

/// The former name of [`GuardService`].
pub type RequireScopesService<S> = GuardService<S>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S>
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
        let Some(auth) = req.extensions().get::<Authenticated>() else {
            tracing::error!(target: "jwt_gate", "a RequireScopes/RequireRoles/RequireClaims guard without JwtAuthLayer in front of it");
            let mut res = Response::new(ResBody::default());
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return ResponseFuture::ready(res);
        };
        let verdict = match &auth.claims {
            None => Err(Error::MissingToken),
            Some(granted) => self.guard.check(granted.view()),
        };
        match verdict {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err(error) => {
                let shared = &auth.shared;
                let challenge = &shared.settings.challenge;
                let needing;
                let challenge = match (&error, self.guard.needed_scopes()) {
                    (Error::MissingToken, Some(route)) => {
                        needing = challenge.needing(route);
                        &needing
                    }
                    _ => challenge,
                };
                ResponseFuture::ready(rejection::response(
                    &error,
                    challenge,
                    Some(req.headers()),
                    || rejection::erased_body(shared.erased_body.get(), &error),
                ))
            }
        }
    }
}
