//! A deterministic discrete-event simulation of a continuous-batching server: the same
//! [`Scheduler`] that times `jauge serve-sim`, driven in virtual time by a closed loop of users
//! (or arrivals at a rate), producing the request records and step summaries the runner
//! measures — so predicted and measured curves share one schema and one chart.
//!
//! ```
//! use jauge::catalogue::Catalogue;
//! use jauge::sim::{simulate_step, SimLoad};
//! use jauge::sizing::SizingRequest;
//!
//! let cat = Catalogue::builtin();
//! let request = SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?);
//! let load = SimLoad { concurrency: 8, prompt_tokens: 512, output_tokens: 64, requests: 32, pacing: jauge::pacing::Pacing::Closed, seed: 0 };
//! let (step, _) = simulate_step(&request, &load, Default::default())?;
//! assert_eq!(step.requests.unwrap().completed, 32);
//! assert!(step.throughput.output_tok_s.unwrap() > 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blocks;
mod context;
mod people;
mod replay;
mod scheduler;

use std::collections::VecDeque;

pub use blocks::{chain, token_block_hashes, with_own_blocks, Content, Segment};
pub use context::{max_context, PREDICTED_TIMEOUT_S};
pub use people::{max_people, simulate_people, MaxPeople, PeopleLoad, PeopleOutcome};
pub use replay::simulate_trace;
pub use scheduler::{Counters, EngineConfig, Event, Request, Scheduler};

use crate::aggregate;
use crate::calibrate::Calibration;
use crate::dataset::{Arrival, ServerStep, Step, Workload};
use crate::error::SizingError;
use crate::objectives::{judge, Breach, Rules, Slo};
use crate::pacing::Pacing;
use crate::perf::{Efficiency, Runtime, StepTimer};
use crate::record::RequestRecord;
use crate::search::UsersSearch;
use crate::sizing::{size, SizingRequest};

/// The load of one simulated step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimLoad {
    /// Users (closed loop), or most requests in flight (open loop).
    pub concurrency: u32,
    /// Prompt tokens per request.
    pub prompt_tokens: u32,
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Requests in the step.
    pub requests: u32,
    /// Closed loop, or arrivals at a rate ([`Pacing`]); every request at once is the closed
    /// loop of `requests` users.
    pub pacing: Pacing,
    /// Seed of the arrivals (the step's, as [`crate::pacing::step_seed`] derives it).
    pub seed: u64,
}

impl SimLoad {
    /// The load a dataset's step was measured (or published) under, to predict it: the same
    /// mode (closed loop, open loop at the step's rate with the workload's arrivals, or every
    /// request at once), lengths and request count; a step that does not say how many requests
    /// it sent gets the simulator's default, 4 per user and at least 32.
    ///
    /// ```
    /// let d = jauge::dataset::example();
    /// let load = jauge::sim::SimLoad::of_step(&d.workload, &d.steps[0]);
    /// assert_eq!((load.concurrency, load.requests), (d.steps[0].concurrency, 16));
    /// assert_eq!(load.pacing, jauge::pacing::Pacing::Closed);
    /// ```
    pub fn of_step(workload: &Workload, step: &Step) -> SimLoad {
        let rate = step.rate_rps.or(workload.rate_rps);
        let pacing = rate
            .and_then(|r| Pacing::open(r, workload.arrival.unwrap_or(Arrival::Poisson)))
            .unwrap_or(Pacing::Closed);
        SimLoad {
            concurrency: step.concurrency,
            prompt_tokens: step.prompt_tokens,
            output_tokens: step.output_tokens,
            requests: step
                .requests
                .map(|r| r.sent)
                .or(workload.requests_per_step)
                .unwrap_or_else(|| default_requests(step.concurrency))
                .max(1),
            pacing,
            seed: 0,
        }
    }
}

