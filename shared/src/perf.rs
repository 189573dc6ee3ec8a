//! A first-order timing model of one engine step, from a roofline of the GPU. Each term says
//! where it comes from; the numbers that are jauge's own assumptions say so, and
//! `jauge calibrate` fits the efficiency factors on published and measured datasets (the fit
//! ships as the default, [`crate::calibrate::Calibration::builtin`]).
//!
//! 1. **Weights and KV cache are read once per step.** Decode is bandwidth-bound: every step
//!    reads the weights (for MoE, only the experts the step's tokens are routed to) and the KV
//!    cache of every running sequence, so attention cost grows with context. Peaks are the
//!    catalogue's datasheet figures, derated by [`Efficiency::bandwidth`] (default 80 %:
//!    STREAM-like copies reach about that on H100, `shared/reference/gpus.md`; a single-stream
//!    vLLM decode of Llama-3.1-8B on an A100 runs at "roughly 77 % of the GPU's
//!    memory-bandwidth ceiling", johnmusgrave.com/p/vllm-throughput-latency-sweep-on).
//! 2. **Prefill is compute-bound**: 2 × active parameters FLOPs per token plus attention
//!    FLOPs growing with context, at [`Efficiency::compute`] of dense tensor throughput
//!    (default 50 %: Megatron-LM sustains 52 % of A100 peak in large GEMMs, Narayanan et al.,
//!    SC'21). A step that mixes both (continuous batching) is bound by the slower.
//! 3. **Weight formats have their own kernels** ([`Kernel`]): 4-bit AWQ/GPTQ through Marlin
//!    on Ampere and later read weights within 5 % of the ideal 3.87× up to batch 32 and
//!    prefill ~10 % slower than FP16 (Frantar et al., "MARLIN", 2024); without Marlin,
//!    "AWQ support in vLLM is under-optimized … lower throughput than unquantized" (vLLM docs,
//!    0.5–0.7), GGUF in vLLM is "highly experimental and under-optimized" (vLLM docs); FP8 and
//!    INT8 W8A8 run at the GPU's FP8/INT8 peaks where it has them, FP8 on Ampere as weight-only
//!    Marlin. The kernel's shares are priors; calibration scales them per format
//!    ([`Efficiency::kernel`]).
//! 4. **MoE reads only the experts the step touches**: with top-k routing of T tokens over E
//!    experts, assumed uniform and independent, an expert is untouched with probability
//!    (1 − k/E)^T, so E × (1 − (1 − k/E)^T) experts are read.
//! 5. **Tensor parallelism all-reduces twice per layer** (after attention and after the MLP,
//!    Shoeybi et al., "Megatron-LM", 2019): a ring all-reduce moves 2(p − 1)/p of the
//!    activations (tokens × hidden × 2 bytes) over the link ([`LINK_EFFICIENCY`] of the
//!    catalogue's per-GPU link bandwidth) plus a fixed latency per call ([`ALLREDUCE_LATENCY_S`];
//!    both jauge's assumptions).
//! 6. **CUDA graphs or eager**: a step replayed from a CUDA graph pays only the engine's
//!    fixed cost per step ([`Efficiency::step_overhead_s`], default 1 ms, an assumption);
//!    eager mode (`--enforce-eager`, or a batch above the largest captured) also launches every
//!    kernel from Python: Llama-2-7B decoding 100 tokens took 1.2 s eager and 1.05 s with CUDA
//!    graphs (vLLM PR #1440), 1.5 ms per step over 32 layers, [`EAGER_S_PER_LAYER`].
//!
//! Queueing and chunked prefill, which shape TTFT, are the scheduler's
//! ([`crate::sim::Scheduler`]), not the step's.
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

use serde::{Deserialize, Serialize};

use crate::catalogue::{GpuSpec, InterconnectKind, QuantKind, QuantSpec};
use crate::error::SizingError;
use crate::sizing::{size, SizingRequest, VllmVersion};

