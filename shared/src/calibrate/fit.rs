//! Fitting the roofline's factors on real cases: one set of global factors, scaled per GPU,
//! with a fixed step cost per engine and a kernel scale per weight format — so a deployment
//! whose exact GPU × engine × format no source measured still gets the factors of each part
//! it shares with those that were.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::points::{Case, Figure};
use crate::perf::Efficiency;

/// The fitted factors, what a calibration file ships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    /// Bandwidth and compute shares and the step cost where nothing more specific is known.
    pub global: Efficiency,
    /// Per GPU catalogue id: multipliers on the global bandwidth and compute shares.
    #[serde(default)]
    pub gpus: BTreeMap<String, GpuScale>,
    /// Per engine: its fixed cost per step, seconds.
    #[serde(default)]
    pub engines: BTreeMap<String, f64>,
    /// Per weight format kind (`awq`, `gptq`, `fp8`, …): the scale on its kernel's prior.
    #[serde(default)]
    pub formats: BTreeMap<String, f64>,
}

/// How one GPU departs from the global factors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GpuScale {
    /// Multiplier on the bandwidth share.
    pub bandwidth: f64,
    /// Multiplier on the compute share.
    pub compute: f64,
}

impl Default for GpuScale {
    fn default() -> Self {
        GpuScale {
            bandwidth: 1.0,
            compute: 1.0,
        }
    }
}

impl Default for Factors {
    /// The cited defaults, nothing fitted.
    ///
    /// ```
    /// let f = jauge::calibrate::Factors::default();
    /// assert_eq!(f.efficiency("a100-40gb", "vllm", "awq"), jauge::perf::Efficiency::default());
    /// ```
    fn default() -> Self {
        Factors {
            global: Efficiency::default(),
            gpus: BTreeMap::new(),
            engines: BTreeMap::new(),
            formats: BTreeMap::new(),
        }
    }
}

impl Factors {
    /// The factors for a GPU, engine and weight format kind: each part's own where it was
    /// fitted, the global ones where not.
    ///
    /// ```
    /// let mut f = jauge::calibrate::Factors::default();
    /// f.engines.insert("sglang".into(), 0.0005);
    /// assert_eq!(f.efficiency("h100-80gb", "sglang", "float").step_overhead_s, 0.0005);
    /// assert_eq!(f.efficiency("h100-80gb", "vllm", "float").step_overhead_s, 0.001);
    /// ```
    pub fn efficiency(&self, gpu: &str, engine: &str, format: &str) -> Efficiency {
        let scale = self.gpus.get(gpu).copied().unwrap_or_default();
        Efficiency {
            bandwidth: (self.global.bandwidth * scale.bandwidth).clamp(0.05, 1.2),
            compute: (self.global.compute * scale.compute).clamp(0.02, 1.2),
            step_overhead_s: self.step_overhead_s(engine),
            kernel: self.formats.get(format).copied().unwrap_or(1.0),
        }
    }

    /// An engine's step cost: its own (`vllm@0.6`); for an engine named without its release
    /// (`vllm`, what `jauge simulate` emulates), its latest fitted release's; else the global.
    ///
    /// ```
    /// let mut f = jauge::calibrate::Factors::default();
    /// f.engines.insert("vllm@0.4".into(), 0.004);
    /// f.engines.insert("vllm@0.10".into(), 0.0008);
    /// assert_eq!(f.step_overhead_s("vllm"), 0.0008);
    /// assert_eq!(f.step_overhead_s("vllm@0.4"), 0.004);
    /// assert_eq!(f.step_overhead_s("tgi"), 0.001);
    /// ```
    pub fn step_overhead_s(&self, engine: &str) -> f64 {
        if let Some(seconds) = self.engines.get(engine) {
            return *seconds;
        }
        let series = |key: &str| -> Option<(u32, u32)> {
            let (name, version) = key.split_once('@')?;
            let (major, minor) = version.split_once('.')?;
            (name == engine).then_some((major.parse().ok()?, minor.parse().ok()?))
        };
        self.engines
            .iter()
            .filter_map(|(key, seconds)| Some((series(key)?, *seconds)))
            .max_by_key(|(version, _)| *version)
            .map_or(self.global.step_overhead_s, |(_, seconds)| seconds)
    }
}

