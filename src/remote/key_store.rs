//! Keeping one issuer's signing keys: TTL from `Cache-Control`, refresh
//! ahead in the background, one fetch in flight (in a task of its own), a
//! cooldown on unknown-`kid` refetches, stale-if-error with backoff. The
//! HTTP itself is in `fetch`, discovery in `discovery`.
//!
//! Reads are lock-free (`arc-swap`); the two small mutexes are never held
//! across an `.await`.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use tokio::sync::watch;
use url::Url;

use crate::jose::jwks::{KeySet, Origin};
use crate::remote::discovery;
use crate::remote::fetch::{FetchConfig, FetchError, get};
use crate::remote::snapshot::{KeySnapshot, Persist};
use crate::telemetry;

/// Where keys come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Static,
    Jwks(Url),
    Discovery(String),
}

/// One generation of keys and its deadlines (`None`: never).
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) keys: KeySet,
    fetched_at: Instant,
    /// The JWK Set document and when it was fetched, by the wall clock
    /// (for snapshots; `None` for static keys).
    document: Option<(Arc<[u8]>, SystemTime)>,
    /// Restored from a snapshot at startup, not fetched by this process.
    restored: bool,
    /// From here on a background refresh is started.
    refresh_at: Option<Instant>,
    /// After this the keys are not served at all.
    usable_until: Option<Instant>,
}

impl Snapshot {
    fn usable(&self, now: Instant) -> bool {
        self.usable_until.is_none_or(|t| now < t)
    }
}

/// The current snapshot, borrowed without touching its reference count.
pub(crate) struct HeldKeys(arc_swap::Guard<Option<Arc<Snapshot>>>);

impl HeldKeys {
    pub(crate) fn to_arc(&self) -> Arc<Snapshot> {
        Arc::clone(self.0.as_ref().expect("a held snapshot"))
    }
}

impl std::ops::Deref for HeldKeys {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        self.0.as_ref().expect("a held snapshot")
    }
}

/// A readiness view of the key store, cheap to take.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStatus {
    /// Usable keys are loaded.
    pub keys_loaded: bool,
    /// How many usable keys.
    pub key_count: usize,
    /// Since the keys were fetched (`None` for static keys or none yet).
    pub age: Option<Duration>,
    /// The last refresh failed and the keys served are older than their TTL.
    pub stale: bool,
    /// The last fetch's error, cleared by the next success.
    pub last_error: Option<String>,
    /// Fetches attempted (discovery and JWKS together count as one).
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
    /// Unknown-`kid` refetches refused because of the cooldown.
    pub cooldown_hits: u64,
    /// The keys served were restored from a [`KeySnapshot`] at startup and
    /// no fetch has succeeded since (their `age` counts from the original
    /// fetch).
    pub restored: bool,
}

impl KeyStatus {
    /// Several issuers' key stores taken together: loaded when all are,
    /// counts summed, the oldest age, stale when any is, the first error.
    pub(crate) fn combine(all: impl Iterator<Item = Self>) -> Self {
        let mut out = Self {
            keys_loaded: true,
            key_count: 0,
            age: None,
            stale: false,
            last_error: None,
            fetches: 0,
            failures: 0,
            cooldown_hits: 0,
            restored: false,
        };
        for s in all {
            out.keys_loaded &= s.keys_loaded;
            out.key_count += s.key_count;
            out.age = out.age.max(s.age);
            out.stale |= s.stale;
            out.last_error = out.last_error.or(s.last_error);
            out.fetches += s.fetches;
            out.failures += s.failures;
            out.cooldown_hits += s.cooldown_hits;
            out.restored |= s.restored;
        }
        out
    }
}

type Outcome = Result<Arc<Snapshot>, Arc<FetchError>>;