/// Share of datasheet memory bandwidth a decode step achieves.
pub const BANDWIDTH_EFFICIENCY: f64 = 0.8;
/// Share of dense tensor throughput a prefill achieves.
pub const COMPUTE_EFFICIENCY: f64 = 0.5;
/// Fixed cost of one engine step (scheduling, sampling, a CUDA graph's replay), seconds; an
/// assumption.
pub const STEP_OVERHEAD_S: f64 = 0.001;
/// What eager mode adds per layer and step, seconds: (1.2 s − 1.05 s) / 100 steps / 32 layers
/// (vLLM PR #1440, Llama-2-7B, batch 1).
pub const EAGER_S_PER_LAYER: f64 = 0.15 / 100.0 / 32.0;
/// The largest decode batch vLLM captures in a CUDA graph (`max_capture_size`, 512 since
/// 0.6; larger batches run eager).
pub const CUDA_GRAPH_MAX_BATCH: u64 = 512;
/// Share of the catalogue's per-GPU link bandwidth (both directions) that one direction of a
/// ring all-reduce achieves; an assumption.
pub const LINK_EFFICIENCY: f64 = 0.4;
/// Fixed latency of one all-reduce call over NVLink and over PCIe, seconds; assumptions of
/// the order of NCCL's small-message latency.
pub const ALLREDUCE_LATENCY_S: [f64; 2] = [10e-6, 25e-6];

/// The efficiency factors of the roofline: what share of the datasheet's peaks a real engine
/// reaches, a fixed cost per step, and how well the weight format's kernel does against its
/// prior. [`Efficiency::default`] holds the cited defaults above; `jauge calibrate` fits them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// Share of datasheet memory bandwidth a decode step achieves.
    pub bandwidth: f64,
    /// Share of dense tensor throughput a prefill achieves.
    pub compute: f64,
    /// Fixed cost of one engine step, seconds.
    pub step_overhead_s: f64,
    /// Scale on the weight format's kernel shares ([`Kernel`]); 1 is the cited prior.
    #[serde(default = "unit")]
    pub kernel: f64,
}

fn unit() -> f64 {
    1.0
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
            kernel: 1.0,
        }
    }
}

/// How the engine runs its steps, beyond the GPU and the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Runtime {
    /// The engine's name (`vllm`, `sglang`, `tensorrt-llm`, `tgi`, `llama.cpp`, …), with
    /// vLLM's release series when known (`vllm@0.6`): calibrations key step costs by it.
    pub engine: String,
    /// Decode steps are replayed from CUDA graphs (not `--enforce-eager`).
    pub cuda_graphs: bool,
    /// Prompts are prefilled in chunks beside running decodes; otherwise a step that
    /// prefills pauses every decode (vLLM V0 without chunked prefill).
    pub chunked_prefill: bool,
    /// vLLM's release when known (major, minor, patch): which kernels it has.
    pub release: Option<(u32, u32, u32)>,
}

impl Default for Runtime {
    /// The vLLM release `jauge size` follows by default ([`VllmVersion::DEFAULT`]): CUDA
    /// graphs, chunked prefill (V1). Named with its release series, so that a calibration's
    /// step cost for vLLM of unknown release (`vllm`) is not taken for today's.
    ///
    /// ```
    /// let r = jauge::perf::Runtime::default();
    /// assert!(r.cuda_graphs && r.chunked_prefill && r.engine == "vllm@0.19");
    /// ```
    fn default() -> Self {
        Runtime::of_vllm(VllmVersion::DEFAULT, None)
    }
}

