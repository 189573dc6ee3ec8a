//! ray-project/llmperf's `{model}_{mean_in}_{mean_out}_summary.json`: flat keys,
//! `results_<metric>_{quantiles_p25 … p99, mean, min, max, stddev}` in seconds, one closed-loop
//! run at `num_concurrent_requests` (the name does not carry it: runs sharing a results folder
//! overwrite each other).
//!
//! Its `inter_token_latency_s` is (last chunk − start)/chunks, about E2E/n with the TTFT
//! inside: neither jauge's TPOT nor its ITL. Its throughput is over a window that includes
//! Ray's start-up, and it counts output tokens by re-tokenizing the text (one more for the BOS
//! token): those stay in notes.

use jauge::dataset::{Endpoint, Latency, RequestCounts, Step, Summary};
use serde_json::Value;

use super::build::{self, grid_tokens, Failures, Header, Parsed, Run};
use super::field::Field;
use super::Tool;

/// Whether a JSON document is an llmperf summary.
pub fn looks_like(value: &Value) -> bool {
    value.get("results_ttft_s_mean").is_some()
        || (value.get("num_concurrent_requests").is_some()
            && value.get("results_num_requests_started").is_some())
}

/// The run of an llmperf summary.
///
/// # Errors
/// Bad input naming the field that is missing or wrong.
pub fn parse(shown: &str, value: &Value) -> anyhow::Result<Parsed> {
    let root = Field::root(value);
    let mut header = Header::default();
    header.note(format!("Imported from llmperf summary {shown}."));
    notes_on_the_format(&mut header);
    if let Some(version) = root.opt_str("version")? {
        header.note(format!(
            "provenance.tool_version: llmperf records no release, only its results format ({version})."
        ));
    }
    header.served_model = root.opt_str("model")?.map(crate::secrets::redact);
    header.endpoint = Some(Endpoint::Chat);
    header.created_at = root
        .opt_number("timestamp")?
        .and_then(build::rfc3339_from_unix);
    let run = run(&root, shown, &mut header)?;
    Ok(Parsed {
        tool: Tool::Llmperf,
        header,
        runs: vec![run],
    })
}

fn notes_on_the_format(header: &mut Header) {
    header.note("ttft_ms, e2e_ms: llmperf's results_ttft_s_* and results_end_to_end_latency_s_* (successful requests), seconds × 1000; p50 … p99 are its quantiles_pNN, max its max. TTFT is llmperf's first non-empty delta.content.");
    header.note("tpot_ms, itl_ms: absent. llmperf's inter_token_latency_s is (last chunk − start)/chunks, about E2E/n with the TTFT inside: neither jauge's TPOT nor its ITL.");
    header.note("output_tok_s, requests_s: absent. llmperf divides by a window that includes Ray's start-up, not the load's wall time; its figures are in the notes. per_user_output_tok_s: absent (llmperf's per-request throughput is n/E2E, the TTFT inside).");
    header.note("workload.endpoint: chat, llmperf's OpenAI client (it records no --llm-api).");
    header.note("Token counts: the step's prompt and output tokens are what llmperf asked for (mean_input_tokens, mean_output_tokens); token_counts is left out because llmperf counts by re-tokenizing the text (one more for the BOS token), not with the server's usage.");
}

