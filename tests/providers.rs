//! The provider presets against tokens shaped exactly like each provider's
//! documented samples (claim sets copied from the page cited above each
//! one; only the times are made current), signed by a `TestIssuer` whose
//! JWK Set the validator fetches over HTTP. Each provider's token passes
//! through its preset, and the typical mistakes are refused with the error
//! that names them.

mod common;

use axum::Router;
use axum::routing::get;
use common::serve;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{
    Claims, Error, JwtAuthLayer, RequireRoles, UnixTime, Validator, ValidatorBuilder, providers,
};
use serde_json::{Value, json};

/// The preset, its keys fetched from `issuer`'s JWK Set (the provider's
/// own issuer URL is kept for the `iss` check), no token cache so that
/// every call verifies.
fn with_keys_of(issuer: &TestIssuer, preset: ValidatorBuilder) -> Validator {
    preset
        .jwks_uri(issuer.jwks_uri())
        .allow_http()
        .token_cache(0, 0)
        .build()
        .unwrap()
}

/// `claims` with `iat`/`nbf`/`auth_time` a minute ago and `exp` in an
/// hour, wherever the sample has them (and `exp` always).
fn current(mut claims: Value) -> Value {
    let now = UnixTime::now().as_secs();
    for (name, at) in [
        ("iat", now - 60),
        ("nbf", now - 60),
        ("auth_time", now - 60),
    ] {
        if claims.get(name).is_some() {
            claims[name] = at.into();
        }
    }
    claims["exp"] = (now + 3600).into();
    claims
}

/// A token with exactly `claims` (made current) and the header `typ`
/// the provider sends (`None`: no `typ`, as Cognito and Okta).
fn token(issuer: &TestIssuer, typ: Option<&str>, claims: Value) -> String {
    issuer
        .token()
        .header("typ", typ)
        .claims(current(claims))
        .sign()
}

/// A token of `sample` with `patch` merged in (see [`patched`]).
fn variant(issuer: &TestIssuer, typ: Option<&str>, sample: &Value, patch: Value) -> String {
    token(issuer, typ, patched(sample, patch))
}

/// `sample` with `patch` merged in (`null` removes a member).
fn patched(sample: &Value, patch: Value) -> Value {
    let mut out = sample.clone();
    for (name, value) in patch.as_object().unwrap() {
        if value.is_null() {
            out.as_object_mut().unwrap().remove(name);
        } else {
            out[name] = value.clone();
        }
    }
    out
}

async fn check(validator: &Validator, token: &str) -> Result<Claims, Error> {
    validator.validate::<()>(token).await
}

/// `validator` refuses `token` with an error matching `pattern`.
macro_rules! refused {
    ($validator:expr, $token:expr, $pattern:pat) => {{
        let result = check($validator, &$token).await;
        assert!(matches!(result, Err($pattern)), "{result:?}");
    }};
}

// --- Amazon Cognito ---------------------------------------------------------

const COGNITO_ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE";

/// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
/// ("Access token payload"): no `aud`, `client_id`, `token_use`.
fn cognito_access() -> Value {
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["admin"],
        "iss": COGNITO_ISS,
        "version": 2,
        "client_id": "1example23456789",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "bbbbbbbb-cccc-dddd-eeee-ffffffffffff",
        "token_use": "access",
        "scope": "phone openid profile resourceserver.1/appclient2 email",
        "auth_time": 1676313851,
        "exp": 1676317451,
        "iat": 1676313851,
        "jti": "cccccccc-dddd-eeee-ffff-aaaaaaaaaaaa",
        "username": "my-test-user"
    })
}

/// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html
/// ("ID token payload"): `aud` is the app client, `token_use` is `id`.
fn cognito_id() -> Value {
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["test-group-a", "test-group-b", "test-group-c"],
        "email_verified": true,
        "cognito:preferred_role": "arn:aws:iam::111122223333:role/my-test-role",
        "iss": COGNITO_ISS,
        "cognito:username": "my-test-user",
        "middle_name": "Jane",
        "nonce": "abcdefg",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:roles": ["arn:aws:iam::111122223333:role/my-test-role"],
        "aud": "1example23456789",
        "event_id": "64f513be-32db-42b0-b78e-b02127b4f463",
        "token_use": "id",
        "auth_time": 1676312777,
        "exp": 1676316377,
        "iat": 1676312777,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "email": "my-test-user@example.com"
    })
}

