//! The sizing model: does a model fit on these GPUs, how many KV-cache tokens are left, and how
//! many requests of a given context can run at once — computed the way vLLM computes it.
//!
//! Per GPU, vLLM's budget is `total memory × gpu_memory_utilization` (total, never free). From
//! it come the weights, the activation peak of a profiling pass, memory outside PyTorch
//! (NCCL, cuBLAS), and from 0.20 an estimate of CUDA graphs; the rest is cut into blocks of
//! `block_size` tokens. Each term is a function in `terms.rs` with its formula; the release
//! rules are in `vllm.rs`; shared/reference/vllm-memory.md cites vLLM's code for each.
//!
//! ```
//! use jauge::catalogue::Catalogue;
//! use jauge::sizing::{size, SizingRequest};
//!
//! let cat = Catalogue::builtin();
//! let mut request = SizingRequest::new(cat.model("llama-3-70b")?, cat.gpu("a100-40gb")?);
//! let sizing = size(&request)?;
//! assert!(!sizing.fits); // 131 GiB of BF16 weights on one 40 GB card
//! assert!(sizing.advice.iter().any(|a| a.flag == "--gpus 4"));
//!
//! request.quant = Some(cat.quant("awq")?);
//! request.gpu_count = 2;
//! assert!(size(&request)?.fits);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod advice;
pub mod allocator;
pub mod dummy_run;
pub mod engines;
pub mod llamacpp;
pub mod sglang;
mod terms;
pub mod trtllm;
mod vllm;

use serde::Serialize;

pub use advice::Advice;
pub use vllm::{MemoryRule, VllmVersion, RULES};

use crate::catalogue::{Catalogue, GpuSpec, ModelSpec, QuantSpec};
use crate::error::SizingError;
use crate::units::{Bytes, Gib};
use vllm::{Accounting, Profile};

/// The KV cache's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KvCacheDtype {
    /// The model's compute type (FP16 or BF16): 2 bytes.
    #[default]
    Auto,
    /// FP16, 2 bytes.
    Fp16,
    /// BF16, 2 bytes (not on V100).
    Bf16,
    /// FP8 (e4m3 or e5m2), 1 byte.
    Fp8,
}

impl KvCacheDtype {
    /// The names a user chooses among, as `--kv-cache-dtype` and the site take them.
    ///
    /// ```
    /// use jauge::sizing::KvCacheDtype;
    /// for name in KvCacheDtype::NAMES {
    ///     assert_eq!(name.parse::<KvCacheDtype>().unwrap().name(), name);
    /// }
    /// ```
    pub const NAMES: [&'static str; 4] = ["auto", "fp16", "bf16", "fp8"];

    /// Bytes per element.
    ///
    /// ```
    /// use jauge::sizing::KvCacheDtype;
    /// assert_eq!(KvCacheDtype::Fp8.bytes(), 1);
    /// assert_eq!(KvCacheDtype::Auto.bytes(), 2);
    /// ```
    pub fn bytes(self) -> u64 {
        match self {
            KvCacheDtype::Fp8 => 1,
            _ => 2,
        }
    }

    /// The name vLLM's `--kv-cache-dtype` uses.
    ///
    /// ```
    /// assert_eq!(jauge::sizing::KvCacheDtype::Fp8.name(), "fp8");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            KvCacheDtype::Auto => "auto",
            KvCacheDtype::Fp16 => "fp16",
            KvCacheDtype::Bf16 => "bf16",
            KvCacheDtype::Fp8 => "fp8",
        }
    }
}

impl std::str::FromStr for KvCacheDtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(KvCacheDtype::Auto),
            "fp16" | "float16" | "half" => Ok(KvCacheDtype::Fp16),
            "bf16" | "bfloat16" => Ok(KvCacheDtype::Bf16),
            "fp8" | "fp8_e4m3" | "fp8_e5m2" => Ok(KvCacheDtype::Fp8),
            _ => Err(format!("`{s}` is not one of auto, fp16, bf16, fp8")),
        }
    }
}

