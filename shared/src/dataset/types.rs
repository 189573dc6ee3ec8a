//! The types of `jauge.dataset/v2`. Field names carry their units.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One run of one deployment over a grid of steps.
///
/// ```
/// let dataset = jauge::dataset::example();
/// assert_eq!(dataset.schema, jauge::dataset::SCHEMA);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dataset {
    /// Always `jauge.dataset/v2` for this version of the format (older files are migrated).
    pub schema: String,
    /// Whether the figures were measured on a server, simulated, transcribed from a publication,
    /// or imported from another tool.
    pub source: Source,
    /// Who wrote the file, when, and with which command.
    pub provenance: Provenance,
    /// What was measured: model, quantisation, engine and GPUs.
    pub deployment: Deployment,
    /// The grid and the load that was sent.
    pub workload: Workload,
    /// Whether the run finished, is still going, or was interrupted (and can be resumed).
    #[serde(default, skip_serializing_if = "RunStatus::is_complete")]
    pub status: RunStatus,
    /// Whether GPU readings were taken, and if not, why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_telemetry: Option<GpuTelemetry>,
    /// One entry per (concurrency, prompt tokens) point that was run.
    pub steps: Vec<Step>,
    /// Where each row of the grid stopped climbing, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
    /// The largest prompt the deployment accepted and served, one entry per concurrency
    /// (`jauge study`'s maximum-context search).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_limits: Vec<ContextLimit>,
    /// Free-form remarks a reader should see (e.g. "weights are random").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How the GPUs were read during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GpuTelemetry {
    /// `available` or `unavailable`.
    pub status: TelemetryStatus,
    /// Why it is unavailable (no NVML library, no GPU, `--no-gpu`, a simulated server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Readings per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_hz: Option<f64>,
    /// Mean power of each GPU before the load started, watts (so energy above idle can be
    /// derived).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idle_power_w: Vec<f64>,
}

/// Whether a kind of telemetry was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TelemetryStatus {
    /// Readings were taken.
    Available,
    /// No readings; `reason` says why.
    Unavailable,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every step of the plan ran (or its row stopped at a limit).
    #[default]
    Complete,
    /// Being written step by step; a file left in this state was cut short (resume it).
    Running,
    /// Stopped by the user (Ctrl-C); resume it with `jauge run --resume`.
    Interrupted,
}

impl RunStatus {
    /// Whether the run is complete.
    ///
    /// ```
    /// assert!(jauge::dataset::RunStatus::Complete.is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        *self == RunStatus::Complete
    }
}

/// Where the figures come from. Serialised as `measured`, `simulated`, `published` or
/// `imported:<tool>`.
///
/// ```
/// use jauge::dataset::Source;
/// assert_eq!("imported:guidellm".parse::<Source>(), Ok(Source::Imported("guidellm".into())));
/// assert_eq!("published".parse::<Source>(), Ok(Source::Published));
/// assert!("guessed".parse::<Source>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Measured against a real server.
    Measured,
    /// Produced by jauge's simulator; never to be shown as measured.
    Simulated,
    /// Transcribed from a public source: a table, a page, a paper (`provenance.publication`
    /// says which, each step quotes the row its figures come from).
    Published,
    /// Converted from another tool's results; the string names the tool.
    Imported(String),
}

impl Source {
    /// Whether the figures come from a real deployment (measured, published or imported),
    /// not from jauge's simulator.
    ///
    /// ```
    /// assert!(jauge::dataset::Source::Published.is_real());
    /// assert!(!jauge::dataset::Source::Simulated.is_real());
    /// ```
    pub fn is_real(&self) -> bool {
        *self != Source::Simulated
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Measured => f.write_str("measured"),
            Source::Simulated => f.write_str("simulated"),
            Source::Published => f.write_str("published"),
            Source::Imported(tool) => write!(f, "imported:{tool}"),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "measured" => Ok(Source::Measured),
            "simulated" => Ok(Source::Simulated),
            "published" => Ok(Source::Published),
            _ => match s.strip_prefix("imported:") {
                Some(tool) if !tool.trim().is_empty() => Ok(Source::Imported(tool.to_string())),
                _ => Err(format!(
                    "unknown source `{s}`: expected `measured`, `simulated`, `published` or `imported:<tool>`"
                )),
            },
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Source {
    fn schema_name() -> Cow<'static, str> {
        "Source".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(measured|simulated|published|imported:.+)$",
            "description": "`measured` on a real server, `simulated` by jauge's simulator, `published` (transcribed from a public source), or `imported:<tool>`."
        })
    }
}

