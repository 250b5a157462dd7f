//! Bad input of every kind gets a typed error, never a panic.

mod common;

use std::time::Duration;

use common::*;
use jwt_gate::{Algorithm, Claims, Error, KeySet, UnixTime, Validation};
use serde_json::{Value, json};

fn check(token: &str, keys: &KeySet, rules: &Validation) -> Result<Claims, Error> {
    jwt_gate::validate::<()>(token, keys, rules, now())
}

macro_rules! assert_err {
    ($result:expr, $pat:pat) => {{
        let result = $result;
        assert!(
            matches!(result, Err($pat)),
            "got {:?}",
            result.map(|_| "accepted")
        );
    }};
}

fn header_payload_sig(token: &str) -> (&str, &str, &str) {
    let mut it = token.split('.');
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

#[test]
fn a_good_token_of_every_algorithm_is_accepted() {
    for (key, algs) in [
        (
            rsa2048(),
            vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
        ),
        (rsa4096(), vec![Algorithm::RS256, Algorithm::PS512]),
        (p256(), vec![Algorithm::ES256]),
        (p384(), vec![Algorithm::ES384]),
        (ed25519(), vec![Algorithm::EdDSA]),
        (TestKey::generate(Algorithm::ES512), vec![Algorithm::ES512]),
    ] {
        let keys = key.key_set("k1");
        for alg in algs {
            let token = sign_with(&key, alg, Some("k1"), json!({}), &claims());
            let got = check(&token, &keys, &rules());
            assert!(got.is_ok(), "{alg:?}: {got:?}");
        }
    }
    let hmac = hmac_key(64);
    let keys = hmac.key_set("k1");
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let token = sign_with(&hmac, alg, Some("k1"), json!({}), &claims());
        assert!(
            check(&token, &keys, &rules().algorithms([alg])).is_ok(),
            "{alg:?}"
        );
    }
}

// ---- algorithms ----

#[test]
fn alg_none_in_any_spelling_is_refused_even_when_unsigned() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "kid": "k1"}).to_string();
        for sig in ["", "c2ln"] {
            let token = format!("{}.{}.{sig}", b64(&header), b64(claims().to_string()));
            assert_err!(
                check(&token, &keys, &rules()),
                Error::DisallowedAlgorithm { alg: None }
            );
        }
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused_in_every_form() {
    let key = rsa2048();
    let pem = pub_pem("rsa2048");
    let der = {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap()
    };
    let jwk = key.jwk("k1").to_string();
    let from_pem = KeySet::new().with_pem(Some("k1"), &pem).unwrap();
    let from_jwk = key.key_set("k1");
    for secret in [pem.as_bytes(), &der[..], jwk.as_bytes()] {
        let forged = sign_with(
            &TestKey::hmac(Algorithm::HS256, secret),
            Algorithm::HS256,
            Some("k1"),
            json!({}),
            &claims(),
        );
        for keys in [&from_pem, &from_jwk] {
            // Default allow-list: HS256 is not in it.
            assert_err!(
                check(&forged, keys, &rules()),
                Error::DisallowedAlgorithm {
                    alg: Some(Algorithm::HS256)
                }
            );
            // Even allowed explicitly, an RSA key never serves HS256.
            let lax = rules().algorithms([Algorithm::HS256, Algorithm::RS256]);
            assert_err!(check(&forged, keys, &lax), Error::UnknownKey { .. });
        }
    }
}

#[test]
fn alg_outside_the_allow_list_is_refused() {
    let key = p256();
    let token = sign(&key, &claims());
    assert_err!(
        check(
            &token,
            &key.key_set("k1"),
            &rules().algorithms([Algorithm::RS256])
        ),
        Error::DisallowedAlgorithm {
            alg: Some(Algorithm::ES256)
        }
    );
    for alg in ["ES256K", "RS1", "HS1", "rs256", "RS256 ", "", "A128KW"] {
        let header = json!({"alg": alg}).to_string();
        let token = format!("{}.{}.c2ln", b64(header), b64(claims().to_string()));
        assert_err!(
            check(&token, &key.key_set("k1"), &rules()),
            Error::DisallowedAlgorithm { alg: None }
        );
    }
}

#[test]
fn header_alg_other_than_the_jwk_alg_finds_no_key() {
    let key = rsa2048();
    let mut jwk = key.jwk("k1");
    jwk["alg"] = json!("RS256");
    let keys = KeySet::from_jwks(&json!({"keys": [jwk]})).unwrap();
    let ps = sign_with(&key, Algorithm::PS256, Some("k1"), json!({}), &claims());
    assert_err!(check(&ps, &keys, &rules()), Error::UnknownKey { .. });
    let rs = sign_with(&key, Algorithm::RS256, Some("k1"), json!({}), &claims());
    assert!(check(&rs, &keys, &rules()).is_ok());
}

// ---- key selection and JWK hygiene ----

fn keys_with(jwk: Value) -> KeySet {
    KeySet::from_jwks(&json!({"keys": [jwk]})).unwrap()
}

