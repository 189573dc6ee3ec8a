//! `jauge simulate`: the discrete-event simulator over a grid, written as a `simulated`
//! dataset with the same schema as a measured run.

use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use crate::secrets::redact_args;
use jauge::catalogue::Catalogue;
use jauge::dataset::{
    Dataset, Deployment, Endpoint, Engine, EngineSettings, GpuInfo, Limit, LimitReason, ModelInfo,
    Provenance, RunStatus, Source, Workload, SCHEMA_V1,
};
use jauge::objectives::Slo;
use jauge::sim::{simulate_step_with, SimLoad};
use jauge::sizing::size;

use crate::cli::SimulateArgs;
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::size::with_request;
use crate::summary;

/// Runs `jauge simulate`.
pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    for (flag, values) in [
        ("--concurrency", &args.concurrency),
        ("--prompt-tokens", &args.prompt_tokens),
    ] {
        if values.is_empty() || values.contains(&0) || values.windows(2).any(|w| w[1] <= w[0]) {
            return Err(bad_input(format!(
                "{flag}: {values:?} must be whole numbers above 0, increasing"
            )));
        }
    }
    if args.output_tokens == 0 {
        return Err(bad_input("--output-tokens: at least 1"));
    }
    let slo = Slo {
        ttft_ms: args.slo_ttft_ms,
        tpot_ms: args.slo_tpot_ms,
    };
    let calibration = match &args.calibration {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad_input(format!(
                    "--calibration {}: cannot read it: {e}",
                    path.display()
                ))
            })?;
            Some(
                jauge::calibrate::Calibration::from_json(&text)
                    .map_err(|e| bad_input(format!("--calibration {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let started = Instant::now();
    let dataset = with_request(
        &args.deployment,
        None,
        |request| -> anyhow::Result<Dataset> {
            let sizing = size(request).map_err(|e| bad_input(e.to_string()))?;
            let calibrated = calibration
                .as_ref()
                .and_then(|c| c.efficiency_for(&request.gpu.id, &sizing.quant));
            if calibration.is_some() && calibrated.is_none() {
                return Err(bad_input(format!(
                    "--calibration has no entry for {} with {}",
                    request.gpu.id, sizing.quant
                )));
            }
            let grid = SimGrid {
                concurrency: &args.concurrency,
                prompt_tokens: &args.prompt_tokens,
                output_tokens: args.output_tokens,
                requests_per_step: args.requests_per_step,
                slo,
                seed: args.seed,
            };
            simulated_dataset(request, &grid, calibrated).map_err(|e| bad_input(e.to_string()))
        },
    )??;
    let elapsed = started.elapsed();
    if let Some(out) = &args.out {
        write_atomic(out, &dataset.to_json())?;
    }
    if args.json {
        print!("{}", dataset.to_json());
    } else {
        print!("{}", summary::table(&dataset));
        eprintln!(
            "simulated {} steps in {:.0} ms{}",
            dataset.steps.len(),
            elapsed.as_secs_f64() * 1000.0,
            args.out
                .as_ref()
                .map(|o| format!("; dataset: {}", o.display()))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The grid of a simulated dataset.
pub struct SimGrid<'a> {
    /// Users, increasing.
    pub concurrency: &'a [u32],
    /// Prompt sizes, increasing.
    pub prompt_tokens: &'a [u32],
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Requests per step (default: 4 per user, at least 32).
    pub requests_per_step: Option<u32>,
    /// Objectives for the limits and goodput.
    pub slo: Slo,
    /// Seed of the arrivals.
    pub seed: u64,
}

/// A `simulated` dataset of the grid for this deployment: every step simulated, each row's
/// limit the most users meeting the objectives on the grid.
pub fn simulated_dataset(
    request: &jauge::sizing::SizingRequest<'_>,
    grid: &SimGrid<'_>,
    calibrated: Option<jauge::perf::Efficiency>,
) -> Result<Dataset, jauge::SizingError> {
    let sizing = size(request)?;
    let slo = grid.slo;
    let efficiency = calibrated.unwrap_or_default();
    let mut steps = Vec::new();
    let mut limits = Vec::new();
    for &prompt in grid.prompt_tokens {
        if u64::from(prompt) + u64::from(grid.output_tokens) > u64::from(sizing.max_model_len) {
            limits.push(Limit {
                prompt_tokens: prompt,
                max_concurrency_ok: None,
                stopped_at_concurrency: None,
                reason: LimitReason::ContextLength,
                detail: Some(format!(
                    "{prompt} prompt + {} output tokens exceed max_model_len {}",
                    grid.output_tokens, sizing.max_model_len
                )),
            });
            continue;
        }
        let mut held = None;
        let mut broke = None;
        for &concurrency in grid.concurrency {
            let load = SimLoad {
                concurrency,
                prompt_tokens: prompt,
                output_tokens: grid.output_tokens,
                requests: grid.requests_per_step.unwrap_or((4 * concurrency).max(32)),
                rate_rps: None,
                seed: grid.seed,
            };
            let (step, _) = simulate_step_with(request, &load, slo, efficiency)?;
            let meets = |s: Option<jauge::dataset::Summary>, limit: Option<f64>| match (s, limit) {
                (Some(s), Some(l)) => s.p95 <= l,
                _ => true,
            };
            let ok = meets(step.latency.ttft_ms, slo.ttft_ms)
                && meets(step.latency.tpot_ms, slo.tpot_ms);
            if ok && broke.is_none() {
                held = Some(concurrency);
            } else if !ok && broke.is_none() {
                broke = Some(concurrency);
            }
            steps.push(step);
        }
        let with_slo = slo.ttft_ms.is_some() || slo.tpot_ms.is_some();
        limits.push(Limit {
            prompt_tokens: prompt,
            max_concurrency_ok: held,
            stopped_at_concurrency: broke,
            reason: if broke.is_some() {
                if slo.ttft_ms.is_some() {
                    LimitReason::SloTtft
                } else {
                    LimitReason::SloTpot
                }
            } else {
                LimitReason::GridEnd
            },
            detail: Some(if with_slo {
                format!(
                    "simulated: the most users whose TTFT/TPOT p95 meet the objectives: {}",
                    held.map_or("none".into(), |c| c.to_string())
                )
            } else {
                "simulated over the whole grid".to_string()
            }),
        });
    }
    let cat = Catalogue::builtin();
    let model = request.model;
    Ok(Dataset {
    schema: SCHEMA_V1.to_string(),
    source: Source::Simulated,
    provenance: Provenance {
tool: "jauge".into(),
tool_version: jauge::VERSION.into(),
created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
command_line: redact_args(std::env::args()),
    },
    deployment: Deployment {
model: ModelInfo {
    served_name: model.hf_repos.first().cloned().unwrap_or_else(|| model.id.clone()),
    catalogue_id: cat.model(&model.id).ok().map(|m| m.id.clone()),
    hf_repo: model.hf_repos.first().cloned(),
},
quantization: sizing.quant.clone(),
kv_cache_dtype: sizing.kv_cache_dtype.clone(),
engine: Engine {
    name: "jauge-sim".into(),
    version: Some(jauge::VERSION.into()),
    settings: EngineSettings {
        max_model_len: Some(sizing.max_model_len),
        gpu_memory_utilization: Some(request.gpu_memory_utilization),
        tensor_parallel_size: Some(request.gpu_count),
        max_num_seqs: Some(sizing.max_num_seqs),
        max_num_batched_tokens: Some(sizing.max_num_batched_tokens),
        block_size: Some(sizing.block_size),
        ..EngineSettings::default()
    },
},
gpus: GpuInfo {
    name: request.gpu.name.clone(),
    catalogue_id: Some(request.gpu.id.clone()),
    count: request.gpu_count,
    memory_mib: Some((request.gpu.memory_gib * 1024.0).round() as u64),
    driver_version: None,
    cuda_version: None,
},
    },
    workload: Workload {
endpoint: Endpoint::Completions,
concurrency: grid.concurrency.to_vec(),
prompt_tokens: grid.prompt_tokens.to_vec(),
output_tokens: grid.output_tokens,
requests_per_step: grid.requests_per_step,
duration_per_step_s: None,
warmup_requests: 0,
rate_rps: None,
arrival: None,
timeout_s: None,
shared_prefix_tokens: None,
slo_ttft_ms: slo.ttft_ms,
slo_tpot_ms: slo.tpot_ms,
max_error_rate: None,
min_throughput_gain: None,
    },
    status: RunStatus::Complete,
    gpu_telemetry: None,
    steps,
    limits,
    context_limits: Vec::new(),
    notes: vec![format!(
"Simulated by jauge's discrete-event simulator (continuous batching over {} KV-cache tokens, first-order roofline step times, {}); not a measurement.",
sizing.kv_cache_tokens,
if calibrated.is_some() { "calibrated efficiency factors" } else { "default efficiency factors" }
    )],
})
}
