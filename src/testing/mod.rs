//! Feature `testing`: [`TestIssuer`], a real OAuth 2.0 issuer on 127.0.0.1
//! for testing services that use jwt-gate, and [`SigningKey`], the signer
//! it (and jwt-gate's own tests, benches and examples) mint tokens with.

mod certificate;
mod discovery;
mod dpop;
mod introspection;
mod server;
mod signer;
#[cfg(feature = "tonic")]
mod text_codec;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;

pub use self::certificate::TestCertificate;
pub use self::discovery::{Discovered, DiscoveryError, discover_token, request_token};
pub use self::dpop::{DpopKey, ProofBuilder};
pub use self::signer::SigningKey;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub use self::text_codec::TextCodec;
use crate::jose::algorithm::Algorithm;
use crate::jose::time::UnixTime;

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
/// issuer templates), a token endpoint (`POST /token`, client
/// credentials with an RFC 8707 `resource`, which becomes `aud`), and an
/// introspection endpoint (`POST /introspect`, RFC 7662, with RFC 9701 JWT
/// answers on request) for the opaque tokens it mints
/// ([`TokenBuilder::opaque`]) and the JWTs it signs, which it can
/// [`revoke`](Self::revoke).
///
/// Use it with [`ValidatorBuilder::allow_http`](crate::ValidatorBuilder::allow_http),
/// since it speaks plain http. The server stops when the `TestIssuer` is
/// dropped.
///
/// ```
/// use jwt_gate::{Claims, Validator, testing::TestIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
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