/// The shortest key lifetime, whatever `Cache-Control` or the configured
/// bounds say: an IdP answering `no-store` is asked at most about once a
/// second, not on every request.
pub(crate) const MIN_TTL_FLOOR: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Failures {
    consecutive: u32,
    /// When the last fetch failed and how long to wait after it. Kept as a
    /// start and a length, never as an `Instant` deadline: a backoff too
    /// long for `Instant` must still mean "wait", not "no backoff".
    failed_at: Option<Instant>,
    backoff: Duration,
    last: Option<Arc<FetchError>>,
}

impl Failures {
    fn in_backoff(&self, now: Instant) -> bool {
        self.failed_at
            .is_some_and(|t| now.saturating_duration_since(t) < self.backoff)
    }
}

/// A fetch to run, when there is no runtime to spawn it on.
type FetchTask = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The fetch in flight: its number and where its outcome will appear.
struct Inflight {
    id: u64,
    outcome: watch::Receiver<Option<Outcome>>,
}

/// What a caller needs from a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any usable keys (a cold start): keys stored meanwhile will do.
    AnyKeys,
    /// Keys fetched now (a refresh, an unknown `kid`).
    Fresh,
}

/// What an unknown-`kid` refetch gave a request.
pub(crate) enum Refetch {
    /// Keys fetched now.
    Fresh(Arc<Snapshot>),
    /// No refetch: the cooldown or a backoff refused it, or it failed (the
    /// keys held stand).
    Refused,
    /// The request's wait ran out; the fetch goes on.
    OutOfTime(Arc<FetchError>),
}

/// What [`KeyStore::start_fetch`] did.
enum Started {
    /// Joined or started a fetch: its outcome, and the fetch itself when it
    /// must run in the caller's future (no tokio runtime).
    Joined(watch::Receiver<Option<Outcome>>, Option<FetchTask>),
    /// Usable keys arrived since the caller looked: no fetch needed.
    NotNeeded(Arc<Snapshot>),
}

/// Held by the task that runs a fetch. However the task ends (done,
/// panicked, dropped with its runtime), the in-flight slot and the
/// background-refresh flag are cleared, so the next caller can start again.
struct FetchGuard {
    store: Arc<KeyStore>,
    id: u64,
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        let mut slot = lock(&self.store.inflight);
        if slot.as_ref().is_some_and(|f| f.id == self.id) {
            *slot = None;
        }
        drop(slot);
        self.store.refreshing.store(false, Ordering::Release);
    }
}

pub(crate) struct KeyStore {
    source: Source,
    persist: Persist,
    /// `None` for static keys, which are never fetched.
    client: Option<reqwest::Client>,
    cfg: FetchConfig,
    current: ArcSwapOption<Snapshot>,
    jwks_uri: ArcSwapOption<Url>,
    /// The fetch in flight, shared by everyone who needs it. It runs in a
    /// task of its own, so a caller that gives up does not cancel it.
    inflight: Mutex<Option<Inflight>>,
    next_fetch_id: AtomicU64,
    failures: Mutex<Failures>,
    /// When an unknown `kid` last caused a refetch.
    last_forced: Mutex<Option<Instant>>,
    refreshing: AtomicBool,
    fetches: AtomicU64,
    failed: AtomicU64,
    cooldown_hits: AtomicU64,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("source", &self.source)
            .field("status", &self.status())
            .finish()
    }
}

impl KeyStore {
    pub(crate) fn new(
        source: Source,
        client: Option<reqwest::Client>,
        cfg: FetchConfig,
        keys: Option<KeySet>,
    ) -> Self {
        let current = keys.map(|keys| {
            Arc::new(Snapshot {
                keys,
                fetched_at: Instant::now(),
                document: None,
                restored: false,
                refresh_at: None,
                usable_until: None,
            })
        });
        Self {
            source,
            persist: Persist::default(),
            client,
            cfg,
            current: ArcSwapOption::new(current),
            jwks_uri: ArcSwapOption::empty(),
            inflight: Mutex::new(None),
            next_fetch_id: AtomicU64::new(0),
            failures: Mutex::new(Failures::default()),
            last_forced: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cooldown_hits: AtomicU64::new(0),
        }
    }

