//! Latency histograms: the one rule by which jauge summarises a distribution into a
//! [`Summary`] (every step of every dataset, and [`Summary::from_values`]).
//!
//! A load run records thousands of latencies per step and many steps per run. [`Histogram`]
//! keeps counts in logarithmic buckets 1 % wide, plus the exact count, sum, minimum and
//! maximum: percentiles (by nearest rank) are within 1 % of the exact ones, the mean and
//! maximum are exact, and two histograms combine exactly by adding counts — which averaging
//! two runs' percentiles would not.

use std::collections::BTreeMap;

use crate::dataset::Summary;

/// Relative width of a bucket: a percentile is reported within this fraction of its value.
const BUCKET_GROWTH: f64 = 0.01;

/// Values at or below this are counted in one bucket of their own (a latency of 0).
const SMALLEST: f64 = 1e-6;

/// Counts of values in 1 %-wide logarithmic buckets.
///
/// ```
/// use jauge::stats::Histogram;
/// let mut a = Histogram::new();
/// let mut b = Histogram::new();
/// for v in 1..=50 { a.record(v as f64); }
/// for v in 51..=100 { b.record(v as f64); }
/// a.merge(&b);
/// let s = a.summary().unwrap();
/// assert_eq!((s.count, s.max, s.mean), (Some(100), Some(100.0), Some(50.5)));
/// assert!((s.p90.unwrap() - 90.0).abs() <= 0.9 + 1e-9); // within 1 %
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    buckets: BTreeMap<i32, u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Histogram {
    /// An empty histogram.
    ///
    /// ```
    /// assert!(jauge::stats::Histogram::new().summary().is_none());
    /// ```
    pub fn new() -> Histogram {
        Histogram {
            buckets: BTreeMap::new(),
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Counts one value; negative, NaN and infinite values are ignored (a clock that went
    /// backwards is not a latency).
    ///
    /// ```
    /// let mut h = jauge::stats::Histogram::new();
    /// h.record(f64::NAN);
    /// h.record(-1.0);
    /// assert_eq!(h.count(), 0);
    /// ```
    pub fn record(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        *self.buckets.entry(bucket_of(value)).or_insert(0) += 1;
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Adds another histogram's counts to this one.
    ///
    /// ```
    /// let mut a = jauge::stats::Histogram::new();
    /// a.record(1.0);
    /// a.merge(&a.clone());
    /// assert_eq!(a.count(), 2);
    /// ```
    pub fn merge(&mut self, other: &Histogram) {
        for (bucket, n) in &other.buckets {
            *self.buckets.entry(*bucket).or_insert(0) += n;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many values were counted.
    ///
    /// ```
    /// let mut h = jauge::stats::Histogram::new();
    /// h.record(3.0);
    /// assert_eq!(h.count(), 1);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value below which a fraction `q` of the values lie, within 1 %, clamped to the
    /// exact minimum and maximum; `None` when empty.
    ///
    /// ```
    /// let mut h = jauge::stats::Histogram::new();
    /// for v in [10.0, 20.0, 30.0] { h.record(v); }
    /// assert_eq!(h.quantile(1.0), Some(30.0));
    /// assert_eq!(h.quantile(0.0), Some(10.0));
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        // The rank of the value wanted, 1-based, as "nearest rank".
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return Some(self.max);
        }
        let mut seen = 0;
        for (i, (bucket, n)) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                // The lowest bucket holds the exact minimum: report it rather than a midpoint.
                let value = if i == 0 { self.min } else { value_of(*bucket) };
                return Some(value.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The summary the dataset stores (mean and maximum exact, percentiles within 1 %);
    /// `None` when empty.
    ///
    /// ```
    /// let mut h = jauge::stats::Histogram::new();
    /// h.record(5.0);
    /// let s = h.summary().unwrap();
    /// assert_eq!((s.p50, s.p99, s.max), (Some(5.0), Some(5.0), Some(5.0)));
    /// ```
    pub fn summary(&self) -> Option<Summary> {
        let q = |p| self.quantile(p).unwrap_or(0.0);
        (self.count > 0).then(|| Summary {
            count: Some(self.count.min(u64::from(u32::MAX)) as u32),
            mean: Some((self.sum / self.count as f64).min(self.max)),
            p50: Some(q(0.50)),
            p90: Some(q(0.90)),
            p95: Some(q(0.95)),
            p99: Some(q(0.99)),
            max: Some(self.max),
        })
    }
}

fn bucket_of(value: f64) -> i32 {
    if value <= SMALLEST {
        return i32::MIN;
    }
    (value.ln() / BUCKET_GROWTH.ln_1p()).floor() as i32
}

/// The middle of a bucket (geometric), so the error is at most half a bucket either way.
fn value_of(bucket: i32) -> f64 {
    if bucket == i32::MIN {
        return 0.0;
    }
    let growth = BUCKET_GROWTH.ln_1p();
    ((f64::from(bucket) + 0.5) * growth).exp()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    proptest! {
        #[test]
        fn quantiles_are_within_one_percent_of_exact(values in proptest::collection::vec(0.001f64..1e6, 1..500)) {
            let mut h = Histogram::new();
            values.iter().for_each(|v| h.record(*v));
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.5, 0.9, 0.95, 0.99] {
                let exact = exact_quantile(&sorted, q);
                let got = h.quantile(q).unwrap();
                prop_assert!((got - exact).abs() <= exact * 0.01 + 1e-12, "q{q}: {got} vs {exact}");
            }
        }

        #[test]
        fn merging_equals_recording_everything_in_one(a in proptest::collection::vec(0.0f64..1e4, 0..100), b in proptest::collection::vec(0.0f64..1e4, 0..100)) {
            let (mut ha, mut hb, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
            a.iter().for_each(|v| { ha.record(*v); all.record(*v); });
            b.iter().for_each(|v| { hb.record(*v); all.record(*v); });
            ha.merge(&hb);
            prop_assert_eq!(ha.buckets, all.buckets.clone());
            prop_assert_eq!(ha.count, all.count);
            prop_assert_eq!(ha.max, all.max);
        }

        #[test]
        fn summaries_keep_percentiles_in_order(values in proptest::collection::vec(0.0f64..1e6, 1..300)) {
            let mut h = Histogram::new();
            values.iter().for_each(|v| h.record(*v));
            let s = h.summary().unwrap();
            prop_assert!(s.p50 <= s.p90 && s.p90 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max);
            prop_assert!(s.mean <= s.max);
            prop_assert!(s.p50.is_some() && s.max.is_some());
        }
    }

    #[test]
    fn zero_latencies_are_counted() {
        let mut h = Histogram::new();
        h.record(0.0);
        h.record(0.0);
        assert_eq!(h.quantile(0.5), Some(0.0));
    }
}
