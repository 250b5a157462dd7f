//! Claim rules that read members the one-pass parse does not keep: the
//! required claim values and Keycloak's payload `typ`. They look the member
//! up in the payload (already parsed once, so known to be a JSON object
//! without duplicate members), only when a rule asks for it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::Scopes;
use super::scopes::Names;

use crate::jose::error::Error;
use crate::jose::token::{Str, Unique};
use crate::jose::validation::RequiredClaim;

/// The raw JSON of the payload's top-level member `name`, if present.
pub(crate) fn member<'p>(payload: &'p str, name: &str) -> Option<&'p RawValue> {
    let mut de = serde_json::Deserializer::from_str(payload);
    Find { name }.deserialize(&mut de).ok().flatten()
}

struct Find<'n> {
    name: &'n str,
}

impl<'de> DeserializeSeed<'de> for Find<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // The whole object is read: the deserializer wants its end.
        let mut found = None;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            if found.is_none() && key.0 == self.name {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A string, or an array of strings: read straight from the JSON (serde's
/// untagged enums buffer the value first, several times the cost).
enum OneOrMany<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'de> serde::Deserialize<'de> for OneOrMany<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

struct OneOrManyVisitor;

impl<'de> Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(OneOrMany::One(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(OneOrMany::One(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(OneOrMany::One(Cow::Owned(v)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Str(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(OneOrMany::Many(items))
    }
}

/// A string claim equal to `want`, or an array of strings with it as a
/// member.
fn holds(raw: &RawValue, want: &str) -> bool {
    match serde_json::from_str::<OneOrMany<'_>>(raw.get()) {
        Ok(OneOrMany::One(value)) => value == want,
        Ok(OneOrMany::Many(values)) => values.iter().any(|v| v == want),
        Err(_) => false,
    }
}

/// Every claim of [`Validation::require_claim`](crate::Validation::require_claim)
/// (and `require_claim_in`) holding one of its values.
pub(crate) fn check_required_claims<'p>(
    lookup: impl Fn(&str) -> Option<&'p RawValue>,
    required: &[RequiredClaim],
) -> Result<(), Error> {
    for (claim, wanted) in required {
        let held = lookup(claim).is_some_and(|raw| wanted.iter().any(|want| holds(raw, want)));
        if !held {
            return Err(Error::ClaimMismatch {
                claim: Arc::from(&**claim),
            });
        }
    }
    Ok(())
}

/// Keycloak marks its ID tokens with a payload `typ` of `ID` (access
/// tokens: `Bearer`).
pub(crate) fn payload_typ_is_id<'p>(lookup: impl Fn(&str) -> Option<&'p RawValue>) -> bool {
    lookup("typ").is_some_and(|raw| holds(raw, "ID"))
}

/// The roles at `paths` (see [`Validation::roles_from`](crate::Validation::roles_from)).
pub(crate) fn roles<'p>(
    lookup: impl Fn(&str) -> Option<&'p RawValue>,
    paths: &[Vec<Box<str>>],
) -> Result<Scopes, Error> {
    let mut roles = Names::default();
    for path in paths {
        let Some((first, rest)) = path.split_first() else {
            continue;
        };
        let Some(raw) = lookup(first) else {
            continue;
        };
        // The common shape, a top-level string or array of strings, read
        // straight into the set, without building a JSON tree.
        if rest.is_empty() {
            let json = raw.get();
            roles.reserve(json.len(), json.bytes().filter(|&b| b == b',').count() + 1);
            let mark = roles.mark();
            let mut de = serde_json::Deserializer::from_str(raw.get());
            if PushNames(&mut roles).deserialize(&mut de).is_ok() {
                continue;
            }
            roles.truncate(mark);
        }
        let value = serde_json::from_str::<Unique>(raw.get())
            .map_err(|_| bad_roles(path))?
            .0;
        let mut at = &value;
        let mut found = true;
        for segment in rest {
            match at {
                Value::Object(members) => match members.get(&**segment) {
                    Some(next) => at = next,
                    // A missing member: no roles from this path.
                    None => {
                        found = false;
                        break;
                    }
                },
                _ => return Err(bad_roles(path)),
            }
        }
        if !found {
            continue;
        }
        match at {
            Value::String(role) => roles.push(role),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(role) => roles.push(role),
                        _ => return Err(bad_roles(path)),
                    }
                }
            }
            Value::Object(members) => members.keys().for_each(|role| roles.push(role)),
            _ => return Err(bad_roles(path)),
        }
    }
    Ok(roles.finish())
}

/// A string, or an array of strings, pushed name by name into the set.
struct PushNames<'n>(&'n mut Names);

impl<'de> DeserializeSeed<'de> for PushNames<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PushNames<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Str(name)) = seq.next_element()? {
            self.0.push(&name);
        }
        Ok(())
    }
}

