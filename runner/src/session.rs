//! A measuring session: steps measured against one server, each written to the dataset as it
//! finishes, with telemetry around it, prompts made for it, progress shown and Ctrl-C heard.
//! `jauge run` drives it over a fixed grid, `jauge limit` and the study over searches. What
//! the session measures is decided in [`crate::plan`]; the server is reached through
//! [`crate::server`]; the file is kept by [`crate::dataset_file`].

use std::process::ExitCode;
use std::sync::Arc;

use jauge::dataset::{
    Endpoint, GpuTelemetry, LimitReason, PeopleStep, RequestCounts, RunStatus, Step,
    TelemetryStatus,
};
use jauge::metric::Metric;
use jauge::objectives::Slo;
use jauge::sim::PeopleOutcome;
use tokio::sync::watch;

use crate::dataset_file::DatasetFile;
use crate::exit::bad_input;
use crate::gpu::Sampler;
use crate::load::{self, StepBound, StepLoad};
use crate::openai::{encode_body, BodyOptions};
use crate::plan::{MeasurePlan, PeoplePlan, ShardPlan, TracePlan};
use crate::population::{self, Population};
use crate::progress::Progress;
use crate::prompts::PromptMaker;
use crate::replay;
use crate::server::Server;
use crate::summary;
use crate::telemetry::Telemetry;

/// Request bodies of a step's prompt pool held at once: enough for hundreds of different
/// prompts of thousands of tokens, small beside what the streams themselves take.
pub const POOL_BYTES: u64 = 64 << 20;

/// Everything a measuring command holds while it runs.
pub struct Session<'a> {
    /// What it measures.
    pub plan: &'a MeasurePlan,
    /// The server measured.
    pub server: Server,
    /// The dataset being written.
    pub file: DatasetFile,
    /// Progress display.
    pub progress: Progress,
    cancel: watch::Receiver<bool>,
    telemetry: Telemetry,
    maker: PromptMaker,
    warmed_rows: Vec<u32>,
    /// Steps measured so far (the shards meet before each).
    measured_steps: u32,
    /// Ctrl-C came.
    pub interrupted: bool,
}

