//! [`Validation`] (the rules) and [`validate`] (the pure core).

use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::issuers::{MultiIssuerBuilder, Picked, Prototype, Registry, Trusted};
use crate::key_store::{
    FetchConfig, FetchError, KeyStatus, KeyStore, Source, default_client, parse_url,
};
use crate::signature::{self, AlgSet};
use crate::time::UnixTime;
use crate::token::{self, MAX_SIGNATURE_LEN};
use crate::token_cache::{Checked, TokenCache, TokenCacheStats};
use crate::{Algorithm, Claims, Error, KeySet, Scopes};

/// The rules a token must meet.
///
/// Every setter consumes and returns the rules, and says its default. The
/// defaults are strict: an audience must be configured (RFC 9068 §4), `none`
/// is never accepted, HS* only when listed explicitly.
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::{Algorithm, Validation};
///
/// let rules = Validation::new()
///     .issuer("https://auth.example.com/")
///     .audience("api://orders")
///     .require_scopes(["orders.read"])
///     .algorithms([Algorithm::RS256, Algorithm::ES256])
///     .leeway(Duration::from_secs(30))
///     .require_typ("at+jwt")
///     .max_token_bytes(8 * 1024);
/// # let _ = rules;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Validation {
    pub(crate) issuer: Option<Box<str>>,
    pub(crate) audiences: Vec<Box<str>>,
    pub(crate) required_scopes: Scopes,
    pub(crate) required_scopes_text: Arc<str>,
    pub(crate) algorithms: AlgSet,
    pub(crate) leeway: Duration,
    /// Lowercase, without an `application/` prefix.
    pub(crate) require_typ: Option<Box<str>>,
    pub(crate) max_token_bytes: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// The default rules: every asymmetric algorithm, 60 s leeway, 16 KiB
    /// tokens, no issuer, no required scope, no audience yet (set one: until
    /// then every token fails with [`Error::InvalidAudience`]).
    pub fn new() -> Self {
        Self {
            issuer: None,
            audiences: Vec::new(),
            required_scopes: Scopes::default(),
            required_scopes_text: Arc::from(""),
            algorithms: AlgSet::ASYMMETRIC,
            leeway: Duration::from_secs(60),
            require_typ: None,
            max_token_bytes: 16 * 1024,
        }
    }

    /// The issuer `iss` must equal, byte for byte: no normalisation, so
    /// `https://a.example/` and `https://a.example` differ. Once set, `iss`
    /// is required.
    ///
    /// Defaults to no issuer check.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into().into_boxed_str());
        self
    }

    /// Adds an accepted audience: the token's `aud` (a string or an array)
    /// must contain at least one accepted audience, byte for byte.
    ///
    /// Defaults to none, which rejects every token: RFC 9068 §4 requires
    /// the check.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into().into_boxed_str());
        self
    }

    /// Adds several accepted audiences (any-of).
    ///
    /// Defaults to none.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences
            .extend(audiences.into_iter().map(|a| a.into().into_boxed_str()));
        self
    }

    /// Scopes the token must all carry, in `scope` (string or array) or else
    /// `scp`. A missing scope is [`Error::InsufficientScope`] (HTTP 403).
    ///
    /// Defaults to none.
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let added: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let all: Scopes = self
            .required_scopes
            .iter()
            .chain(added.iter().map(String::as_str))
            .collect();
        self.required_scopes_text = Arc::from(all.to_string());
        self.required_scopes = all;
        self
    }

    /// The algorithms accepted in `alg`, replacing the list. `none` can never
    /// be accepted; HS256/384/512 only verify with keys the application
    /// supplied itself ([`KeySet::with_secret`], or `oct` keys in
    /// [`KeySet::from_jwks_json`]), never with keys fetched from an issuer.
    ///
    /// Defaults to RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and
    /// EdDSA.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = AlgSet::from_iter(algorithms);
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in whole seconds.
    ///
    /// Defaults to 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires the header `typ` to be this media type, compared
    /// case-insensitively as RFC 7515 §4.1.9 says: `application/` is implied
    /// for a value without a `/` (so `at+jwt` and `application/at+jwt` are
    /// the same type), and only then (`text/plain` is not
    /// `application/text/plain`). RFC 9068 §4 asks for `at+jwt`.
    ///
    /// Defaults to not required: then a missing `typ`, `JWT`, `JOSE` and
    /// `at+jwt` pass, and any other type (such as `dpop+jwt` or
    /// `logout+jwt`, which name other kinds of token) is refused.
    pub fn require_typ(mut self, typ: impl AsRef<str>) -> Self {
        self.require_typ = Some(normalize_typ(typ.as_ref()).into_boxed_str());
        self
    }

    /// The longest token accepted, in bytes; longer ones are refused before
    /// anything is decoded.
    ///
    /// Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }
}

