//! The study jauge comes from, as data: its protocol's defaults and its comparisons of
//! deployments (presets), so `jauge study` and the explorer's Study page read the same list.
//!
//! ```
//! let seed = jauge::study::Preset::builtin("seed")?;
//! assert_eq!(seed.comparisons.len(), 5);
//! let first = &seed.comparisons[0].deployments[0];
//! assert_eq!((first.model.as_str(), first.gpu.as_str()), ("mistral-7b-v0.1", "v100-16gb"));
//! # Ok::<(), jauge::CatalogueError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::deployment::DeploymentSpec;
use crate::error::CatalogueError;
use crate::metric::Metric;
use crate::objectives::Slo;

/// The objectives a chat user accepts, the study's default: the first token within 2 s and
/// then at least 10 tokens a second (100 ms per output token), at the 95th percentile.
///
/// ```
/// assert_eq!(jauge::study::CHAT_SLO.ttft_ms, Some(2000.0));
/// ```
pub const CHAT_SLO: Slo = Slo {
    ttft_ms: Some(2000.0),
    tpot_ms: Some(100.0),
};

/// Prompt sizes the study's speed and users measurements climb through, tokens.
pub const STUDY_PROMPT_TOKENS: [u32; 2] = [512, 2048];

/// Output tokens per request in the study's measurements.
pub const STUDY_OUTPUT_TOKENS: u32 = 64;

/// The resolution of the maximum-context search, tokens.
pub const CONTEXT_STEP_TOKENS: u32 = 256;

/// A named set of comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    /// Its name (`seed`).
    pub id: String,
    /// A heading for readers.
    pub title: String,
    /// Where the comparisons come from.
    pub source: String,
    /// The comparisons, in the study's order.
    pub comparisons: Vec<Comparison>,
}

/// Deployments a reader should see side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// A stable name (`mistral-7b-v100-vs-a100`).
    pub id: String,
    /// A heading.
    pub title: String,
    /// What the comparison answers.
    pub question: String,
    /// The deployments compared.
    pub deployments: Vec<DeploymentSpec>,
}

impl Preset {
    /// A preset built into this version of jauge (`seed`).
    ///
    /// # Errors
    /// [`CatalogueError::UnknownPreset`] for another name, listing the known ones.
    ///
    /// ```
    /// assert!(jauge::study::Preset::builtin("nope").unwrap_err().to_string().contains("seed"));
    /// ```
    pub fn builtin(id: &str) -> Result<Preset, CatalogueError> {
        match id {
            "seed" => Ok(
                crate::json::from_str(include_str!("../data/study-seed.json"))
                    .expect("the built-in seed preset parses (tested)"),
            ),
            other => Err(CatalogueError::UnknownPreset {
                id: other.to_string(),
                suggestions: vec!["seed".to_string()],
            }),
        }
    }
}

/// The sweep among a deployment's datasets (the one whose steps are the memory, speed and
/// users measurements, not the context search's probes): the first with row limits, or,
/// failing that, the first without context limits.
///
/// ```
/// let mut context = jauge::dataset::example();
/// context.limits.clear();
/// context.context_limits.push(serde_json::from_str(
///     r#"{"concurrency": 1, "output_tokens": 8, "reason": "grid_end", "probes": 1}"#,
/// )?);
/// let sweep = jauge::dataset::example();
/// let both = [context, sweep.clone()];
/// assert_eq!(jauge::study::sweep_of(&both), Some(&sweep));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn sweep_of(datasets: &[Dataset]) -> Option<&Dataset> {
    datasets
        .iter()
        .find(|d| !d.limits.is_empty())
        .or_else(|| datasets.iter().find(|d| d.context_limits.is_empty()))
}

/// The study's answers for one deployment, read from its datasets (a measured study's sweep
/// and context search, or one predicted dataset holding both).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answers {
    /// Per prompt size: the most users under the objectives (`None`: none, or not run).
    pub users: Vec<(u32, Option<u32>)>,
    /// The highest output throughput of the sweep, tokens per second.
    pub best_output_tok_s: Option<f64>,
    /// The most memory any GPU held during the sweep, GiB (measured runs with GPU readings).
    pub gpu_memory_peak_gib: Option<f64>,
    /// Per concurrency: the largest prompt accepted and served.
    pub context: Vec<(u32, Option<u32>)>,
}

