//! One request as it happened — measured by the runner, or computed by the simulator — as
//! written to the per-request JSONL beside a dataset and summarised into a step by
//! [`crate::aggregate`].

use crate::dataset::ErrorKind;
use serde::{Deserialize, Serialize};

/// The timeline and counts of one request. Times are milliseconds since the step started,
/// on one monotonic clock.
///
/// ```
/// let r = jauge::record::RequestRecord::completed(4, 128, 0, 0.0, 50.0, 250.0, 11);
/// assert_eq!(r.ttft_ms(), Some(50.0));
/// assert_eq!(r.tpot_ms(), Some(20.0)); // (250 − 50) / (11 − 1)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The step's concurrency.
    pub concurrency: u32,
    /// The prompt tokens asked for.
    pub prompt_tokens: u32,
    /// Index of the request within its step (warm-up included).
    pub index: u32,
    /// A warm-up request, left out of the figures.
    pub warmup: bool,
    /// When the schedule wanted it sent (coordinated-omission reference).
    pub intended_ms: f64,
    /// When it was sent.
    pub sent_ms: f64,
    /// When the first generated text arrived (reasoning or answer: the first token).
    pub first_token_ms: Option<f64>,
    /// When the first token of the answer arrived, after a reasoning model's reasoning; only
    /// for a request that reasoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_answer_ms: Option<f64>,
    /// Of the chunks that carried text, those that carried reasoning (a `reasoning_content` or
    /// `reasoning` delta, or text inside `<think>`…`</think>`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_chunks: u32,
    /// When the response ended (or failed).
    pub end_ms: f64,
    /// Gaps between consecutive chunks carrying text (inter-token latencies).
    pub gaps_ms: Vec<f64>,
    /// Chunks that carried text.
    pub chunks: u32,
    /// `usage.prompt_tokens`.
    pub usage_prompt_tokens: Option<u32>,
    /// `usage.completion_tokens`.
    pub usage_output_tokens: Option<u32>,
    /// Why it failed.
    pub error: Option<ErrorKind>,
    /// The failure's message (secrets removed).
    pub error_message: Option<String>,
    /// Its step was cut short (Ctrl-C): the step is not in the dataset, and a resumed run
    /// measures it again, so these records stand apart from the rerun's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interrupted: bool,
    /// The answer's text, kept only when the caller resends it (a chat's history); never
    /// written to the request log.
    #[serde(skip)]
    pub answer_text: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RequestRecord {
    /// A completed request with evenly spaced tokens (the simulator's requests, and tests'):
    /// sent at `sent_ms`, first token at `first_token_ms`, last at `end_ms`.
    ///
    /// ```
    /// let r = jauge::record::RequestRecord::completed(1, 16, 3, 10.0, 20.0, 40.0, 3);
    /// assert_eq!(r.gaps_ms, [10.0, 10.0]);
    /// ```
    pub fn completed(
        concurrency: u32,
        prompt_tokens: u32,
        index: u32,
        sent_ms: f64,
        first_token_ms: f64,
        end_ms: f64,
        output_tokens: u32,
    ) -> RequestRecord {
        let gaps = output_tokens.saturating_sub(1);
        let gap = if gaps > 0 {
            (end_ms - first_token_ms) / f64::from(gaps)
        } else {
            0.0
        };
        RequestRecord {
            concurrency,
            prompt_tokens,
            index,
            warmup: false,
            intended_ms: sent_ms,
            sent_ms,
            first_token_ms: Some(first_token_ms),
            first_answer_ms: None,
            reasoning_chunks: 0,
            end_ms,
            gaps_ms: vec![gap; gaps as usize],
            chunks: output_tokens,
            usage_prompt_tokens: Some(prompt_tokens),
            usage_output_tokens: Some(output_tokens),
            error: None,
            error_message: None,
            interrupted: false,
            answer_text: None,
        }
    }

    /// Output tokens: the server's count when it gave one, else the chunks that carried text.
    ///
    /// ```
    /// let mut r = jauge::record::RequestRecord::completed(1, 16, 0, 0.0, 5.0, 9.0, 3);
    /// r.usage_output_tokens = None;
    /// assert_eq!(r.output_tokens(), 3);
    /// ```
    pub fn output_tokens(&self) -> u32 {
        self.usage_output_tokens.unwrap_or(self.chunks)
    }

    /// Whether it completed.
    ///
    /// ```
    /// assert!(jauge::record::RequestRecord::completed(1, 16, 0, 0.0, 5.0, 9.0, 3).ok());
    /// ```
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Time to first token from the actual send.
    ///
    /// ```
    /// assert_eq!(jauge::record::RequestRecord::completed(1, 16, 0, 2.0, 5.0, 9.0, 3).ttft_ms(), Some(3.0));
    /// ```
    pub fn ttft_ms(&self) -> Option<f64> {
        self.first_token_ms.map(|t| t - self.sent_ms)
    }

    /// Time per output token after the first: (end-to-end − TTFT) / (tokens − 1), as vLLM's
    /// benchmark defines it.
    ///
    /// ```
    /// assert_eq!(jauge::record::RequestRecord::completed(1, 16, 0, 0.0, 5.0, 9.0, 3).tpot_ms(), Some(2.0));
    /// ```
    pub fn tpot_ms(&self) -> Option<f64> {
        let tokens = self.output_tokens();
        let ttft = self.ttft_ms()?;
        (tokens > 1).then(|| (self.e2e_ms() - ttft) / f64::from(tokens - 1))
    }

    /// End-to-end latency from the actual send.
    ///
    /// ```
    /// assert_eq!(jauge::record::RequestRecord::completed(1, 16, 0, 2.0, 5.0, 9.0, 3).e2e_ms(), 7.0);
    /// ```
    pub fn e2e_ms(&self) -> f64 {
        self.end_ms - self.sent_ms
    }
}