/// Who wrote the dataset, when, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    /// The program that wrote the file (`jauge`, or the tool an import came from).
    pub tool: String,
    /// Its version.
    pub tool_version: String,
    /// When the run started, RFC 3339 (`2026-11-25T14:00:00Z`).
    pub created_at: String,
    /// The command line, with secrets replaced by `***`.
    pub command_line: Vec<String>,
    /// For a `published` dataset: the source its figures were transcribed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<Publication>,
}

/// Where a published dataset's figures come from, and what of its settings the source states
/// and what was assumed. Figures are transcribed exactly: never derived, rounded or corrected;
/// what the source does not give stays absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Publication {
    /// The page, paper or file, as a URL.
    pub url: String,
    /// Its title.
    pub title: String,
    /// Who published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it was published, as the source gives it (`2024-09-05`, `2024-09`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<String>,
    /// When it was read and transcribed (`2026-11-28`).
    pub retrieved_on: String,
    /// How the source says it measured, in its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Settings the source states, each with the words that state it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stated: Vec<Stated>,
    /// Settings the source does not state that the dataset needed, and why each value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumed: Vec<Assumed>,
}

/// A setting a source states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stated {
    /// Which (`engine version`, `gpu`, `output_tokens`, …).
    pub setting: String,
    /// Its value.
    pub value: String,
    /// The source's words.
    pub quote: String,
}

/// A setting a source does not state, with the value the dataset uses and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Assumed {
    /// Which.
    pub setting: String,
    /// The value used.
    pub value: String,
    /// Why that value.
    pub why: String,
}

/// What was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    /// The model.
    pub model: ModelInfo,
    /// The weights' format: a catalogue quantisation id (`fp16`, `awq`, `gguf-q4_k_m`, …).
    pub quantization: String,
    /// The KV cache's type: `auto`, `fp16`, `bf16` or `fp8`.
    pub kv_cache_dtype: String,
    /// The serving engine.
    pub engine: Engine,
    /// The GPUs it ran on.
    pub gpus: GpuInfo,
}

/// The model of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelInfo {
    /// The name the server serves it under (`/v1/models`).
    pub served_name: String,
    /// The jauge catalogue id, when known (`mistral-7b-v0.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue_id: Option<String>,
    /// The Hugging Face repository, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_repo: Option<String>,
}

/// The serving engine and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Engine {
    /// `vllm`, `llama.cpp`, `sglang`, `tgi`, `tensorrt-llm`, `jauge-sim`, …
    pub name: String,
    /// Its version, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The settings that shape capacity.
    #[serde(default)]
    pub settings: EngineSettings,
}

/// Engine settings that shape capacity; any other setting is kept under its own name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct EngineSettings {
    /// The longest sequence (prompt + output) the server accepts, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_len: Option<u32>,
    /// Share of each GPU's memory the engine may use, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_utilization: Option<f64>,
    /// GPUs one copy of the model is split across.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_parallel_size: Option<u32>,
    /// Pipeline stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_parallel_size: Option<u32>,
    /// Most sequences in one batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_seqs: Option<u32>,
    /// Most tokens in one batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_batched_tokens: Option<u32>,
    /// Tokens per KV-cache block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    /// Whether the engine reuses cached prompt prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_prefix_caching: Option<bool>,
    /// Any other setting, under the engine's own name.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The GPUs of a deployment (all of one kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GpuInfo {
    /// The name the driver reports (`NVIDIA A100-SXM4-40GB`).
    pub name: String,
    /// The jauge catalogue id, when known (`a100-40gb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue_id: Option<String>,
    /// How many GPUs served the model.
    pub count: u32,
    /// Memory of each GPU, MiB: the installed total, as `nvidia-smi` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Memory of each GPU as CUDA sees it, MiB: the installed total less what the driver and
    /// firmware reserve (NVML reports both). vLLM sizes its cache from this figure, so the
    /// sizing of a measured deployment uses it in place of the catalogue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_memory_mib: Option<u64>,
    /// The driver version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// The CUDA version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_version: Option<String>,
}

