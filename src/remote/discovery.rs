//! Authorization-server metadata: OpenID Connect Discovery 1.0, then
//! RFC 8414; the document's `issuer` must be the configured one, byte for
//! byte, and its `jwks_uri` https (or allowed loopback http).

use url::Url;

use crate::remote::fetch::{FetchConfig, FetchError, check_url, get};

/// Finds the issuer's `jwks_uri`.
///
/// `{issuer}/.well-known/openid-configuration` first (a trailing `/` of the
/// issuer is dropped before appending), then, if that is answered with a 4xx,
/// the RFC 8414 form `{origin}/.well-known/oauth-authorization-server{path}`.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    cfg: &FetchConfig,
) -> Result<Url, FetchError> {
    endpoint(client, issuer, cfg, "jwks_uri").await
}

/// Finds the issuer's `introspection_endpoint` (RFC 8414 §2), as
/// [`discover`] finds its `jwks_uri`.
pub(crate) async fn discover_introspection(
    client: &reqwest::Client,
    issuer: &str,
    cfg: &FetchConfig,
) -> Result<Url, FetchError> {
    endpoint(client, issuer, cfg, "introspection_endpoint").await
}

/// The URL the issuer's metadata gives as `member`.
async fn endpoint(
    client: &reqwest::Client,
    issuer: &str,
    cfg: &FetchConfig,
    member: &'static str,
) -> Result<Url, FetchError> {
    let oidc = openid_configuration_url(issuer)?;
    match fetch(client, &oidc, issuer, cfg, member).await {
        Err(FetchError::Status(status)) if (400..500).contains(&status) => {
            tracing::debug!(target: "jwt_gate", status, "no OpenID configuration; trying RFC 8414 metadata");
            fetch(client, &rfc8414_url(issuer)?, issuer, cfg, member).await
        }
        other => other,
    }
}

fn openid_configuration_url(issuer: &str) -> Result<Url, FetchError> {
    parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
}

fn rfc8414_url(issuer: &str) -> Result<Url, FetchError> {
    let base = parse(issuer)?;
    let path = base.path().trim_end_matches('/');
    let mut url = base.clone();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    url.set_query(None);
    Ok(url)
}

fn parse(url: &str) -> Result<Url, FetchError> {
    Url::parse(url).map_err(|e| FetchError::UrlRefused(format!("invalid URL {url:?}: {e}")))
}

async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    issuer: &str,
    cfg: &FetchConfig,
    member: &'static str,
) -> Result<Url, FetchError> {
    let (body, _) = get(
        client,
        url,
        cfg,
        "application/json",
        cfg.max_discovery_bytes,
    )
    .await?;
    read_document(&body, issuer, member, cfg.allow_http)
}

/// The URL `member` names in a discovery (or RFC 8414) document of
/// `issuer`: the document's `issuer` must be it exactly, the URL must be
/// one the rules allow.
pub(crate) fn read_document(
    body: &[u8],
    issuer: &str,
    member: &'static str,
    allow_http: bool,
) -> Result<Url, FetchError> {
    let doc: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| FetchError::InvalidDocument("discovery document is not JSON"))?;
    let doc = doc.as_object().ok_or(FetchError::InvalidDocument(
        "discovery document is not a JSON object",
    ))?;
    let found = doc
        .get("issuer")
        .and_then(|v| v.as_str())
        .ok_or(FetchError::InvalidDocument(
            "discovery document has no `issuer`",
        ))?;
    if found != issuer {
        return Err(FetchError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: found.chars().take(256).collect(),
        });
    }
    let url = doc
        .get(member)
        .and_then(|v| v.as_str())
        .ok_or(FetchError::InvalidDocument(match member {
            "jwks_uri" => "discovery document has no `jwks_uri`",
            _ => "discovery document has no `introspection_endpoint`",
        }))?;
    let url = parse(url)?;
    check_url(&url, allow_http)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_oidc_and_rfc8414() {
        assert_eq!(
            openid_configuration_url("https://auth.example.com/")
                .unwrap()
                .as_str(),
            "https://auth.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            openid_configuration_url("https://auth.example.com/tenant/v2.0")
                .unwrap()
                .as_str(),
            "https://auth.example.com/tenant/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            rfc8414_url("https://auth.example.com/tenant1")
                .unwrap()
                .as_str(),
            "https://auth.example.com/.well-known/oauth-authorization-server/tenant1"
        );
        assert_eq!(
            rfc8414_url("https://auth.example.com/").unwrap().as_str(),
            "https://auth.example.com/.well-known/oauth-authorization-server"
        );
    }
}
