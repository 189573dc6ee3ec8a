//! Sends one streamed request and times it: when it was meant to go, when it went, each chunk
//! of text, the end — on one monotonic clock shared by the whole step.

use std::time::{Duration, Instant};

use bytes::Bytes;
use jauge::dataset::{Endpoint, ErrorKind};

use crate::h1::{self, Connection};
use crate::limits::{self, ReadLimits, ShowBytes};
use crate::openai;
use crate::record::RequestRecord;
use crate::secrets::redact;
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
    /// Per-request limit: the whole request, from connecting to its last byte.
    pub timeout: Duration,
    /// How much of each answer jauge reads.
    pub limits: ReadLimits,
}

impl Target {
    fn url(&self) -> String {
        match self.endpoint {
            Endpoint::Completions => format!("{}/v1/completions", self.base_url),
            Endpoint::Chat => format!("{}/v1/chat/completions", self.base_url),
        }
    }

    /// `METHOD BASE/path` for messages, credentials masked.
    pub fn endpoint(&self, method: &reqwest::Method, path: &str) -> String {
        redact(&format!("{method} {}{path}", self.base_url))
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
    /// Keep the answer's text in the record (a chat's next turn resends it).
    pub keep_answer: bool,
}

/// Sends a request (`body`, from [`openai::encode_body`]) on a connection of its own and
/// records what happened; never fails, errors are recorded. `--timeout` bounds the whole of it.
pub async fn send(
    http: &reqwest::Client,
    target: &Target,
    body: &Bytes,
    slot: RequestSlot,
    clock: Instant,
) -> RequestRecord {
    send_on(&mut Connection::new(), http, target, body, slot, clock).await
}

/// [`send`] on `connection`, kept open for the caller's next request when the server allows.
/// A plain `http://` base URL is served by jauge's own HTTP/1.1 client ([`crate::h1`]); any
/// other (credentials in it) by `http`.
pub async fn send_on(
    connection: &mut Connection,
    http: &reqwest::Client,
    target: &Target,
    body: &Bytes,
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
        first_answer_ms: None,
        reasoning_chunks: 0,
        end_ms: ms(sent),
        gaps_ms: Vec::new(),
        chunks: 0,
        usage_prompt_tokens: None,
        usage_output_tokens: None,
        error: None,
        error_message: None,
        interrupted: false,
        answer_text: None,
    };
    let timed_out = || {
        (
            ErrorKind::Timeout,
            format!(
                "no complete answer within {}",
                humantime::format_duration(target.timeout)
            ),
        )
    };
    let failure = match h1::Origin::parse(&target.base_url) {
        Some(origin) => {
            let mut deadline = h1::Deadline::new(sent + target.timeout);
            let outcome = stream_h1(
                connection,
                &origin,
                target,
                body,
                slot,
                &mut record,
                clock,
                &mut deadline,
            )
            .await;
            record.end_ms = ms(Instant::now());
            match outcome {
                Ok(()) => {
                    connection.finish().await;
                    None
                }
                Err(failure) => {
                    connection.close();
                    Some(failure.unwrap_or_else(timed_out))
                }
            }
        }
        None => {
            let outcome = tokio::time::timeout(
                target.timeout,
                stream(http, target, body, slot, &mut record, clock),
            )
            .await;
            record.end_ms = ms(Instant::now());
            match outcome {
                Ok(Ok(())) => None,
                Ok(Err(failure)) => Some(failure),
                Err(_) => Some(timed_out()),
            }
        }
    };
    if let Some((kind, message)) = failure {
        record.error = Some(kind);
        record.error_message = Some(redact(&message).chars().take(MESSAGE_CHARS).collect());
    }
    record
}

type Failure = (ErrorKind, String);

/// The longest error message kept in a request record: one line a person reads.
const MESSAGE_CHARS: usize = 300;

