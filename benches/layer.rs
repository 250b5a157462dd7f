//! The tower layer's own cost: an axum router with `JwtAuthLayer` against
//! the same router without it, both driven in-process with `oneshot`, and
//! `Validator::validate().await` on the same token, all in one run:
//!
//! layer overhead = (router + layer) − (bare router) − (validation)
//!
//! and, to tell axum's price for any layer from ours, the same router behind
//! a layer that does nothing: own overhead = (router + layer) − (router +
//! no-op layer) − (validation).
//!
//! HS256 keeps the validation small, so the subtraction is not drowned in
//! signature-time noise. Run: `cargo bench --bench layer`, then
//! `python3 benches/report.py layer`.

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/rounds.rs"]
mod rounds;

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group};
use fixture::{AUDIENCE, ISSUER, claims, hmac32};
use jwt_gate::{Algorithm, Claims, JwtAuthLayer, Validator};
use serde_json::json;
use tower::ServiceExt;

use rounds::Run;

fn contenders() -> Vec<(&'static str, Run)> {
    let key = hmac32();
    let token = fixture::token(
        &key,
        Algorithm::HS256,
        json!({"typ": "at+jwt"}),
        &claims(json!({"exp": 4_102_444_800u64})),
    );
    let builder = || {
        Validator::builder()
            .keys(key.key_set("k1"))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .algorithms([Algorithm::HS256])
    };
    // Cold: every request verifies the signature (token cache off).
    let validator = builder().token_cache(0, 0).build().unwrap();
    // Hot: the token is served from the verified-token cache.
    let cached = builder().build().unwrap();
    let handler = || async { "ok" };
    let bare = Router::new().route("/orders", get(handler));
    // The same router behind a layer that does nothing: what axum charges
    // for any layer (boxing and cloning the route service per request).
    let noop =
        Router::new()
            .route("/orders", get(handler))
            .layer(tower::util::MapRequestLayer::new(
                |req: http::Request<Body>| req,
            ));
    let layered = Router::new()
        .route("/orders", get(handler))
        .layer(JwtAuthLayer::new(validator.clone()));
    let layered_cached: Router = Router::new()
        .route("/orders", get(handler))
        .layer(JwtAuthLayer::new(cached));
    let bearer = format!("Bearer {token}");
    let request = move || {
        http::Request::get("/orders")
            .header("authorization", bearer.as_str())
            .body(Body::empty())
            .unwrap()
    };
    let runtime = || {
        std::rc::Rc::new(
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        )
    };

    let router_run = |router: Router, request: Box<dyn Fn() -> http::Request<Body>>| -> Run {
        // What `axum::serve` runs: `into_make_service` turns every handler
        // into a route once (`with_state`), so a layer is applied once,
        // not on every request as `oneshot` on a bare `Router` would.
        let router = router.with_state(());
        let rt = runtime();
        // Both routers must answer 200 before they are timed.
        let status = rt
            .block_on(router.clone().oneshot(request()))
            .unwrap()
            .status();
        assert_eq!(status, 200);
        Box::new(move |n| {
            rt.block_on(async {
                for _ in 0..n {
                    black_box(router.clone().oneshot(black_box(request())).await.unwrap());
                }
            })
        })
    };
    let validate_run: Run = {
        let rt = runtime();
        Box::new(move |n| {
            rt.block_on(async {
                for _ in 0..n {
                    let claims: Claims = validator.validate(black_box(&token)).await.unwrap();
                    black_box(claims);
                }
            })
        })
    };
    vec![
        ("bare_router", router_run(bare, Box::new(request.clone()))),
        (
            "router_with_layer",
            router_run(layered, Box::new(request.clone())),
        ),
        ("validator_validate", validate_run),
        (
            "router_with_noop_layer",
            router_run(noop, Box::new(request.clone())),
        ),
        (
            "router_with_layer_cache_hit",
            router_run(layered_cached, Box::new(request)),
        ),
    ]
}

fn layer_overhead(c: &mut Criterion) {
    rounds::bench_group(c, "layer/HS256", &contenders());
}

/// Interleaved rounds, as in `benches/validate.rs`: the overheads are taken
/// per round, then the median; results in `target/criterion/paired_layer.json`.
fn paired(_: &mut Criterion) {
    let rounds = if rounds::full() { 200 } else { 1 };
    let runs = contenders();
    let times = rounds::interleave(&runs, rounds);
    let (bare, layered, validate, noop, hit) = (0, 1, 2, 3, 4);
    let median = |i: usize| rounds::median(times[i].clone());
    let out = json!({
        "median_ns": {
            "bare_router": median(bare),
            "router_with_layer": median(layered),
            "validator_validate": median(validate),
            "router_with_noop_layer": median(noop),
            "router_with_layer_cache_hit": median(hit),
        },
        "layer_overhead_ns": rounds::per_round(rounds, |r| times[layered][r] - times[bare][r] - times[validate][r]),
        "own_overhead_ns": rounds::per_round(rounds, |r| times[layered][r] - times[noop][r] - times[validate][r]),
        "cache_hit_over_bare_ns": rounds::per_round(rounds, |r| times[hit][r] - times[bare][r]),
        "rounds": rounds,
    });
    rounds::save("paired_layer.json", &out);
}

criterion_group! {
    name = benches;
    config = rounds::config(4, 100);
    targets = layer_overhead, paired
}

/// `LAYER_BENCH_ONLY=<contender> LAYER_BENCH_N=<n>` runs one contender `n`
/// times and exits, for instruction counts under callgrind
/// (`benches/instructions.sh`); otherwise the criterion benches run.
fn main() {
    if let Ok(only) = std::env::var("LAYER_BENCH_ONLY") {
        let n = std::env::var("LAYER_BENCH_N").map_or(1000, |n| n.parse().unwrap());
        let runs = contenders();
        let (_, run) = runs
            .iter()
            .find(|(name, _)| *name == only)
            .expect("a contender name");
        run(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
