//! [`Claims`]: a validated token's claims, registered and your own. The
//! payload machinery that reads and checks them is in `payload`, the scope
//! set in `scopes`.

mod payload;
mod rules;
mod scopes;
mod value;

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::DeserializeOwned;

pub(crate) use self::payload::{check, granted, introspected};
pub use self::scopes::Scopes;
use crate::jose::cnf::{Bindings, Thumbprint};
use crate::jose::error::Error;
use crate::jose::time::UnixTime;
use crate::jose::validation::Validation;

/// A validated token's claims: the registered ones, parsed and checked, and
/// your own type `C` (use `()` for none).
///
/// Cheap to clone (one `Arc`). Dereferences to `C`, so `claims.tenant_id`
/// reads your field directly.
///
/// ```
/// # use jwt_gate::{Claims, KeySet, UnixTime, Validation};
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(rename = "tenantId", deserialize_with = "jwt_gate::de::string_or_number")]
///     tenant_id: String,
/// }
/// # fn f(token: &str, keys: &KeySet, rules: &Validation) -> Result<(), jwt_gate::Error> {
/// let claims: Claims<MyClaims> = jwt_gate::validate(token, keys, rules, UnixTime::now())?;
/// println!("{} of tenant {}", claims.subject().unwrap_or("?"), claims.tenant_id);
/// if claims.has_scope("orders.write") { /* … */ }
/// # Ok(()) }
/// ```
pub struct Claims<C = ()> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    /// The decoded payload: registered string claims point into it.
    payload: Box<str>,
    registered: Registered,
    custom: C,
}

/// The registered claims as validated.
#[derive(Debug, Default)]
struct Registered {
    iss: Option<Text>,
    sub: Option<Text>,
    aud: Vec<Text>,
    exp: UnixTime,
    nbf: Option<UnixTime>,
    iat: Option<UnixTime>,
    jti: Option<Text>,
    client_id: Option<Text>,
    scopes: Scopes,
    /// From the claim paths of [`Validation::roles_from`].
    roles: Scopes,
    /// Entra ID's tenant, for a key bound to an issuer with `{tenantid}`.
    tid: Option<Text>,
    /// `cnf.jkt` (RFC 9449 §6.1): the thumbprint of the DPoP key the token
    /// is bound to.
    jkt: Option<Text>,
    /// `cnf.x5t#S256` (RFC 8705 §3.1): the thumbprint of the client
    /// certificate the token is bound to.
    x5t: Option<Thumbprint>,
    /// Who vouched for these claims.
    origin: ClaimsOrigin,
}

/// Who vouched for a request's claims: [`Claims::origin`].
///
/// The binding a token carries (a DPoP key, a client certificate) is told
/// apart by [`Claims::dpop_thumbprint`] and
/// [`Claims::certificate_thumbprint`], whichever way it was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClaimsOrigin {
    /// A JWT whose signature verified with the issuer's keys.
    #[default]
    Jwt,
    /// An opaque token (or any token, when introspection is always used)
    /// the authorization server said is active (RFC 7662).
    Introspection,
    /// An API key the server is configured with: the claims it stands for.
    ApiKey,
}

/// A string claim: a range of the payload when JSON had no escapes in it
/// (no copy), else its own text.
#[derive(Debug)]
enum Text {
    Span(usize, usize),
    Owned(Box<str>),
}

impl Text {
    fn new(value: Cow<'_, str>, payload: &str) -> Self {
        if let Cow::Borrowed(s) = value {
            let start = (s.as_ptr() as usize).wrapping_sub(payload.as_ptr() as usize);
            if payload.get(start..start.wrapping_add(s.len())) == Some(s) {
                return Self::Span(start, start + s.len());
            }
        }
        Self::Owned(value.into_owned().into_boxed_str())
    }

    fn get<'a>(&'a self, payload: &'a str) -> &'a str {
        match self {
            Self::Span(start, end) => payload.get(*start..*end).unwrap_or_default(),
            Self::Owned(s) => s,
        }
    }
}

