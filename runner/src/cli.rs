//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::limits::ReadLimit;

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
    ///   jauge size --catalog-model mistral-7b-v0.3 --gpu a100-40gb
    ///   jauge size --catalog-model meta-llama/Meta-Llama-3-70B-Instruct --gpu a100-40gb --gpus 2 --quant awq
    ///   jauge size --catalog-model ./my-model/config.json --gpu l40s --context 8192 --json
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
    /// How many people can use it at once: chat, RAG, code or fixed requests, from the simulator.
    /// People are not requests: each person follows a workload — a chat resends its growing
    /// history every turn and reads the answer before the next, RAG questions share long
    /// documents, code completions want short answers fast — and the answer is the most
    /// people whose every turn meets the workload's objectives (TTFT p95 of each turn, answers
    /// streamed at reading speed or faster), found by doubling then bisecting to one person.
    /// Beside it: the requests in flight those people keep (time average, and Little's law),
    /// and the share of prompt tokens the engine's prefix cache saved. Predicted by jauge's
    /// simulator (vLLM's scheduler over a paged KV cache with prefix caching, calibrated on
    /// published measurements); the workloads' figures are assumptions, shown with the answer
    /// and editable.
    /// Examples:
    ///   jauge people --catalog-model mistral-7b-v0.1 --gpu a100-40gb
    ///   jauge people --catalog-model llama-3-70b --gpu a100-40gb --gpus 4 --quant awq --workload chat --think-s 60
    ///   jauge people --catalog-model mistral-7b-v0.1 --gpu a100-40gb --workload rag --no-prefix-cache --json
    #[command(verbatim_doc_comment)]
    People(Box<PeopleArgs>),
    /// Show what a dataset holds: its deployment, what limited each prompt size, every step's
    /// figures.
    ///
    /// The figures are the ones the site, the study's report and jauge compare show for the
    /// same dataset (one definition of each, in the shared library). --json prints them as
    /// data, for scripts.
    ///
    /// Examples:
    ///   jauge show datasets/simulated/mistral-7b-a100.json
    ///   jauge show run.json --json
    #[command(verbatim_doc_comment)]
    Show(ShowArgs),
    /// Check dataset files and print every error with its JSON path.
    ///
    /// Exits 0 when every file is a valid jauge dataset, 1 when any is not.
    Validate(ValidateArgs),
    /// Convert other benchmark tools' result files into jauge datasets (imported:<tool>).
    ///
    /// Reads vLLM's bench serve results (--save-result JSON, --append-result JSON Lines, the
    /// old benchmark_serving.py's) and vllm bench sweep folders, GuideLLM reports
    /// (benchmarks.json, metadata.version 1 and 2), AIPerf and GenAI-Perf profile_export*.json,
    /// inference-perf reports (stage_N_lifecycle_metrics.json or the report folder) and llmperf
    /// *_summary.json. Each run becomes a step; a figure is mapped only where it means exactly
    /// jauge's (vLLM's definitions), and the dataset's notes say what the file had, what was
    /// left out and why. Percentiles are never averaged or recomputed from percentiles.
    ///
    /// What each tool's figures become:
    ///   vLLM        mean/median/pNN_{ttft,tpot,itl,e2el}_ms → ttft, tpot, itl, e2e; max and
    ///               count from its per-request arrays; e2e from `latencies` when not summarised
    ///   GuideLLM    time_to_first_token_ms → ttft; request_latency (s) → e2e;
    ///               inter_token_latency_ms → tpot only when every output length is the same
    ///               (it is token-weighted); no itl; time_per_output_token_ms (TTFT inside) never
    ///   AIPerf      time_to_first_token, inter_token_latency → tpot, inter_chunk_latency → itl,
    ///               request_latency → e2e, output_token_throughput_per_user → tok/s per user
    ///   inference-perf  time_to_first_token, time_per_output_token → tpot, request_latency
    ///               (s); its per-token inter_token_latency is not vLLM's ITL: left out
    ///   llmperf     ttft_s, end_to_end_latency_s; its inter_token_latency_s (TTFT inside) and
    ///               its throughput (Ray start-up inside the window) are left out
    /// Closed loop → concurrency; open loop → the step's rate_rps and the arrival, concurrency
    /// the cap (else the requests sent); offline → concurrency = the prompts sent. A tool's
    /// repeated runs of a point (vllm bench sweep: 3 by default) are never averaged: each run
    /// number becomes its own dataset (NAME-run0, -run1, …).
    ///
    /// No file records the GPU, the weights' format or the engine: give them (catalogue ids),
    /// else they are recorded as unknown. Nothing is written unless every input converts to a
    /// valid dataset; existing files are kept unless --force.
    ///
    /// Examples:
    ///   jauge import openai-infqps-concurrency16-llama.json --gpu h100-80gb --quant bf16 --engine vllm
    ///   jauge import results/exp1/ --out exp1.json            (a vllm bench sweep: exp1-run0.json, …)
    ///   jauge import c1/benchmarks.json c4/benchmarks.json --merge --out guidellm.json
    ///   jauge import --tool llmperf out/llama_512_128_summary.json
    #[command(verbatim_doc_comment)]
    Import(Box<ImportArgs>),
    /// Print the JSON Schema of the dataset format (jauge.dataset/v2).
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
    /// --catalog-model on --gpus × --gpu, and the dataset is labelled "simulated".
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
    /// Merge the datasets of load generators that measured one server together.
    ///
    /// Each shard (a dataset and its .requests.jsonl beside it) measured its share of every
    /// step at the same time as the others. The merged step pools their requests and computes
    /// its figures again from all of them: counts added, throughputs over the pooled requests'
    /// wall time, percentiles from the pooled records (never averaged). Refuses shards of
    /// different deployments, endpoints, lengths or steps.
    ///
    /// Example:
    ///   jauge merge shard-0.json shard-1.json --out merged.json
    #[command(verbatim_doc_comment)]
    Merge(MergeArgs),
    /// Predict a sweep with the discrete-event simulator: no server, no GPU.
    ///
    /// Simulates a continuous-batching vLLM-like server (the deployment's KV cache, batch
    /// limits and first-order step times, with the factors jauge ships fitted on published
    /// measurements) and writes a dataset labelled "simulated" with the same schema as jauge
    /// run's. Three modes, as benchmarks take their figures:
    ///   closed loop   --concurrency 1,8,64          (users; the default)
    ///   open loop     --rate 2,4,8 --arrival poisson [--concurrency CAP]
    ///   all at once   --rate inf --requests 1000     (offline throughput)
    /// Each step's figures are computed as jauge run computes them for the same mode (wall
    /// time from the first intended send to the last response). With --slo-*, closed-loop
    /// limits give the most users whose TTFT/TPOT p95 meet the objectives.
    ///
    /// Examples:
    ///   jauge simulate --catalog-model llama-3-70b --gpu a100-40gb --gpus 2 --quant awq --slo-ttft-ms 2000 --out sim.json
    ///   jauge simulate --catalog-model llama-3-8b --gpu h100-80gb --rate 5,10,20 --requests 500 --prompt-tokens 1024
    #[command(verbatim_doc_comment)]
    Simulate(Box<SimulateArgs>),
    /// Fit the performance model on real datasets, and say how wrong it is.
    ///
    /// Fits the share of datasheet bandwidth and compute (globally, then per GPU), each
    /// engine's cost per step and each weight format's kernel scale, so that the simulator
    /// predicts the datasets' output tok/s, TTFT, TPOT/ITL and E2E latency. The error is the
    /// sceptic's: each source is predicted by a fit made without it (leave one source out),
    /// beside the uncalibrated defaults. Simulated datasets are ignored.
    ///
    /// Examples:
    ///   jauge calibrate --report                                 (the shipped calibration's errors)
    ///   jauge calibrate datasets/published --report              (recompute them)
    ///   jauge calibrate datasets/published --out shared/data     (regenerate the shipped fit)
    ///   jauge calibrate mine/*.json --out calibration.json && jauge simulate --calibration calibration.json …
    #[command(verbatim_doc_comment)]
    Calibrate(CalibrateArgs),
    /// Run the simulated OpenAI-compatible server (timing from jauge's models).
    ///
    /// Serves /v1/models, /v1/completions, /v1/chat/completions (streamed or not), /tokenize,
    /// /metrics (vLLM's metric names), /health and /version on 127.0.0.1. Its figures are a
    /// simulation of the chosen model and GPU; use it for demos and tests.
    ///
    /// Example:
    ///   jauge serve-sim --catalog-model llama-3-8b --gpu l40s --port 8000 --fault http-500:0.05
    #[command(verbatim_doc_comment)]
    ServeSim(ServeSimArgs),
}

