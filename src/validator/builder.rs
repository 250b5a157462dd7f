//! The builders of one issuer's settings: [`ValidatorBuilder`] (a
//! [`Validator`]) and [`IssuerBuilder`] (one issuer of
//! [`Validator::multi_issuer`]). Both take the same settings, written once
//! here; only `ValidatorBuilder` has the ones that belong to a whole
//! validator (`token_cache`, `build`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::api_keys::ApiKeys;
use super::dpop::Dpop;
use super::introspection::Introspection;
use super::issuers::{Prototype, Trusted};
use super::mtls::CertificateBinding;
use super::{Constraints, Issuers, Validator};
use crate::jose::algorithm::Algorithm;
use crate::jose::claims::ClaimsRef;
use crate::jose::error::ConfigError;
#[cfg(doc)]
use crate::jose::error::Error;
use crate::jose::jwks::KeySet;
use crate::jose::validation::Validation;
use crate::remote::fetch::{FetchConfig, default_client, parse_url};
use crate::remote::key_store::{KeyStore, Source};
use crate::remote::snapshot::{KeySnapshot, Persist, SnapshotHook, read_file};

/// One issuer's settings: key source, rules, fetching.
#[derive(Debug, Default)]
pub(crate) struct IssuerSettings {
    rules: Validation,
    issuer: Option<String>,
    jwks_uri: Option<String>,
    keys: Option<KeySet>,
    fetch: FetchConfig,
    client: Option<reqwest::Client>,
    introspection: Option<Introspection>,
    snapshots: Snapshots,
    /// A mistake a preset found in its arguments, reported by `build()`.
    pub(crate) preset_error: Option<ConfigError>,
}

/// Last-known-good keys: where they are kept, and what to start from.
#[derive(Default)]
struct Snapshots {
    file: Option<PathBuf>,
    seed: Option<KeySnapshot>,
    hook: Option<SnapshotHook>,
}

impl Snapshots {
    fn any(&self) -> bool {
        self.file.is_some() || self.seed.is_some() || self.hook.is_some()
    }
}

impl fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshots")
            .field("file", &self.file)
            .field("seed", &self.seed)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

