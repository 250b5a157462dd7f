//! [`MultiIssuerBuilder`]: one validator for several issuers.

use std::time::Duration;

use super::api_keys::ApiKeys;
use super::builder::{IssuerBuilder, IssuerSettings, TOKEN_CACHE_DEFAULT};
use super::dpop::Dpop;
use super::issuers::{IssuerTemplate, Registry, Trusted};
use super::mtls::CertificateBinding;
use super::{Constraints, Validator};
use crate::jose::error::ConfigError;
#[cfg(doc)]
use crate::jose::error::Error;
use crate::remote::fetch::{FetchConfig, default_client, parse_url};

/// Builds a [`Validator`] that trusts several issuers, each with its own
/// rules and key store, from [`Validator::multi_issuer`].
///
/// Every token's `iss` is read from the unverified payload only to pick
/// the issuer; the token is then verified against that issuer's keys and
/// rules alone, so a token claiming issuer A but signed with B's key fails.
/// An `iss` that names no trusted issuer is [`Error::InvalidIssuer`] before
/// any key is fetched. The verified-token cache is one for all issuers (set
/// it here), and so is the HTTP client for issuers that bring none.
///
/// ```
/// use jwt_gate::{IssuerBuilder, IssuerTemplate, Validator};
///
/// let validator = Validator::multi_issuer()
///     .trust(IssuerBuilder::new().issuer("https://example.eu.auth0.com/").audience("api://orders"))
///     .trust(
///         IssuerBuilder::new()
///             .issuer("https://ids.example.com")
///             .audience("api://orders")
///             .require_typ("at+jwt"),
///     )
///     .trust_template(
///         IssuerTemplate::new("https://login.microsoftonline.com/{tenant}/v2.0")?
///             .tenants(["72f988bf-86f1-41af-91ab-2d7cd011db47"]),
///         IssuerBuilder::new().audience("api://orders"),
///     )
///     .max_discovered_issuers(100)
///     .build()?;
/// assert_eq!(validator.issuer_statuses().len(), 2); // templated ones on first use
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct MultiIssuerBuilder {
    issuers: Vec<IssuerSettings>,
    templates: Vec<(IssuerTemplate, IssuerSettings)>,
    max_discovered: u64,
    idle: Duration,
    token_cache: (u64, u64),
    client: Option<reqwest::Client>,
    dpop: Dpop,
    certificate_binding: CertificateBinding,
    api_keys: Option<ApiKeys>,
}

impl Default for MultiIssuerBuilder {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            templates: Vec::new(),
            max_discovered: 100,
            idle: Duration::from_secs(3600),
            token_cache: TOKEN_CACHE_DEFAULT,
            client: None,
            dpop: Dpop::off(),
            certificate_binding: CertificateBinding::off(),
            api_keys: None,
        }
    }
}

impl MultiIssuerBuilder {
    /// Trusts the issuer `builder` names with [`issuer`](IssuerBuilder::issuer),
    /// under the rules and key source it sets.
    pub fn trust(mut self, builder: IssuerBuilder) -> Self {
        self.issuers.push(builder.into_settings());
        self
    }

    /// Trusts the issuers `template` admits, each under the rules `builder`
    /// sets (it names no issuer: the template fills it in). Each admitted
    /// issuer is discovered on its first token, unless `builder` gives
    /// [`keys`](IssuerBuilder::keys) or a
    /// [`jwks_uri`](IssuerBuilder::jwks_uri) that all tenants share.
    pub fn trust_template(mut self, template: IssuerTemplate, builder: IssuerBuilder) -> Self {
        self.templates.push((template, builder.into_settings()));
        self
    }

    /// How many issuers discovered from templates are held at most; the
    /// least recently used goes first. Tenants that send no traffic cost
    /// nothing.
    ///
    /// Defaults to 100.
    pub fn max_discovered_issuers(mut self, max: u64) -> Self {
        self.max_discovered = max;
        self
    }

    /// How long a discovered issuer that sees no token is held. Values
    /// over 100 years count as 100 years.
    ///
    /// Defaults to 1 hour.
    pub fn discovered_issuer_idle(mut self, idle: Duration) -> Self {
        // moka refuses (panics on) lifetimes over 1 000 years.
        self.idle = idle.min(Duration::from_secs(100 * 365 * 24 * 3600));
        self
    }

    /// See [`ValidatorBuilder::token_cache`](crate::ValidatorBuilder::token_cache): one cache for all issuers.
    ///
    /// Defaults to 50 000 tokens and 64 MiB.
    pub fn token_cache(mut self, max_entries: u64, max_bytes: u64) -> Self {
        self.token_cache = (max_entries, max_bytes);
        self
    }

