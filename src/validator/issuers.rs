//! The trusted issuers: one issuer's rules and key store ([`Trusted`]), and
//! for several issuers in one [`Validator`](crate::Validator), the registry
//! the token's `iss` picks from ([`Registry`]) and [`IssuerTemplate`]. The
//! `iss` read from the unverified payload only picks which issuer's rules
//! and keys apply; everything is then verified against them.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::introspection::{IntrospectWhen, Introspector, looks_like_jwt};
use crate::jose::error::{ConfigError, Error};
use crate::jose::token::decode_b64;
use crate::jose::validation::Validation;
use crate::remote::fetch::FetchConfig;
use crate::remote::key_store::{KeyStatus, KeyStore, Source};

/// One trusted issuer: the rules its tokens must meet and its key store.
pub(crate) struct Trusted {
    pub(crate) rules: Validation,
    pub(crate) store: Arc<KeyStore>,
    /// Opaque tokens, when the issuer introspects them (boxed: most
    /// issuers do not).
    pub(crate) introspection: Option<Box<Introspector>>,
}

impl fmt::Debug for Trusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trusted")
            .field("rules", &self.rules)
            .field("store", &self.store)
            .finish()
    }
}

/// The issuer a token was routed to: one configured up front, or one
/// discovered from a template (held by the bounded cache and by this).
pub(crate) enum Picked<'a> {
    Fixed(&'a Trusted),
    Discovered(Arc<Trusted>),
}

impl Deref for Picked<'_> {
    type Target = Trusted;

    fn deref(&self) -> &Trusted {
        match self {
            Self::Fixed(t) => t,
            Self::Discovered(t) => t,
        }
    }
}

/// An issuer URL with one `{tenant}` placeholder, such as
/// `https://login.microsoftonline.com/{tenant}/v2.0`, and the tenants it
/// admits: a list, or a predicate. A token whose `iss` fits the pattern with
/// an admitted tenant is validated against that issuer, discovered on first
/// use; any other `iss` is refused as [`Error::InvalidIssuer`] without a
/// network call.
///
/// A tenant is 1 to 128 characters from `A–Z a–z 0–9 - . _ ~` (URL
/// unreserved characters), and never the dot segments `.` or `..`, so it
/// can never add a path, a query or a host to the issuer, nor remove one.
///
/// ```
/// use jwt_gate::IssuerTemplate;
///
/// let entra = IssuerTemplate::new("https://login.microsoftonline.com/{tenant}/v2.0")?
///     .tenants(["72f988bf-86f1-41af-91ab-2d7cd011db47"]);
/// let realms = IssuerTemplate::new("https://sso.example.com/realms/{tenant}")?
///     .tenant_filter(|t| t.starts_with("customer-"));
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct IssuerTemplate {
    prefix: Box<str>,
    suffix: Box<str>,
    /// Other spellings of the same issuers, as (prefix, suffix).
    aliases: Vec<(Box<str>, Box<str>)>,
    admits: Admits,
}

#[derive(Clone)]
enum Admits {
    Nothing,
    List(Arc<HashSet<Box<str>>>),
    Filter(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

const PLACEHOLDER: &str = "{tenant}";
const MAX_TENANT_LEN: usize = 128;

impl IssuerTemplate {
    /// A template with exactly one `{tenant}` placeholder. It admits no
    /// tenant until [`tenants`](Self::tenants) or
    /// [`tenant_filter`](Self::tenant_filter) says which.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `IssuerTemplate::new`) when the
    /// placeholder is missing or appears more than once.
    pub fn new(template: &str) -> Result<Self, ConfigError> {
        let (prefix, suffix) = split_template("IssuerTemplate::new", template)?;
        Ok(Self {
            prefix,
            suffix,
            aliases: Vec::new(),
            admits: Admits::Nothing,
        })
    }

    /// A template from known-good parts (the presets'): `main` and each
    /// alias hold exactly one placeholder.
    pub(crate) fn from_parts(main: &'static str, aliases: &[&'static str]) -> Self {
        let split = |t: &'static str| {
            let (prefix, suffix) = t.split_once(PLACEHOLDER).unwrap_or((t, ""));
            (Box::from(prefix), Box::from(suffix))
        };
        let (prefix, suffix) = split(main);
        Self {
            prefix,
            suffix,
            aliases: aliases.iter().copied().map(split).collect(),
            admits: Admits::Nothing,
        }
    }