impl Runtime {
    /// vLLM of a release with its defaults, for a context of `max_model_len` tokens when
    /// known (V0 switched chunked prefill on by itself above 32,768).
    ///
    /// ```
    /// use jauge::sizing::VllmVersion;
    /// let v0 = jauge::perf::Runtime::of_vllm(VllmVersion::new(0, 6, 5), Some(8192));
    /// assert!(!v0.chunked_prefill && v0.engine == "vllm@0.6");
    /// assert!(jauge::perf::Runtime::of_vllm(VllmVersion::new(0, 6, 5), Some(65536)).chunked_prefill);
    /// ```
    pub fn of_vllm(version: VllmVersion, max_model_len: Option<u32>) -> Runtime {
        let release = (version.major, version.minor, version.patch);
        let v0 = release < (0, 8, 0);
        Runtime {
            engine: format!("vllm@{}.{}", version.major, version.minor),
            cuda_graphs: release >= (0, 2, 7),
            chunked_prefill: !v0 || max_model_len.is_some_and(|len| len > 32_768),
            release: Some(release),
        }
    }

    /// The runtime a dataset's engine describes: its name (with its release series for vLLM,
    /// `vllm@0.4`, whose per-step costs changed release by release), `enforce_eager` and
    /// `enable_chunked_prefill` when set, otherwise the release's defaults — vLLM before 0.2.7
    /// had no CUDA graphs (PR #1926, December 2023); before 0.8 (V0) it prefilled whole prompts
    /// first unless the context was above 32,768 tokens (chunked prefill switched itself on
    /// above that from 0.5.3); V1 and the other engines chunk.
    ///
    /// ```
    /// let mut engine = jauge::dataset::example().deployment.engine;
    /// engine.name = "vllm".into();
    /// engine.version = Some("0.5.4".into());
    /// engine.settings.max_model_len = Some(8192);
    /// engine.settings.other.clear();
    /// let old = jauge::perf::Runtime::of_engine(&engine);
    /// assert!(!old.chunked_prefill && old.cuda_graphs);
    /// assert_eq!(old.engine, "vllm@0.5");
    /// engine.settings.other.insert("enforce_eager".into(), serde_json::json!(true));
    /// assert!(!jauge::perf::Runtime::of_engine(&engine).cuda_graphs);
    /// engine.version = Some("0.2.5".into());
    /// engine.settings.other.clear();
    /// assert!(!jauge::perf::Runtime::of_engine(&engine).cuda_graphs);
    /// ```
    pub fn of_engine(engine: &crate::dataset::Engine) -> Runtime {
        let name = engine.name.to_lowercase();
        let flag = |key: &str| engine.settings.other.get(key).and_then(|v| v.as_bool());
        let release = (name == "vllm")
            .then(|| engine.version.as_deref().and_then(release))
            .flatten();
        let v0 = release.is_some_and(|(major, minor, _)| major == 0 && minor < 8);
        let graphs = release.is_none_or(|r| r >= (0, 2, 7));
        let long_context = engine
            .settings
            .max_model_len
            .is_some_and(|len| len > 32_768);
        Runtime {
            cuda_graphs: graphs && !flag("enforce_eager").unwrap_or(false),
            chunked_prefill: flag("enable_chunked_prefill").unwrap_or(!v0 || long_context),
            release,
            engine: match release {
                Some((major, minor, _)) => format!("{name}@{major}.{minor}"),
                None => name,
            },
        }
    }
}

/// `0.6.3.post1` → (0, 6, 3); a missing patch is 0.
fn release(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let number = |part: Option<&str>| -> Option<u32> {
        part?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    Some((major, minor, number(parts.next()).unwrap_or(0)))
}

/// What a weight format's kernel achieves on a GPU: the share of the ideal speed-up its byte
/// count promises when reading weights, and the share of the FP16 GEMM's efficiency it keeps
/// when compute-bound (dequantisation costs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kernel {
    /// Share of the bytes-based ideal when reading weights (1: as fast as its size says).
    pub weight_read: f64,
    /// Share of the FP16 GEMM efficiency in compute-bound steps.
    pub compute: f64,
    /// Which kernel, and where its figures come from.
    pub why: &'static str,
}

