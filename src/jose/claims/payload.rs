//! The payload machinery: one pass over the JSON reads the registered
//! claims for the checks while your claims type deserializes, then the
//! checks in their documented order: exp, nbf, iat, iss, aud, cnf, scope.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::rules;
use super::value::Val;
use super::{
    Claims, ClaimsOrigin, ClaimsRef, Inner, Registered, Scopes, Text, check_revoked, check_times,
};
use crate::jose::cnf::{self, Bindings};
use crate::jose::error::Error;
use crate::jose::time::UnixTime;
use crate::jose::token::{Members, Str};
use crate::jose::validation::Validation;

/// Parses the payload (a JSON object with no duplicate members), checks the
/// registered claims against `rules` at `now`, and deserializes `C`.
///
/// One pass over the JSON serves both: `C`'s deserializer sees every member,
/// and the registered claims are read on the way (see [`OnePass`]). If `C`
/// fails, a second pass reads the registered claims alone, so that their
/// errors still come first, in the documented order.
///
/// `tid` says whether Entra's tenant claim is needed (the key that verified
/// the token is bound to an issuer); `bindings` which confirmations
/// (`cnf`) are accepted (the caller checks the proof or certificate).
pub(crate) fn check<C: DeserializeOwned>(
    payload: Vec<u8>,
    rules: &Validation,
    now: UnixTime,
    tid: bool,
    bindings: Bindings,
) -> Result<Claims<C>, Error> {
    let payload = String::from_utf8(payload)
        .map_err(|_| Error::malformed("JSON is not UTF-8"))?
        .into_boxed_str();
    let mut raw = Raw::wanting(rules, tid);
    let mut de = serde_json::Deserializer::from_str(&payload);
    let custom = C::deserialize(OnePass {
        de: &mut de,
        raw: &mut raw,
    })
    .and_then(|custom| de.end().map(|()| custom));
    match custom {
        Ok(custom) => {
            let registered = raw.check(rules, now, &payload, bindings)?;
            Ok(Claims {
                inner: Arc::new(Inner {
                    payload,
                    registered,
                    custom,
                }),
            })
        }
        Err(e) => {
            parse_registered(&payload, rules, tid)?.check(rules, now, &payload, bindings)?;
            Err(Error::InvalidClaims {
                claim: None,
                source: Some(Arc::new(e)),
            })
        }
    }
}

/// [`check`] for the claims of an introspection response (RFC 7662 §2.2,
/// `active` already seen true): the same rules, the same `Claims<C>`, told
/// apart by [`Claims::origin`].
pub(crate) fn introspected<C: DeserializeOwned>(
    payload: Vec<u8>,
    rules: &Validation,
    now: UnixTime,
    bindings: Bindings,
) -> Result<Claims<C>, Error> {
    let mut claims = check::<C>(payload, rules, now, false, bindings)?;
    if let Some(inner) = Arc::get_mut(&mut claims.inner) {
        inner.registered.origin = ClaimsOrigin::Introspection;
    }
    Ok(claims)
}

