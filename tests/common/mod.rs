//! Test support: committed test keys (`tests/keys/`, made with openssl), a
//! signer that signs any header and payload bytes, JWKs for the keys, and a
//! fixed clock. Tokens are minted at test time, never hard-coded.
#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
pub use jwt_gate::testing::SigningKey as TestKey;
use jwt_gate::{Algorithm, UnixTime, Validation};
use serde_json::{Value, json};

/// The claims our users' handlers want, whatever the provider's spelling:
/// IdentityServer's `"tenantId": "1741"` and `"admin": "false"`, or numbers
/// and booleans from others.
#[derive(Debug, serde::Deserialize)]
pub struct TenantClaims {
    #[serde(
        rename = "tenantId",
        deserialize_with = "jwt_gate::de::string_or_number"
    )]
    pub tenant_id: String,
    #[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]
    pub admin: bool,
}

/// The fixed "now" of every test: 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;
pub const ISSUER: &str = "https://issuer.example.com/";
pub const AUDIENCE: &str = "api://orders";

pub fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

/// The committed private key `tests/keys/{name}.pk8.der`, for `alg`.
fn committed(alg: Algorithm, name: &str) -> TestKey {
    let der = std::fs::read(format!(
        "{}/tests/keys/{name}.pk8.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    TestKey::from_pkcs8(alg, &der).unwrap()
}

pub fn pub_pem(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/keys/{name}.pub.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn rsa2048() -> TestKey {
    committed(Algorithm::RS256, "rsa2048")
}
pub fn rsa4096() -> TestKey {
    committed(Algorithm::RS256, "rsa4096")
}
pub fn p256() -> TestKey {
    committed(Algorithm::ES256, "p256")
}
pub fn p384() -> TestKey {
    committed(Algorithm::ES384, "p384")
}
pub fn ed25519() -> TestKey {
    committed(Algorithm::EdDSA, "ed25519")
}
/// A fixed HMAC secret of `len` bytes (any length: short ones too).
pub fn hmac_key(len: usize) -> TestKey {
    let secret: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    TestKey::hmac(Algorithm::HS256, &secret)
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

pub fn alg_name(alg: Algorithm) -> String {
    alg.as_str().to_owned()
}

/// What the tests ask of a key besides `SigningKey`'s own methods.
pub trait TestKeyExt {
    /// The default algorithm for this key.
    fn alg(&self) -> Algorithm;
    /// The public JWK with `kid` and `use: sig`, without `alg` (so one RSA
    /// key serves RS* and PS* alike).
    fn jwk(&self, kid: &str) -> Value;
}

impl TestKeyExt for TestKey {
    fn alg(&self) -> Algorithm {
        self.algorithm()
    }

    fn jwk(&self, kid: &str) -> Value {
        let mut jwk = self.public_jwk(kid);
        jwk.as_object_mut().unwrap().remove("alg");
        jwk
    }
}

/// Signs the exact header and payload bytes given: the way to build tokens
/// that are malformed on purpose.
pub fn sign_raw(key: &TestKey, alg: Algorithm, header: &[u8], payload: &[u8]) -> String {
    key.sign_raw(alg, header, payload)
}

/// Signs `claims` with a header of `alg`, `kid` and any `extra` members.
pub fn sign_with(
    key: &TestKey,
    alg: Algorithm,
    kid: Option<&str>,
    extra: Value,
    claims: &Value,
) -> String {
    let mut header = json!({ "alg": alg_name(alg) });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            header[k] = v;
        }
    }
    key.sign_raw(
        alg,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

/// Signs `claims` with the key's default algorithm and `kid` "k1".
pub fn sign(key: &TestKey, claims: &Value) -> String {
    sign_with(key, key.alg(), Some("k1"), json!({}), claims)
}

/// A good access token's claims at [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-1234",
        "aud": AUDIENCE,
        "exp": NOW + 3600,
        "nbf": NOW - 300,
        "iat": NOW - 300,
        "jti": "4f1c2b9e",
        "client_id": "orders-web",
        "scope": "orders.read",
        "tenantId": "tenant-42",
        "admin": false,
    })
}

/// `claims()` with `patch` merged in (a `null` value removes the member).
pub fn claims_with(patch: Value) -> Value {
    let mut c = claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// The rules matching [`claims`].
pub fn rules() -> Validation {
    Validation::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(std::time::Duration::from_secs(60))
}

/// Serves `app` on a free loopback port; its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A Redis server for the tests: the one `JWT_GATE_REDIS_URL` names
/// (`.ci/run` starts one), else a `redis-server` of our own on a free
/// loopback port, stopped on drop. `None` (and why, on stderr) when there
/// is neither, outside CI; a panic under `CI=true`.
pub struct Redis {
    pub url: String,
    child: Option<std::process::Child>,
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn redis() -> Option<Redis> {
    if let Ok(url) = std::env::var("JWT_GATE_REDIS_URL") {
        return Some(Redis { url, child: None });
    }
    let port = free_port();
    match redis_server(port) {
        Ok(child) => Some(Redis {
            url: format!("redis://127.0.0.1:{port}/"),
            child: Some(child),
        }),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the Redis tests need redis-server in CI: {e}"
            );
            eprintln!("skipping a Redis test: redis-server cannot start ({e})");
            None
        }
    }
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-server` on 127.0.0.1:`port`, without persistence, once it
/// accepts connections. The caller stops it.
pub fn redis_server(port: u16) -> std::io::Result<std::process::Child> {
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("redis-server did not listen on port {port}");
}

/// `GET url` with these headers, by reqwest.
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

/// The `WWW-Authenticate` values of a response, in order.
pub fn challenges(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Polls `cond` every 10 ms for up to 5 s; panics naming `what` after.
pub async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
