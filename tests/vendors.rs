//! Tokens shaped like the identity providers in `../shared/seeds/`: one typed
//! struct reads them all.

mod common;

use common::*;
use jwt_gate::{Algorithm, Claims, Error, KeySet, UnixTime, Validation};
use serde_json::json;

#[test]
fn identityserver_token_with_rsa4096_string_flags_and_scope_array() {
    // Konexus / IdentityServer: typ at+jwt, kid and x5t, RSA-4096, JWKS keys
    // without `alg`, `scope` as an array, `admin` and `tenantId` as strings.
    let key = rsa4096();
    let mut jwk = key.jwk("88C75786E932527E73EE8C801676444A90AB96DERS256");
    jwk["x5t"] = json!("iMdXhukyUn5z7oyAFnZESpCrlt4");
    let keys = KeySet::from_jwks(&json!({ "keys": [jwk] })).unwrap();
    let issued = NOW - 60;
    let token = sign_with(
        &key,
        Algorithm::RS256,
        Some("88C75786E932527E73EE8C801676444A90AB96DERS256"),
        json!({"typ": "at+jwt", "x5t": "iMdXhukyUn5z7oyAFnZESpCrlt4"}),
        &json!({
            "iss": "https://auth.alertsense.com",
            "nbf": issued, "iat": issued, "exp": issued + 3600,
            "aud": "tamarack",
            "scope": ["tamarack"],
            "client_id": "ext-1741-sample-client",
            "admin": "false",
            "globalTenantId": "id.konexuscp",
            "name": "Konexus (CP) - Sample Third Party Authentication",
            "sub": "974899",
            "tenantId": "1741",
            "jti": "4DF8EF5B3AD8E5D109B392CC0EC26580",
        }),
    );
    let rules = Validation::new()
        .issuer("https://auth.alertsense.com")
        .audience("tamarack")
        .require_scopes(["tamarack"])
        .require_typ("at+jwt");
    let claims: Claims<TenantClaims> = jwt_gate::validate(&token, &keys, &rules, now()).unwrap();
    assert_eq!(claims.tenant_id, "1741");
    assert!(!claims.admin);
    assert_eq!(claims.subject(), Some("974899"));
    assert_eq!(claims.client_id(), Some("ext-1741-sample-client"));
    assert_eq!(claims.jwt_id(), Some("4DF8EF5B3AD8E5D109B392CC0EC26580"));
    assert!(claims.has_scope("tamarack"));
    assert_eq!(claims.issued_at(), Some(UnixTime::from_secs(issued)));
    // The same issuer without the trailing slash is a different issuer.
    let slash = rules.issuer("https://auth.alertsense.com/");
    assert!(matches!(
        jwt_gate::validate::<TenantClaims>(&token, &keys, &slash, now()),
        Err(Error::InvalidIssuer)
    ));
}

#[test]
fn auth0_token_with_trailing_slash_issuer_audience_array_and_scope_string() {
    // Konquest / Auth0 device flow: issuer with a trailing slash, `aud` an
    // array with the userinfo audience, scope a string, valid 24 h.
    let key = rsa2048();
    let keys = key.key_set("auth0-kid");
    let issued = NOW - 3600;
    let token = sign_with(
        &key,
        Algorithm::RS256,
        Some("auth0-kid"),
        json!({"typ": "JWT"}),
        &json!({
            "iss": "https://auth.konquest.io/",
            "sub": "email|64b1f0c2",
            "aud": ["https://konquest-prod-konquest-web-app-api.konquest.io/api", "https://auth.konquest.io/userinfo"],
            "iat": issued,
            "exp": issued + 86_400,
            "scope": "openid profile email offline_access",
            "azp": "SmwPVzMiMmHNu7HWBWEwbsIlKID7lbbk",
            "tenantId": 1741,
            "admin": true,
        }),
    );
    let rules = Validation::new()
        .issuer("https://auth.konquest.io/")
        .audience("https://konquest-prod-konquest-web-app-api.konquest.io/api")
        .require_scopes(["openid", "offline_access"]);
    let claims: Claims<TenantClaims> = jwt_gate::validate(&token, &keys, &rules, now()).unwrap();
    assert_eq!(claims.tenant_id, "1741");
    assert!(claims.admin);
    assert_eq!(claims.audiences().len(), 2);
    assert_eq!(claims.scopes().len(), 4);
    // Valid for its whole 24 hours, then expired.
    let end = UnixTime::from_secs(issued + 86_400 + 60);
    assert!(matches!(
        jwt_gate::validate::<TenantClaims>(&token, &keys, &rules, end),
        Err(Error::Expired { .. })
    ));
    // The issuer without its trailing slash is a different issuer.
    let no_slash = rules.issuer("https://auth.konquest.io");
    assert!(matches!(
        jwt_gate::validate::<TenantClaims>(&token, &keys, &no_slash, now()),
        Err(Error::InvalidIssuer)
    ));
}

