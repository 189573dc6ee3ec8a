//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// jauge — how many people can use this model on this GPU, how fast, with how much context?
///
/// Runs the study end to end (memory, users under a chat objective and maximum context, with a
/// report), sizes deployments the way vLLM does, measures OpenAI-compatible servers (or its
/// built-in simulated one) concurrency × prompt size until they break, finds the most users
/// under latency objectives, predicts all of it with a simulator, and checks and compares the
/// datasets.
#[derive(Debug, Parser)]
#[command(name = "jauge", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Does a model fit on these GPUs, and for how many simultaneous requests?
    ///
    /// Computes, per GPU, what vLLM would put in memory (weights, activation peak, memory
    /// outside PyTorch, CUDA graphs) and how many KV-cache blocks are left, then the number of
    /// requests of a given context that fit at once (vLLM's "Maximum concurrency"). When it does
    /// not fit, says by how much and what would fit.
    ///
    /// Examples:
    ///   jauge size --model mistral-7b-v0.3 --gpu a100-40gb
    ///   jauge size --model meta-llama/Meta-Llama-3-70B-Instruct --gpu a100-40gb --gpus 2 --quant awq
    ///   jauge size --model ./my-model/config.json --gpu l40s --context 8192 --json
    ///   jauge size --list gpus
    #[command(verbatim_doc_comment)]
    Size(SizeArgs),
    /// The study, end to end: memory, speed and users, maximum context — and a report.
    ///
    /// Runs the study's protocol against one deployment: (1–2) every concurrency of
    /// --concurrency for every --prompt-tokens (GPU memory, KV-cache use, total and per-user
    /// tok/s, TTFT, ITL), then per prompt size a search for the most users whose TTFT and TPOT
    /// p95 meet the objectives; (3) the largest prompt accepted and served at one user and at
    /// those users (a search up to the server's max_model_len). Writes into --out the datasets
    /// (speed.json, context.json, with per-request records) and report.html (charts, no script)
    /// and report.md. Ctrl-C stops cleanly; --resume continues.
    ///
    /// Without --url it runs against the built-in simulated server (Mistral-7B-v0.1 on one
    /// A100-40GB, max_model_len 8192, unless told otherwise): labelled simulated everywhere.
    /// --predict answers from the simulator alone, for hardware you do not have; with
    /// --preset seed, for the study's five comparisons, written into datasets/.
    ///
    /// Examples:
    ///   jauge study
    ///   jauge study --url http://127.0.0.1:8000 --gpu a100-40gb --gpus 2 --quant awq --out a100-study
    ///   jauge study --predict --catalog-model llama-3-70b --gpu a100-40gb --gpus 4 --quant awq
    ///   jauge study --predict --preset seed
    #[command(verbatim_doc_comment)]
    Study(Box<StudyArgs>),
    /// Check dataset files and print every error with its JSON path.
    ///
    /// Exits 0 when every file is a valid jauge dataset, 1 when any is not.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the dataset format (jauge.dataset/v1).
    Schema(SchemaArgs),
    /// Rebuild a datasets folder's index.json from the datasets in it.
    ///
    /// Every *.json file in the folder and below (except index.json and schema/) must be a
    /// valid dataset. With --check, only verifies that the index is up to date.
    Index(IndexArgs),
    /// Measure a server: climb concurrency × prompt size until it breaks.
    ///
    /// Sends streamed requests to an OpenAI-compatible server (vLLM, llama.cpp, SGLang, TGI,
    /// TensorRT-LLM…) over a grid of concurrencies (closed loop: N users each sending their
    /// next request when the last one ends) and prompt sizes. Each row climbs until too many
    /// requests fail, the context is refused, an objective (--slo-*) is breached, or output
    /// throughput stops rising; the dataset records where and why. Every finished step is
    /// written at once (atomically), per-request records go to FILE.requests.jsonl, Ctrl-C
    /// stops cleanly (exit 130) and --resume continues.
    ///
    /// Without --url, jauge starts its simulated server in-process (jauge serve-sim) for
    /// --catalog-model on --gpu, and the dataset is labelled "simulated".
    ///
    /// Examples:
    ///   jauge run --concurrency 1,4,16 --prompt-tokens 128,1024 --output-tokens 64
    ///   jauge run --url http://127.0.0.1:8000 --gpu a100-40gb --slo-ttft-ms 2000 --out a100.json
    ///   jauge run --url http://gpu-node:8000 --api-key-env VLLM_API_KEY --resume --out a100.json
    #[command(verbatim_doc_comment)]
    Run(Box<RunArgs>),
    /// The most simultaneous users whose requests meet latency objectives, per prompt size.
    ///
    /// For each prompt size: probe 1, 2, 4, … users until a probe breaks the objectives
    /// (--slo-ttft-ms, --slo-tpot-ms at --percentile, and --max-error-rate), then bisect
    /// between the last that held and the first that broke. Each probe is a measured step
    /// (3 requests per user, at least --min-requests) written to the dataset; the result goes
    /// into its limits with the share of requests that met the objectives and its 95 %
    /// confidence interval. Takes jauge run's options for the target and the load
    /// (--concurrency, --full-grid and --min-throughput-gain do not apply).
    ///
    /// Example:
    ///   jauge limit --slo-ttft-ms 2000 --slo-tpot-ms 100 --prompt-tokens 512,4096 --out limit.json
    #[command(verbatim_doc_comment)]
    Limit(Box<LimitArgs>),
    /// Compare two runs step by step; exit 1 when B is worse than A beyond a threshold.
    ///
    /// Compares output tok/s, TTFT p95, TPOT p95 and the error rate of every step both have,
    /// and the users each row held. Refuses datasets of different models or hardware unless
    /// --force. Made for CI regression checks of a deployment.
    ///
    /// Example:
    ///   jauge compare baseline.json today.json --threshold 5%
    #[command(verbatim_doc_comment)]
    Compare(CompareArgs),
    /// Predict a sweep with the discrete-event simulator: no server, no GPU.
    ///
    /// Simulates a continuous-batching vLLM-like server (the deployment's KV cache, batch
    /// limits and first-order step times) for each concurrency × prompt size and writes a
    /// dataset labelled "simulated" with the same schema as jauge run's. With --slo-*, the
    /// limits give the most users whose TTFT/TPOT p95 meet the objectives.
    ///
    /// Example:
    ///   jauge simulate --model llama-3-70b --gpu a100-40gb --gpus 2 --quant awq --slo-ttft-ms 2000 --out sim.json
    #[command(verbatim_doc_comment)]
    Simulate(Box<SimulateArgs>),
    /// Fit the performance model's efficiency factors on measured datasets.
    ///
    /// Per (GPU, engine, quantisation), fits the share of datasheet bandwidth and compute and
    /// the per-step overhead that best predict the measured TTFT, TPOT and output tok/s, and
    /// reports the error of each dataset predicted by a fit on the others (leave one out), next
    /// to the error of the uncalibrated defaults. Simulated datasets are ignored.
    ///
    /// Example:
    ///   jauge calibrate datasets/measured/*.json --out calibration.json
    #[command(verbatim_doc_comment)]
    Calibrate(CalibrateArgs),
    /// Run the simulated OpenAI-compatible server (timing from jauge's models).
    ///
    /// Serves /v1/models, /v1/completions, /v1/chat/completions (streamed or not), /tokenize,
    /// /metrics (vLLM's metric names), /health and /version on 127.0.0.1. Its figures are a
    /// simulation of the chosen model and GPU; use it for demos and tests.
    ///
    /// Example:
    ///   jauge serve-sim --model llama-3-8b --gpu l40s --port 8000 --fault http-500:0.05
    #[command(verbatim_doc_comment)]
    ServeSim(ServeSimArgs),
}

