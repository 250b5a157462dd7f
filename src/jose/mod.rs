//! The pure core: token parsing, signatures, [`Algorithm`](algorithm::Algorithm),
//! [`KeySet`](jwks::KeySet) and JWK hygiene, the rules
//! ([`Validation`](validation::Validation)), [`validate`](validate::validate)
//! and [`Claims`](claims::Claims). No I/O, no clock read, no tokio, no
//! reqwest: everything above calls into this.

pub(crate) mod algorithm;
pub(crate) mod claims;
pub(crate) mod cnf;
pub(crate) mod digest;
pub(crate) mod dpop;
pub(crate) mod error;
pub(crate) mod introspection;
pub(crate) mod jwks;
pub(crate) mod signature;
pub(crate) mod time;
pub(crate) mod token;
pub(crate) mod validate;
pub(crate) mod validation;
