//! The Study page's view-model: the seed preset's comparisons, each deployment's sizing
//! (computed here, as `jauge size` does), its predicted answers (from the published
//! `simulated/seed/` datasets) and its measured ones when a measured dataset of the same
//! deployment is published. Pure, tested natively.

use jauge::catalogue::Catalogue;
use jauge::dataset::{Dataset, Index, Source};
use jauge::deployment::DeploymentSpec;
use jauge::study::{Answers, Comparison, Preset};

/// Where the predicted datasets of the seed preset are published, inside `datasets/`.
pub const PREDICTED_DIR: &str = "simulated/seed/";

/// One deployment's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The deployment.
    pub deployment: DeploymentSpec,
    /// Memory per GPU, or why it cannot run.
    pub memory: Result<Memory, String>,
    /// The simulator's answers (labelled simulated).
    pub predicted: Option<Answers>,
    /// The answers of a measured dataset of the same deployment.
    pub measured: Option<Answers>,
}

/// The sizing's memory figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    /// Weights per GPU, GiB.
    pub weights_gib: f64,
    /// KV cache per GPU, GiB.
    pub kv_cache_gib: f64,
    /// KV-cache tokens of the deployment.
    pub kv_cache_tokens: u64,
    /// The context the deployment is sized for (lowered when the full one does not fit).
    pub max_model_len: u32,
}

/// The index's files to fetch: for each deployment of the preset, its predicted dataset and
/// its newest measured one.
///
/// ```
/// let preset = jauge::study::Preset::builtin("seed").unwrap();
/// let index = jauge::dataset::Index::new(vec![]);
/// assert!(jauge_explorer::study::files_to_fetch(&preset, &index).is_empty());
/// ```
pub fn files_to_fetch(preset: &Preset, index: &Index) -> Vec<String> {
    let mut files: Vec<String> = index
        .datasets
        .iter()
        .filter(|e| {
            preset
                .comparisons
                .iter()
                .flat_map(|c| &c.deployments)
                .any(|d| d.matches_entry(e))
        })
        .filter(|e| e.source == Source::Measured || e.file.starts_with(PREDICTED_DIR))
        .map(|e| e.file.clone())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// The rows of one comparison from the datasets fetched (`(file, dataset)`).
pub fn rows(comparison: &Comparison, fetched: &[(String, Dataset)]) -> Vec<Row> {
    let cat = Catalogue::builtin();
    comparison
        .deployments
        .iter()
        .map(|d| {
            let of = |want: &dyn Fn(&str, &Dataset) -> bool| {
                let mut matching: Vec<&(String, Dataset)> = fetched
                    .iter()
                    .filter(|(file, data)| d.matches(data) && want(file, data))
                    .collect();
                // The newest measurement wins.
                matching.sort_by(|a, b| a.1.provenance.created_at.cmp(&b.1.provenance.created_at));
                matching
                    .last()
                    .map(|(_, data)| Answers::of(std::slice::from_ref(data)))
            };
            Row {
                deployment: d.clone(),
                memory: memory(d, cat),
                predicted: of(&|file, data| {
                    data.source == Source::Simulated && file.starts_with(PREDICTED_DIR)
                }),
                measured: of(&|_, data| data.source == Source::Measured),
            }
        })
        .collect()
}

fn memory(d: &DeploymentSpec, cat: &Catalogue) -> Result<Memory, String> {
    let request = d.deployable(cat)?;
    let s = jauge::sizing::size(&request).map_err(|e| e.to_string())?;
    Ok(Memory {
        weights_gib: s.memory_gib_per_gpu.weights,
        kv_cache_gib: s.memory_gib_per_gpu.kv_cache,
        kv_cache_tokens: s.kv_cache_tokens,
        max_model_len: s.max_model_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn predicted(d: &DeploymentSpec) -> Dataset {
        let mut data = jauge::dataset::example();
        data.source = Source::Simulated;
        data.deployment.model.catalogue_id = Some(d.model.clone());
        data.deployment.gpus.catalogue_id = Some(d.gpu.clone());
        data.deployment.gpus.count = d.gpus;
        data.deployment.quantization = d.quant_or_auto().to_string();
        data
    }

    #[test]
    fn predicted_and_measured_answers_land_on_their_deployment() {
        let preset = Preset::builtin("seed").unwrap();
        let comparison = &preset.comparisons[0];
        let a100 = &comparison.deployments[1];
        let sim = predicted(a100);
        let mut measured = predicted(a100);
        measured.source = Source::Measured;
        measured.limits[0].max_concurrency_ok = Some(3);
        measured.steps[0].gpu = Some(vec![jauge::dataset::GpuStep {
            index: 0,
            uuid: None,
            memory_used_mib_peak: 36_864.0,
            memory_used_mib_mean: 36_000.0,
            memory_total_mib: 40_960.0,
            utilization_pct_mean: None,
            power_w_mean: None,
            energy_j: None,
        }]);
        let fetched = vec![
            (format!("{PREDICTED_DIR}{}.json", a100.slug()), sim),
            ("measured/a100.json".to_string(), measured),
        ];
        let rows = rows(comparison, &fetched);
        assert_eq!(rows.len(), 2);
        assert!(rows[0].predicted.is_none() && rows[0].measured.is_none());
        assert_eq!(rows[1].predicted.as_ref().unwrap().users_at(1024), Some(8));
        assert_eq!(rows[1].measured.as_ref().unwrap().users_at(1024), Some(3));
        assert_eq!(
            rows[1].measured.as_ref().unwrap().gpu_memory_peak_gib,
            Some(36.0)
        );
        assert_eq!(
            rows[1].predicted.as_ref().unwrap().gpu_memory_peak_gib,
            None
        );
        assert!(rows[1].memory.as_ref().unwrap().weights_gib > 13.0);
    }

    #[test]
    fn what_cannot_run_says_why() {
        let preset = Preset::builtin("seed").unwrap();
        let rows = rows(&preset.comparisons[3], &[]);
        let awq = rows
            .iter()
            .find(|r| r.deployment.quant_or_auto() == "awq")
            .unwrap();
        assert!(awq
            .memory
            .as_ref()
            .unwrap_err()
            .contains("compute capability"));
    }
}
