//! How vLLM measures what is not KV cache, release by release (shared/reference/vllm-memory.md).
//!
//! Each rule below was read in vLLM's own code (`v1/worker/gpu_worker.py`
//! `determine_available_memory`, `worker/worker.py` `determine_num_available_blocks`,
//! `engine/arg_utils.py` for the batch defaults, `v1/sample/ops/topk_topp_sampler.py` for the
//! sampler); the reference file cites the lines.

use std::fmt;

use crate::catalogue::{GpuSpec, QuantKind, QuantSpec};
use crate::error::SizingError;

/// A vLLM release, `MAJOR.MINOR.PATCH`.
///
/// ```
/// use jauge::sizing::VllmVersion;
/// let v: VllmVersion = "v0.10.1.post1".parse()?;
/// assert_eq!(v.to_string(), "0.10.1");
/// assert!("0.1.7".parse::<VllmVersion>().is_err()); // before the rules jauge models
/// # Ok::<(), jauge::SizingError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VllmVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl VllmVersion {
    /// The release whose rules `jauge size` applies unless told otherwise: the newest one whose
    /// non-KV memory is measured without estimated terms (0.20 added a CUDA-graph estimate).
    pub const DEFAULT: VllmVersion = VllmVersion::new(0, 19, 0);
    /// The oldest release modelled: 0.2.0, the first with `gpu_memory_utilization` as a share
    /// of the whole device and paged blocks sized from a profiling run.
    pub const OLDEST: VllmVersion = VllmVersion::new(0, 2, 0);

    /// A version from its parts.
    ///
    /// ```
    /// assert!(jauge::sizing::VllmVersion::new(0, 9, 2) > jauge::sizing::VllmVersion::new(0, 9, 1));
    /// ```
    pub const fn new(major: u32, minor: u32, patch: u32) -> VllmVersion {
        VllmVersion {
            major,
            minor,
            patch,
        }
    }

    fn at_least(self, minor: u32, patch: u32) -> bool {
        self >= VllmVersion::new(0, minor, patch)
    }
}

impl fmt::Display for VllmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for VllmVersion {
    type Err = SizingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SizingError::VllmVersion {
            message: format!("`{s}` is not a version like 0.10.1"),
        };
        let trimmed = s.trim().trim_start_matches('v');
        let mut parts = trimmed.split(['.', '+', '-']);
        let mut number = |required: bool| -> Result<u32, SizingError> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        let version = VllmVersion::new(number(true)?, number(true)?, number(false).unwrap_or(0));
        if version < VllmVersion::OLDEST {
            return Err(SizingError::VllmVersion {
                message: format!(
                    "vLLM {version} predates the memory rules jauge models ({} and later)",
                    VllmVersion::OLDEST
                ),
            });
        }
        Ok(version)
    }
}

/// How a release measures what is not KV cache (see [`RULES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accounting {
    /// 0.2.0–0.2.4: `torch.cuda.max_memory_allocated()`: the weights and the profiling run's
    /// live peak; nothing outside PyTorch.
    TorchPeak,
    /// 0.2.5–0.3.0: total − free after the run: what the caching allocator reserved, memory
    /// outside PyTorch, the CUDA context (and any other process on the GPU).
    ReservedWithContext,
    /// 0.3.1–0.6.3: free at start-up − free after the run: reserved memory and memory outside
    /// PyTorch, not the context.
    Reserved,
    /// 0.6.4 on: the live peak (weights included) plus memory outside PyTorch.
    LivePeak,
}

/// The parts of a release's memory accounting that change the numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profile {
    /// How non-KV memory is measured.
    pub accounting: Accounting,
    /// The V1 engine (default from 0.8.0).
    pub v1: bool,
    /// Sampler bytes per row per vocabulary entry during profiling.
    pub sampler_bytes_per_entry: u64,
    /// Whether the T×h hidden state stays alive during the sampler (0.9.2+).
    pub hidden_alive_in_sampler: bool,
    /// Whether the CUDA context is counted as non-KV memory (0.2.5–0.3.0, 0.6.4, V1
    /// 0.8.0–0.9.0).
    pub counts_cuda_context: bool,
    /// Whether Llama's MLP keeps `gate_up` alive until it returns (before 0.6.4).
    pub mlp_keeps_gate_up: bool,
    /// Whether the release captures CUDA graphs at all (0.2.7+).
    pub cuda_graphs: bool,
    /// Whether CUDA-graph memory is estimated inside the budget (0.20+); before, graphs were
    /// captured after the KV cache and came out of the `1 − gpu_memory_utilization` headroom.
    pub cuda_graphs_in_budget: bool,
}

