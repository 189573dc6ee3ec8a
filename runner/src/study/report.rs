//! The study's report, organised like the study's results: memory, speed and users, maximum
//! context, then what limited each. A Markdown summary, and a self-contained HTML file whose
//! charts are SVG drawn by plotters (no script needed to read it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jauge::catalogue::Catalogue;
use jauge::dataset::{Dataset, LimitReason, Source, Step};
use jauge::deployment::DeploymentSpec;
use jauge::study::{Answers, Comparison};
use plotters::prelude::*;

use crate::files::write_atomic;

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

/// The figures of one deployment, read from its datasets.
struct Figures<'a> {
    label: String,
    source: Source,
    /// Steps of the sweep and the users search (not the context probes).
    steps: Vec<&'a Step>,
    sweep: Option<&'a Dataset>,
    context: Vec<&'a jauge::dataset::ContextLimit>,
    prompts: Vec<u32>,
}

impl Study {
    /// The study of one deployment from its datasets (`speed.json`, `context.json`).
    pub fn single(datasets: Vec<Dataset>) -> Study {
        let first = datasets.first();
        let simulated = datasets.iter().any(|d| d.source != Source::Measured);
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
        let mut md = String::new();
        let prompts = self.prompts();
        let _ = writeln!(
            md,
            "| comparison | deployment | source | weights GiB/GPU | KV-cache tokens | GPU memory peak GiB | {} | best output tok/s | max context, 1 user | max context, N users |",
            prompts
                .iter()
                .map(|p| format!("users @ {p} prompt"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(md, "|{}", "---|".repeat(9 + prompts.len()));
        for (comparison, entries) in &self.comparisons {
            for entry in entries {
                let label = entry
                    .deployment
                    .as_ref()
                    .map_or_else(|| comparison.title.clone(), DeploymentSpec::label);
                let (weights, kv) = sizing_cells(entry);
                match &entry.outcome {
                    Outcome::CannotRun(why) => {
                        let _ = writeln!(
                            md,
                            "| {} | {label} | — | {weights} | {kv} | — | {} | — | — | — ({why}) |",
                            comparison.id,
                            vec!["—"; prompts.len()].join(" | ")
                        );
                    }
                    Outcome::Datasets(datasets) => {
                        let source = Figures::of(datasets).source;
                        let answers = Answers::of(datasets);
                        let users: Vec<String> = prompts
                            .iter()
                            .map(|&p| users_cell(datasets, &answers, p))
                            .collect();
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
                        let _ = writeln!(
                            md,
                            "| {} | {label} | {source} | {weights} | {kv} | {} | {} | {} | {} | {} |",
                            comparison.id,
                            answers
                                .gpu_memory_peak_gib
                                .map_or("—".into(), |g| format!("{g:.2}")),
                            users.join(" | "),
                            answers
                                .best_output_tok_s
                                .map_or("—".into(), |v| format!("{v:.0}")),
                            context(false),
                            context(true),
                        );
                    }
                }
            }
        }
        md
    }

    /// The full Markdown report.
    pub fn markdown(&self) -> String {
        let mut md = format!("# {}\n\n", self.title);
        if self.simulated {
            md.push_str("> **SIMULATED**: these figures come from jauge's simulator or its built-in simulated server, not from a GPU. They are predictions, labelled `simulated` in every dataset.\n\n");
        }
        md.push_str("## Summary\n\n");
        md.push_str(&self.markdown_summary());
        for (comparison, entries) in &self.comparisons {
            let _ = writeln!(md, "\n## {}\n\n{}\n", comparison.title, comparison.question);
            for entry in entries {
                md.push_str(&entry_markdown(entry));
            }
        }
        md
    }

    /// The self-contained HTML report.
    pub fn html(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
            esc(&self.title),
            esc(&self.title)
        );
        if self.simulated {
            h.push_str("<p class=\"sim\"><strong>SIMULATED</strong>: these figures come from jauge's simulator or its built-in simulated server, not from a GPU. They are predictions, labelled <code>simulated</code> in every dataset.</p>\n");
        }
        h.push_str("<h2>Summary</h2>\n");
        h.push_str(&md_table_to_html(&self.markdown_summary()));
        for (comparison, entries) in &self.comparisons {
            let _ = writeln!(
                h,
                "<section><h2>{}</h2><p>{}</p>",
                esc(&comparison.title),
                esc(&comparison.question)
            );
            if entries.len() > 1 {
                h.push_str(&comparison_charts(entries));
            }
            for entry in entries {
                h.push_str(&entry_html(entry, entries.len() == 1));
            }
            h.push_str("</section>\n");
        }
        h.push_str("<footer>Written by jauge study. Datasets beside this file hold every figure (jauge.dataset/v1).</footer></body></html>\n");
        h
    }

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
    println!("\n{}", study.markdown_summary());
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

impl<'a> Figures<'a> {
    fn of(datasets: &'a [Dataset]) -> Figures<'a> {
        let sweep = jauge::study::sweep_of(datasets);
        let mut steps: Vec<&Step> = sweep.map(|d| d.steps.iter().collect()).unwrap_or_default();
        steps.sort_by_key(|s| (s.prompt_tokens, s.concurrency));
        let context = datasets.iter().flat_map(|d| &d.context_limits).collect();
        let source = if datasets.iter().any(|d| d.source == Source::Simulated) {
            Source::Simulated
        } else {
            datasets
                .first()
                .map_or(Source::Simulated, |d| d.source.clone())
        };
        Figures {
            label: datasets.first().map_or_else(String::new, describe),
            source,
            prompts: sweep
                .map(|d| d.workload.prompt_tokens.clone())
                .unwrap_or_default(),
            steps,
            sweep,
            context,
        }
    }

    fn series(&self, value: impl Fn(&Step) -> Option<f64>) -> Vec<(String, Vec<(f64, f64)>)> {
        self.prompts
            .iter()
            .map(|&p| {
                let points = self
                    .steps
                    .iter()
                    .filter(|s| s.prompt_tokens == p)
                    .filter_map(|s| value(s).map(|v| (f64::from(s.concurrency), v)))
                    .collect();
                (format!("prompt {p}"), points)
            })
            .filter(|(_, points): &(String, Vec<(f64, f64)>)| !points.is_empty())
            .collect()
    }
}

fn entry_markdown(entry: &Entry) -> String {
    let mut md = String::new();
    let label = entry.deployment.as_ref().map(DeploymentSpec::label);
    let datasets = match &entry.outcome {
        Outcome::CannotRun(why) => {
            let _ = writeln!(
                md,
                "### {}\n\nCannot run: {why}\n",
                label.unwrap_or_default()
            );
            return md;
        }
        Outcome::Datasets(d) => d,
    };
    let f = Figures::of(datasets);
    let _ = writeln!(
        md,
        "### {} ({})\n",
        label.unwrap_or_else(|| f.label.clone()),
        f.source
    );
    md.push_str("#### 1. Memory\n\n");
    md.push_str(&memory_markdown(sizing_of(entry), &f));
    md.push_str("\n#### 2. Speed and users\n\n| prompt tokens | users | output tok/s | per-user tok/s | TTFT p95 ms | ITL p95 ms | failed |\n|---|---|---|---|---|---|---|\n");
    for s in &f.steps {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {} | {} | {} | {}/{} |",
            s.prompt_tokens,
            s.concurrency,
            s.throughput.output_tok_s,
            per_user(s).map_or("—".into(), |v| format!("{v:.1}")),
            s.latency
                .ttft_ms
                .map_or("—".into(), |v| format!("{:.0}", v.p95)),
            itl(s).map_or("—".into(), |v| format!("{v:.1}")),
            s.requests.failed,
            s.requests.sent
        );
    }
    md.push_str("\nMost simultaneous users under the objectives:\n\n| prompt tokens | max users | breaks at | limited by | how |\n|---|---|---|---|---|\n");
    if let Some(sweep) = f.sweep {
        for l in &sweep.limits {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                l.prompt_tokens,
                l.max_concurrency_ok.map_or("—".into(), |c| c.to_string()),
                l.stopped_at_concurrency
                    .map_or("—".into(), |c| c.to_string()),
                limited_by(l.reason),
                l.detail.as_deref().unwrap_or("")
            );
        }
    }
    md.push_str("\n#### 3. Maximum context\n\n| users | max prompt tokens | refused at | limited by | the server's answer |\n|---|---|---|---|---|\n");
    for c in &f.context {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            c.concurrency,
            c.max_context_tokens.map_or("—".into(), |t| t.to_string()),
            c.refused_at_tokens.map_or("—".into(), |t| t.to_string()),
            limited_by(c.reason),
            c.detail.as_deref().unwrap_or("").replace('|', "\\|")
        );
    }
    md.push_str("\n#### 4. What limited it\n\n");
    for line in limits_in_words(&f) {
        let _ = writeln!(md, "- {line}");
    }
    md.push('\n');
    md
}

fn entry_html(entry: &Entry, charts: bool) -> String {
    let md = entry_markdown(entry);
    let mut h = String::from("<article>\n");
    let mut table = String::new();
    let mut list = String::new();
    let flush_table = |h: &mut String, table: &mut String| {
        if !table.is_empty() {
            h.push_str(&md_table_to_html(table));
            table.clear();
        }
    };
    for line in md.lines() {
        if line.starts_with('|') {
            table.push_str(line);
            table.push('\n');
            continue;
        }
        flush_table(&mut h, &mut table);
        if let Some(item) = line.strip_prefix("- ") {
            let _ = write!(list, "<li>{}</li>", esc(item));
            continue;
        }
        if !list.is_empty() {
            let _ = writeln!(h, "<ul>{list}</ul>");
            list.clear();
        }
        if let Some(t) = line.strip_prefix("#### ") {
            let _ = writeln!(h, "<h4>{}</h4>", esc(t));
            if charts {
                if let Outcome::Datasets(d) = &entry.outcome {
                    h.push_str(&section_charts(t, &Figures::of(d)));
                }
            }
        } else if let Some(t) = line.strip_prefix("### ") {
            let _ = writeln!(h, "<h3>{}</h3>", esc(t));
        } else if !line.trim().is_empty() {
            let _ = writeln!(h, "<p>{}</p>", esc(line));
        }
    }
    flush_table(&mut h, &mut table);
    if !list.is_empty() {
        let _ = writeln!(h, "<ul>{list}</ul>");
    }
    h.push_str("</article>\n");
    h
}

/// The charts that open a section of a one-deployment report.
fn section_charts(section: &str, f: &Figures<'_>) -> String {
    let mut h = String::from("<div class=\"charts\">");
    let sim = f.source != Source::Measured;
    if section.starts_with("1.") {
        let gpu = f.series(|s| {
            s.gpu.as_ref().and_then(|g| {
                g.iter()
                    .map(|g| g.memory_used_mib_peak / 1024.0)
                    .reduce(f64::max)
            })
        });
        if !gpu.is_empty() {
            h.push_str(&line_chart("GPU memory, peak of any GPU", "GiB", &gpu, sim));
        }
        let kv = f.series(|s| s.server.as_ref().and_then(|v| v.kv_cache_usage_pct_peak));
        h.push_str(&line_chart(
            "KV-cache use reported by the server, peak",
            "%",
            &kv,
            sim,
        ));
    } else if section.starts_with("2.") {
        h.push_str(&line_chart(
            "Output tokens per second, all users",
            "tok/s",
            &f.series(|s| Some(s.throughput.output_tok_s)),
            sim,
        ));
        h.push_str(&line_chart(
            "Output tokens per second, per user",
            "tok/s",
            &f.series(per_user),
            sim,
        ));
        h.push_str(&line_chart(
            "Time to first token, p95",
            "ms",
            &f.series(|s| s.latency.ttft_ms.map(|v| v.p95)),
            sim,
        ));
        h.push_str(&line_chart(
            "Inter-token latency, p95",
            "ms",
            &f.series(itl),
            sim,
        ));
    } else {
        return String::new();
    }
    h.push_str("</div>\n");
    h
}

/// A comparison's deployments on common axes, at its longest prompt.
fn comparison_charts(entries: &[Entry]) -> String {
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
    let Some(prompt) = figures
        .iter()
        .flat_map(|(_, f)| f.prompts.last())
        .max()
        .copied()
    else {
        return String::new();
    };
    let sim = figures.iter().any(|(_, f)| f.source != Source::Measured);
    let series = |value: &dyn Fn(&Step) -> Option<f64>| {
        figures
            .iter()
            .map(|(label, f)| {
                let points = f
                    .steps
                    .iter()
                    .filter(|s| s.prompt_tokens == prompt)
                    .filter_map(|s| value(s).map(|v| (f64::from(s.concurrency), v)))
                    .collect::<Vec<_>>();
                (label.clone(), points)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect::<Vec<_>>()
    };
    let mut h = String::from("<div class=\"charts\">");
    h.push_str(&line_chart(
        &format!("Output tok/s, all users, prompt {prompt}"),
        "tok/s",
        &series(&|s| Some(s.throughput.output_tok_s)),
        sim,
    ));
    h.push_str(&line_chart(
        &format!("TTFT p95, prompt {prompt}"),
        "ms",
        &series(&|s| s.latency.ttft_ms.map(|v| v.p95)),
        sim,
    ));
    h.push_str(&line_chart(
        &format!("KV-cache use, prompt {prompt}"),
        "%",
        &series(&|s| s.server.as_ref().and_then(|v| v.kv_cache_usage_pct_peak)),
        sim,
    ));
    h.push_str("</div>\n");
    h
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A line chart over users (log scale), one line per series, as an SVG element. Simulated
/// series are dashed and the title says so.
pub fn line_chart(
    title: &str,
    unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    simulated: bool,
) -> String {
    let title = if simulated {
        format!("{title} (simulated)")
    } else {
        title.to_string()
    };
    let points = series.iter().flat_map(|(_, p)| p);
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max).max(2.0);
    let y_max = points.map(|p| p.1).fold(0.0, f64::max);
    if series.is_empty() || !(y_max.is_finite()) {
        return format!(
            "<figure class=\"empty\"><figcaption>{}: no data</figcaption></figure>",
            esc(&title)
        );
    }
    let y_max = if y_max <= 0.0 { 1.0 } else { y_max * 1.1 };
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((1.0..x_max).log_scale(), 0.0..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 228, 235))
            .x_desc("simultaneous users")
            .y_desc(unit)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        for (i, (name, points)) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let style = colour.stroke_width(2);
            if simulated {
                chart
                    .draw_series(DashedLineSeries::new(points.iter().copied(), 6, 4, style))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
            } else {
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), style))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
            }
            chart.draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, colour.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => format!("<figure>{svg}</figure>"),
        Err(e) => format!(
            "<figure class=\"empty\"><figcaption>{}: could not draw ({})</figcaption></figure>",
            esc(&title),
            esc(&e.to_string())
        ),
    }
}

