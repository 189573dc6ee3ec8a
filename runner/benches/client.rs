//! What the load generator costs: `jauge run` against the tick server (tokens at exact 10 ms
//! intervals) at 256, 1,024 and 2,048 streams, printing the throughput it achieved against
//! the ideal, the inter-token latency it added over the server's own, its CPU seconds per
//! thousand tokens, and how late the server itself wrote (on a machine both share, a server
//! that falls behind makes the client's figures partly the server's). Figures, not pass/fail:
//! the targets are printed beside them.
//!
//! `cargo bench -p jauge-runner --bench client [-- --streams 256,1024 --output-tokens 200]`

use std::process::Command;
use std::time::Duration;

use jauge::dataset::{Dataset, Step};
use jauge_runner::tick_server::{Lateness, TickServer};

const ITL_MS: f64 = 10.0;

/// Above this p99 lateness of its own writes, the server, not the client, is what limits.
const SERVER_LATE_MS: f64 = 2.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let streams: Vec<u32> = flag("--streams")
        .unwrap_or_else(|| "256,1024,2048".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--streams: a comma-separated list of stream counts ({e})"))?;
    let output_tokens = flag("--output-tokens").unwrap_or_else(|| "200".into());
    let most = streams.iter().copied().max().unwrap_or(1);
    // The server holds a socket per stream too.
    jauge_runner::capacity::ensure(most, 4096, "--streams")?;
    let server = TickServer::start(0, Duration::from_secs_f64(ITL_MS / 1000.0))?;
    let dir = std::env::temp_dir().join(format!("jauge-client-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!(
        "client benchmark: jauge run against a server sending one token every {ITL_MS} ms, \
         {output_tokens} tokens per answer, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // One `jauge run` per stream count, so that the server's lateness is that step's.
    let mut rows = Vec::new();
    for n in &streams {
        let out = dir.join(format!("client-{n}.json"));
        server.take_lateness();
        let status = Command::new(env!("CARGO_BIN_EXE_jauge"))
            .args(["run", "--url", &server.url(), "--quiet", "--no-gpu"])
            .args(["--no-server-metrics", "--full-grid", "--warmup", "0"])
            .args(["--concurrency", &n.to_string(), "--prompt-tokens", "16"])
            .args(["--output-tokens", &output_tokens, "--timeout", "120s"])
            .arg("--out")
            .arg(&out)
            .status()?;
        if !status.success() {
            server.stop();
            return Err(format!("jauge run at {n} streams failed ({status})").into());
        }
        let dataset = Dataset::from_json(&std::fs::read_to_string(&out)?)?;
        let lateness = server.take_lateness();
        rows.extend(
            dataset
                .steps
                .into_iter()
                .map(|step| (step, lateness.clone())),
        );
    }
    server.stop();
    println!(
        "\n{:>8} {:>10} {:>9} {:>12} {:>12} {:>13} {:>15} {:>8}",
        "streams",
        "tok/s",
        "of ideal",
        "ITL p50 +ms",
        "ITL p99 +ms",
        "CPU s/1k tok",
        "server late p99",
        "limit"
    );
    for (step, lateness) in &rows {
        print_row(step, lateness);
    }
    println!(
        "\ntargets on 2 cores: ≥ 97 % of ideal and ITL p99 ≤ 15 ms (+5) at 1,024 streams; ≥ 95 % \
         and ≤ 20 ms (+10) at 2,048. limit: `client` when jauge's audit flags itself \
         (client_bound), `server` when the server wrote its own tokens more than \
         {SERVER_LATE_MS} ms late at p99 (then the row measures both)"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn print_row(step: &Step, lateness: &Lateness) {
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
    let late = lateness.quantile_ms(0.99);
    let limit = match (
        step.client.is_some_and(|c| c.client_bound),
        late.is_some_and(|l| l > SERVER_LATE_MS),
    ) {
        (true, true) => "both",
        (true, false) => "client",
        (false, true) => "server",
        (false, false) => "none",
    };
    println!(
        "{:>8} {:>10.0} {:>8.1}% {:>12} {:>12} {:>13} {:>15} {:>8}",
        step.concurrency,
        achieved,
        100.0 * achieved / ideal,
        added(itl.and_then(|s| s.p50)),
        added(itl.and_then(|s| s.p99)),
        cpu,
        late.map_or("—".into(), |l| format!("{l:.2} ms")),
        limit
    );
}