    /// Another spelling of the same issuers, with its own `{tenant}`
    /// placeholder (Entra ID's v1.0 `https://sts.windows.net/{tenant}/` next
    /// to v2.0 `https://login.microsoftonline.com/{tenant}/v2.0`): a token
    /// whose `iss` fits it, for an admitted tenant, is validated under the
    /// same tenant's issuer (discovered from the main template's URL), and
    /// its `iss` may be either spelling. Calls add up.
    ///
    /// ```
    /// use jwt_gate::IssuerTemplate;
    ///
    /// let entra = IssuerTemplate::new("https://login.microsoftonline.com/{tenant}/v2.0")?
    ///     .alias("https://sts.windows.net/{tenant}/")?
    ///     .tenants(["72f988bf-86f1-41af-91ab-2d7cd011db47"]);
    /// assert!(IssuerTemplate::new("https://a.example/{tenant}")?.alias("https://b.example/").is_err());
    /// # let _ = entra;
    /// # Ok::<(), jwt_gate::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `IssuerTemplate::alias`) when the
    /// placeholder is missing or appears more than once.
    pub fn alias(mut self, template: &str) -> Result<Self, ConfigError> {
        self.aliases
            .push(split_template("IssuerTemplate::alias", template)?);
        Ok(self)
    }

    /// Admits exactly these tenants (replacing any earlier choice).
    pub fn tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = tenants
            .into_iter()
            .map(|t| t.into().into_boxed_str())
            .collect();
        self.admits = Admits::List(Arc::new(list));
        self
    }

    /// Admits the tenants `admit` returns `true` for (replacing any earlier
    /// choice). It runs on every token that fits the pattern, before any
    /// network call, so keep it cheap and pure.
    pub fn tenant_filter(mut self, admit: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.admits = Admits::Filter(Arc::new(admit));
        self
    }

    /// The issuer for `tenant`.
    pub fn issuer_for(&self, tenant: &str) -> String {
        format!("{}{tenant}{}", self.prefix, self.suffix)
    }

    /// The other spellings of the issuer for `tenant`.
    fn aliases_for<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = String> + 'a {
        self.aliases
            .iter()
            .map(move |(prefix, suffix)| format!("{prefix}{tenant}{suffix}"))
    }

    /// The tenant of `iss` if it fits the pattern (or an alias) and is
    /// admitted.
    fn admitted_tenant<'a>(&self, iss: &'a str) -> Option<&'a str> {
        std::iter::once((&self.prefix, &self.suffix))
            .chain(self.aliases.iter().map(|(p, s)| (p, s)))
            .find_map(|(prefix, suffix)| {
                self.admitted(iss.strip_prefix(&**prefix)?.strip_suffix(&**suffix)?)
            })
    }

    /// `tenant` if it is well formed and admitted.
    fn admitted<'a>(&self, tenant: &'a str) -> Option<&'a str> {
        let well_formed = (1..=MAX_TENANT_LEN).contains(&tenant.len())
            && tenant != "."
            && tenant != ".."
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let admitted = well_formed
            && match &self.admits {
                Admits::Nothing => false,
                Admits::List(list) => list.contains(tenant),
                Admits::Filter(admit) => admit(tenant),
            };
        admitted.then_some(tenant)
    }
}

impl fmt::Debug for IssuerTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let admits = match &self.admits {
            Admits::Nothing => "nothing".to_owned(),
            Admits::List(list) => format!("{} tenants", list.len()),
            Admits::Filter(_) => "a filter".to_owned(),
        };
        f.debug_struct("IssuerTemplate")
            .field(
                "template",
                &format!("{}{PLACEHOLDER}{}", self.prefix, self.suffix),
            )
            .field("aliases", &self.aliases.len())
            .field("admits", &admits)
            .finish()
    }
}

/// What a template's issuers are made from.
pub(crate) struct Prototype {
    pub(crate) rules: Validation,
    pub(crate) fetch: FetchConfig,
    pub(crate) client: Option<reqwest::Client>,
    /// Keys every tenant shares (a static key set or one JWKS URL), instead
    /// of a discovery per tenant.
    pub(crate) shared_store: Option<Arc<KeyStore>>,
}

