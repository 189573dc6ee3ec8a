//! What every importer produces — the runs a file holds, each already a jauge [`Step`], and
//! what the file says of the benchmark as a whole — and the one way that becomes datasets:
//! runs grouped so that no grid point repeats (a tool's repeated runs are never averaged),
//! the deployment from the command line where the file is silent, every gap said in a note,
//! and the result checked against the format before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use jauge::catalogue::{Catalogue, GpuSpec, ModelSpec};
use jauge::dataset::{
    Arrival, Dataset, Deployment, Endpoint, Engine, EngineSettings, ErrorKind, GpuInfo, Latency,
    ModelInfo, Provenance, RunStatus, Source, Step, Summary, Throughput, Workload, SCHEMA,
};

use super::field::Field;
use super::Tool;
use crate::exit::bad_input;

/// What a result file says of the benchmark as a whole.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// The tool's version, when the file records it.
    pub tool_version: Option<String>,
    /// When the benchmark ran, RFC 3339, when the file records it.
    pub created_at: Option<String>,
    /// The model name the server was asked for.
    pub served_model: Option<String>,
    /// The serving engine, when the file names it.
    pub engine: Option<String>,
    /// The endpoint called.
    pub endpoint: Option<Endpoint>,
    /// How open-loop arrivals were spaced.
    pub arrival: Option<Arrival>,
    /// The dataset lengths were drawn from, when they were not fixed.
    pub lengths_from: Option<String>,
    /// What a reader should know: the source file, what was mapped from where, what was left
    /// out and why.
    pub notes: Vec<String>,
}

impl Header {
    /// Adds a note once.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// One run of one point: a step, and where it came from.
#[derive(Debug, Clone)]
pub struct Run {
    /// The step, in jauge's terms.
    pub step: Step,
    /// The tool's run number, when it repeats each point (a vLLM sweep's `run_number`).
    pub repeat: Option<u32>,
    /// Where in the input it was read (`run=0.json`, `summary.csv row 4`), for messages.
    pub origin: String,
    /// What a reader should know about this step alone.
    pub notes: Vec<String>,
}

impl Run {
    /// A run the tool does not number.
    pub fn new(step: Step, origin: &str, notes: Vec<String>) -> Run {
        Run {
            step,
            repeat: None,
            origin: origin.to_string(),
            notes,
        }
    }
}

/// A figure for a note: its value, or `?` when the file does not give it.
pub fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// A result file read: its header and its runs.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The tool that wrote it.
    pub tool: Tool,
    /// What it says of the benchmark.
    pub header: Header,
    /// Its runs, in the file's order.
    pub runs: Vec<Run>,
}

/// The deployment as the command line gives it, ids looked up in the catalogue.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// `--catalog-model`.
    pub model: Option<&'static ModelSpec>,
    /// `--gpu`.
    pub gpu: Option<&'static GpuSpec>,
    /// `--gpus`.
    pub gpus: Option<u32>,
    /// `--quant`.
    pub quant: Option<String>,
    /// `--kv-cache-dtype`.
    pub kv_cache_dtype: Option<String>,
    /// `--engine`.
    pub engine: Option<String>,
    /// `--engine-version`.
    pub engine_version: Option<String>,
    /// `--served-model`.
    pub served_model: Option<String>,
    /// The engine settings given (`--max-model-len`, …).
    pub settings: EngineSettings,
}

/// A dataset built from one group of runs; `repeat` is the run number when the input held
/// several runs of each point.
#[derive(Debug, Clone)]
pub struct Built {
    /// Which of the repeated runs, when there were several.
    pub repeat: Option<u32>,
    /// The dataset, valid.
    pub dataset: Dataset,
}

/// A summary of the figures given; `None` when it gives none (the format wants such a
/// summary left out).
pub fn summary(figures: Summary) -> Option<Summary> {
    let any = [
        figures.mean,
        figures.p50,
        figures.p90,
        figures.p95,
        figures.p99,
        figures.max,
    ]
    .iter()
    .any(Option::is_some);
    any.then_some(figures)
}

