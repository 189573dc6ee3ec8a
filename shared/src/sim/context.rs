//! The maximum-context search of `jauge study`: the largest prompt a deployment accepts and
//! serves at a given concurrency, measured against a server or predicted by the simulator.

use crate::dataset::{ContextLimit, LimitReason};
use crate::error::SizingError;
use crate::sizing::{size, SizingRequest};

use super::{engine_for, simulate, SimLoad};

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
/// use jauge::sim::ContextSearch;
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
    /// use jauge::sim::ContextSearch;
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
    /// use jauge::sim::ContextSearch;
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

/// The longest a predicted request may take before it counts as failed, as a client's
/// time-out would make it (jauge run's default `--timeout`).
pub const PREDICTED_TIMEOUT_S: f64 = 300.0;

/// The maximum context at `concurrency` users, predicted: the [`ContextSearch`] with each probe
/// simulated (`concurrency` requests of the probed prompt at once). A probe fails when the
/// request exceeds `max_model_len` (refused as vLLM refuses it) or when a request would take
/// longer than [`PREDICTED_TIMEOUT_S`].
///
/// # Errors
/// When the deployment cannot be sized or does not fit.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::SizingRequest;
/// let cat = Catalogue::builtin();
/// let r = SizingRequest { max_model_len: Some(8192), ..SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?) };
/// let limit = jauge::sim::max_context(&r, 1, 64, 128)?;
/// assert_eq!(limit.max_context_tokens, Some(8192 - 64));
/// assert_eq!(limit.reason, jauge::dataset::LimitReason::ContextLength);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn max_context(
    request: &SizingRequest<'_>,
    concurrency: u32,
    output_tokens: u32,
    step: u32,
) -> Result<ContextLimit, SizingError> {
    let max_model_len = size(request)?.max_model_len;
    let engine = engine_for(request)?;
    let ceiling = max_model_len.saturating_sub(output_tokens);
    let search = ContextSearch {
        start: 1024.min(ceiling.max(1)),
        ceiling: Some(ceiling),
        step,
        cap: ceiling.saturating_add(step),
    };
    let mut slowest_s = 0.0_f64;
    let (found, refused, probes) = search.run(|prompt| {
        if u64::from(prompt) + u64::from(output_tokens) > u64::from(max_model_len) {
            return false;
        }
        let load = SimLoad {
            concurrency,
            prompt_tokens: prompt,
            output_tokens,
            requests: concurrency,
            rate_rps: None,
            seed: 0,
        };
        let (records, _) = simulate(&engine, &load);
        let longest = records
            .iter()
            .map(|r| (r.end_ms - r.sent_ms) / 1000.0)
            .fold(0.0, f64::max);
        slowest_s = slowest_s.max(longest);
        longest <= PREDICTED_TIMEOUT_S && records.iter().all(|r| r.error.is_none())
    });
    let (reason, detail) = match refused {
        Some(r) if u64::from(r) + u64::from(output_tokens) > u64::from(max_model_len) => (
            LimitReason::ContextLength,
            format!(
                "predicted: {r} prompt + {output_tokens} output tokens exceed max_model_len {max_model_len}, which the server refuses (HTTP 400)"
            ),
        ),
        Some(r) => (
            LimitReason::Errors,
            format!(
                "predicted: at {r} prompt tokens a request of {concurrency} simultaneous ones would take over {PREDICTED_TIMEOUT_S:.0} s"
            ),
        ),
        None => (
            LimitReason::GridEnd,
            "predicted: the search's cap held".to_string(),
        ),
    };
    Ok(ContextLimit {
        concurrency,
        output_tokens,
        max_context_tokens: found,
        refused_at_tokens: refused,
        reason,
        detail: Some(detail),
        probes,
    })
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

    #[test]
    fn at_many_users_a_long_prompt_can_time_out() {
        let cat = crate::catalogue::Catalogue::builtin();
        let r = SizingRequest::new(
            cat.model("llama-3-70b").unwrap(),
            cat.gpu("a100-40gb").unwrap(),
        );
        let r = SizingRequest {
            gpu_count: 4,
            quant: Some(cat.quant("awq").unwrap()),
            ..r
        };
        let one = max_context(&r, 1, 64, 256).unwrap();
        let many = max_context(&r, 256, 64, 256).unwrap();
        assert_eq!(one.reason, LimitReason::ContextLength);
        assert!(many.max_context_tokens < one.max_context_tokens, "{many:?}");
        assert_eq!(many.reason, LimitReason::Errors);
    }
}
