//! The network: one capped HTTP GET and its URL rules ([`fetch`]),
//! authorization-server metadata ([`discovery`]), and the key store that
//! keeps each issuer's keys fresh ([`key_store`]).

pub(crate) mod discovery;
pub(crate) mod fetch;
pub(crate) mod key_store;