#[test]
fn jwk_for_encryption_or_without_verify_is_skipped() {
    let key = p256();
    let token = sign(&key, &claims());
    for patch in [
        json!({"use": "enc"}),
        json!({"key_ops": ["encrypt"]}),
        json!({"key_ops": []}),
        json!({"use": 1}),
    ] {
        let mut jwk = key.jwk("k1");
        for (k, v) in patch.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        let keys = keys_with(jwk);
        assert!(keys.is_empty(), "{patch}");
        assert_eq!(keys.skipped().len(), 1);
        assert_err!(check(&token, &keys, &rules()), Error::UnknownKey { .. });
    }
    let mut jwk = key.jwk("k1");
    jwk["key_ops"] = json!(["verify"]);
    assert!(check(&token, &keys_with(jwk), &rules()).is_ok());
}

#[test]
fn unknown_absent_and_injected_kids_find_no_key() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let long = "k".repeat(10_000);
    for kid in [
        "k2",
        "K1",
        "k1 ",
        "../../../../etc/passwd",
        "k1\0",
        "\0",
        "",
        &long,
        "' OR 1=1 --",
        "k1\u{200b}",
    ] {
        let token = sign_with(&key, Algorithm::RS256, Some(kid), json!({}), &claims());
        let err = check(&token, &keys, &rules()).unwrap_err();
        let Error::UnknownKey {
            kid: Some(reported),
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(
            reported.chars().count() <= 64,
            "the error carries a bounded kid"
        );
    }
    // No kid: the single usable key serves; with two keys it is ambiguous.
    let no_kid = sign_with(&key, Algorithm::RS256, None, json!({}), &claims());
    assert!(check(&no_kid, &keys, &rules()).is_ok());
    let two = KeySet::from_jwks(&json!({"keys": [key.jwk("k1"), rsa4096().jwk("k2")]})).unwrap();
    assert_err!(
        check(&no_kid, &two, &rules()),
        Error::UnknownKey { kid: None }
    );
    // Two keys with the same kid are ambiguous, never tried one after another.
    let dup = KeySet::from_jwks(&json!({"keys": [rsa4096().jwk("k1"), key.jwk("k1")]})).unwrap();
    let with_kid = sign(&key, &claims());
    assert_err!(check(&with_kid, &dup, &rules()), Error::UnknownKey { .. });
}

#[test]
fn keys_embedded_in_the_header_are_never_trusted() {
    let real = rsa2048();
    let keys = real.key_set("k1");
    let attacker = p256();
    let attacker_rsa = rsa4096();
    for (signer, alg, extra) in [
        (
            &attacker,
            Algorithm::ES256,
            json!({"jwk": attacker.jwk("k1")}),
        ),
        (
            &attacker_rsa,
            Algorithm::RS256,
            json!({"jwk": attacker_rsa.jwk("k1")}),
        ),
        (
            &attacker_rsa,
            Algorithm::RS256,
            json!({"jku": "https://evil.example/jwks.json"}),
        ),
        (
            &attacker_rsa,
            Algorithm::RS256,
            json!({"x5u": "https://evil.example/cert.pem"}),
        ),
        (
            &attacker_rsa,
            Algorithm::RS256,
            json!({"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}),
        ),
    ] {
        let token = sign_with(signer, alg, Some("k1"), extra.clone(), &claims());
        let got = check(&token, &keys, &rules());
        assert!(
            matches!(got, Err(Error::UnknownKey { .. } | Error::InvalidSignature)),
            "{extra}: {got:?}"
        );
    }
    // The header members themselves are harmless on a genuine token.
    let genuine = sign_with(
        &real,
        Algorithm::RS256,
        Some("k1"),
        json!({"x5t": "abc", "jku": "https://x"}),
        &claims(),
    );
    assert!(check(&genuine, &keys, &rules()).is_ok());
}

#[test]
fn weak_rsa_keys_are_skipped() {
    let short = KeySet::new().with_pem(Some("k1"), &pub_pem("rsa1024"));
    assert!(short.is_err(), "a 1024-bit PEM key is refused");
    let strong = rsa2048().jwk("k1");
    let mut e1 = strong.clone();
    e1["e"] = json!("AQ");
    let mut e_even = strong.clone();
    e_even["e"] = json!("AQAC");
    let mut tiny = strong;
    tiny["n"] = json!(b64([0xffu8; 128]));
    for jwk in [e1, e_even, tiny] {
        let keys = keys_with(jwk.clone());
        assert!(keys.is_empty(), "{jwk}");
        let token = sign(&rsa2048(), &claims());
        assert_err!(check(&token, &keys, &rules()), Error::UnknownKey { .. });
    }
}

#[test]
fn hmac_keys_shorter_than_their_hash_are_skipped() {
    let short = hmac_key(31);
    assert!(short.key_set("k1").is_empty());
    assert!(KeySet::new().with_secret(Some("k1"), &[7; 31]).is_err());
    // A 32-byte key serves HS256 only.
    let mid = hmac_key(32);
    let keys = mid.key_set("k1");
    let hs256 = sign_with(&mid, Algorithm::HS256, Some("k1"), json!({}), &claims());
    let hs512 = sign_with(&mid, Algorithm::HS512, Some("k1"), json!({}), &claims());
    assert!(check(&hs256, &keys, &rules().algorithms([Algorithm::HS256])).is_ok());
    assert_err!(
        check(&hs512, &keys, &rules().algorithms([Algorithm::HS512])),
        Error::UnknownKey { .. }
    );
}

#[test]
fn ec_point_off_the_curve_is_skipped() {
    let key = p256();
    let mut jwk = key.jwk("k1");
    let y = jwk["y"].as_str().unwrap().to_owned();
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, y).unwrap();
    bytes[31] ^= 1;
    jwk["y"] = json!(b64(bytes));
    assert!(keys_with(jwk).is_empty());
    let mut wrong_curve = key.jwk("k1");
    wrong_curve["crv"] = json!("P-384");
    assert!(keys_with(wrong_curve).is_empty());
    let mut secp256k1 = key.jwk("k1");
    secp256k1["crv"] = json!("secp256k1");
    assert!(keys_with(secp256k1).is_empty());
}

#[test]
fn one_bad_jwk_does_not_drop_the_set() {
    let good = p256();
    let keys = KeySet::from_jwks(&json!({"keys": [
        {"kty": "RSA", "kid": "bad", "n": "AQAB", "e": "AQAB"},
        {"kty": "nope"},
        42,
        good.jwk("k1"),
    ]}))
    .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.skipped().len(), 3);
    assert!(check(&sign(&good, &claims()), &keys, &rules()).is_ok());
}

