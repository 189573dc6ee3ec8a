//! How wrong the model is, computed the way a sceptical reader would: every real point is
//! predicted by a fit that never saw its source (leave one source out), beside the prediction
//! of the uncalibrated defaults, and the errors are summarised by median per figure, GPU and
//! weight format.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::fit::{fit, Effort, Factors};
use super::points::{fitting_sample, Case, Figure, Statistic};
use crate::perf::Efficiency;

/// One real point and its predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The source (publication URL, or the dataset for measured and imported files).
    pub source: String,
    /// The dataset.
    pub dataset: String,
    /// The step's index in it.
    pub step: usize,
    /// Which figure.
    pub figure: Figure,
    /// Which statistic of a latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<Statistic>,
    /// GPU catalogue id.
    pub gpu: String,
    /// Engine.
    pub engine: String,
    /// Weight format kind.
    pub format: String,
    /// Model catalogue id.
    pub model: String,
    /// The real value.
    pub measured: f64,
    /// Predicted with the cited defaults, no calibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated: Option<f64>,
    /// Predicted by the fit made without this point's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<f64>,
}

impl Check {
    /// |predicted − real| / real, percent.
    ///
    /// ```
    /// assert_eq!(jauge::calibrate::Check::error_pct(110.0, 100.0), 10.0);
    /// ```
    pub fn error_pct(predicted: f64, measured: f64) -> f64 {
        ((predicted - measured) / measured).abs() * 100.0
    }
}

/// The median errors of a group of checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// The figure, or every figure pooled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figure: Option<Figure>,
    /// The GPU, or every GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// The weight format kind, or every format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Points compared.
    pub points: usize,
    /// Sources they come from.
    pub sources: usize,
    /// Median |error| of the uncalibrated defaults, percent.
    pub uncalibrated_pct: Option<f64>,
    /// Median |error| predicting each source by a fit without it, percent.
    pub held_out_pct: Option<f64>,
    /// The median over sources of each source's median held-out |error|, percent: what a
    /// reader sees when every source counts once, however many rows it published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_source_pct: Option<f64>,
}

/// The sources of the cases, each once, in order.
///
/// ```
/// assert!(jauge::calibrate::sources(&[]).is_empty());
/// ```
pub fn sources(cases: &[Case]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    cases
        .iter()
        .filter(|c| seen.insert(c.source.clone()))
        .map(|c| c.source.clone())
        .collect()
}

/// One case's points as predicted: by the uncalibrated defaults and by the fit made without
/// its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    /// The case's index.
    pub case: usize,
    /// With the cited defaults, in point order.
    pub uncalibrated: Vec<Option<f64>>,
    /// With the fit made without the case's source, in point order.
    pub held_out: Vec<Option<f64>>,
}

/// The predictions of one source's points by a fit made without it, refined from the fit on
/// every case (`full`), beside the uncalibrated defaults' — one source's share of the work, so
/// callers can spread sources over threads.
pub fn held_out(cases: &[Case], full: &Factors, source: &str) -> Vec<Predicted> {
    let others: Vec<Case> = cases
        .iter()
        .filter(|c| c.source != source)
        .cloned()
        .collect();
    let sample = fitting_sample(&others);
    let refs: Vec<&Case> = sample.iter().collect();
    let effort = Effort::refine_around(cases.iter().filter(|c| c.source == source));
    let without = fit(&refs, full.clone(), effort);
    cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.source == source)
        .map(|(i, c)| Predicted {
            case: i,
            uncalibrated: c.predict(Efficiency::default()),
            held_out: c.predict(efficiency_of(&without, c)),
        })
        .collect()
}

pub(crate) fn efficiency_of(factors: &Factors, case: &Case) -> Efficiency {
    factors.efficiency(&case.gpu, &case.engine, &case.format)
}

/// Every point of the cases with its uncalibrated and held-out predictions ([`held_out`] of
/// each source).
pub fn checks(cases: &[Case], predicted: &[Predicted]) -> Vec<Check> {
    let by_case: BTreeMap<usize, &Predicted> = predicted.iter().map(|p| (p.case, p)).collect();
    let mut out = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let Some(p) = by_case.get(&i) else { continue };
        for (j, point) in case.points.iter().enumerate() {
            out.push(Check {
                source: case.source.clone(),
                dataset: case.name.clone(),
                step: point.step,
                figure: point.figure,
                statistic: point.statistic,
                gpu: case.gpu.clone(),
                engine: case.engine.clone(),
                format: case.format.clone(),
                model: case.model.clone(),
                measured: point.measured,
                uncalibrated: p.uncalibrated.get(j).copied().flatten(),
                held_out: p.held_out.get(j).copied().flatten(),
            });
        }
    }
    out
}

/// The median errors per figure; per figure and GPU; per figure and format; and over every
/// figure per GPU, per format, per GPU and format, and in all.
///
/// ```
/// assert!(jauge::calibrate::summarise(&[]).is_empty());
/// ```
pub fn summarise(checks: &[Check]) -> Vec<SummaryRow> {
    type Key = (Option<Figure>, Option<String>, Option<String>);
    let mut groups: BTreeMap<Key, Vec<&Check>> = BTreeMap::new();
    for c in checks {
        let (f, g, k) = (Some(c.figure), Some(c.gpu.clone()), Some(c.format.clone()));
        for key in [
            (f, None, None),
            (f, g.clone(), None),
            (f, None, k.clone()),
            (None, g.clone(), None),
            (None, None, k.clone()),
            (None, g, k),
            (None, None, None),
        ] {
            groups.entry(key).or_default().push(c);
        }
    }
    groups
        .into_iter()
        .map(|((figure, gpu, format), members)| {
            let median_of = |pick: fn(&Check) -> Option<f64>| {
                median(
                    members
                        .iter()
                        .filter_map(|c| Some(Check::error_pct(pick(c)?, c.measured)))
                        .collect(),
                )
            };
            let mut by_source: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for c in &members {
                if let Some(h) = c.held_out {
                    by_source
                        .entry(&c.source)
                        .or_default()
                        .push(Check::error_pct(h, c.measured));
                }
            }
            let per_source_pct = median(by_source.into_values().filter_map(median).collect());
            SummaryRow {
                figure,
                gpu,
                format,
                per_source_pct,
                points: members.len(),
                sources: members
                    .iter()
                    .map(|c| c.source.as_str())
                    .collect::<BTreeSet<_>>()
                    .len(),
                uncalibrated_pct: median_of(|c| c.uncalibrated),
                held_out_pct: median_of(|c| c.held_out),
            }
        })
        .collect()
}

/// The median, `None` of nothing.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_the_middle_values() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }
}
