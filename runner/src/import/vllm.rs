//! vLLM's `vllm bench serve --save-result` (and the older `benchmarks/benchmark_serving.py`):
//! one flat JSON object per run, JSON Lines with `--append-result`, and `vllm bench sweep
//! serve`'s list of runs (`summary.json`, `summary.csv`).
//!
//! vLLM's definitions are jauge's (TTFT, per-chunk ITL pooled, per-request TPOT, E2E), so its
//! own summaries map one to one: `mean_X_ms`, `median_X_ms`/`p50_X_ms`, `pNN_X_ms`. It saves
//! only the percentiles of `--metric-percentiles` (99 by default) for the metrics of
//! `--percentile-metrics` (`ttft,tpot,itl` by default: no E2E). The per-request arrays it
//! saves (`latencies` always in 0.33, `ttfts`/`itls`/`output_lens` with `--save-detailed`, in
//! seconds) give what the summaries leave out: the maximum, the count, and the E2E summary.
//! Times `*_ms` are milliseconds, `duration` and the arrays seconds.

use jauge::dataset::{Arrival, Endpoint, Latency, RequestCounts, Step, Summary, Throughput};
use serde_json::{Map, Value};

use super::build::{self, grid_tokens, Failures, Header, Parsed, Run, NO_FIGURES};
use super::field::Field;
use super::{Doc, Tool};
use crate::exit::bad_input;

/// Whether a JSON object is one run of vLLM's benchmark.
pub fn looks_like(value: &Value) -> bool {
    // Two of the keys every version writes, so that a run with one missing is still read as
    // vLLM's (and the missing key named).
    [
        "completed",
        "num_prompts",
        "request_rate",
        "duration",
        "total_input_tokens",
        "total_output_tokens",
        "request_throughput",
        "output_throughput",
        "mean_ttft_ms",
        "model_id",
    ]
    .iter()
    .filter(|k| value.get(**k).is_some())
    .count()
        >= 2
}

/// Whether a CSV header is `vllm bench sweep`'s `summary.csv`.
pub fn looks_like_csv(text: &str) -> bool {
    let header = text.lines().next().unwrap_or("");
    header.split(',').any(|c| c == "completed") && header.split(',').any(|c| c == "duration")
}

/// The runs of a vLLM result: one object, a list of them (`summary.json`), JSON Lines
/// (`--append-result`) or the rows of `summary.csv`.
///
/// # Errors
/// Bad input naming the field that is missing or wrong.
pub fn parse(shown: &str, doc: &Doc) -> anyhow::Result<Parsed> {
    let fields: Vec<(Field<'_>, String)> = match doc {
        Doc::Json(value @ Value::Object(_)) => vec![(Field::root(value), shown.to_string())],
        Doc::Json(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Field::at_path(v, format!("[{i}]")), format!("{shown}[{i}]")))
            .collect(),
        Doc::Json(_) => {
            return Err(
                Field::root(&Value::Null).error("expected a run (an object) or a list of runs")
            )
        }
        Doc::Lines(lines) => lines
            .iter()
            .map(|(n, v)| {
                (
                    Field::at_path(v, format!("[line {n}]")),
                    format!("{shown} line {n}"),
                )
            })
            .collect(),
        Doc::Table(rows) => rows
            .iter()
            .map(|(n, v)| {
                (
                    Field::at_path(v, format!("[row {n}]")),
                    format!("{shown} row {n}"),
                )
            })
            .collect(),
    };
    let mut header = Header::default();
    header.note(format!("Imported from vLLM benchmark results: {shown}."));
    notes_on_the_format(&mut header);
    let mut runs = Vec::new();
    for (field, origin) in &fields {
        describe(field, &mut header)?;
        runs.push(run(field, origin, &mut header)?);
    }
    Ok(Parsed {
        tool: Tool::Vllm,
        header,
        runs,
    })
}

