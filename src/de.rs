//! Serde helpers for the claim shapes real identity providers send.
//!
//! IdentityServer sends `"admin": "false"` and `"tenantId": "1741"` as
//! strings; others send booleans and numbers. One struct reads both:
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct MyClaims {
//!     #[serde(rename = "tenantId", deserialize_with = "jwt_gate::de::string_or_number")]
//!     tenant_id: String,
//!     #[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]
//!     admin: bool,
//!     #[serde(default, deserialize_with = "jwt_gate::de::one_or_many")]
//!     roles: Vec<String>,
//! }
//!
//! let ids: MyClaims = serde_json::from_str(r#"{"tenantId":"1741","admin":"false","roles":"ops"}"#)?;
//! let auth0: MyClaims = serde_json::from_str(r#"{"tenantId":1741,"admin":true,"roles":["ops","dev"]}"#)?;
//! assert_eq!((ids.tenant_id.as_str(), ids.admin, ids.roles.len()), ("1741", false, 1));
//! assert_eq!((auth0.tenant_id.as_str(), auth0.admin, auth0.roles.len()), ("1741", true, 2));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

struct BoolOrString;

impl Visitor<'_> for BoolOrString {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a boolean, "true" or "false""#)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

/// A `bool` sent as `true`/`false` or as the strings `"true"`/`"false"`;
/// anything else (`"False"`, `"0"`, `1`, `null`) is an error, never a guess.
///
/// Use with `#[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]`.
///
/// # Errors
///
/// Any other value.
pub fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(BoolOrString)
}

/// Like [`bool_or_string`], for an `Option<bool>`: `null` or absent (with
/// `#[serde(default)]`) is `None`.
///
/// # Errors
///
/// Any value other than a boolean, `"true"`, `"false"` or `null`.
pub fn option_bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"null, a boolean, "true" or "false""#)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            bool_or_string(d).map(Some)
        }
    }
    d.deserialize_option(V)
}

/// A `String` sent as a JSON string or as an integer (`"1741"` or `1741`).
/// Floats, booleans and `null` are errors.
///
/// # Errors
///
/// Any other value.
pub fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an integer")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}

/// A `Vec<T>` sent as one value or as an array of them (`"a"` or `["a","b"]`).
///
/// # Errors
///
/// When the value (or an element) is not a `T`.
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(v) => vec![v],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct B {
        #[serde(default, deserialize_with = "bool_or_string")]
        v: bool,
    }

    #[derive(serde::Deserialize, Debug)]
    struct O {
        #[serde(default, deserialize_with = "option_bool_or_string")]
        v: Option<bool>,
    }

    #[test]
    fn bool_or_string_accepts_exactly_four_spellings() {
        for (json, want) in [
            (r#"{"v":true}"#, true),
            (r#"{"v":"true"}"#, true),
            (r#"{"v":false}"#, false),
            (r#"{"v":"false"}"#, false),
            (r#"{}"#, false),
        ] {
            assert_eq!(serde_json::from_str::<B>(json).unwrap().v, want, "{json}");
        }
        for json in [
            r#"{"v":"False"}"#,
            r#"{"v":"1"}"#,
            r#"{"v":1}"#,
            r#"{"v":null}"#,
            r#"{"v":"yes"}"#,
        ] {
            assert!(serde_json::from_str::<B>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn option_bool_or_string_maps_null_and_absent_to_none() {
        assert_eq!(serde_json::from_str::<O>(r#"{"v":null}"#).unwrap().v, None);
        assert_eq!(serde_json::from_str::<O>(r#"{}"#).unwrap().v, None);
        assert_eq!(
            serde_json::from_str::<O>(r#"{"v":"true"}"#).unwrap().v,
            Some(true)
        );
        assert!(serde_json::from_str::<O>(r#"{"v":"nope"}"#).is_err());
    }

    #[test]
    fn string_or_number_refuses_floats_and_bools() {
        #[derive(serde::Deserialize)]
        struct S {
            #[serde(deserialize_with = "string_or_number")]
            v: String,
        }
        assert_eq!(serde_json::from_str::<S>(r#"{"v":-7}"#).unwrap().v, "-7");
        for json in [
            r#"{"v":1.5}"#,
            r#"{"v":true}"#,
            r#"{"v":null}"#,
            r#"{"v":[1]}"#,
        ] {
            assert!(serde_json::from_str::<S>(json).is_err(), "{json}");
        }
    }
}
