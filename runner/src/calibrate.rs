//! `jauge calibrate`: fit the performance model on real datasets, and say how wrong it is the
//! way a sceptical reader would (each source predicted by a fit made without it).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jauge::calibrate::{
    calibration, checks, corpus_digest, fit, fitting_sample, held_out, sources, summarise,
    Calibration, Case, Check, Checks, Corpus, Effort, Factors, Figure, SummaryRow, CHECKS_SCHEMA,
};
use jauge::dataset::Dataset;

use crate::cli::CalibrateArgs;
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::table::{Align, Cell, Table};

/// The checks of the shipped calibration (held-out predictions of every published point).
const SHIPPED_CHECKS: &str = include_str!("../../shared/data/calibration-checks.json");

/// Runs `jauge calibrate`.
pub fn run(args: &CalibrateArgs) -> anyhow::Result<ExitCode> {
    if args.files.is_empty() {
        if !args.report {
            return Err(bad_input(
                "give real datasets (files or folders) to fit on, or --report for the errors of the calibration jauge ships",
            ));
        }
        return shipped_report(args);
    }
    let files = dataset_files(&args.files)?;
    let mut named = Vec::new();
    let mut texts = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: cannot read it: {e}", path.display())))?;
        let dataset =
            Dataset::from_json(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        let name = display_name(path);
        texts.push((file_name(path), text));
        named.push((name, dataset));
    }
    let (cases, left_out) = cases_of(&named);
    if cases.is_empty() {
        return Err(bad_input(format!(
            "none of the {} datasets can calibrate the model (simulated ones cannot, and real ones need a catalogue model and GPU that fit): {}",
            named.len(),
            left_out
                .iter()
                .map(|(n, why)| format!("{n}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let calibrated = calibrate(&cases, args.quiet);
    let corpus = Corpus {
        datasets: named.len(),
        used: cases.len(),
        sources: sources(&cases).len(),
        points: cases.iter().map(|c| c.points.len()).sum(),
        digest: corpus_digest(&texts),
    };
    let checks_file = Checks {
        schema: CHECKS_SCHEMA.to_string(),
        digest: corpus.digest.clone(),
        checks: calibrated.checks,
        left_out,
    };
    let result = calibration(corpus, calibrated.factors, &checks_file.checks);
    let mut text = factors_table(&result);
    if args.report {
        text.push('\n');
        text.push_str(&report(&result, &checks_file, args.points));
    }
    crate::output::print(&text)?;
    if let Some(out) = &args.out {
        let (calibration_path, checks_path) = out_paths(out);
        write_atomic(&calibration_path, &result.to_json())?;
        write_atomic(
            &checks_path,
            &format!("{}\n", serde_json::to_string_pretty(&checks_file)?),
        )?;
        eprintln!(
            "calibration: {} and {} (jauge simulate --calibration {})",
            calibration_path.display(),
            checks_path.display(),
            calibration_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--out`: a folder receives both files under their shipped names; a file path names the
/// calibration, its checks beside it.
fn out_paths(out: &Path) -> (PathBuf, PathBuf) {
    if out.is_dir() {
        return (
            out.join("calibration.json"),
            out.join("calibration-checks.json"),
        );
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "calibration".into());
    (
        out.to_path_buf(),
        out.with_file_name(format!("{stem}-checks.json")),
    )
}

/// The report of the calibration jauge ships, and whether the corpus in this folder is still
/// the one it was fitted on.
fn shipped_report(args: &CalibrateArgs) -> anyhow::Result<ExitCode> {
    let shipped = Calibration::builtin();
    let checks: Checks = serde_json::from_str(SHIPPED_CHECKS)?;
    let mut text = format!(
        "jauge's shipped calibration (shared/data/calibration.json): fitted on {} of {} published datasets, {} sources, {} points (corpus {})\n",
        shipped.corpus.used,
        shipped.corpus.datasets,
        shipped.corpus.sources,
        shipped.corpus.points,
        shipped.corpus.digest
    );
    let here = Path::new("datasets/published");
    if here.is_dir() {
        let mut texts = Vec::new();
        for path in crate::index::dataset_files(here)? {
            texts.push((file_name(&path), std::fs::read_to_string(&path)?));
        }
        if corpus_digest(&texts) == shipped.corpus.digest {
            text.push_str("datasets/published here is that corpus.\n");
        } else {
            text.push_str("datasets/published here has changed since: recompute with `jauge calibrate datasets/published --report` (regenerate with --out shared/data).\n");
        }
    }
    text.push('\n');
    text.push_str(&factors_table(shipped));
    text.push('\n');
    text.push_str(&report(shipped, &checks, args.points));
    crate::output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The fit and its held-out checks.
struct Calibrated {
    factors: Factors,
    checks: Vec<Check>,
}

/// Fits on every case, then once per source without it (spread over the cores), with a
/// progress bar.
fn calibrate(cases: &[Case], quiet: bool) -> Calibrated {
    // The costliest sources first, so that no thread is left alone with one at the end.
    let mut sources = sources(cases);
    let cost = |source: &String| -> u64 {
        cases
            .iter()
            .filter(|c| &c.source == source)
            .map(Case::cost)
            .sum()
    };
    sources.sort_by_cached_key(|s| std::cmp::Reverse(cost(s)));
    let bar = bar(sources.len() as u64 + 1, quiet);
    bar.set_message("fit on every source");
    let sample = fitting_sample(cases);
    let refs: Vec<&Case> = sample.iter().collect();
    let started = std::time::Instant::now();
    let full = fit(&refs, Factors::default(), Effort::Full);
    bar.inc(1);
    let lines = !quiet && !std::io::stderr().is_terminal();
    if !quiet {
        say(
            &bar,
            lines,
            format!(
                "fitted on {} steps of {} sources in {:.0} s; now each source held out",
                refs.iter()
                    .map(|c| c
                        .points
                        .iter()
                        .map(|p| p.step)
                        .collect::<std::collections::BTreeSet<_>>()
                        .len())
                    .sum::<usize>(),
                sources.len(),
                started.elapsed().as_secs_f64()
            ),
        );
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sources.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(source) = sources.get(i) else { break };
                let predicted = held_out(cases, &full, source);
                results
                    .lock()
                    .expect("no thread panics holding it")
                    .extend(predicted);
                bar.set_message(format!("held out: {}", short(source)));
                bar.inc(1);
                if lines {
                    eprintln!(
                        "calibrate: {}/{} sources held out ({:.0} s): {}",
                        bar.position() - 1,
                        sources.len(),
                        started.elapsed().as_secs_f64(),
                        short(source)
                    );
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut held = results.into_inner().expect("no thread panicked");
    held.sort_by_key(|p: &jauge::calibrate::Predicted| p.case);
    Calibrated {
        checks: checks(cases, &held),
        factors: full,
    }
}

/// A line above the bar, or on stderr when there is no terminal to draw the bar on.
fn say(bar: &ProgressBar, plain: bool, line: String) {
    if plain {
        eprintln!("calibrate: {line}");
    } else {
        bar.println(line);
    }
}

fn bar(total: u64, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "calibrate {bar:30.cyan/blue} {pos}/{len} fits  {elapsed_precise}  {msg}",
        )
        .expect("a valid template"),
    );
    bar
}

fn short(source: &str) -> String {
    source.chars().take(60).collect()
}

/// The cases of the datasets, and those left out with why.
fn cases_of(named: &[(String, Dataset)]) -> (Vec<Case>, Vec<(String, String)>) {
    let mut cases = Vec::new();
    let mut left_out = Vec::new();
    for (name, dataset) in named {
        match Case::of(name, dataset) {
            Ok(case) => cases.push(case),
            Err(why) => left_out.push((name.clone(), why)),
        }
    }
    (cases, left_out)
}

/// Files given, folders walked for their datasets.
fn dataset_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(crate::index::dataset_files(path)?);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(bad_input(format!(
                "{}: no such file or folder",
                path.display()
            )));
        }
    }
    Ok(files)
}

/// A dataset's name in reports: its path with `/` separators.
fn display_name(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// A dataset's name in a corpus digest: its file name, however the folder was given.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| display_name(path), |n| n.to_string_lossy().into_owned())
}

/// The fitted factors, one line per part.
fn factors_table(c: &Calibration) -> String {
    let f = &c.factors;
    let mut table = Table::new(&[
        ("factor", Align::Left),
        ("value", Align::Right),
        ("meaning", Align::Left),
    ]);
    let row = |name: String, value: String, meaning: &str| {
        vec![Cell::text(name), Cell::text(value), Cell::text(meaning)]
    };
    table.push(row(
        "bandwidth".into(),
        format!("{:.2}", f.global.bandwidth),
        "share of datasheet memory bandwidth (every GPU)",
    ));
    table.push(row(
        "compute".into(),
        format!("{:.2}", f.global.compute),
        "share of dense tensor peak (every GPU)",
    ));
    for (gpu, scale) in &f.gpus {
        table.push(row(
            format!("gpu {gpu}"),
            format!("×{:.2} / ×{:.2}", scale.bandwidth, scale.compute),
            "its bandwidth / compute shares against the global ones",
        ));
    }
    for (engine, seconds) in &f.engines {
        table.push(row(
            format!("engine {engine}"),
            format!("{:.2} ms", seconds * 1000.0),
            "fixed cost per step",
        ));
    }
    for (format, scale) in &f.formats {
        table.push(row(
            format!("format {format}"),
            format!("×{scale:.2}"),
            "scale on its kernel's cited shares",
        ));
    }
    format!(
        "Factors fitted on {} datasets from {} sources ({} points):\n{}",
        c.corpus.used,
        c.corpus.sources,
        c.corpus.points,
        table.text()
    )
}

/// The leave-one-source-out table per figure, then per GPU and per format, the groups where
/// the model does worst, and (with `points`) every held-out point.
fn report(c: &Calibration, checks: &Checks, points: bool) -> String {
    let pct = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.1} %"));
    let mut out = String::from(
        "Median |error| on real measurements, each source predicted by a fit made without it (leave one source out), beside the uncalibrated defaults; \"per source\" is the median of each source's median, every source counting once:\n",
    );
    let mut by_figure = Table::new(&[
        ("figure", Align::Left),
        ("points", Align::Right),
        ("sources", Align::Right),
        ("uncalibrated", Align::Right),
        ("held out", Align::Right),
        ("per source", Align::Right),
        ("target", Align::Right),
    ]);
    for figure in Figure::ALL {
        let Some(r) = find(&c.summary, Some(figure), None, None) else {
            continue;
        };
        by_figure.push(vec![
            Cell::text(figure.label()),
            Cell::text(r.points.to_string()),
            Cell::text(r.sources.to_string()),
            Cell::text(pct(r.uncalibrated_pct)),
            Cell::text(pct(r.held_out_pct)),
            Cell::text(pct(r.per_source_pct)),
            Cell::text(match (figure.target_pct(), r.held_out_pct) {
                (Some(t), Some(h)) if h <= t => format!("≤ {t:.0} % met"),
                (Some(t), _) => format!("≤ {t:.0} % NOT met"),
                (None, _) => "—".into(),
            }),
        ]);
    }
    out.push_str(&by_figure.text());
    for (title, of_gpu) in [("GPU", true), ("weight format", false)] {
        out.push_str(&format!(
            "\nBy {title} (held out; uncalibrated in brackets):\n"
        ));
        let mut columns = vec![(title, Align::Left), ("points", Align::Right)];
        let targeted: Vec<Figure> = Figure::ALL
            .into_iter()
            .filter(|f| f.target_pct().is_some())
            .collect();
        columns.extend(targeted.iter().map(|f| (f.label(), Align::Right)));
        let mut table = Table::new(&columns);
        for r in c.summary.iter().filter(|r| {
            r.figure.is_none() && (r.gpu.is_some() == of_gpu) && (r.format.is_some() != of_gpu)
        }) {
            let key = if of_gpu {
                r.gpu.clone()
            } else {
                r.format.clone()
            };
            let mut row = vec![
                Cell::text(key.clone().unwrap_or_default()),
                Cell::text(r.points.to_string()),
            ];
            for f in &targeted {
                let cell = if of_gpu {
                    find(&c.summary, Some(*f), key.as_deref(), None)
                } else {
                    find(&c.summary, Some(*f), None, key.as_deref())
                };
                row.push(Cell::text(cell.map_or("—".into(), |r| {
                    format!("{} ({})", pct(r.held_out_pct), pct(r.uncalibrated_pct))
                })));
            }
            table.push(row);
        }
        out.push_str(&table.text());
    }
    let worse: Vec<String> = c
        .summary
        .iter()
        .filter_map(|r| {
            let figure = r.figure?;
            let target = figure.target_pct()?;
            let held = r.held_out_pct?;
            let group = r.gpu.as_deref().or(r.format.as_deref())?;
            (held > target && r.points >= 3).then(|| {
                format!(
                    "  {} on {group}: {held:.0} % over {} points from {} sources (target {target:.0} %)",
                    figure.label(),
                    r.points,
                    r.sources
                )
            })
        })
        .collect();
    if !worse.is_empty() {
        out.push_str("\nWhere it is worse than the targets:\n");
        out.push_str(&worse.join("\n"));
        out.push('\n');
    }
    if !checks.left_out.is_empty() {
        out.push_str(&format!(
            "\n{} datasets could not be used (model or GPU outside the catalogue, or a deployment jauge cannot size): {}\n",
            checks.left_out.len(),
            checks
                .left_out
                .iter()
                .map(|(n, why)| format!("{n} ({why})"))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if points {
        let mut table = Table::new(&[
            ("dataset", Align::Left),
            ("step", Align::Right),
            ("figure", Align::Left),
            ("real", Align::Right),
            ("uncalibrated", Align::Right),
            ("held out", Align::Right),
        ]);
        for check in &checks.checks {
            let shown = |v: Option<f64>| {
                v.map_or("—".into(), |v| {
                    format!(
                        "{v:.1} ({:+.0} %)",
                        (v - check.measured) / check.measured * 100.0
                    )
                })
            };
            table.push(vec![
                Cell::text(check.dataset.clone()),
                Cell::text(check.step.to_string()),
                Cell::text(match check.statistic {
                    Some(s) => format!("{} {s:?}", check.figure.label()).to_lowercase(),
                    None => check.figure.label().to_string(),
                }),
                Cell::text(format!("{:.1}", check.measured)),
                Cell::text(shown(check.uncalibrated)),
                Cell::text(shown(check.held_out)),
            ]);
        }
        out.push('\n');
        out.push_str(&table.text());
    }
    out
}

fn find<'a>(
    summary: &'a [SummaryRow],
    figure: Option<Figure>,
    gpu: Option<&str>,
    format: Option<&str>,
) -> Option<&'a SummaryRow> {
    summary
        .iter()
        .find(|r| r.figure == figure && r.gpu.as_deref() == gpu && r.format.as_deref() == format)
}

/// The summary of checks, for tests: the same rows the report prints.
pub fn summary_of(checks: &[Check]) -> Vec<SummaryRow> {
    summarise(checks)
}
