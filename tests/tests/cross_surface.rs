//! One truth per figure: for every dataset in `datasets/`, the numbers the CLI prints
//! (`jauge show`, and the summary table at the end of a run), the study's report writes
//! (report.md and report.html) and `jauge compare` compares are the same numbers — each the
//! shared `Metric`'s value, printed by its one formatter. The site's numbers are checked against
//! `jauge show --json` by the browser test (`tests/browser/explorer.test.mjs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use jauge::dataset::{Dataset, Index};
use jauge::metric::Metric;
use jauge_runner::study::report::Study;

/// (prompt tokens, users, metric slug) → the value as printed.
/// (prompt tokens, users or an open loop's cap, the open loop's rate as printed, metric slug)
/// → the figure as printed.
type Figures = BTreeMap<(u32, u32, Option<String>, String), String>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every published dataset, by its index.
fn published() -> Vec<(String, Dataset)> {
    let datasets = root().join("datasets");
    let index =
        Index::from_json(&std::fs::read_to_string(datasets.join("index.json")).unwrap()).unwrap();
    assert!(!index.datasets.is_empty());
    index
        .datasets
        .iter()
        .map(|e| {
            let text = std::fs::read_to_string(datasets.join(&e.file)).unwrap();
            (e.file.clone(), Dataset::from_json(&text).unwrap())
        })
        .collect()
}

/// What `jauge show --json` prints of a dataset: every step's figures.
fn shown(file: &str, dataset: &Dataset) -> Figures {
    let json = jauge_runner::show::as_json(file, dataset);
    let mut out = Figures::new();
    for step in json["steps"].as_array().unwrap() {
        let key = |slug: &str| {
            (
                step["prompt_tokens"].as_u64().unwrap() as u32,
                step["concurrency"].as_u64().unwrap() as u32,
                step["rate_rps"].as_f64().map(|r| format!("{r}")),
                slug.to_string(),
            )
        };
        for (slug, value) in step["metrics"].as_object().unwrap() {
            if let Some(v) = value.as_str() {
                out.insert(key(slug), v.to_string());
            }
        }
    }
    out
}

/// The `data-*` attributes of every HTML cell that names a step's figure.
fn html_figures(html: &str) -> Figures {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" data-{name}=\""))? + name.len() + 8;
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    };
    let mut out = Figures::new();
    for tag in html.split("<td").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let (Some(metric), Some(value), Some(prompt), Some(users)) = (
            attribute(tag, "metric"),
            attribute(tag, "value"),
            attribute(tag, "prompt-tokens"),
            attribute(tag, "concurrency"),
        ) else {
            continue;
        };
        let rate = attribute(tag, "rate-rps");
        let key = (
            prompt.parse().unwrap(),
            users.parse().unwrap(),
            rate,
            metric,
        );
        if let Some(before) = out.insert(key.clone(), value.clone()) {
            assert_eq!(before, value, "{key:?} shown twice with two values");
        }
    }
    out
}

/// The rows of the Markdown tables whose headings are a step's prompt tokens, users and
/// metrics: each figure under its metric's heading.
fn markdown_figures(markdown: &str) -> Figures {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut out = Figures::new();
    let mut headings: Vec<String> = Vec::new();
    for line in markdown.lines() {
        if !line.starts_with('|') {
            headings.clear();
            continue;
        }
        let row = cells(line);
        if line.starts_with("|---") || line.starts_with("| ---") {
            continue;
        }
        if headings.is_empty() {
            headings = row;
            continue;
        }
        let column = |name: &str| headings.iter().position(|h| h == name);
        let users_column = column("users").or_else(|| column("in flight cap"));
        let (Some(p), Some(u)) = (column("prompt tokens"), users_column) else {
            continue;
        };
        let (Ok(prompt), Ok(users)) = (row[p].parse::<u32>(), row[u].parse::<u32>()) else {
            continue;
        };
        // "all at once" and "closed loop" rows of an open-loop table have no rate.
        let rate = column("rate req/s")
            .map(|r| row[r].clone())
            .filter(|r| r.parse::<f64>().is_ok());
        for metric in Metric::ALL {
            if let Some(c) = column(metric.heading()) {
                if row[c] != "—" {
                    let key = (prompt, users, rate.clone(), metric.slug().into());
                    out.insert(key, row[c].clone());
                }
            }
        }
    }
    out
}

