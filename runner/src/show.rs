//! `jauge show`: what a dataset holds, with every figure printed as the site, the report and
//! `jauge compare` print it.

use std::process::ExitCode;

use anyhow::Context;
use jauge::dataset::{Dataset, RequestCounts};
use jauge::metric::Metric;
use serde_json::{json, Map, Value};

use crate::cli::ShowArgs;
use crate::exit::bad_input;
use crate::summary;
use crate::table::{any_rate, step_cells, step_columns, Align, Cell, Table};

/// Runs `jauge show`.
pub fn run(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: cannot read it: {e}", path.display())))?;
        let dataset = Dataset::from_json(&text)
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))
            .with_context(|| "run jauge validate for every problem")?;
        let file = path.display().to_string();
        if args.json {
            crate::output::print(&format!("{}\n", as_json(&file, &dataset)))?;
        } else {
            crate::output::print(&as_text(&file, &dataset))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The dataset's figures as data: `{"file", "source", "steps": [{"prompt_tokens",
/// "concurrency", "metrics": {slug: printed value or null}}]}`.
pub fn as_json(file: &str, dataset: &Dataset) -> Value {
    let steps: Vec<Value> = dataset
        .steps
        .iter()
        .map(|step| {
            let metrics: Map<String, Value> = Metric::ALL
                .iter()
                .map(|m| {
                    let value = m.value(step).map_or(Value::Null, |v| json!(m.format(v)));
                    (m.slug().to_string(), value)
                })
                .collect();
            json!({
                "prompt_tokens": step.prompt_tokens,
                "concurrency": step.concurrency,
                "rate_rps": step.rate_rps,
                "metrics": metrics,
            })
        })
        .collect();
    json!({"file": file, "source": dataset.source.to_string(), "steps": steps})
}

/// The dataset for a reader: where it comes from, what limited each prompt size, and every
/// step's figures.
pub fn as_text(file: &str, dataset: &Dataset) -> String {
    format!(
        "{file}: {} dataset, {}\n\n{}\n{}{}",
        dataset.source,
        summary::deployment(dataset),
        summary::table(dataset),
        steps(dataset).text(),
        reasoning(dataset)
    )
}

/// A reasoning model's steps: when the answer itself began, after how much reasoning (empty
/// when no request reasoned).
fn reasoning(dataset: &Dataset) -> String {
    let lines: Vec<String> = dataset
        .steps
        .iter()
        .filter_map(|step| {
            let answer = step.latency.ttft_answer_ms?;
            let chunks = step.token_counts.and_then(|c| c.reasoning_chunks_mean);
            let ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0}"));
            Some(format!(
                "  prompt {} · {} users: first answer token p50 {} ms, p95 {} ms (first token p95 {} ms), after {} reasoning chunks a request on average",
                step.prompt_tokens,
                step.concurrency,
                ms(answer.p50),
                ms(answer.p95),
                ms(step.latency.ttft_ms.and_then(|s| s.p95)),
                chunks.map_or("—".to_string(), |c| format!("{c:.1}"))
            ))
        })
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(
            "\nReasoning (TTFT above counts the first reasoning token):\n{}\n",
            lines.join("\n")
        )
    }
}

/// Every step, every figure.
pub fn steps(dataset: &Dataset) -> Table {
    let open = any_rate(&dataset.steps);
    let mut columns = step_columns(open);
    columns.push(("ok/sent", Align::Right));
    columns.extend(Metric::ALL.iter().map(|m| (m.heading(), Align::Right)));
    let mut table = Table::new(&columns);
    for step in &dataset.steps {
        let mut row = step_cells(open, step);
        row.push(Cell::text(RequestCounts::show(step.requests)));
        row.extend(Metric::ALL.iter().map(|m| Cell::metric(*m, step)));
        table.push(row);
    }
    table
}
