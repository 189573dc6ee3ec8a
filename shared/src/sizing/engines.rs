//! One interface over every engine's memory rules: `jauge size --engine ENGINE[@VERSION]`.
//!
//! vLLM is sized by [`super::size`] (release by release); SGLang and TensorRT-LLM by their own
//! rules ([`super::sglang`], [`super::trtllm`]) over the same weights and KV bytes per token;
//! llama.cpp by [`super::llamacpp`]. Every answer carries the same fields ([`EngineSizing`]),
//! with each engine's own memory terms beside them.

use serde::Serialize;

use super::llamacpp::{DeviceBuffers, LlamaCppSizing, MetalFit};
use super::sglang::{self, EngineVersion, SglangInput, SglangMemory};
use super::trtllm::{self, TrtllmBackend, TrtllmInput, TrtllmMemory};
use super::{size_without_advice, MemoryBreakdown, Sizing, SizingRequest, VllmVersion};
use crate::catalogue::WorkingSetSource;
use crate::error::SizingError;
use crate::units::{Bytes, Gib};

/// The SGLang release sized when none is named: the newest one its rules were read in.
pub const SGLANG_DEFAULT: EngineVersion = EngineVersion::new(0, 5, 23);
/// The TensorRT-LLM release sized when none is named (`trtllm-serve`, PyTorch backend).
pub const TRTLLM_DEFAULT: EngineVersion = EngineVersion::new(1, 0, 0);

/// An engine and its release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Engine {
    /// vLLM.
    Vllm(VllmVersion),
    /// SGLang.
    Sglang(EngineVersion),
    /// TensorRT-LLM (the PyTorch backend from 1.0, TensorRT engines before).
    TensorRtLlm(EngineVersion),
    /// llama.cpp's `llama-server` (its rules follow the source jauge reads, no release).
    LlamaCpp,
}

impl std::str::FromStr for Engine {
    type Err = SizingError;

    /// `vllm@0.4.2`, `sglang`, `trtllm@0.15.0`, `tensorrt-llm`, `llama.cpp`.
    ///
    /// ```
    /// use jauge::sizing::engines::Engine;
    /// assert!(matches!("vllm@0.4.2".parse::<Engine>()?, Engine::Vllm(_)));
    /// assert!(matches!("tensorrt-llm".parse::<Engine>()?, Engine::TensorRtLlm(_)));
    /// assert!("tgi".parse::<Engine>().unwrap_err().to_string().contains("sglang"));
    /// # Ok::<(), jauge::SizingError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, version) = match s.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (s, None),
        };
        let engine_version = |default: EngineVersion| -> Result<EngineVersion, SizingError> {
            version.map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|e: sglang::EngineError| SizingError::Engine {
                        message: format!("--engine {s}: {e}"),
                    })
            })
        };
        match name.to_ascii_lowercase().as_str() {
            "vllm" => Ok(Engine::Vllm(
                version.map_or(Ok(VllmVersion::DEFAULT), str::parse)?,
            )),
            "sglang" => Ok(Engine::Sglang(engine_version(SGLANG_DEFAULT)?)),
            "trtllm" | "tensorrt-llm" | "tensorrt_llm" => {
                Ok(Engine::TensorRtLlm(engine_version(TRTLLM_DEFAULT)?))
            }
            "llama.cpp" | "llamacpp" | "llama-cpp" | "llama-server" => Ok(Engine::LlamaCpp),
            _ => Err(SizingError::Engine {
                message: format!(
                    "--engine {s}: jauge sizes vllm[@VERSION], sglang[@VERSION], trtllm[@VERSION] and llama.cpp"
                ),
            }),
        }
    }
}

/// An engine's own memory terms, per GPU (per device for llama.cpp).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MemoryTerms {
    /// vLLM's budget, term by term, GiB.
    Vllm(MemoryBreakdown),
    /// SGLang's, GiB.
    Sglang(SglangMemory),
    /// TensorRT-LLM's, GiB.
    TensorRtLlm(TrtllmMemory),
    /// llama.cpp's buffers per device, bytes.
    LlamaCpp(Vec<DeviceBuffers>),
}