fn cognito() -> ValidatorBuilder {
    providers::cognito("us-east-1", "us-east-1_EXAMPLE", ["1example23456789"])
}

#[tokio::test]
async fn cognito_access_tokens_pass_without_aud_and_id_tokens_do_not() {
    let issuer = TestIssuer::start().await;
    let validator = with_keys_of(&issuer, cognito());
    let claims = check(&validator, &token(&issuer, None, cognito_access()))
        .await
        .unwrap();
    assert_eq!(claims.client_id(), Some("1example23456789"));
    assert!(claims.has_role("admin"), "cognito:groups are the roles");
    assert!(claims.has_scope("resourceserver.1/appclient2"));

    // An ID token at an API: refused as one (its `nonce`), before its
    // missing `client_id` is looked at.
    let id = token(&issuer, None, cognito_id());
    refused!(&validator, id, Error::InvalidType);
    // Without its `nonce` and with a client id added, `token_use` betrays it.
    let id = variant(
        &issuer,
        None,
        &cognito_id(),
        json!({"client_id": "1example23456789", "nonce": null}),
    );
    refused!(&validator, id, Error::ClaimMismatch { .. });
    // An access token of another app client of the same pool.
    let other = variant(
        &issuer,
        None,
        &cognito_access(),
        json!({"client_id": "another-app-client"}),
    );
    refused!(&validator, other, Error::InvalidClient);
    // Another pool (or region) is another issuer.
    let pool = variant(
        &issuer,
        None,
        &cognito_access(),
        json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER"}),
    );
    refused!(&validator, pool, Error::InvalidIssuer);
}

#[test]
fn cognito_mistakes_are_found_at_build() {
    let err = providers::cognito("eu-west-1", "us-east-1_EXAMPLE", ["c"])
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "providers::cognito");
    assert!(err.reason().contains("region"), "{err}");
    let err = providers::cognito("us-east-1", "EXAMPLE", ["c"])
        .build()
        .unwrap_err();
    assert!(err.reason().contains("user pool id"), "{err}");
    let err = providers::cognito("us-east-1", "us-east-1_EXAMPLE", Vec::<String>::new())
        .build()
        .unwrap_err();
    assert!(err.reason().contains("client id"), "{err}");
    assert!(cognito().build().is_ok());
}

// --- Microsoft Entra ID -----------------------------------------------------

const TENANT_A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_B: &str = "9122040d-6c67-4c5b-b112-36a304b66dad";
const ENTRA_APP: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const ENTRA_APP_URI: &str = "api://orders";

