//! [`Introspection`]: opaque tokens judged by the authorization server (RFC
//! 7662), with the cache, the single flight and the bounds that keep the
//! authorization server safe from us and the request path safe from it.
//!
//! Each answer is cached under the SHA-256 of the token (no raw token is
//! held), until the earlier of the token's `exp` and
//! [`max_cache_age`](Introspection::max_cache_age); `"active": false` for
//! [`inactive_cache_age`](Introspection::inactive_cache_age). One call per
//! token is in flight at a time, whoever asks; at most
//! [`max_concurrent`](Introspection::max_concurrent) calls at all; a
//! failure (the authorization server down, slow, erring, or refusing our
//! credentials) is answered 503 and not cached.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::ops::compute::Op;
use serde::de::DeserializeOwned;

use super::issuers::Trusted;
use crate::jose::algorithm::Algorithm;
use crate::jose::claims::{self, Claims};
use crate::jose::cnf::Bindings;
use crate::jose::digest::sha256;
use crate::jose::error::{ConfigError, Error};
use crate::jose::introspection::{self as response, JwtResponseRules, Verdict};
use crate::jose::time::UnixTime;
use crate::jose::validation::Validation;
use crate::remote::client_auth::{ClientAuth, ClientKey};
use crate::remote::fetch::{FetchConfig, FetchError, default_client, parse_url};
use crate::remote::introspect::{Endpoint, IntrospectionClient};
use crate::telemetry;

/// Which tokens are introspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IntrospectWhen {
    /// Tokens that are not JWTs (not three dot-separated segments); JWTs
    /// are validated locally with the issuer's keys.
    #[default]
    NotJwt,
    /// Every token, JWTs included, for a server that must see revocation
    /// on every call (within [`max_cache_age`](Introspection::max_cache_age)):
    /// the claims are then the authorization server's answer.
    Always,
}

/// Introspection settings (RFC 7662) for one issuer, for
/// [`ValidatorBuilder::introspection`](crate::ValidatorBuilder::introspection):
/// the client the resource server authenticates as, the endpoint (the
/// issuer's discovered `introspection_endpoint` unless given), which tokens
/// go there, and the cache and bounds.
///
/// The answer's members (`exp`, `iss`, `aud`, `client_id`, `scope`, `sub`,
/// `cnf`, your own) go through the same [`Validation`] rules as a JWT's
/// claims, into the same `Claims<C>`; `exp` is required as for a JWT, and
/// a missing `iss` is the issuer asked.
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::Validator;
/// use jwt_gate::introspection::Introspection;
///
/// let validator = Validator::builder()
///     .issuer("https://auth.example.com/")
///     .audience("api://orders")
///     .introspection(
///         Introspection::client_secret_basic("orders-api", "s3cret")
///             .max_cache_age(Duration::from_secs(30)),
///     )
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    auth: ClientAuth,
    endpoint: Option<String>,
    when: IntrospectWhen,
    max_cache_age: Duration,
    inactive_cache_age: Duration,
    timeout: Duration,
    max_response_bytes: usize,
    max_concurrent: usize,
    cache_bytes: u64,
    signed_responses: bool,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("auth", &self.auth)
            .field("endpoint", &self.endpoint)
            .field("when", &self.when)
            .field("max_cache_age", &self.max_cache_age)
            .field("signed_responses", &self.signed_responses)
            .finish_non_exhaustive()
    }
}

impl Introspection {
    fn new(auth: ClientAuth) -> Self {
        Self {
            auth,
            endpoint: None,
            when: IntrospectWhen::NotJwt,
            max_cache_age: Duration::from_secs(60),
            inactive_cache_age: Duration::from_secs(5),
            timeout: Duration::from_secs(3),
            max_response_bytes: 64 * 1024,
            max_concurrent: 32,
            cache_bytes: 32 * 1024 * 1024,
            signed_responses: false,
        }
    }

