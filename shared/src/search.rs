//! The two searches of the study, each written once and driven by a live server (`jauge
//! limit`, `jauge study`) or by the simulator: the most users whose steps meet the objectives
//! (climb 1, 2, 4, … then bisect), and the largest prompt a deployment serves (its ceiling
//! first, then bisect or double).

use crate::dataset::LimitReason;
use crate::objectives::{Breach, Verdict};

/// The next concurrency to probe in a search for the most users that meet objectives, given
/// the largest that passed and the smallest that failed so far: double until one fails, then
/// bisect; `None` when they are adjacent or the ceiling held.
///
/// ```
/// use jauge::search::next_probe;
/// assert_eq!(next_probe(None, None, 64), Some(1));
/// assert_eq!(next_probe(Some(8), None, 64), Some(16));
/// assert_eq!(next_probe(Some(8), Some(16), 64), Some(12));
/// assert_eq!(next_probe(Some(10), Some(11), 64), None);
/// ```
pub fn next_probe(passed: Option<u32>, failed: Option<u32>, ceiling: u32) -> Option<u32> {
    match (passed, failed) {
        (None, None) => Some(1),
        (Some(p), None) if p >= ceiling => None,
        (Some(p), None) => Some(p.saturating_mul(2).min(ceiling)),
        (None, Some(1)) => None,
        (None, Some(f)) => Some(f / 2),
        (Some(p), Some(f)) if f - p <= 1 => None,
        (Some(p), Some(f)) => Some(p + (f - p) / 2),
    }
}

/// A search for the most users whose steps meet the objectives: what it knows so far (the
/// largest concurrency that met them, the smallest that did not and why) and what to probe
/// next. Verdicts may come from a grid first (the study) and then from the search's own
/// probes.
///
/// ```
/// use jauge::objectives::{Breach, Verdict};
/// use jauge::search::UsersSearch;
/// let mut search = UsersSearch::new(256);
/// let truth = 10;
/// while let Some(users) = search.next() {
///     let verdict = if users <= truth { Verdict::Meets } else { Verdict::Breach(Breach::QueueGrowing) };
///     search.record(users, verdict);
/// }
/// assert_eq!((search.passed(), search.failed_at()), (Some(10), Some(11)));
/// assert_eq!(search.probes(), 8); // 1, 2, 4, 8, 16, 12, 10, 11
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UsersSearch {
    ceiling: u32,
    passed: Option<u32>,
    failed: Option<(u32, Breach)>,
    probes: u32,
}

impl UsersSearch {
    /// A search that never probes above `ceiling` users.
    pub fn new(ceiling: u32) -> UsersSearch {
        UsersSearch {
            ceiling: ceiling.max(1),
            passed: None,
            failed: None,
            probes: 0,
        }
    }

    /// The next concurrency to probe; `None` when the search is done (or the server is down).
    pub fn next(&self) -> Option<u32> {
        if self.server_down() {
            return None;
        }
        next_probe(self.passed, self.failed_at(), self.ceiling)
    }

    /// Notes a step's verdict at `users` (a probe of the search, counted).
    pub fn record(&mut self, users: u32, verdict: Verdict) {
        self.probes += 1;
        self.learn(users, verdict);
    }

    /// Notes a verdict the search did not probe itself (a grid's step): below the first
    /// failure a pass raises the floor; a failure lowers the ceiling of the search.
    pub fn learn(&mut self, users: u32, verdict: Verdict) {
        let below_failure = self.failed_at().is_none_or(|f| users < f);
        match verdict {
            Verdict::Breach(breach) if below_failure => self.failed = Some((users, breach)),
            Verdict::Breach(_) => {}
            _ if below_failure && self.passed.is_none_or(|p| users > p) => {
                self.passed = Some(users)
            }
            _ => {}
        }
    }

    /// The most users that met the objectives.
    pub fn passed(&self) -> Option<u32> {
        self.passed
    }

    /// The fewest that did not.
    pub fn failed_at(&self) -> Option<u32> {
        self.failed.as_ref().map(|f| f.0)
    }

    /// Why they did not.
    pub fn breach(&self) -> Option<&Breach> {
        self.failed.as_ref().map(|f| &f.1)
    }

    /// Probes the search measured itself.
    pub fn probes(&self) -> u32 {
        self.probes
    }

    /// The server stopped answering: nothing more to learn.
    pub fn server_down(&self) -> bool {
        self.breach()
            .is_some_and(|b| b.reason() == LimitReason::ServerDown)
    }

    /// How it ended: the reason, the concurrency that broke, and why in words (`ceiling`
    /// names the limit that held when nothing broke, e.g. `--max-users 128`).
    ///
    /// ```
    /// let search = jauge::search::UsersSearch::new(64);
    /// let (reason, _, why) = search.outcome("--max-users 64");
    /// assert_eq!(reason, jauge::dataset::LimitReason::GridEnd);
    /// assert_eq!(why, "held up to --max-users 64");
    /// ```
    pub fn outcome(&self, ceiling: &str) -> (LimitReason, Option<u32>, String) {
        match &self.failed {
            Some((users, breach)) => (breach.reason(), Some(*users), breach.to_string()),
            None => (LimitReason::GridEnd, None, format!("held up to {ceiling}")),
        }
    }
}

