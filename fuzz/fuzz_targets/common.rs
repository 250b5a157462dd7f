//! What the targets share: the fixed keys and rules, the clock, and the
//! typed claims the deserializer is fuzzed with.

#![allow(dead_code)]

use std::sync::LazyLock;
use std::time::Duration;

use jwt_gate::{Algorithm, KeySet, UnixTime, Validation};
use serde::Deserialize;

/// The time every token is judged at: inside the vectors' validity.
pub const NOW: UnixTime = UnixTime::from_secs(1_767_225_400);

pub const ISSUER: &str = "https://issuer.example.com/";
pub const AUDIENCE: &str = "api://orders";

/// The HS256 secret of `signed_claims` (kid `fuzz`).
pub const SECRET: &[u8] = b"the fuzzing secret, 32 bytes long";

/// The public keys of the JOSE vectors (RSA, EC, OKP), and the secret.
pub static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::from_jwks_json(include_bytes!("../keys.json"))
        .expect("keys.json is a JWK Set")
        .with_secret(Some("fuzz"), SECRET)
        .expect("a secret")
});

const ALL: [Algorithm; 13] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

/// Rules that use most checks: issuer, audience, a scope, client ids,
/// roles with implied scopes, a maximum age, every algorithm.
pub static RULES: LazyLock<Validation> = LazyLock::new(|| {
    Validation::new()
        .algorithms(ALL)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(Duration::from_secs(30))
        .roles_from("realm_access.roles")
        .implied_scopes("orders.admin", ["orders.read"])
});

/// Typed claims as a resource server declares them, with the lenient
/// readers real providers need (`"1741"` or `1741`, `"false"` or `false`).
#[derive(Debug, Deserialize)]
pub struct TenantClaims {
    #[serde(
        rename = "tenantId",
        deserialize_with = "jwt_gate::de::string_or_number"
    )]
    pub tenant_id: String,
    #[serde(default, deserialize_with = "jwt_gate::de::option_bool_or_string")]
    pub admin: Option<bool>,
    #[serde(default, deserialize_with = "jwt_gate::de::one_or_many")]
    pub groups: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
}