/// `jauge size`.
#[derive(Debug, Args)]
pub struct SizeArgs {
    /// The deployment.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Tokens per request (prompt + output) for the concurrency figure. Default: --max-model-len.
    #[arg(long)]
    pub context: Option<u32>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// List the catalogue instead of sizing.
    #[arg(long, value_enum, conflicts_with_all = ["model", "gpu"])]
    pub list: Option<ListWhat>,
}

/// A deployment as vLLM would serve it (`jauge size`, `jauge simulate`).
#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// Model: a catalogue id (mistral-7b-v0.3), a Hugging Face repo (mistralai/Mistral-7B-v0.3),
    /// or the path to a config.json. Required.
    #[arg(long)]
    pub model: Option<String>,
    /// GPU kind: a catalogue id (a100-40gb, h100-80gb, l40s, …; see --list gpus). Required.
    #[arg(long)]
    pub gpu: Option<String>,
    /// GPUs serving one copy of the model (tensor parallelism).
    #[arg(long, default_value_t = 1)]
    pub gpus: u32,
    /// Weight format (fp16, bf16, fp8, int8, awq, gptq-4bit, gguf-q4_k_m, …; see --list quants).
    /// Default: the checkpoint's dtype, FP16 on GPUs without BF16.
    #[arg(long)]
    pub quant: Option<String>,
    /// KV-cache element type; auto follows the model's compute type.
    #[arg(long, default_value = "auto", value_parser = ["auto", "fp16", "bf16", "fp8"])]
    pub kv_cache_dtype: String,
    /// The server's --max-model-len, tokens. Default: the model's maximum.
    #[arg(long)]
    pub max_model_len: Option<u32>,
    /// Share of each GPU's memory vLLM may use, in (0, 1].
    #[arg(long, default_value_t = 0.9)]
    pub gpu_memory_utilization: f64,
    /// Tokens per KV-cache block.
    #[arg(long, default_value_t = 16)]
    pub block_size: u32,
    /// vLLM's --max-num-seqs. Default: the release's default for this GPU (256, or 1024 on
    /// H100/H200-class GPUs in V1).
    #[arg(long)]
    pub max_num_seqs: Option<u32>,
    /// vLLM's --max-num-batched-tokens. Default: the release's default for this GPU.
    #[arg(long)]
    pub max_num_batched_tokens: Option<u32>,
    /// The vLLM release whose memory accounting to follow (0.6.5 or later).
    #[arg(long, default_value = "0.19.0")]
    pub vllm_version: String,
}

