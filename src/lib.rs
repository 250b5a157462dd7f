#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The layers, each depending only on those above it in this list
// (DESIGN.md §7; `scripts/check-layers.py` checks it):
// jose (pure) → telemetry (counters, metrics) → remote (network) →
// validator → http → axum, tonic, testing.
mod http;
mod jose;
mod remote;
mod telemetry;
mod validator;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
mod axum;
pub mod de;
pub mod providers;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;

#[cfg(feature = "axum")]
pub use crate::axum::MissingClaims;
/// DPoP (RFC 9449): sender-constrained tokens. [`Dpop`](dpop::Dpop)
/// configures a validator ([`ValidatorBuilder::dpop`]); the pure checks
/// ([`verify_proof`](dpop::verify_proof), [`validate_dpop`](dpop::validate_dpop),
/// RFC 7638 thumbprints, server nonces) work without one; replay stores
/// remember proofs in process or in Redis (feature `redis`).
pub mod dpop {
    pub use crate::jose::dpop::{
        DpopNonces, DpopProof, DpopRules, ProofRequest, access_token_hash, jwk_thumbprint,
        validate_dpop, verify_proof,
    };
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub use crate::remote::replay::RedisReplayStore;
    pub use crate::remote::replay::{MemoryReplayStore, ReplayError, ReplayFuture, ReplayStore};
    pub use crate::validator::dpop::{Dpop, DpopMode};
}

/// Certificate-bound tokens (RFC 8705): [`CertificateBinding`](mtls::CertificateBinding)
/// configures a validator ([`ValidatorBuilder::certificate_binding`]) and
/// names where the request's client certificate comes from: the TLS stack
/// ([`ClientCertificate`](mtls::ClientCertificate) in the request's
/// extensions, or tonic's peer certificates with feature `tonic-tls`), or
/// a trusted proxy's header (RFC 9440 `Client-Cert` and the de-facto
/// forms of [`HeaderFormat`](mtls::HeaderFormat)).
pub mod mtls {
    pub use crate::jose::cnf::ClientCertificate;
    pub use crate::validator::mtls::{
        CertificateBinding, CertificateMode, CertificateSource, HeaderFormat,
    };
}

/// Opaque tokens (RFC 7662 introspection, RFC 9701 signed answers): see
/// [`ValidatorBuilder::introspection`].
pub mod introspection {
    pub use crate::remote::client_auth::ClientKey;
    pub use crate::validator::introspection::{IntrospectWhen, Introspection};
}
pub use crate::http::authenticate::{AuthScheme, Verified};
pub use crate::http::layer;
pub use crate::http::layer::{
    DefaultRejection, JwtAuth, JwtAuthLayer, RejectionBody, RequireClaims, RequireRoles,
    RequireScopes,
};
pub use crate::http::resource_metadata::{
    ProtectedResourceMetadata, ProtectedResourceMetadataBuilder, ProtectedResourceMetadataService,
};
pub use crate::jose::algorithm::{Algorithm, UnknownAlgorithm};
pub use crate::jose::claims::{Claims, ClaimsOrigin, ClaimsRef, Scopes};
pub use crate::jose::error::{ConfigError, Error};
pub use crate::jose::jwks::{KeySet, SkippedKey};
pub use crate::jose::time::UnixTime;
pub use crate::jose::validate::validate;
pub use crate::jose::validation::Validation;
pub use crate::remote::fetch::FetchError;
pub use crate::remote::key_store::KeyStatus;
pub use crate::remote::snapshot::KeySnapshot;
pub use crate::validator::api_keys::ApiKeys;
pub use crate::validator::issuers::IssuerTemplate;
pub use crate::validator::token_cache::TokenCacheStats;
pub use crate::validator::{IssuerBuilder, MultiIssuerBuilder, Validator, ValidatorBuilder};

/// Entry points for the fuzz targets in `fuzz/` to parsers that are not
/// public: only in a `cargo fuzz` build (`--cfg fuzzing`), never in the
/// published API.
#[cfg(fuzzing)]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod fuzzing {
    use serde::de::DeserializeOwned;

    use crate::jose::claims::Claims;
    use crate::jose::cnf::Bindings;
    use crate::jose::introspection::{Verdict, read_json};
    use crate::jose::time::UnixTime;
    use crate::jose::validation::Validation;

    /// A discovery document's `member` URL, for `issuer`.
    pub fn read_discovery(
        body: &[u8],
        issuer: &str,
        member: &'static str,
    ) -> Result<String, String> {
        crate::remote::discovery::read_document(body, issuer, member, false)
            .map(|url| url.to_string())
            .map_err(|e| e.to_string())
    }

    /// An introspection answer from `issuer`, read and checked into claims
    /// as the validator does (DPoP and certificate bindings accepted).
    pub fn read_introspection<C: DeserializeOwned>(
        body: &[u8],
        issuer: &str,
        rules: &Validation,
        now: UnixTime,
    ) -> Result<Option<Claims<C>>, String> {
        match read_json(body, Some(issuer)).map_err(str::to_owned)? {
            Verdict::Inactive => Ok(None),
            Verdict::Active(payload) => {
                let bindings = Bindings {
                    jkt: true,
                    x5t: true,
                };
                crate::jose::claims::introspected(payload, rules, now, bindings)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
        }
    }
}
