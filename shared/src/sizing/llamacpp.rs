//! Memory of llama.cpp's `llama-server`, buffer by buffer and device by device, the way
//! llama.cpp allocates it: the model buffers (weights, per device), the KV cache, the compute
//! buffer of its graph reservation, and the host-side output buffer.
//!
//! Every rule cites llama.cpp's source at commit 0c1e570 (the one `scripts/llama-server`
//! builds, vendored in llama-cpp-python 0.3.36); [`LlamaCppSizing::rules`] lists the ones a
//! sizing applied. The compute buffer is an estimate (see [`Rule`] `compute-buffer`): ggml's
//! allocator packs the graph's tensors in a way no closed formula reproduces exactly.
//!
//! ```
//! use jauge::gguf::GgmlType;
//! use jauge::sizing::llamacpp::{size_gguf, LlamaCppSettings};
//! let gguf = jauge::sizing::llamacpp::example_gguf();
//! let mut settings = LlamaCppSettings::new(4096);
//! settings.parallel = 4;
//! settings.cache_type_k = GgmlType::F32;
//! let sizing = size_gguf(&gguf, &settings)?;
//! assert_eq!(sizing.n_ctx_seq, 1024);
//! assert_eq!(sizing.max_concurrency, 4);
//! assert!(sizing.rules.iter().any(|r| r.source.contains("llama-context.cpp")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;
use thiserror::Error;

use crate::catalogue::{ModelSpec, QuantSpec};
use crate::gguf::{GgmlType, Gguf, GgufError};

mod compute;
mod dims;
mod metal;
pub use dims::{LlamaCppModel, Placement, WeightTensor};
pub use metal::{fit_metal, MetalFit, METAL_DEVICE};

/// Why llama.cpp's memory could not be sized.
///
/// ```
/// use jauge::sizing::llamacpp::{size_gguf, LlamaCppSettings};
/// let err = size_gguf(b"nope", &LlamaCppSettings::new(512)).unwrap_err();
/// assert!(err.to_string().contains("GGUF"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LlamaCppError {
    /// The GGUF header could not be read.
    #[error("reading the GGUF header: {0}")]
    Gguf(#[from] GgufError),
    /// A key sizing needs is missing or unusable.
    #[error("the GGUF has no usable `{key}`: {why}")]
    MissingKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// A setting llama.cpp would refuse.
    #[error("{setting}: {why}")]
    Setting {
        /// The flag.
        setting: &'static str,
        /// Why.
        why: String,
    },
}

/// llama-server's flags that change its memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlamaCppSettings {
    /// `-c`, tokens; 0 takes the model's training context.
    pub ctx_size: u32,
    /// `-np`: slots; they share `ctx_size`.
    pub parallel: u32,
    /// `-kvu`: one KV stream shared by all slots (llama-server's default is off, except when
    /// `-np` is left to auto, which means 4 unified slots: `tools/server/server.cpp:156-160`).
    pub kv_unified: bool,
    /// `-ctk`.
    pub cache_type_k: GgmlType,
    /// `-ctv`.
    pub cache_type_v: GgmlType,
    /// `-ngl`: layers on the GPU, counting the output layer as one; `None` is all.
    pub n_gpu_layers: Option<u32>,
    /// The device offloaded layers go to (`CUDA0`, or [`METAL_DEVICE`] on a Mac); `None` for a
    /// CPU-only build, where everything is on `CPU`.
    pub gpu_device: Option<String>,
    /// `-fa`: flash attention (`auto` turns it on for CPU and CUDA).
    pub flash_attn: bool,
    /// `-b`, tokens.
    pub batch_size: u32,
    /// `-ub`, tokens.
    pub ubatch_size: u32,
    /// Weights memory-mapped from the file (the default; `--no-mmap` turns it off).
    pub use_mmap: bool,
}