/// One coordinate of the search.
#[derive(Debug, Clone, PartialEq)]
enum Coordinate {
    Bandwidth,
    Compute,
    GpuBandwidth(String),
    GpuCompute(String),
    Engine(String),
    Format(String),
}

impl Coordinate {
    fn get(&self, f: &Factors) -> f64 {
        match self {
            Coordinate::Bandwidth => f.global.bandwidth,
            Coordinate::Compute => f.global.compute,
            Coordinate::GpuBandwidth(g) => f.gpus.get(g).copied().unwrap_or_default().bandwidth,
            Coordinate::GpuCompute(g) => f.gpus.get(g).copied().unwrap_or_default().compute,
            Coordinate::Engine(e) => f
                .engines
                .get(e)
                .copied()
                .unwrap_or(f.global.step_overhead_s),
            Coordinate::Format(k) => f.formats.get(k).copied().unwrap_or(1.0),
        }
    }

    fn set(&self, f: &mut Factors, value: f64) {
        match self {
            Coordinate::Bandwidth => f.global.bandwidth = value,
            Coordinate::Compute => f.global.compute = value,
            Coordinate::GpuBandwidth(g) => f.gpus.entry(g.clone()).or_default().bandwidth = value,
            Coordinate::GpuCompute(g) => f.gpus.entry(g.clone()).or_default().compute = value,
            Coordinate::Engine(e) => {
                f.engines.insert(e.clone(), value);
            }
            Coordinate::Format(k) => {
                f.formats.insert(k.clone(), value);
            }
        }
    }

    /// The values it may take.
    fn bounds(&self) -> (f64, f64) {
        match self {
            Coordinate::Bandwidth => (0.2, 1.0),
            Coordinate::Compute => (0.05, 1.0),
            Coordinate::Engine(_) => (0.0, 0.03),
            Coordinate::GpuBandwidth(_) | Coordinate::GpuCompute(_) => (0.3, 1.6),
            Coordinate::Format(_) => (0.2, 1.6),
        }
    }

    /// The value moving away from costs a penalty: the cited default for the global shares,
    /// 1 for the multipliers; none for the step costs, which the release notes do not pin.
    fn prior(&self) -> Option<f64> {
        match self {
            Coordinate::Bandwidth => Some(Efficiency::default().bandwidth),
            Coordinate::Compute => Some(Efficiency::default().compute),
            Coordinate::GpuBandwidth(_) | Coordinate::GpuCompute(_) | Coordinate::Format(_) => {
                Some(1.0)
            }
            Coordinate::Engine(_) => None,
        }
    }

    fn touches(&self, case: &Case) -> bool {
        match self {
            Coordinate::Bandwidth | Coordinate::Compute => true,
            Coordinate::GpuBandwidth(g) | Coordinate::GpuCompute(g) => case.gpu == *g,
            Coordinate::Engine(e) => case.engine == *e,
            Coordinate::Format(k) => case.format == *k && k != "float",
        }
    }

    /// Candidates around `value`: multiplicative steps for shares, additive for seconds.
    fn candidates(&self, value: f64, fine: bool) -> Vec<f64> {
        let (lo, hi) = self.bounds();
        let values: Vec<f64> = match (self, fine) {
            (Coordinate::Engine(_), false) => [-4.0, -2.0, -1.0, 1.0, 2.0, 4.0]
                .iter()
                .map(|d| value + d * 0.0005)
                .collect(),
            (Coordinate::Engine(_), true) => [-0.0002, -0.0001, 0.0001, 0.0002]
                .iter()
                .map(|d| value + d)
                .collect(),
            (_, false) => [0.5, 0.7, 0.85, 1.15, 1.4, 2.0]
                .iter()
                .map(|m| value * m)
                .collect(),
            (_, true) => [0.92, 0.96, 1.04, 1.08].iter().map(|m| value * m).collect(),
        };
        values
            .into_iter()
            .map(|v| v.clamp(lo, hi))
            .filter(|v| (v - value).abs() > 1e-12)
            .collect()
    }
}