/// The claims an API key stands for, from its configured JSON object: the
/// registered claims read with their types checked, none required (`exp`,
/// when present, is when the key stops working), no binding; the roles of
/// `rules`' claim paths and its implied scopes, as for a token; your `C`
/// deserialized.
pub(crate) fn granted<C: DeserializeOwned>(
    payload: &str,
    rules: &Validation,
) -> Result<Claims<C>, Error> {
    let payload: Box<str> = payload.into();
    let mut raw = Raw::wanting(rules, false);
    let mut de = serde_json::Deserializer::from_str(&payload);
    let custom = C::deserialize(OnePass {
        de: &mut de,
        raw: &mut raw,
    })
    .and_then(|custom| de.end().map(|()| custom))
    .map_err(|e| Error::InvalidClaims {
        claim: None,
        source: Some(Arc::new(e)),
    })?;
    if let Some(e) = raw.error {
        return Err(e);
    }
    let wanted = std::mem::take(&mut raw.wanted);
    let roles = rules::roles(
        |name| Raw::lookup(&wanted, &payload, name),
        &rules.roles_from,
    )?;
    let text = |t: Option<Cow<'_, str>>| t.map(|t| Text::new(t, &payload));
    let registered = Registered {
        iss: text(raw.iss),
        sub: text(raw.sub),
        aud: raw
            .aud
            .unwrap_or_default()
            .into_iter()
            .map(|a| Text::new(a, &payload))
            .collect(),
        exp: raw.exp.map_or(UnixTime::from_secs(u64::MAX), floor),
        nbf: raw.nbf.map(ceil),
        iat: raw.iat.map(ceil),
        jti: text(raw.jti),
        client_id: text(raw.client_id.or(raw.azp).or(raw.cid)),
        scopes: implied(raw.scope.or(raw.scp).unwrap_or_default(), rules),
        roles,
        origin: ClaimsOrigin::ApiKey,
        ..Registered::default()
    };
    Ok(Claims {
        inner: Arc::new(Inner {
            payload,
            registered,
            custom,
        }),
    })
}

/// The registered claims as found, before any check, and the first rule
/// the object broke (a duplicate member, a claim of the wrong type).
#[derive(Default)]
struct Raw<'de> {
    iss: Option<Cow<'de, str>>,
    sub: Option<Cow<'de, str>>,
    aud: Option<Vec<Cow<'de, str>>>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    jti: Option<Cow<'de, str>>,
    client_id: Option<Cow<'de, str>>,
    /// The authorized party (OpenID Connect; Keycloak's client).
    azp: Option<Cow<'de, str>>,
    /// Okta's client id.
    cid: Option<Cow<'de, str>>,
    scope: Option<Scopes>,
    scp: Option<Scopes>,
    /// An ID-token-only member (`nonce`, `at_hash`, `c_hash`) is present.
    id_token_member: bool,
    /// The rules, when they read members besides the registered claims.
    rules: Option<&'de Validation>,
    /// `tid` is needed.
    tid: bool,
    /// Those members (required claims, the first member of role paths, the
    /// payload `typ`, `tid`), as found on the one pass: no second pass
    /// over the payload per rule.
    wanted: Wanted<'de>,
    seen: Members,
    error: Option<Error>,
}

fn parse_registered<'de>(
    payload: &'de str,
    rules: &'de Validation,
    tid: bool,
) -> Result<Raw<'de>, Error> {
    let mut raw = Raw::wanting(rules, tid);
    let mut de = serde_json::Deserializer::from_str(payload);
    de.deserialize_map(RawVisitor { raw: &mut raw })
        .map_err(|_| Error::malformed("payload is not a JSON object"))?;
    de.end()
        .map_err(|_| Error::malformed("trailing data after the payload"))?;
    match raw.error {
        Some(e) => Err(e),
        None => Ok(raw),
    }
}

/// Reads the registered claims alone.
struct RawVisitor<'r, 'de> {
    raw: &'r mut Raw<'de>,
}

impl<'de> Visitor<'de> for RawVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Str<'de>>()? {
            match self.raw.member(&key.0) {
                Some(name) => {
                    let value = map.next_value::<Val<'de>>()?;
                    self.raw.set(name, value);
                }
                None if self.raw.wants(&key.0) => {
                    let value = map.next_value::<&'de RawValue>()?;
                    self.raw.wanted.push(key.0, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Deserializes the caller's `C` from the payload while reading the
/// registered claims on the way: every member name passes through
/// [`Raw::member`] (duplicates), and the value of a registered claim is read
/// once as a [`Val`], handed to `C` from there, then kept in [`Raw`].
/// `()` and unit structs stand for "no custom claims": the object is read for
/// the registered claims only.
struct OnePass<'a, 'de> {
    de: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    raw: &'a mut Raw<'de>,
}

type JsonError = serde_json::Error;

impl<'de> OnePass<'_, 'de> {
    fn registered_only(self) -> Result<(), JsonError> {
        self.de.deserialize_map(RawVisitor { raw: self.raw })
    }

    fn map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.de.deserialize_map(Intercept {
            visitor,
            raw: self.raw,
        })
    }
}

macro_rules! not_an_object {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($(_: $ty,)*)? visitor: V) -> Result<V::Value, JsonError> {
            Err(de::Error::invalid_type(de::Unexpected::Map, &visitor))
        }
    )*};
}