/// The setters both builders share, on `self.settings`.
macro_rules! issuer_setters {
    ($builder:ident) => {
        impl $builder {
            /// The issuer: `iss` must equal it byte for byte, and unless
            /// [`jwks_uri`](Self::jwks_uri) or [`keys`](Self::keys) is given, keys
            /// are found by discovery (`{issuer}/.well-known/openid-configuration`,
            /// then RFC 8414), whose `issuer` must equal it too.
            ///
            /// Defaults to none.
            pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
                let issuer = issuer.into();
                self.settings.rules = self.settings.rules.issuer(issuer.clone());
                self.settings.issuer = Some(issuer);
                self
            }

            /// Fetch keys from this JWK Set URL, without discovery.
            ///
            /// Defaults to the discovered `jwks_uri`.
            pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
                self.settings.jwks_uri = Some(url.into());
                self
            }

            /// Use these keys and never fetch.
            ///
            /// Defaults to fetching.
            pub fn keys(mut self, keys: KeySet) -> Self {
                self.settings.keys = Some(keys);
                self
            }

            /// All the rules at once, replacing those set so far (an issuer given
            /// to [`issuer`](Self::issuer), with its aliases, is kept unless
            /// `rules` names one).
            ///
            /// Defaults to [`Validation::new`].
            pub fn validation(mut self, rules: Validation) -> Self {
                let issuer = self.settings.rules.issuer.take();
                let aliases = std::mem::take(&mut self.settings.rules.issuer_aliases);
                self.settings.rules = rules;
                if self.settings.rules.issuer.is_none() {
                    self.settings.rules.issuer = issuer;
                    self.settings.rules.issuer_aliases = aliases;
                }
                self
            }

            /// See [`Validation::issuer_alias`]: another spelling of the
            /// [`issuer`](Self::issuer) that `iss` may carry, verified with
            /// the same keys. Discovery uses the issuer itself.
            ///
            /// Defaults to none.
            pub fn issuer_alias(mut self, alias: impl Into<String>) -> Self {
                self.settings.rules = self.settings.rules.issuer_alias(alias);
                self
            }

            /// See [`Validation::audience`]. Defaults to none (every token refused).
            pub fn audience(mut self, audience: impl Into<String>) -> Self {
                self.settings.rules = self.settings.rules.audience(audience);
                self
            }

            /// See [`Validation::audiences`]. Defaults to none.
            pub fn audiences<I, S>(mut self, audiences: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.settings.rules = self.settings.rules.audiences(audiences);
                self
            }

            /// See [`Validation::require_scopes`]. Defaults to none.
            pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.settings.rules = self.settings.rules.require_scopes(scopes);
                self
            }

            /// See [`Validation::client_ids`]: accepted clients (`client_id`,
            /// else `azp`, else `cid`); without an audience they stand in for
            /// it. Defaults to none.
            pub fn client_ids<I, S>(mut self, clients: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.settings.rules = self.settings.rules.client_ids(clients);
                self
            }

            /// See [`Validation::require_claim`]. Defaults to none.
            pub fn require_claim(
                mut self,
                name: impl Into<String>,
                value: impl Into<String>,
            ) -> Self {
                self.settings.rules = self.settings.rules.require_claim(name, value);
                self
            }

            /// See [`Validation::require_claim_in`]. Defaults to none.
            pub fn require_claim_in<I, S>(mut self, name: impl Into<String>, values: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.settings.rules = self.settings.rules.require_claim_in(name, values);
                self
            }

            /// See [`Validation::max_age`]. Defaults to no limit.
            pub fn max_age(mut self, max_age: Duration) -> Self {
                self.settings.rules = self.settings.rules.max_age(max_age);
                self
            }

            /// See [`Validation::check_claims`]. Defaults to none.
            pub fn check_claims(
                mut self,
                check: impl Fn(ClaimsRef<'_>) -> Result<(), &'static str> + Send + Sync + 'static,
            ) -> Self {
                self.settings.rules = self.settings.rules.check_claims(check);
                self
            }

            /// See [`Validation::revoked_when`]: consulted on every
            /// validation and every verified-token cache hit. Defaults to
            /// none.
            pub fn revoked_when(
                mut self,
                revoked: impl Fn(ClaimsRef<'_>) -> bool + Send + Sync + 'static,
            ) -> Self {
                self.settings.rules = self.settings.rules.revoked_when(revoked);
                self
            }

            /// See [`Validation::implied_scopes`]: an opt-in scope
            /// hierarchy. Defaults to none.
            pub fn implied_scopes<I, S>(mut self, scope: impl Into<String>, implied: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: AsRef<str>,
            {
                self.settings.rules = self.settings.rules.implied_scopes(scope, implied);
                self
            }

            /// See [`Validation::roles_from`]: the claim path of the
            /// caller's roles, for [`RequireRoles`](crate::RequireRoles).
            /// Defaults to none.
            pub fn roles_from(mut self, path: &str) -> Self {
                self.settings.rules = self.settings.rules.roles_from(path);
                self
            }

            /// See [`Validation::refuse_id_tokens`]. Defaults to off.
            pub fn refuse_id_tokens(mut self) -> Self {
                self.settings.rules = self.settings.rules.refuse_id_tokens();
                self
            }

            /// See [`Validation::algorithms`]. Defaults to every asymmetric
            /// algorithm (HS* never verifies with fetched keys).
            pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
                self.settings.rules = self.settings.rules.algorithms(algorithms);
                self
            }

            /// See [`Validation::leeway`]. Defaults to 60 seconds.
            pub fn leeway(mut self, leeway: Duration) -> Self {
                self.settings.rules = self.settings.rules.leeway(leeway);
                self
            }

            /// See [`Validation::require_typ`]. Defaults to not required.
            pub fn require_typ(mut self, typ: impl AsRef<str>) -> Self {
                self.settings.rules = self.settings.rules.require_typ(typ);
                self
            }

            /// See [`Validation::max_token_bytes`]. Defaults to 16 KiB.
            pub fn max_token_bytes(mut self, max: usize) -> Self {
                self.settings.rules = self.settings.rules.max_token_bytes(max);
                self
            }

            /// Allows `http://` issuer and JWKS URLs to loopback hosts (127.0.0.0/8,
            /// `::1`, `localhost`): for development and tests only.
            ///
            /// Defaults to https only.
            pub fn allow_http(mut self) -> Self {
                self.settings.fetch.allow_http = true;
                self
            }

            /// The time one key refresh (discovery and JWKS together) may take; no
            /// request ever waits longer on the network. The refresh runs in a task
            /// of its own: a request that stops waiting does not cancel it.
            ///
            /// Defaults to 5 seconds.
            pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
                self.settings.fetch.timeout = timeout;
                self
            }

            /// How long one request waits for keys being fetched: on a cold
            /// start, or after a token named a `kid` not held (a rotation).
            /// When the wait runs out the request gets
            /// [`Error::KeysUnavailable`](crate::Error::KeysUnavailable) (503,
            /// `Retry-After: 1`) and the fetch goes on, up to the
            /// [`fetch_timeout`](Self::fetch_timeout), for the requests after
            /// it: a slow IdP holds no request longer than this.
            /// [`Validator::warm_up`](crate::Validator::warm_up) and
            /// [`Validator::refresh`](crate::Validator::refresh) wait for the
            /// whole fetch.
            ///
            /// Defaults to 1 second.
            pub fn max_key_wait(mut self, wait: Duration) -> Self {
                self.settings.fetch.key_wait = wait;
                self
            }

            /// The largest JWK Set accepted, counted while it streams.
            ///
            /// Defaults to 1 MiB (the discovery document: 256 KiB).
            pub fn max_jwks_bytes(mut self, max: usize) -> Self {
                self.settings.fetch.max_jwks_bytes = max;
                self
            }

            /// How long keys are fresh when the JWKS response has no
            /// `Cache-Control: max-age`. A refresh starts in the background at 75 %
            /// of the TTL.
            ///
            /// Defaults to 10 minutes.
            pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
                self.settings.fetch.default_ttl = ttl;
                self
            }

            /// The bounds the JWKS response's `max-age` is clamped to. Whatever
            /// they say, keys live at least 1 second: an IdP answering `no-store` (or `max-age=0`) is asked
            /// about once a second, never on every request.
            ///
            /// Defaults to 1 minute and 24 hours.
            pub fn jwks_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
                self.settings.fetch.min_ttl = min;
                self.settings.fetch.max_ttl = max;
                self
            }

            /// After a token with an unknown `kid` caused a refetch, how long other
            /// unknown `kid`s fail fast without one. `Duration::MAX` means one
            /// refetch for the life of the validator.
            ///
            /// Defaults to 30 seconds.
            pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
                self.settings.fetch.cooldown = cooldown;
                self
            }

            /// How long past their TTL keys keep being served while refreshes fail
            /// (stale-if-error); after that, [`Error::KeysUnavailable`](crate::Error::KeysUnavailable).
            /// `Duration::MAX` (or anything beyond what the clock holds) means
            /// forever.
            ///
            /// Defaults to 24 hours.
            pub fn max_staleness(mut self, max: Duration) -> Self {
                self.settings.fetch.max_stale = max;
                self
            }

            /// The wait after a failed fetch, doubling per consecutive failure from
            /// `min` up to `max`. No fetch is attempted meanwhile (a wait longer than
            /// the clock holds means no further attempt).
            ///
            /// Defaults to 1 second and 5 minutes.
            pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
                self.settings.fetch.backoff_min = min;
                self.settings.fetch.backoff_max = max;
                self
            }

            /// Last-known-good keys on disk, so that a restart during an IdP
            /// outage still validates tokens. After each successful fetch the
            /// JWK Set is written to `path` with its source and fetch time
            /// (atomically: a temporary file beside it, synced, then renamed
            /// over it); at `build()` the file, if there is one, seeds the
            /// keys: they are served until
            /// [`max_staleness`](Self::max_staleness) after their *original*
            /// fetch, and a refresh is due at once. A file older than that,
            /// unreadable, or holding another issuer's keys (the issuer
            /// setting changed) is not used, with a warning, and is replaced
            /// by the next fetch. [`Validator::status`](crate::Validator::status)
            /// says `restored` until a fetch succeeds.
            ///
            /// The file is trusted like configuration: keep it writable by the
            /// service alone.
            ///
            /// ```no_run
            /// let validator = jwt_gate::Validator::builder()
            ///     .issuer("https://auth.example.com/")
            ///     .audience("api://orders")
            ///     .key_snapshot_file("/var/lib/orders/jwks-snapshot.json")
            ///     .build()?;
            /// # Ok::<(), jwt_gate::ConfigError>(())
            /// ```
            ///
            /// Defaults to none.
            pub fn key_snapshot_file(mut self, path: impl Into<PathBuf>) -> Self {
                self.settings.snapshots.file = Some(path.into());
                self
            }

            /// Starts from `snapshot` (bytes your application kept, read back
            /// with [`KeySnapshot::from_bytes`](crate::KeySnapshot::from_bytes)),
            /// as [`key_snapshot_file`](Self::key_snapshot_file) starts from its
            /// file; with both, the newer of the two. Pair it with
            /// [`on_key_snapshot`](Self::on_key_snapshot) to keep snapshots
            /// elsewhere than in a file.
            ///
            /// Defaults to none.
            pub fn seed_keys(mut self, snapshot: KeySnapshot) -> Self {
                self.settings.snapshots.seed = Some(snapshot);
                self
            }

            /// Called with a [`KeySnapshot`](crate::KeySnapshot) after each
            /// successful fetch, to keep it where your application keeps things
            /// (`to_bytes()`, then a database, Redis, …). It runs on the fetch's
            /// task after the keys are in use: keep it quick, hand slow work to a
            /// task of your own.
            ///
            /// Defaults to none.
            pub fn on_key_snapshot(
                mut self,
                hook: impl Fn(&KeySnapshot) + Send + Sync + 'static,
            ) -> Self {
                self.settings.snapshots.hook = Some(std::sync::Arc::new(hook));
                self
            }

            /// Opaque tokens (RFC 7662): the authorization server is asked
            /// whether a token is active, by the client the resource server
            /// authenticates as, and its answer goes through the same rules
            /// as a JWT's claims. See [`Introspection`](crate::introspection::Introspection).
            ///
            /// Defaults to none: a token that is not a JWT is malformed.
            pub fn introspection(mut self, introspection: Introspection) -> Self {
                self.settings.introspection = Some(introspection);
                self
            }

            /// The HTTP client to fetch with (proxies, custom roots). Timeouts, body
            /// caps and the same-origin check still apply per request; its own
            /// redirect policy decides whether redirects are followed.
            ///
            /// Defaults to a client of our own: rustls, no cross-origin redirects.
            pub fn http_client(mut self, client: reqwest::Client) -> Self {
                self.settings.client = Some(client);
                self
            }
        }
    };
}

