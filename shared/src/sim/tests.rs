//! Invariants of the simulator, as properties over the catalogue.

use proptest::prelude::*;

use super::*;
use crate::catalogue::Catalogue;

fn engine(
    model: &str,
    gpu: &str,
    kv_blocks: Option<u64>,
    max_num_seqs: Option<usize>,
) -> EngineConfig {
    let cat = Catalogue::builtin();
    let r = SizingRequest::new(cat.model(model).unwrap(), cat.gpu(gpu).unwrap());
    let mut e = engine_for(&r).unwrap();
    if let Some(b) = kv_blocks {
        e.kv_blocks = b;
    }
    if let Some(s) = max_num_seqs {
        e.max_num_seqs = s;
    }
    e
}

fn load(concurrency: u32, prompt: u32, output: u32, requests: u32) -> SimLoad {
    SimLoad {
        concurrency,
        prompt_tokens: prompt,
        output_tokens: output,
        requests,
        pacing: crate::pacing::Pacing::Closed,
        seed: 3,
    }
}

/// 10,000 requests take a fraction of a second; this checks they all finish, in order.
#[test]
fn every_request_finishes_with_all_its_tokens() {
    let (records, stats) = simulate(
        &engine("mistral-7b-v0.3", "a100-40gb", None, None),
        &load(64, 256, 32, 2000),
    );
    assert_eq!(records.len(), 2000);
    assert!(records
        .iter()
        .all(|r| r.output_tokens() == 32 && r.gaps_ms.len() == 31));
    assert_eq!(stats.counters.finished, 2000);
    assert_eq!((stats.counters.running, stats.counters.waiting), (0, 0));
}

/// The simulator and `jauge size` agree on capacity: a batch that fits in the KV cache never
/// preempts; one that overflows it does.
#[test]
fn kv_capacity_is_the_sizing_models() {
    let cat = Catalogue::builtin();
    let r = SizingRequest::new(cat.model("llama-3-8b").unwrap(), cat.gpu("l4").unwrap());
    let tokens = size(&r).unwrap().kv_cache_tokens as u32;
    let per_request = 1024 + 32;
    let fits = tokens / per_request / 2;
    let (_, ok) = simulate(&engine_for(&r).unwrap(), &load(fits, 1024, 32, fits * 2));
    assert_eq!(ok.counters.preemptions, 0);
    let over = tokens / per_request * 2;
    let (_, full) = simulate(&engine_for(&r).unwrap(), &load(over, 1024, 32, over));
    assert!(full.counters.preemptions > 0 || full.waiting_peak > 0);
    assert!(full.kv_usage_peak <= 1.0);
}