fn memory_markdown(sizing: Option<jauge::sizing::Sizing>, f: &Figures<'_>) -> String {
    let mut md = String::new();
    if let Some(s) = sizing {
        let m = &s.memory_gib_per_gpu;
        let _ = writeln!(
            md,
            "Computed (jauge size, vLLM's accounting), per GPU: weights {:.2} GiB, activation peak {:.2} GiB, outside PyTorch {:.2} GiB, KV cache {:.2} GiB — {} KV-cache tokens over {} GPU(s) at max_model_len {}.\n",
            m.weights, m.activation_peak, m.non_torch, m.kv_cache, s.kv_cache_tokens, s.gpus, s.max_model_len
        );
    }
    md.push_str("| prompt tokens | users | GPU memory peak GiB (per GPU) | GPU memory mean GiB | KV cache use peak % |\n|---|---|---|---|---|\n");
    for s in &f.steps {
        let gpus = s.gpu.as_deref().unwrap_or_default();
        let peaks: Vec<String> = gpus
            .iter()
            .map(|g| format!("{:.2}", g.memory_used_mib_peak / 1024.0))
            .collect();
        let means: Vec<String> = gpus
            .iter()
            .map(|g| format!("{:.2}", g.memory_used_mib_mean / 1024.0))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            s.prompt_tokens,
            s.concurrency,
            if peaks.is_empty() {
                "—".into()
            } else {
                peaks.join(" / ")
            },
            if means.is_empty() {
                "—".into()
            } else {
                means.join(" / ")
            },
            s.server
                .as_ref()
                .and_then(|v| v.kv_cache_usage_pct_peak)
                .map_or("—".into(), |v| format!("{v:.1}"))
        );
    }
    if f.steps.iter().all(|s| s.gpu.is_none()) {
        let why = f
            .sweep
            .and_then(|d| d.gpu_telemetry.as_ref())
            .and_then(|t| t.reason.clone())
            .unwrap_or_else(|| "not measured".into());
        let _ = writeln!(md, "\nNo GPU readings: {why}.");
    }
    md
}

