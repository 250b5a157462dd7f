//! Any bytes as a compact JWS access token, validated with the vectors'
//! keys and rules: a typed error, never a panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ =
        jwt_gate::validate::<serde_json::Value>(token, &common::KEYS, &common::RULES, common::NOW);
    let _ = jwt_gate::validate::<common::TenantClaims>(
        token,
        &common::KEYS,
        &common::RULES,
        common::NOW,
    );
});
