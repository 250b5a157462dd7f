//! The verified-token cache's safety properties: expiry honoured on a hit,
//! dropped when its key leaves the key set, no decision leaking between
//! routes, bounded under floods of garbage and of valid tokens, a working
//! set larger than the bound degrading towards no cache (never below it),
//! any claims type.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jwt_gate::testing::TestIssuer;
use jwt_gate::{Claims, Error, JwtAuthLayer, Validator};
use tower::ServiceExt;

const AUD: &str = "api://orders";

fn validator(issuer: &TestIssuer) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .leeway(Duration::ZERO)
        .build()
        .unwrap()
}

/// A validator of `issuer`'s tokens (default leeway) with the token cache
/// bounded as given.
fn bounded_validator(issuer: &TestIssuer, max_entries: u64, max_bytes: u64) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .token_cache(max_entries, max_bytes)
        .build()
        .unwrap()
}

/// Keys refreshed every second, the floor (the issuer sends `max-age=0`).
fn refreshing_validator(issuer: &TestIssuer) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .jwks_ttl_bounds(Duration::ZERO, Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_repeated_token_is_served_from_the_cache() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer.token().audience(AUD).sign();
    for _ in 0..10 {
        let claims: Claims = validator.validate(&token).await.unwrap();
        assert_eq!(claims.subject(), Some("user-1"));
    }
    let stats = validator.token_cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (9, 1, 1));
    assert!(stats.bytes > token.len() as u64);
}

#[tokio::test]
async fn expiry_is_honoured_on_a_hit() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer
        .token()
        .audience(AUD)
        .expires_in(Duration::from_secs(2))
        .sign();
    // Five times: the later hits come from this thread's own copy.
    for _ in 0..5 {
        validator.validate::<()>(&token).await.unwrap();
    }
    assert_eq!(validator.token_cache_stats().hits, 4);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = validator.validate::<()>(&token).await.unwrap_err();
    assert!(matches!(err, Error::Expired { .. }), "{err:?}");
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_leaves_the_key_set() {
    let issuer = TestIssuer::builder().cache_max_age(Some(0)).start().await;
    let validator = refreshing_validator(&issuer);
    let old = issuer.token().audience(AUD).sign();
    for _ in 0..5 {
        validator.validate::<()>(&old).await.unwrap();
    }
    assert_eq!(
        validator.token_cache_stats().hits,
        4,
        "served from the cache (and this thread's own copy)"
    );
    issuer.rotate();
    issuer.retire("key-1");
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let new = issuer.token().audience(AUD).sign();
    validator.validate::<()>(&new).await.unwrap(); // due refresh starts
    let start = std::time::Instant::now();
    while validator.status().key_count != 1 || issuer.kids().len() != 1 {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hits = validator.token_cache_stats().hits;
    let err = validator.validate::<()>(&old).await.unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }), "{err:?}");
    assert_eq!(
        validator.token_cache_stats().hits,
        hits,
        "no hit for a removed key"
    );
}

#[tokio::test]
async fn a_token_hot_in_one_validator_is_judged_afresh_by_another() {
    let issuer = TestIssuer::start().await;
    let orders = validator(&issuer);
    let billing = Validator::builder()
        .issuer(issuer.issuer())
        .audience("api://billing")
        .allow_http()
        .build()
        .unwrap();
    let token = issuer.token().audience(AUD).sign();
    for _ in 0..5 {
        orders.validate::<()>(&token).await.unwrap();
    }
    for _ in 0..3 {
        let err = billing.validate::<()>(&token).await.unwrap_err();
        assert!(matches!(err, Error::InvalidAudience), "{err:?}");
    }
    assert_eq!(billing.token_cache_stats().hits, 0);
}

