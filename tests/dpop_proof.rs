//! DPoP proofs (RFC 9449 §4.3) checked one by one with the pure core:
//! RFC 9449's own example proof, then each check failing on its own.

mod common;

use common::{ISSUER, NOW, now, rules};
use jwt_gate::dpop::{DpopRules, ProofRequest, validate_dpop, verify_proof};
use jwt_gate::testing::{DpopKey, SigningKey};
use jwt_gate::{Algorithm, Claims, Error, KeySet, UnixTime};
use serde_json::{Value, json};

const URL: &str = "https://api.example.com/orders";
const TOKEN: &str = "an.access.token";

fn key() -> DpopKey {
    DpopKey::from_signing_key(common::p256())
}

/// A proof for GET `URL` with `TOKEN`, issued at `NOW`.
fn proof(key: &DpopKey) -> jwt_gate::testing::ProofBuilder<'_> {
    key.proof("GET", URL).access_token(TOKEN).issued_at(now())
}

fn check(proof: &str) -> Result<jwt_gate::dpop::DpopProof, Error> {
    verify_proof(
        proof,
        &ProofRequest::new("GET", URL, TOKEN),
        &DpopRules::new(),
        now(),
    )
}

fn refused(result: Result<jwt_gate::dpop::DpopProof, Error>) -> &'static str {
    match result {
        Err(Error::InvalidDpopProof { reason }) => reason,
        other => panic!("expected InvalidDpopProof, got {other:?}"),
    }
}

// RFC 9449 Figure 13 (§7.1): a proof for a protected resource request.
const RFC_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC_URL: &str = "https://resource.example.org/protectedresource";

