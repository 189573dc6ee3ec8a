//! The memory terms, one function each, per GPU under tensor parallelism.

use super::vllm::Profile;
use crate::catalogue::{Architecture, ModelSpec, QuantScope, QuantSpec};
use crate::error::SizingError;
use crate::units::{Bytes, Gib};

/// Bytes of one activation element: vLLM computes in FP16/BF16 whatever the weights' format.
const ACTIVATION_BYTES: u64 = 2;

/// Weights held by one GPU.
///
/// Linear layers are split across the GPUs (column/row parallel), and so are the embeddings and
/// the output projection (vocabulary parallel); k and v are replicated once tensor parallelism
/// exceeds the KV heads, and norms are replicated everywhere. A quantisation of the linear
/// layers leaves embeddings, output projection and norms in 16 bit; GGUF's measured bits per
/// weight already cover the whole file. Plus the rotary cos/sin cache vLLM keeps as a buffer
/// (max positions × head_dim × 2 B), which is why vLLM reports 13.4966 GiB for Mistral-7B
/// rather than the 13.4888 GiB of its parameters.
pub(crate) fn weights_per_gpu(model: &ModelSpec, quant: &QuantSpec, tp: u64) -> Bytes {
    let p = model.param_counts();
    let kv_linear = 2
        * model.num_hidden_layers
        * model.hidden_size
        * model.num_key_value_heads
        * model.head_dim;
    let kv_linear_per_gpu = kv_linear_per_gpu(model, tp);
    let linear_per_gpu = (p.linear - kv_linear) as f64 / tp as f64 + kv_linear_per_gpu as f64;
    let embeddings_per_gpu = p.embeddings as f64 / tp as f64;
    let other = p.other as f64;
    let bytes = match quant.scope {
        QuantScope::WholeModel => {
            (linear_per_gpu + embeddings_per_gpu + other) * quant.bytes_per_weight()
        }
        QuantScope::LinearLayers => {
            linear_per_gpu * quant.bytes_per_weight()
                + (embeddings_per_gpu + other) * ACTIVATION_BYTES as f64
        }
    };
    let rotary_cache = u64::from(model.max_position_embeddings) * model.head_dim * ACTIVATION_BYTES;
    Bytes(bytes.round() as u64 + rotary_cache)
}

fn kv_linear_per_gpu(model: &ModelSpec, tp: u64) -> u64 {
    let per_head = 2 * model.num_hidden_layers * model.hidden_size * model.head_dim;
    per_head * kv_heads_per_gpu(model, tp)
}

/// KV heads each GPU holds: split across GPUs, but never fewer than one (replicated when
/// tensor parallelism exceeds the KV heads).
pub(crate) fn kv_heads_per_gpu(model: &ModelSpec, tp: u64) -> u64 {
    (model.num_key_value_heads / tp).max(1)
}

/// KV-cache bytes one token takes on one GPU, all layers: layers × KV heads on this GPU ×
/// head_dim × 2 (K and V) × bytes per element.
pub(crate) fn kv_bytes_per_token_per_gpu(model: &ModelSpec, tp: u64, dtype_bytes: u64) -> u64 {
    model.num_hidden_layers * kv_heads_per_gpu(model, tp) * model.head_dim * 2 * dtype_bytes
}

