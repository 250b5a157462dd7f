//! The key store against a real issuer on loopback (`TestIssuer`): discovery,
//! coalescing, rotation, cooldown, faults, staleness, refresh-ahead.

mod common;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::eventually;
use jwt_gate::testing::{IssuerMode, TestIssuer};
use jwt_gate::{Claims, Error, FetchError, IssuerBuilder, Validator, ValidatorBuilder};

const AUD: &str = "api://orders";

fn builder(issuer: &TestIssuer) -> ValidatorBuilder {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .fetch_timeout(Duration::from_millis(800))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
}

fn token(issuer: &TestIssuer) -> String {
    issuer.token().audience(AUD).sign()
}

fn fetch_error(err: &Error) -> &FetchError {
    err.source()
        .and_then(|s| s.downcast_ref::<FetchError>())
        .unwrap_or_else(|| panic!("no FetchError behind {err:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_validations_on_a_cold_validator_fetch_once() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer).build().unwrap();
    let token = Arc::new(token(&issuer));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (validator, token) = (validator.clone(), Arc::clone(&token));
            tokio::spawn(async move { validator.validate::<()>(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
    assert_eq!(validator.status().fetches, 1);
}

#[tokio::test]
async fn rotated_key_is_picked_up_with_one_refetch_and_retired_key_is_refused() {
    let issuer = TestIssuer::builder().cache_max_age(Some(0)).start().await;
    let validator = builder(&issuer)
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .build()
        .unwrap();
    let old_token = token(&issuer);
    validator.validate::<()>(&old_token).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    let new_kid = issuer.rotate();
    let new_token = token(&issuer);
    assert!(new_token.len() > 10);
    let claims: Claims = validator.validate(&new_token).await.unwrap();
    assert_eq!(claims.subject(), Some("user-1"));
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "exactly one refetch for the new kid"
    );

    // Retire the old key; once the TTL (1 s, the floor) runs out, a
    // background refresh drops it and its tokens are refused.
    issuer.retire("key-1");
    assert_eq!(issuer.kids(), [new_kid]);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    validator.validate::<()>(&new_token).await.unwrap(); // starts the refresh
    eventually("the background refresh", || issuer.jwks_fetches() == 3).await;
    eventually("the new key set", || validator.status().key_count == 1).await;
    let err = validator.validate::<()>(&old_token).await.unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kids_fail_fast_with_one_refetch_per_cooldown() {
    let issuer = TestIssuer::start().await;
    let wait = Duration::from_millis(200);
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(3))
        .max_key_wait(wait)
        .unknown_kid_cooldown(Duration::from_secs(60))
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    // The issuer turns slow: the refetch takes 1 s, more than a request
    // may wait for it.
    issuer.set_mode(IssuerMode::Slow(Duration::from_secs(1)));
    let first = issuer.token().audience(AUD).kid("kid-first").sign();
    let started = Instant::now();
    let err = validator.validate::<()>(&first).await.unwrap_err();
    assert!(
        started.elapsed() < wait * 3,
        "waited {:?}",
        started.elapsed()
    );
    assert!(
        matches!(fetch_error(&err), FetchError::StillFetching),
        "{err:?}"
    );
    assert_eq!(issuer.jwks_fetches(), 2, "the refetch goes on");

    // Random kids meanwhile join that one fetch (each for at most its
    // wait), and fail fast once it is done.
    let (mut slowest, mut still_fetching, mut unknown) = (Duration::ZERO, 0, 0);
    for i in 0..10_000 {
        let t = issuer
            .token()
            .audience(AUD)
            .kid(&format!("random-{i}"))
            .sign();
        let started = Instant::now();
        match validator.validate::<()>(&t).await.unwrap_err() {
            Error::UnknownKey { .. } => unknown += 1,
            err @ Error::KeysUnavailable { .. } => {
                assert!(matches!(fetch_error(&err), FetchError::StillFetching));
                still_fetching += 1;
            }
            err => panic!("{err:?}"),
        }
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < wait * 3, "a request waited {slowest:?}");
    assert!(
        still_fetching <= 5,
        "{still_fetching} waited on the refetch"
    );
    assert!(unknown >= 9_995);
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "one refetch in the cooldown window"
    );
    assert!(validator.status().cooldown_hits >= 9_995);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_idp_holds_a_rotated_kid_no_longer_than_the_key_wait() {
    let issuer = TestIssuer::start().await;
    let wait = Duration::from_millis(300);
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(5))
        .max_key_wait(wait)
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    issuer.rotate();
    let rotated = Arc::new(token(&issuer));
    issuer.set_mode(IssuerMode::Slow(Duration::from_millis(1500)));

    // Fifty requests with the new kid at once: each back within its wait,
    // 503 with `Retry-After: 1` (the keys are on their way), one fetch.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (validator, token) = (validator.clone(), Arc::clone(&rotated));
            tokio::spawn(async move {
                let started = Instant::now();
                let result = validator.validate::<()>(&token).await;
                (started.elapsed(), result)
            })
        })
        .collect();
    for task in tasks {
        let (elapsed, result) = task.await.unwrap();
        assert!(elapsed < wait + Duration::from_millis(400), "{elapsed:?}");
        let err = result.unwrap_err();
        assert!(matches!(fetch_error(&err), FetchError::StillFetching));
        assert_eq!(err.status(), 503);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    }
    assert_eq!(issuer.jwks_fetches(), 2);
    // The fetch went on without them and brought the new key.
    eventually("the refetch to finish", || {
        validator.status().key_count == 2
    })
    .await;
    validator.validate::<()>(&rotated).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_cold_request_waits_its_key_wait_and_warm_up_the_whole_fetch() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Slow(Duration::from_millis(400)));
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(5))
        .max_key_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let good = token(&issuer);
    let started = Instant::now();
    let err = validator.validate::<()>(&good).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(400));
    assert!(matches!(fetch_error(&err), FetchError::StillFetching));
    // An explicit warm-up waits for the fetch (discovery and JWKS, 400 ms
    // each), joining the one in flight.
    validator.warm_up().await.unwrap();
    validator.validate::<()>(&good).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn retry_after_follows_the_key_stores_backoff() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Down);
    let validator = builder(&issuer)
        .retry_backoff(Duration::from_secs(4), Duration::from_secs(60))
        .build()
        .unwrap();
    let good = token(&issuer);
    let err = validator.validate::<()>(&good).await.unwrap_err();
    let first = err.retry_after().unwrap();
    assert!(
        first > Duration::from_secs(3) && first <= Duration::from_secs(4),
        "{first:?}"
    );
    // Later in the same backoff: what is left of it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = validator.validate::<()>(&good).await.unwrap_err();
    let left = err.retry_after().unwrap();
    assert!(
        left > Duration::from_millis(1500) && left <= Duration::from_millis(2600),
        "{left:?}"
    );
    // The next failure doubles it.
    tokio::time::sleep(left).await;
    let err = validator.validate::<()>(&good).await.unwrap_err();
    let second = err.retry_after().unwrap();
    assert!(
        second > Duration::from_secs(7) && second <= Duration::from_secs(8),
        "{second:?}"
    );
    assert_eq!(validator.status().fetches, 2);
    // The same without waiting (tonic's interceptor).
    let err = validator.validate_without_waiting::<()>(&good).unwrap_err();
    assert!(err.retry_after().unwrap() > Duration::from_secs(7));
    assert!(matches!(fetch_error(&err), FetchError::Network(_)));
}

