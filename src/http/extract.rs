//! Credentials from a request: the bearer token of RFC 6750 §2.1 (and the
//! refusal of §2.3 query tokens), and the DPoP token and proof of RFC 9449
//! §7.1.

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, Uri};

use crate::jose::error::Error;
use crate::validator::api_keys::ApiKeySettings;
use crate::validator::dpop::DpopMode;

/// The `DPoP` proof header (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// A request's credential.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Credential<'a> {
    Bearer(&'a str),
    Dpop {
        token: &'a str,
        proof: &'a str,
    },
    /// An API key (never logged).
    ApiKey(&'a str),
}

impl<'a> Credential<'a> {
    /// The token, or the API key.
    pub(crate) fn token(&self) -> &'a str {
        match self {
            Self::Bearer(token) | Self::Dpop { token, .. } | Self::ApiKey(token) => token,
        }
    }
}

/// The request's credential: its API key when the validator accepts keys
/// and the request carries one, else its token as `mode` accepts it (see
/// [`credential`]).
pub(crate) fn request_credential<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    mode: DpopMode,
    api_keys: Option<&ApiKeySettings>,
) -> Result<Option<Credential<'a>>, Error> {
    if let Some(keys) = api_keys
        && let Some(key) = api_key(&keys.header, headers, uri)?
    {
        return Ok(Some(Credential::ApiKey(key)));
    }
    credential(headers, uri, mode)
}

/// The request's API key, if it carries one: exactly one non-empty header
/// value of visible ASCII without spaces, and no token beside it (no
/// `Authorization` header, no query token): else
/// [`Error::MalformedApiKey`].
fn api_key<'a>(
    header: &HeaderName,
    headers: &'a HeaderMap,
    uri: &Uri,
) -> Result<Option<&'a str>, Error> {
    let mut values = headers.get_all(header).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || headers.contains_key(AUTHORIZATION) || has_query_token(uri) {
        return Err(Error::MalformedApiKey);
    }
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.contains(' '))
        .ok_or(Error::MalformedApiKey)?;
    Ok(Some(key))
}

/// The request's credential as `mode` accepts it: `Bearer <token>`, or
/// with DPoP on, `DPoP <token>` with exactly one `DPoP` proof header
/// (RFC 9449 §4.3 #1). `None` when there is no `Authorization` header.
///
/// `DPoP` with DPoP off is malformed (400); `Bearer` with DPoP required is
/// [`Error::DpopRequired`]; a missing or repeated proof header is
/// [`Error::InvalidDpopProof`].
pub(crate) fn credential<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    mode: DpopMode,
) -> Result<Option<Credential<'a>>, Error> {
    // Without DPoP, the bearer token alone (the hot path of most services).
    if mode == DpopMode::Off {
        return bearer_token(headers, uri).map(|t| t.map(Credential::Bearer));
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return bearer_token(headers, uri).map(|t| t.map(Credential::Bearer));
    };
    let dpop_scheme = value
        .as_bytes()
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"dpop "));
    if !dpop_scheme {
        let token = bearer_token(headers, uri)?;
        if token.is_some() && mode == DpopMode::Required {
            return Err(Error::DpopRequired);
        }
        return Ok(token.map(Credential::Bearer));
    }
    if headers.get_all(AUTHORIZATION).iter().nth(1).is_some() || has_query_token(uri) {
        return Err(Error::MalformedHeader);
    }
    let token = token68(&value.as_bytes()[5..])?;
    let mut proofs = headers.get_all(DPOP).iter();
    let proof = proofs.next().ok_or(Error::InvalidDpopProof {
        reason: "no DPoP proof header",
    })?;
    if proofs.next().is_some() {
        return Err(Error::InvalidDpopProof {
            reason: "more than one DPoP proof header",
        });
    }
    // A list (`a, b`) or any other byte outside base64url and `.` fails
    // the proof's own parsing; here only that it is text.
    let proof = std::str::from_utf8(proof.as_bytes())
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or(Error::InvalidDpopProof {
            reason: "the DPoP header is not one compact JWS",
        })?;
    Ok(Some(Credential::Dpop { token, proof }))
}

/// The token of `Bearer`/`DPoP` `1*SP token68`: one word, not all `=`.
fn token68(rest: &[u8]) -> Result<&str, Error> {
    let start = rest
        .iter()
        .position(|&b| b != b' ')
        .ok_or(Error::MalformedHeader)?;
    let token = &rest[start..];
    // One pass that the compiler turns into vector code: a space (a second
    // word) or a byte outside ASCII (http lets obs-text through) makes the
    // header malformed. All ASCII, the `str` conversion cannot fail.
    if has_space_or_non_ascii(token) || token.iter().all(|&b| b == b'=') {
        return Err(Error::MalformedHeader);
    }
    std::str::from_utf8(token).map_err(|_| Error::MalformedHeader)
}

