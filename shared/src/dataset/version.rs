//! Versions of the dataset format: which ones this jauge reads, and how older ones move
//! forward.
//!
//! A dataset written by any released version stays readable by every later one
//! (DESIGN.md). A breaking change to the format becomes `jauge.dataset/v2` with a migration
//! from v1 added to [`MIGRATIONS`]; readers refuse versions newer than theirs, naming the
//! jauge version that wrote the file.

use serde_json::Value;

use crate::error::{DatasetError, Violation};

/// The `schema` value of the first format.
///
/// ```
/// assert_eq!(jauge::dataset::SCHEMA_V1, "jauge.dataset/v1");
/// ```
pub const SCHEMA_V1: &str = "jauge.dataset/v1";

/// The `schema` value of the current format, which jauge writes. v2 added published
/// datasets (their source and each step's quote), figures a source may leave absent (a
/// summary's percentiles, a step's throughputs, counts and duration), per-step open-loop
/// rates, and how lengths were drawn.
///
/// ```
/// assert_eq!(jauge::dataset::SCHEMA, "jauge.dataset/v2");
/// ```
pub const SCHEMA: &str = "jauge.dataset/v2";

/// Every `schema` value this version reads (older ones are migrated to the current one).
///
/// ```
/// assert!(jauge::dataset::SUPPORTED_SCHEMAS.contains(&"jauge.dataset/v1"));
/// ```
pub const SUPPORTED_SCHEMAS: &[&str] = &[SCHEMA_V1, SCHEMA];

const PREFIX: &str = "jauge.dataset/v";
const CURRENT: u32 = 2;

/// Rewrites a document of one version into the next.
type Migration = fn(Value) -> Value;

/// Migrations from version `n` to `n + 1`, in order.
const MIGRATIONS: &[(u32, Migration)] = &[(1, v1_to_v2)];

/// v1 → v2: every v1 field keeps its meaning (v2 only lets some be absent and adds others),
/// so only the `schema` value changes.
fn v1_to_v2(mut value: Value) -> Value {
    value["schema"] = Value::from(SCHEMA);
    value
}

/// Checks the `schema` field and brings an older document up to the current version.
pub(super) fn migrate_to_current(mut value: Value) -> Result<Value, DatasetError> {
    let Some(object) = value.as_object() else {
        return Err(DatasetError::Json(Violation::new(
            "",
            "a dataset is a JSON object; this is not one",
        )));
    };
    let Some(schema) = object.get("schema") else {
        return Err(DatasetError::Json(Violation::new(
            "schema",
            format!("missing; a jauge dataset starts with \"schema\": \"{SCHEMA}\""),
        )));
    };
    let Some(schema) = schema.as_str() else {
        return Err(DatasetError::Json(Violation::new(
            "schema",
            format!("expected a string like \"{SCHEMA}\", found {schema}"),
        )));
    };
    let version = schema
        .strip_prefix(PREFIX)
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            DatasetError::Json(Violation::new(
                "schema",
                format!("`{schema}` is not a jauge dataset format (expected \"{SCHEMA}\")"),
            ))
        })?;
    if version > CURRENT {
        let written_by = value
            .pointer("/provenance/tool_version")
            .and_then(Value::as_str)
            .map(str::to_string);
        return Err(DatasetError::UnsupportedVersion {
            found: schema.to_string(),
            written_by,
        });
    }
    for (from, migrate) in MIGRATIONS {
        if *from >= version {
            value = migrate(value);
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_document_becomes_v2() {
        let doc = serde_json::json!({"schema": "jauge.dataset/v1", "x": 1});
        let v2 = migrate_to_current(doc).unwrap();
        assert_eq!(v2["schema"], SCHEMA);
        assert_eq!(v2["x"], 1);
    }

    #[test]
    fn newer_version_names_the_jauge_that_wrote_it() {
        let doc = serde_json::json!({"schema": "jauge.dataset/v3", "provenance": {"tool_version": "3.1.0"}});
        let err = migrate_to_current(doc).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("jauge.dataset/v3"), "{text}");
        assert!(text.contains("upgrade to jauge 3.1.0 or later"), "{text}");
    }

    /// A file claiming to come from this very version (or an older one) cannot be in a newer
    /// format: the reader is told the file was altered, not to "upgrade" to what it runs.
    #[test]
    fn newer_format_from_this_version_is_called_altered_not_upgrade() {
        for writer in [crate::VERSION, "0.0.9"] {
            let doc = serde_json::json!({"schema": "jauge.dataset/v3", "provenance": {"tool_version": writer}});
            let text = migrate_to_current(doc).unwrap_err().to_string();
            assert!(!text.contains("upgrade"), "{text}");
            assert!(
                text.contains("was changed or it was not written by jauge"),
                "{text}"
            );
        }
    }

    #[test]
    fn foreign_schema_is_not_taken_for_a_version() {
        let err = migrate_to_current(serde_json::json!({"schema": "guidellm/v1"})).unwrap_err();
        assert!(
            err.to_string().contains("not a jauge dataset format"),
            "{err}"
        );
    }

    #[test]
    fn missing_schema_says_what_to_write() {
        let err = migrate_to_current(serde_json::json!({})).unwrap_err();
        assert!(err.to_string().starts_with("schema: missing"), "{err}");
    }
}