/// A template's prefix and suffix around its one placeholder.
fn split_template(
    setting: &'static str,
    template: &str,
) -> Result<(Box<str>, Box<str>), ConfigError> {
    let config = |msg: String| ConfigError::new(setting, msg);
    let (prefix, suffix) = template
        .split_once(PLACEHOLDER)
        .ok_or_else(|| config(format!("issuer template {template:?} has no {PLACEHOLDER}")))?;
    if suffix.contains(PLACEHOLDER) {
        return Err(config(format!(
            "issuer template {template:?} has more than one {PLACEHOLDER}"
        )));
    }
    Ok((prefix.into(), suffix.into()))
}

impl Prototype {
    /// The issuer of `tenant`: discovered from its main spelling, its
    /// tokens' `iss` any of its spellings.
    fn trusted_for(&self, template: &IssuerTemplate, tenant: &str) -> Trusted {
        let issuer = template.issuer_for(tenant);
        let store = self.shared_store.clone().unwrap_or_else(|| {
            Arc::new(KeyStore::new(
                Source::Discovery(issuer.to_owned()),
                self.client.clone(),
                self.fetch.clone(),
                None,
            ))
        });
        let rules = template
            .aliases_for(tenant)
            .fold(self.rules.clone().issuer(issuer), Validation::issuer_alias);
        Trusted {
            rules,
            store,
            introspection: None,
        }
    }
}

/// Every issuer a multi-issuer validator trusts.
pub(crate) struct Registry {
    fixed: Vec<(Box<str>, Trusted)>,
    by_issuer: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    templates: Vec<(IssuerTemplate, Prototype)>,
    /// Issuers discovered from templates: bounded, least recently used
    /// first out.
    discovered: moka::sync::Cache<String, Arc<Trusted>, foldhash::fast::RandomState>,
    /// The largest token any issuer accepts: bigger ones are not decoded.
    max_token_bytes: usize,
    /// The issuer opaque tokens go to (it introspects tokens that are not
    /// JWTs): a token names no issuer, so there is at most one.
    opaque: Option<usize>,
    /// Some issuer introspects every token, JWTs included.
    introspects_jwts: bool,
}

impl Registry {
    pub(crate) fn new(
        fixed: Vec<(Box<str>, Trusted)>,
        templates: Vec<(IssuerTemplate, Prototype)>,
        max_discovered: u64,
        idle: Duration,
    ) -> Self {
        let by_issuer = fixed
            .iter()
            .enumerate()
            .flat_map(|(i, (iss, t))| {
                std::iter::once(iss)
                    .chain(&t.rules.issuer_aliases)
                    .map(move |name| (name.clone(), i))
            })
            .collect();
        let max_token_bytes = fixed
            .iter()
            .map(|(_, t)| &t.rules)
            .chain(templates.iter().map(|(_, p)| &p.rules))
            .map(|r| r.max_token_bytes)
            .max()
            .unwrap_or(0);
        let opaque = fixed.iter().position(|(_, t)| t.introspection.is_some());
        let introspects_jwts = fixed.iter().any(|(_, t)| {
            t.introspection
                .as_ref()
                .is_some_and(|i| i.when == IntrospectWhen::Always)
        });
        Self {
            opaque,
            introspects_jwts,
            fixed,
            by_issuer,
            templates,
            discovered: moka::sync::Cache::builder()
                .max_capacity(max_discovered)
                .time_to_idle(idle)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            max_token_bytes,
        }
    }

    /// Checks that opaque tokens have one place to go.
    pub(crate) fn check_introspection(fixed: &[(Box<str>, Trusted)]) -> Result<(), ConfigError> {
        if fixed
            .iter()
            .filter(|(_, t)| t.introspection.is_some())
            .count()
            > 1
        {
            return Err(ConfigError::new(
                "introspection",
                "more than one issuer introspects: an opaque token names no issuer, so only one may",
            ));
        }
        Ok(())
    }

