//! The rules of `jauge.dataset/v2` beyond types: units in range, grids increasing, steps on
//! the grid, percentiles in order, counts that add up, no secret left in the command line, and
//! a published dataset's source named and every figure written in its quote.

use std::collections::BTreeSet;

use super::types::*;
use super::version::SCHEMA;
use crate::error::Violation;
use crate::redact::secrets_in_args;

/// Collects violations under a growing JSON path.
struct Checker {
    found: Vec<Violation>,
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, rule: impl Into<String>) {
        self.found.push(Violation::new(path, rule));
    }

    /// A finite, non-negative number.
    fn non_negative(&mut self, path: &str, value: f64) -> bool {
        if !value.is_finite() {
            self.fail(path, format!("not a finite number ({value:?})"));
            false
        } else if value < 0.0 {
            self.fail(path, format!("negative value {value:?}"));
            false
        } else {
            true
        }
    }

    fn percent(&mut self, path: &str, value: f64) {
        if self.non_negative(path, value) && value > 100.0 {
            self.fail(path, format!("percentage above 100 ({value:?})"));
        }
    }

    fn opt_non_negative(&mut self, path: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.non_negative(path, v);
        }
    }

    fn opt_percent(&mut self, path: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.percent(path, v);
        }
    }

    fn not_blank(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(path, "must not be empty");
        }
    }

    fn strictly_increasing(&mut self, path: &str, values: &[u32]) {
        if values.is_empty() {
            self.fail(path, "must list at least one value");
        }
        for (i, v) in values.iter().enumerate() {
            if *v == 0 {
                self.fail(format!("{path}[{i}]"), "must be at least 1");
            }
            if i > 0 && *v <= values[i - 1] {
                self.fail(
                    format!("{path}[{i}]"),
                    format!(
                        "grid not strictly increasing ({} after {})",
                        v,
                        values[i - 1]
                    ),
                );
            }
        }
    }

    fn summary(&mut self, path: &str, summary: &Summary) {
        let fields = summary.named();
        if fields.iter().all(|(_, v)| v.is_none()) {
            self.fail(path, "a summary with no figure must be left out");
            return;
        }
        let mut all_ok = true;
        for (name, value) in fields {
            if let Some(v) = value {
                all_ok &= self.non_negative(&format!("{path}.{name}"), v);
            }
        }
        if !all_ok {
            return;
        }
        if summary.count == Some(0) {
            self.fail(
                format!("{path}.count"),
                "a summary of no values must be left out",
            );
        }
        // The percentiles a summary gives must not decrease, whichever of them it gives.
        let ordered: Vec<(&str, f64)> = fields[1..]
            .iter()
            .copied()
            .filter_map(|(name, v)| v.map(|v| (name, v)))
            .collect();
        for pair in ordered.windows(2) {
            let ((lo_name, lo), (hi_name, hi)) = (pair[0], pair[1]);
            if hi < lo {
                self.fail(
                    format!("{path}.{hi_name}"),
                    format!("{hi:?} is below {lo_name} {lo:?}; percentiles must not decrease"),
                );
            }
        }
        if let (Some(mean), Some(max)) = (summary.mean, summary.max) {
            if mean > max {
                self.fail(
                    format!("{path}.mean"),
                    format!("{mean:?} is above max {max:?}"),
                );
            }
        }
    }
}

pub(super) fn violations(dataset: &Dataset) -> Vec<Violation> {
    let mut c = Checker { found: Vec::new() };
    if dataset.schema != SCHEMA {
        c.fail(
            "schema",
            format!("expected `{SCHEMA}`, found `{}`", dataset.schema),
        );
    }
    provenance(&mut c, &dataset.provenance, &dataset.source);
    deployment(&mut c, &dataset.deployment);
    workload(&mut c, &dataset.workload);
    steps(&mut c, dataset);
    limits(&mut c, dataset);
    context_limits(&mut c, dataset);
    c.found
}

