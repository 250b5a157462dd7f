//! [`ApiKeys`]: the keys of the `X-API-KEY` credential (header
//! configurable) beside bearer tokens. Keys are held only as SHA-256
//! hashes, looked up by a constant-time comparison against every one (no
//! early exit), and each stands for a JSON claims object, so that handlers
//! get the same `Claims<C>` as from a token. The header is read from the
//! request in `http::extract`.

use std::any::Any;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use http::HeaderName;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::jose::claims::{self, Claims};
use crate::jose::digest::{hex_32, sha256};
use crate::jose::error::{ConfigError, Error};
use crate::jose::time::UnixTime;
use crate::jose::validation::Validation;

/// The API keys a validator accepts, each mapped to the claims it stands
/// for, for [`ValidatorBuilder::api_keys`](crate::ValidatorBuilder::api_keys).
///
/// A request carries its key in `X-API-KEY` (or the
/// [`header`](Self::header) you name) instead of a token. Only the key's
/// SHA-256 is kept; the key presented is hashed and compared with every
/// configured hash in constant time. Its claims object deserializes into
/// the same `Claims<C>` as a token's (registered claims such as `sub` and
/// `scope` included, and roles from the validator's
/// [`roles_from`](crate::ValidatorBuilder::roles_from) paths, so route
/// guards apply); an `exp` in it is when the key stops working. The validator's token rules (issuer, audience) do not
/// apply: the key is the server's own grant.
///
/// Keys are never logged, and never held in memory after hashing.
///
/// ```
/// use jwt_gate::{ApiKeys, KeySet, Validator};
/// use serde_json::json;
///
/// # let keys = KeySet::new().with_secret(None, &[7; 32])?;
/// let api_keys = ApiKeys::new()
///     .key("k3y-for-tenant-1741", json!({"sub": "billing-job", "tenantId": "1741", "scope": "orders.read"}))
///     // The SHA-256 (hex) of a key you do not want in the code or config.
///     .key_sha256(
///         "4f1a0f3b1d4e0d8c1c2f8e7f8a5a3c3b0a1e9d8c7b6a5f4e3d2c1b0a99887766",
///         json!({"sub": "nightly-export", "tenantId": "1742"}),
///     );
/// let validator = Validator::builder()
///     .keys(keys)
///     .audience("api://orders")
///     .api_keys(api_keys)
///     .build()?;
/// # let _ = validator;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ApiKeys {
    header: Result<HeaderName, String>,
    entries: Vec<Result<Entry, String>>,
}

/// One key: its hash and its claims.
#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    claims: Arc<str>,
    /// The claims read as the first claims type asked for.
    typed: Arc<OnceLock<Arc<dyn Any + Send + Sync>>>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither keys nor hashes.
        f.debug_struct("ApiKeys")
            .field("header", &self.header)
            .field("keys", &self.entries.len())
            .finish()
    }
}

impl Default for ApiKeys {
    fn default() -> Self {
        Self::new()
    }
}

/// One entry of an API-key file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    sha256: String,
    claims: Value,
    /// For the humans who read the file; not used.
    #[serde(default, rename = "name")]
    _name: Option<String>,
}

impl ApiKeys {
    /// No keys yet; the header is `X-API-KEY`.
    pub fn new() -> Self {
        Self {
            header: Ok(HeaderName::from_static("x-api-key")),
            entries: Vec::new(),
        }
    }

    /// The header keys arrive in (case-insensitive).
    ///
    /// Defaults to `X-API-KEY`. A name that is not a header name, or that
    /// is `Authorization`, is a [`ConfigError`] at `build()`.
    pub fn header(mut self, name: &str) -> Self {
        self.header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a header name"))
            .and_then(|h| {
                if h == http::header::AUTHORIZATION {
                    Err("Authorization carries tokens: name another header".into())
                } else {
                    Ok(h)
                }
            });
        self
    }

    /// A key, hashed at once (the key itself is not kept), standing for
    /// `claims` (a JSON object).
    pub fn key(self, key: &str, claims: Value) -> Self {
        let digest = sha256(key.as_bytes());
        self.push(Ok(digest), claims)
    }

