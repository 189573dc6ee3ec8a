//! A deployment as people name it — catalogue ids and the engine settings that shape capacity
//! — and the one way it becomes a [`SizingRequest`] and the [`EngineSettings`] a dataset
//! records. `jauge size`, `simulate`, `limit --simulate`, `serve-sim`, the study's
//! predictions and the explorer's planner all build their requests here.
//!
//! ```
//! use jauge::catalogue::Catalogue;
//! use jauge::deployment::DeploymentSpec;
//! let spec = DeploymentSpec { gpus: 2, quant: Some("awq".into()), ..DeploymentSpec::new("llama-3-70b", "a100-40gb") };
//! let cat = Catalogue::builtin();
//! let request = spec.request(cat)?;
//! assert_eq!((request.gpu_count, request.quant.unwrap().id.as_str()), (2, "awq"));
//! assert!(DeploymentSpec::new("llama-9", "a100-40gb").request(cat).is_err());
//! # Ok::<(), jauge::error::DeploymentError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, ModelSpec};
use crate::dataset::{Dataset, EngineSettings, IndexEntry};
use crate::error::{DeploymentError, SizingError};
use crate::sizing::{size, KvCacheDtype, Sizing, SizingRequest, VllmVersion};

/// A deployment: which model on which GPUs in which format, and the engine settings given
/// (absent ones take vLLM's defaults for the release).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// Catalogue model id or alias (a Hugging Face repo).
    pub model: String,
    /// Catalogue GPU id.
    pub gpu: String,
    /// GPUs serving one copy of the model (tensor parallelism).
    #[serde(default = "one")]
    pub gpus: u32,
    /// Catalogue quantisation id; `None` is the checkpoint's dtype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<String>,
    /// KV-cache element type (`auto`, `fp16`, `bf16`, `fp8`); `None` is `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_dtype: Option<String>,
    /// The engine's `--max-model-len`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_len: Option<u32>,
    /// Share of each GPU's memory the engine may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_utilization: Option<f64>,
    /// Tokens per KV-cache block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    /// The engine's `--max-num-seqs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_seqs: Option<u32>,
    /// The engine's `--max-num-batched-tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_batched_tokens: Option<u32>,
    /// The vLLM release whose memory rules apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vllm_version: Option<String>,
    /// Each GPU's total memory as CUDA reports it, GiB, when not the catalogue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_memory_gib: Option<f64>,
}

fn one() -> u32 {
    1
}

impl DeploymentSpec {
    /// `model` on one `gpu`, everything else the defaults.
    ///
    /// ```
    /// let d = jauge::deployment::DeploymentSpec::new("mistral-7b-v0.3", "l4");
    /// assert_eq!((d.gpus, d.quant), (1, None));
    /// ```
    pub fn new(model: &str, gpu: &str) -> DeploymentSpec {
        DeploymentSpec {
            model: model.to_string(),
            gpu: gpu.to_string(),
            gpus: 1,
            quant: None,
            kv_cache_dtype: None,
            max_model_len: None,
            gpu_memory_utilization: None,
            block_size: None,
            max_num_seqs: None,
            max_num_batched_tokens: None,
            vllm_version: None,
            total_memory_gib: None,
        }
    }

