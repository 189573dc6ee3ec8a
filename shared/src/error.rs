//! Errors of the library, one enum per area.
//!
//! # Design
//!
//! Callers branch on the *kind* of failure: the explorer shows "does not fit on this GPU"
//! differently from "this file is not a dataset", and the runner maps bad input to exit code 2.
//! So each area has its own typed enum ([`DatasetError`], [`CatalogueError`], [`SizingError`])
//! rather than one opaque error. Each message is one phrase that names what was wrong and where
//! (a JSON path, a model or GPU id) and, where there is one, how to fix it; the runner adds the
//! file name in front (`reading x.json: steps[3].latency.ttft_ms.p50: negative value -4`).

use std::fmt;

/// One broken rule in a dataset, at a JSON path.
///
/// ```
/// use jauge::dataset::Violation;
/// let v = Violation::new("steps[3].latency.ttft_ms.p50", "negative value -4.0");
/// assert_eq!(v.to_string(), "steps[3].latency.ttft_ms.p50: negative value -4.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, as a JSON path (`steps[3].latency.ttft_ms.p50`; empty for the document).
    pub path: String,
    /// Which rule was broken, with the offending value.
    pub rule: String,
}

impl Violation {
    /// A violation of `rule` at `path`.
    ///
    /// ```
    /// use jauge::dataset::Violation;
    /// assert_eq!(Violation::new("a.b", "missing").path, "a.b");
    /// ```
    pub fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)
        } else {
            write!(f, "{}: {}", self.path, self.rule)
        }
    }
}

/// Why a dataset could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatasetError {
    /// Not JSON, or a field of the wrong type or missing.
    #[error("{0}")]
    Json(Violation),
    /// The `schema` field names a format this version of jauge cannot read.
    #[error("{}", unsupported_version_message(.found, .written_by.as_deref()))]
    UnsupportedVersion {
        /// The `schema` value found in the file.
        found: String,
        /// The jauge version that wrote it, when the file says.
        written_by: Option<String>,
    },
    /// Well-formed JSON that breaks one or more rules of the format; every one is listed.
    #[error("{}", join_violations(.0))]
    Invalid(Vec<Violation>),
}

impl DatasetError {
    /// Every problem found, one per line when displayed.
    ///
    /// ```
    /// use jauge::dataset::{Dataset, Violation};
    /// let err = Dataset::from_json("{").unwrap_err();
    /// assert_eq!(err.violations().len(), 1);
    /// ```
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            DatasetError::Json(v) => vec![v.clone()],
            DatasetError::UnsupportedVersion { .. } => {
                vec![Violation::new("schema", self.to_string())]
            }
            DatasetError::Invalid(vs) => vs.clone(),
        }
    }
}

fn unsupported_version_message(found: &str, written_by: Option<&str>) -> String {
    let reader = crate::VERSION;
    let reads = crate::dataset::SCHEMA;
    match written_by {
        // Only a later jauge can write a later format: a file that names this version or an
        // earlier one had its `schema` changed by hand, or was not written by jauge at all.
        Some(v) if release(v).is_some_and(|w| Some(w) <= release(reader)) => format!(
            "schema: this file says `{found}` and names jauge {v} as its writer, but jauge {v} \
             writes {reads} at most: its `schema` field was changed or it was not written by \
             jauge; this jauge ({reader}) reads up to {reads}"
        ),
        Some(v) => format!(
            "schema: this file is `{found}`, written by jauge {v}; this jauge ({reader}) reads \
             up to {reads}: upgrade to jauge {v} or later to read it"
        ),
        None => format!(
            "schema: this file is `{found}`; this jauge ({reader}) reads up to {reads}: \
             upgrade jauge to read it"
        ),
    }
}

/// `major.minor.patch` of a version string (`0.1.0`, `0.2.0-beta`), for ordering.
fn release(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let triple = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(triple)
}