/// What is true of every vLLM result.
fn notes_on_the_format(header: &mut Header) {
    header.note("ttft_ms, tpot_ms, itl_ms, e2e_ms: vLLM's own mean_/median_/pNN_*_ms figures (its definitions are jauge's; numpy linear percentiles). vLLM saves only the percentiles of --metric-percentiles (99 by default) and summarises e2e only with --percentile-metrics …,e2el; the missing ones stay absent.");
    header.note("output_tok_s, total_tok_s, requests_s: vLLM's output_throughput, total_token_throughput and request_throughput, over the run's wall time (duration, failed requests included).");
    header.note("Token counts: the step's prompt and output tokens are total_input_tokens/completed and total_output_tokens/completed, rounded to whole tokens. token_counts is left out: vLLM counts output tokens with the server's usage when the stream carries it and with its tokenizer otherwise, and the file does not say which.");
    header.note(
        "provenance.tool_version: vLLM's results do not record the vLLM version that wrote them.",
    );
}

/// What one run says of the benchmark as a whole: the model, the endpoint, the date.
fn describe(f: &Field<'_>, header: &mut Header) -> anyhow::Result<()> {
    if let Some(model) = f.opt_str("model_id")? {
        let model = crate::secrets::redact(model);
        match &header.served_model {
            Some(m) if *m != model => {
                return Err(f.need("model_id")?.error(format!(
                    "`{model}`, but an earlier run benchmarked `{m}`; import them separately"
                )))
            }
            _ => header.served_model = Some(model),
        }
    }
    let backend = match f.opt_str("endpoint_type")? {
        Some(b) => Some(b),
        None => f.opt_str("backend")?,
    };
    if let Some(backend) = backend {
        header.endpoint = Some(if backend.contains("chat") {
            Endpoint::Chat
        } else {
            Endpoint::Completions
        });
    }
    if let Some(date) = f.opt_str("date")? {
        match build::rfc3339_from_local(date) {
            Some(at) => {
                if header.created_at.as_ref().is_none_or(|first| at < *first) {
                    header.created_at = Some(at);
                }
                header.note("provenance.created_at: the file's `date` (of the earliest run when there are several) is the benchmark machine's local time; vLLM records no time zone, so it is written as UTC.");
            }
            None => {
                return Err(f
                    .need("date")?
                    .error(format!("`{date}` is not a date like 20261125-134444")))
            }
        }
    }
    Ok(())
}

/// One run: a step.
fn run(f: &Field<'_>, origin: &str, header: &mut Header) -> anyhow::Result<Run> {
    let mut notes = Vec::new();
    let completed = f.need_count("completed")?;
    let failed = match f.opt_count("failed")? {
        Some(n) => n,
        // The old benchmark_serving.py saves no `failed`.
        None => {
            let prompts = f.need_count("num_prompts")?;
            prompts.checked_sub(completed).ok_or_else(|| {
                f.error(format!(
                    "completed {completed} is more than num_prompts {prompts}"
                ))
            })?
        }
    };
    let sent = completed
        .checked_add(failed)
        .ok_or_else(|| f.error("completed + failed overflows"))?;
    if completed == 0 {
        return Err(f.need("completed")?.error(
            "0: no request completed, so the run gives no token counts or latencies to import",
        ));
    }
    let (concurrency, rate_rps) = mode(f, sent, header, &mut notes)?;
    let prompt_mean = f.need_number("total_input_tokens")? / f64::from(completed);
    let output_mean = f.need_number("total_output_tokens")? / f64::from(completed);
    let prompt_tokens = grid_tokens(prompt_mean, &f.need("total_input_tokens")?)?;
    let output_tokens = grid_tokens(output_mean, &f.need("total_output_tokens")?)?;
    if f64::from(prompt_tokens) != prompt_mean || f64::from(output_tokens) != output_mean {
        notes.push(format!(
            "exact means {prompt_mean} prompt and {output_mean} output tokens per completed request"
        ));
    }
    let arrays = Arrays::read(f, completed, &mut notes)?;
    lengths(arrays.as_ref(), header);
    let latency = latency(f, completed, arrays.as_ref(), &mut notes)?;
    let per_user = arrays.as_ref().and_then(Arrays::per_user_tok_s);
    if per_user.is_some() {
        notes.push("per_user_output_tok_s: the mean of 1000/TPOT over the completed requests' arrays, jauge's own rule.".to_string());
    }
    if let Some(goodput) = f.opt_number("request_goodput")? {
        notes.push(format!(
            "request_goodput {goodput} req/s left out: it counts requests under vLLM's --goodput objectives, which the file does not record."
        ));
    }
    let mut step = Step {
        duration_s: f.opt_number("duration")?,
        requests: Some(RequestCounts {
            sent,
            completed,
            failed,
        }),
        latency,
        throughput: Throughput {
            output_tok_s: f.opt_number("output_throughput")?,
            total_tok_s: f.opt_number("total_token_throughput")?,
            requests_s: f.opt_number("request_throughput")?,
            per_user_output_tok_s: per_user,
            goodput_requests_s: None,
        },
        ..build::step(concurrency, rate_rps, prompt_tokens, output_tokens)
    };
    failures(f, failed)?
        .fill(&mut step, failed)
        .map_err(|listed| {
            f.error(format!(
                "{listed} errors listed for {failed} failed requests"
            ))
        })?;
    Ok(Run {
        step,
        repeat: f.opt_count("run_number")?,
        origin: origin.to_string(),
        notes,
    })
}

