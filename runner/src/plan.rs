//! Flags become a plan, once (as ripgrep turns its low-level arguments into high-level ones):
//! every check, every cross-flag rule and every default of `jauge run`, `jauge limit` and
//! `jauge study` is decided here. The server, the dataset file and the session read the plan,
//! never a flag; the study builds its plans directly, without rebuilding a command line.

use std::path::PathBuf;
use std::time::Duration;

use jauge::dataset::{Arrival, Endpoint};
use jauge::deployment::DeploymentSpec;
use jauge::objectives::{Percentile, Rules, Slo};
use jauge::pacing::Pacing;

use crate::cli::{
    ArrivalArg, DeploymentArgs, EndpointArg, LimitArgs, RunArgs, SimulationArgs, StudyArgs,
    TargetArgs, TelemetryArgs, TtftOfArg,
};
use crate::client::ApiKey;
use crate::exit::bad_input;
use crate::limits::ReadLimits;
use crate::prompts::MAX_PROMPT_TOKENS;
use crate::serve_sim::SimOptions;

/// Most requests one step may send: its records are held in memory until it ends.
pub const MAX_REQUESTS_PER_STEP: u32 = 100_000;
/// The slowest open loop: one request every 1,000 s.
const MIN_RATE_RPS: f64 = 1e-3;
/// The fastest open loop: far beyond what one process sends.
const MAX_RATE_RPS: f64 = 1e6;
/// The longest `--timeout` or step duration: a day.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The model and GPU the built-in server simulates when none is named.
pub const BUILT_IN_MODEL: &str = "mistral-7b-v0.3";
/// See [`BUILT_IN_MODEL`].
pub const BUILT_IN_GPU: &str = "a100-40gb";
/// The study's built-in deployment: the study's own model, on the GPU it ran on, at a context
/// short enough that the maximum-context search ends in minutes.
pub const STUDY_MODEL: &str = "mistral-7b-v0.1";
/// See [`STUDY_MODEL`].
pub const STUDY_MAX_MODEL_LEN: u32 = 8192;

/// Whether the concurrencies are given (`jauge run`) or found by a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// `--concurrency` lists them.
    Fixed,
    /// The search adds each one it probes.
    Searched,
    /// A search on prompt sizes (`jauge study`'s maximum context): both lists grow.
    Context,
}

/// The server measured.
#[derive(Debug, Clone)]
pub enum ServerPlan {
    /// A server at this base URL (`http://HOST:PORT`, without `/v1`).
    Url(String),
    /// The built-in simulated server, started for the run.
    BuiltIn(Box<SimOptions>),
}

/// How requests look and what is read of their answers.
#[derive(Debug, Clone)]
pub struct RequestPlan {
    /// The model name to send; `None`: the first `/v1/models` lists.
    pub served_model: Option<String>,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The bearer token.
    pub api_key: Option<ApiKey>,
    /// The whole of one request.
    pub timeout: Duration,
    /// What is read of each answer.
    pub read_limits: ReadLimits,
    /// Send `ignore_eos` and `min_tokens`.
    pub force_output_length: bool,
    /// A local tokenizer for exact prompts.
    pub tokenizer: Option<PathBuf>,
    /// Tokens every prompt shares.
    pub shared_prefix_tokens: u32,
    /// Seed of prompts and arrivals.
    pub seed: u64,
}

/// The load: the grid and how each step is sent.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// What the concurrencies are.
    pub grid: Grid,
    /// Concurrencies, increasing (the grid, or where a search starts).
    pub concurrency: Vec<u32>,
    /// Prompt sizes, increasing.
    pub prompt_tokens: Vec<u32>,
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Requests per step; `None`: the command's default.
    pub requests_per_step: Option<u32>,
    /// Send for this long instead.
    pub duration_per_step: Option<Duration>,
    /// Warm-up requests before each row.
    pub warmup: u32,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// The most requests in flight at once over the whole run (connections, capacity).
    pub max_streams: u32,
    /// Each step is a population of people following a workload (`--workload`); the
    /// concurrencies count people.
    pub people: Option<PeoplePlan>,
    /// The one step replays a trace (`--trace`).
    pub trace: Option<TracePlan>,
    /// This process runs one share of each step (`--shard`).
    pub shard: Option<ShardPlan>,
}

/// One load generator's share of each step (`--shard I/N`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardPlan {
    /// Which share, from 0.
    pub index: u32,
    /// How many shares.
    pub count: u32,
    /// Where the shards meet before each step.
    pub sync: PathBuf,
}