#[test]
fn threads_hammering_one_token_all_see_its_key_removed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = rt.block_on(TestIssuer::builder().cache_max_age(Some(0)).start());
    let validator = refreshing_validator(&issuer);
    let old = issuer.token().audience(AUD).sign();
    rt.block_on(validator.warm_up()).unwrap();
    // The same four threads hammer before and after: each holds its own
    // copy of the hot token by then.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let phases: Vec<_> = (0..4)
        .map(|_| {
            let (tx, rx) = std::sync::mpsc::channel::<bool>();
            let (validator, old, done) = (validator.clone(), old.clone(), done_tx.clone());
            std::thread::spawn(move || {
                for expect_ok in rx {
                    let ok = (0..1_000)
                        .filter(|_| validator.validate_without_waiting::<()>(&old).is_ok())
                        .count();
                    done.send(ok == if expect_ok { 1_000 } else { 0 }).unwrap();
                }
            });
            tx
        })
        .collect();
    let hammer = |expect_ok: bool| {
        for tx in &phases {
            tx.send(expect_ok).unwrap();
        }
        for _ in &phases {
            assert!(done_rx.recv().unwrap(), "expected ok = {expect_ok}");
        }
    };
    hammer(true);
    issuer.rotate();
    issuer.retire("key-1");
    std::thread::sleep(Duration::from_millis(1050));
    let new = issuer.token().audience(AUD).sign();
    rt.block_on(async {
        validator.validate::<()>(&new).await.unwrap(); // due refresh starts
        let start = std::time::Instant::now();
        while validator.status().key_count != 1 {
            assert!(start.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    hammer(false);
}

#[tokio::test]
async fn one_routes_decision_does_not_leak_to_another() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let reader = Router::new()
        .route("/read", get(|| async { "read" }))
        .layer(JwtAuthLayer::new(validator.clone()).require_scopes(["orders.read"]));
    let writer = Router::new()
        .route("/write", get(|| async { "write" }))
        .layer(JwtAuthLayer::new(validator.clone()).require_scopes(["orders.write"]));
    let app = reader.merge(writer);
    let token = issuer.token().audience(AUD).scope("orders.read").sign();
    let call = |path: &'static str| {
        let app = app.clone();
        let token = token.clone();
        async move {
            let req = http::Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status().as_u16()
        }
    };
    for _ in 0..3 {
        assert_eq!(call("/read").await, 200);
        assert_eq!(call("/write").await, 403);
    }
    assert!(
        validator.token_cache_stats().hits >= 4,
        "the claims were cached"
    );
}

#[tokio::test]
async fn garbage_never_enters_and_the_cache_stays_bounded() {
    let issuer = TestIssuer::start().await;
    let validator = bounded_validator(&issuer, 100, 1024 * 1024);
    let good = issuer.token().audience(AUD).sign();
    validator.validate::<()>(&good).await.unwrap();
    // A flood of garbage: refused, never cached, the good entry stays.
    let (header, rest) = good.split_once('.').unwrap();
    for i in 0..20_000 {
        let forged = format!("{header}.{rest}{i}");
        assert!(validator.validate::<()>(&forged).await.is_err());
        assert!(
            validator
                .validate::<()>(&format!("garbage-{i}"))
                .await
                .is_err()
        );
    }
    assert_eq!(validator.token_cache_stats().entries, 1);
    let hits = validator.token_cache_stats().hits;
    validator.validate::<()>(&good).await.unwrap();
    assert_eq!(validator.token_cache_stats().hits, hits + 1);
    // A flood of valid tokens: at most the configured count is kept.
    for _ in 0..1000 {
        let t = issuer.token().audience(AUD).sign();
        validator.validate::<()>(&t).await.unwrap();
    }
    let stats = validator.token_cache_stats();
    assert!(stats.entries <= 100, "{stats:?}");
    assert!(stats.bytes <= 1024 * 1024, "{stats:?}");
}

/// A working set twice the cache's bound: the tokens held stay held (about
/// half the requests are hits, where churning through them would give
/// none), the others are declined rather than inserted and thrown out, and
/// a token that comes back often still gets in.
#[tokio::test]
async fn a_working_set_larger_than_the_cache_keeps_a_stable_part_hot() {
    let issuer = TestIssuer::start().await;
    let validator = bounded_validator(&issuer, 400, 64 * 1024 * 1024);
    let clients: Vec<String> = (0..800)
        .map(|i| {
            issuer
                .token()
                .audience(AUD)
                .subject(&format!("client-{i}"))
                .sign()
        })
        .collect();
    let hot = issuer.token().audience(AUD).subject("hot").sign();
    for cycle in 0..4 {
        let before = validator.token_cache_stats();
        let mut hot_hits = 0;
        for (i, token) in clients.iter().enumerate() {
            validator.validate::<()>(token).await.unwrap();
            // From the third cycle on, one more client comes back every
            // tenth request.
            if cycle >= 2 && i % 10 == 0 {
                let hits = validator.token_cache_stats().hits;
                validator.validate::<()>(&hot).await.unwrap();
                hot_hits += validator.token_cache_stats().hits - hits;
            }
        }
        let stats = validator.token_cache_stats();
        assert!(stats.entries <= 400, "{stats:?}");
        if cycle == 0 {
            continue;
        }
        let (hits, misses) = (stats.hits - before.hits, stats.misses - before.misses);
        let rate = hits as f64 / (hits + misses) as f64;
        assert!(rate >= 0.4, "cycle {cycle}: hit rate {rate:.2} ({stats:?})");
        assert!(
            stats.declined - before.declined >= misses / 2,
            "cycle {cycle}: the misses were inserted: {stats:?}"
        );
        if cycle == 3 {
            assert!(hot_hits >= 75, "the hot token hit {hot_hits} times of 80");
        }
    }
}

#[tokio::test]
async fn any_claims_type_works_and_types_do_not_mix() {
    #[derive(Debug, serde::Deserialize)]
    struct Tenant {
        #[serde(rename = "tenantId")]
        tenant_id: String,
    }
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer
        .token()
        .audience(AUD)
        .claim("tenantId", "1741")
        .sign();
    for _ in 0..2 {
        let t: Claims<Tenant> = validator.validate(&token).await.unwrap();
        assert_eq!(t.tenant_id, "1741");
        let v: Claims<serde_json::Value> = validator.validate(&token).await.unwrap();
        assert_eq!(v["tenantId"], "1741");
        let u: Claims = validator.validate_without_waiting(&token).unwrap();
        assert_eq!(u.subject(), Some("user-1"));
    }
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .token_cache(0, 0)
        .build()
        .unwrap();
    let token = issuer.token().audience(AUD).sign();
    validator.validate::<()>(&token).await.unwrap();
    validator.validate::<()>(&token).await.unwrap();
    assert_eq!(
        validator.token_cache_stats(),
        jwt_gate::TokenCacheStats::default()
    );
}

/// The cache finds a token by a hash of its end (the signature), then
/// compares the whole token: a forgery that keeps a cached token's
/// signature and length (its payload edited) lands on the same entry and
/// must be judged on its own, and forgetting it must not drop the real one.
#[tokio::test]
async fn a_token_ending_like_a_cached_one_is_judged_on_its_own() {
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer.token().audience(AUD).subject("alice").sign();
    validator.validate::<()>(&token).await.unwrap();
    // Same length and end, one payload character changed.
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut bytes = payload.as_bytes().to_vec();
    let i = 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = format!("{header}.{}.{signature}", String::from_utf8(bytes).unwrap());
    assert_eq!(forged.len(), token.len());
    assert_eq!(forged[forged.len() - 64..], token[token.len() - 64..]);
    for _ in 0..3 {
        let err = validator.validate::<()>(&forged).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidSignature | Error::MalformedToken { .. }),
            "{err:?}"
        );
    }
    validator.forget_token(&forged);
    let before = validator.token_cache_stats();
    let claims: Claims = validator.validate(&token).await.unwrap();
    assert_eq!(claims.subject(), Some("alice"));
    let after = validator.token_cache_stats();
    assert_eq!(
        after.hits,
        before.hits + 1,
        "the real token is still cached"
    );
    assert_eq!(after.misses, before.misses);
}
