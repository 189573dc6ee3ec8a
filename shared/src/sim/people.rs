//! How many people a deployment serves: [`Person`]s following a [`Workload`] (a closed loop
//! with think time) against the simulated engine, and the most people whose every turn meets
//! the workload's objectives.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{EngineConfig, Event, Request, Scheduler};
use crate::people::{Person, Workload};
use crate::stats::Histogram;

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
    /// Seed of every person's draws.
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
    let mut people: Vec<Person> = (0..load.people)
        .map(|i| Person::new(w, i, load.seed))
        .collect();
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
        counted: bool,
    }
    let mut live: Vec<Option<Live>> = Vec::new();
    // The project's one definition of a percentile (nearest rank over a histogram).
    let (mut ttfts, mut speeds) = (Histogram::new(), Histogram::new());
    let mut e2e_sum = 0.0;
    let (mut in_flight, mut in_flight_area, mut output_tokens) = (0usize, 0.0, 0u64);
    let mut t = 0.0_f64;
    let mut counters_at_start = None;
    loop {
        // Send what is due (nothing new after the window: the rest only drains).
        while let Some(&Reverse((Seconds(at), i))) = due.peek() {
            if at > t || at >= end {
                break;
            }
            due.pop();
            let turn = next[i as usize];
            let turn = if load.prefix_cache {
                turn
            } else {
                Person::uncached(turn)
            };
            scheduler.submit_request(Request {
                id: live.len() as u64,
                prompt_tokens: u64::from(turn.prompt_tokens),
                max_tokens: u64::from(turn.output_tokens),
                prefix: turn.prefix,
                keep: turn.keep,
            });
            live.push(Some(Live {
                person: i,
                sent: at.max(0.0),
                first: None,
                tokens: 0,
                counted: (start..end).contains(&at),
            }));
            in_flight += 1;
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
        let step_end = t + seconds;
        // Requests in flight over the part of this step inside the window.
        let overlap = (step_end.min(end) - t.max(start)).max(0.0);
        in_flight_area += in_flight as f64 * overlap;
        t = step_end;
        for (id, event) in scheduler.finish() {
            let Some(Some(r)) = live.get_mut(id as usize) else {
                continue;
            };
            match event {
                Event::Token => {
                    r.first.get_or_insert(t);
                    r.tokens += 1;
                    if (start..end).contains(&t) {
                        output_tokens += 1;
                    }
                }
                Event::Finished => {
                    let Some(r) = live[id as usize].take() else {
                        continue;
                    };
                    in_flight -= 1;
                    let first = r.first.unwrap_or(t);
                    if r.counted {
                        ttfts.record(first - r.sent);
                        e2e_sum += t - r.sent;
                        if r.tokens > 1 && t > first {
                            speeds.record(f64::from(r.tokens - 1) / (t - first));
                        }
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
    let turns = ttfts.count() as u32;
    let ttft_p95_s = ttfts.quantile(0.95);
    let output_tok_s_p5 = speeds.quantile(0.05);
    let counters = scheduler.counters();
    let before = counters_at_start.unwrap_or_default();
    let queried = counters.prefix_queried_tokens - before.prefix_queried_tokens;
    let hits = counters.prefix_hit_tokens - before.prefix_hit_tokens;
    let meets = turns > 0
        && ttft_p95_s.is_some_and(|v| v <= w.ttft_p95_s)
        && output_tok_s_p5.is_none_or(|v| v >= w.min_output_tok_s);
    PeopleOutcome {
        people: load.people,
        turns,
        ttft_p95_s,
        output_tok_s_p5,
        in_flight_mean: in_flight_area / load.window_s,
        in_flight_littles_law: if turns > 0 {
            f64::from(turns) / load.window_s * (e2e_sum / f64::from(turns))
        } else {
            0.0
        },
        prefix_hit_rate: (queried > 0).then(|| hits as f64 / queried as f64),
        output_tok_s: output_tokens as f64 / load.window_s,
        meets,
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
    let run = |people: u32| {
        simulate_people(
            engine,
            &PeopleLoad {
                people,
                ..load.clone()
            },
        )
    };
    let first = run(1);
    if !first.meets {
        return MaxPeople {
            people: 0,
            served: None,
            broken: Some(first),
        };
    }
    let (mut good, mut bad) = (first, None::<PeopleOutcome>);
    while bad.is_none() && good.people < ceiling {
        let outcome = run(good.people.saturating_mul(2).min(ceiling));
        if outcome.meets {
            good = outcome;
        } else {
            bad = Some(outcome);
        }
    }
    while let Some(b) = bad {
        if b.people - good.people <= 1 {
            break;
        }
        let outcome = run(good.people + (b.people - good.people) / 2);
        if outcome.meets {
            good = outcome;
        } else {
            bad = Some(outcome);
        }
    }
    MaxPeople {
        people: good.people,
        served: Some(good),
        broken: bad,
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
