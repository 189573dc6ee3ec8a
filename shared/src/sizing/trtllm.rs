//! How TensorRT-LLM sizes its paged KV cache, for its two runtimes.
//!
//! * **PyTorch backend** (`trtllm-serve`, the LLM API's default from 1.0; present from 0.17):
//!   after the weights load, a dummy run of `max_num_tokens` measures the peak; then
//!   `KvCacheCreator._cal_max_memory` takes
//!   `(total − peak + temporary KV) × free_gpu_memory_fraction`, where `total` is CUDA's device
//!   total (`torch.cuda.mem_get_info()[1]`) and `peak` = torch's allocated peak (weights
//!   included) + what CUDA shows used outside torch (NCCL, CUDA graphs, the context). The KV
//!   cache is that many bytes; tokens = bytes // KV bytes per token; blocks of
//!   `tokens_per_block` (32 by default).
//! * **TensorRT engine** (`trtllm-build` engines run by the C++ executor, Triton's
//!   `tensorrtllm_backend`): once the engine is loaded (weights, the execution context's
//!   activation memory, runtime buffers), `cudaMemGetInfo` gives the free memory, and the KV
//!   cache takes `free × kv_cache_free_gpu_mem_fraction` (0.9 by default), in blocks of the
//!   engine's `tokens_per_block` (64 for `trtllm-build`); `max_tokens_in_paged_kv_cache`
//!   caps it. The execution context's memory depends on how the engine was built (max batch,
//!   max tokens, plugins) and is only known from the engine's log (`[MemUsageChange] Allocated
//!   X MiB for execution context memory`): jauge takes it as an input, or estimates it and
//!   says so.
//!
//! Citations: the TensorRT-LLM repository is larger than the snapshots jauge's tools could
//! bring here, and its wheels weigh gigabytes, so no tagged tree was read line by line. The
//! rules were read in stored copies of the repository's files (the functions are named in each
//! citation) and in the engines' published logs; [`RULES`] says which release each covers and
//! marks the line as unverified at the tag.
//!
//! ```
//! use jauge::sizing::trtllm::{size_trtllm, TrtllmBackend, TrtllmInput};
//! use jauge::units::Bytes;
//!
//! // Llama-3.1-8B BF16 on one H100 80GB with trtllm-serve 1.0's defaults.
//! let input = TrtllmInput::new(
//!     "1.0.0".parse()?,
//!     TrtllmBackend::Pytorch,
//!     Bytes(85_029_158_912),   // CUDA's total for an H100 80GB
//!     Bytes(16_060_522_496),   // weights per GPU
//!     131_072,                 // KV bytes per token per GPU, all layers
//!     1,
//! );
//! let s = size_trtllm(&input)?;
//! assert_eq!((s.settings.free_gpu_memory_fraction, s.settings.tokens_per_block), (0.9, 32));
//! assert!(s.estimated); // the activation peak was not given
//! assert_eq!(s.kv_cache_tokens % 32, 0);
//! # Ok::<(), jauge::sizing::sglang::EngineError>(())
//! ```

use serde::Serialize;

pub use super::sglang::{Citation, EngineError, EngineVersion, Rule, RuleSpec};
use crate::units::{Bytes, Gib};

const TRTLLM: &str = "NVIDIA/TensorRT-LLM";

const fn cite(release: &'static str, location: &'static str) -> Citation {
    Citation {
        repo: TRTLLM,
        release,
        location,
    }
}

const fn v(major: u32, minor: u32, patch: u32) -> EngineVersion {
    EngineVersion::new(major, minor, patch)
}

/// The first release with the PyTorch backend (`backend="pytorch"`).
const PYTORCH_FROM: EngineVersion = v(0, 17, 0);
/// The first release whose engines `trtllm-build` builds (64 tokens per block by default);
/// the per-model `build.py` scripts before it defaulted to 128.
const TRTLLM_BUILD_FROM: EngineVersion = v(0, 8, 0);

