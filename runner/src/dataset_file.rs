//! The dataset on disk while a session measures: its header (the deployment, the workload,
//! where it comes from), the checks that a resumed run measures the same thing, the request
//! log beside it, and atomic saves — so that no finished step is ever lost.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use jauge::catalogue::Catalogue;
use jauge::dataset::{
    Dataset, Deployment, Engine, EngineSettings, GpuInfo, Limit, LimitReason, ModelInfo,
    Provenance, RunStatus, Source, Step, Workload, SCHEMA,
};

use jauge::pacing::Pacing;

use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::plan::{Grid, MeasurePlan};
use crate::record::RequestRecord;
use crate::secrets::{redact, redact_args};
use crate::server::Server;

/// A dataset being written, and its request log.
pub struct DatasetFile {
    /// The dataset as it stands.
    pub dataset: Dataset,
    path: PathBuf,
    records: PathBuf,
}

impl DatasetFile {
    /// Refuses to overwrite a dataset, or to resume one that is not there — before anything
    /// starts.
    ///
    /// # Errors
    /// Bad input saying which flag to change.
    pub fn check_out(plan: &MeasurePlan) -> anyhow::Result<()> {
        match (plan.resume, plan.out.exists()) {
            (false, true) => Err(bad_input(format!(
                "{} exists: pass --resume to continue it, or choose another --out",
                plan.out.display()
            ))),
            (true, false) => Err(bad_input(format!(
                "--resume: {} does not exist",
                plan.out.display()
            ))),
            _ => Ok(()),
        }
    }

    /// The new dataset's header, or the dataset being resumed once its settings are checked
    /// against the plan's.
    ///
    /// # Errors
    /// A resumed file that cannot be read, or whose settings differ (bad input).
    pub fn open(plan: &MeasurePlan, server: &Server) -> anyhow::Result<DatasetFile> {
        let mut fresh = header(plan, server);
        let dataset = if plan.resume {
            let text = std::fs::read_to_string(&plan.out)
                .with_context(|| format!("reading {}", plan.out.display()))?;
            let existing = Dataset::from_json(&text)
                .map_err(|e| bad_input(format!("--resume: {}: {e}", plan.out.display())))?;
            if plan.load.grid != Grid::Fixed {
                fresh.workload.concurrency = existing.workload.concurrency.clone();
            }
            if plan.load.grid == Grid::Context {
                fresh.workload.prompt_tokens = existing.workload.prompt_tokens.clone();
            }
            check_resumable(&existing, &fresh)?;
            existing
        } else {
            if plan.load.grid == Grid::Searched {
                // Grows with the probes; a search starts at its first concurrency.
                fresh.workload.concurrency = plan.load.concurrency.clone();
            }
            fresh
        };
        Ok(DatasetFile {
            dataset,
            records: records_path(&plan.out),
            path: plan.out.clone(),
        })
    }

    /// Where it is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where its request records go.
    pub fn records_path(&self) -> &Path {
        &self.records
    }

    /// Writes the dataset as it stands (atomically).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self) -> anyhow::Result<()> {
        write_atomic(&self.path, &self.dataset.to_json())
    }

    /// Appends records, one JSON object a line, and flushes them to disk.
    ///
    /// # Errors
    /// When the log cannot be written.
    pub fn append(&self, records: &[RequestRecord]) -> anyhow::Result<()> {
        append_records(&self.records, records)
    }

    /// A step on disk (from the run being resumed).
    pub fn step(&self, concurrency: u32, prompt_tokens: u32) -> Option<&Step> {
        self.dataset
            .steps
            .iter()
            .find(|s| s.concurrency == concurrency && s.prompt_tokens == prompt_tokens)
    }

    /// Adds a measured step, its concurrency and prompt size joining the workload's lists
    /// (a search's grid grows with its probes), and saves.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn push(&mut self, step: Step) -> anyhow::Result<()> {
        let workload = &mut self.dataset.workload;
        for (list, value) in [
            (&mut workload.concurrency, step.concurrency),
            (&mut workload.prompt_tokens, step.prompt_tokens),
        ] {
            if !list.contains(&value) {
                list.push(value);
                list.sort_unstable();
            }
        }
        self.dataset.steps.push(step);
        self.save()
    }

    /// Adds a note once.
    pub fn note(&mut self, note: String) {
        add_note(&mut self.dataset, note);
    }

    /// Records why a row stopped (replacing what it said before).
    pub fn set_limit(
        &mut self,
        prompt_tokens: u32,
        max_concurrency_ok: Option<u32>,
        stopped_at_concurrency: Option<u32>,
        reason: LimitReason,
        detail: String,
    ) {
        let limits = &mut self.dataset.limits;
        limits.retain(|l| l.prompt_tokens != prompt_tokens);
        limits.push(Limit {
            prompt_tokens,
            max_concurrency_ok,
            stopped_at_concurrency,
            reason,
            detail: Some(redact(&detail)),
        });
        limits.sort_by_key(|l| l.prompt_tokens);
    }
}