impl ShardPlan {
    /// This shard's share of `total` (users, requests): `total / count`, the first
    /// `total % count` shards one more.
    ///
    /// ```
    /// # use jauge_runner::plan::ShardPlan;
    /// let shard = |index| ShardPlan { index, count: 3, sync: ".".into() };
    /// assert_eq!((shard(0).share(8), shard(1).share(8), shard(2).share(8)), (3, 3, 2));
    /// ```
    pub fn share(&self, total: u32) -> u32 {
        total / self.count + u32::from(self.index < total % self.count)
    }
}

/// The shard plan of `--shard I/N`, or `None`.
fn shard(args: &RunArgs, out: &std::path::Path) -> anyhow::Result<Option<ShardPlan>> {
    let Some(text) = &args.shard else {
        return Ok(None);
    };
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)));
    let Some((index, count)) = parsed.filter(|(i, n)| *n >= 1 && i < n && *n <= 1024) else {
        return Err(bad_input(format!(
            "--shard {text}: I/N, the shard's number from 0 and how many shards (at most 1024), e.g. 0/2"
        )));
    };
    if let Some(c) = args.concurrency.iter().find(|c| **c < count) {
        return Err(bad_input(format!(
            "--concurrency {c}: with --shard {text}, every step needs at least one user per shard ({count})"
        )));
    }
    let sync = args.shard_sync.clone().unwrap_or_else(|| {
        out.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join(".jauge-shards")
    });
    if sync.join("step-1").join(index.to_string()).exists() {
        return Err(bad_input(format!(
            "--shard-sync {}: a run already met there; give each run a new folder",
            sync.display()
        )));
    }
    Ok(Some(ShardPlan { index, count, sync }))
}

/// A trace to replay (`--trace`).
#[derive(Debug, Clone)]
pub struct TracePlan {
    /// Its requests.
    pub trace: jauge::trace::Trace,
    /// Its file's name, for the dataset.
    pub file: String,
    /// The built-in server's time scale: the trace is replayed that much faster, and every
    /// time recorded is multiplied back.
    pub time_scale: f64,
}

/// The trace of `--trace`, read and checked, or `None`.
fn trace(args: &RunArgs) -> anyhow::Result<Option<TracePlan>> {
    let Some(path) = &args.trace else {
        return Ok(None);
    };
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("--trace {shown}: cannot read it: {e}")))?;
    let parsed = match &args.trace_format {
        Some(name) => {
            let format = name
                .parse::<jauge::trace::TraceFormat>()
                .map_err(|e| bad_input(format!("--trace-format {e}")))?;
            jauge::trace::Trace::parse_as(&text, format)
        }
        None => jauge::trace::Trace::parse(&text),
    };
    let mut trace = parsed.map_err(|e| bad_input(format!("--trace {shown}: {e}")))?;
    if let Some(n) = args.trace_requests {
        if n == 0 {
            return Err(bad_input("--trace-requests: at least 1"));
        }
        trace = trace.take(n);
    }
    if trace.len() > MAX_REQUESTS_PER_STEP as usize {
        return Err(bad_input(format!(
            "--trace {shown}: {} requests, more than the {MAX_REQUESTS_PER_STEP} a step holds; replay a part of it with --trace-requests",
            trace.len()
        )));
    }
    if let Some(r) = trace
        .requests
        .iter()
        .find(|r| r.input_tokens > MAX_PROMPT_TOKENS)
    {
        return Err(bad_input(format!(
            "--trace {shown}: a prompt of {} tokens, beyond the {MAX_PROMPT_TOKENS} jauge sends",
            r.input_tokens
        )));
    }
    Ok(Some(TracePlan {
        trace,
        file: path
            .file_name()
            .map_or_else(|| shown.to_string(), |f| f.to_string_lossy().into_owned()),
        time_scale: args.simulation.time_scale,
    }))
}

/// What a population step measures (`--workload`).
#[derive(Debug, Clone)]
pub struct PeoplePlan {
    /// The workload, with the user's edits.
    pub workload: jauge::people::Workload,
    /// How long each step runs before its measured window.
    pub warmup: Duration,
    /// Each step's measured window.
    pub window: Duration,
    /// The built-in server's time scale: people think that much faster too, and every time
    /// recorded is multiplied back, so that the figures are the modelled deployment's.
    pub time_scale: f64,
}

/// A population's measured window when `--duration-per-step` does not give it.
const PEOPLE_WINDOW: Duration = Duration::from_secs(300);

