//! kubernetes-sigs/inference-perf's report: `stage_<N>_lifecycle_metrics.json`, one per load
//! stage (a step), beside the run's `config.yaml` (model, server type, API, load type, data)
//! and `inference-perf.partial.stage_<N>.yaml` (the stage's start time). The summary file
//! pools every stage and is refused.
//!
//! Latencies are in seconds (although its docs say ms); distributions are `{mean, min, max,
//! p0.1 … p99.9, median}`, numpy linear. Its `time_per_output_token` is vLLM's TPOT; its
//! `inter_token_latency` pools the gaps per *token*, a chunk of k tokens adding k − 1 zero gaps,
//! so it is vLLM's per-chunk ITL only when every chunk carries one token.

use std::path::Path;

use anyhow::Context;

use jauge::dataset::{
    Arrival, CountSource, Endpoint, Latency, RequestCounts, Step, Summary, Throughput, TokenCounts,
};
use serde_json::Value;

use super::build::{self, grid_tokens, Failures, Header, Parsed, Run};
use super::field::{self, Field};
use super::Tool;
use crate::exit::bad_input;

/// Whether a JSON document is an inference-perf lifecycle report.
pub fn looks_like(value: &Value) -> bool {
    value.get("load_summary").is_some() && value.get("successes").is_some()
}

/// Whether a file name is a stage's report.
pub fn is_stage_file(name: &str) -> bool {
    stage_number(name).is_some()
}

/// `stage_3_lifecycle_metrics.json` → 3.
fn stage_number(name: &str) -> Option<u32> {
    name.strip_prefix("stage_")?
        .strip_suffix("_lifecycle_metrics.json")?
        .parse()
        .ok()
}

/// One stage's report, with what the run's `config.yaml` and the stage's partial report beside
/// it say.
///
/// # Errors
/// Bad input naming the field that is missing or wrong; the summary file, which pools stages.
pub fn parse(shown: &str, path: &Path, value: &Value) -> anyhow::Result<Parsed> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("summary") {
        return Err(bad_input(
            "inference-perf's summary pools every stage (no concurrency, no rate of its own); import the stage_<N>_lifecycle_metrics.json files, or the report's folder",
        ));
    }
    let root = Field::root(value);
    let dir = path.parent().unwrap_or(Path::new("."));
    let config = read_beside(&dir.join("config.yaml"))?;
    let mut header = Header::default();
    header.note(format!(
        "Imported from inference-perf stage report {shown}."
    ));
    notes_on_the_format(&mut header);
    describe(config.as_deref(), &mut header);
    if let Some(stage) = stage_number(&name) {
        let partial = read_beside(&dir.join(format!("inference-perf.partial.stage_{stage}.yaml")))?;
        header.created_at = partial
            .as_deref()
            .and_then(|p| yaml_scalar(p, &["run", "time", "start"]))
            .and_then(|t| build::rfc3339_from_local(&t));
    }
    let run = run(&root, shown, config.as_deref(), &mut header)?;
    Ok(Parsed {
        tool: Tool::InferencePerf,
        header,
        runs: vec![run],
    })
}

fn notes_on_the_format(header: &mut Header) {
    header.note("ttft_ms, tpot_ms, e2e_ms: inference-perf's time_to_first_token, time_per_output_token (vLLM's TPOT) and request_latency of the successful requests, seconds × 1000; percentiles numpy linear, p50 its median.");
    header.note("itl_ms: absent. inference-perf's inter_token_latency pools the gaps per token (a chunk of k tokens adds k − 1 zero gaps); it is vLLM's per-chunk ITL only when every chunk carries one token, which the report does not say.");
    header.note("output_tok_s, total_tok_s, requests_s: the stage's output_tokens_per_sec, total_tokens_per_sec and requests_per_sec, from its first request's start to its last one's end (failures included).");
    header.note("provenance.tool_version: inference-perf's reports do not record its version.");
}

/// A small file beside the report, when it is there.
fn read_beside(path: &Path) -> anyhow::Result<Option<String>> {
    if path.is_file() {
        field::read_text(path)
            .map(Some)
            .with_context(|| path.display().to_string())
    } else {
        Ok(None)
    }
}

