//! The network and shared state: one capped HTTP GET and its URL rules
//! ([`fetch`]), authorization-server metadata ([`discovery`]), the key
//! store that keeps each issuer's keys fresh ([`key_store`]) and its
//! last-known-good keys across restarts ([`snapshot`]), and the stores
//! that remember DPoP proofs ([`replay`]).

pub(crate) mod client_auth;
pub(crate) mod discovery;
pub(crate) mod fetch;
pub(crate) mod introspect;
pub(crate) mod key_store;
pub(crate) mod replay;
pub(crate) mod snapshot;