#[test]
fn rfc9449_example_proof_verifies_with_its_thumbprint() {
    let proof = verify_proof(
        RFC_PROOF,
        &ProofRequest::new("GET", RFC_URL, RFC_TOKEN),
        &DpopRules::new(),
        UnixTime::from_secs(1_562_262_618),
    )
    .unwrap();
    assert_eq!(
        proof.thumbprint(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(proof.jti(), "e1j3V_bKic8-LAEB");
    assert_eq!(proof.issued_at(), UnixTime::from_secs(1_562_262_618));
    assert_eq!(proof.nonce(), None);
    assert_eq!(proof.algorithm(), Algorithm::ES256);
}

#[test]
fn rfc9449_example_proof_for_another_request_refused() {
    let at = UnixTime::from_secs(1_562_262_618);
    let rules = DpopRules::new();
    let other = |method, url, token| {
        verify_proof(
            RFC_PROOF,
            &ProofRequest::new(method, url, token),
            &rules,
            at,
        )
    };
    assert!(other("POST", RFC_URL, RFC_TOKEN).is_err());
    assert!(other("GET", "https://resource.example.org/other", RFC_TOKEN).is_err());
    assert!(other("GET", RFC_URL, "another-token").is_err());
    // Two minutes later the proof is too old.
    let late = verify_proof(
        RFC_PROOF,
        &ProofRequest::new("GET", RFC_URL, RFC_TOKEN),
        &rules,
        UnixTime::from_secs(1_562_262_618 + 120),
    );
    assert_eq!(refused(late), "the proof is too old");
}

#[test]
fn good_proof_of_every_key_type_verifies() {
    for key in [
        common::p256(),
        common::p384(),
        common::ed25519(),
        common::rsa2048(),
        SigningKey::generate(Algorithm::PS256),
        SigningKey::generate(Algorithm::ES512),
    ] {
        let alg = key.algorithm();
        let key = DpopKey::from_signing_key(key);
        let checked = check(&proof(&key).sign()).unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
        assert_eq!(checked.thumbprint(), key.thumbprint());
    }
}

#[test]
fn wrong_typ_refused() {
    let key = key();
    for typ in [json!("JWT"), json!("at+jwt"), json!(null), json!(1)] {
        let reason = refused(check(&proof(&key).header("typ", typ).sign()));
        assert_eq!(reason, "the proof typ is not dpop+jwt");
    }
    assert!(check(&proof(&key).header("typ", "application/dpop+jwt").sign()).is_ok());
}

#[test]
fn alg_none_and_hs256_proofs_refused() {
    let key = key();
    // `alg: none` with an empty signature.
    let mut none = proof(&key).header("alg", "none").sign();
    none.truncate(none.rfind('.').unwrap() + 1);
    assert_eq!(refused(check(&none)), "the proof algorithm is not allowed");
    // HS256 over the proof, with the "key" in the header.
    let hmac = SigningKey::hmac(Algorithm::HS256, &[7; 32]);
    let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"}});
    let claims = json!({"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": jwt_gate::dpop::access_token_hash(TOKEN)});
    let hs = hmac.sign_token(&header, &claims);
    assert_eq!(refused(check(&hs)), "the proof algorithm is not allowed");
}

#[test]
fn algorithm_outside_the_allow_list_refused() {
    let key = key();
    let rules = DpopRules::new().algorithms([Algorithm::EdDSA]);
    let result = verify_proof(
        &proof(&key).sign(),
        &ProofRequest::new("GET", URL, TOKEN),
        &rules,
        now(),
    );
    assert_eq!(refused(result), "the proof algorithm is not allowed");
}

#[test]
fn jwk_with_private_d_refused() {
    let key = key();
    let mut jwk = key.public_jwk().clone();
    jwk["d"] = json!("AAAA");
    let reason = refused(check(&proof(&key).header("jwk", jwk).sign()));
    assert_eq!(reason, "the proof jwk is not acceptable");
}

#[test]
fn okp_p256_jwk_rejected_not_panicking() {
    let key = key();
    let mut jwk = key.public_jwk().clone();
    jwk["kty"] = json!("OKP");
    let reason = refused(check(&proof(&key).header("jwk", jwk).sign()));
    assert_eq!(reason, "the proof jwk is not acceptable");
}

#[test]
fn alg_kty_mismatch_refused() {
    // An EC key under an RS256 header, and an RSA key under ES256.
    let ec = key();
    let reason = refused(check(&proof(&ec).header("alg", "RS256").sign()));
    assert_eq!(reason, "the proof jwk is not acceptable");
    let rsa = DpopKey::from_signing_key(common::rsa2048());
    let reason = refused(check(&proof(&rsa).header("alg", "ES256").sign()));
    assert_eq!(reason, "the proof jwk is not acceptable");
}

#[test]
fn weak_or_missing_jwk_refused() {
    // A 1024-bit modulus (refused before any signature check).
    let rsa = DpopKey::from_signing_key(common::rsa2048());
    let mut weak = rsa.public_jwk().clone();
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        weak["n"].as_str().unwrap(),
    )
    .unwrap();
    weak["n"] = json!(common::b64(&n[..128]));
    assert_eq!(
        refused(check(&proof(&rsa).header("jwk", weak).sign())),
        "the proof jwk is not acceptable"
    );
    let key = key();
    for jwk in [json!(null), json!("x"), json!({"kty": "EC"})] {
        assert!(check(&proof(&key).header("jwk", jwk).sign()).is_err());
    }
}

#[test]
fn signature_by_another_key_refused() {
    let key = key();
    let other = DpopKey::generate(Algorithm::ES256);
    // `other` signs, but the header carries `key`'s JWK.
    let forged = proof(&other).header("jwk", key.public_jwk()).sign();
    assert_eq!(refused(check(&forged)), "the proof signature is invalid");
}

#[test]
fn wrong_htm_refused() {
    let key = key();
    for htm in ["POST", "get", ""] {
        let reason = refused(check(&proof(&key).claim("htm", htm).sign()));
        assert_eq!(reason, "the proof htm is not the request method", "{htm}");
    }
}

#[test]
fn htu_normalisation_variants() {
    let key = key();
    for same in [
        "https://api.example.com/orders?page=2",
        "https://api.example.com/orders#frag",
        "HTTPS://API.EXAMPLE.COM/orders",
        "https://api.example.com:443/orders",
        "https://api.example.com/%6Frders",
        "https://api.example.com/x/../orders",
    ] {
        assert!(
            check(&proof(&key).claim("htu", same).sign()).is_ok(),
            "{same}"
        );
    }
    for other in [
        "https://api.example.com/orders/",
        "https://api.example.com/Orders",
        "http://api.example.com/orders",
        "https://api.example.com:8443/orders",
        "https://evil.example.com/orders",
        "https://user@api.example.com/orders",
        "/orders",
        "",
    ] {
        let reason = refused(check(&proof(&key).claim("htu", other).sign()));
        assert_eq!(reason, "the proof htu is not the request URL", "{other}");
    }
}

#[test]
fn iat_window_with_leeway() {
    let key = key();
    let at = |secs: i64| proof(&key).claim("iat", NOW as i64 + secs).sign();
    // Defaults: 60 s old at most, 5 s of leeway both ways.
    assert!(check(&at(5)).is_ok());
    assert!(check(&at(-65)).is_ok());
    assert_eq!(refused(check(&at(6))), "the proof iat is in the future");
    assert_eq!(refused(check(&at(-66))), "the proof is too old");
    let reason = refused(check(&proof(&key).claim("iat", "now").sign()));
    assert_eq!(reason, "the proof has no numeric iat");
}

#[test]
fn missing_or_oversized_jti_refused() {
    let key = key();
    let no_jti = proof(&key).claim("jti", Value::Null).sign();
    assert_eq!(refused(check(&no_jti)), "the proof has no jti");
    for jti in [String::new(), "j".repeat(129)] {
        let reason = refused(check(&proof(&key).jti(&jti).sign()));
        assert_eq!(reason, "the proof jti is empty or too long");
    }
    assert!(check(&proof(&key).jti(&"j".repeat(128)).sign()).is_ok());
    let reason = refused(check(&proof(&key).claim("jti", 42).sign()));
    assert_eq!(reason, "a proof claim has the wrong type");
}

#[test]
fn wrong_or_missing_ath_refused() {
    let key = key();
    for ath in [
        json!(null),
        json!("AAAA"),
        json!(jwt_gate::dpop::access_token_hash("other")),
    ] {
        let reason = refused(check(&proof(&key).claim("ath", ath).sign()));
        assert_eq!(reason, "the proof ath is not the access token hash");
    }
}

#[test]
fn missing_htm_or_htu_refused() {
    let key = key();
    for (name, reason) in [
        ("htm", "the proof has no htm"),
        ("htu", "the proof has no htu"),
    ] {
        let p = proof(&key).claim(name, Value::Null).sign();
        assert_eq!(refused(check(&p)), reason);
    }
}

#[test]
fn proof_over_the_size_limit_refused_before_decoding() {
    let key = key();
    let big = proof(&key).claim("pad", "x".repeat(9000)).sign();
    assert_eq!(refused(check(&big)), "the proof is too large");
    assert_eq!(
        refused(check("not a jws")),
        "the proof is not a compact JWS"
    );
}

#[test]
fn duplicate_members_and_crit_refused() {
    let key = common::p256();
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{},"typ":"dpop+jwt"}}"#,
        DpopKey::from_signing_key(common::p256()).public_jwk()
    );
    let claims = format!(
        r#"{{"jti":"a","htm":"GET","htu":"{URL}","iat":{NOW},"ath":"{}"}}"#,
        jwt_gate::dpop::access_token_hash(TOKEN)
    );
    let dup = key.sign_raw(Algorithm::ES256, header.as_bytes(), claims.as_bytes());
    assert_eq!(refused(check(&dup)), "the proof header is malformed");
    let dpop = DpopKey::from_signing_key(common::p256());
    let claims_dup = format!(
        r#"{{"jti":"a","jti":"b","htm":"GET","htu":"{URL}","iat":{NOW},"ath":"{}"}}"#,
        jwt_gate::dpop::access_token_hash(TOKEN)
    );
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop.public_jwk()}).to_string();
    let dup = key.sign_raw(Algorithm::ES256, header.as_bytes(), claims_dup.as_bytes());
    assert_eq!(refused(check(&dup)), "the proof claims are malformed");
    let crit = proof(&dpop).header("crit", ["exp"]).sign();
    assert_eq!(refused(check(&crit)), "the proof header has crit");
}