/// The deployment: which model, on which GPUs, in which format, with which engine settings.
/// Every command takes these flags with the same meaning: the built-in server and the
/// simulator deploy it; for a real server (`--url`) they describe it in the dataset.
#[derive(Debug, Clone, Default, Args)]
pub struct DeploymentArgs {
    /// The model: a catalogue id (mistral-7b-v0.3), a Hugging Face repo
    /// (mistralai/Mistral-7B-v0.3), or (jauge size) the path to a config.json. See
    /// `jauge size --list models`.
    #[arg(long, value_name = "ID")]
    pub catalog_model: Option<String>,
    /// The GPU kind: a catalogue id (a100-40gb, h100-80gb, l40s, …; see --list gpus). With
    /// `jauge size --engine llama.cpp`, also an Apple Silicon Mac, chip and RAM (m2-max-96gb;
    /// see --list devices): the Metal buffers must fit its GPU working-set limit.
    #[arg(long, value_name = "ID")]
    pub gpu: Option<String>,
    /// GPUs serving one copy of the model (tensor parallelism). Default: 1 (for a real
    /// server: the GPUs NVML reads).
    #[arg(long, value_name = "N", value_parser = parse_gpus)]
    pub gpus: Option<u32>,
    /// Weight format (fp16, bf16, fp8, int8, awq, gptq-4bit, gguf-q4_k_m, …; see --list
    /// quants). Default: the checkpoint's dtype, FP16 on GPUs without BF16.
    #[arg(long, value_name = "ID")]
    pub quant: Option<String>,
    /// KV-cache element type; auto (the default) follows the model's compute type.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(jauge::sizing::KvCacheDtype::NAMES))]
    pub kv_cache_dtype: Option<String>,
    /// The engine's --max-model-len, tokens. Default: the model's maximum (jauge study's
    /// built-in server: 8192, so the study ends in minutes).
    #[arg(long, value_name = "TOKENS")]
    pub max_model_len: Option<u32>,
    /// Share of each GPU's memory the engine may use, in (0, 1]. Default: 0.9, vLLM's.
    #[arg(long, value_name = "SHARE")]
    pub gpu_memory_utilization: Option<f64>,
    /// Tokens per KV-cache block. Default: 16, vLLM's on CUDA.
    #[arg(long, value_name = "TOKENS")]
    pub block_size: Option<u32>,
    /// The engine's --max-num-seqs. Default: the release's for this GPU (256, or 1024 on
    /// H100/H200-class GPUs in V1).
    #[arg(long, value_name = "N")]
    pub max_num_seqs: Option<u32>,
    /// The engine's --max-num-batched-tokens. Default: the release's for this GPU.
    #[arg(long, value_name = "TOKENS")]
    pub max_num_batched_tokens: Option<u32>,
    /// The serving engine and its release, ENGINE[@VERSION]: vllm@0.4.2 applies that vLLM
    /// release's memory rules (0.2.0 to today; default vllm@0.19.0). For jauge import, any
    /// engine's name (tgi, sglang@0.4.6, …) to record.
    #[arg(long, value_name = "ENGINE[@VERSION]")]
    pub engine: Option<String>,
    /// The vLLM release whose memory rules apply: the same as --engine vllm@VERSION.
    #[arg(long, value_name = "VERSION")]
    pub vllm_version: Option<String>,
    /// Each GPU's total memory as CUDA reports it, GiB (`torch.cuda.mem_get_info()[1] / 2**30`;
    /// nvidia-smi's total is higher, by ~0.46 GiB on an H100), when it is not the catalogue's:
    /// a card that drives a display, a cloud variant (A10G is not A10). Default: the
    /// catalogue's figure for the GPU. On an Apple Silicon Mac (llama.cpp), it replaces the GPU
    /// working-set limit (e.g. after `sudo sysctl iogpu.wired_limit_mb=N`: N / 1024).
    #[arg(long, value_name = "GIB")]
    pub total_memory_gib: Option<f64>,
    /// Renamed --gpus.
    #[arg(long = "gpu-count", value_name = "N", hide = true)]
    pub legacy_gpu_count: Option<u32>,
}