impl LlamaCppSettings {
    /// llama-server's defaults (`common/common.h`: `n_batch` 2048, `n_ubatch` 512, f16 cache,
    /// all layers offloaded, mmap on) with `-c ctx_size -np 1` on a CPU-only build.
    ///
    /// ```
    /// let s = jauge::sizing::llamacpp::LlamaCppSettings::new(8192);
    /// assert_eq!((s.batch_size, s.ubatch_size, s.parallel), (2048, 512, 1));
    /// ```
    pub fn new(ctx_size: u32) -> Self {
        LlamaCppSettings {
            ctx_size,
            parallel: 1,
            kv_unified: false,
            cache_type_k: GgmlType::F16,
            cache_type_v: GgmlType::F16,
            n_gpu_layers: None,
            gpu_device: None,
            flash_attn: true,
            batch_size: 2048,
            ubatch_size: 512,
            use_mmap: true,
        }
    }
}

/// What to size: a model and the server's settings.
#[derive(Debug, Clone)]
pub struct LlamaCppRequest<'a> {
    /// The model.
    pub model: LlamaCppModel,
    /// The settings.
    pub settings: &'a LlamaCppSettings,
}

/// One device's buffers, bytes, as llama.cpp logs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceBuffers {
    /// The device (`CPU`, `CUDA0`).
    pub device: String,
    /// Weights (`… model buffer size`): on the host with mmap this is `CPU_Mapped`.
    pub model_bytes: u64,
    /// KV cache (`… KV buffer size`).
    pub kv_bytes: u64,
    /// Compute buffer (`… compute buffer size`), an estimate.
    pub compute_bytes: u64,
    /// Output buffer (`… output buffer size`: logits), host only.
    pub output_bytes: u64,
}

impl DeviceBuffers {
    /// All buffers together.
    ///
    /// ```
    /// let d = jauge::sizing::llamacpp::DeviceBuffers { device: "CPU".into(), model_bytes: 1, kv_bytes: 2, compute_bytes: 3, output_bytes: 4 };
    /// assert_eq!(d.total_bytes(), 10);
    /// ```
    pub fn total_bytes(&self) -> u64 {
        self.model_bytes + self.kv_bytes + self.compute_bytes + self.output_bytes
    }
}

/// One rule of llama.cpp's that a sizing applied, with where it is in llama.cpp's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// A short id (`ctx-pad`, `kv-size`, …).
    pub id: &'static str,
    /// The rule with this sizing's numbers.
    pub text: String,
    /// File and lines in llama.cpp at commit 0c1e570.
    pub source: &'static str,
}

/// Weights of one ggml type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeBytes {
    /// The type (`q4_K`), or `catalogue` for an estimate from a catalogue quantisation.
    pub ggml_type: String,
    /// Bytes.
    pub bytes: u64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LlamaCppSizing {
    /// The model's architecture.
    pub architecture: String,
    /// Context after llama.cpp's padding, tokens (`llama_context: n_ctx`).
    pub n_ctx: u32,
    /// Context of one slot, tokens (`n_ctx_seq`).
    pub n_ctx_seq: u32,
    /// KV streams: 1 when unified, else one per slot.
    pub kv_streams: u32,
    /// KV cells per stream of the full-attention layers (`llama_kv_cache: size = … (N cells`).
    pub kv_cells_per_stream: u32,
    /// Tokens the KV cache holds in all (cells × streams).
    pub kv_tokens: u64,
    /// Requests served at once: the slots.
    pub max_concurrency: u32,
    /// KV bytes of one token in all layers (K and V).
    pub kv_bytes_per_token: u64,
    /// Layers (repeating) whose weights and KV are on the GPU device.
    pub gpu_layers: u32,
    /// Whether the output layer is on the GPU device.
    pub output_on_gpu: bool,
    /// Per device: host `CPU` first, then the GPU device if any.
    pub devices: Vec<DeviceBuffers>,
    /// Weights by ggml type, all devices.
    pub weights_by_type: Vec<TypeBytes>,
    /// The rules applied, in order.
    pub rules: Vec<Rule>,
    /// Assumptions and estimates.
    pub notes: Vec<String>,
}