/// A validated token's registered claims, borrowed, whatever the claims
/// type: [`Claims::registered`], and what [`Validation::check_claims`] and
/// [`Validation::revoked_when`] hooks receive.
#[derive(Clone, Copy)]
pub struct ClaimsRef<'a> {
    payload: &'a str,
    registered: &'a Registered,
}

impl<'a> ClaimsRef<'a> {
    fn text(&self, text: &'a Option<Text>) -> Option<&'a str> {
        text.as_ref().map(|t| t.get(self.payload))
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&'a str> {
        self.text(&self.registered.iss)
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&'a str> {
        self.text(&self.registered.sub)
    }

    /// `aud`, as a list whether the token sent a string or an array.
    pub fn audiences(&self) -> impl ExactSizeIterator<Item = &'a str> + use<'a> {
        let payload = self.payload;
        self.registered.aud.iter().map(move |a| a.get(payload))
    }

    /// `exp`.
    pub fn expires_at(&self) -> UnixTime {
        self.registered.exp
    }

    /// `iat`.
    pub fn issued_at(&self) -> Option<UnixTime> {
        self.registered.iat
    }

    /// `jti`.
    pub fn jwt_id(&self) -> Option<&'a str> {
        self.text(&self.registered.jti)
    }

    /// The client: `client_id`, else `azp`, else `cid`.
    pub fn client_id(&self) -> Option<&'a str> {
        self.text(&self.registered.client_id)
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &'a Scopes {
        &self.registered.scopes
    }

    /// The roles read from [`Validation::roles_from`]'s claim paths.
    pub fn roles(&self) -> &'a Scopes {
        &self.registered.roles
    }

    /// `tid` (Entra ID's tenant) when it is a string.
    pub(crate) fn tenant(&self) -> Option<&'a str> {
        self.text(&self.registered.tid)
    }

    /// `cnf.jkt`: the RFC 7638 thumbprint of the DPoP key the token is
    /// bound to (RFC 9449 §6.1).
    pub fn dpop_thumbprint(&self) -> Option<&'a str> {
        self.text(&self.registered.jkt)
    }

    /// `cnf.x5t#S256`: the thumbprint of the client certificate the token
    /// is bound to (RFC 8705 §3.1).
    pub fn certificate_thumbprint(&self) -> Option<&'a str> {
        self.registered.x5t.as_ref().map(Thumbprint::as_str)
    }

    pub(crate) fn certificate_binding(&self) -> Option<Thumbprint> {
        self.registered.x5t
    }

    /// Who vouched for these claims: a JWT's signature, introspection, or
    /// an API key.
    pub fn origin(&self) -> ClaimsOrigin {
        self.registered.origin
    }

    /// Any top-level claim of the payload, deserialized as `T`;
    /// `Ok(None)` when the token has no such member. The payload is read
    /// again for it (registered claims are at hand without that).
    ///
    /// ```
    /// # use jwt_gate::{Claims, KeySet, UnixTime, Validation};
    /// # fn f(claims: &Claims) -> Result<(), jwt_gate::Error> {
    /// let tenant: Option<String> = claims.get("tid")?;
    /// let roles: Vec<String> = claims.get("roles")?.unwrap_or_default();
    /// # let _ = (tenant, roles); Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClaims`] when the claim does not deserialize as `T`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        rules::member(self.payload, name)
            .map(|raw| {
                serde_json::from_str(raw.get()).map_err(|e| Error::InvalidClaims {
                    claim: None,
                    source: Some(Arc::new(e)),
                })
            })
            .transpose()
    }
}

impl fmt::Debug for ClaimsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimsRef")
            .field("iss", &self.issuer())
            .field("sub", &self.subject())
            .field("jti", &self.jwt_id())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

