//! The table printed at the end of a run: per prompt size, how many users the deployment held
//! and how fast.

use jauge::dataset::Dataset;

use crate::table::render;

/// One row per prompt size.
pub fn table(dataset: &Dataset) -> String {
    let rows: Vec<Vec<String>> = dataset
        .workload
        .prompt_tokens
        .iter()
        .map(|&prompt| {
            let limit = dataset.limits.iter().find(|l| l.prompt_tokens == prompt);
            let held = limit.and_then(|l| l.max_concurrency_ok);
            let at = held.and_then(|c| {
                dataset
                    .steps
                    .iter()
                    .find(|s| s.prompt_tokens == prompt && s.concurrency == c)
            });
            let best = dataset
                .steps
                .iter()
                .filter(|s| s.prompt_tokens == prompt)
                .map(|s| s.throughput.output_tok_s)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            vec![
                prompt.to_string(),
                held.map_or("-".into(), |c| c.to_string()),
                match limit {
                    Some(l) => l.reason.describe().to_string(),
                    None if best.is_some() => "interrupted".to_string(),
                    None => "not run".to_string(),
                },
                best.map_or("-".into(), |v| format!("{v:.1}")),
                at.and_then(|s| s.latency.ttft_ms)
                    .map_or("-".into(), |s| format!("{:.0}", s.p95)),
                at.and_then(|s| s.latency.tpot_ms)
                    .map_or("-".into(), |s| format!("{:.1}", s.p95)),
            ]
        })
        .collect();
    render(
        &[
            " prompt tokens",
            " max users held",
            "stopped by",
            " best output tok/s",
            " TTFT p95 ms",
            " TPOT p95 ms",
        ],
        &rows,
    )
}

/// One row per step that had failures: how many, of which kinds, and the first message of the
/// most frequent kind. Empty when no request failed.
pub fn errors(dataset: &Dataset) -> String {
    let rows: Vec<Vec<String>> = dataset
        .steps
        .iter()
        .filter(|s| s.requests.failed > 0)
        .map(|s| {
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
                format!("{}/{}", s.requests.failed, s.requests.sent),
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