/// A summary's figures multiplied by `factor` (seconds → milliseconds); the count is kept.
pub fn scaled(s: Summary, factor: f64) -> Summary {
    let f = |v: Option<f64>| v.map(|v| v * factor);
    Summary {
        count: s.count,
        mean: f(s.mean),
        p50: f(s.p50),
        p90: f(s.p90),
        p95: f(s.p95),
        p99: f(s.p99),
        max: f(s.max),
    }
}

/// An empty summary, to fill field by field.
pub const NO_FIGURES: Summary = Summary {
    count: None,
    mean: None,
    p50: None,
    p90: None,
    p95: None,
    p99: None,
    max: None,
};

/// A mean number of tokens as the step's grid key: rounded to the nearest whole token.
///
/// # Errors
/// Bad input at `from`, the field it was read from, when it rounds to no token.
pub fn grid_tokens(mean: f64, from: &Field<'_>) -> anyhow::Result<u32> {
    let rounded = mean.round();
    if rounded >= 1.0 && rounded <= f64::from(u32::MAX) {
        Ok(rounded as u32)
    } else {
        Err(from.error(format!(
            "{mean} tokens per request on average, which is no grid point (at least 1 token)"
        )))
    }
}

/// The bare step of a grid point, every figure absent: importers fill in what their file gives.
pub fn step(
    concurrency: u32,
    rate_rps: Option<f64>,
    prompt_tokens: u32,
    output_tokens: u32,
) -> Step {
    Step {
        concurrency,
        rate_rps,
        prompt_tokens,
        output_tokens,
        duration_s: None,
        requests: None,
        errors: BTreeMap::new(),
        error_messages: BTreeMap::new(),
        token_counts: None,
        latency: Latency::default(),
        throughput: Throughput::default(),
        gpu: None,
        server: None,
        energy_j_per_output_token: None,
        client: None,
        quote: None,
        people: None,
    }
}

/// Failed requests by kind as a tool lists them (by HTTP status, message, or both); those it
/// does not list are `other`.
#[derive(Debug, Default)]
pub struct Failures {
    kinds: BTreeMap<ErrorKind, u32>,
    messages: BTreeMap<ErrorKind, String>,
    listed: u32,
}

impl Failures {
    /// `count` failures the tool describes by a status, a message or both.
    pub fn add(&mut self, count: u32, status: Option<u16>, message: &str) {
        let (kind, line) = error_kind(status, message);
        self.add_kind(kind, count, line);
    }

    /// `count` failures of a known kind, and the kind's message if it has none yet.
    pub fn add_kind(&mut self, kind: ErrorKind, count: u32, message: String) {
        *self.kinds.entry(kind).or_insert(0) += count;
        self.messages.entry(kind).or_insert(message);
        self.listed = self.listed.saturating_add(count);
    }

    /// Sets the step's `errors` and `error_messages`: the listed failures, the rest of `failed`
    /// as `other`.
    ///
    /// # Errors
    /// The number listed, when it is more than `failed`.
    pub fn fill(mut self, step: &mut Step, failed: u32) -> Result<(), u32> {
        if self.listed > failed {
            return Err(self.listed);
        }
        if self.listed < failed {
            *self.kinds.entry(ErrorKind::Other).or_insert(0) += failed - self.listed;
        }
        step.errors = self.kinds;
        step.error_messages = self.messages;
        Ok(())
    }
}

/// The kind of a failure a tool recorded by its HTTP status, its message, or both, and its
/// one-line message with secrets removed.
pub fn error_kind(status: Option<u16>, message: &str) -> (ErrorKind, String) {
    if let Some(status) = status.or_else(|| status_in(message)) {
        return crate::openai::classify_http_error(status, message, false);
    }
    let (message, first) = crate::openai::redacted_first_line(message);
    let lower = message.to_ascii_lowercase();
    let kind = if crate::openai::is_context_length_message(&message) {
        ErrorKind::ContextLength
    } else if lower.contains("timeout") || lower.contains("timed out") {
        ErrorKind::Timeout
    } else if lower.contains("connect") {
        ErrorKind::Connection
    } else {
        ErrorKind::Other
    };
    (kind, first)
}

