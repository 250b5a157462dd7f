//! Claim rules beyond the audience: accepted clients (Cognito has no `aud`),
//! required claim values, a maximum age, and the ID-token guard; in
//! `validate()`, through a `Validator` and on verified-token cache hits.

mod common;

use std::time::Duration;

use common::*;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, Error, UnixTime, Validation, Validator};
use serde_json::{Value, json};

fn check(claims: &Value, rules: &Validation) -> Result<Claims, Error> {
    let key = rsa2048();
    jwt_gate::validate(&sign(&key, claims), &key.key_set("k1"), rules, now())
}

/// Rules with an issuer and no audience: each test adds what it needs.
fn issuer_only() -> Validation {
    Validation::new().issuer(ISSUER)
}

#[test]
fn client_ids_stand_in_for_a_missing_audience() {
    // Cognito access token shape: client_id, token_use, no aud.
    let cognito = claims_with(
        json!({"aud": null, "client_id": "7lhlkkfbfb4q5kpp90urffao", "token_use": "access"}),
    );
    let rules = issuer_only().client_ids(["7lhlkkfbfb4q5kpp90urffao"]);
    let claims = check(&cognito, &rules).unwrap();
    assert_eq!(claims.client_id(), Some("7lhlkkfbfb4q5kpp90urffao"));
    // Another app client of the same pool.
    let other = claims_with(json!({"aud": null, "client_id": "another-app-client"}));
    assert!(matches!(check(&other, &rules), Err(Error::InvalidClient)));
    // No client at all.
    let none = claims_with(json!({"aud": null, "client_id": null}));
    assert!(matches!(check(&none, &rules), Err(Error::InvalidClient)));
    // Neither audience nor client configured: still refused.
    assert!(matches!(
        check(&cognito, &issuer_only()),
        Err(Error::InvalidAudience)
    ));
}