impl LlamaCppSizing {
    /// The buffers of `device`, if it has any.
    ///
    /// ```
    /// use jauge::sizing::llamacpp::{size_gguf, LlamaCppSettings};
    /// let s = size_gguf(&jauge::sizing::llamacpp::example_gguf(), &LlamaCppSettings::new(512))?;
    /// assert!(s.device("CPU").is_some() && s.device("CUDA0").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn device(&self, device: &str) -> Option<&DeviceBuffers> {
        self.devices.iter().find(|d| d.device == device)
    }
}

/// Sizes a model from the bytes of (the start of) its GGUF file.
///
/// # Errors
///
/// [`LlamaCppError::Gguf`] when the header cannot be read, [`LlamaCppError::MissingKey`] when a
/// dimension is missing, [`LlamaCppError::Setting`] for settings llama.cpp refuses.
///
/// ```
/// use jauge::sizing::llamacpp::{size_gguf, LlamaCppSettings};
/// let s = size_gguf(&jauge::sizing::llamacpp::example_gguf(), &LlamaCppSettings::new(1000))?;
/// assert_eq!(s.n_ctx, 1024); // padded to 256
/// assert!(size_gguf(&[0; 3], &LlamaCppSettings::new(1000)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn size_gguf(
    bytes: &[u8],
    settings: &LlamaCppSettings,
) -> Result<LlamaCppSizing, LlamaCppError> {
    let gguf = Gguf::parse(bytes)?;
    size(&LlamaCppRequest {
        model: LlamaCppModel::from_gguf(&gguf)?,
        settings,
    })
}

/// Sizes a catalogue model in a catalogue GGUF quantisation (weights estimated from its bits
/// per weight; embeddings kept at that rate too).
///
/// # Errors
///
/// As [`size`].
///
/// ```
/// use jauge::sizing::llamacpp::{size_catalogue, LlamaCppSettings};
/// let cat = jauge::catalogue::Catalogue::builtin();
/// let s = size_catalogue(cat.model("llama-3-8b")?, cat.quant("gguf-q4_k_m")?, &LlamaCppSettings::new(8192))?;
/// assert_eq!(s.kv_bytes_per_token, 32 * 8 * 128 * 2 * 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn size_catalogue(
    model: &ModelSpec,
    quant: &QuantSpec,
    settings: &LlamaCppSettings,
) -> Result<LlamaCppSizing, LlamaCppError> {
    size(&LlamaCppRequest {
        model: LlamaCppModel::from_catalogue(model, quant),
        settings,
    })
}

