//! `validate()` never panics: arbitrary bytes, and real tokens mutated;
//! nor does a multi-issuer `Validator`, which reads `iss` before verifying.

mod common;

use common::*;
use jwt_gate::{Algorithm, Error, KeySet, Validation};
use proptest::prelude::*;
use serde_json::Value;

/// Keys and tokens are made once: signing per case would dominate the run.
static FIXTURE: std::sync::LazyLock<(KeySet, Vec<String>)> = std::sync::LazyLock::new(make_fixture);

fn keys_and_tokens() -> (KeySet, Vec<String>) {
    FIXTURE.clone()
}

fn make_fixture() -> (KeySet, Vec<String>) {
    let rsa = rsa2048();
    let ec = p256();
    let ed = ed25519();
    let hmac = hmac_key(32);
    let keys = KeySet::from_jwks(&serde_json::json!({"keys": [rsa.jwk("rsa"), ec.jwk("ec"), ed.jwk("ed"), hmac.jwk("hmac")]})).unwrap();
    let tokens = vec![
        sign_with(
            &rsa,
            Algorithm::RS256,
            Some("rsa"),
            serde_json::json!({"typ": "at+jwt"}),
            &claims(),
        ),
        sign_with(
            &ec,
            Algorithm::ES256,
            Some("ec"),
            serde_json::json!({}),
            &claims(),
        ),
        sign_with(
            &ed,
            Algorithm::EdDSA,
            Some("ed"),
            serde_json::json!({}),
            &claims(),
        ),
        sign_with(
            &hmac,
            Algorithm::HS256,
            Some("hmac"),
            serde_json::json!({}),
            &claims(),
        ),
    ];
    (keys, tokens)
}

fn lax_rules() -> Validation {
    rules().algorithms([
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::HS256,
    ])
}