/// With max_num_seqs = 2, requests are served first come, first served: each request's first
/// token comes no earlier than that of the one sent before it.
#[test]
fn admission_is_first_come_first_served() {
    let (mut records, _) = simulate(
        &engine("mistral-7b-v0.3", "a100-40gb", None, Some(2)),
        &load(6, 64, 8, 12),
    );
    records.sort_by_key(|r| r.index);
    for pair in records.windows(2) {
        assert!(pair[1].first_token_ms.unwrap() >= pair[0].first_token_ms.unwrap() - 1e-9);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn no_request_is_lost_and_kv_never_overflows(
        concurrency in 1u32..64, prompt in 1u32..2048, output in 1u32..64, blocks in 40u64..400, seqs in 1usize..64,
    ) {
        let e = engine("mistral-7b-v0.3", "h100-80gb", Some(blocks), Some(seqs));
        // A request must fit the cache on its own, as vLLM's max_model_len check guarantees.
        prop_assume!(u64::from(prompt + output).div_ceil(16) < blocks);
        let (records, stats) = simulate(&e, &load(concurrency, prompt, output, 3 * concurrency));
        prop_assert_eq!(records.len() as u32, 3 * concurrency);
        prop_assert!(stats.kv_usage_peak <= 1.0 + 1e-12);
        prop_assert!(stats.running_peak <= seqs.min(concurrency as usize));
    }

    #[test]
    fn throughput_never_beats_the_roofline(concurrency in 1u32..128, prompt in 16u32..1024) {
        let e = engine("llama-3-8b", "h100-80gb", None, None);
        let (step, _) = {
            let cat = Catalogue::builtin();
            let r = SizingRequest::new(cat.model("llama-3-8b").unwrap(), cat.gpu("h100-80gb").unwrap());
            simulate_step(&r, &load(concurrency, prompt, 32, 2 * concurrency), Slo::default()).unwrap()
        };
        // Each step yields at most one token per running sequence and lasts at least as long
        // as reading the weights once: tokens/s ≤ batch / (weights / bandwidth).
        let weight_read_s = e.timer.step_s(0, 0, 1, 0) - crate::perf::STEP_OVERHEAD_S;
        let bound = f64::from(concurrency.min(e.max_num_seqs as u32)) / weight_read_s;
        prop_assert!(step.throughput.output_tok_s.unwrap() <= bound * (1.0 + 1e-9), "{:?} > {}", step.throughput.output_tok_s, bound);
    }

    #[test]
    fn latency_rises_with_load_at_saturation(extra in 2u32..8) {
        let e = engine("mistral-7b-v0.3", "a100-40gb", None, Some(8));
        let (a, _) = simulate(&e, &load(8, 256, 16, 32));
        let (b, _) = simulate(&e, &load(8 * extra, 256, 16, 32 * extra));
        let p50 = |rs: &[RequestRecord]| {
            let mut v: Vec<f64> = rs.iter().map(|r| r.e2e_ms()).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        prop_assert!(p50(&b) >= p50(&a));
    }
}

/// The prediction (with the shipped calibration) against published measurements kept out of
/// the corpus, with their sources. The errors are in the README; a change to the model or the
/// calibration that moves them must update both.
///
/// * johnmusgrave.com/p/vllm-throughput-latency-sweep-on: Llama-3.1-8B-Instruct BF16, one
///   A100 40GB, vLLM 0.23.0, 1,024 prompt + 128 output tokens (ignore-eos): "decode at one
///   request per time runs at about 75 tokens/sec"; batching to 8 users gives "a 6.6x gain".
/// * yobitelcomm.github.io/bench/recipes/concurrency-sweep: Llama-3.1-8B-Instruct FP16, one
///   H100-80GB-HBM3, vLLM 0.21.0, "chatbot-short": TPOT p50 6.48 ms at 1 user, 10.94 ms at
///   16 users, 1,384.2 tok/s at 16 users (prompt and output lengths not given; 128 and 128
///   assumed here).
#[test]
fn predictions_against_published_measurements() {
    let cat = Catalogue::builtin();
    let run = |gpu: &str, users: u32, prompt: u32| {
        let r = SizingRequest::new(cat.model("llama-3.1-8b").unwrap(), cat.gpu(gpu).unwrap());
        let load = SimLoad {
            concurrency: users,
            prompt_tokens: prompt,
            output_tokens: 128,
            requests: 20 * users,
            pacing: crate::pacing::Pacing::Closed,
            seed: 0,
        };
        simulate_step(&r, &load, Slo::default()).unwrap().0
    };
    let error = |predicted: f64, published: f64| (predicted - published) / published * 100.0;

    let a100_1 = run("a100-40gb", 1, 1024);
    let a100_8 = run("a100-40gb", 8, 1024);
    let single_stream = 1000.0 / a100_1.latency.tpot_ms.unwrap().p50.unwrap();
    let scaling = a100_8.throughput.output_tok_s.unwrap() / a100_1.throughput.output_tok_s.unwrap();
    let h100_1 = run("h100-80gb", 1, 128);
    let h100_16 = run("h100-80gb", 16, 128);

    // A100, one user: 69.7 tok/s predicted vs ~75 published (−7 %).
    assert!(error(single_stream, 75.0).abs() < 10.0, "{single_stream}");
    // A100, 1 → 8 users: 5.5× predicted vs 6.6× published (−17 %).
    assert!(error(scaling, 6.6).abs() < 20.0, "{scaling}");
    // H100, one user: TPOT 7.3 ms predicted vs 6.48 ms published (+13 %).
    assert!(error(h100_1.latency.tpot_ms.unwrap().p50.unwrap(), 6.48).abs() < 15.0);
    // H100, 16 users: the model is optimistic under load: TPOT 7.5 ms vs 10.94 ms (−32 %),
    // 2,015 tok/s vs 1,384 (+46 %), calibrated on the published corpus (these two sources are
    // not in it: an independent check). A known bound until measured datasets narrow it.
    let tpot_16 = error(h100_16.latency.tpot_ms.unwrap().p50.unwrap(), 10.94);
    let tok_s_16 = error(h100_16.throughput.output_tok_s.unwrap(), 1384.2);
    assert!((-45.0..-25.0).contains(&tpot_16), "{tpot_16}");
    assert!((35.0..70.0).contains(&tok_s_16), "{tok_s_16}");
}

/// Runs `requests` one after another to completion on `scheduler`.
fn serve_in_turn(scheduler: &mut Scheduler, requests: &[Request]) {
    for r in requests {
        scheduler.submit_request(r.clone());
        while scheduler.plan().is_some() {
            scheduler.finish();
            let c = scheduler.counters();
            assert!(c.used_blocks <= scheduler.config().kv_blocks, "{c:?}");
        }
    }
}

/// A turn of conversation `key` whose prompt is its conversation so far, `prompt` tokens
/// (`history` of them from earlier turns, which only says what the test expects); its 16
/// answer tokens extend the conversation.
fn turn(id: u64, key: u64, prompt: u64, history: u64) -> Request {
    assert!(history <= prompt);
    let context = Segment {
        key,
        tokens: prompt + 16,
    };
    Request {
        id,
        prompt_tokens: prompt,
        max_tokens: 16,
        block_hashes: Content::of(&[context]).block_hashes(16),
    }
}

#[test]
fn a_cached_history_is_evicted_from_its_end_when_memory_is_wanted() {
    // 40 blocks of 16 tokens: room for one 400-token conversation and a bit.
    let mut s = Scheduler::new(engine("llama-3-8b", "h100-80gb", Some(40), None));
    assert_eq!(s.config().block_size, 16);
    serve_in_turn(&mut s, &[turn(1, 1, 400, 0)]);
    // 416 tokens of conversation 1 stay cached (the last one is never computed): 25 blocks,
    // free memory that nothing uses.
    let c = s.counters();
    assert_eq!((c.used_blocks, c.cached_blocks), (0, 25));
    // Conversation 2 needs 33 blocks: conversation 1's go, its last ones first (as vLLM frees
    // a request's blocks in reverse), so its first 7 stay.
    serve_in_turn(&mut s, &[turn(2, 2, 500, 0)]);
    assert_eq!(s.counters().prefix_hit_tokens, 0);
    serve_in_turn(&mut s, &[turn(3, 1, 450, 416)]);
    assert_eq!(s.counters().prefix_hit_tokens, 7 * 16);
    // Conversation 2's first blocks survived conversation 1's second turn.
    let before = s.counters().prefix_hit_tokens;
    serve_in_turn(&mut s, &[turn(4, 2, 100, 0)]);
    assert_eq!(s.counters().prefix_hit_tokens - before, 6 * 16);
    let before = s.counters().prefix_hit_tokens;
    serve_in_turn(&mut s, &[turn(5, 3, 50, 0), turn(6, 3, 80, 66)]);
    // 66 tokens of history: 4 full blocks reused.
    assert_eq!(s.counters().prefix_hit_tokens - before, 64);
    let c = s.counters();
    assert!(c.used_blocks + c.cached_blocks <= 40, "{c:?}");
}

#[test]
fn a_request_reads_the_blocks_another_still_running_computed() {
    // Two questions on one document: the second arrives once the first's prompt is computed,
    // while the first still writes its answer.
    let mut s = Scheduler::new(engine("llama-3-8b", "h100-80gb", Some(1000), None));
    let document = Content::of(&[Segment {
        key: 9,
        tokens: 320,
    }])
    .block_hashes(16);
    let question = |id| Request {
        id,
        prompt_tokens: 340,
        max_tokens: 4,
        block_hashes: document.clone(),
    };
    s.submit_request(question(0));
    s.plan();
    assert_eq!(s.finish(), [(0, Event::Token)]);
    s.submit_request(question(1));
    while s.plan().is_some() {
        s.finish();
    }
    let c = s.counters();
    assert_eq!((c.prefix_queried_tokens, c.prefix_hit_tokens), (680, 320));
    // The document's 20 blocks are cached once.
    assert_eq!((c.used_blocks, c.cached_blocks), (0, 20));
}

#[test]
fn without_a_prefix_nothing_is_kept() {
    let mut s = Scheduler::new(engine("llama-3-8b", "h100-80gb", Some(100), None));
    serve_in_turn(
        &mut s,
        &[Request::plain(1, 300, 16), Request::plain(2, 300, 16)],
    );
    let c = s.counters();
    assert_eq!((c.used_blocks, c.cached_blocks), (0, 0));
    assert_eq!((c.prefix_queried_tokens, c.prefix_hit_tokens), (0, 0));
}