impl<C> Claims<C> {
    /// The registered claims, without your type: what the claim-check and
    /// revocation hooks of [`Validation`] see.
    pub fn registered(&self) -> ClaimsRef<'_> {
        ClaimsRef {
            payload: &self.inner.payload,
            registered: &self.inner.registered,
        }
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.registered().issuer()
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.registered().subject()
    }

    /// `aud`, as a list whether the token sent a string or an array.
    pub fn audiences(&self) -> impl ExactSizeIterator<Item = &str> {
        self.registered().audiences()
    }

    /// `exp` (a fractional `exp` is rounded down).
    pub fn expires_at(&self) -> UnixTime {
        self.inner.registered.exp
    }

    /// `nbf` (a fractional `nbf` is rounded up).
    pub fn not_before(&self) -> Option<UnixTime> {
        self.inner.registered.nbf
    }

    /// `iat` (a fractional `iat` is rounded up).
    pub fn issued_at(&self) -> Option<UnixTime> {
        self.inner.registered.iat
    }

    /// `jti`.
    pub fn jwt_id(&self) -> Option<&str> {
        self.registered().jwt_id()
    }

    /// The client the token was issued to: `client_id` (RFC 9068 §2.2),
    /// else `azp` (OpenID Connect; Keycloak), else `cid` (Okta).
    pub fn client_id(&self) -> Option<&str> {
        self.registered().client_id()
    }

    /// `cnf.jkt`: the RFC 7638 thumbprint of the DPoP key the token is
    /// bound to (RFC 9449 §6.1). A validator with DPoP on accepts such a
    /// token only with a proof signed by that key, so this is the key that
    /// signed the request's proof.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.registered().dpop_thumbprint()
    }

    /// `cnf.x5t#S256`: the RFC 8705 thumbprint (base64url SHA-256 of the
    /// DER) of the client certificate the token is bound to. A validator
    /// with [certificate binding](crate::ValidatorBuilder::certificate_binding)
    /// accepts such a token only from a request that presented that
    /// certificate, so this is the thumbprint that matched.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.registered().certificate_thumbprint()
    }

    /// Who vouched for these claims: a JWT's signature
    /// ([`ClaimsOrigin::Jwt`]), the authorization server by introspection,
    /// or an API key. How the request carried them is
    /// [`AuthScheme`](crate::AuthScheme).
    pub fn origin(&self) -> ClaimsOrigin {
        self.inner.registered.origin
    }

    /// The granted scopes: from `scope` (a space-separated string, or a JSON
    /// array as IdentityServer sends it), else from `scp`.
    pub fn scopes(&self) -> &Scopes {
        &self.inner.registered.scopes
    }

    /// `true` when `scope` was granted (exact, case-sensitive match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.registered.scopes.contains(scope)
    }

    /// The caller's roles, permissions or groups, read from the claim paths
    /// of [`Validation::roles_from`] (empty when none is configured), as a
    /// set of exact, case-sensitive names.
    pub fn roles(&self) -> &Scopes {
        &self.inner.registered.roles
    }

    /// `true` when `role` is among [`roles`](Self::roles).
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.registered.roles.contains(role)
    }

    /// Any top-level claim, deserialized as `T`; `Ok(None)` when absent. See
    /// [`ClaimsRef::get`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClaims`] when the claim does not deserialize as `T`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        self.registered().get(name)
    }

    /// Your claims type.
    pub fn custom(&self) -> &C {
        &self.inner.custom
    }
}

/// Some `Claims<C>`, whatever `C` is: what the per-route guards
/// ([`RequireScopes`](crate::RequireScopes) and its siblings) read.
pub(crate) trait Granted: Send + Sync {
    fn view(&self) -> ClaimsRef<'_>;
}

impl<C: Send + Sync> Granted for Inner<C> {
    fn view(&self) -> ClaimsRef<'_> {
        ClaimsRef {
            payload: &self.payload,
            registered: &self.registered,
        }
    }
}