/// What `config.yaml` says: the model, the server, the API, the load and the data; its API key
/// remembered as a secret.
fn describe(config: Option<&str>, header: &mut Header) {
    let Some(config) = config else {
        header.note("The run's config.yaml is not beside the report: the model, the endpoint and the arrival pattern are unknown.");
        return;
    };
    if let Some(key) = yaml_scalar(config, &["server", "api_key"]) {
        crate::secrets::learn(&key);
    }
    header.served_model =
        yaml_scalar(config, &["server", "model_name"]).map(|m| crate::secrets::redact(&m));
    header.engine = yaml_scalar(config, &["server", "type"]);
    header.endpoint = yaml_scalar(config, &["api", "type"]).map(|t| {
        if t.contains("chat") {
            Endpoint::Chat
        } else {
            Endpoint::Completions
        }
    });
    header.arrival = match yaml_scalar(config, &["load", "type"]).as_deref() {
        Some("poisson") => Some(Arrival::Poisson),
        Some("constant") => Some(Arrival::Constant),
        _ => None,
    };
}

/// One stage: a step.
fn run(
    root: &Field<'_>,
    origin: &str,
    config: Option<&str>,
    header: &mut Header,
) -> anyhow::Result<Run> {
    let mut notes = Vec::new();
    let load = root.need("load_summary")?;
    let sent = load.need_count("count")?;
    let successes = root.need("successes")?;
    let completed = successes.need_count("count")?;
    let failures = root.get("failures")?;
    let failed = match &failures {
        Some(f) => f.need_count("count")?,
        None => 0,
    };
    if completed == 0 {
        return Err(successes.need("count")?.error(
            "0: no request succeeded, so the stage gives no token counts or latencies to import",
        ));
    }
    let (concurrency, rate_rps) = match load.opt_count("concurrency")? {
        Some(c) => (c, None),
        None => {
            let rate = load.need_number("requested_rate")?;
            notes.push(format!(
                "open loop at {rate} req/s (load_summary.requested_rate; achieved {}); concurrency is the {sent} requests sent",
                load.opt_number("achieved_rate")?.map_or("?".to_string(), |r| r.to_string())
            ));
            (sent, Some(rate))
        }
    };
    let prompt = successes.need("prompt_tokens")?;
    let output = successes.need("output_tokens")?;
    let prompt_mean = prompt.need_number("mean")?;
    let output_mean = output.need_number("mean")?;
    let prompt_tokens = grid_tokens(prompt_mean, &prompt.need("mean")?)?;
    let output_tokens = grid_tokens(output_mean, &output.need("mean")?)?;
    let varied = prompt.opt_number("min")? != prompt.opt_number("max")?
        || output.opt_number("min")? != output.opt_number("max")?;
    if varied {
        header.lengths_from = Some(
            config
                .and_then(|c| yaml_scalar(c, &["data", "type"]))
                .unwrap_or_else(|| "unknown".to_string()),
        );
    }
    let token_counts = match successes.get("client_fallback_requests")? {
        Some(fallback)
            if fallback.opt_count("prompt")? == Some(0)
                && fallback.opt_count("output")? == Some(0) =>
        {
            Some(TokenCounts {
                prompt_tokens_mean: prompt_mean,
                output_tokens_mean: output_mean,
                output_source: CountSource::Usage,
                reasoning_chunks_mean: None,
            })
        }
        _ => {
            notes.push(format!(
                "token_counts left out: some counts came from the client's tokenizer (client_fallback_requests); means {prompt_mean} prompt, {output_mean} output tokens"
            ));
            None
        }
    };
    let latency = successes.need("latency")?;
    let ms = |name: &str| -> anyhow::Result<Option<Summary>> {
        Ok(match latency.get(name)? {
            Some(d) => distribution(&d)?.map(|s| build::scaled(s, 1000.0)),
            None => None,
        })
    };
    if let Some(itl) = ms("inter_token_latency")? {
        notes.push(format!(
            "inference-perf's per-token inter_token_latency (not mapped): p50 {} ms, p99 {} ms",
            build::show(itl.p50),
            build::show(itl.p99)
        ));
    }
    let with_count = |s: Option<Summary>| {
        s.map(|s| Summary {
            count: Some(completed),
            ..s
        })
    };
    let throughput = successes.need("throughput")?;
    let mut step = Step {
        duration_s: root.opt_number("benchmark_time_seconds")?,
        requests: Some(RequestCounts {
            sent,
            completed,
            failed,
        }),
        token_counts,
        latency: Latency {
            ttft_ms: with_count(ms("time_to_first_token")?),
            ttft_from_intended_ms: None,
            itl_ms: None,
            tpot_ms: ms("time_per_output_token")?,
            e2e_ms: with_count(ms("request_latency")?),
            ttft_answer_ms: None,
        },
        throughput: Throughput {
            output_tok_s: throughput.opt_number("output_tokens_per_sec")?,
            total_tok_s: throughput.opt_number("total_tokens_per_sec")?,
            requests_s: throughput.opt_number("requests_per_sec")?,
            ..Throughput::default()
        },
        ..build::step(concurrency, rate_rps, prompt_tokens, output_tokens)
    };
    labelled(failures.as_ref())?
        .fill(&mut step, failed)
        .map_err(|listed| {
            root.error(format!(
                "failures.by_label counts {listed} failed requests, more than failures.count {failed}"
            ))
        })?;
    Ok(Run::new(step, origin, notes))
}