    /// Sends each snapshot fetched from now on to `persist`.
    pub(crate) fn with_persist(mut self, persist: Persist) -> Self {
        self.persist = persist;
        self
    }

    /// The issuer keys are discovered from, or the JWKS URL: what a
    /// snapshot's `source` must be (`None`: static keys).
    pub(crate) fn source_name(&self) -> Option<&str> {
        match &self.source {
            Source::Static => None,
            Source::Jwks(url) => Some(url.as_str()),
            Source::Discovery(issuer) => Some(issuer),
        }
    }

    /// Starts from `snapshot`'s keys (before anything is fetched), usable
    /// until `max_staleness` after their original fetch and due for a
    /// refresh at once. `Ok(false)`: already past that (nothing restored).
    ///
    /// # Errors
    ///
    /// The snapshot is of another issuer (or JWKS URL), or these are
    /// static keys.
    pub(crate) fn restore(&self, snapshot: &KeySnapshot) -> Result<bool, String> {
        let ours = self.source_name().ok_or("static keys are never fetched")?;
        if snapshot.source() != ours {
            return Err(format!(
                "the snapshot holds the keys of {:?}, not {ours:?}",
                snapshot.source()
            ));
        }
        let age = snapshot.age();
        let now = Instant::now();
        let Some(left) = self.cfg.max_stale.checked_sub(age).filter(|d| !d.is_zero()) else {
            tracing::info!(target: "jwt_gate", age_s = age.as_secs(), "key snapshot older than max_staleness: not restored");
            return Ok(false);
        };
        let keys = snapshot.keys();
        tracing::info!(target: "jwt_gate", keys = keys.len(), age_s = age.as_secs(), "signing keys restored from a snapshot");
        self.current.store(Some(Arc::new(Snapshot {
            keys,
            fetched_at: now.checked_sub(age).unwrap_or(now),
            document: Some((Arc::from(snapshot.jwks()), snapshot.fetched_at())),
            restored: true,
            refresh_at: Some(now),
            usable_until: now.checked_add(left),
        })));
        Ok(true)
    }

    /// Hands a fetched snapshot to wherever snapshots are kept.
    async fn persist(&self, snapshot: &Snapshot) {
        if self.persist.is_off() {
            return;
        }
        if let (Some(source), Some((jwks, fetched_at))) = (self.source_name(), &snapshot.document) {
            let snapshot = KeySnapshot::fetched(source, *fetched_at, Arc::clone(jwks));
            self.persist.keep(snapshot).await;
        }
    }

    /// The keys to validate with, fetching only when there are none usable.
    /// Once warm this never waits: a due refresh runs in the background.
    pub(crate) async fn keys(self: &Arc<Self>) -> Result<Arc<Snapshot>, Arc<FetchError>> {
        match self.held_or_backing_off() {
            Some(ready) => ready,
            None => self.fetch(Need::AnyKeys).await,
        }
    }

    /// The usable keys held, or the last error while in backoff; `None`
    /// when a fetch is needed.
    fn held_or_backing_off(self: &Arc<Self>) -> Option<Outcome> {
        let now = Instant::now();
        if let Some(held) = self.cached(now) {
            return Some(Ok(held.to_arc()));
        }
        self.in_backoff(now).then(|| {
            Err(self
                .last_error()
                .unwrap_or_else(|| Arc::new(FetchError::Backoff)))
        })
    }

    /// The usable keys held now, without waiting; starts a background
    /// refresh when one is due (inside a tokio runtime). The guard touches
    /// no shared reference count, so threads do not contend on it.
    pub(crate) fn cached(self: &Arc<Self>, now: Instant) -> Option<HeldKeys> {
        let guard = self.current.load();
        let snapshot = guard.as_ref()?;
        if !snapshot.usable(now) {
            return None;
        }
        if snapshot.refresh_at.is_some_and(|t| now >= t) {
            self.refresh_in_background(now);
        }
        Some(HeldKeys(guard))
    }