    /// Authenticates as `client_id` with HTTP Basic (RFC 6749 §2.3.1: id
    /// and secret form-encoded first, as Spring and oidc-provider expect).
    pub fn client_secret_basic(client_id: impl AsRef<str>, secret: impl AsRef<str>) -> Self {
        Self::new(ClientAuth::basic(client_id.as_ref(), secret.as_ref()))
    }

    /// Authenticates as `client_id` with `client_id` and `client_secret`
    /// in the form body.
    pub fn client_secret_post(client_id: impl AsRef<str>, secret: impl AsRef<str>) -> Self {
        Self::new(ClientAuth::post(client_id.as_ref(), secret.as_ref()))
    }

    /// Authenticates as `client_id` with a client assertion (RFC 7523)
    /// signed by `key` per call; its `aud` is the issuer (else the
    /// endpoint).
    pub fn private_key_jwt(client_id: impl AsRef<str>, key: ClientKey) -> Self {
        Self::new(ClientAuth::private_key_jwt(client_id.as_ref(), key))
    }

    /// The introspection endpoint.
    ///
    /// Defaults to the issuer's `introspection_endpoint` (discovery, once,
    /// on first use).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Which tokens are introspected.
    ///
    /// Defaults to [`IntrospectWhen::NotJwt`].
    pub fn when(mut self, when: IntrospectWhen) -> Self {
        self.when = when;
        self
    }

    /// How long an active answer is used before the authorization server is
    /// asked again (never past the token's `exp`): how long a revoked token
    /// may still be accepted. `Duration::ZERO` asks on every request
    /// (concurrent requests with one token still share one call).
    ///
    /// Defaults to 60 seconds.
    pub fn max_cache_age(mut self, age: Duration) -> Self {
        self.max_cache_age = age;
        self
    }

    /// How long `"active": false` is remembered, so that a flood of one bad
    /// token costs one call. `Duration::ZERO` remembers nothing.
    ///
    /// Defaults to 5 seconds.
    pub fn inactive_cache_age(mut self, age: Duration) -> Self {
        self.inactive_cache_age = age;
        self
    }