/// What `--list` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    /// Models and their architecture.
    Models,
    /// GPUs and their figures.
    Gpus,
    /// Quantisations and where they run.
    Quants,
}

/// `jauge validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Dataset files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `jauge schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write it to this file (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `jauge index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The datasets folder.
    #[arg(default_value = "datasets")]
    pub dir: PathBuf,
    /// Only check that index.json is up to date (exit 1 if not).
    #[arg(long)]
    pub check: bool,
}

/// `jauge serve-sim`.
#[derive(Debug, Args)]
pub struct ServeSimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Catalogue model to simulate.
    #[arg(long, default_value = "mistral-7b-v0.3")]
    pub model: String,
    /// Catalogue GPU to simulate.
    #[arg(long, default_value = "a100-40gb")]
    pub gpu: String,
    /// GPUs (tensor parallelism).
    #[arg(long, default_value_t = 1)]
    pub gpus: u32,
    /// Weight format (default: the checkpoint's dtype).
    #[arg(long)]
    pub quant: Option<String>,
    /// The simulated server's --max-model-len (default: the model's maximum).
    #[arg(long)]
    pub max_model_len: Option<u32>,
    /// Share of GPU memory the simulated vLLM may use.
    #[arg(long, default_value_t = 0.9)]
    pub gpu_memory_utilization: f64,
    /// The simulated server's --max-num-seqs (default: vLLM's for this GPU).
    #[arg(long)]
    pub max_num_seqs: Option<u32>,
    /// Simulated seconds per real second: 10 runs ten times faster than the modelled GPU.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Inject faults: http-500:RATE, http-429:RATE, http-503:RATE, context:RATE, reset:RATE,
    /// malformed:RATE, stall:RATE:DURATION (repeatable).
    #[arg(long, value_name = "KIND:RATE[:ARG]")]
    pub fault: Vec<crate::serve_sim::faults::Fault>,
    /// Die (stop listening, cut every connection) when this many requests have arrived.
    #[arg(long, value_name = "N")]
    pub die_after: Option<u64>,
    /// Seed of the fault draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Leave max_model_len out of /v1/models and /tokenize, as servers other than vLLM do
    /// (the limit still applies: longer requests get vLLM's HTTP 400).
    #[arg(long)]
    pub hide_max_model_len: bool,
    /// The largest request body it reads (HTTP 413 beyond), e.g. 32MiB, 100MB.
    #[arg(long, default_value = "32MiB", value_parser = crate::limits::parse_size)]
    pub max_request_bytes: u64,
}