#[test]
fn the_published_identityserver_token_reaches_key_selection() {
    // The access token printed in the Konexus docs (signature by a key we do
    // not have): its structure and header parse; it stops at the key.
    let seed = "eyJhbGciOiJSUzI1NiIsImtpZCI6Ijg4Qzc1Nzg2RTkzMjUyN0U3M0VFOEM4MDE2NzY0NDRBOTBBQjk2REVSUzI1NiIsIng1dCI6ImlNZFhodWt5VW41ejdveUFGblpFU3BDcmx0NCIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOiJodHRwczovL2F1dGguYWxlcnRzZW5zZS5jb20iLCJuYmYiOjE3NTM4MTcyNDIsImlhdCI6MTc1MzgxNzI0MiwiZXhwIjoxNzUzODIwODQyLCJhdWQiOiJ0YW1hcmFjayIsInNjb3BlIjpbInRhbWFyYWNrIl0sImNsaWVudF9pZCI6ImV4dC0xNzQxLXNhbXBsZS1jbGllbnQiLCJhZG1pbiI6ImZhbHNlIiwiZ2xvYmFsVGVuYW50SWQiOiJpZC5rb25leHVzY3AiLCJuYW1lIjoiS29uZXh1cyAoQ1ApIC0gU2FtcGxlIFRoaXJkIFBhcnR5IEF1dGhlbnRpY2F0aW9uIiwic3ViIjoiOTc0ODk5IiwidGVuYW50SWQiOiIxNzQxIiwianRpIjoiNERGOEVGNUIzQUQ4RTVEMTA5QjM5MkNDMEVDMjY1ODAifQ.Th-XrKJE72CWb8NArGmc4ZzQt9NSvpmgZwun4qV9YatH9dvv17OsFbwt1tBgTHx1jtVPyZ9kudNRKvWy713wQxhFlqnIEwk6RUIBR9Y3iWtozMexw81-33CUIrbKLYnQJ02kpMumpMtbcSBfs0muX7SHLYEORSuudngIKZwVHPTi3n70nk8eojAuesn9KnqLANPY1Th65sBa1bdWlbfUztCyP4fQFHgkFPLqlhRiB6tDYQgVnCAZLsy7Hbe5LEjuf6YkXePYKm1InVh56uJWTQl-fPbyDa6h4nch9FJlpha49aoK-nzbsvmDD9HSxoQt7uwIh_BtmO4wiHR2fGDdAJ2D4p-cTi6dXsqSVsu0kVD6-3ylqz88K1AxVCcSKRRWai6mIF0oBRsIaebIxjYjjZBCQByigfI_E2e_dZeh9-2S-SRp5jw4qaro6JcOcAedS9GB0sfmCwERgfBXXOaiFDnHCnZC91XLA1CgdP0J7dZPO0P7zhSMcNojSYnqoIo-YSSrwdNAaX7kUmUB8Zsgs6_ykyPSAd4x8hxcMKz3NH5seKm0hvQr3pLJj31QUGjrKrhBB-FvtzEBKC4td7d-Tvf6AcBVlP11OTjFQNxquhnHx4CZc-I6Kub1YGzu225E9uGhLuzg0qqA92mvfzpsnGrdG-fRYhzXCpO0ANi-s10";
    let keys = rsa4096().key_set("some-other-kid");
    let rules = Validation::new()
        .issuer("https://auth.alertsense.com")
        .audience("tamarack");
    let err =
        jwt_gate::validate::<TenantClaims>(seed, &keys, &rules, UnixTime::from_secs(1_753_817_300))
            .unwrap_err();
    let Error::UnknownKey { kid: Some(kid) } = err else {
        panic!("{err:?}")
    };
    assert_eq!(&*kid, "88C75786E932527E73EE8C801676444A90AB96DERS256");
    // With our key under its kid, the signature (made by another key) fails.
    let keys = rsa4096().key_set("88C75786E932527E73EE8C801676444A90AB96DERS256");
    let err =
        jwt_gate::validate::<TenantClaims>(seed, &keys, &rules, UnixTime::from_secs(1_753_817_300))
            .unwrap_err();
    assert!(matches!(err, Error::InvalidSignature));
}