/// `--gpus N`: a count. The old meaning of `--gpus 0,1` in `jauge run` (which GPUs to read)
/// is `--nvml-gpus` now; say so rather than fail on the comma.
fn parse_gpus(text: &str) -> Result<u32, String> {
    let hint = "--gpus is the number of GPUs serving the model; to choose which local GPUs NVML reads, use --nvml-gpus 0,1";
    text.trim()
        .parse::<u32>()
        .map_err(|_| format!("`{text}` is not a number of GPUs ({hint})"))
}

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    /// Models and their architecture.
    Models,
    /// GPUs and their figures.
    Gpus,
    /// Quantisations and where they run.
    Quants,
    /// Apple Silicon Macs (llama.cpp on Metal): GPU working-set limit, bandwidth, GPU cores.
    Devices,
}

/// `jauge people`.
#[derive(Debug, Args)]
pub struct PeopleArgs {
    /// The deployment.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Which workloads: chat, rag, code, fixed, a comma-separated list, all, or a JSON file that
    /// changes one of them ({"workload": "rag", "documents": 40, "user_tokens": "10-30", …}:
    /// system_tokens, user_tokens, answer_tokens, turns, think_s, documents, document_tokens,
    /// ttft_p95_s, min_output_tok_s).
    #[arg(long, default_value = "all", value_name = "NAME")]
    pub workload: String,
    /// Predict a server without prefix caching (vLLM's --no-enable-prefix-caching): every
    /// prompt computed whole.
    #[arg(long)]
    pub no_prefix_cache: bool,
    /// The workload's assumptions and objectives, edited.
    #[command(flatten)]
    pub edits: WorkloadEditArgs,
    /// Virtual seconds each population is measured for, after its warm-up.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    pub window_s: f64,
    /// Virtual seconds before the window (people arrive, conversations get going). Default:
    /// 300, or three think times when longer.
    #[arg(long, value_name = "SECONDS")]
    pub warmup_s: Option<f64>,
    /// Most people tried.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub ceiling: u32,
    /// Seed of the people's draws (lengths, pauses, documents).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Edits of a workload's assumptions and objectives (`jauge people`, and `jauge run` and
/// `jauge limit` with `--workload`).
#[derive(Debug, Clone, Default, Args)]
pub struct WorkloadEditArgs {
    /// Mean seconds between an answer and the person's next request (exponentially
    /// distributed). Default: the workload's (chat 30, rag 60, code 10, fixed 0).
    #[arg(long, value_name = "SECONDS")]
    pub think_s: Option<f64>,
    /// Turns of one conversation, a number or a range such as 3-8. Default: the workload's.
    #[arg(long, value_name = "MIN-MAX")]
    pub turns: Option<String>,
    /// Answer tokens, a number or a range such as 100-500. Default: the workload's (chat
    /// 100-500, rag 50-300, code 10-100, fixed 128).
    #[arg(long, value_name = "MIN-MAX")]
    pub answer_tokens: Option<String>,
    /// Objective: 95th percentile of each turn's time to first token, seconds. Default: the
    /// workload's (chat 2, rag 4, code 1, fixed 2).
    #[arg(long, value_name = "SECONDS")]
    pub ttft_p95_s: Option<f64>,
    /// Objective: answers streamed at least this fast (tokens/s, by 95 % of the answers).
    /// Default: reading speed, 6.5 (code: 30).
    #[arg(long, value_name = "TOK_S")]
    pub min_output_tok_s: Option<f64>,
}

/// People following a workload instead of users sending back to back (`jauge run` and
/// `jauge limit`).
#[derive(Debug, Clone, Default, Args)]
pub struct PopulationArgs {
    /// Measure people: each step is a population following this workload (chat, rag, code,
    /// fixed, or a JSON file that changes one of them: {"workload": "rag", "documents": 40,
    /// "user_tokens": "10-30", …}), each person thinking between turns, a chat resending its history with the
    /// server's real answers, RAG questions sharing documents. --concurrency (run) and
    /// --max-concurrency (limit) then count people; the lengths are the workload's
    /// (--prompt-tokens and --output-tokens do not apply); the objectives are the workload's
    /// unless --slo-ttft-ms or --slo-tpot-ms are given; --duration-per-step is each step's
    /// measured window (default 300s). Streams on the chat endpoint unless --endpoint is given.
    #[arg(long, value_name = "NAME")]
    pub workload: Option<String>,
    /// With --workload: how long each step runs before its measured window (people arrive,
    /// conversations get going). Default: 60s, or twice the think time when longer.
    #[arg(long, value_parser = humantime::parse_duration, requires = "workload")]
    pub warmup_time: Option<std::time::Duration>,
    /// With --workload: the workload's assumptions and objectives, edited.
    #[command(flatten)]
    pub edits: WorkloadEditArgs,
}

/// `jauge merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' datasets (each with its .requests.jsonl beside it).
    #[arg(required = true)]
    pub shards: Vec<std::path::PathBuf>,
    /// The merged dataset (its request records beside it).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Replace --out when it exists.
    #[arg(long)]
    pub force: bool,
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
    #[arg(long, value_enum, conflicts_with_all = ["catalog_model", "gpu"])]
    pub list: Option<ListWhat>,
    /// Renamed --catalog-model.
    #[arg(long = "model", value_name = "ID", hide = true)]
    pub legacy_model: Option<String>,
    /// llama.cpp (--engine llama.cpp): slots sharing the context (`-np`). Default: 1.
    #[arg(long, value_name = "N")]
    pub parallel: Option<u32>,
    /// llama.cpp: the K cache's type (`-ctk`: f16, q8_0, q4_0, …). Default: f16.
    #[arg(long, value_name = "TYPE")]
    pub cache_type_k: Option<String>,
    /// llama.cpp: the V cache's type (`-ctv`; a quantised V cache needs flash attention).
    /// Default: f16.
    #[arg(long, value_name = "TYPE")]
    pub cache_type_v: Option<String>,
    /// llama.cpp: layers offloaded to the GPU, the output layer counting as one (`-ngl`).
    /// Default: all, when --gpu is given.
    #[arg(long, value_name = "N")]
    pub n_gpu_layers: Option<u32>,
}

