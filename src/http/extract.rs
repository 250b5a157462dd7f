//! Credentials from a request: the bearer token of RFC 6750 §2.1 (and the
//! refusal of §2.3 query tokens).

use http::header::AUTHORIZATION;
use http::{HeaderMap, Uri};

use crate::jose::error::Error;

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
    let start = rest
        .iter()
        .position(|&b| b != b' ')
        .ok_or(Error::MalformedHeader)?;
    let token = &rest[start..];
    if token.contains(&b' ') || token.iter().all(|&b| b == b'=') {
        return Err(Error::MalformedHeader);
    }
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| Error::MalformedHeader)
}

/// Whether the request carries `Authorization` headers of schemes other
/// than Bearer only, and no RFC 6750 §2.3 query token.
pub(crate) fn other_scheme_only(headers: &HeaderMap, uri: &Uri) -> bool {
    let mut values = headers.get_all(AUTHORIZATION).iter().peekable();
    values.peek().is_some()
        && !has_query_token(uri)
        && values.all(|v| {
            let scheme = v
                .as_bytes()
                .split(|&b| b == b' ')
                .next()
                .unwrap_or_default();
            !scheme.eq_ignore_ascii_case(b"bearer")
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
        let query: Uri = "/orders?access_token=abc".parse().unwrap();
        assert!(bearer_token(&headers(&["Bearer abc"]), &query).is_err());
        assert!(bearer_token(&headers(&[]), &query).is_err());
    }
}