/// Where a search on prompt tokens starts, how fine it ends and how far it may go.
///
/// The server's own ceiling (`max_model_len` − output tokens) is probed first: on a healthy
/// deployment it passes, and one probe a step above it records the server's refusal, so the
/// usual search costs two probes. When the ceiling fails (time-outs, memory) the search bisects
/// below it; without a ceiling it doubles from `start` until a probe fails, then bisects.
/// It ends when the largest prompt that passed and the smallest that failed are at most
/// `step` tokens apart.
///
/// ```
/// use jauge::search::ContextSearch;
/// // A server that serves prompts up to 5,000 tokens and reports no ceiling.
/// let search = ContextSearch { start: 1024, ceiling: None, step: 64, cap: 1 << 20 };
/// let (found, refused, probes) = search.run(|prompt| prompt <= 5_000);
/// assert_eq!(found, Some(4992));
/// assert_eq!(refused, Some(5056));
/// assert!(probes <= 12);
/// // With the ceiling reported: two probes.
/// let search = ContextSearch { start: 1024, ceiling: Some(5_000), step: 64, cap: 1 << 20 };
/// assert_eq!(search.run(|prompt| prompt <= 5_000), (Some(5_000), Some(5_064), 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextSearch {
    /// The first prompt size when no ceiling is known.
    pub start: u32,
    /// The largest prompt the server says it accepts, probed first.
    pub ceiling: Option<u32>,
    /// The search's resolution, tokens.
    pub step: u32,
    /// Never probe above this.
    pub cap: u32,
}

impl ContextSearch {
    /// The next prompt size to probe, given the largest that passed and the smallest that
    /// failed so far; `None` when the search is done.
    ///
    /// ```
    /// use jauge::search::ContextSearch;
    /// let s = ContextSearch { start: 1000, ceiling: Some(4000), step: 100, cap: 10_000 };
    /// assert_eq!(s.next(None, None), Some(4000));
    /// assert_eq!(s.next(Some(4000), None), Some(4100));
    /// assert_eq!(s.next(None, Some(4000)), Some(2000));
    /// assert_eq!(s.next(Some(2000), Some(4000)), Some(3000));
    /// assert_eq!(s.next(Some(3950), Some(4000)), None);
    /// ```
    pub fn next(&self, passed: Option<u32>, failed: Option<u32>) -> Option<u32> {
        let step = self.step.max(1);
        let cap = self.cap.max(1);
        match (passed, failed) {
            (None, None) => Some(self.ceiling.unwrap_or(self.start).clamp(1, cap)),
            (Some(p), None) if p >= cap => None,
            // The ceiling held: one step above it shows how the server refuses.
            (Some(p), None) if Some(p) == self.ceiling => Some(p.saturating_add(step).min(cap)),
            (Some(p), None) => Some(p.saturating_mul(2).min(cap)),
            (None, Some(f)) if f <= 1 => None,
            (None, Some(f)) => Some((f / 2).max(1)),
            (Some(p), Some(f)) if f.saturating_sub(p) <= step => None,
            (Some(p), Some(f)) => Some(p + (f - p) / 2),
        }
    }

    /// Runs the search with `serves(prompt)` as the probe: (largest that passed, smallest that
    /// failed, probes).
    ///
    /// ```
    /// use jauge::search::ContextSearch;
    /// let s = ContextSearch { start: 512, ceiling: None, step: 16, cap: 4096 };
    /// assert_eq!(s.run(|_| true), (Some(4096), None, 4)); // 512, 1024, 2048, 4096
    /// assert_eq!(s.run(|_| false).0, None);
    /// ```
    pub fn run(&self, mut serves: impl FnMut(u32) -> bool) -> (Option<u32>, Option<u32>, u32) {
        let (mut passed, mut failed, mut probes) = (None, None, 0);
        while let Some(prompt) = self.next(passed, failed) {
            probes += 1;
            if serves(prompt) {
                passed = Some(prompt);
            } else {
                failed = Some(prompt);
            }
        }
        (passed, failed, probes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the true limit, the search ends with it between the largest prompt that
        /// passed and the smallest that failed, at most one step apart.
        #[test]
        fn finds_any_limit_within_one_step(
            limit in 1u32..200_000, start in 1u32..10_000, step in 1u32..512,
            ceiling in proptest::option::of(1u32..200_000),
        ) {
            let search = ContextSearch { start, ceiling, step, cap: 1 << 20 };
            let (passed, failed, probes) = search.run(|p| p <= limit);
            let failed = failed.expect("the cap is above every limit");
            let passed = passed.expect("one token always passes");
            prop_assert!(failed > limit && passed <= limit);
            prop_assert!(failed - passed <= step, "{passed}..{failed} wider than {step}");
            prop_assert!(probes <= 64);
        }
    }

    /// A grid of 1, 4, 16 that passes at 1 and 4 and fails at 16 leaves 5–15 to bisect; a
    /// noisy pass above the first failure changes nothing.
    #[test]
    fn a_grid_narrows_the_search_before_its_first_probe() {
        let mut s = UsersSearch::new(128);
        s.learn(1, Verdict::Meets);
        s.learn(4, Verdict::Meets);
        s.learn(16, Verdict::Breach(Breach::QueueGrowing));
        s.learn(32, Verdict::Meets);
        assert_eq!(
            (s.passed(), s.failed_at(), s.probes()),
            (Some(4), Some(16), 0)
        );
        assert_eq!(s.next(), Some(10));
    }

    #[test]
    fn the_ceiling_and_the_floor_end_the_search() {
        assert_eq!(next_probe(Some(64), None, 64), None);
        assert_eq!(next_probe(Some(32), None, 48), Some(48));
        assert_eq!(next_probe(None, Some(1), 64), None);
    }
}