fn limits_in_words(f: &Figures<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(sweep) = f.sweep {
        for l in &sweep.limits {
            lines.push(format!(
                "Users at {} prompt tokens: {} — limited by {}.",
                l.prompt_tokens,
                l.max_concurrency_ok
                    .map_or("none".into(), |c| c.to_string()),
                limited_by(l.reason)
            ));
        }
    }
    for c in &f.context {
        lines.push(format!(
            "Context at {} user(s): {} tokens — limited by {}.",
            c.concurrency,
            c.max_context_tokens
                .map_or("none".into(), |t| t.to_string()),
            limited_by(c.reason)
        ));
    }
    let preempted: u32 = f
        .steps
        .iter()
        .filter_map(|s| s.server.as_ref().and_then(|v| v.preemptions))
        .sum();
    if preempted > 0 {
        lines.push(format!(
            "Memory: the server preempted {preempted} requests over the sweep (its KV cache was full)."
        ));
    }
    lines
}

fn limited_by(reason: LimitReason) -> &'static str {
    match reason {
        LimitReason::GridEnd => "nothing within the range tried",
        LimitReason::Errors => "errors (failed or timed-out requests)",
        LimitReason::ContextLength => "the context length (max_model_len)",
        LimitReason::SloTtft => "the time-to-first-token objective",
        LimitReason::SloTpot => "the time-per-output-token objective",
        LimitReason::ThroughputPlateau => "a throughput plateau",
        LimitReason::OutOfMemory => "memory (out of memory)",
        LimitReason::ServerDown => "the server going down",
        LimitReason::Interrupted => "an interruption",
        LimitReason::Preemption => "memory (KV-cache preemptions)",
        LimitReason::QueueGrowing => "a growing queue",
    }
}

