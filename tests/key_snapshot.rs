//! Last-known-good keys across restarts: a validator writes a snapshot
//! after each fetch, and a new one started while the IdP is down validates
//! from it, within `max_staleness` of the original fetch; snapshots of
//! another issuer are refused. Against a real issuer on loopback.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::eventually;
use jwt_gate::testing::{IssuerMode, TestIssuer};
use jwt_gate::{
    Error, IssuerBuilder, IssuerTemplate, KeySet, KeySnapshot, Validator, ValidatorBuilder,
};

const AUD: &str = "api://orders";

fn builder(issuer: &TestIssuer) -> ValidatorBuilder {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .fetch_timeout(Duration::from_millis(500))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
}

/// A fresh directory of this test's own.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jwt-gate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn snapshot_of(issuer: &TestIssuer, fetched_at: SystemTime) -> KeySnapshot {
    let jwks = serde_json::to_vec(&issuer.jwks()).unwrap();
    KeySnapshot::new(issuer.issuer(), fetched_at, &jwks).unwrap()
}

#[tokio::test]
async fn a_validator_restarted_during_an_outage_validates_from_its_snapshot() {
    let issuer = TestIssuer::start().await;
    let path = temp_dir("restart").join("keys.json");
    let token = issuer.token().audience(AUD).sign();

    let first = builder(&issuer).key_snapshot_file(&path).build().unwrap();
    first.validate::<()>(&token).await.unwrap();
    eventually("the snapshot to be written", || path.exists()).await;
    let written = KeySnapshot::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(written.source(), issuer.issuer());
    assert!(written.age() < Duration::from_secs(5));
    drop(first);

    // The process restarts while the IdP is down.
    issuer.set_mode(IssuerMode::Down);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = builder(&issuer).key_snapshot_file(&path).build().unwrap();
    let status = restarted.status();
    assert!(status.keys_loaded && status.restored, "{status:?}");
    assert!(
        status.age.unwrap() >= Duration::from_millis(300),
        "{status:?}"
    );
    restarted.validate::<()>(&token).await.unwrap();
    restarted.warm_up().await.unwrap();
    // It tried to refresh (the snapshot is due at once) and failed.
    eventually("a refresh attempt", || restarted.status().failures > 0).await;
    assert!(restarted.status().restored);
    // A key the IdP rotated to after the snapshot is not in it.
    let rotated_kid = issuer.rotate();
    let rotated = issuer.token().audience(AUD).sign();
    let err = restarted.validate::<()>(&rotated).await.unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }), "{err:?}");

    // The IdP is back: the next refresh replaces the restored keys and
    // the file.
    issuer.set_mode(IssuerMode::Normal);
    restarted.refresh().await.unwrap();
    assert!(!restarted.status().restored);
    restarted.validate::<()>(&rotated).await.unwrap();
    eventually("the file to hold the rotated key", || {
        std::fs::read(&path)
            .is_ok_and(|b| String::from_utf8_lossy(&b).contains(&format!("\"{rotated_kid}\"")))
    })
    .await;
}

#[tokio::test]
async fn restored_keys_expire_max_staleness_after_their_original_fetch() {
    let issuer = TestIssuer::start().await;
    issuer.set_mode(IssuerMode::Down);
    let token = issuer.token().audience(AUD).sign();
    let ten_s_ago = SystemTime::now() - Duration::from_secs(10);

    // 10 s old, 10.6 s allowed: served for about 0.6 s more, then not.
    let validator = builder(&issuer)
        .max_staleness(Duration::from_millis(10_600))
        .seed_keys(snapshot_of(&issuer, ten_s_ago))
        .build()
        .unwrap();
    assert!(validator.status().restored);
    validator.validate::<()>(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let err = validator.validate::<()>(&token).await.unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
    assert!(!validator.status().keys_loaded);

    // Older than max_staleness already: not restored at all.
    let too_old = builder(&issuer)
        .max_staleness(Duration::from_secs(5))
        .seed_keys(snapshot_of(&issuer, ten_s_ago))
        .build()
        .unwrap();
    assert!(!too_old.status().keys_loaded);
    let err = too_old.validate::<()>(&token).await.unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_snapshot_of_another_issuer_is_refused() {
    let issuer = TestIssuer::start().await;
    let other = TestIssuer::start().await;
    let token = issuer.token().audience(AUD).sign();

    // Given explicitly: a setup mistake, found at build().
    let err = builder(&issuer)
        .seed_keys(snapshot_of(&other, SystemTime::now()))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("seed_keys"), "{err}");
    assert!(err.to_string().contains(other.issuer()), "{err}");

    // In the file (the issuer setting changed since it was written): not
    // used, and replaced by the next fetch.
    let path = temp_dir("other-issuer").join("keys.json");
    let written = snapshot_of(&other, SystemTime::now());
    std::fs::write(&path, written.to_bytes()).unwrap();
    issuer.set_mode(IssuerMode::Down);
    let validator = builder(&issuer).key_snapshot_file(&path).build().unwrap();
    assert!(!validator.status().keys_loaded);
    let err = validator.validate::<()>(&token).await.unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable { .. }), "{err:?}");
    issuer.set_mode(IssuerMode::Normal);
    validator.refresh().await.unwrap();
    eventually("the file to be ours", || {
        std::fs::read(&path)
            .ok()
            .and_then(|b| KeySnapshot::from_bytes(&b).ok())
            .is_some_and(|s| s.source() == issuer.issuer())
    })
    .await;

    // A JWKS URL source matches on its URL, not the issuer's.
    let by_url = Validator::builder()
        .jwks_uri(issuer.jwks_uri())
        .audience(AUD)
        .allow_http()
        .seed_keys(snapshot_of(&issuer, SystemTime::now()))
        .build();
    assert!(by_url.is_err());
}