/// The grid and the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Workload {
    /// Which OpenAI endpoint was called.
    pub endpoint: Endpoint,
    /// Simultaneous requests (closed loop: users), strictly increasing.
    pub concurrency: Vec<u32>,
    /// Prompt sizes in tokens, strictly increasing.
    pub prompt_tokens: Vec<u32>,
    /// Output tokens asked for in every request.
    pub output_tokens: u32,
    /// Requests measured per step, when the step is bounded by count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_step: Option<u32>,
    /// Seconds per step, when the step is bounded by time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_per_step_s: Option<f64>,
    /// Requests sent before measuring and left out of the figures.
    #[serde(default)]
    pub warmup_requests: u32,
    /// Open-loop arrival rate in requests per second; absent for a closed loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_rps: Option<f64>,
    /// How open-loop arrivals are spaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<Arrival>,
    /// Seconds after which a request counts as timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// Tokens every prompt shares at its start (0: every prompt differs from the first token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_prefix_tokens: Option<u32>,
    /// How prompt and output lengths were drawn when they were not fixed (a dataset such as
    /// `sharegpt`, whose mean lengths the steps give); absent: every request had exactly the
    /// step's lengths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengths_from: Option<String>,
    /// Objective on the 95th percentile of time to first token, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_ttft_ms: Option<f64>,
    /// Which first token `slo_ttft_ms` times, when it is the answer's (a reasoning model's
    /// answer after its reasoning); absent: the first generated token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_ttft_of: Option<TtftOf>,
    /// Objective on the 95th percentile of time per output token, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_tpot_ms: Option<f64>,
    /// A row stops climbing when more than this share of a step's requests fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// A row stops climbing when output throughput rises by less than this share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_throughput_gain: Option<f64>,
    /// The steps are populations of people following a workload (each step's `concurrency`
    /// is its number of people, its `prompt_tokens` the workload's mean), not users sending
    /// one request after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<PeopleWorkload>,
}

/// What the people of a population step do, as `jauge run --workload` and `jauge limit
/// --workload` measure them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeopleWorkload {
    /// The workload: `chat`, `rag`, `code` or `fixed`.
    pub name: String,
    /// Its assumptions in words: lengths, turns, shared documents, time between turns.
    pub assumptions: String,
    /// Mean seconds a person waits between an answer and their next request.
    pub think_s: f64,
    /// Seconds of each step before its measured window (people arrive, conversations start).
    pub warmup_s: f64,
    /// Seconds of each step's measured window: the turns sent in it are the step's requests.
    pub window_s: f64,
    /// Seed of every person's draws (the simulator draws the same people from it).
    pub seed: u64,
}

/// How open-loop arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Gamma-distributed gaps (burstier than Poisson).
    Gamma,
    /// Equal gaps.
    Constant,
}

/// The OpenAI-compatible endpoint a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `/v1/completions`.
    Completions,
    /// `/v1/chat/completions`.
    Chat,
}

/// One point of the grid: a concurrency (and, open loop, a rate) at a prompt size. Figures a
/// published source does not give are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// Simultaneous requests: users (closed loop), the most in flight (open loop), every
    /// request at once (offline: as many as were sent), or people (`workload.people`).
    pub concurrency: u32,
    /// This step's open-loop arrival rate, requests per second, when steps differ in rate
    /// (the workload's `rate_rps` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_rps: Option<f64>,
    /// Prompt tokens per request.
    pub prompt_tokens: u32,
    /// Output tokens asked for per request.
    pub output_tokens: u32,
    /// Wall time of the measured part of the step, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// How many requests were sent, completed and failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestCounts>,
    /// Failed requests by kind; the counts add up to `requests.failed`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<ErrorKind, u32>,
    /// The first message seen for each error kind (HTTP status and the body's first line),
    /// with secrets removed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_messages: BTreeMap<ErrorKind, String>,
    /// Token counts actually processed, and where they were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_counts: Option<TokenCounts>,
    /// Latency summaries of the completed requests.
    pub latency: Latency,
    /// Throughput over the step.
    pub throughput: Throughput,
    /// GPU readings, one entry per GPU, when telemetry was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Vec<GpuStep>>,
    /// The server's own counters, when it exposes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerStep>,
    /// GPU energy per output token over the step, all GPUs, joules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j_per_output_token: Option<f64>,
    /// How hard the load generator itself worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientAudit>,
    /// For a published step: the source's row or sentence its figures come from, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// For a population step (`workload.people`): the requests its people kept in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<PeopleStep>,
}