// ---- signatures ----

#[test]
fn ecdsa_zero_signature_is_refused_cve_2022_21449() {
    let key = p256();
    let keys = key.key_set("k1");
    let token = sign(&key, &claims());
    let (h, p, _) = header_payload_sig(&token);
    let zero = format!("{h}.{p}.{}", b64([0u8; 64]));
    assert_err!(check(&zero, &keys, &rules()), Error::InvalidSignature);
    let p384 = p384();
    let token = sign(&p384, &claims());
    let (h, p, _) = header_payload_sig(&token);
    assert_err!(
        check(
            &format!("{h}.{p}.{}", b64([0u8; 96])),
            &p384.key_set("k1"),
            &rules()
        ),
        Error::InvalidSignature
    );
}

/// n of P-256.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn sub_be(a: &[u8; 32], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = a[i] as i16 - b[i] as i16 - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        out[i] = d as u8;
    }
    out
}

#[test]
fn der_encoded_padded_and_malleated_ecdsa_signatures() {
    let key = p256();
    let keys = key.key_set("k1");
    let token = sign(&key, &claims());
    let (h, p, s) = header_payload_sig(&token);
    let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).unwrap();
    let (r, s_) = raw.split_at(32);
    // DER: SEQUENCE { INTEGER r, INTEGER s } — what JWS forbids (RFC 7518 §3.4).
    let int = |x: &[u8]| {
        let mut v = x.to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        [vec![0x02, v.len() as u8], v].concat()
    };
    let body = [int(r), int(s_)].concat();
    let der = [vec![0x30, body.len() as u8], body].concat();
    assert_err!(
        check(&format!("{h}.{p}.{}", b64(&der)), &keys, &rules()),
        Error::InvalidSignature
    );
    // r and s each padded to 33 bytes.
    let padded = [&[0u8][..], r, &[0u8], s_].concat();
    assert_err!(
        check(&format!("{h}.{p}.{}", b64(&padded)), &keys, &rules()),
        Error::InvalidSignature
    );
    // r and s swapped.
    let swapped = [s_, r].concat();
    assert_err!(
        check(&format!("{h}.{p}.{}", b64(&swapped)), &keys, &rules()),
        Error::InvalidSignature
    );
    // (r, n - s) is the same signature to plain ECDSA (not a forgery: the
    // claims are the ones the key signed); it must verify to the same claims.
    let high_s = [r, &sub_be(&P256_N, s_)].concat();
    let malleated = format!("{h}.{p}.{}", b64(&high_s));
    let a = check(&token, &keys, &rules()).unwrap();
    let b = check(&malleated, &keys, &rules()).unwrap();
    assert_eq!((a.subject(), a.expires_at()), (b.subject(), b.expires_at()));
    // (r, s + n) does not fit in 32 bytes: refused.
    assert_err!(
        check(
            &format!("{h}.{p}.{}", b64([r, &[0xff; 32][..]].concat())),
            &keys,
            &rules()
        ),
        Error::InvalidSignature
    );
}

#[test]
fn stripped_truncated_and_bit_flipped_signatures_are_refused() {
    for key in [rsa2048(), p256(), ed25519(), hmac_key(32)] {
        let keys = key.key_set("k1");
        let rules = rules().algorithms([key.alg()]);
        let token = sign(&key, &claims());
        assert!(check(&token, &keys, &rules).is_ok());
        let (h, p, s) = header_payload_sig(&token);
        assert_err!(
            check(&format!("{h}.{p}."), &keys, &rules),
            Error::InvalidSignature
        );
        let aligned = s.len() / 4 * 4 - 4;
        assert_err!(
            check(&format!("{h}.{p}.{}", &s[..aligned]), &keys, &rules),
            Error::InvalidSignature
        );
        assert_err!(
            check(&format!("{h}.{p}.{}", &s[..s.len() - 1]), &keys, &rules),
            Error::InvalidSignature | Error::MalformedToken { .. }
        );
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).unwrap();
        for bit in [0, 7, raw.len() * 8 / 2, raw.len() * 8 - 1] {
            let mut flipped = raw.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_err!(
                check(&format!("{h}.{p}.{}", b64(&flipped)), &keys, &rules),
                Error::InvalidSignature
            );
        }
        // A payload changed after signing.
        let other = b64(claims_with(json!({"sub": "admin"})).to_string());
        assert_err!(
            check(&format!("{h}.{other}.{s}"), &keys, &rules),
            Error::InvalidSignature
        );
        // An oversized signature is refused without work.
        let huge = format!("{h}.{p}.{}", "A".repeat(4000));
        assert_err!(check(&huge, &keys, &rules), Error::InvalidSignature);
    }
}

