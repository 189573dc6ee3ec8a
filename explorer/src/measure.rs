//! The measurements' view-model: which datasets are listed, and the series each chart draws.

use jauge::dataset::{Dataset, Index, IndexEntry, Source, Step};

/// A dataset on the page: published (from the index) or dropped by the reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The file name.
    pub name: String,
    /// Its content, validated.
    pub dataset: Dataset,
    /// Dropped by the reader (it never leaves the page).
    pub own: bool,
}

/// What a chart plots against concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Output tokens per second, all users.
    OutputTokS,
    /// Output tokens per second one user sees.
    PerUserTokS,
    /// TTFT median.
    TtftP50,
    /// TTFT 95th percentile.
    TtftP95,
    /// ITL median.
    ItlP50,
    /// ITL 95th percentile.
    ItlP95,
    /// Peak GPU memory used, all GPUs.
    GpuMemory,
    /// Failed requests, percent.
    ErrorRate,
}

impl Metric {
    /// Every chart, in page order.
    pub const ALL: [Metric; 8] = [
        Metric::OutputTokS,
        Metric::PerUserTokS,
        Metric::TtftP50,
        Metric::TtftP95,
        Metric::ItlP50,
        Metric::ItlP95,
        Metric::GpuMemory,
        Metric::ErrorRate,
    ];

    /// Chart title.
    pub fn title(self) -> &'static str {
        match self {
            Metric::OutputTokS => "Output throughput",
            Metric::PerUserTokS => "Per-user output speed",
            Metric::TtftP50 => "Time to first token, p50",
            Metric::TtftP95 => "Time to first token, p95",
            Metric::ItlP50 => "Inter-token latency, p50",
            Metric::ItlP95 => "Inter-token latency, p95",
            Metric::GpuMemory => "GPU memory used (peak, all GPUs)",
            Metric::ErrorRate => "Failed requests",
        }
    }

    /// Unit of the y axis.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::OutputTokS | Metric::PerUserTokS => "tok/s",
            Metric::TtftP50 | Metric::TtftP95 | Metric::ItlP50 | Metric::ItlP95 => "ms",
            Metric::GpuMemory => "MiB",
            Metric::ErrorRate => "%",
        }
    }

    /// A short id for file names.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::OutputTokS => "output_tok_s",
            Metric::PerUserTokS => "per_user_output_tok_s",
            Metric::TtftP50 => "ttft_p50_ms",
            Metric::TtftP95 => "ttft_p95_ms",
            Metric::ItlP50 => "itl_p50_ms",
            Metric::ItlP95 => "itl_p95_ms",
            Metric::GpuMemory => "gpu_memory_used_mib_peak",
            Metric::ErrorRate => "error_rate_pct",
        }
    }

    /// The step's value, when it has one.
    pub fn value(self, step: &Step) -> Option<f64> {
        let l = &step.latency;
        match self {
            Metric::OutputTokS => Some(step.throughput.output_tok_s),
            Metric::PerUserTokS => step.throughput.per_user_output_tok_s,
            Metric::TtftP50 => l.ttft_ms.map(|s| s.p50),
            Metric::TtftP95 => l.ttft_ms.map(|s| s.p95),
            Metric::ItlP50 => l.itl_ms.map(|s| s.p50),
            Metric::ItlP95 => l.itl_ms.map(|s| s.p95),
            Metric::GpuMemory => step
                .gpu
                .as_ref()
                .map(|g| g.iter().map(|g| g.memory_used_mib_peak).sum()),
            Metric::ErrorRate => (step.requests.sent > 0)
                .then(|| f64::from(step.requests.failed) / f64::from(step.requests.sent) * 100.0),
        }
    }
}

/// One line of a chart: a dataset's prompt size.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// The dataset's file name.
    pub dataset: String,
    /// The row's prompt size.
    pub prompt_tokens: u32,
    /// (concurrency, value), by concurrency.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed and labelled: not a measurement.
    pub simulated: bool,
}