/// What to size: a model on `gpu_count` GPUs of one kind, with vLLM's settings.
#[derive(Debug, Clone)]
pub struct SizingRequest<'a> {
    /// The model.
    pub model: &'a ModelSpec,
    /// The GPU kind.
    pub gpu: &'a GpuSpec,
    /// GPUs, all used for tensor parallelism.
    pub gpu_count: u32,
    /// The weights' format; `None` is the checkpoint's dtype (BF16, or FP16 where the GPU has
    /// no BF16, as vLLM's `--dtype auto` does).
    pub quant: Option<&'a QuantSpec>,
    /// The KV cache's type.
    pub kv_cache_dtype: KvCacheDtype,
    /// The server's `--max-model-len`; `None` is the model's maximum.
    pub max_model_len: Option<u32>,
    /// Tokens per request for the concurrency figure; `None` is `max_model_len`.
    pub context_tokens: Option<u32>,
    /// Share of each GPU's memory vLLM may use.
    pub gpu_memory_utilization: f64,
    /// Tokens per KV block.
    pub block_size: u32,
    /// `--max-num-seqs`; `None` is the release's default for this GPU.
    pub max_num_seqs: Option<u32>,
    /// `--max-num-batched-tokens`; `None` is the release's default for this GPU.
    pub max_num_batched_tokens: Option<u32>,
    /// Which vLLM release's rules to apply.
    pub vllm_version: VllmVersion,
    /// Each GPU's total memory as CUDA reports it, GiB; `None` is the catalogue's figure
    /// for the GPU kind (a card driving a display, or a cloud variant, reports less).
    pub total_memory_gib: Option<f64>,
}

impl<'a> SizingRequest<'a> {
    /// One GPU, the checkpoint's dtype, and vLLM's defaults.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// assert_eq!((r.gpu_count, r.gpu_memory_utilization, r.block_size), (1, 0.9, 16));
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn new(model: &'a ModelSpec, gpu: &'a GpuSpec) -> Self {
        SizingRequest {
            model,
            gpu,
            gpu_count: 1,
            quant: None,
            kv_cache_dtype: KvCacheDtype::Auto,
            max_model_len: None,
            context_tokens: None,
            gpu_memory_utilization: 0.9,
            block_size: 16,
            max_num_seqs: None,
            max_num_batched_tokens: None,
            vllm_version: VllmVersion::DEFAULT,
            total_memory_gib: None,
        }
    }
}

/// The answer: memory per GPU, KV-cache capacity, concurrency, and what to change when it does
/// not fit. Field names are those of `jauge size --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sizing {
    /// The engine whose rules were applied: `vllm` (other engines: [`engines::EngineSizing`],
    /// with the same field names).
    pub engine: &'static str,
    /// Its release, as `vllm_version`.
    pub engine_version: String,
    /// Whether vLLM would start and serve one request of `max_model_len` tokens.
    pub fits: bool,
    /// The model's id.
    pub model: String,
    /// The GPU's id.
    pub gpu: String,
    /// GPUs (= tensor parallel size).
    pub gpus: u32,
    /// The weights' format that was sized.
    pub quant: String,
    /// The KV cache's type that was sized (`auto` resolved to `fp16` or `bf16`).
    pub kv_cache_dtype: String,
    /// The vLLM release whose rules were applied.
    pub vllm_version: String,
    /// The server's maximum sequence length, tokens.
    pub max_model_len: u32,
    /// Tokens per request for `max_concurrency`.
    pub context_tokens: u32,
    /// `max_num_seqs` used in the profiling pass.
    pub max_num_seqs: u32,
    /// `max_num_batched_tokens` used in the profiling pass.
    pub max_num_batched_tokens: u32,
    /// Tokens per KV block.
    pub block_size: u32,
    /// All parameters of the model.
    pub params_total: u64,
    /// Weights on each GPU, GiB (what vLLM logs as "Model loading took").
    pub weights_gib_per_gpu: f64,
    /// KV-cache bytes of one token for the whole model (all layers, all KV heads).
    pub kv_bytes_per_token: u64,
    /// KV-cache bytes of one token on one GPU.
    pub kv_bytes_per_token_per_gpu: u64,
    /// KV-cache blocks (the minimum over GPUs; vLLM's "# GPU blocks").
    pub kv_cache_blocks: u64,
    /// KV-cache capacity of the deployment in tokens (vLLM's "GPU KV cache size").
    pub kv_cache_tokens: u64,
    /// KV-cache bytes on each GPU (whole blocks).
    pub kv_cache_bytes: u64,
    /// Blocks one request of `context_tokens` needs.
    pub kv_blocks_per_request: f64,
    /// Requests of `context_tokens` that fit in the KV cache at once (vLLM's "Maximum
    /// concurrency for N tokens per request"); 0 when it does not fit.
    pub max_concurrency: f64,
    /// The longest `max_model_len` this memory serves (vLLM's "estimated maximum model
    /// length"); 0 when even one block is missing.
    pub max_model_len_that_fits: u32,
    /// Each GPU's memory, term by term.
    pub memory_gib_per_gpu: MemoryBreakdown,
    /// When it does not fit: GiB per GPU missing for one request of `max_model_len`.
    pub shortfall_gib_per_gpu: f64,
    /// What would make it fit (or serve more), best first.
    pub advice: Vec<Advice>,
    /// Remarks on assumptions (dtype casts, estimates).
    pub notes: Vec<String>,
    /// The release's memory rules that were applied, each with its vLLM file and line
    /// ([`RULES`]).
    pub rules: Vec<String>,
}