impl<C> Claims<C> {
    /// The decoded payload's length (for the token cache's weights).
    pub(crate) fn payload_len(&self) -> usize {
        self.inner.payload.len()
    }

    /// `exp`, `nbf`, `iat`, the maximum age and revocation against `now`
    /// again: for claims validated earlier and served from the token cache.
    pub(crate) fn recheck(&self, rules: &Validation, now: UnixTime) -> Result<(), Error> {
        let r = &self.inner.registered;
        check_times(r.exp, r.nbf, r.iat, rules, now)?;
        check_revoked(rules, self.registered())
    }
}

impl<C: DeserializeOwned> Claims<C> {
    /// A copy of these claims with an allocation of its own, read again from
    /// the kept payload (for a thread's private copy of a hot token).
    pub(crate) fn reparse(&self, rules: &Validation, now: UnixTime) -> Option<Self> {
        let tid = self.inner.registered.tid.is_some();
        let bindings = Bindings {
            jkt: self.inner.registered.jkt.is_some(),
            x5t: self.inner.registered.x5t.is_some(),
        };
        check(
            self.inner.payload.as_bytes().to_vec(),
            rules,
            now,
            tid,
            bindings,
        )
        .ok()
    }
}

impl<C: Send + Sync + 'static> Claims<C> {
    /// The same claims, without their type (no copy).
    pub(crate) fn granted(&self) -> Arc<dyn Granted> {
        self.inner.clone()
    }

    /// The same claims, type-erased (for the token cache; no copy).
    pub(crate) fn to_any(&self) -> Arc<dyn std::any::Any + Send + Sync> {
        self.inner.clone()
    }

    /// Back from [`to_any`](Self::to_any), if they are claims of type `C`.
    pub(crate) fn from_any(any: Arc<dyn std::any::Any + Send + Sync>) -> Option<Self> {
        any.downcast::<Inner<C>>().ok().map(|inner| Self { inner })
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.inner.custom
    }
}

impl<C: fmt::Debug> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.inner.registered;
        f.debug_struct("Claims")
            .field("iss", &self.issuer())
            .field("sub", &self.subject())
            .field("aud", &self.audiences().collect::<Vec<_>>())
            .field("exp", &r.exp.as_secs())
            .field("nbf", &r.nbf.map(UnixTime::as_secs))
            .field("iat", &r.iat.map(UnixTime::as_secs))
            .field("jti", &self.jwt_id())
            .field("client_id", &self.client_id())
            .field("scopes", &r.scopes)
            .field("custom", &self.inner.custom)
            .finish()
    }
}

/// The revocation hook, for a fresh token and a cached one alike.
pub(crate) fn check_revoked(rules: &Validation, claims: ClaimsRef<'_>) -> Result<(), Error> {
    match &rules.revoked {
        Some(revoked) if (revoked.0)(claims) => Err(Error::Revoked),
        _ => Ok(()),
    }
}

/// The one time check, for a fresh token and a cached one alike: expired
/// when `now >= exp + leeway`, not yet valid when `now < nbf - leeway` or
/// `now < iat - leeway`, too old when `now > iat + max_age + leeway`
/// (saturating: a huge leeway or age never wraps).
pub(crate) fn check_times(
    exp: UnixTime,
    nbf: Option<UnixTime>,
    iat: Option<UnixTime>,
    rules: &Validation,
    now: UnixTime,
) -> Result<(), Error> {
    let leeway = rules.leeway;
    if now >= exp.saturating_add(leeway) {
        return Err(Error::Expired { exp, now });
    }
    for t in [nbf, iat].into_iter().flatten() {
        if now < t.saturating_sub(leeway) {
            return Err(Error::NotYetValid { nbf: t, now });
        }
    }
    if let Some(max_age) = rules.max_age {
        let iat = iat.ok_or_else(|| Error::claim("iat"))?;
        if now > iat.saturating_add(max_age).saturating_add(leeway) {
            return Err(Error::TooOld { iat, now });
        }
    }
    Ok(())
}
