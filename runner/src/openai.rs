//! The OpenAI-compatible wire format: request bodies, streamed chunks, error bodies.
//!
//! Written from the formats vLLM's `entrypoints/openai` and llama.cpp's `tools/server` send:
//! a `data:` line per chunk with `choices[0].text` (completions) or `choices[0].delta.content`
//! (chat), a final chunk with `usage` when `stream_options.include_usage` is set, then
//! `data: [DONE]`. Errors come as `{"object":"error","message":…}` (vLLM),
//! `{"error":{"message":…}}` (OpenAI, llama.cpp), in the body of a 4xx/5xx or as a chunk.

use jauge::dataset::{Endpoint, ErrorKind};
use serde_json::Value;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Text (both endpoints).
    Text(String),
    /// Token ids: exact prompt lengths on `/v1/completions` (vLLM and llama.cpp accept them).
    Tokens(Vec<u32>),
}

/// Options that shape a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyOptions {
    /// The served model name.
    pub model: String,
    /// Output tokens to generate.
    pub max_tokens: u32,
    /// Send vLLM's `ignore_eos` and `min_tokens` so the output has exactly `max_tokens`.
    pub force_output_length: bool,
}

/// The JSON body of one streamed request, as bytes ready to send: serialised straight from
/// the prompt, without a JSON tree in between (a prompt of a million token ids would make a
/// tree of a million values).
pub fn encode_body(endpoint: Endpoint, prompt: &Prompt, options: &BodyOptions) -> bytes::Bytes {
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum PromptField<'a> {
        Text(&'a str),
        Tokens(&'a [u32]),
    }
    #[derive(serde::Serialize)]
    struct Message<'a> {
        role: &'static str,
        content: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Usage {
        include_usage: bool,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        model: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        prompt: Option<PromptField<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        messages: Option<[Message<'a>; 1]>,
        max_tokens: u32,
        stream: bool,
        stream_options: Usage,
        temperature: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        ignore_eos: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        min_tokens: Option<u32>,
    }
    let chat_text;
    let (prompt, messages) = match (endpoint, prompt) {
        (Endpoint::Completions, Prompt::Text(t)) => (Some(PromptField::Text(t)), None),
        (Endpoint::Completions, Prompt::Tokens(ids)) => (Some(PromptField::Tokens(ids)), None),
        (Endpoint::Chat, Prompt::Text(t)) => (None, Some(t.as_str())),
        (Endpoint::Chat, Prompt::Tokens(ids)) => {
            chat_text = ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
            (None, Some(chat_text.as_str()))
        }
    };
    let force = options.force_output_length;
    let body = Body {
        model: &options.model,
        prompt,
        messages: messages.map(|content| {
            [Message {
                role: "user",
                content,
            }]
        }),
        max_tokens: options.max_tokens,
        stream: true,
        stream_options: Usage {
            include_usage: true,
        },
        temperature: 0.0,
        ignore_eos: force.then_some(true),
        min_tokens: force.then_some(options.max_tokens),
    };
    bytes::Bytes::from(serde_json::to_vec(&body).expect("a request body always serialises"))
}

/// The same body as a JSON value, for tests and for reading.
pub fn request_body(endpoint: Endpoint, prompt: &Prompt, options: &BodyOptions) -> Value {
    serde_json::from_slice(&encode_body(endpoint, prompt, options))
        .expect("an encoded body is JSON")
}

/// What one streamed chunk says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    /// Whether it carries generated text (a token, or several).
    pub has_content: bool,
    /// `finish_reason`, when the choice finished.
    pub finish_reason: Option<String>,
    /// `usage.prompt_tokens`, when present.
    pub prompt_tokens: Option<u32>,
    /// `usage.completion_tokens`, when present.
    pub completion_tokens: Option<u32>,
    /// An error sent in the stream.
    pub error: Option<String>,
}

/// Parses one `data:` payload (not `[DONE]`).
///
/// # Errors
/// A phrase when the payload is not a JSON object.
pub fn parse_chunk(data: &str) -> Result<Chunk, String> {
    let value: Value = serde_json::from_str(data).map_err(|e| {
        let shown: String = crate::secrets::redact(data).chars().take(80).collect();
        format!("malformed stream chunk `{shown}`: {e}")
    })?;
    if !value.is_object() {
        let shown: String = crate::secrets::redact(&value.to_string())
            .chars()
            .take(80)
            .collect();
        return Err(format!("stream chunk is not a JSON object: {shown}"));
    }
    let mut chunk = Chunk::default();
    if let Some(message) = error_message(&value) {
        chunk.error = Some(message);
        return Ok(chunk);
    }
    if let Some(choice) = value.get("choices").and_then(|c| c.get(0)) {
        let text = choice
            .get("text")
            .and_then(Value::as_str)
            .or_else(|| choice.pointer("/delta/content").and_then(Value::as_str))
            .unwrap_or("");
        chunk.has_content = !text.is_empty();
        chunk.finish_reason = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
        // A count beyond 32 bits is no prompt or answer any server holds: the figure is
        // refused, never wrapped into a small plausible one.
        let count = |k: &str| -> Result<Option<u32>, String> {
            match usage.get(k).and_then(Value::as_u64) {
                None => Ok(None),
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| format!("usage.{k} is {n}, beyond any real count of tokens")),
            }
        };
        chunk.prompt_tokens = count("prompt_tokens")?;
        chunk.completion_tokens = count("completion_tokens")?;
    }
    Ok(chunk)
}

