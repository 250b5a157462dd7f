//! Setup mistakes are `ConfigError`s, found when building and naming the
//! setting at fault: never an `Error` (which a handler's `?` would turn
//! into a 401 or a 503 for the client).

use std::time::Duration;

use jwt_gate::testing::SigningKey;
use jwt_gate::{
    Algorithm, ConfigError, IssuerBuilder, IssuerTemplate, KeySet, ProtectedResourceMetadata,
    Validator, ValidatorBuilder,
};

const ISSUER: &str = "https://auth.example.com/";

/// The error names `setting`, in its `Display` too, and says `why`.
#[track_caller]
fn names(err: ConfigError, setting: &str, why: &str) {
    assert_eq!(err.setting(), setting, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("invalid `{setting}`: ")),
        "{text}"
    );
    assert!(text.contains(why), "{text:?} does not say {why:?}");
}

fn good() -> ValidatorBuilder {
    Validator::builder().issuer(ISSUER).audience("api://orders")
}

#[test]
fn validator_builder_mistakes_name_their_setting() {
    assert!(good().build().is_ok());
    let cases: Vec<(ValidatorBuilder, &str, &str)> = vec![
        (
            Validator::builder().audience("api://orders"),
            "issuer",
            "no key source",
        ),
        (
            Validator::builder()
                .issuer("http://auth.example.com/")
                .audience("a"),
            "issuer",
            "allow_http",
        ),
        (
            Validator::builder()
                .issuer("http://10.0.0.7/")
                .audience("a")
                .allow_http(),
            "issuer",
            "loopback",
        ),
        (
            Validator::builder().issuer("not a url").audience("a"),
            "issuer",
            "invalid URL",
        ),
        (
            Validator::builder()
                .jwks_uri("ftp://auth.example.com/jwks")
                .audience("a"),
            "jwks_uri",
            "scheme",
        ),
        (
            Validator::builder().issuer(ISSUER),
            "audience",
            "every token",
        ),
        (good().algorithms([]), "algorithms", "empty"),
        (good().algorithms([Algorithm::HS256]), "algorithms", "HS*"),
        (good().max_token_bytes(0), "max_token_bytes", "0"),
        (good().fetch_timeout(Duration::ZERO), "fetch_timeout", "0"),
        (good().max_jwks_bytes(0), "max_jwks_bytes", "0"),
        (
            good().jwks_ttl_bounds(Duration::from_secs(60), Duration::from_secs(1)),
            "jwks_ttl_bounds",
            "above max",
        ),
        (
            good().retry_backoff(Duration::from_secs(9), Duration::from_secs(1)),
            "retry_backoff",
            "above max",
        ),
    ];
    for (builder, setting, why) in cases {
        names(builder.build().unwrap_err(), setting, why);
    }
    // HS* with a secret the application holds is no mistake.
    let keys = KeySet::new().with_secret(None, &[7; 32]).unwrap();
    assert!(
        Validator::builder()
            .keys(keys)
            .audience("a")
            .algorithms([Algorithm::HS256])
            .build()
            .is_ok()
    );
}

#[test]
fn multi_issuer_mistakes_name_their_setting() {
    let named = || IssuerBuilder::new().issuer(ISSUER).audience("a");
    let template = || IssuerTemplate::new("https://login.example.com/{tenant}/v2.0").unwrap();
    names(
        Validator::multi_issuer().build().unwrap_err(),
        "trust",
        "no issuer",
    );
    names(
        Validator::multi_issuer()
            .trust(IssuerBuilder::new().audience("a"))
            .build()
            .unwrap_err(),
        "trust",
        "names no issuer",
    );
    names(
        Validator::multi_issuer()
            .trust(named())
            .trust(named())
            .build()
            .unwrap_err(),
        "trust",
        "trusted twice",
    );
    names(
        Validator::multi_issuer()
            .trust_template(template(), named())
            .build()
            .unwrap_err(),
        "issuer",
        "the template does",
    );
    names(
        Validator::multi_issuer()
            .trust_template(
                IssuerTemplate::new("http://login.example.com/{tenant}").unwrap(),
                IssuerBuilder::new().audience("a"),
            )
            .build()
            .unwrap_err(),
        "trust_template",
        "allow_http",
    );
    // Each issuer's own checks, as for a single validator.
    names(
        Validator::multi_issuer()
            .trust(IssuerBuilder::new().issuer(ISSUER))
            .build()
            .unwrap_err(),
        "audience",
        "every token",
    );
    assert!(
        Validator::multi_issuer()
            .trust(named())
            .trust_template(template(), IssuerBuilder::new().audience("a"))
            .build()
            .is_ok()
    );
}

#[test]
fn issuer_template_mistakes_name_the_constructor() {
    names(
        IssuerTemplate::new("https://login.example.com/common").unwrap_err(),
        "IssuerTemplate::new",
        "no {tenant}",
    );
    names(
        IssuerTemplate::new("https://{tenant}.example.com/{tenant}").unwrap_err(),
        "IssuerTemplate::new",
        "more than one",
    );
}

#[test]
fn key_set_constructor_mistakes_name_the_constructor() {
    names(
        KeySet::from_jwks_json("{not json").unwrap_err(),
        "from_jwks_json",
        "not JSON",
    );
    names(
        KeySet::from_jwks_json(r#"{"kty":"RSA"}"#).unwrap_err(),
        "from_jwks_json",
        "no `keys` array",
    );
    names(
        KeySet::from_jwks(&serde_json::json!([])).unwrap_err(),
        "from_jwks",
        "no `keys` array",
    );
    names(
        KeySet::new()
            .with_pem(
                None,
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            )
            .unwrap_err(),
        "with_pem",
        "public key",
    );
    names(
        KeySet::new().with_pem(None, "hello").unwrap_err(),
        "with_pem",
        "not a PEM",
    );
    names(
        KeySet::new().with_secret(None, b"short").unwrap_err(),
        "with_secret",
        "shorter",
    );
}

#[test]
fn protected_resource_metadata_mistakes_name_the_resource() {
    for (resource, why) in [
        ("http://api.example.com/orders", "allow_http"),
        ("https://api.example.com/orders?x=1", "query"),
        ("https://api.example.com/orders#top", "fragment"),
        ("https://user:pw@api.example.com/orders", "user information"),
        ("/orders", "invalid URL"),
    ] {
        names(
            ProtectedResourceMetadata::builder(resource)
                .authorization_server(ISSUER)
                .build()
                .unwrap_err(),
            "resource",
            why,
        );
    }
}

#[test]
fn test_signer_mistakes_name_the_constructor() {
    names(
        SigningKey::from_pkcs8(Algorithm::ES512, b"not a key").unwrap_err(),
        "from_pkcs8",
        "ES512",
    );
    names(
        SigningKey::from_pkcs8(Algorithm::HS256, b"").unwrap_err(),
        "from_pkcs8",
        "HMAC",
    );
}