    /// A key given by its SHA-256, in hex (`sha256sum`,
    /// `printf %s "$KEY" | openssl dgst -sha256`), standing for `claims`.
    pub fn key_sha256(self, hex: &str, claims: Value) -> Self {
        self.push(parse_hex(hex), claims)
    }

    /// Keys from JSON: `[{"sha256": "<hex SHA-256 of the key>", "claims":
    /// {…}}, …]` (a `name` member per entry is allowed, for the reader).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `api_keys`) when the JSON is not of that
    /// shape.
    pub fn from_json(self, json: &[u8]) -> Result<Self, ConfigError> {
        let entries: Vec<FileEntry> = serde_json::from_slice(json).map_err(|e| {
            ConfigError::new("api_keys", "not a JSON array of {\"sha256\", \"claims\"}")
                .with_source(e)
        })?;
        Ok(entries
            .into_iter()
            .fold(self, |keys, e| keys.key_sha256(&e.sha256, e.claims)))
    }

    /// Keys from a JSON file of the [`from_json`](Self::from_json) shape.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `api_keys`) when the file cannot be read
    /// or is not of that shape.
    pub fn from_file(self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let json = std::fs::read(path).map_err(|e| {
            ConfigError::new("api_keys", format!("cannot read {}", path.display())).with_source(e)
        })?;
        self.from_json(&json)
    }

    fn push(mut self, digest: Result<[u8; 32], String>, claims: Value) -> Self {
        let entry = digest.and_then(|digest| {
            if !claims.is_object() {
                return Err("the claims of a key must be a JSON object".to_owned());
            }
            let claims: Arc<str> = claims.to_string().into();
            // The registered claims must have their types (`exp` a number,
            // `scope` a string or array, …): checked now, not per request.
            claims::granted::<()>(&claims, &Validation::new())
                .map_err(|e| format!("claims of a key: {e}"))?;
            Ok(Entry {
                digest,
                claims,
                typed: Arc::default(),
            })
        });
        self.entries.push(entry);
        self
    }

    /// Checks the keys: the header, at least one key, every key's hash
    /// and claims well formed, no key twice.
    pub(crate) fn build(self) -> Result<ApiKeySettings, ConfigError> {
        let config = |why: String| ConfigError::new("api_keys", why);
        let header = self.header.map_err(config)?;
        let mut entries = Vec::with_capacity(self.entries.len());
        for (i, entry) in self.entries.into_iter().enumerate() {
            let entry = entry.map_err(|why| config(format!("key {}: {why}", i + 1)))?;
            if entries.iter().any(|e: &Entry| e.digest == entry.digest) {
                return Err(config(format!("key {} is configured twice", i + 1)));
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(config("no key: every API key would be refused".into()));
        }
        let display: Arc<str> = canonical(&header).into();
        Ok(ApiKeySettings {
            header,
            display,
            entries,
        })
    }
}

/// A validator's API keys, checked.
#[derive(Clone)]
pub(crate) struct ApiKeySettings {
    pub(crate) header: HeaderName,
    /// The header as the challenge names it (`X-API-KEY`).
    pub(crate) display: Arc<str>,
    entries: Vec<Entry>,
}

impl fmt::Debug for ApiKeySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeySettings")
            .field("header", &self.header)
            .field("keys", &self.entries.len())
            .finish()
    }
}

impl ApiKeySettings {
    /// The claims `key` stands for, as `C`, its roles read with `rules`
    /// (the validator's).
    pub(crate) fn claims<C>(&self, key: &str, rules: &Validation) -> Result<Claims<C>, Error>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let digest = sha256(key.as_bytes());
        let found = position(self.entries.iter().map(|e| &e.digest), &digest, ct_eq);
        let entry = found
            .and_then(|i| self.entries.get(i))
            .ok_or(Error::InvalidApiKey)?;
        let claims = match entry.typed.get().cloned().and_then(Claims::<C>::from_any) {
            Some(claims) => claims,
            None => {
                let claims = claims::granted::<C>(&entry.claims, rules).inspect_err(|e| {
                    tracing::warn!(target: "jwt_gate", error = %e, "an API key's claims do not fit the handler's claims type");
                })?;
                let _ = entry.typed.set(claims.to_any());
                claims
            }
        };
        if UnixTime::now() >= claims.expires_at() {
            return Err(Error::InvalidApiKey);
        }
        Ok(claims)
    }
}

