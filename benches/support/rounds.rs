//! What the benches share: contenders that run `n` times, their criterion
//! registration, interleaved rounds, and the result file for
//! `benches/report.py`.
#![allow(dead_code)]

use std::time::Instant;

use criterion::Criterion;

/// A contender: validates (or verifies) the same token `n` times per call.
pub(crate) type Run = Box<dyn Fn(u64)>;

/// Wraps a closure that validates once into a [`Run`].
pub(crate) fn times(f: impl Fn() + 'static) -> Run {
    Box::new(move |n| {
        for _ in 0..n {
            f();
        }
    })
}

/// The criterion settings every bench uses (measurement time per function).
pub(crate) fn config(measurement_secs: u64, sample_size: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(measurement_secs))
        .sample_size(sample_size)
}

/// `true` under `cargo bench`, `false` in test mode (`cargo test --benches`).
pub(crate) fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Registers every contender as a criterion function of `group`.
pub(crate) fn bench_group<S: AsRef<str>>(c: &mut Criterion, group: &str, runs: &[(S, Run)]) {
    let mut group = c.benchmark_group(group);
    for (name, run) in runs {
        group.bench_function(name.as_ref(), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                run(iters);
                started.elapsed()
            })
        });
    }
    group.finish();
}

/// Interleaved rounds: per round, ~2 ms of every contender back to back,
/// in alternating order.
/// Returns, per contender, its time per call (ns) in each round. On a shared
/// VM whose speed drifts over seconds, ratios taken per round are far
/// steadier than ratios of separately measured medians.
pub(crate) fn interleave<S>(runs: &[(S, Run)], rounds: usize) -> Vec<Vec<f64>> {
    let per_slice: Vec<u64> = runs
        .iter()
        .map(|(_, run)| {
            let started = Instant::now();
            run(20);
            ((0.002 / (started.elapsed().as_secs_f64() / 20.0)).ceil() as u64).max(1)
        })
        .collect();
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for round in 0..rounds {
        // Forwards, then backwards: no contender always runs right after
        // the same neighbour, or first in the round.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..runs.len()).collect()
        } else {
            (0..runs.len()).rev().collect()
        };
        for i in order {
            let started = Instant::now();
            runs[i].1(per_slice[i]);
            times[i].push(started.elapsed().as_secs_f64() * 1e9 / per_slice[i] as f64);
        }
    }
    times
}

/// The median of `v`.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The median over rounds of `f(round)`.
pub(crate) fn per_round(rounds: usize, f: impl Fn(usize) -> f64) -> f64 {
    median((0..rounds).map(f).collect())
}

/// Prints `value` and writes it to `target/criterion/<file>` (full runs only).
pub(crate) fn save(file: &str, value: &serde_json::Value) {
    if !full() {
        return;
    }
    println!("{file}: {value}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        format!("{dir}/{file}"),
        serde_json::to_string_pretty(value).unwrap(),
    )
    .unwrap();
}
