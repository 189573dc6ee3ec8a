use std::collections::BTreeSet;

use jauge::dataset::{Dataset, GpuStep, Source};
use jauge::metric::Metric;
use jauge::study::Comparison;

use super::page::labelled;
use super::*;

/// The recorded study of `runner/tests/fixtures/study` (simulated, no GPU readings).
fn recorded() -> Vec<Dataset> {
    [
        include_str!("../../../tests/fixtures/study/speed.json"),
        include_str!("../../../tests/fixtures/study/context.json"),
    ]
    .iter()
    .map(|text| Dataset::from_json(text).unwrap())
    .collect()
}

/// The library's example as if measured, with two GPUs read at every step: 30 and 37 GiB.
fn measured() -> Dataset {
    let mut d = jauge::dataset::example();
    d.source = Source::Measured;
    let gpu = |index: u32, gib: f64| GpuStep {
        index,
        uuid: None,
        memory_used_mib_peak: gib * 1024.0,
        memory_used_mib_mean: gib * 1024.0,
        memory_total_mib: 40_960.0,
        utilization_pct_mean: None,
        power_w_mean: None,
        energy_j: None,
    };
    for step in &mut d.steps {
        step.gpu = Some(vec![gpu(0, 30.0), gpu(1, 37.0)]);
    }
    d
}

/// Every HTML cell that names a step's figure: (metric, prompt tokens, users, text).
fn metric_cells(html: &str) -> Vec<(String, u32, u32, String)> {
    let attr = |cell: &str, name: &str| {
        let start = cell.find(&format!("data-{name}=\""))? + name.len() + 7;
        Some(cell[start..start + cell[start..].find('"')?].to_string())
    };
    html.split("<td")
        .skip(1)
        .filter_map(|cell| {
            let text_at = cell.find('>')? + 1;
            let text = cell[text_at..text_at + cell[text_at..].find("</td>")?].to_string();
            Some((
                attr(cell, "metric")?,
                attr(cell, "prompt-tokens")?.parse().ok()?,
                attr(cell, "concurrency")?.parse().ok()?,
                text,
            ))
        })
        .collect()
}

/// Each element `<tag …>…</tag>` of `html`.
fn elements<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    html.split(&format!("<{tag}"))
        .skip(1)
        .map(|rest| &rest[..rest.find(&format!("</{tag}>")).unwrap_or(rest.len())])
        .collect()
}

#[test]
fn every_step_figure_in_the_html_is_the_metrics_own() {
    for datasets in [recorded(), vec![measured()]] {
        let study = Study::single(datasets.clone());
        let html = study.html();
        let cells = metric_cells(&html);
        let steps = &jauge::study::sweep_of(&datasets).unwrap().steps;
        for (slug, prompt, users, text) in &cells {
            let metric = Metric::from_slug(slug).unwrap();
            let step = steps
                .iter()
                .find(|s| s.prompt_tokens == *prompt && s.concurrency == *users)
                .unwrap();
            assert_eq!(*text, metric.show(step), "{slug} at {prompt}, {users}");
        }
        let shown: BTreeSet<(&str, u32, u32)> = cells
            .iter()
            .map(|(m, p, u, _)| (m.as_str(), *p, *u))
            .collect();
        for step in steps {
            for metric in Metric::ALL {
                let key = (metric.slug(), step.prompt_tokens, step.concurrency);
                assert!(shown.contains(&key), "{key:?} missing");
            }
        }
    }
}

/// Two GPUs at 30 and 37 GiB: the report's figure is 37.00, the fullest GPU's peak, as
/// `Metric::GpuMemoryPeak` says, with each GPU's peak beside it.
#[test]
fn gpu_memory_is_the_fullest_gpus_peak_everywhere() {
    let study = Study::single(vec![measured()]);
    let md = study.markdown();
    assert!(md.contains("| 1024 | 1 | 37.00 |"), "{md}");
    assert!(md.contains("| 30.00 / 37.00 |"), "{md}");
    assert!(study
        .markdown_summary()
        .contains(&format!("| {} |", Metric::GpuMemoryPeak.format(37.0))));
}

#[test]
fn a_simulated_study_says_so_on_every_chart_and_table() {
    let study = Study::single(recorded());
    assert!(study.simulated);
    let html = study.html();
    let figures = elements(&html, "figure");
    assert!(figures.iter().filter(|f| f.contains("<svg")).count() >= 5);
    assert_eq!(
        figures.iter().filter(|f| f.contains("<table")).count(),
        html.matches("<table").count(),
        "every table has a caption"
    );
    for figure in figures {
        let caption = elements(figure, "figcaption").concat();
        assert!(caption.contains("(simulated)"), "{figure}");
    }
    let md = study.markdown();
    let lines: Vec<&str> = md.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("|---") {
            let caption = lines[i - 3];
            assert!(caption.ends_with("(simulated):"), "{caption}");
        }
    }
}

#[test]
fn a_measured_study_is_never_called_simulated() {
    let study = Study::single(vec![measured()]);
    assert!(!study.simulated);
    assert!(!study.html().to_lowercase().contains("simulated"));
    assert!(!study.markdown().to_lowercase().contains("simulated"));
}

/// Markdown and HTML print one page: the same headings and the same tables.
#[test]
fn markdown_and_html_hold_the_same_sections_and_tables() {
    let study = Study::single(recorded());
    let (md, html) = (study.markdown(), study.html());
    let md_tables = md.lines().filter(|l| l.starts_with("|---")).count();
    assert_eq!(md_tables, html.matches("<table").count());
    for heading in md
        .lines()
        .filter_map(|l| l.trim_start_matches('#').strip_prefix(' '))
    {
        let heading = crate::table::escape(heading);
        assert!(html.contains(&format!(">{heading}</h")), "{heading}");
    }
    assert!(!html.contains("<script"));
}

/// A comparison draws its deployments on common axes, and one that cannot run says why.
#[test]
fn a_comparison_charts_its_deployments_and_says_what_cannot_run() {
    let datasets = recorded();
    let spec = jauge::deployment::DeploymentSpec::of_dataset(&datasets[0]);
    let study = Study {
        title: "two".into(),
        simulated: true,
        comparisons: vec![(
            Comparison {
                id: "pair".into(),
                title: "A pair".into(),
                question: "Which?".into(),
                deployments: Vec::new(),
            },
            vec![
                Entry {
                    deployment: spec.clone(),
                    outcome: Outcome::Datasets(datasets),
                },
                Entry {
                    deployment: spec,
                    outcome: Outcome::CannotRun("does not fit".into()),
                },
            ],
        )],
    };
    let html = study.html();
    let section = &html[html.find("<h2>A pair</h2>").unwrap()..];
    let first_article = section.find("<article>").unwrap();
    assert!(
        section[..first_article].contains("Prompt 512 tokens, one line per deployment"),
        "{section}"
    );
    assert!(html.contains("Cannot run: does not fit"));
    let md = study.markdown();
    assert!(md.contains("| pair | mistral-7b-v0.1 on 1 × a100-40gb, bf16 | cannot run |"));
    assert!(md.contains("- mistral-7b-v0.1 on 1 × a100-40gb, bf16 cannot run: does not fit\n"));
}

#[test]
fn labels_mark_only_simulated_figures() {
    assert_eq!(labelled("Memory", true), "Memory (simulated)");
    assert_eq!(labelled("Memory", false), "Memory");
}