/// Two issuers with static keys, the verified-token cache on.
static MULTI: std::sync::LazyLock<jwt_gate::Validator> = std::sync::LazyLock::new(|| {
    let (keys, _) = keys_and_tokens();
    let trust = |issuer: &str| {
        // The fixture's tokens are dated `NOW`: a leeway of decades keeps
        // them valid by the system clock.
        jwt_gate::IssuerBuilder::new()
            .validation(lax_rules())
            .issuer(issuer)
            .keys(keys.clone())
            .leeway(std::time::Duration::from_secs(u64::from(u32::MAX)))
    };
    jwt_gate::Validator::multi_issuer()
        .trust(trust(ISSUER))
        .trust(trust("https://other.example.com"))
        .build()
        .unwrap()
});

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, u8),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(token: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut b = token.as_bytes().to_vec();
    for m in mutations {
        if b.is_empty() {
            break;
        }
        let len = b.len();
        match *m {
            Mutation::Flip(i, x) => b[i % len] ^= x,
            Mutation::Delete(i, n) => {
                let i = i % len;
                b.drain(i..(i + n).min(len));
            }
            Mutation::Insert(i, x) => b.insert(i % (len + 1), x),
            Mutation::Truncate(i) => b.truncate(i % len),
            Mutation::Duplicate(i, n) => {
                let i = i % len;
                let piece = b[i..(i + n).min(len)].to_vec();
                b.splice(i..i, piece);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (keys, _) = keys_and_tokens();
        let s = String::from_utf8_lossy(&bytes);
        let _ = jwt_gate::validate::<Value>(&s, &keys, &lax_rules(), now());
        let _ = jwt_gate::validate::<()>(&s, &keys, &lax_rules(), now());
        let _ = MULTI.validate_without_waiting::<()>(&s);
    }

    #[test]
    fn mutated_real_tokens_never_panic_and_never_pass_changed(
        which in 0usize..4,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (keys, tokens) = keys_and_tokens();
        let token = &tokens[which];
        prop_assert!(MULTI.validate_without_waiting::<Value>(token).is_ok());
        let mutated = String::from_utf8_lossy(&apply(token, &mutations)).into_owned();
        let got = jwt_gate::validate::<Value>(&mutated, &keys, &lax_rules(), now());
        let (input, _) = token.rsplit_once('.').unwrap();
        if MULTI.validate_without_waiting::<Value>(&mutated).is_ok() {
            prop_assert!(mutated.starts_with(input), "passed the multi-issuer validator: {mutated}");
        }
        if let Ok(claims) = got {
            // Only a change that leaves the signed bytes equal can pass
            // (e.g. a mutation undone by a later one, or ECDSA malleability is
            // impossible here: bytes differ in the signature only).
            prop_assert!(mutated.starts_with(input), "a changed header or payload passed: {mutated}");
            prop_assert_eq!(claims.subject(), Some("user-1234"));
        }
    }

    #[test]
    fn base64url_segments_of_arbitrary_json_never_panic(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        payload in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let (keys, _) = keys_and_tokens();
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64([0u8; 64]));
        let _ = jwt_gate::validate::<Value>(&token, &keys, &lax_rules(), now());
        let _ = MULTI.validate_without_waiting::<Value>(&token);
    }

    /// Signed payloads whose rule-relevant members hold any JSON shape: the
    /// claim rules answer with a typed error or accept only what they allow.
    #[test]
    fn claim_rules_on_any_json_shape_never_panic_and_hold_when_accepted(
        client_id in json_value(), azp in json_value(), token_use in json_value(),
        typ in json_value(), nonce in proptest::option::of(json_value()),
        iat_back in 0u64..2000,
    ) {
        let key = hmac_key(32);
        let mut payload = claims_with(serde_json::json!({
            "client_id": client_id, "azp": azp, "token_use": token_use,
            "typ": typ, "iat": NOW - iat_back, "nbf": NOW - iat_back,
        }));
        if let Some(nonce) = nonce {
            payload["nonce"] = nonce;
        }
        let token = sign(&key, &payload);
        let rules = lax_rules()
            .client_ids(["orders-web"])
            .require_claim("token_use", "access")
            .max_age(std::time::Duration::from_secs(600))
            .refuse_id_tokens();
        if let Ok(claims) = jwt_gate::validate::<Value>(&token, &key.key_set("k1"), &rules, now()) {
            prop_assert_eq!(claims.client_id(), Some("orders-web"));
            prop_assert!(iat_back <= 660);
            prop_assert!(payload.get("nonce").is_none());
            let use_ok = match &payload["token_use"] {
                Value::String(s) => s == "access",
                Value::Array(a) => a.iter().any(|v| v == "access"),
                _ => false,
            };
            prop_assert!(use_ok);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Role claims of any JSON shape at every kind of path (an array, a
    /// nested member, Zitadel's object, a path through non-objects): a
    /// typed error or roles that are exactly strings found there.
    #[test]
    fn role_paths_on_any_json_shape_never_panic_and_read_only_strings(
        roles in json_value(), realm_access in role_holder(), zitadel in json_value(),
        deep in role_holder(),
    ) {
        let key = hmac_key(32);
        let payload = claims_with(serde_json::json!({
            "roles": roles, "realm_access": realm_access,
            "urn:zitadel:iam:org:project:roles": zitadel, "a": {"b": deep},
        }));
        let token = sign(&key, &payload);
        let rules = lax_rules()
            .roles_from("roles")
            .roles_from("realm_access.roles")
            .roles_from("urn:zitadel:iam:org:project:roles")
            .roles_from("a.b.roles");
        match jwt_gate::validate::<Value>(&token, &key.key_set("k1"), &rules, now()) {
            Ok(claims) => {
                let text = payload.to_string();
                for role in claims.roles().iter() {
                    prop_assert!(text.contains(&Value::from(role).to_string()), "{role:?} not in {text}");
                }
            }
            Err(e) => prop_assert!(matches!(e, Error::InvalidClaims { .. }), "{e:?}"),
        }
    }
}

/// An object that may hold `roles` of any shape, or any JSON value.
fn role_holder() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        json_value().prop_map(|roles| serde_json::json!({ "roles": roles })),
    ]
}

/// Roles in bulk and in depth: huge arrays, deep nesting, duplicate members.
#[test]
fn huge_deep_and_duplicated_role_claims_are_typed_errors_or_bounded() {
    let key = hmac_key(32);
    let keys = key.key_set("k1");
    let rules = lax_rules()
        .max_token_bytes(1 << 20)
        .roles_from("roles")
        .roles_from("a.b.c");
    let check = |payload: &str| {
        let header = br#"{"alg":"HS256","kid":"k1"}"#;
        let token = sign_raw(&key, Algorithm::HS256, header, payload.as_bytes());
        jwt_gate::validate::<()>(&token, &keys, &rules, now())
    };
    let base = claims().to_string();
    let with = |extra: &str| format!("{},{extra}}}", &base[..base.len() - 1]);
    // 50 000 roles: read, all of them.
    let many: Vec<String> = (0..50_000).map(|i| format!("r{i}")).collect();
    let claims = check(&with(&format!(r#""roles":{}"#, serde_json::json!(many)))).unwrap();
    assert_eq!(claims.roles().len(), 50_000);
    assert!(claims.has_role("r49999"));
    // Nesting far past the path, and past serde's recursion limit.
    for depth in [10, 200, 5000] {
        let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let result = check(&with(&format!(r#""roles":{nested}"#)));
        assert!(
            matches!(
                result,
                Err(Error::InvalidClaims { .. } | Error::MalformedToken { .. })
            ),
            "depth {depth}: {result:?}"
        );
        let deep_obj = format!("{}1{}", r#"{"c":"#.repeat(depth), "}".repeat(depth));
        // At `a.b.c` an object: its keys are the roles (Zitadel's form).
        match check(&with(&format!(r#""a":{{"b":{deep_obj}}}"#))) {
            Ok(claims) => assert_eq!(claims.roles().to_string(), "c", "depth {depth}"),
            Err(e) => assert!(
                matches!(
                    e,
                    Error::InvalidClaims { .. } | Error::MalformedToken { .. }
                ),
                "depth {depth}: {e:?}"
            ),
        }
    }
    // A path through a string, a number, an array.
    for a in [r#""a":"b""#, r#""a":{"b":7}"#, r#""a":[{"b":{"c":["x"]}}]"#] {
        assert!(
            matches!(check(&with(a)), Err(Error::InvalidClaims { .. })),
            "{a}"
        );
    }
    // Duplicate members, at the top and inside the path.
    for dup in [
        r#""roles":["a"],"roles":["b"]"#,
        r#""a":{"b":{"c":["x"],"c":["y"]}}"#,
        r#""a":{"b":{"c":["x"]},"b":{"c":["y"]}}"#,
    ] {
        let result = check(&with(dup));
        assert!(
            matches!(
                result,
                Err(Error::MalformedToken { .. } | Error::InvalidClaims { .. })
            ),
            "{dup}: {result:?}"
        );
    }
}

/// Any JSON value, a few levels deep (null when removed from the claims).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("access".to_owned()),
            Just("orders-web".to_owned()),
            Just("ID".to_owned()),
            ".{0,8}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(".{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// DPoP proofs: a good one for GET https://api.example.com/orders with
/// `DPOP_TOKEN`, made once (ES256 and EdDSA keys).
const DPOP_URL: &str = "https://api.example.com/orders";
const DPOP_TOKEN: &str = "an.access.token";

static PROOFS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    [p256(), ed25519(), rsa2048()]
        .into_iter()
        .map(|key| {
            jwt_gate::testing::DpopKey::from_signing_key(key)
                .proof("GET", DPOP_URL)
                .access_token(DPOP_TOKEN)
                .issued_at(now())
                .sign()
        })
        .collect()
});

fn check_proof(proof: &str) -> Result<jwt_gate::dpop::DpopProof, Error> {
    jwt_gate::dpop::verify_proof(
        proof,
        &jwt_gate::dpop::ProofRequest::new("GET", DPOP_URL, DPOP_TOKEN),
        &jwt_gate::dpop::DpopRules::new(),
        now(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_proofs_never_panic_and_never_pass(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        let s = String::from_utf8_lossy(&bytes);
        prop_assert!(check_proof(&s).is_err());
    }

    #[test]
    fn mutated_proofs_never_panic_and_never_pass_changed(
        which in 0usize..3,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let proof = &PROOFS[which];
        prop_assert!(check_proof(proof).is_ok());
        let mutated = String::from_utf8_lossy(&apply(proof, &mutations)).into_owned();
        if check_proof(&mutated).is_ok() {
            let (input, _) = proof.rsplit_once('.').unwrap();
            prop_assert!(mutated.starts_with(input), "a changed proof passed: {mutated}");
        }
    }

    #[test]
    fn proofs_of_arbitrary_json_never_panic(
        header in json_value(),
        claims in json_value(),
    ) {
        // Signed for real, so the checks after the signature run too.
        let key = p256();
        let mut header = header;
        if let Value::Object(h) = &mut header {
            h.insert("typ".into(), "dpop+jwt".into());
            h.insert("alg".into(), "ES256".into());
            h.insert("jwk".into(), jwt_gate::testing::DpopKey::from_signing_key(p256()).public_jwk().clone());
        }
        let proof = key.sign_raw(Algorithm::ES256, header.to_string().as_bytes(), claims.to_string().as_bytes());
        let _ = check_proof(&proof);
    }
}

/// A certificate-bound token (far `exp`: the validator reads the system
/// clock) and the DER it is bound to.
static BOUND: std::sync::LazyLock<(String, Vec<u8>)> = std::sync::LazyLock::new(|| {
    let der = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let thumbprint = jwt_gate::mtls::ClientCertificate::from_der(&der)
        .thumbprint()
        .to_owned();
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "s", "exp": 4_102_444_800u64,
        "cnf": {"x5t#S256": thumbprint},
    });
    let token = sign_with(
        &hmac_key(32),
        Algorithm::HS256,
        Some("hmac"),
        serde_json::json!({}),
        &claims,
    );
    (token, der)
});

/// Header-value bytes: visible ASCII, space, tab and obs-text.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::char::range(' ', '~').prop_map(|c| c as u8),
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
        ],
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Any bytes a proxy header can hold, in any format: a typed refusal
    /// of the bound token (never a panic, never a pass), and no effect on
    /// an unbound one.
    #[test]
    fn proxy_certificate_headers_never_panic_and_never_pass(
        format in prop_oneof![
            Just(jwt_gate::mtls::HeaderFormat::ByteSequence),
            Just(jwt_gate::mtls::HeaderFormat::EnvoyXfcc),
            Just(jwt_gate::mtls::HeaderFormat::EscapedPem),
            Just(jwt_gate::mtls::HeaderFormat::Base64Der),
        ],
        values in proptest::collection::vec(header_bytes(), 1..3),
    ) {
        let (token, _) = &*BOUND;
        let validator = jwt_gate::Validator::builder()
            .keys(hmac_key(32).key_set("hmac"))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .algorithms([Algorithm::HS256])
            .certificate_binding(
                jwt_gate::mtls::CertificateBinding::allowed().from_header("x-cert", format),
            )
            .build()
            .unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        for value in &values {
            headers.append("x-cert", http::HeaderValue::from_bytes(value).unwrap());
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let uri = http::Uri::from_static("/");
        let result = runtime
            .block_on(validator.validate_request::<()>(&http::Method::GET, &uri, &headers));
        prop_assert!(matches!(result, Err(Error::CertificateMismatch { .. })), "{result:?}");
    }
}
