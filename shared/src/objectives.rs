//! Objectives and stop rules: when a step is good enough, and when a climb stops. One
//! [`judge`] serves `jauge run`'s rows, `jauge limit`'s search, the study and the simulator,
//! so the same step gets the same verdict everywhere, with a typed [`Breach`] that names the
//! rule, the figure and the limit.
//!
//! ```
//! use jauge::objectives::{judge, Breach, Percentile, Rules, Slo, Verdict};
//! let step = jauge::dataset::example().steps[0].clone(); // TTFT p50 120 ms, p95 204 ms
//! let mut rules = Rules::objectives(Slo { ttft_ms: Some(150.0), tpot_ms: None }, Percentile::P95);
//! assert!(matches!(judge(&step, &rules, None), Verdict::Breach(Breach::Ttft { .. })));
//! rules.percentile = Percentile::P50;
//! assert_eq!(judge(&step, &rules, None), Verdict::Meets);
//! ```

use std::fmt;

use crate::dataset::{ErrorKind, LimitReason, Step, Summary, TtftOf};
use crate::record::RequestRecord;

/// Latency objectives: at most this TTFT and this TPOT (ms).
///
/// ```
/// let slo = jauge::objectives::Slo { ttft_ms: Some(100.0), tpot_ms: None };
/// assert!(slo.any());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slo {
    /// Most time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// Most time per output token, ms.
    pub tpot_ms: Option<f64>,
}

impl Slo {
    /// Whether it sets any objective.
    pub fn any(&self) -> bool {
        self.ttft_ms.is_some() || self.tpot_ms.is_some()
    }

    /// Whether one request met every objective (for goodput): a request without a first
    /// token misses a TTFT objective.
    ///
    /// ```
    /// use jauge::objectives::Slo;
    /// let r = jauge::record::RequestRecord::completed(1, 16, 0, 0.0, 50.0, 250.0, 11);
    /// assert!(Slo { ttft_ms: Some(60.0), tpot_ms: Some(20.0) }.met_by(&r));
    /// assert!(!Slo { ttft_ms: Some(40.0), tpot_ms: None }.met_by(&r));
    /// ```
    pub fn met_by(&self, r: &RequestRecord) -> bool {
        let ttft_ok = match (self.ttft_ms, r.ttft_ms()) {
            (Some(limit), Some(v)) => v <= limit,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let tpot_ok = match (self.tpot_ms, r.tpot_ms()) {
            (Some(limit), Some(v)) => v <= limit,
            _ => true,
        };
        ttft_ok && tpot_ok
    }
}

/// The percentile of a step's TTFT and TPOT that the objectives apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Percentile {
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 95th percentile (the study's and `jauge run`'s).
    #[default]
    P95,
    /// The 99th percentile.
    P99,
}

impl Percentile {
    /// From its number (50, 90, 95, 99).
    ///
    /// ```
    /// use jauge::objectives::Percentile;
    /// assert_eq!(Percentile::from_number(99), Some(Percentile::P99));
    /// assert_eq!(Percentile::from_number(75), None);
    /// ```
    pub fn from_number(n: u32) -> Option<Percentile> {
        match n {
            50 => Some(Percentile::P50),
            90 => Some(Percentile::P90),
            95 => Some(Percentile::P95),
            99 => Some(Percentile::P99),
            _ => None,
        }
    }

    /// Its number.
    pub fn number(self) -> u32 {
        match self {
            Percentile::P50 => 50,
            Percentile::P90 => 90,
            Percentile::P95 => 95,
            Percentile::P99 => 99,
        }
    }

    /// This percentile of a summary, when it gives it.
    pub fn of(self, s: &Summary) -> Option<f64> {
        match self {
            Percentile::P50 => s.p50,
            Percentile::P90 => s.p90,
            Percentile::P95 => s.p95,
            Percentile::P99 => s.p99,
        }
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.number())
    }
}

/// Every rule a step is judged by. [`Rules::objectives`] sets the objectives alone (a
/// search); `jauge run` adds the plateau and the server's signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// The latency objectives.
    pub slo: Slo,
    /// Which percentile they apply to.
    pub percentile: Percentile,
    /// Which first token the TTFT objective times.
    pub ttft_of: TtftOf,
    /// Most failed share of a step's requests, 0–1.
    pub max_error_rate: f64,
    /// A climb stops when output throughput rises less than this share over the best so far;
    /// `None` climbs on.
    pub min_throughput_gain: Option<f64>,
    /// A step breaks when the server preempted requests (its KV cache is full).
    pub stop_on_preemption: bool,
    /// A step breaks when the server's queue kept growing through it.
    pub stop_on_queue: bool,
}