    /// The longest a request waits for an answer (a free call slot, the
    /// endpoint's discovery and the call together); then 503.
    ///
    /// Defaults to 3 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer read, counted while it streams.
    ///
    /// Defaults to 64 KiB.
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The most calls in flight at once: requests with other new tokens
    /// wait for a slot (within the [`timeout`](Self::timeout)), so a flood
    /// of distinct garbage tokens cannot make us flood the authorization
    /// server.
    ///
    /// Defaults to 32.
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }

    /// The bound of the answer cache, in bytes (answers, weighed by size).
    /// `0` turns the cache off altogether: every request makes its own
    /// call, concurrent ones included.
    ///
    /// Defaults to 32 MiB.
    pub fn cache_bytes(mut self, max: u64) -> Self {
        self.cache_bytes = max;
        self
    }

    /// Asks for RFC 9701 JWT answers (`Accept:
    /// application/token-introspection+jwt`) and accepts only those: signed
    /// by the issuer's keys, `typ` `token-introspection+jwt`, `iss` the
    /// issuer, `aud` our client id, `iat` present. A plain JSON answer is
    /// then refused (503, logged). The client must be registered for them
    /// (`introspection_signed_response_alg`). Needs an issuer.
    ///
    /// Defaults to plain JSON answers.
    pub fn signed_responses(mut self) -> Self {
        self.signed_responses = true;
        self
    }

    /// Checks the settings and makes the runtime part, for an issuer whose
    /// key store verifies signed answers.
    pub(crate) fn build(
        self,
        issuer: Option<&str>,
        fetch: &FetchConfig,
        client: Option<reqwest::Client>,
    ) -> Result<Introspector, ConfigError> {
        let config = |why: &'static str| ConfigError::new("introspection", why);
        if !self.auth.is_complete() {
            return Err(config("the client id and its secret must not be empty"));
        }
        if self.timeout.is_zero() {
            return Err(config("a zero timeout fails every introspection"));
        }
        if self.max_concurrent == 0 {
            return Err(config("max_concurrent 0 never introspects"));
        }
        if self.max_response_bytes == 0 {
            return Err(config("max_response_bytes 0 refuses every answer"));
        }
        if self.signed_responses && issuer.is_none() {
            return Err(config(
                "signed responses are checked against the issuer: set issuer()",
            ));
        }
        let endpoint = match (self.endpoint, issuer) {
            (Some(url), _) => Endpoint::Fixed(
                parse_url(&url, fetch.allow_http)
                    .map_err(|why| ConfigError::new("introspection", why))?,
            ),
            (None, Some(issuer)) => Endpoint::Discovered {
                issuer: issuer.to_owned(),
                url: tokio::sync::OnceCell::new(),
            },
            (None, None) => {
                return Err(config(
                    "no endpoint: set Introspection::endpoint(), or issuer() to discover it",
                ));
            }
        };
        let mut fetch = fetch.clone();
        fetch.timeout = self.timeout;
        let client = match client {
            Some(client) => client,
            None => default_client(&fetch)?,
        };
        // Also with both ages zero: the calls in flight are found there.
        let cache_ages = self.max_cache_age.max(self.inactive_cache_age);
        let cache = (self.cache_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.cache_bytes)
                .weigher(|_, slot: &Arc<Slot>| slot.weight())
                .time_to_live(cache_ages.saturating_add(self.timeout))
                .build_with_hasher(foldhash::fast::RandomState::default())
        });
        Ok(Introspector {
            client: IntrospectionClient {
                endpoint,
                auth: self.auth,
                client,
                fetch,
                max_bytes: self.max_response_bytes,
                jwt: self.signed_responses,
                issuer: issuer.map(str::to_owned),
            },
            when: self.when,
            max_cache_age: self.max_cache_age,
            inactive_cache_age: self.inactive_cache_age,
            timeout: self.timeout,
            permits: tokio::sync::Semaphore::new(self.max_concurrent),
            cache,
            calls: AtomicU64::new(0),
            id: front::new_owner(),
            generation: AtomicU64::new(0),
        })
    }
}

/// An issuer's introspection at run time.
pub(crate) struct Introspector {
    client: IntrospectionClient,
    pub(crate) when: IntrospectWhen,
    max_cache_age: Duration,
    inactive_cache_age: Duration,
    timeout: Duration,
    permits: tokio::sync::Semaphore,
    cache: Option<moka::sync::Cache<[u8; 32], Arc<Slot>, foldhash::fast::RandomState>>,
    calls: AtomicU64,
    /// Tells this introspector's front copies from others'.
    id: u64,
    /// Bumped when an answer is forgotten: front copies made before are
    /// not served.
    generation: AtomicU64,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("client", &self.client)
            .field("when", &self.when)
            .finish_non_exhaustive()
    }
}

/// One token's answer: filled once by the call that got there first, read
/// by every request with that token meanwhile and afterwards.
#[derive(Default)]
struct Slot {
    answer: tokio::sync::OnceCell<Result<Answer, Error>>,
}

impl Slot {
    fn weight(&self) -> u32 {
        let payload = match self.answer.get() {
            Some(Ok(Answer::Active { payload, .. })) => payload.len(),
            _ => 0,
        };
        u32::try_from(payload + 256).unwrap_or(u32::MAX)
    }
}

/// An answer, checked against the rules.
enum Answer {
    Active {
        /// The answer's claims object, to read again for another claims
        /// type.
        payload: Arc<[u8]>,
        /// The claims of the type they were first read as, or why the
        /// rules refused them.
        claims: Result<Arc<dyn Any + Send + Sync>, Error>,
        until: Instant,
    },
    Inactive {
        until: Instant,
    },
}

impl Answer {
    fn until(&self) -> Instant {
        match self {
            Self::Active { until, .. } | Self::Inactive { until } => *until,
        }
    }
}