    /// The introspecting issuer `token` goes to, if introspection judges
    /// it: an opaque token to the one issuer that introspects, a JWT to
    /// its issuer when that one introspects every token.
    pub(crate) fn introspecting(&self, token: &str) -> Option<Result<Picked<'_>, Error>> {
        if !looks_like_jwt(token) {
            return self.opaque.map(|i| Ok(Picked::Fixed(&self.fixed[i].1)));
        }
        if !self.introspects_jwts {
            return None;
        }
        match self.pick(token) {
            Ok(picked)
                if picked
                    .introspection
                    .as_ref()
                    .is_some_and(|i| i.takes(token)) =>
            {
                Some(Ok(picked))
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The issuer `token` claims, if it is trusted. No network call: a
    /// templated issuer is only set up here, its keys fetched on first use.
    pub(crate) fn pick(&self, token: &str) -> Result<Picked<'_>, Error> {
        let iss = unverified_issuer(token, self.max_token_bytes)?;
        if let Some(&i) = self.by_issuer.get(&*iss) {
            return Ok(Picked::Fixed(&self.fixed[i].1));
        }
        for (template, prototype) in &self.templates {
            if let Some(tenant) = template.admitted_tenant(&iss) {
                let trusted = self
                    .discovered
                    .get_with_by_ref(&*iss, || Arc::new(prototype.trusted_for(template, tenant)));
                return Ok(Picked::Discovered(trusted));
            }
        }
        tracing::debug!(target: "jwt_gate", "token from an untrusted issuer");
        Err(Error::InvalidIssuer)
    }

    /// The configuration of a verified issuer, if it is still held (no
    /// template is consulted: it was admitted when its token was verified).
    pub(crate) fn trusted(&self, iss: &str) -> Option<Picked<'_>> {
        match self.by_issuer.get(iss) {
            Some(&i) => Some(Picked::Fixed(&self.fixed[i].1)),
            None => self.discovered.get(iss).map(Picked::Discovered),
        }
    }

    /// The rules of the first issuer configured (or of the first template).
    pub(crate) fn first_rules(&self) -> &Validation {
        self.fixed
            .first()
            .map(|(_, t)| &t.rules)
            .or_else(|| self.templates.first().map(|(_, p)| &p.rules))
            .expect("a registry trusts at least one issuer or template")
    }

    /// The issuers configured up front, in order.
    pub(crate) fn fixed(&self) -> impl Iterator<Item = &Trusted> {
        self.fixed.iter().map(|(_, t)| t)
    }

    /// Every key store held, once each: the configured issuers', then the
    /// discovered ones' (a store templated issuers share counted once).
    pub(crate) fn stores(&self) -> Vec<Arc<KeyStore>> {
        let mut stores: Vec<Arc<KeyStore>> = Vec::new();
        let all = self
            .fixed
            .iter()
            .map(|(_, t)| Arc::clone(&t.store))
            .chain(self.discovered.iter().map(|(_, t)| Arc::clone(&t.store)));
        for store in all {
            if !stores.iter().any(|s| Arc::ptr_eq(s, &store)) {
                stores.push(store);
            }
        }
        stores
    }

    /// Every issuer held: configured ones first, then discovered ones.
    pub(crate) fn statuses(&self) -> Vec<(String, KeyStatus)> {
        self.discovered.run_pending_tasks();
        let mut discovered: Vec<_> = self
            .discovered
            .iter()
            .map(|(iss, t)| (iss.to_string(), t.store.status()))
            .collect();
        discovered.sort_by(|a, b| a.0.cmp(&b.0));
        self.fixed
            .iter()
            .map(|(iss, t)| (iss.to_string(), t.store.status()))
            .chain(discovered)
            .collect()
    }
}

