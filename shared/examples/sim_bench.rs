//! Benchmark (not a test): how long the discrete-event simulator takes for 10,000 requests at
//! concurrency 256, and the explorer's ranking of every GPU configuration for one model.
//! Run with `cargo run --release -p jauge --example sim_bench`.

// A benchmark needs a clock; the library it measures still takes none (shared/clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use jauge::catalogue::Catalogue;
use jauge::sim::simulate;
use jauge::sizing::{size, SizingRequest};

fn median_ms(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() {
    let cat = Catalogue::builtin();
    let (engine, load) =
        jauge::sim::benchmark_workload().expect("the catalogue has the benchmark's model and GPU");
    let sim = median_ms(
        || {
            let (records, _) = simulate(&engine, &load);
            assert_eq!(records.len(), 10_000);
        },
        5,
    );
    println!(
        "simulate 10,000 requests at concurrency 256: {sim:.1} ms (goal < 100 ms: ratio {:.2})",
        sim / 100.0
    );
    let model = cat.model("mixtral-8x7b-v0.1").unwrap();
    let ranking = median_ms(
        || {
            for gpu in &cat.gpus {
                for gpus in [1, 2, 4, 8] {
                    let _ = size(&SizingRequest {
                        gpu_count: gpus,
                        ..SizingRequest::new(model, gpu)
                    });
                }
            }
        },
        9,
    );
    println!("size every catalogue GPU × {{1, 2, 4, 8}} for one model: {ranking:.2} ms (goal < 50 ms: ratio {:.3})", ranking / 50.0);
}