impl Profile {
    pub(crate) fn of(version: VllmVersion) -> Profile {
        let v1 = version.at_least(8, 0);
        // V0 and V1 0.12–0.16 sort; V1 0.8–0.11 used FlashInfer, 0.17+ a Triton kernel.
        let sorts = !v1 || (version.at_least(12, 0) && !version.at_least(17, 0));
        let sampler_bytes_per_entry = if sorts {
            SAMPLER_BYTES_SORT
        } else {
            SAMPLER_BYTES_FUSED
        };
        let accounting = if !version.at_least(2, 5) {
            Accounting::TorchPeak
        } else if !version.at_least(3, 1) {
            Accounting::ReservedWithContext
        } else if !version.at_least(6, 4) {
            Accounting::Reserved
        } else {
            Accounting::LivePeak
        };
        let v0_0_6_4 = version.at_least(6, 4) && !version.at_least(6, 5);
        Profile {
            accounting,
            v1,
            sampler_bytes_per_entry,
            hidden_alive_in_sampler: v1 && version.at_least(9, 2),
            counts_cuda_context: accounting == Accounting::ReservedWithContext
                || v0_0_6_4
                || (v1 && !version.at_least(9, 1)),
            mlp_keeps_gate_up: !version.at_least(6, 4),
            cuda_graphs: version.at_least(2, 7),
            cuda_graphs_in_budget: version.at_least(20, 0),
        }
    }

    /// `(max_num_batched_tokens, max_num_seqs)` when the user sets neither.
    pub(crate) fn default_batch(
        &self,
        version: VllmVersion,
        gpu: &GpuSpec,
        max_model_len: u32,
        sliding_window: bool,
    ) -> (u32, u32) {
        if !self.v1 {
            // V0: chunked prefill turns on by itself only past 32 K (from 0.5.3) and never for
            // sliding windows; otherwise one prefill of the whole max_model_len must fit a
            // batch. A chunk was 512 tokens until 0.6.4, 2048 after.
            let chunked = version.at_least(5, 3) && max_model_len > 32_768 && !sliding_window;
            let tokens = match (chunked, version.at_least(6, 5)) {
                (true, true) => 2048,
                (true, false) => 512,
                (false, _) => max_model_len.max(2048),
            };
            return (tokens, 256);
        }
        // V1: `arg_utils.py` keys the defaults on device memory, A100s excepted.
        let large = gpu.memory_gib >= 70.0 && !gpu.id.starts_with("a100");
        let huge = version.at_least(28, 0) && gpu.memory_gib >= 160.0;
        let tokens = if huge {
            16_384
        } else if large {
            8192
        } else {
            2048
        };
        let seqs = if large || huge { 1024 } else { 256 };
        (tokens, seqs)
    }
}

/// One of vLLM's memory rules: the releases it covers, what it decides, and where in vLLM's
/// own code it is (each release's `vllm/` tree as shipped on PyPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRule {
    /// First release it applies to.
    pub from: VllmVersion,
    /// First release it no longer applies to; `None` while it still does.
    pub until: Option<VllmVersion>,
    /// What it decides.
    pub rule: &'static str,
    /// File and line, in the release named.
    pub source: &'static str,
    /// The weight format it is about; `None` for every deployment.
    pub format: Option<QuantKind>,
}

impl MemoryRule {
    /// Whether the rule applies to `version`.
    ///
    /// ```
    /// use jauge::sizing::{VllmVersion, RULES};
    /// let v = VllmVersion::new(0, 4, 2);
    /// assert!(RULES.iter().any(|r| r.covers(v) && r.rule.contains("reserved")));
    /// ```
    pub fn covers(&self, version: VllmVersion) -> bool {
        version >= self.from && self.until.is_none_or(|u| version < u)
    }
}