    /// The sizing request, with the model, GPU and format looked up in `cat`.
    ///
    /// # Errors
    /// An id the catalogue does not know ([`DeploymentError::Catalogue`]), or a KV-cache type
    /// or vLLM release that cannot be read ([`DeploymentError::Sizing`]).
    pub fn request<'c>(&self, cat: &'c Catalogue) -> Result<SizingRequest<'c>, DeploymentError> {
        self.request_for(cat.model(&self.model)?, cat)
    }

    /// The sizing request for `model` (one read from a `config.json`, say) with this
    /// deployment's GPU, format and settings.
    ///
    /// # Errors
    /// As [`DeploymentSpec::request`].
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// use jauge::deployment::DeploymentSpec;
    /// let cat = Catalogue::builtin();
    /// let model = cat.model("llama-3-8b")?;
    /// let spec = DeploymentSpec { max_model_len: Some(4096), ..DeploymentSpec::new("ignored", "l4") };
    /// assert_eq!(spec.request_for(model, cat)?.max_model_len, Some(4096));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn request_for<'c>(
        &self,
        model: &'c ModelSpec,
        cat: &'c Catalogue,
    ) -> Result<SizingRequest<'c>, DeploymentError> {
        let defaults = SizingRequest::new(model, cat.gpu(&self.gpu)?);
        let quant = match &self.quant {
            Some(q) => Some(cat.quant(q)?),
            None => None,
        };
        let kv_cache_dtype: KvCacheDtype = match &self.kv_cache_dtype {
            Some(k) => k
                .parse()
                .map_err(|message| SizingError::KvCacheDtype { message })?,
            None => defaults.kv_cache_dtype,
        };
        let vllm_version: VllmVersion = match &self.vllm_version {
            Some(v) => v.parse()?,
            None => defaults.vllm_version,
        };
        Ok(SizingRequest {
            gpu_count: self.gpus,
            quant,
            kv_cache_dtype,
            max_model_len: self.max_model_len,
            gpu_memory_utilization: self
                .gpu_memory_utilization
                .unwrap_or(defaults.gpu_memory_utilization),
            block_size: self.block_size.unwrap_or(defaults.block_size),
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            vllm_version,
            total_memory_gib: self.total_memory_gib,
            ..defaults
        })
    }

    /// The deployment a dataset records, when its model and GPU have catalogue ids: with the
    /// vLLM release it ran (its memory rules) and each GPU's memory as CUDA saw it, when the
    /// dataset records them (a run on the GPU node reads it from NVML).
    ///
    /// ```
    /// let d = jauge::deployment::DeploymentSpec::of_dataset(&jauge::dataset::example()).unwrap();
    /// assert_eq!((d.model.as_str(), d.gpu.as_str(), d.gpus), ("mistral-7b-v0.3", "a100-40gb", 1));
    /// ```
    pub fn of_dataset(dataset: &Dataset) -> Option<DeploymentSpec> {
        let d = &dataset.deployment;
        let s = &d.engine.settings;
        let quant = d.quantization.to_lowercase();
        Some(DeploymentSpec {
            model: d.model.catalogue_id.clone()?,
            gpu: d.gpus.catalogue_id.clone()?,
            gpus: d.gpus.count,
            quant: (quant != "unknown").then_some(quant),
            kv_cache_dtype: (d.kv_cache_dtype != "auto").then(|| d.kv_cache_dtype.clone()),
            max_model_len: s.max_model_len,
            gpu_memory_utilization: s.gpu_memory_utilization,
            block_size: s.block_size,
            max_num_seqs: s.max_num_seqs,
            max_num_batched_tokens: s.max_num_batched_tokens,
            vllm_version: recorded_vllm_release(&d.engine),
            total_memory_gib: d.gpus.cuda_memory_mib.map(|mib| mib as f64 / 1024.0),
        })
    }

    /// The format, or `auto` when the checkpoint's dtype is meant.
    pub fn quant_or_auto(&self) -> &str {
        self.quant.as_deref().unwrap_or("auto")
    }

    /// A file-name-safe name: `mistral-7b-v0.1-1xv100-16gb-fp16`.
    ///
    /// ```
    /// let d = jauge::deployment::DeploymentSpec { gpus: 2, quant: Some("awq".into()), ..jauge::deployment::DeploymentSpec::new("llama-3-70b", "a100-40gb") };
    /// assert_eq!(d.slug(), "llama-3-70b-2xa100-40gb-awq");
    /// ```
    pub fn slug(&self) -> String {
        format!(
            "{}-{}x{}-{}",
            self.model,
            self.gpus,
            self.gpu,
            self.quant_or_auto()
        )
    }

    /// For readers: `llama-3-70b on 2 × a100-40gb, awq`.
    ///
    /// ```
    /// let d = jauge::deployment::DeploymentSpec { gpus: 2, quant: Some("awq".into()), ..jauge::deployment::DeploymentSpec::new("llama-3-70b", "a100-40gb") };
    /// assert_eq!(d.label(), "llama-3-70b on 2 × a100-40gb, awq");
    /// ```
    pub fn label(&self) -> String {
        format!(
            "{} on {} × {}, {}",
            self.model,
            self.gpus,
            self.gpu,
            self.quant_or_auto()
        )
    }

    /// The request as the study deploys it: when the model's full context does not fit but
    /// its weights do, `--max-model-len` is lowered to the longest that fits (what vLLM's
    /// start-up error asks for), rounded down to a multiple of 256 tokens. `Err` says in words
    /// why the deployment cannot run at all.
    ///
    /// # Errors
    /// The reason, for a combination that does not fit or cannot run.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// let seed = jauge::study::Preset::builtin("seed")?;
    /// let v100 = &seed.comparisons[0].deployments[0]; // Mistral-7B FP16 on one V100-16GB
    /// let r = v100.deployable(cat).unwrap();
    /// assert!(r.max_model_len.unwrap() < 32_768);
    /// let awq_v100 = &seed.comparisons[3].deployments[5];
    /// assert!(awq_v100.deployable(cat).unwrap_err().contains("compute capability"));
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn deployable<'a>(&self, cat: &'a Catalogue) -> Result<SizingRequest<'a>, String> {
        let request = self.request(cat).map_err(|e| e.to_string())?;
        let sizing = size(&request).map_err(|e| e.to_string())?;
        if sizing.fits {
            return Ok(request);
        }
        let shorter = sizing.max_model_len_that_fits / 256 * 256;
        if shorter >= 1024 {
            let shortened = SizingRequest {
                max_model_len: Some(shorter),
                ..request
            };
            if size(&shortened).is_ok_and(|s| s.fits) {
                return Ok(shortened);
            }
        }
        Err(format!(
            "does not fit: {:.2} GiB per GPU short (weights {:.2} GiB per GPU of a {:.2} GiB budget)",
            sizing.shortfall_gib_per_gpu,
            sizing.weights_gib_per_gpu,
            sizing.memory_gib_per_gpu.total
        ))
    }

    /// Whether an index entry describes this deployment (same catalogue model, GPU, count and
    /// quantisation), so only those datasets need fetching.
    ///
    /// ```
    /// let d = jauge::deployment::DeploymentSpec { quant: Some("bf16".into()), ..jauge::deployment::DeploymentSpec::new("mistral-7b-v0.3", "a100-40gb") };
    /// let entry = jauge::dataset::IndexEntry::describe("x.json", &jauge::dataset::example());
    /// assert!(d.matches_entry(&entry));
    /// ```
    pub fn matches_entry(&self, entry: &IndexEntry) -> bool {
        entry.model == self.model
            && entry.gpu == self.gpu
            && entry.gpu_count == self.gpus
            && entry
                .quantization
                .eq_ignore_ascii_case(self.quant_or_auto())
    }
}

