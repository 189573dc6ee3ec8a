//! How a step's requests are sent — the three ways benchmarks take their figures, shared by the
//! load generator (`jauge run`) and the simulator so that a measured and a simulated step of
//! the same mode send the same requests at the same intended times:
//!
//! - **closed loop** (`--concurrency C`): C users, each sending its next request when the last
//!   one ends (vLLM's `bench serve --max-concurrency C --request-rate inf`);
//! - **open loop** (`--rate R --arrival poisson|gamma|constant`): requests due at a rate
//!   whatever the server does, at most C in flight (`bench serve --request-rate R`);
//! - **offline** (`--rate inf`): every request at once, which is a closed loop of as many
//!   users as requests (vLLM's `benchmark_throughput`, `bench serve` without a cap).
//!
//! ```
//! use jauge::dataset::Arrival;
//! use jauge::pacing::Pacing;
//!
//! let open = Pacing::open(2.0, Arrival::Constant).unwrap();
//! assert_eq!(open.due_times(3, 0), [0.0, 0.5, 1.0]);
//! assert_eq!(Pacing::open(f64::INFINITY, Arrival::Poisson), None); // offline: a closed loop
//! assert_eq!(Pacing::Closed.due_times(3, 0), [0.0, 0.0, 0.0]);
//! ```

use crate::dataset::Arrival;
use crate::rng::SplitMix64;

/// Shape of the gamma gaps: below 1 is burstier than Poisson (vLLM's `--burstiness` < 1).
pub const GAMMA_SHAPE: f64 = 0.5;

/// How a step's requests are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Each user sends its next request when the last one ends.
    Closed,
    /// Requests are due at a rate whatever the server does.
    Open {
        /// Requests per second, finite and above 0.
        rate_rps: f64,
        /// How the gaps between due times are drawn.
        arrival: Arrival,
    },
}

impl Pacing {
    /// An open loop at `rate_rps`, or `None` for an infinite rate (every request at once is a
    /// closed loop of as many users as requests) or a rate that is not above 0.
    ///
    /// ```
    /// use jauge::pacing::Pacing;
    /// use jauge::dataset::Arrival;
    /// assert!(Pacing::open(0.5, Arrival::Gamma).is_some());
    /// assert!(Pacing::open(0.0, Arrival::Gamma).is_none());
    /// ```
    pub fn open(rate_rps: f64, arrival: Arrival) -> Option<Pacing> {
        (rate_rps.is_finite() && rate_rps > 0.0).then_some(Pacing::Open { rate_rps, arrival })
    }

    /// The open loop's rate, `None` for a closed loop.
    ///
    /// ```
    /// assert_eq!(jauge::pacing::Pacing::Closed.rate_rps(), None);
    /// ```
    pub fn rate_rps(&self) -> Option<f64> {
        match self {
            Pacing::Closed => None,
            Pacing::Open { rate_rps, .. } => Some(*rate_rps),
        }
    }

    /// When each of `requests` requests is due, seconds from the step's start: all at 0 for a
    /// closed loop (the users' first requests; later ones follow their answers), the first at
    /// 0 and then gaps drawn from `seed` for an open loop.
    ///
    /// ```
    /// use jauge::pacing::Pacing;
    /// use jauge::dataset::Arrival;
    /// let poisson = Pacing::open(10.0, Arrival::Poisson).unwrap();
    /// let due = poisson.due_times(2_000, 7);
    /// assert_eq!(due[0], 0.0);
    /// assert!((due[1_999] / 1_999.0 - 0.1).abs() < 0.01); // mean gap 1/rate
    /// assert_eq!(due, poisson.due_times(2_000, 7)); // the same seed, the same times
    /// ```
    pub fn due_times(&self, requests: u32, seed: u64) -> Vec<f64> {
        let mut gaps = Gaps::new(*self, seed);
        (0..requests).map(|_| gaps.next_due()).collect()
    }
}

/// The seed of one step's arrivals, from the run's seed and the step's place in the grid: the
/// runner and the simulator derive it alike, so a simulated step draws the measured one's
/// due times.
///
/// ```
/// let a = jauge::pacing::step_seed(0, 8, 512);
/// assert_ne!(a, jauge::pacing::step_seed(0, 16, 512));
/// ```
pub fn step_seed(seed: u64, concurrency: u32, prompt_tokens: u32) -> u64 {
    seed.wrapping_add(u64::from(concurrency) << 32 | u64::from(prompt_tokens))
}

/// The due times of an open loop one at a time, for a sender that does not know in advance how
/// many requests it will send (a step bounded by time).
///
/// ```
/// use jauge::pacing::{Gaps, Pacing};
/// use jauge::dataset::Arrival;
/// let mut gaps = Gaps::new(Pacing::open(4.0, Arrival::Constant).unwrap(), 0);
/// assert_eq!((gaps.next_due(), gaps.next_due()), (0.0, 0.25));
/// ```
#[derive(Debug, Clone)]
pub struct Gaps {
    pacing: Pacing,
    rng: SplitMix64,
    due_s: f64,
    first: bool,
}

impl Gaps {
    /// The due times of `pacing`, drawn from `seed`.
    ///
    /// ```
    /// let mut gaps = jauge::pacing::Gaps::new(jauge::pacing::Pacing::Closed, 0);
    /// assert_eq!(gaps.next_due(), 0.0);
    /// ```
    pub fn new(pacing: Pacing, seed: u64) -> Gaps {
        Gaps {
            pacing,
            rng: SplitMix64::new(seed),
            due_s: 0.0,
            first: true,
        }
    }

    /// The next request's due time, seconds from the start.
    ///
    /// ```
    /// use jauge::pacing::{Gaps, Pacing};
    /// use jauge::dataset::Arrival;
    /// let mut gaps = Gaps::new(Pacing::open(1.0, Arrival::Gamma).unwrap(), 3);
    /// let (a, b) = (gaps.next_due(), gaps.next_due());
    /// assert!(a == 0.0 && b > 0.0);
    /// ```
    pub fn next_due(&mut self) -> f64 {
        if std::mem::take(&mut self.first) {
            return self.due_s;
        }
        if let Pacing::Open { rate_rps, arrival } = self.pacing {
            let mean = 1.0 / rate_rps;
            self.due_s += match arrival {
                Arrival::Poisson => self.rng.exponential(mean),
                Arrival::Gamma => self.rng.gamma(GAMMA_SHAPE, mean),
                Arrival::Constant => mean,
            };
        }
        self.due_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_gaps_are_burstier_than_poisson_at_the_same_rate() {
        let spread = |arrival| {
            let due = Pacing::open(5.0, arrival).unwrap().due_times(20_001, 1);
            let gaps: Vec<f64> = due.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            (mean, var.sqrt() / mean)
        };
        let (poisson_mean, poisson_cv) = spread(Arrival::Poisson);
        let (gamma_mean, gamma_cv) = spread(Arrival::Gamma);
        assert!((poisson_mean - 0.2).abs() < 0.01 && (gamma_mean - 0.2).abs() < 0.01);
        // Coefficient of variation: 1 for Poisson, 1/√shape = 1.41 for gamma(0.5).
        assert!((poisson_cv - 1.0).abs() < 0.05, "{poisson_cv}");
        assert!((gamma_cv - 2f64.sqrt()).abs() < 0.1, "{gamma_cv}");
    }
}
