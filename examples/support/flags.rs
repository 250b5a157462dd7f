//! The command-line flags the `validate` and `axum` examples share
//! (DESIGN.md §8): where keys come from, a provider preset and its own
//! arguments, and the rules tokens must meet. Each example takes its own
//! flags first and hands the rest here; a flag neither knows is an error
//! (exit 2 with the usage line).

use jwt_gate::introspection::{IntrospectWhen, Introspection};
use jwt_gate::{ApiKeys, Validator, ValidatorBuilder, providers};

/// A flag was given without its value, or flags that cannot go together.
#[derive(Debug)]
pub(crate) struct BadFlag(pub(crate) String);

impl std::fmt::Display for BadFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFlag {}

/// One rule flag, applied to the base builder (a preset's, or a blank one)
/// in the order given.
type Step = Box<dyn FnOnce(ValidatorBuilder) -> ValidatorBuilder>;

/// Builds a [`ValidatorBuilder`] from the shared flags.
#[derive(Default)]
pub(crate) struct KeyFlags {
    steps: Vec<Step>,
    issuer: Option<String>,
    jwks_uri: Option<String>,
    audience: bool,
    client_ids: Vec<String>,
    pub(crate) allow_http: bool,
    /// Roles every token must carry (`--role`), read from `--roles-claim`.
    pub(crate) roles: Vec<String>,
    preset: Option<String>,
    /// The preset's own arguments: `--region`, `--user-pool`, `--tenant`,
    /// `--base-url`, `--realm`, `--domain`, `--auth-server`.
    preset_args: Vec<(String, String)>,
    introspect: IntrospectFlags,
    /// `--api-keys FILE`.
    pub(crate) api_keys: Option<String>,
}

/// `--introspect` and its settings.
#[derive(Default)]
struct IntrospectFlags {
    on: bool,
    client_id: Option<String>,
    secret: Option<String>,
    endpoint: Option<String>,
    auth: Option<String>,
    when: Option<String>,
    signed: bool,
    max_cache_age: Option<u64>,
}

impl IntrospectFlags {
    /// The introspection settings, when `--introspect` was given.
    fn settings(self) -> Result<Option<Introspection>, BadFlag> {
        if !self.on {
            let given = self.client_id.is_some()
                || self.secret.is_some()
                || self.endpoint.is_some()
                || self.auth.is_some()
                || self.when.is_some()
                || self.signed
                || self.max_cache_age.is_some();
            return match given {
                true => Err(BadFlag(
                    "the --introspect-* flags go with --introspect".into(),
                )),
                false => Ok(None),
            };
        }
        let id = self
            .client_id
            .ok_or_else(|| BadFlag("--introspect needs --introspect-client-id".into()))?;
        let secret = self
            .secret
            .or_else(|| std::env::var("JWT_GATE_INTROSPECT_SECRET").ok())
            .ok_or_else(|| {
                BadFlag(
                    "--introspect needs --introspect-client-secret or JWT_GATE_INTROSPECT_SECRET"
                        .into(),
                )
            })?;
        let mut settings = match self.auth.as_deref() {
            None | Some("basic" | "client_secret_basic") => {
                Introspection::client_secret_basic(id, secret)
            }
            Some("post" | "client_secret_post") => Introspection::client_secret_post(id, secret),
            Some(other) => {
                return Err(BadFlag(format!(
                    "--introspect-auth {other:?}: basic or post"
                )));
            }
        };
        settings = match self.when.as_deref() {
            None | Some("opaque") => settings,
            Some("always") => settings.when(IntrospectWhen::Always),
            Some(other) => {
                return Err(BadFlag(format!(
                    "--introspect-when {other:?}: opaque or always"
                )));
            }
        };
        if let Some(endpoint) = self.endpoint {
            settings = settings.endpoint(endpoint);
        }
        if self.signed {
            settings = settings.signed_responses();
        }
        if let Some(secs) = self.max_cache_age {
            settings = settings.max_cache_age(std::time::Duration::from_secs(secs));
        }
        Ok(Some(settings))
    }
}

