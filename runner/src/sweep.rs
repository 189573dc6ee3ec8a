//! The sweep: for each prompt size (a row), climb the concurrencies until the deployment
//! breaks, writing each finished step before starting the next.

use jauge::dataset::{ErrorKind, LimitReason, Step};

use crate::aggregate::Slo;

/// When a row stops climbing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRules {
    /// Most failed share of a step's requests.
    pub max_error_rate: f64,
    /// Objectives on p95 TTFT and TPOT.
    pub slo: Slo,
    /// Least rise of output throughput over the best so far; `None` climbs the whole grid.
    pub min_throughput_gain: Option<f64>,
}

/// What a finished step means for its row.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Held: climb on.
    Climb,
    /// The row stops here.
    Stop {
        /// Why.
        reason: LimitReason,
        /// Whether the deployment still held this step (a plateau) or broke at it.
        held: bool,
        /// For a reader.
        detail: String,
    },
}

/// Judges a step against the rules, given the best output throughput of the row so far.
pub fn judge(step: &Step, best_output_tok_s: Option<f64>, rules: &StopRules) -> Verdict {
    let sent = step.requests.sent.max(1);
    let failed = step.requests.failed;
    if f64::from(failed) / f64::from(sent) > rules.max_error_rate {
        let (kind, count) = step
            .errors
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(k, n)| (*k, *n))
            .unwrap_or((ErrorKind::Other, failed));
        let reason = match kind {
            ErrorKind::ContextLength => LimitReason::ContextLength,
            ErrorKind::Connection if step.requests.completed == 0 => LimitReason::ServerDown,
            _ => LimitReason::Errors,
        };
        let example = step
            .error_messages
            .get(&kind)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Verdict::Stop {
            reason,
            held: false,
            detail: format!(
                "{failed} of {sent} requests failed ({count} {}){example}",
                kind.name()
            ),
        };
    }
    if let (Some(limit), Some(p95)) = (rules.slo.ttft_ms, step.latency.ttft_ms.map(|s| s.p95)) {
        if p95 > limit {
            return Verdict::Stop {
                reason: LimitReason::SloTtft,
                held: false,
                detail: format!("TTFT p95 {p95:.0} ms is above the {limit:.0} ms objective"),
            };
        }
    }
    if let (Some(limit), Some(p95)) = (rules.slo.tpot_ms, step.latency.tpot_ms.map(|s| s.p95)) {
        if p95 > limit {
            return Verdict::Stop {
                reason: LimitReason::SloTpot,
                held: false,
                detail: format!("TPOT p95 {p95:.1} ms is above the {limit:.1} ms objective"),
            };
        }
    }
    if let (Some(gain), Some(best)) = (rules.min_throughput_gain, best_output_tok_s) {
        let now = step.throughput.output_tok_s;
        if best > 0.0 && now < best * (1.0 + gain) {
            return Verdict::Stop {
                reason: LimitReason::ThroughputPlateau,
                held: true,
                detail: format!(
                    "output throughput {now:.0} tok/s did not rise {:.0} % above the row's best {best:.0} tok/s",
                    gain * 100.0
                ),
            };
        }
    }
    Verdict::Climb
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn step(failed: u32, kind: ErrorKind, ttft_p95: f64, tok_s: f64) -> Step {
        let mut s = jauge::dataset::example().steps[0].clone();
        s.requests.failed = failed;
        s.requests.completed = s.requests.sent - failed;
        s.errors = if failed > 0 {
            BTreeMap::from([(kind, failed)])
        } else {
            BTreeMap::new()
        };
        if let Some(t) = s.latency.ttft_ms.as_mut() {
            t.p95 = ttft_p95;
        }
        s.throughput.output_tok_s = tok_s;
        s
    }

    fn rules() -> StopRules {
        StopRules {
            max_error_rate: 0.05,
            slo: Slo {
                ttft_ms: Some(1000.0),
                tpot_ms: None,
            },
            min_throughput_gain: Some(0.02),
        }
    }

    #[test]
    fn a_healthy_rising_step_climbs() {
        assert_eq!(
            judge(
                &step(0, ErrorKind::Other, 500.0, 200.0),
                Some(100.0),
                &rules()
            ),
            Verdict::Climb
        );
        assert_eq!(
            judge(&step(0, ErrorKind::Other, 500.0, 200.0), None, &rules()),
            Verdict::Climb
        );
    }

    #[test]
    fn errors_above_the_threshold_stop_with_the_dominant_kind() {
        let Verdict::Stop {
            reason,
            held,
            detail,
        } = judge(
            &step(4, ErrorKind::ContextLength, 500.0, 200.0),
            None,
            &rules(),
        )
        else {
            panic!("should stop")
        };
        assert_eq!((reason, held), (LimitReason::ContextLength, false));
        assert!(
            detail.starts_with("4 of 16 requests failed (4 context_length)"),
            "{detail}"
        );
    }

    #[test]
    fn one_failure_in_sixteen_is_within_five_percent_tolerance_only_if_below() {
        // 1/16 = 6.25 % > 5 %.
        assert!(matches!(
            judge(&step(1, ErrorKind::Timeout, 500.0, 200.0), None, &rules()),
            Verdict::Stop {
                reason: LimitReason::Errors,
                ..
            }
        ));
    }

    #[test]
    fn slo_breach_stops() {
        assert!(matches!(
            judge(&step(0, ErrorKind::Other, 1500.0, 200.0), None, &rules()),
            Verdict::Stop {
                reason: LimitReason::SloTtft,
                held: false,
                ..
            }
        ));
    }

    #[test]
    fn a_plateau_stops_but_holds() {
        assert!(matches!(
            judge(
                &step(0, ErrorKind::Other, 500.0, 101.0),
                Some(100.0),
                &rules()
            ),
            Verdict::Stop {
                reason: LimitReason::ThroughputPlateau,
                held: true,
                ..
            }
        ));
        let no_plateau = StopRules {
            min_throughput_gain: None,
            ..rules()
        };
        assert_eq!(
            judge(
                &step(0, ErrorKind::Other, 500.0, 50.0),
                Some(100.0),
                &no_plateau
            ),
            Verdict::Climb
        );
    }
}