fn provenance(c: &mut Checker, p: &Provenance, source: &Source) {
    match (&p.publication, source) {
        (Some(publication), Source::Published) => {
            c.not_blank("provenance.publication.url", &publication.url);
            c.not_blank("provenance.publication.title", &publication.title);
            c.not_blank(
                "provenance.publication.retrieved_on",
                &publication.retrieved_on,
            );
            for (i, stated) in publication.stated.iter().enumerate() {
                c.not_blank(
                    &format!("provenance.publication.stated[{i}].quote"),
                    &stated.quote,
                );
            }
            for (i, assumed) in publication.assumed.iter().enumerate() {
                c.not_blank(
                    &format!("provenance.publication.assumed[{i}].why"),
                    &assumed.why,
                );
            }
        }
        (None, Source::Published) => c.fail(
            "provenance.publication",
            "a published dataset names its source: url, title, when it was read",
        ),
        (Some(_), _) => c.fail(
            "provenance.publication",
            format!("only a published dataset has one; this one is {source}"),
        ),
        (None, _) => {}
    }
    c.not_blank("provenance.tool", &p.tool);
    c.not_blank("provenance.tool_version", &p.tool_version);
    if !is_rfc3339(&p.created_at) {
        c.fail(
            "provenance.created_at",
            format!(
                "`{}` is not an RFC 3339 time like 2026-11-25T14:00:00Z",
                p.created_at
            ),
        );
    }
    for i in secrets_in_args(&p.command_line) {
        c.fail(
            format!("provenance.command_line[{i}]"),
            "holds a secret (API key, token, Authorization header or URL password); replace it with ***",
        );
    }
}

fn deployment(c: &mut Checker, d: &Deployment) {
    c.not_blank("deployment.model.served_name", &d.model.served_name);
    c.not_blank("deployment.quantization", &d.quantization);
    if !["auto", "fp16", "bf16", "fp8"].contains(&d.kv_cache_dtype.as_str()) {
        c.fail(
            "deployment.kv_cache_dtype",
            format!("`{}` is not one of auto, fp16, bf16, fp8", d.kv_cache_dtype),
        );
    }
    c.not_blank("deployment.engine.name", &d.engine.name);
    let s = &d.engine.settings;
    let path = "deployment.engine.settings";
    if let Some(u) = s.gpu_memory_utilization {
        if !(u > 0.0 && u <= 1.0) {
            c.fail(
                format!("{path}.gpu_memory_utilization"),
                format!("{u:?} is outside (0, 1]"),
            );
        }
    }
    for (name, value) in [
        ("max_model_len", s.max_model_len),
        ("tensor_parallel_size", s.tensor_parallel_size),
        ("pipeline_parallel_size", s.pipeline_parallel_size),
        ("max_num_seqs", s.max_num_seqs),
        ("max_num_batched_tokens", s.max_num_batched_tokens),
        ("block_size", s.block_size),
    ] {
        if value == Some(0) {
            c.fail(format!("{path}.{name}"), "must be at least 1");
        }
    }
    c.not_blank("deployment.gpus.name", &d.gpus.name);
    if d.gpus.count == 0 {
        c.fail("deployment.gpus.count", "must be at least 1");
    }
    let parallel = s.tensor_parallel_size.unwrap_or(1) * s.pipeline_parallel_size.unwrap_or(1);
    if d.gpus.count > 0 && parallel > d.gpus.count {
        c.fail(
            "deployment.engine.settings.tensor_parallel_size",
            format!(
                "{parallel} GPUs of parallelism on a deployment of {} GPU(s)",
                d.gpus.count
            ),
        );
    }
    if d.gpus.memory_mib == Some(0) {
        c.fail("deployment.gpus.memory_mib", "must be above 0");
    }
    match (d.gpus.cuda_memory_mib, d.gpus.memory_mib) {
        (Some(0), _) => c.fail("deployment.gpus.cuda_memory_mib", "must be above 0"),
        (Some(cuda), Some(installed)) if cuda > installed => c.fail(
            "deployment.gpus.cuda_memory_mib",
            format!("{cuda} MiB is more than the {installed} MiB installed (memory_mib)"),
        ),
        _ => {}
    }
}

fn workload(c: &mut Checker, w: &Workload) {
    c.strictly_increasing("workload.concurrency", &w.concurrency);
    c.strictly_increasing("workload.prompt_tokens", &w.prompt_tokens);
    if w.output_tokens == 0 {
        c.fail("workload.output_tokens", "must be at least 1");
    }
    if w.requests_per_step == Some(0) {
        c.fail("workload.requests_per_step", "must be at least 1");
    }
    if let Some(d) = w.duration_per_step_s {
        if c.non_negative("workload.duration_per_step_s", d) && d == 0.0 {
            c.fail("workload.duration_per_step_s", "must be above 0");
        }
    }
    for (name, value) in [
        ("rate_rps", w.rate_rps),
        ("timeout_s", w.timeout_s),
        ("slo_ttft_ms", w.slo_ttft_ms),
        ("slo_tpot_ms", w.slo_tpot_ms),
    ] {
        if let Some(v) = value {
            let path = format!("workload.{name}");
            if c.non_negative(&path, v) && v == 0.0 {
                c.fail(path, "must be above 0");
            }
        }
    }
    if let Some(rate) = w.max_error_rate {
        if c.non_negative("workload.max_error_rate", rate) && rate > 1.0 {
            c.fail("workload.max_error_rate", format!("{rate:?} is above 1"));
        }
    }
    c.opt_non_negative("workload.min_throughput_gain", w.min_throughput_gain);
}