/// Requests a simulated step sends when nothing says how many: 4 per user, at least 32.
///
/// ```
/// assert_eq!(jauge::sim::default_requests(1), 32);
/// assert_eq!(jauge::sim::default_requests(64), 256);
/// ```
pub fn default_requests(concurrency: u32) -> u32 {
    concurrency.saturating_mul(4).max(32)
}

/// What a simulation saw besides the requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SimStats {
    /// Virtual seconds simulated.
    pub duration_s: f64,
    /// Engine steps run.
    pub steps: u64,
    /// Highest share of KV blocks in use, 0–1.
    pub kv_usage_peak: f64,
    /// Most requests running at once.
    pub running_peak: usize,
    /// Most requests waiting at once.
    pub waiting_peak: usize,
    /// The engine's counters at the end.
    pub counters: Counters,
}

/// How the simulated engine runs beyond what sizing says: its efficiency factors (a
/// calibration's by default) and its runtime (CUDA graphs, chunked prefill).
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// The roofline's factors.
    pub efficiency: Efficiency,
    /// The engine's way of running steps.
    pub runtime: Runtime,
}

impl Setup {
    /// The request's vLLM release with the factors jauge ships for this GPU and weight format
    /// ([`Calibration::builtin`]): what every prediction uses unless told otherwise.
    ///
    /// ```
    /// use jauge::catalogue::Catalogue;
    /// let cat = Catalogue::builtin();
    /// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("a100-80gb")?);
    /// let setup = jauge::sim::Setup::calibrated(&r);
    /// assert!(setup.runtime.cuda_graphs);
    /// assert!(setup.efficiency.bandwidth > 0.0 && setup.efficiency.bandwidth <= 1.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn calibrated(request: &SizingRequest<'_>) -> Setup {
        let runtime = Runtime::of_vllm(request.vllm_version, request.max_model_len);
        Setup {
            efficiency: Calibration::builtin().efficiency_for(request, &runtime.engine),
            runtime,
        }
    }

    /// The cited defaults, no calibration: to show what calibration changed.
    ///
    /// ```
    /// assert_eq!(jauge::sim::Setup::uncalibrated().efficiency, jauge::perf::Efficiency::default());
    /// ```
    pub fn uncalibrated() -> Setup {
        Setup {
            efficiency: Efficiency::default(),
            runtime: Runtime::default(),
        }
    }
}

/// The engine `jauge size` describes for this request, with the factors jauge ships
/// ([`Setup::calibrated`]): its KV blocks, batch limits and step timing.
///
/// # Errors
/// The [`SizingError`]s of [`size`]; a deployment that does not fit is an
/// [`SizingError::Unsupported`] error here, since nothing can be simulated on it.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// let cat = Catalogue::builtin();
/// let r = jauge::sizing::SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?);
/// assert_eq!(jauge::sim::engine_for(&r)?.kv_blocks, jauge::sizing::size(&r)?.kv_cache_blocks);
/// let too_big = jauge::sizing::SizingRequest::new(cat.model("llama-3-70b")?, cat.gpu("l4")?);
/// assert!(jauge::sim::engine_for(&too_big).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn engine_for(request: &SizingRequest<'_>) -> Result<EngineConfig, SizingError> {
    engine_with(request, &Setup::calibrated(request))
}

/// [`engine_for`] with other factors or another runtime.
///
/// # Errors
/// As [`engine_for`].
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sim::Setup;
/// let cat = Catalogue::builtin();
/// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
/// let slow = Setup { efficiency: jauge::perf::Efficiency { bandwidth: 0.3, ..Default::default() }, ..Setup::uncalibrated() };
/// let e = jauge::sim::engine_with(&r, &slow)?;
/// assert!(e.timer.step_s(0, 0, 1, 0) > jauge::sim::engine_with(&r, &Setup::uncalibrated())?.timer.step_s(0, 0, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn engine_with(
    request: &SizingRequest<'_>,
    setup: &Setup,
) -> Result<EngineConfig, SizingError> {
    let sizing = size(request)?;
    if !sizing.fits {
        return Err(SizingError::Unsupported {
            reason: format!(
                "{} on {} × {} ({}) does not fit: {:.2} GiB per GPU short",
                sizing.model, sizing.gpus, sizing.gpu, sizing.quant, sizing.shortfall_gib_per_gpu
            ),
            nearest: sizing.advice.iter().map(|a| a.flag.clone()).collect(),
        });
    }
    Ok(EngineConfig {
        timer: StepTimer::with(request, setup.efficiency, &setup.runtime)?,
        kv_blocks: sizing.kv_cache_blocks,
        block_size: u64::from(sizing.block_size),
        max_num_seqs: sizing.max_num_seqs as usize,
        max_num_batched_tokens: u64::from(sizing.max_num_batched_tokens),
        chunked_prefill: setup.runtime.chunked_prefill,
    })
}