/// The HTTP status a message names: a leading code (`500 - Internal Server Error`), `HTTP 429`,
/// or the reason phrase alone (vLLM's bench records `response.reason`).
fn status_in(message: &str) -> Option<u16> {
    let trimmed = message.trim_start();
    let leading: String = trimmed.chars().take_while(char::is_ascii_digit).collect();
    if leading.len() == 3 {
        return leading.parse().ok().filter(|s| (100..600).contains(s));
    }
    let lower = message.to_ascii_lowercase();
    if let Some(at) = lower.find("http ") {
        let code: String = lower[at + 5..].chars().take(3).collect();
        if let Ok(status) = code.parse::<u16>() {
            return Some(status);
        }
    }
    [
        ("too many requests", 429),
        ("internal server error", 500),
        ("bad gateway", 502),
        ("service unavailable", 503),
        ("gateway timeout", 504),
        ("bad request", 400),
        ("unauthorized", 401),
        ("forbidden", 403),
        ("not found", 404),
        ("payload too large", 413),
        ("unprocessable", 422),
    ]
    .into_iter()
    .find(|(phrase, _)| lower.contains(phrase))
    .map(|(_, status)| status)
}

/// Seconds since 1970 as RFC 3339 (UTC); `None` for a time no benchmark ran at.
pub fn rfc3339_from_unix(seconds: f64) -> Option<String> {
    (seconds.is_finite() && seconds > 0.0 && seconds < 1e11).then(|| {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds);
        humantime::format_rfc3339_seconds(at).to_string()
    })
}