/// TensorRT-LLM's rules, each with the releases it covers and where it was read.
///
/// ```
/// use jauge::sizing::trtllm::{EngineVersion, RULES};
/// let v: EngineVersion = "1.0.0rc3".parse()?;
/// assert!(RULES.iter().any(|r| r.id == "trtllm.pytorch.kv_memory" && r.covers(v)));
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
pub const RULES: &[RuleSpec] = &[
    RuleSpec {
        id: "trtllm.fraction_default",
        from: v(0, 5, 0),
        until: None,
        what: "free_gpu_memory_fraction (Triton: kv_cache_free_gpu_mem_fraction) defaults to 0.9",
        citation: cite(
            "main (stored copy; line unverified at a tag)",
            "cpp/tensorrt_llm/batch_manager/kvCacheManager.cpp BlockManager / \
             KvCacheConfig::kDefaultGpuMemFraction; tensorrt_llm/llmapi/llm_args.py KvCacheConfig",
        ),
    },
    RuleSpec {
        id: "trtllm.engine.kv_memory",
        from: v(0, 5, 0),
        until: None,
        what: "TRT engine: KV bytes = cudaMemGetInfo free after the engine and its execution \
               context are loaded × fraction; blocks = bytes // (KV bytes per token × \
               tokens_per_block); max_tokens_in_paged_kv_cache caps it",
        citation: cite(
            "main (stored copy; line unverified at a tag)",
            "cpp/tensorrt_llm/batch_manager/kvCacheManager.cpp calculateMaxNumBlocks",
        ),
    },
    RuleSpec {
        id: "trtllm.engine.tokens_per_block",
        from: TRTLLM_BUILD_FROM,
        until: None,
        what: "tokens_per_block is fixed at build time: 64 by default for trtllm-build (128 in \
               the per-model build.py scripts of 0.5–0.7)",
        citation: cite(
            "main (stored copy; line unverified at a tag)",
            "tensorrt_llm/commands/build.py --tokens_per_block; examples/llama/build.py \
             (0.5–0.7) default=128",
        ),
    },
    RuleSpec {
        id: "trtllm.engine.activation",
        from: v(0, 5, 0),
        until: None,
        what: "no rule: the execution context's memory depends on the build (max_batch_size, \
               max_num_tokens, plugins); logged as `[MemUsageChange] Allocated X MiB for \
               execution context memory` — an input, or jauge's estimate",
        citation: cite(
            "logs",
            "NVIDIA/TensorRT-LLM#2683 (2265.58 MiB, DeepSeek-V3 TP 8 on H20)",
        ),
    },
    RuleSpec {
        id: "trtllm.pytorch.kv_memory",
        from: PYTORCH_FROM,
        until: None,
        what: "PyTorch backend: KV bytes = (CUDA total − peak of the dummy run [torch peak incl. \
               weights + used outside torch] + temporary KV) × free_gpu_memory_fraction; tokens \
               = bytes // KV bytes per token; max_tokens caps it",
        citation: cite(
            "1.x (stored copy; line unverified at a tag)",
            "tensorrt_llm/_torch/pyexecutor/_util.py KvCacheCreator.configure_kv_cache_capacity \
             and _cal_max_memory (0.17–0.19: cal_max_tokens in the same file)",
        ),
    },
    RuleSpec {
        id: "trtllm.pytorch.tokens_per_block",
        from: PYTORCH_FROM,
        until: None,
        what: "PyTorch backend tokens_per_block defaults to 32 (KvCacheConfig)",
        citation: cite(
            "1.x (stored copy; line unverified at a tag)",
            "tensorrt_llm/llmapi/llm_args.py KvCacheConfig.tokens_per_block",
        ),
    },
    RuleSpec {
        id: "trtllm.pytorch.activation",
        from: PYTORCH_FROM,
        until: None,
        what: "no closed rule: the dummy run's activation peak and the memory outside torch \
               (NCCL, CUDA graphs) are measured; logged as `Memory dynamically allocated during \
               inference` and `Memory used outside torch` — inputs, or jauge's estimate",
        citation: cite(
            "1.x (stored copy; line unverified at a tag)",
            "tensorrt_llm/_torch/pyexecutor/_util.py configure_kv_cache_capacity (log lines)",
        ),
    },
];

/// Which runtime runs the model.
///
/// ```
/// use jauge::sizing::trtllm::TrtllmBackend;
/// assert_eq!(TrtllmBackend::Pytorch.name(), "pytorch");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrtllmBackend {
    /// The PyTorch runtime (`trtllm-serve`, LLM API), 0.17+.
    Pytorch,
    /// A `trtllm-build` TensorRT engine under the C++ executor.
    TrtEngine,
}

