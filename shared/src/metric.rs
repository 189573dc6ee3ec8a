//! The figures read off a step, each defined once: its title, unit, which way is better, how
//! it is read from a [`Step`] and how it is printed. The site's charts, the study's report,
//! `jauge compare`, `jauge show` and the end-of-run tables all go through here, so the same
//! dataset shows the same numbers everywhere.
//!
//! A figure the step does not hold is absent, never made up from another one: a step without
//! a per-user speed has none (output ÷ users is another quantity), one without inter-token
//! gaps has no ITL (TPOT is another quantity).
//!
//! ```
//! use jauge::metric::Metric;
//! let step = &jauge::dataset::example().steps[0];
//! assert_eq!(Metric::TtftP95.show(step), "204");
//! assert_eq!(Metric::GpuMemoryPeak.show(step), "—"); // the example has no GPU telemetry
//! ```

use crate::dataset::Step;

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// More is better (throughput).
    Higher,
    /// Less is better (latency, memory, errors).
    Lower,
}

/// A figure of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Output tokens per second, all users together.
    OutputTokS,
    /// Output tokens per second one user sees while generating (mean over requests).
    PerUserTokS,
    /// Time to first token, median.
    TtftP50,
    /// Time to first token, 95th percentile.
    TtftP95,
    /// Inter-token latency, median.
    ItlP50,
    /// Inter-token latency, 95th percentile.
    ItlP95,
    /// Time per output token after the first, 95th percentile.
    TpotP95,
    /// GPU memory used, the peak of the fullest GPU.
    GpuMemoryPeak,
    /// GPU memory used, the mean over the step of the GPU whose mean is highest.
    GpuMemoryMean,
    /// KV-cache use the server reports, peak.
    KvCachePeak,
    /// Share of the requests sent that failed.
    ErrorRate,
}

impl Metric {
    /// Every metric, in the order pages and tables show them.
    ///
    /// ```
    /// assert_eq!(jauge::metric::Metric::ALL.len(), 11);
    /// ```
    pub const ALL: [Metric; 11] = [
        Metric::OutputTokS,
        Metric::PerUserTokS,
        Metric::TtftP50,
        Metric::TtftP95,
        Metric::ItlP50,
        Metric::ItlP95,
        Metric::TpotP95,
        Metric::GpuMemoryPeak,
        Metric::GpuMemoryMean,
        Metric::KvCachePeak,
        Metric::ErrorRate,
    ];