/// Builds a [`Validator`]: a key source (issuer discovery, a JWKS URL or
/// static keys), the [`Validation`] rules, and how keys are fetched.
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::Validator;
///
/// let validator = Validator::builder()
///     .issuer("https://auth.example.com/")
///     .audience("api://orders")
///     .require_typ("at+jwt")
///     .jwks_ttl(Duration::from_secs(300))
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ValidatorBuilder {
    settings: IssuerSettings,
    /// (max entries, max bytes) of the verified-token cache.
    token_cache: (u64, u64),
    dpop: Dpop,
    certificate_binding: CertificateBinding,
    api_keys: Option<ApiKeys>,
}

/// The token cache's bounds unless set: 50 000 tokens, 64 MiB.
pub(crate) const TOKEN_CACHE_DEFAULT: (u64, u64) = (50_000, 64 * 1024 * 1024);

impl Default for ValidatorBuilder {
    fn default() -> Self {
        Self {
            settings: IssuerSettings::default(),
            token_cache: TOKEN_CACHE_DEFAULT,
            dpop: Dpop::off(),
            certificate_binding: CertificateBinding::off(),
            api_keys: None,
        }
    }
}

issuer_setters!(ValidatorBuilder);

impl ValidatorBuilder {
    /// The issuer set so far, by [`issuer`](Self::issuer) or a
    /// [preset](crate::providers): for the `authorization_servers` of your
    /// [RFC 9728 metadata](crate::ProtectedResourceMetadata).
    ///
    /// ```
    /// let preset = jwt_gate::providers::auth0("example.eu.auth0.com");
    /// assert_eq!(preset.configured_issuer(), Some("https://example.eu.auth0.com/"));
    /// ```
    pub fn configured_issuer(&self) -> Option<&str> {
        self.settings.issuer_name()
    }