/// Adds a note once.
pub fn add_note(dataset: &mut Dataset, note: String) {
    if !dataset.notes.contains(&note) {
        dataset.notes.push(note);
    }
}

/// The header of a new dataset: where it comes from, the deployment (the catalogue's when the
/// plan or the server names it), the workload.
pub fn header(plan: &MeasurePlan, server: &Server) -> Dataset {
    let cat = Catalogue::builtin();
    let (target, facts) = (&server.target, &server.facts);
    let sim = server.sim.as_ref();
    let given = &plan.deployment;
    let catalogue_model = plan
        .catalogue_model()
        .and_then(|id| cat.model(&id).ok())
        .or_else(|| cat.model(&target.model).ok());
    let gpu_id = given
        .gpu
        .clone()
        .or_else(|| sim.map(|(_, o)| o.deployment.gpu.clone()));
    let gpu = gpu_id.as_deref().and_then(|id| cat.gpu(id).ok());
    let gpus = sim.map_or_else(
        || given.gpu_count().unwrap_or(1),
        |(_, o)| o.deployment.gpus,
    );
    let quant = given
        .quant
        .clone()
        .or_else(|| sim.map(|(server, _)| server.quant.clone()))
        .unwrap_or_else(|| "unknown".to_string());
    let mut notes = Vec::new();
    if let Some(s) = &plan.load.shard {
        notes.push(format!(
            "Shard {} of {} (from 0): each step holds this load generator's share of it, 1/{} of its users and requests (the first shards one more when they do not divide), measured together with the other shards; the figures are the share's. `jauge merge` makes the shards one dataset.",
            s.index, s.count, s.count
        ));
    }
    if let Some((server, options)) = sim {
        notes.push(format!(
            "Simulated: measured against jauge's built-in server ({}), not a GPU. Its timing is jauge's first-order roofline model.",
            server.description
        ));
        if options.time_scale != 1.0 && plan.load.trace.is_some() {
            notes.push(format!(
                "Time scale {0}: the simulated server ran {0}× faster than the modelled GPU and the trace was replayed {0}× faster; every time recorded was multiplied back by {0}, so the figures are in the trace's time.",
                options.time_scale
            ));
        } else if options.time_scale != 1.0 && plan.load.people.is_some() {
            notes.push(format!(
                "Time scale {0}: the simulated server ran {0}× faster than the modelled GPU and its people thought {0}× faster; every time recorded was multiplied back by {0}, so the figures are in the modelled deployment's time.",
                options.time_scale
            ));
        } else if options.time_scale != 1.0 {
            notes.push(format!(
                "Time scale {}: the simulated server ran {}× faster than the modelled GPU, so latencies are that much shorter.",
                options.time_scale, options.time_scale
            ));
        }
    }
    let settings = match sim {
        Some((server, _)) => server.settings.clone(),
        None => described_settings(plan, server, gpus, &mut notes),
    };
    let load = &plan.load;
    let rules = &plan.rules;
    let requests = &plan.requests;
    Dataset {
        schema: SCHEMA.to_string(),
        source: if sim.is_some() {
            Source::Simulated
        } else {
            Source::Measured
        },
        provenance: provenance(),
        deployment: Deployment {
            model: ModelInfo {
                served_name: target.model.clone(),
                catalogue_id: catalogue_model.map(|m| m.id.clone()),
                hf_repo: catalogue_model.and_then(|m| m.hf_repos.first().cloned()),
            },
            quantization: quant,
            kv_cache_dtype: given
                .kv_cache_dtype
                .clone()
                .unwrap_or_else(|| "auto".to_string()),
            engine: Engine {
                name: facts.engine.clone(),
                version: facts.version.clone(),
                settings,
            },
            gpus: GpuInfo {
                name: gpu.map_or_else(
                    || gpu_id.clone().unwrap_or_else(|| "unknown".to_string()),
                    |g| g.name.clone(),
                ),
                catalogue_id: gpu.map(|g| g.id.clone()),
                count: gpus,
                memory_mib: gpu.map(|g| (g.memory_gib * 1024.0).round() as u64),
                cuda_memory_mib: None,
                driver_version: None,
                cuda_version: None,
            },
        },
        workload: Workload {
            endpoint: target.endpoint,
            concurrency: load.concurrency.clone(),
            prompt_tokens: load.prompt_tokens.clone(),
            output_tokens: load.output_tokens,
            requests_per_step: load.requests_per_step,
            duration_per_step_s: load.duration_per_step.map(|d| d.as_secs_f64()),
            warmup_requests: load.warmup,
            rate_rps: load.pacing.rate_rps(),
            arrival: match load.pacing {
                Pacing::Open { arrival, .. } => Some(arrival),
                Pacing::Closed => None,
            },
            timeout_s: Some(requests.timeout.as_secs_f64()),
            shared_prefix_tokens: (requests.shared_prefix_tokens > 0)
                .then_some(requests.shared_prefix_tokens),
            slo_ttft_ms: rules.slo.ttft_ms,
            slo_ttft_of: (rules.slo.ttft_ms.is_some()
                && rules.ttft_of == jauge::dataset::TtftOf::Answer)
                .then_some(jauge::dataset::TtftOf::Answer),
            slo_tpot_ms: rules.slo.tpot_ms,
            max_error_rate: Some(rules.max_error_rate),
            min_throughput_gain: rules.min_throughput_gain,
            lengths_from: match (&load.people, &load.trace) {
                (Some(p), _) => Some(format!("the {} workload's people", p.workload.name)),
                (None, Some(t)) => Some(format!(
                    "the trace {} ({}, {} requests over {:.1} s)",
                    t.file,
                    t.trace.format.name(),
                    t.trace.len(),
                    t.trace.duration_s()
                )),
                (None, None) => None,
            },
            people: load
                .people
                .as_ref()
                .map(|p| jauge::dataset::PeopleWorkload {
                    name: p.workload.name.to_string(),
                    assumptions: p.workload.describe(),
                    think_s: p.workload.think_s,
                    warmup_s: p.warmup.as_secs_f64(),
                    window_s: p.window.as_secs_f64(),
                    seed: requests.seed,
                }),
        },
        status: RunStatus::Running,
        gpu_telemetry: None,
        steps: Vec::new(),
        limits: Vec::new(),
        context_limits: Vec::new(),
        notes,
    }
}