/// The exchange on jauge's own client; `Err(None)` when the deadline passed.
#[allow(clippy::too_many_arguments)]
async fn stream_h1(
    connection: &mut Connection,
    origin: &h1::Origin,
    target: &Target,
    body: &Bytes,
    slot: RequestSlot,
    record: &mut RequestRecord,
    clock: Instant,
    deadline: &mut h1::Deadline,
) -> Result<(), Option<Failure>> {
    let path = match target.endpoint {
        Endpoint::Completions => "/v1/completions",
        Endpoint::Chat => "/v1/chat/completions",
    };
    let bearer = target.api_key.as_ref().map(ApiKey::expose);
    let before = |e: h1::Error| match e {
        h1::Error::Timeout => None,
        h1::Error::ConnectTimeout => Some((
            ErrorKind::Timeout,
            format!("{}: {e}", target.endpoint(&reqwest::Method::POST, path)),
        )),
        h1::Error::HeadTooLarge => Some((
            ErrorKind::ResponseTooLarge,
            format!("{}: {e}", target.endpoint(&reqwest::Method::POST, path)),
        )),
        _ => Some((
            ErrorKind::Connection,
            format!("{}: {e}", target.endpoint(&reqwest::Method::POST, path)),
        )),
    };
    let mut status = None;
    for _attempt in 0..STALE_CONNECTION_RETRIES {
        match connection.post(origin, path, bearer, body, deadline).await {
            Ok(s) => {
                status = Some(s);
                break;
            }
            // As in `stream`: closed before any byte of an answer, the request goes again.
            Err(h1::Error::Stale) => continue,
            Err(e) => return Err(before(e)),
        }
    }
    let Some(status) = status else {
        return Err(Some(stale_failure()));
    };
    if !(200..300).contains(&status) {
        let (head, truncated) = connection
            .body_head(target.limits.error_body, deadline)
            .await
            .map_err(|_| None)?;
        return Err(Some(openai::classify_http_error(
            status,
            &String::from_utf8_lossy(&head),
            truncated,
        )));
    }
    let mut reading = Reading::new(target, slot, record);
    loop {
        let (now, bytes) = match connection.next(deadline).await {
            Ok(Some(piece)) => piece,
            Ok(None) => break,
            Err(h1::Error::Timeout) => return Err(None),
            Err(e) => return Err(Some((ErrorKind::Truncated, format!("stream cut: {e}")))),
        };
        if reading.feed(bytes, now, record, clock)? {
            return Ok(());
        }
    }
    Err(Some(reading.cut(record)))
}

async fn stream(
    http: &reqwest::Client,
    target: &Target,
    body: &Bytes,
    slot: RequestSlot,
    record: &mut RequestRecord,
    clock: Instant,
) -> Result<(), Failure> {
    let mut response = None;
    for _attempt in 0..STALE_CONNECTION_RETRIES {
        let mut request = http
            .post(target.url())
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            // Shared, not copied: every request of the pool sends the same bytes.
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
        return Err(stale_failure());
    };
    let status = response.status();
    if !status.is_success() {
        let (head, truncated) =
            crate::fetch::body_head(&mut response, target.limits.error_body).await;
        return Err(openai::classify_http_error(
            status.as_u16(),
            &String::from_utf8_lossy(&head),
            truncated,
        ));
    }
    let mut reading = Reading::new(target, slot, record);
    loop {
        let bytes = match response.chunk().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(e) => return Err(transport_failure(&e, true)),
        };
        if reading.feed(&bytes, Instant::now(), record, clock)? {
            return Ok(());
        }
    }
    Err(reading.cut(record))
}

fn stale_failure() -> Failure {
    (
        ErrorKind::Connection,
        format!(
            "the server closed {STALE_CONNECTION_RETRIES} connections in a row before answering"
        ),
    )
}

/// A stream's events as they come, whichever client read them: the record's timings and
/// counts, and the limits on what a stream may hold.
struct Reading {
    parser: sse::Parser,
    events: sse::Events,
    output_tokens: u32,
    max_events: u32,
    events_seen: u32,
    last_text: Option<Instant>,
    /// Inside a `<think>` span of plain text.
    thinking: bool,
    keep_answer: bool,
}

