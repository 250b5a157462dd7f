#![doc = include_str!("../README.md")]

#[cfg(feature = "axum")]
mod axum;
mod claims;
pub mod de;
mod discovery;
mod error;
mod issuers;
mod jwks;
mod key_store;
mod layer;
mod resource_metadata;
mod signature;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod token;
mod token_cache;
#[cfg(feature = "tonic")]
pub mod tonic;
mod validator;

#[cfg(feature = "axum")]
pub use crate::axum::MissingClaims;
pub use claims::{Claims, Scopes};
pub use error::Error;
pub use issuers::{IssuerTemplate, MultiIssuerBuilder};
/// The signature algorithms, re-exported from `jsonwebtoken` on purpose: the
/// same enum users of that crate already know.
pub use jsonwebtoken::Algorithm;
pub use jwks::{KeySet, SkippedKey};
pub use key_store::{FetchError, KeyStatus};
pub use layer::{
    DefaultRejection, JwtAuth, JwtAuthLayer, RejectionBody, RequireScopes, RequireScopesService,
    ResponseFuture,
};
pub use resource_metadata::{
    ProtectedResourceMetadata, ProtectedResourceMetadataBuilder, ProtectedResourceMetadataService,
};
pub use time::UnixTime;
pub use token_cache::TokenCacheStats;
pub use validator::{Validation, Validator, ValidatorBuilder, validate};