impl DeploymentSpec {
    /// Whether a dataset measured or predicted this deployment (same catalogue model, GPU,
    /// count and quantisation).
    ///
    /// ```
    /// let d = jauge::deployment::DeploymentSpec { quant: Some("bf16".into()), ..jauge::deployment::DeploymentSpec::new("mistral-7b-v0.3", "a100-40gb") };
    /// assert!(d.matches(&jauge::dataset::example()));
    /// ```
    pub fn matches(&self, dataset: &Dataset) -> bool {
        self.matches_entry(&IndexEntry::describe("", dataset))
    }
}

/// The sizing request of a dataset's deployment, when its ids are in the built-in catalogue
/// (with the engine settings the dataset records).
///
/// ```
/// let r = jauge::deployment::request_of(&jauge::dataset::example()).unwrap();
/// assert_eq!((r.model.id.as_str(), r.gpu.id.as_str(), r.gpu_count), ("mistral-7b-v0.3", "a100-40gb", 1));
/// ```
pub fn request_of(dataset: &Dataset) -> Option<SizingRequest<'static>> {
    DeploymentSpec::of_dataset(dataset)?
        .request(Catalogue::builtin())
        .ok()
}

/// The vLLM release a dataset's engine records, when it is vLLM and the release is one whose
/// memory rules jauge knows (a development build such as `0.6.4.dev12+g…` counts as its
/// release); `None` leaves the default release.
///
/// ```
/// use jauge::dataset::Engine;
/// let engine = |name: &str, version: &str| Engine { name: name.into(), version: Some(version.into()), settings: Default::default() };
/// assert_eq!(jauge::deployment::recorded_vllm_release(&engine("vllm", "0.4.2")).as_deref(), Some("0.4.2"));
/// assert_eq!(jauge::deployment::recorded_vllm_release(&engine("vllm", "0.1.7")), None);
/// assert_eq!(jauge::deployment::recorded_vllm_release(&engine("sglang", "0.4.2")), None);
/// ```
pub fn recorded_vllm_release(engine: &crate::dataset::Engine) -> Option<String> {
    if !engine.name.eq_ignore_ascii_case("vllm") {
        return None;
    }
    let version: VllmVersion = engine.version.as_deref()?.parse().ok()?;
    Some(version.to_string())
}