// ---- structure ----

#[test]
fn segment_counts_other_than_three_are_malformed() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let token = sign(&key, &claims());
    let (h, p, s) = header_payload_sig(&token);
    for t in [
        h.to_owned(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}"),
        String::new(),
        "..".to_owned(),
        format!(".{p}.{s}"),
    ] {
        assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    }
}

#[test]
fn padding_plus_slash_and_whitespace_in_base64url_are_malformed() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let token = sign(&key, &claims());
    let (h, p, s) = header_payload_sig(&token);
    let std_sig = s.replace('-', "+").replace('_', "/");
    for t in [
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}==.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{std_sig}x+/"),
        format!("{h} .{p}.{s}"),
        format!("{h}.{p}.{s}\n"),
        format!(" {h}.{p}.{s}"),
        format!("{h}.{p}\t.{s}"),
        format!("{h}.{p}.{}", &s.replace('A', "%41")),
    ] {
        assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    }
    // Non-zero trailing bits: "eyJ" + a final char that is not canonical.
    let header = b64(r#"{"alg":"RS256","kid":"k1"}"#);
    let last = header.chars().last().unwrap();
    let bumped = char::from_u32(last as u32 + 1).unwrap();
    let t = format!("{}{bumped}.{p}.{s}", &header[..header.len() - 1]);
    assert!(check(&t, &keys, &rules()).is_err());
}

#[test]
fn non_object_and_duplicate_member_json_is_malformed() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let good_header = br#"{"alg":"RS256","kid":"k1"}"#;
    let good_payload = claims().to_string();
    for header in [
        &b"[]"[..],
        b"\"RS256\"",
        b"42",
        b"null",
        br#"{"alg":"RS256","kid":"k1","alg":"RS256"}"#,
        br#"{"alg":"RS256","kid":"k1","x":1,"x":2}"#,
        br#"{"alg":"RS256"} {}"#,
        b"{\"alg\":\"RS256\",}",
    ] {
        let t = sign_raw(&key, Algorithm::RS256, header, good_payload.as_bytes());
        assert_err!(
            check(&t, &keys, &rules()),
            Error::MalformedToken { .. } | Error::DisallowedAlgorithm { .. }
        );
    }
    let c = good_payload.trim_end_matches('}');
    for payload in [
        "[]".to_owned(),
        "\"hi\"".to_owned(),
        "1767229200".to_owned(),
        format!(r#"{c},"sub":"admin"}}"#),
        format!(r#"{c},"exp":9999999999}}"#),
        format!(r#"{c},"custom":1,"custom":2}}"#),
        format!("{good_payload}garbage"),
    ] {
        let t = sign_raw(&key, Algorithm::RS256, good_header, payload.as_bytes());
        assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    }
}

#[test]
fn crit_and_unencoded_payload_headers_are_malformed() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    for extra in [
        json!({"crit": ["exp"], "exp": 1}),
        json!({"crit": []}),
        json!({"crit": ["b64"], "b64": false}),
        json!({"b64": false}),
        json!({"b64": "false"}),
    ] {
        let t = sign_with(&key, Algorithm::RS256, Some("k1"), extra.clone(), &claims());
        assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    }
    let t = sign_with(
        &key,
        Algorithm::RS256,
        Some("k1"),
        json!({"b64": true}),
        &claims(),
    );
    assert!(check(&t, &keys, &rules()).is_ok());
}

#[test]
fn one_mebibyte_tokens_are_refused_before_decoding() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let big = claims_with(json!({"pad": "x".repeat(1 << 20)}));
    let token = sign(&key, &big);
    assert_err!(check(&token, &keys, &rules()), Error::TooLarge { .. });
    let junk = "A".repeat(1 << 20);
    assert_err!(
        check(&junk, &keys, &rules()),
        Error::TooLarge {
            size: 1_048_576,
            limit: 16_384
        }
    );
    // With the limit raised, the same token is processed fully.
    let roomy = rules().max_token_bytes(4 << 20);
    assert!(check(&token, &keys, &roomy).is_ok());
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let roomy = rules().max_token_bytes(1 << 20);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let c = claims().to_string();
    let c = c.trim_end_matches('}');
    // Members nobody reads are skipped without recursion: valid JSON, accepted.
    let header = format!(r#"{{"alg":"RS256","kid":"k1","x":{deep}}}"#);
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        header.as_bytes(),
        claims().to_string().as_bytes(),
    );
    assert!(check(&t, &keys, &roomy).is_ok());
    let payload = format!(r#"{c},"x":{deep}}}"#);
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        payload.as_bytes(),
    );
    assert!(check(&t, &keys, &roomy).is_ok());
    // Read into a claims type, nesting past serde_json's limit (128) is refused.
    assert_err!(
        jwt_gate::validate::<Value>(&t, &keys, &roomy, now()),
        Error::InvalidClaims { claim: None, .. }
    );
    let objects = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let payload = format!(r#"{c},"x":{objects}}}"#);
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        payload.as_bytes(),
    );
    assert_err!(
        jwt_gate::validate::<Value>(&t, &keys, &roomy, now()),
        Error::InvalidClaims { claim: None, .. }
    );
    // A registered claim nested deeply is refused by type, not recursion.
    let payload = format!(r#"{c},"aud":{deep}}}"#);
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        payload.as_bytes(),
    );
    assert!(check(&t, &keys, &roomy).is_err());
    // Unbalanced nesting is malformed.
    let header = format!(r#"{{"alg":"RS256","x":{}}}"#, "[".repeat(100_000));
    let t = format!("{}.{}.c2ln", b64(header), b64(claims().to_string()));
    assert_err!(check(&t, &keys, &roomy), Error::MalformedToken { .. });
}

#[test]
fn invalid_utf8_is_malformed() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        b"{\"alg\":\"RS256\",\"kid\":\"k\xff\"}",
        claims().to_string().as_bytes(),
    );
    assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    let c = claims().to_string();
    let mut payload = c.trim_end_matches('}').as_bytes().to_vec();
    payload.extend_from_slice(b",\"name\":\"\xc3\x28\"}");
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        &payload,
    );
    assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    // A lone surrogate escape is valid UTF-8 bytes but no string: refused
    // where a claims type reads it.
    let payload = format!(r#"{},"name":"\ud800"}}"#, c.trim_end_matches('}'));
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        payload.as_bytes(),
    );
    assert_err!(
        jwt_gate::validate::<Value>(&t, &keys, &rules(), now()),
        Error::InvalidClaims { .. }
    );
    let payload = format!(
        r#"{},"sub":"\ud800"}}"#,
        c.trim_end_matches(['}'])
            .replace("\"sub\":\"user-1234\",", "")
    );
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        payload.as_bytes(),
    );
    assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
}