/// The deployment as `jauge size` computes it: with the settings its datasets record, else
/// as the study would deploy it, else with vLLM's defaults (to say how far it is from fitting).
fn sizing_of(entry: &Entry) -> Option<jauge::sizing::Sizing> {
    let cat = Catalogue::builtin();
    let recorded = match &entry.outcome {
        Outcome::Datasets(d) => d.first().and_then(jauge::deployment::request_of),
        Outcome::CannotRun(_) => None,
    };
    let request = recorded.or_else(|| {
        let d = entry.deployment.as_ref()?;
        d.deployable(cat).ok().or_else(|| d.request(cat).ok())
    })?;
    jauge::sizing::size(&request).ok()
}

fn sizing_cells(entry: &Entry) -> (String, String) {
    match sizing_of(entry) {
        Some(s) => (
            format!("{:.2}", s.weights_gib_per_gpu),
            if s.fits {
                s.kv_cache_tokens.to_string()
            } else {
                "—".into()
            },
        ),
        None => ("—".into(), "—".into()),
    }
}

fn per_user(s: &Step) -> Option<f64> {
    s.throughput.per_user_output_tok_s.or_else(|| {
        (s.concurrency > 0).then(|| s.throughput.output_tok_s / f64::from(s.concurrency))
    })
}