pub(crate) struct Shared {
    addr: SocketAddr,
    issuer: String,
    /// Published keys, newest last; the newest signs.
    keys: Mutex<Vec<(String, Arc<SigningKey>)>>,
    /// Extra members of published JWKs: (kid, name, value).
    key_members: Mutex<Vec<(String, String, Value)>>,
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
    /// Opaque tokens issued, and their claims.
    opaque: Mutex<HashMap<String, Value>>,
    /// Tokens revoked (opaque or JWT).
    revoked: Mutex<HashSet<String>>,
    /// Calls to the introspection endpoint so far.
    introspections: AtomicUsize,
    /// The public keys of the introspection client's assertions
    /// (`private_key_jwt`), when registered.
    client_keys: Mutex<Option<crate::jose::jwks::KeySet>>,
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
    /// The signing algorithm: RS*/PS* (RSA-2048 keys), ES256, ES384, ES512
    /// (P-521), EdDSA. HS* publishes its secret as an `oct` JWK, which a
    /// validator refuses from a fetched JWK Set (to test exactly that).
    /// Defaults to RS256.
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
            key_members: Mutex::new(Vec::new()),
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
            opaque: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashSet::new()),
            introspections: AtomicUsize::new(0),
            client_keys: Mutex::new(None),
        });
        let server = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
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
        let alg = self.signing_key().1.algorithm();
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

    /// Publishes the JWK of `kid` with one more member, such as the
    /// `issuer` Entra ID adds to each key (replacing one of the same name).
    pub fn set_key_member(&self, kid: &str, name: &str, value: Value) {
        let mut members = lock(&self.shared.key_members);
        members.retain(|(k, n, _)| !(k == kid && n == name));
        members.push((kid.to_owned(), name.to_owned(), value));
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

    /// The JWK Set it serves now (public keys, newest last).
    pub fn jwks(&self) -> Value {
        server::jwks(&self.shared)
    }

    /// The discovery document it serves.
    pub fn discovery_document(&self) -> Value {
        server::document(&self.shared)
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

    /// The introspection endpoint (also in the discovery document). A
    /// resource server introspects as [`INTROSPECTION_CLIENT_ID`], with
    /// `client_secret_basic` or `client_secret_post` and
    /// [`INTROSPECTION_CLIENT_SECRET`], or with `private_key_jwt` once
    /// [`register_client_key`](Self::register_client_key) named its key;
    /// other credentials get 401 `invalid_client`.
    pub fn introspection_endpoint(&self) -> String {
        format!("http://{}/introspect", self.shared.addr)
    }

    /// Registers the public keys of the introspection client's assertions
    /// (`private_key_jwt`, RFC 7523): `aud` must be the issuer, `iss` and
    /// `sub` the client id.
    pub fn register_client_key(&self, keys: crate::jose::jwks::KeySet) {
        *lock(&self.shared.client_keys) = Some(keys);
    }

    /// Revokes `token` (opaque or JWT): introspection says
    /// `"active": false` from now on.
    pub fn revoke(&self, token: &str) {
        lock(&self.shared.revoked).insert(token.to_owned());
    }

    /// Calls to the introspection endpoint so far (answered or not).
    pub fn introspections(&self) -> usize {
        self.shared.introspections.load(Ordering::SeqCst)
    }
}

/// The client id of [`TestIssuer`]'s introspection endpoint.
pub const INTROSPECTION_CLIENT_ID: &str = "resource-server";
/// The client secret of [`TestIssuer`]'s introspection endpoint.
pub const INTROSPECTION_CLIENT_SECRET: &str = "resource-server-secret";

/// A token being minted by a [`TestIssuer`]. Finish with [`sign`](Self::sign).
#[must_use]
pub struct TokenBuilder {
    shared: Arc<Shared>,
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

    /// Exactly these claims, replacing all (the defaults included): for a
    /// provider's documented claim set.
    pub fn claims(mut self, claims: Value) -> Self {
        self.claims = claims;
        self
    }

    /// Binds the token to `key` (`cnf.jkt`, RFC 9449 §6.1): it is accepted
    /// only with a proof signed by that key.
    pub fn dpop_bound(self, key: &DpopKey) -> Self {
        self.confirm("jkt", key.thumbprint().to_owned())
    }

    /// Binds the token to `certificate` (`cnf.x5t#S256`, RFC 8705 §3.1):
    /// it is accepted only from a request presenting that certificate.
    /// With [`dpop_bound`](Self::dpop_bound) too, `cnf` carries both.
    pub fn certificate_bound(self, certificate: &TestCertificate) -> Self {
        self.confirm("x5t#S256", certificate.thumbprint())
    }

    /// Adds `member` to `cnf` (made an object if it is not one).
    fn confirm(mut self, member: &str, value: String) -> Self {
        let cnf = &mut self.claims["cnf"];
        if !cnf.is_object() {
            *cnf = json!({});
        }
        cnf[member] = Value::String(value);
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

    /// An opaque token (43 random base64url characters) standing for these
    /// claims: only the issuer's introspection endpoint can tell what it
    /// is. The header is not used.
    pub fn opaque(self) -> String {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
        let token = signer::b64(&bytes);
        lock(&self.shared.opaque).insert(token.clone(), self.claims);
        token
    }

    /// Signs: `BASE64URL(header).BASE64URL(claims).BASE64URL(signature)`.
    pub fn sign(mut self) -> String {
        self.header["alg"] = self.alg.as_str().into();
        self.key.sign_raw(
            self.alg,
            self.header.to_string().as_bytes(),
            self.claims.to_string().as_bytes(),
        )
    }
}

fn signing_key(shared: &Shared) -> (String, Arc<SigningKey>) {
    let keys = lock(&shared.keys);
    let (kid, key) = keys.last().expect("the issuer has a key");
    (kid.clone(), Arc::clone(key))
}

pub(crate) fn new_token(shared: &Arc<Shared>) -> TokenBuilder {
    let (kid, key) = signing_key(shared);
    let now = UnixTime::now().as_secs();
    let jti = shared.next_jti.fetch_add(1, Ordering::Relaxed);
    TokenBuilder {
        shared: Arc::clone(shared),
        alg: key.algorithm(),
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
