//! The `htu` comparison of RFC 9449 §4.3: the URL without query and
//! fragment, after RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based
//! normalisation.

/// `url` normalised for comparison: `http`/`https` only, no user info;
/// scheme and host lower-cased, the default port dropped, dot-segments
/// resolved (WHATWG URL parsing, as browsers and the `url` crate do), an
/// empty path as `/`, percent-encoded unreserved characters decoded and the
/// hex digits of the others upper-cased; query and fragment dropped.
/// `None` when `url` is not such a URL.
pub(crate) fn normalize(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return None;
    }
    let host = parsed.host_str()?;
    let mut out = String::with_capacity(url.len());
    out.push_str(parsed.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = parsed.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    let path = parsed.path();
    if path.is_empty() {
        out.push('/');
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            let decoded = h << 4 | l;
            if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            }
            i += 3;
            continue;
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn same(a: &str, b: &str) -> bool {
        normalize(a).is_some() && normalize(a) == normalize(b)
    }

    #[test]
    fn htu_query_and_fragment_ignored() {
        assert!(same(
            "https://api.example.com/a?x=1#f",
            "https://api.example.com/a"
        ));
    }

    #[test]
    fn htu_default_port_equivalent() {
        assert!(same(
            "https://api.example.com:443/a",
            "https://api.example.com/a"
        ));
        assert!(same(
            "http://api.example.com:80/a",
            "http://api.example.com/a"
        ));
        assert!(!same(
            "https://api.example.com:8443/a",
            "https://api.example.com/a"
        ));
        assert!(!same(
            "http://api.example.com:443/a",
            "https://api.example.com/a"
        ));
    }

    #[test]
    fn htu_scheme_and_host_case_insensitive() {
        assert!(same(
            "HTTPS://API.Example.COM/a",
            "https://api.example.com/a"
        ));
        assert!(!same(
            "https://api.example.com/A",
            "https://api.example.com/a"
        ));
    }

    #[test]
    fn htu_trailing_slash_differs() {
        assert!(!same(
            "https://api.example.com/a/",
            "https://api.example.com/a"
        ));
        assert!(same("https://api.example.com", "https://api.example.com/"));
    }

    #[test]
    fn htu_percent_unreserved_equivalent() {
        assert!(same(
            "https://api.example.com/%7Euser/%61",
            "https://api.example.com/~user/a"
        ));
        assert!(same(
            "https://api.example.com/a%2fb",
            "https://api.example.com/a%2Fb"
        ));
        assert!(!same(
            "https://api.example.com/a%2Fb",
            "https://api.example.com/a/b"
        ));
    }

    #[test]
    fn htu_dot_segments_resolved() {
        assert!(same(
            "https://api.example.com/a/./b/../c",
            "https://api.example.com/a/c"
        ));
    }

    #[test]
    fn htu_other_schemes_and_user_info_refused() {
        for bad in [
            "ftp://api.example.com/a",
            "https://user@api.example.com/a",
            "https://u:p@api.example.com/a",
            "/a",
            "not a url",
            "",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