/// The error budget when none is given: 5 % of a step's requests.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.05;

impl Rules {
    /// Objectives at a percentile, the default error budget, no other rule.
    pub fn objectives(slo: Slo, percentile: Percentile) -> Rules {
        Rules {
            slo,
            percentile,
            ttft_of: TtftOf::FirstToken,
            max_error_rate: DEFAULT_MAX_ERROR_RATE,
            min_throughput_gain: None,
            stop_on_preemption: false,
            stop_on_queue: false,
        }
    }
}

/// Which rule a step broke, with the figure and the limit.
#[derive(Debug, Clone, PartialEq)]
pub enum Breach {
    /// More requests failed than the budget allows.
    Errors {
        /// Requests that failed.
        failed: u32,
        /// Requests sent.
        sent: u32,
        /// The most frequent kind of failure.
        kind: ErrorKind,
        /// How many failed that way.
        count: u32,
        /// The first message of that kind.
        example: Option<String>,
        /// Nothing completed and every failure was a refused or cut connection.
        server_down: bool,
    },
    /// TTFT at the percentile above its objective.
    Ttft {
        /// Which first token was timed.
        of: TtftOf,
        /// The percentile judged.
        percentile: Percentile,
        /// The step's value, ms.
        value_ms: f64,
        /// The objective, ms.
        limit_ms: f64,
    },
    /// TPOT at the percentile above its objective.
    Tpot {
        /// The percentile judged.
        percentile: Percentile,
        /// The step's value, ms.
        value_ms: f64,
        /// The objective, ms.
        limit_ms: f64,
    },
    /// The server preempted requests.
    Preemption {
        /// How many.
        count: u32,
    },
    /// The server's queue kept growing through the step.
    QueueGrowing,
}

impl Breach {
    /// The reason a row or a search records for it.
    ///
    /// ```
    /// use jauge::objectives::{Breach, Percentile};
    /// let b = Breach::Tpot { percentile: Percentile::P95, value_ms: 120.0, limit_ms: 100.0 };
    /// assert_eq!(b.reason(), jauge::dataset::LimitReason::SloTpot);
    /// ```
    pub fn reason(&self) -> LimitReason {
        match self {
            Breach::Errors {
                server_down: true, ..
            } => LimitReason::ServerDown,
            Breach::Errors {
                kind: ErrorKind::ContextLength,
                ..
            } => LimitReason::ContextLength,
            Breach::Errors { .. } => LimitReason::Errors,
            Breach::Ttft { .. } => LimitReason::SloTtft,
            Breach::Tpot { .. } => LimitReason::SloTpot,
            Breach::Preemption { .. } => LimitReason::Preemption,
            Breach::QueueGrowing => LimitReason::QueueGrowing,
        }
    }

    /// Whether climbing further can only break it harder (errors: the budget is spent).
    pub fn is_errors(&self) -> bool {
        matches!(self, Breach::Errors { .. })
    }
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Errors {
                failed,
                sent,
                kind,
                count,
                example,
                ..
            } => {
                write!(
                    f,
                    "{failed} of {sent} requests failed ({count} {})",
                    kind.name()
                )?;
                match example {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
            Breach::Ttft {
                of,
                percentile,
                value_ms,
                limit_ms,
            } => write!(
                f,
                "{}TTFT {percentile} {value_ms:.0} ms is above the {limit_ms:.0} ms objective",
                match of {
                    TtftOf::FirstToken => "",
                    TtftOf::Answer => "the answer's ",
                }
            ),
            Breach::Tpot {
                percentile,
                value_ms,
                limit_ms,
            } => write!(
                f,
                "TPOT {percentile} {value_ms:.1} ms is above the {limit_ms:.1} ms objective"
            ),
            Breach::Preemption { count } => write!(
                f,
                "the server preempted {count} requests: its KV cache is full"
            ),
            Breach::QueueGrowing => {
                f.write_str("the server's queue of waiting requests kept growing through the step")
            }
        }
    }
}

/// What a step means for a climb or a search.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every rule held.
    Meets,
    /// Every rule held, but output throughput no longer rises: the climb ends here, the step
    /// itself held.
    Plateau {
        /// The step's output tok/s.
        output_tok_s: f64,
        /// The best so far.
        best_tok_s: f64,
        /// The rise asked for, as a share.
        gain: f64,
    },
    /// A rule broke.
    Breach(Breach),
}

impl Verdict {
    /// Whether the step met the objectives (a plateau did).
    pub fn meets(&self) -> bool {
        !matches!(self, Verdict::Breach(_))
    }

