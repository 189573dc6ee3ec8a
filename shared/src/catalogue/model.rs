//! Model architectures: the facts from a `config.json` that memory and speed depend on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CatalogueError;

/// A model's architecture, as its `config.json` gives it.
///
/// ```
/// let m = jauge::catalogue::Catalogue::builtin().model("mixtral-8x7b-v0.1")?;
/// assert_eq!((m.num_local_experts, m.num_experts_per_tok), (Some(8), Some(2)));
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Catalogue id (`mistral-7b-v0.3`), or the name given when loaded from a file.
    pub id: String,
    /// Human name.
    pub name: String,
    /// `architectures[0]` of the config (`MistralForCausalLM`).
    pub architecture: String,
    /// Hugging Face repositories that are this model; they work as aliases.
    #[serde(default)]
    pub hf_repos: Vec<String>,
    /// Width of the residual stream.
    pub hidden_size: u64,
    /// Transformer blocks.
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads (grouped-query attention shares them between query heads).
    pub num_key_value_heads: u64,
    /// Width of one head; not always hidden / heads (Gemma-2-27B: 128, not 144).
    pub head_dim: u64,
    /// Width of the MLP (of one expert for mixture-of-experts models).
    pub intermediate_size: u64,
    /// Vocabulary entries.
    pub vocab_size: u64,
    /// Longest sequence the model was trained for, in tokens.
    pub max_position_embeddings: u32,
    /// Attention window in tokens for sliding-window layers, when there are any.
    #[serde(default)]
    pub sliding_window: Option<u32>,
    /// Which layers use the sliding window.
    #[serde(default)]
    pub sliding_window_layers: SlidingWindowLayers,
    /// Experts per MoE layer.
    #[serde(default)]
    pub num_local_experts: Option<u64>,
    /// Experts each token is routed to.
    #[serde(default)]
    pub num_experts_per_tok: Option<u64>,
    /// Whether the output projection reuses the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Whether q/k/v projections have biases (Qwen2).
    #[serde(default)]
    pub attention_bias: bool,
    /// The checkpoint's dtype (`bfloat16`, `float16`).
    #[serde(default = "default_dtype")]
    pub torch_dtype: String,
    /// Where these numbers come from.
    #[serde(default)]
    pub source: String,
}

fn default_dtype() -> String {
    "bfloat16".to_string()
}

/// Which layers of a sliding-window model attend over the window only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlidingWindowLayers {
    /// Every layer (Mistral-7B-v0.1).
    #[default]
    All,
    /// Every other layer, the rest full attention (Gemma 2).
    Alternate,
}

/// The model family, which decides a few details of memory use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `LlamaForCausalLM`.
    Llama,
    /// `MistralForCausalLM`.
    Mistral,
    /// `MixtralForCausalLM`.
    Mixtral,
    /// `Qwen2ForCausalLM`.
    Qwen2,
    /// `Gemma2ForCausalLM`.
    Gemma2,
    /// Anything else with the standard fields; sized as a Llama-like decoder.
    Other,
}

/// Parameter counts, split the way quantisation treats them.
///
/// ```
/// let m = jauge::catalogue::Catalogue::builtin().model("mistral-7b-v0.1")?;
/// let p = m.param_counts();
/// assert_eq!(p.total, 7_241_732_096); // the 7.24 B everyone quotes
/// assert_eq!(p.total, p.linear + p.embeddings + p.other);
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamCounts {
    /// Every parameter (all experts).
    pub total: u64,
    /// Parameters one token uses (only its routed experts).
    pub active: u64,
    /// Linear layers of the blocks (attention and MLP/experts): what AWQ/GPTQ/FP8 quantise.
    pub linear: u64,
    /// Token embeddings plus the output projection (once when tied).
    pub embeddings: u64,
    /// Norms, router gates and biases: kept in 16 bit.
    pub other: u64,
}

