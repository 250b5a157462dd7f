//! The HTTP half: one capped, timed GET, the URL rules, `Cache-Control`,
//! the client we build, and [`FetchError`].

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use http::header::{ACCEPT, CACHE_CONTROL};
use url::Url;

use crate::jose::error::ConfigError;

/// Why signing keys could not be fetched or used, or an introspection
/// answer obtained; the `source()` of
/// [`Error::KeysUnavailable`](crate::Error::KeysUnavailable) and
/// [`Error::IntrospectionUnavailable`](crate::Error::IntrospectionUnavailable).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FetchError {
    /// A URL the rules refuse: not `https` (plain `http` only to a loopback
    /// host with [`allow_http`](crate::ValidatorBuilder::allow_http)), or not
    /// a URL at all. At request time this is a URL a discovery document
    /// named; a configured URL is refused at `build()` with a
    /// [`ConfigError`](crate::ConfigError).
    UrlRefused(String),
    /// The request failed: connection, TLS or timeout.
    Network(String),
    /// The server answered with a status other than 200.
    Status(u16),
    /// The response body exceeded its cap.
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// A redirect led to another origin.
    CrossOriginRedirect,
    /// The body is not the JSON document expected.
    InvalidDocument(&'static str),
    /// The discovery document names another issuer.
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The JWK Set holds no usable key.
    NoUsableKeys,
    /// No keys yet, and the last failure's backoff has not elapsed.
    Backoff,
    /// The keys were still being fetched when the request's wait ran out
    /// ([`max_key_wait`](crate::ValidatorBuilder::max_key_wait)); the fetch
    /// goes on for the requests after it.
    StillFetching,
    /// Every introspection slot stayed busy for the whole timeout
    /// ([`Introspection::max_concurrent`](crate::introspection::Introspection::max_concurrent)).
    Overloaded,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UrlRefused(why) => write!(f, "URL refused: {why}"),
            Self::Network(why) => write!(f, "request failed: {why}"),
            Self::Status(status) => write!(f, "unexpected HTTP status {status}"),
            Self::TooLarge { limit } => write!(f, "response body larger than {limit} bytes"),
            Self::CrossOriginRedirect => f.write_str("redirected to another origin"),
            Self::InvalidDocument(why) => write!(f, "invalid document: {why}"),
            Self::IssuerMismatch { expected, found } => write!(
                f,
                "discovery document issuer {found:?} is not the configured issuer {expected:?}"
            ),
            Self::NoUsableKeys => f.write_str("the JWK Set holds no usable signing key"),
            Self::Backoff => f.write_str("waiting before retrying after a failed fetch"),
            Self::StillFetching => {
                f.write_str("the keys were still being fetched when the request's wait ran out")
            }
            Self::Overloaded => f.write_str("too many introspections in flight"),
        }
    }
}

impl std::error::Error for FetchError {}

impl FetchError {
    /// The variant's name in snake case, for metric labels.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::UrlRefused(_) => "url_refused",
            Self::Network(_) => "network",
            Self::Status(_) => "status",
            Self::TooLarge { .. } => "too_large",
            Self::CrossOriginRedirect => "cross_origin_redirect",
            Self::InvalidDocument(_) => "invalid_document",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::NoUsableKeys => "no_usable_keys",
            Self::Backoff => "backoff",
            Self::StillFetching => "still_fetching",
            Self::Overloaded => "overloaded",
        }
    }
}

/// How keys are fetched and kept. Every default is in the
/// [`ValidatorBuilder`](crate::ValidatorBuilder) setter that changes it.
#[derive(Debug, Clone)]
pub(crate) struct FetchConfig {
    pub(crate) timeout: Duration,
    /// How long one request waits for a fetch (the fetch itself may take
    /// up to `timeout`).
    pub(crate) key_wait: Duration,
    pub(crate) max_jwks_bytes: usize,
    pub(crate) max_discovery_bytes: usize,
    pub(crate) default_ttl: Duration,
    pub(crate) min_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) allow_http: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            key_wait: Duration::from_secs(1),
            max_jwks_bytes: 1024 * 1024,
            max_discovery_bytes: 256 * 1024,
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            allow_http: false,
        }
    }
}