impl TrtllmBackend {
    /// The name used in settings and output.
    ///
    /// ```
    /// use jauge::sizing::trtllm::TrtllmBackend;
    /// assert_eq!(TrtllmBackend::TrtEngine.name(), "tensorrt");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            TrtllmBackend::Pytorch => "pytorch",
            TrtllmBackend::TrtEngine => "tensorrt",
        }
    }
}

/// TensorRT-LLM's KV settings; `None` is the default.
///
/// ```
/// let s = jauge::sizing::trtllm::TrtllmSettings::default();
/// assert!(s.free_gpu_memory_fraction.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TrtllmSettings {
    /// `free_gpu_memory_fraction` / `kv_cache_free_gpu_mem_fraction`.
    pub free_gpu_memory_fraction: Option<f64>,
    /// Tokens per KV block (the engine's build setting for TRT engines).
    pub tokens_per_block: Option<u32>,
    /// `max_tokens` / `max_tokens_in_paged_kv_cache`.
    pub max_tokens: Option<u64>,
}

/// The settings as resolved.
///
/// ```
/// use jauge::sizing::trtllm::{size_trtllm, TrtllmBackend, TrtllmInput};
/// use jauge::units::Bytes;
/// let i = TrtllmInput::new("0.12.0".parse()?, TrtllmBackend::TrtEngine, Bytes(1 << 36), Bytes(1 << 34), 131_072, 1);
/// assert_eq!(size_trtllm(&i)?.settings.tokens_per_block, 64);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrtllmResolved {
    /// The runtime.
    pub backend: TrtllmBackend,
    /// Fraction of the free memory given to the KV cache.
    pub free_gpu_memory_fraction: f64,
    /// Tokens per block.
    pub tokens_per_block: u32,
    /// Cap on KV tokens, if any.
    pub max_tokens: Option<u64>,
}

/// What to size with TensorRT-LLM, per GPU.
///
/// ```
/// use jauge::sizing::trtllm::{TrtllmBackend, TrtllmInput};
/// use jauge::units::Bytes;
/// let i = TrtllmInput::new("1.0.0".parse()?, TrtllmBackend::Pytorch, Bytes(1 << 36), Bytes(1 << 34), 131_072, 2);
/// assert!(i.activation.is_none() && i.outside_torch.is_none());
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrtllmInput {
    /// The release whose rules apply.
    pub version: EngineVersion,
    /// The runtime.
    pub backend: TrtllmBackend,
    /// The device's total memory as CUDA reports it.
    pub total_memory: Bytes,
    /// Weights on each GPU (the engine's weights for a TRT engine).
    pub weights_per_gpu: Bytes,
    /// KV bytes of one token on one GPU, all its layers.
    pub kv_bytes_per_token_per_gpu: u64,
    /// Tensor-parallel size.
    pub tp: u32,
    /// PyTorch: activation peak of the dummy run; TRT engine: the execution context's memory.
    /// `None`: estimated.
    pub activation: Option<Bytes>,
    /// Memory used outside torch / the engine (CUDA context, NCCL, CUDA graphs, runtime
    /// buffers). `None`: estimated.
    pub outside_torch: Option<Bytes>,
    /// Engine settings.
    pub settings: TrtllmSettings,
}

impl TrtllmInput {
    /// An input with default settings and estimated activation and outside memory.
    ///
    /// ```
    /// use jauge::sizing::trtllm::{TrtllmBackend, TrtllmInput};
    /// use jauge::units::Bytes;
    /// let i = TrtllmInput::new("0.21.0".parse()?, TrtllmBackend::TrtEngine, Bytes(1 << 36), Bytes(1 << 34), 1, 1);
    /// assert_eq!(i.tp, 1);
    /// # Ok::<(), jauge::sizing::sglang::EngineError>(())
    /// ```
    pub fn new(
        version: EngineVersion,
        backend: TrtllmBackend,
        total_memory: Bytes,
        weights_per_gpu: Bytes,
        kv_bytes_per_token_per_gpu: u64,
        tp: u32,
    ) -> TrtllmInput {
        TrtllmInput {
            version,
            backend,
            total_memory,
            weights_per_gpu,
            kv_bytes_per_token_per_gpu,
            tp,
            activation: None,
            outside_torch: None,
            settings: TrtllmSettings::default(),
        }
    }
}

