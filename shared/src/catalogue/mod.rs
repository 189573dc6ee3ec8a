//! The catalogue of models, GPUs and quantisations.
//!
//! The facts live in data files under `shared/data/` (embedded at compile time), each entry
//! with the source of its numbers. Any model can also be described at run time from its
//! Hugging Face `config.json` with [`ModelSpec::from_hf_config`].
//!
//! ```
//! use jauge::catalogue::Catalogue;
//! let cat = Catalogue::builtin();
//! assert_eq!(cat.model("meta-llama/Meta-Llama-3-70B-Instruct")?.id, "llama-3-70b");
//! assert_eq!(cat.gpu("A100-40GB")?.memory_gb, 40.0);
//! assert_eq!(cat.quant("awq")?.bits_per_weight, 4.15625);
//! assert!(cat.gpu("a100-40").unwrap_err().to_string().contains("did you mean"));
//! # Ok::<(), jauge::CatalogueError>(())
//! ```

mod apple;
mod gpu;
mod model;
mod quant;
mod suggest;

use std::sync::OnceLock;

use serde::Deserialize;

pub use apple::{
    AppleCatalogue, AppleChip, AppleDevice, ChipSources, GpuVariant, WorkingSetLog, WorkingSetRule,
    WorkingSetSource,
};
pub use gpu::{ComputeCapability, GpuSpec, Interconnect, InterconnectKind};
pub use model::{Architecture, ModelSpec, ParamCounts, SlidingWindowLayers, FIELD_LIMITS};
pub use quant::{QuantKind, QuantScope, QuantSpec};

use crate::error::CatalogueError;

/// Every model, GPU and quantisation jauge knows.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Models, in the data file's order.
    pub models: Vec<ModelSpec>,
    /// GPUs, in the data file's order.
    pub gpus: Vec<GpuSpec>,
    /// Quantisations, in the data file's order.
    pub quants: Vec<QuantSpec>,
}

#[derive(Deserialize)]
struct ModelsFile {
    models: Vec<ModelSpec>,
}

#[derive(Deserialize)]
struct GpusFile {
    gpus: Vec<GpuSpec>,
}

#[derive(Deserialize)]
struct QuantsFile {
    quants: Vec<QuantSpec>,
}

