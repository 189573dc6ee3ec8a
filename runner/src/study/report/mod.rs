//! The study's report, organised like the study's results: memory, speed and users, maximum
//! context, then what limited each.
//!
//! The study is read once into a page (`page.rs`: headings, paragraphs, tables, charts) and
//! printed twice: Markdown (`markdown.rs`) and a self-contained HTML file whose charts are SVG
//! (`html.rs`, no script needed to read it). Every figure of a step is a [`Metric`]'s, every
//! table a [`Table`], every chart [`jauge_chart`]'s and every limit's words
//! [`LimitReason::describe`]'s, so the report shows what `jauge show` and the site show.

mod figures;
mod html;
mod markdown;
mod page;

use std::path::{Path, PathBuf};

use jauge::dataset::{Dataset, LimitReason, Source};
use jauge::deployment::DeploymentSpec;
use jauge::metric::Metric;
use jauge::study::{Answers, Comparison};

use crate::files::write_atomic;
use crate::table::{Align, Cell, Table};
use figures::{describe, sizing_of, Figures};

/// What came of one deployment.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Its datasets (measured or simulated): the sweep with its limits, and the context search.
    Datasets(Vec<Dataset>),
    /// It cannot run, and why (does not fit, a format the GPU lacks).
    CannotRun(String),
}

/// One deployment of a comparison.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its catalogue ids, when known.
    pub deployment: Option<DeploymentSpec>,
    /// What came of it.
    pub outcome: Outcome,
}

/// A whole study: comparisons of deployments.
#[derive(Debug, Clone)]
pub struct Study {
    /// The heading.
    pub title: String,
    /// Whether any figure is simulated (then every page says so).
    pub simulated: bool,
    /// Each comparison with what came of its deployments.
    pub comparisons: Vec<(Comparison, Vec<Entry>)>,
}

/// Where the report went.
pub struct Written {
    /// The HTML file.
    pub html: PathBuf,
    /// The Markdown file.
    pub markdown: PathBuf,
}

impl Study {
    /// The study of one deployment from its datasets (`speed.json`, `context.json`).
    pub fn single(datasets: Vec<Dataset>) -> Study {
        let first = datasets.first();
        let simulated = datasets.iter().any(|d| d.source == Source::Simulated);
        let deployment = first.and_then(DeploymentSpec::of_dataset);
        let label = first.map_or_else(|| "no dataset".to_string(), describe);
        Study {
            title: format!("jauge study: {label}"),
            simulated,
            comparisons: vec![(
                Comparison {
                    id: "single".into(),
                    title: label,
                    question: "How much memory, how many users, how fast, and how much context?"
                        .into(),
                    deployments: deployment.clone().into_iter().collect(),
                },
                vec![Entry {
                    deployment,
                    outcome: Outcome::Datasets(datasets),
                }],
            )],
        }
    }

    /// The summary printed at the end and at the top of the Markdown: one table of every
    /// deployment's answers.
    pub fn markdown_summary(&self) -> String {
        self.summary().markdown()
    }

    /// The full Markdown report.
    pub fn markdown(&self) -> String {
        markdown::page(&page::Page::of(self))
    }

    /// The self-contained HTML report.
    pub fn html(&self) -> String {
        html::page(&page::Page::of(self))
    }

    /// Every deployment's answers, a row each.
    fn summary(&self) -> Table {
        let prompts = self.prompts();
        let users: Vec<String> = prompts
            .iter()
            .map(|p| format!("users @ {p} prompt"))
            .collect();
        let best = format!("best {}", Metric::OutputTokS.heading());
        let mut columns = vec![
            ("comparison", Align::Left),
            ("deployment", Align::Left),
            ("source", Align::Left),
            ("weights GiB/GPU", Align::Right),
            ("KV-cache tokens", Align::Right),
            (Metric::GpuMemoryPeak.heading(), Align::Right),
        ];
        columns.extend(users.iter().map(|u| (u.as_str(), Align::Right)));
        columns.extend([
            (best.as_str(), Align::Right),
            ("max context, 1 user", Align::Right),
            ("max context, N users", Align::Right),
        ]);
        let mut table = Table::new(&columns);
        for (comparison, entries) in &self.comparisons {
            for entry in entries {
                let label = entry
                    .deployment
                    .as_ref()
                    .map_or_else(|| comparison.title.clone(), DeploymentSpec::label);
                let (weights, kv) = sizing_cells(entry);
                let mut row = vec![Cell::text(comparison.id.as_str()), Cell::text(label)];
                match &entry.outcome {
                    Outcome::CannotRun(_) => {
                        row.extend([Cell::text("cannot run"), weights, kv]);
                        row.push(Cell::figure(Metric::GpuMemoryPeak, None));
                        row.extend(prompts.iter().map(|_| Cell::text("—")));
                        row.push(Cell::figure(Metric::OutputTokS, None));
                        row.extend([Cell::text("—"), Cell::text("—")]);
                    }
                    Outcome::Datasets(datasets) => {
                        let answers = Answers::of(datasets);
                        let context = |many: bool| {
                            answers
                                .context
                                .iter()
                                .find(|(c, _)| (*c > 1) == many)
                                .map_or("—".to_string(), |(c, t)| {
                                    let tokens = t.map_or("none".to_string(), |t| t.to_string());
                                    if many {
                                        format!("{tokens} at {c} users")
                                    } else {
                                        tokens
                                    }
                                })
                        };
                        row.extend([
                            Cell::text(Figures::of(datasets).source.to_string()),
                            weights,
                            kv,
                        ]);
                        row.push(Cell::figure(
                            Metric::GpuMemoryPeak,
                            answers.gpu_memory_peak_gib,
                        ));
                        row.extend(
                            prompts
                                .iter()
                                .map(|&p| Cell::text(users_cell(datasets, &answers, p))),
                        );
                        row.push(Cell::figure(Metric::OutputTokS, answers.best_output_tok_s));
                        row.push(Cell::text(context(false)));
                        row.push(Cell::text(context(true)));
                    }
                }
                table.push(row);
            }
        }
        table
    }