    /// Reports `error` from `build()`: a preset's arguments that cannot
    /// work.
    pub(crate) fn preset_error(mut self, error: Option<ConfigError>) -> Self {
        if self.settings.preset_error.is_none() {
            self.settings.preset_error = error;
        }
        self
    }

    /// Renamed [`jwks_ttl`](Self::jwks_ttl): it is the JWK Set's lifetime,
    /// not the token cache's.
    #[deprecated(since = "0.2.0", note = "renamed `jwks_ttl`")]
    pub fn cache_ttl(self, ttl: Duration) -> Self {
        self.jwks_ttl(ttl)
    }

    /// Renamed [`jwks_ttl_bounds`](Self::jwks_ttl_bounds).
    #[deprecated(since = "0.2.0", note = "renamed `jwks_ttl_bounds`")]
    pub fn cache_ttl_bounds(self, min: Duration, max: Duration) -> Self {
        self.jwks_ttl_bounds(min, max)
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

    /// Checks the configuration and builds the validator. Synchronous and
    /// lazy: nothing is fetched until the first validation or
    /// [`warm_up`](Validator::warm_up).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the setting when there is no key source
    /// (`issuer`, `jwks_uri` or `keys`), a URL is invalid or plain http
    /// without [`allow_http`](Self::allow_http), neither an audience nor a
    /// client id is configured (every token would be refused), no algorithm is allowed, or bounds
    /// are reversed or zero.
    pub fn build(self) -> Result<Validator, ConfigError> {
        let trusted = self.settings.into_trusted(None)?;
        let constraints = Constraints {
            dpop: self.dpop.build()?,
            mtls: self.certificate_binding.build()?,
            api_keys: self.api_keys.map(ApiKeys::build).transpose()?,
        };
        Ok(Validator::new(
            Issuers::One(trusted),
            self.token_cache,
            constraints,
        ))
    }

    /// DPoP (RFC 9449): off, allowed beside bearer tokens, or required,
    /// with its proof rules, nonces, replay store and public URL. See
    /// [`Dpop`].
    ///
    /// Defaults to [`Dpop::off`]: a token bound to a key is refused.
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = dpop;
        self
    }

