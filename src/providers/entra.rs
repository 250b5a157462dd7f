//! Microsoft Entra ID (formerly Azure AD).

use crate::jose::algorithm::Algorithm;
use crate::jose::error::ConfigError;
use crate::validator::issuers::IssuerTemplate;
use crate::validator::{IssuerBuilder, Validator, ValidatorBuilder};

const V2: &str = "https://login.microsoftonline.com/{tenant}/v2.0";
const V1: &str = "https://sts.windows.net/{tenant}/";
const COMMON_KEYS: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";

/// Access tokens for your API from one Entra ID tenant (a single-tenant
/// app registration).
///
/// What it encodes:
/// - issuer `https://login.microsoftonline.com/{tenant_id}/v2.0` (keys by
///   its discovery), and the v1.0 issuer `https://sts.windows.net/{tenant_id}/`
///   as an [alias](ValidatorBuilder::issuer_alias): which one a token
///   carries depends on the API's `accessTokenAcceptedVersion`, and both
///   occur for one app; RS256 only;
/// - `tid` must be the tenant;
/// - app roles (application permissions of client-credentials callers, and
///   users' app roles) arrive in `roles`, not `scp`: they are the roles for
///   [`RequireRoles`](crate::RequireRoles); delegated scopes stay in `scp`;
/// - ID tokens (`nonce`, `at_hash`, `c_hash`) are refused: an Entra v2 ID
///   token passes every other check when the API and the client are one
///   app registration, and Entra never sends `typ: at+jwt`.
///
/// Set the audiences to both the application (client) id, which v2.0
/// tokens carry in `aud`, and the Application ID URI (`api://…`), which
/// v1.0 tokens carry. `build()` refuses a tenant that is not a GUID (`iss`
/// always names the tenant by its id, never by a domain name) and
/// `common`/`organizations`/`consumers` (see [`entra_tenants`]). Token
/// shapes: <https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>;
/// validation: <https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens>.
///
/// ```
/// use jwt_gate::{providers, RequireRoles};
///
/// let validator = providers::entra("72f988bf-86f1-41af-91ab-2d7cd011db47")
///     .audiences(["6e74172b-be56-4843-9ff4-e66a39bb12e3", "api://orders"])
///     .build()?;
/// let daemons = RequireRoles::all(["Orders.Read.All"]); // an app role
/// # let _ = (validator, daemons);
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn entra(tenant_id: &str) -> ValidatorBuilder {
    let error = tenant_guid(tenant_id).err();
    // Entra writes tenant ids in lowercase in `iss` and `tid`.
    let tenant = tenant_id.to_ascii_lowercase();
    Validator::builder()
        .issuer(V2.replace("{tenant}", &tenant))
        .issuer_alias(V1.replace("{tenant}", &tenant))
        .algorithms([Algorithm::RS256])
        .require_claim("tid", tenant)
        .refuse_id_tokens()
        .roles_from("roles")
        .preset_error(error)
}

/// The issuers of a multi-tenant Entra ID app, one per admitted tenant:
/// `https://login.microsoftonline.com/{tenant}/v2.0`, with the v1.0
/// `https://sts.windows.net/{tenant}/` as an
/// [alias](IssuerTemplate::alias). Say which tenants with
/// [`tenants`](IssuerTemplate::tenants) or
/// [`tenant_filter`](IssuerTemplate::tenant_filter), and trust it with
/// [`entra_common`]'s rules.
///
/// Multi-tenant validation, as Microsoft describes it: the token's `iss`
/// names an admitted tenant; the signing key's `issuer`
/// (`https://login.microsoftonline.com/{tenantid}/v2.0` in the shared key
/// set) with the token's `tid` substituted must be that `iss`, so a key
/// never vouches for a token of another tenant and `tid` is tied to `iss`:
/// <https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-signing-key-issuer>.
///
/// ```
/// use jwt_gate::{providers, Validator};
///
/// let validator = Validator::multi_issuer()
///     .trust_template(
///         providers::entra_tenants().tenants([
///             "72f988bf-86f1-41af-91ab-2d7cd011db47",
///             "9122040d-6c67-4c5b-b112-36a304b66dad",
///         ]),
///         providers::entra_common().audiences(["6e74172b-be56-4843-9ff4-e66a39bb12e3"]),
///     )
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
pub fn entra_tenants() -> IssuerTemplate {
    IssuerTemplate::from_parts(V2, &[V1])
}

/// The rules of a multi-tenant Entra ID app, for the issuers of
/// [`entra_tenants`]: one key set for every tenant (the tenant-independent
/// `https://login.microsoftonline.com/common/discovery/v2.0/keys`, fetched
/// once), each key usable only for the issuer its `issuer` member names;
/// RS256 only; app roles from `roles`; ID tokens refused (see [`entra`]).
/// It names no issuer, so it can only be trusted through a template.
pub fn entra_common() -> IssuerBuilder {
    IssuerBuilder::new()
        .jwks_uri(COMMON_KEYS)
        .algorithms([Algorithm::RS256])
        .refuse_id_tokens()
        .roles_from("roles")
}

/// A tenant id is a GUID: `iss` never names a tenant by domain name.
fn tenant_guid(tenant: &str) -> Result<(), ConfigError> {
    if matches!(tenant, "common" | "organizations" | "consumers") {
        return Err(ConfigError::new(
            "providers::entra",
            format!(
                "{tenant:?} names many tenants: trust providers::entra_tenants() with providers::entra_common()"
            ),
        ));
    }
    let groups: Vec<&str> = tenant.split('-').collect();
    let guid = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if guid {
        Ok(())
    } else {
        Err(ConfigError::new(
            "providers::entra",
            format!(
                "{tenant:?} is not a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47); tokens name the tenant by id, never by domain"
            ),
        ))
    }
}