/// A media type in the form RFC 7515 §4.1.9 compares: lowercase, with
/// `application/` added to a value that has no `/` (and only then).
fn normalize_typ(typ: &str) -> String {
    let typ = typ.to_ascii_lowercase();
    if typ.contains('/') {
        typ
    } else {
        format!("application/{typ}")
    }
}

/// `typ` (as the header has it) names the media type `normalized` (see
/// [`normalize_typ`]), without allocating.
fn typ_is(typ: &str, normalized: &str) -> bool {
    if typ.contains('/') {
        return typ.eq_ignore_ascii_case(normalized);
    }
    normalized
        .strip_prefix("application/")
        .is_some_and(|bare| bare.eq_ignore_ascii_case(typ))
}

fn check_typ(typ: Option<&str>, required: Option<&str>) -> Result<(), Error> {
    let ok = match (required, typ) {
        (Some(required), typ) => typ.is_some_and(|typ| typ_is(typ, required)),
        (None, None) => true,
        (None, Some(typ)) => ["application/jwt", "application/jose", "application/at+jwt"]
            .into_iter()
            .any(|plain| typ_is(typ, plain)),
    };
    if ok { Ok(()) } else { Err(Error::InvalidType) }
}

/// Validates a compact JWS access token against `keys` and `rules` at time
/// `now`, and returns its claims, with your claims type `C` (use `()` for
/// none). No I/O, no clock read: the pure core every other surface calls.
///
/// The checks run in this order; the first failure is returned:
///
/// 1. size: at most [`Validation::max_token_bytes`], before decoding
///    ([`Error::TooLarge`]);
/// 2. structure: three segments of canonical base64url, a header that is a
///    UTF-8 JSON object without duplicate members, no `crit`, no `b64: false`
///    ([`Error::MalformedToken`]);
/// 3. `alg` in the allow-list ([`Error::DisallowedAlgorithm`]);
/// 4. key: by exact `kid`, usable for `alg`; without `kid`, the only usable
///    key ([`Error::UnknownKey`]); `jwk`/`jku`/`x5u`/`x5c` are never used;
/// 5. signature ([`Error::InvalidSignature`]);
/// 6. `typ` ([`Error::InvalidType`]);
/// 7. payload: a UTF-8 JSON object without duplicate members
///    ([`Error::MalformedToken`]), registered claims of the right JSON type
///    ([`Error::InvalidClaims`]);
/// 8. `exp` (required; expired when `now >= exp + leeway`), `nbf` and `iat`
///    (not yet valid when `now < nbf - leeway`) ([`Error::Expired`],
///    [`Error::NotYetValid`]);
/// 9. `iss` ([`Error::InvalidIssuer`]), `aud` ([`Error::InvalidAudience`]),
///    no confirmation claim `cnf` ([`Error::UnverifiedBinding`]: a
///    sender-constrained token is not accepted as a bearer token), scopes
///    ([`Error::InsufficientScope`]);
/// 10. your type `C` ([`Error::InvalidClaims`]).
///
/// The payload's JSON is not read until the signature has verified.
///
/// # Errors
///
/// The [`Error`] of the first check that failed.
///
/// ```
/// use jwt_gate::{Claims, KeySet, UnixTime, Validation, Algorithm};
///
/// let keys = KeySet::new().with_secret(Some("k1"), b"an-application-secret-of-32-bytes!")?;
/// let rules = Validation::new()
///     .algorithms([Algorithm::HS256])
///     .issuer("https://auth.example.com/")
///     .audience("api://orders");
/// // {"alg":"HS256","kid":"k1"} . {"iss":"https://auth.example.com/","aud":"api://orders","exp":2000000000,"sub":"u1","scope":"orders.read"}
/// let token = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20vIiwiYXVkIjoiYXBpOi8vb3JkZXJzIiwiZXhwIjoyMDAwMDAwMDAwLCJzdWIiOiJ1MSIsInNjb3BlIjoib3JkZXJzLnJlYWQifQ.KdQNmTY5d4i8aFN1vxFJM8LChvlM29SsmGpQr168rbg";
/// let claims: Claims = jwt_gate::validate(token, &keys, &rules, UnixTime::from_secs(1_900_000_000))?;
/// assert_eq!(claims.subject(), Some("u1"));
/// assert!(claims.has_scope("orders.read"));
///
/// let late = jwt_gate::validate::<()>(token, &keys, &rules, UnixTime::from_secs(2_000_000_060));
/// assert!(matches!(late, Err(jwt_gate::Error::Expired { .. })));
/// # Ok::<(), jwt_gate::Error>(())
/// ```
pub fn validate<C: DeserializeOwned>(
    token: &str,
    keys: &KeySet,
    rules: &Validation,
    now: UnixTime,
) -> Result<Claims<C>, Error> {
    validate_tagged(token, keys, rules, now).map(|(claims, _)| claims)
}