fn join_violations(vs: &[Violation]) -> String {
    vs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A catalogue lookup or a model description that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogueError {
    /// No model with this id or alias.
    #[error("unknown model `{id}`{}; `jauge size --list models` lists them, or give a path to a config.json", did_you_mean(.suggestions))]
    UnknownModel {
        /// What was asked for.
        id: String,
        /// The closest catalogue ids.
        suggestions: Vec<String>,
    },
    /// No GPU with this id.
    #[error("unknown GPU `{id}`{}; `jauge size --list gpus` lists them", did_you_mean(.suggestions))]
    UnknownGpu {
        /// What was asked for.
        id: String,
        /// The closest catalogue ids.
        suggestions: Vec<String>,
    },
    /// No study preset with this name.
    #[error("unknown study preset `{id}`{}", did_you_mean(.suggestions))]
    UnknownPreset {
        /// What was asked for.
        id: String,
        /// The presets there are.
        suggestions: Vec<String>,
    },
    /// No quantisation with this id.
    #[error("unknown quantisation `{id}`{}; `jauge size --list quants` lists them", did_you_mean(.suggestions))]
    UnknownQuant {
        /// What was asked for.
        id: String,
        /// The closest catalogue ids.
        suggestions: Vec<String>,
    },
    /// A Hugging Face `config.json` that is not JSON or not an object.
    #[error("config.json: {message}")]
    ConfigJson {
        /// What the parser said.
        message: String,
    },
    /// A `config.json` without a field the sizing model needs.
    #[error("config.json: missing field `{field}` (architecture {architecture}); add it to the file or pick a catalogue model")]
    ConfigMissingField {
        /// The missing field.
        field: String,
        /// The `architectures[0]` of the file, or `unknown`.
        architecture: String,
    },
    /// A `config.json` field with an unusable value.
    #[error("config.json: field `{field}`: {message}")]
    ConfigBadValue {
        /// The field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        many => format!(
            " (did you mean {}?)",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Inputs the sizing model refuses, or a combination that cannot run at all.
///
/// "Does not fit in memory" is *not* an error: it is a [`crate::sizing::Sizing`] with
/// `fits == false` and advice on what would fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SizingError {
    /// Zero GPUs asked for.
    #[error("--gpus: a deployment needs at least one GPU")]
    NoGpus,
    /// An engine's rules refuse the release or a setting, or the engine is unknown.
    #[error("{message}")]
    Engine {
        /// What, and how to fix it.
        message: String,
    },
    /// A device memory total that no GPU has.
    #[error("--total-memory-gib: {value} is not a GPU's memory in GiB (above 0, at most 1024); give the total CUDA reports (torch.cuda.mem_get_info()[1] / 2**30)")]
    TotalMemory {
        /// The value given.
        value: f64,
    },
    /// `gpu_memory_utilization` outside (0, 1].
    #[error("--gpu-memory-utilization: {value} is outside (0, 1]; vLLM's default is 0.9")]
    Utilization {
        /// The value given.
        value: f64,
    },
    /// A block size vLLM does not accept.
    #[error("--block-size: {value} is not one of 8, 16, 32, 64, 128 (vLLM's CUDA default is 16)")]
    BlockSize {
        /// The value given.
        value: u32,
    },
    /// A zero or otherwise unusable count (`max_num_seqs`, `max_num_batched_tokens`, a length).
    #[error("{what}: must be at least 1")]
    Zero {
        /// Which setting.
        what: &'static str,
    },
    /// A context or `max_model_len` beyond what the model accepts.
    #[error("{what}: {tokens} tokens is beyond {model}'s maximum of {max_tokens} (max_position_embeddings)")]
    ContextTooLong {
        /// Which setting (`--context`, `--max-model-len`).
        what: &'static str,
        /// The value given.
        tokens: u32,
        /// The model's id.
        model: String,
        /// The model's maximum.
        max_tokens: u32,
    },
    /// `--context` above `--max-model-len`: vLLM would reject such requests.
    #[error("--context: {context} tokens is above --max-model-len {max_model_len}; the server would reject such requests")]
    ContextAboveMaxModelLen {
        /// The context asked for.
        context: u32,
        /// The server's limit.
        max_model_len: u32,
    },
    /// Tensor parallelism that does not divide the model's attention heads.
    #[error("--gpus {gpus}: tensor parallelism must divide {model}'s {heads} attention heads; try {}", join_u32(.valid))]
    TensorParallel {
        /// GPUs asked for.
        gpus: u32,
        /// The model.
        model: String,
        /// Its attention heads.
        heads: u32,
        /// GPU counts that work (up to 8).
        valid: Vec<u32>,
    },
    /// A quantisation or KV-cache type that this GPU cannot run with this engine.
    #[error("{reason}{}", nearest_message(.nearest))]
    Unsupported {
        /// Why, naming the GPU, its compute capability and the engine.
        reason: String,
        /// The nearest combinations that do run, best first.
        nearest: Vec<String>,
    },
    /// A model whose architecture numbers make no sense (zero, beyond any real model, or
    /// inconsistent): sizing it would only compute nonsense.
    #[error("model `{model}`: {message}")]
    Model {
        /// The model's id.
        model: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A memory term whose bytes do not fit in 64 bits: the settings are far beyond any real
    /// deployment (a `max_num_batched_tokens` of billions, say).
    #[error("{what} does not fit in 64 bits of bytes: the settings are far beyond any real deployment; check {check}")]
    Overflow {
        /// Which term.
        what: &'static str,
        /// Which inputs to look at.
        check: &'static str,
    },
    /// A KV-cache type that is not one of `auto`, `fp16`, `bf16`, `fp8`.
    #[error("--kv-cache-dtype: {message}")]
    KvCacheDtype {
        /// What is wrong.
        message: String,
    },
    /// A vLLM version string that cannot be read, or one too old to model.
    #[error("--vllm-version: {message}")]
    VllmVersion {
        /// What is wrong.
        message: String,
    },
}

fn join_u32(values: &[u32]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn nearest_message(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; nearest that works: {}", nearest.join(", "))
    }
}

/// A deployment that cannot become a sizing request: an id the catalogue does not know, or a
/// setting that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeploymentError {
    /// An unknown model, GPU or quantisation.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// A setting the sizing refuses.
    #[error(transparent)]
    Sizing(#[from] SizingError),
}
