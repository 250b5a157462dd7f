//! Last-known-good keys across restarts: one issuer's JWK Set as it was
//! fetched, with where from and when ([`KeySnapshot`]); its byte format;
//! where a key store keeps them ([`Persist`]: a hook, and a file written
//! atomically: a temporary file in the same directory, synced, then
//! renamed over the old one).

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::jose::error::ConfigError;
use crate::jose::jwks::{KeySet, Origin};
use crate::telemetry;

/// The format's name and version, the first member of every snapshot.
const FORMAT: &str = "jwt-gate key snapshot 1";

/// The largest snapshot read (a JWK Set is capped at 1 MiB by default).
pub(crate) const MAX_SNAPSHOT_BYTES: u64 = 16 * 1024 * 1024;

/// One issuer's signing keys as last fetched: the JWK Set document, the
/// issuer (or JWKS URL) it came from, and when. A validator writes one to
/// its [`key_snapshot_file`](crate::ValidatorBuilder::key_snapshot_file)
/// after each successful fetch, hands one to an
/// [`on_key_snapshot`](crate::ValidatorBuilder::on_key_snapshot) hook, and
/// starts from one ([`seed_keys`](crate::ValidatorBuilder::seed_keys)) so
/// that a restart during an IdP outage still validates tokens, for
/// [`max_staleness`](crate::ValidatorBuilder::max_staleness) counted from
/// the original fetch.
///
/// The keys in a snapshot are trusted like configuration: keep the file
/// (or wherever the bytes live) writable by the service alone.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use jwt_gate::KeySnapshot;
///
/// let jwks = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
///   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
///   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
/// let fetched = SystemTime::now() - Duration::from_secs(3600);
/// let snapshot = KeySnapshot::new("https://auth.example.com/", fetched, jwks)?;
/// let bytes = snapshot.to_bytes();
/// let again = KeySnapshot::from_bytes(&bytes)?;
/// assert_eq!(again.source(), "https://auth.example.com/");
/// assert!(again.age() >= Duration::from_secs(3600));
/// # Ok::<(), jwt_gate::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeySnapshot {
    source: Box<str>,
    fetched_at: SystemTime,
    jwks: Arc<[u8]>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    /// Milliseconds since the Unix epoch.
    fetched_at_ms: u64,
    #[serde(borrow)]
    jwks: &'a RawValue,
}

impl KeySnapshot {
    /// A snapshot of `jwks` (a JWK Set document, as an IdP serves it),
    /// fetched at `fetched_at` from `source`: the issuer a validator
    /// discovers its keys from, or the JWKS URL it was given.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `KeySnapshot`) when `jwks` is not a JWK
    /// Set with at least one usable key.
    pub fn new(
        source: impl Into<String>,
        fetched_at: SystemTime,
        jwks: &[u8],
    ) -> Result<Self, ConfigError> {
        let jwks = compact(jwks)?;
        Ok(Self {
            source: source.into().into_boxed_str(),
            fetched_at,
            jwks,
        })
    }

    /// A snapshot from a key store's fetch (already parsed and usable).
    pub(crate) fn fetched(source: &str, fetched_at: SystemTime, jwks: Arc<[u8]>) -> Self {
        Self {
            source: source.into(),
            fetched_at,
            jwks,
        }
    }