/// `validate_dpop`: the token and its proof together, with the binding.
mod bound {
    use super::*;

    fn keys() -> (SigningKey, KeySet) {
        let issuer = common::rsa2048();
        let keys = issuer.key_set("k1");
        (issuer, keys)
    }

    fn token(issuer: &SigningKey, cnf: Value) -> String {
        let mut claims = common::claims();
        if !cnf.is_null() {
            claims["cnf"] = cnf;
        }
        common::sign(issuer, &claims)
    }

    fn run(token: &str, proof: &str) -> Result<(Claims, jwt_gate::dpop::DpopProof), Error> {
        let (_, keys) = keys();
        validate_dpop(
            token,
            proof,
            &ProofRequest::new("GET", URL, token),
            &keys,
            &rules(),
            &DpopRules::new(),
            now(),
        )
    }

    #[test]
    fn bound_token_with_its_proof_accepted() {
        let (issuer, _) = keys();
        let key = key();
        let token = token(&issuer, json!({"jkt": key.thumbprint()}));
        let p = key
            .proof("GET", URL)
            .access_token(&token)
            .issued_at(now())
            .sign();
        let (claims, proof) = run(&token, &p).unwrap();
        assert_eq!(claims.dpop_thumbprint(), Some(key.thumbprint()));
        assert_eq!(proof.thumbprint(), key.thumbprint());
        assert_eq!(claims.issuer(), Some(ISSUER));
    }

