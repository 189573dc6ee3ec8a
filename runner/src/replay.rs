//! A trace replayed against a server: each request sent at its time (the trace's, divided by
//! the built-in server's time scale), with its lengths; prompts whose blocks the trace names
//! alike start with the same text, so a server's prefix cache finds what the trace's did.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jauge::trace::{Trace, TraceRequest};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::client::{self, RequestSlot, Target};
use crate::load::{collect, give_back, take_idle, StepRun};
use crate::openai::{encode_conversation, BodyOptions};
use crate::population::{in_model_time, text};
use crate::record::RequestRecord;

/// Replays `trace`; each record goes to `on_record` as it completes. Records are in the
/// trace's time (multiplied back by `time_scale`), `intended_ms` each request's arrival.
pub async fn run(
    http: &reqwest::Client,
    target: &Target,
    trace: &Trace,
    time_scale: f64,
    options: &BodyOptions,
    cancel: &watch::Receiver<bool>,
    on_record: impl FnMut(&RequestRecord),
) -> StepRun {
    let clock = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let requests: Arc<Vec<TraceRequest>> = Arc::new(trace.requests.clone());
    let concurrency = u32::try_from(requests.len()).unwrap_or(u32::MAX);
    let (http, target, options) = (http.clone(), target.clone(), options.clone());
    tasks.spawn(async move {
        let mut senders = JoinSet::new();
        for index in 0..requests.len() {
            let due = clock + Duration::from_secs_f64(requests[index].at_s / time_scale);
            tokio::time::sleep_until(due.into()).await;
            let (http, target, options, tx, requests) = (
                http.clone(),
                target.clone(),
                options.clone(),
                tx.clone(),
                requests.clone(),
            );
            senders.spawn(async move {
                let r = &requests[index];
                let prompt = prompt(r, index);
                let body = encode_conversation(
                    target.endpoint,
                    &[("user", &prompt)],
                    &BodyOptions {
                        max_tokens: r.output_tokens.max(1),
                        ..options
                    },
                );
                let slot = RequestSlot {
                    concurrency,
                    prompt_tokens: r.input_tokens,
                    output_tokens: r.output_tokens.max(1),
                    index: index as u32,
                    warmup: false,
                    intended: due,
                    keep_answer: false,
                };
                let mut connection = take_idle();
                let record =
                    client::send_on(&mut connection, &http, &target, &body, slot, clock).await;
                give_back(connection);
                let _ = tx.send(record);
            });
        }
        while senders.join_next().await.is_some() {}
    });
    let mut run = collect(rx, tasks, cancel, on_record).await;
    if time_scale != 1.0 {
        run.records
            .iter_mut()
            .for_each(|r| in_model_time(r, time_scale));
    }
    run
}

/// Keys of the texts: a trace block's, or a request's own; apart from the people's.
const BLOCK_KEYS: u64 = 1 << 56;
const OWN_KEYS: u64 = 3 << 56;

/// The request's prompt, `input_tokens` words: each of its trace blocks the text of that
/// block's id (the first words of it for a partial last block), then words of its own.
fn prompt(r: &TraceRequest, index: usize) -> String {
    let mut parts = Vec::new();
    let mut left = r.input_tokens;
    for id in &r.blocks {
        if left == 0 {
            break;
        }
        let words = left.min(r.block_tokens.max(1));
        parts.push(text(BLOCK_KEYS ^ id, words));
        left -= words;
    }
    if left > 0 {
        parts.push(text(OWN_KEYS + index as u64, left));
    }
    parts.join(" ")
}

/// The replayed trace's figures, measured, beside the simulator's replay of the same trace
/// when the deployment is known.
pub fn report(plan: &crate::plan::MeasurePlan, d: &jauge::dataset::Dataset) -> String {
    use jauge::metric::Metric;
    let (Some(t), Some(measured)) = (&plan.load.trace, d.steps.first()) else {
        return String::new();
    };
    let predicted = plan
        .predicting_engine()
        .map(|(engine, prefix_cache, whose)| {
            let records = jauge::sim::simulate_trace(&engine, &t.trace, prefix_cache);
            let step = crate::aggregate::step(
                measured.concurrency,
                measured.prompt_tokens,
                measured.output_tokens,
                &records,
                plan.rules.slo,
            );
            (step, whose)
        });
    let metrics = [
        Metric::TtftP50,
        Metric::TtftP95,
        Metric::ItlP50,
        Metric::TpotP95,
        Metric::OutputTokS,
        Metric::PerUserTokS,
    ];
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|m| {
            let mut row = vec![m.heading().to_string(), m.show(measured)];
            if let Ok((p, _)) = &predicted {
                row.push(m.show(p));
            }
            row
        })
        .collect();
    let mut header = vec!["", " measured"];
    if predicted.is_ok() {
        header.push(" predicted");
    }
    let mut out = format!(
        "Trace replay ({} dataset): {}, {} requests over {:.1} s ({}), {} ok\n",
        d.source,
        t.file,
        t.trace.len(),
        t.trace.duration_s(),
        t.trace.format.name(),
        jauge::dataset::RequestCounts::show(measured.requests),
    );
    out.push_str(&crate::table::render(&header, &rows));
    match predicted {
        Ok((_, whose)) => out.push_str(&format!(
            "predicted: jauge's simulator replaying the same trace on {whose}\n"
        )),
        Err(why) => out.push_str(&format!("no prediction beside it: {why}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_have_the_trace_lengths_and_share_what_its_blocks_share() {
        let trace = Trace::parse(include_str!(
            "../../tests/data/traces/mooncake-sample.jsonl"
        ))
        .unwrap();
        let prompts: Vec<String> = trace
            .requests
            .iter()
            .enumerate()
            .map(|(i, r)| prompt(r, i))
            .collect();
        for (p, r) in prompts.iter().zip(&trace.requests) {
            assert_eq!(p.split(' ').count() as u32, r.input_tokens);
        }
        // Lines 67 and 134 share their first five blocks of 512 tokens, and nothing after.
        let words = |p: &str| p.split(' ').map(str::to_string).collect::<Vec<_>>();
        let (a, b) = (words(&prompts[2]), words(&prompts[3]));
        assert_eq!(a[..5 * 512], b[..5 * 512]);
        assert_ne!(a[5 * 512..5 * 512 + 40], b[5 * 512..5 * 512 + 40]);
        // Every prompt starts with block 0, the same text.
        assert!(prompts.iter().all(|p| p[..100] == prompts[0][..100]));
    }
}