    /// What a row that ends here records: its reason, whether the step held, and the detail.
    /// `None` when the climb goes on.
    ///
    /// ```
    /// use jauge::objectives::Verdict;
    /// let v = Verdict::Plateau { output_tok_s: 100.0, best_tok_s: 99.0, gain: 0.02 };
    /// let (reason, held, _) = v.stop().unwrap();
    /// assert_eq!(reason, jauge::dataset::LimitReason::ThroughputPlateau);
    /// assert!(held);
    /// assert!(Verdict::Meets.stop().is_none());
    /// ```
    pub fn stop(&self) -> Option<(LimitReason, bool, String)> {
        match self {
            Verdict::Meets => None,
            Verdict::Plateau {
                output_tok_s,
                best_tok_s,
                gain,
            } => Some((
                LimitReason::ThroughputPlateau,
                true,
                format!(
                    "output throughput {output_tok_s:.0} tok/s did not rise {:.0} % above the row's best {best_tok_s:.0} tok/s",
                    gain * 100.0
                ),
            )),
            Verdict::Breach(b) => Some((b.reason(), false, b.to_string())),
        }
    }
}

/// Judges a step against `rules`, given the best output throughput of its climb so far (for
/// the plateau rule). The order is the order of severity: errors, then the objectives, then
/// the server's signals, then the plateau.
///
/// ```
/// use jauge::objectives::{judge, Breach, Rules, Verdict};
/// let mut step = jauge::dataset::example().steps[0].clone();
/// let r = step.requests.as_mut().unwrap();
/// r.failed = 2;
/// r.completed = r.sent - 2;
/// step.errors = [(jauge::dataset::ErrorKind::Timeout, 2)].into();
/// let verdict = judge(&step, &Rules::objectives(Default::default(), Default::default()), None);
/// assert!(matches!(verdict, Verdict::Breach(Breach::Errors { failed: 2, .. })));
/// ```
pub fn judge(step: &Step, rules: &Rules, best_output_tok_s: Option<f64>) -> Verdict {
    // A step without counts (a published one that does not give them) cannot break the
    // error budget; its latency and throughput are still judged.
    if let Some(breach) = step.requests.and_then(|r| errors(step, r, rules)) {
        return Verdict::Breach(breach);
    }
    objectives(step, rules, best_output_tok_s)
}

/// The error budget broken, when it is.
fn errors(step: &Step, r: crate::dataset::RequestCounts, rules: &Rules) -> Option<Breach> {
    let sent = r.sent.max(1);
    let failed = r.failed;
    if f64::from(failed) / f64::from(sent) > rules.max_error_rate {
        let (kind, count) = step
            .errors
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(k, n)| (*k, *n))
            .unwrap_or((ErrorKind::Other, failed));
        return Some(Breach::Errors {
            failed,
            sent,
            kind,
            count,
            example: step.error_messages.get(&kind).cloned(),
            server_down: r.completed == 0
                && !step.errors.is_empty()
                && step.errors.keys().all(|k| *k == ErrorKind::Connection),
        });
    }
    None
}