/// One GPU's memory under TensorRT-LLM, GiB.
///
/// ```
/// use jauge::sizing::trtllm::{size_trtllm, TrtllmBackend, TrtllmInput};
/// use jauge::units::Bytes;
/// let i = TrtllmInput::new("1.0.0".parse()?, TrtllmBackend::Pytorch, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// let m = size_trtllm(&i)?.memory_gib_per_gpu;
/// assert!((m.weights + m.activation + m.outside_torch + m.free - m.total).abs() < 1e-9);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrtllmMemory {
    /// The device total (CUDA).
    pub total: f64,
    /// Weights.
    pub weights: f64,
    /// Activation peak (PyTorch) or execution-context memory (TRT engine).
    pub activation: f64,
    /// CUDA context, NCCL, CUDA graphs, runtime buffers.
    pub outside_torch: f64,
    /// What the fraction applies to: `total − weights − activation − outside_torch`.
    pub free: f64,
    /// The KV cache.
    pub kv_cache: f64,
    /// `free − kv_cache`: left unused by the fraction.
    pub headroom: f64,
}

/// TensorRT-LLM's KV cache for one deployment.
///
/// ```
/// use jauge::sizing::trtllm::{size_trtllm, TrtllmBackend, TrtllmInput};
/// use jauge::units::Bytes;
/// let i = TrtllmInput::new("0.12.0".parse()?, TrtllmBackend::TrtEngine, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// let s = size_trtllm(&i)?;
/// assert_eq!(s.kv_cache_tokens, s.kv_cache_blocks * 64);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrtllmSizing {
    /// The release applied.
    pub version: String,
    /// KV-cache bytes on each GPU (blocks × block bytes).
    pub kv_cache_bytes: u64,
    /// KV-cache tokens (blocks × tokens per block; what `[MemUsageChange] Allocated … for max
    /// tokens in paged KV cache (N)` logs).
    pub kv_cache_tokens: u64,
    /// KV blocks ("primary blocks").
    pub kv_cache_blocks: u64,
    /// Memory per GPU, GiB.
    pub memory_gib_per_gpu: TrtllmMemory,
    /// Settings with defaults resolved.
    pub settings: TrtllmResolved,
    /// The rules applied, in order.
    pub rules: Vec<Rule>,
    /// Whether any term is an estimate.
    pub estimated: bool,
    /// What was estimated and why.
    pub notes: Vec<String>,
}

/// CUDA context with lazy loading: 287,047,680 B (pytorch/pytorch#86509).
const CUDA_CONTEXT: u64 = 287_047_680;
/// NCCL / custom all-reduce workspace per GPU with TP > 1: ~0.42 GiB (vLLM's H100 TP-2 logs,
/// shared/reference/vllm-memory.md); TensorRT-LLM's own all-reduce workspace is of that order.
const NCCL_ESTIMATE: u64 = 450_971_566;
/// PyTorch backend, CUDA graphs captured for batch sizes up to the default max_batch_size:
/// ~0.5 GiB, the figure jauge uses for vLLM (terms.rs `CUDA_GRAPHS_ESTIMATE`).
const CUDA_GRAPHS_ESTIMATE: u64 = 536_870_912;
/// Activation estimate, PyTorch dummy run of the default max_num_tokens (8192) or a TRT
/// engine's execution context: ~2 GiB, the order TensorRT-LLM logs for 7B–70B models
/// (NVIDIA/TensorRT-LLM#2683 logs 2265.58 MiB of execution-context memory). A rough estimate.
const ACTIVATION_ESTIMATE: u64 = 2 << 30;

