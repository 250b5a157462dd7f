//! [`Claims`], [`Scopes`], and the registered-claim checks in their
//! documented order: exp, nbf, iat, iss, aud, scope.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::time::UnixTime;
use crate::token::{Members, Str};
use crate::{Error, Validation};

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
    registered: Registered,
    custom: C,
}

/// The registered claims as validated.
#[derive(Debug, Default)]
struct Registered {
    iss: Option<String>,
    sub: Option<String>,
    aud: Vec<String>,
    exp: UnixTime,
    nbf: Option<UnixTime>,
    iat: Option<UnixTime>,
    jti: Option<String>,
    client_id: Option<String>,
    scopes: Scopes,
}

impl<C> Claims<C> {
    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.registered.iss.as_deref()
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.inner.registered.sub.as_deref()
    }

    /// `aud`, as a list whether the token sent a string or an array.
    pub fn audiences(&self) -> &[String] {
        &self.inner.registered.aud
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
        self.inner.registered.jti.as_deref()
    }

    /// `client_id` (RFC 9068 §2.2).
    pub fn client_id(&self) -> Option<&str> {
        self.inner.registered.client_id.as_deref()
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

    /// Your claims type.
    pub fn custom(&self) -> &C {
        &self.inner.custom
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
            .field("iss", &r.iss)
            .field("sub", &r.sub)
            .field("aud", &r.aud)
            .field("exp", &r.exp.as_secs())
            .field("nbf", &r.nbf.map(UnixTime::as_secs))
            .field("iat", &r.iat.map(UnixTime::as_secs))
            .field("jti", &r.jti)
            .field("client_id", &r.client_id)
            .field("scopes", &r.scopes)
            .field("custom", &self.inner.custom)
            .finish()
    }
}

/// A set of OAuth scopes (RFC 6749 §3.3): order and repeats do not matter,
/// matching is exact and case-sensitive.
///
/// ```
/// use jwt_gate::Scopes;
/// let scopes: Scopes = "orders.read profile orders.read".parse().unwrap();
/// assert_eq!(scopes.len(), 2);
/// assert!(scopes.contains("profile"));
/// assert!(!scopes.contains("Profile"));
/// assert_eq!(scopes.to_string(), "orders.read profile");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Box<[Box<str>]>);

impl Scopes {
    /// `true` when `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.binary_search_by(|s| (**s).cmp(scope)).is_ok()
    }

    /// `true` when every scope of `other` is in this set.
    pub fn contains_all(&self, other: &Self) -> bool {
        other.iter().all(|s| self.contains(s))
    }

    /// The scopes, in byte order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| &**s)
    }

    /// How many distinct scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn from_vec(mut v: Vec<Box<str>>) -> Self {
        v.sort_unstable();
        v.dedup();
        Self(v.into_boxed_slice())
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self::from_vec(
            iter.into_iter()
                .map(|s| s.into().into_boxed_str())
                .collect(),
        )
    }
}

