//! NVIDIA AIPerf's `profile_export_aiperf.json` (0.13 with `schema_version`, and the early
//! format without it), its sweep aggregate (`profile_export_aiperf_sweep.json`), and
//! GenAI-Perf's `profile_export_genai_perf.json`, which AIPerf replaced with the same metric
//! names and meanings.
//!
//! One key per metric, `{"unit", "avg", "p1" … "p99", "min", "max", "std", "count"}`; the unit
//! is read, never assumed. AIPerf's `inter_token_latency` is vLLM's TPOT (per request, E2E −
//! TTFT over output tokens − 1), its `inter_chunk_latency` the per-chunk gaps pooled (vLLM's
//! ITL), `request_latency` the E2E; `adj_*` figures count failures as infinite and are not used.

use jauge::dataset::{
    Arrival, CountSource, Endpoint, Latency, RequestCounts, Step, Summary, Throughput, TokenCounts,
};
use serde_json::Value;

use super::build::{self, grid_tokens, Failures, Header, Parsed, Run};
use super::field::Field;
use super::Tool;

/// Whether a JSON document is an AIPerf or GenAI-Perf profile export (or AIPerf's sweep
/// aggregate).
pub fn looks_like(value: &Value) -> bool {
    value.get("per_combination_metrics").is_some()
        || (value
            .get("time_to_first_token")
            .is_some_and(Value::is_object)
            && (value.get("input_config").is_some()
                || value.get("aiperf_version").is_some()
                || value.get("request_count").is_some()))
}

/// Which of the two tools wrote a profile export: AIPerf marks its files with a version (or,
/// early on, an `input_config.loadgen`); GenAI-Perf's have neither.
pub fn tool_of(value: &Value, file_name: &str) -> Tool {
    let marked_aiperf = value.get("aiperf_version").is_some()
        || value.get("schema_version").is_some()
        || value.get("per_combination_metrics").is_some()
        || value.pointer("/input_config/loadgen").is_some()
        || value.pointer("/input_config/phases").is_some();
    let marked_genai_perf =
        file_name.contains("genai_perf") || value.pointer("/input_config/perf_analyzer").is_some();
    if marked_aiperf || !marked_genai_perf {
        Tool::Aiperf
    } else {
        Tool::GenaiPerf
    }
}

/// The runs of a profile export (one) or of a sweep aggregate (one per combination).
///
/// # Errors
/// Bad input naming the field that is missing or wrong.
pub fn parse(shown: &str, value: &Value, tool: Tool) -> anyhow::Result<Parsed> {
    let root = Field::root(value);
    let mut header = Header::default();
    let name = if tool == Tool::GenaiPerf {
        "GenAI-Perf"
    } else {
        "AIPerf"
    };
    header.note(format!("Imported from {name} results: {shown}."));
    notes_on_the_format(&mut header, tool);
    let runs = if root.get("per_combination_metrics")?.is_some() {
        sweep(shown, &root, &mut header)?
    } else {
        describe(&root, &mut header)?;
        let (concurrency, rate) = mode(&root, &mut header)?;
        vec![run(&root, shown, tool, concurrency, rate, &mut header)?]
    };
    Ok(Parsed { tool, header, runs })
}

fn notes_on_the_format(header: &mut Header, tool: Tool) {
    header.note("ttft_ms: time_to_first_token; tpot_ms: inter_token_latency (per request, (E2E − TTFT)/(output tokens − 1): vLLM's TPOT); e2e_ms: request_latency; each in the unit the file states, percentiles linear. The error-adjusted adj_* figures (failures as infinite) are not used.");
    if tool == Tool::Aiperf {
        header.note("itl_ms: inter_chunk_latency, the gaps between streamed chunks pooled over requests (vLLM's ITL). per_user_output_tok_s: output_token_throughput_per_user, the mean over requests of 1/TPOT.");
    } else {
        header.note("itl_ms: absent; GenAI-Perf's inter_token_latency is the per-request TPOT and it keeps no per-chunk gaps.");
    }
    header.note("output_tok_s, total_tok_s, requests_s: output_token_throughput, total_token_throughput and request_throughput, over the benchmark's duration (first request sent to last response).");
    header.note("Token counts: the step's prompt and output tokens are the means of input_sequence_length and output_sequence_length (the client's tokenizer unless --use-server-token-count), rounded to whole tokens; token_counts holds the server's usage (usage_prompt_tokens, usage_completion_tokens) when the file has it.");
}