/// The index of `wanted` among `digests`, comparing with `eq` against
/// every one, found or not: the time taken does not say where (or whether)
/// it matched.
fn position<'d>(
    digests: impl Iterator<Item = &'d [u8; 32]>,
    wanted: &[u8; 32],
    mut eq: impl FnMut(&[u8; 32], &[u8; 32]) -> bool,
) -> Option<usize> {
    let mut found = usize::MAX;
    for (i, digest) in digests.enumerate() {
        // Selected by masking, not by branching on the comparison.
        let mask = usize::from(eq(digest, wanted)).wrapping_neg();
        found = (i & mask) | (found & !mask);
    }
    (found != usize::MAX).then_some(found)
}

/// Constant-time equality (aws-lc's `CRYPTO_memcmp`).
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

fn parse_hex(hex: &str) -> Result<[u8; 32], String> {
    hex_32(hex.trim()).ok_or_else(|| "a SHA-256 is 64 hex digits".to_owned())
}

/// `x-api-key` as people write it: `X-API-KEY` for the default, else the
/// name as given (lowercase).
fn canonical(header: &HeaderName) -> String {
    if header == "x-api-key" {
        "X-API-KEY".to_owned()
    } else {
        header.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hash_is_compared_wherever_the_key_is() {
        let digests: Vec<[u8; 32]> = (0..10u8).map(|i| [i; 32]).collect();
        for wanted in [[0u8; 32], [5; 32], [9; 32], [42; 32]] {
            let mut compared = 0;
            let found = position(digests.iter(), &wanted, |a, b| {
                compared += 1;
                ct_eq(a, b)
            });
            // No early exit: all ten, found first, last, or not at all.
            assert_eq!(compared, 10);
            assert_eq!(found, digests.iter().position(|d| *d == wanted));
        }
    }

    #[test]
    fn hashes_are_hex_sha256() {
        // printf %s secret | sha256sum
        let hex = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        assert_eq!(parse_hex(hex).unwrap(), sha256(b"secret"));
        assert_eq!(parse_hex(&hex.to_uppercase()).unwrap(), sha256(b"secret"));
        assert!(parse_hex(&hex[1..]).is_err());
        assert!(parse_hex(&format!("{}zz", &hex[2..])).is_err());
    }

    #[test]
    fn setup_mistakes_are_config_errors() {
        let claims = serde_json::json!({"sub": "a"});
        assert!(ApiKeys::new().build().is_err());
        assert!(
            ApiKeys::new()
                .key("k", serde_json::json!("x"))
                .build()
                .is_err()
        );
        assert!(
            ApiKeys::new()
                .key("k", serde_json::json!({"exp": "soon"}))
                .build()
                .is_err()
        );
        assert!(
            ApiKeys::new()
                .key("k", claims.clone())
                .key("k", claims.clone())
                .build()
                .is_err()
        );
        assert!(
            ApiKeys::new()
                .key_sha256("abc", claims.clone())
                .build()
                .is_err()
        );
        assert!(
            ApiKeys::new()
                .header("Authorization")
                .key("k", claims.clone())
                .build()
                .is_err()
        );
        assert!(
            ApiKeys::new()
                .header("bad header")
                .key("k", claims.clone())
                .build()
                .is_err()
        );
        assert!(ApiKeys::new().from_json(b"{}").is_err());
        assert!(
            ApiKeys::new()
                .from_json(br#"[{"sha256":"00","claims":{},"extra":1}]"#)
                .is_err()
        );
        let keys = ApiKeys::new().key("k", claims).build().unwrap();
        assert!(!format!("{keys:?}").contains("sub"));
    }
}
