//! [`Val`]: a registered claim's JSON value, read once and replayed to the
//! caller's claims type.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON value as far as the registered claims care.
pub(super) enum Val<'de> {
    Str(Cow<'de, str>),
    /// A number, kept as JSON gave it so a claims type reads it unchanged.
    U64(u64),
    I64(i64),
    F64(f64),
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
        Ok(Val::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'de>, E> {
        Ok(Val::I64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'de>, E> {
        Ok(Val::F64(v))
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
        Ok(if all_strings {
            Val::Strs(strs)
        } else {
            Val::Other
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Val::Other)
    }
}

/// A registered claim's value, replayed to the caller's claims type. A value
/// of a type no registered claim may have (null, a boolean, an object) is
/// replayed as null: the token is refused for it anyway.
impl<'de> Deserializer<'de> for &Val<'de> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Val::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Val::Str(Cow::Owned(s)) => visitor.visit_str(s),
            Val::U64(n) => visitor.visit_u64(*n),
            Val::I64(n) => visitor.visit_i64(*n),
            Val::F64(n) => visitor.visit_f64(*n),
            Val::Strs(list) => visitor.visit_seq(de::value::SeqDeserializer::new(
                list.iter().map(|s| Val::Str(s.clone())),
            )),
            Val::Other => visitor.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Val::Other => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> de::IntoDeserializer<'de, de::value::Error> for Val<'de> {
    type Deserializer = ValDeserializer<'de>;
    fn into_deserializer(self) -> ValDeserializer<'de> {
        ValDeserializer(self)
    }
}

/// An owned [`Val`] as a deserializer (the elements of a list).
pub(super) struct ValDeserializer<'de>(Val<'de>);

impl<'de> Deserializer<'de> for ValDeserializer<'de> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        (&self.0).deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        (&self.0).deserialize_option(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