/// Closed loop (`max_concurrency` at an infinite rate), open loop (`request_rate`, Poisson when
/// `burstiness` is 1, gamma otherwise) or offline (every prompt at once): the step's
/// concurrency and rate.
fn mode(
    f: &Field<'_>,
    sent: u32,
    header: &mut Header,
    notes: &mut Vec<String>,
) -> anyhow::Result<(u32, Option<f64>)> {
    let rate_field = f.need("request_rate")?;
    let rate = match rate_field.value {
        Value::String(s) if matches!(s.trim(), "inf" | "Infinity") => None,
        _ => Some(rate_field.number()?).filter(|r| r.is_finite() && *r > 0.0),
    };
    let cap = f.opt_count("max_concurrency")?.filter(|c| *c > 0);
    match (rate, cap) {
        (Some(rate), cap) => {
            let burstiness = f.opt_number("burstiness")?.unwrap_or(1.0);
            header.arrival = Some(if burstiness == 1.0 {
                Arrival::Poisson
            } else {
                header.note(format!(
                    "workload.arrival: gamma, vLLM's arrivals at burstiness {burstiness} (1 is Poisson)."
                ));
                Arrival::Gamma
            });
            if cap.is_none() {
                notes.push(format!(
                    "open loop at {rate} req/s with no max_concurrency: concurrency is the {sent} requests sent, the most that could be in flight"
                ));
            }
            Ok((cap.unwrap_or(sent), Some(rate)))
        }
        (None, Some(cap)) => Ok((cap, None)),
        (None, None) => {
            notes.push(format!(
                "offline (request_rate inf, no max_concurrency): every prompt sent at once, concurrency is the {sent} requests sent"
            ));
            Ok((sent, None))
        }
    }
}

