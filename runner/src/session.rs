//! A measuring session against one server: the target (a real server, or the built-in
//! simulation), the dataset on disk, telemetry, prompts, progress and Ctrl-C. `jauge run`
//! drives it over a fixed grid; `jauge limit` over a search.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use jauge::catalogue::Catalogue;
use jauge::dataset::{
    Arrival, Dataset, Deployment, Endpoint, Engine, EngineSettings, GpuInfo, GpuTelemetry, Limit,
    LimitReason, ModelInfo, Provenance, RunStatus, Source, Step, TelemetryStatus, Workload,
    SCHEMA_V1,
};
use tokio::sync::watch;

use crate::aggregate;
use crate::cli::{ArrivalArg, EndpointArg, RunArgs};
use crate::client::{ApiKey, Target};
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::gpu::Sampler;
use crate::limits::{bounded, ReadLimits, CONNECT_TIMEOUT};
use crate::load::{self, Rate, StepBound, StepLoad};
use crate::openai::{encode_body, BodyOptions};
use crate::probe::{self, ServerFacts};
use crate::progress::Progress;
use crate::prompts::{PromptMaker, MAX_PROMPT_TOKENS};
use crate::record::RequestRecord;
use crate::secrets::{redact, redact_args};
use crate::serve_sim::{SimOptions, SimServer};
use crate::summary;
use crate::telemetry::Telemetry;
use jauge::objectives::Slo;

/// Whether the concurrencies are given (`jauge run`) or found by a search (`jauge limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// `--concurrency` lists them.
    Fixed,
    /// The search adds each one it probes.
    Searched,
    /// A search on prompt sizes (`jauge study`'s maximum context): both lists grow.
    Context,
}

/// Everything a measuring command holds while it runs.
pub struct Session<'a> {
    /// The command's arguments.
    pub args: &'a RunArgs,
    /// The dataset being written.
    pub dataset: Dataset,
    /// Where it is written.
    pub out: PathBuf,
    /// What the server said about itself.
    pub facts: ServerFacts,
    /// Progress display.
    pub progress: Progress,
    records_path: PathBuf,
    http: reqwest::Client,
    target: Target,
    sim: Option<(SimServer, SimOptions)>,
    cancel: watch::Receiver<bool>,
    telemetry: Telemetry,
    maker: PromptMaker,
    warmed_rows: Vec<u32>,
    /// Ctrl-C came.
    pub interrupted: bool,
}

impl<'a> Session<'a> {
    /// Starts the target (or the simulation), reads the server, opens or resumes the dataset,
    /// starts telemetry and calibrates prompts. `total_steps` sizes the progress bar;
    /// `max_concurrency` sizes the connection pool.
    pub async fn open(
        args: &'a RunArgs,
        command: &str,
        total_steps: u64,
        max_concurrency: u32,
        grid: Grid,
    ) -> anyhow::Result<Session<'a>> {
        check_grid(args)?;
        let grid_most = args.concurrency.iter().copied().max().unwrap_or(1);
        let max_concurrency = grid_most.max(max_concurrency);
        let flag = match command {
            _ if grid_most >= max_concurrency => "--concurrency",
            "limit" => "--max-concurrency",
            _ => "--max-users",
        };
        let body_estimate = u64::from(args.prompt_tokens.iter().copied().max().unwrap_or(1))
            .saturating_mul(BODY_BYTES_PER_TOKEN);
        crate::capacity::ensure(max_concurrency, body_estimate, flag).map_err(bad_input)?;
        let api_key = read_api_key(args)?;
        let out = args.out.clone().unwrap_or_else(default_out);
        match (args.resume, out.exists()) {
            (false, true) => {
                return Err(bad_input(format!(
                    "{} exists: pass --resume to continue it, or choose another --out",
                    out.display()
                )))
            }
            (true, false) => {
                return Err(bad_input(format!(
                    "--resume: {} does not exist",
                    out.display()
                )))
            }
            _ => {}
        }
        if args.url.is_some()
            && (!args.fault.is_empty()
                || args.die_after.is_some()
                || args.time_scale != 1.0
                || args.max_model_len.is_some()
                || args.max_num_seqs.is_some())
        {
            return Err(bad_input(
                "--fault, --die-after, --time-scale, --max-model-len and --max-num-seqs apply to the built-in server only (no --url)",
            ));
        }

