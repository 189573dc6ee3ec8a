//! `jauge compare A.json B.json`: step by step, how B differs from A on the main metrics, and
//! an exit code that fails a CI job when B is worse beyond a threshold.

use std::process::ExitCode;

use anyhow::Context;
use jauge::dataset::Dataset;
use jauge::metric::{Direction, Metric};

use crate::cli::CompareArgs;
use crate::exit::bad_input;
use crate::table::{Align, Cell, Table};

/// The figures compared: speed and latency as users see them, and errors. (Memory is left
/// out: more of it in use is no regression.)
pub const COMPARED: [Metric; 6] = [
    Metric::OutputTokS,
    Metric::PerUserTokS,
    Metric::TtftP95,
    Metric::ItlP95,
    Metric::TpotP95,
    Metric::ErrorRate,
];

/// What a row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// A figure of the step both runs measured.
    Step(Metric),
    /// The most users a prompt size held.
    UsersHeld,
}

/// One figure of one step (or one prompt size) in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Users (`None` for a prompt size's users held); an open loop's cap on requests in flight.
    pub concurrency: Option<u32>,
    /// An open loop's rate, requests per second: its steps at one cap differ only by it.
    pub rate_rps: Option<f64>,
    /// What is compared.
    pub figure: Figure,
    /// A's value.
    pub a: f64,
    /// B's value.
    pub b: f64,
    /// Relative change from A to B (for errors: the change in percentage points / 100).
    pub change: f64,
    /// B is worse than A beyond the threshold.
    pub worse: bool,
}

/// Compares the steps both datasets have, and the users each row held.
pub fn compare(a: &Dataset, b: &Dataset, threshold: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    for sa in &a.steps {
        let Some(sb) = b.steps.iter().find(|s| {
            (s.prompt_tokens, s.concurrency) == (sa.prompt_tokens, sa.concurrency)
                && s.rate_rps == sa.rate_rps
        }) else {
            continue;
        };
        for metric in COMPARED {
            let (Some(va), Some(vb)) = (metric.value(sa), metric.value(sb)) else {
                continue;
            };
            // Errors are compared in percentage points: 0 → 1 % is a change of 1 point.
            let change = if metric == Metric::ErrorRate {
                (vb - va) / 100.0
            } else if va != 0.0 {
                (vb - va) / va.abs()
            } else {
                0.0
            };
            let worse = match metric.direction() {
                Direction::Higher => change < -threshold,
                Direction::Lower => change > threshold,
            };
            rows.push(Row {
                prompt_tokens: sa.prompt_tokens,
                concurrency: Some(sa.concurrency),
                rate_rps: sa.rate_rps,
                figure: Figure::Step(metric),
                a: va,
                b: vb,
                change,
                worse,
            });
        }
    }
    for la in &a.limits {
        let Some(lb) = b
            .limits
            .iter()
            .find(|l| l.prompt_tokens == la.prompt_tokens)
        else {
            continue;
        };
        let (va, vb) = (
            f64::from(la.max_concurrency_ok.unwrap_or(0)),
            f64::from(lb.max_concurrency_ok.unwrap_or(0)),
        );
        let change = if va > 0.0 { (vb - va) / va } else { 0.0 };
        rows.push(Row {
            prompt_tokens: la.prompt_tokens,
            concurrency: None,
            rate_rps: None,
            figure: Figure::UsersHeld,
            a: va,
            b: vb,
            change,
            worse: vb < va,
        });
    }
    rows
}

/// The rows as a table: each value printed as every surface prints it.
pub fn table(rows: &[Row]) -> Table {
    let open = rows.iter().any(|r| r.rate_rps.is_some());
    let mut columns = vec![("prompt tokens", Align::Right)];
    if open {
        columns.push(("rate req/s", Align::Right));
    }
    columns.extend([
        ("users", Align::Right),
        ("figure", Align::Left),
        ("A", Align::Right),
        ("B", Align::Right),
        ("change", Align::Right),
        ("", Align::Left),
    ]);
    let mut table = Table::new(&columns);
    for r in rows {
        let (name, a, b, change) = match r.figure {
            Figure::Step(m) => (
                m.heading(),
                Cell::figure(m, Some(r.a)),
                Cell::figure(m, Some(r.b)),
                if m == Metric::ErrorRate {
                    format!("{:+.1} pt", r.change * 100.0)
                } else {
                    format!("{:+.1} %", r.change * 100.0)
                },
            ),
            Figure::UsersHeld => (
                "max users held",
                Cell::text(format!("{:.0}", r.a)),
                Cell::text(format!("{:.0}", r.b)),
                format!("{:+.1} %", r.change * 100.0),
            ),
        };
        let mut row = vec![Cell::text(r.prompt_tokens.to_string())];
        if open {
            row.push(Cell::text(
                r.rate_rps.map_or("—".into(), |r| format!("{r}")),
            ));
        }
        row.extend([
            Cell::text(r.concurrency.map_or("—".into(), |c| c.to_string())),
            Cell::text(name),
            a,
            b,
            Cell::text(change),
            Cell::text(if r.worse { "WORSE" } else { "" }),
        ]);
        table.push(row);
    }
    table
}