// ---- typ ----

#[test]
fn typ_naming_another_kind_of_jwt_is_refused() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    for typ in [
        "dpop+jwt",
        "logout+jwt",
        "secevent+jwt",
        "application/okta-internal-at+jwt",
        "id_token+jwt",
        "text/plain",
    ] {
        let t = sign_with(
            &key,
            Algorithm::RS256,
            Some("k1"),
            json!({"typ": typ}),
            &claims(),
        );
        assert_err!(check(&t, &keys, &rules()), Error::InvalidType);
    }
    for typ in [
        "JWT",
        "jwt",
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "JOSE",
    ] {
        let t = sign_with(
            &key,
            Algorithm::RS256,
            Some("k1"),
            json!({"typ": typ}),
            &claims(),
        );
        assert!(check(&t, &keys, &rules()).is_ok(), "{typ}");
    }
    let strict = rules().require_typ("at+jwt");
    for (typ, ok) in [
        (Some("at+jwt"), true),
        (Some("application/at+jwt"), true),
        (Some("JWT"), false),
        (None, false),
    ] {
        let extra = typ.map_or(json!({}), |t| json!({"typ": t}));
        let t = sign_with(&key, Algorithm::RS256, Some("k1"), extra, &claims());
        assert_eq!(check(&t, &keys, &strict).is_ok(), ok, "{typ:?}");
    }
    let wrong_type = sign_with(
        &key,
        Algorithm::RS256,
        Some("k1"),
        json!({"typ": 1}),
        &claims(),
    );
    assert_err!(
        check(&wrong_type, &keys, &rules()),
        Error::MalformedToken { .. }
    );
}

// ---- claims ----

#[test]
fn issuer_look_alikes_are_refused() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    for iss in [
        json!("https://issuer.example.com"),
        json!("https://issuer.example.com//"),
        json!("HTTPS://issuer.example.com/"),
        json!("https://ISSUER.example.com/"),
        json!("https://issuer.example.com/ "),
        json!(" https://issuer.example.com/"),
        json!("https://issuer.example.com/\u{0000}"),
        json!("https://issuer.example.com.evil.com/"),
        json!("https://evil.com/https://issuer.example.com/"),
        json!("https://issuer.examp\u{217c}e.com/"),
        json!("https://issuer.example.com/?"),
        json!("https://issuer.example.com:443/"),
        json!(""),
    ] {
        let t = sign(&key, &claims_with(json!({"iss": iss})));
        assert_err!(check(&t, &keys, &rules()), Error::InvalidIssuer);
    }
    let t = sign(&key, &claims_with(json!({"iss": null})));
    assert_err!(check(&t, &keys, &rules()), Error::InvalidIssuer);
    for iss in [
        json!(["https://issuer.example.com/"]),
        json!(1),
        json!(null),
        json!({"a": 1}),
    ] {
        let mut c = claims();
        c["iss"] = iss.clone();
        let t = sign(&key, &c);
        assert_err!(
            check(&t, &keys, &rules()),
            Error::InvalidClaims {
                claim: Some("iss"),
                ..
            }
        );
    }
}

