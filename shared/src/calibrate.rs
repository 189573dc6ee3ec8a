//! Fitting the roofline's efficiency factors on measured datasets, and measuring how wrong the
//! prediction is: per (GPU, engine, quantisation), with the error of each dataset predicted by
//! a fit on the *others* (leave one dataset out), never the in-sample fit alone.
//!
//! ```
//! let calibration = jauge::calibrate::calibrate(&[jauge::dataset::example()]);
//! assert!(calibration.entries.is_empty()); // the example is simulated: nothing to learn from
//! ```

use serde::{Deserialize, Serialize};

use crate::aggregate;
use crate::dataset::{Dataset, Source, Step};
use crate::deployment::request_of;
use crate::perf::Efficiency;
use crate::sim::{engine_with, simulate, SimLoad};

/// The `schema` of a calibration file.
///
/// ```
/// assert_eq!(jauge::calibrate::CALIBRATION_SCHEMA, "jauge.calibration/v1");
/// ```
pub const CALIBRATION_SCHEMA: &str = "jauge.calibration/v1";

/// Mean absolute percentage errors of predictions against measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    /// Median time to first token.
    pub ttft_pct: f64,
    /// Median time per output token.
    pub tpot_pct: f64,
    /// Output throughput.
    pub output_tok_s_pct: f64,
}

impl Errors {
    /// The mean of the three.
    ///
    /// ```
    /// let e = jauge::calibrate::Errors { ttft_pct: 10.0, tpot_pct: 20.0, output_tok_s_pct: 30.0 };
    /// assert_eq!(e.mean(), 20.0);
    /// ```
    pub fn mean(&self) -> f64 {
        (self.ttft_pct + self.tpot_pct + self.output_tok_s_pct) / 3.0
    }
}

/// The fit of one (GPU, engine, quantisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// GPU catalogue id.
    pub gpu: String,
    /// Engine name.
    pub engine: String,
    /// Quantisation id.
    pub quantization: String,
    /// Measured datasets it was fitted on.
    pub datasets: usize,
    /// The fitted factors.
    pub efficiency: Efficiency,
    /// Errors of the fit on the datasets it was fitted on (optimistic).
    pub in_sample: Errors,
    /// Errors on each dataset left out of the fit, averaged; `None` with a single dataset.
    pub leave_one_out: Option<Errors>,
    /// Errors of the uncalibrated defaults on the same datasets, for comparison.
    pub defaults: Errors,
}

/// A calibration file: fitted factors per (GPU, engine, quantisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Always [`CALIBRATION_SCHEMA`].
    pub schema: String,
    /// One entry per group of measured datasets.
    pub entries: Vec<Entry>,
}

impl Calibration {
    /// The fitted factors for a GPU and quantisation (any engine), when calibrated.
    ///
    /// ```
    /// let c = jauge::calibrate::Calibration { schema: jauge::calibrate::CALIBRATION_SCHEMA.into(), entries: vec![] };
    /// assert!(c.efficiency_for("a100-40gb", "bf16").is_none());
    /// ```
    pub fn efficiency_for(&self, gpu: &str, quantization: &str) -> Option<Efficiency> {
        self.entries
            .iter()
            .find(|e| e.gpu == gpu && e.quantization == quantization)
            .map(|e| e.efficiency)
    }

    /// Parses a calibration file.
    ///
    /// # Errors
    /// A phrase when it is not a `jauge.calibration/v1` file.
    ///
    /// ```
    /// use jauge::calibrate::Calibration;
    /// assert!(Calibration::from_json(r#"{"schema": "jauge.calibration/v1", "entries": []}"#).is_ok());
    /// assert!(Calibration::from_json("{}").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Calibration, String> {
        let c: Calibration =
            serde_json::from_str(text).map_err(|e| format!("not a calibration file: {e}"))?;
        if c.schema != CALIBRATION_SCHEMA {
            return Err(format!("schema `{}` is not {CALIBRATION_SCHEMA}", c.schema));
        }
        Ok(c)
    }

    /// The file's text.
    ///
    /// ```
    /// let c = jauge::calibrate::calibrate(&[]);
    /// assert!(c.to_json().contains("jauge.calibration/v1"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a calibration serialises");
        text.push('\n');
        text
    }
}

/// (GPU, engine, quantisation): the datasets one set of factors is fitted on.
type Group = (String, String, String);

