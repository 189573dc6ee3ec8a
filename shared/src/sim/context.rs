//! The maximum-context search of `jauge study`: the largest prompt a deployment accepts and
//! serves at a given concurrency, measured against a server or predicted by the simulator.

use crate::dataset::{ContextLimit, LimitReason};
use crate::error::SizingError;
use crate::sizing::{size, SizingRequest};

use super::{engine_for, simulate, SimLoad};
use crate::search::ContextSearch;

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
            pacing: crate::pacing::Pacing::Closed,
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