fn itl(s: &Step) -> Option<f64> {
    s.latency.itl_ms.or(s.latency.tpot_ms).map(|v| v.p95)
}

fn describe(d: &Dataset) -> String {
    let dep = &d.deployment;
    format!(
        "{} on {} × {} ({}, {} {})",
        dep.model
            .catalogue_id
            .as_deref()
            .unwrap_or(&dep.model.served_name),
        dep.gpus.count,
        dep.gpus.catalogue_id.as_deref().unwrap_or(&dep.gpus.name),
        dep.quantization,
        dep.engine.name,
        d.source
    )
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Markdown pipe table as an HTML table (the report's tables are written once, in Markdown).
fn md_table_to_html(md: &str) -> String {
    let mut h = String::from("<div class=\"table\"><table>");
    for (i, line) in md.lines().filter(|l| l.starts_with('|')).enumerate() {
        if i == 1 {
            continue; // the |---| separator
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(str::trim)
            .collect();
        let tag = if i == 0 { "th" } else { "td" };
        h.push_str("<tr>");
        for cell in cells {
            let _ = write!(h, "<{tag}>{}</{tag}>", esc(&cell.replace("\\|", "|")));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div>\n");
    h
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}\
th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}.table{overflow-x:auto}\
.sim{background:#fff4d6;border:1px solid #e0b040;padding:.5em 1em}.charts{display:flex;flex-wrap:wrap;gap:.5em}\
figure{margin:0}svg{max-width:100%;height:auto}footer{margin-top:3em;color:#666;font-size:.85em}";