/// The shared flags, for usage lines.
pub(crate) const SHARED: &str = "(--issuer URL | --jwks-uri URL | --preset NAME [preset flags]) (--audience AUD | --client-id ID)... [--scope S]... [--typ T] [--require-claim NAME=VALUE]... [--max-age SECS] [--role R]... [--roles-claim PATH]... [--allow-http]
  [--introspect --introspect-client-id ID [--introspect-client-secret S (else JWT_GATE_INTROSPECT_SECRET)] [--introspect-endpoint URL] [--introspect-auth basic|post] [--introspect-when opaque|always] [--introspect-jwt] [--introspect-max-age SECS]] [--api-keys FILE] [--key-snapshot FILE]
  presets: cognito --region R --user-pool ID (with --client-id) | entra --tenant TID | keycloak --base-url URL --realm R
           | auth0 --domain D | okta --domain D [--auth-server ID] | zitadel --domain D | google
           (also --user-pool-id, --tenant-id, --authorization-server)";

const PRESET_ARGS: [&str; 7] = [
    "--region",
    "--user-pool",
    "--tenant",
    "--base-url",
    "--realm",
    "--domain",
    "--auth-server",
];

/// Other spellings of the presets' flags, as the providers name the
/// values: the flag they stand for.
fn canonical(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "--user-pool-id" => "--user-pool",
        "--tenant-id" => "--tenant",
        "--authorization-server" | "--authorization-server-id" => "--auth-server",
        _ => return None,
    })
}

impl KeyFlags {
    /// Takes `flag` (and its value from `rest`) when it is a shared flag:
    /// `Ok(true)` taken, `Ok(false)` not a shared flag.
    pub(crate) fn take(
        &mut self,
        flag: &str,
        rest: &mut impl Iterator<Item = String>,
    ) -> Result<bool, BadFlag> {
        let mut value = || {
            rest.next()
                .ok_or_else(|| BadFlag(format!("{flag} needs a value")))
        };
        let step: Step = match flag {
            "--issuer" => {
                let issuer = value()?;
                self.issuer = Some(issuer.clone());
                Box::new(move |b| b.issuer(issuer))
            }
            "--jwks-uri" => {
                let url = value()?;
                self.jwks_uri = Some(url.clone());
                Box::new(move |b| b.jwks_uri(url))
            }
            "--preset" => {
                self.preset = Some(value()?);
                return Ok(true);
            }
            f if PRESET_ARGS.contains(&f) || canonical(f).is_some() => {
                let name = canonical(f).unwrap_or(f);
                self.preset_args.push((name.to_owned(), value()?));
                return Ok(true);
            }
            "--audience" => {
                self.audience = true;
                let audience = value()?;
                Box::new(move |b| b.audience(audience))
            }
            "--client-id" => {
                self.audience = true;
                self.client_ids.push(value()?);
                return Ok(true);
            }
            "--require-claim" => {
                let pair = value()?;
                let (name, claim) = pair
                    .split_once('=')
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .ok_or_else(|| BadFlag(format!("--require-claim {pair:?}: NAME=VALUE")))?;
                Box::new(move |b| b.require_claim(name, claim))
            }
            "--roles-claim" => {
                let path = value()?;
                Box::new(move |b| b.roles_from(&path))
            }
            "--role" => {
                self.roles.push(value()?);
                return Ok(true);
            }
            "--max-age" => {
                let secs = value()?;
                let secs: u64 = secs
                    .parse()
                    .map_err(|_| BadFlag(format!("--max-age {secs:?}: whole seconds")))?;
                Box::new(move |b| b.max_age(std::time::Duration::from_secs(secs)))
            }
            "--scope" => {
                let scope = value()?;
                Box::new(move |b| b.require_scopes([scope]))
            }
            "--typ" => {
                let typ = value()?;
                Box::new(move |b| b.require_typ(typ))
            }
            "--allow-http" => {
                self.allow_http = true;
                Box::new(ValidatorBuilder::allow_http)
            }
            "--introspect" => {
                self.introspect.on = true;
                return Ok(true);
            }
            "--introspect-jwt" => {
                self.introspect.signed = true;
                return Ok(true);
            }
            "--introspect-client-id"
            | "--introspect-client-secret"
            | "--introspect-endpoint"
            | "--introspect-auth"
            | "--introspect-when" => {
                let introspect = &mut self.introspect;
                let slot = match flag {
                    "--introspect-client-id" => &mut introspect.client_id,
                    "--introspect-client-secret" => &mut introspect.secret,
                    "--introspect-endpoint" => &mut introspect.endpoint,
                    "--introspect-auth" => &mut introspect.auth,
                    _ => &mut introspect.when,
                };
                *slot = Some(value()?);
                return Ok(true);
            }
            "--introspect-max-age" => {
                let secs = value()?;
                self.introspect.max_cache_age = Some(secs.parse().map_err(|_| {
                    BadFlag(format!("--introspect-max-age {secs:?}: whole seconds"))
                })?);
                return Ok(true);
            }
            "--api-keys" => {
                self.api_keys = Some(value()?);
                return Ok(true);
            }
            "--key-snapshot" => {
                let path = value()?;
                Box::new(move |b| b.key_snapshot_file(path))
            }
            _ => return Ok(false),
        };
        self.steps.push(step);
        Ok(true)
    }

