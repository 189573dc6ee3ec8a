//! vLLM's profiling run before 0.6.4, replayed through the caching allocator: the memory it
//! leaves reserved (what 0.2.5–0.6.3 counted) and its live peak (what 0.2.0–0.2.4 counted).
//!
//! The order of one decoder layer is vLLM's `models/llama.py` with the FlashAttention backend
//! (0.3.1–0.6.3; `../shared/reference/vllm-memory.md`): the first layer normalises into a new
//! tensor, later ones in place; qkv; the attention output and the kernel's own output of the
//! same size, freed at once; o_proj's output; qkv and the attention output freed; the MLP's
//! `gate_up`, its activation and `down_proj`'s output, `gate_up` alive until the MLP returns
//! (`models/llama.py:90-94` in 0.6.3, changed in 0.6.4); then the attention's output and the
//! previous layer's output freed. A fused MoE layer holds its three intermediate caches of
//! top_k rows per token (`fused_moe.py`). After the layers the sampler runs over
//! `max_num_seqs` rows of the vocabulary on the sort-based top-k/top-p path (the dummy run
//! asks for `top_p=0.99, top_k=vocab−1`, 0.3.1 `worker/model_runner.py:582`), its tensors served
//! from the same cache.

use super::allocator::CachingAllocator;
use crate::catalogue::ModelSpec;

/// Bytes of one activation element (FP16/BF16).
const ELEMENT: u64 = 2;

/// Bytes per row per vocabulary entry of the sampler's tensors on the sort path, in the order
/// they are made: FP32 logits, the sorted logits, the sort's int64 indices, the probabilities,
/// their cumulative sum, the top-k/top-p masks and the renormalised probabilities — 39 B in
/// all, the live figure the newer rule uses.
const SAMPLER_TENSORS: [u64; 9] = [4, 4, 8, 4, 4, 4, 4, 4, 3];

/// What the replayed run leaves behind, bytes per GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DummyRun {
    /// Segments reserved during the run (the cache was emptied just before it).
    pub reserved: u64,
    /// The most bytes live at once during the run.
    pub peak_live: u64,
}

/// Replays a profiling run of `tokens` prompt tokens over `seqs` sequences on one of `tp` GPUs.
///
/// ```
/// let cat = jauge::catalogue::Catalogue::builtin();
/// let run = jauge::sizing::dummy_run::replay(cat.model("mistral-7b-v0.1")?, 1, 8192, 256);
/// // The allocator keeps more than was ever live at once.
/// assert!(run.reserved > run.peak_live);
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
pub fn replay(model: &ModelSpec, tp: u64, tokens: u64, seqs: u64) -> DummyRun {
    let mut a = CachingAllocator::default();
    let per_token = |elements: u64| elements.saturating_mul(tokens).saturating_mul(ELEMENT);
    let h = model.hidden_size;
    let d = model.head_dim;
    let heads = (model.num_attention_heads / tp).max(1);
    let kv_heads = (model.num_key_value_heads / tp).max(1);
    let i = model.intermediate_size / tp;
    // The embedding's output becomes the residual, alive throughout.
    let _residual = a.alloc(per_token(h));
    let mut previous = None;
    for layer in 0..model.num_hidden_layers {
        let norm = (layer == 0).then(|| a.alloc(per_token(h)));
        let qkv = a.alloc(per_token((heads + 2 * kv_heads) * d));
        let attention = a.alloc(per_token(heads * d));
        let kernel = a.alloc(per_token(heads * d));
        a.free(kernel);
        let o = a.alloc(per_token(h));
        a.free(qkv);
        a.free(attention);
        if let Some(norm) = norm {
            a.free(norm);
        }
        let output = if model.is_moe() {
            let top_k = model.num_experts_per_tok.unwrap_or(1);
            let first = a.alloc(per_token(top_k * 2 * i));
            let second = a.alloc(per_token(top_k * i));
            let third = a.alloc(per_token(top_k * h));
            let out = a.alloc(per_token(h));
            for cache in [first, second, third] {
                a.free(cache);
            }
            out
        } else {
            let gate_up = a.alloc(per_token(2 * i));
            let activation = a.alloc(per_token(i));
            let down = a.alloc(per_token(h));
            a.free(gate_up);
            a.free(activation);
            down
        };
        a.free(o);
        if let Some(previous) = previous {
            a.free(previous);
        }
        previous = Some(output);
    }
    let entries = seqs.saturating_mul(model.vocab_size);
    let sampler: Vec<_> = SAMPLER_TENSORS
        .iter()
        .map(|bytes| a.alloc(entries.saturating_mul(*bytes)))
        .collect();
    for tensor in sampler {
        a.free(tensor);
    }
    DummyRun {
        reserved: a.reserved(),
        peak_live: a.peak_live(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    /// A longer profiled prefill reserves more, and the reserve is what the live peak would
    /// be plus what fragmentation left cached.
    #[test]
    fn reserved_grows_with_the_profiled_tokens_and_exceeds_the_live_peak() {
        let cat = Catalogue::builtin();
        let m = cat.model("llama-3-8b").unwrap();
        // One sampled row, so that the prefill (not the 128,256-entry sampler) is the peak.
        let short = replay(m, 1, 2048, 1);
        let long = replay(m, 1, 8192, 1);
        assert!(long.reserved > short.reserved);
        assert!(long.reserved >= long.peak_live);
        // The MLP dominates: gate_up (2I) + activation (I) + down (h) + the rest (< 4h).
        let mlp = 8192 * 2 * (3 * 14336 + 4096);
        assert!(
            long.peak_live > mlp && long.peak_live < mlp + 8192 * 2 * 4 * 4096,
            "{long:?}"
        );
    }

    #[test]
    fn tensor_parallelism_shrinks_each_gpus_share() {
        let cat = Catalogue::builtin();
        let m = cat.model("llama-3-70b").unwrap();
        assert!(replay(m, 4, 8192, 256).reserved < replay(m, 2, 8192, 256).reserved);
    }
}
