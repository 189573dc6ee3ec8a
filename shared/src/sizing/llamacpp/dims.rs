//! The model facts llama.cpp's memory depends on, from a GGUF header or from the catalogue.

use serde::Serialize;

use super::LlamaCppError;
use crate::catalogue::{ModelSpec, QuantSpec, SlidingWindowLayers};
use crate::gguf::{GgmlType, Gguf, GgufWriter};

/// Where llama.cpp puts a tensor: the input layer, a repeating layer, or the output layer
/// (`src/llama-model.cpp:1603-1614`).
///
/// ```
/// use jauge::sizing::llamacpp::Placement;
/// assert_eq!(Placement::of("blk.3.attn_q.weight"), Placement::Layer(3));
/// assert_eq!(Placement::of("token_embd.weight"), Placement::Input);
/// assert_eq!(Placement::of("output_norm.weight"), Placement::Output);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Placement {
    /// Token (and position/type) embeddings: always on the CPU.
    Input,
    /// Repeating layer `n` (`blk.n.*`).
    Layer(u64),
    /// Everything else: final norm and output projection.
    Output,
}

impl Placement {
    /// The placement of a tensor named as in GGUF files.
    ///
    /// ```
    /// assert_eq!(jauge::sizing::llamacpp::Placement::of("output.weight"), jauge::sizing::llamacpp::Placement::Output);
    /// ```
    pub fn of(name: &str) -> Placement {
        if let Some(rest) = name.strip_prefix("blk.") {
            if let Some(n) = rest.split('.').next().and_then(|n| n.parse().ok()) {
                return Placement::Layer(n);
            }
        }
        if name.starts_with("token_embd")
            || name.starts_with("token_types")
            || name.starts_with("position_embd")
        {
            return Placement::Input;
        }
        Placement::Output
    }
}

/// One weight tensor: where it goes and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightTensor {
    /// The name.
    pub name: String,
    /// Where llama.cpp puts it.
    pub placement: Placement,
    /// The type; `None` for an estimate from a catalogue quantisation.
    pub ggml_type: Option<GgmlType>,
    /// Bytes.
    pub bytes: u64,
    /// Offset of its data in the file, bytes (0 for catalogue estimates).
    pub offset: u64,
}

impl WeightTensor {
    /// The type's name, or `catalogue` for an estimate.
    ///
    /// ```
    /// let t = jauge::sizing::llamacpp::WeightTensor { name: "x".into(), placement: jauge::sizing::llamacpp::Placement::Output, ggml_type: None, bytes: 1, offset: 0 };
    /// assert_eq!(t.type_name(), "catalogue");
    /// ```
    pub fn type_name(&self) -> String {
        self.ggml_type
            .map_or("catalogue".to_string(), |t| t.name().to_string())
    }
}

/// The model as llama.cpp's memory sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlamaCppModel {
    /// `general.architecture`.
    pub architecture: String,
    /// `{arch}.block_count`.
    pub n_layer: u64,
    /// `{arch}.embedding_length`.
    pub n_embd: u64,
    /// `{arch}.feed_forward_length` (per expert for MoE: `expert_feed_forward_length` when given).
    pub n_ff: u64,
    /// `{arch}.attention.head_count`.
    pub n_head: u64,
    /// `{arch}.attention.head_count_kv` (defaults to `n_head`).
    pub n_head_kv: u64,
    /// `{arch}.attention.key_length` (defaults to `n_embd / n_head`).
    pub head_dim_k: u64,
    /// `{arch}.attention.value_length` (defaults to `head_dim_k`).
    pub head_dim_v: u64,
    /// Length of `tokenizer.ggml.tokens`.
    pub n_vocab: u64,
    /// `{arch}.expert_count` (0 for dense).
    pub n_expert: u64,
    /// `{arch}.expert_used_count`.
    pub n_expert_used: u64,
    /// `{arch}.context_length`.
    pub n_ctx_train: u64,
    /// `{arch}.attention.sliding_window`, where llama.cpp uses one.
    pub sliding_window: Option<u64>,
    /// Every `swa_period`-th layer attends globally, the others slide (1: all slide).
    pub swa_period: u64,
    /// The weights.
    pub tensors: Vec<WeightTensor>,
    /// Whether tensor offsets are the file's (GGUF) rather than made up (catalogue).
    pub has_offsets: bool,
    /// Assumptions made.
    pub notes: Vec<String>,
}