/// The version, the model, the endpoint, the date and the command; the API key remembered as a
/// secret.
fn describe(root: &Field<'_>, header: &mut Header) -> anyhow::Result<()> {
    for path in [
        &["input_config", "endpoint", "api_key"][..],
        &["input_config", "api_key"],
    ] {
        if let Some(key) = root
            .find(path)
            .and_then(|f| f.value.as_str().map(str::to_string))
        {
            crate::secrets::learn(&key);
        }
    }
    header.tool_version = root.opt_str("aiperf_version")?.map(str::to_string);
    if let Some(schema) = root.opt_str("schema_version")? {
        header.note(format!("AIPerf export schema_version {schema}."));
    }
    let model = root
        .find(&["input_config", "models", "items"])
        .and_then(|items| items.items().ok()?.into_iter().next())
        .and_then(|m| m.value.get("name")?.as_str().map(str::to_string))
        .or_else(|| {
            let m = root
                .find(&["input_config", "model_names"])
                .or_else(|| root.find(&["input_config", "model"]))?;
            match m.value {
                Value::String(s) => Some(s.clone()),
                Value::Array(a) => a.first()?.as_str().map(str::to_string),
                _ => None,
            }
        });
    header.served_model = model.map(|m| crate::secrets::redact(&m));
    header.endpoint = root
        .find(&["input_config", "endpoint", "type"])
        .or_else(|| root.find(&["input_config", "endpoint_type"]))
        .and_then(|t| t.value.as_str())
        .map(|t| {
            if t.contains("chat") {
                Endpoint::Chat
            } else {
                Endpoint::Completions
            }
        });
    if let Some(start) = root.opt_str("start_time")? {
        header.created_at = build::rfc3339_from_local(start);
        if header.created_at.is_some() && !start.ends_with('Z') && !start.contains('+') {
            header.note("provenance.created_at: the file's start_time is the benchmark machine's local time without a zone; written as UTC.");
        }
    }
    if let Some(command) = root.find(&["run_info", "cli_command"]) {
        let words = command.str()?.split_whitespace().map(str::to_string);
        header.note(format!(
            "The tool's command: {}",
            crate::secrets::redact_args(words).join(" ")
        ));
    }
    if root.get("was_cancelled")?.and_then(|f| f.value.as_bool()) == Some(true) {
        header.note("AIPerf says the run was cancelled before its end (was_cancelled).");
    }
    Ok(())
}

/// Closed loop at a concurrency or open loop at a rate, from the profiling phase (0.13), the
/// load generator's settings (early AIPerf) or perf_analyzer's stimulus (GenAI-Perf).
fn mode(root: &Field<'_>, header: &mut Header) -> anyhow::Result<(Option<u32>, Option<f64>)> {
    let config = root.need("input_config")?;
    if let Some(phases) = config.get("phases")? {
        for phase in phases.items()? {
            if phase.opt_str("kind")? != Some("profiling") {
                continue;
            }
            let kind = phase.need("type")?.str()?;
            let concurrency = phase.opt_count("concurrency")?;
            if kind == "concurrency" {
                return Ok((Some(phase.need_count("concurrency")?), None));
            }
            let rate = match phase.opt_number("rate")? {
                Some(r) => r,
                None => phase.need_number("request_rate")?,
            };
            header.arrival = match kind {
                "poisson" => Some(Arrival::Poisson),
                "gamma" => Some(Arrival::Gamma),
                "constant" => Some(Arrival::Constant),
                _ => None,
            };
            return Ok((concurrency, Some(rate)));
        }
        return Err(config.need("phases")?.error("no phase of kind `profiling`"));
    }
    let number = |paths: &[&[&str]]| -> anyhow::Result<Option<f64>> {
        paths
            .iter()
            .find_map(|p| config.find(p))
            .map(|f| f.number())
            .transpose()
    };
    let concurrency = number(&[
        &["loadgen", "concurrency"],
        &["perf_analyzer", "stimulus", "concurrency"],
        &["concurrency"],
    ])?
    .map(|c| c.round() as u32);
    let rate = number(&[
        &["loadgen", "request_rate"],
        &["perf_analyzer", "stimulus", "request_rate"],
        &["request_rate"],
    ])?;
    if concurrency.is_none() && rate.is_none() {
        return Err(config.error(
            "no concurrency and no request rate (phases, loadgen or perf_analyzer.stimulus)",
        ));
    }
    Ok((concurrency, rate))
}