/// Weight of being wrong by a factor e (|ln e|) beyond which one point counts no more: a
/// source whose setup differs from what jauge simulates must not drag every factor.
const CLIP: f64 = 1.5;
/// Penalty per unit of |ln(value / prior)|, as a share of the weight of the points it touches:
/// a factor leaves its cited prior only when the data clearly say so. Held out, a weaker prior
/// (0.1, global shares free) fitted each source's peculiarities and predicted the others worse
/// than the cited defaults did.
const PRIOR_WEIGHT: f64 = 0.25;

/// The fit's state over the cases: each case's weighted loss at the current factors.
struct Fit<'a> {
    cases: &'a [&'a Case],
    /// Per case, per point: its weight. Each source weighs as the square root of its points
    /// (many rows from one table count for more than one row, far less than as many sources),
    /// shared equally among the figures it gives — so that the few TPOT points of a source
    /// are not outweighed by its many throughput points.
    weights: Vec<Vec<f64>>,
    factors: Factors,
    losses: Vec<f64>,
}

impl<'a> Fit<'a> {
    fn new(cases: &'a [&'a Case], start: Factors) -> Fit<'a> {
        let mut per_source: BTreeMap<&str, BTreeMap<Figure, usize>> = BTreeMap::new();
        for c in cases {
            for p in &c.points {
                *per_source
                    .entry(&c.source)
                    .or_default()
                    .entry(p.figure)
                    .or_default() += 1;
            }
        }
        let weights = cases
            .iter()
            .map(|c| {
                let figures = &per_source[c.source.as_str()];
                let total: usize = figures.values().sum();
                let per_figure = (total as f64).sqrt() / figures.len() as f64;
                c.points
                    .iter()
                    .map(|p| per_figure / figures[&p.figure] as f64)
                    .collect()
            })
            .collect();
        let mut fit = Fit {
            cases,
            weights,
            factors: start,
            losses: Vec::new(),
        };
        fit.losses = (0..cases.len())
            .map(|i| fit.loss(i, &fit.factors))
            .collect();
        fit
    }

    fn loss(&self, i: usize, factors: &Factors) -> f64 {
        let case = self.cases[i];
        let efficiency = factors.efficiency(&case.gpu, &case.engine, &case.format);
        let predicted = case.predict(efficiency);
        case.points
            .iter()
            .zip(predicted)
            .zip(&self.weights[i])
            .map(|((p, predicted), w)| {
                w * match predicted {
                    Some(v) if v > 0.0 => (v / p.measured).ln().abs().min(CLIP),
                    _ => CLIP,
                }
            })
            .sum::<f64>()
    }

    fn penalty(&self, coordinate: &Coordinate, value: f64, touched: &[usize]) -> f64 {
        let Some(prior) = coordinate.prior() else {
            return 0.0;
        };
        let weight: f64 = touched
            .iter()
            .map(|&i| self.weights[i].iter().sum::<f64>())
            .sum();
        PRIOR_WEIGHT * weight * (value / prior).ln().abs()
    }

    /// Tries the coordinate's candidates and keeps the best.
    fn improve(&mut self, coordinate: &Coordinate, fine: bool) {
        let touched: Vec<usize> = (0..self.cases.len())
            .filter(|&i| coordinate.touches(self.cases[i]))
            .collect();
        if touched.is_empty() {
            return;
        }
        let current = coordinate.get(&self.factors);
        let mut best_cost = touched.iter().map(|&i| self.losses[i]).sum::<f64>()
            + self.penalty(coordinate, current, &touched);
        let mut best: Option<(f64, Vec<f64>)> = None;
        for value in coordinate.candidates(current, fine) {
            let mut trial = self.factors.clone();
            coordinate.set(&mut trial, value);
            let losses: Vec<f64> = touched.iter().map(|&i| self.loss(i, &trial)).collect();
            let cost = losses.iter().sum::<f64>() + self.penalty(coordinate, value, &touched);
            if cost < best_cost - 1e-9 {
                best_cost = cost;
                best = Some((value, losses));
            }
        }
        if let Some((value, losses)) = best {
            coordinate.set(&mut self.factors, value);
            for (&i, loss) in touched.iter().zip(losses) {
                self.losses[i] = loss;
            }
        }
    }
}