/// Layers of each architecture with sliding-window attention: every `period`-th layer is
/// global (`hparams.set_swa_pattern` in `src/llama-model.cpp` per architecture).
fn swa_period(arch: &str) -> Option<u64> {
    match arch {
        "gemma2" => Some(2),
        "gemma3" => Some(6),
        "cohere2" => Some(4),
        _ => None,
    }
}

impl LlamaCppModel {
    /// Whether layer `il` uses the sliding-window cache.
    ///
    /// ```
    /// let gguf = jauge::gguf::Gguf::parse(&jauge::sizing::llamacpp::example_gguf())?;
    /// let m = jauge::sizing::llamacpp::LlamaCppModel::from_gguf(&gguf)?;
    /// assert!(!m.is_swa(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_swa(&self, il: u64) -> bool {
        self.sliding_window.is_some()
            && (self.swa_period <= 1 || il % self.swa_period < self.swa_period - 1)
    }

    /// The facts from a GGUF header.
    ///
    /// # Errors
    ///
    /// [`LlamaCppError::MissingKey`] for a missing architecture, block count, embedding length,
    /// head count or vocabulary.
    ///
    /// ```
    /// let gguf = jauge::gguf::Gguf::parse(&jauge::sizing::llamacpp::example_gguf())?;
    /// let m = jauge::sizing::llamacpp::LlamaCppModel::from_gguf(&gguf)?;
    /// assert_eq!((m.n_head, m.n_head_kv, m.head_dim_k), (4, 2, 16));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_gguf(gguf: &Gguf) -> Result<LlamaCppModel, LlamaCppError> {
        let missing = |key: &str| LlamaCppError::MissingKey {
            key: key.to_string(),
            why: "absent or not a positive integer".into(),
        };
        let architecture = gguf
            .architecture()
            .ok_or_else(|| missing("general.architecture"))?
            .to_string();
        let need = |suffix: &str| {
            gguf.arch_u64(suffix)
                .filter(|&v| v > 0)
                .ok_or_else(|| missing(&format!("{architecture}.{suffix}")))
        };
        let n_layer = need("block_count")?;
        let n_embd = need("embedding_length")?;
        let n_head = need("attention.head_count")?;
        let n_head_kv = gguf
            .arch_u64("attention.head_count_kv")
            .filter(|&v| v > 0)
            .unwrap_or(n_head);
        let head_dim_k = gguf
            .arch_u64("attention.key_length")
            .filter(|&v| v > 0)
            .unwrap_or(n_embd / n_head);
        let head_dim_v = gguf
            .arch_u64("attention.value_length")
            .filter(|&v| v > 0)
            .unwrap_or(head_dim_k);
        let n_expert = gguf.arch_u64("expert_count").unwrap_or(0);
        let n_ff = if n_expert > 0 {
            gguf.arch_u64("expert_feed_forward_length")
                .or_else(|| gguf.arch_u64("feed_forward_length"))
        } else {
            gguf.arch_u64("feed_forward_length")
        }
        .unwrap_or(4 * n_embd);
        let n_vocab = gguf
            .array_len("tokenizer.ggml.tokens")
            .or_else(|| gguf.arch_u64("vocab_size"))
            .ok_or_else(|| missing("tokenizer.ggml.tokens"))?;
        let mut notes = Vec::new();
        let sliding = gguf.arch_u64("attention.sliding_window").filter(|&w| w > 0);
        let (sliding_window, swa_period) = match (sliding, swa_period(&architecture)) {
            (Some(w), Some(p)) => (Some(w), p),
            (Some(_), None) => {
                notes.push(format!("{architecture} has a sliding window, but jauge does not know which of its layers slide: sized as full attention (an upper bound)"));
                (None, 1)
            }
            _ => (None, 1),
        };
        let tensors = gguf
            .tensors
            .iter()
            .map(|t| WeightTensor {
                name: t.name.clone(),
                placement: Placement::of(&t.name),
                ggml_type: Some(t.ggml_type),
                bytes: t.bytes(),
                offset: gguf.data_offset.saturating_add(t.offset),
            })
            .collect();
        Ok(LlamaCppModel {
            n_ctx_train: gguf.arch_u64("context_length").unwrap_or(0),
            architecture,
            n_layer,
            n_embd,
            n_ff,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            n_vocab,
            n_expert,
            n_expert_used: gguf.arch_u64("expert_used_count").unwrap_or(0),
            sliding_window,
            swa_period,
            tensors,
            has_offsets: true,
            notes,
        })
    }

    /// The facts from a catalogue model; weights at the quantisation's bits per weight, one
    /// made-up tensor per layer plus embeddings and output.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// let m = jauge::sizing::llamacpp::LlamaCppModel::from_catalogue(cat.model("llama-3-8b")?, cat.quant("gguf-q8_0")?);
    /// assert_eq!(m.tensors.len(), 32 + 2);
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn from_catalogue(model: &ModelSpec, quant: &QuantSpec) -> LlamaCppModel {
        let counts = model.param_counts();
        let bytes = |params: u64| (params as f64 * quant.bits_per_weight / 8.0).ceil() as u64;
        let n_layer = model.num_hidden_layers;
        let per_layer = (counts.total - counts.embeddings) / n_layer.max(1);
        let embd = model.vocab_size * model.hidden_size;
        let mut tensors = vec![WeightTensor {
            name: "token_embd.weight".into(),
            placement: Placement::Input,
            ggml_type: None,
            bytes: bytes(embd),
            offset: 0,
        }];
        tensors.extend((0..n_layer).map(|il| WeightTensor {
            name: format!("blk.{il}"),
            placement: Placement::Layer(il),
            ggml_type: None,
            bytes: bytes(per_layer),
            offset: 0,
        }));
        if !model.tie_word_embeddings {
            tensors.push(WeightTensor {
                name: "output.weight".into(),
                placement: Placement::Output,
                ggml_type: None,
                bytes: bytes(embd),
                offset: 0,
            });
        }
        let (sliding_window, swa_period) = match (model.sliding_window, model.sliding_window_layers)
        {
            (None, _) => (None, 1),
            (Some(w), SlidingWindowLayers::All) => (Some(u64::from(w)), 1),
            (Some(w), SlidingWindowLayers::Alternate) => (Some(u64::from(w)), 2),
        };
        LlamaCppModel {
            architecture: model.architecture.clone(),
            n_layer,
            n_embd: model.hidden_size,
            n_ff: model.intermediate_size,
            n_head: model.num_attention_heads,
            n_head_kv: model.num_key_value_heads,
            head_dim_k: model.head_dim,
            head_dim_v: model.head_dim,
            n_vocab: model.vocab_size,
            n_expert: model.num_local_experts.unwrap_or(0),
            n_expert_used: model.num_experts_per_tok.unwrap_or(0),
            n_ctx_train: u64::from(model.max_position_embeddings),
            sliding_window,
            swa_period,
            tensors,
            has_offsets: false,
            notes: vec![format!(
                "weights estimated from {}'s {} bits per weight, not a real file's tensor types",
                quant.id, quant.bits_per_weight
            )],
        }
    }
}