/// Who wrote a dataset, when, and with which command line (its secrets masked).
pub fn provenance() -> Provenance {
    Provenance {
        tool: "jauge".to_string(),
        tool_version: jauge::VERSION.to_string(),
        created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        command_line: redact_args(std::env::args()),
        publication: None,
    }
}

/// A real server's engine settings: what the user said of them, with the context limit the
/// server reports winning over a different one given (and noted).
fn described_settings(
    plan: &MeasurePlan,
    server: &Server,
    gpus: u32,
    notes: &mut Vec<String>,
) -> EngineSettings {
    let given = &plan.deployment;
    let reported = server.facts.max_model_len;
    if let (Some(said), Some(told)) = (given.max_model_len, reported) {
        if said != told {
            notes.push(format!(
                "Deployment: --max-model-len {said} was given, the server reports {told}; the server's is recorded."
            ));
        }
    }
    EngineSettings {
        max_model_len: reported.or(given.max_model_len),
        gpu_memory_utilization: given.gpu_memory_utilization,
        tensor_parallel_size: Some(gpus),
        max_num_seqs: given.max_num_seqs,
        max_num_batched_tokens: given.max_num_batched_tokens,
        block_size: given.block_size,
        ..EngineSettings::default()
    }
}

/// A resumed run must measure the same thing as the run it continues.
///
/// # Errors
/// Bad input listing every setting that differs.
pub fn check_resumable(existing: &Dataset, fresh: &Dataset) -> anyhow::Result<()> {
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

/// `x.json` → `x.requests.jsonl`.
pub fn records_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    out.with_file_name(format!("{stem}.requests.jsonl"))
}

fn append_records(path: &Path, records: &[RequestRecord]) -> anyhow::Result<()> {
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