    #[test]
    fn thumbprint_mismatch_refused() {
        let (issuer, _) = keys();
        let (key, other) = (key(), DpopKey::generate(Algorithm::ES256));
        let token = token(&issuer, json!({"jkt": key.thumbprint()}));
        let p = other
            .proof("GET", URL)
            .access_token(&token)
            .issued_at(now())
            .sign();
        match run(&token, &p) {
            Err(Error::InvalidDpopProof { reason }) => {
                assert_eq!(reason, "the proof key is not the one the token is bound to")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unbound_token_with_a_proof_refused() {
        let (issuer, _) = keys();
        let key = key();
        let token = token(&issuer, Value::Null);
        let p = key
            .proof("GET", URL)
            .access_token(&token)
            .issued_at(now())
            .sign();
        assert!(matches!(run(&token, &p), Err(Error::NotDpopBound)));
    }

    #[test]
    fn cnf_of_another_kind_or_shape_refused() {
        let (issuer, _) = keys();
        let key = key();
        for (cnf, unverified) in [
            (json!({"x5t#S256": "abc"}), true),
            (json!({"jkt": key.thumbprint(), "x5t#S256": "abc"}), true),
            (json!({"jwk": key.public_jwk()}), true),
            (json!({"jkt": 1}), false),
            (json!("jkt"), false),
            (json!({"jkt": ""}), false),
        ] {
            let token = token(&issuer, cnf.clone());
            let p = key
                .proof("GET", URL)
                .access_token(&token)
                .issued_at(now())
                .sign();
            let result = run(&token, &p);
            if unverified {
                assert!(
                    matches!(result, Err(Error::UnverifiedBinding)),
                    "{cnf}: {result:?}"
                );
            } else {
                assert!(
                    matches!(
                        result,
                        Err(Error::InvalidClaims {
                            claim: Some("cnf"),
                            ..
                        })
                    ),
                    "{cnf}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn plain_validate_still_refuses_bound_tokens() {
        let (issuer, keys) = keys();
        let token = token(&issuer, json!({"jkt": key().thumbprint()}));
        let result = jwt_gate::validate::<()>(&token, &keys, &rules(), now());
        assert!(matches!(result, Err(Error::UnverifiedBinding)));
    }
}