impl Catalogue {
    /// The catalogue built into this version of jauge.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert!(cat.models.len() >= 12 && cat.gpus.len() >= 12 && cat.quants.len() >= 11);
    /// ```
    pub fn builtin() -> &'static Catalogue {
        static BUILTIN: OnceLock<Catalogue> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The data files are part of the crate and a unit test parses them, so a failure
            // here is a build defect, not bad input.
            let models: ModelsFile = crate::json::from_str(include_str!("../../data/models.json"))
                .expect("shared/data/models.json is valid");
            let gpus: GpusFile = crate::json::from_str(include_str!("../../data/gpus.json"))
                .expect("shared/data/gpus.json is valid");
            let quants: QuantsFile = crate::json::from_str(include_str!("../../data/quants.json"))
                .expect("shared/data/quants.json is valid");
            Catalogue {
                models: models.models,
                gpus: gpus.gpus,
                quants: quants.quants,
            }
        })
    }

    /// A model by catalogue id or Hugging Face repository name, ignoring case.
    ///
    /// # Errors
    ///
    /// [`CatalogueError::UnknownModel`] with the closest ids.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.model("mistralai/Mistral-7B-Instruct-v0.3")?.id, "mistral-7b-v0.3");
    /// assert!(cat.model("mistral-8b").is_err());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn model(&self, id: &str) -> Result<&ModelSpec, CatalogueError> {
        let wanted = id.trim();
        self.models
            .iter()
            .find(|m| {
                m.id.eq_ignore_ascii_case(wanted)
                    || m.hf_repos.iter().any(|r| r.eq_ignore_ascii_case(wanted))
            })
            .ok_or_else(|| CatalogueError::UnknownModel {
                id: id.to_string(),
                suggestions: suggest::closest(wanted, self.models.iter().map(|m| m.id.as_str())),
            })
    }

    /// A GPU by catalogue id, ignoring case.
    ///
    /// # Errors
    ///
    /// [`CatalogueError::UnknownGpu`] with the closest ids.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.gpu("h100-80gb")?.compute_capability.to_string(), "9.0");
    /// assert!(cat.gpu("h1000").is_err());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn gpu(&self, id: &str) -> Result<&GpuSpec, CatalogueError> {
        let wanted = id.trim();
        self.gpus
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| CatalogueError::UnknownGpu {
                id: id.to_string(),
                suggestions: suggest::closest(wanted, self.gpus.iter().map(|g| g.id.as_str())),
            })
    }

    /// Apple Silicon chips and their GPU working sets (llama.cpp on Metal), read on first use:
    /// a program that never asks (the explorer) carries neither the data nor its parser.
    ///
    /// ```
    /// assert!(!jauge::catalogue::Catalogue::builtin().apple().chips.is_empty());
    /// ```
    pub fn apple(&self) -> &'static AppleCatalogue {
        static APPLE: OnceLock<AppleCatalogue> = OnceLock::new();
        APPLE.get_or_init(|| {
            crate::json::from_str(include_str!("../../data/apple.json"))
                .expect("shared/data/apple.json is valid")
        })
    }

    /// An Apple Silicon Mac by device id (chip and RAM: `m2-max-96gb`), ignoring case, with its
    /// GPU working-set limit resolved (logged, or macOS's default rule).
    ///
    /// # Errors
    ///
    /// [`CatalogueError::UnknownGpu`] with the valid ids: the chip's sizes when the chip is
    /// known, else the closest ids.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.apple_device("m2-max-96gb")?.memory_gb, 96);
    /// assert!(cat.apple_device("m1-32gb").unwrap_err().to_string().contains("`m1-16gb`"));
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn apple_device(&self, id: &str) -> Result<AppleDevice, CatalogueError> {
        let wanted = id.trim().to_ascii_lowercase();
        if let Some(device) = self.apple().device(&wanted) {
            return Ok(device);
        }
        let ids = self.apple().device_ids();
        // The longest chip id the input starts with (`m2-max-…`, not `m2-…`): its sizes.
        let chip = self
            .apple()
            .chips
            .iter()
            .filter(|c| wanted.starts_with(&format!("{}-", c.id)))
            .max_by_key(|c| c.id.len());
        let suggestions = match chip {
            Some(c) => ids
                .iter()
                .filter(|i| {
                    i.strip_prefix(&format!("{}-", c.id)).is_some_and(|rest| {
                        rest.trim_end_matches("gb")
                            .chars()
                            .all(|ch| ch.is_ascii_digit())
                    })
                })
                .cloned()
                .collect(),
            None => {
                let close = suggest::closest(&wanted, ids.iter().map(String::as_str));
                if close.is_empty() {
                    ids
                } else {
                    close
                }
            }
        };
        Err(CatalogueError::UnknownGpu {
            id: id.to_string(),
            suggestions,
        })
    }

    /// A quantisation by catalogue id, ignoring case.
    ///
    /// # Errors
    ///
    /// [`CatalogueError::UnknownQuant`] with the closest ids.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.quant("GGUF-Q4_K_M")?.id, "gguf-q4_k_m");
    /// assert!(cat.quant("q4").is_err());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn quant(&self, id: &str) -> Result<&QuantSpec, CatalogueError> {
        let wanted = id.trim();
        self.quants
            .iter()
            .find(|q| q.id.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| CatalogueError::UnknownQuant {
                id: id.to_string(),
                suggestions: suggest::closest(wanted, self.quants.iter().map(|q| q.id.as_str())),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_data_files_parse_and_ids_are_unique() {
        let cat = Catalogue::builtin();
        let mut ids: Vec<&str> = cat.models.iter().map(|m| m.id.as_str()).collect();
        ids.extend(cat.gpus.iter().map(|g| g.id.as_str()));
        ids.extend(cat.quants.iter().map(|q| q.id.as_str()));
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len());
    }

    #[test]
    fn every_entry_cites_a_source() {
        let cat = Catalogue::builtin();
        assert!(cat.models.iter().all(|m| !m.source.is_empty()));
        assert!(cat.gpus.iter().all(|g| !g.source.is_empty()));
        assert!(cat.quants.iter().all(|q| !q.source.is_empty()));
    }

    #[test]
    fn issue_required_ids_are_present() {
        let cat = Catalogue::builtin();
        for id in [
            "mistral-7b-v0.1",
            "mistral-7b-v0.3",
            "mixtral-8x7b-v0.1",
            "mixtral-8x22b-v0.1",
            "codestral-22b-v0.1",
            "llama-3-8b",
            "llama-3-70b",
            "llama-3.1-8b",
            "llama-3.1-70b",
            "qwen2.5-7b",
            "qwen2.5-72b",
            "gemma-2-27b",
        ] {
            cat.model(id).unwrap();
        }
        for id in [
            "v100-16gb",
            "v100-32gb",
            "a100-40gb",
            "a100-80gb",
            "h100-80gb",
            "h100-pcie",
            "h200",
            "l4",
            "l40s",
            "a10",
            "a10g",
            "t4",
            "rtx-4090",
            "rtx-3090",
        ] {
            cat.gpu(id).unwrap();
        }
        for id in [
            "fp16",
            "bf16",
            "fp8",
            "int8",
            "awq",
            "gptq-4bit",
            "gptq-8bit",
            "gguf-q8_0",
            "gguf-q6_k",
            "gguf-q5_k_m",
            "gguf-q4_k_m",
        ] {
            cat.quant(id).unwrap();
        }
    }

    #[test]
    fn every_catalogue_model_is_internally_consistent() {
        for m in &Catalogue::builtin().models {
            m.check().unwrap_or_else(|e| panic!("{}: {e}", m.id));
        }
    }
}