/// Why two datasets do not measure the same deployment, if they do not.
pub fn different_deployments(a: &Dataset, b: &Dataset) -> Vec<String> {
    let (da, db) = (&a.deployment, &b.deployment);
    let model = |d: &jauge::dataset::Deployment| {
        d.model
            .catalogue_id
            .clone()
            .unwrap_or_else(|| d.model.served_name.clone())
    };
    let gpu = |d: &jauge::dataset::Deployment| {
        d.gpus
            .catalogue_id
            .clone()
            .unwrap_or_else(|| d.gpus.name.clone())
    };
    let mut out = Vec::new();
    for (what, x, y) in [
        ("model", model(da), model(db)),
        ("GPU", gpu(da), gpu(db)),
        (
            "GPU count",
            da.gpus.count.to_string(),
            db.gpus.count.to_string(),
        ),
        (
            "quantisation",
            da.quantization.clone(),
            db.quantization.clone(),
        ),
    ] {
        if x != y {
            out.push(format!("{what}: {x} vs {y}"));
        }
    }
    out
}

/// `5%`, `5` (percent) or `0.05`.
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, percent) = match t.strip_suffix('%') {
        Some(n) => (n, true),
        None => (t, false),
    };
    let v: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("--threshold: `{text}` is not a number like 5% or 0.05"))?;
    let v = if percent || v >= 1.0 { v / 100.0 } else { v };
    if !(0.0..10.0).contains(&v) {
        return Err(format!("--threshold: `{text}` is out of range"));
    }
    Ok(v)
}

/// Runs `jauge compare`.
pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let threshold = parse_threshold(&args.threshold).map_err(bad_input)?;
    let read = |path: &std::path::Path| -> anyhow::Result<Dataset> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: cannot read it: {e}", path.display())))?;
        Dataset::from_json(&text)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))
            .context("reading the datasets")
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    let differences = different_deployments(&a, &b);
    if !differences.is_empty() && !args.force {
        return Err(bad_input(format!(
            "these datasets measure different deployments ({}); pass --force to compare anyway",
            differences.join("; ")
        )));
    }
    let rows = compare(&a, &b, threshold);
    if rows.is_empty() {
        println!("no step in common: nothing to compare");
        return Ok(ExitCode::SUCCESS);
    }
    println!("A: {}\nB: {}\n", args.a.display(), args.b.display());
    print!("{}", table(&rows).text());
    let worse = rows.iter().filter(|r| r.worse).count();
    if worse > 0 {
        println!(
            "\nB is worse than A beyond {:.1} % on {worse} figure(s)",
            threshold * 100.0
        );
        Ok(ExitCode::from(1))
    } else {
        println!(
            "\nB is not worse than A beyond {:.1} % on any figure",
            threshold * 100.0
        );
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_in_every_spelling() {
        assert_eq!(parse_threshold("5%"), Ok(0.05));
        assert_eq!(parse_threshold("5"), Ok(0.05));
        assert_eq!(parse_threshold("0.05"), Ok(0.05));
        assert!(parse_threshold("lots").is_err());
    }

    #[test]
    fn a_slower_b_is_worse_and_an_equal_one_is_not() {
        let a = jauge::dataset::example();
        assert!(compare(&a, &a, 0.05).iter().all(|r| !r.worse));
        let mut b = a.clone();
        b.steps[1].throughput.output_tok_s = b.steps[1].throughput.output_tok_s.map(|v| v * 0.9);
        let worse: Vec<Row> = compare(&a, &b, 0.05)
            .into_iter()
            .filter(|r| r.worse)
            .collect();
        assert_eq!(worse.len(), 1);
        assert_eq!(
            (worse[0].figure, worse[0].concurrency),
            (Figure::Step(Metric::OutputTokS), Some(8))
        );
        assert!((worse[0].change + 0.1).abs() < 1e-9);
    }

    #[test]
    fn fewer_users_held_is_worse() {
        let a = jauge::dataset::example();
        let mut b = a.clone();
        b.limits[0].max_concurrency_ok = Some(4);
        assert!(compare(&a, &b, 0.05)
            .iter()
            .any(|r| r.figure == Figure::UsersHeld && r.worse));
    }

    #[test]
    fn different_hardware_is_named() {
        let a = jauge::dataset::example();
        let mut b = a.clone();
        b.deployment.gpus.catalogue_id = Some("h100-80gb".into());
        assert_eq!(
            different_deployments(&a, &b),
            ["GPU: a100-40gb vs h100-80gb"]
        );
    }
}