/// The latency summaries: vLLM's own figures, the maximum and count from the arrays, and E2E
/// from the arrays when vLLM did not summarise it.
fn latency(
    f: &Field<'_>,
    completed: u32,
    arrays: Option<&Arrays>,
    notes: &mut Vec<String>,
) -> anyhow::Result<Latency> {
    let ms = |values: &[f64]| -> Vec<f64> { values.iter().map(|v| v * 1000.0).collect() };
    let max_ms = |values: Option<&Vec<f64>>| {
        values
            .and_then(|v| v.iter().copied().reduce(f64::max))
            .map(|m| m * 1000.0)
    };
    let with = |summary: Option<Summary>, count: Option<u32>, max: Option<f64>| {
        summary.map(|s| Summary {
            count: count.or(s.count),
            max: max.or(s.max),
            ..s
        })
    };
    let ttft = with(
        figures(f, "ttft")?,
        Some(completed),
        max_ms(arrays.and_then(|a| a.ttfts.as_ref())),
    );
    let itl_gaps = arrays.and_then(|a| a.itls.as_ref());
    let itl = with(
        figures(f, "itl")?,
        itl_gaps.map(|g| g.len() as u32),
        max_ms(itl_gaps),
    );
    let tpots = arrays.and_then(Arrays::tpots);
    let tpot = with(
        figures(f, "tpot")?,
        tpots.as_ref().map(|t| t.len() as u32),
        max_ms(tpots.as_ref()),
    );
    let latencies = arrays.and_then(Arrays::latencies);
    let e2e = match figures(f, "e2el")? {
        Some(s) => with(Some(s), Some(completed), max_ms(latencies.as_ref())),
        None => latencies.as_ref().and_then(|l| {
            notes.push("e2e_ms: vLLM did not summarise e2el; summarised from the completed requests' latencies with jauge's own rule (Summary::from_values: nearest rank within 1 %).".to_string());
            Summary::from_values(&ms(l))
        }),
    };
    Ok(Latency {
        ttft_ms: ttft,
        ttft_from_intended_ms: None,
        itl_ms: itl,
        tpot_ms: tpot,
        e2e_ms: e2e,
        ttft_answer_ms: None,
    })
}

/// vLLM's summary of one metric: `mean_X_ms`, `median_X_ms` (or `p50_X_ms`), `p90/95/99_X_ms`.
fn figures(f: &Field<'_>, metric: &str) -> anyhow::Result<Option<Summary>> {
    let get = |name: String| f.opt_number(&name);
    let p50 = match get(format!("p50_{metric}_ms"))? {
        Some(v) => Some(v),
        None => get(format!("median_{metric}_ms"))?,
    };
    Ok(build::summary(Summary {
        mean: get(format!("mean_{metric}_ms"))?,
        p50,
        p90: get(format!("p90_{metric}_ms"))?,
        p95: get(format!("p95_{metric}_ms"))?,
        p99: get(format!("p99_{metric}_ms"))?,
        ..NO_FIGURES
    }))
}

/// Failed requests by kind: from the `errors` array when saved (one message per request, the
/// response's reason phrase such as `Internal Server Error`), else all `other`.
fn failures(f: &Field<'_>, failed: u32) -> anyhow::Result<Failures> {
    let mut failures = Failures::default();
    let listed: Vec<&str> = match f.get("errors")? {
        Some(list) => list
            .items()?
            .iter()
            .filter_map(|e| e.value.as_str())
            .filter(|e| !e.is_empty())
            .collect(),
        None => Vec::new(),
    };
    if listed.len() == failed as usize {
        for message in listed {
            failures.add(1, None, message);
        }
    }
    Ok(failures)
}

/// The per-request arrays of the completed requests, in seconds.
struct Arrays {
    ttfts: Option<Vec<f64>>,
    /// Every gap of every completed request, pooled.
    itls: Option<Vec<f64>>,
    latencies: Option<Vec<f64>>,
    /// Each completed request's gaps (for E2E = TTFT + its gaps when `latencies` is absent).
    itls_per_request: Option<Vec<Vec<f64>>>,
    output_lens: Option<Vec<f64>>,
    input_lens: Option<Vec<f64>>,
}