/// The population plan of `--workload`, or `None`.
fn people(args: &RunArgs) -> anyhow::Result<Option<PeoplePlan>> {
    let Some(name) = &args.population.workload else {
        return Ok(None);
    };
    let workload = crate::people::workload(name, &args.population.edits)?;
    for (given, flag) in [
        (args.rate.is_some(), "--rate"),
        (args.requests_per_step.is_some(), "--requests-per-step"),
        (args.shared_prefix_tokens > 0, "--shared-prefix-tokens"),
    ] {
        if given {
            return Err(bad_input(format!(
                "{flag} does not apply with --workload: people send their turns at their own pace (thinking between them, in real time), with the workload's lengths and shared content"
            )));
        }
    }
    let warmup = args
        .population
        .warmup_time
        .unwrap_or_else(|| Duration::from_secs_f64((2.0 * workload.think_s).max(60.0)));
    Ok(Some(PeoplePlan {
        workload,
        warmup,
        window: args.duration_per_step.unwrap_or(PEOPLE_WINDOW),
        time_scale: args.simulation.time_scale,
    }))
}

/// What is read beside the requests.
#[derive(Debug, Clone)]
pub struct TelemetryPlan {
    /// Which local GPUs NVML reads (`None`: all), or why none is read.
    pub nvml: Result<Option<Vec<u32>>, String>,
    /// GPU readings per second.
    pub sample_hz: f64,
    /// `None`: no `/metrics` scrape; `Some(None)`: the server's own `/metrics`.
    pub metrics_url: Option<Option<String>>,
}

/// Everything a measuring command does, decided.
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    /// For messages: `run`, `limit`, `study`, `study (maximum context)`.
    pub command: &'static str,
    /// The flag that sets the most streams, for the message when a process cannot hold them.
    pub streams_flag: &'static str,
    /// The server.
    pub server: ServerPlan,
    /// The deployment as given (for a real server: what the dataset records where NVML and
    /// the server do not tell).
    pub deployment: DeploymentArgs,
    /// The requests.
    pub requests: RequestPlan,
    /// The load.
    pub load: LoadPlan,
    /// The objectives and stop rules.
    pub rules: Rules,
    /// Telemetry.
    pub telemetry: TelemetryPlan,
    /// The dataset to write.
    pub out: PathBuf,
    /// Continue it.
    pub resume: bool,
    /// No progress output.
    pub quiet: bool,
}

/// `jauge limit`'s plan: the measuring plan and the search's bounds.
#[derive(Debug, Clone)]
pub struct LimitPlan {
    /// What is measured.
    pub measure: MeasurePlan,
    /// The most users a search tries.
    pub ceiling: u32,
    /// The fewest requests of a probe.
    pub min_requests: u32,
}

/// `jauge study`'s plan (measured): the speed and users part, and how the context part is
/// built once the users are known.
#[derive(Debug, Clone)]
pub struct StudyPlan {
    /// The folder of the study.
    pub out: PathBuf,
    /// Parts 1–2: the grid and the users search.
    pub speed: MeasurePlan,
    /// The most users the search tries.
    pub max_users: u32,
    /// The context search's resolution.
    pub context_step: u32,
    /// The context search's cap.
    pub max_context: u32,
}

