//! The measurements' view-model: which datasets are listed, the series each chart draws and
//! the numbers behind them. Every figure is a [`Metric`]'s: read and printed by `jauge::metric`,
//! as `jauge show` and the report print it.

use std::collections::BTreeMap;

use jauge::dataset::{Dataset, Index, IndexEntry, Source};
use jauge::metric::Metric;
use jauge_chart::Line;

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

/// Adds `new` to the chosen datasets, unless it is there already (a box ticked twice before
/// its file arrived is still one dataset).
pub fn choose(chosen: &mut Vec<Loaded>, new: Loaded) {
    if !chosen
        .iter()
        .any(|d| d.own == new.own && d.name == new.name)
    {
        chosen.push(new);
    }
}

/// One line of a chart: a dataset's prompt size.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The dataset's file name.
    pub dataset: String,
    /// The row's prompt size.
    pub prompt_tokens: u32,
    /// What is drawn: the label, (users, value) by users, dashed when simulated.
    pub line: Line,
    /// Where its figures come from (`measured`, `simulated`, `published`, `imported:<tool>`):
    /// the legend says it.
    pub source: String,
}

/// A deployment as the dataset list and the legends name it: `llama-3-70b · 2×a100-40gb · awq`.
pub fn deployment_label(entry: &IndexEntry) -> String {
    format!(
        "{} · {}×{} · {}",
        entry.model, entry.gpu_count, entry.gpu, entry.quantization
    )
}

/// The series of `metric` for each chosen dataset and prompt size; a prompt size without a
/// single value of the metric has none.
pub fn series(datasets: &[Loaded], metric: Metric) -> Vec<Series> {
    let mut out = Vec::new();
    for loaded in datasets {
        let d = &loaded.dataset;
        let simulated = d.source == Source::Simulated;
        let mut deployment = deployment_label(&IndexEntry::describe(&loaded.name, d));
        // Sources of one deployment differ by engine and release (vLLM 0.2.5 against 0.4.3):
        // the legend says which line is which.
        let engine = &d.deployment.engine;
        if engine.name != "jauge-sim" {
            deployment.push_str(&format!(" · {}", engine.name));
            if let Some(version) = &engine.version {
                deployment.push_str(&format!(" {version}"));
            }
        }
        for &prompt in &d.workload.prompt_tokens {
            let label = match &d.source {
                Source::Measured => format!("{deployment} · prompt {prompt}"),
                other => format!("{deployment} · prompt {prompt} ({other})"),
            };
            let line = Line::of_steps(metric, &d.steps, prompt, label, simulated);
            if line.points.is_empty() {
                continue;
            }
            out.push(Series {
                dataset: loaded.name.clone(),
                prompt_tokens: prompt,
                line,
                source: d.source.to_string(),
            });
        }
    }
    out
}

/// One figure of a step in the numbers table.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Which.
    pub metric: Metric,
    /// [`Metric::format`] of the value, when the step holds it (the cell's `data-value`).
    pub value: Option<String>,
    /// [`Metric::show`]: what the cell prints.
    pub shown: String,
}

/// One row of the numbers behind the charts: a step of a dataset, every metric.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// The dataset's file name.
    pub dataset: String,
    /// The step's prompt size.
    pub prompt_tokens: u32,
    /// The step's simultaneous users (an open loop's cap on requests in flight).
    pub concurrency: u32,
    /// An open loop's rate, requests per second, as printed.
    pub rate_rps: Option<String>,
    /// One per [`Metric::ALL`], in that order.
    pub figures: Vec<Figure>,
}