#[test]
fn audience_look_alikes_are_refused_and_any_of_matches() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    for aud in [
        json!("api://orders/"),
        json!("api://Orders"),
        json!("api://orders "),
        json!("api://orders\u{0000}"),
        json!("api://order"),
        json!("api://orders.evil"),
        json!(["api://orders/", "other"]),
        json!([]),
        json!(""),
    ] {
        let t = sign(&key, &claims_with(json!({"aud": aud.clone()})));
        assert_err!(check(&t, &keys, &rules()), Error::InvalidAudience);
    }
    let t = sign(&key, &claims_with(json!({"aud": null})));
    assert_err!(check(&t, &keys, &rules()), Error::InvalidAudience);
    for aud in [
        json!(42),
        json!(true),
        json!(["api://orders", 1]),
        json!({"aud": "api://orders"}),
    ] {
        let t = sign(&key, &claims_with(json!({"aud": aud.clone()})));
        assert_err!(
            check(&t, &keys, &rules()),
            Error::InvalidClaims {
                claim: Some("aud"),
                ..
            }
        );
    }
    let t = sign(
        &key,
        &claims_with(json!({"aud": ["other", "api://orders"]})),
    );
    let got = check(&t, &keys, &rules()).unwrap();
    assert_eq!(
        got.audiences().collect::<Vec<_>>(),
        ["other", "api://orders"]
    );
    let any_of = Validation::new()
        .issuer(ISSUER)
        .audiences(["api://x", "api://orders"]);
    assert!(check(&sign(&key, &claims()), &keys, &any_of).is_ok());
    // No audience configured rejects every token (RFC 9068 §4).
    assert_err!(
        check(&sign(&key, &claims()), &keys, &Validation::new()),
        Error::InvalidAudience
    );
}

#[test]
fn scope_look_alikes_are_refused_and_all_are_required() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let need = rules().require_scopes(["orders.read", "orders.write"]);
    for scope in [
        json!("orders.read"),
        json!("orders.read orders.writes"),
        json!("orders.read Orders.write"),
        json!("orders.read,orders.write"),
        json!("orders.read\torders.write"),
        json!("orders.read orders.write\u{0000}"),
        json!("orders.readorders.write"),
        json!(["orders.read", "orders.wr1te"]),
        json!(""),
        json!([]),
    ] {
        let t = sign(&key, &claims_with(json!({"scope": scope.clone()})));
        let err = check(&t, &keys, &need).unwrap_err();
        let Error::InsufficientScope { required } = &err else {
            panic!("{scope}: {err:?}")
        };
        assert_eq!(&**required, "orders.read orders.write");
    }
    for scope in [
        json!(["orders.read orders.write"]),
        json!(["orders.read", ""]),
        json!(42),
        json!(["orders.read", 1]),
        json!({"s": 1}),
    ] {
        let t = sign(&key, &claims_with(json!({"scope": scope.clone()})));
        assert_err!(
            check(&t, &keys, &need),
            Error::InvalidClaims {
                claim: Some("scope"),
                ..
            }
        );
    }
    for scope in [
        json!("orders.write  orders.read"),
        json!(["orders.write", "orders.read"]),
        json!("a orders.read b orders.write"),
    ] {
        let t = sign(&key, &claims_with(json!({"scope": scope.clone()})));
        assert!(check(&t, &keys, &need).is_ok(), "{scope}");
    }
    // `scp` is read when `scope` is absent, and ignored when it is present.
    let t = sign(
        &key,
        &claims_with(json!({"scope": null, "scp": ["orders.read", "orders.write"]})),
    );
    assert!(check(&t, &keys, &need).is_ok());
    let t = sign(
        &key,
        &claims_with(json!({"scope": "orders.read", "scp": ["orders.read", "orders.write"]})),
    );
    assert_err!(check(&t, &keys, &need), Error::InsufficientScope { .. });
}

#[test]
fn exp_must_be_a_number() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let t = sign(&key, &claims_with(json!({"exp": null})));
    assert_err!(
        check(&t, &keys, &rules()),
        Error::InvalidClaims {
            claim: Some("exp"),
            ..
        }
    );
    for exp in [
        json!("1767229200"),
        json!(true),
        json!([1767229200]),
        json!({"v": 1}),
    ] {
        let t = sign(&key, &claims_with(json!({"exp": exp.clone()})));
        assert_err!(
            check(&t, &keys, &rules()),
            Error::InvalidClaims {
                claim: Some("exp"),
                ..
            }
        );
    }
    let mut with_null = claims();
    with_null["exp"] = Value::Null;
    assert_err!(
        check(&sign(&key, &with_null), &keys, &rules()),
        Error::InvalidClaims {
            claim: Some("exp"),
            ..
        }
    );
    // Floats are NumericDates too (RFC 7519 §2).
    let t = sign(&key, &claims_with(json!({"exp": (NOW + 10) as f64 + 0.75})));
    assert_eq!(
        check(&t, &keys, &rules()).unwrap().expires_at(),
        UnixTime::from_secs(NOW + 10)
    );
    // Huge but finite: far in the future, no overflow.
    let t = sign(&key, &claims_with(json!({"exp": 1e300})));
    assert_eq!(
        check(&t, &keys, &rules()).unwrap().expires_at(),
        UnixTime::from_secs(u64::MAX)
    );
    // Beyond f64: not valid JSON for us.
    let c = claims()
        .to_string()
        .replace(&format!("\"exp\":{}", NOW + 3600), "\"exp\":1e400");
    let t = sign_raw(
        &key,
        Algorithm::RS256,
        br#"{"alg":"RS256","kid":"k1"}"#,
        c.as_bytes(),
    );
    assert_err!(check(&t, &keys, &rules()), Error::MalformedToken { .. });
    // Negative and zero: long expired.
    for exp in [json!(-1), json!(0), json!(-1e300)] {
        let t = sign(&key, &claims_with(json!({"exp": exp.clone()})));
        assert_err!(check(&t, &keys, &rules()), Error::Expired { .. });
    }
    for (claim, v) in [
        ("nbf", json!("0")),
        ("iat", json!(false)),
        ("nbf", json!(null)),
        ("sub", json!(7)),
        ("jti", json!([])),
        ("client_id", json!(1)),
    ] {
        let mut c = claims();
        c[claim] = v;
        assert!(
            matches!(check(&sign(&key, &c), &keys, &rules()), Err(Error::InvalidClaims { claim: Some(got), .. }) if got == claim),
            "{claim}"
        );
    }
}