/// Whether `bytes` hold a space or a byte outside ASCII, 32 bytes at a
/// time without early exit, so that the compiler makes vector code of it.
fn has_space_or_non_ascii(bytes: &[u8]) -> bool {
    let odd = |acc: u8, &b: &u8| acc | u8::from(b == b' ') | (b & 0x80);
    let mut chunks = bytes.chunks_exact(32);
    let mut lanes = [0u8; 32];
    for chunk in &mut chunks {
        for (lane, b) in lanes.iter_mut().zip(chunk) {
            *lane = odd(*lane, b);
        }
    }
    let rest = chunks.remainder().iter().fold(0, odd);
    lanes.iter().fold(rest, |acc, &lane| acc | lane) != 0
}

/// The bearer token of a request (RFC 6750 §2.1): exactly one
/// `Authorization: Bearer <token>` (scheme case-insensitive), no token in
/// the query as well. `None` when there is no `Authorization` header.
pub(crate) fn bearer_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
) -> Result<Option<&'a str>, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let in_query = has_query_token(uri);
    let Some(value) = values.next() else {
        // RFC 6750 §2.3 tokens in the URI are not accepted: say so.
        return if in_query {
            Err(Error::MalformedHeader)
        } else {
            Ok(None)
        };
    };
    if values.next().is_some() || in_query {
        return Err(Error::MalformedHeader);
    }
    // A header value holds no control characters (http checks that); a
    // token with other characters than base64url fails validation as
    // malformed (401), a second word makes the header malformed (400).
    // Byte scans (`contains` on bytes is memchr) keep this cheap: it runs
    // on every request.
    let bytes = value.as_bytes();
    let (scheme, rest) = bytes.split_at_checked(6).ok_or(Error::MalformedHeader)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return Err(Error::MalformedHeader);
    }
    token68(rest).map(Some)
}

/// Whether the request carries `Authorization` headers of schemes other
/// than Bearer (and DPoP, when `mode` accepts it) only, and no RFC 6750
/// §2.3 query token.
pub(crate) fn other_scheme_only(headers: &HeaderMap, uri: &Uri, mode: DpopMode) -> bool {
    let mut values = headers.get_all(AUTHORIZATION).iter().peekable();
    values.peek().is_some()
        && !has_query_token(uri)
        && values.all(|v| {
            let scheme = v
                .as_bytes()
                .split(|&b| b == b' ')
                .next()
                .unwrap_or_default();
            let ours = scheme.eq_ignore_ascii_case(b"bearer")
                || (mode != DpopMode::Off && scheme.eq_ignore_ascii_case(b"dpop"));
            !ours
        })
}

fn has_query_token(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_token_rules() {
        let uri: Uri = "/orders".parse().unwrap();
        let ok = |v: &[&str]| bearer_token(&headers(v), &uri).map(|t| t.map(str::to_owned));
        assert_eq!(
            ok(&["Bearer abc.def.ghi"]).unwrap().as_deref(),
            Some("abc.def.ghi")
        );
        assert_eq!(ok(&["bearer abc"]).unwrap().as_deref(), Some("abc"));
        assert_eq!(ok(&["BEARER  abc=="]).unwrap().as_deref(), Some("abc=="));
        // Not base64url, but one word: left to validation (401 malformed).
        assert_eq!(ok(&["Bearer a,b"]).unwrap().as_deref(), Some("a,b"));
        assert_eq!(ok(&[]).unwrap(), None);
        for bad in [
            &["Basic dXNlcjpwYXNz"][..],
            &["Bearer"],
            &["Bearer "],
            &["Bearer a b"],
            &["Bearertoken"],
            &["Bearer a", "Bearer b"],
            &["Bearer ===="],
        ] {
            assert!(matches!(ok(bad), Err(Error::MalformedHeader)), "{bad:?}");
        }
        for bytes in [&b"Bearer abc\xff"[..], b"B\xe9arer abc", b"Bearer\tabc"] {
            let mut h = HeaderMap::new();
            h.append(AUTHORIZATION, HeaderValue::from_bytes(bytes).unwrap());
            assert!(matches!(
                bearer_token(&h, &uri),
                Err(Error::MalformedHeader)
            ));
        }
        // Past the first 32 bytes the scan runs in chunks: a second word or
        // a byte outside ASCII there is found as well, at any position.
        let long = "a".repeat(100);
        assert_eq!(
            ok(&[&format!("Bearer {long}")]).unwrap().as_deref(),
            Some(long.as_str())
        );
        for at in [31, 32, 40, 63, 64, 95, 99] {
            for odd in [" ", "é"] {
                let token = format!("{}{odd}{}", &long[..at], &long[at + 1..]);
                assert!(
                    matches!(
                        ok(&[&format!("Bearer {token}")]),
                        Err(Error::MalformedHeader)
                    ),
                    "{odd:?} at {at}"
                );
            }
        }
        let query: Uri = "/orders?access_token=abc".parse().unwrap();
        assert!(bearer_token(&headers(&["Bearer abc"]), &query).is_err());
        assert!(bearer_token(&headers(&[]), &query).is_err());
    }
}