/// The message of an error body in vLLM's, OpenAI's or llama.cpp's shape.
pub fn error_message(value: &Value) -> Option<String> {
    if value.get("object").and_then(Value::as_str) == Some("error") {
        return value
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    match value.get("error") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(e) if e.is_object() => Some(
            e.get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
        ),
        _ => None,
    }
}

/// A failure's message with secrets removed, and its first line (at most 200 characters) as
/// a dataset keeps it. Redacted before it is cut: a key cut in half would no longer match its
/// value.
pub fn redacted_first_line(message: &str) -> (String, String) {
    let message = crate::secrets::redact(message);
    let first = message
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    (message, first)
}

/// Classifies a failed HTTP response and gives its one-line message, secrets removed.
/// `truncated` says the body was longer than what was kept of it.
pub fn classify_http_error(status: u16, body: &str, truncated: bool) -> (ErrorKind, String) {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| error_message(&v))
        .unwrap_or_else(|| body.to_string());
    let (message, first_line) = redacted_first_line(&message);
    let kind = if status == 429 {
        ErrorKind::RateLimited
    } else if is_context_length_message(&message) || body.contains("exceed_context_size") {
        ErrorKind::ContextLength
    } else if (400..500).contains(&status) {
        ErrorKind::ClientError
    } else {
        ErrorKind::ServerError
    };
    let more = if truncated {
        " (the body went on; jauge read only its start)"
    } else {
        ""
    };
    (kind, format!("HTTP {status}: {first_line}{more}"))
}