#[tokio::test]
async fn refresh_fetches_now_whatever_the_backoff_and_cooldown() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer)
        .retry_backoff(Duration::from_secs(60), Duration::from_secs(60))
        .unknown_kid_cooldown(Duration::from_secs(600))
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    issuer.set_mode(IssuerMode::Status(500));
    let err = validator.refresh().await.unwrap_err();
    assert!(matches!(fetch_error(&err), FetchError::Status(500)));
    assert!(validator.status().keys_loaded, "the keys held stand");
    // In a 60 s backoff, with the cooldown running: an operator's refresh
    // still goes out, and brings the rotated key.
    issuer.set_mode(IssuerMode::Normal);
    issuer.rotate();
    validator.refresh().await.unwrap();
    assert_eq!(validator.status().key_count, 2);
    assert_eq!(issuer.jwks_fetches(), 3);
    validator.validate::<()>(&token(&issuer)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_keys_survive_every_kind_of_idp_failure() {
    let issuer = TestIssuer::builder().cache_max_age(Some(0)).start().await;
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_millis(500))
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    let good = token(&issuer);
    validator.validate::<()>(&good).await.unwrap();

    for (mode, expect) in [
        (IssuerMode::Down, "request failed"),
        (IssuerMode::Status(500), "status 500"),
        (IssuerMode::Slow(Duration::from_secs(3)), "timed out"),
        (IssuerMode::Garbage, "not a JWK Set"),
        (
            IssuerMode::Oversized(50 * 1024 * 1024),
            "larger than 1048576 bytes",
        ),
    ] {
        issuer.set_mode(mode.clone());
        let fetches = issuer.jwks_fetches();
        let failures = validator.status().failures;
        // Keys past their TTL (1 s, the floor): each validation is served
        // at once, a refresh runs (and fails) in the background.
        tokio::time::sleep(Duration::from_millis(1020)).await;
        let started = Instant::now();
        validator.validate::<()>(&good).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{mode:?}: waited {:?}",
            started.elapsed()
        );
        if mode != IssuerMode::Down {
            eventually("a refresh attempt", || issuer.jwks_fetches() > fetches).await;
        }
        eventually("the refresh to fail", || {
            validator.status().failures > failures
        })
        .await;
        let status = validator.status();
        assert!(status.keys_loaded && status.stale, "{mode:?}: {status:?}");
        let last = status.last_error.unwrap();
        assert!(last.contains(expect), "{mode:?}: {last}");
        // An unknown kid waits at most its key wait, then fails.
        let started = Instant::now();
        let unknown = issuer
            .token()
            .audience(AUD)
            .kid(&format!("new-{fetches}"))
            .sign();
        assert!(validator.validate::<()>(&unknown).await.is_err());
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{mode:?}: waited {:?}",
            started.elapsed()
        );
        validator.validate::<()>(&good).await.unwrap();
    }
}