fn v2_issuer(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
/// (the v2.0 sample token): `aud` is the app's client id, `scp`, `tid`.
fn entra_v2(tenant: &str) -> Value {
    json!({
        "aud": ENTRA_APP,
        "iss": v2_issuer(tenant),
        "iat": 1537231048,
        "nbf": 1537231048,
        "exp": 1537234948,
        "aio": "AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOcAnNZcjvkoyrFxCttv33140RioOFJ4bCCGVuoCag1uOTT22222gHwLPYQ/uf79QX+0KIijdrmp69RctzmQ==",
        "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "azpacr": "0",
        "name": "Abe Lincoln",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "abeli@microsoft.com",
        "rh": "I",
        "scp": "access_as_user",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": tenant,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0"
    })
}

/// The same page's v1.0 shape: `iss` on sts.windows.net, `aud` the
/// Application ID URI, `appid`; here an app-only (client credentials)
/// token, whose application permissions are in `roles`.
fn entra_v1_app(tenant: &str) -> Value {
    json!({
        "aud": ENTRA_APP_URI,
        "iss": v1_issuer(tenant),
        "iat": 1537231048,
        "nbf": 1537231048,
        "exp": 1537234948,
        "aio": "E2ZgYJj8tnbtO7n3VXd8hUZ4hqCxAAA=",
        "appid": "f6a1a0a2-8f0c-4f8e-a7a4-6a5f7f35f3d0",
        "appidacr": "1",
        "idp": format!("https://sts.windows.net/{tenant}/"),
        "idtyp": "app",
        "oid": "c2e3ad32-8c69-4a5e-8a4f-1e0b5b8a0c11",
        "rh": "0.AAAA",
        "roles": ["Orders.Read.All"],
        "sub": "c2e3ad32-8c69-4a5e-8a4f-1e0b5b8a0c11",
        "tid": tenant,
        "uti": "X2ZgYJj8tnbtO7n3VXd8AA",
        "ver": "1.0"
    })
}

/// A v2.0 ID token of the same app (aud = the client id): `nonce`.
/// https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference
fn entra_id_token(tenant: &str) -> Value {
    json!({
        "aud": ENTRA_APP,
        "iss": v2_issuer(tenant),
        "iat": 1536275124,
        "nbf": 1536275124,
        "exp": 1536279024,
        "aio": "AXQAi/8IAAAAqxsuB+R4D2rFQqOETO4YdXbLD9kZ8xfXadeAM0Q2NkNT5izfg3uwbWSXhuSSj6UT5hy2D6WqApB5jKA6ZgZ9k/SU27uV9cetXfLOtpNttgk5DcBtk+LLstz/Jg+gYRmv9bUU4XlphTc6C86Jmj1FCw==",
        "name": "Abe Lincoln",
        "nonce": "123523",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "abeli@microsoft.com",
        "rh": "I",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": tenant,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0"
    })
}

fn entra(tenant: &str) -> ValidatorBuilder {
    providers::entra(tenant).audiences([ENTRA_APP, ENTRA_APP_URI])
}

#[tokio::test]
async fn entra_v1_and_v2_tokens_of_one_tenant_both_pass() {
    let issuer = TestIssuer::start().await;
    // The tenant's keys name their issuer, as Entra's v2.0 key sets do.
    issuer.set_key_member("key-1", "issuer", json!(v2_issuer(TENANT_A)));
    let validator = with_keys_of(&issuer, entra(TENANT_A));
    let user = check(&validator, &token(&issuer, Some("JWT"), entra_v2(TENANT_A)))
        .await
        .unwrap();
    assert!(user.has_scope("access_as_user"));
    let app = check(
        &validator,
        &token(&issuer, Some("JWT"), entra_v1_app(TENANT_A)),
    )
    .await
    .unwrap();
    assert_eq!(app.issuer(), Some(v1_issuer(TENANT_A).as_str()));
    assert!(
        app.has_role("Orders.Read.All"),
        "app permissions are in roles"
    );
    assert!(!app.has_scope("Orders.Read.All"));

    // Another tenant's token, whichever spelling.
    for iss in [v2_issuer(TENANT_B), v1_issuer(TENANT_B)] {
        let other = variant(
            &issuer,
            Some("JWT"),
            &entra_v2(TENANT_A),
            json!({"iss": iss}),
        );
        refused!(&validator, other, Error::InvalidIssuer);
    }
    // `tid` must be the tenant's.
    let tid = variant(
        &issuer,
        Some("JWT"),
        &entra_v2(TENANT_A),
        json!({"tid": TENANT_B}),
    );
    refused!(&validator, tid, Error::ClaimMismatch { .. });
    // An ID token of the same app registration passes aud; not the guard.
    let id = token(&issuer, Some("JWT"), entra_id_token(TENANT_A));
    refused!(&validator, id, Error::InvalidType);
}

#[tokio::test]
async fn entra_multi_tenant_keys_vouch_only_for_their_issuer() {
    let issuer = TestIssuer::start().await;
    // Tenants A and B on the shared key set (served by `issuer`).
    let multi_tenant = || {
        Validator::multi_issuer()
            .trust_template(
                providers::entra_tenants().tenants([TENANT_A, TENANT_B]),
                providers::entra_common()
                    .jwks_uri(issuer.jwks_uri())
                    .allow_http()
                    .audiences([ENTRA_APP, ENTRA_APP_URI]),
            )
            .token_cache(0, 0)
            .build()
            .unwrap()
    };
    let validator = multi_tenant();

    // A key of tenant A's own (literal issuer), in the shared key set.
    issuer.set_key_member("key-1", "issuer", json!(v2_issuer(TENANT_A)));
    let a = token(&issuer, Some("JWT"), entra_v2(TENANT_A));
    assert!(check(&validator, &a).await.is_ok());
    // Tenant B's token signed by tenant A's key: refused.
    let b = token(&issuer, Some("JWT"), entra_v2(TENANT_B));
    refused!(&validator, b, Error::InvalidIssuer);
    let b_v1 = token(&issuer, Some("JWT"), entra_v1_app(TENANT_B));
    refused!(&validator, b_v1, Error::InvalidIssuer);

    // The common keys: `{tenantid}` stands for the token's `tid`.
    issuer.set_key_member(
        "key-1",
        "issuer",
        json!("https://login.microsoftonline.com/{tenantid}/v2.0"),
    );
    // The validator holds the old key set until it refetches: a fresh one.
    let validator = multi_tenant();
    assert!(check(&validator, &b).await.is_ok(), "v2.0 of tenant B");
    let app = check(&validator, &b_v1).await.unwrap();
    assert!(app.has_role("Orders.Read.All"), "v1.0 of tenant B");
    // `iss` of tenant B with `tid` of tenant A: the chain is broken.
    let mixed = variant(
        &issuer,
        Some("JWT"),
        &entra_v2(TENANT_B),
        json!({"tid": TENANT_A}),
    );
    refused!(&validator, mixed, Error::InvalidIssuer);
    let mixed_v1 = variant(
        &issuer,
        Some("JWT"),
        &entra_v1_app(TENANT_B),
        json!({"tid": TENANT_A}),
    );
    refused!(&validator, mixed_v1, Error::InvalidIssuer);
    // A tenant the template does not admit, before any key is used.
    let c = token(
        &issuer,
        Some("JWT"),
        entra_v2("00000000-1111-2222-3333-444444444444"),
    );
    refused!(&validator, c, Error::InvalidIssuer);
}

#[test]
fn entra_mistakes_are_found_at_build() {
    for tenant in [
        "contoso.onmicrosoft.com",
        "common",
        "organizations",
        "72f988bf",
    ] {
        let err = entra(tenant).build().unwrap_err();
        assert_eq!(err.setting(), "providers::entra", "{tenant}");
    }
    // A template's rules name no issuer; entra_common() alone cannot build
    // a validator (it would trust every tenant).
    let err = Validator::multi_issuer()
        .trust(providers::entra_common().audience(ENTRA_APP))
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "trust");
    assert!(entra(&TENANT_A.to_uppercase()).build().is_ok());
}

