//! [`Validation`]: the rules a token must meet, and the `typ` comparison
//! of RFC 7515 §4.1.9.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::jose::algorithm::{AlgSet, Algorithm};
use crate::jose::claims::{ClaimsRef, Scopes};
use crate::jose::error::Error;

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
    /// Other spellings of the issuer that `iss` may carry.
    pub(crate) issuer_aliases: Vec<Box<str>>,
    pub(crate) audiences: Vec<Box<str>>,
    pub(crate) client_ids: Vec<Box<str>>,
    /// Claims the token must hold one of the values of.
    pub(crate) required_claims: Vec<RequiredClaim>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) refuse_id_tokens: bool,
    /// Claim paths (segments) the roles are read from.
    pub(crate) roles_from: Vec<Vec<Box<str>>>,
    pub(crate) claim_check: Option<Hook<CheckFn>>,
    pub(crate) revoked: Option<Hook<RevokedFn>>,
    pub(crate) required_scopes: Scopes,
    /// (scope, the scopes it implies) of the application's hierarchy.
    pub(crate) implied_scopes: Vec<(Box<str>, Scopes)>,
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
            issuer_aliases: Vec::new(),
            audiences: Vec::new(),
            client_ids: Vec::new(),
            required_claims: Vec::new(),
            max_age: None,
            refuse_id_tokens: false,
            roles_from: Vec::new(),
            claim_check: None,
            revoked: None,
            required_scopes: Scopes::default(),
            implied_scopes: Vec::new(),
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

    /// Another spelling of the [`issuer`](Self::issuer) that `iss` may
    /// carry, byte for byte, for providers that write one issuer two ways:
    /// Google (`https://accounts.google.com` and `accounts.google.com`),
    /// Entra ID (v2.0 `https://login.microsoftonline.com/{tid}/v2.0` and
    /// v1.0 `https://sts.windows.net/{tid}/` for one tenant). Calls add up;
    /// without an [`issuer`](Self::issuer) there is no issuer check.
    ///
    /// Defaults to none.
    pub fn issuer_alias(mut self, alias: impl Into<String>) -> Self {
        self.issuer_aliases.push(alias.into().into_boxed_str());
        self
    }

    /// `iss` is the issuer or one of its aliases (true without an issuer).
    pub(crate) fn issuer_accepts(&self, iss: Option<&str>) -> bool {
        match &self.issuer {
            None => true,
            Some(issuer) => iss.is_some_and(|iss| {
                iss == &**issuer || self.issuer_aliases.iter().any(|a| &**a == iss)
            }),
        }
    }

    /// Adds an accepted audience: the token's `aud` (a string or an array)
    /// must contain at least one accepted audience, byte for byte.
    ///
    /// Defaults to none, which rejects every token (RFC 9068 §4 requires
    /// the check) unless [`client_ids`](Self::client_ids) are set, for
    /// providers whose access tokens carry no `aud` (Amazon Cognito).
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

    /// Adds accepted clients: the token's client — `client_id` (RFC 9068),
    /// else `azp` (OpenID Connect, Keycloak), else `cid` (Okta) — must be
    /// one of them ([`Error::InvalidClient`]). With audiences configured as
    /// well, both must match; without any audience, the client stands in
    /// for it (Amazon Cognito access tokens have `client_id` and no `aud`).
    ///
    /// Defaults to none: any client.
    pub fn client_ids<I, S>(mut self, clients: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_ids
            .extend(clients.into_iter().map(|c| c.into().into_boxed_str()));
        self
    }

    /// Requires the top-level claim `name` to hold `value`: a string equal
    /// to it, or an array of strings with it as a member (Cognito's
    /// `token_use` = `access`, Entra's `ver` = `2.0`). A missing claim, or
    /// one of another type, is [`Error::ClaimMismatch`]. Calls add up.
    ///
    /// Defaults to none.
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.required_claims.push((
            name.into().into_boxed_str(),
            Box::new([value.into().into_boxed_str()]),
        ));
        self
    }

    /// Requires the top-level claim `name` to hold one of `values` (a
    /// string equal to one, or an array of strings with one as a member):
    /// Keycloak's payload `typ` is `Bearer`, or `DPoP` for a DPoP-bound
    /// token. A missing claim, one of another type, or none of the values is
    /// [`Error::ClaimMismatch`]. Calls add up (each must hold).
    ///
    /// Defaults to none.
    pub fn require_claim_in<I, S>(mut self, name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = values
            .into_iter()
            .map(|v| v.into().into_boxed_str())
            .collect();
        self.required_claims
            .push((name.into().into_boxed_str(), values));
        self
    }

    /// The oldest token accepted, counted from `iat` (which becomes
    /// required), with the [`leeway`](Self::leeway): older is
    /// [`Error::TooOld`], checked again on every verified-token cache hit.
    /// For an upper bound on how long a stolen token works, whatever `exp`
    /// the issuer set.
    ///
    /// Defaults to no limit.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Refuses ID tokens presented as access tokens ([`Error::InvalidType`]):
    /// tokens with an ID-token-only member (`nonce`, `at_hash`, `c_hash`)
    /// or a payload `typ` of `ID` (Keycloak). On Entra ID v2 and Keycloak an
    /// ID token passes every other check when the API and the client share
    /// a client id, and neither provider sends `typ: at+jwt` that
    /// [`require_typ`](Self::require_typ) could check.
    ///
    /// Defaults to off (on in the provider presets).
    pub fn refuse_id_tokens(mut self) -> Self {
        self.refuse_id_tokens = true;
        self
    }

    /// Where the caller's roles (permissions, groups) are: a claim path of
    /// top-level claim and member names separated by `.`, read into
    /// [`Claims::roles`](crate::Claims::roles) for
    /// [`RequireRoles`](crate::RequireRoles). At the end of the path, an array
    /// of strings (Entra `roles`, Auth0 `permissions`, `groups`,
    /// Keycloak `realm_access.roles` and `resource_access.<client>.roles`),
    /// one string, or an object whose keys are the roles (Zitadel's
    /// `urn:zitadel:iam:org:project:roles`). A missing path gives no roles; a
    /// value of another shape, or a path through a non-object, is
    /// [`Error::InvalidClaims`]. Calls add paths; roles from all of them
    /// count.
    ///
    /// Defaults to none.
    pub fn roles_from(mut self, path: &str) -> Self {
        self.roles_from
            .push(path.split('.').map(Box::from).collect());
        self
    }

    /// A check of your own over the validated registered claims (and, with
    /// [`ClaimsRef::get`], any claim), for what no rule covers: `Err(reason)`
    /// refuses the token with [`Error::ClaimCheck`] (401 `invalid_token`;
    /// the reason goes to logs, never to the client). Runs after the
    /// required claims, before revocation; keep it fast and pure. A second
    /// call replaces the first.
    ///
    /// ```
    /// use jwt_gate::Validation;
    ///
    /// let rules = Validation::new().audience("api").check_claims(|claims| {
    ///     match claims.get::<String>("tid") {
    ///         Ok(Some(tid)) if tid == "72f988bf-86f1-41af-91ab-2d7cd011db47" => Ok(()),
    ///         _ => Err("tenant not served here"),
    ///     }
    /// });
    /// # let _ = rules;
    /// ```
    ///
    /// Defaults to none.
    pub fn check_claims(
        mut self,
        check: impl Fn(ClaimsRef<'_>) -> Result<(), &'static str> + Send + Sync + 'static,
    ) -> Self {
        self.claim_check = Some(Hook(Arc::new(check)));
        self
    }

    /// Revocation: `revoked(claims)` answers whether a token is revoked
    /// (typically by `jti`, or `sub` for "sign out everywhere"), on every
    /// validation and on every verified-token cache hit, so a revoked token
    /// stops passing at once ([`Error::Revoked`], 401). It runs on the
    /// request path: keep it a lookup in memory (a set you update from your
    /// IdP's events), never I/O.
    ///
    /// Defaults to none.
    pub fn revoked_when(
        mut self,
        revoked: impl Fn(ClaimsRef<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.revoked = Some(Hook(Arc::new(revoked)));
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

    /// A scope hierarchy, opt-in: a token granted `scope` is also granted
    /// `implied` (for the required scopes, [`RequireScopes`](crate::RequireScopes)
    /// and [`Claims::scopes`](crate::Claims::scopes)), as an authorization
    /// server that defines `orders` to cover `orders.read` and
    /// `orders.write` means it (the MCP authorization spec asks resource
    /// servers to honour such hierarchies). One level: implied scopes
    /// imply nothing further. Scopes never imply each other otherwise.
    /// Calls add up.
    ///
    /// ```
    /// use jwt_gate::Validation;
    /// let rules = Validation::new()
    ///     .audience("api://orders")
    ///     .implied_scopes("orders", ["orders.read", "orders.write"]);
    /// # let _ = rules;
    /// ```
    ///
    /// Defaults to none.
    pub fn implied_scopes<I, S>(mut self, scope: impl Into<String>, implied: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.implied_scopes
            .push((scope.into().into_boxed_str(), implied.into_iter().collect()));
        self
    }

    /// The algorithms accepted in `alg`, replacing the list. `none` can never
    /// be accepted; HS256/384/512 only verify with keys the application
    /// supplied itself ([`KeySet::with_secret`](crate::KeySet::with_secret), or `oct` keys in
    /// [`KeySet::from_jwks_json`](crate::KeySet::from_jwks_json)), never with keys fetched from an issuer.
    ///
    /// Defaults to RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384,
    /// ES512 and EdDSA.
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

/// A claim's name and the values it may hold (any of them).
pub(crate) type RequiredClaim = (Box<str>, Box<[Box<str>]>);

/// A hook of the rules: a closure, shared.
pub(crate) struct Hook<F: ?Sized>(pub(crate) Arc<F>);

impl<F: ?Sized> Clone for Hook<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F: ?Sized> fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<fn>")
    }
}

pub(crate) type CheckFn = dyn Fn(ClaimsRef<'_>) -> Result<(), &'static str> + Send + Sync;
pub(crate) type RevokedFn = dyn Fn(ClaimsRef<'_>) -> bool + Send + Sync;

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

pub(crate) fn check_typ(typ: Option<&str>, required: Option<&str>) -> Result<(), Error> {
    let ok = match (required, typ) {
        (Some(required), typ) => typ.is_some_and(|typ| typ_is(typ, required)),
        (None, None) => true,
        (None, Some(typ)) => ["application/jwt", "application/jose", "application/at+jwt"]
            .into_iter()
            .any(|plain| typ_is(typ, plain)),
    };
    if ok { Ok(()) } else { Err(Error::InvalidType) }
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
