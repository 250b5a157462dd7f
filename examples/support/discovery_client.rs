//! A client that starts from nothing but an API's URL, the way MCP clients
//! do: the 401 challenge names the resource's RFC 9728 metadata, which
//! names the authorization server, whose RFC 8414 metadata names the token
//! endpoint, where a token is asked for that very resource (RFC 8707).
//! Shared by `examples/protected_resource.rs` and
//! `tests/protected_resource.rs`.
#![allow(dead_code)]

use serde_json::Value;

/// Everything the client learned on the way, and the token.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub(crate) challenge: String,
    pub(crate) resource_metadata: String,
    pub(crate) resource: String,
    pub(crate) authorization_server: String,
    pub(crate) token_endpoint: String,
    pub(crate) access_token: String,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs the whole discovery against `api_url` and gets a token with
/// `scope` by the client credentials grant.
pub(crate) async fn discover(
    client: &reqwest::Client,
    api_url: &str,
    scope: &str,
) -> Result<Discovered> {
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
    let access_token = request_token(client, &token_endpoint, &resource, scope).await?;
    Ok(Discovered {
        challenge,
        resource_metadata,
        resource,
        authorization_server,
        token_endpoint,
        access_token,
    })
}

/// The client credentials grant with a resource indicator.
pub(crate) async fn request_token(
    client: &reqwest::Client,
    token_endpoint: &str,
    resource: &str,
    scope: &str,
) -> Result<String> {
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
pub(crate) fn auth_param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let len = challenge[start..].find('"')?;
    Some(challenge[start..start + len].to_owned())
}
