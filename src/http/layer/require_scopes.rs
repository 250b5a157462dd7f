//! [`RequireScopes`]: a per-route guard behind [`JwtAuthLayer`].

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

#[cfg(doc)]
use super::JwtAuthLayer;
use super::{Authenticated, ResponseFuture};
use crate::http::rejection;
use crate::jose::claims::Scopes;
use crate::jose::error::Error;

/// Scopes a request must carry: all of them, or any one.
#[derive(Debug, Clone)]
pub(crate) struct Requirement {
    scopes: Scopes,
    all: bool,
    text: Arc<str>,
}

impl Requirement {
    pub(crate) fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(scopes, true)
    }

    /// Both all-of requirements: the union of their scopes.
    pub(crate) fn and(&self, other: &Self) -> Self {
        Self::all(self.scopes.iter().chain(other.scopes.iter()))
    }

    fn new<I, S>(scopes: I, all: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Scopes = scopes.into_iter().collect();
        let text = Arc::from(scopes.to_string());
        Self { scopes, all, text }
    }

    pub(crate) fn check(&self, granted: &Scopes) -> Result<(), Error> {
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
/// through. Status, challenge and body are the layer's own: its `realm`,
/// `resource_metadata` and [`rejection_body`](JwtAuthLayer::rejection_body).
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
        let Some(auth) = req.extensions().get::<Authenticated>() else {
            tracing::error!(target: "jwt_gate", "RequireScopes without JwtAuthLayer in front of it");
            let mut res = Response::new(ResBody::default());
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return ResponseFuture::ready(res);
        };
        let verdict = match &auth.scopes {
            None => Err(Error::MissingToken),
            Some(granted) => self.requirement.check(granted.scopes()),
        };
        match verdict {
            Ok(()) => ResponseFuture::inner(self.inner.call(req)),
            Err(error) => {
                let shared = &auth.shared;
                ResponseFuture::ready(rejection::response(
                    &error,
                    &shared.settings.challenge,
                    Some(req.headers()),
                    || rejection::erased_body(shared.erased_body.get(), &error),
                ))
            }
        }
    }
}