/// `jauge show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Dataset files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per file: every step's figures as printed.
    #[arg(long)]
    pub json: bool,
}

/// `jauge validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Dataset files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `jauge import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Result files, or folders of them (a vllm bench sweep, an inference-perf report).
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Where to write: a .json file for one dataset (FILE-runN.json for a sweep's runs), a
    /// folder for several. Default: NAME.jauge.json in the current folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Which tool wrote the inputs; auto tells them by their fields.
    #[arg(long, value_enum, default_value_t = ImportTool::Auto)]
    pub tool: ImportTool,
    /// One dataset from all the inputs (one step per run), instead of one per input.
    #[arg(long)]
    pub merge: bool,
    /// Replace datasets that exist.
    #[arg(long)]
    pub force: bool,
    /// The deployment the results were measured on (no result file records it).
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// The engine's version (or give it as --engine NAME@VERSION).
    #[arg(long, value_name = "VERSION")]
    pub engine_version: Option<String>,
    /// The model name the server served, when the file does not record it (or to replace it).
    #[arg(long, value_name = "NAME")]
    pub served_model: Option<String>,
}

/// `jauge import --tool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportTool {
    /// Tell the tool by the file's fields.
    Auto,
    /// vllm bench serve (--save-result, --append-result), vllm bench sweep serve, benchmark_serving.py.
    Vllm,
    /// GuideLLM's report (benchmarks.json).
    Guidellm,
    /// NVIDIA AIPerf's profile_export_aiperf.json (or its sweep aggregate).
    Aiperf,
    /// NVIDIA GenAI-Perf's profile_export_genai_perf.json.
    GenaiPerf,
    /// kubernetes-sigs/inference-perf's stage_N_lifecycle_metrics.json.
    InferencePerf,
    /// ray-project/llmperf's *_summary.json.
    Llmperf,
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

