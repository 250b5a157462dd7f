//! Google.

use crate::jose::algorithm::Algorithm;
use crate::validator::{Validator, ValidatorBuilder};

/// Google-signed JWTs: the ID tokens Google issues for service-to-service
/// calls (Cloud Run, Cloud Functions, IAP, Pub/Sub push, Workload Identity)
/// and for "Sign in with Google" at your API. Google's OAuth access tokens
/// are opaque, so at an API the JWT is an ID token, and this preset does
/// not refuse ID tokens.
///
/// What it encodes:
/// - issuer `https://accounts.google.com`, and `accounts.google.com` (no
///   scheme), which Google's tokens also carry, as an
///   [alias](ValidatorBuilder::issuer_alias); keys by discovery (the
///   `https://www.googleapis.com/oauth2/v3/certs` set); RS256 only.
///
/// The audience is your OAuth client id, or the audience your service
/// configured (a Cloud Run URL, an IAP client id). To accept only your
/// Google Workspace domain, add `.require_claim("hd", "example.com")`.
/// Validation rules (both `iss` spellings):
/// <https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken>.
///
/// ```
/// use jwt_gate::providers;
///
/// let validator = providers::google()
///     .audience("1234987819200.apps.googleusercontent.com")
///     .require_claim("hd", "example.com")
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn google() -> ValidatorBuilder {
    Validator::builder()
        .issuer("https://accounts.google.com")
        .issuer_alias("accounts.google.com")
        .algorithms([Algorithm::RS256])
}