impl MeasurePlan {
    /// `jauge run`'s plan.
    ///
    /// # Errors
    /// Bad input, naming the flag and what to change.
    pub fn run(args: &RunArgs) -> anyhow::Result<MeasurePlan> {
        let people = people(args)?;
        // People are judged by their workload's objectives unless others are given, and a
        // population's throughput follows its people, not a plateau.
        let objectives = people.as_ref().map(|p| p.workload.rules().slo);
        let mut rules = Rules {
            slo: Slo {
                ttft_ms: args.slo_ttft_ms.or(objectives.and_then(|s| s.ttft_ms)),
                tpot_ms: args.slo_tpot_ms.or(objectives.and_then(|s| s.tpot_ms)),
            },
            percentile: Percentile::P95,
            ttft_of: match args.ttft_of {
                TtftOfArg::FirstToken => jauge::dataset::TtftOf::FirstToken,
                TtftOfArg::Answer => jauge::dataset::TtftOf::Answer,
            },
            max_error_rate: args.max_error_rate,
            min_throughput_gain: (!args.full_grid && people.is_none())
                .then_some(args.min_throughput_gain),
            stop_on_preemption: args.stop_on_preemption,
            stop_on_queue: args.stop_on_queue,
        };
        let mut load = LoadPlan {
            grid: Grid::Fixed,
            concurrency: args.concurrency.clone(),
            prompt_tokens: args.prompt_tokens.clone(),
            output_tokens: args.output_tokens,
            requests_per_step: args.requests_per_step,
            duration_per_step: args.duration_per_step,
            warmup: args.warmup,
            pacing: pacing(args.rate, args.arrival),
            max_streams: args.concurrency.iter().copied().max().unwrap_or(1),
            people: None,
            trace: None,
            shard: None,
        };
        if let Some(t) = trace(args)? {
            let n = t.trace.len() as u32;
            let mean = |f: fn(&jauge::trace::TraceRequest) -> u32| {
                let sum: f64 = t.trace.requests.iter().map(|r| f64::from(f(r))).sum();
                (sum / f64::from(n.max(1))).round().max(1.0) as u32
            };
            load.concurrency = vec![n];
            load.prompt_tokens = vec![mean(|r| r.input_tokens)];
            load.output_tokens = mean(|r| r.output_tokens);
            load.requests_per_step = Some(n);
            load.warmup = 0;
            load.max_streams = n;
            load.trace = Some(t);
        }
        if let Some(p) = people {
            // The row a population's steps are filed under: the workload's mean lengths.
            load.prompt_tokens = vec![p.workload.mean_prompt_tokens()];
            load.output_tokens = p.workload.answer_tokens.mean().round() as u32;
            load.duration_per_step = Some(p.window);
            load.warmup = 0;
            load.people = Some(p);
        }
        let out = args.output.out.clone().unwrap_or_else(default_out);
        if let Some(s) = shard(args, &out)? {
            if let Pacing::Open { rate_rps, .. } = &mut load.pacing {
                *rate_rps /= f64::from(s.count);
            }
            // Every shard runs every step: a share's verdict is not the step's.
            rules.min_throughput_gain = None;
            load.shard = Some(s);
        }
        let mut plan = MeasurePlan {
            command: "run",
            streams_flag: "--concurrency",
            server: server(
                &args.target,
                &args.deployment,
                &args.simulation,
                args.seed,
                BUILT_IN_MODEL,
                None,
            )?,
            deployment: args.deployment.clone(),
            requests: requests(
                &args.target,
                args.seed,
                args.shared_prefix_tokens,
                args.population.workload.is_some(),
            )?,
            load,
            rules,
            telemetry: telemetry(&args.telemetry),
            out,
            resume: args.output.resume,
            quiet: args.output.quiet,
        };
        if let Some(s) = &plan.load.shard {
            // Prompts of its own: no shard sends another's.
            plan.requests.seed = plan.requests.seed.wrapping_add(u64::from(s.index) << 40);
        }
        plan.check()?;
        Ok(plan)
    }

    /// Every rule a plan must keep, whichever command made it.
    fn check(&self) -> anyhow::Result<()> {
        if self.deployment.gpu_count() == Some(0) {
            return Err(bad_input(
                "--gpus: at least 1 (the number of GPUs serving the model; which local GPUs NVML reads is --nvml-gpus)",
            ));
        }
        let load = &self.load;
        for (flag, values) in [
            ("--concurrency", &load.concurrency),
            ("--prompt-tokens", &load.prompt_tokens),
        ] {
            check_increasing(flag, values)?;
        }
        if let Some(&longest) = load.prompt_tokens.iter().max() {
            check_prompt_tokens("--prompt-tokens", longest)?;
        }
        if load.output_tokens == 0 || load.output_tokens > MAX_PROMPT_TOKENS {
            return Err(bad_input(format!(
                "--output-tokens: between 1 and {MAX_PROMPT_TOKENS}"
            )));
        }
        if load
            .requests_per_step
            .is_some_and(|n| n == 0 || n > MAX_REQUESTS_PER_STEP)
        {
            return Err(bad_input(format!(
                "--requests-per-step: between 1 and {MAX_REQUESTS_PER_STEP} (a step's records are held until it ends)"
            )));
        }
        if load
            .pacing
            .rate_rps()
            .is_some_and(|r| !(MIN_RATE_RPS..=MAX_RATE_RPS).contains(&r))
        {
            return Err(bad_input(format!(
                "--rate: between {MIN_RATE_RPS} and {MAX_RATE_RPS} requests per second, or inf (every request at once)"
            )));
        }
        if !(0.0..=1.0).contains(&self.rules.max_error_rate) {
            return Err(bad_input("--max-error-rate: must be between 0 and 1"));
        }
        for (flag, value) in [
            ("--timeout", Some(self.requests.timeout)),
            ("--duration-per-step", load.duration_per_step),
        ] {
            if value.is_some_and(|d| d.is_zero() || d > MAX_WAIT) {
                return Err(bad_input(format!(
                    "{flag}: between 1 ms and {}",
                    humantime::format_duration(MAX_WAIT)
                )));
            }
        }
        if !(self.telemetry.sample_hz > 0.0 && self.telemetry.sample_hz <= 1000.0) {
            return Err(bad_input("--gpu-sample-hz: above 0 and at most 1000"));
        }
        Ok(())
    }