/// The combinations of AIPerf's sweep aggregate, when each was run once: with several trials
/// its figures are means over trials, which jauge never uses.
fn sweep(shown: &str, root: &Field<'_>, header: &mut Header) -> anyhow::Result<Vec<Run>> {
    if let Some(trials) = root.find(&["metadata", "num_trials_per_value"]) {
        let trials = trials.count()?;
        if trials > 1 {
            return Err(trials_error(root, trials));
        }
    }
    header.note("Read from AIPerf's sweep aggregate, each combination run once (its figures are that run's).");
    let mut runs = Vec::new();
    for combination in root.need("per_combination_metrics")?.items()? {
        let parameters = combination.need("parameters")?;
        let concurrency = parameters.opt_count("concurrency")?;
        let rate = parameters.opt_number("request_rate")?;
        if concurrency.is_none() && rate.is_none() {
            return Err(parameters.error("no concurrency and no request_rate"));
        }
        let origin = format!("{shown} {}", combination.path);
        let metrics = combination.need("metrics")?;
        runs.push(run(
            &metrics,
            &origin,
            Tool::Aiperf,
            concurrency,
            rate,
            header,
        )?);
    }
    Ok(runs)
}

fn trials_error(root: &Field<'_>, trials: u32) -> anyhow::Error {
    root.error(format!(
        "metadata.num_trials_per_value: {trials} trials per combination, whose figures the aggregate averages; jauge never averages runs: import each trial's profile_export_aiperf.json instead"
    ))
}

