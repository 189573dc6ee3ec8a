//! A trace replayed on the simulated engine: each request arrives at its time with its lengths,
//! its prompt's shared blocks (as the trace names them) found in the prefix cache when an
//! earlier prompt computed them.

use super::{with_own_blocks, EngineConfig, Event, Request, Scheduler};
use crate::record::RequestRecord;
use crate::trace::Trace;

/// Replays `trace` on `engine` and returns one record per request, in arrival order; times are
/// milliseconds from the trace's start, and each record's `concurrency` is the trace's length
/// (nothing bounds the requests in flight but the engine). Without `prefix_cache` no prompt
/// shares anything.
///
/// ```
/// # use jauge::catalogue::Catalogue;
/// # let cat = Catalogue::builtin();
/// # let r = jauge::sizing::SizingRequest::new(cat.model("mistral-7b-v0.1")?, cat.gpu("a100-40gb")?);
/// let engine = jauge::sim::engine_for(&r)?;
/// let trace = jauge::trace::Trace::parse(
///     "{\"at_s\": 0, \"input_tokens\": 600, \"output_tokens\": 20, \"blocks\": [1, 2]}\n\
///      {\"at_s\": 5, \"input_tokens\": 700, \"output_tokens\": 20, \"blocks\": [1, 3]}\n",
/// )?;
/// let records = jauge::sim::simulate_trace(&engine, &trace, true);
/// assert_eq!(records[1].sent_ms, 5000.0);
/// assert_eq!(records.iter().map(|r| r.output_tokens()).sum::<u32>(), 40);
/// // The second prompt's first 512 tokens were the first one's: its first token comes sooner.
/// let fresh = jauge::sim::simulate_trace(&engine, &trace, false);
/// assert!(records[1].ttft_ms() < fresh[1].ttft_ms());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_trace(
    engine: &EngineConfig,
    trace: &Trace,
    prefix_cache: bool,
) -> Vec<RequestRecord> {
    struct Live {
        first: Option<f64>,
        tokens: u32,
    }
    let requests = &trace.requests;
    let concurrency = u32::try_from(requests.len()).unwrap_or(u32::MAX);
    let mut scheduler = Scheduler::new(engine.clone());
    let mut live: Vec<Live> = Vec::with_capacity(requests.len());
    let mut records: Vec<Option<RequestRecord>> = vec![None; requests.len()];
    let (mut next, mut t) = (0usize, 0.0_f64);
    loop {
        while let Some(r) = requests.get(next).filter(|r| r.at_s <= t) {
            scheduler.submit_request(Request {
                id: next as u64,
                prompt_tokens: u64::from(r.input_tokens),
                max_tokens: u64::from(r.output_tokens),
                block_hashes: if prefix_cache {
                    let context = u64::from(r.input_tokens) + u64::from(r.output_tokens.max(1));
                    let shared = r.block_hashes(engine.block_size);
                    with_own_blocks(shared, context, engine.block_size, next as u64)
                } else {
                    Vec::new()
                },
            });
            live.push(Live {
                first: None,
                tokens: 0,
            });
            next += 1;
        }
        let Some(seconds) = scheduler.plan() else {
            match requests.get(next) {
                Some(r) => {
                    t = t.max(r.at_s);
                    continue;
                }
                None => break,
            }
        };
        t += seconds;
        for (id, event) in scheduler.finish() {
            let i = id as usize;
            let Some(l) = live.get_mut(i) else { continue };
            match event {
                Event::Token => {
                    l.first.get_or_insert(t);
                    l.tokens += 1;
                }
                Event::Finished => {
                    let r = &requests[i];
                    records[i] = Some(RequestRecord::completed(
                        concurrency,
                        r.input_tokens,
                        i as u32,
                        r.at_s * 1000.0,
                        l.first.unwrap_or(t) * 1000.0,
                        t * 1000.0,
                        l.tokens,
                    ));
                }
            }
        }
    }
    records.into_iter().flatten().collect()
}