// --- Keycloak ---------------------------------------------------------------

const KEYCLOAK_ISS: &str = "https://sso.example.com/realms/myrealm";

/// A Keycloak access token as the admin console's "Evaluate" tab and
/// https://www.keycloak.org/docs/latest/server_admin/#audience-support show
/// it: `typ: Bearer`, `azp`, `aud: account`, realm and client roles.
fn keycloak_access() -> Value {
    json!({
        "exp": 1700000300,
        "iat": 1700000000,
        "auth_time": 1699999990,
        "jti": "onrtac:2b6bb3fa-6b4c-4d3e-9d5a-0f9a1c2e8f11",
        "iss": KEYCLOAK_ISS,
        "aud": "account",
        "sub": "f1b2c3d4-e5f6-7a8b-9c0d-1e2f3a4b5c6d",
        "typ": "Bearer",
        "azp": "orders-web",
        "sid": "0b8e4f2a-1c3d-4e5f-8a9b-7c6d5e4f3a2b",
        "acr": "1",
        "allowed-origins": ["https://orders.example.com"],
        "realm_access": {"roles": ["offline_access", "uma_authorization", "default-roles-myrealm", "manager"]},
        "resource_access": {
            "orders-api": {"roles": ["orders-admin"]},
            "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}
        },
        "scope": "openid email profile",
        "email_verified": true,
        "preferred_username": "jane"
    })
}