/// Every vLLM memory rule jauge applies: the one table the code, the tests, the docs and
/// `jauge size` (its `rules`) read.
pub const RULES: &[MemoryRule] = &[
    MemoryRule {
        from: VllmVersion::new(0, 2, 0),
        until: Some(VllmVersion::new(0, 2, 5)),
        rule: "non-KV = torch.cuda.max_memory_allocated(): the weights and the profiling run's live peak, nothing outside PyTorch",
        source: "0.2.4 vllm/worker/worker.py:93",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 2, 5),
        until: Some(VllmVersion::new(0, 3, 1)),
        rule: "non-KV = total - free after the profiling run: the caching allocator's reserved segments (emptied only before the run), memory outside PyTorch and the CUDA context",
        source: "0.2.5 vllm/worker/worker.py:82,91-92; 0.3.0 vllm/worker/worker.py:112,121-122",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 3, 1),
        until: Some(VllmVersion::new(0, 6, 4)),
        rule: "non-KV = free at start-up - free after the profiling run: the caching allocator's reserved segments and memory outside PyTorch, not the CUDA context",
        source: "0.3.1 vllm/worker/worker.py:89,122,131,134; 0.6.3 vllm/worker/worker.py:171,219,228,231",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 6, 4),
        until: Some(VllmVersion::new(0, 6, 5)),
        rule: "non-KV = PyTorch's allocated peak (weights included) + (device used - PyTorch allocated): the live peak, memory outside PyTorch and the CUDA context",
        source: "0.6.4 vllm/worker/worker.py:201,209-210",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 6, 5),
        until: None,
        rule: "non-KV = weights + PyTorch peak increase during profiling + non-torch increase since start-up (V1 0.8.0-0.9.0: as 0.6.4, the CUDA context counts)",
        source: "0.6.5 vllm/worker/worker.py:198-210; 0.8.0 vllm/v1/worker/gpu_worker.py:151-179; 0.9.1 vllm/v1/worker/gpu_worker.py:201-219",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 20, 0),
        until: None,
        rule: "an estimate of CUDA-graph memory is counted inside the budget (before, graphs came out of the 1 - gpu_memory_utilization headroom)",
        source: "0.20.0 vllm/v1/worker/gpu_worker.py:378-407",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 2, 0),
        until: Some(VllmVersion::new(0, 6, 4)),
        rule: "Llama's MLP keeps gate_up alive until it returns: the prefill peak is 4h + 3I/TP elements per token",
        source: "0.2.4 vllm/model_executor/models/llama.py:75-79; 0.6.3 vllm/model_executor/models/llama.py:90-94 (0.6.4 :92-96 reuses x)",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 2, 0),
        until: Some(VllmVersion::new(0, 8, 0)),
        rule: "V0: the profiled prefill is max_num_batched_tokens = max(max_model_len, 2048) tokens over max_num_seqs = 256",
        source: "0.2.4 vllm/config.py:368, vllm/engine/arg_utils.py:30; 0.6.3 vllm/config.py:987",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 8, 0),
        until: None,
        rule: "V1 (always chunked): the API server profiles 8192 tokens over 1024 sequences on GPUs of 70 GiB or more other than the A100, else 2048 over 256 (16384 on 160 GiB and more from 0.28)",
        source: "0.9.1 vllm/engine/arg_utils.py:1554-1565",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 5, 3),
        until: Some(VllmVersion::new(0, 8, 0)),
        rule: "V0: chunked prefill switches itself on above a max_model_len of 32,768 (not for sliding windows); a chunk is 512 tokens until 0.6.4, 2048 from 0.6.5",
        source: "0.5.3 vllm/engine/arg_utils.py:747-761, vllm/config.py:805; 0.6.3 vllm/config.py:983",
        format: None,
    },
    MemoryRule {
        from: VllmVersion::new(0, 2, 0),
        until: None,
        rule: "AWQ needs compute capability 7.5 (no Volta)",
        source: "0.2.4 vllm/model_executor/layers/quantization/awq.py:47; 0.6.3 vllm/model_executor/layers/quantization/awq.py:49",
        format: Some(QuantKind::Awq),
    },
    MemoryRule {
        from: VllmVersion::new(0, 2, 6),
        until: None,
        rule: "GPTQ is available (not in 0.2.5) and needs compute capability 6.0",
        source: "0.2.6 vllm/model_executor/layers/quantization/gptq.py:53; 0.6.0 vllm/model_executor/layers/quantization/gptq.py:61",
        format: Some(QuantKind::Gptq),
    },
    MemoryRule {
        from: VllmVersion::new(0, 4, 2),
        until: Some(VllmVersion::new(0, 5, 1)),
        rule: "FP8 (W8A8) needs compute capability 8.9: Ada and Hopper only",
        source: "0.4.2 vllm/model_executor/layers/quantization/fp8.py:46; 0.5.0 vllm/model_executor/layers/quantization/fp8.py:65",
        format: Some(QuantKind::Fp8),
    },
    MemoryRule {
        from: VllmVersion::new(0, 5, 1),
        until: None,
        rule: "FP8 checkpoints also run on Ampere (compute capability 8.0) as weight-only FP8 through Marlin",
        source: "0.5.1 vllm/model_executor/layers/quantization/fp8.py:62; 0.6.3 vllm/model_executor/layers/quantization/fp8.py:65",
        format: Some(QuantKind::Fp8),
    },
    MemoryRule {
        from: VllmVersion::new(0, 6, 0),
        until: None,
        rule: "GGUF checkpoints are loaded (not in 0.5.3), compute capability 6.0",
        source: "0.6.0 vllm/model_executor/layers/quantization/gguf.py:33",
        format: Some(QuantKind::Gguf),
    },
    MemoryRule {
        from: VllmVersion::new(0, 2, 7),
        until: None,
        rule: "CUDA graphs are captured (before 0.2.7 every step ran eagerly and no graph memory was taken)",
        source: "vLLM PR #1926 (0.2.7)",
        format: None,
    },
];