#[tokio::test]
async fn keys_past_max_staleness_are_unavailable_then_recover() {
    let issuer = TestIssuer::builder().cache_max_age(Some(0)).start().await;
    let validator = builder(&issuer)
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .max_staleness(Duration::from_millis(400))
        .build()
        .unwrap();
    let good = token(&issuer);
    validator.validate::<()>(&good).await.unwrap();
    issuer.set_mode(IssuerMode::Status(503));
    tokio::time::sleep(Duration::from_millis(1500)).await; // TTL + staleness
    let err = validator.validate::<()>(&good).await.unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
    assert_eq!(err.status(), 503);
    assert!(!validator.status().keys_loaded);
    issuer.set_mode(IssuerMode::Normal);
    tokio::time::sleep(Duration::from_millis(250)).await; // past the backoff
    validator.validate::<()>(&good).await.unwrap();
}

#[tokio::test]
async fn cold_start_with_the_idp_down_fails_fast_and_recovers_by_itself() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Down);
    let validator = builder(&issuer).build().unwrap();
    let good = token(&issuer);
    let started = Instant::now();
    let err = validator.validate::<()>(&good).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "waited {:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
    assert!(matches!(fetch_error(&err), FetchError::Network(_)));
    // During the backoff nothing is fetched: the same error at once.
    let err = validator.validate::<()>(&good).await.unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable { .. }));
    assert_eq!(validator.status().fetches, 1);

    issuer.set_mode(IssuerMode::Normal);
    tokio::time::sleep(Duration::from_millis(250)).await;
    validator.validate::<()>(&good).await.unwrap();
    assert!(validator.status().keys_loaded);
    assert_eq!(validator.status().last_error, None);
}

