//! Amazon Cognito user pools.

use super::{first_error, segment};
use crate::jose::algorithm::Algorithm;
use crate::jose::error::ConfigError;
use crate::validator::{Validator, ValidatorBuilder};

/// An Amazon Cognito user pool's access tokens, for the app clients listed.
///
/// What it encodes:
/// - issuer `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`,
///   keys by its discovery; RS256 only;
/// - Cognito access tokens carry **no `aud`**: the app client, in
///   `client_id`, must be one of `app_client_ids` instead
///   ([`Error::InvalidClient`](crate::Error::InvalidClient));
/// - `token_use` must be `access`: a Cognito ID token (`token_use: "id"`,
///   with `aud` and `at_hash`) is refused
///   ([`Error::ClaimMismatch`](crate::Error::ClaimMismatch)), as are
///   tokens with ID-token-only members;
/// - the user's groups, from `cognito:groups`, are the roles for
///   [`RequireRoles`](crate::RequireRoles); scopes from `scope` (a string).
///
/// `build()` refuses a pool id that is not `{region}_{id}` of the same
/// region, and an empty client list. Token shapes:
/// <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>;
/// validation steps:
/// <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html>.
///
/// ```
/// use jwt_gate::{providers, RequireRoles};
///
/// let validator = providers::cognito("eu-west-1", "eu-west-1_AbCdEf123", ["1example23456789"])
///     .require_scopes(["orders/read"])
///     .build()?;
/// let admins_only = RequireRoles::all(["admin"]); // a Cognito group
/// # let _ = (validator, admins_only);
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn cognito<I, S>(region: &str, user_pool_id: &str, app_client_ids: I) -> ValidatorBuilder
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let clients: Vec<String> = app_client_ids.into_iter().map(Into::into).collect();
    let error = first_error([
        segment("providers::cognito", "region", region),
        pool_in_region(region, user_pool_id),
        if clients.is_empty() {
            Err(ConfigError::new(
                "providers::cognito",
                "no app client id: Cognito access tokens have no `aud`, the client ids stand in for it",
            ))
        } else {
            Ok(())
        },
    ]);
    Validator::builder()
        .issuer(format!(
            "https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        ))
        .algorithms([Algorithm::RS256])
        .client_ids(clients)
        .require_claim("token_use", "access")
        .refuse_id_tokens()
        .roles_from("cognito:groups")
        .preset_error(error)
}

/// A user pool id is `{region}_{id}`.
fn pool_in_region(region: &str, pool: &str) -> Result<(), ConfigError> {
    match pool.split_once('_') {
        Some((pool_region, id))
            if pool_region == region
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(())
        }
        Some((pool_region, _)) if pool_region != region => Err(ConfigError::new(
            "providers::cognito",
            format!("user pool {pool:?} is in region {pool_region:?}, not {region:?}"),
        )),
        _ => Err(ConfigError::new(
            "providers::cognito",
            format!("{pool:?} is not a user pool id such as {region}_AbCdEf123"),
        )),
    }
}
