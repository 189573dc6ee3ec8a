//! How many people a deployment serves: [`Person`]s following a [`Workload`] (a closed loop
//! with think time) against the simulated engine, and the most people whose every turn meets
//! the workload's objectives.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{with_own_blocks, EngineConfig, Event, Request, Scheduler};
use crate::aggregate;
use crate::objectives::{judge, Verdict};
use crate::people::{population_seed, Person, Workload};
use crate::record::RequestRecord;
use crate::search::next_probe;

/// One simulated population.
#[derive(Debug, Clone, PartialEq)]
pub struct PeopleLoad {
    /// People using the service.
    pub people: u32,
    /// What they do.
    pub workload: Workload,
    /// The engine caches prefixes (vLLM's default); false predicts a server without.
    pub prefix_cache: bool,
    /// Virtual seconds before measuring (people arrive and conversations get going).
    pub warmup_s: f64,
    /// Virtual seconds measured: the turns sent in this window count.
    pub window_s: f64,
    /// Seed of the people's draws (each population draws its own from it:
    /// [`population_seed`]).
    pub seed: u64,
}

impl PeopleLoad {
    /// `people` following `workload` with prefix caching, 5 minutes of warm-up (at least
    /// three think times) and 10 measured.
    ///
    /// ```
    /// let chat = jauge::people::Workload::preset("chat")?;
    /// let load = jauge::sim::PeopleLoad::new(50, &chat);
    /// assert_eq!((load.people, load.window_s), (50, 600.0));
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn new(people: u32, workload: &Workload) -> PeopleLoad {
        PeopleLoad {
            people,
            workload: workload.clone(),
            prefix_cache: true,
            warmup_s: (3.0 * workload.think_s).max(300.0),
            window_s: 600.0,
            seed: 0,
        }
    }
}

/// What a population saw over the measured window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeopleOutcome {
    /// People.
    pub people: u32,
    /// Turns sent in the window (all of them are answered: the simulation runs until they
    /// are).
    pub turns: u32,
    /// Of those, the turns that failed (a measured server's errors).
    pub failed: u32,
    /// 95th percentile of the turns' time to first token, seconds.
    pub ttft_p95_s: Option<f64>,
    /// Output speed after the first token that 95 % of the answers reach, tokens per second
    /// (the 5th percentile).
    pub output_tok_s_p5: Option<f64>,
    /// Requests in flight, averaged over the window's time.
    pub in_flight_mean: f64,
    /// Requests in flight as Little's law implies them: turns per second × mean seconds
    /// from sending to the last token.
    pub in_flight_littles_law: f64,
    /// Share of the prompts' tokens found in the prefix cache, when prompts had a prefix.
    pub prefix_hit_rate: Option<f64>,
    /// Output tokens per second over the window.
    pub output_tok_s: f64,
    /// Every objective of the workload met.
    pub meets: bool,
}