    /// Reads a snapshot written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] (setting `KeySnapshot`) when the bytes are not a
    /// snapshot of this format, or its JWK Set holds no usable key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConfigError> {
        let err = |why: &str| ConfigError::new("KeySnapshot", why.to_owned());
        let stored: Stored<'_> =
            serde_json::from_slice(bytes).map_err(|_| err("not a jwt-gate key snapshot"))?;
        if stored.format != FORMAT {
            return Err(err("not a jwt-gate key snapshot of a known format"));
        }
        let fetched_at = UNIX_EPOCH
            .checked_add(Duration::from_millis(stored.fetched_at_ms))
            .ok_or_else(|| err("fetched_at_ms is beyond what the clock holds"))?;
        Self::new(
            stored.source.into_owned(),
            fetched_at,
            stored.jwks.get().as_bytes(),
        )
    }

    /// The bytes to store: a small JSON document holding the JWK Set as
    /// fetched, its source and the fetch time.
    pub fn to_bytes(&self) -> Vec<u8> {
        let fetched_at_ms = self
            .fetched_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let jwks = std::str::from_utf8(&self.jwks)
            .ok()
            .and_then(|s| serde_json::from_str::<&RawValue>(s).ok());
        let Some(jwks) = jwks else {
            unreachable!("a snapshot's JWK Set is JSON, checked when it was made")
        };
        serde_json::to_vec(&Stored {
            format: FORMAT.into(),
            source: Cow::Borrowed(&self.source),
            fetched_at_ms,
            jwks,
        })
        .expect("a snapshot serializes")
    }

    /// The issuer the keys were discovered from, or the JWKS URL they were
    /// fetched from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// When the keys were fetched from the IdP.
    pub fn fetched_at(&self) -> SystemTime {
        self.fetched_at
    }

    /// Since the keys were fetched (zero if `fetched_at` is in the future).
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.fetched_at)
            .unwrap_or_default()
    }

    /// The JWK Set document.
    pub fn jwks(&self) -> &[u8] {
        &self.jwks
    }

    /// The keys, read as a fetched JWK Set is.
    pub(crate) fn keys(&self) -> KeySet {
        KeySet::parse_jwks(&self.jwks, Origin::Remote)
            .expect("a snapshot's JWK Set was read when it was made")
    }
}

impl fmt::Debug for KeySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySnapshot")
            .field("source", &self.source)
            .field("fetched_at", &self.fetched_at)
            .field("jwks_bytes", &self.jwks.len())
            .finish()
    }
}

/// `jwks` checked (a JWK Set with a usable key) and kept as given.
fn compact(jwks: &[u8]) -> Result<Arc<[u8]>, ConfigError> {
    let keys = KeySet::parse_jwks(jwks, Origin::Remote)
        .map_err(|why| ConfigError::new("KeySnapshot", format!("the JWK Set is invalid: {why}")))?;
    if keys.is_empty() {
        return Err(ConfigError::new(
            "KeySnapshot",
            "the JWK Set holds no usable key",
        ));
    }
    Ok(Arc::from(jwks.trim_ascii()))
}

/// Called with each snapshot fetched.
pub(crate) type SnapshotHook = Arc<dyn Fn(&KeySnapshot) + Send + Sync>;

/// Where a key store's snapshots go after each successful fetch: a file,
/// a hook, both or neither.
#[derive(Default)]
pub(crate) struct Persist {
    file: Option<PathBuf>,
    hook: Option<SnapshotHook>,
    /// The fetch time of the newest snapshot written to the file: an older
    /// one (a slower write) never replaces it.
    written: Arc<Mutex<Option<SystemTime>>>,
}

impl Persist {
    pub(crate) fn new(file: Option<PathBuf>, hook: Option<SnapshotHook>) -> Self {
        Self {
            file,
            hook,
            written: Arc::default(),
        }
    }

    /// Snapshots are kept nowhere.
    pub(crate) fn is_off(&self) -> bool {
        self.file.is_none() && self.hook.is_none()
    }

    /// Hands `snapshot` to the hook and writes it to the file (on a
    /// blocking thread), logging a failure: the keys are in use whether or
    /// not they could be kept.
    pub(crate) async fn keep(&self, snapshot: KeySnapshot) {
        if let Some(hook) = &self.hook {
            hook(&snapshot);
        }
        let Some(path) = self.file.clone() else {
            return;
        };
        let written = Arc::clone(&self.written);
        let write = move || {
            let mut newest = written.lock().unwrap_or_else(PoisonError::into_inner);
            if newest.is_some_and(|t| t > snapshot.fetched_at()) {
                return Ok(());
            }
            write_file(&path, &snapshot)?;
            *newest = Some(snapshot.fetched_at());
            Ok::<_, std::io::Error>(())
        };
        let result = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(write)
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => write(),
        };
        telemetry::snapshot_written(result.is_ok());
        if let Err(e) = result {
            tracing::warn!(target: "jwt_gate", error = %e, "could not write the key snapshot");
        }
    }
}