impl MemoryTerms {
    /// Each term as a person reads it, named as in `--json`: `("weights", "14.96 GiB")`, or for
    /// llama.cpp one row per device with its buffers in MiB.
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// use jauge::sizing::{engines::size_with, SizingRequest};
    /// let cat = Catalogue::builtin();
    /// let r = SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("h100-80gb")?);
    /// let rows = size_with(&r, &"sglang".parse()?)?.memory_gib_per_gpu.rows();
    /// assert!(rows.iter().any(|(term, value)| term == "weights" && value.ends_with(" GiB")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rows(&self) -> Vec<(String, String)> {
        const MIB: f64 = 1024.0 * 1024.0;
        match self {
            MemoryTerms::LlamaCpp(devices) => devices
                .iter()
                .map(|d| {
                    let mib = |b: u64| b as f64 / MIB;
                    (
                        d.device.clone(),
                        format!(
                            "model {:.2} · KV {:.2} · compute {:.2} · output {:.2} MiB",
                            mib(d.model_bytes),
                            mib(d.kv_bytes),
                            mib(d.compute_bytes),
                            mib(d.output_bytes)
                        ),
                    )
                })
                .collect(),
            // Field names as the JSON output has them (alphabetical: serde_json sorts its maps).
            terms => serde_json::to_value(terms)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| Some((k, format!("{:.2} GiB", v.as_f64()?))))
                .collect(),
        }
    }
}

/// The answer every engine gives, with the same field names as vLLM's [`Sizing`].
#[derive(Debug, Clone, Serialize)]
pub struct EngineSizing {
    /// The engine (`vllm`, `sglang`, `trtllm`, `llama.cpp`).
    pub engine: String,
    /// Its release whose rules were applied.
    pub engine_version: String,
    /// The model.
    pub model: String,
    /// The GPU kind (`cpu` for a llama.cpp deployment without one).
    pub gpu: String,
    /// GPUs (tensor parallelism).
    pub gpus: u32,
    /// The weights' format.
    pub quant: String,
    /// Whether one request of `max_model_len` tokens fits in the KV cache.
    pub fits: bool,
    /// The server's context length, tokens.
    pub max_model_len: u32,
    /// Tokens per request for `max_concurrency`.
    pub context_tokens: u32,
    /// Weights on each GPU, GiB.
    pub weights_gib_per_gpu: f64,
    /// KV-cache bytes of one token on one GPU.
    pub kv_bytes_per_token_per_gpu: u64,
    /// KV-cache bytes on each GPU.
    pub kv_cache_bytes: u64,
    /// KV-cache capacity of the deployment, tokens.
    pub kv_cache_tokens: u64,
    /// Requests of `context_tokens` served at once.
    pub max_concurrency: f64,
    /// The engine's own memory terms.
    pub memory_gib_per_gpu: MemoryTerms,
    /// The rules applied, each with its source.
    pub rules: Vec<String>,
    /// Whether a term is an estimate rather than the engine's exact rule.
    pub estimated: bool,
    /// Remarks.
    pub notes: Vec<String>,
    /// llama.cpp on a Mac: the Metal buffers against the GPU's working-set limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metal: Option<MetalFit>,
}

