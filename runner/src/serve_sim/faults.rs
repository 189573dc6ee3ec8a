//! Faults the simulated server injects, for testing how a load run copes.
//!
//! `--fault KIND:RATE[:ARG]`, repeatable; each request draws once from a seeded generator, so
//! a run with the same seed fails the same requests.

use std::time::Duration;

use jauge::rng::SplitMix64;

/// One kind of failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Answer with this HTTP status (500, 429, 503) before streaming.
    Status(u16),
    /// Answer 400 with vLLM's context-length body.
    ContextLength,
    /// Close the connection in the middle of the stream.
    Reset,
    /// Stop sending tokens for this long, then go on.
    Stall(Duration),
    /// Send a line that is not valid JSON in the middle of the stream.
    Malformed,
}

/// A fault and the share of requests it hits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Share of requests, 0–1.
    pub rate: f64,
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `http-500:0.1`, `http-429:0.05`, `http-503:0.05`, `context:0.1`, `reset:0.1`,
    /// `stall:0.1:2s`, `malformed:0.1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "expected KIND:RATE, KIND one of http-500, http-429, http-503, context, reset, malformed, or stall:RATE:DURATION";
        let parts: Vec<&str> = s.split(':').collect();
        let rate: f64 = parts
            .get(1)
            .and_then(|r| r.parse().ok())
            .filter(|r: &f64| (0.0..=1.0).contains(r))
            .ok_or_else(|| format!("--fault {s}: {usage}; RATE between 0 and 1"))?;
        let kind = match parts[0] {
            "http-500" => FaultKind::Status(500),
            "http-429" => FaultKind::Status(429),
            "http-503" => FaultKind::Status(503),
            "context" => FaultKind::ContextLength,
            "reset" => FaultKind::Reset,
            "malformed" => FaultKind::Malformed,
            "stall" => {
                let d = parts
                    .get(2)
                    .and_then(|d| humantime::parse_duration(d).ok())
                    .ok_or_else(|| {
                        format!("--fault {s}: stall needs a duration, e.g. stall:0.1:2s")
                    })?;
                FaultKind::Stall(d)
            }
            _ => return Err(format!("--fault {s}: {usage}")),
        };
        Ok(Fault { kind, rate })
    }
}

/// Draws the fault (if any) for each request, and where in the stream it strikes.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    faults: Vec<Fault>,
    rng: SplitMix64,
}

impl FaultPlan {
    /// A plan from faults and a seed.
    pub fn new(faults: Vec<Fault>, seed: u64) -> FaultPlan {
        FaultPlan {
            faults,
            rng: SplitMix64::new(seed),
        }
    }

    /// The fault for the next request, with the output token after which it strikes.
    pub fn draw(&mut self, max_tokens: u64) -> Option<(FaultKind, u64)> {
        let roll = self.rng.next_f64();
        let at = self.rng.below(max_tokens.max(1));
        let mut threshold = 0.0;
        for f in &self.faults {
            threshold += f.rate;
            if roll < threshold {
                return Some((f.kind, at));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_why() {
        assert_eq!(
            "http-500:0.1".parse::<Fault>().unwrap().kind,
            FaultKind::Status(500)
        );
        assert_eq!(
            "stall:0.5:2s".parse::<Fault>().unwrap().kind,
            FaultKind::Stall(Duration::from_secs(2))
        );
        assert!("http-500:2"
            .parse::<Fault>()
            .unwrap_err()
            .contains("RATE between 0 and 1"));
        assert!("stall:0.1"
            .parse::<Fault>()
            .unwrap_err()
            .contains("needs a duration"));
        assert!("gremlins:0.1".parse::<Fault>().is_err());
    }

    #[test]
    fn rates_are_honoured_and_draws_repeat_from_a_seed() {
        let faults = vec![
            "reset:0.2".parse().unwrap(),
            "http-500:0.1".parse().unwrap(),
        ];
        let draws = |seed| {
            let mut plan = FaultPlan::new(faults.clone(), seed);
            (0..10_000)
                .map(|_| plan.draw(100).map(|(k, _)| k))
                .collect::<Vec<_>>()
        };
        let a = draws(1);
        assert_eq!(a, draws(1));
        let resets = a.iter().filter(|k| **k == Some(FaultKind::Reset)).count();
        let errors = a
            .iter()
            .filter(|k| **k == Some(FaultKind::Status(500)))
            .count();
        assert!((1800..2200).contains(&resets), "{resets}");
        assert!((850..1150).contains(&errors), "{errors}");
    }
}
