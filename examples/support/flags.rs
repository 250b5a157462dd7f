//! The command-line flags the `validate` and `axum` examples share
//! (DESIGN.md §8): where keys come from and the rules tokens must meet.
//! Each example takes its own flags first and hands the rest here; a flag
//! neither knows is an error (exit 2 with the usage line).

use jwt_gate::ValidatorBuilder;

/// A flag was given without its value.
#[derive(Debug)]
pub(crate) struct BadFlag(pub(crate) String);

impl std::fmt::Display for BadFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFlag {}

/// Builds a [`ValidatorBuilder`] from the shared flags.
#[derive(Debug, Default)]
pub(crate) struct KeyFlags {
    builder: ValidatorBuilder,
    pub(crate) issuer: Option<String>,
    pub(crate) jwks_uri: Option<String>,
    audience: bool,
    pub(crate) allow_http: bool,
    /// Roles every token must carry (`--role`), read from `--roles-claim`.
    pub(crate) roles: Vec<String>,
}

/// The shared flags, for usage lines.
pub(crate) const SHARED: &str = "(--issuer URL | --jwks-uri URL) (--audience AUD | --client-id ID)... [--scope S]... [--typ T] [--require-claim NAME=VALUE]... [--max-age SECS] [--role R]... [--roles-claim PATH]... [--allow-http]";

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
        let builder = std::mem::take(&mut self.builder);
        self.builder = match flag {
            "--issuer" => {
                let issuer = value()?;
                self.issuer = Some(issuer.clone());
                builder.issuer(issuer)
            }
            "--jwks-uri" => {
                let url = value()?;
                self.jwks_uri = Some(url.clone());
                builder.jwks_uri(url)
            }
            "--audience" => {
                self.audience = true;
                builder.audience(value()?)
            }
            "--client-id" => {
                self.audience = true;
                builder.client_ids([value()?])
            }
            "--require-claim" => {
                let pair = value()?;
                let (name, claim) = pair
                    .split_once('=')
                    .ok_or_else(|| BadFlag(format!("--require-claim {pair:?}: NAME=VALUE")))?;
                builder.require_claim(name, claim)
            }
            "--roles-claim" => builder.roles_from(&value()?),
            "--role" => {
                self.roles.push(value()?);
                builder
            }
            "--max-age" => {
                let secs = value()?;
                let secs: u64 = secs
                    .parse()
                    .map_err(|_| BadFlag(format!("--max-age {secs:?}: whole seconds")))?;
                builder.max_age(std::time::Duration::from_secs(secs))
            }
            "--scope" => builder.require_scopes([value()?]),
            "--typ" => builder.require_typ(value()?),
            "--allow-http" => {
                self.allow_http = true;
                builder.allow_http()
            }
            _ => {
                self.builder = builder;
                return Ok(false);
            }
        };
        Ok(true)
    }

    /// Whether a key source was given.
    pub(crate) fn has_source(&self) -> bool {
        self.issuer.is_some() || self.jwks_uri.is_some()
    }

    /// Whether an audience (or a client id, which stands in for it) was
    /// given.
    pub(crate) fn has_audience(&self) -> bool {
        self.audience
    }

    /// The builder the flags made.
    pub(crate) fn into_builder(self) -> ValidatorBuilder {
        self.builder
    }
}
