//! Quantisations: effective bits per weight, what they apply to, and which GPUs run them.

use serde::{Deserialize, Serialize};

use super::gpu::{ComputeCapability, GpuSpec};

/// One weight format.
///
/// ```
/// let q = jauge::catalogue::Catalogue::builtin().quant("gguf-q6_k")?;
/// assert_eq!(q.bits_per_weight, 6.5625); // 210 bytes per 256 weights
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantSpec {
    /// Catalogue id (`awq`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// The family of format.
    pub kind: QuantKind,
    /// Bits per weight including scales and zero points.
    pub bits_per_weight: f64,
    /// What the bits apply to; the rest stays in 16 bit.
    pub scope: QuantScope,
    /// The lowest compute capability vLLM runs it on.
    pub vllm_min_compute_capability: ComputeCapability,
    /// A GPU feature it needs beyond the compute capability (`bf16`).
    #[serde(default)]
    pub needs: Option<String>,
    /// Where these numbers come from.
    pub source: String,
}

/// The family of a weight format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantKind {
    /// FP16 or BF16, unquantised.
    Float,
    /// FP8 weights and activations.
    Fp8,
    /// INT8 weights and activations.
    Int8,
    /// Activation-aware weight quantisation.
    Awq,
    /// GPTQ.
    Gptq,
    /// llama.cpp's GGUF block formats.
    Gguf,
}

/// Which parameters a format's bits apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantScope {
    /// Every parameter (FP16/BF16; GGUF mixes, whose bits per weight are measured over the
    /// whole file).
    WholeModel,
    /// The blocks' linear layers only; embeddings, output projection, norms stay 16 bit.
    LinearLayers,
}

impl QuantSpec {
    /// Why vLLM cannot run this format on `gpu`, or `None` when it can.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// let (awq, v100, a100) = (cat.quant("awq")?, cat.gpu("v100-16gb")?, cat.gpu("a100-40gb")?);
    /// assert!(awq.unsupported_on(v100).unwrap().contains("7.5"));
    /// assert!(awq.unsupported_on(a100).is_none());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn unsupported_on(&self, gpu: &GpuSpec) -> Option<String> {
        if self.needs.as_deref() == Some("bf16") && !gpu.has_bf16() {
            return Some(format!(
                "{} ({}, compute capability {}) has no BF16: vLLM refuses bfloat16 there and asks for --dtype half",
                gpu.id, gpu.name, gpu.compute_capability
            ));
        }
        if gpu.compute_capability < self.vllm_min_compute_capability {
            return Some(format!(
                "{} needs compute capability {} or later in vLLM; {} has {}",
                self.name, self.vllm_min_compute_capability, gpu.id, gpu.compute_capability
            ));
        }
        None
    }

    /// Bytes of one weight in this format.
    ///
    /// ```
    /// let q = jauge::catalogue::Catalogue::builtin().quant("fp8")?;
    /// assert_eq!(q.bytes_per_weight(), 1.0);
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn bytes_per_weight(&self) -> f64 {
        self.bits_per_weight / 8.0
    }
}