/// The built-in simulated server's own behaviour (beyond the deployment it simulates).
#[derive(Debug, Clone, Args)]
pub struct SimulationArgs {
    /// Built-in server only: simulated seconds per real second (10 runs ten times faster than
    /// the modelled GPU; latencies shrink by as much).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Built-in server only: inject faults: http-500:RATE, http-429:RATE, http-503:RATE,
    /// context:RATE, reset:RATE, malformed:RATE, stall:RATE:DURATION (repeatable).
    #[arg(long, value_name = "KIND:RATE[:ARG]")]
    pub fault: Vec<crate::serve_sim::faults::Fault>,
    /// Built-in server only: it dies (stops listening, cuts every connection) when this many
    /// requests have arrived.
    #[arg(long, value_name = "N")]
    pub die_after: Option<u64>,
    /// Built-in server only: it answers as a reasoning model — the first N tokens of every
    /// answer are reasoning, sent as `reasoning_content` deltas on the chat endpoint (vLLM with
    /// a reasoning parser) and as text between `<think>` and `</think>` on completions.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reasoning_tokens: u32,
    /// Built-in server only: no prefix caching (vLLM's --no-enable-prefix-caching): every
    /// prompt is computed whole, even the part an earlier prompt already had.
    #[arg(long)]
    pub no_prefix_cache: bool,
}