impl ServeSimArgs {
    /// The simulation these arguments describe.
    pub fn options(&self) -> anyhow::Result<crate::serve_sim::SimOptions> {
        Ok(crate::serve_sim::SimOptions {
            model: self.model.clone(),
            gpu: self.gpu.clone(),
            gpus: self.gpus,
            quant: self.quant.clone(),
            max_model_len: self.max_model_len,
            gpu_memory_utilization: self.gpu_memory_utilization,
            max_num_seqs: self.max_num_seqs,
            time_scale: self.time_scale,
            faults: self.fault.clone(),
            die_after: self.die_after,
            seed: self.seed,
            hide_max_model_len: self.hide_max_model_len,
            max_request_bytes: self.max_request_bytes,
        })
    }
}

/// `jauge run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The server's base URL (http://HOST:PORT, without /v1). Default: the built-in simulated
    /// server.
    #[arg(long)]
    pub url: Option<String>,
    /// The served model name. Default: the first model /v1/models lists.
    #[arg(long)]
    pub model: Option<String>,
    /// The catalogue model this is (for the dataset and the explorer); for the simulated
    /// server, the model it simulates. Default: looked up from the served name.
    #[arg(long)]
    pub catalog_model: Option<String>,
    /// The GPU kind (catalogue id): simulated by the built-in server, recorded for a real one
    /// (default: read from NVML).
    #[arg(long)]
    pub gpu: Option<String>,
    /// GPUs serving the model: simulated, or recorded when NVML cannot tell (default: the GPUs
    /// sampled, else 1).
    #[arg(long)]
    pub gpu_count: Option<u32>,
    /// Local GPUs to read with NVML, by index (e.g. 0,1). Default: all.
    #[arg(long, value_delimiter = ',', value_name = "INDICES")]
    pub gpus: Option<Vec<u32>>,
    /// Do not read the GPUs.
    #[arg(long)]
    pub no_gpu: bool,
    /// GPU readings per second.
    #[arg(long, default_value_t = 10.0)]
    pub gpu_sample_hz: f64,
    /// Where the server's Prometheus metrics are. Default: URL/metrics.
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// Do not scrape the server's /metrics.
    #[arg(long)]
    pub no_server_metrics: bool,
    /// A row stops when the server starts preempting requests (its KV cache is full).
    #[arg(long)]
    pub stop_on_preemption: bool,
    /// A row stops when the server's queue of waiting requests keeps growing through a step.
    #[arg(long)]
    pub stop_on_queue: bool,
    /// Weight format (catalogue id): simulated, or recorded for a real server.
    #[arg(long)]
    pub quant: Option<String>,
    /// Simultaneous requests to climb through, increasing.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
    pub concurrency: Vec<u32>,
    /// Prompt sizes in tokens, increasing (one row each).
    #[arg(long, value_delimiter = ',', default_value = "128,1024,4096")]
    pub prompt_tokens: Vec<u32>,
    /// Output tokens per request (forced with ignore_eos/min_tokens where supported).
    #[arg(long, default_value_t = 128)]
    pub output_tokens: u32,
    /// Measured requests per step. Default: 2 × concurrency, at least 8.
    #[arg(long, conflicts_with = "duration_per_step")]
    pub requests_per_step: Option<u32>,
    /// Measure each step for this long instead (e.g. 60s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration_per_step: Option<std::time::Duration>,
    /// Warm-up requests before each row, left out of the figures.
    #[arg(long, default_value_t = 2)]
    pub warmup: u32,
    /// Which endpoint to call.
    #[arg(long, value_enum, default_value_t = EndpointArg::Completions)]
    pub endpoint: EndpointArg,
    /// Open loop: send this many requests per second (concurrency then caps those in flight).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open-loop gaps: poisson, gamma (burstier) or constant.
    #[arg(long, value_enum, default_value_t = ArrivalArg::Poisson, requires = "rate")]
    pub arrival: ArrivalArg,
    /// Objective on TTFT p95, ms: a row stops when a step breaches it.
    #[arg(long)]
    pub slo_ttft_ms: Option<f64>,
    /// Objective on TPOT p95, ms: a row stops when a step breaches it.
    #[arg(long)]
    pub slo_tpot_ms: Option<f64>,
    /// A row stops when more than this share of a step's requests fail.
    #[arg(long, default_value_t = 0.05)]
    pub max_error_rate: f64,
    /// A row stops when output throughput rises by less than this share over its best.
    #[arg(long, default_value_t = 0.02)]
    pub min_throughput_gain: f64,
    /// Climb every concurrency even when throughput stops rising.
    #[arg(long)]
    pub full_grid: bool,
    /// Per-request time limit.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "300s")]
    pub timeout: std::time::Duration,
    /// The dataset to write. Default: jauge-run-TIMESTAMP.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the dataset at --out after its last complete step (same settings only).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Read the API key from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Read the API key from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "api_key_env")]
    pub api_key_file: Option<PathBuf>,
    /// A local tokenizer.json (the served model's) for exact prompt lengths without the
    /// server's /tokenize.
    #[arg(long, value_name = "PATH")]
    pub tokenizer: Option<PathBuf>,
    /// Tokens every prompt shares at its start (to measure prefix caching on purpose).
    #[arg(long, default_value_t = 0)]
    pub shared_prefix_tokens: u32,
    /// Do not send vLLM's ignore_eos/min_tokens (for servers that refuse unknown fields).
    #[arg(long)]
    pub no_force_output: bool,
    /// Seed of prompts and arrivals.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Built-in server only: simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Built-in server only: its --max-model-len (default: the model's maximum).
    #[arg(long)]
    pub max_model_len: Option<u32>,
    /// Built-in server only: its --max-num-seqs (default: vLLM's for the GPU).
    #[arg(long)]
    pub max_num_seqs: Option<u32>,
    /// Built-in server only: inject faults (see jauge serve-sim --help).
    #[arg(long, value_name = "KIND:RATE[:ARG]")]
    pub fault: Vec<crate::serve_sim::faults::Fault>,
    /// Built-in server only: the server dies when this many requests have arrived.
    #[arg(long, value_name = "N")]
    pub die_after: Option<u64>,
    /// Raise (or lower) what jauge reads of a server's answers: NAME=SIZE, repeatable, NAME one
    /// of event (one stream event or line, default 1MiB), error-body (kept of an error answer,
    /// 64KiB), models (/v1/models, 1MiB), version (64KiB), tokenize (16MiB), metrics (8MiB).
    /// A request whose answer passes its limit fails as response_too_large.
    #[arg(long, value_name = "NAME=SIZE")]
    pub read_limit: Vec<crate::limits::ReadLimit>,
    /// No progress bars or step lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EndpointArg {
    /// /v1/completions.
    Completions,
    /// /v1/chat/completions.
    Chat,
}

