//! Any bytes as an RFC 7662 introspection response, read and then checked
//! by the rules into typed claims, as the validator does.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jwt_gate::fuzzing::read_introspection::<common::TenantClaims>(
        data,
        common::ISSUER,
        &common::RULES,
        common::NOW,
    );
});