/// An inference-perf distribution (`mean`, `median`, `p90` … `p99`, `max`), in its unit.
fn distribution(d: &Field<'_>) -> anyhow::Result<Option<Summary>> {
    Ok(build::summary(Summary {
        count: None,
        mean: d.opt_number("mean")?,
        p50: match d.opt_number("median")? {
            Some(v) => Some(v),
            None => d.opt_number("p50")?,
        },
        p90: d.opt_number("p90")?,
        p95: d.opt_number("p95")?,
        p99: d.opt_number("p99")?,
        max: d.opt_number("max")?,
    }))
}

/// Failed requests by kind, from `failures.by_label` (`"500 - Internal Server Error"`).
fn labelled(failures: Option<&Field<'_>>) -> anyhow::Result<Failures> {
    let mut listed = Failures::default();
    let Some(labels) = failures.map(|f| f.get("by_label")).transpose()?.flatten() else {
        return Ok(listed);
    };
    for label in labels.object()?.keys() {
        let entry = labels.need(label)?;
        let first = entry
            .find(&["messages"])
            .and_then(|m| m.items().ok()?.into_iter().next())
            .and_then(|m| m.value.get("message")?.as_str().map(str::to_string));
        let message = match first {
            Some(m) => format!("{label}: {m}"),
            None => label.clone(),
        };
        listed.add(entry.need_count("count")?, None, &message);
    }
    Ok(listed)
}

/// A scalar of a YAML document as PyYAML writes one (block mappings, two spaces a level),
/// found by its path of keys; `None` when absent, `null` or a collection.
pub fn yaml_scalar(text: &str, path: &[&str]) -> Option<String> {
    let mut level = 0;
    for line in text.lines() {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') || body.starts_with('-') {
            continue;
        }
        let indent = line.len() - body.len();
        if indent % 2 != 0 {
            continue;
        }
        let depth = indent / 2;
        level = level.min(depth);
        if depth != level {
            continue;
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        if key.trim() != path[level] {
            continue;
        }
        if level + 1 == path.len() {
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            return (!value.is_empty() && value != "null" && value != "~")
                .then(|| value.to_string());
        }
        level += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars_are_found_by_their_path_only() {
        let yaml = "api:\n  type: completion\nserver:\n  type: vllm\n  model_name: 'm-1'\n  api_key: null\nrun:\n  time:\n    start: '2026-11-25T13:43:28.258936Z'\nload:\n  stages:\n  - rate: 16.0\n    type: x\n  type: concurrent\n";
        assert_eq!(
            yaml_scalar(yaml, &["server", "type"]).as_deref(),
            Some("vllm")
        );
        assert_eq!(
            yaml_scalar(yaml, &["server", "model_name"]).as_deref(),
            Some("m-1")
        );
        assert_eq!(yaml_scalar(yaml, &["server", "api_key"]), None);
        assert_eq!(
            yaml_scalar(yaml, &["run", "time", "start"]).as_deref(),
            Some("2026-11-25T13:43:28.258936Z")
        );
        assert_eq!(
            yaml_scalar(yaml, &["load", "type"]).as_deref(),
            Some("concurrent")
        );
        assert_eq!(yaml_scalar(yaml, &["api", "model_name"]), None);
    }

    #[test]
    fn stage_files_are_numbered() {
        assert_eq!(stage_number("stage_12_lifecycle_metrics.json"), Some(12));
        assert_eq!(stage_number("summary_lifecycle_metrics.json"), None);
    }
}