/// Every figure a surface shows is the one `jauge show` prints for the same step (and it
/// shows at least one when jauge show does).
fn same(surface: &str, file: &str, got: &Figures, truth: &Figures) {
    // A published step may give only figures no surface charts (an end-to-end latency alone).
    assert_eq!(
        got.is_empty(),
        truth.is_empty(),
        "{file}: {surface} shows {} step figures, jauge show {}",
        got.len(),
        truth.len()
    );
    agree(surface, file, got, truth);
}

/// Every figure a surface shows is the one `jauge show` prints for the same step.
fn agree(surface: &str, file: &str, got: &Figures, truth: &Figures) {
    for (key, value) in got {
        assert_eq!(
            truth.get(key),
            Some(value),
            "{file}: {surface} shows {key:?} = {value}"
        );
    }
}

#[test]
fn every_surface_shows_the_same_figures_for_every_published_dataset() {
    for (file, dataset) in published() {
        let truth = shown(&file, &dataset);
        // What jauge show prints is the shared Metric, step by step.
        for step in &dataset.steps {
            for metric in Metric::ALL {
                let key = (
                    step.prompt_tokens,
                    step.concurrency,
                    step.rate_rps.map(|r| format!("{r}")),
                    metric.slug().to_string(),
                );
                assert_eq!(
                    truth.get(&key).cloned().unwrap_or_else(|| "—".into()),
                    metric.show(step),
                    "{file} {key:?}"
                );
            }
        }

        let study = Study::single(vec![dataset.clone()]);
        same("report.html", &file, &html_figures(&study.html()), &truth);
        same(
            "report.md",
            &file,
            &markdown_figures(&study.markdown()),
            &truth,
        );

        // The summary table at the end of a run and in jauge show: the figures at the users
        // each prompt size held, and its best output throughput.
        let summary = jauge_runner::summary::limits(&dataset);
        // (A predicted search may hold at a concurrency its grid has no step of: then the
        // summary has no step figure to show, only the best output throughput.)
        agree(
            "the CLI summary",
            &file,
            &html_figures(&summary.html()),
            &truth,
        );
        let shown_text = jauge_runner::show::as_text(&file, &dataset);
        assert!(shown_text.contains(&summary.text()), "{file}");
        for limit in &dataset.limits {
            let best = dataset
                .steps
                .iter()
                .filter(|s| s.prompt_tokens == limit.prompt_tokens)
                .filter_map(|s| Metric::OutputTokS.value(s))
                .reduce(f64::max);
            if let Some(best) = best {
                let printed = Metric::OutputTokS.format(best);
                assert!(
                    summary
                        .html()
                        .contains(&format!("data-value=\"{printed}\"")),
                    "{file}: best output tok/s {printed} at prompt {}",
                    limit.prompt_tokens
                );
            }
        }

        // jauge compare A A: every compared figure of A is the one jauge show prints.
        let rows = jauge_runner::compare::compare(&dataset, &dataset, 0.05);
        let mut compared = Figures::new();
        for row in &rows {
            if let (jauge_runner::compare::Figure::Step(m), Some(users)) =
                (row.figure, row.concurrency)
            {
                let rate = row.rate_rps.map(|r| format!("{r}"));
                let key = (row.prompt_tokens, users, rate, m.slug().into());
                compared.insert(key, m.format(row.a));
            }
        }
        // A published source may give none of the figures compare compares (medians only).
        let comparable = dataset.steps.iter().any(|s| {
            jauge_runner::compare::COMPARED
                .iter()
                .any(|m| m.value(s).is_some())
        });
        if comparable {
            same("jauge compare", &file, &compared, &truth);
        } else {
            assert!(compared.is_empty(), "{file}");
        }
        let printed = jauge_runner::compare::table(&rows).text();
        for value in compared.values() {
            assert!(
                printed.contains(value.as_str()),
                "{file}: compare prints {value}"
            );
        }
    }
}
