//! The `metrics` example's routes on a real socket: after a few requests
//! (accepted, refused, a DPoP-free API), `/metrics` holds every metric of
//! the README's table, with the counts those requests make; `/ready`
//! follows the key store.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/metrics.rs"]
mod example;

mod common;

use common::serve;
use jwt_gate::Validator;
use jwt_gate::testing::{IssuerMode, TestIssuer};
use metrics_exporter_prometheus::PrometheusBuilder;

const AUD: &str = "api://orders";

/// The metric names of the README's table.
fn documented() -> Vec<String> {
    let readme = include_str!("../README.md");
    let table = readme
        .split("## Metrics and readiness")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README's metrics section");
    let names: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `jwt_gate_"))
        .map(|rest| format!("jwt_gate_{}", rest.split('`').next().unwrap()))
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    names
}

/// The value of the sample `name{labels}` in Prometheus' text format.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_example_exports_every_documented_metric() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .build()
        .unwrap();
    let base = serve(example::app(example::Observed {
        validator: validator.clone(),
        prometheus,
    }))
    .await;
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        async move { req.send().await.unwrap() }
    };

    assert_eq!(
        get("/ready", None).await.status(),
        503,
        "no keys before the first fetch"
    );
    let good = issuer.token().audience(AUD).sign();
    for _ in 0..3 {
        assert_eq!(get("/claims", Some(&good)).await.status(), 200);
    }
    let expired = issuer
        .token()
        .audience(AUD)
        .expired_since(std::time::Duration::from_secs(600))
        .sign();
    assert_eq!(get("/claims", Some(&expired)).await.status(), 401);
    assert_eq!(get("/claims", Some("not.a.token")).await.status(), 401);
    assert_eq!(get("/claims", None).await.status(), 401);
    let ready = get("/ready", None).await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
    assert_eq!(body["ready"], true);

    let text = get("/metrics", None).await.text().await.unwrap();
    for name in documented() {
        assert!(
            text.lines().any(|l| l.starts_with(&name)),
            "{name} missing from /metrics:\n{text}"
        );
    }
    let accepted = r#"jwt_gate_validations_total{outcome="accepted",error="none"}"#;
    assert_eq!(sample(&text, accepted), Some(3.0), "{text}");
    for error in ["expired", "malformed_token", "missing_token"] {
        let series = format!(r#"jwt_gate_validations_total{{outcome="rejected",error="{error}"}}"#);
        assert_eq!(sample(&text, &series), Some(1.0), "{series}\n{text}");
    }
    assert_eq!(sample(&text, "jwt_gate_token_cache_hits_total"), Some(2.0));
    assert_eq!(sample(&text, "jwt_gate_keys_loaded"), Some(1.0));
    assert_eq!(
        sample(&text, r#"jwt_gate_key_fetches_total{result="ok"}"#),
        Some(1.0)
    );
    assert!(!text.contains(&good), "no token in the metrics");

    // The IdP down and a refresh failing: counted by kind, still ready
    // (stale keys validate), then the gauges say stale.
    issuer.set_mode(IssuerMode::Status(500));
    assert!(validator.refresh().await.is_err());
    let text = get("/metrics", None).await.text().await.unwrap();
    assert_eq!(
        sample(&text, r#"jwt_gate_key_fetches_total{result="status"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&text, "jwt_gate_keys_stale"), Some(1.0));
    assert_eq!(get("/ready", None).await.status(), 200);
}
