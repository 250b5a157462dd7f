//! Presets for the big identity providers: each returns a builder already
//! set for the provider's issuer URL, token shape and quirks, which you
//! complete with your own ids (the audience or the app client ids) and any
//! rule of your own, then `build()`.
//!
//! | provider | preset | what it encodes |
//! |---|---|---|
//! | Amazon Cognito | [`cognito`] | regional issuer; no `aud` in access tokens, so the app client ids stand in (`client_id`); `token_use` = `access`; groups from `cognito:groups` |
//! | Microsoft Entra ID, one tenant | [`entra`] | v2.0 and v1.0 issuers of the tenant; `tid`; app roles from `roles`; ID tokens refused |
//! | Microsoft Entra ID, many tenants | [`entra_tenants`] + [`entra_common`] | tenant-independent keys, each bound to its `issuer`; v2.0 and v1.0 issuers per admitted tenant |
//! | Keycloak | [`keycloak`] | `{base}/realms/{realm}` issuer; payload `typ` = `Bearer` (no ID, refresh or logout tokens); realm roles |
//! | Auth0 | [`auth0`] | `https://{domain}/` issuer with its trailing slash; RBAC `permissions` |
//! | Okta | [`okta`] | custom authorization server issuer; client from `cid`, scopes from `scp`; `groups` |
//! | Zitadel | [`zitadel`] | instance issuer; roles from the keys of `urn:zitadel:iam:org:project:roles` |
//! | Google | [`google`] | both `iss` spellings; Google's JWTs at APIs are ID tokens |
//!
//! Every preset leaves the audience to you (or, for Cognito, takes the app
//! client ids), so `build()` refuses a preset left incomplete. A mistake in
//! a preset's arguments (a Cognito pool of another region, an Entra tenant
//! given by domain name) is reported by `build()` as a [`ConfigError`]
//! naming the preset, never at request time.
//!
//! A preset is a plain builder: anything it set can be added to
//! ([`require_claim`](ValidatorBuilder::require_claim),
//! [`roles_from`](ValidatorBuilder::roles_from), …) or tightened. For a
//! validator that trusts a preset next to other issuers, convert it with
//! `.into()` for [`MultiIssuerBuilder::trust`](crate::MultiIssuerBuilder::trust).
//!
//! ```
//! use jwt_gate::providers;
//!
//! let validator = providers::entra("72f988bf-86f1-41af-91ab-2d7cd011db47")
//!     .audiences(["6e74172b-be56-4843-9ff4-e66a39bb12e3", "api://orders"])
//!     .build()?;
//! # let _ = validator;
//! # Ok::<(), jwt_gate::ConfigError>(())
//! ```

mod auth0;
mod cognito;
mod entra;
mod google;
mod keycloak;
mod okta;
mod zitadel;

pub use auth0::auth0;
pub use cognito::cognito;
pub use entra::{entra, entra_common, entra_tenants};
pub use google::google;
pub use keycloak::keycloak;
pub use okta::okta;
pub use zitadel::zitadel;

use crate::jose::error::ConfigError;
#[cfg(doc)]
use crate::validator::ValidatorBuilder;

/// The host of a provider's domain, given as `example.eu.auth0.com`,
/// `https://example.eu.auth0.com` or with a trailing `/`: a host name (and
/// port), nothing else.
fn host(preset: &'static str, given: &str) -> Result<String, ConfigError> {
    let host = given.strip_prefix("https://").unwrap_or(given);
    let host = host.strip_suffix('/').unwrap_or(host);
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
        && !host.starts_with(['.', '-', ':']);
    if valid {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(ConfigError::new(
            preset,
            format!(
                "{given:?} is not a domain name such as auth.example.com (https only, no path)"
            ),
        ))
    }
}

/// A path segment of an issuer URL (realm, authorization server, pool):
/// 1 to 128 URL-unreserved characters.
fn segment(preset: &'static str, what: &str, given: &str) -> Result<(), ConfigError> {
    let valid = (1..=128).contains(&given.len())
        && given != "."
        && given != ".."
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            preset,
            format!("{what} {given:?} is not 1 to 128 of A-Z a-z 0-9 - . _ ~"),
        ))
    }
}

/// The error of `check`, if any, for [`ValidatorBuilder::preset_error`].
fn first_error<const N: usize>(checks: [Result<(), ConfigError>; N]) -> Option<ConfigError> {
    checks.into_iter().find_map(Result::err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            host("p", "Example.eu.auth0.com").unwrap(),
            "example.eu.auth0.com"
        );
        assert_eq!(
            host("p", "https://example.eu.auth0.com/").unwrap(),
            "example.eu.auth0.com"
        );
        assert_eq!(
            host("p", "login.example.com:8443").unwrap(),
            "login.example.com:8443"
        );
        for bad in [
            "",
            "/",
            "http://a.example",
            "a.example/path",
            "a b",
            "https://",
            "a.example?x",
            "u@a.example",
            ".a",
        ] {
            assert!(host("p", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn segments() {
        assert!(segment("p", "realm", "my-realm_1.x~").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "a%2f", &"x".repeat(129)] {
            assert!(segment("p", "realm", bad).is_err(), "{bad:?}");
        }
    }
}