    /// Without a key source, a test issuer on loopback stands in for your
    /// IdP (returned: keep it running); without an audience, `api://orders`.
    #[allow(dead_code)] // the validate example always names its issuer
    pub(crate) async fn or_local_issuer(
        &mut self,
    ) -> Result<Option<jwt_gate::testing::TestIssuer>, BadFlag> {
        let local = if self.has_source() {
            None
        } else {
            let local = jwt_gate::testing::TestIssuer::start().await;
            let mut flags = ["--issuer", local.issuer(), "--allow-http"]
                .map(String::from)
                .into_iter();
            while let Some(flag) = flags.next() {
                self.take(&flag, &mut flags)?;
            }
            Some(local)
        };
        if !self.has_audience() {
            self.take(
                "--audience",
                &mut std::iter::once("api://orders".to_owned()),
            )?;
        }
        Ok(local)
    }

    /// Whether a key source (or a preset, which names its issuer) was given.
    pub(crate) fn has_source(&self) -> bool {
        self.issuer.is_some() || self.jwks_uri.is_some() || self.preset.is_some()
    }

    /// Whether an audience (or a client id, which stands in for it) was
    /// given.
    pub(crate) fn has_audience(&self) -> bool {
        self.audience
    }

    /// The builder the flags made: the preset's (or a blank one), then
    /// every rule flag in order.
    pub(crate) fn into_builder(self) -> Result<ValidatorBuilder, BadFlag> {
        let mut args = self.preset_args;
        let mut arg = |name: &str| -> Result<String, BadFlag> {
            match args.iter().position(|(n, _)| n == name) {
                Some(i) => Ok(args.remove(i).1),
                None => Err(BadFlag(format!(
                    "--preset {} needs {name}",
                    self.preset.as_deref().unwrap_or_default()
                ))),
            }
        };
        let mut client_ids = self.client_ids;
        let base = match self.preset.as_deref() {
            None => Validator::builder(),
            Some(_) if self.issuer.is_some() => {
                return Err(BadFlag("--preset sets the issuer: drop --issuer".into()));
            }
            Some("cognito") => providers::cognito(
                &arg("--region")?,
                &arg("--user-pool")?,
                std::mem::take(&mut client_ids),
            ),
            Some("entra") => providers::entra(&arg("--tenant")?),
            Some("keycloak") => providers::keycloak(&arg("--base-url")?, &arg("--realm")?),
            Some("auth0") => providers::auth0(&arg("--domain")?),
            Some("okta") => {
                let domain = arg("--domain")?;
                let server = arg("--auth-server").unwrap_or_else(|_| "default".into());
                providers::okta(&domain, &server)
            }
            Some("zitadel") => providers::zitadel(&arg("--domain")?),
            Some("google") => providers::google(),
            Some(other) => {
                return Err(BadFlag(format!(
                    "unknown preset {other:?}: cognito, entra, keycloak, auth0, okta, zitadel or google"
                )));
            }
        };
        if let Some((name, _)) = args.first() {
            return Err(BadFlag(format!(
                "{name} is not an argument of --preset {}",
                self.preset.as_deref().unwrap_or("(none)")
            )));
        }
        let base = if client_ids.is_empty() {
            base
        } else {
            base.client_ids(client_ids)
        };
        let mut builder = self.steps.into_iter().fold(base, |b, step| step(b));
        if let Some(introspection) = self.introspect.settings()? {
            builder = builder.introspection(introspection);
        }
        if let Some(path) = &self.api_keys {
            let keys = ApiKeys::new()
                .from_file(path)
                .map_err(|e| BadFlag(format!("--api-keys {path:?}: {e}")))?;
            builder = builder.api_keys(keys);
        }
        Ok(builder)
    }
}
