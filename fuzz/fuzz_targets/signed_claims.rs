//! A header and a payload the fuzzer writes, signed with the HS256 key the
//! rules trust, so that every check after the signature (header members,
//! `crit`, `typ`, times, issuer, audience, scopes, roles, `cnf`, the typed
//! claims' deserializer) sees fuzzed JSON. Input: `header 0x00 payload`,
//! or only a payload (under `{"alg":"HS256","kid":"fuzz"}`).
#![no_main]

#[path = "common.rs"]
mod common;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&br#"{"alg":"HS256","kid":"fuzz"}"#[..], data),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, common::SECRET);
    let tag = hmac::sign(&key, signing_input.as_bytes());
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    let typed = jwt_gate::validate::<common::TenantClaims>(
        &token,
        &common::KEYS,
        &common::RULES,
        common::NOW,
    );
    if let Ok(claims) = typed {
        // What a handler reads of accepted claims.
        let _ = (
            claims.subject(),
            claims.scopes(),
            claims.roles(),
            claims.expires_at(),
        );
        let _ = claims.get::<serde_json::Value>("email");
    }
    let _ =
        jwt_gate::validate::<serde_json::Value>(&token, &common::KEYS, &common::RULES, common::NOW);
});