/// Whether `token` looks like a JWT (JWS compact: three segments): the
/// routing test of [`IntrospectWhen::NotJwt`].
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    // `split_once` and `contains` on a char search with memchr: this runs
    // before every JWT cache hit of a validator that introspects.
    token
        .split_once('.')
        .and_then(|(_, rest)| rest.split_once('.'))
        .is_some_and(|(_, rest)| !rest.contains('.'))
}

impl Introspector {
    /// Whether this issuer introspects `token`.
    pub(crate) fn takes(&self, token: &str) -> bool {
        self.when == IntrospectWhen::Always || !looks_like_jwt(token)
    }

    /// Finds the endpoint now (discovery), within the timeout, for
    /// [`Validator::warm_up`](crate::Validator::warm_up).
    pub(crate) async fn warm_up(&self) -> Result<(), Error> {
        match tokio::time::timeout(self.timeout, self.client.endpoint()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(unavailable(FetchError::Network("timed out".into()))),
        }
    }

    /// How many calls went to the authorization server.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The cached answer for `token`, without waiting: `None` when there is
    /// none yet (or it is being asked for). An active answer this thread
    /// read before comes from its own front copy (no shared cache read).
    pub(crate) fn cached<C>(
        &self,
        token: &str,
        rules: &Validation,
        bindings: Bindings,
        at: Instant,
    ) -> Option<Result<Claims<C>, Error>>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let cache = self.cache.as_ref()?;
        let key = key(token);
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(claims) =
            front::get(self.id, generation, &key, at).and_then(Claims::<C>::from_any)
        {
            return Some(claims.recheck(rules, UnixTime::now()).map(|()| claims));
        }
        let slot = cache.get(&key)?;
        let answer = slot.answer.get()?.as_ref().ok()?;
        if answer.until() <= at {
            return None;
        }
        if let Answer::Active {
            claims: Ok(any),
            until,
            ..
        } = answer
        {
            front::put(self.id, generation, key, Arc::clone(any), *until);
        }
        Some(claims_of(answer, rules, bindings))
    }

    /// Drops the answer for `token` (every thread's front copy included):
    /// the next request asks again.
    pub(crate) fn forget(&self, token: &str) {
        if let Some(cache) = &self.cache {
            cache.invalidate(&key(token));
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The claims of `token`: the cached answer, or the one call in flight
    /// for it, or a new call.
    pub(crate) async fn introspect<C>(
        &self,
        token: &str,
        trusted: &Trusted,
        bindings: Bindings,
    ) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        if token.len() > trusted.rules.max_token_bytes {
            return Err(Error::TooLarge {
                size: token.len(),
                limit: trusted.rules.max_token_bytes,
            });
        }
        let key = key(token);
        let slot = self.slot(key);
        let mut asked = false;
        let answer = slot
            .answer
            .get_or_init(|| {
                asked = true;
                self.ask::<C>(token, trusted, bindings)
            })
            .await;
        if let Some(cache) = &self.cache {
            if asked && answer.is_ok() {
                // Again, now that it has an answer: weighed by its size.
                cache.insert(key, Arc::clone(&slot));
            } else if asked {
                // A failure is not kept: the next request asks again.
                self.replace_if_same(key, &slot, None);
            }
        }
        match answer {
            Ok(answer) => claims_of(answer, &trusted.rules, bindings),
            Err(e) => Err(e.clone()),
        }
    }

    /// The slot of `key`: the cached one while its answer is pending or
    /// fresh, else a new one in its place.
    fn slot(&self, key: [u8; 32]) -> Arc<Slot> {
        let Some(cache) = &self.cache else {
            return Arc::default();
        };
        let slot = cache.get_with(key, Arc::default);
        let stale = slot
            .answer
            .get()
            .is_some_and(|a| a.as_ref().map_or(true, |a| a.until() <= Instant::now()));
        if !stale {
            return slot;
        }
        let fresh: Arc<Slot> = Arc::default();
        match self.replace_if_same(key, &slot, Some(Arc::clone(&fresh))) {
            Some(current) => current,
            None => fresh,
        }
    }

    /// Replaces (or with `None` removes) the entry of `key` if it is still
    /// `old`; returns the entry that is there instead when it is not.
    fn replace_if_same(
        &self,
        key: [u8; 32],
        old: &Arc<Slot>,
        new: Option<Arc<Slot>>,
    ) -> Option<Arc<Slot>> {
        let cache = self.cache.as_ref()?;
        let mut other = None;
        cache.entry(key).and_compute_with(|entry| match entry {
            Some(entry) if Arc::ptr_eq(entry.value(), old) => match new {
                Some(new) => Op::Put(new),
                None => Op::Remove,
            },
            Some(entry) => {
                other = Some(Arc::clone(entry.value()));
                Op::Nop
            }
            None => match new {
                Some(new) => Op::Put(new),
                None => Op::Nop,
            },
        });
        other
    }

    /// Asks the authorization server, within the timeout (a free call slot
    /// included), and reads the answer.
    async fn ask<C>(
        &self,
        token: &str,
        trusted: &Trusted,
        bindings: Bindings,
    ) -> Result<Answer, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let permit = tokio::time::timeout_at(deadline, self.permits.acquire()).await;
        let Ok(Ok(_permit)) = permit else {
            return Err(unavailable(FetchError::Overloaded));
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = self.call::<C>(token, trusted, bindings, deadline).await;
        telemetry::introspection_call(match &answer {
            Ok(Answer::Active { .. }) => "active",
            Ok(Answer::Inactive { .. }) => "inactive",
            Err(_) => "error",
        });
        answer
    }

    /// The call itself and its answer read, by `deadline`.
    async fn call<C>(
        &self,
        token: &str,
        trusted: &Trusted,
        bindings: Bindings,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let answer = match tokio::time::timeout_at(deadline, self.client.introspect(token)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(unavailable(e)),
            Err(_) => return Err(unavailable(FetchError::Network("timed out".into()))),
        };
        // A signed answer may wait for the issuer's keys: within the deadline.
        let verdict =
            tokio::time::timeout_at(deadline, self.read(&answer.body, answer.jwt, trusted))
                .await
                .unwrap_or(Err(
                    "the issuer's keys, which verify signed answers, took too long",
                ));
        let verdict = verdict.map_err(|why| unavailable(FetchError::InvalidDocument(why)))?;
        let now = Instant::now();
        Ok(match verdict {
            Verdict::Inactive => Answer::Inactive {
                until: now + self.inactive_cache_age,
            },
            Verdict::Active(payload) => {
                let claims = claims::introspected::<C>(
                    payload.clone(),
                    &trusted.rules,
                    UnixTime::now(),
                    bindings,
                );
                let (claims, until) = match claims {
                    Ok(claims) => {
                        let left = claims
                            .expires_at()
                            .as_secs()
                            .saturating_sub(UnixTime::now().as_secs());
                        let age = self.max_cache_age.min(Duration::from_secs(left));
                        (Ok(claims.to_any()), now + age)
                    }
                    Err(e) => (Err(e), now + self.inactive_cache_age),
                };
                Answer::Active {
                    payload: payload.into(),
                    claims,
                    until,
                }
            }
        })
    }

    /// The verdict of an answer: JSON, or with signed responses on, a JWT
    /// verified with the issuer's keys.
    async fn read(
        &self,
        body: &[u8],
        jwt: bool,
        trusted: &Trusted,
    ) -> Result<Verdict, &'static str> {
        let issuer = trusted.rules.issuer.as_deref();
        if !self.client.jwt {
            if jwt {
                return Err("a JWT answer where JSON was asked for");
            }
            return response::read_json(body, issuer);
        }
        if !jwt {
            return Err("a plain JSON answer where a signed (RFC 9701) one is required");
        }
        let keys = trusted
            .store
            .keys()
            .await
            .map_err(|_| "the issuer's keys, which verify signed answers, are unavailable")?;
        let algorithms: Vec<Algorithm> = trusted
            .rules
            .algorithms
            .iter()
            .filter(|a| a.is_asymmetric())
            .collect();
        let rules = JwtResponseRules {
            issuer: issuer.unwrap_or_default(),
            client_id: self.client.auth.client_id(),
            algorithms: &algorithms,
            leeway_secs: trusted.rules.leeway.as_secs(),
        };
        response::read_jwt(body, &keys.keys, rules, UnixTime::now())
    }
}