/// One profile (or one combination of a sweep): a step. `m` holds the metrics.
fn run(
    m: &Field<'_>,
    origin: &str,
    tool: Tool,
    concurrency: Option<u32>,
    rate: Option<f64>,
    header: &mut Header,
) -> anyhow::Result<Run> {
    let mut notes = Vec::new();
    let completed = whole(m, "request_count", need_scalar(m, "request_count")?)?;
    let failed = match scalar(m, "error_request_count")? {
        Some(n) => Some(whole(m, "error_request_count", n)?),
        None if tool == Tool::GenaiPerf => None,
        None => Some(summed_errors(m)?),
    };
    let sent = completed.saturating_add(failed.unwrap_or(0));
    let concurrency = match (concurrency, rate) {
        (Some(c), _) => c,
        (None, Some(r)) => {
            notes.push(format!(
                "open loop at {r} req/s with no concurrency cap: concurrency is the {sent} requests sent"
            ));
            sent
        }
        (None, None) => return Err(m.error("no concurrency and no request rate")),
    };
    if completed == 0 {
        return Err(m.need("request_count")?.error(
            "0: no request completed, so the run gives no token counts or latencies to import",
        ));
    }
    let (prompt_mean, prompt_tokens) = tokens(
        m,
        "input_sequence_length",
        &[
            &["input_config", "input", "synthetic_tokens", "mean"],
            &["input_config", "synthetic_input_tokens_mean"],
        ],
    )?;
    let (output_mean, output_tokens) = tokens(
        m,
        "output_sequence_length",
        &[
            &["input_config", "input", "output_tokens", "mean"],
            &["input_config", "output_tokens_mean"],
        ],
    )?;
    if f64::from(prompt_tokens) != prompt_mean || f64::from(output_tokens) != output_mean {
        notes.push(format!(
            "exact means {prompt_mean} prompt and {output_mean} output tokens per request"
        ));
    }
    lengths(m, header)?;
    let token_counts = match (
        scalar(m, "usage_prompt_tokens")?,
        scalar(m, "usage_completion_tokens")?,
    ) {
        (Some(prompt), Some(output)) => Some(TokenCounts {
            prompt_tokens_mean: prompt,
            output_tokens_mean: output,
            output_source: CountSource::Usage,
            reasoning_chunks_mean: None,
        }),
        _ => None,
    };
    let requests = failed.map(|failed| RequestCounts {
        sent,
        completed,
        failed,
    });
    if requests.is_none() {
        notes.push(format!(
            "requests left out: {completed} completed (request_count), and GenAI-Perf records no count of failed requests"
        ));
    }
    let mut step = Step {
        duration_s: seconds(m, "benchmark_duration")?,
        requests,
        token_counts,
        latency: Latency {
            ttft_ms: latency(m, "time_to_first_token")?,
            ttft_from_intended_ms: None,
            itl_ms: if tool == Tool::Aiperf {
                latency(m, "inter_chunk_latency")?
            } else {
                None
            },
            tpot_ms: latency(m, "inter_token_latency")?,
            e2e_ms: latency(m, "request_latency")?,
            ttft_answer_ms: None,
        },
        throughput: Throughput {
            output_tok_s: rate_per_s(m, "output_token_throughput")?,
            total_tok_s: rate_per_s(m, "total_token_throughput")?,
            requests_s: rate_per_s(m, "request_throughput")?,
            per_user_output_tok_s: rate_per_s(m, "output_token_throughput_per_user")?,
            goodput_requests_s: None,
        },
        ..build::step(concurrency, rate, prompt_tokens, output_tokens)
    };
    if let Some(failed) = failed {
        failures(m)?.fill(&mut step, failed).map_err(|listed| {
            m.error(format!(
                "error_summary counts {listed} failed requests, more than error_request_count {failed}"
            ))
        })?;
    }
    Ok(Run::new(step, origin, notes))
}

/// A metric's average (`avg`; `mean` in the sweep aggregate), `None` when the metric is absent.
fn scalar(m: &Field<'_>, tag: &str) -> anyhow::Result<Option<f64>> {
    let Some(metric) = m.get(tag)? else {
        return Ok(None);
    };
    match metric.opt_number("avg")? {
        Some(v) => Ok(Some(v)),
        None => metric.opt_number("mean"),
    }
}

/// A metric's average, which must be there.
fn need_scalar(m: &Field<'_>, tag: &str) -> anyhow::Result<f64> {
    let metric = m.need(tag)?;
    scalar(m, tag)?.ok_or_else(|| metric.error("has no avg"))
}

fn whole(m: &Field<'_>, tag: &str, value: f64) -> anyhow::Result<u32> {
    if value.fract() == 0.0 && value <= f64::from(u32::MAX) {
        Ok(value as u32)
    } else {
        Err(m.need(tag)?.error(format!(
            "expected a whole number of requests, found {value}"
        )))
    }
}

/// Mean tokens per request and the step's grid key: the measured metric, else what the
/// configuration asked for.
fn tokens(m: &Field<'_>, tag: &str, asked: &[&[&str]]) -> anyhow::Result<(f64, u32)> {
    let from = match m.get(tag)? {
        Some(metric) => match metric.get("avg")? {
            Some(avg) => avg,
            None => metric.need("mean")?,
        },
        None => match asked.iter().find_map(|p| m.find(p)) {
            Some(f) => f,
            // Names the missing metric.
            None => m.need(tag)?,
        },
    };
    let mean = from.number()?;
    Ok((mean, grid_tokens(mean, &from)?))
}