    /// The simulator's engine for what this plan measures, to predict it beside: the built-in
    /// server's own deployment (and whether it caches prefixes), or the one the user described
    /// for a real server (`--catalog-model`, `--gpu`), and whose it is in words; the reason
    /// when there is none to predict from.
    pub fn predicting_engine(
        &self,
    ) -> Result<(jauge::sim::EngineConfig, bool, &'static str), String> {
        let cat = jauge::catalogue::Catalogue::builtin();
        let (spec, prefix_cache, whose) = match &self.server {
            ServerPlan::BuiltIn(options) => (
                options.deployment.clone(),
                options.prefix_cache,
                "the built-in server's deployment",
            ),
            ServerPlan::Url(_) => {
                if self.deployment.catalog_model.is_none() || self.deployment.gpu.is_none() {
                    return Err(
                        "give --catalog-model and --gpu to see the simulator's prediction beside it"
                            .into(),
                    );
                }
                let spec = self.deployment.spec(None).map_err(|e| e.to_string())?;
                (
                    spec,
                    true,
                    "the deployment described (--catalog-model, --gpu), assuming prefix caching",
                )
            }
        };
        let request = spec.request(cat).map_err(|e| e.to_string())?;
        let engine = jauge::sim::engine_for(&request).map_err(|e| e.to_string())?;
        Ok((engine, prefix_cache, whose))
    }

    /// The catalogue model the dataset names: the one given, else the built-in server's.
    pub fn catalogue_model(&self) -> Option<String> {
        self.deployment
            .catalog_model
            .clone()
            .or(match &self.server {
                ServerPlan::BuiltIn(o) => Some(o.deployment.model.clone()),
                ServerPlan::Url(_) => None,
            })
    }
}

/// `jauge limit`'s plan.
///
/// # Errors
/// Bad input, naming the flag.
pub fn limit(args: &LimitArgs) -> anyhow::Result<LimitPlan> {
    let run = &args.run;
    if run.shard.is_some() {
        return Err(bad_input(
            "--shard: jauge limit's search goes where each step's verdict takes it, which a share cannot judge; shard jauge run over a grid and merge",
        ));
    }
    if run.slo_ttft_ms.is_none() && run.slo_tpot_ms.is_none() && run.population.workload.is_none() {
        return Err(bad_input(
            "jauge limit needs an objective: --slo-ttft-ms and/or --slo-tpot-ms (or --workload, whose objectives apply)",
        ));
    }
    let Some(percentile) = Percentile::from_number(args.percentile) else {
        return Err(bad_input("--percentile: one of 50, 90, 95, 99"));
    };
    if args.max_concurrency == 0 {
        return Err(bad_input("--max-concurrency: at least 1"));
    }
    if args.min_requests == 0 || args.min_requests > MAX_REQUESTS_PER_STEP {
        return Err(bad_input(format!(
            "--min-requests: between 1 and {MAX_REQUESTS_PER_STEP} (a probe's records are held until it ends)"
        )));
    }
    let mut measure = MeasurePlan::run(run)?;
    measure.command = "limit";
    measure.rules = Rules {
        percentile,
        min_throughput_gain: None,
        stop_on_preemption: false,
        stop_on_queue: false,
        ..measure.rules
    };
    measure.load.grid = Grid::Searched;
    measure.load.concurrency = vec![1];
    measure.load.max_streams = args.max_concurrency;
    measure.streams_flag = "--max-concurrency";
    Ok(LimitPlan {
        measure,
        ceiling: args.max_concurrency,
        min_requests: args.min_requests,
    })
}