/// One GPU's memory, GiB, term by term.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryBreakdown {
    /// What CUDA reports as the device's total.
    pub total: f64,
    /// `total × gpu_memory_utilization`: what vLLM allows itself.
    pub budget: f64,
    /// Model weights and buffers.
    pub weights: f64,
    /// Peak of the profiling pass (prefill or sampler).
    pub activation_peak: f64,
    /// Memory outside PyTorch's allocator (NCCL, cuBLAS, CUDA context where counted).
    pub non_torch: f64,
    /// CUDA graphs (an estimate; inside the budget from vLLM 0.20, in the headroom before).
    pub cuda_graphs: f64,
    /// What is left for the KV cache (negative when the rest already exceeds the budget).
    pub kv_cache: f64,
    /// `total − budget`: headroom vLLM leaves alone.
    pub headroom: f64,
}

/// Sizes a deployment.
///
/// # Errors
///
/// * [`SizingError::NoGpus`], [`SizingError::Utilization`], [`SizingError::BlockSize`],
///   [`SizingError::Zero`] for unusable settings;
/// * [`SizingError::ContextTooLong`] for a `max_model_len` or context beyond the model's
///   maximum, [`SizingError::ContextAboveMaxModelLen`] for a context above `max_model_len`;
/// * [`SizingError::TensorParallel`] when the GPU count does not divide the attention heads;
/// * [`SizingError::Unsupported`] when vLLM cannot run the format (or KV type) on this GPU,
///   with the nearest combinations that work.
///
/// A deployment that is valid but too large is not an error: `fits` is false and `advice`
/// says what would fit.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::{size, SizingRequest};
/// let cat = Catalogue::builtin();
/// let mut r = SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("v100-16gb")?);
/// r.quant = Some(cat.quant("awq")?);
/// let err = size(&r).unwrap_err().to_string();
/// assert!(err.contains("7.5") && err.contains("gptq-4bit"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn size(request: &SizingRequest<'_>) -> Result<Sizing, SizingError> {
    let mut sizing = size_without_advice(request)?;
    sizing.advice = advice::advise(request, &sizing);
    Ok(sizing)
}