/// Simulates one step on an engine: every request's timeline, and what the engine saw.
///
/// ```
/// # use jauge::catalogue::Catalogue;
/// # let cat = Catalogue::builtin();
/// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("h100-80gb")?);
/// let engine = jauge::sim::engine_for(&r)?;
/// let load = jauge::sim::SimLoad { concurrency: 4, prompt_tokens: 128, output_tokens: 16, requests: 8, pacing: jauge::pacing::Pacing::Closed, seed: 1 };
/// let (records, stats) = jauge::sim::simulate(&engine, &load);
/// assert_eq!(records.len(), 8);
/// assert!(stats.running_peak <= 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate(engine: &EngineConfig, load: &SimLoad) -> (Vec<RequestRecord>, SimStats) {
    let mut scheduler = Scheduler::new(engine.clone());
    let total = load.requests.max(1);
    let users = load.concurrency.max(1);
    // Due times as the load generator draws them: the users' first requests at once (closed
    // loop), or every request at its arrival (open loop).
    let closed = load.pacing == Pacing::Closed;
    let first_wave = if closed { users.min(total) } else { total };
    let mut due: VecDeque<f64> = load.pacing.due_times(first_wave, load.seed).into();
    struct Live {
        intended: f64,
        sent: f64,
        first: Option<f64>,
        last: f64,
        gaps: Vec<f64>,
        tokens: u32,
    }
    // Requests are numbered 0, 1, 2, … as they are sent: a slot per request, found in O(1).
    let mut live: Vec<Option<Live>> = Vec::with_capacity(total as usize);
    let mut in_flight = 0usize;
    let mut records = Vec::with_capacity(total as usize);
    let mut stats = SimStats::default();
    let (mut t, mut issued) = (0.0_f64, 0u32);
    let ms = |s: f64| s * 1000.0;
    loop {
        // Send what is due and fits under the concurrency cap (the open loop's client side).
        while let Some(&at) = due.front() {
            if at > t || in_flight >= users as usize || issued >= total {
                break;
            }
            due.pop_front();
            let id = u64::from(issued);
            issued += 1;
            scheduler.submit(
                id,
                u64::from(load.prompt_tokens),
                u64::from(load.output_tokens),
            );
            in_flight += 1;
            live.push(Some(Live {
                intended: at,
                sent: t,
                first: None,
                last: t,
                gaps: Vec::with_capacity(load.output_tokens.saturating_sub(1) as usize),
                tokens: 0,
            }));
        }
        let Some(seconds) = scheduler.plan() else {
            match due.front() {
                Some(&at) if issued < total => {
                    t = t.max(at);
                    continue;
                }
                _ => break,
            }
        };
        t += seconds;
        stats.steps += 1;
        for (id, event) in scheduler.finish() {
            let Some(Some(r)) = live.get_mut(id as usize) else {
                continue;
            };
            match event {
                Event::Token => {
                    match r.first {
                        None => r.first = Some(t),
                        Some(_) => r.gaps.push(ms(t - r.last)),
                    }
                    r.last = t;
                    r.tokens += 1;
                }
                Event::Finished => {
                    let Some(r) = live[id as usize].take() else {
                        continue;
                    };
                    in_flight -= 1;
                    records.push(RequestRecord {
                        intended_ms: ms(r.intended),
                        gaps_ms: r.gaps,
                        ..RequestRecord::completed(
                            load.concurrency,
                            load.prompt_tokens,
                            id as u32,
                            ms(r.sent),
                            ms(r.first.unwrap_or(t)),
                            ms(t),
                            r.tokens,
                        )
                    });
                    // Closed loop: the user sends the next request at once.
                    if closed && issued + (due.len() as u32) < total {
                        due.push_back(t);
                    }
                }
            }
        }
        let c = scheduler.counters();
        stats.kv_usage_peak = stats
            .kv_usage_peak
            .max(c.used_blocks as f64 / engine.kv_blocks.max(1) as f64);
        stats.running_peak = stats.running_peak.max(c.running);
        stats.waiting_peak = stats
            .waiting_peak
            .max(c.waiting + due.partition_point(|d| *d <= t));
    }
    stats.duration_s = t;
    stats.counters = scheduler.counters();
    (records, stats)
}