/// [`validate`], also returning the tag of the key that verified the token.
pub(crate) fn validate_tagged<C: DeserializeOwned>(
    token: &str,
    keys: &KeySet,
    rules: &Validation,
    now: UnixTime,
) -> Result<(Claims<C>, u64), Error> {
    let mut header_buf = [MaybeUninit::uninit(); token::HEADER_INLINE];
    let jws = token::parse(token, rules.max_token_bytes, &mut header_buf)?;
    let header = token::Header::parse(&jws.header)?;
    let alg = signature::parse_alg(&header.alg);
    let alg = match alg {
        Some(alg) if rules.algorithms.contains(alg) => alg,
        _ => return Err(Error::DisallowedAlgorithm { alg }),
    };
    let (verifier, tag) = keys.select(header.kid.as_deref(), alg)?;
    let mut buf = [MaybeUninit::uninit(); MAX_SIGNATURE_LEN];
    let signature = token::decode_b64_into(jws.signature_b64, &mut buf)
        .map_err(|_| Error::malformed("signature is not canonical base64url"))?
        .ok_or(Error::InvalidSignature)?;
    if !verifier.verify(jws.signing_input.as_bytes(), signature) {
        return Err(Error::InvalidSignature);
    }
    check_typ(header.typ.as_deref(), rules.require_typ.as_deref())?;
    crate::claims::check(jws.payload, rules, now).map(|claims| (claims, tag))
}