/// The largest value each architecture field may take, and why: far beyond every published
/// model (the largest today: hidden 16,384, 126 layers and MLP 53,248 in Llama-3.1-405B; 256,000
/// entries of vocabulary in Gemma 2; 384 experts in Kimi K2; heads and head width in the
/// hundreds), yet small enough that every product the sizing forms from them fits in 64 bits.
/// A `config.json` beyond them is a mistake or an attack, not a model.
///
/// ```
/// let limits = jauge::catalogue::FIELD_LIMITS;
/// assert!(limits.iter().any(|(field, max)| *field == "hidden_size" && *max == 262_144));
/// ```
pub const FIELD_LIMITS: &[(&str, u64)] = &[
    ("hidden_size", 1 << 18),
    ("num_hidden_layers", 1 << 12),
    ("num_attention_heads", 1 << 12),
    ("num_key_value_heads", 1 << 12),
    ("head_dim", 1 << 12),
    ("intermediate_size", 1 << 20),
    ("vocab_size", 1 << 24),
    ("num_local_experts", 1 << 12),
    ("num_experts_per_tok", 1 << 12),
    ("max_position_embeddings", u32::MAX as u64),
    ("sliding_window", u32::MAX as u64),
];

/// `value` of field `name` is above 0 and within [`FIELD_LIMITS`]; the error is a phrase to
/// put after the field's name.
fn check_field(name: &str, value: u64) -> Result<(), String> {
    if value == 0 {
        return Err("must be above 0".to_string());
    }
    let max = FIELD_LIMITS
        .iter()
        .find(|(field, _)| *field == name)
        .map_or(u64::MAX, |(_, max)| *max);
    if value > max {
        return Err(format!(
            "{value} is beyond any real model (at most {max}); check the config's numbers"
        ));
    }
    Ok(())
}

/// The product of `factors`, or `None` when it does not fit in 64 bits.
fn product(factors: &[u64]) -> Option<u64> {
    factors.iter().try_fold(1u64, |p, f| p.checked_mul(*f))
}

impl ModelSpec {
    /// The model family from [`ModelSpec::architecture`].
    ///
    /// ```
    /// use jauge::catalogue::{Architecture, Catalogue};
    /// assert_eq!(Catalogue::builtin().model("qwen2.5-7b")?.family(), Architecture::Qwen2);
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn family(&self) -> Architecture {
        match self.architecture.as_str() {
            "LlamaForCausalLM" => Architecture::Llama,
            "MistralForCausalLM" => Architecture::Mistral,
            "MixtralForCausalLM" => Architecture::Mixtral,
            "Qwen2ForCausalLM" => Architecture::Qwen2,
            "Gemma2ForCausalLM" => Architecture::Gemma2,
            _ => Architecture::Other,
        }
    }