    /// Its title, for a chart or a column.
    ///
    /// ```
    /// assert_eq!(jauge::metric::Metric::TtftP95.title(), "Time to first token, p95");
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            Metric::OutputTokS => "Output tokens per second, all users",
            Metric::PerUserTokS => "Output tokens per second, per user",
            Metric::TtftP50 => "Time to first token, p50",
            Metric::TtftP95 => "Time to first token, p95",
            Metric::ItlP50 => "Inter-token latency, p50",
            Metric::ItlP95 => "Inter-token latency, p95",
            Metric::TpotP95 => "Time per output token, p95",
            Metric::GpuMemoryPeak => "GPU memory used, peak of the fullest GPU",
            Metric::GpuMemoryMean => "GPU memory used, mean of the fullest GPU",
            Metric::KvCachePeak => "KV-cache use reported by the server, peak",
            Metric::ErrorRate => "Failed requests",
        }
    }

    /// A short heading for a table column: `TTFT p95 ms`.
    ///
    /// ```
    /// assert_eq!(jauge::metric::Metric::OutputTokS.heading(), "output tok/s");
    /// ```
    pub fn heading(self) -> &'static str {
        match self {
            Metric::OutputTokS => "output tok/s",
            Metric::PerUserTokS => "tok/s per user",
            Metric::TtftP50 => "TTFT p50 ms",
            Metric::TtftP95 => "TTFT p95 ms",
            Metric::ItlP50 => "ITL p50 ms",
            Metric::ItlP95 => "ITL p95 ms",
            Metric::TpotP95 => "TPOT p95 ms",
            Metric::GpuMemoryPeak => "GPU memory peak GiB",
            Metric::GpuMemoryMean => "GPU memory mean GiB",
            Metric::KvCachePeak => "KV cache peak %",
            Metric::ErrorRate => "errors %",
        }
    }

    /// Its unit.
    ///
    /// ```
    /// assert_eq!(jauge::metric::Metric::GpuMemoryPeak.unit(), "GiB");
    /// ```
    pub fn unit(self) -> &'static str {
        match self {
            Metric::OutputTokS | Metric::PerUserTokS => "tok/s",
            Metric::TtftP50
            | Metric::TtftP95
            | Metric::ItlP50
            | Metric::ItlP95
            | Metric::TpotP95 => "ms",
            Metric::GpuMemoryPeak | Metric::GpuMemoryMean => "GiB",
            Metric::KvCachePeak | Metric::ErrorRate => "%",
        }
    }

    /// A stable id for files, URLs and `data-metric` attributes.
    ///
    /// ```
    /// use jauge::metric::Metric;
    /// assert_eq!(Metric::ItlP95.slug(), "itl_p95_ms");
    /// assert_eq!(Metric::from_slug("itl_p95_ms"), Some(Metric::ItlP95));
    /// ```
    pub fn slug(self) -> &'static str {
        match self {
            Metric::OutputTokS => "output_tok_s",
            Metric::PerUserTokS => "per_user_output_tok_s",
            Metric::TtftP50 => "ttft_p50_ms",
            Metric::TtftP95 => "ttft_p95_ms",
            Metric::ItlP50 => "itl_p50_ms",
            Metric::ItlP95 => "itl_p95_ms",
            Metric::TpotP95 => "tpot_p95_ms",
            Metric::GpuMemoryPeak => "gpu_memory_peak_gib",
            Metric::GpuMemoryMean => "gpu_memory_mean_gib",
            Metric::KvCachePeak => "kv_cache_peak_pct",
            Metric::ErrorRate => "error_rate_pct",
        }
    }

    /// The metric of a [`Metric::slug`].
    pub fn from_slug(slug: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.slug() == slug)
    }

    /// Which way is better.
    ///
    /// ```
    /// use jauge::metric::{Direction, Metric};
    /// assert_eq!(Metric::OutputTokS.direction(), Direction::Higher);
    /// assert_eq!(Metric::ErrorRate.direction(), Direction::Lower);
    /// ```
    pub fn direction(self) -> Direction {
        match self {
            Metric::OutputTokS | Metric::PerUserTokS => Direction::Higher,
            _ => Direction::Lower,
        }
    }

    /// Decimals it is printed with: what the measurement can tell apart, no more.
    fn decimals(self) -> usize {
        match self {
            Metric::TtftP50 | Metric::TtftP95 => 0,
            Metric::GpuMemoryPeak | Metric::GpuMemoryMean => 2,
            _ => 1,
        }
    }

    /// The step's value, when the step holds it.
    ///
    /// ```
    /// use jauge::metric::Metric;
    /// let mut step = jauge::dataset::example().steps[0].clone();
    /// assert_eq!(Metric::ErrorRate.value(&step), Some(0.0));
    /// step.throughput.per_user_output_tok_s = None;
    /// assert_eq!(Metric::PerUserTokS.value(&step), None); // not output ÷ users
    /// ```
    pub fn value(self, step: &Step) -> Option<f64> {
        let l = &step.latency;
        let finite = |v: f64| v.is_finite().then_some(v);
        let value = match self {
            Metric::OutputTokS => step.throughput.output_tok_s,
            Metric::PerUserTokS => step.throughput.per_user_output_tok_s,
            Metric::TtftP50 => l.ttft_ms.and_then(|s| s.p50),
            Metric::TtftP95 => l.ttft_ms.and_then(|s| s.p95),
            Metric::ItlP50 => l.itl_ms.and_then(|s| s.p50),
            Metric::ItlP95 => l.itl_ms.and_then(|s| s.p95),
            Metric::TpotP95 => l.tpot_ms.and_then(|s| s.p95),
            Metric::GpuMemoryPeak => step
                .gpu
                .as_ref()?
                .iter()
                .map(|g| g.memory_used_mib_peak / 1024.0)
                .reduce(f64::max),
            Metric::GpuMemoryMean => step
                .gpu
                .as_ref()?
                .iter()
                .map(|g| g.memory_used_mib_mean / 1024.0)
                .reduce(f64::max),
            Metric::KvCachePeak => step.server.as_ref()?.kv_cache_usage_pct_peak,
            Metric::ErrorRate => step
                .requests
                .filter(|r| r.sent > 0)
                .map(|r| f64::from(r.failed) / f64::from(r.sent) * 100.0),
        };
        value.and_then(finite)
    }

    /// A value as every surface prints it.
    ///
    /// ```
    /// use jauge::metric::Metric;
    /// assert_eq!(Metric::TtftP95.format(203.6), "204");
    /// assert_eq!(Metric::OutputTokS.format(923.96), "924.0");
    /// assert_eq!(Metric::GpuMemoryPeak.format(37.123), "37.12");
    /// ```
    pub fn format(self, value: f64) -> String {
        format!("{value:.*}", self.decimals())
    }

    /// The step's value as printed, or `—` when the step does not hold it.
    pub fn show(self, step: &Step) -> String {
        self.value(step)
            .map_or_else(|| "—".to_string(), |v| self.format(v))
    }
}

/// Each GPU's memory peak over a step, GiB, in device order: the breakdown behind
/// [`Metric::GpuMemoryPeak`] (printed with its format).
///
/// ```
/// assert!(jauge::metric::gpu_memory_peaks(&jauge::dataset::example().steps[0]).is_empty());
/// ```
pub fn gpu_memory_peaks(step: &Step) -> Vec<f64> {
    step.gpu
        .iter()
        .flatten()
        .map(|g| g.memory_used_mib_peak / 1024.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_slug(m.slug()), Some(m));
        }
        let mut slugs: Vec<&str> = Metric::ALL.iter().map(|m| m.slug()).collect();
        slugs.dedup();
        assert_eq!(slugs.len(), Metric::ALL.len());
    }

    /// Two GPUs at 30 and 37 GiB: the figure is the fullest GPU's, 37 GiB, not their sum.
    #[test]
    fn gpu_memory_is_the_fullest_gpus_peak() {
        let mut step = crate::dataset::example().steps[0].clone();
        let gpu = |mib: f64| crate::dataset::GpuStep {
            index: 0,
            uuid: None,
            memory_used_mib_peak: mib,
            memory_used_mib_mean: mib,
            memory_total_mib: 40_960.0,
            utilization_pct_mean: None,
            power_w_mean: None,
            energy_j: None,
        };
        step.gpu = Some(vec![gpu(30.0 * 1024.0), gpu(37.0 * 1024.0)]);
        assert_eq!(Metric::GpuMemoryPeak.value(&step), Some(37.0));
        assert_eq!(Metric::GpuMemoryMean.value(&step), Some(37.0));
        assert_eq!(gpu_memory_peaks(&step), [30.0, 37.0]);
    }
}
