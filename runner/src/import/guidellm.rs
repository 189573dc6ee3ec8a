//! GuideLLM's report JSON (`benchmarks.json`), `metadata.version` 1 (GuideLLM 0.5–0.6, the run
//! spec under `args`) and 2 (0.7 and later, under `config`): one benchmark per strategy, each
//! with `config.strategy`, `duration` (s) and `metrics`, every metric a distribution per status
//! (`successful`, `errored`, `incomplete`, `total`) with `mean`, `median`, `max`, `count` and
//! `percentiles` (`p50` … `p99`, the first value whose CDF reaches p).
//!
//! The names mean other things than vLLM's: GuideLLM's `inter_token_latency_ms` is vLLM's
//! TPOT weighted by each request's output tokens, its `time_per_output_token_ms` includes the
//! TTFT, and it keeps no per-gap ITL. `request_latency` is in seconds.

use jauge::dataset::{
    Arrival, Endpoint, ErrorKind, Latency, RequestCounts, Step, Summary, Throughput,
};
use serde_json::Value;

use super::build::{self, error_kind, grid_tokens, Failures, Header, Parsed, Run};
use super::field::Field;
use super::Tool;

/// Whether a JSON document is a GuideLLM report.
pub fn looks_like(value: &Value) -> bool {
    value.get("benchmarks").is_some_and(Value::is_array)
        && (value.get("metadata").is_some() || value.get("args").is_some())
}

/// The runs of a GuideLLM report, one per benchmark.
///
/// # Errors
/// Bad input naming the field that is missing or wrong, or a report format jauge does not read.
pub fn parse(shown: &str, value: &Value) -> anyhow::Result<Parsed> {
    let root = Field::root(value);
    let version = match root.get("metadata")? {
        Some(m) => m.opt_count("version")?,
        None => None,
    };
    match version {
        Some(1 | 2) => {}
        Some(v) => {
            return Err(root.need("metadata")?.need("version")?.error(format!(
                "{v}: a report format newer than jauge reads (1: GuideLLM 0.5–0.6, 2: 0.7 and later)"
            )))
        }
        None => {
            return Err(root.error(
                "metadata.version missing: a report of GuideLLM 0.4 or older; jauge reads reports of GuideLLM 0.5 and later (metadata.version 1 and 2)",
            ))
        }
    }
    let mut header = Header::default();
    header.note(format!(
        "Imported from GuideLLM report {shown} (metadata.version {}).",
        version.unwrap_or(0)
    ));
    notes_on_the_format(&mut header);
    describe(&root, &mut header)?;
    let mut runs = Vec::new();
    for (i, b) in root.need("benchmarks")?.items()?.iter().enumerate() {
        runs.push(run(
            b,
            &format!("{shown} benchmarks[{i}]"),
            &root,
            &mut header,
        )?);
    }
    Ok(Parsed {
        tool: Tool::Guidellm,
        header,
        runs,
    })
}

fn notes_on_the_format(header: &mut Header) {
    header.note("ttft_ms: GuideLLM's time_to_first_token_ms (successful requests); e2e_ms: its request_latency, seconds × 1000. Percentiles are GuideLLM's (the first value whose CDF reaches p); max and count are its own.");
    header.note("tpot_ms: GuideLLM's inter_token_latency_ms, which is vLLM's TPOT weighted by each request's output tokens. It is the per-request TPOT summary only when every request has the same output length, so it is mapped only for such steps (count: the successful requests). GuideLLM's time_per_output_token_ms includes the TTFT and is never mapped.");
    header.note(
        "itl_ms: absent; GuideLLM keeps no distribution of the gaps between streamed chunks.",
    );
    header.note("output_tok_s, total_tok_s, requests_s: the means of GuideLLM's output_tokens_per_second, tokens_per_second and requests_per_second (successful), i.e. their count over the measurement window; their percentiles are instantaneous rates and are not used.");
    header.note("requests.failed: errored plus incomplete requests (incomplete ones were cut at the end of the benchmark; recorded as truncated).");
    header.note("Token counts: the step's prompt and output tokens are the means of prompt_token_count and output_token_count (successful), rounded to whole tokens; token_counts is left out because GuideLLM counts with the server's usage when it is given and with its tokenizer otherwise, and the report does not say which.");
}