impl std::str::FromStr for Scopes {
    type Err = std::convert::Infallible;
    /// Parses a space-separated `scope` string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.split(' ').filter(|s| !s.is_empty()).collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Parses the payload (a JSON object with no duplicate members), checks the
/// registered claims against `rules` at `now`, then deserializes `C`.
pub(crate) fn check<C: DeserializeOwned>(
    payload: &[u8],
    rules: &Validation,
    now: UnixTime,
) -> Result<Claims<C>, Error> {
    let payload = crate::token::utf8(payload)?;
    let raw = parse_registered(payload)?;
    let registered = raw.check(rules, now)?;
    let custom = C::deserialize(AllowUnit(&mut serde_json::Deserializer::from_str(payload)))
        .map_err(|e| Error::InvalidClaims {
            claim: None,
            source: Some(Arc::new(e)),
        })?;
    Ok(Claims {
        inner: Arc::new(Inner { registered, custom }),
    })
}

/// A JSON value as far as the registered claims care.
enum Val<'de> {
    Str(Cow<'de, str>),
    Num(f64),
    Strs(Vec<Cow<'de, str>>),
    /// null, a boolean, an object, or an array with a non-string.
    Other,
}

impl<'de> de::Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val<'de>, E> {
        Ok(Val::Num(v as f64))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'de>, E> {
        Ok(Val::Num(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'de>, E> {
        Ok(Val::Num(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Val<'de>, E> {
        Ok(Val::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Val<'de>, E> {
        Ok(Val::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
        let mut strs = Vec::new();
        let mut all_strings = true;
        while let Some(v) = seq.next_element::<Val<'de>>()? {
            match v {
                Val::Str(s) if all_strings => strs.push(s),
                _ => all_strings = false,
            }
        }
        Ok(if all_strings { Val::Strs(strs) } else { Val::Other })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Val::Other)
    }
}

/// The registered claims as found, before any check.
#[derive(Default)]
struct Raw {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Vec<String>>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    jti: Option<String>,
    client_id: Option<String>,
    scope: Option<Scopes>,
    scp: Option<Scopes>,
}

fn parse_registered(payload: &str) -> Result<Raw, Error> {
    let mut de = serde_json::Deserializer::from_str(payload);
    let raw = de
        .deserialize_map(RawVisitor)
        .map_err(|_| Error::malformed("payload is not a JSON object"))?;
    de.end()
        .map_err(|_| Error::malformed("trailing data after the payload"))?;
    raw
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Result<Raw, Error>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = Raw::default();
        let mut seen = Members::default();
        let mut verdict = Ok(());
        while let Some(key) = map.next_key::<Str<'de>>()? {
            if !seen.insert(&key.0) {
                verdict = verdict.and(Err(Error::malformed("duplicate claim")));
            }
            let name: &'static str = match &*key.0 {
                "iss" => "iss",
                "sub" => "sub",
                "aud" => "aud",
                "exp" => "exp",
                "nbf" => "nbf",
                "iat" => "iat",
                "jti" => "jti",
                "client_id" => "client_id",
                "scope" => "scope",
                "scp" => "scp",
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<Val<'de>>()?;
            if let Err(e) = raw.set(name, value) {
                verdict = verdict.and(Err(e));
            }
        }
        Ok(verdict.map(|()| raw))
    }
}

impl Raw {
    fn set(&mut self, name: &'static str, value: Val<'_>) -> Result<(), Error> {
        let wrong = || Error::claim(name);
        let string = |v: Val<'_>| match v {
            Val::Str(s) => Ok(s.into_owned()),
            _ => Err(wrong()),
        };
        let date = |v: Val<'_>| match v {
            Val::Num(n) => Ok(n),
            _ => Err(wrong()),
        };
        match name {
            "iss" => self.iss = Some(string(value)?),
            "sub" => self.sub = Some(string(value)?),
            "jti" => self.jti = Some(string(value)?),
            "client_id" => self.client_id = Some(string(value)?),
            "exp" => self.exp = Some(date(value)?),
            "nbf" => self.nbf = Some(date(value)?),
            "iat" => self.iat = Some(date(value)?),
            "aud" => {
                self.aud = Some(match value {
                    Val::Str(s) => vec![s.into_owned()],
                    Val::Strs(list) => list.into_iter().map(Cow::into_owned).collect(),
                    _ => return Err(wrong()),
                })
            }
            "scope" | "scp" => {
                let scopes = match value {
                    Val::Str(s) => s.parse().unwrap_or_default(),
                    // One scope per element: an element that is empty or
                    // holds whitespace is not a scope-token (RFC 6749 §3.3).
                    Val::Strs(list) => {
                        if list
                            .iter()
                            .any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()))
                        {
                            return Err(wrong());
                        }
                        list.into_iter().map(Cow::into_owned).collect()
                    }
                    _ => return Err(wrong()),
                };
                if name == "scope" {
                    self.scope = Some(scopes);
                } else {
                    self.scp = Some(scopes);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// exp, nbf, iat, iss, aud, scope — in that order.
    fn check(self, rules: &Validation, now: UnixTime) -> Result<Registered, Error> {
        let leeway = rules.leeway;
        let exp = self.exp.map(floor).ok_or_else(|| Error::claim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(Error::Expired { exp, now });
        }
        let nbf = self.nbf.map(ceil);
        let iat = self.iat.map(ceil);
        for t in [nbf, iat].into_iter().flatten() {
            if now < t.saturating_sub(leeway) {
                return Err(Error::NotYetValid { nbf: t, now });
            }
        }
        if let Some(issuer) = &rules.issuer {
            if self.iss.as_deref() != Some(&**issuer) {
                return Err(Error::InvalidIssuer);
            }
        }
        let aud = self.aud.unwrap_or_default();
        if !aud
            .iter()
            .any(|a| rules.audiences.iter().any(|want| **want == **a))
        {
            return Err(Error::InvalidAudience);
        }
        let scopes = self.scope.or(self.scp).unwrap_or_default();
        if !scopes.contains_all(&rules.required_scopes) {
            return Err(Error::InsufficientScope {
                required: Arc::clone(&rules.required_scopes_text),
            });
        }
        Ok(Registered {
            iss: self.iss,
            sub: self.sub,
            aud,
            exp,
            nbf,
            iat,
            jti: self.jti,
            client_id: self.client_id,
            scopes,
        })
    }
}

fn floor(t: f64) -> UnixTime {
    UnixTime::from_secs(t.floor() as u64)
}

fn ceil(t: f64) -> UnixTime {
    UnixTime::from_secs(t.ceil() as u64)
}

/// A deserializer that lets `()` (and unit structs) stand for "no custom
/// claims": it skips the object instead of failing on it.
struct AllowUnit<D>(D);

macro_rules! forward {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($($arg,)*)? visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for AllowUnit<D> {
    type Error = D::Error;

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(IgnoredAny)?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_unit(visitor)
    }

    forward! {
        deserialize_any; deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32;
        deserialize_i64; deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32;
        deserialize_u64; deserialize_u128; deserialize_f32; deserialize_f64; deserialize_char;
        deserialize_str; deserialize_string; deserialize_bytes; deserialize_byte_buf;
        deserialize_option; deserialize_seq; deserialize_map; deserialize_identifier;
        deserialize_ignored_any;
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_string_and_array_give_the_same_set() {
        let mut a = Raw::default();
        a.set("scope", Val::Str("b a  a".into())).unwrap();
        let mut b = Raw::default();
        b.set("scope", Val::Strs(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(a.scope, b.scope);
        assert_eq!(a.scope.unwrap().to_string(), "a b");
    }

    #[test]
    fn scope_array_elements_with_spaces_are_refused() {
        let mut r = Raw::default();
        assert!(r.set("scope", Val::Strs(vec!["a b".into()])).is_err());
        assert!(r.set("scope", Val::Strs(vec!["".into()])).is_err());
    }

    #[test]
    fn unit_claims_type_accepts_any_object() {
        let v: () = de::Deserialize::deserialize(AllowUnit(&mut serde_json::Deserializer::from_slice(
            br#"{"a":[1,{"b":null}]}"#,
        )))
        .unwrap();
        let () = v;
    }
}