    /// See [`ValidatorBuilder::dpop`](crate::ValidatorBuilder::dpop): one
    /// DPoP setting for all issuers.
    ///
    /// Defaults to [`Dpop::off`].
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = dpop;
        self
    }

    /// See [`ValidatorBuilder::certificate_binding`](crate::ValidatorBuilder::certificate_binding):
    /// one setting for all issuers.
    ///
    /// Defaults to [`CertificateBinding::off`].
    pub fn certificate_binding(mut self, binding: CertificateBinding) -> Self {
        self.certificate_binding = binding;
        self
    }

    /// See [`ValidatorBuilder::api_keys`](crate::ValidatorBuilder::api_keys).
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = Some(keys);
        self
    }

    /// The HTTP client for issuers whose builder brings none.
    ///
    /// Defaults to one client of our own, shared by all of them.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks every issuer's configuration and builds the validator.
    /// Synchronous and lazy, like [`ValidatorBuilder::build`](crate::ValidatorBuilder::build).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when no issuer is trusted, a trusted builder names
    /// no issuer, two name the same one, a template's builder names one, a
    /// template makes issuer URLs that are not https, two issuers name the
    /// same [`key_snapshot_file`](IssuerBuilder::key_snapshot_file), or any issuer's own
    /// checks fail (as [`ValidatorBuilder::build`](crate::ValidatorBuilder::build)).
    pub fn build(self) -> Result<Validator, ConfigError> {
        if self.issuers.is_empty() && self.templates.is_empty() {
            return Err(ConfigError::new(
                "trust",
                "no issuer: call trust() or trust_template()",
            ));
        }
        // One client (and connection pool) for every issuer that brings
        // none and fetches: building one loads the platform's root
        // certificates.
        let builders = || {
            self.issuers
                .iter()
                .chain(self.templates.iter().map(|(_, b)| b))
        };
        let client = match self.client.clone() {
            Some(client) => Some(client),
            None if builders().any(IssuerSettings::needs_client) => {
                let mut fetch = FetchConfig::default();
                if let Some(longest) = builders().map(|b| b.fetch_config().timeout).max() {
                    fetch.timeout = longest;
                }
                Some(default_client(&fetch)?)
            }
            None => None,
        };
        let files: Vec<_> = self
            .issuers
            .iter()
            .filter_map(IssuerSettings::snapshot_file)
            .collect();
        if let Some(twice) = files
            .iter()
            .enumerate()
            .find_map(|(i, f)| files[..i].contains(f).then_some(f))
        {
            return Err(ConfigError::new(
                "key_snapshot_file",
                format!(
                    "{} is the snapshot file of two issuers: one file holds one issuer's keys",
                    twice.display()
                ),
            ));
        }
        let mut fixed: Vec<(Box<str>, Trusted)> = Vec::new();
        for builder in self.issuers {
            let issuer: Box<str> = builder
                .issuer_name()
                .ok_or_else(|| ConfigError::new("trust", "an issuer builder names no issuer()"))?
                .into();
            let names = || std::iter::once(&issuer).chain(builder.issuer_aliases());
            let taken = |name: &str| {
                fixed.iter().any(|(i, t)| {
                    &**i == name || t.rules.issuer_aliases.iter().any(|a| &**a == name)
                })
            };
            if let Some(name) = names().find(|name| taken(name)) {
                return Err(ConfigError::new(
                    "trust",
                    format!("issuer {name:?} is trusted twice"),
                ));
            }
            fixed.push((issuer, builder.into_trusted(client.as_ref())?));
        }
        let mut templates = Vec::new();
        for (template, builder) in self.templates {
            // A sample tenant shows the template makes issuers keys can be
            // discovered from (https unless allow_http).
            parse_url(
                &template.issuer_for("tenant"),
                builder.fetch_config().allow_http,
            )
            .map_err(|why| ConfigError::new("trust_template", why))?;
            templates.push((template, builder.into_prototype(client.as_ref())?));
        }
        Registry::check_introspection(&fixed)?;
        let registry = Registry::new(fixed, templates, self.max_discovered, self.idle);
        let constraints = Constraints {
            dpop: self.dpop.build()?,
            mtls: self.certificate_binding.build()?,
            api_keys: self.api_keys.map(ApiKeys::build).transpose()?,
        };
        Ok(Validator::with_registry(
            registry,
            self.token_cache,
            constraints,
        ))
    }
}