/// Fits every group of measured (or imported) datasets; simulated ones are left out, since
/// fitting the simulator on its own output would prove nothing.
///
/// ```
/// assert!(jauge::calibrate::calibrate(&[]).entries.is_empty());
/// ```
pub fn calibrate(datasets: &[Dataset]) -> Calibration {
    let mut groups: Vec<(Group, Vec<&Dataset>)> = Vec::new();
    for d in datasets
        .iter()
        .filter(|d| d.source != Source::Simulated && request_of(d).is_some())
    {
        let key = (
            d.deployment.gpus.catalogue_id.clone().unwrap_or_default(),
            d.deployment.engine.name.clone(),
            d.deployment.quantization.clone(),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(d),
            None => groups.push((key, vec![d])),
        }
    }
    let mut entries = Vec::new();
    for ((gpu, engine, quantization), members) in groups {
        let Some((efficiency, in_sample)) = fit(&members) else {
            continue;
        };
        let Some(defaults) = errors(&members, Efficiency::default()) else {
            continue;
        };
        let leave_one_out = (members.len() > 1)
            .then(|| {
                let held_out: Vec<Errors> = (0..members.len())
                    .filter_map(|i| {
                        let others: Vec<&Dataset> = members
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .map(|(_, d)| *d)
                            .collect();
                        let (fitted, _) = fit(&others)?;
                        errors(&[members[i]], fitted)
                    })
                    .collect();
                average(&held_out)
            })
            .flatten();
        entries.push(Entry {
            gpu,
            engine,
            quantization,
            datasets: members.len(),
            efficiency,
            in_sample,
            leave_one_out,
            defaults,
        });
    }
    Calibration {
        schema: CALIBRATION_SCHEMA.to_string(),
        entries,
    }
}

/// The factors that minimise the mean error on `datasets`: a coordinate search over
/// bandwidth (0.2–1), compute (0.1–1) and step overhead (0–5 ms), twice coarse, twice fine.
///
/// ```
/// assert!(jauge::calibrate::fit(&[]).is_none());
/// ```
pub fn fit(datasets: &[&Dataset]) -> Option<(Efficiency, Errors)> {
    let mut best = Efficiency::default();
    let mut best_errors = errors(datasets, best)?;
    // Coarse grids over the whole ranges, then finer ones around the best point.
    for round in 0..4 {
        let fine = round >= 2;
        for parameter in 0..3 {
            let around = |centre: f64, step: f64, lo: f64, hi: f64| -> Vec<f64> {
                (-5..=5)
                    .map(|i| (centre + step * f64::from(i)).clamp(lo, hi))
                    .collect()
            };
            let grid: Vec<f64> = match (parameter, fine) {
                (0, false) => (0..=16).map(|i| 0.2 + 0.05 * f64::from(i)).collect(),
                (1, false) => (0..=18).map(|i| 0.1 + 0.05 * f64::from(i)).collect(),
                (_, false) => (0..=10).map(|i| 0.0005 * f64::from(i)).collect(),
                (0, true) => around(best.bandwidth, 0.01, 0.05, 1.0),
                (1, true) => around(best.compute, 0.01, 0.05, 1.0),
                (_, true) => around(best.step_overhead_s, 0.0001, 0.0, 0.01),
            };
            for value in grid {
                let mut candidate = best;
                match parameter {
                    0 => candidate.bandwidth = value,
                    1 => candidate.compute = value,
                    _ => candidate.step_overhead_s = value,
                }
                if let Some(e) = errors(datasets, candidate) {
                    if e.mean() < best_errors.mean() {
                        best = candidate;
                        best_errors = e;
                    }
                }
            }
        }
    }
    Some((best, best_errors))
}

/// The mean absolute percentage errors of predicting `datasets` with `efficiency`; `None` when
/// no step can be compared.
///
/// ```
/// assert!(jauge::calibrate::errors(&[], Default::default()).is_none());
/// ```
pub fn errors(datasets: &[&Dataset], efficiency: Efficiency) -> Option<Errors> {
    let mut per_step = Vec::new();
    for d in datasets {
        let Some(request) = request_of(d) else {
            continue;
        };
        let Ok(engine) = engine_with(&request, efficiency) else {
            continue;
        };
        for measured in &d.steps {
            let load = SimLoad {
                concurrency: measured.concurrency,
                prompt_tokens: measured.prompt_tokens,
                output_tokens: measured.output_tokens,
                requests: measured
                    .requests
                    .map_or(measured.concurrency, |r| r.sent)
                    .max(1),
                rate_rps: None,
                seed: 0,
            };
            let (records, _) = simulate(&engine, &load);
            let predicted = aggregate::step(
                load.concurrency,
                load.prompt_tokens,
                load.output_tokens,
                &records,
                Default::default(),
            );
            if let Some(e) = step_errors(&predicted, measured) {
                per_step.push(e);
            }
        }
    }
    average(&per_step)
}

