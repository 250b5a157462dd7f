//! Feature `testing`: [`TestIssuer`], a real OAuth 2.0 issuer on 127.0.0.1
//! for testing services that use jwt-gate.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::signature::{SigningKey, name};
use crate::{Algorithm, UnixTime};

/// How the issuer answers HTTP requests, for fault tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerMode {
    /// Serves discovery and JWKS.
    Normal,
    /// Closes every connection at once, answering nothing.
    Down,
    /// Answers every request with this status and an empty body.
    Status(u16),
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers 200 with a body of this many bytes, streamed without
    /// `Content-Length` (what a capped client must stop reading).
    Oversized(usize),
}

/// A real issuer on `127.0.0.1`: OpenID discovery and a JWK Set over HTTP,
/// tokens minted with any claims, keys rotated and retired, faults on
/// demand, and a count of every fetch. It also serves one issuer per tenant
/// under `/tenants/{tenant}` ([`tenant_issuer`](Self::tenant_issuer), for
/// issuer templates) and a token endpoint (`POST /token`, client
/// credentials with an RFC 8707 `resource`, which becomes `aud`).
///
/// Use it with [`ValidatorBuilder::allow_http`](crate::ValidatorBuilder::allow_http),
/// since it speaks plain http. The server stops when the `TestIssuer` is
/// dropped.
///
/// ```
/// use jwt_gate::{Claims, Validator, testing::TestIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jwt_gate::Error> {
/// let issuer = TestIssuer::start().await;
/// let validator = Validator::builder()
///     .issuer(issuer.issuer())
///     .audience("api://orders")
///     .allow_http()
///     .build()?;
///
/// let token = issuer.token().audience("api://orders").scope("orders.read").claim("tenantId", "1741").sign();
/// let claims: Claims<serde_json::Value> = validator.validate(&token).await?;
/// assert_eq!(claims["tenantId"], "1741");
/// assert_eq!(issuer.jwks_fetches(), 1);
/// # Ok(()) }
/// ```
pub struct TestIssuer {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    addr: SocketAddr,
    issuer: String,
    /// Published keys, newest last; the newest signs.
    keys: Mutex<Vec<(String, Arc<SigningKey>)>>,
    next_kid: AtomicUsize,
    next_jti: AtomicUsize,
    mode: Mutex<IssuerMode>,
    max_age: Mutex<Option<u64>>,
    discovery_override: Mutex<Option<Value>>,
    /// Where the JWK Set is served (and what discovery names).
    jwks_path: Mutex<String>,
    discovery_fetches: AtomicUsize,
    metadata_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    tenant_fetches: AtomicUsize,
    tokens_issued: AtomicUsize,
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.shared.issuer)
            .field("kids", &self.kids())
            .finish()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Options for [`TestIssuer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TestIssuerBuilder {
    alg: Algorithm,
    trailing_slash: bool,
    max_age: Option<u64>,
}

impl TestIssuerBuilder {
    /// The signing algorithm (RS*/PS* with RSA-2048 keys, ES256, ES384,
    /// EdDSA). Defaults to RS256.
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// Ends the issuer URL with `/`, as Auth0 does. Defaults to no slash.
    pub fn trailing_slash(mut self) -> Self {
        self.trailing_slash = true;
        self
    }

    /// The JWKS `Cache-Control: max-age`, `None` for no header. Defaults to
    /// 600 seconds.
    pub fn cache_max_age(mut self, secs: Option<u64>) -> Self {
        self.max_age = secs;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound, or outside a tokio runtime.
    pub async fn start(self) -> TestIssuer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let issuer = format!(
            "http://{addr}{}",
            if self.trailing_slash { "/" } else { "" }
        );
        let shared = Arc::new(Shared {
            addr,
            issuer,
            keys: Mutex::new(vec![(
                "key-1".into(),
                Arc::new(SigningKey::generate(self.alg)),
            )]),
            next_kid: AtomicUsize::new(2),
            next_jti: AtomicUsize::new(1),
            mode: Mutex::new(IssuerMode::Normal),
            max_age: Mutex::new(self.max_age),
            discovery_override: Mutex::new(None),
            jwks_path: Mutex::new("/jwks".to_owned()),
            discovery_fetches: AtomicUsize::new(0),
            metadata_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            tenant_fetches: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        TestIssuer { shared, server }
    }
}

impl TestIssuer {
    /// An RS256 issuer on a free loopback port, with one key (`key-1`).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Options: algorithm, trailing slash, cache lifetime.
    pub fn builder() -> TestIssuerBuilder {
        TestIssuerBuilder {
            alg: Algorithm::RS256,
            trailing_slash: false,
            max_age: Some(600),
        }
    }

    /// The issuer identifier (`http://127.0.0.1:PORT`, with `/` if asked).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The JWK Set URL.
    pub fn jwks_uri(&self) -> String {
        format!(
            "http://{}{}",
            self.shared.addr,
            lock(&self.shared.jwks_path)
        )
    }

    /// Moves the JWK Set to `path` (such as `/keys/v2`), as an IdP that
    /// reorganises its endpoints would: the old path answers 404 from now
    /// on and discovery names the new URL.
    ///
    /// # Panics
    ///
    /// When `path` does not start with `/`.
    pub fn move_jwks(&self, path: &str) {
        assert!(path.starts_with('/'), "a path starts with /");
        *lock(&self.shared.jwks_path) = path.to_owned();
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The issuer of one tenant: `http://127.0.0.1:PORT/tenants/{tenant}`.
    /// Every tenant has discovery and a JWK Set under that path, with the
    /// same keys; sign its tokens with
    /// `token().issuer(&issuer.tenant_issuer(..))`. For issuer templates:
    /// `http://127.0.0.1:PORT/tenants/{tenant}`.
    pub fn tenant_issuer(&self, tenant: &str) -> String {
        format!("http://{}/tenants/{tenant}", self.shared.addr)
    }

    /// Discovery and JWKS requests under `/tenants/` so far.
    pub fn tenant_fetches(&self) -> usize {
        self.shared.tenant_fetches.load(Ordering::SeqCst)
    }

    /// Access tokens issued by the token endpoint so far.
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// Starts a token signed by the newest key, with `iss`, `sub`
    /// (`user-1`), `iat`, `exp` (in one hour), `jti`, `client_id` and
    /// header `typ: at+jwt`; no audience until you set one.
    pub fn token(&self) -> TokenBuilder {
        new_token(&self.shared)
    }

    fn signing_key(&self) -> (String, Arc<SigningKey>) {
        signing_key(&self.shared)
    }

    /// Adds a new key of the same algorithm, which signs from now on; the
    /// old keys stay published until [`retire`](Self::retire)d. Returns the
    /// new `kid`.
    pub fn rotate(&self) -> String {
        let alg = self.signing_key().1.alg;
        let kid = format!(
            "key-{}",
            self.shared.next_kid.fetch_add(1, Ordering::Relaxed)
        );
        lock(&self.shared.keys).push((kid.clone(), Arc::new(SigningKey::generate(alg))));
        kid
    }

    /// Removes a key from the JWK Set (tokens it signed then fail once
    /// validators refresh). The newest key cannot be retired.
    ///
    /// # Panics
    ///
    /// When `kid` is the only or newest key.
    pub fn retire(&self, kid: &str) {
        let mut keys = lock(&self.shared.keys);
        assert!(
            keys.last().is_some_and(|(k, _)| k != kid),
            "the signing key cannot be retired; rotate first"
        );
        keys.retain(|(k, _)| k != kid);
    }

    /// The published `kid`s, oldest first.
    pub fn kids(&self) -> Vec<String> {
        lock(&self.shared.keys)
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Switches how requests are answered.
    pub fn set_mode(&self, mode: IssuerMode) {
        *lock(&self.shared.mode) = mode;
    }

    /// Sets the JWKS `Cache-Control: max-age` (`None`: no header).
    pub fn set_cache_max_age(&self, secs: Option<u64>) {
        *lock(&self.shared.max_age) = secs;
    }

    /// Serves this discovery document instead of the real one (`None`:
    /// the real one again), e.g. with another `issuer` or no `jwks_uri`.
    pub fn override_discovery(&self, document: Option<Value>) {
        *lock(&self.shared.discovery_override) = document;
    }

    /// The discovery document it serves.
    pub fn discovery_document(&self) -> Value {
        document(&self.shared)
    }

    /// Requests for `/.well-known/openid-configuration` so far.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Requests for `/.well-known/oauth-authorization-server` so far.
    pub fn metadata_fetches(&self) -> usize {
        self.shared.metadata_fetches.load(Ordering::SeqCst)
    }

    /// Requests for the JWK Set so far.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }
}

/// A token being minted by a [`TestIssuer`]. Finish with [`sign`](Self::sign).
#[must_use]
pub struct TokenBuilder {
    key: Arc<SigningKey>,
    alg: Algorithm,
    header: Value,
    claims: Value,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("alg", &self.alg)
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish()
    }
}

impl TokenBuilder {
    /// `iss` (defaults to the issuer's own).
    pub fn issuer(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }

    /// `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// `aud` as a string.
    pub fn audience(self, aud: &str) -> Self {
        self.claim("aud", aud)
    }

    /// `aud` as an array.
    pub fn audiences(self, auds: &[&str]) -> Self {
        self.claim("aud", auds)
    }

    /// `scope` as a space-separated string (use [`claim`](Self::claim)
    /// with an array for IdentityServer's shape).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Any claim, replacing one of the same name.
    ///
    /// # Panics
    ///
    /// When `value` cannot be serialized to JSON.
    pub fn claim(mut self, name: &str, value: impl serde::Serialize) -> Self {
        self.claims[name] = serde_json::to_value(value).expect("a JSON claim");
        self
    }

    /// Removes a claim (`exp`, `iss`, …).
    pub fn without_claim(mut self, name: &str) -> Self {
        if let Some(claims) = self.claims.as_object_mut() {
            claims.remove(name);
        }
        self
    }

    /// `exp` this long after now (`iat` stays now).
    pub fn expires_in(self, d: Duration) -> Self {
        let exp = UnixTime::now().as_secs() + d.as_secs();
        self.claim("exp", exp)
    }

    /// `exp` this long before now: an expired token.
    pub fn expired_since(self, d: Duration) -> Self {
        let exp = UnixTime::now().as_secs().saturating_sub(d.as_secs());
        self.claim("exp", exp)
    }

    /// The `alg` to sign with; it must fit the issuer's key (RS256 ↔ PS512
    /// on RSA keys, for instance). Defaults to the key's algorithm.
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// The header `kid` (the signing key stays the newest one).
    pub fn kid(self, kid: &str) -> Self {
        self.header("kid", kid)
    }

    /// Any header member, replacing one of the same name (`Value::Null`
    /// removes it).
    ///
    /// # Panics
    ///
    /// When `value` cannot be serialized to JSON.
    pub fn header(mut self, name: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).expect("a JSON header member");
        if let Some(header) = self.header.as_object_mut() {
            if value.is_null() {
                header.remove(name);
            } else {
                header.insert(name.to_owned(), value);
            }
        }
        self
    }

    /// Signs: `BASE64URL(header).BASE64URL(claims).BASE64URL(signature)`.
    pub fn sign(mut self) -> String {
        self.header["alg"] = name(self.alg).into();
        let b64 = |bytes: &[u8]| base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes);
        let input = format!(
            "{}.{}",
            b64(self.header.to_string().as_bytes()),
            b64(self.claims.to_string().as_bytes())
        );
        let signature = self.key.sign(self.alg, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }
}