fn steps(c: &mut Checker, dataset: &Dataset) {
    let w = &dataset.workload;
    let any_rate = w.rate_rps.is_some() || dataset.steps.iter().any(|s| s.rate_rps.is_some());
    if w.arrival.is_some() && !any_rate {
        c.fail(
            "workload.arrival",
            "set without a rate (workload.rate_rps or a step's rate_rps)",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, step) in dataset.steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        if !w.concurrency.contains(&step.concurrency) {
            c.fail(
                format!("{path}.concurrency"),
                format!("{} is not in workload.concurrency", step.concurrency),
            );
        }
        if !w.prompt_tokens.contains(&step.prompt_tokens) {
            c.fail(
                format!("{path}.prompt_tokens"),
                format!("{} is not in workload.prompt_tokens", step.prompt_tokens),
            );
        }
        let rate_key = step.rate_rps.map(f64::to_bits);
        if !seen.insert((
            step.concurrency,
            step.prompt_tokens,
            step.output_tokens,
            rate_key,
        )) {
            c.fail(
                path.clone(),
                format!(
                    "a second step for concurrency {}, prompt_tokens {}, output_tokens {}{}",
                    step.concurrency,
                    step.prompt_tokens,
                    step.output_tokens,
                    step.rate_rps
                        .map(|r| format!(" and rate {r} req/s"))
                        .unwrap_or_default()
                ),
            );
        }
        if step.output_tokens == 0 {
            c.fail(format!("{path}.output_tokens"), "must be at least 1");
        }
        if let Some(rate) = step.rate_rps {
            if c.non_negative(&format!("{path}.rate_rps"), rate) && rate == 0.0 {
                c.fail(format!("{path}.rate_rps"), "must be above 0");
            }
        }
        c.opt_non_negative(&format!("{path}.duration_s"), step.duration_s);
        if let Some(r) = step.requests {
            request_counts(c, &path, step, r);
        }
        let l = &step.latency;
        for (name, summary) in l.named() {
            if let Some(s) = summary {
                c.summary(&format!("{path}.latency.{name}"), s);
            }
        }
        if step.requests.is_some_and(|r| r.completed > 0) && l.e2e_ms.is_none() {
            c.fail(
                format!("{path}.latency.e2e_ms"),
                "missing although requests completed",
            );
        }
        match dataset.source {
            // jauge computes every figure of its own steps: one missing is a broken file.
            Source::Measured | Source::Simulated => {
                for (name, missing) in [
                    ("duration_s", step.duration_s.is_none()),
                    ("requests", step.requests.is_none()),
                    (
                        "throughput.output_tok_s",
                        step.throughput.output_tok_s.is_none(),
                    ),
                ] {
                    if missing {
                        c.fail(
                            format!("{path}.{name}"),
                            format!("missing from a {} step", dataset.source),
                        );
                    }
                }
            }
            Source::Published => quoted(c, &path, step),
            Source::Imported(_) => {}
        }
        let t = &step.throughput;
        for (name, value) in [
            ("output_tok_s", t.output_tok_s),
            ("total_tok_s", t.total_tok_s),
            ("requests_s", t.requests_s),
            ("per_user_output_tok_s", t.per_user_output_tok_s),
            ("goodput_requests_s", t.goodput_requests_s),
        ] {
            c.opt_non_negative(&format!("{path}.throughput.{name}"), value);
        }
        if let (Some(total), Some(output)) = (t.total_tok_s, t.output_tok_s) {
            if total.is_finite() && output.is_finite() && total < output {
                c.fail(
                    format!("{path}.throughput.total_tok_s"),
                    format!("{total:?} is below output_tok_s {output:?}"),
                );
            }
        }
        c.opt_non_negative(
            &format!("{path}.energy_j_per_output_token"),
            step.energy_j_per_output_token,
        );
        if let Some(audit) = &step.client {
            c.opt_non_negative(&format!("{path}.client.cpu_pct"), audit.cpu_pct);
            c.non_negative(
                &format!("{path}.client.send_lag_ms_mean"),
                audit.send_lag_ms_mean,
            );
            c.non_negative(
                &format!("{path}.client.send_lag_ms_max"),
                audit.send_lag_ms_max,
            );
            c.opt_non_negative(
                &format!("{path}.client.loop_lag_ms_p99"),
                audit.loop_lag_ms_p99,
            );
        }
        if let Some(gpus) = &step.gpu {
            gpu_readings(c, &path, gpus);
        }
        if let Some(s) = &step.server {
            c.opt_percent(
                &format!("{path}.server.kv_cache_usage_pct_peak"),
                s.kv_cache_usage_pct_peak,
            );
            c.opt_percent(
                &format!("{path}.server.kv_cache_usage_pct_mean"),
                s.kv_cache_usage_pct_mean,
            );
            c.opt_percent(
                &format!("{path}.server.prefix_cache_hit_pct"),
                s.prefix_cache_hit_pct,
            );
            if let (Some(mean), Some(peak)) = (s.kv_cache_usage_pct_mean, s.kv_cache_usage_pct_peak)
            {
                if mean > peak {
                    c.fail(
                        format!("{path}.server.kv_cache_usage_pct_mean"),
                        format!("{mean:?} is above the peak {peak:?}"),
                    );
                }
            }
        }
    }
}

