//! HTTP: credentials from a request ([`extract`]) and their checks as a
//! whole ([`authenticate`]: Bearer, DPoP, client certificates), the tower middleware
//! ([`layer`]), the one rejection builder ([`rejection`]) and RFC 9728
//! metadata ([`resource_metadata`]). Nothing below this module knows tower.

pub(crate) mod authenticate;
pub(crate) mod client_cert;
pub(crate) mod extract;
pub mod layer;
pub(crate) mod rejection;
pub(crate) mod resource_metadata;