/// The profiling pass's peak: the larger of a prefill of `tokens` and the sampler over `seqs`
/// rows (they run one after the other, so they are not summed).
///
/// Prefill peak per token is reached in the MLP: 3h + 3I/TP elements (previous output,
/// post-attention hidden, residual, gate_up 2I/TP, activation I/TP); Qwen2 keeps gate_up alive
/// until the MLP returns, 4h + 3I/TP; a fused MoE layer holds top_k × (3I/TP + h). The sampler
/// holds `seqs × vocab` entries of `sampler_bytes_per_entry`, plus the `tokens × h` hidden state
/// from 0.9.2 on. Every V1 rank samples over the full vocabulary (logits are gathered).
pub(crate) fn activation_peak(
    model: &ModelSpec,
    profile: &Profile,
    tp: u64,
    tokens: u64,
    seqs: u64,
) -> Result<Bytes, SizingError> {
    let overflow = || SizingError::Overflow {
        what: "the profiling pass's activation peak",
        check: "--max-num-batched-tokens and --max-num-seqs",
    };
    let h = model.hidden_size;
    let i_per_gpu = model.intermediate_size / tp;
    // A checked model keeps each of these far below 2^64 (FIELD_LIMITS); the products with the
    // token and sequence counts, which come from the command line, are the ones to check.
    let per_token = if model.is_moe() {
        model.num_experts_per_tok.unwrap_or(1) * (3 * i_per_gpu + h)
    } else if model.family() == Architecture::Qwen2 || profile.mlp_keeps_gate_up {
        4 * h + 3 * i_per_gpu
    } else {
        3 * h + 3 * i_per_gpu
    };
    let product = |factors: &[u64]| {
        factors
            .iter()
            .try_fold(1u64, |p, f| p.checked_mul(*f))
            .ok_or_else(overflow)
    };
    let prefill = product(&[tokens, per_token, ACTIVATION_BYTES])?;
    let hidden = if profile.hidden_alive_in_sampler {
        product(&[tokens, h, ACTIVATION_BYTES])?
    } else {
        0
    };
    let sampler = product(&[seqs, model.vocab_size, profile.sampler_bytes_per_entry])?
        .checked_add(hidden)
        .ok_or_else(overflow)?;
    Ok(Bytes(prefill.max(sampler)))
}

/// Memory outside PyTorch's allocator that grows after start-up (NCCL, cuBLAS workspaces,
/// custom all-reduce buffers): ~0.13 GiB on one GPU and ~0.55 GiB per GPU at TP 2 in llm-d's
/// published H100 logs. It grows with TP; beyond 2 we extrapolate by +0.42 GiB per doubling,
/// an assumption not yet checked against logs. V1 0.8.0–0.9.0 also counted the CUDA context
/// (≈ 0.27 GiB, pytorch/pytorch#86509).
pub(crate) fn non_torch(profile: &Profile, tp: u64) -> Gib {
    let growth = if tp <= 1 {
        0.13
    } else {
        0.13 + 0.42 * (tp as f64).log2()
    };
    let context = if profile.counts_cuda_context {
        CUDA_CONTEXT_GIB
    } else {
        0.0
    };
    Gib(growth + context)
}

/// The CUDA context, GiB (287,047,680 B with lazy loading).
const CUDA_CONTEXT_GIB: f64 = 287_047_680.0 / 1_073_741_824.0;

