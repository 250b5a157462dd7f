//! Any bytes as a DPoP proof (RFC 9449) for a fixed request and token.
#![no_main]

use jwt_gate::UnixTime;
use jwt_gate::dpop::{DpopRules, ProofRequest, verify_proof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(proof) = std::str::from_utf8(data) else {
        return;
    };
    let request = ProofRequest::new(
        "GET",
        "https://api.example.com/orders?x=1",
        "an.access.token",
    );
    let _ = verify_proof(
        proof,
        &request,
        &DpopRules::new(),
        UnixTime::from_secs(1_767_225_400),
    );
});