impl<'de> Deserializer<'de> for OnePass<'_, 'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.map(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.map(visitor)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.map(visitor)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.registered_only()?;
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_unit(visitor)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.deserialize_unit(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    // The payload is an object: any other shape is the caller's type
    // mismatch, reported like serde_json would.
    not_an_object! {
        deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32; deserialize_i64;
        deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32; deserialize_u64;
        deserialize_u128; deserialize_f32; deserialize_f64; deserialize_char; deserialize_str;
        deserialize_string; deserialize_bytes; deserialize_byte_buf; deserialize_seq;
        deserialize_identifier;
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// Wraps `C`'s visitor so that its map access goes through [`InterceptMap`].
struct Intercept<'r, 'de, V> {
    visitor: V,
    raw: &'r mut Raw<'de>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Intercept<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(InterceptMap {
            map,
            raw: self.raw,
            pending: None,
            wanted: None,
        })
    }
}

struct InterceptMap<'r, 'de, A> {
    map: A,
    raw: &'r mut Raw<'de>,
    /// The registered claim whose value comes next.
    pending: Option<&'static str>,
    /// The member a rule reads whose value comes next.
    wanted: Option<Cow<'de, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for InterceptMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key::<Str<'de>>()? else {
            return Ok(None);
        };
        self.pending = self.raw.member(&key.0);
        if self.pending.is_none() && self.raw.wants(&key.0) {
            self.wanted = Some(key.0.clone());
        }
        match key.0 {
            Cow::Borrowed(k) => seed.deserialize(de::value::BorrowedStrDeserializer::new(k)),
            Cow::Owned(k) => seed.deserialize(de::value::StringDeserializer::new(k)),
        }
        .map(Some)
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, A::Error> {
        if let Some(name) = self.wanted.take() {
            // Kept raw for the rules, and handed to `C` from there.
            let value: &'de RawValue = self.map.next_value()?;
            self.raw.wanted.push(name, value);
            let mut de = serde_json::Deserializer::from_str(value.get());
            return seed.deserialize(&mut de).map_err(de::Error::custom);
        }
        let Some(name) = self.pending.take() else {
            return self.map.next_value_seed(seed);
        };
        let value: Val<'de> = self.map.next_value()?;
        let custom = seed.deserialize(&value).map_err(de::Error::custom);
        self.raw.set(name, value);
        custom
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

impl<'de> Raw<'de> {
    /// Reading the members `rules` need besides the registered claims, and
    /// `tid` when asked.
    fn wanting(rules: &'de Validation, tid: bool) -> Self {
        let reads = rules.refuse_id_tokens
            || !rules.required_claims.is_empty()
            || !rules.roles_from.is_empty();
        Self {
            rules: reads.then_some(rules),
            tid,
            ..Self::default()
        }
    }

    /// Whether a rule reads the (unregistered) member `name`: a required
    /// claim, the first member of a role path, the payload `typ` of the
    /// ID-token guard, `tid` (a key bound to an Entra issuer), or `cnf`
    /// (the binding).
    fn wants(&self, name: &str) -> bool {
        if (self.tid && name == "tid") || name == "cnf" {
            return true;
        }
        let Some(rules) = self.rules else {
            return false;
        };
        (rules.refuse_id_tokens && name == "typ")
            || rules.required_claims.iter().any(|(n, _)| **n == *name)
            || rules
                .roles_from
                .iter()
                .any(|p| p.first().is_some_and(|f| **f == *name))
    }

    /// The raw member `name` a rule reads: from the one pass, or for a
    /// registered claim (read as such, not kept raw), from the payload.
    fn lookup(wanted: &Wanted<'de>, payload: &'de str, name: &str) -> Option<&'de RawValue> {
        match wanted.get(name) {
            Some(raw) => Some(raw),
            None if registered(name).is_some() => rules::member(payload, name),
            None => None,
        }
    }

    /// Records a member name; the registered claim it names, if any.
    fn member(&mut self, name: &str) -> Option<&'static str> {
        if !self.seen.insert(name) {
            self.fail(Error::malformed("duplicate claim"));
        }
        match name {
            // Noted, not read: members only an ID token carries.
            "nonce" | "at_hash" | "c_hash" => self.id_token_member = true,
            _ => {}
        }
        registered(name)
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    fn set(&mut self, name: &'static str, value: Val<'de>) {
        if let Err(e) = self.try_set(name, value) {
            self.fail(e);
        }
    }

    fn try_set(&mut self, name: &'static str, value: Val<'de>) -> Result<(), Error> {
        let wrong = || Error::claim(name);
        let string = |v: Val<'de>| match v {
            Val::Str(s) => Ok(s),
            _ => Err(wrong()),
        };
        let date = |v: Val<'de>| match v {
            Val::U64(n) => Ok(n as f64),
            Val::I64(n) => Ok(n as f64),
            Val::F64(n) => Ok(n),
            _ => Err(wrong()),
        };
        match name {
            "iss" => self.iss = Some(string(value)?),
            "sub" => self.sub = Some(string(value)?),
            "jti" => self.jti = Some(string(value)?),
            "client_id" => self.client_id = Some(string(value)?),
            "azp" => self.azp = Some(string(value)?),
            "cid" => self.cid = Some(string(value)?),
            "exp" => self.exp = Some(date(value)?),
            "nbf" => self.nbf = Some(date(value)?),
            "iat" => self.iat = Some(date(value)?),
            "aud" => {
                self.aud = Some(match value {
                    Val::Str(s) => vec![s],
                    Val::Strs(list) => list,
                    _ => return Err(wrong()),
                })
            }
            "scope" | "scp" => {
                let scopes = match value {
                    Val::Str(s) => s.parse().unwrap_or_default(),
                    // One scope per element: an element that is empty or
                    // holds whitespace is not a scope-token (RFC 6749 §3.3).
                    Val::Strs(list) => {
                        if list.iter().any(|s| {
                            s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control())
                        }) {
                            return Err(wrong());
                        }
                        list.iter().collect()
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

    /// The first rule the object broke, then exp, nbf, iat, maximum age,
    /// iss, ID-token guard, aud, client, required claims, the claim check,
    /// revocation, cnf, scope — in that order.
    fn check(
        self,
        rules: &Validation,
        now: UnixTime,
        payload: &'de str,
        bindings: Bindings,
    ) -> Result<Registered, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let wanted = self.wanted;
        let lookup = |name: &str| Self::lookup(&wanted, payload, name);
        let exp = self.exp.map(floor).ok_or_else(|| Error::claim("exp"))?;
        let nbf = self.nbf.map(ceil);
        let iat = self.iat.map(ceil);
        check_times(exp, nbf, iat, rules, now)?;
        if !rules.issuer_accepts(self.iss.as_deref()) {
            return Err(Error::InvalidIssuer);
        }
        // An ID token says so before its audience or client is looked at:
        // the refusal names what is wrong with it.
        if rules.refuse_id_tokens && (self.id_token_member || rules::payload_typ_is_id(lookup)) {
            return Err(Error::InvalidType);
        }
        let aud = self.aud.unwrap_or_default();
        // Without any audience configured, accepted clients stand in for it.
        let audience_checked = !rules.audiences.is_empty() || rules.client_ids.is_empty();
        if audience_checked
            && !aud
                .iter()
                .any(|a| rules.audiences.iter().any(|want| **want == **a))
        {
            return Err(Error::InvalidAudience);
        }
        let client = self.client_id.or(self.azp).or(self.cid);
        if !rules.client_ids.is_empty()
            && !client
                .as_deref()
                .is_some_and(|c| rules.client_ids.iter().any(|want| **want == *c))
        {
            return Err(Error::InvalidClient);
        }
        rules::check_required_claims(lookup, &rules.required_claims)?;
        let text = |t: Option<Cow<'_, str>>| t.map(|t| Text::new(t, payload));
        let registered = Registered {
            iss: text(self.iss),
            sub: text(self.sub),
            aud: aud.into_iter().map(|a| Text::new(a, payload)).collect(),
            exp,
            nbf,
            iat,
            jti: text(self.jti),
            client_id: text(client),
            scopes: implied(self.scope.or(self.scp).unwrap_or_default(), rules),
            roles: rules::roles(lookup, &rules.roles_from)?,
            tid: lookup("tid")
                .and_then(|raw| serde_json::from_str::<Str<'_>>(raw.get()).ok())
                .map(|tid| Text::new(tid.0, payload)),
            jkt: None,
            x5t: None,
            origin: ClaimsOrigin::Jwt,
        };
        let view = ClaimsRef {
            payload,
            registered: &registered,
        };
        if let Some(check) = &rules.claim_check {
            (check.0)(view).map_err(|reason| Error::ClaimCheck { reason })?;
        }
        check_revoked(rules, view)?;
        let mut registered = registered;
        if let Some(cnf) = lookup("cnf") {
            let cnf = cnf::read(cnf, bindings)?;
            registered.jkt = cnf.jkt.map(|jkt| Text::Owned(jkt.into()));
            registered.x5t = cnf.x5t;
        }
        if !registered.scopes.contains_all(&rules.required_scopes) {
            return Err(Error::InsufficientScope {
                required: Arc::clone(&rules.required_scopes_text),
            });
        }
        Ok(registered)
    }
}

/// The members the rules read, as found: up to four inline (a token
/// rarely needs more than `tid` and a role claim), the rest in a vector.
#[derive(Default)]
struct Wanted<'de> {
    inline: [Option<(Cow<'de, str>, &'de RawValue)>; 4],
    more: Vec<(Cow<'de, str>, &'de RawValue)>,
}

impl<'de> Wanted<'de> {
    fn push(&mut self, name: Cow<'de, str>, raw: &'de RawValue) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some((name, raw)),
            None => self.more.push((name, raw)),
        }
    }

    fn get(&self, name: &str) -> Option<&'de RawValue> {
        self.inline
            .iter()
            .flatten()
            .chain(&self.more)
            .find(|(n, _)| n == name)
            .map(|(_, raw)| *raw)
    }
}

/// The registered claim `name` is, if any.
fn registered(name: &str) -> Option<&'static str> {
    Some(match name {
        "iss" => "iss",
        "sub" => "sub",
        "aud" => "aud",
        "exp" => "exp",
        "nbf" => "nbf",
        "iat" => "iat",
        "jti" => "jti",
        "client_id" => "client_id",
        "azp" => "azp",
        "cid" => "cid",
        "scope" => "scope",
        "scp" => "scp",
        _ => return None,
    })
}