/// The series of `metric` for each chosen dataset and prompt size.
pub fn series(datasets: &[Loaded], metric: Metric) -> Vec<Series> {
    let mut out = Vec::new();
    for loaded in datasets {
        let d = &loaded.dataset;
        let simulated = d.source == Source::Simulated;
        for &prompt in &d.workload.prompt_tokens {
            let mut points: Vec<(f64, f64)> = d
                .steps
                .iter()
                .filter(|s| s.prompt_tokens == prompt)
                .filter_map(|s| metric.value(s).map(|v| (f64::from(s.concurrency), v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let model = d
                .deployment
                .model
                .catalogue_id
                .as_deref()
                .unwrap_or(&d.deployment.model.served_name);
            let gpu = d
                .deployment
                .gpus
                .catalogue_id
                .as_deref()
                .unwrap_or(&d.deployment.gpus.name);
            out.push(Series {
                label: format!(
                    "{model} · {}×{gpu} · {} · prompt {prompt}{}",
                    d.deployment.gpus.count,
                    d.deployment.quantization,
                    if simulated { " (simulated)" } else { "" }
                ),
                dataset: loaded.name.clone(),
                prompt_tokens: prompt,
                points,
                simulated,
            });
        }
    }
    out
}

/// The simulator's prediction of a measured dataset's deployment over the same grid, as a
/// dataset of its own (labelled simulated), so that it is drawn beside the measured points.
/// `None` when the deployment is not in the catalogue or does not fit.
pub fn prediction_of(loaded: &Loaded) -> Option<Loaded> {
    let d = &loaded.dataset;
    if d.source == Source::Simulated {
        return None;
    }
    let request = jauge::deployment::request_of(d)?;
    let mut predicted = d.clone();
    predicted.source = Source::Simulated;
    predicted.steps = d
        .steps
        .iter()
        .filter_map(|step| {
            let load = jauge::sim::SimLoad {
                concurrency: step.concurrency,
                prompt_tokens: step.prompt_tokens,
                output_tokens: step.output_tokens,
                requests: step.requests.sent.max(1),
                rate_rps: None,
                seed: 0,
            };
            jauge::sim::simulate_step(&request, &load, Default::default())
                .ok()
                .map(|(s, _)| s)
        })
        .collect();
    (!predicted.steps.is_empty()).then(|| Loaded {
        name: format!("{} (prediction)", loaded.name),
        dataset: predicted,
        own: false,
    })
}

/// The series as CSV: `dataset,source,prompt_tokens,concurrency,<metric>`.
pub fn csv(series: &[Series], metric: Metric) -> String {
    let mut out = format!(
        "dataset,simulated,prompt_tokens,concurrency,{}\n",
        metric.slug()
    );
    for s in series {
        for (c, v) in &s.points {
            out.push_str(&format!(
                "{},{},{},{c},{v}\n",
                csv_field(&s.dataset),
                s.simulated,
                s.prompt_tokens
            ));
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Filters on the dataset list; empty strings match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Model id.
    pub model: String,
    /// GPU id.
    pub gpu: String,
    /// Quantisation id.
    pub quant: String,
    /// Engine name.
    pub engine: String,
    /// `measured`, `simulated`, `imported:…`.
    pub source: String,
}

impl Filters {
    /// The entries that pass every filter.
    pub fn apply<'a>(&self, index: &'a Index) -> Vec<&'a IndexEntry> {
        let ok = |want: &str, have: &str| want.is_empty() || want == have;
        index
            .datasets
            .iter()
            .filter(|e| {
                ok(&self.model, &e.model)
                    && ok(&self.gpu, &e.gpu)
                    && ok(&self.quant, &e.quantization)
                    && ok(&self.engine, &e.engine)
                    && ok(&self.source, &e.source.to_string())
            })
            .collect()
    }
}

/// The distinct values of one index field, sorted, for a filter's choices.
pub fn choices(index: &Index, field: impl Fn(&IndexEntry) -> String) -> Vec<String> {
    let mut values: Vec<String> = index.datasets.iter().map(field).collect();
    values.sort();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded() -> Loaded {
        Loaded {
            name: "example.json".into(),
            dataset: jauge::dataset::example(),
            own: false,
        }
    }

    #[test]
    fn one_series_per_prompt_size_labelled_simulated() {
        let s = series(&[loaded()], Metric::OutputTokS);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].points, vec![(1.0, 80.0), (8.0, 520.0)]);
        assert!(s[0].simulated);
        assert!(s[0].label.ends_with("(simulated)"));
        assert!(
            series(&[loaded()], Metric::GpuMemory).is_empty(),
            "no telemetry, no series"
        );
    }

    #[test]
    fn a_measured_dataset_gets_a_simulated_prediction_on_the_same_grid() {
        let mut measured = loaded();
        assert!(
            prediction_of(&measured).is_none(),
            "no prediction of a simulation"
        );
        measured.dataset.source = Source::Measured;
        let p = prediction_of(&measured).unwrap();
        assert_eq!(p.dataset.source, Source::Simulated);
        assert_eq!(p.dataset.steps.len(), measured.dataset.steps.len());
        assert!(series(&[p], Metric::OutputTokS)[0]
            .label
            .ends_with("(simulated)"));
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_point() {
        let text = csv(&series(&[loaded()], Metric::TtftP95), Metric::TtftP95);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "dataset,simulated,prompt_tokens,concurrency,ttft_p95_ms"
        );
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("example.json,true,1024,1,"));
    }

    #[test]
    fn filters_match_exactly_and_empty_matches_all() {
        let d = jauge::dataset::example();
        let index = Index::new(vec![
            IndexEntry::describe("a.json", &d),
            IndexEntry::describe("b.json", &d),
        ]);
        assert_eq!(Filters::default().apply(&index).len(), 2);
        let f = Filters {
            gpu: "h100-80gb".into(),
            ..Filters::default()
        };
        assert!(f.apply(&index).is_empty());
        assert_eq!(choices(&index, |e| e.gpu.clone()), ["a100-40gb"]);
    }
}