/// Each thread's copies of the active answers it served last, by digest:
/// a direct-mapped table, so that a client repeating its token is answered
/// without a shared cache read (as the verified-token cache does for JWTs).
mod front {
    use std::any::Any;
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    const SLOTS: usize = 16;

    struct Copy {
        owner: u64,
        generation: u64,
        digest: [u8; 32],
        claims: Arc<dyn Any + Send + Sync>,
        until: Instant,
    }

    thread_local! {
        static FRONT: RefCell<[Option<Copy>; SLOTS]> = const { RefCell::new([const { None }; SLOTS]) };
    }

    pub(super) fn new_owner() -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    fn slot(digest: &[u8; 32]) -> usize {
        usize::from(digest[0]) % SLOTS
    }

    pub(super) fn get(
        owner: u64,
        generation: u64,
        digest: &[u8; 32],
        at: Instant,
    ) -> Option<Arc<dyn Any + Send + Sync>> {
        FRONT.with(|front| {
            let front = front.borrow();
            let copy = front[slot(digest)].as_ref()?;
            (copy.owner == owner
                && copy.generation == generation
                && copy.digest == *digest
                && at < copy.until)
                .then(|| Arc::clone(&copy.claims))
        })
    }

    pub(super) fn put(
        owner: u64,
        generation: u64,
        digest: [u8; 32],
        claims: Arc<dyn Any + Send + Sync>,
        until: Instant,
    ) {
        FRONT.with(|front| {
            front.borrow_mut()[slot(&digest)] = Some(Copy {
                owner,
                generation,
                digest,
                claims,
                until,
            });
        });
    }
}

