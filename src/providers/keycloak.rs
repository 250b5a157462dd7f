//! Keycloak realms.

use super::{first_error, segment};
use crate::jose::error::ConfigError;
use crate::validator::{Validator, ValidatorBuilder};

/// Access tokens of a Keycloak realm.
///
/// What it encodes:
/// - issuer `{base_url}/realms/{realm}`, keys by its discovery
///   (`base_url` as your users reach Keycloak, such as
///   `https://sso.example.com`; Keycloak 16 and older add `/auth`);
/// - the payload `typ` must be `Bearer`, or `DPoP` for a DPoP-bound access
///   token (Keycloak 23+; accepted with its proof when the validator has
///   [DPoP](ValidatorBuilder::dpop) on): Keycloak signs ID tokens
///   (`typ: "ID"`), refresh tokens (`Refresh`, `Offline`) and logout
///   tokens with the same issuer, and an ID token passes every other check
///   when API and client share a client id
///   ([`Error::ClaimMismatch`](crate::Error::ClaimMismatch));
/// - realm roles, from `realm_access.roles`, are the roles for
///   [`RequireRoles`](crate::RequireRoles); add a client's roles with
///   [`roles_from`](ValidatorBuilder::roles_from)`("resource_access.{client}.roles")`.
///
/// Keycloak's `aud` is `account` (or absent) unless an audience mapper adds
/// your API, so either add that mapper and set the
/// [`audience`](ValidatorBuilder::audience), or accept the clients by
/// their `azp` with [`client_ids`](ValidatorBuilder::client_ids).
/// Token shape and audience:
/// <https://www.keycloak.org/docs/latest/server_admin/#audience-support>.
///
/// ```
/// use jwt_gate::{providers, RequireRoles};
///
/// let validator = providers::keycloak("https://sso.example.com", "staff")
///     .client_ids(["orders-web"])
///     .roles_from("resource_access.orders-api.roles")
///     .build()?;
/// let managers = RequireRoles::any(["manager", "admin"]);
/// # let _ = (validator, managers);
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn keycloak(base_url: &str, realm: &str) -> ValidatorBuilder {
    let base = base_url.strip_suffix('/').unwrap_or(base_url);
    let error = first_error([
        if base.contains(['?', '#']) || base.contains("/realms/") {
            Err(ConfigError::new(
                "providers::keycloak",
                format!("{base_url:?} is not Keycloak's base URL (no /realms/, query or fragment)"),
            ))
        } else {
            Ok(())
        },
        segment("providers::keycloak", "realm", realm),
    ]);
    Validator::builder()
        .issuer(format!("{base}/realms/{realm}"))
        .require_claim_in("typ", ["Bearer", "DPoP"])
        .refuse_id_tokens()
        .roles_from("realm_access.roles")
        .preset_error(error)
}