/// The requests a population kept in flight over a step's window: what its people amount to
/// for the server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeopleStep {
    /// Requests in flight, averaged over the window's time.
    pub in_flight_mean: f64,
    /// Requests in flight as Little's law gives them from the turns per second and their
    /// mean time from sending to the last token: a check on the average.
    pub in_flight_littles_law: f64,
}

/// The load generator's own load during a step: a busy client inflates latencies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientAudit {
    /// CPU time the runner used over the step's wall time, percent of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_pct: Option<f64>,
    /// Cores the runner could use.
    pub cores: u32,
    /// Mean delay between a request's intended and actual send, ms.
    pub send_lag_ms_mean: f64,
    /// Largest such delay, ms.
    pub send_lag_ms_max: f64,
    /// How late the client's event loop woke for a timer, 99th percentile, ms: the most the
    /// client itself adds to what it times (a token read that late is timed that late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_lag_ms_p99: Option<f64>,
    /// The client, not the server, was the bottleneck (CPU nearly saturated, sends late, or
    /// its event loop waking late).
    pub client_bound: bool,
}

/// Request counts of a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestCounts {
    /// Requests sent (excluding warm-up).
    pub sent: u32,
    /// Requests that completed with the full output.
    pub completed: u32,
    /// Requests that failed.
    pub failed: u32,
}

impl RequestCounts {
    /// `completed/sent` of a step's counts, `—` when the step does not give them.
    ///
    /// ```
    /// let step = &jauge::dataset::example().steps[0];
    /// assert_eq!(jauge::dataset::RequestCounts::show(step.requests), "16/16");
    /// assert_eq!(jauge::dataset::RequestCounts::show(None), "—");
    /// ```
    pub fn show(counts: Option<RequestCounts>) -> String {
        counts.map_or_else(
            || "—".to_string(),
            |r| format!("{}/{}", r.completed, r.sent),
        )
    }
}

/// Why a request failed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No answer within the timeout.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// The server refused the prompt as longer than its context.
    ContextLength,
    /// HTTP 429.
    RateLimited,
    /// Any other HTTP 4xx.
    ClientError,
    /// HTTP 5xx.
    ServerError,
    /// The stream was cut before its end (`[DONE]` never came).
    Truncated,
    /// The stream carried something that is not a valid chunk.
    MalformedStream,
    /// The server sent more than jauge reads of one answer: a stream event or line, an error
    /// body or another response over its limit (`--read-limit`).
    ResponseTooLarge,
    /// The stream went on well past the `max_tokens` asked for (a server that never finishes).
    OverlongStream,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The name used in datasets (`context_length`).
    ///
    /// ```
    /// assert_eq!(jauge::dataset::ErrorKind::ContextLength.name(), "context_length");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ClientError => "client_error",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Truncated => "truncated",
            ErrorKind::MalformedStream => "malformed_stream",
            ErrorKind::ResponseTooLarge => "response_too_large",
            ErrorKind::OverlongStream => "overlong_stream",
            ErrorKind::Other => "other",
        }
    }
}

impl Latency {
    /// Every summary with its field name, in the schema's order.
    ///
    /// ```
    /// let l = jauge::dataset::example().steps[0].latency.clone();
    /// assert_eq!(l.named()[0].0, "ttft_ms");
    /// assert_eq!(l.named().len(), 6);
    /// ```
    pub fn named(&self) -> [(&'static str, &Option<Summary>); 6] {
        [
            ("ttft_ms", &self.ttft_ms),
            ("ttft_from_intended_ms", &self.ttft_from_intended_ms),
            ("itl_ms", &self.itl_ms),
            ("tpot_ms", &self.tpot_ms),
            ("e2e_ms", &self.e2e_ms),
            ("ttft_answer_ms", &self.ttft_answer_ms),
        ]
    }
}

/// Latency summaries of a step, milliseconds. Absent when no request completed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Latency {
    /// Time to first token, from the actual send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<Summary>,
    /// Time to first token from the intended send time (coordinated-omission corrected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_from_intended_ms: Option<Summary>,
    /// Inter-token latency, over every gap between streamed tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<Summary>,
    /// Time per output token after the first, one value per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<Summary>,
    /// Whole request, send to last token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<Summary>,
    /// Time to the answer's first token, after a reasoning model's reasoning, from the
    /// actual send: only the requests that reasoned (`ttft_ms` is their first reasoning
    /// token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_answer_ms: Option<Summary>,
}