/// The engine settings a sizing stands for, as a dataset records them: what vLLM would run
/// with (`max_model_len`, batch limits and block size resolved to the release's defaults).
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::{size, SizingRequest};
/// let cat = Catalogue::builtin();
/// let r = SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?);
/// let s = jauge::deployment::engine_settings(&r, &size(&r)?);
/// assert_eq!((s.max_model_len, s.tensor_parallel_size, s.block_size), (Some(32768), Some(1), Some(16)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn engine_settings(request: &SizingRequest<'_>, sizing: &Sizing) -> EngineSettings {
    EngineSettings {
        max_model_len: Some(sizing.max_model_len),
        gpu_memory_utilization: Some(request.gpu_memory_utilization),
        tensor_parallel_size: Some(request.gpu_count),
        max_num_seqs: Some(sizing.max_num_seqs),
        max_num_batched_tokens: Some(sizing.max_num_batched_tokens),
        block_size: Some(sizing.block_size),
        ..EngineSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run on the GPU node records the release and the memory CUDA saw; the sizing of that
    /// deployment follows both, not the catalogue's defaults.
    #[test]
    fn a_measured_deployment_is_sized_with_its_release_and_cuda_memory() {
        let mut dataset = crate::dataset::example();
        dataset.deployment.engine.name = "vllm".into();
        dataset.deployment.engine.version = Some("0.4.2".into());
        dataset.deployment.gpus.cuda_memory_mib = Some(40_000);
        let spec = DeploymentSpec::of_dataset(&dataset).unwrap();
        assert_eq!(spec.vllm_version.as_deref(), Some("0.4.2"));
        assert_eq!(spec.total_memory_gib, Some(40_000.0 / 1024.0));

        let recorded = size(&request_of(&dataset).unwrap()).unwrap();
        let catalogue = {
            let plain = DeploymentSpec {
                vllm_version: None,
                total_memory_gib: None,
                ..spec.clone()
            };
            size(&plain.request(Catalogue::builtin()).unwrap()).unwrap()
        };
        assert_eq!(recorded.engine_version, "0.4.2");
        assert_ne!(recorded.kv_cache_tokens, catalogue.kv_cache_tokens);
    }
}