/// Why vLLM `version` cannot run `quant` on `gpu`, by release (each threshold read in that
/// release's `vllm/model_executor/layers/quantization/*.py`, `get_min_capability`, and in
/// [`RULES`]); `None` when it can. Formats it does not know by kind follow the catalogue's
/// rule for today's vLLM.
pub(crate) fn quant_unsupported(
    quant: &QuantSpec,
    gpu: &GpuSpec,
    version: VllmVersion,
) -> Option<String> {
    let cc = gpu.compute_capability;
    let (since, min_cc): (VllmVersion, (u8, u8)) = match quant.kind {
        QuantKind::Gptq => (VllmVersion::new(0, 2, 6), (6, 0)),
        QuantKind::Awq => (VllmVersion::new(0, 2, 0), (7, 5)),
        // Weight-only FP8 through Marlin on Ampere from 0.5.1; W8A8 on Ada/Hopper before.
        QuantKind::Fp8 if version.at_least(5, 1) => (VllmVersion::new(0, 4, 2), (8, 0)),
        QuantKind::Fp8 => (VllmVersion::new(0, 4, 2), (8, 9)),
        QuantKind::Gguf => (VllmVersion::new(0, 6, 0), (6, 0)),
        _ => return quant.unsupported_on(gpu),
    };
    if version < since {
        return Some(format!(
            "{} is not in vLLM {version}: it arrived in {since}",
            quant.name
        ));
    }
    if (cc.major, cc.minor) < min_cc {
        return Some(format!(
            "{} needs compute capability {}.{} or later in vLLM {version}; {} has {}",
            quant.name, min_cc.0, min_cc.1, gpu.id, cc
        ));
    }
    // A format the catalogue restricts further (BF16-only variants) keeps that restriction.
    quant
        .unsupported_on(gpu)
        .filter(|_| quant.needs.as_deref() == Some("bf16"))
}

/// Sort-based top-k/top-p: logits, sorted copy, indices, probabilities (~39 B per entry).
const SAMPLER_BYTES_SORT: u64 = 39;
/// FlashInfer or Triton sampler: bf16 logits + fp32 copy + masked logits + probabilities.
const SAMPLER_BYTES_FUSED: u64 = 14;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_map_to_their_rules() {
        let p = |s: &str| Profile::of(s.parse().unwrap());
        assert!(!p("0.6.5").v1);
        assert_eq!(p("0.6.5").sampler_bytes_per_entry, 39);
        assert!(p("0.8.0").counts_cuda_context);
        assert!(!p("0.9.1").counts_cuda_context);
        assert!(!p("0.9.1").hidden_alive_in_sampler);
        assert!(p("0.9.2").hidden_alive_in_sampler);
        assert_eq!(p("0.11.0").sampler_bytes_per_entry, 14);
        assert_eq!(p("0.14.0").sampler_bytes_per_entry, 39);
        assert_eq!(p("0.17.0").sampler_bytes_per_entry, 14);
        assert!(!p("0.19.0").cuda_graphs_in_budget);
        assert!(p("0.20.0").cuda_graphs_in_budget);
    }

    #[test]
    fn version_strings_parse_leniently_but_refuse_garbage() {
        assert_eq!(
            "0.9".parse::<VllmVersion>().unwrap(),
            VllmVersion::new(0, 9, 0)
        );
        assert_eq!(
            "0.6.6.post1".parse::<VllmVersion>().unwrap(),
            VllmVersion::new(0, 6, 6)
        );
        assert!("latest".parse::<VllmVersion>().is_err());
    }
}