fn request_counts(c: &mut Checker, path: &str, step: &Step, r: RequestCounts) {
    if u64::from(r.completed) + u64::from(r.failed) > u64::from(r.sent) {
        c.fail(
            format!("{path}.requests"),
            format!(
                "completed {} + failed {} is more than sent {}",
                r.completed, r.failed, r.sent
            ),
        );
    }
    let by_kind: u64 = step.errors.values().map(|n| u64::from(*n)).sum();
    if by_kind != u64::from(r.failed) {
        c.fail(
            format!("{path}.errors"),
            format!(
                "errors by kind add up to {by_kind}, but requests.failed is {}",
                r.failed
            ),
        );
    }
}

/// A published step quotes its source, and every figure it holds is written in that quote:
/// as the source writes it (`1,190`, `2.10`, `12.5K`), or in seconds where the field is in
/// milliseconds. A figure found nowhere in its quote was derived, rounded or mistyped.
fn quoted(c: &mut Checker, path: &str, step: &Step) {
    let Some(quote) = step.quote.as_deref().filter(|q| !q.trim().is_empty()) else {
        c.fail(
            format!("{path}.quote"),
            "a published step quotes the source's row or sentence its figures come from",
        );
        return;
    };
    let written = numbers_in(quote);
    let appears = |value: f64, milliseconds: bool| {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12);
        written
            .iter()
            .any(|&w| same(w, value) || (milliseconds && same(w * 1000.0, value)))
    };
    let l = &step.latency;
    let mut figures: Vec<(String, f64, bool)> = Vec::new();
    for (name, summary) in l.named() {
        let Some(s) = summary else { continue };
        for (field, value) in s.named() {
            if let Some(v) = value {
                figures.push((format!("latency.{name}.{field}"), v, true));
            }
        }
    }
    let t = &step.throughput;
    for (name, value) in [
        ("output_tok_s", t.output_tok_s),
        ("total_tok_s", t.total_tok_s),
        ("requests_s", t.requests_s),
        ("per_user_output_tok_s", t.per_user_output_tok_s),
    ] {
        if let Some(v) = value {
            figures.push((format!("throughput.{name}"), v, false));
        }
    }
    for (name, value, milliseconds) in figures {
        if !appears(value, milliseconds) {
            c.fail(
                format!("{path}.{name}"),
                format!("{value} is not written in the step's quote"),
            );
        }
    }
}

