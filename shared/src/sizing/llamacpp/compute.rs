//! An estimate of llama.cpp's compute buffer: the peak of ggml's allocator over the graph that
//! `llama_context::sched_reserve` builds for one ubatch of `n_tokens` tokens
//! (`src/llama-context.cpp:628-680`).
//!
//! ggml's allocator (`ggml/src/ggml-alloc.c`) keeps the graph's inputs for the whole pass and
//! frees each intermediate tensor after its last use, so the peak is the inputs plus the
//! widest layer's live tensors. Derived from llama.cpp's graph (`src/llama-graph.cpp`) and
//! checked against its logs on CPU (`runner/tests/llamacpp_memory.rs`):
//! * inputs: the attention mask, `n_kv × n_tokens` cells per stream, f16 with flash attention
//!   and f32 without (`build_attn_inp_kq_mask`), plus token ids and positions;
//! * with flash attention the widest point is the MLP: residual and normed input
//!   (`2 × n_embd`), gate, up and their product (`3 × n_ff`, × active experts for MoE), f32;
//! * without flash attention, the scores `n_kv × n_tokens × n_head` (f32) exist at once,
//!   with Q, K, V and the residual beside them.

use super::{LlamaCppModel, LlamaCppSettings};

pub(super) struct Estimate {
    pub bytes: u64,
    pub host_bytes: u64,
    pub formula: String,
}

pub(super) fn estimate(
    m: &LlamaCppModel,
    s: &LlamaCppSettings,
    n_tokens: u64,
    n_ctx_seq: u64,
    swa_cells: Option<u64>,
) -> Estimate {
    let t = n_tokens;
    let mask_cell = if s.flash_attn { 2 } else { 4 };
    // One mask per kind of layer: full, and sliding window when the model has one.
    let mut mask = n_ctx_seq * t * mask_cell;
    if let Some(c) = swa_cells {
        mask += c * t * mask_cell;
    }
    let inputs = mask + t * 8;
    let experts = m.n_expert_used.max(1);
    let mlp = if m.n_expert > 0 {
        // Router logits and probabilities, gate/up/product per active expert, expert outputs.
        t * 4 * (2 * m.n_embd + 3 * m.n_ff * experts + m.n_embd * experts + 3 * m.n_expert)
    } else {
        t * 4 * (2 * m.n_embd + 3 * m.n_ff)
    };
    let attn_other =
        t * 4 * (3 * m.n_embd + 2 * m.n_head * m.head_dim_k + 2 * m.n_head_kv * m.head_dim_k);
    let scores = if s.flash_attn {
        0
    } else {
        // Per stream: n_ctx_seq cells × its share of the tokens × heads; all streams at once.
        n_ctx_seq * t * m.n_head * 4
    };
    let layer = if s.flash_attn {
        mlp.max(attn_other)
    } else {
        mlp.max(scores + attn_other)
    };
    Estimate {
        bytes: inputs + layer,
        host_bytes: inputs,
        formula: format!(
            "mask {} × {t} × {mask_cell} B + max(MLP {} B/token, attention {} B/token{}) over {t} tokens",
            n_ctx_seq,
            mlp / t.max(1),
            attn_other / t.max(1),
            if s.flash_attn { String::new() } else { format!(" + scores {n_ctx_seq} × {} heads × 4 B", m.n_head) }
        ),
    }
}
