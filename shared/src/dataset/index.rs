//! `datasets/index.json`: the manifest the explorer reads to list the published datasets.

use serde::{Deserialize, Serialize};

use super::types::{Dataset, Source};
use crate::error::{DatasetError, Violation};

/// The `schema` value of the index.
///
/// ```
/// assert_eq!(jauge::dataset::INDEX_SCHEMA, "jauge.index/v1");
/// ```
pub const INDEX_SCHEMA: &str = "jauge.index/v1";

/// The list of published datasets.
///
/// ```
/// use jauge::dataset::{Index, IndexEntry};
/// let dataset = jauge::dataset::example();
/// let index = Index::new(vec![IndexEntry::describe("example.json", &dataset)]);
/// assert_eq!(Index::from_json(&index.to_json())?, index);
/// # Ok::<(), jauge::DatasetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Always [`INDEX_SCHEMA`].
    pub schema: String,
    /// One entry per dataset file, sorted by file name.
    pub datasets: Vec<IndexEntry>,
}

/// One published dataset, described enough to choose it without opening it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Path relative to `datasets/`.
    pub file: String,
    /// The model's catalogue id when known, else its served name.
    pub model: String,
    /// The GPU's catalogue id when known, else the driver's name for it.
    pub gpu: String,
    /// How many GPUs.
    pub gpu_count: u32,
    /// The quantisation id.
    pub quantization: String,
    /// The engine's name.
    pub engine: String,
    /// `measured`, `simulated` or `imported:<tool>`.
    pub source: Source,
    /// When the run started (RFC 3339).
    pub created_at: String,
}

impl IndexEntry {
    /// The entry that describes `dataset`, stored at `file`.
    ///
    /// ```
    /// let entry = jauge::dataset::IndexEntry::describe("x.json", &jauge::dataset::example());
    /// assert_eq!(entry.gpu, "a100-40gb");
    /// ```
    pub fn describe(file: &str, dataset: &Dataset) -> IndexEntry {
        let d = &dataset.deployment;
        IndexEntry {
            file: file.to_string(),
            model: d
                .model
                .catalogue_id
                .clone()
                .unwrap_or_else(|| d.model.served_name.clone()),
            gpu: d
                .gpus
                .catalogue_id
                .clone()
                .unwrap_or_else(|| d.gpus.name.clone()),
            gpu_count: d.gpus.count,
            quantization: d.quantization.clone(),
            engine: d.engine.name.clone(),
            source: dataset.source.clone(),
            created_at: dataset.provenance.created_at.clone(),
        }
    }
}

impl Index {
    /// An index of these entries, sorted by file.
    ///
    /// ```
    /// assert!(jauge::dataset::Index::new(vec![]).datasets.is_empty());
    /// ```
    pub fn new(mut datasets: Vec<IndexEntry>) -> Index {
        datasets.sort_by(|a, b| a.file.cmp(&b.file));
        Index {
            schema: INDEX_SCHEMA.to_string(),
            datasets,
        }
    }

    /// Parses an index.
    ///
    /// # Errors
    ///
    /// [`DatasetError::Json`] naming the path of a malformed field, or
    /// [`DatasetError::Invalid`] for a wrong `schema` or a file listed twice.
    ///
    /// ```
    /// use jauge::dataset::Index;
    /// assert!(Index::from_json(r#"{"schema": "jauge.index/v1", "datasets": []}"#).is_ok());
    /// assert!(Index::from_json(r#"{"schema": "jauge.index/v1"}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Index, DatasetError> {
        let value = super::strict::parse(text).map_err(DatasetError::Json)?;
        let index: Index = super::deserialize_at_path(value).map_err(DatasetError::Json)?;
        let mut problems = Vec::new();
        if index.schema != INDEX_SCHEMA {
            problems.push(Violation::new(
                "schema",
                format!("expected `{INDEX_SCHEMA}`, found `{}`", index.schema),
            ));
        }
        for (i, entry) in index.datasets.iter().enumerate() {
            if index.datasets[..i].iter().any(|e| e.file == entry.file) {
                problems.push(Violation::new(
                    format!("datasets[{i}].file"),
                    format!("`{}` is listed twice", entry.file),
                ));
            }
        }
        if problems.is_empty() {
            Ok(index)
        } else {
            Err(DatasetError::Invalid(problems))
        }
    }

    /// The index as pretty JSON with a final newline.
    ///
    /// ```
    /// assert!(jauge::dataset::Index::new(vec![]).to_json().ends_with("}\n"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("an index always serialises");
        text.push('\n');
        text
    }
}
