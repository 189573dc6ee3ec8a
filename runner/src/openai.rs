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
    let chat_text;
    let (prompt, content) = match (endpoint, prompt) {
        (Endpoint::Completions, Prompt::Text(t)) => (Some(PromptField::Text(t)), None),
        (Endpoint::Completions, Prompt::Tokens(ids)) => (Some(PromptField::Tokens(ids)), None),
        (Endpoint::Chat, Prompt::Text(t)) => (None, Some(t.as_str())),
        (Endpoint::Chat, Prompt::Tokens(ids)) => {
            chat_text = ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
            (None, Some(chat_text.as_str()))
        }
    };
    let message = content.map(|content| {
        [Message {
            role: "user",
            content,
        }]
    });
    encode(prompt, message.as_ref().map(|m| &m[..]), options)
}

/// The body of one turn of a conversation: `messages` (role, text) as chat messages, or on
/// the completions endpoint their texts one after the other, a blank line between them.
pub fn encode_conversation(
    endpoint: Endpoint,
    messages: &[(&'static str, &str)],
    options: &BodyOptions,
) -> bytes::Bytes {
    match endpoint {
        Endpoint::Chat => {
            let messages: Vec<Message<'_>> = messages
                .iter()
                .map(|&(role, content)| Message { role, content })
                .collect();
            encode(None, Some(&messages), options)
        }
        Endpoint::Completions => {
            let text = messages
                .iter()
                .map(|(_, content)| *content)
                .collect::<Vec<_>>()
                .join("\n\n");
            encode(Some(PromptField::Text(&text)), None, options)
        }
    }
}

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

fn encode(
    prompt: Option<PromptField<'_>>,
    messages: Option<&[Message<'_>]>,
    options: &BodyOptions,
) -> bytes::Bytes {
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
        messages: Option<&'a [Message<'a>]>,
        max_tokens: u32,
        stream: bool,
        stream_options: Usage,
        temperature: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        ignore_eos: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        min_tokens: Option<u32>,
    }
    let force = options.force_output_length;
    let body = Body {
        model: &options.model,
        prompt,
        messages,
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

/// The answer's text a chunk carries (`choices[0].text`, or `.delta.content`), read through a
/// JSON tree: only for the few requests whose answer is kept.
pub fn chunk_answer_text(data: &str) -> Option<String> {
    let value: Value = serde_json::from_str(data).ok()?;
    let choice = value.get("choices")?.get(0)?;
    choice
        .get("text")
        .or_else(|| choice.pointer("/delta/content"))
        .and_then(Value::as_str)
        .map(str::to_string)
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
    /// Whether it carries reasoning: a `reasoning_content` (vLLM's reasoning parsers, SGLang,
    /// DeepSeek's API) or `reasoning` (vLLM since 0.10, llama.cpp, OpenRouter) delta.
    pub has_reasoning: bool,
    /// Its text opens a `<think>` span (a reasoning model served without a reasoning parser:
    /// the reasoning comes as ordinary text between `<think>` and `</think>`).
    pub opens_think: bool,
    /// Its text closes a `<think>` span.
    pub closes_think: bool,
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
/// Every token goes through here, so the usual chunk is read in one pass into borrowed
/// fields, without a JSON tree or a copy of its text; anything unusual (an error, a field of
/// an unexpected type, a repeated key) is read again by the general path, whose answer is the
/// reference.
///
/// # Errors
/// A phrase when the payload is not a JSON object.
pub fn parse_chunk(data: &str) -> Result<Chunk, String> {
    match fast::parse(data) {
        Some(chunk) => Ok(chunk),
        None => parse_chunk_slowly(data),
    }
}

/// The chunk's reading through a JSON tree: the reference for every shape.
fn parse_chunk_slowly(data: &str) -> Result<Chunk, String> {
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
        chunk.opens_think = text.contains(THINK_OPEN);
        chunk.closes_think = text.contains(THINK_CLOSE);
        chunk.has_reasoning = ["/delta/reasoning_content", "/delta/reasoning"]
            .iter()
            .any(|p| {
                choice
                    .pointer(p)
                    .and_then(Value::as_str)
                    .is_some_and(|r| !r.is_empty())
            });
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

/// The tags around a reasoning model's thinking when no reasoning parser separates it.
const THINK_OPEN: &str = "<think>";
/// See [`THINK_OPEN`].
const THINK_CLOSE: &str = "</think>";

/// The usual chunk's one-pass reading (see [`parse_chunk`]).
mod fast {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
    use serde::Deserialize;

    use super::{Chunk, THINK_CLOSE, THINK_OPEN};

    /// The chunk when it is an ordinary one; `None` sends it to the general path.
    pub(super) fn parse(data: &str) -> Option<Chunk> {
        let wire: Wire<'_> = serde_json::from_str(data).ok()?;
        if wire.error.is_some() || wire.object.as_deref() == Some("error") {
            return None;
        }
        let mut chunk = Chunk::default();
        if let Some(FirstChoice(Some(choice))) = wire.choices {
            let delta = choice.delta.unwrap_or_default();
            let text = choice.text.or(delta.content).unwrap_or_default();
            chunk.has_content = text.non_empty;
            chunk.opens_think = text.opens_think;
            chunk.closes_think = text.closes_think;
            chunk.has_reasoning = [delta.reasoning_content, delta.reasoning]
                .iter()
                .any(|r| r.is_some_and(|r| r.non_empty));
            chunk.finish_reason = choice.finish_reason.map(Cow::into_owned);
        }
        if let Some(usage) = wire.usage {
            let count = |n: Option<u64>| n.map(u32::try_from).transpose().ok();
            // A count beyond 32 bits is the general path's error to word.
            chunk.prompt_tokens = count(usage.prompt_tokens)?;
            chunk.completion_tokens = count(usage.completion_tokens)?;
        }
        Some(chunk)
    }

    #[derive(Deserialize)]
    struct Wire<'a> {
        #[serde(default, borrow)]
        object: Option<Cow<'a, str>>,
        #[serde(default)]
        error: Option<IgnoredAny>,
        #[serde(default, borrow)]
        choices: Option<FirstChoice<'a>>,
        #[serde(default)]
        usage: Option<Usage>,
    }

    #[derive(Deserialize)]
    struct Choice<'a> {
        #[serde(default)]
        text: Option<Text>,
        #[serde(default)]
        delta: Option<Delta>,
        #[serde(default, borrow)]
        finish_reason: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize, Default)]
    struct Delta {
        #[serde(default)]
        content: Option<Text>,
        #[serde(default)]
        reasoning_content: Option<Text>,
        #[serde(default)]
        reasoning: Option<Text>,
    }

    #[derive(Deserialize)]
    struct Usage {
        #[serde(default)]
        prompt_tokens: Option<u64>,
        #[serde(default)]
        completion_tokens: Option<u64>,
    }

    /// What a string says to the load generator, read without keeping it: whether it is
    /// empty, and whether it opens or closes a `<think>` span.
    #[derive(Clone, Copy, Default)]
    struct Text {
        non_empty: bool,
        opens_think: bool,
        closes_think: bool,
    }

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Reading;
            impl Visitor<'_> for Reading {
                type Value = Text;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                    // A tag is rare and short: look for its `<` before comparing.
                    let tagged = v.contains('<');
                    Ok(Text {
                        non_empty: !v.is_empty(),
                        opens_think: tagged && v.contains(THINK_OPEN),
                        closes_think: tagged && v.contains(THINK_CLOSE),
                    })
                }
            }
            d.deserialize_str(Reading)
        }
    }

    /// The first element of `choices`, the others skipped unread.
    struct FirstChoice<'a>(Option<Choice<'a>>);

    impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct First<'a>(std::marker::PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for First<'a> {
                type Value = FirstChoice<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an array of choices")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let first = seq.next_element::<Choice<'a>>()?;
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(FirstChoice(first))
                }
            }
            d.deserialize_seq(First(std::marker::PhantomData))
        }
    }
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
    use proptest::prelude::*;
    use serde_json::json;

    /// Pieces of chunks as servers send them, and as hostile ones might.
    fn chunk_json() -> impl Strategy<Value = String> {
        let text = prop_oneof![
            Just(r#""""#.to_string()),
            Just(r#"" tok""#.to_string()),
            Just(r#""\n\u00e9""#.to_string()),
            Just(r#""<think>Let""#.to_string()),
            Just(r#""so. </think> The""#.to_string()),
            Just("null".to_string()),
            Just("3".to_string()),
        ];
        let count = prop_oneof![
            Just("7".to_string()),
            Just("4294967297".to_string()),
            Just("-1".to_string()),
            Just("1.5".to_string()),
            Just("null".to_string()),
        ];
        let choice = (text.clone(), text, prop::bool::ANY, prop::bool::ANY).prop_map(
            |(t, c, finished, delta)| {
                let finish = if finished { r#""length""# } else { "null" };
                if delta {
                    format!(r#"{{"index":0,"delta":{{"content":{c},"reasoning_content":{t},"reasoning":{c}}},"finish_reason":{finish}}}"#)
                } else {
                    format!(r#"{{"index":0,"text":{t},"finish_reason":{finish}}}"#)
                }
            },
        );
        let choices = prop_oneof![
            prop::collection::vec(choice, 0..3).prop_map(|c| format!("[{}]", c.join(","))),
            Just("null".to_string()),
            Just("{}".to_string()),
        ];
        let usage = prop_oneof![
            (count.clone(), count)
                .prop_map(|(p, c)| format!(r#"{{"prompt_tokens":{p},"completion_tokens":{c}}}"#)),
            Just("null".to_string()),
            Just("5".to_string()),
        ];
        let error = prop_oneof![
            Just(String::new()),
            Just(r#","error":"boom""#.to_string()),
            Just(r#","error":{"message":"bad"}"#.to_string()),
            Just(r#","error":null"#.to_string()),
            Just(r#","object":"error","message":"m""#.to_string()),
        ];
        (choices, usage, error, prop::bool::ANY).prop_map(|(c, u, e, twice)| {
            let repeat = if twice { r#","choices":[]"# } else { "" };
            format!(r#"{{"id":"x","choices":{c},"usage":{u}{e}{repeat}}}"#)
        })
    }

    /// The chunks of vLLM, llama.cpp and the chat endpoint take the one-pass reading.
    #[test]
    fn ordinary_chunks_take_the_fast_path() {
        for data in [
            r#"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" Hello","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}"#,
            r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"content":"\n"}}],"created":1,"id":"c","model":"m","object":"chat.completion.chunk"}"#,
            r#"{"id":"c","object":"text_completion","choices":[],"usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2}}"#,
        ] {
            let fast = fast::parse(data).expect("an ordinary chunk");
            assert_eq!(Ok(fast), parse_chunk_slowly(data), "{data}");
        }
    }

    /// Reasoning as vLLM's reasoning parsers (`reasoning_content`, `reasoning` since 0.10)
    /// and llama.cpp send it, and as a model without a parser writes it (`<think>` text).
    #[test]
    fn reasoning_is_seen_in_every_shape() {
        for (data, reasoning, content, opens, closes) in [
            (
                r#"{"choices":[{"index":0,"delta":{"reasoning_content":" Let"},"finish_reason":null}]}"#,
                true,
                false,
                false,
                false,
            ),
            (
                r#"{"choices":[{"index":0,"delta":{"reasoning":" me"},"finish_reason":null}]}"#,
                true,
                false,
                false,
                false,
            ),
            (
                r#"{"choices":[{"index":0,"delta":{"content":" The","reasoning_content":null},"finish_reason":null}]}"#,
                false,
                true,
                false,
                false,
            ),
            (
                r#"{"choices":[{"index":0,"text":"<think>Let","finish_reason":null}]}"#,
                false,
                true,
                true,
                false,
            ),
            (
                r#"{"choices":[{"index":0,"delta":{"content":" so.</think>"},"finish_reason":null}]}"#,
                false,
                true,
                false,
                true,
            ),
        ] {
            let chunk = parse_chunk(data).unwrap();
            assert_eq!(
                (
                    chunk.has_reasoning,
                    chunk.has_content,
                    chunk.opens_think,
                    chunk.closes_think
                ),
                (reasoning, content, opens, closes),
                "{data}"
            );
            assert_eq!(fast::parse(data), Some(chunk.clone()), "{data}");
            assert_eq!(parse_chunk_slowly(data), Ok(chunk), "{data}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        /// The one-pass reading gives what the general path gives, for every shape.
        #[test]
        fn the_fast_path_agrees_with_the_general_one(data in chunk_json()) {
            let expected = parse_chunk_slowly(&data);
            if let Some(fast) = fast::parse(&data) {
                prop_assert_eq!(Ok(fast), expected, "{}", data);
            }
            prop_assert_eq!(parse_chunk(&data), parse_chunk_slowly(&data));
        }
    }

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