/// Every step of the chosen datasets, in their order, with every metric.
pub fn step_rows(datasets: &[Loaded]) -> Vec<StepRow> {
    datasets
        .iter()
        .flat_map(|loaded| {
            loaded.dataset.steps.iter().map(|step| StepRow {
                dataset: loaded.name.clone(),
                prompt_tokens: step.prompt_tokens,
                concurrency: step.concurrency,
                rate_rps: step.rate_rps.map(|r| format!("{r}")),
                figures: Metric::ALL
                    .into_iter()
                    .map(|metric| Figure {
                        metric,
                        value: metric.value(step).map(|v| metric.format(v)),
                        shown: metric.show(step),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The simulator's prediction of a real dataset's steps, each at its own load and mode, with
/// the factors jauge ships for its GPU, engine and weight format (the shipped calibration), as
/// a dataset of its own labelled simulated, drawn beside the real points. `None` when the
/// deployment is not in the catalogue or cannot be simulated.
pub fn prediction_of(loaded: &Loaded) -> Option<Loaded> {
    let d = &loaded.dataset;
    if d.source == Source::Simulated {
        return None;
    }
    let case = jauge::calibrate::Case::of(&loaded.name, d).ok()?;
    let calibration = jauge::calibrate::Calibration::builtin();
    let steps = case.predicted_steps(calibration.efficiency_of(&case))?;
    let mut predicted = d.clone();
    predicted.source = Source::Simulated;
    predicted.steps = steps
        .into_iter()
        .zip(&d.steps)
        .map(|(mut step, real)| {
            // Drawn at the real step's place in the grid (one replica's share was simulated).
            step.concurrency = real.concurrency;
            step
        })
        .collect();
    (!predicted.steps.is_empty()).then(|| Loaded {
        name: format!("{} (prediction)", loaded.name),
        dataset: predicted,
        own: false,
    })
}

/// The series as CSV: `dataset,simulated,prompt_tokens,concurrency,<metric slug>`, values
/// unrounded.
pub fn csv(series: &[Series], metric: Metric) -> String {
    let mut out = format!(
        "dataset,simulated,prompt_tokens,concurrency,{}\n",
        metric.slug()
    );
    for s in series {
        for (c, v) in &s.line.points {
            out.push_str(&format!(
                "{},{},{},{c},{v}\n",
                csv_field(&s.dataset),
                s.line.simulated,
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

/// A field of the index that the dataset list can be filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Facet {
    /// Model id.
    Model,
    /// GPU id.
    Gpu,
    /// Quantisation id.
    Quant,
    /// Engine name.
    Engine,
    /// `measured`, `simulated`, `imported:…`.
    Source,
}

impl Facet {
    /// Every facet, in the order the page shows its filter.
    pub const ALL: [Facet; 5] = [
        Facet::Model,
        Facet::Gpu,
        Facet::Quant,
        Facet::Engine,
        Facet::Source,
    ];

    /// The filter's label.
    pub fn label(self) -> &'static str {
        match self {
            Facet::Model => "Model",
            Facet::Gpu => "GPU",
            Facet::Quant => "Quantisation",
            Facet::Engine => "Engine",
            Facet::Source => "Source",
        }
    }

    /// The filter's id on the page.
    pub fn id(self) -> &'static str {
        match self {
            Facet::Model => "f-model",
            Facet::Gpu => "f-gpu",
            Facet::Quant => "f-quant",
            Facet::Engine => "f-engine",
            Facet::Source => "f-source",
        }
    }

    /// An entry's value of this field.
    pub fn of(self, entry: &IndexEntry) -> String {
        match self {
            Facet::Model => entry.model.clone(),
            Facet::Gpu => entry.gpu.clone(),
            Facet::Quant => entry.quantization.clone(),
            Facet::Engine => entry.engine.clone(),
            Facet::Source => entry.source.to_string(),
        }
    }

    /// The distinct values of this field in the index, sorted: the filter's choices.
    pub fn choices(self, index: &Index) -> Vec<String> {
        let mut values: Vec<String> = index.datasets.iter().map(|e| self.of(e)).collect();
        values.sort();
        values.dedup();
        values
    }
}

/// Filters on the dataset list: the value wanted per facet; a facet without one (or with an
/// empty one) matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(BTreeMap<Facet, String>);

impl Filters {
    /// The value wanted for `facet`, empty for all.
    pub fn get(&self, facet: Facet) -> String {
        self.0.get(&facet).cloned().unwrap_or_default()
    }

    /// Wants `value` for `facet` (empty for all).
    pub fn set(&mut self, facet: Facet, value: String) {
        self.0.insert(facet, value);
    }

    /// The entries that pass every filter.
    pub fn apply<'a>(&self, index: &'a Index) -> Vec<&'a IndexEntry> {
        index
            .datasets
            .iter()
            .filter(|e| {
                self.0
                    .iter()
                    .all(|(facet, want)| want.is_empty() || *want == facet.of(e))
            })
            .collect()
    }
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
        assert_eq!(s[0].line.points, vec![(1.0, 80.0), (8.0, 520.0)]);
        assert!(s[0].line.simulated);
        assert_eq!(
            s[0].line.label,
            "mistral-7b-v0.3 · 1×a100-40gb · bf16 · prompt 1024 (simulated)"
        );
        assert!(
            series(&[loaded()], Metric::GpuMemoryPeak).is_empty(),
            "no telemetry, no series"
        );
    }

    #[test]
    fn a_dataset_is_chosen_once() {
        let mut chosen = Vec::new();
        choose(&mut chosen, loaded());
        choose(&mut chosen, loaded());
        assert_eq!(chosen.len(), 1);
        choose(
            &mut chosen,
            Loaded {
                own: true,
                ..loaded()
            },
        );
        assert_eq!(
            chosen.len(),
            2,
            "the reader's own file of the same name is another"
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
            .line
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
        let mut f = Filters::default();
        f.set(Facet::Gpu, "h100-80gb".into());
        assert!(f.apply(&index).is_empty());
        f.set(Facet::Gpu, "a100-40gb".into());
        f.set(Facet::Source, String::new());
        assert_eq!(f.apply(&index).len(), 2);
        assert_eq!(Facet::Gpu.choices(&index), ["a100-40gb"]);
        assert_eq!(Facet::Source.choices(&index), ["simulated"]);
    }

    #[test]
    fn the_numbers_table_prints_what_metric_shows_for_every_step() {
        let data = loaded();
        let rows = step_rows(std::slice::from_ref(&data));
        assert_eq!(rows.len(), data.dataset.steps.len());
        for (row, step) in rows.iter().zip(&data.dataset.steps) {
            assert_eq!(
                (row.dataset.as_str(), row.prompt_tokens, row.concurrency),
                ("example.json", step.prompt_tokens, step.concurrency)
            );
            assert_eq!(row.figures.len(), Metric::ALL.len());
            for (figure, metric) in row.figures.iter().zip(Metric::ALL) {
                assert_eq!(figure.metric, metric);
                assert_eq!(figure.shown, metric.show(step));
                assert_eq!(figure.value, metric.value(step).map(|v| metric.format(v)));
            }
        }
        // The example has no GPU telemetry: the cell prints "—" and has no value.
        let gpu = &rows[0].figures[7];
        assert_eq!(
            (gpu.metric, gpu.value.as_deref(), gpu.shown.as_str()),
            (Metric::GpuMemoryPeak, None, "—")
        );
        assert_eq!(rows[0].figures[3].value.as_deref(), Some("204"));
    }
}