    /// The keys for a request: those held, else the one fetch waited on
    /// for at most the request's wait (`key_wait`), the fetch going on for
    /// the others when it runs out ([`FetchError::StillFetching`]).
    pub(crate) async fn keys_for_request(
        self: &Arc<Self>,
    ) -> Result<Arc<Snapshot>, Arc<FetchError>> {
        match self.held_or_backing_off() {
            Some(ready) => ready,
            None => self.wait_within(self.start_fetch(Need::AnyKeys)).await,
        }
    }

    /// Fetches now, whatever the backoff and the cooldown say (joining a
    /// fetch in flight), and waits for the whole fetch: an operator's
    /// explicit refresh.
    pub(crate) async fn refresh(self: &Arc<Self>) -> Outcome {
        if matches!(self.source, Source::Static) {
            return self.keys().await;
        }
        Self::wait(self.start_fetch(Need::Fresh)).await
    }

    /// After a token named a `kid` we do not hold: one refetch (or the
    /// fetch already in flight, joined), waited on for at most the
    /// request's wait; then a cooldown during which such tokens fail fast.
    pub(crate) async fn refetch_for_unknown_kid(self: &Arc<Self>) -> Refetch {
        let started = if self.claim_refetch(Instant::now()) {
            self.start_fetch(Need::Fresh)
        } else if let Some(outcome) = self.inflight_outcome() {
            Started::Joined(outcome, None)
        } else {
            return Refetch::Refused;
        };
        match self.wait_within(started).await {
            Ok(snapshot) => Refetch::Fresh(snapshot),
            Err(e) if matches!(*e, FetchError::StillFetching) => Refetch::OutOfTime(e),
            Err(_) => Refetch::Refused,
        }
    }

    /// The outcome of the fetch in flight, if there is one.
    fn inflight_outcome(&self) -> Option<watch::Receiver<Option<Outcome>>> {
        lock(&self.inflight).as_ref().map(|f| f.outcome.clone())
    }

    /// How long a client refused for want of keys should wait: what is left
    /// of the backoff after a failed fetch, else one second (a fetch is
    /// running or may start at once).
    pub(crate) fn retry_after(&self, now: Instant) -> Duration {
        let failures = lock(&self.failures);
        let left = failures.failed_at.map_or(Duration::ZERO, |t| {
            failures
                .backoff
                .saturating_sub(now.saturating_duration_since(t))
        });
        left.max(Duration::from_secs(1))
    }

    /// Like [`refetch_for_unknown_kid`], without waiting: the refetch runs
    /// in the background.
    pub(crate) fn refetch_for_unknown_kid_in_background(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_ok() && self.claim_refetch(Instant::now()) {
            drop(self.start_fetch(Need::Fresh));
        }
    }

    /// Whether an unknown `kid` seen now may wait for keys (without
    /// claiming a refetch): a fetch is in flight, or a refetch is allowed
    /// (not static, not in backoff, not in the cooldown). A refusal by the
    /// cooldown counts as a cooldown hit.
    pub(crate) fn may_refetch(&self, now: Instant) -> bool {
        lock(&self.inflight).is_some() || self.refetch_allowed(now, false)
    }

    /// Like [`may_refetch`](Self::may_refetch), and starts the cooldown when
    /// it allows the refetch.
    fn claim_refetch(&self, now: Instant) -> bool {
        self.refetch_allowed(now, true)
    }

