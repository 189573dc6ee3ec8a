//! Calibration: the roofline's factors fitted on real datasets (published, imported or
//! measured; never simulated ones), shipped as jauge's default, and the model's error computed
//! the way a sceptical reader would — each source predicted by a fit made without it.
//!
//! `jauge calibrate datasets/published --out shared/data` regenerates the shipped fit
//! ([`Calibration::builtin`], `shared/data/calibration.json`) and its checks
//! (`shared/data/calibration-checks.json`); a test fails when the corpus or the model changed
//! since ([`corpus_digest`]).
//!
//! ```
//! use jauge::calibrate::Calibration;
//! let shipped = Calibration::builtin();
//! assert_eq!(shipped.schema, jauge::calibrate::CALIBRATION_SCHEMA);
//! let e = shipped.factors.efficiency("a100-40gb", "vllm", "float");
//! assert!(e.bandwidth > 0.0 && e.compute > 0.0);
//! ```

mod fit;
mod points;
mod report;

use serde::{Deserialize, Serialize};

pub use fit::{fit, Effort, Factors, GpuScale};
pub use points::{
    fitting_sample, format_name, points_of, source_of, Case, Figure, Point, Statistic,
    FIT_STEPS_PER_SOURCE, MAX_OFFLINE_REQUESTS,
};
pub use report::{checks, held_out, sources, summarise, Check, Predicted, SummaryRow};

use crate::perf::Efficiency;
use crate::sizing::SizingRequest;

/// The `schema` of a calibration file.
///
/// ```
/// assert_eq!(jauge::calibrate::CALIBRATION_SCHEMA, "jauge.calibration/v2");
/// ```
pub const CALIBRATION_SCHEMA: &str = "jauge.calibration/v2";

/// The `schema` of a calibration's checks file.
pub const CHECKS_SCHEMA: &str = "jauge.calibration-checks/v1";

/// Bumped whenever the timing model or the fit changes what a calibration computes, so that
/// the shipped calibration is known stale until regenerated.
pub const MODEL_REVISION: u32 = 2;

/// What a calibration was fitted on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Corpus {
    /// Datasets given.
    pub datasets: usize,
    /// Datasets that could be predicted (the rest are listed in the checks file, with why).
    pub used: usize,
    /// Distinct sources among them.
    pub sources: usize,
    /// Points (figures of steps) compared.
    pub points: usize,
    /// [`corpus_digest`] of the files and the model revision.
    pub digest: String,
}

/// A calibration: the fitted factors, what they were fitted on, and the held-out errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Always [`CALIBRATION_SCHEMA`].
    pub schema: String,
    /// What it was fitted on.
    pub corpus: Corpus,
    /// The factors.
    pub factors: Factors,
    /// Median errors, uncalibrated and held out, by figure, GPU and format.
    #[serde(default)]
    pub summary: Vec<SummaryRow>,
}

/// How well the model did on the real measurements nearest a deployment, for readers.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Points compared.
    pub points: usize,
    /// Sources they come from.
    pub sources: usize,
    /// What they have in common with the deployment (`a100-40gb, awq`; `a100-40gb`; `awq`;
    /// `every GPU`).
    pub scope: String,
    /// Median |error| of held-out predictions, percent.
    pub median_pct: f64,
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "checked against {} real measurements from {} source{} ({}): median error {:.0} % when each source is predicted by a fit made without it",
            self.points,
            self.sources,
            if self.sources == 1 { "" } else { "s" },
            self.scope,
            self.median_pct
        )
    }
}