/// Why the roles could not be read, as the `source()` of the error.
#[derive(Debug)]
struct RolesShape(String);

impl fmt::Display for RolesShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "roles at `{}` are not a string, a list of strings or an object",
            self.0
        )
    }
}

impl std::error::Error for RolesShape {}

fn bad_roles(path: &[Box<str>]) -> Error {
    Error::InvalidClaims {
        claim: None,
        source: Some(Arc::new(RolesShape(path.join(".")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_at_the_top_level_only() {
        let payload = r#"{"a":{"token_use":"id"},"token_use":"access","n":1}"#;
        assert_eq!(member(payload, "token_use").unwrap().get(), r#""access""#);
        assert_eq!(member(payload, "n").unwrap().get(), "1");
        assert!(member(payload, "missing").is_none());
    }

    #[test]
    fn a_required_value_is_a_string_or_an_array_member() {
        let req = |name: &str, value: &str| -> Vec<RequiredClaim> {
            vec![(name.into(), Box::new([value.into()]))]
        };
        let payload = r#"{"token_use":"access","groups":["a","b"],"ver":2.0,"o":{"x":"y"},"e":"a\u0063cess"}"#;
        let any = vec![(
            "token_use".into(),
            vec!["id".into(), "access".into()].into_boxed_slice(),
        )];
        assert!(check_required_claims(|n| member(payload, n), &any).is_ok());
        let none = vec![(
            "token_use".into(),
            vec!["id".into(), "refresh".into()].into_boxed_slice(),
        )];
        assert!(check_required_claims(|n| member(payload, n), &none).is_err());
        assert!(check_required_claims(|n| member(payload, n), &req("token_use", "access")).is_ok());
        assert!(check_required_claims(|n| member(payload, n), &req("groups", "b")).is_ok());
        assert!(
            check_required_claims(|n| member(payload, n), &req("e", "access")).is_ok(),
            "escapes are read"
        );
        for (name, value) in [
            ("token_use", "id"),
            ("groups", "c"),
            ("ver", "2.0"),
            ("o", "y"),
            ("none", "x"),
        ] {
            assert!(
                matches!(
                    check_required_claims(|n| member(payload, n), &req(name, value)),
                    Err(Error::ClaimMismatch { claim }) if &*claim == name
                ),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn roles_come_from_arrays_strings_and_object_keys_along_a_path() {
        let path = |p: &str| vec![p.split('.').map(Box::from).collect::<Vec<_>>()];
        let payload = r#"{
            "roles": ["Orders.Admin", "Orders.Read"],
            "realm_access": {"roles": ["offline_access", "admin"]},
            "resource_access": {"orders-api": {"roles": ["writer"]}},
            "urn:zitadel:iam:org:project:roles": {"admin": {"1234": "org.example"}},
            "group": "staff",
            "n": 5, "deep": {"x": 1}, "mixed": ["a", 1]
        }"#;
        let names = |p: &str| roles(|n| member(payload, n), &path(p)).map(|r| r.to_string());
        assert_eq!(names("roles").unwrap(), "Orders.Admin Orders.Read");
        assert_eq!(names("realm_access.roles").unwrap(), "admin offline_access");
        assert_eq!(names("resource_access.orders-api.roles").unwrap(), "writer");
        assert_eq!(names("urn:zitadel:iam:org:project:roles").unwrap(), "admin");
        assert_eq!(names("group").unwrap(), "staff");
        for missing in [
            "permissions",
            "realm_access.groups",
            "resource_access.other.roles",
        ] {
            assert_eq!(names(missing).unwrap(), "", "{missing}");
        }
        for bad in ["n", "mixed", "deep.x", "group.roles", "roles.x"] {
            assert!(
                matches!(
                    names(bad),
                    Err(Error::InvalidClaims {
                        claim: None,
                        source: Some(_)
                    })
                ),
                "{bad}"
            );
        }
        let both = [path("roles"), path("realm_access.roles")].concat();
        assert_eq!(roles(|n| member(payload, n), &both).unwrap().len(), 4);
    }

    // A role is a whole name: `Not Admin` never grants `Admin` (roles, unlike
    // scopes, may hold spaces: Keycloak, Entra display-named groups).
    #[test]
    fn a_role_with_a_space_stays_one_role() {
        let payload = r#"{"roles":["Not Admin"," lead ",""],"org":{"Ops Team":{}}}"#;
        let paths = [vec![Box::from("roles")], vec![Box::from("org")]];
        let got = roles(|n| member(payload, n), &paths).unwrap();
        assert!(got.contains("Not Admin") && got.contains(" lead ") && got.contains("Ops Team"));
        for part in ["Not", "Admin", "lead", "Ops", "Team", ""] {
            assert!(!got.contains(part), "{part:?}");
        }
        assert_eq!(got.len(), 3);
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            [" lead ", "Not Admin", "Ops Team"]
        );
    }
}
