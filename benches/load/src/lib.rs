//! What the load test's binaries share: the issuer and audience of the
//! minted tokens, the files `mint` writes, and the claims every variant's
//! handler reads.
//!
//! - `mint DIR [--small]` writes the public JWK Set and the token lists.
//! - `server --variant NAME --keys DIR` serves `GET /orders` (a small JSON
//!   answer built from the claims) on 127.0.0.1 and prints `listening on ADDR`.
//! - `load --addr ADDR --tokens FILE ...` keeps a fixed number of keep-alive
//!   connections busy and prints one JSON line of throughput and latency.
//!
//! `run.sh` drives them; `report.py` prints the table.

use serde::Deserialize;

pub const ISSUER: &str = "https://issuer.example.com/";
pub const AUDIENCE: &str = "api://orders";
/// Far in the future: minted tokens stay valid for every run.
pub const EXPIRES: u64 = 4_102_444_800;

/// The claims the handlers read besides the registered ones (strings and
/// booleans as JSON has them, so every library reads them alike).
#[derive(Debug, Clone, Deserialize)]
pub struct TenantClaims {
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    pub admin: bool,
}

/// The handlers' answer: the same shape for every variant, with fixed
/// values where there is no authentication.
#[derive(Debug, serde::Serialize)]
pub struct Order {
    pub tenant: String,
    pub subject: String,
    pub admin: bool,
}

/// The token lists `mint` writes, by file name: (file, algorithm, count,
/// count with `--small`).
pub const TOKEN_SETS: [(&str, &str, usize, usize); 5] = [
    ("rs256-1", "RS256", 1, 1),
    ("rs256-1000", "RS256", 1_000, 1_000),
    ("rs256-100000", "RS256", 100_000, 4_000),
    ("rs256-fresh", "RS256", 150_000, 6_000),
    ("es256-1000", "ES256", 1_000, 1_000),
];

/// The DPoP list `mint` writes: (file, clients, proofs, proofs with
/// `--small`). Each line is an RS256 access token bound to its client's
/// ES256 DPoP key (`cnf.jkt`) and, after a space, a proof of that key for
/// `GET {DPOP_ORIGIN}/orders` with its own `jti` (each used once: the
/// load generator runs this list with `--once`).
pub const DPOP_SET: (&str, usize, usize, usize) = ("dpop-1000", 1_000, 150_000, 3_000);

/// The origin DPoP proofs name in `htu`: the server is told it is its
/// public origin (it listens on a port chosen at start).
pub const DPOP_ORIGIN: &str = "https://api.example.com";

/// The public keys' file in the keys directory (a JWK Set, `kid` "rs" for
/// RS256 and "es" for ES256).
pub const JWKS_FILE: &str = "jwks.json";

/// Reads a token list: one token a line.
pub fn read_tokens(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// This process's CPU time (user and system) so far, in µs.
pub fn cpu_time_us() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}
