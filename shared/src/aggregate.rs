//! From request records to a dataset step: latency summaries, throughput, errors.
//!
//! Definitions (as in vLLM's `benchmarks/serve.py` where it defines them): TTFT = first text
//! chunk − send; ITL = every gap between text chunks; TPOT = (end-to-end − TTFT) / (output
//! tokens − 1) per request; end-to-end = last byte − send. Throughputs divide by the step's
//! measured wall time, from its first intended send to its last response.

use std::collections::BTreeMap;

use crate::dataset::{CountSource, Latency, RequestCounts, Step, Throughput, TokenCounts};
use crate::objectives::Slo;
use crate::record::RequestRecord;
use crate::stats::Histogram;

/// Summarises the measured (non-warm-up) records of one step.
///
/// ```
/// use jauge::record::RequestRecord;
/// let records = [RequestRecord::completed(1, 16, 0, 0.0, 100.0, 1000.0, 11)];
/// let step = jauge::aggregate::step(1, 16, 11, &records, Default::default());
/// assert_eq!(step.throughput.output_tok_s, Some(11.0));
/// ```
pub fn step(
    concurrency: u32,
    prompt_tokens: u32,
    output_tokens: u32,
    records: &[RequestRecord],
    slo: Slo,
) -> Step {
    let measured: Vec<&RequestRecord> = records.iter().filter(|r| !r.warmup).collect();
    let mut ttft_answer = Histogram::new();
    let mut reasoning_chunks = 0u64;
    let (mut ttft, mut ttft_intended, mut itl, mut tpot, mut e2e) = (
        Histogram::new(),
        Histogram::new(),
        Histogram::new(),
        Histogram::new(),
        Histogram::new(),
    );
    let mut errors = BTreeMap::new();
    let mut error_messages = BTreeMap::new();
    let (mut prompt_sum, mut output_sum, mut with_usage, mut completed, mut good) =
        (0u64, 0u64, 0u32, 0u32, 0u32);
    let mut per_user = Vec::new();
    for r in &measured {
        if let Some(kind) = r.error {
            *errors.entry(kind).or_insert(0u32) += 1;
            if let Some(m) = &r.error_message {
                error_messages.entry(kind).or_insert_with(|| m.clone());
            }
            continue;
        }
        completed += 1;
        if let Some(t) = r.ttft_ms() {
            ttft.record(t);
        }
        if let Some(t) = r.first_token_ms {
            ttft_intended.record(t - r.intended_ms);
        }
        if let Some(t) = r.first_answer_ms {
            ttft_answer.record(t - r.sent_ms);
        }
        reasoning_chunks += u64::from(r.reasoning_chunks);
        r.gaps_ms.iter().for_each(|g| itl.record(*g));
        if let Some(t) = r.tpot_ms() {
            tpot.record(t);
            if t > 0.0 {
                per_user.push(1000.0 / t);
            }
        }
        e2e.record(r.e2e_ms());
        prompt_sum += u64::from(r.usage_prompt_tokens.unwrap_or(prompt_tokens));
        output_sum += u64::from(r.output_tokens());
        with_usage += u32::from(r.usage_output_tokens.is_some());
        good += u32::from(slo.met_by(r));
    }
    let start = measured
        .iter()
        .map(|r| r.intended_ms.min(r.sent_ms))
        .fold(f64::INFINITY, f64::min);
    let end = measured
        .iter()
        .map(|r| r.end_ms)
        .fold(f64::NEG_INFINITY, f64::max);
    let duration_s = if measured.is_empty() {
        0.0
    } else {
        ((end - start) / 1000.0).max(0.0)
    };
    // A step with no wall time (no request measured) has no rate, not a rate of 0.
    let rate = |n: f64| (duration_s > 0.0).then(|| n / duration_s);
    Step {
        concurrency,
        rate_rps: None,
        prompt_tokens,
        output_tokens,
        duration_s: Some(duration_s),
        requests: Some(RequestCounts {
            sent: measured.len() as u32,
            completed,
            failed: measured.len() as u32 - completed,
        }),
        errors,
        error_messages,
        token_counts: (completed > 0).then(|| TokenCounts {
            prompt_tokens_mean: prompt_sum as f64 / f64::from(completed),
            output_tokens_mean: output_sum as f64 / f64::from(completed),
            output_source: match with_usage {
                0 => CountSource::StreamChunks,
                n if n == completed => CountSource::Usage,
                _ => CountSource::Mixed,
            },
            reasoning_chunks_mean: (reasoning_chunks > 0)
                .then(|| reasoning_chunks as f64 / f64::from(completed)),
        }),
        latency: Latency {
            ttft_ms: ttft.summary(),
            ttft_from_intended_ms: ttft_intended.summary(),
            itl_ms: itl.summary(),
            tpot_ms: tpot.summary(),
            e2e_ms: e2e.summary(),
            ttft_answer_ms: ttft_answer.summary(),
        },
        throughput: Throughput {
            output_tok_s: rate(output_sum as f64),
            total_tok_s: rate((output_sum + prompt_sum) as f64),
            requests_s: rate(f64::from(completed)),
            per_user_output_tok_s: (!per_user.is_empty())
                .then(|| per_user.iter().sum::<f64>() / per_user.len() as f64),
            goodput_requests_s: if slo.any() {
                rate(f64::from(good))
            } else {
                None
            },
        },
        gpu: None,
        server: None,
        energy_j_per_output_token: None,
        client: None,
        quote: None,
        people: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ErrorKind;

    fn ok(index: u32, sent: f64, first: f64, end: f64, tokens: u32) -> RequestRecord {
        RequestRecord {
            concurrency: 2,
            prompt_tokens: 100,
            index,
            warmup: false,
            intended_ms: sent,
            sent_ms: sent,
            first_token_ms: Some(first),
            first_answer_ms: None,
            reasoning_chunks: 0,
            end_ms: end,
            gaps_ms: vec![(end - first) / f64::from(tokens - 1); tokens as usize - 1],
            chunks: tokens,
            usage_prompt_tokens: Some(100),
            usage_output_tokens: Some(tokens),
            error: None,
            error_message: None,
            interrupted: false,
            answer_text: None,
        }
    }

    /// Two requests of 11 tokens over 0–1000 ms: TTFT 100 and 200 ms; TPOT (1000 − 100) / 10 =
    /// 90 and (900 − 200) / 10 = 70 ms (the second sent at 100); output 22 tokens in 1 s.
    #[test]
    fn figures_by_hand() {
        let records = [
            ok(0, 0.0, 100.0, 1000.0, 11),
            ok(1, 100.0, 300.0, 1000.0, 11),
        ];
        let s = step(
            2,
            100,
            11,
            &records,
            Slo {
                ttft_ms: Some(150.0),
                tpot_ms: None,
            },
        );
        assert_eq!(s.duration_s, Some(1.0));
        assert_eq!(
            s.requests,
            Some(RequestCounts {
                sent: 2,
                completed: 2,
                failed: 0
            })
        );
        assert_eq!(s.latency.ttft_ms.unwrap().max, Some(200.0));
        assert_eq!(s.latency.tpot_ms.unwrap().max, Some(90.0));
        assert_eq!(s.latency.e2e_ms.unwrap().max, Some(1000.0));
        assert_eq!(s.throughput.output_tok_s, Some(22.0));
        assert_eq!(s.throughput.total_tok_s, Some(222.0));
        assert_eq!(s.throughput.goodput_requests_s, Some(1.0));
        assert!(s.violations_free());
    }

    #[test]
    fn warmup_is_left_out_and_errors_are_counted_by_kind() {
        let mut warm = ok(0, 0.0, 10.0, 20.0, 2);
        warm.warmup = true;
        let mut failed = ok(2, 0.0, 10.0, 20.0, 2);
        failed.error = Some(ErrorKind::Timeout);
        failed.error_message = Some("no answer in 1 s".into());
        let s = step(
            2,
            100,
            2,
            &[warm, ok(1, 0.0, 10.0, 20.0, 2), failed],
            Slo::default(),
        );
        assert_eq!(
            s.requests,
            Some(RequestCounts {
                sent: 2,
                completed: 1,
                failed: 1
            })
        );
        assert_eq!(s.errors[&ErrorKind::Timeout], 1);
        assert_eq!(s.error_messages[&ErrorKind::Timeout], "no answer in 1 s");
        assert_eq!(s.throughput.goodput_requests_s, None);
    }

    trait ViolationsFree {
        fn violations_free(&self) -> bool;
    }

    impl ViolationsFree for Step {
        fn violations_free(&self) -> bool {
            let mut d = crate::dataset::example();
            d.workload.concurrency = vec![self.concurrency];
            d.workload.prompt_tokens = vec![self.prompt_tokens];
            d.limits.clear();
            d.steps = vec![self.clone()];
            d.violations().is_empty()
        }
    }
}