    /// Why each deployment that cannot run cannot: `label: why`.
    fn cannot_run(&self) -> Vec<String> {
        self.comparisons
            .iter()
            .flat_map(|(comparison, entries)| entries.iter().map(move |e| (comparison, e)))
            .filter_map(|(comparison, entry)| match &entry.outcome {
                Outcome::CannotRun(why) => Some(format!(
                    "{} cannot run: {why}",
                    entry
                        .deployment
                        .as_ref()
                        .map_or_else(|| comparison.title.clone(), DeploymentSpec::label)
                )),
                Outcome::Datasets(_) => None,
            })
            .collect()
    }

    /// Every prompt size any deployment was measured at, smallest first.
    fn prompts(&self) -> Vec<u32> {
        let mut prompts: Vec<u32> = self
            .comparisons
            .iter()
            .flat_map(|(_, e)| e)
            .filter_map(|e| match &e.outcome {
                Outcome::Datasets(d) => Some(Figures::of(d).prompts),
                Outcome::CannotRun(_) => None,
            })
            .flatten()
            .collect();
        prompts.sort_unstable();
        prompts.dedup();
        prompts
    }
}

/// Writes `report.md` and `report.html` into `dir` (atomically).
pub fn write(dir: &Path, study: &Study) -> anyhow::Result<Written> {
    let written = Written {
        html: dir.join("report.html"),
        markdown: dir.join("report.md"),
    };
    write_atomic(&written.markdown, &study.markdown())?;
    write_atomic(&written.html, &study.html())?;
    Ok(written)
}

/// Writes the report and prints its summary and where it went.
pub fn write_and_show(dir: &Path, study: &Study) -> anyhow::Result<()> {
    let written = write(dir, study)?;
    println!("\n{}", study.summary().text());
    println!(
        "report: {}\n        {}",
        written.html.display(),
        written.markdown.display()
    );
    Ok(())
}

/// One line for the terminal: the most users per prompt size and the maximum context.
pub fn one_line(dataset: &Dataset) -> String {
    let datasets = std::slice::from_ref(dataset);
    let answers = Answers::of(datasets);
    let users: Vec<String> = answers
        .users
        .iter()
        .map(|(p, _)| format!("{} users @ {p}", users_cell(datasets, &answers, *p)))
        .collect();
    let context: Vec<String> = answers
        .context
        .iter()
        .map(|(c, t)| {
            format!(
                "context {} @ {c} users",
                t.map_or("none".to_string(), |t| t.to_string())
            )
        })
        .collect();
    format!("{}; {}", users.join(", "), context.join(", "))
}

/// The most users at a prompt size, or why there is no answer.
fn users_cell(datasets: &[Dataset], answers: &Answers, prompt: u32) -> String {
    let context_only = datasets.iter().flat_map(|d| &d.limits).any(|l| {
        l.prompt_tokens == prompt
            && l.reason == LimitReason::ContextLength
            && l.max_concurrency_ok.is_none()
    });
    match answers.users.iter().find(|(p, _)| *p == prompt) {
        _ if context_only => "— (context)".into(),
        Some((_, users)) => users.map_or("0".into(), |c| c.to_string()),
        None => "—".into(),
    }
}

/// The weights per GPU and the KV-cache tokens `jauge size` computes for the deployment.
fn sizing_cells(entry: &Entry) -> (Cell, Cell) {
    match sizing_of(entry) {
        Some(s) => (
            Cell::text(format!("{:.2}", s.weights_gib_per_gpu)),
            Cell::text(if s.fits {
                s.kv_cache_tokens.to_string()
            } else {
                "—".into()
            }),
        ),
        None => (Cell::text("—"), Cell::text("—")),
    }
}

#[cfg(test)]
mod tests;
