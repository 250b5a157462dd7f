//! Feature `tonic`: `Error` as a `tonic::Status`, the validated claims of a
//! `tonic::Request`, and a synchronous interceptor.
//!
//! The tower layer ([`JwtAuthLayer`](crate::JwtAuthLayer)) already answers
//! gRPC requests correctly without this feature; use the layer on a tonic
//! server (`Server::builder().layer(..)`) when you can, since it waits for
//! keys when it must. [`JwtInterceptor`] is for places that take only a
//! synchronous interceptor: it validates with the keys already held
//! ([`Validator::validate_without_waiting`]), so call
//! [`Validator::warm_up`] at startup.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::http::rejection::grpc_code;
use crate::jose::claims::Claims;
use crate::jose::error::Error;
use crate::validator::Validator;

impl From<&Error> for ::tonic::Status {
    /// `Unauthenticated`, `PermissionDenied` (insufficient scope) or
    /// `Unavailable` (keys unavailable), with the fixed description.
    fn from(error: &Error) -> Self {
        let code = match grpc_code(error) {
            7 => ::tonic::Code::PermissionDenied,
            14 => ::tonic::Code::Unavailable,
            _ => ::tonic::Code::Unauthenticated,
        };
        Self::new(code, error.description())
    }
}

impl From<Error> for ::tonic::Status {
    fn from(error: Error) -> Self {
        Self::from(&error)
    }
}

/// The claims (registered claims only, `Claims<()>`) the layer or the
/// interceptor validated for this request. [`claims_as`] reads another
/// claims type.
///
/// ```
/// # fn handler(request: tonic::Request<()>) -> Result<(), tonic::Status> {
/// let claims = jwt_gate::tonic::claims(&request)
///     .ok_or_else(|| tonic::Status::unauthenticated("no token"))?;
/// println!("{:?}", claims.subject());
/// # Ok(()) }
/// ```
pub fn claims<T>(request: &::tonic::Request<T>) -> Option<&Claims> {
    claims_as::<()>(request)
}

/// The `Claims<C>` a layer or interceptor configured with claims type `C`
/// validated for this request; `None` when there are none of that type.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(rename = "tenantId")]
///     tenant_id: String,
/// }
///
/// # fn handler(request: tonic::Request<()>) -> Result<(), tonic::Status> {
/// let claims = jwt_gate::tonic::claims_as::<MyClaims>(&request)
///     .ok_or_else(|| tonic::Status::unauthenticated("no token"))?;
/// println!("tenant {}", claims.tenant_id);
/// # Ok(()) }
/// ```
pub fn claims_as<C: Send + Sync + 'static>(
    request: &::tonic::Request<impl Sized>,
) -> Option<&Claims<C>> {
    request.extensions().get::<Claims<C>>()
}

/// How the caller of a request [`JwtAuthLayer`](crate::JwtAuthLayer) let
/// in authenticated (`Bearer`, or `Dpop` with a proof); `None` without the
/// layer (the interceptor takes bearer tokens only).
pub fn auth_scheme<T>(
    request: &::tonic::Request<T>,
) -> Option<crate::http::authenticate::AuthScheme> {
    request
        .extensions()
        .get::<crate::http::layer::Authenticated>()?
        .scheme
}

/// A tonic interceptor: validates the `authorization` metadata with the
/// keys already held (or, when the validator takes
/// [API keys](crate::ApiKeys), the `x-api-key` metadata) and inserts
/// `Claims<C>` into the request extensions.
///
/// Bearer tokens and API keys only: an interceptor sees neither the request's URL nor a
/// way to await a replay store, so a DPoP-bound token is refused here
/// (`Unauthenticated`). A certificate-bound token (RFC 8705) is checked
/// against the validator's [certificate source](crate::mtls::CertificateSource):
/// with feature `tonic-tls`, tonic's own TLS server's peer certificate
/// needs no code of yours. For DPoP, put [`JwtAuthLayer`](crate::JwtAuthLayer)
/// in front of the server instead (`Server::builder().layer(…)`), which
/// checks proofs for gRPC requests too.
#[derive(Debug)]
pub struct JwtInterceptor<C = ()> {
    validator: Validator,
    _claims: PhantomData<fn() -> C>,
}

impl<C> Clone for JwtInterceptor<C> {
    fn clone(&self) -> Self {
        Self {
            validator: self.validator.clone(),
            _claims: PhantomData,
        }
    }
}

impl JwtInterceptor {
    /// An interceptor validating with `validator`, inserting [`Claims`]
    /// (registered claims); [`claims`](Self::claims) picks another type.
    pub fn new(validator: Validator) -> Self {
        Self {
            validator,
            _claims: PhantomData,
        }
    }
}

impl<C> JwtInterceptor<C> {
    /// Deserializes each token's payload into `C2` as well, and inserts
    /// `Claims<C2>` instead.
    ///
    /// Defaults to `()`: registered claims only.
    pub fn claims<C2>(self) -> JwtInterceptor<C2> {
        JwtInterceptor {
            validator: self.validator,
            _claims: PhantomData,
        }
    }
}

impl<C> ::tonic::service::Interceptor for JwtInterceptor<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn call(
        &mut self,
        mut request: ::tonic::Request<()>,
    ) -> Result<::tonic::Request<()>, ::tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        let claims = self
            .validator
            .intercepted::<C>(&headers, request.extensions())?;
        request.extensions_mut().insert(claims);
        Ok(request)
    }
}