/// `iss` from the payload, not verified: only to choose whose keys verify
/// it. The size limit applies before anything is decoded.
pub(crate) fn unverified_issuer(token: &str, max_bytes: usize) -> Result<Box<str>, Error> {
    if token.len() > max_bytes {
        return Err(Error::TooLarge {
            size: token.len(),
            limit: max_bytes,
        });
    }
    let payload = token
        .split('.')
        .nth(1)
        .filter(|p| !p.is_empty())
        .ok_or(Error::malformed("not three dot-separated segments"))?;
    let json = decode_b64(payload)?;
    let not_object = || Error::malformed("the payload is not a JSON object");
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(not_object());
    }
    #[derive(Deserialize)]
    struct Iss<'a> {
        #[serde(borrow)]
        iss: Option<&'a RawValue>,
    }
    let parsed: Iss<'_> = serde_json::from_slice(&json).map_err(|_| not_object())?;
    let iss = parsed.iss.ok_or(Error::InvalidIssuer)?;
    let iss: Cow<'_, str> = serde_json::from_str(iss.get()).map_err(|_| Error::InvalidIssuer)?;
    Ok(iss.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_fit_the_pattern_and_the_admission() {
        let t = IssuerTemplate::new("https://login.example.com/{tenant}/v2.0")
            .unwrap()
            .tenants(["contoso", "a.b-c_d~e"]);
        assert_eq!(
            t.admitted_tenant("https://login.example.com/contoso/v2.0"),
            Some("contoso")
        );
        assert!(
            t.admitted_tenant("https://login.example.com/a.b-c_d~e/v2.0")
                .is_some()
        );
        for refused in [
            "https://login.example.com/fabrikam/v2.0",
            "https://login.example.com//v2.0",
            "https://login.example.com/contoso/v2.0/",
            "https://login.example.com/contoso/x/v2.0",
            "https://login.example.com/contoso?/v2.0",
            "http://login.example.com/contoso/v2.0",
        ] {
            assert_eq!(t.admitted_tenant(refused), None, "{refused}");
        }
        let f = IssuerTemplate::new("https://{tenant}.auth.example.com/")
            .unwrap()
            .tenant_filter(|t| t.starts_with("c-"));
        assert!(f.admitted_tenant("https://c-1.auth.example.com/").is_some());
        assert!(
            f.admitted_tenant("https://evil.com/.auth.example.com/")
                .is_none()
        );
        assert!(
            f.admitted_tenant("https://c-x@evil.auth.example.com/")
                .is_none()
        );
        // Dot segments would rewrite the discovery path (RFC 3986 §5.2.4).
        let dots = IssuerTemplate::new("https://login.example.com/{tenant}/v2.0")
            .unwrap()
            .tenant_filter(|_| true);
        for refused in [
            "https://login.example.com/./v2.0",
            "https://login.example.com/../v2.0",
        ] {
            assert_eq!(dots.admitted_tenant(refused), None, "{refused}");
        }
        assert!(
            dots.admitted_tenant("https://login.example.com/.../v2.0")
                .is_some()
        );
        let none = IssuerTemplate::new("https://x/{tenant}").unwrap();
        assert!(none.admitted_tenant("https://x/a").is_none());
        let long = "a".repeat(MAX_TENANT_LEN + 1);
        let any = none.tenant_filter(|_| true);
        assert!(any.admitted_tenant(&format!("https://x/{long}")).is_none());
    }

    #[test]
    fn templates_need_exactly_one_placeholder() {
        assert!(IssuerTemplate::new("https://x/").is_err());
        assert!(IssuerTemplate::new("https://x/{tenant}/{tenant}").is_err());
    }

    #[test]
    fn the_issuer_is_read_without_verification() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = |payload: &str| format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(payload));
        assert_eq!(
            &*unverified_issuer(&token(r#"{"iss":"https://a\/b","x":[1]}"#), 4096).unwrap(),
            "https://a/b"
        );
        for (payload, missing) in [
            (r#"{"sub":"x"}"#, true),
            (r#"{"iss":7}"#, true),
            ("[1]", false),
        ] {
            let err = unverified_issuer(&token(payload), 4096).unwrap_err();
            assert_eq!(
                matches!(err, Error::InvalidIssuer),
                missing,
                "{payload}: {err:?}"
            );
        }
        let dup = unverified_issuer(&token(r#"{"iss":"a","iss":"b"}"#), 4096).unwrap_err();
        assert!(matches!(dup, Error::MalformedToken { .. }), "{dup:?}");
        assert!(matches!(
            unverified_issuer(&token(r#"{"iss":"a"}"#), 10),
            Err(Error::TooLarge { .. })
        ));
        assert!(unverified_issuer("abc", 4096).is_err());
    }
}