/// Reads the snapshot at `path`: `Ok(None)` when there is no file yet.
///
/// # Errors
///
/// The file exists and cannot be read, is too large, or is not a snapshot.
pub(crate) fn read_file(path: &Path) -> Result<Option<KeySnapshot>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_SNAPSHOT_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(format!(
            "{} is larger than {MAX_SNAPSHOT_BYTES} bytes",
            path.display()
        ));
    }
    KeySnapshot::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `snapshot` to `path` atomically: a reader sees the old file or
/// the new one, never a part (a temporary file beside it, synced, then
/// renamed over it).
pub(crate) fn write_file(path: &Path, snapshot: &KeySnapshot) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp: PathBuf = path.with_file_name(name);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&snapshot.to_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &[u8] = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

    #[test]
    fn a_snapshot_round_trips_through_its_bytes() {
        let at = UNIX_EPOCH + Duration::from_millis(1_764_489_600_123);
        let snapshot = KeySnapshot::new("https://idp.example/", at, JWKS).unwrap();
        let bytes = snapshot.to_bytes();
        let again = KeySnapshot::from_bytes(&bytes).unwrap();
        assert_eq!(again.source(), "https://idp.example/");
        assert_eq!(again.fetched_at(), at);
        assert_eq!(again.jwks(), JWKS);
        assert_eq!(again.keys().len(), 1);
        assert!(
            std::str::from_utf8(&bytes)
                .unwrap()
                .starts_with(r#"{"format":"jwt-gate key snapshot 1","#)
        );
    }

    #[test]
    fn a_source_that_needs_escapes_round_trips() {
        let source = "https://idp.example/tenant \"a\"\\b\u{1}";
        let snapshot = KeySnapshot::new(source, UNIX_EPOCH, JWKS).unwrap();
        let again = KeySnapshot::from_bytes(&snapshot.to_bytes()).unwrap();
        assert_eq!(again.source(), source);
    }

    #[test]
    fn what_is_not_a_snapshot_is_refused() {
        let good = KeySnapshot::new("https://idp.example/", UNIX_EPOCH, JWKS)
            .unwrap()
            .to_bytes();
        let good = std::str::from_utf8(&good).unwrap();
        for bad in [
            String::new(),
            "{}".to_owned(),
            JWKS.iter().map(|&b| b as char).collect(),
            good.replace("snapshot 1", "snapshot 2"),
            good.replace(r#""format""#, r#""extra":1,"format""#),
            good.replace(r#""kty":"EC""#, r#""kty":"oct""#),
            r#"{"format":"jwt-gate key snapshot 1","source":"x","fetched_at_ms":0,"jwks":{"keys":[]}}"#
                .to_owned(),
            good.replace("fetched_at_ms\":0", "fetched_at_ms\":-1"),
        ] {
            assert!(KeySnapshot::from_bytes(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_is_replaced_whole_and_a_missing_one_is_none() {
        let dir = std::env::temp_dir().join(format!("jwt-gate-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let _ = std::fs::remove_file(&path);
        assert!(read_file(&path).unwrap().is_none());
        let first = KeySnapshot::new("https://a.example/", UNIX_EPOCH, JWKS).unwrap();
        write_file(&path, &first).unwrap();
        let second = KeySnapshot::new("https://b.example/", SystemTime::now(), JWKS).unwrap();
        write_file(&path, &second).unwrap();
        assert_eq!(
            read_file(&path).unwrap().unwrap().source(),
            "https://b.example/"
        );
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(read_file(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
