//! Sends one streamed request and times it: when it was meant to go, when it went, each chunk
//! of text, the end — on one monotonic clock shared by the whole step.

use std::time::{Duration, Instant};

use jauge::dataset::{Endpoint, ErrorKind};
use jauge::redact::redact;

use crate::openai::{self, BodyOptions, Prompt};
use crate::record::RequestRecord;
use crate::sse;

/// An API key, kept out of every printout.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key read from the environment or a file.
    pub fn new(key: String) -> ApiKey {
        ApiKey(key.trim().to_string())
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Where requests go and how they are shaped.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without a trailing slash (`http://127.0.0.1:8000`).
    pub base_url: String,
    /// Bearer token, when the server wants one.
    pub api_key: Option<ApiKey>,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The served model name.
    pub model: String,
    /// Send `ignore_eos` and `min_tokens`.
    pub force_output_length: bool,
    /// Per-request limit.
    pub timeout: Duration,
}

impl Target {
    fn url(&self) -> String {
        match self.endpoint {
            Endpoint::Completions => format!("{}/v1/completions", self.base_url),
            Endpoint::Chat => format!("{}/v1/chat/completions", self.base_url),
        }
    }

    /// A GET or POST to another path of the server, with the key when there is one.
    pub fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let builder = http.request(method, format!("{}{path}", self.base_url));
        match &self.api_key {
            Some(key) => builder.bearer_auth(key.expose()),
            None => builder,
        }
    }
}

/// What identifies a request in its step.
#[derive(Debug, Clone, Copy)]
pub struct RequestSlot {
    /// The step's concurrency.
    pub concurrency: u32,
    /// The prompt tokens asked for.
    pub prompt_tokens: u32,
    /// Output tokens to generate.
    pub output_tokens: u32,
    /// Index in the step.
    pub index: u32,
    /// Warm-up (left out of the figures).
    pub warmup: bool,
    /// When the schedule meant it to start.
    pub intended: Instant,
}

/// Sends a request and records what happened; never fails, errors are recorded.
pub async fn send(
    http: &reqwest::Client,
    target: &Target,
    prompt: &Prompt,
    slot: RequestSlot,
    clock: Instant,
) -> RequestRecord {
    let ms = |t: Instant| t.saturating_duration_since(clock).as_secs_f64() * 1000.0;
    let sent = Instant::now();
    let mut record = RequestRecord {
        concurrency: slot.concurrency,
        prompt_tokens: slot.prompt_tokens,
        index: slot.index,
        warmup: slot.warmup,
        intended_ms: ms(slot.intended),
        sent_ms: ms(sent),
        first_token_ms: None,
        end_ms: ms(sent),
        gaps_ms: Vec::new(),
        chunks: 0,
        usage_prompt_tokens: None,
        usage_output_tokens: None,
        error: None,
        error_message: None,
    };
    let outcome = tokio::time::timeout(
        target.timeout,
        stream(http, target, prompt, slot, &mut record, clock),
    )
    .await;
    record.end_ms = ms(Instant::now());
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(failure)) => Some(failure),
        Err(_) => Some((
            ErrorKind::Timeout,
            format!(
                "no complete answer within {}",
                humantime::format_duration(target.timeout)
            ),
        )),
    };
    if let Some((kind, message)) = failure {
        record.error = Some(kind);
        record.error_message = Some(redact(&message));
    }
    record
}

type Failure = (ErrorKind, String);

async fn stream(
    http: &reqwest::Client,
    target: &Target,
    prompt: &Prompt,
    slot: RequestSlot,
    record: &mut RequestRecord,
    clock: Instant,
) -> Result<(), Failure> {
    let options = BodyOptions {
        model: target.model.clone(),
        max_tokens: slot.output_tokens,
        force_output_length: target.force_output_length,
    };
    let body = openai::request_body(target.endpoint, prompt, &options).to_string();
    let mut response = None;
    for _attempt in 0..STALE_CONNECTION_RETRIES {
        let mut request = http
            .post(target.url())
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(body.clone());
        if let Some(key) = &target.api_key {
            request = request.bearer_auth(key.expose());
        }
        match request.send().await {
            Ok(r) => {
                response = Some(r);
                break;
            }
            // The server closed a kept-alive connection just as this request went out on it
            // (llama.cpp's extra HTTP threads close theirs after one request without saying
            // so); nothing was answered, so the request goes again on another connection,
            // as browsers do. Its time still counts from the first attempt.
            Err(e) if is_stale_connection(&e) => continue,
            Err(e) => return Err(transport_failure(&e, false)),
        }
    }
    let Some(mut response) = response else {
        return Err((
            ErrorKind::Connection,
            format!(
                "the server closed {STALE_CONNECTION_RETRIES} connections in a row before answering"
            ),
        ));
    };
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(openai::classify_http_error(status.as_u16(), &text));
    }
    let mut parser = sse::Parser::new();
    let mut last_text: Option<Instant> = None;
    loop {
        let bytes = match response.chunk().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(e) => return Err(transport_failure(&e, true)),
        };
        let now = Instant::now();
        for event in parser.feed(&bytes) {
            if event.data.trim() == "[DONE]" {
                return Ok(());
            }
            let chunk =
                openai::parse_chunk(&event.data).map_err(|m| (ErrorKind::MalformedStream, m))?;
            if let Some(message) = chunk.error {
                let kind = if openai::is_context_length_message(&message) {
                    ErrorKind::ContextLength
                } else {
                    ErrorKind::ServerError
                };
                return Err((kind, format!("error in stream: {message}")));
            }
            if chunk.has_content {
                record.chunks += 1;
                let at = now.saturating_duration_since(clock).as_secs_f64() * 1000.0;
                match last_text {
                    None => record.first_token_ms = Some(at),
                    Some(previous) => record
                        .gaps_ms
                        .push(now.saturating_duration_since(previous).as_secs_f64() * 1000.0),
                }
                last_text = Some(now);
            }
            if chunk.prompt_tokens.is_some() {
                record.usage_prompt_tokens = chunk.prompt_tokens;
            }
            if chunk.completion_tokens.is_some() {
                record.usage_output_tokens = chunk.completion_tokens;
            }
        }
    }
    Err((
        ErrorKind::Truncated,
        format!(
            "stream ended without [DONE] after {} chunks of text",
            record.chunks
        ),
    ))
}

/// Attempts of one request when the server closes the connection before answering.
const STALE_CONNECTION_RETRIES: u32 = 3;

/// Whether the connection was closed before any byte of an answer came back.
fn is_stale_connection(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_incomplete_message();
        }
        source = s.source();
    }
    false
}

fn transport_failure(e: &reqwest::Error, mid_stream: bool) -> Failure {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if mid_stream {
        ErrorKind::Truncated
    } else if e.is_connect() || e.is_request() {
        ErrorKind::Connection
    } else {
        ErrorKind::Other
    };
    // reqwest's message names the URL; redact() removes any credentials in it.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let prefix = if mid_stream { "stream cut: " } else { "" };
    (kind, redact(&format!("{prefix}{message}")))
}