fn pad(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

const MIB: f64 = 1024.0 * 1024.0;

/// Sizes a request.
///
/// # Errors
///
/// [`LlamaCppError::Setting`] for a zero `parallel` or batch, a KV type llama.cpp does not
/// offer, a quantised V cache without flash attention, a context of 0 with no training
/// context, or a K/V row that is not a whole number of the cache type's blocks.
///
/// ```
/// use jauge::sizing::llamacpp::{size, LlamaCppModel, LlamaCppRequest, LlamaCppSettings};
/// let gguf = jauge::gguf::Gguf::parse(&jauge::sizing::llamacpp::example_gguf())?;
/// let mut settings = LlamaCppSettings::new(2048);
/// let request = LlamaCppRequest { model: LlamaCppModel::from_gguf(&gguf)?, settings: &settings };
/// assert_eq!(size(&request)?.kv_tokens, 2048);
/// settings.parallel = 0;
/// let request = LlamaCppRequest { model: LlamaCppModel::from_gguf(&gguf)?, settings: &settings };
/// assert!(size(&request).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn size(request: &LlamaCppRequest<'_>) -> Result<LlamaCppSizing, LlamaCppError> {
    let m = &request.model;
    let s = request.settings;
    let setting = |setting, why: String| LlamaCppError::Setting { setting, why };
    if s.parallel == 0 || s.parallel > 256 {
        return Err(setting(
            "--parallel",
            format!(
                "{} slots; llama.cpp takes 1 to 256 (LLAMA_MAX_SEQ)",
                s.parallel
            ),
        ));
    }
    if s.batch_size == 0 || s.ubatch_size == 0 {
        return Err(setting(
            "--batch-size/--ubatch-size",
            "must be positive".into(),
        ));
    }
    for (flag, t) in [
        ("--cache-type-k", s.cache_type_k),
        ("--cache-type-v", s.cache_type_v),
    ] {
        if !t.is_kv_cache_type() {
            return Err(setting(flag, format!("{t} is not one of llama.cpp's KV cache types (f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1: common/arg.cpp:304-314)")));
        }
    }
    if s.cache_type_v.is_quantized() && !s.flash_attn {
        return Err(setting(
            "--cache-type-v",
            "a quantised V cache needs flash attention (llama-context.cpp refuses it without)"
                .into(),
        ));
    }
    let mut rules = Vec::new();
    let mut notes = m.notes.clone();
    let seqs = u64::from(s.parallel);

    // n_ctx and n_ctx_seq.
    let ctx_asked = if s.ctx_size == 0 {
        m.n_ctx_train
    } else {
        u64::from(s.ctx_size)
    };
    if ctx_asked == 0 {
        return Err(setting(
            "--ctx-size",
            "0 takes the model's training context, and the model gives none".into(),
        ));
    }
    let mut n_ctx = pad(ctx_asked, 256);
    rules.push(Rule {
        id: "ctx-pad",
        text: format!("n_ctx = GGML_PAD({ctx_asked}, 256) = {n_ctx}"),
        source: "src/llama-context.cpp:289-290",
    });
    let n_ctx_seq = if s.kv_unified {
        n_ctx
    } else {
        let per = pad(n_ctx / seqs, 256);
        n_ctx = per * seqs;
        per
    };
    rules.push(Rule {
        id: "ctx-per-slot",
        text: if s.kv_unified {
            format!("kv_unified: every slot may use all {n_ctx} cells (n_ctx_seq = n_ctx)")
        } else {
            format!("not unified: n_ctx_seq = GGML_PAD(n_ctx / {seqs}, 256) = {n_ctx_seq}, n_ctx = n_ctx_seq × {seqs} = {n_ctx}")
        },
        source: "src/llama-context.cpp:292-306",
    });
    let streams = if s.kv_unified { 1 } else { seqs };
    rules.push(Rule {
        id: "kv-streams",
        text: format!("{streams} KV stream(s) of {n_ctx_seq} cells (one per slot unless unified)"),
        source: "src/llama-kv-cache.cpp:84, src/llama-model.cpp:2856-2875",
    });
    let n_batch = u64::from(s.batch_size).min(n_ctx);
    let n_ubatch = u64::from(s.ubatch_size).min(n_batch);
    let n_tokens = n_ctx.min(n_ubatch);
    rules.push(Rule {
        id: "batch",
        text: format!("n_batch = min(n_ctx, {}) = {n_batch}; n_ubatch = min(n_batch, {}) = {n_ubatch}; the graph is reserved for {n_tokens} tokens", s.batch_size, s.ubatch_size),
        source: "src/llama-context.cpp:246-248, src/llama-context.cpp:628-629",
    });

    // Layer placement.
    let n_layer = m.n_layer;
    let has_gpu = s.gpu_device.is_some();
    let ngl = s.n_gpu_layers.map_or(n_layer + 1, u64::from);
    let i_gpu_start = (n_layer + 1).saturating_sub(ngl);
    let act_gpu_layers = if has_gpu { ngl.min(n_layer + 1) } else { 0 };
    let on_gpu = |il: u64| il >= i_gpu_start && il - i_gpu_start < act_gpu_layers;
    let gpu_layers = (0..n_layer).filter(|&il| on_gpu(il)).count() as u64;
    let output_on_gpu = on_gpu(n_layer);
    let gpu_name = s.gpu_device.clone().unwrap_or_default();
    rules.push(Rule {
        id: "layer-placement",
        text: format!(
            "i_gpu_start = max(n_layer + 1 − ngl, 0) = {i_gpu_start}; {gpu_layers} of {n_layer} repeating layers and {} output layer on {}; token embeddings always on CPU",
            if output_on_gpu { "the" } else { "no" },
            if has_gpu { gpu_name.as_str() } else { "a GPU (CPU-only build)" }
        ),
        source: "src/llama-model.cpp:1589-1614",
    });

    // Weights per device.
    let (mut cpu_w, mut gpu_w) = (Vec::new(), Vec::new());
    let mut by_type: std::collections::BTreeMap<String, u64> = Default::default();
    for t in &m.tensors {
        let gpu = match t.placement {
            Placement::Input => false,
            Placement::Layer(il) => on_gpu(il),
            Placement::Output => output_on_gpu,
        };
        *by_type.entry(t.type_name()).or_default() += t.bytes;
        if gpu {
            gpu_w.push(t)
        } else {
            cpu_w.push(t)
        }
    }
    // Tied embeddings: llama.cpp loads token_embd a second time as the output layer where the
    // output layer is on another device (TENSOR_DUPLICATED in the loaders).
    if output_on_gpu && !m.tensors.iter().any(|t| t.name == "output.weight") {
        if let Some(e) = m.tensors.iter().find(|t| t.name == "token_embd.weight") {
            gpu_w.push(e);
            notes.push(
                "tied embeddings: token_embd.weight is loaded again on the GPU as the output layer"
                    .into(),
            );
        }
    }
    const CPU_ALIGN: u64 = 32; // TENSOR_ALIGNMENT, ggml-backend.cpp:2474-2475
    const GPU_ALIGN: u64 = 128; // CUDA's buffer alignment (ggml-cuda.cu, get_alignment)
    let cpu_model = if s.use_mmap && m.has_offsets {
        // CPU_Mapped: the span of the file from the first to the last CPU tensor.
        let first = cpu_w.iter().map(|t| t.offset).min().unwrap_or(0);
        let last = cpu_w.iter().map(|t| t.offset + t.bytes).max().unwrap_or(0);
        last.saturating_sub(first)
    } else {
        cpu_w.iter().map(|t| pad(t.bytes, CPU_ALIGN)).sum()
    };
    let gpu_model: u64 = gpu_w.iter().map(|t| pad(t.bytes, GPU_ALIGN)).sum();
    rules.push(Rule {
        id: "model-buffer",
        text: format!(
            "CPU{} model buffer = {:.2} MiB ({}){}",
            if s.use_mmap { "_Mapped" } else { "" },
            cpu_model as f64 / MIB,
            if s.use_mmap {
                "the file span from the first to the last CPU tensor"
            } else {
                "CPU tensors, each padded to 32 bytes"
            },
            if has_gpu {
                format!(
                    "; {gpu_name} model buffer = {:.2} MiB",
                    gpu_model as f64 / MIB
                )
            } else {
                String::new()
            }
        ),
        source: "src/llama-model.cpp:1854-1868, src/llama-model-loader.cpp:1449-1462",
    });

    // KV cache.
    for (flag, t, width) in [
        ("--cache-type-k", s.cache_type_k, m.head_dim_k),
        ("--cache-type-v", s.cache_type_v, m.head_dim_v),
    ] {
        // llama.cpp refuses a cache type whose block does not divide the head dimension
        // (src/llama-context.cpp:3850-3860).
        if width % t.block_elements() != 0 {
            return Err(setting(
                flag,
                format!(
                    "{t} stores {}-element blocks, which do not divide the head dimension {width} (llama-context.cpp:3855)",
                    t.block_elements()
                ),
            ));
        }
    }
    let k_row = s.cache_type_k.row_bytes(m.n_head_kv * m.head_dim_k);
    let v_row = s.cache_type_v.row_bytes(m.n_head_kv * m.head_dim_v);
    let swa_cells = m.sliding_window.map(|w| {
        let per = if s.kv_unified { seqs } else { 1 };
        pad((w * per + n_ubatch).min(n_ctx_seq), 256)
    });
    let (mut cpu_kv, mut gpu_kv) = (0u64, 0u64);
    for il in 0..n_layer {
        let cells = match (swa_cells, m.is_swa(il)) {
            (Some(c), true) => c,
            _ => n_ctx_seq,
        };
        let bytes =
            pad(k_row * cells * streams, CPU_ALIGN) + pad(v_row * cells * streams, CPU_ALIGN);
        if on_gpu(il) {
            gpu_kv += bytes
        } else {
            cpu_kv += bytes
        }
    }
    rules.push(Rule {
        id: "kv-size",
        text: format!(
            "per layer K = {} × {n_ctx_seq} cells × {streams} stream(s) of {}, V = {} × … of {}: {:.2} MiB in all",
            m.n_head_kv * m.head_dim_k, s.cache_type_k, m.n_head_kv * m.head_dim_v, s.cache_type_v,
            (cpu_kv + gpu_kv) as f64 / MIB
        ),
        source: "src/llama-kv-cache.cpp:228-234, src/llama-kv-cache.cpp:207-214 (device of the layer)",
    });
    if let Some(c) = swa_cells {
        rules.push(Rule {
            id: "kv-swa",
            text: format!("sliding-window layers keep GGML_PAD(min(n_ctx_seq, window × (unified ? slots : 1) + n_ubatch), 256) = {c} cells"),
            source: "src/llama-kv-cache-iswa.cpp:70-81",
        });
    }

    // Output buffer (host): logits for n_outputs_max = the slots (server_output_limits).
    let output = m.n_vocab * seqs * 4;
    rules.push(Rule {
        id: "output-buffer",
        text: format!("host output buffer = n_vocab {} × {seqs} outputs × 4 bytes (logits; llama-server reserves one output per slot)", m.n_vocab),
        source: "src/llama-context.cpp:2120-2141, tools/server/server-context.cpp:41-53",
    });

    let compute = compute::estimate(m, s, n_tokens, n_ctx_seq, swa_cells);
    rules.push(Rule {
        id: "compute-buffer",
        text: format!(
            "compute buffer ≈ {:.2} MiB (estimate: {})",
            compute.bytes as f64 / MIB,
            compute.formula
        ),
        source: "src/llama-context.cpp:628-680 (graph_reserve), ggml/src/ggml-alloc.c",
    });
    notes.push(
        "the compute buffer is an estimate of ggml's graph allocation, not llama.cpp's own rule"
            .into(),
    );

    let mut devices = vec![DeviceBuffers {
        device: "CPU".into(),
        model_bytes: cpu_model,
        kv_bytes: cpu_kv,
        compute_bytes: if has_gpu {
            compute.host_bytes
        } else {
            compute.bytes
        },
        output_bytes: output,
    }];
    if has_gpu {
        devices.push(DeviceBuffers {
            device: gpu_name,
            model_bytes: gpu_model,
            kv_bytes: gpu_kv,
            compute_bytes: compute.bytes,
            output_bytes: 0,
        });
        notes.push("with a GPU, the host compute buffer (CUDA_Host) is estimated as the graph's inputs only".into());
    }
    Ok(LlamaCppSizing {
        architecture: m.architecture.clone(),
        n_ctx: n_ctx as u32,
        n_ctx_seq: n_ctx_seq as u32,
        kv_streams: streams as u32,
        kv_cells_per_stream: n_ctx_seq as u32,
        kv_tokens: n_ctx_seq * streams,
        max_concurrency: s.parallel,
        kv_bytes_per_token: (k_row + v_row) * n_layer,
        gpu_layers: gpu_layers as u32,
        output_on_gpu,
        devices,
        weights_by_type: by_type
            .into_iter()
            .map(|(ggml_type, bytes)| TypeBytes { ggml_type, bytes })
            .collect(),
        rules,
        notes,
    })
}

/// A tiny GGUF header (2 layers, GQA, F16 weights), for examples.
///
/// ```
/// assert!(jauge::gguf::Gguf::parse(&jauge::sizing::llamacpp::example_gguf()).is_ok());
/// ```
pub fn example_gguf() -> Vec<u8> {
    dims::example()
}

#[cfg(test)]
mod tests;
