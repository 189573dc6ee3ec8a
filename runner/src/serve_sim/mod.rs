//! `jauge serve-sim`: an OpenAI-compatible server whose timing comes from jauge's sizing and
//! step-timing models, for demos, tests, and `jauge run` without `--url`.
//!
//! It speaks what `jauge run` needs from vLLM: `/v1/models` (with `max_model_len`),
//! `/v1/completions` and `/v1/chat/completions` (streamed or not, `stream_options`,
//! `ignore_eos`), `/tokenize`, `/metrics` with vLLM's metric names, `/health`, `/version`.
//! Its tokenizer is its own: one token per whitespace-separated word (token ids are hashes of
//! the words), and a chat prompt adds 4 tokens per message and 2 for the assistant's turn. It
//! caches prompt blocks by their tokens, as vLLM's prefix caching does: a chat's next turn, which
//! resends the history and the answer it wrote, computes only what is new.
//! Everything it produces is a simulation, and `jauge run` labels it so.

mod engine;
pub mod faults;
mod http;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use jauge::catalogue::Catalogue;
use jauge::deployment::{engine_settings, DeploymentSpec};
use jauge::sizing::size;
use tokio::sync::{watch, Mutex, Semaphore};

pub use engine::{Engine, EngineEvent, EngineMetrics};
use faults::{Fault, FaultPlan};

use crate::exit::bad_input;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The deployment simulated.
    pub deployment: DeploymentSpec,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// The server stops answering (connections cut, port closed) when this request arrives.
    pub die_after: Option<u64>,
    /// Seed of the fault draws and generated words.
    pub seed: u64,
    /// Leave `max_model_len` out of `/v1/models` and `/tokenize`, as servers other than vLLM
    /// do (the limit still applies).
    pub hide_max_model_len: bool,
    /// The largest request body it reads (413 beyond).
    pub max_request_bytes: u64,
    /// The first tokens of every answer that are reasoning (a reasoning model's).
    pub reasoning_tokens: u32,
    /// Blocks of prompts (and answers) are cached and reused by later prompts that start with
    /// the same tokens (vLLM's automatic prefix caching, on by default since V1).
    pub prefix_cache: bool,
}

/// The largest request body serve-sim reads by default: a prompt of a few million tokens.
pub const MAX_REQUEST_BYTES: u64 = 32 << 20;

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            deployment: DeploymentSpec::new(crate::plan::BUILT_IN_MODEL, crate::plan::BUILT_IN_GPU),
            time_scale: 1.0,
            faults: Vec::new(),
            die_after: None,
            seed: 0,
            hide_max_model_len: false,
            max_request_bytes: MAX_REQUEST_BYTES,
            reasoning_tokens: 0,
            prefix_cache: true,
        }
    }
}

/// What the server knows while it serves.
pub(crate) struct Shared {
    pub engine: Engine,
    pub served_name: String,
    pub max_model_len: u32,
    pub advertise_max_model_len: bool,
    pub faults: Mutex<FaultPlan>,
    pub requests: AtomicU64,
    pub die_after: Option<u64>,
    pub kill: watch::Sender<bool>,
    pub max_request_bytes: u64,
    pub reasoning_tokens: u32,
    pub prefix_cache: bool,
    /// KiB of request bodies being read at once (see `http::BODIES_IN_FLIGHT_BYTES`).
    pub body_budget: Arc<Semaphore>,
}

/// A simulated server running on this process's tokio runtime.
pub struct SimServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The name it serves the model under.
    pub served_name: String,
    /// Its context limit, tokens.
    pub max_model_len: u32,
    /// A description for datasets and logs.
    pub description: String,
    /// The weight format simulated (the checkpoint's dtype resolved as vLLM's `--dtype auto`).
    pub quant: String,
    /// The engine settings simulated.
    pub settings: jauge::dataset::EngineSettings,
    shared: Arc<Shared>,
}

