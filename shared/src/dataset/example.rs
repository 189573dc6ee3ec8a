//! A small, valid dataset for documentation and tests. Its figures are illustrative, and it is
//! labelled `simulated` with a note saying so: it is never published as a measurement.

use std::collections::BTreeMap;

use super::types::*;
use super::version::SCHEMA;

/// A valid two-step dataset (Mistral-7B on one A100-40GB), labelled `simulated`.
///
/// ```
/// let dataset = jauge::dataset::example();
/// assert_eq!(dataset.source, jauge::dataset::Source::Simulated);
/// assert!(dataset.violations().is_empty());
/// ```
pub fn example() -> Dataset {
    let summary = |base: f64| Summary {
        count: Some(16),
        mean: Some(base * 1.1),
        p50: Some(base),
        p90: Some(base * 1.5),
        p95: Some(base * 1.7),
        p99: Some(base * 2.0),
        max: Some(base * 2.2),
    };
    let step = |concurrency: u32, ttft: f64, tpot: f64, out_tok_s: f64| Step {
        concurrency,
        rate_rps: None,
        prompt_tokens: 1024,
        output_tokens: 256,
        duration_s: Some(30.0),
        requests: Some(RequestCounts {
            sent: 16,
            completed: 16,
            failed: 0,
        }),
        errors: BTreeMap::new(),
        error_messages: BTreeMap::new(),
        token_counts: Some(TokenCounts {
            prompt_tokens_mean: 1024.0,
            output_tokens_mean: 256.0,
            output_source: CountSource::Usage,
            reasoning_chunks_mean: None,
        }),
        latency: Latency {
            ttft_ms: Some(summary(ttft)),
            ttft_from_intended_ms: Some(summary(ttft)),
            itl_ms: Some(summary(tpot)),
            tpot_ms: Some(summary(tpot)),
            e2e_ms: Some(summary(ttft + 255.0 * tpot)),
            ttft_answer_ms: None,
        },
        throughput: Throughput {
            output_tok_s: Some(out_tok_s),
            total_tok_s: Some(out_tok_s * 5.0),
            requests_s: Some(out_tok_s / 256.0),
            per_user_output_tok_s: Some(1000.0 / tpot),
            goodput_requests_s: None,
        },
        gpu: None,
        server: None,
        energy_j_per_output_token: None,
        client: None,
        quote: None,
        people: None,
    };
    Dataset {
        schema: SCHEMA.to_string(),
        source: Source::Simulated,
        provenance: Provenance {
            tool: "jauge".to_string(),
            tool_version: crate::VERSION.to_string(),
            created_at: "2026-11-25T14:00:00Z".to_string(),
            command_line: vec!["jauge".into(), "run".into()],
            publication: None,
        },
        deployment: Deployment {
            model: ModelInfo {
                served_name: "mistralai/Mistral-7B-Instruct-v0.3".to_string(),
                catalogue_id: Some("mistral-7b-v0.3".to_string()),
                hf_repo: Some("mistralai/Mistral-7B-Instruct-v0.3".to_string()),
            },
            quantization: "bf16".to_string(),
            kv_cache_dtype: "auto".to_string(),
            engine: Engine {
                name: "jauge-sim".to_string(),
                version: Some(crate::VERSION.to_string()),
                settings: EngineSettings {
                    max_model_len: Some(32768),
                    gpu_memory_utilization: Some(0.9),
                    tensor_parallel_size: Some(1),
                    ..EngineSettings::default()
                },
            },
            gpus: GpuInfo {
                name: "NVIDIA A100-SXM4-40GB".to_string(),
                catalogue_id: Some("a100-40gb".to_string()),
                count: 1,
                memory_mib: Some(40960),
                cuda_memory_mib: None,
                driver_version: None,
                cuda_version: None,
            },
        },
        workload: Workload {
            endpoint: Endpoint::Completions,
            concurrency: vec![1, 8],
            prompt_tokens: vec![1024],
            output_tokens: 256,
            requests_per_step: Some(16),
            duration_per_step_s: None,
            warmup_requests: 2,
            rate_rps: None,
            arrival: None,
            timeout_s: Some(300.0),
            shared_prefix_tokens: None,
            slo_ttft_ms: None,
            slo_ttft_of: None,
            slo_tpot_ms: None,
            max_error_rate: Some(0.05),
            min_throughput_gain: Some(0.02),
            lengths_from: None,
            people: None,
        },
        status: RunStatus::Complete,
        gpu_telemetry: None,
        steps: vec![step(1, 120.0, 12.0, 80.0), step(8, 180.0, 15.0, 520.0)],
        limits: vec![Limit {
            prompt_tokens: 1024,
            max_concurrency_ok: Some(8),
            stopped_at_concurrency: None,
            reason: LimitReason::GridEnd,
            detail: None,
        }],
        context_limits: Vec::new(),
        notes: vec![
            "Illustrative example for documentation and tests; not a measurement.".to_string(),
        ],
    }
}

/// [`example`] as the JSON text a file would hold.
///
/// ```
/// assert!(jauge::dataset::example_json().starts_with("{\n  \"schema\": \"jauge.dataset/v2\""));
/// ```
pub fn example_json() -> String {
    example().to_json()
}