/// The claims of an answer, as `C`, their times checked again.
fn claims_of<C>(answer: &Answer, rules: &Validation, bindings: Bindings) -> Result<Claims<C>, Error>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    let Answer::Active {
        payload, claims, ..
    } = answer
    else {
        return Err(Error::InactiveToken);
    };
    let now = UnixTime::now();
    let claims = match claims {
        Err(e) => return Err(e.clone()),
        Ok(any) => match Claims::<C>::from_any(Arc::clone(any)) {
            Some(claims) => claims,
            None => claims::introspected(payload.to_vec(), rules, now, bindings)?,
        },
    };
    claims.recheck(rules, now)?;
    Ok(claims)
}

/// The cache key: SHA-256 of the token, so no raw token is held.
fn key(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

/// An introspection failure: 503, and a log line that says whose fault.
fn unavailable(e: FetchError) -> Error {
    match &e {
        FetchError::Status(401 | 403) => tracing::error!(
            target: "jwt_gate",
            error = %e,
            "introspection: the authorization server refused our client credentials; check the introspection client id and secret"
        ),
        // Per request in a flood: not a line each at warn.
        FetchError::Overloaded => {
            tracing::debug!(target: "jwt_gate", error = %e, "introspection refused")
        }
        _ => tracing::warn!(target: "jwt_gate", error = %e, "introspection failed"),
    }
    Error::IntrospectionUnavailable {
        source: Some(Arc::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::digest::hex_32;

    #[test]
    fn jwt_shape_routes() {
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("2YotnFZFEjr1zCsicMWpAA"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d.e"));
    }

    #[test]
    fn cache_keys_hold_no_raw_tokens() {
        // The key is the token's SHA-256 (FIPS 180-2's "abc" example), not
        // the token.
        assert_eq!(
            key("abc"),
            hex_32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").unwrap()
        );
        assert_ne!(key("2YotnFZFEjr1zCsicMWpAA"), key("2YotnFZFEjr1zCsicMWpAB"));
    }
}