impl Calibration {
    /// The calibration jauge ships, fitted on `datasets/published/`.
    pub fn builtin() -> &'static Calibration {
        static BUILTIN: std::sync::OnceLock<Calibration> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| {
            Calibration::from_json(include_str!("../../data/calibration.json"))
                .expect("shared/data/calibration.json is a calibration (tested)")
        })
    }

    /// The factors for a deployment on an engine.
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// let cat = Catalogue::builtin();
    /// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// let e = jauge::calibrate::Calibration::builtin().efficiency_for(&r, "vllm");
    /// assert!(e.step_overhead_s >= 0.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn efficiency_for(&self, request: &SizingRequest<'_>, engine: &str) -> Efficiency {
        self.factors
            .efficiency(&request.gpu.id, engine, format_of(request))
    }

    /// The factors for a real dataset's case (its GPU, engine and weight format).
    pub fn efficiency_of(&self, case: &Case) -> Efficiency {
        self.factors
            .efficiency(&case.gpu, &case.engine, &case.format)
    }

    /// [`Calibration::checked_against`] for a GPU and a weight format's catalogue id.
    ///
    /// ```
    /// let c = jauge::calibrate::Calibration::builtin();
    /// assert_eq!(c.checked_for("a100-40gb", "bf16"), c.checked_against("a100-40gb", "float"));
    /// ```
    pub fn checked_for(&self, gpu: &str, quant: &str) -> Option<Checked> {
        let kind = crate::catalogue::Catalogue::builtin()
            .quant(quant)
            .map(|q| q.kind)
            .unwrap_or(crate::catalogue::QuantKind::Float);
        self.checked_against(gpu, format_name(kind))
    }

    /// How the model did on the real measurements nearest a GPU and weight format: the same
    /// GPU and format when at least 3 points share both, else the same GPU, else the same
    /// format, else all of them. `None` when the calibration has no held-out error at all.
    ///
    /// ```
    /// let c = jauge::calibrate::Calibration::builtin();
    /// if let Some(checked) = c.checked_against("a100-40gb", "float") {
    ///     assert!(checked.to_string().starts_with("checked against "));
    /// }
    /// ```
    pub fn checked_against(&self, gpu: &str, format: &str) -> Option<Checked> {
        let row = |g: Option<&str>, k: Option<&str>| {
            self.summary.iter().find(|r| {
                r.figure.is_none()
                    && r.gpu.as_deref() == g
                    && r.format.as_deref() == k
                    && r.points >= 3
                    && r.held_out_pct.is_some()
            })
        };
        let (found, scope) = [
            (row(Some(gpu), Some(format)), format!("{gpu}, {format}")),
            (row(Some(gpu), None), gpu.to_string()),
            (row(None, Some(format)), format!("{format} on any GPU")),
            (row(None, None), "every GPU and format".to_string()),
        ]
        .into_iter()
        .find_map(|(r, scope)| Some((r?, scope)))?;
        Some(Checked {
            points: found.points,
            sources: found.sources,
            scope,
            median_pct: found.held_out_pct?,
        })
    }

    /// Parses a calibration file.
    ///
    /// # Errors
    /// A phrase when it is not a `jauge.calibration/v2` file.
    ///
    /// ```
    /// use jauge::calibrate::Calibration;
    /// let text = r#"{"schema": "jauge.calibration/v2", "corpus": {"datasets": 0, "used": 0, "sources": 0, "points": 0, "digest": ""},
    ///   "factors": {"global": {"bandwidth": 0.8, "compute": 0.5, "step_overhead_s": 0.001}}}"#;
    /// assert!(Calibration::from_json(text).is_ok());
    /// assert!(Calibration::from_json("{}").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Calibration, String> {
        let c: Calibration =
            crate::json::from_str(text).map_err(|e| format!("not a calibration file: {e}"))?;
        if c.schema != CALIBRATION_SCHEMA {
            return Err(format!("schema `{}` is not {CALIBRATION_SCHEMA}", c.schema));
        }
        Ok(c)
    }

    /// The file's text.
    ///
    /// ```
    /// assert!(jauge::calibrate::Calibration::builtin().to_json().contains("jauge.calibration/v2"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a calibration serialises");
        text.push('\n');
        text
    }
}

/// A calibration's checks: every real point with its predictions, and the datasets that could
/// not be used, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// Always [`CHECKS_SCHEMA`].
    pub schema: String,
    /// [`Corpus::digest`] of the calibration they belong to.
    pub digest: String,
    /// Every point.
    pub checks: Vec<Check>,
    /// Datasets left out: `(name, why)`.
    #[serde(default)]
    pub left_out: Vec<(String, String)>,
}

/// The weight format kind a request runs (`float` for FP16/BF16).
fn format_of(request: &SizingRequest<'_>) -> &'static str {
    let kind = request
        .quant
        .map(|q| q.kind)
        .unwrap_or(crate::catalogue::QuantKind::Float);
    points::format_name(kind)
}

/// The digest of a corpus: FNV-1a over [`MODEL_REVISION`] and every `(name, text)` pair in
/// name order, so the shipped calibration is known stale when a file or the model changes.
///
/// ```
/// use jauge::calibrate::corpus_digest;
/// let a = corpus_digest(&[("a.json".into(), "{}".into()), ("b.json".into(), "[]".into())]);
/// let b = corpus_digest(&[("b.json".into(), "[]".into()), ("a.json".into(), "{}".into())]);
/// assert_eq!(a, b);
/// assert_ne!(a, corpus_digest(&[("a.json".into(), "{ }".into())]));
/// ```
pub fn corpus_digest(files: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&MODEL_REVISION.to_le_bytes());
    for (name, text) in sorted {
        eat(name.as_bytes());
        eat(&[0]);
        eat(text.as_bytes());
        eat(&[0]);
    }
    format!("fnv1a64:{hash:016x}")
}

/// Fits a calibration on real cases and summarises held-out predictions computed by the caller
/// (one [`held_out`] per source, which the runner spreads over threads).
pub fn calibration(corpus: Corpus, factors: Factors, checks: &[Check]) -> Calibration {
    Calibration {
        schema: CALIBRATION_SCHEMA.to_string(),
        corpus,
        factors,
        summary: summarise(checks),
    }
}