fn keycloak() -> ValidatorBuilder {
    providers::keycloak("https://sso.example.com/", "myrealm").client_ids(["orders-web"])
}

#[tokio::test]
async fn keycloak_access_tokens_pass_by_azp_and_other_token_types_do_not() {
    let issuer = TestIssuer::start().await;
    let validator = with_keys_of(
        &issuer,
        keycloak().roles_from("resource_access.orders-api.roles"),
    );
    let claims = check(&validator, &token(&issuer, Some("JWT"), keycloak_access()))
        .await
        .unwrap();
    assert_eq!(claims.client_id(), Some("orders-web"));
    assert!(claims.has_role("manager"), "realm role");
    assert!(claims.has_role("orders-admin"), "client role");
    assert!(!claims.has_role("view-profile"), "another client's role");

    // Keycloak's ID token: same issuer and keys, `typ: ID`, `aud` = client.
    let id = patched(
        &keycloak_access(),
        json!({"typ": "ID", "aud": "orders-web", "at_hash": "x4sNZr6VZbpk7BQpS2yKdA",
               "realm_access": null, "resource_access": null, "scope": null}),
    );
    let id = token(&issuer, Some("JWT"), id);
    refused!(&validator, id, Error::InvalidType);
    // A refresh token (were it signed with the realm's key).
    let refresh = variant(
        &issuer,
        Some("JWT"),
        &keycloak_access(),
        json!({"typ": "Refresh"}),
    );
    refused!(&validator, refresh, Error::ClaimMismatch { .. });
    // Another client of the realm.
    let other = variant(
        &issuer,
        Some("JWT"),
        &keycloak_access(),
        json!({"azp": "admin-cli"}),
    );
    refused!(&validator, other, Error::InvalidClient);
    // Another realm on the same server.
    let realm = variant(
        &issuer,
        Some("JWT"),
        &keycloak_access(),
        json!({"iss": "https://sso.example.com/realms/master"}),
    );
    refused!(&validator, realm, Error::InvalidIssuer);
    // Roles of the wrong shape: a typed error, no panic.
    let bad = variant(
        &issuer,
        Some("JWT"),
        &keycloak_access(),
        json!({"realm_access": {"roles": "manager admin"}, "resource_access": []}),
    );
    refused!(&validator, bad, Error::InvalidClaims { .. });
}

/// Keycloak 23+ marks a DPoP-bound access token with the payload `typ`
/// `DPoP` (keycloak#21919) and binds it with `cnf.jkt`: the preset accepts
/// it with its proof, refuses it as a bearer token, and still refuses
/// `Refresh`.
#[tokio::test]
async fn keycloak_dpop_bound_tokens_pass_with_their_proof() {
    let issuer = TestIssuer::start().await;
    let validator = keycloak()
        .jwks_uri(issuer.jwks_uri())
        .allow_http()
        .dpop(jwt_gate::dpop::Dpop::allowed().public_origin("https://api.example.com"))
        .build()
        .unwrap();
    let key = jwt_gate::testing::DpopKey::generate(jwt_gate::Algorithm::ES256);
    let bound = variant(
        &issuer,
        Some("JWT"),
        &keycloak_access(),
        json!({"typ": "DPoP", "cnf": {"jkt": key.thumbprint()}}),
    );
    let request = |auth: String, proof: Option<String>| {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", auth.parse().unwrap());
        if let Some(proof) = proof {
            headers.insert("dpop", proof.parse().unwrap());
        }
        headers
    };
    let uri: http::Uri = "/orders".parse().unwrap();
    let proof = key
        .proof("GET", "https://api.example.com/orders")
        .access_token(&bound)
        .sign();
    let verified = validator
        .validate_request::<()>(
            &http::Method::GET,
            &uri,
            &request(format!("DPoP {bound}"), Some(proof)),
        )
        .await
        .unwrap();
    assert_eq!(verified.claims().dpop_thumbprint(), Some(key.thumbprint()));
    assert!(verified.claims().has_role("manager"));
    let as_bearer = validator
        .validate_request::<()>(
            &http::Method::GET,
            &uri,
            &request(format!("Bearer {bound}"), None),
        )
        .await;
    assert!(
        matches!(as_bearer, Err(Error::UnverifiedBinding)),
        "{as_bearer:?}"
    );
    // `typ` stays checked: a refresh token is no access token, bound or not.
    let refresh = variant(
        &issuer,
        Some("JWT"),
        &keycloak_access(),
        json!({"typ": "Refresh", "cnf": {"jkt": key.thumbprint()}}),
    );
    let proof = key
        .proof("GET", "https://api.example.com/orders")
        .access_token(&refresh)
        .sign();
    let refused = validator
        .validate_request::<()>(
            &http::Method::GET,
            &uri,
            &request(format!("DPoP {refresh}"), Some(proof)),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::ClaimMismatch { .. })),
        "{refused:?}"
    );
}