/// The async front door: keys fetched by discovery or from a JWKS URL (or
/// given), kept fresh in the background, and [`validate`] with the system
/// clock.
///
/// Cheap to clone (one `Arc`): build it once, share it everywhere.
///
/// ```no_run
/// use jwt_gate::{Claims, Validator};
///
/// # async fn run(token: &str) -> Result<(), jwt_gate::Error> {
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
/// # Ok::<(), jwt_gate::Error>(())
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Issuers,
    token_cache: Option<TokenCache>,
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
    pub(crate) fn with_registry(registry: Registry, cache: (u64, u64)) -> Self {
        Self::new(Issuers::Many(registry), cache)
    }

    fn new(issuers: Issuers, (max_entries, max_bytes): (u64, u64)) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuers,
                token_cache: TokenCache::new(max_entries, max_bytes),
            }),
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
    /// misconfigured or unreachable issuer. With several issuers: every
    /// issuer configured up front, one after another (templated issuers are
    /// discovered on first use).
    ///
    /// # Errors
    ///
    /// [`Error::KeysUnavailable`], with the [`FetchError`] as its source.
    pub async fn warm_up(&self) -> Result<(), Error> {
        let stores: Vec<&Arc<KeyStore>> = match &self.inner.issuers {
            Issuers::One(trusted) => vec![&trusted.store],
            Issuers::Many(registry) => registry.fixed().map(|t| &t.store).collect(),
        };
        for store in stores {
            store.keys().await.map_err(keys_unavailable)?;
        }
        Ok(())
    }

    /// Validates `token` at the system clock's time: the keys held, fetched
    /// only when none are usable; a token naming an unknown `kid` causes at
    /// most one refetch per cooldown window (30 s by default), others fail
    /// fast with [`Error::UnknownKey`].
    ///
    /// # Errors
    ///
    /// As [`validate`], plus [`Error::KeysUnavailable`] when no usable keys
    /// could be obtained. With several issuers, an `iss` that names none of
    /// them is [`Error::InvalidIssuer`] before anything else is checked.
    pub async fn validate<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let result = match self.validate_now(token) {
            Some(result) => result,
            None => self.validate_fetching(token).await,
        };
        result.inspect_err(|e| tracing::debug!(target: "jwt_gate", error = %e, "token rejected"))
    }

    /// The slow path, after [`validate_now`](Self::validate_now) said
    /// `None`: wait for keys, refetch once for an unknown `kid`.
    pub(crate) async fn validate_fetching<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let trusted = self.pick(token)?;
        let snapshot = trusted.store.keys().await.map_err(keys_unavailable)?;
        let result = self.verify(token, &trusted.rules, &snapshot.keys);
        if matches!(result, Err(Error::UnknownKey { .. }))
            && let Some(fresh) = trusted.store.refetch_for_unknown_kid().await
        {
            return self.verify(token, &trusted.rules, &fresh.keys);
        }
        result
    }

    /// The outcome without waiting, when the cache or the keys held decide
    /// it: `None` when there are no usable keys yet, or the token names an
    /// unknown `kid` that may cause a refetch. The hot path of the layer.
    pub(crate) fn validate_now<C>(&self, token: &str) -> Option<Result<Claims<C>, Error>>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let at = std::time::Instant::now();
        if let Some(result) = self.cached_claims(token, at) {
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

    /// [`validate`] at the system clock's time, and into the cache if valid.
    fn verify<C>(&self, token: &str, rules: &Validation, keys: &KeySet) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let now = UnixTime::now();
        let Some(cache) = &self.inner.token_cache else {
            return validate(token, keys, rules, now);
        };
        cache.count_miss();
        let (claims, key_tag) = validate_tagged(token, keys, rules, now)?;
        cache.insert(token, &claims, key_tag, now, rules.leeway);
        Ok(claims)
    }

    /// Validates with the keys already held, without waiting on the network
    /// (for synchronous callers such as tonic interceptors). A due refresh,
    /// an unknown-`kid` refetch, or the first fetch of an issuer with no
    /// keys yet is started in the background when a tokio runtime is
    /// running. Uses the verified-token cache like
    /// [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// As [`validate`], plus [`Error::KeysUnavailable`] when no keys are
    /// held yet (call [`warm_up`](Validator::warm_up) at startup).
    pub fn validate_cached<C>(&self, token: &str) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let at = std::time::Instant::now();
        if let Some(result) = self.cached_claims(token, at) {
            return result;
        }
        let trusted = self.pick(token)?;
        let store = &trusted.store;
        let Some(snapshot) = store.cached(at) else {
            store.fetch_in_background();
            return Err(Error::KeysUnavailable { source: None });
        };
        let result = self.verify(token, &trusted.rules, &snapshot.keys);
        if matches!(result, Err(Error::UnknownKey { .. })) {
            store.refetch_for_unknown_kid_in_background();
        }
        result
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
    /// first, then those discovered from templates and still held.
    pub fn issuer_statuses(&self) -> Vec<(String, KeyStatus)> {
        match &self.inner.issuers {
            Issuers::One(trusted) => vec![(
                trusted
                    .rules
                    .issuer
                    .as_deref()
                    .unwrap_or_default()
                    .to_owned(),
                trusted.store.status(),
            )],
            Issuers::Many(registry) => registry.statuses(),
        }
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

fn keys_unavailable(e: Arc<FetchError>) -> Error {
    Error::KeysUnavailable { source: Some(e) }
}

/// Builds a [`Validator`]: a key source (issuer discovery, a JWKS URL or
/// static keys), the [`Validation`] rules, and how keys are fetched.
#[derive(Debug)]
#[must_use]
pub struct ValidatorBuilder {
    rules: Validation,
    issuer: Option<String>,
    jwks_uri: Option<String>,
    keys: Option<KeySet>,
    fetch: FetchConfig,
    client: Option<reqwest::Client>,
    /// (max entries, max bytes) of the verified-token cache.
    token_cache: (u64, u64),
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        Self {
            rules: Validation::default(),
            issuer: None,
            jwks_uri: None,
            keys: None,
            fetch: FetchConfig::default(),
            client: None,
            token_cache: (50_000, 64 * 1024 * 1024),
        }
    }
}

