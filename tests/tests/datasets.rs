//! The published `datasets/` folder: every file validates, and the index lists exactly them.

use std::path::{Path, PathBuf};

use jauge::dataset::{json_schema, Dataset, Index};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn every_published_dataset_validates_and_is_indexed() {
    let dir = repo().join("datasets");
    let (built, problems) = jauge_runner::index::build(&dir).unwrap();
    assert!(
        problems.is_empty(),
        "invalid datasets:\n{}",
        problems.join("\n")
    );
    let text = std::fs::read_to_string(dir.join("index.json")).expect("datasets/index.json exists");
    let committed = Index::from_json(&text).unwrap_or_else(|e| panic!("datasets/index.json: {e}"));
    assert_eq!(
        committed, built,
        "datasets/index.json is stale: run `cargo run -p jauge-runner -- index datasets`"
    );
    for entry in &committed.datasets {
        let dataset =
            Dataset::from_json(&std::fs::read_to_string(dir.join(&entry.file)).unwrap()).unwrap();
        assert_eq!(entry.source, dataset.source, "{}", entry.file);
    }
}

#[test]
fn committed_json_schema_is_current() {
    let path = repo().join("datasets/schema/jauge.dataset.v2.schema.json");
    let committed = std::fs::read_to_string(&path).expect("the schema is committed");
    assert!(
        committed == json_schema(),
        "{} is stale: run `cargo run -p jauge-runner -- schema --out {}`",
        path.display(),
        "datasets/schema/jauge.dataset.v2.schema.json"
    );
}

/// The schema accepts what the parser accepts: every required field of the schema is present
/// in a minimal valid dataset, and the minimal dataset parses.
#[test]
fn minimal_fixture_parses_and_meets_the_schemas_required_fields() {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/minimal.json")).unwrap();
    let dataset = Dataset::from_json(&text).unwrap();
    assert!(dataset.steps.is_empty());
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for field in schema["required"].as_array().unwrap() {
        assert!(
            doc.get(field.as_str().unwrap()).is_some(),
            "schema requires {field}"
        );
    }
}

/// The calibration jauge ships was fitted on the published corpus as it is now, by the model
/// as it is now: a changed dataset or timing model makes it stale until regenerated.
#[test]
fn shipped_calibration_is_fitted_on_the_current_corpus() {
    let dir = repo().join("datasets/published");
    let files: Vec<(String, String)> = jauge_runner::index::dataset_files(&dir)
        .unwrap()
        .into_iter()
        .map(|path| {
            (
                jauge_runner::calibrate::file_name(&path),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    assert!(!files.is_empty(), "datasets/published is empty");
    let shipped = jauge::calibrate::Calibration::builtin();
    assert_eq!(
        shipped.corpus.digest,
        jauge::calibrate::corpus_digest(&files),
        "shared/data/calibration.json is stale: run `cargo run --release -p jauge-runner -- calibrate datasets/published --out shared/data`"
    );
    assert_eq!(shipped.corpus.datasets, files.len());
    let checks: jauge::calibrate::Checks = serde_json::from_str(
        &std::fs::read_to_string(repo().join("shared/data/calibration-checks.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        checks.digest, shipped.corpus.digest,
        "the checks are the calibration's"
    );
    assert_eq!(
        checks.checks.len(),
        shipped.corpus.points,
        "one check per point"
    );
}