/// Whether a server message says the prompt is longer than the context.
pub fn is_context_length_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "maximum context length",
        "context length",
        "exceeds the available context size",
        "exceed_context_size",
        "max_model_len",
        "too many tokens",
        "input is too long",
    ]
    .iter()
    .any(|p| m.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// vLLM's 400 for a prompt over `max_model_len` (serving_engine.py's message).
    const VLLM_CONTEXT_ERROR: &str = r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4744 in the messages, 256 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#;
    /// llama.cpp's 400 when the prompt exceeds the slot's context (server.cpp's error type).
    const LLAMA_CPP_CONTEXT_ERROR: &str = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#;

    #[test]
    fn context_errors_are_recognised_for_both_servers() {
        let (kind, message) = classify_http_error(400, VLLM_CONTEXT_ERROR, false);
        assert_eq!(kind, ErrorKind::ContextLength);
        assert!(message.starts_with("HTTP 400: This model's maximum context length is 4096"));
        assert_eq!(
            classify_http_error(400, LLAMA_CPP_CONTEXT_ERROR, false).0,
            ErrorKind::ContextLength
        );
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(
            classify_http_error(429, "slow down", false).0,
            ErrorKind::RateLimited
        );
        assert_eq!(
            classify_http_error(503, "<html>busy</html>", false).0,
            ErrorKind::ServerError
        );
        assert_eq!(
            classify_http_error(404, r#"{"error":{"message":"no such model"}}"#, false).1,
            "HTTP 404: no such model"
        );
    }

    #[test]
    fn secrets_in_error_bodies_are_removed() {
        let (_, message) =
            classify_http_error(401, r#"{"error":"bad key for Bearer sk-secret"}"#, false);
        assert!(!message.contains("sk-secret"), "{message}");
    }

    #[test]
    fn a_usage_count_beyond_32_bits_is_refused_not_wrapped() {
        let err = parse_chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":4294967297,"completion_tokens":8}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "usage.prompt_tokens is 4294967297, beyond any real count of tokens"
        );
    }

    #[test]
    fn an_encoded_body_is_the_json_value_it_stands_for() {
        let options = BodyOptions {
            model: "m\"x".into(),
            max_tokens: 8,
            force_output_length: true,
        };
        for (endpoint, prompt) in [
            (Endpoint::Completions, Prompt::Tokens(vec![7, 8])),
            (Endpoint::Completions, Prompt::Text("a \"quoted\" é".into())),
            (Endpoint::Chat, Prompt::Text("hi".into())),
            (Endpoint::Chat, Prompt::Tokens(vec![1, 2])),
        ] {
            let value = request_body(endpoint, &prompt, &options);
            assert_eq!(value["model"], "m\"x");
            assert_eq!(value["max_tokens"], 8);
            match endpoint {
                Endpoint::Chat => assert_eq!(value["messages"][0]["role"], "user"),
                Endpoint::Completions => assert!(value.get("messages").is_none()),
            }
        }
        let value = request_body(Endpoint::Chat, &Prompt::Tokens(vec![1, 2]), &options);
        assert_eq!(value["messages"][0]["content"], "1 2");
    }

    #[test]
    fn chunks_of_both_endpoints_parse() {
        let c =
            parse_chunk(r#"{"choices":[{"index":0,"text":" Hi","finish_reason":null}]}"#).unwrap();
        assert!(c.has_content);
        let c =
            parse_chunk(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#)
                .unwrap();
        assert!(
            !c.has_content,
            "vLLM's first chat chunk carries the role, not a token"
        );
        let c = parse_chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
        )
        .unwrap();
        assert_eq!((c.prompt_tokens, c.completion_tokens), (Some(5), Some(2)));
        let c = parse_chunk(r#"{"error":{"message":"engine dead"}}"#).unwrap();
        assert_eq!(c.error.as_deref(), Some("engine dead"));
        assert!(parse_chunk("{not json")
            .unwrap_err()
            .starts_with("malformed stream chunk"));
    }

    #[test]
    fn bodies_force_the_output_length_and_ask_for_usage() {
        let options = BodyOptions {
            model: "m".into(),
            max_tokens: 64,
            force_output_length: true,
        };
        let body = request_body(
            Endpoint::Completions,
            &Prompt::Tokens(vec![1, 2, 3]),
            &options,
        );
        assert_eq!(body["prompt"], json!([1, 2, 3]));
        assert_eq!(body["ignore_eos"], true);
        assert_eq!(body["min_tokens"], 64);
        assert_eq!(body["stream_options"]["include_usage"], true);
        let body = request_body(
            Endpoint::Chat,
            &Prompt::Text("hi".into()),
            &BodyOptions {
                force_output_length: false,
                ..options
            },
        );
        assert_eq!(body["messages"][0]["content"], "hi");
        assert!(body.get("ignore_eos").is_none());
    }
}