/// Simulates `load` on `engine`.
///
/// ```
/// # use jauge::catalogue::Catalogue;
/// # let cat = Catalogue::builtin();
/// # let r = jauge::sizing::SizingRequest::new(cat.model("mistral-7b-v0.1")?, cat.gpu("a100-40gb")?);
/// let engine = jauge::sim::engine_for(&r)?;
/// let chat = jauge::people::Workload::preset("chat")?;
/// let few = jauge::sim::simulate_people(&engine, &jauge::sim::PeopleLoad::new(10, &chat));
/// assert!(few.meets && few.turns > 0);
/// // Ten people thinking 30 s between turns keep far fewer than ten requests in flight.
/// assert!(few.in_flight_mean < 2.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_people(engine: &EngineConfig, load: &PeopleLoad) -> PeopleOutcome {
    let w = &load.workload;
    let mut scheduler = Scheduler::new(engine.clone());
    let block_size = engine.block_size;
    let seed = population_seed(load.seed, load.people);
    let mut people: Vec<Person> = (0..load.people).map(|i| Person::new(w, i, seed)).collect();
    // When each person sends next, and what.
    let mut due: BinaryHeap<Reverse<(Seconds, u32)>> = BinaryHeap::new();
    let mut next = Vec::with_capacity(people.len());
    for (i, person) in people.iter_mut().enumerate() {
        let turn = person.next_turn();
        due.push(Reverse((Seconds(turn.think_s), i as u32)));
        next.push(turn);
    }
    let (start, end) = (load.warmup_s, load.warmup_s + load.window_s);
    struct Live {
        person: u32,
        sent: f64,
        first: Option<f64>,
        tokens: u32,
        prompt_tokens: u32,
    }
    let mut live: Vec<Option<Live>> = Vec::new();
    let mut records = Vec::new();
    let mut t = 0.0_f64;
    let mut counters_at_start = None;
    loop {
        // Send what is due (nothing new after the window: the rest only drains).
        while let Some(&Reverse((Seconds(at), i))) = due.peek() {
            if at > t || at >= end {
                break;
            }
            due.pop();
            let turn = &next[i as usize];
            let block_hashes = if load.prefix_cache {
                let context = u64::from(turn.prompt_tokens + turn.output_tokens);
                let shared = turn.content.block_hashes(block_size);
                with_own_blocks(shared, context, block_size, live.len() as u64)
            } else {
                Vec::new()
            };
            scheduler.submit_request(Request {
                id: live.len() as u64,
                prompt_tokens: u64::from(turn.prompt_tokens),
                max_tokens: u64::from(turn.output_tokens),
                block_hashes,
            });
            live.push(Some(Live {
                person: i,
                sent: at.max(0.0),
                first: None,
                tokens: 0,
                prompt_tokens: turn.prompt_tokens,
            }));
        }
        if counters_at_start.is_none() && t >= start {
            counters_at_start = Some(scheduler.counters());
        }
        let Some(seconds) = scheduler.plan() else {
            match due.peek() {
                Some(&Reverse((Seconds(at), _))) if at < end => {
                    t = t.max(at);
                    continue;
                }
                _ => break,
            }
        };
        t += seconds;
        for (id, event) in scheduler.finish() {
            let Some(Some(r)) = live.get_mut(id as usize) else {
                continue;
            };
            match event {
                Event::Token => {
                    r.first.get_or_insert(t);
                    r.tokens += 1;
                }
                Event::Finished => {
                    let Some(r) = live[id as usize].take() else {
                        continue;
                    };
                    // Only turns in flight during the window matter to it.
                    if t >= start {
                        let ms = |s: f64| s * 1000.0;
                        let first = r.first.unwrap_or(t);
                        let mut record = RequestRecord::completed(
                            load.people,
                            r.prompt_tokens,
                            id as u32,
                            ms(r.sent),
                            ms(first),
                            ms(t),
                            r.tokens,
                        );
                        record.warmup = !(start..end).contains(&r.sent);
                        records.push(record);
                    }
                    // The person reads, thinks, and sends the next turn.
                    let person = r.person as usize;
                    let turn = people[person].next_turn();
                    due.push(Reverse((Seconds(t + turn.think_s), r.person)));
                    next[person] = turn;
                }
            }
        }
    }
    let counters = scheduler.counters();
    let before = counters_at_start.unwrap_or_default();
    let queried = counters.prefix_queried_tokens - before.prefix_queried_tokens;
    let hits = counters.prefix_hit_tokens - before.prefix_hit_tokens;
    PeopleOutcome {
        prefix_hit_rate: (queried > 0).then(|| hits as f64 / queried as f64),
        ..PeopleOutcome::of_turns(load.people, w, &records, (start * 1000.0, end * 1000.0))
    }
}

impl PeopleOutcome {
    /// What a population's turns show, measured or simulated alike: `records` are every turn
    /// in flight during the window (`start_ms`, `end_ms`), those sent before it flagged
    /// `warmup`. Its latencies are the step's (the project's one aggregation of records), and
    /// it meets the workload when the step passes [`Workload::rules`] (the one judge). The
    /// prefix cache's hit rate is the caller's to add (the server's counters, or the
    /// simulator's).
    ///
    /// ```
    /// use jauge::record::RequestRecord;
    /// let chat = jauge::people::Workload::preset("chat")?;
    /// // Two turns in a 10 s window, TTFT 0.5 s, 21 tokens 40 ms apart.
    /// let turns = [RequestRecord::completed(4, 700, 0, 1_000.0, 1_500.0, 2_300.0, 21), RequestRecord::completed(4, 900, 1, 5_000.0, 5_500.0, 6_300.0, 21)];
    /// let o = jauge::sim::PeopleOutcome::of_turns(4, &chat, &turns, (0.0, 10_000.0));
    /// assert_eq!((o.turns, o.ttft_p95_s), (2, Some(0.5)));
    /// assert!((o.output_tok_s_p5.unwrap() - 25.0).abs() < 0.5);
    /// assert!((o.in_flight_mean - 0.26).abs() < 1e-9); // 2 × 1.3 s over 10 s
    /// assert!(o.meets);
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn of_turns(
        people: u32,
        workload: &Workload,
        records: &[RequestRecord],
        (start_ms, end_ms): (f64, f64),
    ) -> PeopleOutcome {
        let window_s = ((end_ms - start_ms) / 1000.0).max(f64::MIN_POSITIVE);
        let step = aggregate::step(people, 0, 0, records, Default::default());
        let verdict = judge(&step, &workload.rules(), None);
        let counts = step.requests.unwrap_or_default();
        let in_window = || records.iter().filter(|r| !r.warmup && r.ok());
        let in_flight_ms: f64 = records
            .iter()
            .map(|r| (r.end_ms.min(end_ms) - r.sent_ms.max(start_ms)).max(0.0))
            .sum();
        let e2e_s: f64 = in_window().map(|r| (r.end_ms - r.sent_ms) / 1000.0).sum();
        let output_tokens: u64 = in_window().map(|r| u64::from(r.output_tokens())).sum();
        let turns = counts.sent;
        PeopleOutcome {
            people,
            turns,
            failed: counts.failed,
            ttft_p95_s: step.latency.ttft_ms.and_then(|s| s.p95).map(|v| v / 1000.0),
            output_tok_s_p5: step
                .latency
                .tpot_ms
                .and_then(|s| s.p95)
                .filter(|v| *v > 0.0)
                .map(|v| 1000.0 / v),
            in_flight_mean: in_flight_ms / 1000.0 / window_s,
            // Turns per second × their mean time in flight.
            in_flight_littles_law: e2e_s / window_s,
            prefix_hit_rate: None,
            output_tok_s: output_tokens as f64 / window_s,
            meets: turns > 0 && verdict == Verdict::Meets,
        }
    }
}

