//! The dataset format `jauge.dataset/v2`: one run of one deployment over a grid of steps — measured, simulated, published or imported.
//!
//! The runner writes it, the explorer reads it, and other tools can check it against the JSON
//! Schema that [`json_schema`] exports. Every number carries its unit in its name (`_ms`,
//! `_tok_s`, `_mib`, `_w`, `_j`, `_pct`, `_s`).
//!
//! Reading goes through [`Dataset::from_json`], which checks the version, the types and then
//! every rule of the format, and reports each problem at its JSON path:
//!
//! ```
//! use jauge::dataset::Dataset;
//! let text = jauge::dataset::example_json();
//! let dataset = Dataset::from_json(&text)?;
//! assert_eq!(dataset.steps.len(), 2);
//!
//! let broken = text.replacen("\"p50\": 120.0", "\"p50\": -4.0", 1);
//! let err = Dataset::from_json(&broken).unwrap_err();
//! assert_eq!(err.to_string(), "steps[0].latency.ttft_ms.p50: negative value -4.0");
//! # Ok::<(), jauge::DatasetError>(())
//! ```

mod example;
mod index;
mod strict;
mod types;
mod validate;
mod version;

pub use crate::error::Violation;
pub use example::{example, example_json};
pub use index::{Index, IndexEntry, INDEX_SCHEMA};
pub use types::*;
pub use version::{SCHEMA, SCHEMA_V1, SUPPORTED_SCHEMAS};

use crate::error::DatasetError;

/// Deserialises a `T`, naming the JSON path of the field that fails (`steps[3].requests.sent`).
/// In the browser the path is left out: naming it doubles the deserialising code, which every
/// reader of the site downloads (the validator's rules still name their paths there).
pub(crate) fn deserialize_at_path<'de, T, D>(de: D) -> Result<T, Violation>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    #[cfg(not(target_arch = "wasm32"))]
    {
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Violation::new(path, e.into_inner().to_string())
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        T::deserialize(de).map_err(|e| Violation::new("", e.to_string()))
    }
}

impl Dataset {
    /// Parses, migrates and validates a dataset.
    ///
    /// # Errors
    ///
    /// * [`DatasetError::Json`] when the text is not JSON, an object repeats a key, or a field
    ///   has the wrong type or is missing (the path names it).
    /// * [`DatasetError::UnsupportedVersion`] for a `schema` newer than `jauge.dataset/v2`.
    /// * [`DatasetError::Invalid`] listing every broken rule (negative latencies, percentiles
    ///   out of order, a grid that does not increase, a step outside the grid, a secret left
    ///   in the command line, …).
    ///
    /// ```
    /// use jauge::dataset::Dataset;
    /// assert!(Dataset::from_json(&jauge::dataset::example_json()).is_ok());
    /// let err = Dataset::from_json(r#"{"schema": "jauge.dataset/v9"}"#).unwrap_err();
    /// assert!(err.to_string().contains("upgrade jauge"));
    /// ```
    pub fn from_json(text: &str) -> Result<Dataset, DatasetError> {
        let value = strict::parse(text).map_err(DatasetError::Json)?;
        let value = version::migrate_to_current(value)?;
        let dataset: Dataset = deserialize_at_path(value).map_err(DatasetError::Json)?;
        let violations = dataset.violations();
        if violations.is_empty() {
            Ok(dataset)
        } else {
            Err(DatasetError::Invalid(violations))
        }
    }

    /// Every rule of the format this dataset breaks; empty when it is valid.
    ///
    /// ```
    /// let mut dataset = jauge::dataset::example();
    /// assert!(dataset.violations().is_empty());
    /// dataset.workload.concurrency = vec![4, 2];
    /// assert_eq!(dataset.violations()[0].path, "workload.concurrency[1]");
    /// ```
    pub fn violations(&self) -> Vec<Violation> {
        validate::violations(self)
    }

    /// The dataset as pretty JSON, the form written to disk. Parsing it back gives an equal
    /// dataset.
    ///
    /// ```
    /// use jauge::dataset::Dataset;
    /// let dataset = jauge::dataset::example();
    /// assert_eq!(Dataset::from_json(&dataset.to_json())?, dataset);
    /// # Ok::<(), jauge::DatasetError>(())
    /// ```
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a dataset always serialises");
        text.push('\n');
        text
    }
}

/// The JSON Schema (draft 2020-12) of `jauge.dataset/v2`, generated from the types, as pretty
/// JSON. Committed under `datasets/schema/`; a test fails when that copy is stale.
///
/// ```
/// let schema = jauge::dataset::json_schema();
/// assert!(schema.contains("\"title\": \"Dataset\""));
/// ```
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Dataset);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