#[tokio::test]
async fn the_hook_gets_each_fetch_and_its_bytes_seed_the_next_start() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().audience(AUD).sign();
    let kept: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = Arc::clone(&kept);
    let validator = builder(&issuer)
        .on_key_snapshot(move |s| sink.lock().unwrap().push(s.to_bytes()))
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    validator.refresh().await.unwrap();
    eventually("two snapshots", || kept.lock().unwrap().len() == 2).await;

    issuer.set_mode(IssuerMode::Down);
    let bytes = kept.lock().unwrap().last().unwrap().clone();
    let restarted = builder(&issuer)
        .seed_keys(KeySnapshot::from_bytes(&bytes).unwrap())
        .build()
        .unwrap();
    restarted.validate::<()>(&token).await.unwrap();
    assert!(restarted.status().restored);
}

#[test]
fn snapshot_setup_mistakes_are_found_at_build() {
    let keys = KeySet::new().with_secret(Some("k"), &[7; 32]).unwrap();
    let dir = temp_dir("mistakes");
    let err = Validator::builder()
        .keys(keys)
        .audience(AUD)
        .key_snapshot_file(dir.join("keys.json"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("static keys"), "{err}");

    let err = Validator::builder()
        .issuer("https://auth.example.com/")
        .audience(AUD)
        .key_snapshot_file(dir.join("missing-dir").join("keys.json"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("key_snapshot_file"), "{err}");

    let same = dir.join("shared.json");
    let err = Validator::multi_issuer()
        .trust(
            IssuerBuilder::new()
                .issuer("https://a.example.com/")
                .audience(AUD)
                .key_snapshot_file(&same),
        )
        .trust(
            IssuerBuilder::new()
                .issuer("https://b.example.com/")
                .audience(AUD)
                .key_snapshot_file(&same),
        )
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("two issuers"), "{err}");

    let err = Validator::multi_issuer()
        .trust_template(
            IssuerTemplate::new("https://login.example.com/{tenant}/v2.0")
                .unwrap()
                .tenants(["a"]),
            IssuerBuilder::new()
                .audience(AUD)
                .key_snapshot_file(dir.join("t.json")),
        )
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("template"), "{err}");

    // A corrupt file is a cache miss, not a failure to start.
    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, b"{\"format\":").unwrap();
    let validator = Validator::builder()
        .issuer("https://auth.example.com/")
        .audience(AUD)
        .key_snapshot_file(&corrupt)
        .build()
        .unwrap();
    assert!(!validator.status().keys_loaded);
}

#[tokio::test]
async fn each_issuer_of_a_multi_issuer_validator_restores_its_own_snapshot() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let dir = temp_dir("multi");
    let trust = |issuer: &TestIssuer, file: &str| {
        IssuerBuilder::new()
            .issuer(issuer.issuer())
            .audience(AUD)
            .allow_http()
            .key_snapshot_file(dir.join(file))
    };
    let build = || {
        Validator::multi_issuer()
            .trust(trust(&a, "a.json"))
            .trust(trust(&b, "b.json"))
            .build()
            .unwrap()
    };
    let first = build();
    first.warm_up().await.unwrap();
    eventually("both files", || {
        dir.join("a.json").exists() && dir.join("b.json").exists()
    })
    .await;
    a.set_mode(IssuerMode::Down);
    b.set_mode(IssuerMode::Down);
    let restarted = build();
    for issuer in [&a, &b] {
        let token = issuer.token().audience(AUD).sign();
        restarted.validate::<()>(&token).await.unwrap();
    }
    assert!(restarted.status().restored);
}