impl StudyPlan {
    /// The measured study's plan, its datasets in `out`.
    ///
    /// # Errors
    /// Bad input, naming the flag.
    pub fn new(args: &StudyArgs, out: PathBuf) -> anyhow::Result<StudyPlan> {
        check_study(args)?;
        let mut deployment = args.deployment.clone();
        if args.target.url.is_none() {
            deployment.max_model_len = deployment.max_model_len.or(Some(STUDY_MAX_MODEL_LEN));
        }
        let simulation = SimulationArgs {
            time_scale: args.time_scale,
            fault: Vec::new(),
            die_after: None,
            reasoning_tokens: 0,
            no_prefix_cache: false,
        };
        let mut target = args.target.clone();
        if args.chat {
            warn_renamed("--chat", "--endpoint chat");
            target.endpoint = Some(EndpointArg::Chat);
        }
        let speed_out = out.join(crate::study::SPEED_FILE);
        let speed = MeasurePlan {
            command: "study",
            streams_flag: "--max-users",
            server: server(
                &target,
                &deployment,
                &simulation,
                0,
                STUDY_MODEL,
                Some(BUILT_IN_GPU),
            )?,
            deployment,
            requests: requests(&target, 0, 0, false)?,
            load: LoadPlan {
                people: None,
                trace: None,
                shard: None,
                grid: Grid::Searched,
                concurrency: args.concurrency.clone(),
                prompt_tokens: args.prompt_tokens.clone(),
                output_tokens: args.output_tokens,
                requests_per_step: None,
                duration_per_step: None,
                warmup: 1,
                pacing: Pacing::Closed,
                max_streams: args.max_users.max(*args.concurrency.last().unwrap_or(&1)),
            },
            rules: Rules {
                max_error_rate: args.max_error_rate,
                ..Rules::objectives(
                    Slo {
                        ttft_ms: Some(args.slo_ttft_ms),
                        tpot_ms: Some(args.slo_tpot_ms),
                    },
                    Percentile::P95,
                )
            },
            telemetry: telemetry(&args.telemetry),
            resume: args.resume && speed_out.exists(),
            out: speed_out,
            quiet: args.quiet,
        };
        speed.check()?;
        Ok(StudyPlan {
            out,
            speed,
            max_users: args.max_users,
            context_step: args.context_step,
            max_context: args.max_context,
        })
    }

    /// Part 3's plan: the maximum-context search at these concurrencies. No warm-up: each
    /// probe's prompt size is new, and a refused one costs nothing.
    pub fn context(&self, concurrency: &[u32]) -> MeasurePlan {
        let out = self.out.join(crate::study::CONTEXT_FILE);
        let mut plan = self.speed.clone();
        plan.command = "study (maximum context)";
        plan.load = LoadPlan {
            people: None,
            trace: None,
            shard: None,
            grid: Grid::Context,
            concurrency: concurrency.to_vec(),
            prompt_tokens: vec![self.speed.load.prompt_tokens[0]],
            warmup: 0,
            max_streams: concurrency.iter().copied().max().unwrap_or(1),
            ..self.speed.load.clone()
        };
        plan.resume = self.speed.resume && out.exists();
        plan.out = out;
        plan
    }
}

/// The study's own rules, before any plan is built (shared by the measured and the predicted
/// study).
///
/// # Errors
/// Bad input, naming the flag.
pub fn check_study(args: &StudyArgs) -> anyhow::Result<()> {
    if args.preset.is_some() && !args.predict {
        return Err(bad_input(
            "--preset: a preset's deployments are predicted; add --predict",
        ));
    }
    if args.predict && args.target.url.is_some() {
        return Err(bad_input(
            "--predict answers from the simulator: leave out --url",
        ));
    }
    check_increasing("--prompt-tokens", &args.prompt_tokens)?;
    check_increasing("--concurrency", &args.concurrency)?;
    if let Some(&longest) = args.prompt_tokens.last() {
        check_prompt_tokens("--prompt-tokens", longest)?;
    }
    check_prompt_tokens("--max-context", args.max_context)?;
    if args.context_step == 0 || args.context_step > args.max_context {
        return Err(bad_input(
            "--context-step: at least 1 token, and at most --max-context",
        ));
    }
    if !(args.slo_ttft_ms > 0.0 && args.slo_tpot_ms > 0.0) {
        return Err(bad_input(
            "--slo-ttft-ms and --slo-tpot-ms: above 0 milliseconds",
        ));
    }
    if args.max_users == 0 {
        return Err(bad_input("--max-users: at least 1"));
    }
    Ok(())
}

/// Whole numbers above 0, strictly increasing.
///
/// # Errors
/// Bad input naming `flag`.
pub fn check_increasing(flag: &str, values: &[u32]) -> anyhow::Result<()> {
    if values.is_empty() || values.contains(&0) {
        return Err(bad_input(format!(
            "{flag}: give whole numbers above 0, e.g. 1,2,4"
        )));
    }
    if values.windows(2).any(|w| w[1] <= w[0]) {
        return Err(bad_input(format!(
            "{flag}: {values:?} must be increasing, each above the one before"
        )));
    }
    Ok(())
}

/// A prompt size jauge will generate.
///
/// # Errors
/// Bad input naming `flag` when it is 0 or above [`MAX_PROMPT_TOKENS`].
pub fn check_prompt_tokens(flag: &str, tokens: u32) -> anyhow::Result<()> {
    if tokens == 0 || tokens > MAX_PROMPT_TOKENS {
        return Err(bad_input(format!(
            "{flag}: {tokens} tokens: prompts are between 1 and {MAX_PROMPT_TOKENS} tokens (beyond any open model's context; a prompt is held whole in memory)"
        )));
    }
    Ok(())
}

