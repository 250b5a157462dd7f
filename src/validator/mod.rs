//! [`Validator`]: the async front door, its builders, the trusted issuers
//! and the verified-token cache.

mod admission;
pub(crate) mod api_keys;
mod builder;
pub(crate) mod dpop;
pub(crate) mod introspection;
pub(crate) mod issuers;
pub(crate) mod mtls;
mod multi_issuer;
pub(crate) mod token_cache;
mod token_table;

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use self::api_keys::ApiKeySettings;
pub use self::builder::{IssuerBuilder, ValidatorBuilder};
use self::dpop::{DpopMode, DpopSettings};
#[cfg(doc)]
use self::introspection::IntrospectWhen;
use self::issuers::{Picked, Registry, Trusted};
use self::mtls::{CertificateMode, MtlsSettings};
pub use self::multi_issuer::MultiIssuerBuilder;
use self::token_cache::{Checked, TokenCache, TokenCacheStats};
use crate::jose::claims::{Claims, Scopes};
use crate::jose::cnf::Bindings;
use crate::jose::error::Error;
use crate::jose::jwks::KeySet;
use crate::jose::time::UnixTime;
use crate::jose::validate::validate_checked;
use crate::jose::validation::Validation;
use crate::remote::fetch::FetchError;
use crate::remote::key_store::{KeyStatus, KeyStore, Refetch};
use crate::telemetry;

/// The async front door: keys fetched by discovery or from a JWKS URL (or
/// given), kept fresh in the background, and [`validate`](crate::validate) with the system
/// clock.
///
/// Cheap to clone (one `Arc`): build it once, share it everywhere.
///
/// ```no_run
/// use jwt_gate::{Claims, Validator};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let validator = Validator::builder()
///     .issuer("https://auth.example.com/")   // discovery, and the exact `iss`
///     .audience("api://orders")
///     .build()?;                              // sync: nothing fetched yet
/// validator.warm_up().await?;                 // optional: fetch now, fail fast
/// let claims: Claims = validator.validate(token).await?;
/// # Ok(()) }
/// ```
///
/// With static keys nothing is ever fetched:
///
/// ```
/// use jwt_gate::{KeySet, Validator};
/// let keys = KeySet::new().with_secret(Some("k1"), &[7; 32])?;
/// let validator = Validator::builder().keys(keys).audience("api://orders").build()?;
/// assert!(validator.status().keys_loaded);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Issuers,
    token_cache: Option<TokenCache>,
    constraints: Constraints,
}

/// The sender constraints a validator checks (`cnf`): DPoP proofs, client
/// certificates.
#[derive(Debug, Default)]
pub(crate) struct Constraints {
    pub(crate) dpop: Option<Arc<DpopSettings>>,
    pub(crate) mtls: Option<MtlsSettings>,
    /// API keys accepted instead of a token.
    pub(crate) api_keys: Option<ApiKeySettings>,
}

impl Constraints {
    /// The bindings a token may carry: those checked.
    fn bindings(&self) -> Bindings {
        Bindings {
            jkt: self.dpop.is_some(),
            x5t: self.mtls.is_some(),
        }
    }
}

/// One issuer, or several picked by the token's `iss`.
enum Issuers {
    One(Trusted),
    Many(Registry),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Validator");
        match &self.inner.issuers {
            Issuers::One(trusted) => d
                .field("rules", &trusted.rules)
                .field("store", &trusted.store),
            Issuers::Many(registry) => d.field("issuers", &registry.fixed().collect::<Vec<_>>()),
        };
        d.finish()
    }
}

impl Validator {
    /// Starts a builder. See [`ValidatorBuilder`] for every setting.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// Starts a validator that trusts several issuers, each with its own
    /// rules and keys. See [`MultiIssuerBuilder`].
    pub fn multi_issuer() -> MultiIssuerBuilder {
        MultiIssuerBuilder::default()
    }

    /// A validator trusting the issuers of `registry`.
    pub(crate) fn with_registry(
        registry: Registry,
        cache: (u64, u64),
        constraints: Constraints,
    ) -> Self {
        Self::new(Issuers::Many(registry), cache, constraints)
    }

