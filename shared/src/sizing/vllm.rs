//! How vLLM measures what is not KV cache, release by release (shared/reference/vllm-memory.md).
//!
//! Each rule below was read in vLLM's own code (`v1/worker/gpu_worker.py`
//! `determine_available_memory`, `worker/worker.py` `determine_num_available_blocks`,
//! `engine/arg_utils.py` for the batch defaults, `v1/sample/ops/topk_topp_sampler.py` for the
//! sampler); the reference file cites the lines.

use std::fmt;

use crate::catalogue::GpuSpec;
use crate::error::SizingError;

/// A vLLM release, `MAJOR.MINOR.PATCH`.
///
/// ```
/// use jauge::sizing::VllmVersion;
/// let v: VllmVersion = "v0.10.1.post1".parse()?;
/// assert_eq!(v.to_string(), "0.10.1");
/// assert!("0.5.4".parse::<VllmVersion>().is_err()); // measured memory another way
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
    /// The oldest release modelled: 0.6.5 introduced the rule every later release refines.
    pub const OLDEST: VllmVersion = VllmVersion::new(0, 6, 5);

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
                    "vLLM {version} measured non-KV memory from the allocator's reserved blocks; \
                     jauge models {} and later",
                    VllmVersion::OLDEST
                ),
            });
        }
        Ok(version)
    }
}

/// The parts of a release's memory accounting that change the numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profile {
    /// The V1 engine (default from 0.8.0).
    pub v1: bool,
    /// Sampler bytes per row per vocabulary entry during profiling.
    pub sampler_bytes_per_entry: u64,
    /// Whether the T×h hidden state stays alive during the sampler (0.9.2+).
    pub hidden_alive_in_sampler: bool,
    /// Whether the CUDA context is counted as non-KV memory (V1 0.8.0–0.9.0).
    pub counts_cuda_context: bool,
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
        Profile {
            v1,
            sampler_bytes_per_entry,
            hidden_alive_in_sampler: v1 && version.at_least(9, 2),
            counts_cuda_context: v1 && !version.at_least(9, 1),
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
            // V0: chunked prefill turns on by itself only past 32 K and never for sliding
            // windows; otherwise one prefill of the whole max_model_len must fit a batch.
            let chunked = max_model_len > 32_768 && !sliding_window;
            let tokens = if chunked {
                2048
            } else {
                max_model_len.max(2048)
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