/// Says on stderr, once per process, that a flag was renamed; the old name works for one
/// more release.
pub fn warn_renamed(old: &'static str, new: &'static str) {
    static WARNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.contains(&old) {
        warned.push(old);
        eprintln!("jauge: warning: {old} is now {new}; the old name goes away in the next release");
    }
}

impl DeploymentArgs {
    /// GPUs serving the model, from `--gpus` or its old name.
    pub fn gpu_count(&self) -> Option<u32> {
        if self.legacy_gpu_count.is_some() {
            warn_renamed("--gpu-count", "--gpus");
        }
        self.gpus.or(self.legacy_gpu_count)
    }

    /// The deployment with `model` and `gpu` standing in for the ones not given.
    pub fn spec_or(&self, model: &str, gpu: &str) -> DeploymentSpec {
        DeploymentSpec {
            model: self.catalog_model.clone().unwrap_or_else(|| model.into()),
            gpu: self.gpu.clone().unwrap_or_else(|| gpu.into()),
            gpus: self.gpu_count().unwrap_or(1),
            quant: self.quant.clone(),
            kv_cache_dtype: self.kv_cache_dtype.clone(),
            max_model_len: self.max_model_len,
            gpu_memory_utilization: self.gpu_memory_utilization,
            block_size: self.block_size,
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            vllm_version: self.vllm_release(),
            total_memory_gib: self.total_memory_gib,
        }
    }

    /// The vLLM release whose rules apply: `--vllm-version`, or the release of `--engine
    /// vllm@VERSION`.
    pub fn vllm_release(&self) -> Option<String> {
        self.vllm_version.clone().or_else(|| {
            let (name, version) = self.engine.as_deref()?.split_once('@')?;
            name.eq_ignore_ascii_case("vllm")
                .then(|| version.to_string())
        })
    }

    /// Refuses an `--engine` that jauge cannot size or simulate (yet), naming what it can.
    ///
    /// # Errors
    /// Bad input for an engine other than vLLM, or `--engine vllm@A --vllm-version B`.
    pub fn check_engine(&self) -> anyhow::Result<()> {
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        let name = engine.split_once('@').map_or(engine.as_str(), |(n, _)| n);
        if !name.eq_ignore_ascii_case("vllm") {
            return Err(crate::exit::bad_input(format!(
                "--engine {engine}: jauge simulates vLLM (vllm@0.2.0 to today); jauge size \
                 also sizes sglang, trtllm and llama.cpp"
            )));
        }
        if let (Some(a), Some(b)) = (engine.split_once('@').map(|(_, v)| v), &self.vllm_version) {
            if a != b {
                return Err(crate::exit::bad_input(format!(
                    "--engine {engine} and --vllm-version {b} disagree: give one"
                )));
            }
        }
        Ok(())
    }

    /// The deployment of a command that needs the model and the GPU named (`jauge size`,
    /// `simulate`, `limit --simulate`, `study --predict`); `legacy_model` is the old
    /// `--model` of `size` and `simulate`.
    ///
    /// # Errors
    /// Bad input when the model or the GPU is missing.
    pub fn spec(&self, legacy_model: Option<&String>) -> anyhow::Result<DeploymentSpec> {
        self.check_engine()?;
        let model = match (&self.catalog_model, legacy_model) {
            (Some(m), _) => m.clone(),
            (None, Some(m)) => {
                warn_renamed("--model", "--catalog-model");
                m.clone()
            }
            (None, None) => {
                return Err(bad_input(
                    "--catalog-model is required (a catalogue id, a Hugging Face name, or a config.json for jauge size; see jauge size --list models)",
                ))
            }
        };
        let gpu = self
            .gpu
            .clone()
            .ok_or_else(|| bad_input("--gpu is required (see jauge size --list gpus)"))?;
        Ok(self.spec_or(&model, &gpu))
    }
}

/// The server: the URL given (built-in-only flags refused), or the built-in server for the
/// deployment (`model` and `gpu` standing in for those not given).
fn server(
    target: &TargetArgs,
    deployment: &DeploymentArgs,
    simulation: &SimulationArgs,
    seed: u64,
    model: &str,
    gpu: Option<&str>,
) -> anyhow::Result<ServerPlan> {
    match &target.url {
        Some(url) => {
            if !simulation.fault.is_empty()
                || simulation.die_after.is_some()
                || simulation.time_scale != 1.0
                || simulation.reasoning_tokens > 0
                || simulation.no_prefix_cache
            {
                return Err(bad_input(
                    "--fault, --die-after, --time-scale, --reasoning-tokens and --no-prefix-cache apply to the built-in server only (no --url)",
                ));
            }
            Ok(ServerPlan::Url(normalise_url(url)?))
        }
        None => Ok(ServerPlan::BuiltIn(Box::new(SimOptions {
            deployment: deployment.spec_or(model, gpu.unwrap_or(BUILT_IN_GPU)),
            time_scale: simulation.time_scale,
            faults: simulation.fault.clone(),
            die_after: simulation.die_after,
            reasoning_tokens: simulation.reasoning_tokens,
            prefix_cache: !simulation.no_prefix_cache,
            seed,
            ..SimOptions::default()
        }))),
    }
}

