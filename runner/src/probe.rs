//! What the server says about itself before a run: served model, context limit, version,
//! whether it tokenizes.

use reqwest::Method;
use serde_json::Value;

use crate::client::Target;

/// Facts read from the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerFacts {
    /// The first model `/v1/models` lists.
    pub served_model: Option<String>,
    /// Its `max_model_len` (vLLM, jauge-sim) or llama.cpp's per-slot `meta.n_ctx`, when given.
    pub max_model_len: Option<u32>,
    /// The engine's name, guessed from its answers.
    pub engine: String,
    /// `/version`'s answer.
    pub version: Option<String>,
}

/// Reads `/v1/models` and `/version`.
///
/// # Errors
/// When `/v1/models` cannot be reached at all (the server is not there).
pub async fn probe(http: &reqwest::Client, target: &Target) -> anyhow::Result<ServerFacts> {
    let models = target
        .request(http, Method::GET, "/v1/models")
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(jauge::redact::redact(&format!(
                "cannot reach {}/v1/models: {e}",
                target.base_url
            )))
        })?;
    let status = models.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        anyhow::bail!(
            "{}/v1/models answered HTTP {status}: check --api-key-env / --api-key-file",
            target.base_url
        );
    }
    let models: Value = models.json_value().await;
    let first = models.pointer("/data/0");
    let owned_by = first
        .and_then(|m| m.get("owned_by"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let version_text = match target.request(http, Method::GET, "/version").send().await {
        Ok(r) if r.status().is_success() => r
            .json_value()
            .await
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_string),
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
    Ok(ServerFacts {
        served_model: first
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string),
        // vLLM says max_model_len; llama.cpp says n_ctx, the context of one slot (its -c
        // divided among -np slots), which is what one request may use — not n_ctx_train.
        max_model_len: first
            .and_then(|m| {
                m.get("max_model_len")
                    .or_else(|| m.pointer("/meta/n_ctx"))
                    .or_else(|| m.pointer("/meta/n_ctx_train"))
            })
            .and_then(Value::as_u64)
            .map(|n| n.min(u64::from(u32::MAX)) as u32),
        engine: engine.to_string(),
        version: version_text.map(|v| v.trim_start_matches("jauge-sim ").to_string()),
    })
}

/// JSON bodies without reqwest's `json` feature.
trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        self.bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }
}