#[test]
fn leeway_edges_are_exact() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    let leeway = 60;
    let rules = rules().leeway(Duration::from_secs(leeway));
    let exp = NOW + 1000;
    let t = sign(
        &key,
        &claims_with(json!({"exp": exp, "nbf": null, "iat": null})),
    );
    let at = |secs: u64| jwt_gate::validate::<()>(&t, &keys, &rules, UnixTime::from_secs(secs));
    assert!(at(exp + leeway - 1).is_ok());
    assert!(matches!(at(exp + leeway), Err(Error::Expired { .. })));
    let nbf = NOW + 500;
    let t = sign(&key, &claims_with(json!({"nbf": nbf, "iat": null})));
    let at = |secs: u64| jwt_gate::validate::<()>(&t, &keys, &rules, UnixTime::from_secs(secs));
    assert!(at(nbf - leeway).is_ok());
    assert!(matches!(
        at(nbf - leeway - 1),
        Err(Error::NotYetValid { .. })
    ));
    let iat = NOW + 500;
    let t = sign(&key, &claims_with(json!({"iat": iat, "nbf": null})));
    let at = |secs: u64| jwt_gate::validate::<()>(&t, &keys, &rules, UnixTime::from_secs(secs));
    assert!(at(iat - leeway).is_ok());
    assert!(matches!(
        at(iat - leeway - 1),
        Err(Error::NotYetValid { .. })
    ));
    // Zero leeway: expired exactly at exp.
    let strict = self::rules().leeway(Duration::ZERO);
    let t = sign(&key, &claims_with(json!({"exp": exp})));
    assert!(jwt_gate::validate::<()>(&t, &keys, &strict, UnixTime::from_secs(exp - 1)).is_ok());
    assert!(jwt_gate::validate::<()>(&t, &keys, &strict, UnixTime::from_secs(exp)).is_err());
}

#[test]
fn claims_that_do_not_fit_the_callers_type_are_invalid_claims() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Strict {
        #[serde(deserialize_with = "jwt_gate::de::bool_or_string")]
        admin: bool,
    }
    let key = rsa2048();
    let keys = key.key_set("k1");
    let t = sign(&key, &claims_with(json!({"admin": "zzsecretzz"})));
    let err = jwt_gate::validate::<Strict>(&t, &keys, &rules(), now()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidClaims {
                claim: None,
                source: Some(_)
            }
        ),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(
        !err.to_string().contains("zzsecretzz"),
        "Display does not echo claim values"
    );
}

// ---- keys that must never verify ----

fn skipped_reason(jwk: Value) -> String {
    let keys = KeySet::from_jwks(&json!({ "keys": [jwk] })).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    keys.skipped()[0].reason().to_owned()
}

/// The Ed25519 points of small order: with one as the public key, a
/// signature (R of small order, S = 0) verifies for messages the forger
/// picks. The identity (y = 1) verifies every message with R = identity.
fn identity_point() -> [u8; 32] {
    let mut y = [0u8; 32];
    y[0] = 1;
    y
}

#[test]
fn small_order_ed25519_keys_are_skipped_and_their_forgeries_refused() {
    let mut p_minus_1 = [0xffu8; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    for point in [[0u8; 32], identity_point(), p_minus_1] {
        let reason = skipped_reason(json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": b64(point),
        }));
        assert!(reason.contains("small order"), "{reason}");
    }
    // The forgery itself: R = identity, S = 0, any claims.
    let header = json!({"alg": "EdDSA", "kid": "k1"}).to_string();
    let input = format!("{}.{}", b64(&header), b64(claims().to_string()));
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&identity_point());
    let forged = format!("{input}.{}", b64(sig));
    let keys = KeySet::from_jwks(&json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": b64(identity_point()),
    }]}))
    .unwrap();
    assert_err!(check(&forged, &keys, &rules()), Error::UnknownKey { .. });
    // The same key as PEM (SubjectPublicKeyInfo) is refused too.
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&identity_point());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &spki)
    );
    assert!(KeySet::new().with_pem(Some("k1"), &pem).is_err());
    // An ordinary Ed25519 key still works.
    let key = ed25519();
    let token = sign(&key, &claims());
    assert!(check(&token, &key.key_set("k1"), &rules()).is_ok());
}

#[test]
fn an_empty_or_zero_rsa_modulus_is_skipped_without_panicking() {
    for n in ["", "AA", "AAAA"] {
        let reason = skipped_reason(json!({"kty": "RSA", "kid": "k1", "n": n, "e": "AQAB"}));
        assert_eq!(reason, "RSA modulus shorter than 2048 bits", "n = {n:?}");
    }
}

