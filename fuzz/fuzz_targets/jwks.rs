//! Any bytes as a JWK Set document: usable keys kept, the others skipped
//! with a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = jwt_gate::KeySet::from_jwks_json(data) {
        let _ = (keys.len(), keys.kids().count());
        for skipped in keys.skipped() {
            let _ = (skipped.kid(), skipped.reason());
        }
    }
});