#[tokio::test]
async fn cold_start_with_a_slow_idp_waits_no_longer_than_the_fetch_timeout() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Slow(Duration::from_secs(5)));
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = validator.warm_up().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "waited {:?}",
        started.elapsed()
    );
    assert!(
        matches!(fetch_error(&err), FetchError::Network(why) if why == "timed out"),
        "{err:?}"
    );
}

#[tokio::test]
async fn discovery_configuration_errors_are_clear() {
    let issuer = TestIssuer::start().await;

    issuer.override_discovery(Some(serde_json::json!({
        "issuer": "https://somebody-else.example.com", "jwks_uri": issuer.jwks_uri(),
    })));
    let err = builder(&issuer)
        .build()
        .unwrap()
        .warm_up()
        .await
        .unwrap_err();
    let FetchError::IssuerMismatch { expected, found } = fetch_error(&err) else {
        panic!("{err:?}")
    };
    assert_eq!(
        (expected.as_str(), found.as_str()),
        (issuer.issuer(), "https://somebody-else.example.com")
    );

    issuer.override_discovery(Some(serde_json::json!({ "issuer": issuer.issuer() })));
    let err = builder(&issuer)
        .build()
        .unwrap()
        .warm_up()
        .await
        .unwrap_err();
    assert_eq!(
        fetch_error(&err).to_string(),
        "invalid document: discovery document has no `jwks_uri`"
    );

    // A jwks_uri on plain http to a non-loopback host is refused before
    // any request is made to it.
    issuer.override_discovery(Some(serde_json::json!({
        "issuer": issuer.issuer(), "jwks_uri": "http://10.1.2.3/jwks",
    })));
    let err = builder(&issuer)
        .build()
        .unwrap()
        .warm_up()
        .await
        .unwrap_err();
    assert!(
        matches!(fetch_error(&err), FetchError::UrlRefused(why) if why.contains("loopback")),
        "{err:?}"
    );
    assert_eq!(issuer.jwks_fetches(), 0);

    // Plain http at all needs the opt-in, checked when building.
    let err = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "issuer");
    assert!(err.to_string().contains("allow_http"), "{err}");
    let err = Validator::builder().audience(AUD).build().unwrap_err();
    assert!(err.to_string().contains("no key source"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_served_from_current_keys_while_a_refresh_is_in_flight() {
    let issuer = TestIssuer::builder().cache_max_age(Some(0)).start().await;
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(4))
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .build()
        .unwrap();
    let good = token(&issuer);
    validator.validate::<()>(&good).await.unwrap();
    issuer.set_mode(IssuerMode::Slow(Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_millis(800)).await; // past 75 % of the TTL
    validator.validate::<()>(&good).await.unwrap();
    eventually("the refresh to be in flight", || issuer.jwks_fetches() == 2).await;
    for _ in 0..50 {
        let started = Instant::now();
        validator.validate::<()>(&good).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(200));
    }
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "one refresh in flight, not one per request"
    );
    issuer.set_mode(IssuerMode::Normal);
}

#[tokio::test]
async fn validate_without_waiting_never_waits_and_status_reports_readiness() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer).build().unwrap();
    let good = token(&issuer);
    let status = validator.status();
    assert!(!status.keys_loaded && status.key_count == 0 && status.age.is_none());
    assert!(matches!(
        validator.validate_without_waiting::<()>(&good),
        Err(Error::KeysUnavailable { .. })
    ));
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "validate_without_waiting does not fetch"
    );
    validator.warm_up().await.unwrap();
    assert!(validator.validate_without_waiting::<()>(&good).is_ok());
    let status = validator.status();
    assert!(status.keys_loaded && !status.stale);
    assert_eq!(
        (status.key_count, status.fetches, status.failures),
        (1, 1, 0)
    );
    assert!(status.age.unwrap() < Duration::from_secs(5));
    // An unknown kid in validate_without_waiting starts a refetch in the background.
    issuer.rotate();
    let rotated = token(&issuer);
    assert!(matches!(
        validator.validate_without_waiting::<()>(&rotated),
        Err(Error::UnknownKey { .. })
    ));
    eventually("the background refetch", || {
        validator.status().key_count == 2
    })
    .await;
    assert!(validator.validate_without_waiting::<()>(&rotated).is_ok());
}

