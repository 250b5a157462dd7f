//! Feature `axum`: `Claims<C>` as an extractor (and `Option<Claims<C>>` for
//! optional authentication), and `Error` as a response.

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::http::authenticate::AuthScheme;
use crate::http::layer::Authenticated;
use crate::http::rejection::{self, Challenge};
use crate::jose::claims::Claims;
use crate::jose::error::Error;

/// Extracts the claims [`JwtAuthLayer<C>`](crate::JwtAuthLayer) validated.
///
/// Without the layer in front of the route, the request fails with 500
/// (a server bug, not the client's fault) and a message naming the type.
///
/// ```
/// use axum::{Router, routing::get};
/// use jwt_gate::{Claims, JwtAuthLayer, Validator};
///
/// async fn me(claims: Claims) -> String {
///     format!("hello {}", claims.subject().unwrap_or("?"))
/// }
///
/// async fn maybe(claims: Option<Claims>) -> &'static str {
///     if claims.is_some() { "signed in" } else { "anonymous" }
/// }
///
/// # fn app(validator: Validator) -> Router {
/// Router::new()
///     .route("/me", get(me))
///     .route("/maybe", get(maybe))
///     .layer(JwtAuthLayer::new(validator).optional())
/// # }
/// ```
impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, MissingClaims> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(MissingClaims(Missing::Claims(std::any::type_name::<C>())))
    }
}

/// `None` when the request carried no token and the layer is
/// [`optional`](crate::JwtAuthLayer::optional).
///
/// A token the layer validated into another claims type, or no layer at
/// all, is the same 500 as for `Claims<C>` ([`MissingClaims`]), never a
/// silent `None`: that would serve an authenticated caller as anonymous.
impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, MissingClaims> {
        if let Some(claims) = parts.extensions.get::<Self>() {
            return Ok(Some(claims.clone()));
        }
        match parts.extensions.get::<Authenticated>() {
            Some(auth) if auth.is_anonymous() => Ok(None),
            _ => Err(MissingClaims(Missing::Claims(std::any::type_name::<C>()))),
        }
    }
}

/// How the caller authenticated (see [`AuthScheme`]); without the layer, or
/// on a request an optional layer let through without a token, 500 like a
/// missing `Claims` (extract `Option<AuthScheme>` there).
impl<S: Send + Sync> FromRequestParts<S> for AuthScheme {
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, MissingClaims> {
        Self::of(&parts.extensions).ok_or(MissingClaims(Missing::Scheme))
    }
}

/// `None` when the request came through an optional layer without a token.
impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthScheme {
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, MissingClaims> {
        match parts.extensions.get::<Authenticated>() {
            Some(auth) => Ok(auth.scheme),
            None => Err(MissingClaims(Missing::Scheme)),
        }
    }
}

/// The rejection when `Claims<C>` (or [`AuthScheme`]) is extracted on a
/// route that `JwtAuthLayer<C>` does not cover: 500, naming the type.
#[derive(Debug, Clone, Copy)]
pub struct MissingClaims(Missing);

/// What was not found.
#[derive(Debug, Clone, Copy)]
enum Missing {
    /// `Claims<C>`, by the name of `C`.
    Claims(&'static str),
    Scheme,
}

impl std::fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Missing::Claims(c) => write!(
                f,
                "`Claims<{c}>` not found in request extensions. Is `JwtAuthLayer<{c}>` applied to this route?"
            ),
            Missing::Scheme => f.write_str(
                "`AuthScheme` not found in request extensions. Is `JwtAuthLayer` applied to this route (and the request not anonymous: extract `Option<AuthScheme>`)?",
            ),
        }
    }
}

impl std::error::Error for MissingClaims {}

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        tracing::error!(target: "jwt_gate", "{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// The same response the layer sends: status, `WWW-Authenticate` (no
/// realm), `Retry-After` on 503, and the fixed description as the body.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut res = rejection::response(&self, &Challenge::default(), None, || {
            Body::from(self.description())
        });
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    }
}