/// The kernel a format runs with on a GPU in an engine's release (see the module's item 3).
/// vLLM repacked GPTQ checkpoints for Marlin from 0.4.1 (`gptq_marlin`) and AWQ ones from
/// 0.5.3 (PR #6612: "Marlin kernels are up to 2.59x faster than the AWQ GEMM kernel", PR
/// #6654); before, and on GPUs older than Ampere, the GEMM kernels ran.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::perf::{kernel, Runtime};
/// let cat = Catalogue::builtin();
/// let awq = cat.quant("awq")?;
/// let today = Runtime::default();
/// let marlin = kernel(awq, cat.gpu("a100-40gb")?, &today);
/// let gemm = kernel(awq, cat.gpu("v100-16gb")?, &today);
/// assert!(marlin.weight_read > gemm.weight_read);
/// let old = Runtime { release: Some((0, 4, 2)), ..Runtime::default() };
/// assert_eq!(kernel(awq, cat.gpu("a100-40gb")?, &old), gemm);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn kernel(quant: &QuantSpec, gpu: &GpuSpec, runtime: &Runtime) -> Kernel {
    let cc = gpu.compute_capability;
    let ampere = (cc.major, cc.minor) >= (8, 0);
    let ada_or_hopper = (cc.major, cc.minor) >= (8, 9);
    let llama_cpp = runtime.engine.eq_ignore_ascii_case("llama.cpp");
    let marlin_since = match quant.kind {
        QuantKind::Gptq => (0, 4, 1),
        _ => (0, 5, 3),
    };
    let marlin = ampere && runtime.release.is_none_or(|r| r >= marlin_since);
    match quant.kind {
        QuantKind::Float => Kernel {
            weight_read: 1.0,
            compute: 1.0,
            why: "FP16/BF16 GEMMs (the reference)",
        },
        QuantKind::Awq | QuantKind::Gptq if marlin => Kernel {
            weight_read: 0.95,
            compute: 0.9,
            why: "Marlin (Ampere and later): within 5 % of the ideal speed-up up to batch 32, prefill ~10 % slower than FP16 (Frantar et al. 2024)",
        },
        QuantKind::Awq | QuantKind::Gptq => Kernel {
            weight_read: 0.4,
            compute: 0.4,
            why: "AWQ GEMM / GPTQ exllama kernels without Marlin: \"under-optimized … lower throughput than unquantized\" (vLLM docs), Marlin \"up to 2.59x faster\" (vLLM PR #6654): 0.95 / 2.59 ≈ 0.4",
        },
        QuantKind::Fp8 if ada_or_hopper => Kernel {
            weight_read: 0.95,
            compute: 0.7,
            why: "FP8 W8A8 GEMMs at the GPU's FP8 peak (CUTLASS); shares are jauge's assumption",
        },
        QuantKind::Fp8 => Kernel {
            weight_read: 0.95,
            compute: 0.9,
            why: "FP8 weight-only through Marlin on Ampere; as Marlin's 4-bit figures",
        },
        QuantKind::Int8 => Kernel {
            weight_read: 0.9,
            compute: 0.7,
            why: "INT8 W8A8 GEMMs at the GPU's INT8 peak (CUTLASS); shares are jauge's assumption",
        },
        QuantKind::Gguf if llama_cpp => Kernel {
            weight_read: 0.85,
            compute: 0.5,
            why: "llama.cpp's own CUDA kernels for its block formats; shares are jauge's assumption",
        },
        QuantKind::Gguf => Kernel {
            weight_read: 0.4,
            compute: 0.3,
            why: "GGUF in vLLM: \"highly experimental and under-optimized\" (vLLM docs); shares are jauge's assumption",
        },
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
    /// Bytes per second reading the weights (the format's kernel included).
    weight_bytes_s: f64,
    /// Bytes per second reading the KV cache.
    kv_bytes_s: f64,
    flops_s: f64,
    step_overhead_s: f64,
    /// Per step when eager: layers × [`EAGER_S_PER_LAYER`].
    eager_s: f64,
    cuda_graphs: bool,
    /// Seconds of all-reduce per token of the step, and per step (0 on one GPU).
    allreduce_s_per_token: f64,
    allreduce_s_per_step: f64,
}

