//! Auth0 tenants.

use super::host;
use crate::validator::{Validator, ValidatorBuilder};

/// An Auth0 tenant's access tokens for your API.
///
/// What it encodes:
/// - issuer `https://{domain}/`, **with** the trailing slash Auth0 puts in
///   `iss` (a custom domain works the same); `domain` may be given as
///   `example.eu.auth0.com`, with `https://` or with the slash;
/// - with RBAC on and "Add Permissions in the Access Token", the
///   permissions, from `permissions`, are the roles for
///   [`RequireRoles`](crate::RequireRoles) (scopes stay in `scope`);
/// - ID tokens (`nonce`, `at_hash`) are refused.
///
/// The audience is your API's identifier; Auth0 adds
/// `https://{domain}/userinfo` to `aud` when `openid` was asked for, which
/// is why `aud` is an array there. Token shape:
/// <https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>;
/// permissions:
/// <https://auth0.com/docs/get-started/apis/enable-role-based-access-control-for-apis>.
///
/// ```
/// use jwt_gate::{providers, RequireRoles};
///
/// let validator = providers::auth0("example.eu.auth0.com")
///     .audience("https://api.example.com/orders")
///     .build()?;
/// let writers = RequireRoles::all(["write:orders"]); // an Auth0 permission
/// # let _ = (validator, writers);
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn auth0(domain: &str) -> ValidatorBuilder {
    let (issuer, error) = match host("providers::auth0", domain) {
        Ok(host) => (format!("https://{host}/"), None),
        Err(e) => (String::new(), Some(e)),
    };
    Validator::builder()
        .issuer(issuer)
        .refuse_id_tokens()
        .roles_from("permissions")
        .preset_error(error)
}