    fn new(
        issuers: Issuers,
        (max_entries, max_bytes): (u64, u64),
        constraints: Constraints,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuers,
                token_cache: TokenCache::new(max_entries, max_bytes),
                constraints,
            }),
        }
    }

    /// The DPoP settings, when DPoP is allowed or required.
    pub(crate) fn dpop(&self) -> Option<&Arc<DpopSettings>> {
        self.inner.constraints.dpop.as_ref()
    }

    /// Whether this validator accepts DPoP (allowed or required).
    pub fn dpop_mode(&self) -> DpopMode {
        self.dpop().map_or(DpopMode::Off, |d| d.mode)
    }

    /// The API keys accepted, if any.
    pub(crate) fn api_keys(&self) -> Option<&ApiKeySettings> {
        self.inner.constraints.api_keys.as_ref()
    }

    /// The certificate-binding settings, when allowed or required.
    pub(crate) fn mtls(&self) -> Option<&MtlsSettings> {
        self.inner.constraints.mtls.as_ref()
    }

    /// Whether this validator accepts certificate-bound tokens (allowed or
    /// required).
    pub fn certificate_mode(&self) -> CertificateMode {
        self.mtls().map_or(CertificateMode::Off, |m| m.mode)
    }

    /// The scopes every token must carry, when one issuer's rules set them
    /// (with several issuers, rules may differ: none).
    pub(crate) fn required_scopes(&self) -> Option<&Scopes> {
        match &self.inner.issuers {
            Issuers::One(trusted) => Some(&trusted.rules.required_scopes),
            Issuers::Many(_) => None,
        }
        .filter(|scopes| !scopes.is_empty())
    }

    /// The introspecting issuer `token` goes to, when introspection judges
    /// it (see [`IntrospectWhen`](introspection::IntrospectWhen)).
    fn introspecting(&self, token: &str) -> Option<Result<Picked<'_>, Error>> {
        match &self.inner.issuers {
            Issuers::One(trusted) => trusted
                .introspection
                .as_ref()
                .filter(|i| i.takes(token))
                .map(|_| Ok(Picked::Fixed(trusted))),
            Issuers::Many(registry) => registry.introspecting(token),
        }
    }

    /// How many introspection calls went to the authorization server(s).
    pub fn introspection_calls(&self) -> u64 {
        let one = |t: &Trusted| t.introspection.as_ref().map_or(0, |i| i.calls());
        match &self.inner.issuers {
            Issuers::One(trusted) => one(trusted),
            Issuers::Many(registry) => registry.fixed().map(one).sum(),
        }
    }

    /// The issuer configuration `token` is checked against: with several
    /// issuers, the one its unverified `iss` names (no network call).
    fn pick(&self, token: &str) -> Result<Picked<'_>, Error> {
        match &self.inner.issuers {
            Issuers::One(trusted) => Ok(Picked::Fixed(trusted)),
            Issuers::Many(registry) => registry.pick(token),
        }
    }

    /// Fetches keys now if none are loaded, so that startup fails fast on a
    /// misconfigured or unreachable issuer; an issuer that introspects also
    /// has its introspection endpoint discovered now. With several issuers:
    /// every issuer configured up front, one after another (templated
    /// issuers are discovered on first use).
    ///
    /// # Errors
    ///
    /// [`Error::KeysUnavailable`], with the [`FetchError`] as its source;
    /// [`Error::IntrospectionUnavailable`] when the introspection endpoint
    /// cannot be discovered.
    pub async fn warm_up(&self) -> Result<(), Error> {
        let issuers: Vec<&Trusted> = match &self.inner.issuers {
            Issuers::One(trusted) => vec![trusted],
            Issuers::Many(registry) => registry.fixed().collect(),
        };
        for trusted in issuers {
            let store = &trusted.store;
            store
                .keys()
                .await
                .map_err(|e| keys_unavailable(store, Some(e)))?;
            if let Some(introspection) = &trusted.introspection {
                introspection.warm_up().await?;
            }
        }
        Ok(())
    }

    /// Fetches every issuer's keys now (those configured, and those
    /// discovered from templates and still held), whatever the backoff and
    /// the unknown-`kid` cooldown say, and waits for the whole fetch: for
    /// an operator who knows the keys changed, or to check the IdP. A
    /// failure leaves the keys held in place (stale-if-error as usual).
    ///
    /// # Errors
    ///
    /// [`Error::KeysUnavailable`] with the first failure as its source
    /// (every store is still tried).
    pub async fn refresh(&self) -> Result<(), Error> {
        let stores = match &self.inner.issuers {
            Issuers::One(trusted) => vec![Arc::clone(&trusted.store)],
            Issuers::Many(registry) => registry.stores(),
        };
        let mut first = None;
        for store in stores {
            if let Err(e) = store.refresh().await {
                first.get_or_insert_with(|| keys_unavailable(&store, Some(e)));
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Validates `token` at the system clock's time: the keys held, fetched
    /// only when none are usable; a token naming an unknown `kid` causes at
    /// most one refetch per cooldown window (30 s by default), others fail
    /// fast with [`Error::UnknownKey`]. No call waits on a fetch longer
    /// than [`max_key_wait`](ValidatorBuilder::max_key_wait) (1 s by
    /// default): then [`Error::KeysUnavailable`] with
    /// [`FetchError::StillFetching`], and the fetch goes on.
    ///
    /// # Errors
    ///
    /// As [`validate`](crate::validate), plus [`Error::KeysUnavailable`] when no usable keys
    /// could be obtained. With several issuers, an `iss` that names none of
    /// them is [`Error::InvalidIssuer`] before anything else is checked. A
    /// token bound to a DPoP key or a client certificate is
    /// [`Error::UnverifiedBinding`] here whatever the settings: a token
    /// alone proves no key or certificate; use
    /// [`validate_request`](Self::validate_request) or the layer. With DPoP
    /// or certificate binding *required*, every token is refused here
    /// ([`Error::DpopRequired`], [`Error::NotCertificateBound`] for the
    /// unbound ones): the policy holds on every entry point.
    pub async fn validate<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let result = match self.validate_if_ready(token) {
            Some(result) => result,
            None => self.validate_fetching(token).await,
        };
        let result = result.and_then(|claims| self.token_only(claims));
        telemetry::judged(&result);
        result.inspect_err(|e| tracing::debug!(target: "jwt_gate", error = %e, "token rejected"))
    }

    /// The slow path, after [`validate_if_ready`](Self::validate_if_ready) said
    /// `None`: wait for keys, refetch once for an unknown `kid`.
    pub(crate) async fn validate_fetching<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        if let Some(picked) = self.introspecting(token) {
            let trusted = picked?;
            if let Some(introspection) = &trusted.introspection {
                let bindings = self.inner.constraints.bindings();
                return introspection.introspect(token, &trusted, bindings).await;
            }
        }
        let trusted = self.pick(token)?;
        let store = &trusted.store;
        let snapshot = store
            .keys_for_request()
            .await
            .map_err(|e| keys_unavailable(store, Some(e)))?;
        let result = self.verify(token, &trusted.rules, &snapshot.keys);
        if matches!(result, Err(Error::UnknownKey { .. })) {
            match store.refetch_for_unknown_kid().await {
                Refetch::Fresh(fresh) => return self.verify(token, &trusted.rules, &fresh.keys),
                Refetch::OutOfTime(e) => return Err(keys_unavailable(store, Some(e))),
                Refetch::Refused => {}
            }
        }
        result
    }

    /// The outcome without waiting, when the cache or the keys held decide
    /// it: `None` when there are no usable keys yet, or the token names an
    /// unknown `kid` that may cause a refetch. The hot path of the layer.
    pub(crate) fn validate_if_ready<C>(&self, token: &str) -> Option<Result<Claims<C>, Error>>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let at = std::time::Instant::now();
        // A JWT validated before first (its hit pays nothing for
        // introspection), unless the token cannot be a JWT (its header
        // would start `{"`, base64url `eyJ`): opaque tokens never enter
        // the token cache.
        let maybe_jwt = token.starts_with("eyJ");
        if maybe_jwt && let Some(result) = self.cached_claims(token, at) {
            return Some(result);
        }
        if let Some(picked) = self.introspecting(token) {
            let trusted = match picked {
                Ok(trusted) => trusted,
                Err(e) => return Some(Err(e)),
            };
            let introspection = trusted.introspection.as_ref()?;
            let bindings = self.inner.constraints.bindings();
            return introspection.cached(token, &trusted.rules, bindings, at);
        }
        if !maybe_jwt && let Some(result) = self.cached_claims(token, at) {
            return Some(result);
        }
        let trusted = match self.pick(token) {
            Ok(trusted) => trusted,
            Err(e) => return Some(Err(e)),
        };
        let snapshot = trusted.store.cached(at)?;
        match self.verify(token, &trusted.rules, &snapshot.keys) {
            Err(Error::UnknownKey { .. }) if trusted.store.may_refetch(at) => None,
            result => Some(result),
        }
    }

    /// A token validated before: its claims, once their (verified) issuer
    /// is still trusted, the key that verified them still held, and their
    /// times re-checked. No `iss` to read from the token, no signature.
    fn cached_claims<C>(
        &self,
        token: &str,
        at: std::time::Instant,
    ) -> Option<Result<Claims<C>, Error>>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let cache = self.inner.token_cache.as_ref()?;
        cache.get(token, UnixTime::now(), |claims: &Claims<C>| {
            let trusted = match &self.inner.issuers {
                Issuers::One(trusted) => Picked::Fixed(trusted),
                Issuers::Many(registry) => registry.trusted(claims.issuer()?)?,
            };
            let keys = trusted.store.cached(at)?;
            Some(Checked { trusted, keys })
        })
    }

    /// [`validate`](crate::validate) at the system clock's time, and into the cache if valid.
    fn verify<C>(&self, token: &str, rules: &Validation, keys: &KeySet) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let now = UnixTime::now();
        let bindings = self.inner.constraints.bindings();
        let Some(cache) = &self.inner.token_cache else {
            return validate_checked(token, keys, rules, now, bindings).map(|(claims, _)| claims);
        };
        cache.count_miss();
        let (claims, key_tag) = validate_checked(token, keys, rules, now, bindings)?;
        cache.insert(token, &claims, key_tag, now, rules.leeway);
        Ok(claims)
    }

    /// Validates with the keys already held, never waiting on the network
    /// (for synchronous callers such as tonic interceptors). A due refresh,
    /// an unknown-`kid` refetch, or the first fetch of an issuer with no
    /// keys yet is started in the background when a tokio runtime is
    /// running. Uses the verified-token cache like
    /// [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// As [`validate`](crate::validate), plus [`Error::KeysUnavailable`] when no keys are
    /// held yet (call [`warm_up`](Validator::warm_up) at startup); bound
    /// tokens, and with a binding required every token, as
    /// [`validate`](Self::validate) says.
    pub fn validate_without_waiting<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let result = self
            .validate_with_held_keys(token)
            .and_then(|claims| self.token_only(claims));
        telemetry::judged(&result);
        result
    }

    /// The token-only entry points' last check: no bound token (nothing
    /// proves its key or certificate), and no token at all where a binding
    /// is required.
    fn token_only<C>(&self, claims: Claims<C>) -> Result<Claims<C>, Error> {
        let claims = unbound(claims)?;
        if self.dpop_mode() == DpopMode::Required {
            return Err(Error::DpopRequired);
        }
        if self.certificate_mode() == CertificateMode::Required {
            return Err(Error::NotCertificateBound);
        }
        Ok(claims)
    }

    pub(crate) fn validate_with_held_keys<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let at = std::time::Instant::now();
        // In the order of `validate_if_ready`.
        let maybe_jwt = token.starts_with("eyJ");
        if maybe_jwt && let Some(result) = self.cached_claims(token, at) {
            return result;
        }
        if let Some(picked) = self.introspecting(token) {
            return self.introspected_without_waiting(token, picked?);
        }
        if !maybe_jwt && let Some(result) = self.cached_claims(token, at) {
            return result;
        }
        let trusted = self.pick(token)?;
        let store = &trusted.store;
        let Some(snapshot) = store.cached(at) else {
            store.fetch_in_background();
            return Err(keys_unavailable(store, store.last_error()));
        };
        let result = self.verify(token, &trusted.rules, &snapshot.keys);
        if matches!(result, Err(Error::UnknownKey { .. })) {
            store.refetch_for_unknown_kid_in_background();
        }
        result
    }

    /// An opaque token without waiting: its cached answer, else the call is
    /// started in the background (with a tokio runtime) and this request
    /// is told to retry ([`Error::IntrospectionUnavailable`], 503).
    fn introspected_without_waiting<C>(
        &self,
        token: &str,
        trusted: Picked<'_>,
    ) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(introspection) = &trusted.introspection else {
            return Err(Error::malformed("not three dot-separated segments"));
        };
        let bindings = self.inner.constraints.bindings();
        let at = std::time::Instant::now();
        if let Some(result) = introspection.cached(token, &trusted.rules, bindings, at) {
            return result;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let validator = self.clone();
            let token = token.to_owned();
            runtime.spawn(async move {
                let _ = validator.validate_fetching::<C>(&token).await;
            });
        }
        Err(Error::IntrospectionUnavailable { source: None })
    }

    /// Renamed [`validate_without_waiting`](Self::validate_without_waiting):
    /// it uses the keys already held, not (only) the token cache.
    ///
    /// # Errors
    ///
    /// As [`validate_without_waiting`](Self::validate_without_waiting).
    #[deprecated(since = "0.2.0", note = "renamed `validate_without_waiting`")]
    pub fn validate_cached<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        self.validate_without_waiting(token)
    }

    /// Drops `token` from the verified-token cache and the introspection
    /// answers (every thread's copy included): its next use is validated
    /// afresh (an opaque token: introspected again). For a token your
    /// application learns is revoked; [`ValidatorBuilder::revoked_when`]
    /// refuses revoked tokens on every hit without this.
    pub fn forget_token(&self, token: &str) {
        if let Some(cache) = &self.inner.token_cache {
            cache.forget(token);
        }
        let forget = |t: &Trusted| {
            if let Some(introspection) = &t.introspection {
                introspection.forget(token);
            }
        };
        match &self.inner.issuers {
            Issuers::One(trusted) => forget(trusted),
            Issuers::Many(registry) => registry.fixed().for_each(forget),
        }
    }

    /// Drops every token of `subject` (`sub`, any issuer) from the
    /// verified-token cache, for "sign out everywhere"; returns how many.
    /// It walks the whole cache: an administrative call, not one per
    /// request.
    pub fn forget_subject(&self, subject: &str) -> usize {
        self.inner
            .token_cache
            .as_ref()
            .map_or(0, |cache| cache.forget_subject(subject))
    }

    /// The verified-token cache's counters (all zero when it is off).
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.inner
            .token_cache
            .as_ref()
            .map(TokenCache::stats)
            .unwrap_or_default()
    }

    /// The key store's state, for readiness probes and metrics. Cheap.
    ///
    /// With several issuers, the issuers configured up front taken together:
    /// keys loaded when every one of them has keys, counts summed, the
    /// oldest age, stale when any is, the first error (with templates only,
    /// nothing is needed up front: loaded, no keys). See
    /// [`issuer_statuses`](Self::issuer_statuses) for each one.
    pub fn status(&self) -> KeyStatus {
        match &self.inner.issuers {
            Issuers::One(trusted) => trusted.store.status(),
            Issuers::Many(registry) => {
                KeyStatus::combine(registry.fixed().map(|t| t.store.status()))
            }
        }
    }

    /// Each issuer's key store state, by issuer: those configured up front
    /// first, then those discovered from templates and still held. A
    /// validator that names no issuer (keys from a JWKS URL or given, no
    /// `iss` check) has none to list: see [`status`](Self::status).
    pub fn issuer_statuses(&self) -> Vec<(String, KeyStatus)> {
        match &self.inner.issuers {
            Issuers::One(trusted) => trusted
                .rules
                .issuer
                .as_deref()
                .map(|issuer| (issuer.to_owned(), trusted.store.status()))
                .into_iter()
                .collect(),
            Issuers::Many(registry) => registry.statuses(),
        }
    }

    /// Hands this process's request counters and this validator's cache and
    /// key state to the [`metrics`](https://docs.rs/metrics) recorder you
    /// installed: call it when your exporter is scraped (or on a timer).
    /// Events (key fetches and their duration, introspection calls, DPoP
    /// replays, snapshot writes) are recorded as they happen; the numbers
    /// that change on every request are counted without the recorder and
    /// handed over here, so a request never pays a registry lookup. Every
    /// metric of the README's table is registered by the first call.
    /// Cheap: a few dozen atomic loads (the cache's counts are brought up
    /// to date first).
    ///
    /// With several validators in one process, the validation counters are
    /// the process's and the cache and key gauges those of the validator
    /// called.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn record_metrics(&self) {
        let cache = self.token_cache_stats();
        let keys = self.status();
        telemetry::record(&telemetry::Held {
            cache_hits: cache.hits,
            cache_misses: cache.misses,
            cache_entries: cache.entries,
            cache_bytes: cache.bytes,
            keys_loaded: keys.keys_loaded,
            key_count: keys.key_count,
            key_age: keys.age,
            keys_stale: keys.stale,
            keys_restored: keys.restored,
            cooldown_hits: keys.cooldown_hits,
        });
    }

    /// The rules tokens are validated against; with several issuers, those
    /// of the first one configured.
    pub fn rules(&self) -> &Validation {
        match &self.inner.issuers {
            Issuers::One(trusted) => &trusted.rules,
            Issuers::Many(registry) => registry.first_rules(),
        }
    }
}

/// A token alone proves nothing of a key or certificate it is bound to:
/// with DPoP or certificate binding on, the token-only entry points still
/// refuse bound tokens (the proof and the certificate are checked by
/// [`Validator::validate_request`] and the layer).
pub(crate) fn unbound<C>(claims: Claims<C>) -> Result<Claims<C>, Error> {
    let registered = claims.registered();
    if registered.dpop_thumbprint().is_some() || registered.certificate_binding().is_some() {
        return Err(Error::UnverifiedBinding);
    }
    Ok(claims)
}

/// No keys for this request: why, and when the key store says to retry.
fn keys_unavailable(store: &KeyStore, e: Option<Arc<FetchError>>) -> Error {
    Error::KeysUnavailable {
        source: e.map(|e| e as _),
        retry_after: Some(store.retry_after(std::time::Instant::now())),
    }
}