impl Arrays {
    /// The arrays of the completed requests (those without an error message, else with output,
    /// else with a latency), or `None` when the file saves none or they do not count
    /// `completed` requests.
    fn read(
        f: &Field<'_>,
        completed: u32,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<Option<Arrays>> {
        let numbers = |name: &str| -> anyhow::Result<Option<Vec<f64>>> {
            f.get(name)?
                .map(|a| a.items()?.iter().map(Field::number).collect())
                .transpose()
        };
        let ttfts = numbers("ttfts")?;
        let latencies = numbers("latencies")?;
        let output_lens = numbers("output_lens")?;
        let input_lens = numbers("input_lens")?;
        let itls: Option<Vec<Vec<f64>>> = f
            .get("itls")?
            .map(|a| {
                a.items()?
                    .iter()
                    .map(|r| r.items()?.iter().map(Field::number).collect())
                    .collect()
            })
            .transpose()?;
        let errors: Option<Vec<bool>> = f
            .get("errors")?
            .map(|a| -> anyhow::Result<Vec<bool>> {
                Ok(a.items()?
                    .iter()
                    .map(|e| e.value.as_str().is_none_or(str::is_empty))
                    .collect())
            })
            .transpose()?;
        let ok: Vec<bool> = match (&errors, &output_lens, &latencies) {
            (Some(ok), _, _) => ok.clone(),
            (None, Some(lens), _) => lens.iter().map(|n| *n > 0.0).collect(),
            (None, None, Some(l)) => l.iter().map(|s| *s > 0.0).collect(),
            (None, None, None) => return Ok(None),
        };
        let n = ok.len();
        let same_length = [
            ttfts.as_ref().map(Vec::len),
            latencies.as_ref().map(Vec::len),
            output_lens.as_ref().map(Vec::len),
            input_lens.as_ref().map(Vec::len),
            itls.as_ref().map(Vec::len),
        ]
        .iter()
        .flatten()
        .all(|len| *len == n);
        let kept = ok.iter().filter(|k| **k).count();
        if !same_length || kept != completed as usize {
            notes.push(format!(
                "the per-request arrays ({n} entries, {kept} of them completed) do not match completed {completed}; they are not used"
            ));
            return Ok(None);
        }
        fn keep<T: Clone>(values: Option<Vec<T>>, ok: &[bool]) -> Option<Vec<T>> {
            values.map(|v| {
                v.into_iter()
                    .zip(ok)
                    .filter(|(_, k)| **k)
                    .map(|(x, _)| x)
                    .collect()
            })
        }
        let itls_per_request = keep(itls, &ok);
        Ok(Some(Arrays {
            ttfts: keep(ttfts, &ok),
            itls: itls_per_request.as_ref().map(|r| r.concat()),
            latencies: keep(latencies, &ok),
            itls_per_request,
            output_lens: keep(output_lens, &ok),
            input_lens: keep(input_lens, &ok),
        }))
    }

    /// Each completed request's end-to-end latency, seconds: `latencies`, else TTFT plus the
    /// sum of its gaps (vLLM's latency is its last chunk's time, the same instant).
    fn latencies(&self) -> Option<Vec<f64>> {
        self.latencies.clone().or_else(|| {
            let (ttfts, itls) = (self.ttfts.as_ref()?, self.itls_per_request.as_ref()?);
            Some(
                ttfts
                    .iter()
                    .zip(itls)
                    .map(|(t, gaps)| t + gaps.iter().sum::<f64>())
                    .collect(),
            )
        })
    }

    /// Each completed request's TPOT, seconds: (E2E − TTFT)/(output tokens − 1), for requests
    /// of more than one token (vLLM's rule).
    fn tpots(&self) -> Option<Vec<f64>> {
        let (ttfts, lens, latencies) = (
            self.ttfts.as_ref()?,
            self.output_lens.as_ref()?,
            self.latencies()?,
        );
        Some(
            ttfts
                .iter()
                .zip(lens)
                .zip(&latencies)
                .filter(|((_, n), _)| **n > 1.0)
                .map(|((t, n), e)| (e - t) / (n - 1.0))
                .collect(),
        )
    }

    /// The mean over requests of 1000/TPOT (ms): what one user sees while generating.
    fn per_user_tok_s(&self) -> Option<f64> {
        let tpots = self.tpots()?;
        let rates: Vec<f64> = tpots
            .iter()
            .filter(|t| **t > 0.0)
            .map(|t| 1.0 / t)
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    }
}

/// `workload.lengths_from`: when the arrays show the lengths varied, the dataset they were
/// drawn from — which vLLM does not record.
fn lengths(arrays: Option<&Arrays>, header: &mut Header) {
    let spread = |v: Option<&Vec<f64>>| {
        v.and_then(|v| {
            let min = v.iter().copied().reduce(f64::min)?;
            let max = v.iter().copied().reduce(f64::max)?;
            Some((min, max))
        })
    };
    let Some(arrays) = arrays else {
        header.note("workload.lengths_from: vLLM does not record the dataset its prompts came from (--dataset-name), and this file has no per-request lengths to tell whether they varied.");
        return;
    };
    for (what, range) in [
        ("prompt", spread(arrays.input_lens.as_ref())),
        ("output", spread(arrays.output_lens.as_ref())),
    ] {
        if let Some((min, max)) = range.filter(|(min, max)| min != max) {
            header.lengths_from = Some("unknown".to_string());
            header.note(format!(
                "workload.lengths_from: {what} lengths varied ({min} to {max} tokens); vLLM does not record which dataset they came from."
            ));
        }
    }
}

/// The rows of `summary.csv` (pandas' dump of every run: an unnamed index column, lists as
/// Python reprs) as objects: each cell JSON when it reads as JSON (numbers, lists), a string
/// otherwise, `null` when empty.
///
/// # Errors
/// Bad input for a row with more cells than the header.
pub fn csv_rows(text: &str) -> anyhow::Result<Vec<(usize, Value)>> {
    let mut records = csv_records(text).into_iter();
    let Some(header) = records.next() else {
        return Err(bad_input("empty: no header row"));
    };
    let mut rows = Vec::new();
    for (i, cells) in records.enumerate() {
        let row = i + 1;
        if cells.len() == 1 && cells[0].is_empty() {
            continue;
        }
        if cells.len() > header.len() {
            return Err(bad_input(format!(
                "[row {row}]: {} cells under a header of {}",
                cells.len(),
                header.len()
            )));
        }
        let object: Map<String, Value> = header
            .iter()
            .zip(cells)
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, cell)| {
                let value = if cell.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&cell).unwrap_or(Value::String(cell))
                };
                (name.clone(), value)
            })
            .collect();
        rows.push((row, Value::Object(object)));
    }
    Ok(rows)
}