/// How requests look, the API key read and remembered as a secret.
fn requests(
    target: &TargetArgs,
    seed: u64,
    shared_prefix_tokens: u32,
    people: bool,
) -> anyhow::Result<RequestPlan> {
    let served_model = match (&target.served_model, &target.legacy_model) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(m)) => {
            warn_renamed("--model", "--served-model");
            Some(m.clone())
        }
        (None, None) => None,
    };
    Ok(RequestPlan {
        served_model,
        endpoint: match target.endpoint {
            Some(EndpointArg::Completions) => Endpoint::Completions,
            Some(EndpointArg::Chat) => Endpoint::Chat,
            // People chat; requests default to the completions endpoint.
            None if people => Endpoint::Chat,
            None => Endpoint::Completions,
        },
        api_key: read_api_key(target)?,
        timeout: target.timeout,
        read_limits: ReadLimits::with(&target.read_limit),
        force_output_length: !target.no_force_output,
        tokenizer: target.tokenizer.clone(),
        shared_prefix_tokens,
        seed,
    })
}

fn telemetry(args: &TelemetryArgs) -> TelemetryPlan {
    if let Some(url) = &args.metrics_url {
        crate::secrets::learn_url(url);
    }
    TelemetryPlan {
        nvml: if args.no_gpu {
            Err("--no-gpu".to_string())
        } else {
            Ok(args.nvml_gpus.clone())
        },
        sample_hz: args.gpu_sample_hz,
        metrics_url: (!args.no_server_metrics).then(|| args.metrics_url.clone()),
    }
}

fn read_api_key(args: &TargetArgs) -> anyhow::Result<Option<ApiKey>> {
    let key = if let Some(var) = &args.api_key_env {
        std::env::var(var).map_err(|_| {
            bad_input(format!(
                "--api-key-env: the environment variable {var} is not set"
            ))
        })?
    } else if let Some(path) = &args.api_key_file {
        std::fs::read_to_string(path).map_err(|e| {
            bad_input(format!(
                "--api-key-file {}: cannot read it: {e}",
                path.display()
            ))
        })?
    } else {
        return Ok(None);
    };
    let key = ApiKey::new(key);
    crate::secrets::learn(key.expose());
    Ok(Some(key))
}

/// `http://HOST:PORT`, without a trailing `/` or `/v1`; its credentials remembered as secrets.
///
/// # Errors
/// Bad input for anything but an `http://` URL.
pub fn normalise_url(url: &str) -> anyhow::Result<String> {
    crate::secrets::learn_url(url);
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
    if trimmed.starts_with("https://") {
        return Err(bad_input(format!(
            "--url {}: https is not supported by this build; run jauge on the server's host over http",
            crate::secrets::redact(url)
        )));
    }
    if !trimmed.starts_with("http://") || trimmed.len() <= "http://".len() {
        return Err(bad_input(format!(
            "--url {}: expected http://HOST:PORT",
            crate::secrets::redact(url)
        )));
    }
    Ok(trimmed.to_string())
}

/// `--rate` and `--arrival`: an infinite rate sends every request at once, which is the closed
/// loop of `--concurrency` users (vLLM's `--request-rate inf`); a rate out of range is kept for
/// the plan's check to refuse.
pub fn pacing(rate: Option<f64>, arrival_arg: ArrivalArg) -> Pacing {
    match rate {
        None => Pacing::Closed,
        Some(r) if r == f64::INFINITY => Pacing::Closed,
        Some(rate_rps) => Pacing::Open {
            rate_rps,
            arrival: arrival(arrival_arg),
        },
    }
}

fn arrival(a: ArrivalArg) -> Arrival {
    match a {
        ArrivalArg::Poisson => Arrival::Poisson,
        ArrivalArg::Gamma => Arrival::Gamma,
        ArrivalArg::Constant => Arrival::Constant,
    }
}

fn default_out() -> PathBuf {
    PathBuf::from(format!("{}.json", crate::files::stamped("jauge-run")))
}
