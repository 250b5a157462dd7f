//! Any bytes as an OpenID Connect discovery or RFC 8414 metadata document
//! for a configured issuer: the `jwks_uri` and `introspection_endpoint`
//! read, or a typed refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for member in ["jwks_uri", "introspection_endpoint"] {
        let _ = jwt_gate::fuzzing::read_discovery(data, "https://issuer.example.com/", member);
    }
});