/// RFC 4180 records: fields separated by commas, quoted fields may hold commas, quotes (`""`)
/// and line breaks.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_with_commas_and_quotes_stay_whole() {
        let records = csv_records("a,b,c\n1,\"[0.5, 0.25]\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(records[1], ["1", "[0.5, 0.25]", "say \"hi\""]);
    }

    #[test]
    fn summary_rows_become_objects_of_json_cells() {
        let rows = csv_rows(",date,request_rate,max_concurrency,latencies,label\n0,20261125-134717,inf,4,\"[0.3, 0.0]\",\n").unwrap();
        let (n, row) = &rows[0];
        assert_eq!(*n, 1);
        assert_eq!(row["date"], "20261125-134717");
        assert_eq!(row["request_rate"], "inf");
        assert_eq!(row["max_concurrency"], 4);
        assert_eq!(row["latencies"][1], 0.0);
        assert!(row["label"].is_null());
        assert!(row.get("").is_none());
    }

    #[test]
    fn an_open_loop_run_without_a_cap_counts_every_request_as_concurrent() {
        let value: Value = serde_json::json!({"request_rate": 8.0, "burstiness": 0.5});
        let (mut header, mut notes) = (Header::default(), Vec::new());
        let (c, rate) = mode(&Field::root(&value), 40, &mut header, &mut notes).unwrap();
        assert_eq!((c, rate), (40, Some(8.0)));
        assert_eq!(header.arrival, Some(Arrival::Gamma));
        assert!(notes[0].contains("40 requests sent"));
    }
}
