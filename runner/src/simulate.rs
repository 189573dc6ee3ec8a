//! `jauge simulate`: the discrete-event simulator over a grid, written as a `simulated`
//! dataset with the same schema as a measured run.

use std::process::ExitCode;
use std::time::Instant;

use jauge::catalogue::Catalogue;
use jauge::dataset::{
    Dataset, Deployment, Endpoint, Engine, GpuInfo, Limit, LimitReason, ModelInfo, RunStatus,
    Source, Workload, SCHEMA,
};
use jauge::deployment::engine_settings;
use jauge::objectives::{judge, Percentile, Rules, Slo};
use jauge::search::UsersSearch;
use jauge::sim::{simulate_step_with, SimLoad};
use jauge::sizing::size;

use crate::cli::SimulateArgs;
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::plan::{check_increasing, check_prompt_tokens};
use crate::size::with_request;
use crate::summary;

/// Runs `jauge simulate`.
pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    check_increasing("--concurrency", &args.concurrency)?;
    check_increasing("--prompt-tokens", &args.prompt_tokens)?;
    if let Some(&longest) = args.prompt_tokens.last() {
        check_prompt_tokens("--prompt-tokens", longest)?;
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
        args.legacy_model.as_ref(),
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
        // Judged as every other grid is: the objectives at p95, the first breach ends what held.
        let rules = Rules::objectives(slo, Percentile::P95);
        let mut found = UsersSearch::new(u32::MAX);
        for &concurrency in grid.concurrency {
            let load = SimLoad {
                concurrency,
                prompt_tokens: prompt,
                output_tokens: grid.output_tokens,
                requests: grid
                    .requests_per_step
                    .unwrap_or(concurrency.saturating_mul(4).max(32)),
                rate_rps: None,
                seed: grid.seed,
            };
            let (step, _) = simulate_step_with(request, &load, slo, efficiency)?;
            found.learn(concurrency, judge(&step, &rules, None));
            steps.push(step);
        }
        let (reason, broke, why) = found.outcome("the grid's last concurrency");
        limits.push(Limit {
            prompt_tokens: prompt,
            max_concurrency_ok: found.passed(),
            stopped_at_concurrency: broke,
            reason,
            detail: Some(if slo.any() {
                format!(
                    "simulated: the most users whose TTFT/TPOT p95 meet the objectives: {} ({why})",
                    found.passed().map_or("none".into(), |c| c.to_string())
                )
            } else {
                "simulated over the whole grid".to_string()
            }),
        });
    }
    let cat = Catalogue::builtin();
    let model = request.model;
    Ok(Dataset {
        schema: SCHEMA.to_string(),
        source: Source::Simulated,
        provenance: crate::dataset_file::provenance(),
        deployment: Deployment {
            model: ModelInfo {
                served_name: model
                    .hf_repos
                    .first()
                    .cloned()
                    .unwrap_or_else(|| model.id.clone()),
                catalogue_id: cat.model(&model.id).ok().map(|m| m.id.clone()),
                hf_repo: model.hf_repos.first().cloned(),
            },
            quantization: sizing.quant.clone(),
            kv_cache_dtype: sizing.kv_cache_dtype.clone(),
            engine: Engine {
                name: "jauge-sim".into(),
                version: Some(jauge::VERSION.into()),
                settings: engine_settings(request, &sizing),
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
            lengths_from: None,
        },
        status: RunStatus::Complete,
        gpu_telemetry: None,
        steps,
        limits,
        context_limits: Vec::new(),
        notes: vec![simulated_note(sizing.kv_cache_tokens, calibrated.is_some())],
    })
}

/// What a simulated dataset says of itself.
fn simulated_note(kv_cache_tokens: u64, calibrated: bool) -> String {
    let factors = if calibrated {
        "calibrated efficiency factors"
    } else {
        "default efficiency factors"
    };
    format!(
        "Simulated by jauge's discrete-event simulator (continuous batching over {kv_cache_tokens} KV-cache tokens, first-order roofline step times, {factors}); not a measurement."
    )
}