        // The target: a real server, or the built-in simulation started here.
        let mut sim = None;
        let base_url = match &args.url {
            Some(url) => normalise_url(url)?,
            None => {
                let options = SimOptions {
                    model: args
                        .catalog_model
                        .clone()
                        .unwrap_or_else(|| SimOptions::default().model),
                    gpu: args
                        .gpu
                        .clone()
                        .unwrap_or_else(|| SimOptions::default().gpu),
                    gpus: args.gpu_count.unwrap_or(1),
                    quant: args.quant.clone(),
                    time_scale: args.time_scale,
                    max_model_len: args.max_model_len,
                    max_num_seqs: args.max_num_seqs,
                    faults: args.fault.clone(),
                    die_after: args.die_after,
                    seed: args.seed,
                    ..SimOptions::default()
                };
                let server = SimServer::start(&options, 0).await?;
                let url = server.url();
                sim = Some((server, options));
                url
            }
        };
        // More idle connections than requests in flight, so no request waits for the pool.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(2 * max_concurrency as usize)
            .connect_timeout(bounded(args.timeout, CONNECT_TIMEOUT))
            // Servers close idle keep-alive connections after 5 s (uvicorn for vLLM,
            // cpp-httplib for llama.cpp); reusing one at that moment fails the request with
            // "connection closed before message completed". Dropping them sooner avoids it.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        let mut target = Target {
            base_url: base_url.clone(),
            api_key,
            endpoint: match args.endpoint {
                EndpointArg::Completions => Endpoint::Completions,
                EndpointArg::Chat => Endpoint::Chat,
            },
            model: String::new(),
            force_output_length: !args.no_force_output,
            timeout: args.timeout,
            limits: ReadLimits::with(&args.read_limit),
        };
        let facts = probe::probe(&http, &target).await?;
        target.model = match (&args.model, &facts.served_model) {
            (Some(m), _) => m.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => {
                return Err(bad_input(format!(
                    "{}/v1/models lists no model: pass --model",
                    redact(&base_url)
                )))
            }
        };

        let mut dataset = if args.resume {
            let text = std::fs::read_to_string(&out)
                .with_context(|| format!("reading {}", out.display()))?;
            let existing = Dataset::from_json(&text)
                .map_err(|e| bad_input(format!("--resume: {}: {e}", out.display())))?;
            let mut fresh = new_dataset(args, &target, &facts, sim.as_ref().map(|(s, o)| (s, o)));
            if grid != Grid::Fixed {
                fresh.workload.concurrency = existing.workload.concurrency.clone();
            }
            if grid == Grid::Context {
                fresh.workload.prompt_tokens = existing.workload.prompt_tokens.clone();
            }
            check_resumable(&existing, &fresh)?;
            existing
        } else {
            let mut fresh = new_dataset(args, &target, &facts, sim.as_ref().map(|(s, o)| (s, o)));
            if grid != Grid::Fixed {
                // Grows with the probes; every search starts at one user.
                fresh.workload.concurrency = vec![1];
            }
            fresh
        };

        let (cancel_tx, cancel) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = cancel_tx.send(true);
            }
        });

        let origin = std::time::Instant::now();
        let (sampler, gpu_telemetry) = start_gpu_telemetry(args, sim.is_some(), origin);
        if let Some(sampler) = &sampler {
            fill_deployment_from_nvml(&mut dataset, sampler, args);
        }
        let metrics_url = match (args.no_server_metrics, &args.metrics_url) {
            (true, _) => None,
            (false, Some(url)) => {
                crate::secrets::learn_url(url);
                Some(url.clone())
            }
            (false, None) => Some(format!("{base_url}/metrics")),
        };
        let metrics_url = match metrics_url {
            Some(url) => match crate::metrics::scrape(&http, &url, target.limits.metrics).await {
                Ok(_) => Some(url),
                Err(why) => {
                    add_note(&mut dataset, format!("Server telemetry: none ({why})."));
                    None
                }
            },
            None => None,
        };
        for note in &facts.notes {
            add_note(&mut dataset, note.clone());
        }
        let telemetry = Telemetry::new(
            origin,
            sampler,
            metrics_url,
            target.limits.metrics,
            http.clone(),
        );
        if !args.resume || dataset.gpu_telemetry.is_none() {
            let mut status = gpu_telemetry;
            if status.status == TelemetryStatus::Available {
                status.idle_power_w = telemetry
                    .idle_power(std::time::Duration::from_secs(1))
                    .await;
            }
            dataset.gpu_telemetry = Some(status);
        }

        let mut maker = match &args.tokenizer {
            Some(path) => PromptMaker::with_tokenizer(path, args.seed, args.shared_prefix_tokens)
                .map_err(bad_input)?,
            None => {
                PromptMaker::calibrate(&http, &target, args.seed, args.shared_prefix_tokens).await
            }
        };
        add_note(
            &mut dataset,
            format!("Prompts: {}.", maker.calibration().describe()),
        );
        for note in maker.take_notes() {
            add_note(&mut dataset, note);
        }
        dataset.status = RunStatus::Running;
        write_atomic(&out, &dataset.to_json())?;

        let progress = Progress::new(total_steps, args.quiet);
        progress.say(&format!(
            "jauge {command} → {} ({}, model {}){}",
            redact(&base_url),
            facts.engine,
            target.model,
            sim.as_ref()
                .map(|(s, _)| format!("\n  {}", s.description))
                .unwrap_or_default()
        ));
        Ok(Session {
            args,
            dataset,
            records_path: records_path(&out),
            out,
            facts,
            progress,
            http,
            target,
            sim,
            cancel,
            telemetry,
            maker,
            warmed_rows: Vec::new(),
            interrupted: false,
        })
    }

    /// Whether a row must not run: already done (resumed), the server is down, or the prompt
    /// cannot fit the server's context (recorded as a limit).
    pub fn row_blocked(&mut self, prompt_tokens: u32, server_down: bool) -> anyhow::Result<bool> {
        if self
            .dataset
            .limits
            .iter()
            .any(|l| l.prompt_tokens == prompt_tokens)
        {
            return Ok(true);
        }
        if server_down {
            set_limit(
                &mut self.dataset,
                prompt_tokens,
                None,
                None,
                LimitReason::ServerDown,
                "not run: the server stopped answering".into(),
            );
            return Ok(true);
        }
        if let Some(max_len) = self.facts.max_model_len {
            if u64::from(prompt_tokens) + u64::from(self.args.output_tokens) > u64::from(max_len) {
                let detail = format!(
                    "skipped: {prompt_tokens} prompt + {} output tokens exceed the server's max_model_len {max_len}",
                    self.args.output_tokens
                );
                self.progress
                    .say(&format!("prompt {prompt_tokens}: {detail}"));
                set_limit(
                    &mut self.dataset,
                    prompt_tokens,
                    None,
                    None,
                    LimitReason::ContextLength,
                    detail,
                );
                self.save()?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A step already on disk (from the run being resumed).
    pub fn done_step(&self, concurrency: u32, prompt_tokens: u32) -> Option<&Step> {
        self.dataset
            .steps
            .iter()
            .find(|s| s.concurrency == concurrency && s.prompt_tokens == prompt_tokens)
    }

    /// Measures one step (warming the row up first); `None` when Ctrl-C interrupted it (then
    /// nothing of it is kept but its request records).
    pub async fn measure(
        &mut self,
        concurrency: u32,
        prompt_tokens: u32,
        requests: Option<u32>,
        slo: Slo,
    ) -> anyhow::Result<Option<Step>> {
        let args = self.args;
        let bodies = Arc::new(self.bodies(concurrency, prompt_tokens, requests).await);
        let label = format!("prompt {prompt_tokens} · {concurrency} users");
        if !self.warmed_rows.contains(&prompt_tokens) && args.warmup > 0 {
            self.progress
                .start_step(&format!("{label} (warm-up)"), Some(args.warmup));
            let warm = StepLoad {
                concurrency: concurrency.min(args.warmup),
                prompt_tokens,
                output_tokens: args.output_tokens,
                bound: StepBound::Requests(args.warmup),
                rate: None,
                warmup: true,
                seed: args.seed,
            };
            let mut run = load::run_step(
                &self.http,
                &self.target,
                &warm,
                bodies.clone(),
                &self.cancel,
                |_| {},
            )
            .await;
            mark_interrupted(&mut run);
            append_records(&self.records_path, &run.records)?;
            if run.interrupted {
                self.interrupted = true;
                return Ok(None);
            }
            self.warmed_rows.push(prompt_tokens);
        }
        self.progress.start_step(&label, requests);
        let step_load = StepLoad {
            concurrency,
            prompt_tokens,
            output_tokens: args.output_tokens,
            bound: match args.duration_per_step {
                Some(d) => StepBound::Duration(d),
                None => StepBound::Requests(requests.unwrap_or(1)),
            },
            rate: args.rate.map(|rps| Rate {
                rps,
                arrival: arrival(args.arrival),
            }),
            warmup: false,
            seed: args
                .seed
                .wrapping_add(u64::from(concurrency) << 32 | u64::from(prompt_tokens)),
        };
        let probe = self.telemetry.begin_step().await;
        let progress = &mut self.progress;
        let mut run = load::run_step(
            &self.http,
            &self.target,
            &step_load,
            bodies,
            &self.cancel,
            |r| progress.record(r),
        )
        .await;
        mark_interrupted(&mut run);
        append_records(&self.records_path, &run.records)?;
        if run.interrupted {
            self.progress
                .say("interrupted: the unfinished step is dropped, the finished ones are kept");
            self.interrupted = true;
            return Ok(None);
        }
        let mut step = aggregate::step(
            concurrency,
            prompt_tokens,
            args.output_tokens,
            &run.records,
            slo,
        );
        self.telemetry
            .end_step(probe, &mut step, &run.records)
            .await;
        self.progress.finish_step(&step_line(&step));
        if let Some(note) = prompt_count_note(&step, self.target.endpoint) {
            if !self.dataset.notes.contains(&note) {
                self.progress.say(&note);
                self.dataset.notes.push(note);
            }
        }
        Ok(Some(step))
    }

    /// The request bodies of a step: as many different prompts as it sends requests (8 per
    /// user when it runs for a duration), but no more than [`POOL_BYTES`] hold — then prompts
    /// repeat, which the dataset's notes say.
    async fn bodies(
        &mut self,
        concurrency: u32,
        prompt_tokens: u32,
        requests: Option<u32>,
    ) -> Vec<bytes::Bytes> {
        let wanted = requests.unwrap_or(concurrency.saturating_mul(8)).max(1);
        let options = BodyOptions {
            model: self.target.model.clone(),
            max_tokens: self.args.output_tokens,
            force_output_length: self.target.force_output_length,
        };
        let mut bodies: Vec<bytes::Bytes> = Vec::new();
        let mut held = 0u64;
        for _ in 0..wanted {
            let prompt = self
                .maker
                .make(&self.http, &self.target, prompt_tokens)
                .await;
            let body = encode_body(self.target.endpoint, &prompt, &options);
            held += body.len() as u64;
            bodies.push(body);
            if held >= POOL_BYTES {
                break;
            }
        }
        if (bodies.len() as u32) < wanted {
            add_note(
                &mut self.dataset,
                format!(
                    "Prompts: {} different prompts of {prompt_tokens} tokens were sent in turn (the most {} MiB hold), not {wanted}; a server's prefix cache may see repeats.",
                    bodies.len(),
                    POOL_BYTES >> 20
                ),
            );
        }
        for note in self.maker.take_notes() {
            self.progress.say(&note);
            add_note(&mut self.dataset, note);
        }
        bodies
    }

    /// The step at this concurrency and prompt size: the one on disk when resuming, else
    /// measured now with `requests` requests, added to the dataset (its concurrency and prompt
    /// size joining the workload's lists) and saved. `None` when Ctrl-C interrupted it.
    pub async fn step_at(
        &mut self,
        concurrency: u32,
        prompt_tokens: u32,
        requests: u32,
        slo: Slo,
    ) -> anyhow::Result<Option<Step>> {
        if let Some(done) = self.done_step(concurrency, prompt_tokens) {
            return Ok(Some(done.clone()));
        }
        let Some(step) = self
            .measure(concurrency, prompt_tokens, Some(requests), slo)
            .await?
        else {
            return Ok(None);
        };
        let workload = &mut self.dataset.workload;
        for (list, value) in [
            (&mut workload.concurrency, concurrency),
            (&mut workload.prompt_tokens, prompt_tokens),
        ] {
            if !list.contains(&value) {
                list.push(value);
                list.sort_unstable();
            }
        }
        self.dataset.steps.push(step.clone());
        self.save()?;
        Ok(Some(step))
    }

    /// Writes the dataset as it stands (atomically).
    pub fn save(&self) -> anyhow::Result<()> {
        write_atomic(&self.out, &self.dataset.to_json())
    }

    /// Marks the dataset complete or interrupted, writes it, stops the simulation, prints the
    /// summary; exit 0, or 130 when interrupted.
    pub fn finish(mut self, table: &str) -> anyhow::Result<ExitCode> {
        self.progress.finish();
        self.dataset.status = if self.interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Complete
        };
        self.save()?;
        if let Some((server, _)) = &self.sim {
            server.stop();
        }
        print!("{table}");
        print!("{}", summary::errors(&self.dataset));
        println!(
            "\n{} dataset: {} ({} steps){}\nper-request records: {}",
            self.dataset.source,
            self.out.display(),
            self.dataset.steps.len(),
            if self.interrupted {
                ", interrupted: continue with --resume"
            } else {
                ""
            },
            self.records_path.display()
        );
        Ok(if self.interrupted {
            ExitCode::from(130)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// Request bodies of a step's prompt pool held at once: enough for hundreds of different
/// prompts of thousands of tokens, small beside what the streams themselves take.
pub const POOL_BYTES: u64 = 64 << 20;

/// A request body's bytes per prompt token, at most: a token id and its comma in JSON (up to
/// 7 digits), or a word and its space.
pub const BODY_BYTES_PER_TOKEN: u64 = 8;

/// Flags the records of a step cut short, so they stand apart from its rerun in the request
/// log.
fn mark_interrupted(run: &mut load::StepRun) {
    if run.interrupted {
        for r in &mut run.records {
            r.interrupted = true;
        }
    }
}

/// Adds a note once.
pub(crate) fn add_note(dataset: &mut Dataset, note: String) {
    if !dataset.notes.contains(&note) {
        dataset.notes.push(note);
    }
}

pub(crate) fn step_line(step: &Step) -> String {
    let p95 =
        |s: Option<jauge::dataset::Summary>| s.map_or("-".to_string(), |s| format!("{:.0}", s.p95));
    format!(
        "prompt {} · {} users: {}/{} ok · {:.1} tok/s · TTFT p95 {} ms · TPOT p95 {} ms",
        step.prompt_tokens,
        step.concurrency,
        step.requests.completed,
        step.requests.sent,
        step.throughput.output_tok_s,
        p95(step.latency.ttft_ms),
        step.latency
            .tpot_ms
            .map_or("-".to_string(), |s| format!("{:.1}", s.p95)),
    )
}

/// A note when the server counted other prompt lengths than the ones asked for (verified
/// against `usage.prompt_tokens`): expected for chat templates, a calibration problem otherwise.
pub(crate) fn prompt_count_note(step: &Step, endpoint: Endpoint) -> Option<String> {
    let counted = step.token_counts?.prompt_tokens_mean;
    let asked = f64::from(step.prompt_tokens);
    if (counted - asked).abs() < 0.5 {
        return None;
    }
    let why = match endpoint {
        Endpoint::Chat => "the chat template adds its tokens",
        Endpoint::Completions => "prompt calibration was not exact for this server",
    };
    Some(format!(
        "Prompt tokens: asked {asked:.0}, the server counted {counted:.1} on average (usage.prompt_tokens; {why})."
    ))
}

/// Starts the NVML sampler unless the run cannot or should not read GPUs; says why not.
pub(crate) fn start_gpu_telemetry(
    args: &RunArgs,
    simulated: bool,
    origin: std::time::Instant,
) -> (Option<Sampler>, GpuTelemetry) {
    let unavailable = |reason: String| {
        (
            None,
            GpuTelemetry {
                status: TelemetryStatus::Unavailable,
                reason: Some(reason),
                sample_hz: None,
                idle_power_w: Vec::new(),
            },
        )
    };
    if args.no_gpu {
        return unavailable("--no-gpu".to_string());
    }
    if simulated {
        return unavailable("the built-in simulated server uses no GPU".to_string());
    }
    match Sampler::start(args.gpus.as_deref(), args.gpu_sample_hz, origin) {
        Ok(sampler) => {
            let hz = sampler.hz;
            (
                Some(sampler),
                GpuTelemetry {
                    status: TelemetryStatus::Available,
                    reason: None,
                    sample_hz: Some(hz),
                    idle_power_w: Vec::new(),
                },
            )
        }
        Err(reason) => unavailable(reason),
    }
}

/// The deployment's GPUs as NVML reports them, so datasets from GPU nodes need no typing.
pub(crate) fn fill_deployment_from_nvml(dataset: &mut Dataset, sampler: &Sampler, args: &RunArgs) {
    let devices = &sampler.devices;
    let Some((_, _, name, memory_mib)) = devices.gpus.first() else {
        return;
    };
    let gpus = &mut dataset.deployment.gpus;
    gpus.name = name.clone();
    gpus.memory_mib = Some(*memory_mib);
    gpus.driver_version = devices.driver_version.clone();
    gpus.cuda_version = devices.cuda_version.clone();
    if args.gpu_count.is_none() {
        gpus.count = devices.gpus.len() as u32;
    }
    if args.gpu.is_none() {
        gpus.catalogue_id = crate::telemetry::catalogue_gpu_id(name).map(str::to_string);
    }
}

pub(crate) fn set_limit(
    dataset: &mut Dataset,
    prompt_tokens: u32,
    max_concurrency_ok: Option<u32>,
    stopped_at_concurrency: Option<u32>,
    reason: LimitReason,
    detail: String,
) {
    dataset.limits.retain(|l| l.prompt_tokens != prompt_tokens);
    dataset.limits.push(Limit {
        prompt_tokens,
        max_concurrency_ok,
        stopped_at_concurrency,
        reason,
        detail: Some(redact(&detail)),
    });
    dataset.limits.sort_by_key(|l| l.prompt_tokens);
}

pub(crate) fn new_dataset(
    args: &RunArgs,
    target: &Target,
    facts: &probe::ServerFacts,
    sim: Option<(&SimServer, &SimOptions)>,
) -> Dataset {
    let cat = Catalogue::builtin();
    let catalogue_model = args
        .catalog_model
        .clone()
        .or_else(|| sim.map(|(_, o)| o.model.clone()))
        .and_then(|id| cat.model(&id).ok())
        .or_else(|| cat.model(&target.model).ok());
    let gpu_id = args.gpu.clone().or_else(|| sim.map(|(_, o)| o.gpu.clone()));
    let gpu = gpu_id.as_deref().and_then(|id| cat.gpu(id).ok());
    let quant = args
        .quant
        .clone()
        .or_else(|| sim.map(|(server, _)| server.quant.clone()))
        .unwrap_or_else(|| "unknown".to_string());
    let mut notes = Vec::new();
    if let Some((server, options)) = sim {
        notes.push(format!(
            "Simulated: measured against jauge's built-in server ({}), not a GPU. Its timing is jauge's first-order roofline model.",
            server.description
        ));
        if options.time_scale != 1.0 {
            notes.push(format!(
                "Time scale {}: the simulated server ran {}× faster than the modelled GPU, so latencies are that much shorter.",
                options.time_scale, options.time_scale
            ));
        }
    }
    Dataset {
        schema: SCHEMA_V1.to_string(),
        source: if sim.is_some() {
            Source::Simulated
        } else {
            Source::Measured
        },
        provenance: Provenance {
            tool: "jauge".to_string(),
            tool_version: jauge::VERSION.to_string(),
            created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            command_line: redact_args(std::env::args()),
        },
        deployment: Deployment {
            model: ModelInfo {
                served_name: target.model.clone(),
                catalogue_id: catalogue_model.map(|m| m.id.clone()),
                hf_repo: catalogue_model.and_then(|m| m.hf_repos.first().cloned()),
            },
            quantization: quant,
            kv_cache_dtype: "auto".to_string(),
            engine: Engine {
                name: facts.engine.clone(),
                version: facts.version.clone(),
                settings: match sim {
                    Some((server, _)) => server.settings.clone(),
                    None => EngineSettings {
                        max_model_len: facts.max_model_len,
                        tensor_parallel_size: Some(args.gpu_count.unwrap_or(1)),
                        ..EngineSettings::default()
                    },
                },
            },
            gpus: GpuInfo {
                name: gpu.map_or_else(
                    || gpu_id.clone().unwrap_or_else(|| "unknown".to_string()),
                    |g| g.name.clone(),
                ),
                catalogue_id: gpu.map(|g| g.id.clone()),
                count: args.gpu_count.unwrap_or(1),
                memory_mib: gpu.map(|g| (g.memory_gib * 1024.0).round() as u64),
                driver_version: None,
                cuda_version: None,
            },
        },
        workload: Workload {
            endpoint: target.endpoint,
            concurrency: args.concurrency.clone(),
            prompt_tokens: args.prompt_tokens.clone(),
            output_tokens: args.output_tokens,
            requests_per_step: args.requests_per_step,
            duration_per_step_s: args.duration_per_step.map(|d| d.as_secs_f64()),
            warmup_requests: args.warmup,
            rate_rps: args.rate,
            arrival: args.rate.map(|_| arrival(args.arrival)),
            timeout_s: Some(args.timeout.as_secs_f64()),
            shared_prefix_tokens: (args.shared_prefix_tokens > 0)
                .then_some(args.shared_prefix_tokens),
            slo_ttft_ms: args.slo_ttft_ms,
            slo_tpot_ms: args.slo_tpot_ms,
            max_error_rate: Some(args.max_error_rate),
            min_throughput_gain: (!args.full_grid).then_some(args.min_throughput_gain),
        },
        status: RunStatus::Running,
        gpu_telemetry: None,
        steps: Vec::new(),
        limits: Vec::new(),
        context_limits: Vec::new(),
        notes,
    }
}

/// A resumed run must measure the same thing as the run it continues.
pub(crate) fn check_resumable(existing: &Dataset, fresh: &Dataset) -> anyhow::Result<()> {
    let (a, b) = (&existing.workload, &fresh.workload);
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let settings = [
        ("--concurrency", show(&a.concurrency), show(&b.concurrency)),
        (
            "--prompt-tokens",
            show(&a.prompt_tokens),
            show(&b.prompt_tokens),
        ),
        (
            "--output-tokens",
            show(&a.output_tokens),
            show(&b.output_tokens),
        ),
        (
            "--requests-per-step",
            show(&a.requests_per_step),
            show(&b.requests_per_step),
        ),
        (
            "--duration-per-step",
            show(&a.duration_per_step_s),
            show(&b.duration_per_step_s),
        ),
        ("--endpoint", show(&a.endpoint), show(&b.endpoint)),
        ("--rate", show(&a.rate_rps), show(&b.rate_rps)),
        ("--slo-ttft-ms", show(&a.slo_ttft_ms), show(&b.slo_ttft_ms)),
        ("--slo-tpot-ms", show(&a.slo_tpot_ms), show(&b.slo_tpot_ms)),
        (
            "--max-error-rate",
            show(&a.max_error_rate),
            show(&b.max_error_rate),
        ),
        (
            "--min-throughput-gain",
            show(&a.min_throughput_gain),
            show(&b.min_throughput_gain),
        ),
        (
            "model",
            show(&existing.deployment.model.served_name),
            show(&fresh.deployment.model.served_name),
        ),
        (
            "source",
            existing.source.to_string(),
            fresh.source.to_string(),
        ),
    ];
    let differences: Vec<String> = settings
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(name, old, new)| format!("{name} was {old}, now {new}"))
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(bad_input(format!(
            "--resume: the settings differ from the dataset's ({}); resume with the same settings or start a new --out",
            differences.join("; ")
        )))
    }
}

pub(crate) fn check_grid(args: &RunArgs) -> anyhow::Result<()> {
    for (flag, values) in [
        ("--concurrency", &args.concurrency),
        ("--prompt-tokens", &args.prompt_tokens),
    ] {
        if values.is_empty() || values.contains(&0) {
            return Err(bad_input(format!(
                "{flag}: give whole numbers above 0, e.g. 1,2,4"
            )));
        }
        if values.windows(2).any(|w| w[1] <= w[0]) {
            return Err(bad_input(format!(
                "{flag}: {values:?} must increase strictly"
            )));
        }
    }
    if let Some(&longest) = args.prompt_tokens.iter().max() {
        check_prompt_tokens("--prompt-tokens", longest)?;
    }
    if args.output_tokens == 0 || args.output_tokens > MAX_PROMPT_TOKENS {
        return Err(bad_input(format!(
            "--output-tokens: between 1 and {MAX_PROMPT_TOKENS}"
        )));
    }
    if args
        .requests_per_step
        .is_some_and(|n| n == 0 || n > MAX_REQUESTS_PER_STEP)
    {
        return Err(bad_input(format!(
            "--requests-per-step: between 1 and {MAX_REQUESTS_PER_STEP} (a step's records are held until it ends)"
        )));
    }
    if args
        .rate
        .is_some_and(|r| !(MIN_RATE_RPS..=MAX_RATE_RPS).contains(&r))
    {
        return Err(bad_input(format!(
            "--rate: between {MIN_RATE_RPS} and {MAX_RATE_RPS} requests per second"
        )));
    }
    if !(0.0..=1.0).contains(&args.max_error_rate) {
        return Err(bad_input("--max-error-rate: must be between 0 and 1"));
    }
    for (flag, value) in [
        ("--timeout", Some(args.timeout)),
        ("--duration-per-step", args.duration_per_step),
    ] {
        if value.is_some_and(|d| d.is_zero() || d > MAX_WAIT) {
            return Err(bad_input(format!(
                "{flag}: between 1 ms and {}",
                humantime::format_duration(MAX_WAIT)
            )));
        }
    }
    if !(args.gpu_sample_hz > 0.0 && args.gpu_sample_hz <= 1000.0) {
        return Err(bad_input("--gpu-sample-hz: above 0 and at most 1000"));
    }
    Ok(())
}

/// Most requests one step may send: its records are held in memory until it ends.
pub const MAX_REQUESTS_PER_STEP: u32 = 100_000;
/// The slowest open loop: one request every 1,000 s.
const MIN_RATE_RPS: f64 = 1e-3;
/// The fastest open loop: far beyond what one process sends.
const MAX_RATE_RPS: f64 = 1e6;
/// The longest `--timeout` or step duration: a day.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A prompt size jauge will generate.
///
/// # Errors
/// Bad input naming `flag` when it is 0 or above [`MAX_PROMPT_TOKENS`].
pub(crate) fn check_prompt_tokens(flag: &str, tokens: u32) -> anyhow::Result<()> {
    if tokens == 0 || tokens > MAX_PROMPT_TOKENS {
        return Err(bad_input(format!(
            "{flag}: {tokens} tokens: prompts are between 1 and {MAX_PROMPT_TOKENS} tokens (beyond any open model's context; a prompt is held whole in memory)"
        )));
    }
    Ok(())
}

pub(crate) fn read_api_key(args: &RunArgs) -> anyhow::Result<Option<ApiKey>> {
    if let Some(var) = &args.api_key_env {
        let key = std::env::var(var).map_err(|_| {
            bad_input(format!(
                "--api-key-env: the environment variable {var} is not set"
            ))
        })?;
        let key = ApiKey::new(key);
        crate::secrets::learn(key.expose());
        return Ok(Some(key));
    }
    if let Some(path) = &args.api_key_file {
        let key = std::fs::read_to_string(path).map_err(|e| {
            bad_input(format!(
                "--api-key-file {}: cannot read it: {e}",
                path.display()
            ))
        })?;
        let key = ApiKey::new(key);
        crate::secrets::learn(key.expose());
        return Ok(Some(key));
    }
    Ok(None)
}

pub(crate) fn normalise_url(url: &str) -> anyhow::Result<String> {
    crate::secrets::learn_url(url);
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
    if trimmed.starts_with("https://") {
        return Err(bad_input(format!(
            "--url {}: https is not supported by this build; run jauge on the server's host over http",
            redact(url)
        )));
    }
    if !trimmed.starts_with("http://") || trimmed.len() <= "http://".len() {
        return Err(bad_input(format!(
            "--url {}: expected http://HOST:PORT",
            redact(url)
        )));
    }
    Ok(trimmed.to_string())
}

pub(crate) fn arrival(a: ArrivalArg) -> Arrival {
    match a {
        ArrivalArg::Poisson => Arrival::Poisson,
        ArrivalArg::Gamma => Arrival::Gamma,
        ArrivalArg::Constant => Arrival::Constant,
    }
}

pub(crate) fn default_out() -> PathBuf {
    PathBuf::from(format!("{}.json", crate::files::stamped("jauge-run")))
}

/// `x.json` → `x.requests.jsonl`.
pub fn records_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    out.with_file_name(format!("{stem}.requests.jsonl"))
}

/// Appends records, one JSON object a line, and flushes them to disk.
pub(crate) fn append_records(path: &Path, records: &[RequestRecord]) -> anyhow::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    let text = crate::secrets::mask_known(&text);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_data()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
