//! What is measured beside the requests during each step: the GPUs (NVML), the server's
//! `/metrics`, and the load generator itself (CPU, send lag).

use std::time::{Duration, Instant};

use jauge::dataset::{ClientAudit, Step};
use jauge::stats::Histogram;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::gpu::{self, Sampler};
use crate::metrics::{self, Snapshot};
use crate::record::RequestRecord;

/// The run's telemetry sources.
pub struct Telemetry {
    /// The clock every reading is timed on.
    pub origin: Instant,
    /// The GPU sampler, when NVML works.
    pub sampler: Option<Sampler>,
    /// Where the server's metrics are, when it has any jauge knows.
    pub metrics_url: Option<String>,
    /// Most bytes read of one scrape.
    metrics_limit: u64,
    http: reqwest::Client,
}

/// What a step's telemetry started with.
pub struct StepProbe {
    started_s: f64,
    cpu_before_s: Option<f64>,
    server_before: Option<Snapshot>,
    scraper: Option<(watch::Sender<bool>, JoinHandle<Vec<Snapshot>>)>,
    lag: (watch::Sender<bool>, JoinHandle<Histogram>),
}

/// How often the lag probe asks to be woken.
const LAG_PERIOD: Duration = Duration::from_millis(5);

/// A token read later than this by the client's own event loop breaks the budget a load
/// generator may add to a 10 ms inter-token latency.
const LAG_BOUND_MS: f64 = 5.0;

/// Asks to be woken every [`LAG_PERIOD`] until told to stop, and records how late each wake
/// came: a busy event loop reads every stream that late.
async fn loop_lag(mut stop: watch::Receiver<bool>) -> Histogram {
    let mut lateness = Histogram::new();
    loop {
        let due = tokio::time::Instant::now() + LAG_PERIOD;
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {
                let late = tokio::time::Instant::now().saturating_duration_since(due);
                lateness.record(late.as_secs_f64() * 1000.0);
            }
            _ = stop.changed() => return lateness,
        }
    }
}

impl Telemetry {
    /// Telemetry from these sources.
    pub fn new(
        origin: Instant,
        sampler: Option<Sampler>,
        metrics_url: Option<String>,
        metrics_limit: u64,
        http: reqwest::Client,
    ) -> Telemetry {
        Telemetry {
            origin,
            sampler,
            metrics_url,
            metrics_limit,
            http,
        }
    }