/// The answer of [`max_people`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxPeople {
    /// The most people served within the objectives (0 when not even one is).
    pub people: u32,
    /// What they saw (`None` when not even one person is served within the objectives).
    pub served: Option<PeopleOutcome>,
    /// One more person than that: the population that breaks an objective (`None` when the
    /// search stopped at its ceiling still within them).
    pub broken: Option<PeopleOutcome>,
}

/// The most people `load.workload` can serve on `engine` within its objectives: doubling
/// from one person until an objective breaks, then bisecting to one person.
///
/// ```
/// # use jauge::catalogue::Catalogue;
/// # let cat = Catalogue::builtin();
/// # let r = jauge::sizing::SizingRequest::new(cat.model("mistral-7b-v0.1")?, cat.gpu("a100-40gb")?);
/// let engine = jauge::sim::engine_for(&r)?;
/// let fixed = jauge::people::Workload::preset("fixed")?;
/// let load = jauge::sim::PeopleLoad { window_s: 60.0, warmup_s: 10.0, ..jauge::sim::PeopleLoad::new(1, &fixed) };
/// let answer = jauge::sim::max_people(&engine, &load, 4096);
/// assert!(answer.people > 1);
/// assert!(!answer.broken.unwrap().meets);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn max_people(engine: &EngineConfig, load: &PeopleLoad, ceiling: u32) -> MaxPeople {
    let (mut served, mut broken) = (None::<PeopleOutcome>, None::<PeopleOutcome>);
    // The users search's probes: double until an objective breaks, then bisect.
    while let Some(people) = next_probe(
        served.map(|o| o.people),
        broken.map(|o| o.people),
        ceiling.max(1),
    ) {
        let load = PeopleLoad {
            people,
            ..load.clone()
        };
        let outcome = simulate_people(engine, &load);
        if outcome.meets {
            served = Some(outcome);
        } else {
            broken = Some(outcome);
        }
    }
    MaxPeople {
        people: served.map_or(0, |o| o.people),
        served,
        broken,
    }
}

/// Seconds that order totally (the due times are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seconds(f64);

impl Eq for Seconds {}

impl PartialOrd for Seconds {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Seconds {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::sizing::SizingRequest;

    fn engine() -> EngineConfig {
        let cat = Catalogue::builtin();
        let r = SizingRequest::new(
            cat.model("mistral-7b-v0.1").unwrap(),
            cat.gpu("a100-40gb").unwrap(),
        );
        super::super::engine_for(&r).unwrap()
    }

    fn short(people: u32, name: &str) -> PeopleLoad {
        PeopleLoad {
            warmup_s: 120.0,
            window_s: 300.0,
            ..PeopleLoad::new(people, &Workload::preset(name).unwrap())
        }
    }

    #[test]
    fn a_chat_reuses_its_history_and_a_server_without_the_cache_does_not() {
        let e = engine();
        let cached = simulate_people(&e, &short(40, "chat"));
        let load = PeopleLoad {
            prefix_cache: false,
            ..short(40, "chat")
        };
        let uncached = simulate_people(&e, &load);
        assert!(cached.prefix_hit_rate.unwrap() > 0.5, "{cached:?}");
        assert_eq!(uncached.prefix_hit_rate, None);
        assert!(cached.ttft_p95_s.unwrap() < uncached.ttft_p95_s.unwrap());
    }

    #[test]
    fn littles_law_agrees_with_the_time_average() {
        let o = simulate_people(&engine(), &short(60, "chat"));
        let (a, b) = (o.in_flight_mean, o.in_flight_littles_law);
        assert!(a > 0.0 && (a - b).abs() / a < 0.15, "{o:?}");
    }

    #[test]
    fn people_with_think_time_are_many_more_than_requests_in_flight() {
        let o = simulate_people(&engine(), &short(100, "rag"));
        assert!(o.meets, "{o:?}");
        assert!(o.in_flight_mean * 10.0 < 100.0, "{o:?}");
    }

    #[test]
    fn the_search_ends_between_a_served_and_a_broken_population() {
        let load = PeopleLoad {
            warmup_s: 20.0,
            window_s: 60.0,
            ..short(1, "fixed")
        };
        let answer = max_people(&engine(), &load, 10_000);
        let (served, broken) = (answer.served.unwrap(), answer.broken.unwrap());
        assert!(served.meets && !broken.meets);
        assert_eq!(broken.people, answer.people + 1);
    }

    #[test]
    fn the_same_load_gives_the_same_answer() {
        let e = engine();
        assert_eq!(
            simulate_people(&e, &short(20, "code")),
            simulate_people(&e, &short(20, "code"))
        );
    }
}