/// Sizes `request` under `engine` (not llama.cpp, whose inputs differ: [`from_llamacpp`]).
///
/// # Errors
/// The [`SizingError`]s of [`super::size`] for the deployment, and [`SizingError::Engine`]
/// when the engine's rules refuse the release or a setting.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::{engines::{size_with, Engine}, SizingRequest};
/// let cat = Catalogue::builtin();
/// let r = SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("h100-80gb")?);
/// let sglang = size_with(&r, &"sglang@0.4.6".parse()?)?;
/// let vllm = size_with(&r, &Engine::Vllm(jauge::sizing::VllmVersion::DEFAULT))?;
/// assert!(sglang.kv_cache_tokens > 0 && vllm.kv_cache_tokens > 0);
/// assert_eq!((sglang.engine.as_str(), vllm.engine.as_str()), ("sglang", "vllm"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn size_with(
    request: &SizingRequest<'_>,
    engine: &Engine,
) -> Result<EngineSizing, SizingError> {
    let engine_error = |e: sglang::EngineError| SizingError::Engine {
        message: e.to_string(),
    };
    match *engine {
        Engine::Vllm(version) => {
            let r = SizingRequest {
                vllm_version: version,
                ..request.clone()
            };
            Ok(from_vllm(&super::size(&r)?))
        }
        Engine::Sglang(version) => {
            let base = size_without_advice(request)?;
            let mut input = SglangInput::new(
                version,
                Gib(base.memory_gib_per_gpu.total).bytes_nearest(),
                Gib(base.weights_gib_per_gpu).bytes_nearest(),
                base.kv_bytes_per_token_per_gpu,
                base.gpus,
            );
            input.model_context_length = Some(base.max_model_len);
            let s = sglang::size_sglang(&input).map_err(engine_error)?;
            let per_request = f64::from(base.context_tokens.max(1));
            let fits = s.kv_cache_tokens >= u64::from(base.max_model_len);
            Ok(EngineSizing {
                engine: "sglang".into(),
                engine_version: s.version.clone(),
                fits,
                kv_cache_bytes: s.kv_cache_bytes,
                kv_cache_tokens: s.kv_cache_tokens,
                max_concurrency: if fits {
                    (s.kv_cache_tokens as f64 / per_request).min(s.max_running_requests as f64)
                } else {
                    0.0
                },
                memory_gib_per_gpu: MemoryTerms::Sglang(s.memory_gib_per_gpu),
                rules: s.rules.iter().map(rule_line).collect(),
                estimated: s.estimated,
                notes: s.notes.clone(),
                ..common(&base)
            })
        }
        Engine::TensorRtLlm(version) => {
            let base = size_without_advice(request)?;
            let backend = if version >= EngineVersion::new(1, 0, 0) {
                TrtllmBackend::Pytorch
            } else {
                TrtllmBackend::TrtEngine
            };
            let input = TrtllmInput::new(
                version,
                backend,
                Gib(base.memory_gib_per_gpu.total).bytes_nearest(),
                Gib(base.weights_gib_per_gpu).bytes_nearest(),
                base.kv_bytes_per_token_per_gpu,
                base.gpus,
            );
            let t = trtllm::size_trtllm(&input).map_err(engine_error)?;
            let fits = t.kv_cache_tokens >= u64::from(base.max_model_len);
            let mut notes = t.notes.clone();
            notes.push(format!(
                "TensorRT-LLM {version}: the {} backend",
                match backend {
                    TrtllmBackend::Pytorch => "PyTorch (trtllm-serve's default from 1.0)",
                    TrtllmBackend::TrtEngine => "TensorRT engine",
                }
            ));
            Ok(EngineSizing {
                engine: "trtllm".into(),
                engine_version: t.version.clone(),
                fits,
                kv_cache_bytes: t.kv_cache_bytes,
                kv_cache_tokens: t.kv_cache_tokens,
                max_concurrency: if fits {
                    t.kv_cache_tokens as f64 / f64::from(base.context_tokens.max(1))
                } else {
                    0.0
                },
                memory_gib_per_gpu: MemoryTerms::TensorRtLlm(t.memory_gib_per_gpu),
                rules: t.rules.iter().map(rule_line).collect(),
                estimated: t.estimated,
                notes,
                ..common(&base)
            })
        }
        Engine::LlamaCpp => Err(SizingError::Engine {
            message: "llama.cpp is sized from a GGUF file or a catalogue model in a GGUF format \
                      (jauge::sizing::llamacpp)"
                .into(),
        }),
    }
}

/// vLLM's answer in the common shape.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// let cat = Catalogue::builtin();
/// let s = jauge::sizing::size(&jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l40s")?))?;
/// let e = jauge::sizing::engines::from_vllm(&s);
/// assert_eq!((e.kv_cache_tokens, e.engine.as_str()), (s.kv_cache_tokens, "vllm"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_vllm(s: &Sizing) -> EngineSizing {
    EngineSizing {
        engine: "vllm".into(),
        engine_version: s.vllm_version.clone(),
        fits: s.fits,
        kv_cache_bytes: s.kv_cache_bytes,
        kv_cache_tokens: s.kv_cache_tokens,
        max_concurrency: s.max_concurrency,
        memory_gib_per_gpu: MemoryTerms::Vllm(s.memory_gib_per_gpu),
        rules: s.rules.clone(),
        estimated: false,
        notes: s.notes.clone(),
        ..common(s)
    }
}