    fn refetch_allowed(&self, now: Instant, claim: bool) -> bool {
        if matches!(self.source, Source::Static) || self.in_backoff(now) {
            return false;
        }
        let mut last = lock(&self.last_forced);
        if last.is_some_and(|t| now.saturating_duration_since(t) < self.cfg.cooldown) {
            drop(last);
            self.cooldown_hits.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "jwt_gate", "unknown kid: refetch refused during cooldown");
            return false;
        }
        if claim {
            *last = Some(now);
        }
        true
    }

    /// Starts a fetch in the background (when none is running, outside the
    /// backoff, inside a tokio runtime): for callers that never wait.
    pub(crate) fn fetch_in_background(self: &Arc<Self>) {
        self.start_in_background(Instant::now(), Need::AnyKeys);
    }

    fn refresh_in_background(self: &Arc<Self>, now: Instant) {
        self.start_in_background(now, Need::Fresh);
    }

    fn start_in_background(self: &Arc<Self>, now: Instant, need: Need) {
        if self.in_backoff(now) || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        // The fetch task's guard clears the flag when it ends, however it
        // ends; joining a fetch already in flight is as good as a new one.
        match self.start_fetch(need) {
            Started::Joined(..) => {}
            // No fetch started: no task will clear the flag.
            Started::NotNeeded(_) => self.refreshing.store(false, Ordering::Release),
        }
    }

    fn in_backoff(&self, now: Instant) -> bool {
        lock(&self.failures).in_backoff(now)
    }

    pub(crate) fn last_error(&self) -> Option<Arc<FetchError>> {
        lock(&self.failures).last.clone()
    }

    /// The one fetch in flight: joins it, or starts it, and waits for its
    /// outcome. The fetch runs in a task of its own: a caller that stops
    /// waiting (a client gone, a deadline) does not cancel it, and it
    /// finishes for everyone else.
    async fn fetch(self: &Arc<Self>, need: Need) -> Outcome {
        Self::wait(self.start_fetch(need)).await
    }

    /// [`wait`](Self::wait), for at most the request's wait when the fetch
    /// runs in a task of its own (which the timeout does not cancel).
    async fn wait_within(&self, started: Started) -> Outcome {
        if !matches!(started, Started::Joined(_, None)) {
            return Self::wait(started).await;
        }
        tokio::time::timeout(self.cfg.key_wait, Self::wait(started))
            .await
            .unwrap_or_else(|_| Err(Arc::new(FetchError::StillFetching)))
    }

    /// The outcome of a fetch joined or started.
    async fn wait(started: Started) -> Outcome {
        let (mut outcome, run_here) = match started {
            Started::Joined(outcome, run_here) => (outcome, run_here),
            Started::NotNeeded(snapshot) => return Ok(snapshot),
        };
        if let Some(task) = run_here {
            // No tokio runtime to spawn on: run it in this future.
            task.await;
        }
        match outcome.wait_for(Option::is_some).await {
            Ok(done) => done.clone().unwrap_or_else(|| Err(ended())),
            Err(_) => Err(ended()),
        }
    }

    /// Joins the fetch in flight or starts one (spawned on the current
    /// tokio runtime). Without a runtime the new fetch is returned to be
    /// awaited by the caller. When any usable keys will do, keys that a
    /// fetch stored since the caller last looked are enough: checked under
    /// the slot's lock, so that a caller who saw no keys just before the
    /// fetch in flight finished does not start a second one.
    fn start_fetch(self: &Arc<Self>, need: Need) -> Started {
        let mut slot = lock(&self.inflight);
        if let Some(inflight) = slot.as_ref() {
            return Started::Joined(inflight.outcome.clone(), None);
        }
        if need == Need::AnyKeys
            && let Some(snapshot) = self
                .current
                .load_full()
                .filter(|s| s.usable(Instant::now()))
        {
            return Started::NotNeeded(snapshot);
        }
        let (tx, rx) = watch::channel(None);
        let id = self.next_fetch_id.fetch_add(1, Ordering::Relaxed);
        *slot = Some(Inflight {
            id,
            outcome: rx.clone(),
        });
        drop(slot);
        let guard = FetchGuard {
            store: Arc::clone(self),
            id,
        };
        let task = Box::pin(async move {
            let outcome = guard.store.fetch_now().await;
            // Kept for the next start before anyone is told: once a call
            // that fetched returns, the snapshot is written (a process
            // that exits right after, such as a command-line tool, has
            // it). The keys are already in use meanwhile.
            if let Ok(snapshot) = &outcome {
                guard.store.persist(snapshot).await;
            }
            // Free the slot before publishing, so that whoever reads this
            // outcome and needs another fetch starts a new one.
            drop(guard);
            let _ = tx.send(Some(outcome));
        });
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(task);
                Started::Joined(rx, None)
            }
            Err(_) => Started::Joined(rx, Some(task)),
        }
    }

    async fn fetch_now(&self) -> Outcome {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = tokio::time::timeout(self.cfg.timeout, self.load()).await;
        let result = result.unwrap_or_else(|_| Err(FetchError::Network("timed out".into())));
        let now = Instant::now();
        let kind = result.as_ref().map_or_else(FetchError::kind, |_| "ok");
        telemetry::key_fetch(kind, now.saturating_duration_since(started));
        match result {
            Ok((keys, ttl, document)) => {
                let count = keys.len();
                for skipped in keys.skipped() {
                    tracing::warn!(target: "jwt_gate", kid = ?skipped.kid(), reason = skipped.reason(), "skipped an unusable JWK");
                }
                // Deadlines beyond what `Instant` holds mean "never".
                let snapshot = Arc::new(Snapshot {
                    keys,
                    fetched_at: now,
                    document: Some((Arc::from(document), SystemTime::now())),
                    restored: false,
                    refresh_at: now.checked_add(ttl / 4 * 3),
                    usable_until: now.checked_add(ttl.saturating_add(self.cfg.max_stale)),
                });
                self.current.store(Some(Arc::clone(&snapshot)));
                *lock(&self.failures) = Failures::default();
                tracing::info!(target: "jwt_gate", keys = count, ttl_s = ttl.as_secs(), elapsed_ms = started.elapsed().as_millis() as u64, "signing keys refreshed");
                Ok(snapshot)
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let e = Arc::new(e);
                let mut failures = lock(&self.failures);
                failures.consecutive = failures.consecutive.saturating_add(1);
                let backoff = self
                    .cfg
                    .backoff_min
                    .saturating_mul(1 << failures.consecutive.min(16).saturating_sub(1))
                    .min(self.cfg.backoff_max);
                failures.failed_at = Some(now);
                failures.backoff = backoff;
                failures.last = Some(Arc::clone(&e));
                drop(failures);
                tracing::warn!(target: "jwt_gate", error = %e, retry_in_ms = backoff.as_millis() as u64, "signing key refresh failed");
                Err(e)
            }
        }
    }

    async fn load(&self) -> Result<(KeySet, Duration, Vec<u8>), FetchError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| FetchError::UrlRefused("static keys are not fetched".into()))?;
        let issuer = match &self.source {
            Source::Static => {
                return Err(FetchError::UrlRefused("static keys are not fetched".into()));
            }
            Source::Jwks(url) => return self.load_jwks(client, url).await,
            Source::Discovery(issuer) => issuer,
        };
        let Some(known) = self.jwks_uri.load_full() else {
            let url = self.discover(client, issuer).await?;
            return self.load_jwks(client, &url).await;
        };
        match self.load_jwks(client, &known).await {
            Ok(loaded) => Ok(loaded),
            // The IdP may have moved its JWK Set: ask discovery again (in
            // this same attempt, under its timeout and backoff), and try
            // the new URL if there is one.
            Err(first) => match self.discover(client, issuer).await {
                Ok(url) if url != *known => {
                    tracing::info!(target: "jwt_gate", jwks_uri = %url, "discovery names a new jwks_uri");
                    self.load_jwks(client, &url).await
                }
                _ => Err(first),
            },
        }
    }

    /// Discovery, remembering the `jwks_uri` it names.
    async fn discover(&self, client: &reqwest::Client, issuer: &str) -> Result<Url, FetchError> {
        let url = discovery::discover(client, issuer, &self.cfg).await?;
        self.jwks_uri.store(Some(Arc::new(url.clone())));
        Ok(url)
    }

    async fn load_jwks(
        &self,
        client: &reqwest::Client,
        jwks_uri: &Url,
    ) -> Result<(KeySet, Duration, Vec<u8>), FetchError> {
        let (body, max_age) = get(
            client,
            jwks_uri,
            &self.cfg,
            "application/jwk-set+json, application/json",
            self.cfg.max_jwks_bytes,
        )
        .await?;
        let keys = KeySet::parse_jwks(&body, Origin::Remote)
            .map_err(|_| FetchError::InvalidDocument("not a JWK Set"))?;
        if keys.is_empty() {
            return Err(FetchError::NoUsableKeys);
        }
        let min = self.cfg.min_ttl.max(MIN_TTL_FLOOR);
        let ttl = max_age
            .unwrap_or(self.cfg.default_ttl)
            .clamp(min, self.cfg.max_ttl.max(min));
        Ok((keys, ttl, body))
    }

    pub(crate) fn status(&self) -> KeyStatus {
        let now = Instant::now();
        let snapshot = self.current.load_full().filter(|s| s.usable(now));
        let static_keys = matches!(self.source, Source::Static);
        let last_error = self.last_error();
        KeyStatus {
            keys_loaded: snapshot.is_some(),
            key_count: snapshot.as_ref().map_or(0, |s| s.keys.len()),
            age: snapshot
                .as_ref()
                .filter(|_| !static_keys)
                .map(|s| now.duration_since(s.fetched_at)),
            stale: last_error.is_some() && snapshot.is_some(),
            last_error: last_error.map(|e| e.to_string()),
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failed.load(Ordering::Relaxed),
            cooldown_hits: self.cooldown_hits.load(Ordering::Relaxed),
            restored: snapshot.as_ref().is_some_and(|s| s.restored),
        }
    }
}