/// The run: a step.
fn run(root: &Field<'_>, origin: &str, header: &mut Header) -> anyhow::Result<Run> {
    let mut notes = Vec::new();
    let concurrency = root.need_count("num_concurrent_requests")?;
    let sent = root.need_count("results_num_requests_started")?;
    let completed = root.need_count("results_num_completed_requests")?;
    let failed = root.need_count("results_number_errors")?;
    if completed == 0 {
        return Err(root
            .need("results_num_completed_requests")?
            .error("0: no request completed, so the run gives no latencies to import"));
    }
    let asked = |key: &str| -> anyhow::Result<u32> {
        grid_tokens(root.need_number(key)?, &root.need(key)?)
    };
    let (prompt_tokens, output_tokens) =
        (asked("mean_input_tokens")?, asked("mean_output_tokens")?);
    let stddevs = [
        root.opt_number("stddev_input_tokens")?,
        root.opt_number("stddev_output_tokens")?,
    ];
    if stddevs.iter().flatten().any(|s| *s > 0.0) {
        header.lengths_from = Some("sonnet".to_string());
        header.note("workload.lengths_from: sonnet, llmperf's prompts of Shakespeare's sonnets with lengths drawn from a normal distribution (stddev_input_tokens, stddev_output_tokens).");
    }
    let measured = |m: &str| root.opt_number(&format!("results_number_{m}_tokens_mean"));
    notes.push(format!(
        "llmperf counted {} prompt and {} output tokens per request on average (re-tokenized)",
        build::show(measured("input")?),
        build::show(measured("output")?)
    ));
    notes.push(format!(
        "llmperf's own throughput (not mapped): {} output tok/s, {} completed requests per minute, over a window that includes Ray's start-up",
        build::show(root.opt_number("results_mean_output_throughput_token_per_s")?),
        build::show(root.opt_number("results_num_completed_requests_per_min")?)
    ));
    if let Some(itl) = root.opt_number("results_inter_token_latency_s_mean")? {
        notes.push(format!(
            "llmperf's inter_token_latency_s (not mapped): mean {} ms, TTFT inside",
            itl * 1000.0
        ));
    }
    let summary = |metric: &str| -> anyhow::Result<Option<Summary>> {
        let get = |suffix: &str| root.opt_number(&format!("results_{metric}_{suffix}"));
        Ok(build::summary(Summary {
            count: Some(completed),
            mean: get("mean")?,
            p50: get("quantiles_p50")?,
            p90: get("quantiles_p90")?,
            p95: get("quantiles_p95")?,
            p99: get("quantiles_p99")?,
            max: get("max")?,
        })
        .map(|s| build::scaled(s, 1000.0)))
    };
    let mut step = Step {
        requests: Some(RequestCounts {
            sent,
            completed,
            failed,
        }),
        latency: Latency {
            ttft_ms: summary("ttft_s")?,
            e2e_ms: summary("end_to_end_latency_s")?,
            ..Latency::default()
        },
        ..build::step(concurrency, None, prompt_tokens, output_tokens)
    };
    error_codes(root)?.fill(&mut step, failed).map_err(|listed| {
        root.error(format!(
            "results_error_code_frequency counts {listed} failed requests, more than results_number_errors {failed}"
        ))
    })?;
    Ok(Run::new(step, origin, notes))
}

/// Failed requests by kind, from `results_error_code_frequency`: a Python dict's repr,
/// `{500: 3, 429: 1}`.
fn error_codes(root: &Field<'_>) -> anyhow::Result<Failures> {
    let mut failures = Failures::default();
    let Some(frequency) = root.get("results_error_code_frequency")? else {
        return Ok(failures);
    };
    let text = frequency.str()?;
    let not_a_dict = || frequency.error(format!("`{text}` is not a dict of error codes"));
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    for pair in inner.split(',').filter(|p| !p.trim().is_empty()) {
        let (code, count) = pair.split_once(':').ok_or_else(not_a_dict)?;
        let code = code.trim().trim_matches(|c| c == '\'' || c == '"');
        let count: u32 = count.trim().parse().map_err(|_| not_a_dict())?;
        failures.add(count, code.parse().ok(), &format!("error code {code}"));
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jauge::dataset::ErrorKind;

    #[test]
    fn error_code_frequencies_are_read_from_the_python_repr() {
        let value = serde_json::json!({"results_error_code_frequency": "{500: 3, 429: 1}"});
        let mut step = build::step(1, None, 1, 1);
        error_codes(&Field::root(&value))
            .unwrap()
            .fill(&mut step, 5)
            .unwrap();
        assert_eq!(step.errors[&ErrorKind::ServerError], 3);
        assert_eq!(step.errors[&ErrorKind::RateLimited], 1);
        assert_eq!(step.errors[&ErrorKind::Other], 1);
        assert!(build::step(1, None, 1, 1).errors.is_empty());
    }
}