/// The latency objectives, the server's signals and the plateau.
fn objectives(step: &Step, rules: &Rules, best_output_tok_s: Option<f64>) -> Verdict {
    let at = |s: Option<Summary>| s.and_then(|s| rules.percentile.of(&s));
    // Without reasoning, the first token is the answer's.
    let ttft = match rules.ttft_of {
        TtftOf::FirstToken => step.latency.ttft_ms,
        TtftOf::Answer => step.latency.ttft_answer_ms.or(step.latency.ttft_ms),
    };
    if let (Some(limit_ms), Some(value_ms)) = (rules.slo.ttft_ms, at(ttft)) {
        if value_ms > limit_ms {
            return Verdict::Breach(Breach::Ttft {
                of: rules.ttft_of,
                percentile: rules.percentile,
                value_ms,
                limit_ms,
            });
        }
    }
    if let (Some(limit_ms), Some(value_ms)) = (rules.slo.tpot_ms, at(step.latency.tpot_ms)) {
        if value_ms > limit_ms {
            return Verdict::Breach(Breach::Tpot {
                percentile: rules.percentile,
                value_ms,
                limit_ms,
            });
        }
    }
    let server = step.server.as_ref();
    if rules.stop_on_preemption {
        if let Some(count) = server.and_then(|s| s.preemptions).filter(|n| *n > 0) {
            return Verdict::Breach(Breach::Preemption { count });
        }
    }
    if rules.stop_on_queue && server.and_then(|s| s.waiting_growing) == Some(true) {
        return Verdict::Breach(Breach::QueueGrowing);
    }
    if let (Some(gain), Some(best), Some(now)) = (
        rules.min_throughput_gain,
        best_output_tok_s,
        step.throughput.output_tok_s,
    ) {
        if best > 0.0 && now < best * (1.0 + gain) {
            return Verdict::Plateau {
                output_tok_s: now,
                best_tok_s: best,
                gain,
            };
        }
    }
    Verdict::Meets
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn step(failed: u32, kind: ErrorKind, ttft_p95: f64, tok_s: f64) -> Step {
        let mut s = crate::dataset::example().steps[0].clone();
        let r = s.requests.as_mut().unwrap();
        r.failed = failed;
        r.completed = r.sent - failed;
        s.errors = if failed > 0 {
            BTreeMap::from([(kind, failed)])
        } else {
            BTreeMap::new()
        };
        if let Some(t) = s.latency.ttft_ms.as_mut() {
            t.p95 = Some(ttft_p95);
            t.p99 = t.p99.map(|v| v.max(ttft_p95));
            t.max = t.max.map(|v| v.max(ttft_p95));
        }
        s.throughput.output_tok_s = Some(tok_s);
        s
    }

    fn rules() -> Rules {
        Rules {
            slo: Slo {
                ttft_ms: Some(1000.0),
                tpot_ms: Some(100.0),
            },
            percentile: Percentile::P95,
            ttft_of: TtftOf::FirstToken,
            max_error_rate: 0.05,
            min_throughput_gain: Some(0.02),
            stop_on_preemption: false,
            stop_on_queue: false,
        }
    }

    #[test]
    fn a_step_within_every_rule_meets() {
        assert_eq!(
            judge(&step(0, ErrorKind::Other, 500.0, 200.0), None, &rules()),
            Verdict::Meets
        );
    }

    fn judge(step: &Step, best: Option<f64>, rules: &Rules) -> Verdict {
        super::judge(step, rules, best)
    }

    #[test]
    fn context_errors_are_a_context_limit() {
        let v = judge(
            &step(4, ErrorKind::ContextLength, 500.0, 200.0),
            None,
            &rules(),
        );
        assert_eq!(v.stop().map(|s| s.0), Some(LimitReason::ContextLength));
    }

    #[test]
    fn a_step_where_every_connection_failed_is_a_server_down() {
        let mut s = step(4, ErrorKind::Connection, 500.0, 200.0);
        let r = s.requests.as_mut().unwrap();
        r.failed = r.sent;
        r.completed = 0;
        s.errors = BTreeMap::from([(ErrorKind::Connection, r.sent)]);
        assert_eq!(
            judge(&s, None, &rules()).stop().map(|s| s.0),
            Some(LimitReason::ServerDown)
        );
    }

    #[test]
    fn errors_within_the_budget_do_not_stop() {
        // 1 of the example's 16 requests: 6.25 %, under a 10 % budget, over a 5 % one.
        let s = step(1, ErrorKind::Timeout, 500.0, 200.0);
        let mut r = rules();
        assert!(matches!(
            judge(&s, None, &r),
            Verdict::Breach(Breach::Errors { .. })
        ));
        r.max_error_rate = 0.10;
        assert_eq!(judge(&s, None, &r), Verdict::Meets);
    }

    #[test]
    fn ttft_breach_names_the_figure_and_the_limit() {
        let v = judge(&step(0, ErrorKind::Other, 1500.0, 200.0), None, &rules());
        let Verdict::Breach(b) = v else {
            panic!("{v:?}")
        };
        assert_eq!(b.reason(), LimitReason::SloTtft);
        assert_eq!(
            b.to_string(),
            "TTFT p95 1500 ms is above the 1000 ms objective"
        );
    }

    #[test]
    fn a_plateau_holds_the_step_and_ends_the_climb() {
        let v = judge(
            &step(0, ErrorKind::Other, 500.0, 101.0),
            Some(100.0),
            &rules(),
        );
        assert!(matches!(v, Verdict::Plateau { .. }));
        assert!(v.meets());
        let v = judge(
            &step(0, ErrorKind::Other, 500.0, 150.0),
            Some(100.0),
            &rules(),
        );
        assert_eq!(v, Verdict::Meets);
    }

    #[test]
    fn preemptions_and_a_growing_queue_break_only_when_asked() {
        let mut s = step(0, ErrorKind::Other, 500.0, 200.0);
        s.server = Some(crate::dataset::ServerStep {
            preemptions: Some(3),
            waiting_growing: Some(true),
            ..Default::default()
        });
        assert_eq!(judge(&s, None, &rules()), Verdict::Meets);
        let mut r = rules();
        r.stop_on_queue = true;
        assert_eq!(judge(&s, None, &r), Verdict::Breach(Breach::QueueGrowing));
        r.stop_on_preemption = true;
        assert_eq!(
            judge(&s, None, &r),
            Verdict::Breach(Breach::Preemption { count: 3 })
        );
    }
}