#[test]
fn keycloak_mistakes_are_found_at_build() {
    for (base, realm) in [
        ("https://sso.example.com/realms/myrealm", "myrealm"),
        ("https://sso.example.com", ""),
        ("https://sso.example.com", "my/realm"),
        ("https://sso.example.com?x=1", "myrealm"),
    ] {
        let err = providers::keycloak(base, realm)
            .client_ids(["c"])
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "providers::keycloak", "{base} {realm}");
    }
    // Plain http needs allow_http, as for any issuer.
    let err = providers::keycloak("http://sso.example.com", "myrealm")
        .client_ids(["c"])
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "issuer");
}

// --- Auth0 ------------------------------------------------------------------

/// https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
/// (the "Auth0 token profile" sample), with the `permissions` that
/// https://auth0.com/docs/get-started/apis/enable-role-based-access-control-for-apis
/// adds when RBAC is on.
fn auth0_access() -> Value {
    json!({
        "iss": "https://my-domain.auth0.com/",
        "sub": "auth0|123456",
        "aud": ["https://example.com/health-api", "https://my-domain.auth0.com/userinfo"],
        "azp": "my_client_id",
        "exp": 1311281970,
        "iat": 1311280970,
        "scope": "openid profile read:patients read:admin",
        "permissions": ["read:patients", "read:admin"]
    })
}

#[tokio::test]
async fn auth0_permissions_guard_routes_over_http() {
    let issuer = TestIssuer::start().await;
    let validator = with_keys_of(
        &issuer,
        providers::auth0("https://my-domain.auth0.com").audience("https://example.com/health-api"),
    );
    let app = Router::new()
        .route(
            "/patients",
            get(|| async { "patients" }).layer(RequireRoles::all(["read:patients"])),
        )
        .route(
            "/billing",
            get(|| async { "billing" }).layer(RequireRoles::all(["write:billing"])),
        )
        .layer(JwtAuthLayer::new(validator.clone()).realm("health"));
    let base = serve(app).await;
    let good = token(&issuer, Some("JWT"), auth0_access());
    let call = |path: &'static str, token: String| {
        let base = base.clone();
        async move {
            let res = reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let challenge = res
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), challenge)
        }
    };
    assert_eq!(call("/patients", good.clone()).await, (200, None));
    assert_eq!(
        call("/billing", good).await,
        (
            403,
            Some(r#"Bearer realm="health", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token""#.to_owned())
        )
    );
    // Without the trailing slash, `iss` is another issuer.
    let slashless = variant(
        &issuer,
        Some("JWT"),
        &auth0_access(),
        json!({"iss": "https://my-domain.auth0.com"}),
    );
    refused!(&validator, slashless, Error::InvalidIssuer);
    let (status, _) = call("/patients", slashless).await;
    assert_eq!(status, 401);
    // An Auth0 ID token for the SPA: aud = client id, nonce.
    let id = patched(
        &auth0_access(),
        json!({"aud": "my_client_id", "nonce": "n-0S6_WzA2Mj", "scope": null, "permissions": null}),
    );
    let validator_spa = with_keys_of(
        &issuer,
        providers::auth0("my-domain.auth0.com")
            .audiences(["https://example.com/health-api", "my_client_id"]),
    );
    assert!(matches!(
        check(&validator_spa, &token(&issuer, Some("JWT"), id)).await,
        Err(Error::InvalidType)
    ));
}