/// Parses a configured URL and checks it with [`check_url`]: the error
/// says why it is refused (the caller names the setting).
pub(crate) fn parse_url(url: &str, allow_http: bool) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    match check_url(&parsed, allow_http) {
        Ok(()) => Ok(parsed),
        Err(FetchError::UrlRefused(why)) => Err(why),
        Err(other) => Err(other.to_string()),
    }
}

/// `https`, or `http` to a loopback host when plain http is allowed.
pub(crate) fn check_url(url: &Url, allow_http: bool) -> Result<(), FetchError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http && is_loopback(url) => Ok(()),
        "http" if allow_http => Err(FetchError::UrlRefused(format!(
            "plain http is allowed only to loopback hosts: {url}"
        ))),
        "http" => Err(FetchError::UrlRefused(format!(
            "plain http needs allow_http() (loopback only): {url}"
        ))),
        other => Err(FetchError::UrlRefused(format!(
            "unsupported URL scheme {other:?}"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// GET `url`: 200 only, same origin after redirects, body capped while it
/// streams, the whole exchange under the timeout. Returns the body and the
/// `Cache-Control: max-age`.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &Url,
    cfg: &FetchConfig,
    accept: &'static str,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let request = client.get(url.clone()).header(ACCEPT, accept);
    let (body, headers) = exchange(request, url, cfg, max_bytes).await?;
    Ok((body, max_age(&headers)))
}

/// Sends `request` (to `url`): 200 only, same origin after redirects, body
/// capped while it streams, the whole exchange under the timeout. Returns
/// the body and the response headers.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
    url: &Url,
    cfg: &FetchConfig,
    max_bytes: usize,
) -> Result<(Vec<u8>, http::HeaderMap), FetchError> {
    check_url(url, cfg.allow_http)?;
    let exchange = async {
        let mut response = request.timeout(cfg.timeout).send().await.map_err(network)?;
        if response.url().origin() != url.origin() {
            return Err(FetchError::CrossOriginRedirect);
        }
        if response.status() != http::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, headers))
    };
    tokio::time::timeout(cfg.timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(FetchError::Network("timed out".into())))
}

fn network(e: reqwest::Error) -> FetchError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirect refused"
    } else if e.is_body() || e.is_decode() {
        "body could not be read"
    } else {
        "request failed"
    };
    FetchError::Network(kind.into())
}

/// `max-age` from `Cache-Control`; `no-store`/`no-cache` count as 0 (the
/// TTL floor then applies).
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|directive| {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        let (name, secs) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| {
                secs.trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            })
            .flatten()
    })
}

/// The client we build when the application brings none: rustls, the
/// connect timeout, same-origin redirects only.
pub(crate) fn default_client(cfg: &FetchConfig) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .redirect(redirect_policy())
        .connect_timeout(cfg.timeout)
        .user_agent(concat!("jwt-gate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            ConfigError::new("http_client", "the default client cannot be built").with_source(e)
        })
}

/// The redirect policy of the client we build: same origin only, at most 3.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() > 3 {
            attempt.error("too many redirects")
        } else if first.is_some_and(|o| o == attempt.url().origin()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(CACHE_CONTROL, v.parse().unwrap());
        h
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age(&headers("public, max-age=300")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            max_age(&headers("Max-Age=\"60\", must-revalidate")),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age(&headers("no-store")), Some(Duration::ZERO));
        assert_eq!(max_age(&headers("public")), None);
        assert_eq!(max_age(&headers("max-age=-1")), None);
    }

    #[test]
    fn only_https_or_allowed_loopback_http() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&u("https://idp.example.com/jwks"), false).is_ok());
        assert!(check_url(&u("http://127.0.0.1:8080/jwks"), false).is_err());
        assert!(check_url(&u("http://127.0.0.1:8080/jwks"), true).is_ok());
        assert!(check_url(&u("http://[::1]/jwks"), true).is_ok());
        assert!(check_url(&u("http://localhost/jwks"), true).is_ok());
        assert!(check_url(&u("http://10.0.0.1/jwks"), true).is_err());
        assert!(check_url(&u("http://localhost.evil.com/jwks"), true).is_err());
        assert!(check_url(&u("ftp://idp.example.com/jwks"), true).is_err());
    }
}