#[test]
fn the_client_is_client_id_else_azp_else_cid() {
    let rules = rules().client_ids(["web"]);
    let keycloak = claims_with(json!({"client_id": null, "azp": "web"}));
    assert_eq!(check(&keycloak, &rules).unwrap().client_id(), Some("web"));
    let okta = claims_with(json!({"client_id": null, "cid": "web"}));
    assert_eq!(check(&okta, &rules).unwrap().client_id(), Some("web"));
    // client_id wins over azp: an `azp` cannot smuggle in another client.
    let both = claims_with(json!({"client_id": "other", "azp": "web"}));
    assert!(matches!(check(&both, &rules), Err(Error::InvalidClient)));
    // With an audience configured as well, both must match.
    let wrong_aud = claims_with(json!({"client_id": "web", "aud": "api://other"}));
    assert!(matches!(
        check(&wrong_aud, &rules),
        Err(Error::InvalidAudience)
    ));
    // A client claim of the wrong JSON type is an error, never a pass.
    for bad in [
        json!({"azp": 7}),
        json!({"cid": ["web"]}),
        json!({"azp": null, "client_id": {"id": "web"}}),
    ] {
        assert!(
            matches!(
                check(&claims_with(bad.clone()), &rules),
                Err(Error::InvalidClaims { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn required_claims_hold_a_string_or_an_array_member() {
    let rules = rules()
        .require_claim("token_use", "access")
        .require_claim("groups", "orders-admins");
    let good = claims_with(json!({"token_use": "access", "groups": ["staff", "orders-admins"]}));
    assert!(check(&good, &rules).is_ok());
    for (patch, claim) in [
        (
            json!({"token_use": "id", "groups": ["orders-admins"]}),
            "token_use",
        ),
        (json!({"groups": ["orders-admins"]}), "token_use"),
        (json!({"token_use": "access", "groups": "staff"}), "groups"),
        (
            json!({"token_use": ["access"], "groups": {"orders-admins": true}}),
            "groups",
        ),
        (
            json!({"token_use": 1, "groups": ["orders-admins"]}),
            "token_use",
        ),
    ] {
        let got = check(&claims_with(patch.clone()), &rules);
        assert!(
            matches!(&got, Err(Error::ClaimMismatch { claim: c }) if &**c == claim),
            "{patch}: {got:?}"
        );
    }
    // A registered claim can be required too (read as such on the one
    // pass, looked up again for the rule), and a rule on a member your
    // claims type also reads leaves that type whole.
    let registered = common::rules()
        .require_claim("azp", "orders-web")
        .require_claim("client_id", "orders-web");
    assert!(check(&claims_with(json!({"azp": "orders-web"})), &registered).is_ok());
    assert!(matches!(
        check(&claims_with(json!({"azp": "other"})), &registered),
        Err(Error::ClaimMismatch { .. })
    ));
    let key = rsa2048();
    let token = sign(&key, &good);
    let typed =
        jwt_gate::validate::<serde_json::Value>(&token, &key.key_set("k1"), &rules, now()).unwrap();
    assert_eq!(typed.custom()["groups"], json!(["staff", "orders-admins"]));
    assert_eq!(typed.custom()["token_use"], "access");
    let err = check(&claims_with(json!({"token_use": "id"})), &rules).unwrap_err();
    assert_eq!(err.status(), 401);
    assert_eq!(err.bearer_code(), Some("invalid_token"));
    assert_eq!(
        err.description(),
        "The access token claims are not accepted"
    );
}

#[test]
fn a_token_older_than_max_age_is_refused() {
    let rules = rules()
        .max_age(Duration::from_secs(600))
        .leeway(Duration::from_secs(60));
    let at = |iat: u64| claims_with(json!({"iat": iat, "nbf": iat}));
    assert!(check(&at(NOW - 600), &rules).is_ok());
    assert!(check(&at(NOW - 660), &rules).is_ok(), "leeway applies");
    assert!(matches!(
        check(&at(NOW - 661), &rules),
        Err(Error::TooOld { iat, now }) if iat == UnixTime::from_secs(NOW - 661) && now == common::now()
    ));
    // A maximum age makes `iat` required.
    let no_iat = claims_with(json!({"iat": null}));
    assert!(matches!(
        check(&no_iat, &rules),
        Err(Error::InvalidClaims {
            claim: Some("iat"),
            ..
        })
    ));
    // Duration::MAX saturates: never too old.
    assert!(check(&at(1), &rules.max_age(Duration::MAX)).is_ok());
}

#[test]
fn id_tokens_are_refused_when_the_guard_is_on() {
    let guarded = rules().refuse_id_tokens();
    for marker in [
        json!({"nonce": "n-0S6_WzA2Mj"}),
        json!({"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}),
        json!({"c_hash": "LDktKdoQak3Pk0cnXxCltA"}),
        json!({"typ": "ID"}),
    ] {
        let token = claims_with(marker.clone());
        assert!(
            matches!(check(&token, &guarded), Err(Error::InvalidType)),
            "{marker}"
        );
        assert!(check(&token, &rules()).is_ok(), "off by default: {marker}");
    }
    // Keycloak access tokens say `typ: Bearer`.
    assert!(check(&claims_with(json!({"typ": "Bearer"})), &guarded).is_ok());
}

#[tokio::test]
async fn max_age_and_client_rules_hold_on_cache_hits_and_in_build() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .allow_http()
        .client_ids(["test-client"])
        .max_age(Duration::from_secs(3))
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    // TestIssuer's tokens: client_id "test-client", no audience; issued 2 s
    // ago, so too old about a second from now.
    let iat = UnixTime::now().as_secs() - 2;
    let token = issuer.token().claim("iat", iat).sign();
    let claims: Claims = validator.validate(&token).await.unwrap();
    assert_eq!(claims.client_id(), Some("test-client"));
    let _: Claims = validator.validate(&token).await.unwrap();
    assert_eq!(validator.token_cache_stats().hits, 1);
    // Past the maximum age, the cached token is refused too.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(matches!(
        validator.validate::<()>(&token).await,
        Err(Error::TooOld { .. })
    ));
    let other = issuer.token().claim("client_id", "someone-else").sign();
    assert!(matches!(
        validator.validate::<()>(&other).await,
        Err(Error::InvalidClient)
    ));
    // A client list is enough to build without an audience; nothing is not.
    let err = Validator::builder()
        .issuer(issuer.issuer())
        .allow_http()
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "audience");
    assert!(err.to_string().contains("client_ids()"), "{err}");
}

#[test]
fn a_custom_check_sees_any_claim_and_refuses_with_a_typed_error() {
    let rules = rules().check_claims(|claims| match claims.get::<String>("tenantId") {
        Ok(Some(tenant)) if tenant == "tenant-42" => Ok(()),
        Ok(_) => Err("tenant not served here"),
        Err(_) => Err("tenantId is not a string"),
    });
    assert!(check(&claims(), &rules).is_ok());
    for (patch, reason) in [
        (json!({"tenantId": "tenant-7"}), "tenant not served here"),
        (json!({"tenantId": null}), "tenant not served here"),
        (json!({"tenantId": 42}), "tenantId is not a string"),
    ] {
        let got = check(&claims_with(patch.clone()), &rules);
        assert!(
            matches!(&got, Err(Error::ClaimCheck { reason: r }) if *r == reason),
            "{patch}: {got:?}"
        );
    }
    let claims = check(&claims(), &rules).unwrap();
    assert_eq!(claims.get::<bool>("admin").unwrap(), Some(false));
    assert_eq!(claims.get::<String>("missing").unwrap(), None);
    assert!(matches!(
        claims.get::<u64>("tenantId"),
        Err(Error::InvalidClaims { .. })
    ));
}

#[tokio::test]
async fn a_revoked_token_is_refused_fresh_and_on_a_cache_hit() {
    use std::collections::HashSet;
    use std::sync::{Arc, RwLock};
    let issuer = TestIssuer::start().await;
    let revoked: Arc<RwLock<HashSet<String>>> = Arc::default();
    let list = Arc::clone(&revoked);
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api")
        .allow_http()
        .revoked_when(move |claims| {
            claims
                .jwt_id()
                .is_some_and(|jti| list.read().unwrap().contains(jti))
        })
        .build()
        .unwrap();
    let token = issuer.token().audience("api").claim("jti", "t-1").sign();
    let _: Claims = validator.validate(&token).await.unwrap();
    let _: Claims = validator.validate(&token).await.unwrap();
    assert_eq!(
        validator.token_cache_stats().hits,
        1,
        "now served from the cache"
    );
    revoked.write().unwrap().insert("t-1".to_owned());
    // The cached token is refused from now on, in both paths.
    assert!(matches!(
        validator.validate::<()>(&token).await,
        Err(Error::Revoked)
    ));
    assert!(matches!(
        validator.validate_without_waiting::<()>(&token),
        Err(Error::Revoked)
    ));
    let fresh = issuer
        .token()
        .audience("api")
        .claim("jti", "t-1")
        .expires_in(Duration::from_secs(99))
        .sign();
    assert!(matches!(
        validator.validate::<()>(&fresh).await,
        Err(Error::Revoked)
    ));
    let other = issuer.token().audience("api").claim("jti", "t-2").sign();
    assert!(validator.validate::<()>(&other).await.is_ok());
    let err = Error::Revoked;
    assert_eq!(
        (err.status().as_u16(), err.bearer_code()),
        (401, Some("invalid_token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_tokens_and_subjects_are_validated_afresh() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api")
        .allow_http()
        .build()
        .unwrap();
    let of = |sub: &str| issuer.token().audience("api").subject(sub).sign();
    let (a1, a2, b) = (of("alice"), of("alice"), of("bob"));
    // Three uses each: the third is served from the thread's own copy.
    for token in [&a1, &a2, &b] {
        for _ in 0..3 {
            let _: Claims = validator.validate(token).await.unwrap();
        }
    }
    let misses = |v: &Validator| v.token_cache_stats().misses;
    assert_eq!(misses(&validator), 3);
    validator.forget_token(&b);
    let _: Claims = validator.validate(&b).await.unwrap();
    assert_eq!(misses(&validator), 4, "a forgotten token is verified again");
    assert_eq!(validator.forget_subject("alice"), 2);
    for token in [&a1, &a2] {
        let _: Claims = validator.validate(token).await.unwrap();
    }
    assert_eq!(
        misses(&validator),
        6,
        "both of alice's tokens verified again"
    );
    let _: Claims = validator.validate(&b).await.unwrap();
    assert_eq!(misses(&validator), 6, "bob's token stays cached");
    assert_eq!(validator.forget_subject("nobody"), 0);
}

/// Entra ID publishes an `issuer` per key
/// (https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer):
/// a key verifies only tokens of that issuer, `{tenantid}` standing for
/// the token's `tid`.
#[test]
fn a_key_bound_to_an_issuer_verifies_only_that_issuers_tokens() {
    const TENANT_A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const TENANT_B: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let key = rsa2048();
    let keys_with_issuer = |issuer: &str| {
        let mut jwk = key.jwk("k1");
        jwk["issuer"] = json!(issuer);
        jwt_gate::KeySet::from_jwks(&json!({ "keys": [jwk] })).unwrap()
    };
    let token = |iss: String, tid: Option<&str>| {
        let mut claims = claims_with(json!({ "iss": iss }));
        if let Some(tid) = tid {
            claims["tid"] = json!(tid);
        }
        sign(&key, &claims)
    };
    let v2 = |tenant: &str| format!("https://login.microsoftonline.com/{tenant}/v2.0");
    let v1 = |tenant: &str| format!("https://sts.windows.net/{tenant}/");
    let rules = Validation::new().audience(AUDIENCE);
    let check =
        |token: &str, keys: &jwt_gate::KeySet| jwt_gate::validate::<()>(token, keys, &rules, now());

    // A multi-tenant (common) key: any tenant, as long as iss and tid agree.
    let common = keys_with_issuer("https://login.microsoftonline.com/{tenantid}/v2.0");
    assert!(check(&token(v2(TENANT_A), Some(TENANT_A)), &common).is_ok());
    assert!(check(&token(v2(TENANT_B), Some(TENANT_B)), &common).is_ok());
    // Entra publishes keys with the v2.0 issuer only: a v1.0 token is
    // checked as its tenant's v2.0 issuer, its `tid` being that tenant.
    assert!(check(&token(v1(TENANT_A), Some(TENANT_A)), &common).is_ok());
    for bad in [
        token(v2(TENANT_B), Some(TENANT_A)),
        token(v2(TENANT_A), None),
        token(v1(TENANT_A), Some(TENANT_B)),
        token(v1(TENANT_A), None),
        token(
            format!("https://sts.windows.net/{TENANT_A}"),
            Some(TENANT_A),
        ),
    ] {
        assert!(matches!(check(&bad, &common), Err(Error::InvalidIssuer)));
    }
    // A key of tenant A never verifies a token claiming tenant B.
    let tenant_a = keys_with_issuer(&v2(TENANT_A));
    assert!(check(&token(v2(TENANT_A), Some(TENANT_A)), &tenant_a).is_ok());
    assert!(check(&token(v1(TENANT_A), Some(TENANT_A)), &tenant_a).is_ok());
    for other in [v2(TENANT_B), v1(TENANT_B)] {
        assert!(matches!(
            check(&token(other, Some(TENANT_B)), &tenant_a),
            Err(Error::InvalidIssuer)
        ));
    }
    // v1 keys name the v1 issuer.
    let v1_keys = keys_with_issuer("https://sts.windows.net/{tenantid}/");
    assert!(check(&token(v1(TENANT_A), Some(TENANT_A)), &v1_keys).is_ok());
    // A key without `issuer` is not bound (every other provider).
    assert!(check(&token(v2(TENANT_B), Some(TENANT_B)), &key.key_set("k1")).is_ok());
    // An `issuer` of the wrong JSON type makes the JWK unusable.
    let mut jwk = key.jwk("k1");
    jwk["issuer"] = json!(["x"]);
    let keys = jwt_gate::KeySet::from_jwks(&json!({ "keys": [jwk] })).unwrap();
    assert!(keys.is_empty());
}

#[test]
fn a_scope_hierarchy_is_opt_in_and_one_level_deep() {
    let broad = claims_with(json!({"scope": "orders"}));
    let needs_read = rules().require_scopes(["orders.read"]);
    assert!(matches!(
        check(&broad, &needs_read),
        Err(Error::InsufficientScope { .. })
    ));
    let hierarchy = needs_read
        .implied_scopes("orders", ["orders.read", "orders.write"])
        .implied_scopes("orders.write", ["orders.delete"]);
    let claims = check(&broad, &hierarchy).unwrap();
    assert_eq!(
        claims.scopes().to_string(),
        "orders orders.read orders.write"
    );
    assert!(
        !claims.has_scope("orders.delete"),
        "implied scopes imply nothing further"
    );
    // The narrow scope does not grant the broad one.
    let narrow = claims_with(json!({"scope": "orders.read"}));
    let claims = check(&narrow, &hierarchy).unwrap();
    assert!(!claims.has_scope("orders"));
}