/// Sizes TensorRT-LLM's KV cache.
///
/// # Errors
///
/// * [`EngineError::Version`] for the PyTorch backend before 0.17 or any release before 0.5;
/// * [`EngineError::Setting`] for a zero TP, tokens per block or KV bytes per token, or a
///   fraction outside (0, 1].
///
/// ```
/// use jauge::sizing::trtllm::{size_trtllm, TrtllmBackend, TrtllmInput};
/// use jauge::units::Bytes;
/// let i = TrtllmInput::new("0.16.0".parse()?, TrtllmBackend::Pytorch, Bytes(1 << 36), Bytes(1 << 34), 131_072, 1);
/// assert!(size_trtllm(&i).is_err()); // no PyTorch backend before 0.17
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
pub fn size_trtllm(input: &TrtllmInput) -> Result<TrtllmSizing, EngineError> {
    let version = input.version;
    let backend = input.backend;
    if version < v(0, 5, 0) || (backend == TrtllmBackend::Pytorch && version < PYTORCH_FROM) {
        return Err(EngineError::Version {
            version: version.to_string(),
            message: format!(
                "jauge models TensorRT-LLM 0.5.0+ for TRT engines and {PYTORCH_FROM}+ for the PyTorch backend"
            ),
        });
    }
    let s = input.settings;
    let default_tpb = match backend {
        TrtllmBackend::Pytorch => 32,
        TrtllmBackend::TrtEngine if version >= TRTLLM_BUILD_FROM => 64,
        TrtllmBackend::TrtEngine => 128,
    };
    let tokens_per_block = s.tokens_per_block.unwrap_or(default_tpb);
    for (setting, value) in [
        ("tp_size", u64::from(input.tp)),
        ("tokens_per_block", u64::from(tokens_per_block)),
        ("kv bytes per token", input.kv_bytes_per_token_per_gpu),
    ] {
        if value == 0 {
            return Err(EngineError::Setting {
                setting,
                value: "0".to_string(),
                message: "must be at least 1",
            });
        }
    }
    let fraction = s.free_gpu_memory_fraction.unwrap_or(0.9);
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(EngineError::Setting {
            setting: "free_gpu_memory_fraction",
            value: fraction.to_string(),
            message: "must be in (0, 1]",
        });
    }

    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut estimated = false;
    rules.push(Rule::from_spec(
        RULES,
        "trtllm.fraction_default",
        format!(
            "fraction {fraction}{}",
            if s.free_gpu_memory_fraction.is_none() {
                " (default)"
            } else {
                ""
            }
        ),
    ));
    let tpb_rule = match backend {
        TrtllmBackend::Pytorch => "trtllm.pytorch.tokens_per_block",
        TrtllmBackend::TrtEngine => "trtllm.engine.tokens_per_block",
    };
    rules.push(Rule::from_spec(
        RULES,
        tpb_rule,
        format!("{tokens_per_block} tokens per block"),
    ));
    if backend == TrtllmBackend::TrtEngine && version < TRTLLM_BUILD_FROM {
        notes.push(format!(
            "TensorRT-LLM {version}: engines came from per-model build.py scripts whose \
             --tokens_per_block defaulted to 128; give the value the engine was built with"
        ));
    }

    let activation = match input.activation {
        Some(b) => b.0,
        None => {
            estimated = true;
            notes.push(format!(
                "activation ({}) estimated at {:.1} GiB: it depends on max_num_tokens and \
                 max_batch_size (and, for a TRT engine, on how it was built); the start-up log \
                 gives it",
                match backend {
                    TrtllmBackend::Pytorch => "dummy-run peak less weights",
                    TrtllmBackend::TrtEngine => "execution context memory",
                },
                Bytes(ACTIVATION_ESTIMATE).gib().0
            ));
            ACTIVATION_ESTIMATE
        }
    };
    let outside = match input.outside_torch {
        Some(b) => b.0,
        None => {
            estimated = true;
            let nccl = if input.tp > 1 { NCCL_ESTIMATE } else { 0 };
            let graphs = if backend == TrtllmBackend::Pytorch {
                CUDA_GRAPHS_ESTIMATE
            } else {
                0
            };
            let sum = CUDA_CONTEXT + nccl + graphs;
            notes.push(format!(
                "memory outside torch estimated at {:.2} GiB (CUDA context 0.27{}{})",
                Bytes(sum).gib().0,
                if nccl > 0 { " + NCCL ~0.42" } else { "" },
                if graphs > 0 {
                    " + CUDA graphs ~0.5"
                } else {
                    ""
                }
            ));
            sum
        }
    };
    let act_rule = match backend {
        TrtllmBackend::Pytorch => "trtllm.pytorch.activation",
        TrtllmBackend::TrtEngine => "trtllm.engine.activation",
    };
    rules.push(Rule::from_spec(
        RULES,
        act_rule,
        format!(
            "activation {:.2} GiB, outside {:.2} GiB{}",
            Bytes(activation).gib().0,
            Bytes(outside).gib().0,
            if estimated { " (estimated)" } else { "" }
        ),
    ));

    let total = input.total_memory.gib().0;
    let weights = input.weights_per_gpu.gib().0;
    let free = total - weights - Bytes(activation).gib().0 - Bytes(outside).gib().0;
    let mut kv_bytes = Gib(free * fraction).bytes_floor().0;
    let per_token = input.kv_bytes_per_token_per_gpu;
    if let Some(max_tokens) = s.max_tokens {
        kv_bytes = kv_bytes.min(max_tokens.saturating_mul(per_token));
    }
    let block_bytes = per_token * u64::from(tokens_per_block);
    let blocks = match backend {
        // The PyTorch backend turns bytes into max_tokens first, then the C++ manager makes
        // blocks of them.
        TrtllmBackend::Pytorch => kv_bytes / per_token / u64::from(tokens_per_block),
        TrtllmBackend::TrtEngine => kv_bytes / block_bytes,
    };
    let tokens = blocks * u64::from(tokens_per_block);
    let kv_rule = match backend {
        TrtllmBackend::Pytorch => "trtllm.pytorch.kv_memory",
        TrtllmBackend::TrtEngine => "trtllm.engine.kv_memory",
    };
    rules.push(Rule::from_spec(
        RULES,
        kv_rule,
        format!(
            "({total:.2} − {:.2} GiB) × {fraction} = {:.2} GiB; {blocks} blocks × {tokens_per_block} \
             = {tokens} tokens",
            total - free,
            free * fraction
        ),
    ));
    if blocks == 0 {
        notes.push("no room for a single KV block: the engine fails to start".to_string());
    }
    let kv_gib = Bytes(blocks * block_bytes).gib().0;
    Ok(TrtllmSizing {
        version: version.to_string(),
        kv_cache_bytes: blocks * block_bytes,
        kv_cache_tokens: tokens,
        kv_cache_blocks: blocks,
        memory_gib_per_gpu: TrtllmMemory {
            total,
            weights,
            activation: Bytes(activation).gib().0,
            outside_torch: Bytes(outside).gib().0,
            free,
            kv_cache: kv_gib,
            headroom: free - kv_gib,
        },
        settings: TrtllmResolved {
            backend,
            free_gpu_memory_fraction: fraction,
            tokens_per_block,
            max_tokens: s.max_tokens,
        },
        rules,
        estimated,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H100_CUDA: Bytes = Bytes(85_029_158_912);

    fn exact(version: &str, backend: TrtllmBackend) -> TrtllmInput {
        let mut i = TrtllmInput::new(
            version.parse().unwrap(),
            backend,
            H100_CUDA,
            Bytes(15 << 30),
            131_072,
            1,
        );
        i.activation = Some(Bytes(2 << 30));
        i.outside_torch = Some(Bytes(1 << 30));
        i
    }

    /// `_util.py` `_cal_max_memory` (1.x):
    /// `available_kv_mem = (total_gpu_memory - peak_memory + allocated_bytes) * fraction`, where
    /// peak = torch peak (weights and activations) and what is used outside torch; the temporary
    /// KV of the estimation run is added back, so it cancels. H100:
    /// (79.19 − 15 − 2 − 1) × 0.9 GiB // 131072 B, in blocks of 32.
    #[test]
    fn pytorch_backend_takes_the_fraction_of_total_less_peak() {
        let s = size_trtllm(&exact("1.0.0", TrtllmBackend::Pytorch)).unwrap();
        let free = H100_CUDA.gib().0 - 18.0;
        let tokens = Gib(free * 0.9).bytes_floor().0 / 131_072 / 32 * 32;
        assert_eq!(s.kv_cache_tokens, tokens);
        assert!(!s.estimated);
    }

    /// `kvCacheManager.cpp` `calculateMaxNumBlocks`: free memory after the engine loads ×
    /// `freeGpuMemoryFraction` (0.9 by default) in whole blocks of 64 tokens (trtllm-build's
    /// default); `max_tokens_in_paged_kv_cache` caps it.
    #[test]
    fn engine_backend_uses_whole_blocks_and_the_token_cap() {
        let mut i = exact("0.12.0", TrtllmBackend::TrtEngine);
        let s = size_trtllm(&i).unwrap();
        assert_eq!(s.settings.tokens_per_block, 64);
        assert_eq!(s.kv_cache_tokens % 64, 0);
        i.settings.max_tokens = Some(10_000);
        let capped = size_trtllm(&i).unwrap();
        assert_eq!(capped.kv_cache_tokens, 10_000 / 64 * 64);
    }

    /// Per-model `examples/*/build.py` before trtllm-build (0.5–0.7):
    /// `parser.add_argument('--tokens_per_block', type=int, default=128, …)`.
    #[test]
    fn old_engines_default_to_128_tokens_per_block() {
        let s = size_trtllm(&exact("0.6.1", TrtllmBackend::TrtEngine)).unwrap();
        assert_eq!(s.settings.tokens_per_block, 128);
        assert!(!s.notes.is_empty());
    }

    #[test]
    fn pytorch_backend_needs_0_17() {
        assert!(size_trtllm(&exact("0.16.0", TrtllmBackend::Pytorch)).is_err());
        assert!(size_trtllm(&exact("1.0.0rc3", TrtllmBackend::Pytorch)).is_ok());
        assert!(size_trtllm(&exact("0.4.0", TrtllmBackend::TrtEngine)).is_err());
    }

    #[test]
    fn estimates_are_flagged() {
        let mut i = exact("1.0.0", TrtllmBackend::Pytorch);
        i.activation = None;
        let s = size_trtllm(&i).unwrap();
        assert!(s.estimated && s.notes.iter().any(|n| n.contains("estimated")));
    }

    /// Log check, triton-inference-server/tutorials#150
    /// (https://github.com/triton-inference-server/tutorials/pull/150), PyTorch backend under
    /// Triton: `Max KV cache blocks per sequence: 65 […], tokens per block=32, primary
    /// blocks=116617` and `[MemUsageChange] Allocated 78.30 GiB for max tokens in paged KV cache
    /// (3731744)`. 78.30 GiB / 3,731,744 tokens is 22,528 B per token (22 layers × 4 KV heads ×
    /// 64 × 2 × 2 B, TinyLlama-1.1B's shape — inferred, the log does not name the model). The
    /// GPU's total and the peak are not in the excerpt, so the check feeds jauge the free memory
    /// the log implies (78.30 GiB / 0.9) and asserts the bytes within 0.01 GiB and the blocks
    /// within 8 (the log's 0.005 GiB rounding is 238 tokens, 7.4 blocks of 32).
    #[test]
    fn matches_the_kv_allocation_logged_in_triton_tutorials_150() {
        let per_token = 22_528u64;
        let kv_gib = 78.30;
        let total = Gib(kv_gib / 0.9 + 20.0).bytes_floor();
        let mut i = TrtllmInput::new(
            "1.0.0".parse().unwrap(),
            TrtllmBackend::Pytorch,
            total,
            Gib(20.0).bytes_floor(),
            per_token,
            1,
        );
        i.activation = Some(Bytes(0));
        i.outside_torch = Some(Bytes(0));
        let s = size_trtllm(&i).unwrap();
        assert!(
            s.kv_cache_blocks.abs_diff(116_617) <= 8,
            "{}",
            s.kv_cache_blocks
        );
        assert_eq!(116_617 * 32, 3_731_744);
        assert!((s.memory_gib_per_gpu.kv_cache - kv_gib).abs() < 0.01);
    }

    #[test]
    fn every_rule_id_is_unique_and_applied_rules_are_in_the_table() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for backend in [TrtllmBackend::Pytorch, TrtllmBackend::TrtEngine] {
            let s = size_trtllm(&exact("1.0.0", backend)).unwrap();
            for r in &s.rules {
                assert!(RULES
                    .iter()
                    .any(|spec| spec.id == r.id && spec.covers(EngineVersion::new(1, 0, 0))));
            }
        }
    }
}