// --- Okta -------------------------------------------------------------------

/// https://developer.okta.com/docs/reference/api/oidc/#access-token (the
/// sample payload): `cid`, `uid`, `scp` as an array, `ver: 1`.
fn okta_access() -> Value {
    json!({
        "ver": 1,
        "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
        "iss": "https://example.okta.com/oauth2/default",
        "aud": "api://default",
        "sub": "00ujmkLgagxeRrAg20g3",
        "iat": 1467145094,
        "exp": 1467148694,
        "cid": "nmdP1fcyvdVO11AL7ECm",
        "uid": "00ujmkLgagxeRrAg20g3",
        "scp": ["openid", "email", "flights", "custom"],
        "auth_time": 1467142021,
        "custom_claim": "CustomValue"
    })
}

#[tokio::test]
async fn okta_tokens_name_the_client_in_cid_and_scopes_in_scp() {
    let issuer = TestIssuer::start().await;
    let validator = with_keys_of(
        &issuer,
        providers::okta("example.okta.com", "default")
            .audience("api://default")
            .client_ids(["nmdP1fcyvdVO11AL7ECm"])
            .require_scopes(["flights"]),
    );
    let claims = check(&validator, &token(&issuer, None, okta_access()))
        .await
        .unwrap();
    assert_eq!(claims.client_id(), Some("nmdP1fcyvdVO11AL7ECm"));
    assert!(claims.has_scope("custom"));
    // Missing the required scope.
    let narrow = variant(
        &issuer,
        None,
        &okta_access(),
        json!({"scp": ["openid", "email"]}),
    );
    refused!(&validator, narrow, Error::InsufficientScope { .. });
    // A token of the org authorization server (for Okta's own APIs).
    let org = variant(
        &issuer,
        None,
        &okta_access(),
        json!({"iss": "https://example.okta.com", "aud": "https://example.okta.com"}),
    );
    refused!(&validator, org, Error::InvalidIssuer);
    // Another client.
    let other = variant(
        &issuer,
        None,
        &okta_access(),
        json!({"cid": "0oa1otherclient"}),
    );
    refused!(&validator, other, Error::InvalidClient);
}

// --- Zitadel ----------------------------------------------------------------

/// A JWT access token with the roles claim of
/// https://zitadel.com/docs/apis/openidoauth/claims (role → {org id: org
/// domain}), and the client and audience members the same table lists.
fn zitadel_access() -> Value {
    json!({
        "iss": "https://my-instance-abc123.zitadel.cloud",
        "sub": "231035556318987011",
        "aud": ["231035556318987012", "231035556318987013@orders"],
        "exp": 1700003600,
        "iat": 1700000000,
        "nbf": 1700000000,
        "jti": "231035556318987099",
        "client_id": "231035556318987013@orders",
        "azp": "231035556318987013@orders",
        "urn:zitadel:iam:org:project:roles": {
            "user": {"231035556318987010": "acme.zitadel.cloud"},
            "reviewer": {"231035556318987010": "acme.zitadel.cloud"}
        }
    })
}

#[tokio::test]
async fn zitadel_roles_are_the_keys_of_the_role_object() {
    let issuer = TestIssuer::start().await;
    let validator = with_keys_of(
        &issuer,
        providers::zitadel("https://my-instance-abc123.zitadel.cloud/")
            .audience("231035556318987012"),
    );
    let app = Router::new()
        .route(
            "/review",
            get(|| async { "review" }).layer(RequireRoles::any(["reviewer", "admin"])),
        )
        .route(
            "/admin",
            get(|| async { "admin" }).layer(RequireRoles::all(["admin"])),
        )
        .layer(JwtAuthLayer::new(validator.clone()));
    let base = serve(app).await;
    let good = token(&issuer, Some("JWT"), zitadel_access());
    let status = |path: &'static str, token: String| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/review", good.clone()).await, 200);
    assert_eq!(status("/admin", good.clone()).await, 403);
    let claims = check(&validator, &good).await.unwrap();
    assert!(claims.has_role("user") && claims.has_role("reviewer"));
    assert!(
        !claims.has_role("231035556318987010"),
        "org ids are not roles"
    );
    // The role object as an array of strings is read too; of numbers it is
    // a typed error.
    let odd = variant(
        &issuer,
        Some("JWT"),
        &zitadel_access(),
        json!({"urn:zitadel:iam:org:project:roles": [1, 2]}),
    );
    refused!(&validator, odd, Error::InvalidClaims { .. });
    assert_eq!(status("/review", odd).await, 401);
}