/// The sizing itself; advice calls it again with changed inputs.
fn size_without_advice(request: &SizingRequest<'_>) -> Result<Sizing, SizingError> {
    let r = request;
    let model = r.model;
    model.check().map_err(|message| SizingError::Model {
        model: model.id.clone(),
        message,
    })?;
    check_settings(r)?;
    let tp = u64::from(r.gpu_count);
    let mut notes = Vec::new();
    let quant = resolve_quant(r, &mut notes)?;
    let kv_dtype = resolve_kv_dtype(r, quant)?;
    let profile = Profile::of(r.vllm_version);

    let max_model_len = r.max_model_len.unwrap_or(model.max_position_embeddings);
    let context_tokens = r.context_tokens.unwrap_or(max_model_len);
    let (default_tokens, default_seqs) = profile.default_batch(
        r.vllm_version,
        r.gpu,
        max_model_len,
        model.sliding_window.is_some(),
    );
    let max_num_batched_tokens = r.max_num_batched_tokens.unwrap_or(default_tokens);
    let max_num_seqs = r.max_num_seqs.unwrap_or(default_seqs);
    // vLLM's profiling pass spreads the tokens over at most as many sequences as tokens.
    let profile_seqs = max_num_seqs.min(max_num_batched_tokens);

    let total = r.total_memory_gib.map_or(r.gpu.memory(), Gib);
    let budget = Gib(total.0 * r.gpu_memory_utilization);
    let weights = terms::weights_per_gpu(model, quant, tp).gib();
    let (activation, non_torch) = match profile.accounting {
        Accounting::LivePeak => (
            terms::activation_peak(
                model,
                &profile,
                tp,
                u64::from(max_num_batched_tokens),
                u64::from(profile_seqs),
            )?
            .gib(),
            terms::non_torch(&profile, tp),
        ),
        older => {
            // Before 0.6.4 what counted is what the caching allocator did with the run's
            // tensors: replay them.
            let run = dummy_run::replay(
                model,
                tp,
                u64::from(max_num_batched_tokens),
                u64::from(profile_seqs),
            );
            let (counted, outside) = match older {
                Accounting::TorchPeak => (run.peak_live, Gib(0.0)),
                _ => (run.reserved, terms::non_torch(&profile, tp)),
            };
            if older != Accounting::TorchPeak {
                notes.push(format!(
                    "vLLM {} counted what PyTorch's caching allocator kept reserved after its \
                     profiling run, {:.2} GiB for a live peak of {:.2} GiB (the run replayed \
                     through a model of the allocator)",
                    r.vllm_version,
                    Bytes(run.reserved).gib().0,
                    Bytes(run.peak_live).gib().0
                ));
            }
            (Bytes(counted).gib(), outside)
        }
    };
    let graphs = if profile.cuda_graphs {
        terms::CUDA_GRAPHS_ESTIMATE
    } else {
        Gib(0.0)
    };
    let in_budget_graphs = if profile.cuda_graphs_in_budget {
        graphs
    } else {
        Gib(0.0)
    };
    let kv_memory = budget - weights - activation - non_torch - in_budget_graphs;

    let kv_per_token_gpu = terms::kv_bytes_per_token_per_gpu(model, tp, kv_dtype.bytes());
    let page_bytes = kv_per_token_gpu * u64::from(r.block_size);
    let blocks = kv_memory.bytes_floor().0 / page_bytes;
    let block_size = u64::from(r.block_size);

    let per_request =
        |tokens: u32| blocks_per_request(model, tokens, max_num_batched_tokens, block_size);
    let needed_for_max_len = per_request(max_model_len);
    let fits = blocks > 0 && blocks as f64 >= needed_for_max_len.ceil();
    let kv_blocks_per_request = per_request(context_tokens);
    let max_concurrency = if fits {
        blocks as f64 / kv_blocks_per_request
    } else {
        0.0
    };
    let max_model_len_that_fits =
        longest_len_that_fits(blocks, model.max_position_embeddings, &per_request);
    let shortfall = if fits {
        0.0
    } else {
        // In floating point: blocks × bytes per block can pass 2^64 for absurd lengths.
        let needed = Gib(needed_for_max_len.ceil() * page_bytes as f64 / (1u64 << 30) as f64);
        needed.0 - kv_memory.0
    };
    if profile.cuda_graphs && !profile.cuda_graphs_in_budget {
        notes.push(format!(
            "CUDA graphs (~{:.1} GiB, an estimate) come out of the {:.2} GiB headroom in vLLM {}; \
             lower gpu_memory_utilization if the server runs out of memory at start-up",
            graphs.0,
            total.0 - budget.0,
            r.vllm_version
        ));
    }
    if r.gpu.may_drive_display && r.total_memory_gib.is_none() {
        notes.push(format!(
            "a {} that also drives a desktop holds its memory too (Xorg and gnome-shell took about \
             0.4 GiB of an RTX 4090 in github.com/RLinf/RLinf/issues/964): that memory is not free \
             for the engine, so lower gpu_memory_utilization by its share, or pass \
             --total-memory-gib with what is left",
            r.gpu.name
        ));
    }
    if model.sliding_window.is_some() {
        notes.push(format!(
            "{} layers of {} attend over a {}-token window: a request holds at most about window − 1 + \
             max_num_batched_tokens tokens of KV cache in them",
            model.sliding_layers(),
            model.num_hidden_layers,
            model.sliding_window.unwrap_or(0)
        ));
    }

    Ok(Sizing {
        engine: "vllm",
        engine_version: r.vllm_version.to_string(),
        fits,
        model: model.id.clone(),
        gpu: r.gpu.id.clone(),
        gpus: r.gpu_count,
        quant: quant.id.clone(),
        kv_cache_dtype: match kv_dtype {
            KvCacheDtype::Auto if quant.id == "bf16" => "bf16".to_string(),
            KvCacheDtype::Auto => "fp16".to_string(),
            other => other.name().to_string(),
        },
        vllm_version: r.vllm_version.to_string(),
        max_model_len,
        context_tokens,
        max_num_seqs,
        max_num_batched_tokens,
        block_size: r.block_size,
        params_total: model.param_counts().total,
        weights_gib_per_gpu: weights.0,
        kv_bytes_per_token: model.num_hidden_layers
            * model.num_key_value_heads
            * model.head_dim
            * 2
            * kv_dtype.bytes(),
        kv_bytes_per_token_per_gpu: kv_per_token_gpu,
        kv_cache_blocks: blocks,
        kv_cache_tokens: blocks * block_size,
        kv_cache_bytes: blocks * page_bytes,
        kv_blocks_per_request,
        max_concurrency,
        max_model_len_that_fits,
        memory_gib_per_gpu: MemoryBreakdown {
            total: total.0,
            budget: budget.0,
            weights: weights.0,
            activation_peak: activation.0,
            non_torch: non_torch.0,
            cuda_graphs: graphs.0,
            kv_cache: kv_memory.0,
            headroom: total.0 - budget.0,
        },
        shortfall_gib_per_gpu: shortfall,
        advice: Vec::new(),
        notes,
        rules: RULES
            .iter()
            .filter(|rule| rule.covers(r.vllm_version))
            .filter(|rule| rule.format.is_none_or(|kind| kind == quant.kind))
            .map(|rule| format!("{} ({})", rule.rule, rule.source))
            .collect(),
    })
}