/// A time written without its zone (`20261125-134444`, `2026-11-25T13:41:58.053484`) as
/// RFC 3339, read as UTC; `None` when it is not such a time. A time that carries its offset
/// keeps it.
pub fn rfc3339_from_local(text: &str) -> Option<String> {
    let text = text.trim();
    let b = text.as_bytes();
    let vllm_date = b.len() == 15
        && b.iter().enumerate().all(|(i, c)| {
            if i == 8 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    let iso = if vllm_date {
        // vLLM's `%Y%m%d-%H%M%S`.
        format!(
            "{}-{}-{}T{}:{}:{}",
            &text[0..4],
            &text[4..6],
            &text[6..8],
            &text[9..11],
            &text[11..13],
            &text[13..15]
        )
    } else {
        text.replacen(' ', "T", 1)
    };
    let (base, offset) = match iso.strip_suffix('Z') {
        Some(base) => (base.to_string(), "Z".to_string()),
        None => match iso.get(19..).and_then(|rest| rest.find(['+', '-'])) {
            Some(at) => {
                let (base, offset) = iso.split_at(19 + at);
                let o = offset.as_bytes();
                let valid = o.len() == 6
                    && o[3] == b':'
                    && [1, 2, 4, 5].iter().all(|&i| o[i].is_ascii_digit());
                if !valid {
                    return None;
                }
                (base.to_string(), offset.to_string())
            }
            None => (iso.clone(), "Z".to_string()),
        },
    };
    humantime::parse_rfc3339_weak(&format!("{base}Z")).ok()?;
    Some(format!("{base}{offset}"))
}

/// The datasets a file (or several, merged) makes: one per run number when the tool ran each
/// point more than once, else one.
///
/// # Errors
/// Bad input when two runs of one group are the same grid point, or when the result breaks a
/// rule of the format (the rule and its path are named).
pub fn datasets(parsed: Parsed, given: &Given) -> anyhow::Result<Vec<Built>> {
    let Parsed { tool, header, runs } = parsed;
    if runs.is_empty() {
        return Err(bad_input("no benchmark run in it"));
    }
    let groups = group(runs)?;
    let several = groups.len() > 1;
    let repeats: Vec<u32> = groups.keys().copied().collect();
    groups
        .into_iter()
        .map(|(repeat, runs)| {
            let mut header = header.clone();
            if several {
                header.note(format!(
                    "Run {repeat} of each point: the tool ran each point {} times (runs {}); each run is its own dataset, never averaged with the others.",
                    repeats.len(),
                    repeats.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ));
            }
            let dataset = dataset(tool, header, runs, given)?;
            let violations = dataset.violations();
            if let Some(first) = violations.first() {
                return Err(bad_input(format!(
                    "the dataset it converts to breaks jauge's format: {first}{}",
                    if violations.len() > 1 {
                        format!(" (and {} more)", violations.len() - 1)
                    } else {
                        String::new()
                    }
                )));
            }
            Ok(Built {
                repeat: several.then_some(repeat),
                dataset,
            })
        })
        .collect()
}

/// A step's place in the grid: steps are unique by it.
type GridKey = (u32, u32, u32, Option<u64>);

fn key(step: &Step) -> GridKey {
    (
        step.concurrency,
        step.prompt_tokens,
        step.output_tokens,
        step.rate_rps.map(f64::to_bits),
    )
}

/// Runs by run number: the tool's own where it numbers them, else the order in which a point
/// comes back (its first run is 0, its second 1, …).
fn group(runs: Vec<Run>) -> anyhow::Result<BTreeMap<u32, Vec<Run>>> {
    let mut seen: BTreeMap<GridKey, u32> = BTreeMap::new();
    let mut groups: BTreeMap<u32, Vec<Run>> = BTreeMap::new();
    for run in runs {
        let repeat = match run.repeat {
            Some(r) => r,
            None => {
                let next = seen.entry(key(&run.step)).or_insert(0);
                *next += 1;
                *next - 1
            }
        };
        let group = groups.entry(repeat).or_default();
        if let Some(twin) = group.iter().find(|r| key(&r.step) == key(&run.step)) {
            return Err(bad_input(format!(
                "{} and {} are the same point ({}) with the same run number {repeat}: jauge keeps each run whole and never averages runs; import them separately",
                twin.origin,
                run.origin,
                label(&run.step)
            )));
        }
        group.push(run);
    }
    Ok(groups)
}

/// A step for readers: `concurrency 4, 64 → 32 tokens` (and its rate).
pub fn label(step: &Step) -> String {
    let rate = step
        .rate_rps
        .map(|r| format!(", {r} req/s"))
        .unwrap_or_default();
    format!(
        "concurrency {}{rate}, {} → {} tokens",
        step.concurrency, step.prompt_tokens, step.output_tokens
    )
}

fn dataset(
    tool: Tool,
    mut header: Header,
    mut runs: Vec<Run>,
    given: &Given,
) -> anyhow::Result<Dataset> {
    runs.sort_by(|a, b| {
        let (a, b) = (&a.step, &b.step);
        (a.prompt_tokens, a.concurrency, a.output_tokens)
            .cmp(&(b.prompt_tokens, b.concurrency, b.output_tokens))
            .then(
                a.rate_rps
                    .partial_cmp(&b.rate_rps)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
    });
    for run in &mut runs {
        counts_need_e2e(run);
    }
    for run in &runs {
        for note in &run.notes {
            header.note(format!("{} ({}): {note}", label(&run.step), run.origin));
        }
    }
    let steps: Vec<Step> = runs.into_iter().map(|r| r.step).collect();
    let deployment = deployment(&header, given);
    let mut notes = header.notes.clone();
    deployment_notes(&header, given, &mut notes);
    let workload = workload(&header, &steps, &mut notes);
    Ok(Dataset {
        schema: SCHEMA.to_string(),
        source: Source::Imported(tool.name().to_string()),
        provenance: Provenance {
            tool: tool.name().to_string(),
            tool_version: header
                .tool_version
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            created_at: header.created_at.clone().unwrap_or_else(|| {
                notes.push(
                    "created_at: the file does not say when the benchmark ran; this is when it was imported."
                        .to_string(),
                );
                humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
            }),
            command_line: crate::secrets::redact_args(std::env::args()),
            publication: None,
        },
        deployment,
        workload,
        status: RunStatus::Complete,
        gpu_telemetry: None,
        steps,
        limits: Vec::new(),
        context_limits: Vec::new(),
        notes,
    })
}

/// jauge's format wants an end-to-end latency beside completed requests; a run whose file
/// gives none keeps its counts in a note instead.
fn counts_need_e2e(run: &mut Run) {
    if let (Some(r), None) = (run.step.requests, &run.step.latency.e2e_ms) {
        if r.completed > 0 {
            run.notes.push(format!(
                "requests: {} sent, {} completed, {} failed; left out of the step because jauge's format wants e2e_ms beside completed requests and the file gives no end-to-end latency.",
                r.sent, r.completed, r.failed
            ));
            run.step.requests = None;
            run.step.errors.clear();
            run.step.error_messages.clear();
        }
    }
}

/// The grid the steps cover and the load, as far as the file says.
fn workload(header: &Header, steps: &[Step], notes: &mut Vec<String>) -> Workload {
    let distinct = |f: fn(&Step) -> u32| -> Vec<u32> {
        steps
            .iter()
            .map(f)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    // The output length most steps asked for (the smallest of equally common ones).
    let mut outputs: BTreeMap<u32, usize> = BTreeMap::new();
    for step in steps {
        *outputs.entry(step.output_tokens).or_default() += 1;
    }
    let output_tokens = outputs
        .iter()
        .max_by_key(|(tokens, n)| (**n, std::cmp::Reverse(**tokens)))
        .map_or(1, |(tokens, _)| *tokens);
    let sent: BTreeSet<u32> = steps
        .iter()
        .filter_map(|s| s.requests.map(|r| r.sent))
        .collect();
    let all_counted = steps.iter().all(|s| s.requests.is_some());
    let rate_rps = steps.iter().find_map(|s| s.rate_rps);
    let endpoint = header.endpoint.unwrap_or_else(|| {
        notes.push(
            "workload.endpoint: the file does not say which endpoint was called; completions is recorded."
                .to_string(),
        );
        Endpoint::Completions
    });
    Workload {
        endpoint,
        concurrency: distinct(|s| s.concurrency),
        prompt_tokens: distinct(|s| s.prompt_tokens),
        output_tokens,
        requests_per_step: (all_counted && sent.len() == 1)
            .then(|| sent.first().copied())
            .flatten(),
        duration_per_step_s: None,
        warmup_requests: 0,
        rate_rps,
        arrival: rate_rps.and(header.arrival),
        timeout_s: None,
        shared_prefix_tokens: None,
        lengths_from: header.lengths_from.clone(),
        people: None,
        slo_ttft_ms: None,
        slo_ttft_of: None,
        slo_tpot_ms: None,
        max_error_rate: None,
        min_throughput_gain: None,
    }
}

/// The deployment: what the command line gives, else what the file names, else `unknown`.
fn deployment(header: &Header, given: &Given) -> Deployment {
    let cat = Catalogue::builtin();
    let served_name = given
        .served_model
        .clone()
        .or_else(|| header.served_model.clone())
        .or_else(|| given.model.map(|m| m.id.clone()))
        .unwrap_or_else(|| "unknown".to_string());
    let model = given.model.or_else(|| cat.model(&served_name).ok());
    let mut settings = given.settings.clone();
    settings.tensor_parallel_size = settings.tensor_parallel_size.or(given.gpus);
    Deployment {
        model: ModelInfo {
            served_name,
            catalogue_id: model.map(|m| m.id.clone()),
            hf_repo: model.and_then(|m| m.hf_repos.first().cloned()),
        },
        quantization: given.quant.clone().unwrap_or_else(|| "unknown".to_string()),
        kv_cache_dtype: given
            .kv_cache_dtype
            .clone()
            .unwrap_or_else(|| "auto".to_string()),
        engine: Engine {
            name: given
                .engine
                .clone()
                .or_else(|| header.engine.clone())
                .unwrap_or_else(|| "unknown".to_string()),
            version: given.engine_version.clone(),
            settings,
        },
        gpus: GpuInfo {
            name: given
                .gpu
                .map_or_else(|| "unknown".to_string(), |g| g.name.clone()),
            catalogue_id: given.gpu.map(|g| g.id.clone()),
            count: given.gpus.unwrap_or(1),
            memory_mib: given.gpu.map(|g| (g.memory_gib * 1024.0).round() as u64),
            cuda_memory_mib: None,
            driver_version: None,
            cuda_version: None,
        },
    }
}

/// Says which parts of the deployment no one gave.
fn deployment_notes(header: &Header, given: &Given, notes: &mut Vec<String>) {
    let mut missing = Vec::new();
    if given.served_model.is_none() && header.served_model.is_none() && given.model.is_none() {
        missing.push("the model (--catalog-model, --served-model)");
    }
    if given.gpu.is_none() {
        missing.push("the GPU (--gpu)");
    }
    if given.gpus.is_none() {
        missing.push("how many GPUs (--gpus; 1 is recorded)");
    }
    if given.quant.is_none() {
        missing.push("the weights' format (--quant)");
    }
    if given.engine.is_none() && header.engine.is_none() {
        missing.push("the serving engine (--engine)");
    }
    if !missing.is_empty() {
        notes.push(format!(
            "Deployment: the file does not record {}; recorded as unknown. Give them to jauge import to record them.",
            missing.join(", ")
        ));
    }
    if given.engine.is_none() {
        if let Some(engine) = &header.engine {
            notes.push(format!(
                "deployment.engine.name: {engine}, as the tool's configuration names the server."
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_from_codes_and_reason_phrases() {
        assert_eq!(
            error_kind(None, "Internal Server Error").0,
            ErrorKind::ServerError
        );
        assert_eq!(
            error_kind(None, "500 - Internal Server Error").0,
            ErrorKind::ServerError
        );
        assert_eq!(error_kind(Some(429), "slow down").0, ErrorKind::RateLimited);
        assert_eq!(
            error_kind(None, "This model's maximum context length is 4096 tokens").0,
            ErrorKind::ContextLength
        );
        assert_eq!(error_kind(None, "ReadTimeout").0, ErrorKind::Timeout);
        assert_eq!(error_kind(None, "something odd").0, ErrorKind::Other);
    }

    #[test]
    fn local_times_become_rfc3339() {
        assert_eq!(
            rfc3339_from_local("20261125-134444").as_deref(),
            Some("2026-11-25T13:44:44Z")
        );
        assert_eq!(
            rfc3339_from_local("2026-11-25T13:41:58.053484").as_deref(),
            Some("2026-11-25T13:41:58.053484Z")
        );
        assert_eq!(
            rfc3339_from_local("2026-11-25T13:41:58+01:00").as_deref(),
            Some("2026-11-25T13:41:58+01:00")
        );
        assert_eq!(rfc3339_from_local("yesterday"), None);
        assert_eq!(
            rfc3339_from_unix(1_795_614_627.0).as_deref(),
            Some("2026-11-25T13:50:27Z")
        );
    }

    #[test]
    fn grid_tokens_round_to_the_nearest_token() {
        let value = serde_json::json!({"x": 1});
        let x = Field::root(&value).need("x").unwrap();
        assert_eq!(grid_tokens(63.5, &x).unwrap(), 64);
        assert_eq!(grid_tokens(32.0, &x).unwrap(), 32);
        assert_eq!(
            grid_tokens(0.2, &x).unwrap_err().to_string(),
            "x: 0.2 tokens per request on average, which is no grid point (at least 1 token)"
        );
    }
}