/// llama.cpp's answer in the common shape; `gpu` is the catalogue GPU the layers go to and
/// its memory in GiB, or `None` for a CPU-only server (which always "fits": memory is the
/// host's).
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::llamacpp::{size_catalogue, LlamaCppSettings};
/// let cat = Catalogue::builtin();
/// let (m, q) = (cat.model("llama-3-8b")?, cat.quant("gguf-q4_k_m")?);
/// let s = size_catalogue(m, q, &LlamaCppSettings::new(8192))?;
/// let e = jauge::sizing::engines::from_llamacpp(&s, "llama-3-8b", "gguf-q4_k_m", None);
/// assert_eq!(e.kv_cache_tokens, s.kv_tokens);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_llamacpp(
    s: &LlamaCppSizing,
    model: &str,
    quant: &str,
    gpu: Option<(&str, f64)>,
) -> EngineSizing {
    let on_gpu = |b: &&DeviceBuffers| !b.device.starts_with("CPU");
    let gpu_buffers = s.devices.iter().find(on_gpu);
    let kv_bytes: u64 = s.devices.iter().map(|d| d.kv_bytes).sum();
    let fits = match (gpu, gpu_buffers) {
        (Some((_, memory_gib)), Some(b)) => Bytes(b.total_bytes()).gib().0 <= memory_gib,
        _ => true,
    };
    EngineSizing {
        engine: "llama.cpp".into(),
        engine_version: "0c1e570 (llama-cpp-python 0.3.36)".into(),
        model: model.into(),
        gpu: gpu.map_or("cpu", |(id, _)| id).into(),
        gpus: u32::from(gpu.is_some()),
        quant: quant.into(),
        fits,
        max_model_len: s.n_ctx_seq,
        context_tokens: s.n_ctx_seq,
        weights_gib_per_gpu: Bytes(gpu_buffers.map_or(0, |b| b.model_bytes)).gib().0,
        kv_bytes_per_token_per_gpu: s.kv_bytes_per_token,
        kv_cache_bytes: kv_bytes,
        kv_cache_tokens: s.kv_tokens,
        max_concurrency: f64::from(s.max_concurrency),
        memory_gib_per_gpu: MemoryTerms::LlamaCpp(s.devices.clone()),
        rules: s
            .rules
            .iter()
            .map(|r| format!("{} ({})", r.text, r.source))
            .collect(),
        estimated: true,
        notes: s.notes.clone(),
        metal: None,
    }
}

/// llama.cpp's answer on a Mac: [`from_llamacpp`] with the device's id, `fits` from the Metal
/// buffers against the working-set limit ([`MetalFit`]), and notes on where the limit comes
/// from.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::llamacpp::{fit_metal, size_catalogue, LlamaCppSettings, METAL_DEVICE};
/// let cat = Catalogue::builtin();
/// let mut settings = LlamaCppSettings::new(8192);
/// settings.gpu_device = Some(METAL_DEVICE.into());
/// let s = size_catalogue(cat.model("llama-3-8b")?, cat.quant("gguf-q4_k_m")?, &settings)?;
/// let fit = fit_metal(&s, &cat.apple_device("m1-16gb")?, None);
/// let e = jauge::sizing::engines::from_llamacpp_on_mac(&s, "llama-3-8b", "gguf-q4_k_m", fit);
/// assert!(e.fits && e.gpu == "m1-16gb" && e.metal.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_llamacpp_on_mac(
    s: &LlamaCppSizing,
    model: &str,
    quant: &str,
    fit: MetalFit,
) -> EngineSizing {
    let mut e = from_llamacpp(
        s,
        model,
        quant,
        Some((&fit.device, Bytes(fit.working_set_bytes).gib().0)),
    );
    e.fits = fit.fits;
    let source = match &fit.working_set_source {
        WorkingSetSource::Logged { .. } => "logged on this chip and RAM",
        WorkingSetSource::Rule { .. } => {
            "computed from macOS's default rule, not logged for this chip and RAM"
        }
        WorkingSetSource::Given => "given with --total-memory-gib",
    };
    e.notes.push(format!(
        "Metal ({}): llama.cpp puts the offloaded model, KV and compute buffers in unified \
         memory, held to the GPU working set (recommendedMaxWorkingSetSize) of {:.2} GiB, {source}",
        super::llamacpp::METAL_DEVICE,
        Bytes(fit.working_set_bytes).gib().0,
    ));
    e.notes.push(
        "on Metal the buffers are sized with llama.cpp's CUDA alignment (128 bytes); no Metal \
         start-up log has been compared with jauge"
            .into(),
    );
    e.metal = Some(fit);
    e
}

/// The fields every engine shares with vLLM's sizing of the same request.
fn common(base: &Sizing) -> EngineSizing {
    EngineSizing {
        engine: String::new(),
        engine_version: String::new(),
        model: base.model.clone(),
        gpu: base.gpu.clone(),
        gpus: base.gpus,
        quant: base.quant.clone(),
        fits: false,
        max_model_len: base.max_model_len,
        context_tokens: base.context_tokens,
        weights_gib_per_gpu: base.weights_gib_per_gpu,
        kv_bytes_per_token_per_gpu: base.kv_bytes_per_token_per_gpu,
        kv_cache_bytes: 0,
        kv_cache_tokens: 0,
        max_concurrency: 0.0,
        memory_gib_per_gpu: MemoryTerms::Vllm(base.memory_gib_per_gpu),
        rules: Vec::new(),
        estimated: false,
        notes: Vec::new(),
        metal: None,
    }
}

fn rule_line(rule: &sglang::Rule) -> String {
    format!(
        "{} ({} {} {})",
        rule.decided, rule.citation.repo, rule.citation.release, rule.citation.location
    )
}