impl StepTimer {
    /// The timer for a deployment, sized as [`size`] sizes it, with the default factors and
    /// today's vLLM runtime.
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
        StepTimer::with(request, Efficiency::default(), &Runtime::default())
    }

    /// The timer with other efficiency factors (a calibration's) and an engine's runtime.
    ///
    /// # Errors
    ///
    /// The [`SizingError`]s of [`size`].
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// use jauge::perf::{Efficiency, Runtime, StepTimer};
    /// let cat = Catalogue::builtin();
    /// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// let slow = Efficiency { bandwidth: 0.4, ..Efficiency::default() };
    /// let vllm = Runtime::default();
    /// assert!(StepTimer::with(&r, slow, &vllm)?.step_s(0, 0, 1, 100) > StepTimer::new(&r)?.step_s(0, 0, 1, 100));
    /// let eager = Runtime { cuda_graphs: false, ..Runtime::default() };
    /// assert!(StepTimer::with(&r, Efficiency::default(), &eager)?.step_s(0, 0, 1, 100) > StepTimer::new(&r)?.step_s(0, 0, 1, 100));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with(
        request: &SizingRequest<'_>,
        efficiency: Efficiency,
        runtime: &Runtime,
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
        let catalogue = crate::catalogue::Catalogue::builtin();
        let quant = catalogue.quant(&sizing.quant).ok();
        let kernel = quant.map_or(
            Kernel {
                weight_read: 1.0,
                compute: 1.0,
                why: "",
            },
            |q| kernel(q, gpu, runtime),
        );
        let scale = |share: f64| (share * efficiency.kernel).clamp(0.01, 1.5);
        let tflops = match quant.map(|q| q.kind) {
            Some(QuantKind::Fp8) => gpu.fp8_tflops,
            Some(QuantKind::Int8) => gpu.int8_tops,
            _ => None,
        }
        .or(gpu.bf16_tflops)
        .unwrap_or(gpu.fp16_tflops);
        let bandwidth = gpu.bandwidth_gb_s * 1e9 * efficiency.bandwidth;
        let layers = model.num_hidden_layers as f64;
        let (allreduce_s_per_token, allreduce_s_per_step) = if request.gpu_count > 1 {
            let link = gpu.interconnect.bandwidth_gb_s * 1e9 * LINK_EFFICIENCY;
            let latency = match gpu.interconnect.kind {
                InterconnectKind::Nvlink => ALLREDUCE_LATENCY_S[0],
                _ => ALLREDUCE_LATENCY_S[1],
            };
            let calls = 2.0 * layers;
            let bytes_per_token = 2.0 * (tp - 1.0) / tp * model.hidden_size as f64 * 2.0;
            (calls * bytes_per_token / link, calls * latency)
        } else {
            (0.0, 0.0)
        };
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
            weight_bytes_s: bandwidth * scale(kernel.weight_read),
            kv_bytes_s: bandwidth,
            flops_s: tflops * 1e12 * efficiency.compute * scale(kernel.compute),
            step_overhead_s: efficiency.step_overhead_s,
            eager_s: layers * EAGER_S_PER_LAYER,
            cuda_graphs: runtime.cuda_graphs,
            allreduce_s_per_token,
            allreduce_s_per_step,
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
        let touched = if self.experts > 1.0 {
            self.experts
                * (1.0 - (1.0 - self.experts_per_token / self.experts).powf(tokens_in_step as f64))
        } else {
            1.0
        };
        let weight_bytes =
            self.dense_weight_bytes + self.expert_weight_bytes * touched / self.experts;
        let kv_bytes = self.kv_bytes_per_token * (decode_context + prefill_tokens) as f64;
        let memory_s = weight_bytes / self.weight_bytes_s + kv_bytes / self.kv_bytes_s;
        let flops = self.flops_per_token * tokens_in_step as f64
            + self.attention_flops_per_token_pair
                * (prefill_tokens * prefill_context + decode_context) as f64;
        let compute_s = flops / self.flops_s;
        let allreduce_s =
            self.allreduce_s_per_step + self.allreduce_s_per_token * tokens_in_step as f64;
        // Graphs are captured for decode-only batches up to the largest size.
        let graphed =
            self.cuda_graphs && prefill_tokens == 0 && decode_batch <= CUDA_GRAPH_MAX_BATCH;
        let launch_s = if graphed { 0.0 } else { self.eager_s };
        // A step is bound by the slower of memory and compute; the other overlaps with it.
        memory_s.max(compute_s) + allreduce_s + self.step_overhead_s + launch_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn timer(model: &str, gpu: &str, gpus: u32) -> StepTimer {
        timer_with(model, gpu, gpus, None)
    }

    fn timer_with(model: &str, gpu: &str, gpus: u32, quant: Option<&str>) -> StepTimer {
        let cat = Catalogue::builtin();
        let r = SizingRequest {
            gpu_count: gpus,
            quant: quant.map(|q| cat.quant(q).unwrap()),
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
    /// 312e12 × 0.5 → ~0.38 s, far above the 11.8 ms of reading the weights; eager launches
    /// add 32 × 47 µs.
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
    fn more_gpus_make_steps_shorter_but_pay_the_all_reduce() {
        let two = timer("llama-3-70b", "h100-80gb", 2);
        let four = timer("llama-3-70b", "h100-80gb", 4);
        assert!(four.step_s(0, 0, 8, 8000) < two.step_s(0, 0, 8, 8000));
        // 80 layers × 2 calls × 10 µs of latency on NVLink, whatever the batch.
        assert!((four.allreduce_s_per_step - 160.0 * 10e-6).abs() < 1e-9);
        // PCIe links are slower than NVLink for the same activations.
        let pcie = timer("llama-3-8b", "l40s", 2);
        let nvlink = timer("llama-3-8b", "a100-80gb", 2);
        assert!(pcie.allreduce_s_per_token > nvlink.allreduce_s_per_token);
    }

    /// AWQ on an A100 (Marlin) decodes one sequence faster than FP16 by nearly its byte ratio;
    /// on a V100 nothing runs it (vLLM needs compute capability 7.5 for AWQ) and GPTQ without
    /// Marlin gains much less.
    #[test]
    fn four_bit_kernels_gain_what_their_kernel_allows() {
        let fp16 = timer("llama-3-8b", "a100-80gb", 1).step_s(0, 0, 1, 512);
        let awq = timer_with("llama-3-8b", "a100-80gb", 1, Some("awq")).step_s(0, 0, 1, 512);
        let speedup = fp16 / awq;
        assert!(speedup > 2.0 && speedup < 3.6, "{speedup}");
        let v100_fp16 = timer("llama-3-8b", "v100-32gb", 1).step_s(0, 0, 1, 512);
        let v100_gptq =
            timer_with("llama-3-8b", "v100-32gb", 1, Some("gptq-4bit")).step_s(0, 0, 1, 512);
        assert!(v100_fp16 / v100_gptq < speedup, "{}", v100_fp16 / v100_gptq);
    }

    #[test]
    fn eager_mode_costs_launches_on_every_step() {
        let cat = Catalogue::builtin();
        let r = SizingRequest::new(
            cat.model("llama-3-8b").unwrap(),
            cat.gpu("a100-80gb").unwrap(),
        );
        let eager = Runtime {
            cuda_graphs: false,
            ..Runtime::default()
        };
        let graphs = StepTimer::new(&r).unwrap().step_s(0, 0, 4, 2048);
        let launches = StepTimer::with(&r, Efficiency::default(), &eager)
            .unwrap()
            .step_s(0, 0, 4, 2048);
        assert!((launches - graphs - 32.0 * EAGER_S_PER_LAYER).abs() < 1e-9);
    }

    #[test]
    fn releases_are_read_from_version_strings() {
        assert_eq!(release("0.6.3.post1"), Some((0, 6, 3)));
        assert_eq!(release("v0.10.1"), Some((0, 10, 1)));
        assert_eq!(release("0.4"), Some((0, 4, 0)));
        assert_eq!(release("main"), None);
    }
}