/// `jauge serve-sim`.
#[derive(Debug, Args)]
pub struct ServeSimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// The deployment it simulates (default: mistral-7b-v0.3 on one a100-40gb).
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// How it serves.
    #[command(flatten)]
    pub simulation: SimulationArgs,
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
    /// Renamed --catalog-model.
    #[arg(long = "model", value_name = "ID", hide = true)]
    pub legacy_model: Option<String>,
}

/// The server measured and how requests reach it (`jauge run`, `limit`, `study`).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The server's base URL (http://HOST:PORT, without /v1). Default: the built-in simulated
    /// server.
    #[arg(long)]
    pub url: Option<String>,
    /// The model name the server serves (sent in every request). Default: the first model
    /// /v1/models lists.
    #[arg(long, value_name = "NAME")]
    pub served_model: Option<String>,
    /// Which endpoint to call. Default: completions (chat with --workload).
    #[arg(long, value_enum)]
    pub endpoint: Option<EndpointArg>,
    /// Read the API key from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Read the API key from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "api_key_env")]
    pub api_key_file: Option<PathBuf>,
    /// The whole of one request, from connecting to its last byte (e.g. 300s, 5m).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "300s")]
    pub timeout: std::time::Duration,
    /// Raise (or lower) what jauge reads of a server's answers: NAME=SIZE, repeatable, NAME one
    /// of event (one stream event or line, default 1MiB), error-body (kept of an error answer,
    /// 64KiB), models (/v1/models, 1MiB), version (64KiB), tokenize (16MiB), metrics (8MiB).
    /// A request whose answer passes its limit fails as response_too_large.
    #[arg(long, value_name = "NAME=SIZE")]
    pub read_limit: Vec<ReadLimit>,
    /// A local tokenizer.json (the served model's) for exact prompt lengths without the
    /// server's /tokenize.
    #[arg(long, value_name = "PATH")]
    pub tokenizer: Option<PathBuf>,
    /// Do not send vLLM's ignore_eos/min_tokens (for servers that refuse unknown fields).
    #[arg(long)]
    pub no_force_output: bool,
    /// Renamed --served-model.
    #[arg(long = "model", value_name = "NAME", hide = true)]
    pub legacy_model: Option<String>,
}