impl ValidatorBuilder {
    /// The issuer: `iss` must equal it byte for byte, and unless
    /// [`jwks_uri`](Self::jwks_uri) or [`keys`](Self::keys) is given, keys
    /// are found by discovery (`{issuer}/.well-known/openid-configuration`,
    /// then RFC 8414), whose `issuer` must equal it too.
    ///
    /// Defaults to none.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.rules = self.rules.issuer(issuer.clone());
        self.issuer = Some(issuer);
        self
    }

    /// Fetch keys from this JWK Set URL, without discovery.
    ///
    /// Defaults to the discovered `jwks_uri`.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Use these keys and never fetch.
    ///
    /// Defaults to fetching.
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// All the rules at once, replacing those set so far (an issuer given
    /// to [`issuer`](Self::issuer) is kept unless `rules` names one).
    ///
    /// Defaults to [`Validation::new`].
    pub fn validation(mut self, rules: Validation) -> Self {
        let issuer = self.rules.issuer.take();
        self.rules = rules;
        if self.rules.issuer.is_none() {
            self.rules.issuer = issuer;
        }
        self
    }

    /// See [`Validation::audience`]. Defaults to none (every token refused).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.rules = self.rules.audience(audience);
        self
    }

    /// See [`Validation::audiences`]. Defaults to none.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules = self.rules.audiences(audiences);
        self
    }

    /// See [`Validation::require_scopes`]. Defaults to none.
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules = self.rules.require_scopes(scopes);
        self
    }

    /// See [`Validation::algorithms`]. Defaults to every asymmetric
    /// algorithm (HS* never verifies with fetched keys).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.rules = self.rules.algorithms(algorithms);
        self
    }

    /// See [`Validation::leeway`]. Defaults to 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.rules = self.rules.leeway(leeway);
        self
    }

    /// See [`Validation::require_typ`]. Defaults to not required.
    pub fn require_typ(mut self, typ: impl AsRef<str>) -> Self {
        self.rules = self.rules.require_typ(typ);
        self
    }

    /// See [`Validation::max_token_bytes`]. Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.rules = self.rules.max_token_bytes(max);
        self
    }

    /// Allows `http://` issuer and JWKS URLs to loopback hosts (127.0.0.0/8,
    /// `::1`, `localhost`): for development and tests only.
    ///
    /// Defaults to https only.
    pub fn allow_http(mut self) -> Self {
        self.fetch.allow_http = true;
        self
    }

    /// The time one key refresh (discovery and JWKS together) may take; no
    /// request ever waits longer on the network. The refresh runs in a task
    /// of its own: a request that stops waiting does not cancel it.
    ///
    /// Defaults to 5 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch.timeout = timeout;
        self
    }

    /// The largest JWK Set accepted, counted while it streams.
    ///
    /// Defaults to 1 MiB (the discovery document: 256 KiB).
    pub fn max_jwks_bytes(mut self, max: usize) -> Self {
        self.fetch.max_jwks_bytes = max;
        self
    }

    /// How long keys are fresh when the JWKS response has no
    /// `Cache-Control: max-age`. A refresh starts in the background at 75 %
    /// of the TTL.
    ///
    /// Defaults to 10 minutes.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.fetch.default_ttl = ttl;
        self
    }

    /// The bounds `max-age` is clamped to. Whatever they say, keys live at
    /// least 1 second: an IdP answering `no-store` (or `max-age=0`) is asked
    /// about once a second, never on every request.
    ///
    /// Defaults to 1 minute and 24 hours.
    pub fn cache_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.fetch.min_ttl = min;
        self.fetch.max_ttl = max;
        self
    }

    /// After a token with an unknown `kid` caused a refetch, how long other
    /// unknown `kid`s fail fast without one. `Duration::MAX` means one
    /// refetch for the life of the validator.
    ///
    /// Defaults to 30 seconds.
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.fetch.cooldown = cooldown;
        self
    }

    /// How long past their TTL keys keep being served while refreshes fail
    /// (stale-if-error); after that, [`Error::KeysUnavailable`].
    /// `Duration::MAX` (or anything beyond what the clock holds) means
    /// forever.
    ///
    /// Defaults to 24 hours.
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.fetch.max_stale = max;
        self
    }

    /// The wait after a failed fetch, doubling per consecutive failure from
    /// `min` up to `max`. No fetch is attempted meanwhile (a wait longer than
    /// the clock holds means no further attempt).
    ///
    /// Defaults to 1 second and 5 minutes.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.fetch.backoff_min = min;
        self.fetch.backoff_max = max;
        self
    }

    /// Bounds of the verified-token cache: a token validated once is served
    /// from it until its `exp` (its times re-checked on every hit, dropped
    /// as soon as the key that verified it leaves the key set). Only valid
    /// tokens enter it. `0` for either bound turns it off.
    ///
    /// Defaults to 50 000 tokens and 64 MiB.
    pub fn token_cache(mut self, max_entries: u64, max_bytes: u64) -> Self {
        self.token_cache = (max_entries, max_bytes);
        self
    }

    /// The HTTP client to fetch with (proxies, custom roots). Timeouts, body
    /// caps and the same-origin check still apply per request; its own
    /// redirect policy decides whether redirects are followed.
    ///
    /// Defaults to a client of our own: rustls, no cross-origin redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the configuration and builds the validator. Synchronous and
    /// lazy: nothing is fetched until the first validation or
    /// [`warm_up`](Validator::warm_up).
    ///
    /// # Errors
    ///
    /// [`Error::KeysUnavailable`] with a [`FetchError::Config`] source when
    /// there is no key source or a URL is invalid or plain http without
    /// [`allow_http`](Self::allow_http).
    pub fn build(self) -> Result<Validator, Error> {
        let cache = self.token_cache;
        let trusted = self.into_trusted(None)?;
        Ok(Validator::new(Issuers::One(trusted), cache))
    }

    /// The issuer this builder names, if any.
    pub(crate) fn issuer_name(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The rules, the key store and the HTTP client (`client` when this
    /// builder has none of its own).
    pub(crate) fn into_trusted(self, client: Option<&reqwest::Client>) -> Result<Trusted, Error> {
        let source = self.source()?;
        let client = self.client(client)?;
        Ok(Trusted {
            rules: self.rules,
            store: Arc::new(KeyStore::new(source, client, self.fetch, self.keys)),
        })
    }

    /// What a template's issuers are made from: its rules, fetch settings
    /// and client, and a key store every tenant shares when keys or a JWKS
    /// URL were given (else each tenant is discovered).
    pub(crate) fn into_prototype(
        self,
        client: Option<&reqwest::Client>,
    ) -> Result<Prototype, Error> {
        if self.issuer.is_some() {
            return Err(config_error(FetchError::Config(
                "a template's builder names no issuer: the template does".into(),
            )));
        }
        let client = self.client(client)?;
        let shared_store = match (&self.keys, &self.jwks_uri) {
            (None, None) => None,
            _ => Some(Arc::new(KeyStore::new(
                self.source()?,
                client.clone(),
                self.fetch.clone(),
                self.keys,
            ))),
        };
        Ok(Prototype {
            rules: self.rules,
            fetch: self.fetch,
            client,
            shared_store,
        })
    }

    fn source(&self) -> Result<Source, Error> {
        let parse = |url: &str| parse_url(url, self.fetch.allow_http).map_err(config_error);
        Ok(match (&self.keys, &self.jwks_uri, &self.issuer) {
            (Some(_), _, _) => Source::Static,
            (None, Some(jwks_uri), _) => Source::Jwks(parse(jwks_uri)?),
            (None, None, Some(issuer)) => {
                parse(issuer)?;
                Source::Discovery(issuer.clone())
            }
            (None, None, None) => {
                return Err(config_error(FetchError::Config(
                    "no key source: set issuer(), jwks_uri() or keys()".into(),
                )));
            }
        })
    }

    /// The client to fetch with: none for static keys (building one loads
    /// the platform's root certificates, for nothing).
    fn client(&self, shared: Option<&reqwest::Client>) -> Result<Option<reqwest::Client>, Error> {
        if self.keys.is_some() {
            return Ok(None);
        }
        match self.client.as_ref().or(shared) {
            Some(client) => Ok(Some(client.clone())),
            None => default_client(&self.fetch).map(Some).map_err(config_error),
        }
    }

    /// Fetches keys and brings no client of its own.
    pub(crate) fn needs_client(&self) -> bool {
        self.keys.is_none() && self.client.is_none()
    }

    pub(crate) fn token_cache_bounds(&self) -> (u64, u64) {
        self.token_cache
    }

    pub(crate) fn fetch_config(&self) -> &FetchConfig {
        &self.fetch
    }
}

/// A configuration mistake found by a builder.
pub(crate) fn config_error(e: FetchError) -> Error {
    Error::KeysUnavailable {
        source: Some(Arc::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_rules() {
        let at_jwt = normalize_typ("at+jwt");
        let required = Some(at_jwt.as_str());
        assert_eq!(at_jwt, "application/at+jwt");
        assert!(check_typ(None, None).is_ok());
        assert!(check_typ(Some("JWT"), None).is_ok());
        assert!(check_typ(Some("application/AT+JWT"), None).is_ok());
        assert!(check_typ(Some("dpop+jwt"), None).is_err());
        assert!(check_typ(Some("logout+jwt"), None).is_err());
        assert!(check_typ(Some("at+jwt"), required).is_ok());
        assert!(check_typ(Some("Application/At+Jwt"), required).is_ok());
        assert!(check_typ(Some("JWT"), required).is_err());
        assert!(check_typ(None, required).is_err());
        assert!(check_typ(Some("application/"), required).is_err());
        assert!(check_typ(Some("at+jwt"), Some(&normalize_typ("Application/AT+JWT"))).is_ok());
    }

    // RFC 7515 §4.1.9: `application/` is implied only for a value without `/`.
    #[test]
    fn typ_with_a_slash_gets_no_implied_application_prefix() {
        let required = normalize_typ("application/text/plain");
        assert!(check_typ(Some("text/plain"), Some(&required)).is_err());
        assert!(check_typ(Some("application/text/plain"), Some(&required)).is_ok());
        let required = normalize_typ("text/plain");
        assert!(check_typ(Some("text/plain"), Some(&required)).is_ok());
        assert!(check_typ(Some("plain"), Some(&required)).is_err());
        assert!(check_typ(Some("application/jwt/x"), None).is_err());
    }

    #[test]
    fn require_scopes_accumulates_and_is_joined_once() {
        let rules = Validation::new()
            .require_scopes(["b", "a"])
            .require_scopes(["a", "c"]);
        assert_eq!(&*rules.required_scopes_text, "a b c");
    }
}