/// The numbers a text writes: `1,190` is 1190, `12.5K` is 12500, `2.10` is 2.1.
fn numbers_in(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (matches!(chars[i], ',' | '.')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        let digits: String = chars[start..i].iter().filter(|c| **c != ',').collect();
        if let Ok(v) = digits.parse::<f64>() {
            out.push(v);
            match chars.get(i) {
                Some('K' | 'k') => out.push(v * 1e3),
                Some('M') => out.push(v * 1e6),
                _ => {}
            }
        }
    }
    out
}
fn gpu_readings(c: &mut Checker, path: &str, gpus: &[GpuStep]) {
    let mut indices = BTreeSet::new();
    for (g, gpu) in gpus.iter().enumerate() {
        let gpath = format!("{path}.gpu[{g}]");
        if !indices.insert(gpu.index) {
            c.fail(
                format!("{gpath}.index"),
                format!("GPU {} listed twice", gpu.index),
            );
        }
        let peak_ok = c.non_negative(
            &format!("{gpath}.memory_used_mib_peak"),
            gpu.memory_used_mib_peak,
        );
        let mean_ok = c.non_negative(
            &format!("{gpath}.memory_used_mib_mean"),
            gpu.memory_used_mib_mean,
        );
        let total_ok = c.non_negative(&format!("{gpath}.memory_total_mib"), gpu.memory_total_mib);
        if peak_ok && mean_ok && gpu.memory_used_mib_mean > gpu.memory_used_mib_peak {
            c.fail(
                format!("{gpath}.memory_used_mib_mean"),
                format!(
                    "{:?} is above the peak {:?}",
                    gpu.memory_used_mib_mean, gpu.memory_used_mib_peak
                ),
            );
        }
        if peak_ok && total_ok && gpu.memory_used_mib_peak > gpu.memory_total_mib {
            c.fail(
                format!("{gpath}.memory_used_mib_peak"),
                format!(
                    "{:?} is above the GPU's memory {:?}",
                    gpu.memory_used_mib_peak, gpu.memory_total_mib
                ),
            );
        }
        c.opt_percent(
            &format!("{gpath}.utilization_pct_mean"),
            gpu.utilization_pct_mean,
        );
        c.opt_non_negative(&format!("{gpath}.power_w_mean"), gpu.power_w_mean);
        c.opt_non_negative(&format!("{gpath}.energy_j"), gpu.energy_j);
    }
}

fn limits(c: &mut Checker, dataset: &Dataset) {
    let mut rows = BTreeSet::new();
    for (i, limit) in dataset.limits.iter().enumerate() {
        let path = format!("limits[{i}]");
        if !dataset
            .workload
            .prompt_tokens
            .contains(&limit.prompt_tokens)
        {
            c.fail(
                format!("{path}.prompt_tokens"),
                format!("{} is not in workload.prompt_tokens", limit.prompt_tokens),
            );
        }
        if !rows.insert(limit.prompt_tokens) {
            c.fail(
                format!("{path}.prompt_tokens"),
                format!("a second limit for prompt_tokens {}", limit.prompt_tokens),
            );
        }
        if let (Some(ok), Some(stop)) = (limit.max_concurrency_ok, limit.stopped_at_concurrency) {
            if ok >= stop {
                c.fail(
                    format!("{path}.max_concurrency_ok"),
                    format!("{ok} is not below stopped_at_concurrency {stop}"),
                );
            }
        }
    }
}

fn context_limits(c: &mut Checker, dataset: &Dataset) {
    let mut seen = BTreeSet::new();
    for (i, limit) in dataset.context_limits.iter().enumerate() {
        let path = format!("context_limits[{i}]");
        if limit.concurrency == 0 {
            c.fail(
                format!("{path}.concurrency"),
                "must be at least 1".to_string(),
            );
        }
        if !seen.insert(limit.concurrency) {
            c.fail(
                format!("{path}.concurrency"),
                format!(
                    "a second context limit for concurrency {}",
                    limit.concurrency
                ),
            );
        }
        if let (Some(ok), Some(refused)) = (limit.max_context_tokens, limit.refused_at_tokens) {
            if ok >= refused {
                c.fail(
                    format!("{path}.max_context_tokens"),
                    format!("{ok} is not below refused_at_tokens {refused}"),
                );
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with fields in range.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        if part.bytes().all(|d| d.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return false;
    }
    let (Some(_year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        "Z" | "z" => true,
        _ => {
            let r = rest.as_bytes();
            r.len() == 6
                && matches!(r[0], b'+' | b'-')
                && r[3] == b':'
                && rest[1..3].bytes().all(|d| d.is_ascii_digit())
                && rest[4..6].bytes().all(|d| d.is_ascii_digit())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_are_recognised() {
        assert!(is_rfc3339("2026-11-25T14:00:00Z"));
        assert!(is_rfc3339("2026-11-25T14:00:00.123+01:00"));
        assert!(!is_rfc3339("2026-11-25 14:00"));
        assert!(!is_rfc3339("2026-13-25T14:00:00Z"));
        assert!(!is_rfc3339("yesterday"));
    }
}