impl<'a> Session<'a> {
    /// Reaches the server (starting the built-in one when planned), opens or resumes the
    /// dataset, starts telemetry and prepares prompts. `total_steps` sizes the progress bar.
    ///
    /// # Errors
    /// Bad input the plan could not catch alone (an existing `--out`, a resumed file with other
    /// settings, a tokenizer file that cannot be read), or a server that does not answer.
    pub async fn open(plan: &'a MeasurePlan, total_steps: u64) -> anyhow::Result<Session<'a>> {
        DatasetFile::check_out(plan)?;
        let server = Server::open(plan).await?;
        let mut file = DatasetFile::open(plan, &server)?;

        let (cancel_tx, cancel) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = cancel_tx.send(true);
            }
        });

        let origin = std::time::Instant::now();
        let (sampler, gpu_telemetry) = start_gpu_telemetry(plan, server.sim.is_some(), origin);
        if let Some(sampler) = &sampler {
            describe_gpus(&mut file, sampler, plan);
        }
        let metrics_url = match server.metrics_url(plan) {
            Some(url) => {
                match crate::metrics::scrape(&server.http, &url, plan.requests.read_limits.metrics)
                    .await
                {
                    Ok(_) => Some(url),
                    Err(why) => {
                        file.note(format!("Server telemetry: none ({why})."));
                        None
                    }
                }
            }
            None => None,
        };
        for note in &server.facts.notes {
            file.note(note.clone());
        }
        let telemetry = Telemetry::new(
            origin,
            sampler,
            metrics_url,
            plan.requests.read_limits.metrics,
            server.http.clone(),
        );
        if !plan.resume || file.dataset.gpu_telemetry.is_none() {
            let mut status = gpu_telemetry;
            if status.status == TelemetryStatus::Available {
                status.idle_power_w = telemetry
                    .idle_power(std::time::Duration::from_secs(1))
                    .await;
            }
            file.dataset.gpu_telemetry = Some(status);
        }

        let requests = &plan.requests;
        let mut maker = match &requests.tokenizer {
            Some(path) => {
                PromptMaker::with_tokenizer(path, requests.seed, requests.shared_prefix_tokens)
                    .map_err(bad_input)?
            }
            None => {
                PromptMaker::calibrate(
                    &server.http,
                    &server.target,
                    requests.seed,
                    requests.shared_prefix_tokens,
                )
                .await
            }
        };
        file.note(format!("Prompts: {}.", maker.calibration().describe()));
        for note in maker.take_notes() {
            file.note(note);
        }
        file.dataset.status = RunStatus::Running;
        file.save()?;

        let progress = Progress::new(total_steps, plan.quiet);
        progress.say(&format!("jauge {} → {}", plan.command, server.describe()));
        Ok(Session {
            plan,
            server,
            file,
            progress,
            cancel,
            telemetry,
            maker,
            warmed_rows: Vec::new(),
            measured_steps: 0,
            interrupted: false,
        })
    }

    /// The dataset as it stands.
    pub fn dataset(&self) -> &jauge::dataset::Dataset {
        &self.file.dataset
    }

    /// Whether a row must not run: already done (resumed), the server is down, or the prompt
    /// cannot fit the server's context (recorded as a limit).
    ///
    /// # Errors
    /// When the dataset cannot be written.
    pub fn row_blocked(&mut self, prompt_tokens: u32, server_down: bool) -> anyhow::Result<bool> {
        if self
            .file
            .dataset
            .limits
            .iter()
            .any(|l| l.prompt_tokens == prompt_tokens)
        {
            return Ok(true);
        }
        if server_down {
            self.file.set_limit(
                prompt_tokens,
                None,
                None,
                LimitReason::ServerDown,
                "not run: the server stopped answering".into(),
            );
            return Ok(true);
        }
        let output_tokens = self.plan.load.output_tokens;
        if let Some(max_len) = self.server.facts.max_model_len {
            if u64::from(prompt_tokens) + u64::from(output_tokens) > u64::from(max_len) {
                let detail = format!(
                    "skipped: {prompt_tokens} prompt + {output_tokens} output tokens exceed the server's max_model_len {max_len}",
                );
                self.progress
                    .say(&format!("prompt {prompt_tokens}: {detail}"));
                self.file.set_limit(
                    prompt_tokens,
                    None,
                    None,
                    LimitReason::ContextLength,
                    detail,
                );
                self.file.save()?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A step already on disk (from the run being resumed).
    pub fn done_step(&self, concurrency: u32, prompt_tokens: u32) -> Option<&Step> {
        self.file.step(concurrency, prompt_tokens)
    }

    /// Measures one step (warming the row up first); `None` when Ctrl-C interrupted it (then
    /// nothing of it is kept but its request records, flagged `interrupted`).
    ///
    /// # Errors
    /// When the request log cannot be written.
    pub async fn measure(
        &mut self,
        concurrency: u32,
        prompt_tokens: u32,
        requests: Option<u32>,
        slo: Slo,
    ) -> anyhow::Result<Option<Step>> {
        if let Some(people) = &self.plan.load.people {
            return self.measure_people(concurrency, people, slo).await;
        }
        if let Some(trace) = &self.plan.load.trace {
            return self.measure_trace(trace, slo).await;
        }
        let load = &self.plan.load;
        // A shard sends its share of the step; its dataset files it under the whole step.
        let step_concurrency = concurrency;
        let (concurrency, requests) = match &load.shard {
            Some(s) => (s.share(concurrency), requests.map(|n| s.share(n).max(1))),
            None => (concurrency, requests),
        };
        let bodies = Arc::new(self.bodies(concurrency, prompt_tokens, requests).await);
        let label = format!("prompt {prompt_tokens} · {concurrency} users");
        let seed = self.plan.requests.seed;
        if !self.warmed_rows.contains(&prompt_tokens) && load.warmup > 0 {
            self.progress
                .start_step(&format!("{label} (warm-up)"), Some(load.warmup));
            let warm = StepLoad {
                concurrency: concurrency.min(load.warmup),
                prompt_tokens,
                output_tokens: load.output_tokens,
                bound: StepBound::Requests(load.warmup),
                pacing: jauge::pacing::Pacing::Closed,
                warmup: true,
                seed,
            };
            let mut run = load::run_step(
                &self.server.http,
                &self.server.target,
                &warm,
                bodies.clone(),
                &self.cancel,
                |_| {},
            )
            .await;
            if !self.keep_records(&mut run)? {
                return Ok(None);
            }
            self.warmed_rows.push(prompt_tokens);
        }
        if let Some(shard) = &load.shard {
            self.measured_steps += 1;
            self.progress.say(&format!(
                "shard {}/{}: waiting for the other shards (--shard-sync {})",
                shard.index,
                shard.count,
                shard.sync.display()
            ));
            meet(shard, self.measured_steps).await?;
        }
        self.progress.start_step(&label, requests);
        let step_load = StepLoad {
            concurrency,
            prompt_tokens,
            output_tokens: load.output_tokens,
            bound: match load.duration_per_step {
                Some(d) => StepBound::Duration(d),
                None => StepBound::Requests(requests.unwrap_or(1)),
            },
            pacing: load.pacing,
            warmup: false,
            seed: jauge::pacing::step_seed(seed, concurrency, prompt_tokens),
        };
        let probe = self.telemetry.begin_step().await;
        let progress = &mut self.progress;
        let mut run = load::run_step(
            &self.server.http,
            &self.server.target,
            &step_load,
            bodies,
            &self.cancel,
            |r| progress.record(r),
        )
        .await;
        run.records
            .iter_mut()
            .for_each(|r| r.concurrency = step_concurrency);
        if !self.keep_records(&mut run)? {
            return Ok(None);
        }
        let mut step = crate::aggregate::step(
            step_concurrency,
            prompt_tokens,
            load.output_tokens,
            &run.records,
            slo,
        );
        step.rate_rps = load.pacing.rate_rps();
        self.telemetry
            .end_step(probe, &mut step, &run.records)
            .await;
        self.progress.finish_step(&step_line(&step));
        if let Some(note) = prompt_count_note(&step, self.server.target.endpoint) {
            if !self.file.dataset.notes.contains(&note) {
                self.progress.say(&note);
                self.file.note(note);
            }
        }
        Ok(Some(step))
    }

    /// Writes a step's request records to the log; `false` when Ctrl-C cut the step short
    /// (its records are kept, flagged `interrupted`, and the step itself is dropped).
    ///
    /// # Errors
    /// When the request log cannot be written.
    fn keep_records(&mut self, run: &mut load::StepRun) -> anyhow::Result<bool> {
        mark_interrupted(run);
        self.file.append(&run.records)?;
        if run.interrupted {
            self.progress
                .say("interrupted: the unfinished step is dropped, the finished ones are kept");
            self.interrupted = true;
        }
        Ok(!run.interrupted)
    }

    /// Measures a population of `people` following the plan's workload: its warm-up, then
    /// its window, whose turns are the step's requests; the step also says how many requests
    /// its people kept in flight.
    async fn measure_people(
        &mut self,
        people: u32,
        plan: &PeoplePlan,
        slo: Slo,
    ) -> anyhow::Result<Option<Step>> {
        let load = &self.plan.load;
        let population = Population {
            people,
            workload: plan.workload.clone(),
            seed: jauge::people::population_seed(self.plan.requests.seed, people),
            warmup: plan.warmup,
            window: plan.window,
            time_scale: plan.time_scale,
        };
        let target = &self.server.target;
        let options = BodyOptions {
            model: target.model.clone(),
            max_tokens: load.output_tokens,
            force_output_length: target.force_output_length,
        };
        self.progress.start_step(
            &format!(
                "{people} people · {} (warm-up {}, then {} measured)",
                plan.workload.name,
                humantime::format_duration(plan.warmup),
                humantime::format_duration(plan.window)
            ),
            None,
        );
        let probe = self.telemetry.begin_step().await;
        let progress = &mut self.progress;
        let mut run = population::run(
            &self.server.http,
            target,
            &population,
            &options,
            &self.cancel,
            |r| progress.record(r),
        )
        .await;
        if !self.keep_records(&mut run)? {
            return Ok(None);
        }
        let mut step = crate::aggregate::step(
            people,
            load.prompt_tokens[0],
            load.output_tokens,
            &run.records,
            slo,
        );
        let outcome =
            PeopleOutcome::of_turns(people, &plan.workload, &run.records, population.window_ms());
        step.people = Some(PeopleStep {
            in_flight_mean: outcome.in_flight_mean,
            in_flight_littles_law: outcome.in_flight_littles_law,
        });
        self.telemetry
            .end_step(probe, &mut step, &run.records)
            .await;
        self.progress.finish_step(&step_line(&step));
        Ok(Some(step))
    }

    /// Replays the plan's trace as one step.
    async fn measure_trace(&mut self, plan: &TracePlan, slo: Slo) -> anyhow::Result<Option<Step>> {
        let load = &self.plan.load;
        let target = &self.server.target;
        let options = BodyOptions {
            model: target.model.clone(),
            max_tokens: load.output_tokens,
            force_output_length: target.force_output_length,
        };
        self.progress.start_step(
            &format!(
                "trace {}: {} requests over {:.1} s",
                plan.file,
                plan.trace.len(),
                plan.trace.duration_s()
            ),
            Some(plan.trace.len() as u32),
        );
        let probe = self.telemetry.begin_step().await;
        let progress = &mut self.progress;
        let mut run = replay::run(
            &self.server.http,
            target,
            &plan.trace,
            plan.time_scale,
            &options,
            &self.cancel,
            |r| progress.record(r),
        )
        .await;
        if !self.keep_records(&mut run)? {
            return Ok(None);
        }
        let mut step = crate::aggregate::step(
            load.concurrency[0],
            load.prompt_tokens[0],
            load.output_tokens,
            &run.records,
            slo,
        );
        self.telemetry
            .end_step(probe, &mut step, &run.records)
            .await;
        self.progress.finish_step(&step_line(&step));
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
        let target = &self.server.target;
        let options = BodyOptions {
            model: target.model.clone(),
            max_tokens: self.plan.load.output_tokens,
            force_output_length: target.force_output_length,
        };
        let mut bodies: Vec<bytes::Bytes> = Vec::new();
        let mut held = 0u64;
        for _ in 0..wanted {
            let prompt = self
                .maker
                .make(&self.server.http, target, prompt_tokens)
                .await;
            let body = encode_body(target.endpoint, &prompt, &options);
            held += body.len() as u64;
            bodies.push(body);
            if held >= POOL_BYTES {
                break;
            }
        }
        if (bodies.len() as u32) < wanted {
            self.file.note(format!(
                "Prompts: {} different prompts of {prompt_tokens} tokens were sent in turn (the most {} MiB hold), not {wanted}; a server's prefix cache may see repeats.",
                bodies.len(),
                POOL_BYTES >> 20
            ));
        }
        for note in self.maker.take_notes() {
            self.progress.say(&note);
            self.file.note(note);
        }
        bodies
    }

    /// The step at this concurrency and prompt size: the one on disk when resuming, else
    /// measured now with `requests` requests, added to the dataset (its concurrency and prompt
    /// size joining the workload's lists) and saved. `None` when Ctrl-C interrupted it.
    ///
    /// # Errors
    /// When the dataset or the request log cannot be written.
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
        self.file.push(step.clone())?;
        Ok(Some(step))
    }

    /// Marks the dataset complete or interrupted, writes it, stops the built-in server, prints
    /// the summary; exit 0, or 130 when interrupted.
    ///
    /// # Errors
    /// When the dataset cannot be written.
    pub fn finish(mut self, table: &str) -> anyhow::Result<ExitCode> {
        self.progress.finish();
        self.file.dataset.status = if self.interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Complete
        };
        self.file.save()?;
        self.server.stop();
        print!("{table}");
        print!("{}", summary::errors(&self.file.dataset));
        println!(
            "\n{} dataset: {} ({} steps){}\nper-request records: {}",
            self.file.dataset.source,
            self.file.path().display(),
            self.file.dataset.steps.len(),
            if self.interrupted {
                ", interrupted: continue with --resume"
            } else {
                ""
            },
            self.file.records_path().display()
        );
        Ok(if self.interrupted {
            ExitCode::from(130)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// How long a shard waits for the others before a step.
const SHARD_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits until every shard has reached measured step `step` (from 1): each leaves a file named
/// after itself in the step's folder of `--shard-sync` and waits until all `count` are there.
///
/// # Errors
/// The folder cannot be written, or the others did not come in ten minutes.
async fn meet(shard: &ShardPlan, step: u32) -> anyhow::Result<()> {
    let dir = shard.sync.join(format!("step-{step}"));
    let unwritable = |e: std::io::Error| {
        bad_input(format!(
            "--shard-sync {}: cannot write it: {e}",
            shard.sync.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(unwritable)?;
    std::fs::write(dir.join(shard.index.to_string()), b"").map_err(unwritable)?;
    let started = std::time::Instant::now();
    loop {
        let here = std::fs::read_dir(&dir).map_or(0, |d| d.count());
        if here >= shard.count as usize {
            return Ok(());
        }
        if started.elapsed() > SHARD_WAIT {
            anyhow::bail!(
                "shard {}/{}: {here} of {} shards reached step {step} in {} (--shard-sync {})",
                shard.index,
                shard.count,
                shard.count,
                humantime::format_duration(SHARD_WAIT),
                shard.sync.display()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Flags the records of a step cut short, so they stand apart from its rerun in the request
/// log.
fn mark_interrupted(run: &mut load::StepRun) {
    if run.interrupted {
        for r in &mut run.records {
            r.interrupted = true;
        }
    }
}

/// A finished step in one line, its figures printed as everywhere else.
pub fn step_line(step: &Step) -> String {
    let who = match step.people {
        Some(p) => format!(
            "{} people ({:.1} requests in flight)",
            step.concurrency, p.in_flight_mean
        ),
        None => format!("prompt {} · {} users", step.prompt_tokens, step.concurrency),
    };
    format!(
        "{who}: {} ok · {} tok/s · TTFT p95 {} ms · TPOT p95 {} ms",
        RequestCounts::show(step.requests),
        Metric::OutputTokS.show(step),
        Metric::TtftP95.show(step),
        Metric::TpotP95.show(step),
    )
}

/// A note when the server counted other prompt lengths than the ones asked for (verified
/// against `usage.prompt_tokens`): expected for chat templates, a calibration problem otherwise.
fn prompt_count_note(step: &Step, endpoint: Endpoint) -> Option<String> {
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
fn start_gpu_telemetry(
    plan: &MeasurePlan,
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
    let indices = match &plan.telemetry.nvml {
        Err(why) => return unavailable(why.clone()),
        Ok(_) if simulated => {
            return unavailable("the built-in simulated server uses no GPU".to_string())
        }
        Ok(indices) => indices,
    };
    match Sampler::start(indices.as_deref(), plan.telemetry.sample_hz, origin) {
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

/// The deployment's GPUs as NVML reports them, so datasets from GPU nodes need no typing
/// (what the plan names wins).
fn describe_gpus(file: &mut DatasetFile, sampler: &Sampler, plan: &MeasurePlan) {
    let devices = &sampler.devices;
    let Some(first) = devices.gpus.first() else {
        return;
    };
    let gpus = &mut file.dataset.deployment.gpus;
    gpus.name = first.name.clone();
    gpus.memory_mib = Some(first.memory_mib);
    gpus.cuda_memory_mib = first.cuda_memory_mib;
    gpus.driver_version = devices.driver_version.clone();
    gpus.cuda_version = devices.cuda_version.clone();
    if plan.deployment.gpu_count().is_none() {
        gpus.count = devices.gpus.len() as u32;
    }
    if plan.deployment.gpu.is_none() {
        gpus.catalogue_id = crate::telemetry::catalogue_gpu_id(&first.name).map(str::to_string);
    }
}