/// What is read beside the requests (`jauge run`, `limit`, `study`).
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Local GPUs to read with NVML, by index (e.g. 0,1). Default: all.
    #[arg(long, value_delimiter = ',', value_name = "INDICES")]
    pub nvml_gpus: Option<Vec<u32>>,
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
}

/// Where the dataset goes (`jauge run`, `limit`).
#[derive(Debug, Clone, Args)]
pub struct OutArgs {
    /// The dataset to write. Default: jauge-run-TIMESTAMP.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the dataset at --out after its last complete step (same settings only).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// No progress bars or step lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `jauge run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The deployment (simulated by the built-in server, described for a real one).
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// The server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Telemetry.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// The built-in server.
    #[command(flatten)]
    pub simulation: SimulationArgs,
    /// The dataset.
    #[command(flatten)]
    pub output: OutArgs,
    /// People instead of requests.
    #[command(flatten)]
    pub population: PopulationArgs,
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
    /// Open loop: send this many requests per second (concurrency then caps those in flight).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open-loop gaps: poisson, gamma (burstier) or constant.
    #[arg(long, value_enum, default_value_t = ArrivalArg::Poisson, requires = "rate")]
    pub arrival: ArrivalArg,
    /// Tokens every prompt shares at its start (to measure prefix caching on purpose).
    #[arg(long, default_value_t = 0)]
    pub shared_prefix_tokens: u32,
    /// Seed of prompts and arrivals.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
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
    /// A row stops when the server starts preempting requests (its KV cache is full).
    #[arg(long)]
    pub stop_on_preemption: bool,
    /// A row stops when the server's queue of waiting requests keeps growing through a step.
    #[arg(long)]
    pub stop_on_queue: bool,
    /// Which first token --slo-ttft-ms (and a workload's TTFT objective) times: the first
    /// generated (a reasoning model's first reasoning token), or the answer's first, after the
    /// reasoning (the same for a model that does not reason).
    #[arg(long, value_enum, default_value_t = TtftOfArg::FirstToken)]
    pub ttft_of: TtftOfArg,
    /// Replay a trace instead of a grid (jauge run only): each request sent at its time with
    /// its input and output lengths, prompts that share blocks in the trace sharing their
    /// text. Mooncake's JSON lines (timestamp, input_length, output_length, hash_ids), Azure's
    /// LLM inference CSV (TIMESTAMP, ContextTokens, GeneratedTokens) or jauge's JSON lines
    /// (at_s, input_tokens, output_tokens, blocks, block_tokens, session). With the built-in
    /// server, --time-scale replays it that much faster (the times recorded are multiplied
    /// back).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["workload", "rate", "requests_per_step", "duration_per_step"])]
    pub trace: Option<std::path::PathBuf>,
    /// The trace's format, when its first line does not tell.
    #[arg(long, value_name = "FORMAT", requires = "trace")]
    pub trace_format: Option<String>,
    /// Replay only the trace's first N requests.
    #[arg(long, value_name = "N", requires = "trace")]
    pub trace_requests: Option<usize>,
    /// Run one share of every step, as shard I of N (I from 0): with N load generators
    /// measuring one server together (`srun --ntasks N jauge run --shard
    /// $SLURM_PROCID/$SLURM_NTASKS …`), each sends C/N of a step's users (R/N of its rate,
    /// N/N of its requests) with prompts of its own, every step starting when all have reached
    /// it (they meet in --shard-sync), and every step of the grid run (the merged steps are
    /// judged, not the shares). `jauge merge` makes their datasets one.
    #[arg(long, value_name = "I/N", conflicts_with_all = ["trace", "workload", "resume"])]
    pub shard: Option<String>,
    /// With --shard: the folder the shards meet in before each step, the same for all of them
    /// (a shared file system across nodes) and new for each run. Default: the --out file's
    /// folder, in .jauge-shards.
    #[arg(long, value_name = "DIR", requires = "shard")]
    pub shard_sync: Option<std::path::PathBuf>,
}

