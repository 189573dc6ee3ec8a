//! A first-order timing model of one engine step, from a roofline of the GPU.
//!
//! Decode is bandwidth-bound: every step reads the weights once (for MoE, only the experts
//! the batch touches) and the KV cache of every running sequence. Prefill is compute-bound:
//! about 2 × active parameters FLOPs per token, plus attention FLOPs growing with context.
//! A step that mixes both (continuous batching) pays both. Peaks come from the catalogue and
//! are derated by efficiency factors: 80 % of datasheet bandwidth (STREAM-like copies reach
//! about that on H100, shared/reference/gpus.md; a single-stream vLLM decode of
//! Llama-3.1-8B on an A100 runs at "roughly 77 % of the GPU's memory-bandwidth ceiling",
//! johnmusgrave.com/p/vllm-throughput-latency-sweep-on) and 50 % of dense tensor throughput
//! (large dense GEMMs as in prefill: Megatron-LM sustains 52 % of A100 peak, Narayanan et al.,
//! "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM", SC'21).
//! `jauge calibrate` fits them on measured datasets; everything this model produces is
//! labelled simulated.
//!
//! ```
//! use jauge::catalogue::Catalogue;
//! use jauge::perf::StepTimer;
//! use jauge::sizing::SizingRequest;
//!
//! let cat = Catalogue::builtin();
//! let request = SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?);
//! let timer = StepTimer::new(&request)?;
//! let one = timer.step_s(0, 0, 1, 1024);
//! let many = timer.step_s(0, 0, 32, 32 * 1024);
//! assert!(one > 0.009 && one < 0.015); // ~14.5 GB of weights at ~1.24 TB/s
//! assert!(many > one && many < 32.0 * one); // batching shares the weight reads
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::catalogue::QuantKind;
use crate::error::SizingError;
use crate::sizing::{size, SizingRequest};

/// Share of datasheet memory bandwidth a decode step achieves.
pub const BANDWIDTH_EFFICIENCY: f64 = 0.8;
/// Share of dense tensor throughput a prefill achieves.
pub const COMPUTE_EFFICIENCY: f64 = 0.5;
/// Fixed cost of one engine step (scheduling, kernel launches), seconds; an assumption.
pub const STEP_OVERHEAD_S: f64 = 0.001;

/// The efficiency factors of the roofline: what share of the datasheet's peaks a real engine
/// reaches, and a fixed cost per step. [`Efficiency::default`] holds the published-measurement
/// defaults above; `jauge calibrate` fits them on measured datasets.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Efficiency {
    /// Share of datasheet memory bandwidth a decode step achieves.
    pub bandwidth: f64,
    /// Share of dense tensor throughput a prefill achieves.
    pub compute: f64,
    /// Fixed cost of one engine step, seconds.
    pub step_overhead_s: f64,
}

impl Default for Efficiency {
    /// ```
    /// assert_eq!(jauge::perf::Efficiency::default().bandwidth, 0.8);
    /// ```
    fn default() -> Self {
        Efficiency {
            bandwidth: BANDWIDTH_EFFICIENCY,
            compute: COMPUTE_EFFICIENCY,
            step_overhead_s: STEP_OVERHEAD_S,
        }
    }
}

/// Times engine steps of one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTimer {
    /// Weights that every step reads regardless of the batch, bytes per GPU.
    dense_weight_bytes: f64,
    /// Expert weights per GPU, all experts, bytes (0 for dense models).
    expert_weight_bytes: f64,
    experts: f64,
    experts_per_token: f64,
    kv_bytes_per_token: f64,
    flops_per_token: f64,
    attention_flops_per_token_pair: f64,
    bandwidth_bytes_s: f64,
    flops_s: f64,
    step_overhead_s: f64,
}