/// CUDA-graph memory per GPU. vLLM prints `Graph capturing finished in N secs, took G GiB`;
/// published logs for 7B–70B models show roughly 0.3–1.5 GiB. We use 0.5 GiB as a rough,
/// labelled estimate: it only moves the KV cache from 0.20 on, when vLLM counts graphs inside
/// the budget; before, graphs come out of the `1 − gpu_memory_utilization` headroom.
pub(crate) const CUDA_GRAPHS_ESTIMATE: Gib = Gib(0.5);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn model(id: &str) -> &'static ModelSpec {
        Catalogue::builtin().model(id).unwrap()
    }

    fn quant(id: &str) -> &'static QuantSpec {
        Catalogue::builtin().quant(id).unwrap()
    }

    /// Mistral-7B in BF16: 7,241,732,096 parameters × 2 B = 14,483,464,192 B, plus the rotary
    /// cache 32768 × 128 × 2 B = 8,388,608 B → 14,491,852,800 B = 13.4966 GiB, the figure vLLM
    /// logs as "Model loading took 13.4966 GiB".
    #[test]
    fn mistral_7b_bf16_weights_match_vllm_log() {
        let w = weights_per_gpu(model("mistral-7b-v0.1"), quant("bf16"), 1);
        assert_eq!(w.0, 14_491_852_800);
        assert_eq!((w.gib().0 * 10_000.0).round() / 10_000.0, 13.4966);
    }

    /// Llama-3-70B AWQ on 2 GPUs: linear 68,451,041,280 / 2 × 4.15625 / 8 = 17,781,227,520 B;
    /// embeddings 2,101,346,304 / 2 × 2 B = 2,101,346,304 B; norms 1,318,912 × 2 = 2,637,824 B;
    /// rotary 8192 × 128 × 2 = 2,097,152 B. Total 19,887,308,800 B = 18.52 GiB.
    #[test]
    fn llama_3_70b_awq_tp2_weights_by_hand() {
        let w = weights_per_gpu(model("llama-3-70b"), quant("awq"), 2);
        assert_eq!(w.0, 19_887_308_800);
    }

    /// TP 16 on 8 KV heads: each GPU keeps one whole KV head of k and v, so their weights stop
    /// shrinking: 2 × 80 layers × 8192 × 128 = 167,772,160 parameters per GPU.
    #[test]
    fn kv_projections_are_replicated_beyond_kv_heads() {
        let m = model("llama-3-70b");
        assert_eq!(kv_heads_per_gpu(m, 16), 1);
        assert_eq!(kv_linear_per_gpu(m, 16), 167_772_160);
        assert_eq!(kv_linear_per_gpu(m, 8), 167_772_160);
        assert_eq!(kv_linear_per_gpu(m, 2), 4 * 167_772_160);
    }

    /// Mistral-7B, 1 GPU: 32 layers × 8 heads × 128 × 2 × 2 B = 131,072 B (128 KiB).
    /// Llama-3-70B, 2 GPUs: 80 × 4 × 128 × 2 × 2 = 163,840 B per GPU.
    #[test]
    fn kv_bytes_per_token_by_hand() {
        assert_eq!(
            kv_bytes_per_token_per_gpu(model("mistral-7b-v0.1"), 1, 2),
            131_072
        );
        assert_eq!(
            kv_bytes_per_token_per_gpu(model("llama-3-70b"), 2, 2),
            163_840
        );
        assert_eq!(
            kv_bytes_per_token_per_gpu(model("codestral-22b-v0.1"), 1, 2),
            229_376
        );
    }

    /// Mistral-7B, V1 on an A100 (T 2048, S 256): prefill 2048 × (3×4096 + 3×14336) × 2 B =
    /// 226,492,416 B; sampler 256 × 32000 × 14 + 2048 × 4096 × 2 = 131,469,312 B. Peak: prefill.
    #[test]
    fn activation_peak_is_the_larger_pass() {
        let profile = Profile::of("0.19.0".parse().unwrap());
        let peak = activation_peak(model("mistral-7b-v0.1"), &profile, 1, 2048, 256).unwrap();
        assert_eq!(peak.0, 226_492_416);
        // Llama-3-70B at TP 2: its 128,256-entry vocabulary makes the sampler the peak:
        // 256 × 128,256 × 14 + 2048 × 8192 × 2 = 493,223,936 B.
        let peak = activation_peak(model("llama-3-70b"), &profile, 2, 2048, 256).unwrap();
        assert_eq!(peak.0, 493_223_936);
    }

    /// Billions of batched tokens on a large MoE model: the peak's bytes pass 2^64, and the
    /// answer is an error naming the settings, not a wrapped small number.
    #[test]
    fn an_activation_peak_beyond_64_bits_is_an_error() {
        let profile = Profile::of("0.19.0".parse().unwrap());
        let err = activation_peak(model("mixtral-8x22b-v0.1"), &profile, 1, u64::MAX / 4, 256);
        assert!(matches!(err, Err(SizingError::Overflow { .. })), "{err:?}");
    }
}
