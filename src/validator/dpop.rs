//! [`Dpop`]: a validator's DPoP settings (RFC 9449): off, allowed or
//! required, the proof rules, server nonces, the replay store, and where
//! the request's public URL comes from.

use std::fmt;
use std::sync::Arc;

use crate::jose::dpop::{DpopNonces, DpopRules, ProofKey, proof_header};
use crate::jose::error::{ConfigError, Error};
use crate::remote::replay::{MemoryReplayStore, ReplayStore};

/// Whether a validator accepts DPoP-bound tokens, and bearer tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DpopMode {
    /// No DPoP: `Authorization: DPoP …` is malformed (400) and a token
    /// bound to a key (`cnf`) is refused, never taken as a bearer token.
    #[default]
    Off,
    /// Bearer and DPoP both accepted; a DPoP-bound token only with its
    /// proof (sent as `Bearer`, it is refused: RFC 9449 §7.2).
    Allowed,
    /// DPoP only: a request with the `Bearer` scheme is refused.
    Required,
}

/// Where the URL a DPoP proof must name (`htu`) comes from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    /// `scheme://host[:port]` and a path prefix, as configured: every
    /// request's URL is this followed by its path.
    pub(crate) public: Option<(String, String)>,
    /// Take scheme and host from `Forwarded` / `X-Forwarded-Proto` /
    /// `X-Forwarded-Host` (a trusted proxy sets them).
    pub(crate) forwarded: bool,
}

/// A validator's DPoP settings (RFC 9449), for
/// [`ValidatorBuilder::dpop`](crate::ValidatorBuilder::dpop).
///
/// Each request with `Authorization: DPoP <token>` must carry exactly one
/// `DPoP` proof header: a JWT signed by the key the token is bound to
/// (`cnf.jkt`), naming this request's method and URL and this token, fresh,
/// and never seen before (its `jti` is remembered for the proof window in
/// the [replay store](Self::replay_store)). With [nonces](Self::nonces),
/// proofs must also carry a nonce this server issued.
///
/// The request's URL is what the client used. Behind a proxy or load
/// balancer that is not what the server sees: set
/// [`public_origin`](Self::public_origin), or
/// [`trust_forwarded_headers`](Self::trust_forwarded_headers) when a proxy
/// you control sets them. Without either, the URL is the request's own: its
/// absolute URI (HTTP/2), else `http://` and its `Host` header.
///
/// ```
/// use jwt_gate::{Algorithm, Validator, dpop::{Dpop, DpopNonces, DpopRules}};
///
/// # fn f() -> Result<(), jwt_gate::ConfigError> {
/// let validator = Validator::builder()
///     .issuer("https://auth.example.com")
///     .audience("api://orders")
///     .dpop(
///         Dpop::required()
///             .rules(DpopRules::new().algorithms([Algorithm::ES256, Algorithm::EdDSA]))
///             .nonces(DpopNonces::new(b"the same 32+ byte secret on every replica")?)
///             .public_origin("https://api.example.com"),
///     )
///     .build()?;
/// # let _ = validator; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Dpop {
    mode: DpopMode,
    rules: DpopRules,
    nonces: Option<DpopNonces>,
    replay: Option<Arc<dyn ReplayStore>>,
    public_origin: Option<String>,
    forwarded: bool,
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("rules", &self.rules)
            .field("nonces", &self.nonces)
            .field("replay", &self.replay)
            .field("public_origin", &self.public_origin)
            .field("forwarded", &self.forwarded)
            .finish()
    }
}

impl Dpop {
    fn with_mode(mode: DpopMode) -> Self {
        Self {
            mode,
            rules: DpopRules::new(),
            nonces: None,
            replay: None,
            public_origin: None,
            forwarded: false,
        }
    }

    /// No DPoP (the default of a validator): bound tokens are refused.
    pub fn off() -> Self {
        Self::with_mode(DpopMode::Off)
    }

    /// Bearer and DPoP tokens both accepted; a DPoP-bound token only with
    /// its proof.
    pub fn allowed() -> Self {
        Self::with_mode(DpopMode::Allowed)
    }

    /// DPoP only: `Bearer` requests are refused.
    pub fn required() -> Self {
        Self::with_mode(DpopMode::Required)
    }

    /// A mode chosen at run time (a flag, a setting).
    pub fn mode(mode: DpopMode) -> Self {
        Self::with_mode(mode)
    }

    /// The proof rules: algorithms, freshness, sizes.
    ///
    /// Defaults to [`DpopRules::new`].
    pub fn rules(mut self, rules: DpopRules) -> Self {
        self.rules = rules;
        self
    }

    /// Requires every proof to carry a nonce from these (RFC 9449 §9): a
    /// proof without one, or with a stale one, gets 401
    /// `error="use_dpop_nonce"` and a fresh `DPoP-Nonce`, and clients retry
    /// with it. Replicas that share the secret accept each other's nonces.
    /// A nonce also bounds how far ahead a client holding the key can make
    /// proofs (RFC 9449 §11.2).
    ///
    /// Defaults to none.
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Where proofs are remembered (each accepted once within the proof
    /// window). Use a shared store ([`RedisReplayStore`](crate::dpop::RedisReplayStore),
    /// feature `redis`) when several replicas serve one API: with an
    /// in-process store, a proof refused by one replica is accepted by the
    /// next.
    ///
    /// Defaults to a [`MemoryReplayStore`] of this validator's own (one
    /// million proofs at most).
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.replay = Some(Arc::new(store));
        self
    }

