//! `jauge simulate`: the discrete-event simulator over a grid, in the three modes benchmarks
//! use (closed loop, open loop at a rate, every request at once), written as a `simulated`
//! dataset with the same schema as a measured run.

use std::process::ExitCode;
use std::time::Instant;

use jauge::calibrate::Calibration;
use jauge::catalogue::Catalogue;
use jauge::dataset::{
    Arrival, Dataset, Deployment, Endpoint, Engine, GpuInfo, Limit, LimitReason, ModelInfo,
    RunStatus, Source, Workload, SCHEMA,
};
use jauge::deployment::engine_settings;
use jauge::objectives::{judge, Percentile, Rules, Slo};
use jauge::pacing::{step_seed, Pacing};
use jauge::perf::Runtime;
use jauge::search::UsersSearch;
use jauge::sim::{default_requests, simulate_step_with, Setup, SimLoad};
use jauge::sizing::{size, SizingRequest};

use crate::cli::SimulateArgs;
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::plan::{check_increasing, check_prompt_tokens};
use crate::size::with_request;
use crate::summary;

/// Requests of an open-loop or all-at-once step when none are asked for: vLLM bench serve's
/// `--num-prompts` default.
pub const OPEN_LOOP_REQUESTS: u32 = 1000;
/// Most requests one simulated step may send (a step's records are held in memory).
const MAX_REQUESTS: u32 = 1_000_000;