/// The error a waiter sees when the fetch task ended without an outcome
/// (its runtime shut down, or it panicked).
fn ended() -> Arc<FetchError> {
    Arc::new(FetchError::Network(
        "the key fetch ended without an outcome".into(),
    ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race the 1 000-task test once lost: a caller saw no keys, the
    /// fetch in flight then stored keys and freed its slot, and only then
    /// did the caller reach `start_fetch`. It must take the stored keys,
    /// not start a second fetch; a refresh or an unknown `kid` still does.
    #[test]
    fn a_cold_caller_that_arrives_after_the_fetch_takes_its_keys() {
        let url = Url::parse("https://idp.example.com/jwks").unwrap();
        let store = Arc::new(KeyStore::new(
            Source::Jwks(url),
            None,
            FetchConfig::default(),
            None,
        ));
        // No keys: a fetch is started (no runtime here: handed back, then
        // dropped, which frees the slot as a finished fetch does).
        match store.start_fetch(Need::AnyKeys) {
            Started::Joined(_, Some(task)) => drop(task),
            _ => panic!("a cold store must fetch"),
        }
        assert!(lock(&store.inflight).is_none());
        // That fetch stored keys before freeing its slot.
        store.current.store(Some(Arc::new(Snapshot {
            keys: KeySet::new(),
            fetched_at: Instant::now(),
            document: None,
            restored: false,
            refresh_at: None,
            usable_until: None,
        })));
        assert!(matches!(
            store.start_fetch(Need::AnyKeys),
            Started::NotNeeded(_)
        ));
        assert!(lock(&store.inflight).is_none(), "no second fetch");
        assert!(matches!(
            store.start_fetch(Need::Fresh),
            Started::Joined(_, Some(_))
        ));
    }
}