fn signing_key(shared: &Shared) -> (String, Arc<SigningKey>) {
    let keys = lock(&shared.keys);
    let (kid, key) = keys.last().expect("the issuer has a key");
    (kid.clone(), Arc::clone(key))
}

fn new_token(shared: &Shared) -> TokenBuilder {
    let (kid, key) = signing_key(shared);
    let now = UnixTime::now().as_secs();
    let jti = shared.next_jti.fetch_add(1, Ordering::Relaxed);
    TokenBuilder {
        alg: key.alg,
        key,
        header: json!({ "typ": "at+jwt", "kid": kid }),
        claims: json!({
            "iss": shared.issuer,
            "sub": "user-1",
            "iat": now,
            "exp": now + 3600,
            "jti": format!("jti-{jti}"),
            "client_id": "test-client",
        }),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn document(shared: &Shared) -> Value {
    if let Some(doc) = lock(&shared.discovery_override).clone() {
        return doc;
    }
    let base = format!("http://{}", shared.addr);
    json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{base}{}", lock(&shared.jwks_path)),
        "token_endpoint": format!("{base}/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
    })
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
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
    let jwks = || {
        let keys: Vec<Value> = lock(&shared.keys)
            .iter()
            .map(|(kid, key)| key.public_jwk(kid))
            .collect();
        json!({ "keys": keys }).to_string()
    };
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
                    "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
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
fn token_response(shared: &Shared, form: &[u8]) -> (u16, Value) {
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
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cache}Connection: close\r\n\r\n",
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