/// Closed-loop users when none are given.
const DEFAULT_CONCURRENCY: [u32; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// Runs `jauge simulate`.
pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let modes = Modes::of(args)?;
    check_increasing("--prompt-tokens", &args.prompt_tokens)?;
    if let Some(&longest) = args.prompt_tokens.last() {
        check_prompt_tokens("--prompt-tokens", longest)?;
    }
    if args.output_tokens == 0 {
        return Err(bad_input("--output-tokens: at least 1"));
    }
    if args.requests.is_some_and(|n| n == 0 || n > MAX_REQUESTS) {
        return Err(bad_input(format!(
            "--requests: between 1 and {MAX_REQUESTS}"
        )));
    }
    let slo = Slo {
        ttft_ms: args.slo_ttft_ms,
        tpot_ms: args.slo_tpot_ms,
    };
    let factors = FactorsFrom::of(args)?;
    let started = Instant::now();
    let dataset = with_request(
        &args.deployment,
        args.legacy_model.as_ref(),
        None,
        |request| -> anyhow::Result<Dataset> {
            // The release whose memory rules size the deployment runs its steps too.
            let release = Runtime::of_vllm(request.vllm_version, request.max_model_len);
            let runtime = Runtime {
                cuda_graphs: release.cuda_graphs && !args.enforce_eager,
                chunked_prefill: release.chunked_prefill && !args.no_chunked_prefill,
                ..release
            };
            let setup = Setup {
                efficiency: factors.calibration().map_or_else(Default::default, |c| {
                    c.efficiency_for(request, &runtime.engine)
                }),
                runtime,
            };
            let grid = SimGrid {
                modes: &modes,
                prompt_tokens: &args.prompt_tokens,
                output_tokens: args.output_tokens,
                requests: args.requests,
                slo,
                seed: args.seed,
            };
            simulated_dataset(request, &grid, &setup, &factors.describe())
                .map_err(|e| bad_input(e.to_string()))
        },
    )??;
    let elapsed = started.elapsed();
    if let Some(out) = &args.out {
        write_atomic(out, &dataset.to_json())?;
    }
    if args.json {
        crate::output::print(&dataset.to_json())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "SIMULATED (jauge's simulator, no server): {}\nmode: {}; factors: {}\n",
        summary::deployment(&dataset),
        modes.describe(args.requests),
        factors.describe()
    );
    if let Some(checked) = checked_line(&dataset) {
        text.push_str(&format!("{checked}\n"));
    }
    if modes.rates.is_none() {
        text.push('\n');
        text.push_str(&summary::table(&dataset));
    }
    text.push('\n');
    text.push_str(&crate::show::steps(&dataset).text());
    crate::output::print(&text)?;
    eprintln!(
        "simulated {} steps in {:.0} ms{}",
        dataset.steps.len(),
        elapsed.as_secs_f64() * 1000.0,
        args.out
            .as_ref()
            .map(|o| format!("; dataset: {}", o.display()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// "checked against N real measurements …" for a simulated dataset's GPU and weight format,
/// from the shipped calibration.
pub fn checked_line(dataset: &Dataset) -> Option<String> {
    let d = &dataset.deployment;
    Calibration::builtin()
        .checked_for(d.gpus.catalogue_id.as_deref()?, &d.quantization)
        .map(|c| format!("prediction {c}"))
}

/// Where the simulation's factors come from.
pub enum FactorsFrom {
    /// The calibration jauge ships.
    Shipped,
    /// A calibration file.
    File(String, Box<Calibration>),
    /// The cited defaults.
    Uncalibrated,
}

impl FactorsFrom {
    fn of(args: &SimulateArgs) -> anyhow::Result<FactorsFrom> {
        if args.uncalibrated {
            return Ok(FactorsFrom::Uncalibrated);
        }
        let Some(path) = &args.calibration else {
            return Ok(FactorsFrom::Shipped);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            bad_input(format!(
                "--calibration {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        let calibration = Calibration::from_json(&text)
            .map_err(|e| bad_input(format!("--calibration {}: {e}", path.display())))?;
        Ok(FactorsFrom::File(
            path.display().to_string(),
            Box::new(calibration),
        ))
    }

    /// The calibration to take factors from; `None` for the cited defaults.
    pub fn calibration(&self) -> Option<&Calibration> {
        match self {
            FactorsFrom::Shipped => Some(Calibration::builtin()),
            FactorsFrom::File(_, c) => Some(c.as_ref()),
            FactorsFrom::Uncalibrated => None,
        }
    }

    /// For the dataset's note and the header.
    pub fn describe(&self) -> String {
        let fitted = |c: &Calibration| {
            format!(
                "fitted on {} real datasets from {} sources",
                c.corpus.used, c.corpus.sources
            )
        };
        match self {
            FactorsFrom::Shipped => format!(
                "jauge's shipped calibration ({})",
                fitted(Calibration::builtin())
            ),
            FactorsFrom::File(path, c) => format!("calibration {path} ({})", fitted(c)),
            FactorsFrom::Uncalibrated => "the cited defaults, uncalibrated (--uncalibrated)".into(),
        }
    }
}

/// The steps' modes: closed-loop users, or rates with an optional cap on requests in flight.
pub struct Modes {
    /// Users (closed loop) or caps (open loop); `None` with rates: no cap.
    pub concurrency: Option<Vec<u32>>,
    /// Rates, requests per second (`inf`: every request at once).
    pub rates: Option<Vec<f64>>,
    /// How open-loop gaps are drawn.
    pub arrival: Arrival,
}

impl Modes {
    fn of(args: &SimulateArgs) -> anyhow::Result<Modes> {
        if let Some(c) = &args.concurrency {
            check_increasing("--concurrency", c)?;
        }
        if let Some(rates) = &args.rate {
            if rates.is_empty() || rates.iter().any(|r| r.is_nan() || *r <= 0.0) {
                return Err(bad_input(
                    "--rate: requests per second above 0 (e.g. 1,2,4), or inf for every request at once",
                ));
            }
            if rates.windows(2).any(|w| w[1] <= w[0]) {
                return Err(bad_input(format!(
                    "--rate: {rates:?} must be increasing, each above the one before"
                )));
            }
        }
        Ok(Modes {
            concurrency: match (&args.concurrency, &args.rate) {
                (Some(c), _) => Some(c.clone()),
                (None, None) => Some(DEFAULT_CONCURRENCY.to_vec()),
                (None, Some(_)) => None,
            },
            rates: args.rate.clone(),
            arrival: match args.arrival {
                crate::cli::ArrivalArg::Poisson => Arrival::Poisson,
                crate::cli::ArrivalArg::Gamma => Arrival::Gamma,
                crate::cli::ArrivalArg::Constant => Arrival::Constant,
            },
        })
    }

    /// Each step's load at one prompt size, in grid order.
    fn loads(
        &self,
        prompt_tokens: u32,
        output_tokens: u32,
        requests: Option<u32>,
        seed: u64,
    ) -> Vec<SimLoad> {
        let load = |concurrency: u32, requests: u32, pacing: Pacing| SimLoad {
            concurrency,
            prompt_tokens,
            output_tokens,
            requests,
            pacing,
            seed: step_seed(seed, concurrency, prompt_tokens),
        };
        let Some(rates) = &self.rates else {
            return self
                .concurrency
                .iter()
                .flatten()
                .map(|&c| load(c, requests.unwrap_or(default_requests(c)), Pacing::Closed))
                .collect();
        };
        let requests = requests.unwrap_or(OPEN_LOOP_REQUESTS);
        let caps: Vec<Option<u32>> = match &self.concurrency {
            Some(c) => c.iter().map(|&c| Some(c)).collect(),
            None => vec![None],
        };
        let mut loads = Vec::new();
        for cap in caps {
            // Without a cap every request may be in flight at once.
            let concurrency = cap.unwrap_or(requests);
            for &rate in rates {
                // An infinite rate sends everything at once: the closed loop of the cap.
                let pacing = Pacing::open(rate, self.arrival).unwrap_or(Pacing::Closed);
                loads.push(load(concurrency, requests, pacing));
            }
        }
        loads
    }

    fn describe(&self, requests: Option<u32>) -> String {
        match &self.rates {
            None => format!(
                "closed loop ({} requests per step)",
                requests.map_or("4 per user, at least 32".to_string(), |n| n.to_string())
            ),
            Some(rates) => {
                let requests = requests.unwrap_or(OPEN_LOOP_REQUESTS);
                let finite: Vec<String> = rates
                    .iter()
                    .filter(|r| r.is_finite())
                    .map(|r| format!("{r}"))
                    .collect();
                let mut parts = Vec::new();
                if !finite.is_empty() {
                    parts.push(format!(
                        "open loop at {} req/s, {} arrivals, {requests} requests per step, {}",
                        finite.join(", "),
                        format!("{:?}", self.arrival).to_lowercase(),
                        match &self.concurrency {
                            Some(c) => format!("at most {c:?} in flight"),
                            None => "no cap on requests in flight".into(),
                        }
                    ));
                }
                if rates.iter().any(|r| r.is_infinite()) {
                    parts.push(format!("all at once: {requests} requests sent together"));
                }
                parts.join("; ")
            }
        }
    }
}

/// The grid of a simulated dataset.
pub struct SimGrid<'a> {
    /// The steps' modes.
    pub modes: &'a Modes,
    /// Prompt sizes, increasing.
    pub prompt_tokens: &'a [u32],
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Requests per step (`None`: the mode's default).
    pub requests: Option<u32>,
    /// Objectives for the limits and goodput.
    pub slo: Slo,
    /// Seed of the arrivals.
    pub seed: u64,
}

impl Modes {
    /// Closed-loop users, the grid `jauge study --predict` sweeps.
    pub fn closed(concurrency: &[u32]) -> Modes {
        Modes {
            concurrency: Some(concurrency.to_vec()),
            rates: None,
            arrival: Arrival::Poisson,
        }
    }
}

/// A `simulated` dataset of the grid for this deployment: every step simulated; in a closed
/// loop, each row's limit the most users meeting the objectives on the grid.
pub fn simulated_dataset(
    request: &SizingRequest<'_>,
    grid: &SimGrid<'_>,
    setup: &Setup,
    factors: &str,
) -> Result<Dataset, jauge::SizingError> {
    let sizing = size(request)?;
    let slo = grid.slo;
    let closed = grid.modes.rates.is_none();
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
        for load in grid
            .modes
            .loads(prompt, grid.output_tokens, grid.requests, grid.seed)
        {
            let (step, _) = simulate_step_with(request, &load, slo, setup)?;
            if closed {
                found.learn(load.concurrency, judge(&step, &rules, None));
            }
            steps.push(step);
        }
        if !closed {
            continue;
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
    let mut concurrency: Vec<u32> = steps.iter().map(|s| s.concurrency).collect();
    concurrency.sort_unstable();
    concurrency.dedup();
    if concurrency.is_empty() {
        concurrency = grid.modes.concurrency.clone().unwrap_or_default();
    }
    let finite_rates: Vec<f64> = grid
        .modes
        .rates
        .iter()
        .flatten()
        .copied()
        .filter(|r| r.is_finite())
        .collect();
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
                settings: {
                    let mut settings = engine_settings(request, &sizing);
                    if !setup.runtime.cuda_graphs {
                        settings
                            .other
                            .insert("enforce_eager".into(), serde_json::json!(true));
                    }
                    settings.other.insert(
                        "enable_chunked_prefill".into(),
                        serde_json::json!(setup.runtime.chunked_prefill),
                    );
                    settings
                },
            },
            gpus: GpuInfo {
                name: request.gpu.name.clone(),
                catalogue_id: Some(request.gpu.id.clone()),
                count: request.gpu_count,
                memory_mib: Some((request.gpu.memory_gib * 1024.0).round() as u64),
                cuda_memory_mib: request
                    .total_memory_gib
                    .map(|gib| (gib * 1024.0).round() as u64),
                driver_version: None,
                cuda_version: None,
            },
        },
        workload: Workload {
            endpoint: Endpoint::Completions,
            concurrency,
            prompt_tokens: grid.prompt_tokens.to_vec(),
            output_tokens: grid.output_tokens,
            requests_per_step: grid.requests,
            duration_per_step_s: None,
            warmup_requests: 0,
            rate_rps: match finite_rates.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            arrival: (!finite_rates.is_empty()).then_some(grid.modes.arrival),
            timeout_s: None,
            shared_prefix_tokens: None,
            slo_ttft_ms: slo.ttft_ms,
            slo_ttft_of: None,
            slo_tpot_ms: slo.tpot_ms,
            max_error_rate: None,
            min_throughput_gain: None,
            lengths_from: None,
            people: None,
        },
        status: RunStatus::Complete,
        gpu_telemetry: None,
        steps,
        limits,
        context_limits: Vec::new(),
        notes: vec![simulated_note(sizing.kv_cache_tokens, factors)],
    })
}

/// What a simulated dataset says of itself.
fn simulated_note(kv_cache_tokens: u64, factors: &str) -> String {
    format!(
        "Simulated by jauge's discrete-event simulator (continuous batching over {kv_cache_tokens} KV-cache tokens, first-order roofline step times; factors: {factors}); not a measurement."
    )
}
