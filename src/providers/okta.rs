//! Okta custom authorization servers.

use super::{first_error, host, segment};
use crate::validator::{Validator, ValidatorBuilder};

/// Access tokens of an Okta custom authorization server (`default` is the
/// one every Okta org has).
///
/// What it encodes:
/// - issuer `https://{okta_domain}/oauth2/{authorization_server_id}`, keys
///   by its discovery. The org authorization server (issuer
///   `https://{okta_domain}`) issues access tokens for Okta's own APIs,
///   which resource servers must not validate, hence the server id;
/// - the client is in `cid` (checked by
///   [`client_ids`](ValidatorBuilder::client_ids) when you set them),
///   scopes in the `scp` array;
/// - a `groups` claim (the name Okta's guides give it) holds the roles for
///   [`RequireRoles`](crate::RequireRoles);
/// - ID tokens (`nonce`, `at_hash`) are refused.
///
/// The audience is the server's (`api://default` for `default`). Token
/// shape: <https://developer.okta.com/docs/reference/api/oidc/#access-token>;
/// validation:
/// <https://developer.okta.com/docs/guides/validate-access-tokens/>.
///
/// ```
/// use jwt_gate::providers;
///
/// let validator = providers::okta("example.okta.com", "default")
///     .audience("api://default")
///     .require_scopes(["orders.read"])
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn okta(okta_domain: &str, authorization_server_id: &str) -> ValidatorBuilder {
    let host = host("providers::okta", okta_domain);
    let error = first_error([
        host.as_ref().map(|_| ()).map_err(Clone::clone),
        segment(
            "providers::okta",
            "authorization server id",
            authorization_server_id,
        ),
    ]);
    let host = host.unwrap_or_default();
    Validator::builder()
        .issuer(format!("https://{host}/oauth2/{authorization_server_id}"))
        .refuse_id_tokens()
        .roles_from("groups")
        .preset_error(error)
}
