//! An RFC 9728 client for tests: from an API's URL to a token for it.
//! The 401 challenge names the resource's metadata, which names the
//! authorization server, whose RFC 8414 metadata names the token endpoint,
//! where a token is asked for that very resource (RFC 8707).

use std::fmt;

use serde_json::Value;

/// Everything the client learned on the way, and the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Discovered {
    /// The 401 challenge of the first, tokenless call.
    pub challenge: String,
    /// The RFC 9728 metadata URL the challenge names.
    pub resource_metadata: String,
    /// The `resource` of that document.
    pub resource: String,
    /// Its first authorization server.
    pub authorization_server: String,
    /// That server's token endpoint (RFC 8414 metadata).
    pub token_endpoint: String,
    /// The access token issued for `resource`.
    pub access_token: String,
}

type Result<T> = std::result::Result<T, DiscoveryError>;

/// Why [`discover_token`] or [`request_token`] did not get a token.
#[derive(Debug)]
pub struct DiscoveryError(String);

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DiscoveryError {}

macro_rules! from_display {
    ($($error:ty),*) => {$(
        impl From<$error> for DiscoveryError {
            fn from(error: $error) -> Self {
                Self(error.to_string())
            }
        }
    )*};
}

from_display!(
    String,
    &str,
    reqwest::Error,
    serde_json::Error,
    url::ParseError,
    http::header::ToStrError
);

/// Starts from nothing but an API's URL, as MCP clients do, and gets a
/// token with `scope` for it by the client credentials grant (client
/// `example-client`, no secret: [`TestIssuer`](super::TestIssuer)'s token
/// endpoint takes it).
///
/// # Errors
///
/// When any step fails: the call is not answered 401 with a
/// `resource_metadata` challenge, a document is missing a member or names
/// another resource or issuer, the token endpoint refuses.
pub async fn discover_token(api_url: &str, scope: &str) -> Result<Discovered> {
    let client = &reqwest::Client::new();
    // 1. The API says who we must ask, in its challenge.
    let res = client.get(api_url).send().await?;
    if res.status() != 401 {
        return Err(format!("expected 401, got {}", res.status()).into());
    }
    let challenge = res
        .headers()
        .get("www-authenticate")
        .ok_or("no WWW-Authenticate")?
        .to_str()?
        .to_owned();
    let resource_metadata = auth_param(&challenge, "resource_metadata")
        .ok_or("no resource_metadata in the challenge")?;

    // 2. RFC 9728 metadata: the resource and its authorization servers.
    let metadata = get_json(client, &resource_metadata).await?;
    let resource = metadata["resource"]
        .as_str()
        .ok_or("no resource")?
        .to_owned();
    // RFC 9728 §3.3: the document must be about the resource we called.
    if !api_url.starts_with(&resource) {
        return Err(format!("metadata for {resource}, not for {api_url}").into());
    }
    let authorization_server = metadata["authorization_servers"][0]
        .as_str()
        .ok_or("no authorization server")?
        .to_owned();

    // 3. RFC 8414 metadata of the authorization server (path inserted).
    let mut url = reqwest::Url::parse(&authorization_server)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let as_metadata = get_json(client, url.as_str()).await?;
    if as_metadata["issuer"] != authorization_server.as_str() {
        return Err("the authorization server metadata names another issuer".into());
    }
    let token_endpoint = as_metadata["token_endpoint"]
        .as_str()
        .ok_or("no token_endpoint")?
        .to_owned();

    // 4. A token for exactly this resource (RFC 8707).
    let access_token = request_token(&token_endpoint, &resource, scope).await?;
    Ok(Discovered {
        challenge,
        resource_metadata,
        resource,
        authorization_server,
        token_endpoint,
        access_token,
    })
}

/// The client credentials grant with a resource indicator (RFC 8707), as
/// client `example-client`.
///
/// # Errors
///
/// When the token endpoint cannot be reached or answers without a token.
pub async fn request_token(token_endpoint: &str, resource: &str, scope: &str) -> Result<String> {
    let client = &reqwest::Client::new();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", "example-client")
        .append_pair("scope", scope)
        .append_pair("resource", resource)
        .finish();
    let res = client
        .post(token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?;
    let status = res.status();
    let body: Value = serde_json::from_slice(&res.bytes().await?)?;
    match body["access_token"].as_str() {
        Some(token) if status == 200 => Ok(token.to_owned()),
        _ => Err(format!("token endpoint: {status} {body}").into()),
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value> {
    let res = client.get(url).send().await?.error_for_status()?;
    Ok(serde_json::from_slice(&res.bytes().await?)?)
}

/// The value of `name="…"` in a challenge (no escapes expected in URLs).
fn auth_param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let len = challenge[start..].find('"')?;
    Some(challenge[start..start + len].to_owned())
}