#[tokio::test]
async fn a_jwks_uri_source_skips_discovery_and_auth0_issuers_keep_their_slash() {
    let issuer = TestIssuer::builder().trailing_slash().start().await;
    assert!(issuer.issuer().ends_with('/'));
    let validator = Validator::builder()
        .jwks_uri(issuer.jwks_uri())
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .build()
        .unwrap();
    validator.validate::<()>(&token(&issuer)).await.unwrap();
    assert_eq!((issuer.discovery_fetches(), issuer.jwks_fetches()), (0, 1));
    // Discovery with the trailing-slash issuer finds the same keys.
    let discovered = builder(&issuer).build().unwrap();
    discovered.validate::<()>(&token(&issuer)).await.unwrap();
    assert_eq!(issuer.discovery_fetches(), 1);
}

// ---- faults found from outside: cancellation, huge settings, moved JWKS ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_that_give_up_do_not_cancel_the_shared_key_fetch() {
    // The IdP takes longer than any client waits.
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Slow(Duration::from_millis(300)));
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let good = token(&issuer);
    // Eight callers, 30 ms each: all gone before discovery and the JWKS
    // (300 ms each) are through.
    for _ in 0..8 {
        let impatient =
            tokio::time::timeout(Duration::from_millis(30), validator.validate::<()>(&good));
        assert!(impatient.await.is_err(), "the client gave up first");
    }
    // The one fetch went on without them and loaded the keys.
    eventually("the keys to load", || validator.status().keys_loaded).await;
    assert!(validator.validate_without_waiting::<()>(&good).is_ok());
    assert_eq!(
        (issuer.discovery_fetches(), issuer.jwks_fetches()),
        (1, 1),
        "one fetch for everyone, not one per abandoned caller"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_unknown_kid_refetch_still_loads_the_rotated_key() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(3))
        .unknown_kid_cooldown(Duration::from_secs(30))
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    issuer.rotate();
    let rotated = token(&issuer);
    issuer.set_mode(IssuerMode::Slow(Duration::from_millis(300)));
    // The first caller with the new kid times out while the refetch runs.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(30),
        validator.validate::<()>(&rotated),
    )
    .await;
    assert!(gave_up.is_err());
    issuer.set_mode(IssuerMode::Normal);
    eventually("the refetch to finish", || {
        validator.status().key_count == 2
    })
    .await;
    // Within the cooldown, the new key is there for the next caller.
    assert!(validator.validate::<()>(&rotated).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_max_settings_never_panic_on_the_request_path() {
    let issuer = TestIssuer::start().await;
    // A max-age as large as Cache-Control can say.
    issuer.set_cache_max_age(Some(u64::MAX));
    let validator = builder(&issuer)
        .fetch_timeout(Duration::MAX)
        .jwks_ttl(Duration::MAX)
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::MAX)
        .max_staleness(Duration::MAX)
        .unknown_kid_cooldown(Duration::MAX)
        .retry_backoff(Duration::MAX, Duration::MAX)
        .leeway(Duration::MAX)
        .build()
        .unwrap();
    assert!(validator.validate::<()>(&token(&issuer)).await.is_ok());
    // Two unknown kids: the first refetches and starts the cooldown, the
    // second meets the (endless) cooldown.
    for kid in ["unknown-1", "unknown-2"] {
        let t = issuer.token().audience(AUD).kid(kid).sign();
        assert!(matches!(
            validator.validate::<()>(&t).await,
            Err(Error::UnknownKey { .. })
        ));
    }
    assert!(validator.status().keys_loaded);
    let multi = Validator::multi_issuer()
        .trust(
            IssuerBuilder::new()
                .issuer(issuer.issuer())
                .audience(AUD)
                .allow_http(),
        )
        .discovered_issuer_idle(Duration::MAX)
        .build()
        .unwrap();
    assert!(multi.validate::<()>(&token(&issuer)).await.is_ok());
}