// --- Google -----------------------------------------------------------------

/// https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload
/// (the sample ID token payload; `email_verified` as the string the page shows).
fn google_id(iss: &str) -> Value {
    json!({
        "iss": iss,
        "azp": "1234987819200.apps.googleusercontent.com",
        "aud": "1234987819200.apps.googleusercontent.com",
        "sub": "10769150350006150715113082367",
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "hd": "example.com",
        "email": "jsmith@example.com",
        "email_verified": "true",
        "iat": 1353601026,
        "exp": 1353604926,
        "nonce": "0394852-3190485-2490358"
    })
}

#[tokio::test]
async fn google_id_tokens_pass_with_either_iss_spelling() {
    let issuer = TestIssuer::start().await;
    let validator = with_keys_of(
        &issuer,
        providers::google()
            .audience("1234987819200.apps.googleusercontent.com")
            .require_claim("hd", "example.com"),
    );
    for iss in ["https://accounts.google.com", "accounts.google.com"] {
        let claims = check(&validator, &token(&issuer, Some("JWT"), google_id(iss)))
            .await
            .unwrap();
        assert_eq!(claims.issuer(), Some(iss));
    }
    for iss in ["https://accounts.google.com/", "http://accounts.google.com"] {
        let wrong = token(&issuer, Some("JWT"), google_id(iss));
        refused!(&validator, wrong, Error::InvalidIssuer);
    }
    // Another Workspace domain, another client's audience.
    let hd = patched(
        &google_id("accounts.google.com"),
        json!({"hd": "evil.example"}),
    );
    assert!(matches!(
        check(&validator, &token(&issuer, Some("JWT"), hd)).await,
        Err(Error::ClaimMismatch { .. })
    ));
    let aud = patched(
        &google_id("accounts.google.com"),
        json!({"aud": "999.apps.googleusercontent.com"}),
    );
    assert!(matches!(
        check(&validator, &token(&issuer, Some("JWT"), aud)).await,
        Err(Error::InvalidAudience)
    ));
}

// --- Presets next to other issuers -----------------------------------------

#[tokio::test]
async fn presets_join_a_multi_issuer_validator() {
    let issuer = TestIssuer::start().await;
    let keyed = |preset: ValidatorBuilder| preset.jwks_uri(issuer.jwks_uri()).allow_http().into();
    let validator = Validator::multi_issuer()
        .trust(keyed(cognito()))
        .trust(keyed(
            providers::google().audience("1234987819200.apps.googleusercontent.com"),
        ))
        .token_cache(0, 0)
        .build()
        .unwrap();
    assert!(
        check(&validator, &token(&issuer, None, cognito_access()))
            .await
            .is_ok()
    );
    // Both of Google's spellings route to the Google issuer.
    for iss in ["https://accounts.google.com", "accounts.google.com"] {
        let google = token(&issuer, Some("JWT"), google_id(iss));
        assert!(check(&validator, &google).await.is_ok(), "{iss}");
    }
    // A Cognito ID token is still refused: the preset's rules came along.
    let id = token(&issuer, None, cognito_id());
    assert!(check(&validator, &id).await.is_err());
    // An alias taken twice is a setup error.
    let err = Validator::multi_issuer()
        .trust(providers::google().audience("a").into())
        .trust(
            jwt_gate::IssuerBuilder::new()
                .issuer("accounts.google.com")
                .audience("a"),
        )
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "trust");
}