impl SimServer {
    /// Sizes the deployment, starts the engine and listens on `127.0.0.1:port` (0: any free).
    ///
    /// # Errors
    /// Bad input (unknown ids, a deployment that does not fit) or a port that cannot be bound.
    pub async fn start(options: &SimOptions, port: u16) -> anyhow::Result<SimServer> {
        let cat = Catalogue::builtin();
        let deployment = &options.deployment;
        let request = deployment
            .request(cat)
            .map_err(|e| bad_input(e.to_string()))?;
        let (model, gpu) = (request.model, request.gpu);
        if options.max_request_bytes < 1024 {
            return Err(bad_input(
                "--max-request-bytes: at least 1KiB, or no request gets through",
            ));
        }
        if !(options.time_scale > 0.0 && options.time_scale.is_finite()) {
            return Err(bad_input(format!(
                "--time-scale: {} must be above 0",
                options.time_scale
            )));
        }
        let sizing = size(&request).map_err(|e| bad_input(e.to_string()))?;
        if !sizing.fits {
            let hint = sizing
                .advice
                .first()
                .map(|a| format!("; try {}", a.flag))
                .unwrap_or_default();
            return Err(bad_input(format!(
                "the simulated deployment does not fit: {} on {} × {} ({}) is {:.2} GiB per GPU short{hint}",
                model.id, request.gpu_count, gpu.id, sizing.quant, sizing.shortfall_gib_per_gpu
            )));
        }
        let config = jauge::sim::engine_for(&request).map_err(|e| bad_input(e.to_string()))?;
        let engine = Engine::start(config, options.time_scale);
        let (kill, _) = watch::channel(false);
        let served_name = model
            .hf_repos
            .first()
            .cloned()
            .unwrap_or_else(|| model.id.clone());
        let shared = Arc::new(Shared {
            engine,
            served_name: served_name.clone(),
            max_model_len: sizing.max_model_len,
            advertise_max_model_len: !options.hide_max_model_len,
            faults: Mutex::new(FaultPlan::new(options.faults.clone(), options.seed)),
            requests: AtomicU64::new(0),
            die_after: options.die_after,
            kill,
            max_request_bytes: options.max_request_bytes,
            reasoning_tokens: options.reasoning_tokens,
            prefix_cache: options.prefix_cache,
            body_budget: Arc::new(Semaphore::new(
                (http::BODIES_IN_FLIGHT_BYTES.max(options.max_request_bytes) >> 10)
                    .min(Semaphore::MAX_PERMITS as u64) as usize,
            )),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("serve-sim: cannot listen on 127.0.0.1:{port}"))?;
        let addr = listener.local_addr()?;
        tokio::spawn(http::serve(listener, shared.clone()));
        Ok(SimServer {
            addr,
            served_name,
            max_model_len: sizing.max_model_len,
            quant: sizing.quant.clone(),
            settings: engine_settings(&request, &sizing),
            description: format!(
                "jauge-sim: {} on {} × {} ({}), {} KV-cache tokens, time scale {}",
                model.id,
                request.gpu_count,
                gpu.id,
                sizing.quant,
                sizing.kv_cache_tokens,
                options.time_scale
            ),
            shared,
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stops listening and cuts every connection.
    pub fn stop(&self) {
        let _ = self.shared.kill.send(true);
    }
}

/// Runs `jauge serve-sim` until Ctrl-C.
pub async fn run(args: &crate::cli::ServeSimArgs) -> anyhow::Result<std::process::ExitCode> {
    let legacy = args.legacy_model.as_ref();
    if legacy.is_some() {
        crate::plan::warn_renamed("--model", "--catalog-model");
    }
    let mut deployment = args
        .deployment
        .spec_or(crate::plan::BUILT_IN_MODEL, crate::plan::BUILT_IN_GPU);
    if let (None, Some(model)) = (&args.deployment.catalog_model, legacy) {
        deployment.model = model.clone();
    }
    let options = SimOptions {
        deployment,
        time_scale: args.simulation.time_scale,
        faults: args.simulation.fault.clone(),
        die_after: args.simulation.die_after,
        seed: args.seed,
        hide_max_model_len: args.hide_max_model_len,
        max_request_bytes: args.max_request_bytes,
        reasoning_tokens: args.simulation.reasoning_tokens,
        prefix_cache: !args.simulation.no_prefix_cache,
    };
    let server = SimServer::start(&options, args.port).await?;
    eprintln!("{}", server.description);
    eprintln!(
        "serving {} at {} (Ctrl-C to stop)",
        server.served_name,
        server.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    server.stop();
    eprintln!("stopped after {} requests", server.requests());
    Ok(std::process::ExitCode::from(130))
}