/// `--arrival`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArrivalArg {
    /// Exponential gaps.
    Poisson,
    /// Gamma gaps, shape 0.5.
    Gamma,
    /// Equal gaps.
    Constant,
}

/// `jauge limit`.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The target and the load, as for jauge run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The percentile of TTFT and TPOT that must meet the objectives (50, 90, 95, 99).
    #[arg(long, default_value_t = 95)]
    pub percentile: u32,
    /// The most users to try.
    #[arg(long, default_value_t = 256)]
    pub max_concurrency: u32,
    /// Fewest requests per probe (a probe sends 3 per user, at least this many).
    #[arg(long, default_value_t = 40)]
    pub min_requests: u32,
    /// Answer from the discrete-event simulator instead of a server, for the deployment given
    /// by --catalog-model, --gpu, --gpu-count and --quant (hardware you do not have).
    #[arg(long)]
    pub simulate: bool,
}

/// `jauge compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference run.
    pub a: PathBuf,
    /// The run compared with it.
    pub b: PathBuf,
    /// How much worse B may be before it counts (5%, 0.05).
    #[arg(long, default_value = "5%")]
    pub threshold: String,
    /// Compare even when the model or the hardware differ.
    #[arg(long)]
    pub force: bool,
}

/// `jauge simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The deployment.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Simultaneous users, increasing.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32,64,128,256"
    )]
    pub concurrency: Vec<u32>,
    /// Prompt sizes in tokens, increasing.
    #[arg(long, value_delimiter = ',', default_value = "128,1024,4096")]
    pub prompt_tokens: Vec<u32>,
    /// Output tokens per request.
    #[arg(long, default_value_t = 256)]
    pub output_tokens: u32,
    /// Requests per step. Default: 4 per user, at least 32.
    #[arg(long)]
    pub requests_per_step: Option<u32>,
    /// Objective on TTFT p95, ms.
    #[arg(long)]
    pub slo_ttft_ms: Option<f64>,
    /// Objective on TPOT p95, ms.
    #[arg(long)]
    pub slo_tpot_ms: Option<f64>,
    /// Write the simulated dataset here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the dataset as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Seed (arrivals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Use the efficiency factors of a calibration file (jauge calibrate) for this GPU and
    /// quantisation.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
}