/// Simulates one step of a deployment and summarises it as the runner would, with the
/// engine's counters as the step's server telemetry.
///
/// # Errors
/// When the deployment cannot be sized or does not fit ([`engine_for`]).
///
/// ```
/// use jauge::catalogue::Catalogue;
/// let cat = Catalogue::builtin();
/// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
/// let load = jauge::sim::SimLoad { concurrency: 2, prompt_tokens: 64, output_tokens: 8, requests: 4, pacing: jauge::pacing::Pacing::Closed, seed: 0 };
/// let (step, stats) = jauge::sim::simulate_step(&r, &load, Default::default())?;
/// assert_eq!(step.server.unwrap().preemptions, Some(0));
/// assert!(stats.duration_s > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_step(
    request: &SizingRequest<'_>,
    load: &SimLoad,
    slo: Slo,
) -> Result<(Step, SimStats), SizingError> {
    simulate_step_with(request, load, slo, &Setup::calibrated(request))
}

/// [`simulate_step`] with other factors or another runtime.
///
/// # Errors
/// As [`simulate_step`].
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sim::Setup;
/// let cat = Catalogue::builtin();
/// let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
/// let load = jauge::sim::SimLoad { concurrency: 1, prompt_tokens: 64, output_tokens: 8, requests: 2, pacing: jauge::pacing::Pacing::Closed, seed: 0 };
/// let slow = Setup { efficiency: jauge::perf::Efficiency { bandwidth: 0.1, ..Default::default() }, ..Setup::uncalibrated() };
/// let (a, _) = jauge::sim::simulate_step(&r, &load, Default::default())?;
/// let (b, _) = jauge::sim::simulate_step_with(&r, &load, Default::default(), &slow)?;
/// assert!(b.throughput.output_tok_s.unwrap() < a.throughput.output_tok_s.unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_step_with(
    request: &SizingRequest<'_>,
    load: &SimLoad,
    slo: Slo,
    setup: &Setup,
) -> Result<(Step, SimStats), SizingError> {
    let engine = engine_with(request, setup)?;
    let (records, stats) = simulate(&engine, load);
    let mut step = aggregate::step(
        load.concurrency,
        load.prompt_tokens,
        load.output_tokens,
        &records,
        slo,
    );
    step.rate_rps = load.pacing.rate_rps();
    step.server = Some(ServerStep {
        kv_cache_usage_pct_peak: Some((stats.kv_usage_peak * 100.0).min(100.0)),
        kv_cache_usage_pct_mean: None,
        running_peak: Some(stats.running_peak as u32),
        waiting_peak: Some(stats.waiting_peak as u32),
        preemptions: Some(stats.counters.preemptions as u32),
        prefix_cache_hit_pct: None,
        waiting_growing: None,
    });
    Ok((step, stats))
}