/// A distribution summarised: mean, percentiles and maximum, in the unit of its field. Every
/// figure jauge computes is present; a published source may give only some (a median and a
/// p99, say), and the rest stay absent.
///
/// ```
/// use jauge::dataset::Summary;
/// let s = Summary::from_values(&[10.0, 20.0, 30.0, 40.0]).unwrap();
/// assert_eq!((s.mean, s.max), (Some(25.0), Some(40.0)));
/// assert!(Summary::from_values(&[]).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// How many values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Arithmetic mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    /// 90th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// 95th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    /// 99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// Largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Summary {
    /// Its figures by name, mean first, then the percentiles in increasing order and the
    /// maximum: what a summary gives is read in one place.
    ///
    /// ```
    /// let s = jauge::dataset::Summary::from_values(&[1.0, 2.0, 3.0]).unwrap();
    /// let names: Vec<&str> = s.named().iter().map(|(n, _)| *n).collect();
    /// assert_eq!(names, ["mean", "p50", "p90", "p95", "p99", "max"]);
    /// assert_eq!(s.named()[5].1, Some(3.0));
    /// ```
    pub fn named(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("mean", self.mean),
            ("p50", self.p50),
            ("p90", self.p90),
            ("p95", self.p95),
            ("p99", self.p99),
            ("max", self.max),
        ]
    }

    /// Summarises values the way a step summarises its requests ([`crate::stats::Histogram`]:
    /// mean and maximum exact, percentiles by nearest rank within 1 %), so a summary computed
    /// anywhere is the one a dataset holds; negative and non-finite values are left out.
    /// `None` when none is left.
    ///
    /// ```
    /// use jauge::dataset::Summary;
    /// let s = Summary::from_values(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
    /// assert_eq!((s.count, s.mean, s.max), (Some(10), Some(5.5), Some(10.0)));
    /// assert!((s.p90.unwrap() - 9.0).abs() <= 0.09);
    /// ```
    pub fn from_values(values: &[f64]) -> Option<Summary> {
        let mut histogram = crate::stats::Histogram::new();
        values.iter().for_each(|v| histogram.record(*v));
        histogram.summary()
    }
}

/// Throughput over a step.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Throughput {
    /// Output tokens per second, all users together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tok_s: Option<f64>,
    /// Prompt and output tokens per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tok_s: Option<f64>,
    /// Completed requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_s: Option<f64>,
    /// Mean output tokens per second that one user sees while generating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user_output_tok_s: Option<f64>,
    /// Completed requests per second that met every objective (goodput).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_requests_s: Option<f64>,
}

/// Token counts of a step's completed requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenCounts {
    /// Mean prompt tokens per request, as the server counted them.
    pub prompt_tokens_mean: f64,
    /// Mean output tokens per request.
    pub output_tokens_mean: f64,
    /// Where the output counts come from.
    pub output_source: CountSource,
    /// Mean stream chunks per request that carried reasoning (a `reasoning_content` or
    /// `reasoning` delta, or text inside `<think>`…`</think>`); servers stream one token a
    /// chunk, and `usage` does not tell reasoning from answer. Absent when nothing reasoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_chunks_mean: Option<f64>,
}

/// Where a token count was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountSource {
    /// The server's `usage` block.
    Usage,
    /// The number of streamed chunks (the server sent no usage).
    StreamChunks,
    /// Usage for some requests, chunks for others.
    Mixed,
}

/// One GPU's readings over a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GpuStep {
    /// The device index on its node.
    pub index: u32,
    /// The device UUID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Highest memory in use, MiB.
    pub memory_used_mib_peak: f64,
    /// Mean memory in use, MiB.
    pub memory_used_mib_mean: f64,
    /// The device's memory, MiB.
    pub memory_total_mib: f64,
    /// Mean utilisation, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_pct_mean: Option<f64>,
    /// Mean power draw, watts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w_mean: Option<f64>,
    /// Energy over the step, joules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j: Option<f64>,
}