/// The model, the endpoint, the version, the date, the dataset; any API key the run spec holds
/// is remembered as a secret so that no copy of it reaches the dataset.
fn describe(root: &Field<'_>, header: &mut Header) -> anyhow::Result<()> {
    for path in [
        &["config", "spec", "backend", "api_key"][..],
        &["args", "backend_kwargs", "api_key"],
        &["args", "backend_args", "api_key"],
    ] {
        if let Some(key) = root
            .find(path)
            .and_then(|f| f.value.as_str().map(str::to_string))
        {
            crate::secrets::learn(&key);
        }
    }
    header.tool_version = root
        .find(&["metadata", "guidellm_version"])
        .and_then(|f| f.value.as_str().map(str::to_string));
    header.served_model = [
        &["config", "spec", "backend", "model"][..],
        &["args", "model"],
        &["args", "backend_kwargs", "model"],
    ]
    .iter()
    .find_map(|path| root.find(path)?.value.as_str().map(crate::secrets::redact));
    header.endpoint = [
        &["config", "spec", "backend", "request_format"][..],
        &["args", "request_format"],
        &["args", "backend_kwargs", "request_format"],
        &["args", "backend_kwargs", "request_type"],
    ]
    .iter()
    .find_map(|path| root.find(path)?.value.as_str().map(str::to_string))
    .map(|format| {
        if format.contains("chat") {
            Endpoint::Chat
        } else {
            Endpoint::Completions
        }
    });
    let starts: Vec<f64> = root
        .need("benchmarks")?
        .items()?
        .iter()
        .filter_map(|b| b.value.get("start_time").and_then(Value::as_f64))
        .collect();
    header.created_at = starts
        .into_iter()
        .reduce(f64::min)
        .and_then(build::rfc3339_from_unix);
    Ok(())
}