    /// Seconds on the run's clock.
    pub fn now_s(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    /// Mean power of each GPU over `duration` with no load, before the sweep.
    pub async fn idle_power(&self, duration: Duration) -> Vec<f64> {
        let Some(sampler) = &self.sampler else {
            return Vec::new();
        };
        let from = self.now_s();
        tokio::time::sleep(duration).await;
        gpu::idle_power(&sampler.window(from, self.now_s()))
    }

    /// Starts watching a step: scrapes `/metrics` once now and then every second.
    pub async fn begin_step(&self) -> StepProbe {
        let (server_before, scraper) = match &self.metrics_url {
            Some(url) => {
                let before = metrics::scrape(&self.http, url, self.metrics_limit)
                    .await
                    .ok();
                let (stop, stopped) = watch::channel(false);
                let task = tokio::spawn(metrics::scrape_until(
                    self.http.clone(),
                    url.clone(),
                    self.metrics_limit,
                    Duration::from_secs(1),
                    stopped,
                ));
                (before, Some((stop, task)))
            }
            None => (None, None),
        };
        let (stop_lag, lag_stopped) = watch::channel(false);
        StepProbe {
            started_s: self.now_s(),
            cpu_before_s: process_cpu_s(),
            server_before,
            scraper,
            lag: (stop_lag, tokio::spawn(loop_lag(lag_stopped))),
        }
    }

    /// Ends a step's watch and fills its GPU, server, energy and client figures.
    pub async fn end_step(&self, probe: StepProbe, step: &mut Step, records: &[RequestRecord]) {
        let ended_s = self.now_s();
        if let Some(sampler) = &self.sampler {
            let uuids: Vec<(u32, String)> = sampler
                .devices
                .gpus
                .iter()
                .map(|g| (g.index, g.uuid.clone()))
                .collect();
            let gpus = gpu::summarise(&sampler.window(probe.started_s, ended_s), &uuids);
            let energy: Option<f64> = gpus.iter().map(|g| g.energy_j).sum();
            let tokens =
                step.throughput.output_tok_s.unwrap_or(0.0) * step.duration_s.unwrap_or(0.0);
            step.energy_j_per_output_token = energy.filter(|_| tokens > 0.0).map(|e| e / tokens);
            step.gpu = (!gpus.is_empty()).then_some(gpus);
        }
        if let Some((stop, task)) = probe.scraper {
            let _ = stop.send(true);
            let snapshots = task.await.unwrap_or_default();
            step.server = metrics::summarise(probe.server_before.as_ref(), &snapshots);
        }
        let (stop_lag, lag) = probe.lag;
        let _ = stop_lag.send(true);
        let lag_ms_p99 = lag.await.ok().and_then(|h| h.quantile(0.99));
        step.client = Some(audit(
            probe.cpu_before_s,
            process_cpu_s(),
            ended_s - probe.started_s,
            lag_ms_p99,
            records,
        ));
    }
}

/// The client's own load over a step.
fn audit(
    cpu_before: Option<f64>,
    cpu_after: Option<f64>,
    wall_s: f64,
    loop_lag_ms_p99: Option<f64>,
    records: &[RequestRecord],
) -> ClientAudit {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let cpu_pct = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if wall_s > 0.0 => Some(((b - a) / wall_s * 100.0).max(0.0)),
        _ => None,
    };
    let lags: Vec<f64> = records
        .iter()
        .filter(|r| !r.warmup)
        .map(|r| (r.sent_ms - r.intended_ms).max(0.0))
        .collect();
    let send_lag_ms_mean = if lags.is_empty() {
        0.0
    } else {
        lags.iter().sum::<f64>() / lags.len() as f64
    };
    let send_lag_ms_max = lags.iter().copied().fold(0.0, f64::max);
    // Above 85 % of every core, sends 50 ms late on average, or reads late: the client's
    // numbers are suspect.
    let cpu_bound = cpu_pct.is_some_and(|p| p > 85.0 * f64::from(cores));
    let reads_late = loop_lag_ms_p99.is_some_and(|l| l > LAG_BOUND_MS);
    ClientAudit {
        cpu_pct,
        cores,
        send_lag_ms_mean,
        send_lag_ms_max,
        loop_lag_ms_p99,
        client_bound: cpu_bound || send_lag_ms_mean > 50.0 || reads_late,
    }
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat` on Linux.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of 1/100 s (USER_HZ) on every architecture jauge runs on.
    Some((utime + stime) / 100.0)
}

/// The catalogue id of a GPU from the name NVML gives it, when jauge knows it.
pub fn catalogue_gpu_id(nvml_name: &str) -> Option<&'static str> {
    let n = nvml_name.to_ascii_lowercase();
    let has = |s: &str| n.contains(s);
    Some(if has("h200") {
        "h200"
    } else if has("h100") && has("nvl") {
        // 94 GB, not the 80 GB PCIe part.
        return None;
    } else if has("h100") && has("pcie") {
        "h100-pcie"
    } else if has("h100") {
        "h100-80gb"
    } else if has("a100") && has("80") {
        "a100-80gb"
    } else if has("a100") {
        "a100-40gb"
    } else if has("v100") && has("32") {
        "v100-32gb"
    } else if has("v100") {
        "v100-16gb"
    } else if has("l40s") {
        "l40s"
    } else if has(" l4") || n.ends_with("l4") {
        "l4"
    } else if has("a10g") {
        // AWS's variant: the A10's memory, not its tensor throughput.
        "a10g"
    } else if has("a10") && !has("a100") {
        "a10"
    } else if has(" t4") || n.ends_with("t4") {
        "t4"
    } else if has("4090") {
        "rtx-4090"
    } else if has("3090") {
        "rtx-3090"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvml_names_map_to_catalogue_ids() {
        for (name, id) in [
            ("NVIDIA H100 80GB HBM3", Some("h100-80gb")),
            ("NVIDIA H100 PCIe", Some("h100-pcie")),
            ("NVIDIA H200", Some("h200")),
            ("NVIDIA A100-SXM4-40GB", Some("a100-40gb")),
            ("NVIDIA A100-SXM4-80GB", Some("a100-80gb")),
            ("Tesla V100-SXM2-16GB", Some("v100-16gb")),
            ("Tesla V100-SXM2-32GB", Some("v100-32gb")),
            ("NVIDIA L40S", Some("l40s")),
            ("NVIDIA L4", Some("l4")),
            ("NVIDIA A10", Some("a10")),
            ("NVIDIA A10G", Some("a10g")),
            ("Tesla T4", Some("t4")),
            ("NVIDIA H100 NVL", None),
            ("NVIDIA GeForce RTX 4090", Some("rtx-4090")),
            ("NVIDIA B200", None),
        ] {
            assert_eq!(catalogue_gpu_id(name), id, "{name}");
        }
    }

    #[test]
    fn the_client_audit_flags_late_sends() {
        let mut r = crate::record::RequestRecord {
            concurrency: 1,
            prompt_tokens: 1,
            index: 0,
            warmup: false,
            intended_ms: 0.0,
            sent_ms: 120.0,
            first_token_ms: None,
            first_answer_ms: None,
            reasoning_chunks: 0,
            end_ms: 200.0,
            gaps_ms: vec![],
            chunks: 0,
            usage_prompt_tokens: None,
            usage_output_tokens: None,
            error: None,
            error_message: None,
            interrupted: false,
            answer_text: None,
        };
        let a = audit(
            Some(1.0),
            Some(1.5),
            1.0,
            Some(0.5),
            std::slice::from_ref(&r),
        );
        assert_eq!(a.cpu_pct, Some(50.0));
        assert_eq!((a.send_lag_ms_mean, a.client_bound), (120.0, true));
        r.sent_ms = 1.0;
        assert!(
            !audit(
                Some(1.0),
                Some(1.1),
                1.0,
                Some(0.5),
                std::slice::from_ref(&r)
            )
            .client_bound
        );
        // An event loop waking 8 ms late reads every token that late.
        assert!(audit(Some(1.0), Some(1.1), 1.0, Some(8.0), &[r]).client_bound);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        assert!(process_cpu_s().is_some_and(|s| s >= 0.0));
    }
}
