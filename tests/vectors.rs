//! Every public JOSE test vector in `tests/data/` (RFC 7515, Wycheproof, and
//! Wycheproof's defects transplanted onto real access tokens) comes out as its
//! `expect` says, without a panic. Format: `tests/data/README.md`.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

mod common;

use common::TenantClaims;
use jwt_gate::{Algorithm, Claims, Error, KeySet, UnixTime, Validation};
use serde_json::Value;

fn class(err: &Error) -> &'static str {
    match err {
        Error::MalformedToken { .. } | Error::MalformedHeader | Error::MissingToken => "malformed",
        Error::TooLarge { .. } => "too_large",
        Error::DisallowedAlgorithm { .. } => "unsupported_alg",
        Error::UnknownKey { .. } | Error::KeysUnavailable { .. } => "unknown_key",
        Error::InvalidSignature => "bad_signature",
        Error::InvalidType => "bad_type",
        Error::Expired { .. } => "expired",
        Error::NotYetValid { .. } => "not_yet_valid",
        Error::InvalidIssuer => "wrong_issuer",
        Error::InvalidAudience => "wrong_audience",
        Error::InvalidClaims { .. } => "bad_claim",
        Error::InsufficientScope { .. } => "insufficient_scope",
        _ => "other",
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

fn rules(config: &Value) -> Validation {
    let algs = strings(&config["algorithms"])
        .iter()
        .filter_map(|a| a.parse::<Algorithm>().ok())
        .collect::<Vec<_>>();
    let mut rules = Validation::new()
        .algorithms(algs)
        .audiences(strings(&config["audience"]))
        .require_scopes(strings(&config["required_scopes"]))
        .leeway(Duration::from_secs(
            config["leeway_s"].as_u64().unwrap_or(0),
        ));
    if let Some(iss) = config["issuer"].as_str() {
        rules = rules.issuer(iss);
    }
    if let Some(typ) = config["require_typ"].as_str() {
        rules = rules.require_typ(typ);
    }
    if let Some(max) = config["max_token_bytes"].as_u64() {
        rules = rules.max_token_bytes(max as usize);
    }
    rules
}

/// `Ok(())` when the outcome is one the case allows, else why not.
fn outcome_allowed(case: &Value, got: &Result<Claims<TenantClaims>, Error>) -> Result<(), String> {
    let mut allowed = vec![case.clone()];
    if let Some(alt) = case.get("alt_expect").filter(|a| !a.is_null()) {
        allowed.push(alt.clone());
    }
    let mut why = Vec::new();
    for want in &allowed {
        match (want["expect"].as_str(), got) {
            (Some("accept"), Ok(claims)) => {
                let c = &want["claims"];
                let scopes: BTreeSet<String> = strings(&c["scopes"]).into_iter().collect();
                let got_scopes: BTreeSet<String> =
                    claims.scopes().iter().map(str::to_owned).collect();
                if claims.subject() == c["sub"].as_str()
                    && Some(claims.tenant_id.as_str()) == c["tenantId"].as_str()
                    && Some(claims.admin) == c["admin"].as_bool()
                    && scopes == got_scopes
                {
                    return Ok(());
                }
                why.push(format!("accepted with other claims: {claims:?}"));
            }
            (Some("reject"), Err(err)) => {
                let classes = strings(&want["error_any_of"]);
                let classes = if classes.is_empty() {
                    strings(&want["error"])
                } else {
                    classes
                };
                if classes.iter().any(|c| c == class(err)) {
                    return Ok(());
                }
                why.push(format!(
                    "rejected as {} ({err}), want one of {classes:?}",
                    class(err)
                ));
            }
            (Some(want), Ok(_)) => why.push(format!("accepted, want {want}")),
            (Some(want), Err(err)) => why.push(format!("rejected ({err}), want {want}")),
            (None, _) => why.push("case has no expect".to_owned()),
        }
    }
    Err(why.join("; "))
}

fn run(file: &str) -> usize {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let result = catch_unwind(AssertUnwindSafe(|| {
            let keys = KeySet::from_jwks(&case["jwks"]).unwrap_or_default();
            let now = UnixTime::from_secs(case["config"]["now"].as_u64().unwrap());
            jwt_gate::validate::<TenantClaims>(
                case["token"].as_str().unwrap(),
                &keys,
                &rules(&case["config"]),
                now,
            )
        }));
        match result {
            Err(_) => failures.push(format!("{id}: PANIC")),
            Ok(got) => {
                if let Err(why) = outcome_allowed(case, &got) {
                    failures.push(format!("{id}: {why}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

#[test]
fn rfc7515_vectors_come_out_as_expected() {
    assert_eq!(run("rfc7515.json"), 11);
}

#[test]
fn wycheproof_jws_vectors_come_out_as_expected() {
    assert_eq!(run("wycheproof_jws.json"), 401);
}

#[test]
fn wycheproof_jwk_vectors_come_out_as_expected() {
    assert_eq!(run("wycheproof_jwk.json"), 26);
}

#[test]
fn wycheproof_transplanted_defects_come_out_as_expected() {
    assert_eq!(run("wycheproof_transplant.json"), 262);
}

#[test]
fn wycheproof_es512_defects_come_out_as_expected() {
    assert_eq!(run("wycheproof_es512.json"), 67);
}

/// RFC 7520 figure 27 (ES512, P-521), in Wycheproof's JWS file: its
/// signature is valid, so the only thing left to refuse is the payload,
/// which is not a JWT claims set. Anything else (an unsupported algorithm,
/// a bad signature) means ES512 does not verify.
#[test]
fn es512_rfc7520_signature_verifies_and_only_the_payload_is_refused() {
    let path = format!(
        "{}/tests/data/wycheproof_jws.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let es512: Vec<&Value> = cases
        .iter()
        .filter(|c| strings(&c["config"]["algorithms"]) == ["ES512"])
        .collect();
    assert_eq!(es512.len(), 2);
    for case in es512 {
        assert_eq!(case["jws_signature_valid"], true);
        let keys = KeySet::from_jwks(&case["jwks"]).unwrap();
        assert_eq!(keys.len(), 1, "the P-521 key is usable");
        let got = jwt_gate::validate::<()>(
            case["token"].as_str().unwrap(),
            &keys,
            &rules(&case["config"]),
            UnixTime::from_secs(case["config"]["now"].as_u64().unwrap()),
        );
        assert!(
            matches!(got, Err(Error::MalformedToken { .. })),
            "{}: {got:?}",
            case["id"]
        );
    }
}