/// `workload.lengths_from` when the lengths varied: the dataset the configuration names.
fn lengths(m: &Field<'_>, header: &mut Header) -> anyhow::Result<()> {
    for tag in ["input_sequence_length", "output_sequence_length"] {
        let Some(metric) = m.get(tag)? else { continue };
        if metric.opt_number("min")? != metric.opt_number("max")? {
            let name = m
                .find(&["input_config", "datasets"])
                .and_then(|d| d.items().ok()?.into_iter().next())
                .and_then(|d| {
                    ["path", "name", "type"]
                        .iter()
                        .find_map(|k| d.value.get(*k)?.as_str().map(str::to_string))
                });
            header.lengths_from = Some(crate::secrets::redact(
                &name.unwrap_or_else(|| "unknown".into()),
            ));
        }
    }
    Ok(())
}

/// Milliseconds per unit the file states.
fn to_ms(metric: &Field<'_>) -> anyhow::Result<f64> {
    let unit = metric.need("unit")?;
    match unit.str()? {
        "ms" => Ok(1.0),
        "s" | "sec" | "seconds" => Ok(1000.0),
        "us" | "µs" => Ok(1e-3),
        "ns" => Ok(1e-6),
        other => Err(unit.error(format!(
            "`{other}` is not a unit of time jauge knows (ms, sec, us, ns)"
        ))),
    }
}

/// A latency metric as a summary in milliseconds.
fn latency(m: &Field<'_>, tag: &str) -> anyhow::Result<Option<Summary>> {
    let Some(metric) = m.get(tag)? else {
        return Ok(None);
    };
    if metric.opt_count("count")? == Some(0) {
        return Ok(None);
    }
    let factor = to_ms(&metric)?;
    let mean = match metric.opt_number("avg")? {
        Some(v) => Some(v),
        None => metric.opt_number("mean")?,
    };
    Ok(build::summary(build::scaled(
        Summary {
            count: metric.opt_count("count")?,
            mean,
            p50: metric.opt_number("p50")?,
            p90: metric.opt_number("p90")?,
            p95: metric.opt_number("p95")?,
            p99: metric.opt_number("p99")?,
            max: metric.opt_number("max")?,
        },
        factor,
    )))
}

/// A duration metric in seconds.
fn seconds(m: &Field<'_>, tag: &str) -> anyhow::Result<Option<f64>> {
    let Some(metric) = m.get(tag)? else {
        return Ok(None);
    };
    let factor = to_ms(&metric)? / 1000.0;
    Ok(scalar(m, tag)?.map(|v| v * factor))
}

/// A rate metric per second (`tokens/sec`, `requests/sec`, `tokens/sec/user`).
fn rate_per_s(m: &Field<'_>, tag: &str) -> anyhow::Result<Option<f64>> {
    let Some(metric) = m.get(tag)? else {
        return Ok(None);
    };
    let unit = metric.need("unit")?;
    let per_second = unit
        .str()?
        .split('/')
        .nth(1)
        .is_some_and(|u| u == "sec" || u == "s");
    if !per_second {
        return Err(unit.error(format!("`{}` is not a rate per second", unit.str()?)));
    }
    scalar(m, tag)
}

/// Failed requests counted from `error_summary` (a file without `error_request_count`).
fn summed_errors(root: &Field<'_>) -> anyhow::Result<u32> {
    let Some(summary) = root.get("error_summary")? else {
        return Ok(0);
    };
    summary.items()?.iter().try_fold(
        0u32,
        |sum, e| Ok(sum.saturating_add(e.need_count("count")?)),
    )
}

/// Failed requests by kind, from `error_summary` (`error_details.code`, `.message`).
fn failures(root: &Field<'_>) -> anyhow::Result<Failures> {
    let mut failures = Failures::default();
    let Some(summary) = root.get("error_summary")? else {
        return Ok(failures);
    };
    for entry in summary.items()? {
        let count = entry.need_count("count")?;
        let (mut code, mut message) = (None, "");
        if let Some(details) = entry.get("error_details")? {
            code = details
                .opt_count("code")?
                .and_then(|c| u16::try_from(c).ok());
            message = match details.opt_str("message")? {
                Some(m) => m,
                None => details.opt_str("type")?.unwrap_or(""),
            };
        }
        failures.add(count, code, message);
    }
    Ok(failures)
}
