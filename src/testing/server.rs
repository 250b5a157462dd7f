//! The issuer's HTTP side: discovery, RFC 8414 metadata, the JWK Set, the
//! token endpoint, per-tenant paths, and the fault modes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{IssuerMode, Shared, introspection, lock, new_token, signing_key};

/// The JWK Set: every published key, newest last.
pub(crate) fn jwks(shared: &Shared) -> Value {
    let members = lock(&shared.key_members);
    let keys: Vec<Value> = lock(&shared.keys)
        .iter()
        .map(|(kid, key)| {
            let mut jwk = key.public_jwk(kid);
            for (_, name, value) in members.iter().filter(|(k, _, _)| k == kid) {
                jwk[name.as_str()] = value.clone();
            }
            jwk
        })
        .collect();
    json!({ "keys": keys })
}

pub(crate) fn document(shared: &Shared) -> Value {
    if let Some(doc) = lock(&shared.discovery_override).clone() {
        return doc;
    }
    let base = format!("http://{}", shared.addr);
    json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{base}{}", lock(&shared.jwks_path)),
        "token_endpoint": format!("{base}/token"),
        "introspection_endpoint": format!("{base}/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_signing_alg_values_supported": [signing_key(shared).1.algorithm().as_str()],
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"],
    })
}

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                // A client that never finishes its request is dropped.
                tokio::spawn(tokio::time::timeout(
                    Duration::from_secs(30),
                    answer(stream, shared),
                ));
            }
            // Out of file descriptors and the like: wait, do not spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn answer(mut stream: TcpStream, shared: Arc<Shared>) {
    let mode = lock(&shared.mode).clone();
    if mode == IssuerMode::Down {
        return;
    }
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 16 * 1024 {
            return;
        }
    }
    let head_len = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(request.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&request[..head_len]).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let tenant = path
        .strip_prefix("/tenants/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(tenant, rest)| (tenant.to_owned(), format!("/{rest}")));
    let jwks_path = lock(&shared.jwks_path).clone();
    let counter = match (&tenant, path.as_str()) {
        (Some(_), _) => Some(&shared.tenant_fetches),
        (None, "/.well-known/openid-configuration") => Some(&shared.discovery_fetches),
        (None, "/.well-known/oauth-authorization-server") => Some(&shared.metadata_fetches),
        (None, p) if p == jwks_path => Some(&shared.jwks_fetches),
        (None, "/introspect") => Some(&shared.introspections),
        _ => None,
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    match mode {
        IssuerMode::Status(status) => return respond(&mut stream, status, &[], None).await,
        IssuerMode::Slow(d) => tokio::time::sleep(d).await,
        IssuerMode::Garbage => return respond(&mut stream, 200, b"<html>not json{", None).await,
        IssuerMode::Oversized(len) => return stream_oversized(&mut stream, len).await,
        IssuerMode::Normal | IssuerMode::Down => {}
    }
    let jwks = || jwks(&shared).to_string();
    let max_age = *lock(&shared.max_age);
    if let Some((tenant, rest)) = tenant {
        let issuer = format!("http://{}/tenants/{tenant}", shared.addr);
        return match rest.as_str() {
            "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
                let doc = json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/jwks"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"],
                });
                respond(&mut stream, 200, doc.to_string().as_bytes(), None).await;
            }
            "/jwks" => respond(&mut stream, 200, jwks().as_bytes(), max_age).await,
            _ => respond(&mut stream, 404, b"", None).await,
        };
    }
    match path.as_str() {
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
            let body = document(&shared).to_string();
            respond(&mut stream, 200, body.as_bytes(), None).await;
        }
        p if p == jwks_path => respond(&mut stream, 200, jwks().as_bytes(), max_age).await,
        "/token" if head.starts_with("POST ") => {
            let Some(body) = read_body(&mut stream, &head, request[head_len..].to_vec()).await
            else {
                return respond(&mut stream, 400, b"", None).await;
            };
            let (status, body) = token_response(&shared, &body);
            respond(&mut stream, status, body.to_string().as_bytes(), None).await;
        }
        "/introspect" if head.starts_with("POST ") => {
            let Some(body) = read_body(&mut stream, &head, request[head_len..].to_vec()).await
            else {
                return respond(&mut stream, 400, b"", None).await;
            };
            let (status, content_type, body) = introspection::answer(&shared, &head, &body);
            respond_as(&mut stream, status, content_type, body.as_bytes()).await;
        }
        _ => respond(&mut stream, 404, b"", None).await,
    }
}

/// The request body after the head, by `Content-Length` (at most 16 KiB).
async fn read_body(stream: &mut TcpStream, head: &str, mut body: Vec<u8>) -> Option<Vec<u8>> {
    let len: usize = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })?;
    if len > 16 * 1024 {
        return None;
    }
    let mut buf = [0u8; 1024];
    while body.len() < len {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(len);
    Some(body)
}

/// The token endpoint: the client credentials grant (RFC 6749 §4.4) with a
/// resource indicator (RFC 8707), which becomes the token's `aud`. Any
/// `client_id` is accepted (a public test client).
fn token_response(shared: &Arc<Shared>, form: &[u8]) -> (u16, Value) {
    let error = |code: &str, description: &str| {
        (
            400,
            json!({"error": code, "error_description": description}),
        )
    };
    let mut grant = None;
    let mut client_id = None;
    let mut scope = None;
    let mut resources = Vec::new();
    for (name, value) in url::form_urlencoded::parse(form) {
        match &*name {
            "grant_type" => grant = Some(value.into_owned()),
            "client_id" => client_id = Some(value.into_owned()),
            "scope" => scope = Some(value.into_owned()),
            "resource" => resources.push(value.into_owned()),
            _ => {}
        }
    }
    if grant.as_deref() != Some("client_credentials") {
        return error("unsupported_grant_type", "only client_credentials");
    }
    let [resource] = resources.as_slice() else {
        return error("invalid_target", "exactly one resource is required");
    };
    // RFC 8707 §2: an absolute URI without a fragment.
    if url::Url::parse(resource).map_or(true, |u| u.fragment().is_some()) {
        return error("invalid_target", "the resource is not an absolute URI");
    }
    let client_id = client_id.unwrap_or_else(|| "client-1".into());
    let lifetime = 3600;
    let mut token = new_token(shared)
        .audience(resource)
        .subject(&client_id)
        .claim("client_id", &client_id)
        .expires_in(Duration::from_secs(lifetime));
    if let Some(scope) = &scope {
        token = token.scope(scope);
    }
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let mut body = json!({
        "access_token": token.sign(),
        "token_type": "Bearer",
        "expires_in": lifetime,
    });
    if let Some(scope) = scope {
        body["scope"] = scope.into();
    }
    (200, body)
}

async fn respond(stream: &mut TcpStream, status: u16, body: &[u8], max_age: Option<u64>) {
    let cache = max_age.map_or(String::new(), |s| {
        format!("Cache-Control: public, max-age={s}\r\n")
    });
    write_response(stream, status, "application/json", &cache, body).await;
}

async fn respond_as(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    write_response(
        stream,
        status,
        content_type,
        "Cache-Control: no-store\r\n",
        body,
    )
    .await;
}

async fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    cache: &str,
    body: &[u8],
) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{cache}Connection: close\r\n\r\n",
        http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Status"),
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn stream_oversized(stream: &mut TcpStream, len: usize) {
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"keys\":[";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = [b' '; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        if stream.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        sent += n;
    }
    let _ = stream.write_all(b"]}").await;
    let _ = stream.shutdown().await;
}