    /// Whether this is a mixture-of-experts model.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert!(cat.model("mixtral-8x22b-v0.1")?.is_moe());
    /// assert!(!cat.model("codestral-22b-v0.1")?.is_moe());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn is_moe(&self) -> bool {
        self.num_local_experts.is_some_and(|e| e > 1)
    }

    /// Layers that attend over the sliding window only.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.model("gemma-2-27b")?.sliding_layers(), 23);
    /// assert_eq!(cat.model("mistral-7b-v0.1")?.sliding_layers(), 32);
    /// assert_eq!(cat.model("mistral-7b-v0.3")?.sliding_layers(), 0);
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn sliding_layers(&self) -> u64 {
        match (self.sliding_window, self.sliding_window_layers) {
            (None, _) => 0,
            (Some(_), SlidingWindowLayers::All) => self.num_hidden_layers,
            // Gemma 2: layers 0, 2, 4, … slide (vLLM `gemma2.py`: `layer_idx % 2 == 0`).
            (Some(_), SlidingWindowLayers::Alternate) => self.num_hidden_layers.div_ceil(2),
        }
    }

    /// Parameters, counted from the architecture.
    ///
    /// Per block: q and o are `hidden × heads·head_dim`; k and v `hidden × kv_heads·head_dim`;
    /// the MLP (each expert) is gate, up and down, `3 × hidden × intermediate`; a router is
    /// `hidden × experts`; norms are `hidden` each (two per block, four in Gemma 2). Then the
    /// embeddings `vocab × hidden`, the output projection again unless tied, a final norm.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// let mixtral = cat.model("mixtral-8x7b-v0.1")?.param_counts();
    /// assert_eq!(mixtral.total / 100_000_000, 467);  // 46.7 B resident
    /// assert_eq!(mixtral.active / 100_000_000, 128); // 12.9 B per token
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn param_counts(&self) -> ParamCounts {
        // Saturating, never wrapping: `check` refuses every model whose counts would not fit
        // in 64 bits, so a checked model never reaches the saturation.
        self.checked_param_counts().unwrap_or(ParamCounts {
            total: u64::MAX,
            active: u64::MAX,
            linear: u64::MAX,
            embeddings: u64::MAX,
            other: u64::MAX,
        })
    }

    /// [`ModelSpec::param_counts`], or `None` when a count does not fit in 64 bits.
    ///
    /// ```
    /// let mut m = jauge::catalogue::Catalogue::builtin().model("llama-3-8b")?.clone();
    /// assert!(m.checked_param_counts().is_some());
    /// m.hidden_size = u64::MAX;
    /// assert!(m.checked_param_counts().is_none());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn checked_param_counts(&self) -> Option<ParamCounts> {
        let h = self.hidden_size;
        let q_width = self.num_attention_heads.checked_mul(self.head_dim)?;
        let kv_width = self.num_key_value_heads.checked_mul(self.head_dim)?;
        let attention = product(&[2, h, q_width])?.checked_add(product(&[2, h, kv_width])?)?;
        let expert = product(&[3, h, self.intermediate_size])?;
        let experts = self.num_local_experts.unwrap_or(1);
        let active_experts = self.num_experts_per_tok.unwrap_or(1).min(experts);
        let router = if self.is_moe() {
            h.checked_mul(experts)?
        } else {
            0
        };
        let bias = if self.attention_bias {
            q_width.checked_add(kv_width.checked_mul(2)?)?
        } else {
            0
        };
        let norms_per_layer: u64 = if self.family() == Architecture::Gemma2 {
            4
        } else {
            2
        };
        let layers = self.num_hidden_layers;
        let per_layer = |experts: u64| attention.checked_add(experts.checked_mul(expert)?);
        let linear = layers.checked_mul(per_layer(experts)?)?;
        let linear_active = layers.checked_mul(per_layer(active_experts)?)?;
        let embeddings = product(&[
            self.vocab_size,
            h,
            if self.tie_word_embeddings { 1 } else { 2 },
        ])?;
        let other = layers
            .checked_mul(
                norms_per_layer
                    .checked_mul(h)?
                    .checked_add(router)?
                    .checked_add(bias)?,
            )?
            .checked_add(h)?;
        Some(ParamCounts {
            total: linear.checked_add(embeddings)?.checked_add(other)?,
            active: linear_active.checked_add(embeddings)?.checked_add(other)?,
            linear,
            embeddings,
            other,
        })
    }

    /// Checks the architecture's numbers, each against the range a real model can have and
    /// against each other.
    ///
    /// # Errors
    ///
    /// A phrase naming the field: zero sizes, a size beyond [`FIELD_LIMITS`], more KV heads
    /// than heads, heads not a multiple of KV heads, more routed experts than experts, counts
    /// that do not fit in 64 bits.
    ///
    /// ```
    /// let mut m = jauge::catalogue::Catalogue::builtin().model("llama-3-8b")?.clone();
    /// assert!(m.check().is_ok());
    /// m.num_key_value_heads = 7;
    /// assert!(m.check().unwrap_err().contains("num_key_value_heads"));
    /// m.num_key_value_heads = 8;
    /// m.hidden_size = u64::MAX;
    /// assert!(m.check().unwrap_err().starts_with("`hidden_size` 18446744073709551615 is beyond"));
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            (
                "max_position_embeddings",
                u64::from(self.max_position_embeddings),
            ),
        ]
        .into_iter()
        .chain(self.num_local_experts.map(|e| ("num_local_experts", e)))
        {
            check_field(name, value).map_err(|m| format!("`{name}` {m}"))?;
        }
        if self.num_key_value_heads > self.num_attention_heads
            || self.num_attention_heads % self.num_key_value_heads != 0
        {
            return Err(format!(
                "`num_key_value_heads` {} must divide num_attention_heads {}",
                self.num_key_value_heads, self.num_attention_heads
            ));
        }
        if let (Some(experts), Some(per_token)) = (self.num_local_experts, self.num_experts_per_tok)
        {
            if per_token == 0 || per_token > experts {
                return Err(format!(
                    "`num_experts_per_tok` {per_token} must be between 1 and num_local_experts {experts}"
                ));
            }
        }
        if self.sliding_window == Some(0) {
            return Err("`sliding_window` must be above 0 (or null)".to_string());
        }
        if self.checked_param_counts().is_none() {
            return Err(
                "`hidden_size` × `intermediate_size` × experts × `num_hidden_layers` gives more than 2^64 parameters; check the config's numbers".to_string(),
            );
        }
        Ok(())
    }

    /// Describes a model from its Hugging Face `config.json`, under the name `id`.
    ///
    /// Llama, Mistral, Mixtral, Qwen2 and Gemma 2 configs are read with their families'
    /// defaults (Qwen2's window only when `use_sliding_window` is true; Gemma 2's window on
    /// every other layer, embeddings tied). Any other architecture is accepted when it has the
    /// standard fields and sized as a Llama-like decoder.
    ///
    /// # Errors
    ///
    /// [`CatalogueError::ConfigJson`] when the text is not a JSON object,
    /// [`CatalogueError::ConfigMissingField`] naming the first missing field,
    /// [`CatalogueError::ConfigBadValue`] for a field of the wrong type or inconsistent value.
    ///
    /// ```
    /// use jauge::catalogue::ModelSpec;
    /// let config = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
    ///   "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    ///   "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 8192}"#;
    /// let m = ModelSpec::from_hf_config(config, "my-llama")?;
    /// assert_eq!(m.head_dim, 128);
    ///
    /// let err = ModelSpec::from_hf_config(r#"{"architectures": ["FooForCausalLM"]}"#, "x").unwrap_err();
    /// assert!(err.to_string().contains("missing field `hidden_size`"));
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn from_hf_config(text: &str, id: &str) -> Result<ModelSpec, CatalogueError> {
        let value: Value = serde_json::from_str(text).map_err(|e| CatalogueError::ConfigJson {
            message: format!("not valid JSON: {e}"),
        })?;
        // Multimodal wrappers (Llava, Mistral3, Gemma3) keep the language model under text_config.
        let config = value
            .get("text_config")
            .filter(|v| v.is_object())
            .unwrap_or(&value);
        let Some(object) = config.as_object() else {
            return Err(CatalogueError::ConfigJson {
                message: "expected a JSON object".to_string(),
            });
        };
        let architecture = value
            .get("architectures")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .or_else(|| object.get("model_type").and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_string();
        let field = |name: &str| -> Result<Option<u64>, CatalogueError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| CatalogueError::ConfigBadValue {
                        field: name.to_string(),
                        message: format!("expected a whole number, found {v}"),
                    }),
            }
        };
        // Each number is checked for range as it is read, so the error names the field that
        // is wrong rather than one derived from it later.
        let in_range = |name: &str, value: Option<u64>| -> Result<Option<u64>, CatalogueError> {
            if let Some(v) = value {
                check_field(name, v).map_err(|message| CatalogueError::ConfigBadValue {
                    field: name.to_string(),
                    message,
                })?;
            }
            Ok(value)
        };
        let field = |name: &str| in_range(name, field(name)?);
        let required = |name: &str| -> Result<u64, CatalogueError> {
            field(name)?.ok_or_else(|| CatalogueError::ConfigMissingField {
                field: name.to_string(),
                architecture: architecture.clone(),
            })
        };
        let hidden_size = required("hidden_size")?;
        let num_hidden_layers = required("num_hidden_layers")?;
        let num_attention_heads = required("num_attention_heads")?;
        let intermediate_size = required("intermediate_size")?;
        let vocab_size = required("vocab_size")?;
        let max_position_embeddings = required("max_position_embeddings")?;
        let num_key_value_heads = field("num_key_value_heads")?.unwrap_or(num_attention_heads);
        let head_dim = match field("head_dim")? {
            Some(d) => d,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(CatalogueError::ConfigMissingField {
                    field: "head_dim".to_string(),
                    architecture,
                })
            }
        };
        let bool_field = |name: &str| object.get(name).and_then(Value::as_bool);
        let is_gemma2 = architecture == "Gemma2ForCausalLM";
        let is_qwen2 = architecture == "Qwen2ForCausalLM";
        let window = field("sliding_window")?;
        let sliding_window = if is_qwen2 && !bool_field("use_sliding_window").unwrap_or(false) {
            None
        } else {
            window
        };
        let spec = ModelSpec {
            id: id.to_string(),
            name: object
                .get("_name_or_path")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_string(),
            architecture: architecture.clone(),
            hf_repos: Vec::new(),
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            intermediate_size,
            vocab_size,
            max_position_embeddings: u32::try_from(max_position_embeddings).map_err(|_| {
                CatalogueError::ConfigBadValue {
                    field: "max_position_embeddings".to_string(),
                    message: format!("{max_position_embeddings} is too large"),
                }
            })?,
            sliding_window: sliding_window.and_then(|w| u32::try_from(w).ok()),
            sliding_window_layers: if is_gemma2 {
                SlidingWindowLayers::Alternate
            } else {
                SlidingWindowLayers::All
            },
            num_local_experts: field("num_local_experts")?,
            num_experts_per_tok: field("num_experts_per_tok")?,
            tie_word_embeddings: bool_field("tie_word_embeddings").unwrap_or(is_gemma2),
            attention_bias: bool_field("attention_bias").unwrap_or(is_qwen2),
            torch_dtype: object
                .get("torch_dtype")
                .or_else(|| object.get("dtype"))
                .and_then(Value::as_str)
                .unwrap_or("bfloat16")
                .to_string(),
            source: "config.json given at run time".to_string(),
        };
        spec.check()
            .map_err(|message| CatalogueError::ConfigBadValue {
                field: message.split('`').nth(1).unwrap_or("config").to_string(),
                message,
            })?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn params(id: &str) -> ParamCounts {
        Catalogue::builtin().model(id).unwrap().param_counts()
    }

    /// The totals the model cards and shared/reference/models.md quote, to 0.1 B.
    #[test]
    fn parameter_counts_match_published_sizes() {
        let billions = |n: u64| (n as f64 / 1e9 * 10.0).round() / 10.0;
        assert_eq!(billions(params("mistral-7b-v0.1").total), 7.2);
        assert_eq!(billions(params("mixtral-8x7b-v0.1").total), 46.7);
        assert_eq!(billions(params("mixtral-8x7b-v0.1").active), 12.9);
        assert_eq!(billions(params("mixtral-8x22b-v0.1").total), 140.6);
        assert_eq!(billions(params("mixtral-8x22b-v0.1").active), 39.2);
        assert_eq!(billions(params("codestral-22b-v0.1").total), 22.2);
        assert_eq!(billions(params("llama-3-70b").total), 70.6);
        assert_eq!(billions(params("llama-3-8b").total), 8.0);
        assert_eq!(billions(params("qwen2.5-7b").total), 7.6);
        assert_eq!(billions(params("gemma-2-27b").total), 27.2);
    }

    /// Llama-3-70B by hand: per block q,o 8192×8192 each, k,v 8192×1024 each, MLP 3×8192×28672
    /// = 855,638,016; ×80 = 68,451,041,280 linear parameters. Embeddings and lm_head
    /// 2×128256×8192 = 2,101,346,304. Norms 80×2×8192 + 8192 = 1,318,912.
    #[test]
    fn llama_3_70b_split_by_hand() {
        let p = params("llama-3-70b");
        assert_eq!(p.linear, 68_451_041_280);
        assert_eq!(p.embeddings, 2_101_346_304);
        assert_eq!(p.other, 1_318_912);
    }

    #[test]
    fn qwen2_config_ignores_window_unless_enabled() {
        let config = r#"{"architectures":["Qwen2ForCausalLM"],"hidden_size":3584,"num_hidden_layers":28,
            "num_attention_heads":28,"num_key_value_heads":4,"intermediate_size":18944,"vocab_size":152064,
            "max_position_embeddings":32768,"sliding_window":131072,"use_sliding_window":false}"#;
        let m = ModelSpec::from_hf_config(config, "q").unwrap();
        assert_eq!(m.sliding_window, None);
        assert!(m.attention_bias);
        assert_eq!(m.param_counts(), params("qwen2.5-7b"));
    }

    #[test]
    fn gemma2_config_alternates_and_ties() {
        let config = r#"{"architectures":["Gemma2ForCausalLM"],"hidden_size":4608,"num_hidden_layers":46,
            "num_attention_heads":32,"num_key_value_heads":16,"head_dim":128,"intermediate_size":36864,
            "vocab_size":256000,"max_position_embeddings":8192,"sliding_window":4096}"#;
        let m = ModelSpec::from_hf_config(config, "g").unwrap();
        assert_eq!(m.sliding_window_layers, SlidingWindowLayers::Alternate);
        assert!(m.tie_word_embeddings);
        assert_eq!(m.param_counts(), params("gemma-2-27b"));
    }

    #[test]
    fn mixtral_config_matches_catalogue() {
        let config = r#"{"architectures":["MixtralForCausalLM"],"hidden_size":4096,"num_hidden_layers":32,
            "num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"vocab_size":32000,
            "max_position_embeddings":32768,"sliding_window":null,"num_local_experts":8,"num_experts_per_tok":2,
            "tie_word_embeddings":false}"#;
        let m = ModelSpec::from_hf_config(config, "m").unwrap();
        assert_eq!(m.param_counts(), params("mixtral-8x7b-v0.1"));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let config = r#"{"hidden_size":"big"}"#;
        let err = ModelSpec::from_hf_config(config, "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.json: field `hidden_size`: expected a whole number, found \"big\""
        );
    }

    /// A careless or hostile config.json: numbers that would overflow the sizing's arithmetic
    /// are refused with the field named, never wrapped into a plausible answer.
    #[test]
    fn absurd_numbers_are_refused_with_the_field_named() {
        let base = r#""num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":128,
            "vocab_size":100,"max_position_embeddings":128"#;
        let config = format!(r#"{{"hidden_size":18446744073709551615,{base}}}"#);
        let err = ModelSpec::from_hf_config(&config, "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "config.json: field `hidden_size`: 18446744073709551615 is beyond any real model"
            ),
            "{err}"
        );
        let config = r#"{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":0,
            "intermediate_size":128,"vocab_size":100,"max_position_embeddings":128}"#;
        let err = ModelSpec::from_hf_config(config, "x")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config.json: field `num_attention_heads`: must be above 0"
        );
    }

    /// Every field at its limit at once still gives counts that fit in 64 bits: the limits are
    /// chosen so that `check` can only fail on a field, not on an overflow it cannot name.
    #[test]
    fn a_model_at_every_limit_still_counts_in_64_bits() {
        let limit = |name: &str| FIELD_LIMITS.iter().find(|(f, _)| *f == name).unwrap().1;
        let mut m = Catalogue::builtin()
            .model("mixtral-8x7b-v0.1")
            .unwrap()
            .clone();
        m.hidden_size = limit("hidden_size");
        m.num_hidden_layers = limit("num_hidden_layers");
        m.num_attention_heads = limit("num_attention_heads");
        m.num_key_value_heads = limit("num_key_value_heads");
        m.head_dim = limit("head_dim");
        m.intermediate_size = limit("intermediate_size");
        m.vocab_size = limit("vocab_size");
        m.num_local_experts = Some(limit("num_local_experts"));
        m.num_experts_per_tok = Some(limit("num_experts_per_tok"));
        assert!(m.checked_param_counts().is_some());
        assert_eq!(m.check(), Ok(()));
    }

    #[test]
    fn inconsistent_heads_are_refused() {
        let config = r#"{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":3,
            "intermediate_size":128,"vocab_size":100,"max_position_embeddings":128}"#;
        let err = ModelSpec::from_hf_config(config, "x").unwrap_err();
        assert!(err.to_string().contains("num_key_value_heads"), "{err}");
    }
}
