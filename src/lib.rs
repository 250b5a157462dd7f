#![doc = include_str!("../README.md")]

mod claims;
pub mod de;
mod discovery;
mod error;
mod jwks;
mod key_store;
mod signature;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod token;
mod validator;

pub use claims::{Claims, Scopes};
pub use error::Error;
/// The signature algorithms, re-exported from `jsonwebtoken` on purpose: the
/// same enum users of that crate already know.
pub use jsonwebtoken::Algorithm;
pub use jwks::{KeySet, SkippedKey};
pub use key_store::{FetchError, KeyStatus};
pub use time::UnixTime;
pub use validator::{Validation, Validator, ValidatorBuilder, validate};
