//! Zitadel instances.

use super::host;
use crate::validator::{Validator, ValidatorBuilder};

/// JWT access tokens of a Zitadel instance (set the application's "Auth
/// Token Type" to JWT: Zitadel's default access tokens are opaque).
///
/// What it encodes:
/// - issuer `https://{instance_domain}` (no trailing slash), such as
///   `my-instance-abc123.zitadel.cloud` or your custom domain;
/// - roles from `urn:zitadel:iam:org:project:roles`, an **object** whose
///   keys are the role names (each mapping organisation ids to domains),
///   for [`RequireRoles`](crate::RequireRoles); add
///   [`roles_from`](ValidatorBuilder::roles_from)`("urn:zitadel:iam:org:project:{projectid}:roles")`
///   for the per-project claim;
/// - ID tokens (`nonce`, `at_hash`) are refused.
///
/// The audience is your project id (Zitadel lists the project and client
/// ids in `aud`). Claims: <https://zitadel.com/docs/apis/openidoauth/claims>;
/// roles: <https://zitadel.com/docs/guides/integrate/retrieve-user-roles>.
///
/// ```
/// use jwt_gate::providers;
///
/// let validator = providers::zitadel("my-instance-abc123.zitadel.cloud")
///     .audience("231035556318987012")
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn zitadel(instance_domain: &str) -> ValidatorBuilder {
    let (issuer, error) = match host("providers::zitadel", instance_domain) {
        Ok(host) => (format!("https://{host}"), None),
        Err(e) => (String::new(), Some(e)),
    };
    Validator::builder()
        .issuer(issuer)
        .refuse_id_tokens()
        .roles_from("urn:zitadel:iam:org:project:roles")
        .preset_error(error)
}
