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

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::*;
use criterion::{Criterion, criterion_group};
use jwt_gate::{Algorithm, Claims, JwtAuthLayer, Validator};
use serde_json::json;
use tower::ServiceExt;

/// Runs a contender `n` times.
type Run = Box<dyn Fn(u64)>;

fn contenders() -> Vec<(&'static str, Run)> {
    let key = hmac_key(32);
    let token = sign_with(
        &key,
        Algorithm::HS256,
        Some("k1"),
        json!({"typ": "at+jwt"}),
        &claims_with(json!({"exp": 4_102_444_800u64})),
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
        .layer(JwtAuthLayer::<()>::new(validator.clone()));
    let layered_cached: Router = Router::new()
        .route("/orders", get(handler))
        .layer(JwtAuthLayer::<()>::new(cached));
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
    let runs = contenders();
    let mut group = c.benchmark_group("layer/HS256");
    for (name, run) in &runs {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                run(iters);
                started.elapsed()
            })
        });
    }
    group.finish();
}

/// Interleaved rounds, as in `benches/validate.rs`: per round, ~2 ms of each
/// contender back to back; the overhead is taken per round, then the median.
fn paired(_: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 200 } else { 1 };
    let runs = contenders();
    let per_slice: Vec<u64> = runs
        .iter()
        .map(|(_, run)| {
            let t = Instant::now();
            run(50);
            ((0.002 / (t.elapsed().as_secs_f64() / 50.0)).ceil() as u64).max(1)
        })
        .collect();
    let mut times = vec![Vec::new(); runs.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in runs.iter().enumerate() {
            let t = Instant::now();
            run(per_slice[i]);
            times[i].push(t.elapsed().as_secs_f64() * 1e9 / per_slice[i] as f64);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let overhead = median(
        (0..rounds)
            .map(|r| times[1][r] - times[0][r] - times[2][r])
            .collect(),
    );
    let own = median(
        (0..rounds)
            .map(|r| times[1][r] - times[3][r] - times[2][r])
            .collect(),
    );
    let out = json!({
        "median_ns": {
            "bare_router": median(times[0].clone()),
            "router_with_layer": median(times[1].clone()),
            "validator_validate": median(times[2].clone()),
            "router_with_noop_layer": median(times[3].clone()),
            "router_with_layer_cache_hit": median(times[4].clone()),
        },
        "layer_overhead_ns": overhead,
        "cache_hit_over_bare_ns": median((0..rounds).map(|r| times[4][r] - times[0][r]).collect()),
        "own_overhead_ns": own,
        "rounds": rounds,
    });
    if full {
        println!("paired/layer: {out}");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            format!("{dir}/paired_layer.json"),
            serde_json::to_string_pretty(&out).unwrap(),
        )
        .unwrap();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .sample_size(100)
}

criterion_group! {
    name = benches;
    config = config();
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