#[tokio::test]
async fn a_backoff_too_long_for_instant_still_backs_off() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Status(500));
    let validator = builder(&issuer)
        .retry_backoff(Duration::MAX, Duration::MAX)
        .build()
        .unwrap();
    let good = token(&issuer);
    for _ in 0..50 {
        assert!(matches!(
            validator.validate::<()>(&good).await,
            Err(Error::KeysUnavailable { .. })
        ));
    }
    assert_eq!(
        issuer.discovery_fetches(),
        1,
        "one attempt, then the backoff"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refreshes_resume_after_a_refresh_task_died_with_its_runtime() {
    let issuer = TestIssuer::builder().cache_max_age(Some(1)).start().await;
    let validator = builder(&issuer)
        .fetch_timeout(Duration::from_secs(10))
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .build()
        .unwrap();
    let old = token(&issuer);
    validator.warm_up().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await; // past 75 % of the TTL
    issuer.set_mode(IssuerMode::Slow(Duration::from_secs(5)));
    // A short-lived runtime (a test harness, a worker being shut down)
    // starts the background refresh and dies while it is in flight.
    let (v, t) = (validator.clone(), old.clone());
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert!(v.validate::<()>(&t).await.is_ok());
            tokio::time::sleep(Duration::from_millis(100)).await;
        });
    })
    .await
    .unwrap();
    eventually("the refresh to have started", || issuer.jwks_fetches() == 2).await;
    // The IdP is back and has retired the old key: the next request must
    // start a refresh again, which drops the retired key.
    issuer.set_mode(IssuerMode::Normal);
    issuer.rotate();
    issuer.retire("key-1");
    let start = Instant::now();
    while validator.validate::<()>(&old).await.is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the retired key is still accepted: refreshes stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_jwks_uri_the_idp_moved_is_found_again_by_discovery() {
    let issuer = TestIssuer::start().await;
    let validator = builder(&issuer).build().unwrap();
    validator.warm_up().await.unwrap();
    // The IdP moves its JWK Set (the old URL answers 404) and rotates.
    issuer.move_jwks("/keys/v2");
    issuer.rotate();
    let rotated = token(&issuer);
    assert!(validator.validate::<()>(&rotated).await.is_ok());
    assert_eq!(issuer.discovery_fetches(), 2, "discovered again once");
    assert!(validator.status().last_error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_sending_no_store_is_asked_about_once_a_second_at_most() {
    let issuer = TestIssuer::builder().cache_max_age(Some(0)).start().await;
    let validator = builder(&issuer)
        .jwks_ttl_bounds(Duration::ZERO, Duration::from_secs(3600))
        .build()
        .unwrap();
    let good = token(&issuer);
    let start = Instant::now();
    let mut validations = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        validator.validate::<()>(&good).await.unwrap();
        validations += 1;
        tokio::task::yield_now().await;
    }
    assert!(validations > 1000, "{validations}");
    // Warm-up, then a background refresh at 75 % of each 1 s floor.
    assert!(
        issuer.jwks_fetches() <= 4,
        "{} fetches for {validations} validations",
        issuer.jwks_fetches()
    );
}

#[tokio::test]
async fn es512_tokens_validate_with_a_p521_key_from_the_jwks() {
    let issuer = TestIssuer::builder()
        .algorithm(jwt_gate::Algorithm::ES512)
        .start()
        .await;
    let validator = builder(&issuer).build().unwrap();
    let claims: Claims = validator.validate(&token(&issuer)).await.unwrap();
    assert_eq!(claims.issuer(), Some(issuer.issuer()));
    let jwks = issuer.jwks();
    assert_eq!(jwks["keys"][0]["crv"], "P-521");
    assert_eq!(jwks["keys"][0]["alg"], "ES512");
    // Not allowed by the rules: refused before any key is looked at.
    let strict = builder(&issuer)
        .algorithms([jwt_gate::Algorithm::ES256])
        .build()
        .unwrap();
    assert!(matches!(
        strict.validate::<()>(&token(&issuer)).await,
        Err(Error::DisallowedAlgorithm {
            alg: Some(jwt_gate::Algorithm::ES512)
        })
    ));
}