    /// Certificate-bound tokens (RFC 8705): off, allowed beside unbound
    /// tokens, or required, and where the request's client certificate
    /// comes from (the TLS stack, or a trusted proxy's header). See
    /// [`CertificateBinding`].
    ///
    /// Defaults to [`CertificateBinding::off`]: a token bound to a
    /// certificate is refused.
    pub fn certificate_binding(mut self, binding: CertificateBinding) -> Self {
        self.certificate_binding = binding;
        self
    }

    /// API keys accepted instead of a token, in `X-API-KEY` (or the header
    /// they name), each standing for its claims. See [`ApiKeys`].
    ///
    /// Defaults to none: the header is not read.
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = Some(keys);
        self
    }
}

/// One issuer of a multi-issuer validator, for
/// [`MultiIssuerBuilder::trust`](crate::MultiIssuerBuilder::trust) and
/// [`trust_template`](crate::MultiIssuerBuilder::trust_template): the same
/// settings as [`ValidatorBuilder`], except those that belong to the whole
/// validator (the token cache, set on the
/// [`MultiIssuerBuilder`](crate::MultiIssuerBuilder)).
///
/// ```
/// use jwt_gate::{IssuerBuilder, Validator};
///
/// let validator = Validator::multi_issuer()
///     .trust(IssuerBuilder::new().issuer("https://a.example.com/").audience("api://orders"))
///     .trust(IssuerBuilder::new().issuer("https://b.example.com").audience("api://orders"))
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct IssuerBuilder {
    settings: IssuerSettings,
}

issuer_setters!(IssuerBuilder);

impl IssuerBuilder {
    /// An issuer with no settings yet (as [`Validator::builder`] starts).
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn into_settings(self) -> IssuerSettings {
        self.settings
    }
}