/// The dataset the prompts came from, for `workload.lengths_from`.
fn data_source(root: &Field<'_>) -> String {
    let first = root
        .find(&["config", "spec", "data"])
        .or_else(|| root.find(&["args", "data"]))
        .and_then(|d| d.items().ok()?.into_iter().next());
    let name = first.and_then(|d| match d.value {
        Value::String(s) if s.contains("prompt_tokens=") => Some("synthetic".to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => ["source", "path", "kind"]
            .iter()
            .find_map(|k| o.get(*k)?.as_str().map(str::to_string)),
        _ => None,
    });
    crate::secrets::redact(&name.unwrap_or_else(|| "unknown".to_string()))
}

/// One benchmark: a step.
fn run(b: &Field<'_>, origin: &str, root: &Field<'_>, header: &mut Header) -> anyhow::Result<Run> {
    let mut notes = Vec::new();
    let metrics = b.need("metrics")?;
    let totals = metrics.need("request_totals")?;
    let completed = totals.need_count("successful")?;
    let errored = totals.need_count("errored")?;
    let incomplete = totals.opt_count("incomplete")?.unwrap_or(0);
    let failed = errored.saturating_add(incomplete);
    let sent = totals
        .opt_count("total")?
        .unwrap_or(completed.saturating_add(failed));
    if completed == 0 {
        return Err(totals.need("successful")?.error(
            "0: no request completed, so the benchmark gives no token counts or latencies to import",
        ));
    }
    let (concurrency, rate_rps) = mode(b, sent, header, &mut notes)?;
    let successful =
        |name: &str| -> anyhow::Result<Field<'_>> { metrics.need(name)?.need("successful") };
    let prompt = successful("prompt_token_count")?;
    let output = successful("output_token_count")?;
    let (prompt_mean, output_mean) = (prompt.need_number("mean")?, output.need_number("mean")?);
    let prompt_tokens = grid_tokens(prompt_mean, &prompt.need("mean")?)?;
    let output_tokens = grid_tokens(output_mean, &output.need("mean")?)?;
    if f64::from(prompt_tokens) != prompt_mean || f64::from(output_tokens) != output_mean {
        notes.push(format!(
            "exact means {prompt_mean} prompt and {output_mean} output tokens per successful request"
        ));
    }
    let (min_out, max_out) = (output.opt_number("min")?, output.opt_number("max")?);
    if min_out != max_out || prompt.opt_number("min")? != prompt.opt_number("max")? {
        header.lengths_from = Some(data_source(root));
    }
    let itl_weighted = distribution(&successful("inter_token_latency_ms")?)?;
    let tpot = match (min_out, max_out) {
        (Some(lo), Some(hi)) if lo == hi && hi > 1.0 => itl_weighted.map(|s| Summary {
            count: Some(completed),
            ..s
        }),
        _ => {
            if let Some(s) = itl_weighted {
                notes.push(format!(
                    "tpot_ms left out: output lengths varied ({} to {} tokens), so GuideLLM's token-weighted inter_token_latency_ms (mean {} ms, p99 {} ms) is not the per-request TPOT",
                    build::show(min_out), build::show(max_out), build::show(s.mean), build::show(s.p99)
                ));
            }
            None
        }
    };
    let mean_of = |name: &str| -> anyhow::Result<Option<f64>> {
        match metrics.get(name)? {
            Some(m) => m.need("successful")?.opt_number("mean"),
            None => Ok(None),
        }
    };
    let mut step = Step {
        duration_s: b.opt_number("duration")?,
        requests: Some(RequestCounts {
            sent,
            completed,
            failed,
        }),
        latency: Latency {
            ttft_ms: distribution(&successful("time_to_first_token_ms")?)?,
            ttft_from_intended_ms: None,
            itl_ms: None,
            tpot_ms: tpot,
            e2e_ms: distribution(&successful("request_latency")?)?
                .map(|s| build::scaled(s, 1000.0)),
            ttft_answer_ms: None,
        },
        throughput: Throughput {
            output_tok_s: mean_of("output_tokens_per_second")?,
            total_tok_s: mean_of("tokens_per_second")?,
            requests_s: mean_of("requests_per_second")?,
            ..Throughput::default()
        },
        ..build::step(concurrency, rate_rps, prompt_tokens, output_tokens)
    };
    failures(b, errored, incomplete)
        .fill(&mut step, failed)
        .map_err(|listed| totals.error(format!("{listed} failures listed for {failed}")))?;
    Ok(Run::new(step, origin, notes))
}

/// The strategy: synchronous (one user), concurrent (`streams` users), throughput (everything
/// at once, at most `max_concurrency`), constant or poisson (open loop at `rate`).
fn mode(
    b: &Field<'_>,
    sent: u32,
    header: &mut Header,
    notes: &mut Vec<String>,
) -> anyhow::Result<(u32, Option<f64>)> {
    let strategy = b.need("config")?.need("strategy")?;
    let kind = strategy.need("type_")?;
    let cap = strategy.opt_count("max_concurrency")?.filter(|c| *c > 0);
    match kind.str()? {
        "synchronous" => Ok((1, None)),
        "concurrent" => Ok((strategy.need_count("streams")?, None)),
        "throughput" => {
            notes.push(format!(
                "throughput strategy: every request sent at once; concurrency is {}",
                cap.map_or_else(
                    || format!("the {sent} requests sent"),
                    |c| format!("its max_concurrency {c}")
                )
            ));
            Ok((cap.unwrap_or(sent), None))
        }
        arrival @ ("constant" | "poisson") => {
            let rate = strategy.need_number("rate")?;
            header.arrival = Some(if arrival == "poisson" {
                Arrival::Poisson
            } else {
                Arrival::Constant
            });
            notes.push(format!(
                "open loop at {rate} req/s; concurrency is {}",
                cap.map_or_else(
                    || format!("the {sent} requests sent (no cap recorded)"),
                    |c| format!("the cap, max_concurrency {c}")
                )
            ));
            Ok((cap.unwrap_or(sent), Some(rate)))
        }
        other => Err(kind.error(format!(
            "`{other}` is not a strategy jauge knows (synchronous, concurrent, throughput, constant, poisson)"
        ))),
    }
}

/// A GuideLLM distribution as a summary; `None` when it holds no value.
fn distribution(d: &Field<'_>) -> anyhow::Result<Option<Summary>> {
    let count = d.opt_count("count")?;
    if count == Some(0) {
        return Ok(None);
    }
    let percentiles = d.get("percentiles")?;
    let p = |key: &str| -> anyhow::Result<Option<f64>> {
        match &percentiles {
            Some(p) => p.opt_number(key),
            None => Ok(None),
        }
    };
    Ok(build::summary(Summary {
        count,
        mean: d.opt_number("mean")?,
        p50: match p("p50")? {
            Some(v) => Some(v),
            None => d.opt_number("median")?,
        },
        p90: p("p90")?,
        p95: p("p95")?,
        p99: p("p99")?,
        max: d.opt_number("max")?,
    }))
}

/// Failed requests by kind: the errored ones classified by their messages when the report
/// keeps every one of them (it samples), else `other`; the incomplete ones `truncated`.
fn failures(b: &Field<'_>, errored: u32, incomplete: u32) -> Failures {
    let mut failures = Failures::default();
    let sampled: Vec<String> = b
        .find(&["requests", "errored"])
        .and_then(|e| e.items().ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            r.find(&["info", "error"])?
                .value
                .as_str()
                .map(str::to_string)
        })
        .collect();
    if errored > 0 && sampled.len() == errored as usize {
        for message in &sampled {
            failures.add(1, None, message);
        }
    } else if let Some(first) = sampled.first().filter(|_| errored > 0) {
        failures.add_kind(ErrorKind::Other, errored, error_kind(None, first).1);
    }
    if incomplete > 0 {
        failures.add_kind(
            ErrorKind::Truncated,
            incomplete,
            "GuideLLM: incomplete (cut at the end of the benchmark)".to_string(),
        );
    }
    failures
}
