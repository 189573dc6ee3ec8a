//! One request as it happened: what the load generator measured, written to the per-request
//! JSONL beside the dataset and summarised into a step.

use jauge::dataset::ErrorKind;
use serde::{Deserialize, Serialize};

/// The timeline and counts of one request. Times are milliseconds since the step started,
/// on one monotonic clock.
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
    /// When the first generated text arrived.
    pub first_token_ms: Option<f64>,
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
}

impl RequestRecord {
    /// Output tokens: the server's count when it gave one, else the chunks that carried text.
    pub fn output_tokens(&self) -> u32 {
        self.usage_output_tokens.unwrap_or(self.chunks)
    }

    /// Whether it completed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Time to first token from the actual send.
    pub fn ttft_ms(&self) -> Option<f64> {
        self.first_token_ms.map(|t| t - self.sent_ms)
    }

    /// Time per output token after the first: (end-to-end − TTFT) / (tokens − 1), as vLLM's
    /// benchmark defines it.
    pub fn tpot_ms(&self) -> Option<f64> {
        let tokens = self.output_tokens();
        let ttft = self.ttft_ms()?;
        (tokens > 1).then(|| (self.e2e_ms() - ttft) / f64::from(tokens - 1))
    }

    /// End-to-end latency from the actual send.
    pub fn e2e_ms(&self) -> f64 {
        self.end_ms - self.sent_ms
    }
}