impl Answers {
    /// Reads the answers: users and throughput from the sweep ([`sweep_of`]), context limits
    /// from every dataset.
    ///
    /// ```
    /// let answers = jauge::study::Answers::of(&[jauge::dataset::example()]);
    /// assert_eq!(answers.users, [(1024, Some(8))]);
    /// assert!(answers.best_output_tok_s.unwrap() > 0.0);
    /// assert!(answers.context.is_empty());
    /// assert_eq!(answers.gpu_memory_peak_gib, None); // no GPU readings in the example
    /// ```
    pub fn of(datasets: &[Dataset]) -> Answers {
        let sweep = sweep_of(datasets);
        let users = sweep.map_or_else(Vec::new, |d| {
            d.limits
                .iter()
                .map(|l| (l.prompt_tokens, l.max_concurrency_ok))
                .collect()
        });
        let best = |metric: Metric| {
            sweep.and_then(|d| {
                d.steps
                    .iter()
                    .filter_map(|s| metric.value(s))
                    .reduce(f64::max)
            })
        };
        let best_output_tok_s = best(Metric::OutputTokS);
        let gpu_memory_peak_gib = best(Metric::GpuMemoryPeak);
        let mut context: Vec<(u32, Option<u32>)> = datasets
            .iter()
            .flat_map(|d| &d.context_limits)
            .map(|c| (c.concurrency, c.max_context_tokens))
            .collect();
        context.sort_unstable();
        Answers {
            users,
            best_output_tok_s,
            gpu_memory_peak_gib,
            context,
        }
    }

    /// The most users at this prompt size, when the answers have it.
    ///
    /// ```
    /// let answers = jauge::study::Answers::of(&[jauge::dataset::example()]);
    /// assert_eq!(answers.users_at(1024), Some(8));
    /// assert_eq!(answers.users_at(512), None);
    /// ```
    pub fn users_at(&self, prompt_tokens: u32) -> Option<u32> {
        self.users
            .iter()
            .find(|(p, _)| *p == prompt_tokens)
            .and_then(|(_, u)| *u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::sizing::size;

    /// The five comparisons of the study, with the models, GPUs and counts it names.
    #[test]
    fn the_seed_preset_covers_the_five_comparisons() {
        let cat = Catalogue::builtin();
        let seed = Preset::builtin("seed").unwrap();
        let shape = |c: &Comparison| {
            let mut v: Vec<(String, String, u32)> = c
                .deployments
                .iter()
                .map(|d| (d.model.clone(), d.gpu.clone(), d.gpus))
                .collect();
            v.dedup();
            v
        };
        let owned = |v: &[(&str, &str, u32)]| {
            v.iter()
                .map(|(m, g, n)| (m.to_string(), g.to_string(), *n))
                .collect::<Vec<_>>()
        };
        let c = &seed.comparisons;
        assert_eq!(c.len(), 5);
        assert_eq!(
            shape(&c[0]),
            owned(&[
                ("mistral-7b-v0.1", "v100-16gb", 1),
                ("mistral-7b-v0.1", "a100-40gb", 1)
            ])
        );
        assert_eq!(
            shape(&c[1]),
            owned(&[("mixtral-8x7b-v0.1", "a100-40gb", 2)])
        );
        assert_eq!(
            shape(&c[2]),
            owned(&[("mixtral-8x22b-instruct-v0.1", "a100-40gb", 4)])
        );
        let quants: Vec<&str> = c[2].deployments.iter().map(|d| d.quant_or_auto()).collect();
        assert_eq!(
            quants,
            ["gptq-8bit", "awq"],
            "8-bit and 4-bit, as the study hesitates"
        );
        assert_eq!(
            shape(&c[3]),
            owned(&[
                ("codestral-22b-v0.1", "v100-16gb", 2),
                ("codestral-22b-v0.1", "a100-40gb", 1),
                ("codestral-22b-v0.1", "v100-16gb", 1)
            ])
        );
        assert!(c[4]
            .deployments
            .iter()
            .all(|d| d.model == "llama-3-70b" && d.gpu == "a100-40gb"));
        for d in c.iter().flat_map(|c| &c.deployments) {
            d.request(cat)
                .unwrap_or_else(|e| panic!("{}: {e}", d.slug()));
        }
    }

    /// What cannot run says why; what fits only with a shorter context gets one.
    #[test]
    fn every_deployment_is_deployable_or_says_why() {
        let cat = Catalogue::builtin();
        let seed = Preset::builtin("seed").unwrap();
        let mut reasons = Vec::new();
        for d in seed.comparisons.iter().flat_map(|c| &c.deployments) {
            match d.deployable(cat) {
                Ok(r) => assert!(size(&r).unwrap().fits, "{}", d.slug()),
                Err(why) => reasons.push((d.slug(), why)),
            }
        }
        assert!(
            reasons
                .iter()
                .any(|(s, why)| s.ends_with("v100-16gb-awq") && why.contains("7.5")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|(s, why)| s.starts_with("mixtral-8x7b")
                && s.ends_with("bf16")
                && why.starts_with("does not fit")),
            "{reasons:?}"
        );
    }
}
