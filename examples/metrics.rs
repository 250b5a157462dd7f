//! A resource server with its numbers on a dashboard: jwt-gate's metrics
//! (feature `metrics`) exported for Prometheus by
//! `metrics-exporter-prometheus` on `GET /metrics`, and a readiness probe
//! on `GET /ready` built on `Validator::status()`.
//!
//! ```text
//! cargo run --example metrics                      # a test issuer on loopback
//! cargo run --example metrics -- --issuer https://auth.example.com/ --audience api://orders
//! curl localhost:3000/ready; curl localhost:3000/metrics
//! ```
//!
//! Takes the `validate` example's key and rule flags, and `--listen ADDR`
//! (default `127.0.0.1:3000`). `GET /claims` needs a valid token; `/ready`
//! and `/metrics` do not (a probe and a scraper carry none).

#[path = "support/flags.rs"]
mod flags;

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use flags::KeyFlags;
use jwt_gate::{Claims, JwtAuthLayer, Validator};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{Value, json};

/// What the probe and the scraper read.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // the Prometheus handle has no Debug
pub struct Observed {
    /// The validator behind `/claims`, whose state `/ready` and `/metrics` show.
    pub validator: Validator,
    /// Renders what the recorder holds.
    pub prometheus: PrometheusHandle,
}

/// The routes: `/claims` behind the layer; `/ready` and `/metrics` open.
pub fn app(observed: Observed) -> Router {
    let protected = Router::new()
        .route("/claims", get(claims))
        .layer(JwtAuthLayer::new(observed.validator.clone()).claims::<Value>());
    Router::new()
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(observed)
        .merge(protected)
}

async fn claims(claims: Claims<Value>) -> Json<Value> {
    Json(claims.custom().clone())
}

/// Ready once signing keys are held (restored from a snapshot counts:
/// they validate tokens). 503 with the key store's state otherwise, so an
/// orchestrator keeps traffic away from an instance that would answer 503.
async fn ready(State(observed): State<Observed>) -> (StatusCode, Json<Value>) {
    let status = observed.validator.status();
    let code = if status.keys_loaded {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": status.keys_loaded,
        "keys": status.key_count,
        "age_s": status.age.map(|a| a.as_secs()),
        "stale": status.stale,
        "restored": status.restored,
        "last_error": status.last_error,
    });
    (code, Json(body))
}

/// The request counters and the validator's state handed to the recorder,
/// then everything rendered in Prometheus' text format.
async fn metrics(State(observed): State<Observed>) -> String {
    observed.validator.record_metrics();
    observed.prometheus.render()
}

fn usage() -> String {
    format!("usage: metrics [{}] [--listen ADDR]", flags::SHARED)
}

#[allow(dead_code)] // a test includes this file and calls `app` alone
fn main() -> ExitCode {
    let mut keys = KeyFlags::default();
    let mut listen: SocketAddr = ([127, 0, 0, 1], 3000).into();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let taken = match flag.as_str() {
            "--listen" => match args.next().and_then(|a| a.parse().ok()) {
                Some(addr) => {
                    listen = addr;
                    Ok(true)
                }
                None => Err(flags::BadFlag("--listen needs HOST:PORT".into())),
            },
            _ => keys.take(&flag, &mut args),
        };
        match taken {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("unknown flag {flag}\n{}", usage());
                return ExitCode::from(2);
            }
            Err(why) => {
                eprintln!("{why}\n{}", usage());
                return ExitCode::from(2);
            }
        }
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(serve(keys, listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}

#[allow(dead_code)]
async fn serve(mut keys: KeyFlags, listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    // The recorder first: metrics recorded before it exists are lost.
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    // Without a key source, a test issuer on loopback stands in for your IdP.
    let local = keys.or_local_issuer().await?;
    let validator = keys.into_builder()?.build()?;
    let app = app(Observed {
        validator,
        prometheus,
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    if let Some(local) = &local {
        let token = local.token().audience("api://orders").sign();
        println!("try: curl -H 'Authorization: Bearer {token}' http://{addr}/claims");
        println!("     curl http://{addr}/metrics");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
