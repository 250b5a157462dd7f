#![doc = include_str!("../README.md")]

mod claims;
pub mod de;
mod error;
mod jwks;
mod signature;
mod time;
mod token;
mod validator;

pub use claims::{Claims, Scopes};
pub use error::Error;
/// The signature algorithms, re-exported from `jsonwebtoken` on purpose: the
/// same enum users of that crate already know.
pub use jsonwebtoken::Algorithm;
pub use jwks::{KeySet, SkippedKey};
pub use time::UnixTime;
pub use validator::{Validation, validate};