/// The server's counters over a step (from its `/metrics`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ServerStep {
    /// Highest KV-cache usage, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_usage_pct_peak: Option<f64>,
    /// Mean KV-cache usage, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_usage_pct_mean: Option<f64>,
    /// Most requests running at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_peak: Option<u32>,
    /// Most requests waiting at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_peak: Option<u32>,
    /// Preemptions during the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemptions: Option<u32>,
    /// Prefix-cache hit rate, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hit_pct: Option<f64>,
    /// Waiting requests kept growing through the step (the server falls behind the load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_growing: Option<bool>,
}

/// Where one row of the grid (one prompt size) stopped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Limit {
    /// The row's prompt size.
    pub prompt_tokens: u32,
    /// The highest concurrency that passed every rule, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency_ok: Option<u32>,
    /// The concurrency at which the row stopped, when it broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at_concurrency: Option<u32>,
    /// Why the row stopped.
    pub reason: LimitReason,
    /// Details for a reader (the server's message, the SLO that broke).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The maximum context at one concurrency: the largest prompt every user's request was
/// accepted and served with, found by a search on prompt tokens.
///
/// ```
/// let limit: jauge::dataset::ContextLimit = serde_json::from_str(
///     r#"{"concurrency": 1, "output_tokens": 64, "max_context_tokens": 32704,
///         "refused_at_tokens": 32960, "reason": "context_length", "probes": 2}"#,
/// )?;
/// assert_eq!(limit.max_context_tokens, Some(32_704));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContextLimit {
    /// Simultaneous users, each sending a prompt of the probed size.
    pub concurrency: u32,
    /// Output tokens each probe asked for.
    pub output_tokens: u32,
    /// The largest prompt, in tokens, that was accepted and served (`None`: not even the
    /// smallest probed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<u32>,
    /// The smallest prompt that failed (`None`: the search's cap held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_at_tokens: Option<u32>,
    /// Why the prompt could not grow further.
    pub reason: LimitReason,
    /// The error the server gave at `refused_at_tokens`, or how the search ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Probes the search measured.
    pub probes: u32,
}

/// Which first token a TTFT objective times: the first generated (a reasoning model's first
/// reasoning token), or the answer's first (after the reasoning; the same for a model that
/// does not reason).
///
/// ```
/// assert_eq!(jauge::dataset::TtftOf::default(), jauge::dataset::TtftOf::FirstToken);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TtftOf {
    /// The first generated token, reasoning or answer.
    #[default]
    FirstToken,
    /// The answer's first token.
    Answer,
}

/// Why a row of the grid stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitReason {
    /// Every concurrency of the grid passed.
    GridEnd,
    /// Too many requests failed.
    Errors,
    /// The prompt does not fit the server's context.
    ContextLength,
    /// The time-to-first-token objective was breached.
    SloTtft,
    /// The time-per-output-token objective was breached.
    SloTpot,
    /// More users no longer raised throughput.
    ThroughputPlateau,
    /// The server ran out of memory.
    OutOfMemory,
    /// The server stopped answering.
    ServerDown,
    /// The run was interrupted.
    Interrupted,
    /// The server started preempting requests (its KV cache was full).
    Preemption,
    /// The server's queue of waiting requests kept growing.
    QueueGrowing,
}

impl LimitReason {
    /// What limited a deployment, in words: the one description the CLI tables, the report
    /// and the site use.
    ///
    /// ```
    /// use jauge::dataset::LimitReason;
    /// assert_eq!(LimitReason::SloTtft.describe(), "the time-to-first-token objective");
    /// ```
    pub fn describe(self) -> &'static str {
        match self {
            LimitReason::GridEnd => "nothing within the range tried",
            LimitReason::Errors => "errors (failed or timed-out requests)",
            LimitReason::ContextLength => "the context length (max_model_len)",
            LimitReason::SloTtft => "the time-to-first-token objective",
            LimitReason::SloTpot => "the time-per-output-token objective",
            LimitReason::ThroughputPlateau => "a throughput plateau",
            LimitReason::OutOfMemory => "memory (out of memory)",
            LimitReason::ServerDown => "the server going down",
            LimitReason::Interrupted => "an interruption",
            LimitReason::Preemption => "memory (KV-cache preemptions)",
            LimitReason::QueueGrowing => "a growing queue of waiting requests",
        }
    }
}