/// The granted scopes with those the application's scope hierarchy
/// ([`Validation::implied_scopes`]) adds; unchanged without one.
fn implied(granted: Scopes, rules: &Validation) -> Scopes {
    if rules.implied_scopes.is_empty() {
        return granted;
    }
    let added = rules
        .implied_scopes
        .iter()
        .filter(|(parent, _)| granted.contains(parent))
        .flat_map(|(_, children)| children.iter());
    granted.iter().chain(added).collect()
}

fn floor(t: f64) -> UnixTime {
    UnixTime::from_secs(t.floor() as u64)
}

fn ceil(t: f64) -> UnixTime {
    UnixTime::from_secs(t.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_string_and_array_give_the_same_set() {
        let mut a = Raw::default();
        a.try_set("scope", Val::Str("b a  a".into())).unwrap();
        let mut b = Raw::default();
        b.try_set("scope", Val::Strs(vec!["a".into(), "b".into()]))
            .unwrap();
        assert_eq!(a.scope, b.scope);
        assert_eq!(a.scope.unwrap().to_string(), "a b");
    }

    #[test]
    fn scope_array_elements_with_spaces_are_refused() {
        let mut r = Raw::default();
        assert!(r.try_set("scope", Val::Strs(vec!["a b".into()])).is_err());
        assert!(r.try_set("scope", Val::Strs(vec!["".into()])).is_err());
    }

    fn one_pass<C: DeserializeOwned>(json: &str) -> Result<(C, Raw<'_>), JsonError> {
        let mut raw = Raw::default();
        let mut de = serde_json::Deserializer::from_str(json);
        let c = C::deserialize(OnePass {
            de: &mut de,
            raw: &mut raw,
        })?;
        de.end()?;
        Ok((c, raw))
    }

    #[test]
    fn one_pass_reads_registered_claims_for_any_claims_type() {
        let json = r#"{"iss":"i","sub":"s","x":{"y":[1]},"exp":5.5,"aud":["a","b"]}"#;
        let ((), raw) = one_pass::<()>(json).unwrap();
        assert_eq!((raw.iss.as_deref(), raw.exp), (Some("i"), Some(5.5)));
        let (v, raw) = one_pass::<serde_json::Value>(json).unwrap();
        assert_eq!(v["x"]["y"][0], 1);
        assert_eq!(v["sub"], "s");
        assert_eq!(raw.aud.unwrap().len(), 2);
        #[derive(serde::Deserialize)]
        struct Mine {
            sub: String,
            exp: f64,
        }
        let (m, raw) = one_pass::<Mine>(json).unwrap();
        assert_eq!((m.sub.as_str(), m.exp), ("s", 5.5));
        assert_eq!(raw.sub.as_deref(), Some("s"));
        let (m, _) =
            one_pass::<std::collections::HashMap<String, serde_json::Value>>(json).unwrap();
        assert_eq!(m.len(), 5);
        #[derive(serde::Deserialize)]
        struct Unit;
        assert!(one_pass::<Unit>(json).is_ok());
        assert!(one_pass::<Option<Mine>>(json).unwrap().0.is_some());
        assert!(one_pass::<Vec<u8>>(json).is_err());
        assert!(one_pass::<String>(json).is_err());
    }

    #[test]
    fn one_pass_records_duplicates_and_wrong_types_without_stopping_c() {
        let ((), raw) = one_pass::<()>(r#"{"a":1,"a":2}"#).unwrap();
        assert!(matches!(raw.error, Some(Error::MalformedToken { .. })));
        let (v, raw) = one_pass::<serde_json::Value>(r#"{"exp":"soon","x":1}"#).unwrap();
        assert_eq!(v["x"], 1);
        assert!(matches!(
            raw.error,
            Some(Error::InvalidClaims {
                claim: Some("exp"),
                ..
            })
        ));
    }

    #[test]
    fn escaped_and_plain_strings_read_back_the_same() {
        let rules = Validation::new().issuer("https://i.example/").audience("a");
        let payload = br#"{"iss":"https:\/\/i.example\/","sub":"user\u002d1","aud":["x","a"],"exp":10,"jti":"j","scope":"b a"}"#;
        let claims: Claims = check(
            payload.to_vec(),
            &rules,
            UnixTime::from_secs(1),
            false,
            Bindings::NONE,
        )
        .unwrap();
        assert_eq!(claims.issuer(), Some("https://i.example/"));
        assert_eq!(claims.subject(), Some("user-1"));
        assert_eq!(claims.audiences().collect::<Vec<_>>(), ["x", "a"]);
        assert_eq!(claims.jwt_id(), Some("j"));
        assert_eq!(claims.scopes().iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(matches!(claims.inner.registered.sub, Some(Text::Owned(_))));
        assert!(matches!(claims.inner.registered.jti, Some(Text::Span(..))));
    }
}