/// A [`ValidatorBuilder`]'s settings for one issuer of a multi-issuer
/// validator, so that a [preset](crate::providers) can be trusted next to
/// others. Its token cache bounds are dropped: a multi-issuer validator has
/// one cache, set on the [`MultiIssuerBuilder`](crate::MultiIssuerBuilder).
///
/// ```
/// use jwt_gate::{providers, Validator};
///
/// let validator = Validator::multi_issuer()
///     .trust(providers::auth0("example.eu.auth0.com").audience("api://orders").into())
///     .trust(providers::keycloak("https://sso.example.com", "staff").client_ids(["orders-web"]).into())
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
impl From<ValidatorBuilder> for IssuerBuilder {
    fn from(builder: ValidatorBuilder) -> Self {
        Self {
            settings: builder.settings,
        }
    }
}

impl IssuerSettings {
    /// The issuer these settings name, if any.
    pub(crate) fn issuer_name(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The other spellings of the issuer `iss` may carry.
    pub(crate) fn issuer_aliases(&self) -> &[Box<str>] {
        &self.rules.issuer_aliases
    }

    /// Setup mistakes the settings show on their own.
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(e) = &self.preset_error {
            return Err(e.clone());
        }
        let rules = &self.rules;
        if rules.audiences.is_empty() && rules.client_ids.is_empty() {
            return Err(ConfigError::new(
                "audience",
                "none configured: every token would be refused (RFC 9068 §4); set audience(), audiences(), or client_ids() for providers without `aud`",
            ));
        }
        if rules.algorithms.iter().next().is_none() {
            return Err(ConfigError::new(
                "algorithms",
                "the list is empty: every token would be refused",
            ));
        }
        if self.keys.is_none() && rules.algorithms.iter().all(|alg| !alg.is_asymmetric()) {
            return Err(ConfigError::new(
                "algorithms",
                "only HS* listed, and HS* never verifies with keys fetched from an issuer: give the secret with keys()",
            ));
        }
        if rules.max_token_bytes == 0 {
            return Err(ConfigError::new("max_token_bytes", "0 refuses every token"));
        }
        let fetch = &self.fetch;
        if fetch.timeout.is_zero() {
            return Err(ConfigError::new("fetch_timeout", "0 fails every fetch"));
        }
        if fetch.max_jwks_bytes == 0 {
            return Err(ConfigError::new(
                "max_jwks_bytes",
                "0 refuses every JWK Set",
            ));
        }
        if fetch.min_ttl > fetch.max_ttl {
            return Err(ConfigError::new(
                "jwks_ttl_bounds",
                format!("min {:?} is above max {:?}", fetch.min_ttl, fetch.max_ttl),
            ));
        }
        if fetch.backoff_min > fetch.backoff_max {
            return Err(ConfigError::new(
                "retry_backoff",
                format!(
                    "min {:?} is above max {:?}",
                    fetch.backoff_min, fetch.backoff_max
                ),
            ));
        }
        Ok(())
    }

    /// The rules, the key store and the HTTP client (`client` when these
    /// settings bring none of their own).
    pub(crate) fn into_trusted(
        self,
        client: Option<&reqwest::Client>,
    ) -> Result<Trusted, ConfigError> {
        self.check()?;
        let source = self.source()?;
        let client = self.client(client)?;
        let introspection = match self.introspection {
            Some(introspection) => Some(Box::new(introspection.build(
                self.issuer.as_deref(),
                &self.fetch,
                client.clone(),
            )?)),
            None => None,
        };
        let store = KeyStore::new(source, client, self.fetch, self.keys);
        let store = self.snapshots.into_store(store)?;
        Ok(Trusted {
            rules: self.rules,
            store: Arc::new(store),
            introspection,
        })
    }

    /// The snapshot file these settings write, if any.
    pub(crate) fn snapshot_file(&self) -> Option<&PathBuf> {
        self.snapshots.file.as_ref()
    }