impl Reading {
    fn new(target: &Target, slot: RequestSlot, record: &mut RequestRecord) -> Reading {
        // One gap per token: room for them all up front, not a regrowth in the stream.
        record
            .gaps_ms
            .reserve(slot.output_tokens.min(8192) as usize);
        Reading {
            parser: sse::Parser::with_limit(target.limits.event),
            events: sse::Events::default(),
            output_tokens: slot.output_tokens,
            max_events: limits::max_events(slot.output_tokens),
            events_seen: 0,
            last_text: None,
            thinking: false,
            keep_answer: slot.keep_answer,
        }
    }

    /// Feeds bytes read at `now`; `true` once `[DONE]` came.
    fn feed(
        &mut self,
        bytes: &[u8],
        now: Instant,
        record: &mut RequestRecord,
        clock: Instant,
    ) -> Result<bool, Failure> {
        self.parser.feed_into(bytes, &mut self.events).map_err(|e| {
            (
                ErrorKind::ResponseTooLarge,
                format!(
                    "a stream event or line went past {} without ending (raise it with --read-limit event=SIZE)",
                    ShowBytes(e.limit)
                ),
            )
        })?;
        for event in self.events.iter() {
            if event.data.trim() == "[DONE]" {
                return Ok(true);
            }
            self.events_seen += 1;
            if self.events_seen > self.max_events {
                return Err((
                    ErrorKind::OverlongStream,
                    format!(
                        "the stream went on past {} events for {} output tokens ({} with text) without ending",
                        self.max_events, self.output_tokens, record.chunks
                    ),
                ));
            }
            let chunk =
                openai::parse_chunk(&event.data).map_err(|m| (ErrorKind::MalformedStream, m))?;
            if let Some(message) = chunk.error {
                let kind = if openai::is_context_length_message(&message) {
                    ErrorKind::ContextLength
                } else {
                    ErrorKind::ServerError
                };
                return Err((kind, format!("error in stream: {}", redact(&message))));
            }
            // Reasoning is generated text: it counts for the first token and the gaps, as
            // vLLM's benchmark counts it; the answer's first token is timed apart.
            let reasoning =
                chunk.has_reasoning || (chunk.has_content && (self.thinking || chunk.opens_think));
            if chunk.opens_think {
                self.thinking = true;
            }
            if chunk.closes_think {
                self.thinking = false;
            }
            if self.keep_answer && chunk.has_content && !reasoning {
                // Off the hot path: only people's chats keep their answers, at their pace.
                if let Some(text) = openai::chunk_answer_text(&event.data) {
                    record
                        .answer_text
                        .get_or_insert_with(String::new)
                        .push_str(&text);
                }
            }
            if chunk.has_content || chunk.has_reasoning {
                record.chunks += 1;
                let at = now.saturating_duration_since(clock).as_secs_f64() * 1000.0;
                if reasoning {
                    record.reasoning_chunks += 1;
                } else if record.reasoning_chunks > 0 && record.first_answer_ms.is_none() {
                    record.first_answer_ms = Some(at);
                }
                match self.last_text {
                    None => record.first_token_ms = Some(at),
                    Some(previous) => record
                        .gaps_ms
                        .push(now.saturating_duration_since(previous).as_secs_f64() * 1000.0),
                }
                self.last_text = Some(now);
            }
            if chunk.prompt_tokens.is_some() {
                record.usage_prompt_tokens = chunk.prompt_tokens;
            }
            if chunk.completion_tokens.is_some() {
                record.usage_output_tokens = chunk.completion_tokens;
            }
        }
        Ok(false)
    }

    /// The failure of a stream that ended without `[DONE]`.
    fn cut(&self, record: &RequestRecord) -> Failure {
        (
            ErrorKind::Truncated,
            format!(
                "stream ended without [DONE] after {} chunks of text",
                record.chunks
            ),
        )
    }
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
    // reqwest's message names the URL; describe() masks any credentials in it.
    let prefix = if mid_stream { "stream cut: " } else { "" };
    (kind, format!("{prefix}{}", crate::fetch::describe(e)))
}
