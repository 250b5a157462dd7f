//! SHA-256 digests as 32 bytes: of bytes (cache keys of opaque tokens and
//! API keys), and read back from 64 hex digits (configured API-key hashes,
//! Envoy's certificate `Hash`).

use aws_lc_rs::digest;

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// 64 hex digits (either case) as 32 bytes.
pub(crate) fn hex_32(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? << 4 | digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_and_its_hex_agree() {
        // printf %s abc | sha256sum (FIPS 180-2's example).
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hex_32(hex), Some(sha256(b"abc")));
        assert_eq!(hex_32(&hex.to_uppercase()), Some(sha256(b"abc")));
        assert_eq!(hex_32(&hex[1..]), None);
        assert_eq!(hex_32(&format!("{}zz", &hex[2..])), None);
        assert_eq!(hex_32(&format!("{}+1", &hex[2..])), None);
    }
}