    /// What a template's issuers are made from: its rules, fetch settings
    /// and client, and a key store every tenant shares when keys or a JWKS
    /// URL were given (else each tenant is discovered).
    pub(crate) fn into_prototype(
        self,
        client: Option<&reqwest::Client>,
    ) -> Result<Prototype, ConfigError> {
        if self.issuer.is_some() {
            return Err(ConfigError::new(
                "issuer",
                "a template's issuer builder names no issuer: the template does",
            ));
        }
        self.check()?;
        if self.introspection.is_some() {
            return Err(ConfigError::new(
                "introspection",
                "a template's issuers cannot introspect: trust each one that does with trust()",
            ));
        }
        if self.snapshots.any() {
            return Err(ConfigError::new(
                "key_snapshot_file",
                "a template stands for many issuers and a snapshot holds one issuer's keys: trust each one to snapshot with trust()",
            ));
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

    fn source(&self) -> Result<Source, ConfigError> {
        let allow_http = self.fetch.allow_http;
        let parse = |setting, url: &str| {
            parse_url(url, allow_http).map_err(|why| ConfigError::new(setting, why))
        };
        Ok(match (&self.keys, &self.jwks_uri, &self.issuer) {
            (Some(_), _, _) => Source::Static,
            (None, Some(jwks_uri), _) => Source::Jwks(parse("jwks_uri", jwks_uri)?),
            (None, None, Some(issuer)) => {
                parse("issuer", issuer)?;
                Source::Discovery(issuer.clone())
            }
            (None, None, None) => {
                return Err(ConfigError::new(
                    "issuer",
                    "no key source: set issuer(), jwks_uri() or keys()",
                ));
            }
        })
    }

    /// The client to fetch with: none for static keys (building one loads
    /// the platform's root certificates, for nothing).
    fn client(
        &self,
        shared: Option<&reqwest::Client>,
    ) -> Result<Option<reqwest::Client>, ConfigError> {
        if self.keys.is_some() {
            return Ok(None);
        }
        match self.client.as_ref().or(shared) {
            Some(client) => Ok(Some(client.clone())),
            None => default_client(&self.fetch).map(Some),
        }
    }

    /// Fetches keys and brings no client of its own.
    pub(crate) fn needs_client(&self) -> bool {
        self.keys.is_none() && self.client.is_none()
    }

    pub(crate) fn fetch_config(&self) -> &FetchConfig {
        &self.fetch
    }
}

impl Snapshots {
    /// `store` persisting its fetches, and seeded from the newest usable
    /// snapshot: the one given (another issuer's is a setup mistake) or the
    /// file's (another issuer's is ignored, with a warning).
    fn into_store(self, store: KeyStore) -> Result<KeyStore, ConfigError> {
        if !self.any() {
            return Ok(store);
        }
        let setting = if self.seed.is_some() {
            "seed_keys"
        } else if self.file.is_some() {
            "key_snapshot_file"
        } else {
            "on_key_snapshot"
        };
        if store.source_name().is_none() {
            return Err(ConfigError::new(
                setting,
                "static keys are never fetched: there is nothing to snapshot",
            ));
        }
        if let Some(path) = &self.file {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() || path.file_name().is_none() {
                return Err(ConfigError::new(
                    "key_snapshot_file",
                    format!("{} is not a file in an existing directory", path.display()),
                ));
            }
        }
        if let Some(seed) = &self.seed
            && Some(seed.source()) != store.source_name()
        {
            return Err(ConfigError::new(
                "seed_keys",
                format!(
                    "the snapshot holds the keys of {:?}, not {:?}",
                    seed.source(),
                    store.source_name().unwrap_or_default()
                ),
            ));
        }
        let from_file = self.file.as_deref().and_then(|path| {
            read_file(path)
                .inspect_err(|why| tracing::warn!(target: "jwt_gate", %why, "key snapshot file not used"))
                .ok()
                .flatten()
                .filter(|s| {
                    let ours = Some(s.source()) == store.source_name();
                    if !ours {
                        tracing::warn!(target: "jwt_gate", path = %path.display(), source = s.source(), "key snapshot file of another issuer not used");
                    }
                    ours
                })
        });
        let newest = match (self.seed, from_file) {
            (Some(seed), Some(file)) if file.fetched_at() > seed.fetched_at() => Some(file),
            (Some(seed), _) => Some(seed),
            (None, file) => file,
        };
        if let Some(snapshot) = newest {
            store
                .restore(&snapshot)
                .map_err(|why| ConfigError::new("seed_keys", why))?;
        }
        Ok(store.with_persist(Persist::new(self.file, self.hook)))
    }
}
