//! What the load generator costs: `jauge run` against the tick server (tokens at exact 10 ms
//! intervals) at 256, 1,024 and 2,048 streams, printing the throughput it achieved against
//! the ideal, the inter-token latency it added over the server's own, and its CPU seconds per
//! thousand tokens. Figures, not pass/fail: the targets are printed beside them.
//!
//! `cargo bench -p jauge-runner --bench client [-- --streams 256,1024 --output-tokens 200]`

use std::process::Command;
use std::time::Duration;

use jauge::dataset::Dataset;
use jauge_runner::tick_server::TickServer;

const ITL_MS: f64 = 10.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let streams = flag("--streams").unwrap_or_else(|| "256,1024,2048".into());
    let output_tokens = flag("--output-tokens").unwrap_or_else(|| "200".into());
    let most: u32 = streams
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .max()
        .unwrap_or(1);
    // The server holds a socket per stream too.
    jauge_runner::capacity::ensure(most, 4096, "--streams")?;
    let server = TickServer::start(0, Duration::from_secs_f64(ITL_MS / 1000.0))?;
    let dir = std::env::temp_dir().join(format!("jauge-client-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("client.json");
    println!(
        "client benchmark: jauge run against a server sending one token every {ITL_MS} ms, \
         {output_tokens} tokens per answer, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let status = Command::new(env!("CARGO_BIN_EXE_jauge"))
        .args(["run", "--url", &server.url(), "--quiet", "--no-gpu"])
        .args(["--no-server-metrics", "--full-grid", "--warmup", "0"])
        .args(["--concurrency", &streams, "--prompt-tokens", "16"])
        .args(["--output-tokens", &output_tokens, "--timeout", "120s"])
        .arg("--out")
        .arg(&out)
        .status()?;
    server.stop();
    if !status.success() {
        return Err(format!("jauge run failed ({status})").into());
    }
    let dataset = Dataset::from_json(&std::fs::read_to_string(&out)?)?;
    println!(
        "\n{:>8} {:>12} {:>10} {:>12} {:>12} {:>14} {:>8}",
        "streams", "tok/s", "of ideal", "ITL p50 +ms", "ITL p99 +ms", "CPU s/1k tok", "client"
    );
    for step in &dataset.steps {
        let ideal = f64::from(step.concurrency) * 1000.0 / ITL_MS;
        let achieved = step.throughput.output_tok_s.unwrap_or(0.0);
        let itl = step.latency.itl_ms.as_ref();
        let added = |p: Option<f64>| p.map_or("—".into(), |v| format!("{:.1}", v - ITL_MS));
        let cpu = step
            .client
            .and_then(|c| c.cpu_pct)
            .filter(|_| achieved > 0.0)
            .map_or("—".into(), |pct| {
                format!("{:.3}", pct / 100.0 * 1000.0 / achieved)
            });
        let bound = step.client.is_some_and(|c| c.client_bound);
        println!(
            "{:>8} {:>12.0} {:>9.1}% {:>12} {:>12} {:>14} {:>8}",
            step.concurrency,
            achieved,
            100.0 * achieved / ideal,
            added(itl.and_then(|s| s.p50)),
            added(itl.and_then(|s| s.p99)),
            cpu,
            if bound { "bound" } else { "ok" }
        );
    }
    println!(
        "\ntargets on 2 cores: ≥ 97 % of ideal and ITL p99 ≤ 15 ms at 1,024 streams; ≥ 95 % and ≤ 20 ms at 2,048"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