    /// The scheme, host, port and path prefix clients use to reach this
    /// service, such as `https://api.example.com` or
    /// `https://example.com/orders-api` (a proxy that strips the prefix):
    /// a proof's `htu` must be this followed by the request's path.
    ///
    /// Defaults to none: see [`Dpop`] for where the URL comes from then.
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.public_origin = Some(origin.into());
        self
    }

    /// Takes the request's scheme and host from the `Forwarded` header
    /// (RFC 7239, its first element), else `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` (their first values), when no
    /// [`public_origin`](Self::public_origin) is set. Only behind a proxy
    /// that sets (or strips) them on every request: a client that can set
    /// them itself chooses the URL its proofs are checked against.
    ///
    /// Defaults to off.
    pub fn trust_forwarded_headers(mut self) -> Self {
        self.forwarded = true;
        self
    }

    /// Checks the settings (at the validator's `build()`).
    pub(crate) fn build(self) -> Result<Option<Arc<DpopSettings>>, ConfigError> {
        if self.mode == DpopMode::Off {
            return Ok(None);
        }
        if self.rules.allowed_algorithms().next().is_none() {
            return Err(ConfigError::new(
                "dpop",
                "no proof algorithm is allowed (HS* never are)",
            ));
        }
        if self.rules.max_age.is_zero() {
            return Err(ConfigError::new("dpop", "the proof max_age is zero"));
        }
        let public = self
            .public_origin
            .as_deref()
            .map(public_origin)
            .transpose()?;
        let replay = self
            .replay
            .unwrap_or_else(|| Arc::new(MemoryReplayStore::default()));
        Ok(Some(Arc::new(DpopSettings {
            mode: self.mode,
            rules: self.rules,
            nonces: self.nonces,
            replay,
            origin: Origin {
                public,
                forwarded: self.forwarded,
            },
            keys: moka::sync::Cache::builder()
                .weigher(weigh)
                .max_capacity(KEY_CACHE_BYTES)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        })))
    }
}

/// `origin` as (`scheme://authority`, path prefix without a trailing `/`).
fn public_origin(origin: &str) -> Result<(String, String), ConfigError> {
    let bad = |why: &'static str| ConfigError::new("public_origin", format!("{why}: {origin}"));
    let url = url::Url::parse(origin).map_err(|_| bad("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("not an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("a URL with user info"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a URL with a query or fragment"));
    }
    let host = url.host_str().ok_or_else(|| bad("a URL without a host"))?;
    let mut base = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        base.push_str(&format!(":{port}"));
    }
    let prefix = url.path().trim_end_matches('/').to_owned();
    Ok((base, prefix))
}

/// Bytes of proof keys kept (header segments and parsed keys): thousands
/// of clients' keys.
const KEY_CACHE_BYTES: u64 = 4 * 1024 * 1024;
/// A parsed key's size besides its header segment (a rough count).
const KEY_OVERHEAD: usize = 512;

/// A cached proof key's weight: its header segment and the parsed key.
#[allow(
    clippy::borrowed_box,
    reason = "moka's weigher takes the key type by reference"
)]
fn weigh(segment: &Box<str>, _: &Arc<ProofKey>) -> u32 {
    u32::try_from(segment.len() + KEY_OVERHEAD).unwrap_or(u32::MAX)
}

/// A validator's DPoP settings, checked.
#[derive(Debug)]
pub(crate) struct DpopSettings {
    pub(crate) mode: DpopMode,
    pub(crate) rules: DpopRules,
    pub(crate) nonces: Option<DpopNonces>,
    pub(crate) replay: Arc<dyn ReplayStore>,
    pub(crate) origin: Origin,
    /// Proof headers seen, by their base64url segment: checked, the key
    /// parsed (an EC point decoded and validated) and thumbprinted once per
    /// client key. Only headers that passed are kept; a hit is the very
    /// same bytes.
    keys: moka::sync::Cache<Box<str>, Arc<ProofKey>, foldhash::fast::RandomState>,
}

impl DpopSettings {
    /// The checked header and parsed key of a proof whose header segment is
    /// `segment` (decoded: `header`).
    pub(crate) fn proof_key(&self, segment: &str, header: &[u8]) -> Result<Arc<ProofKey>, Error> {
        if let Some(key) = self.keys.get(segment) {
            return Ok(key);
        }
        let key = Arc::new(proof_header(header, &self.rules)?);
        self.keys.insert(segment.into(), Arc::clone(&key));
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_origin_mistakes_found_at_build() {
        for bad in [
            "api.example.com",
            "ftp://api.example.com",
            "https://u@api.example.com",
            "https://api.example.com/?x",
            "https://api.example.com/#f",
        ] {
            let err = Dpop::allowed().public_origin(bad).build().unwrap_err();
            assert_eq!(err.setting(), "public_origin", "{bad}");
        }
        assert_eq!(
            public_origin("HTTPS://API.example.com:443/orders/").unwrap(),
            ("https://api.example.com".to_owned(), "/orders".to_owned())
        );
    }

    #[test]
    fn no_algorithm_is_a_config_error() {
        let rules = DpopRules::new().algorithms([crate::jose::algorithm::Algorithm::HS256]);
        assert_eq!(
            Dpop::required().rules(rules).build().unwrap_err().setting(),
            "dpop"
        );
        assert!(Dpop::off().build().unwrap().is_none());
    }
}
