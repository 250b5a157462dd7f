//! Stateless server nonces (RFC 9449 §8–9): a nonce is an HMAC of a time
//! slot under a server secret, so every replica that shares the secret
//! accepts every other's nonces without shared state.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};

use crate::jose::error::ConfigError;
use crate::jose::time::UnixTime;

/// Bytes of the HMAC a nonce carries (128 bits), base64url-encoded.
const NONCE_BYTES: usize = 16;

/// Server nonces for DPoP proofs (RFC 9449 §9): the nonce of a time slot is
/// `base64url(HMAC-SHA256(secret, slot)[..16])`. The nonce of the current
/// slot is handed out; the previous and the next slot's are accepted too, so
/// a nonce lives one to two slots and replicas whose clocks differ by less
/// than a slot agree.
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::{dpop::DpopNonces, UnixTime};
///
/// let nonces = DpopNonces::new(b"a server secret of at least 32 bytes!")?
///     .slot(Duration::from_secs(60));
/// let now = UnixTime::from_secs(1_800_000_000);
/// let nonce = nonces.issue(now);
/// assert!(nonces.accepts(&nonce, UnixTime::from_secs(1_800_000_090)));
/// assert!(!nonces.accepts(&nonce, UnixTime::from_secs(1_800_000_300)));
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    key: hmac::Key,
    slot_secs: u64,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("slot_secs", &self.slot_secs)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces under `secret` (at least 32 bytes; the same on every replica
    /// that must accept the others' nonces), with 60 s slots.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a secret shorter than 32 bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < 32 {
            return Err(ConfigError::new(
                "dpop_nonces",
                "the nonce secret must be at least 32 bytes",
            ));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            slot_secs: 60,
        })
    }

    /// The length of a time slot (at least 1 s). A nonce is accepted from
    /// the slot before the one it was issued in to the one after.
    ///
    /// Defaults to 60 s.
    #[must_use]
    pub fn slot(mut self, slot: Duration) -> Self {
        self.slot_secs = slot.as_secs().max(1);
        self
    }

    fn slot_of(&self, now: UnixTime) -> u64 {
        now.as_secs() / self.slot_secs
    }

    fn tag(&self, slot: u64) -> [u8; NONCE_BYTES] {
        // A label of 16 bytes, then the slot.
        let mut input = [0u8; 24];
        input[..16].copy_from_slice(b"jwt-gate-nonce-1");
        input[16..].copy_from_slice(&slot.to_be_bytes());
        let tag = hmac::sign(&self.key, &input);
        let mut out = [0; NONCE_BYTES];
        out.copy_from_slice(&tag.as_ref()[..NONCE_BYTES]);
        out
    }

    /// The nonce to hand out at `now`.
    pub fn issue(&self, now: UnixTime) -> String {
        base64_simd::URL_SAFE_NO_PAD.encode_to_string(self.tag(self.slot_of(now)))
    }

    /// Whether `nonce` is one this secret issued for the slot of `now`, or
    /// the slot before or after it. Compared in constant time.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        self.accepted_slot(nonce, now).is_some()
    }

    /// The offset of the slot `nonce` was issued for from the current one
    /// (-1, 0 or 1), when accepted.
    pub(crate) fn accepted_slot(&self, nonce: &str, now: UnixTime) -> Option<i8> {
        // 16 bytes are 22 base64url characters (the decoder asserts room).
        if nonce.len() != 22 {
            return None;
        }
        let mut given = [0u8; NONCE_BYTES];
        let decoded = base64_simd::URL_SAFE_NO_PAD
            .decode(
                nonce.as_bytes(),
                base64_simd::Out::from_slice(&mut given[..]),
            )
            .ok()?;
        if decoded.len() != NONCE_BYTES {
            return None;
        }
        let slot = self.slot_of(now);
        [
            (0i8, slot),
            (-1, slot.wrapping_sub(1)),
            (1, slot.wrapping_add(1)),
        ]
        .into_iter()
        .find(|(_, s)| constant_time::verify_slices_are_equal(&self.tag(*s), &given).is_ok())
        .map(|(offset, _)| offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces() -> DpopNonces {
        DpopNonces::new([7u8; 32]).unwrap()
    }

    #[test]
    fn short_secret_is_a_config_error() {
        assert_eq!(
            DpopNonces::new([7u8; 31]).unwrap_err().setting(),
            "dpop_nonces"
        );
    }

    #[test]
    fn nonce_accepted_one_slot_either_side() {
        let n = nonces();
        let t = UnixTime::from_secs(6_000);
        let nonce = n.issue(t);
        assert_eq!(n.accepted_slot(&nonce, t), Some(0));
        assert_eq!(
            n.accepted_slot(&nonce, UnixTime::from_secs(6_060)),
            Some(-1)
        );
        assert_eq!(n.accepted_slot(&nonce, UnixTime::from_secs(5_940)), Some(1));
        assert_eq!(n.accepted_slot(&nonce, UnixTime::from_secs(6_120)), None);
        assert!(!n.accepts(&nonce, UnixTime::from_secs(5_880)));
    }

    #[test]
    fn another_secret_or_garbage_refused() {
        let t = UnixTime::from_secs(6_000);
        let other = DpopNonces::new([8u8; 32]).unwrap();
        assert!(!nonces().accepts(&other.issue(t), t));
        for bad in ["", "abc", "not base64!", &"A".repeat(400)] {
            assert!(!nonces().accepts(bad, t), "{bad}");
        }
    }

    #[test]
    fn nonce_is_nqchar() {
        let nonce = nonces().issue(UnixTime::from_secs(1));
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