/// `jauge calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Measured datasets.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the calibration here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `jauge study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// The server's base URL (http://HOST:PORT). Default: the built-in simulated server.
    #[arg(long)]
    pub url: Option<String>,
    /// The served model name. Default: the first model /v1/models lists.
    #[arg(long)]
    pub model: Option<String>,
    /// The catalogue model: simulated by the built-in server and --predict (default
    /// mistral-7b-v0.1), recorded for a real server.
    #[arg(long)]
    pub catalog_model: Option<String>,
    /// The GPU kind (catalogue id): simulated (default a100-40gb), or recorded for a real
    /// server (default: read from NVML).
    #[arg(long)]
    pub gpu: Option<String>,
    /// GPUs serving one copy of the model (tensor parallelism).
    #[arg(long)]
    pub gpus: Option<u32>,
    /// Weight format (catalogue id: fp16, bf16, awq, gptq-4bit, …).
    #[arg(long)]
    pub quant: Option<String>,
    /// Objective on TTFT p95, ms (a chat user's default: 2 s).
    #[arg(long, default_value_t = 2000.0)]
    pub slo_ttft_ms: f64,
    /// Objective on TPOT p95, ms (a chat user's default: 100 ms, 10 tokens a second).
    #[arg(long, default_value_t = 100.0)]
    pub slo_tpot_ms: f64,
    /// Answer from the simulator alone (no server): for hardware you do not have.
    #[arg(long)]
    pub predict: bool,
    /// With --predict: every deployment of a built-in preset (seed: the study's five
    /// comparisons), written by default into datasets/simulated/PRESET and indexed.
    #[arg(long)]
    pub preset: Option<String>,
    /// The folder for the datasets and the report. Default: jauge-study-TIMESTAMP,
    /// jauge-study-predicted-TIMESTAMP (--predict), datasets/simulated/PRESET (--preset).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the study in --out where it stopped.
    #[arg(long)]
    pub resume: bool,
    /// Simultaneous users of the memory and speed sweep, increasing.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<u32>,
    /// Prompt sizes in tokens, increasing.
    #[arg(long, value_delimiter = ',', default_value = "512,2048")]
    pub prompt_tokens: Vec<u32>,
    /// Output tokens per request.
    #[arg(long, default_value_t = 64)]
    pub output_tokens: u32,
    /// The most users the search for the users under the objectives tries.
    #[arg(long, default_value_t = 128)]
    pub max_users: u32,
    /// Resolution of the maximum-context search, tokens.
    #[arg(long, default_value_t = 256)]
    pub context_step: u32,
    /// The maximum-context search never probes above this many prompt tokens.
    #[arg(long, default_value_t = 262_144)]
    pub max_context: u32,
    /// Built-in server only: its --max-model-len (default 8192, so the study ends in minutes).
    #[arg(long)]
    pub max_model_len: Option<u32>,
    /// Built-in server only: simulated seconds per real second (latencies shrink by as much;
    /// for demos and tests).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Call /v1/chat/completions instead of /v1/completions.
    #[arg(long)]
    pub chat: bool,
    /// Per-request time limit.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "300s")]
    pub timeout: std::time::Duration,
    /// Local GPUs to read with NVML, by index (e.g. 0,1). Default: all.
    #[arg(long, value_delimiter = ',', value_name = "INDICES")]
    pub nvml_gpus: Option<Vec<u32>>,
    /// Do not read the GPUs.
    #[arg(long)]
    pub no_gpu: bool,
    /// Read the API key from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Read the API key from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "api_key_env")]
    pub api_key_file: Option<PathBuf>,
    /// Raise (or lower) what jauge reads of a server's answers: NAME=SIZE, repeatable, NAME one
    /// of event (one stream event or line, default 1MiB), error-body (kept of an error answer,
    /// 64KiB), models (/v1/models, 1MiB), version (64KiB), tokenize (16MiB), metrics (8MiB).
    /// A request whose answer passes its limit fails as response_too_large.
    #[arg(long, value_name = "NAME=SIZE")]
    pub read_limit: Vec<crate::limits::ReadLimit>,
    /// No progress bars or step lines.
    #[arg(long, short)]
    pub quiet: bool,
}