impl StepTimer {
    /// The timer for a deployment, sized as [`size`] sizes it.
    ///
    /// # Errors
    ///
    /// The [`SizingError`]s of [`size`] (bad settings, an unsupported format).
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// let cat = Catalogue::builtin();
    /// let mut r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("h100-80gb")?);
    /// assert!(jauge::perf::StepTimer::new(&r).is_ok());
    /// r.gpu_count = 0;
    /// assert!(jauge::perf::StepTimer::new(&r).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(request: &SizingRequest<'_>) -> Result<StepTimer, SizingError> {
        StepTimer::with_efficiency(request, Efficiency::default())
    }

    /// The timer with other efficiency factors (a calibration's).
    ///
    /// # Errors
    ///
    /// The [`SizingError`]s of [`size`].
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// use jauge::perf::{Efficiency, StepTimer};
    /// let cat = Catalogue::builtin();
    /// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// let slow = Efficiency { bandwidth: 0.4, ..Efficiency::default() };
    /// assert!(StepTimer::with_efficiency(&r, slow)?.step_s(0, 0, 1, 100) > StepTimer::new(&r)?.step_s(0, 0, 1, 100));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_efficiency(
        request: &SizingRequest<'_>,
        efficiency: Efficiency,
    ) -> Result<StepTimer, SizingError> {
        let sizing = size(request)?;
        let model = request.model;
        let gpu = request.gpu;
        let tp = f64::from(request.gpu_count);
        let params = model.param_counts();
        let weight_bytes = sizing.weights_gib_per_gpu * 1_073_741_824.0;
        let (experts, experts_per_token) =
            match (model.num_local_experts, model.num_experts_per_tok) {
                (Some(e), Some(k)) if e > 1 => (e as f64, k as f64),
                _ => (1.0, 1.0),
            };
        let expert_params = if experts > 1.0 {
            (model.num_hidden_layers
                * model.num_local_experts.unwrap_or(1)
                * 3
                * model.hidden_size
                * model.intermediate_size) as f64
        } else {
            0.0
        };
        let expert_weight_bytes = weight_bytes * expert_params / params.total as f64;
        let quant_kind = crate::catalogue::Catalogue::builtin()
            .quant(&sizing.quant)
            .map(|q| q.kind)
            .unwrap_or(QuantKind::Float);
        let tflops = match quant_kind {
            QuantKind::Fp8 => gpu.fp8_tflops,
            QuantKind::Int8 => gpu.int8_tops,
            _ => None,
        }
        .or(gpu.bf16_tflops)
        .unwrap_or(gpu.fp16_tflops);
        Ok(StepTimer {
            dense_weight_bytes: weight_bytes - expert_weight_bytes,
            expert_weight_bytes,
            experts,
            experts_per_token,
            kv_bytes_per_token: sizing.kv_bytes_per_token_per_gpu as f64,
            flops_per_token: 2.0 * params.active as f64 / tp,
            // QKᵀ and AV: 2 matmuls × 2 FLOPs per multiply-add over heads × head_dim, per layer.
            attention_flops_per_token_pair: 4.0
                * (model.num_hidden_layers * model.num_attention_heads * model.head_dim) as f64
                / tp,
            bandwidth_bytes_s: gpu.bandwidth_gb_s * 1e9 * efficiency.bandwidth,
            flops_s: tflops * 1e12 * efficiency.compute,
            step_overhead_s: efficiency.step_overhead_s,
        })
    }

    /// Seconds for one step that prefills `prefill_tokens` new tokens (attending over
    /// `prefill_context` tokens on average) and decodes one token for each of `decode_batch`
    /// sequences holding `decode_context` tokens in all.
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// let cat = Catalogue::builtin();
    /// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("h100-80gb")?);
    /// let t = jauge::perf::StepTimer::new(&r)?;
    /// assert!(t.step_s(4096, 2048, 0, 0) > t.step_s(128, 64, 0, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step_s(
        &self,
        prefill_tokens: u64,
        prefill_context: u64,
        decode_batch: u64,
        decode_context: u64,
    ) -> f64 {
        let tokens_in_step = prefill_tokens + decode_batch;
        if tokens_in_step == 0 {
            return 0.0;
        }
        // Weights are read once per step whoever uses them; MoE reads the experts the step's
        // tokens are routed to: E × (1 − (1 − k/E)^tokens) of E on average.
        let touched = if self.experts > 1.0 {
            self.experts
                * (1.0 - (1.0 - self.experts_per_token / self.experts).powf(tokens_in_step as f64))
        } else {
            1.0
        };
        let weight_bytes =
            self.dense_weight_bytes + self.expert_weight_bytes * touched / self.experts;
        let kv_bytes = self.kv_bytes_per_token * (decode_context + prefill_tokens) as f64;
        let memory_s = (weight_bytes + kv_bytes) / self.bandwidth_bytes_s;
        let flops = self.flops_per_token * tokens_in_step as f64
            + self.attention_flops_per_token_pair
                * (prefill_tokens * prefill_context + decode_context) as f64;
        let compute_s = flops / self.flops_s;
        // A step is bound by the slower of the two; the other overlaps with it.
        memory_s.max(compute_s) + self.step_overhead_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn timer(model: &str, gpu: &str, gpus: u32) -> StepTimer {
        let cat = Catalogue::builtin();
        let r = SizingRequest {
            gpu_count: gpus,
            ..SizingRequest::new(cat.model(model).unwrap(), cat.gpu(gpu).unwrap())
        };
        StepTimer::new(&r).unwrap()
    }

    /// Mistral-7B-v0.3 on an A100-40GB, one sequence of 1024 tokens: weights 14.50 GB +
    /// KV 1025 × 131,072 B = 0.13 GB, over 1555 GB/s × 0.8 = 1244 GB/s → 11.76 ms, + 1 ms.
    #[test]
    fn single_decode_step_by_hand() {
        let t = timer("mistral-7b-v0.3", "a100-40gb", 1);
        let s = t.step_s(0, 0, 1, 1024);
        let expected = (14_504_435_712.0 + 1024.0 * 131_072.0) / 1.244e12 + 0.001;
        assert!((s - expected).abs() < 1e-6, "{s} vs {expected}");
    }

    /// Prefill of 4096 tokens is compute-bound: 2 × 7.25e9 × 4096 = 5.9e13 FLOPs at
    /// 312e12 × 0.5 → ~0.38 s, far above the 11.8 ms of reading the weights.
    #[test]
    fn long_prefill_is_compute_bound() {
        let t = timer("mistral-7b-v0.3", "a100-40gb", 1);
        let s = t.step_s(4096, 2048, 0, 0);
        assert!(s > 0.38 && s < 0.5, "{s}");
    }

    #[test]
    fn moe_decode_reads_more_experts_as_the_batch_grows() {
        let t = timer("mixtral-8x7b-v0.1", "a100-80gb", 2);
        let one = t.step_s(0, 0, 1, 512);
        let many = t.step_s(0, 0, 64, 64 * 512);
        assert!(many > 1.5 * one, "{one} {many}");
    }

    #[test]
    fn more_gpus_make_steps_shorter() {
        assert!(
            timer("llama-3-70b", "h100-80gb", 4).step_s(0, 0, 8, 8000)
                < timer("llama-3-70b", "h100-80gb", 2).step_s(0, 0, 8, 8000)
        );
    }
}
