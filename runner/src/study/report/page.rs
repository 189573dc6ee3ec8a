//! The report as both outputs print it: a title, the simulated notice, and nested sections of
//! paragraphs, lists, tables and charts. Markdown and HTML read this one structure, so they
//! cannot say different things; Markdown leaves the charts out (their figures are in the
//! tables beside them).

use jauge::deployment::DeploymentSpec;
use jauge::metric::Metric;
use jauge_chart::Line;

use super::figures::{sizing_of, Figures};
use super::{Entry, Outcome, Study};
use crate::table::Table;

/// What a simulated study says at its top.
pub(super) const SIMULATED_NOTICE: &str = "these figures come from jauge's simulator or its built-in simulated server, not from a GPU. They are predictions, labelled simulated in every dataset.";

/// The last words of the page.
const FOOTER: &str =
    "Written by jauge study. Datasets beside this file hold every figure (jauge.dataset/v2).";

/// The whole report.
pub(super) struct Page {
    pub title: String,
    /// Whether the simulated notice opens the page.
    pub simulated: bool,
    /// The summary, then a section per comparison.
    pub sections: Vec<Section>,
    pub footer: &'static str,
}

/// A heading and what follows it; nested sections are one heading level down.
pub(super) struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
    pub sections: Vec<Section>,
}

/// A piece of a section.
pub(super) enum Block {
    Paragraph(String),
    List(Vec<String>),
    /// A table, under a caption that says whether its figures are simulated.
    Table {
        caption: String,
        table: Table,
    },
    /// Charts side by side (HTML only), each with something to draw.
    Charts(Vec<Plot>),
}

/// One chart: a metric against simultaneous users, and a caption saying what the lines are
/// and whether they are simulated.
pub(super) struct Plot {
    pub metric: Metric,
    pub lines: Vec<Line>,
    pub caption: String,
}

/// `text`, marked `(simulated)` when it is (as the charts mark their titles).
pub(super) fn labelled(text: &str, simulated: bool) -> String {
    if simulated {
        format!("{text} (simulated)")
    } else {
        text.to_string()
    }
}

impl Section {
    /// A section of blocks only.
    pub fn new(heading: &str, blocks: Vec<Block>) -> Section {
        Section {
            heading: heading.to_string(),
            blocks,
            sections: Vec::new(),
        }
    }
}

impl Block {
    /// `table` under `caption`; a sentence instead when it has no row.
    pub fn table(caption: &str, simulated: bool, table: Table) -> Block {
        if table.is_empty() {
            Block::Paragraph(format!("{caption}: none recorded."))
        } else {
            Block::Table {
                caption: labelled(caption, simulated),
                table,
            }
        }
    }
}

impl Block {
    /// The charts of `plots` that have a point to draw (a figure no step holds is left out:
    /// the tables show it absent).
    pub fn charts(plots: impl IntoIterator<Item = Plot>) -> Block {
        Block::Charts(plots.into_iter().filter(|p| !p.lines.is_empty()).collect())
    }
}

impl Plot {
    /// A chart of `lines` (those with no point left out), whose caption says what they are.
    pub fn new(metric: Metric, lines: Vec<Line>, what: &str, simulated: bool) -> Plot {
        Plot {
            metric,
            lines: lines.into_iter().filter(|l| !l.points.is_empty()).collect(),
            caption: labelled(what, simulated),
        }
    }
}

impl Page {
    /// The report of `study`.
    pub fn of(study: &Study) -> Page {
        let table = Block::table(
            "Every deployment's answers",
            study.simulated,
            study.summary(),
        );
        let mut summary = vec![table];
        let cannot_run = study.cannot_run();
        if !cannot_run.is_empty() {
            summary.push(Block::List(cannot_run));
        }
        let mut sections = vec![Section::new("Summary", summary)];
        for (comparison, entries) in &study.comparisons {
            let mut blocks = vec![Block::Paragraph(comparison.question.clone())];
            if entries.len() > 1 {
                blocks.extend(comparison_charts(entries));
            }
            sections.push(Section {
                heading: comparison.title.clone(),
                blocks,
                sections: entries.iter().map(deployment).collect(),
            });
        }
        Page {
            title: study.title.clone(),
            simulated: study.simulated,
            sections,
            footer: FOOTER,
        }
    }
}

/// One deployment: its four sections, or why it cannot run.
fn deployment(entry: &Entry) -> Section {
    let label = entry.deployment.as_ref().map(DeploymentSpec::label);
    match &entry.outcome {
        Outcome::CannotRun(why) => Section::new(
            &label.unwrap_or_default(),
            vec![Block::Paragraph(format!("Cannot run: {why}"))],
        ),
        Outcome::Datasets(datasets) => {
            let f = Figures::of(datasets);
            Section {
                heading: format!(
                    "{} ({})",
                    label.unwrap_or_else(|| f.label.clone()),
                    f.source
                ),
                blocks: Vec::new(),
                sections: f.sections(sizing_of(entry).as_ref()),
            }
        }
    }
}

/// A comparison's deployments on common axes, at its longest prompt.
fn comparison_charts(entries: &[Entry]) -> Option<Block> {
    let figures: Vec<(String, Figures<'_>)> = entries
        .iter()
        .filter_map(|e| match &e.outcome {
            Outcome::Datasets(d) => Some((
                e.deployment.as_ref().map_or_else(String::new, |d| {
                    format!("{} × {} {}", d.gpus, d.gpu, d.quant_or_auto())
                }),
                Figures::of(d),
            )),
            Outcome::CannotRun(_) => None,
        })
        .collect();
    let prompt = figures.iter().flat_map(|(_, f)| f.prompts.last()).max()?;
    let simulated = figures.iter().any(|(_, f)| f.simulated());
    let what = format!("Prompt {prompt} tokens, one line per deployment");
    let plot = |metric: Metric| {
        let lines = figures
            .iter()
            .map(|(label, f)| f.line(metric, *prompt, label.clone()))
            .collect();
        Plot::new(metric, lines, &what, simulated)
    };
    Some(Block::charts([
        plot(Metric::OutputTokS),
        plot(Metric::TtftP95),
        plot(Metric::KvCachePeak),
    ]))
}