/// Blocks one request of `tokens` holds. Full-attention layers keep every token; a
/// sliding-window layer keeps at most `window − 1 + max_num_batched_tokens` tokens plus one
/// block (vLLM `kv_cache_utils.py`). With both kinds of layer (Gemma 2), the per-layer average.
fn blocks_per_request(model: &ModelSpec, tokens: u32, batched_tokens: u32, block_size: u64) -> f64 {
    let tokens = u64::from(tokens);
    let full = tokens.div_ceil(block_size);
    let Some(window) = model.sliding_window else {
        return full as f64;
    };
    let held = (u64::from(window) - 1 + u64::from(batched_tokens)).min(tokens);
    let sliding = held.div_ceil(block_size) + 1;
    let sliding_layers = model.sliding_layers();
    let full_layers = model.num_hidden_layers - sliding_layers;
    (full_layers * full + sliding_layers * sliding) as f64 / model.num_hidden_layers as f64
}

/// The longest length whose request fits in `blocks`, up to the model's maximum.
fn longest_len_that_fits(blocks: u64, model_max: u32, per_request: &dyn Fn(u32) -> f64) -> u32 {
    if blocks == 0 || per_request(1) > blocks as f64 {
        return 0;
    }
    let (mut lo, mut hi) = (1u32, model_max);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if per_request(mid).ceil() <= blocks as f64 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

fn check_settings(r: &SizingRequest<'_>) -> Result<(), SizingError> {
    if r.gpu_count == 0 {
        return Err(SizingError::NoGpus);
    }
    if !(r.gpu_memory_utilization > 0.0 && r.gpu_memory_utilization <= 1.0) {
        return Err(SizingError::Utilization {
            value: r.gpu_memory_utilization,
        });
    }
    if let Some(value) = r.total_memory_gib {
        if !(value > 0.0 && value <= 1024.0) {
            return Err(SizingError::TotalMemory { value });
        }
    }
    if ![8, 16, 32, 64, 128].contains(&r.block_size) {
        return Err(SizingError::BlockSize {
            value: r.block_size,
        });
    }
    for (what, value) in [
        ("--max-num-seqs", r.max_num_seqs),
        ("--max-num-batched-tokens", r.max_num_batched_tokens),
        ("--max-model-len", r.max_model_len),
        ("--context", r.context_tokens),
    ] {
        if value == Some(0) {
            return Err(SizingError::Zero { what });
        }
    }
    let model = r.model;
    let model_max = model.max_position_embeddings;
    for (what, value) in [
        ("--max-model-len", r.max_model_len),
        ("--context", r.context_tokens),
    ] {
        if let Some(tokens) = value.filter(|t| *t > model_max) {
            return Err(SizingError::ContextTooLong {
                what,
                tokens,
                model: model.id.clone(),
                max_tokens: model_max,
            });
        }
    }
    if let (Some(context), Some(max_model_len)) = (r.context_tokens, r.max_model_len) {
        if context > max_model_len {
            return Err(SizingError::ContextAboveMaxModelLen {
                context,
                max_model_len,
            });
        }
    }
    let valid: Vec<u32> = [1, 2, 4, 8, 16]
        .into_iter()
        .filter(|n| valid_tp(model, *n))
        .collect();
    if !valid_tp(model, r.gpu_count) {
        return Err(SizingError::TensorParallel {
            gpus: r.gpu_count,
            model: model.id.clone(),
            heads: model.num_attention_heads as u32,
            valid,
        });
    }
    Ok(())
}

/// vLLM needs the attention heads split evenly, and the KV heads either split evenly or each
/// replicated on a whole number of GPUs.
pub(crate) fn valid_tp(model: &ModelSpec, gpus: u32) -> bool {
    let tp = u64::from(gpus);
    tp > 0
        && model.num_attention_heads % tp == 0
        && (model.num_key_value_heads % tp == 0 || tp % model.num_key_value_heads == 0)
}

fn resolve_quant<'a>(
    r: &SizingRequest<'a>,
    notes: &mut Vec<String>,
) -> Result<&'a QuantSpec, SizingError> {
    let cat = Catalogue::builtin();
    let quant = match r.quant {
        Some(q) => q,
        None => {
            let wants_bf16 =
                r.model.torch_dtype.contains("bfloat16") || r.model.torch_dtype == "bf16";
            let id = if wants_bf16 && r.gpu.has_bf16() {
                "bf16"
            } else {
                "fp16"
            };
            if wants_bf16 && !r.gpu.has_bf16() {
                notes.push(format!(
                    "{} has no BF16: vLLM's --dtype auto casts the bfloat16 checkpoint to float16 (same size)",
                    r.gpu.id
                ));
            }
            cat.quant(id).expect("fp16 and bf16 are in the catalogue")
        }
    };
    match vllm::quant_unsupported(quant, r.gpu, r.vllm_version) {
        None => Ok(quant),
        Some(reason) => Err(SizingError::Unsupported {
            reason,
            nearest: advice::nearest_supported(quant, r.gpu),
        }),
    }
}

fn resolve_kv_dtype(
    r: &SizingRequest<'_>,
    _quant: &QuantSpec,
) -> Result<KvCacheDtype, SizingError> {
    if r.kv_cache_dtype == KvCacheDtype::Bf16 && !r.gpu.has_bf16() {
        return Err(SizingError::Unsupported {
            reason: format!(
                "--kv-cache-dtype bf16: {} (compute capability {}) has no BF16",
                r.gpu.id, r.gpu.compute_capability
            ),
            nearest: vec![
                "--kv-cache-dtype fp16".to_string(),
                "--kv-cache-dtype auto".to_string(),
            ],
        });
    }
    Ok(r.kv_cache_dtype)
}

#[cfg(test)]
mod tests;