/// Writes the header of a tiny Llama: 2 layers, width 64, 4 heads, 2 KV heads, F16 weights.
pub(super) fn example() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.string("general.architecture", "llama");
    for (k, v) in [
        ("block_count", 2),
        ("embedding_length", 64),
        ("feed_forward_length", 128),
        ("attention.head_count", 4),
        ("attention.head_count_kv", 2),
        ("context_length", 4096),
    ] {
        w.u32(&format!("llama.{k}"), v);
    }
    w.string_array("tokenizer.ggml.tokens", 1000);
    w.tensor("token_embd.weight", &[64, 1000], GgmlType::F16);
    for il in 0..2 {
        for (name, shape) in [
            ("attn_q", [64, 64]),
            ("attn_k", [64, 32]),
            ("attn_v", [64, 32]),
            ("attn_output", [64, 64]),
            ("ffn_gate", [64, 128]),
            ("ffn_up", [64, 128]),
            ("ffn_down", [128, 64]),
        ] {
            w.tensor(&format!("blk.{il}.{name}.weight"), &shape, GgmlType::F16);
        }
        w.tensor(&format!("blk.{il}.attn_norm.weight"), &[64], GgmlType::F32);
        w.tensor(&format!("blk.{il}.ffn_norm.weight"), &[64], GgmlType::F32);
    }
    w.tensor("output_norm.weight", &[64], GgmlType::F32);
    w.tensor("output.weight", &[64, 1000], GgmlType::F16);
    w.finish()
}
