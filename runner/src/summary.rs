//! The table printed at the end of a run: per prompt size, how many users the deployment held
//! and how fast.

use jauge::dataset::Dataset;
use jauge::metric::Metric;

use crate::table::{render, Align, Cell, Table};

/// One row per prompt size: the most users it held, what stopped it, its best output
/// throughput, and TTFT and TPOT at the users it held.
pub fn table(dataset: &Dataset) -> String {
    limits(dataset).text()
}

/// [`table`] as a [`Table`], for every output.
pub fn limits(dataset: &Dataset) -> Table {
    let mut table = Table::new(&[
        ("prompt tokens", Align::Right),
        ("max users held", Align::Right),
        ("stopped by", Align::Left),
        ("best output tok/s", Align::Right),
        (Metric::TtftP95.heading(), Align::Right),
        (Metric::TpotP95.heading(), Align::Right),
    ]);
    for &prompt in &dataset.workload.prompt_tokens {
        let limit = dataset.limits.iter().find(|l| l.prompt_tokens == prompt);
        let held = limit.and_then(|l| l.max_concurrency_ok);
        let row_steps = || dataset.steps.iter().filter(|s| s.prompt_tokens == prompt);
        let at = held.and_then(|c| row_steps().find(|s| s.concurrency == c));
        let best = row_steps()
            .filter_map(|s| Metric::OutputTokS.value(s))
            .reduce(f64::max);
        let at_held = |m: Metric| at.map_or_else(|| Cell::figure(m, None), |s| Cell::metric(m, s));
        table.push(vec![
            Cell::text(prompt.to_string()),
            Cell::text(held.map_or("—".into(), |c| c.to_string())),
            Cell::text(match limit {
                Some(l) => l.reason.describe().to_string(),
                None if !dataset.status.is_complete() => "interrupted".to_string(),
                // Published and imported grids, open loops: nothing searched for a limit.
                None if best.is_some() => "no limit searched".to_string(),
                None => "not run".to_string(),
            }),
            Cell::figure(Metric::OutputTokS, best),
            at_held(Metric::TtftP95),
            at_held(Metric::TpotP95),
        ]);
    }
    table
}

/// The deployment in one line: `mistral-7b-v0.1 (served as m) on 1 × a100-40gb, bf16, vllm 0.19.0`.
pub fn deployment(dataset: &Dataset) -> String {
    let d = &dataset.deployment;
    let model = d
        .model
        .catalogue_id
        .as_deref()
        .unwrap_or(&d.model.served_name);
    let gpu = d.gpus.catalogue_id.as_deref().unwrap_or(&d.gpus.name);
    format!(
        "{model} on {} × {gpu}, {}, {}{}",
        d.gpus.count,
        d.quantization,
        d.engine.name,
        d.engine
            .version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    )
}

/// One row per step that had failures: how many, of which kinds, and the first message of the
/// most frequent kind. Empty when no request failed.
pub fn errors(dataset: &Dataset) -> String {
    let rows: Vec<Vec<String>> = dataset
        .steps
        .iter()
        .filter_map(|s| Some((s, s.requests.filter(|r| r.failed > 0)?)))
        .map(|(s, r)| {
            let kinds = s
                .errors
                .iter()
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect::<Vec<_>>()
                .join(", ");
            let top = s.errors.iter().max_by_key(|(_, n)| **n).map(|(k, _)| *k);
            let message = top
                .and_then(|k| s.error_messages.get(&k))
                .cloned()
                .unwrap_or_default();
            let message: String = message.chars().take(90).collect();
            vec![
                s.prompt_tokens.to_string(),
                s.concurrency.to_string(),
                format!("{}/{}", r.failed, r.sent),
                kinds,
                message,
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\nErrors\n{}",
        render(
            &[
                " prompt tokens",
                " users",
                " failed",
                "kinds",
                "first message"
            ],
            &rows
        )
    )
}