fn step_errors(predicted: &Step, measured: &Step) -> Option<Errors> {
    let ape = |p: f64, m: f64| (m > 0.0).then(|| (p - m).abs() / m * 100.0);
    Some(Errors {
        ttft_pct: ape(
            predicted.latency.ttft_ms?.p50?,
            measured.latency.ttft_ms?.p50?,
        )?,
        tpot_pct: ape(
            predicted.latency.tpot_ms?.p50?,
            measured.latency.tpot_ms?.p50?,
        )?,
        output_tok_s_pct: ape(
            predicted.throughput.output_tok_s?,
            measured.throughput.output_tok_s?,
        )?,
    })
}

fn average(errors: &[Errors]) -> Option<Errors> {
    (!errors.is_empty()).then(|| {
        let n = errors.len() as f64;
        Errors {
            ttft_pct: errors.iter().map(|e| e.ttft_pct).sum::<f64>() / n,
            tpot_pct: errors.iter().map(|e| e.tpot_pct).sum::<f64>() / n,
            output_tok_s_pct: errors.iter().map(|e| e.output_tok_s_pct).sum::<f64>() / n,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::example;

    /// A "measured" dataset made by the simulator with known factors: the fit must find them
    /// back from the figures alone. (Test data only; published datasets are never made so.)
    fn synthetic(truth: Efficiency, concurrency: &[u32], prompt: u32) -> Dataset {
        let mut d = example();
        d.source = Source::Measured;
        d.workload.concurrency = concurrency.to_vec();
        d.workload.prompt_tokens = vec![prompt];
        d.limits.clear();
        let request = request_of(&d).unwrap();
        let engine = engine_with(&request, truth).unwrap();
        d.steps = concurrency
            .iter()
            .map(|&c| {
                let load = SimLoad {
                    concurrency: c,
                    prompt_tokens: prompt,
                    output_tokens: 32,
                    requests: 2 * c,
                    rate_rps: None,
                    seed: 0,
                };
                let (records, _) = simulate(&engine, &load);
                aggregate::step(c, prompt, 32, &records, Default::default())
            })
            .collect();
        d
    }

    #[test]
    fn the_fit_recovers_known_factors_and_reports_its_held_out_error() {
        let truth = Efficiency {
            bandwidth: 0.55,
            compute: 0.35,
            step_overhead_s: 0.002,
        };
        let datasets = vec![
            synthetic(truth, &[1, 4, 16], 256),
            synthetic(truth, &[2, 8], 1024),
            synthetic(truth, &[1, 32], 512),
        ];
        let c = calibrate(&datasets);
        assert_eq!(c.entries.len(), 1);
        let e = &c.entries[0];
        assert_eq!((e.gpu.as_str(), e.datasets), ("a100-40gb", 3));
        assert!(
            (e.efficiency.bandwidth - 0.55).abs() <= 0.051,
            "{:?}",
            e.efficiency
        );
        assert!(
            (e.efficiency.compute - 0.35).abs() <= 0.051,
            "{:?}",
            e.efficiency
        );
        let held_out = e.leave_one_out.unwrap();
        assert!(held_out.mean() < 5.0, "{held_out:?}");
        assert!(
            e.defaults.mean() > held_out.mean(),
            "calibration must beat the defaults here"
        );
        assert_eq!(Calibration::from_json(&c.to_json()).unwrap(), c);
        assert_eq!(c.efficiency_for("a100-40gb", "bf16"), Some(e.efficiency));
    }

    #[test]
    fn one_dataset_gives_no_held_out_error() {
        let d = synthetic(Efficiency::default(), &[1, 4], 128);
        let c = calibrate(&[d]);
        assert!(c.entries[0].leave_one_out.is_none());
    }
}