/// `--ttft-of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TtftOfArg {
    /// The first generated token, reasoning or answer.
    FirstToken,
    /// The answer's first token.
    Answer,
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
    /// by --catalog-model, --gpu, --gpus and --quant (hardware you do not have).
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
    /// Closed loop: simultaneous users, increasing; each sends its next request when the last
    /// one ends (vLLM bench serve's --max-concurrency). With --rate: the most requests in
    /// flight (default: no cap). Default without --rate: 1,2,4,…,256.
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Option<Vec<u32>>,
    /// Open loop: requests per second, increasing (e.g. 1,2,4,8); `inf` sends every request
    /// at once (offline, as vLLM bench serve's --request-rate inf).
    #[arg(long, value_delimiter = ',', value_name = "RPS")]
    pub rate: Option<Vec<f64>>,
    /// Open-loop gaps: poisson, gamma (burstier, shape 0.5) or constant.
    #[arg(long, value_enum, default_value_t = ArrivalArg::Poisson, requires = "rate")]
    pub arrival: ArrivalArg,
    /// Requests each step sends. Default: 4 per user and at least 32 in a closed loop; 1000
    /// (vLLM bench serve's --num-prompts) at a rate or all at once.
    #[arg(long, visible_alias = "requests-per-step")]
    pub requests: Option<u32>,
    /// Prompt sizes in tokens, increasing.
    #[arg(long, value_delimiter = ',', default_value = "128,1024,4096")]
    pub prompt_tokens: Vec<u32>,
    /// Output tokens per request.
    #[arg(long, default_value_t = 256)]
    pub output_tokens: u32,
    /// Objective on TTFT p95, ms.
    #[arg(long)]
    pub slo_ttft_ms: Option<f64>,
    /// Objective on TPOT p95, ms.
    #[arg(long)]
    pub slo_tpot_ms: Option<f64>,
    /// Write the simulated dataset here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the dataset as JSON instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Seed (arrivals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Use the factors of this calibration file (jauge calibrate --out) instead of the ones
    /// jauge ships.
    #[arg(long, value_name = "FILE", conflicts_with = "uncalibrated")]
    pub calibration: Option<PathBuf>,
    /// Use the cited default factors instead of the shipped calibration (to see what
    /// calibration changes).
    #[arg(long)]
    pub uncalibrated: bool,
    /// Run every step eagerly, without CUDA graphs (vLLM's --enforce-eager).
    #[arg(long)]
    pub enforce_eager: bool,
    /// Prefill whole prompts first and pause decodes meanwhile (vLLM V0 without chunked
    /// prefill) instead of chunking prompts beside running decodes.
    #[arg(long)]
    pub no_chunked_prefill: bool,
    /// Renamed --catalog-model.
    #[arg(long = "model", value_name = "ID", hide = true)]
    pub legacy_model: Option<String>,
}

/// `jauge calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Real datasets (published, imported or measured), or folders of them. None: print the
    /// report of the calibration jauge ships.
    pub files: Vec<PathBuf>,
    /// Write the calibration here: a file, or a folder that receives calibration.json and
    /// calibration-checks.json (`--out shared/data` regenerates the shipped one).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the leave-one-source-out error table (by figure, GPU and weight format).
    #[arg(long)]
    pub report: bool,
    /// Also print every held-out point.
    #[arg(long, requires = "report")]
    pub points: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `jauge study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// The deployment (default for the built-in server and --predict: mistral-7b-v0.1 on one
    /// a100-40gb, max_model_len 8192).
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// The server.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Telemetry.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Built-in server only: simulated seconds per real second (latencies shrink by as much;
    /// for demos and tests).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Objective on TTFT p95, ms (a chat user's default: 2 s).
    #[arg(long, default_value_t = 2000.0)]
    pub slo_ttft_ms: f64,
    /// Objective on TPOT p95, ms (a chat user's default: 100 ms, 10 tokens a second).
    #[arg(long, default_value_t = 100.0)]
    pub slo_tpot_ms: f64,
    /// A step fails the objectives when more than this share of its requests fail.
    #[arg(long, default_value_t = 0.05)]
    pub max_error_rate: f64,
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
    /// No progress bars or step lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Renamed --endpoint chat.
    #[arg(long, hide = true)]
    pub chat: bool,
}