#[test]
fn a_jwk_publishing_private_key_material_is_never_trusted() {
    let rsa = rsa2048().jwk("rsa");
    let ec = p256().jwk("ec");
    let ed = ed25519().jwk("ed");
    for (public, member) in [
        (&rsa, "d"),
        (&rsa, "p"),
        (&rsa, "q"),
        (&rsa, "dp"),
        (&rsa, "dq"),
        (&rsa, "qi"),
        (&ec, "d"),
        (&ed, "d"),
    ] {
        let mut jwk = public.clone();
        jwk[member] = json!("AQAB");
        let keys = KeySet::from_jwks(&json!({ "keys": [jwk, public] })).unwrap();
        // The public copy alone is usable; the one with private members is
        // skipped, named by its kid.
        assert_eq!(keys.len(), 1, "{member}");
        let skipped = &keys.skipped()[0];
        assert_eq!(skipped.kid(), public["kid"].as_str());
        assert_eq!(skipped.reason(), "the JWK publishes private key material");
    }
}

#[test]
fn duplicate_key_ops_make_a_key_unusable() {
    let mut jwk = rsa2048().jwk("k1");
    jwk["key_ops"] = json!(["verify", "verify"]);
    assert_eq!(skipped_reason(jwk), "`key_ops` repeats a value");
    let mut jwk = rsa2048().jwk("k1");
    jwk["key_ops"] = json!(["verify"]);
    assert_eq!(
        KeySet::from_jwks(&json!({ "keys": [jwk] })).unwrap().len(),
        1
    );
}

#[test]
fn the_same_key_listed_twice_under_one_kid_is_one_key() {
    let key = rsa2048();
    let jwk = key.jwk("k1");
    let keys = KeySet::from_jwks(&json!({ "keys": [jwk, jwk] })).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.skipped().is_empty());
    assert!(check(&sign(&key, &claims()), &keys, &rules()).is_ok());
    // Two different keys under one kid stay ambiguous: refused.
    let other = rsa4096().jwk("k1");
    let keys = KeySet::from_jwks(&json!({ "keys": [key.jwk("k1"), other] })).unwrap();
    assert_err!(
        check(&sign(&key, &claims()), &keys, &rules()),
        Error::UnknownKey { .. }
    );
}

#[test]
fn ed25519_is_accepted_as_an_alg_in_the_header_as_in_a_jwk() {
    // RFC 9864's fully specified name for EdDSA with Ed25519.
    let key = ed25519();
    let mut jwk = key.jwk("k1");
    jwk["alg"] = json!("Ed25519");
    let keys = KeySet::from_jwks(&json!({ "keys": [jwk] })).unwrap();
    assert_eq!(keys.len(), 1);
    let header = json!({"alg": "Ed25519", "kid": "k1"}).to_string();
    let token = sign_raw(
        &key,
        Algorithm::EdDSA,
        header.as_bytes(),
        claims().to_string().as_bytes(),
    );
    assert!(check(&token, &keys, &rules()).is_ok());
    assert!(check(&token, &key.key_set("k1"), &rules()).is_ok());
    // Still subject to the allow-list.
    assert_err!(
        check(&token, &keys, &rules().algorithms([Algorithm::RS256])),
        Error::DisallowedAlgorithm { .. }
    );
}

#[test]
fn typ_with_a_slash_is_not_given_an_application_prefix() {
    // RFC 7515 §4.1.9: `application/` is implied only without a `/`.
    let key = rsa2048();
    let keys = key.key_set("k1");
    let token = |typ: &str| {
        sign_with(
            &key,
            Algorithm::RS256,
            Some("k1"),
            json!({"typ": typ}),
            &claims(),
        )
    };
    let strict = rules().require_typ("application/text/plain");
    assert_err!(
        check(&token("text/plain"), &keys, &strict),
        Error::InvalidType
    );
    assert!(check(&token("application/text/plain"), &keys, &strict).is_ok());
    let at = rules().require_typ("at+jwt");
    assert!(check(&token("application/at+jwt"), &keys, &at).is_ok());
    assert!(check(&token("AT+JWT"), &keys, &at).is_ok());
}

// ---- sender-constrained tokens ----

#[test]
fn tokens_with_a_confirmation_claim_are_refused_as_bearer_tokens() {
    let key = rsa2048();
    let keys = key.key_set("k1");
    for cnf in [
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}),
        json!({"unknown-method": "x"}),
        json!({}),
    ] {
        let token = sign(&key, &claims_with(json!({ "cnf": cnf })));
        let err = check(&token, &keys, &rules()).unwrap_err();
        assert!(matches!(err, Error::UnverifiedBinding), "{cnf}: {err:?}");
        assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(err.bearer_code(), Some("invalid_token"));
        // Also with a claims type that reads `cnf` itself.
        assert!(matches!(
            jwt_gate::validate::<Value>(&token, &keys, &rules(), now()),
            Err(Error::UnverifiedBinding)
        ));
    }
    // Other failures come first (documented order): an expired bound token
    // is expired.
    let expired = sign(
        &key,
        &claims_with(json!({"cnf": {"jkt": "x"}, "exp": NOW - 3600})),
    );
    assert_err!(check(&expired, &keys, &rules()), Error::Expired { .. });
}
