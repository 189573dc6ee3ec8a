//! What the server says about itself before a run: served model, context limit, version,
//! whether it tokenizes.

use reqwest::Method;
use serde_json::Value;

use crate::client::Target;
use crate::fetch::{self, Failure};
use crate::limits::{bounded, PROBE_TIMEOUT};
use crate::secrets::redact;

/// Facts read from the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerFacts {
    /// The first model `/v1/models` lists.
    pub served_model: Option<String>,
    /// Its `max_model_len` (vLLM, jauge-sim) or llama.cpp's per-slot `meta.n_ctx`, when given
    /// and sensible (a context of 0 tokens, or beyond 2^32, is not used).
    pub max_model_len: Option<u32>,
    /// The engine's name, guessed from its answers.
    pub engine: String,
    /// `/version`'s answer.
    pub version: Option<String>,
    /// What the answers said that jauge could not use, for the dataset's notes.
    pub notes: Vec<String>,
}

/// The longest `/version` answer kept: a version string, not a text.
const VERSION_CHARS: usize = 64;

/// Reads `/v1/models` and `/version`, each within `min(--timeout, 30 s)` and its read limit.
///
/// # Errors
/// When `/v1/models` does not answer (nothing listens, it never answers, its answer is too
/// large) or refuses the key: the message names the endpoint and what to do.
pub async fn probe(http: &reqwest::Client, target: &Target) -> anyhow::Result<ServerFacts> {
    let budget = bounded(target.timeout, PROBE_TIMEOUT);
    let (status, body) = fetch::call(
        target.request(http, Method::GET, "/v1/models"),
        target.endpoint(&Method::GET, "/v1/models"),
        target.limits.models,
        budget,
    )
    .await
    .map_err(|e| {
        let hint = match e.failure {
            Failure::Timeout(_) => {
                "; is this an OpenAI-compatible server, and is it ready? (--timeout raises the wait)"
            }
            Failure::TooLarge(_) => "; --read-limit models=SIZE raises the limit",
            Failure::Transport(_) => "; is the server running at --url?",
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        anyhow::bail!(
            "{} answered HTTP {status}: check --api-key-env / --api-key-file",
            target.endpoint(&Method::GET, "/v1/models")
        );
    }
    let models: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let first = models.pointer("/data/0");
    let owned_by = first
        .and_then(|m| m.get("owned_by"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let version_text = match fetch::call(
        target.request(http, Method::GET, "/version"),
        target.endpoint(&Method::GET, "/version"),
        target.limits.version,
        budget,
    )
    .await
    {
        Ok((status, body)) if status.is_success() => serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("version").and_then(Value::as_str).map(str::to_string))
            .map(|v| redact(&v).chars().take(VERSION_CHARS).collect::<String>()),
        _ => None,
    };
    let engine = if owned_by == "jauge-sim" {
        "jauge-sim"
    } else if owned_by == "llamacpp" {
        "llama.cpp"
    } else if owned_by == "vllm" || first.and_then(|m| m.get("max_model_len")).is_some() {
        "vllm"
    } else {
        "unknown"
    };
    let mut notes = Vec::new();
    // vLLM says max_model_len; llama.cpp says n_ctx, the context of one slot (its -c divided
    // among -np slots), which is what one request may use — not n_ctx_train.
    let advertised = first.and_then(|m| {
        m.get("max_model_len")
            .or_else(|| m.pointer("/meta/n_ctx"))
            .or_else(|| m.pointer("/meta/n_ctx_train"))
    });
    let max_model_len = match advertised
        .map(|v| (v, v.as_u64().and_then(|n| u32::try_from(n).ok())))
    {
        None => None,
        Some((_, Some(n))) if n > 0 => Some(n),
        Some((v, _)) => {
            notes.push(format!(
                "Server: /v1/models gives a context limit of {}, which is no usable length; it was ignored, and rows are not skipped by it.",
                redact(&v.to_string()).chars().take(VERSION_CHARS).collect::<String>()
            ));
            None
        }
    };
    Ok(ServerFacts {
        served_model: first
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str)
            .map(redact),
        max_model_len,
        engine: engine.to_string(),
        version: version_text.map(|v| v.trim_start_matches("jauge-sim ").to_string()),
        notes,
    })
}