/// The simulator's speed benchmark, the same natively and in the browser: Llama-3-8B on one
/// H100, 10,000 requests of 512 + 128 tokens from 256 users. Goals: under 100 ms natively,
/// under 300 ms in a browser.
///
/// ```
/// let (engine, load) = jauge::sim::benchmark_workload().unwrap();
/// assert_eq!((load.requests, load.concurrency), (10_000, 256));
/// assert!(engine.kv_blocks > 0);
/// ```
pub fn benchmark_workload() -> Option<(EngineConfig, SimLoad)> {
    let cat = crate::catalogue::Catalogue::builtin();
    let request = SizingRequest::new(cat.model("llama-3-8b").ok()?, cat.gpu("h100-80gb").ok()?);
    let load = SimLoad {
        concurrency: 256,
        prompt_tokens: 512,
        output_tokens: 128,
        requests: 10_000,
        pacing: crate::pacing::Pacing::Closed,
        seed: 0,
    };
    Some((engine_for(&request).ok()?, load))
}

/// The answer of a simulated search for the most users under objectives.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxUsers {
    /// The most users that met the objectives (`None`: not even one).
    pub max_users: Option<u32>,
    /// The fewest that did not (`None`: the ceiling held).
    pub breaks_at: Option<u32>,
    /// Why it breaks there.
    pub breach: Option<Breach>,
    /// The step simulated at `max_users`.
    pub at_max: Option<Step>,
}

/// The most simultaneous users whose steps meet `rules`, simulated: the [`UsersSearch`] of
/// `jauge limit`, each probe `max(min_requests, 3 × users)` simulated requests judged by
/// [`crate::objectives::judge`].
///
/// # Errors
/// When the deployment cannot be sized or does not fit ([`engine_for`]), or a request of
/// `prompt_tokens + output_tokens` exceeds its `max_model_len`.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::objectives::{Percentile, Rules, Slo};
/// let cat = Catalogue::builtin();
/// let r = jauge::sizing::SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?);
/// let rules = Rules::objectives(Slo { ttft_ms: Some(2000.0), tpot_ms: Some(100.0) }, Percentile::P95);
/// let found = jauge::sim::max_users(&r, 512, 128, &rules, 256, 40)?;
/// assert!(found.max_users.unwrap() > 8);
/// assert!(jauge::sim::max_users(&r, 40_000, 128, &rules, 256, 40).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn max_users(
    request: &SizingRequest<'_>,
    prompt_tokens: u32,
    output_tokens: u32,
    rules: &Rules,
    ceiling: u32,
    min_requests: u32,
) -> Result<MaxUsers, SizingError> {
    let max_model_len = size(request)?.max_model_len;
    if u64::from(prompt_tokens) + u64::from(output_tokens) > u64::from(max_model_len) {
        return Err(SizingError::ContextTooLong {
            what: "prompt + output tokens",
            tokens: prompt_tokens.saturating_add(output_tokens),
            model: request.model.id.clone(),
            max_tokens: max_model_len,
        });
    }
    let engine = engine_for(request)?;
    let mut search = UsersSearch::new(ceiling);
    let mut at_max = None;
    while let Some(concurrency) = search.next() {
        let load = SimLoad {
            concurrency,
            prompt_tokens,
            output_tokens,
            requests: concurrency.saturating_mul(3).max(min_requests),
            pacing: crate::pacing::Pacing::Closed,
            seed: 0,
        };
        let (records, _) = simulate(&engine, &load);
        let step = aggregate::step(
            concurrency,
            prompt_tokens,
            output_tokens,
            &records,
            rules.slo,
        );
        let verdict = judge(&step, rules, None);
        if verdict.meets() {
            at_max = Some(step);
        }
        search.record(concurrency, verdict);
    }
    Ok(MaxUsers {
        max_users: search.passed(),
        breaks_at: search.failed_at(),
        breach: search.breach().cloned(),
        at_max: at_max.filter(|s| Some(s.concurrency) == search.passed()),
    })
}

#[cfg(test)]
mod tests;