/// How hard a fit searches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effort {
    /// From the cited defaults: two coarse rounds over every coordinate, then two fine.
    Full,
    /// From a fit already made on more cases, one source left out: the parts that source
    /// measured (its GPUs, engines and formats) searched again coarse then fine, the global
    /// shares fine twice; parts it never touched barely move and are left as they are.
    Refine {
        /// The left-out source's GPUs, engines and weight formats.
        gpus: Vec<String>,
        /// See `gpus`.
        engines: Vec<String>,
        /// See `gpus`.
        formats: Vec<String>,
    },
}

impl Effort {
    /// The refinement around the parts the left-out cases measured.
    pub fn refine_around<'c>(left_out: impl IntoIterator<Item = &'c Case>) -> Effort {
        let (mut gpus, mut engines, mut formats) = (Vec::new(), Vec::new(), Vec::new());
        for c in left_out {
            gpus.push(c.gpu.clone());
            engines.push(c.engine.clone());
            formats.push(c.format.clone());
        }
        Effort::Refine {
            gpus,
            engines,
            formats,
        }
    }

    /// Which rounds a coordinate gets (`false` coarse, `true` fine).
    fn rounds(&self, c: &Coordinate) -> &'static [bool] {
        match (self, c) {
            (Effort::Full, _) => &[false, false, true, true],
            (Effort::Refine { .. }, Coordinate::Bandwidth | Coordinate::Compute) => &[true, true],
            (
                Effort::Refine {
                    gpus,
                    engines,
                    formats,
                },
                c,
            ) => {
                let focus = match c {
                    Coordinate::GpuBandwidth(g) | Coordinate::GpuCompute(g) => gpus.contains(g),
                    Coordinate::Engine(e) => engines.contains(e),
                    Coordinate::Format(k) => formats.contains(k),
                    Coordinate::Bandwidth | Coordinate::Compute => true,
                };
                if focus {
                    &[false, true]
                } else {
                    &[]
                }
            }
        }
    }
}

/// Fits the factors on `cases`, starting from `start`.
///
/// ```
/// let fitted = jauge::calibrate::fit(&[], jauge::calibrate::Factors::default(), jauge::calibrate::Effort::Full);
/// assert_eq!(fitted, jauge::calibrate::Factors::default()); // nothing to learn from
/// ```
pub fn fit(cases: &[&Case], start: Factors, effort: Effort) -> Factors {
    // Nothing to learn from: nothing learnt elsewhere may stay either.
    if cases.is_empty() {
        return Factors::default();
    }
    // The global step cost stays the cited default: each engine seen gets its own, and an
    // engine nobody measured has nothing better.
    let mut coordinates = vec![Coordinate::Bandwidth, Coordinate::Compute];
    let seen = |c: Coordinate, coordinates: &mut Vec<Coordinate>| {
        if !coordinates.contains(&c) {
            coordinates.push(c);
        }
    };
    for case in cases {
        seen(Coordinate::GpuBandwidth(case.gpu.clone()), &mut coordinates);
        seen(Coordinate::GpuCompute(case.gpu.clone()), &mut coordinates);
        seen(Coordinate::Engine(case.engine.clone()), &mut coordinates);
        if case.format != "float" {
            seen(Coordinate::Format(case.format.clone()), &mut coordinates);
        }
    }
    // A part no case measures any more keeps no fitted value: what was learnt from a source
    // left out must not stay behind in the start.
    let mut start = start;
    start.gpus.retain(|g, _| cases.iter().any(|c| c.gpu == *g));
    start
        .engines
        .retain(|e, _| cases.iter().any(|c| c.engine == *e));
    start
        .formats
        .retain(|k, _| cases.iter().any(|c| c.format == *k));
    let mut state = Fit::new(cases, start);
    for round in 0..4 {
        for c in &coordinates {
            if let Some(&fine) = effort.rounds(c).get(round) {
                state.improve(c, fine);
            }
        }
    }
    state.factors
}
