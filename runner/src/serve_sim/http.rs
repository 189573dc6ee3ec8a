//! serve-sim's HTTP side: routes, OpenAI-style bodies and server-sent events.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::engine::EngineEvent;
use super::faults::FaultKind;
use super::Shared;

type HttpBody = BoxBody<Bytes, std::io::Error>;

/// Request line and headers, at most: hyper answers 431 beyond. Real clients send well under
/// 8 KiB; this leaves room for long bearer tokens and cookies.
const HEADER_BYTES: usize = 64 << 10;
/// A client gets this long to send its headers, then the connection is closed.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A client gets this long to send its body, then 408.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Bytes of request bodies being read at once, across connections (as KiB permits of
/// `Shared::body_budget`): so that many large bodies at once wait instead of exhausting memory.
pub(super) const BODIES_IN_FLIGHT_BYTES: u64 = 256 << 20;

/// Accepts connections until the server is killed, then cuts them all.
pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut kill = shared.kill.subscribe();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Tokens go out as they are made: no Nagle delay (it adds ~40 ms with delayed ACKs).
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(req, shared.clone()));
                    // Headers past the buffer get 431; a client that does not finish its
                    // headers in time is dropped (slowloris).
                    let _ = hyper::server::conn::http1::Builder::new()
                        .max_buf_size(HEADER_BYTES)
                        .max_header_size(HEADER_BYTES)
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = kill.changed() => break,
        }
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<HttpBody>, Infallible> {
    let path = req.uri().path().to_string();
    let response = match (req.method(), path.as_str()) {
        (&Method::GET, "/health") => text(StatusCode::OK, "text/plain", String::new()),
        (&Method::GET, "/version") => json_response(
            StatusCode::OK,
            &json!({"version": format!("jauge-sim {}", jauge::VERSION)}),
        ),
        (&Method::GET, "/v1/models") => {
            // vLLM's ModelCard (entrypoints/openai/protocol.py), owned by jauge-sim.
            let mut model = json!({
                "id": shared.served_name, "object": "model", "created": 0, "owned_by": "jauge-sim",
                "root": shared.served_name, "parent": null, "max_model_len": shared.max_model_len,
                "permission": [{
                    "id": "modelperm-jauge-sim", "object": "model_permission", "created": 0,
                    "allow_create_engine": false, "allow_sampling": true, "allow_logprobs": true,
                    "allow_search_indices": false, "allow_view": true, "allow_fine_tuning": false,
                    "organization": "*", "group": null, "is_blocking": false
                }]
            });
            if !shared.advertise_max_model_len {
                model.as_object_mut().map(|m| m.remove("max_model_len"));
            }
            json_response(StatusCode::OK, &json!({"object": "list", "data": [model]}))
        }
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics(&shared).await,
        ),
        (&Method::POST, "/tokenize") => match read_request(req, &shared).await {
            Ok(body) => {
                let count = body.prompt_tokens();
                let tokens = body.token_ids();
                let mut answer = json!({"count": count, "max_model_len": shared.max_model_len, "tokens": tokens, "token_strs": null});
                if !shared.advertise_max_model_len {
                    answer.as_object_mut().map(|m| m.remove("max_model_len"));
                }
                json_response(StatusCode::OK, &answer)
            }
            Err(r) => r,
        },
        (&Method::POST, "/v1/completions") => generate(req, shared, false).await,
        (&Method::POST, "/v1/chat/completions") => generate(req, shared, true).await,
        _ => error_response(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            &format!("no route for {path}"),
        ),
    };
    Ok(response)
}

async fn generate(req: Request<Incoming>, shared: Arc<Shared>, chat: bool) -> Response<HttpBody> {
    let body = match read_request(req, &shared).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let seen = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if shared.die_after.is_some_and(|n| seen >= n) {
        // Dying: stop listening and cut every connection, this one included.
        let _ = shared.kill.send(true);
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "server is shutting down",
        );
    }
    let prompt = body.prompt_tokens();
    let max_tokens = body.max_tokens.unwrap_or(16);
    if prompt.saturating_add(max_tokens) > u64::from(shared.max_model_len) {
        return context_error(shared.max_model_len, prompt, max_tokens);
    }
    let fault = shared.faults.lock().await.draw(max_tokens);
    match fault {
        Some((FaultKind::Status(code), _)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error_response(
                status,
                "InjectedFault",
                &format!("injected fault: HTTP {code}"),
            );
        }
        Some((FaultKind::ContextLength, _)) => {
            return context_error(shared.max_model_len, prompt, max_tokens)
        }
        _ => {}
    }
    let stream = body.stream.unwrap_or(false);
    let include_usage = body
        .stream_options
        .is_some_and(|o| o.include_usage.unwrap_or(false));
    let reasoning = u64::from(shared.reasoning_tokens);
    let block_hashes = if shared.prefix_cache {
        let mut context = body.prompt_token_stream();
        // The answer it will write, which a chat's next turn resends; a reasoning model's
        // history drops the reasoning, so its answer is not what the cache holds.
        if reasoning == 0 {
            context.extend((1..=max_tokens).map(|i| token_id(WORDS[(i % 8) as usize])));
        }
        jauge::sim::token_block_hashes(&context, shared.engine.block_size() as usize)
    } else {
        Vec::new()
    };
    let mut events = shared
        .engine
        .submit(prompt.max(1), max_tokens, block_hashes)
        .await;
    let id = format!("{}-{seen}", if chat { "chatcmpl" } else { "cmpl" });
    let model = shared.served_name.clone();
    if !stream {
        let mut generated = 0;
        while let Some(event) = events.recv().await {
            match event {
                EngineEvent::Token => generated += 1,
                EngineEvent::Finished => break,
            }
        }
        let text: String = (1..=generated).map(word).collect();
        let choice = if chat {
            json!({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"})
        } else {
            json!({"index": 0, "text": text, "finish_reason": "length"})
        };
        return json_response(
            StatusCode::OK,
            &json!({
                "id": id, "object": if chat { "chat.completion" } else { "text_completion" },
                "created": 0, "model": model, "choices": [choice],
                "usage": {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}
            }),
        );
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let object = if chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        // As vLLM writes them: completions chunks with every field (usage null until the
        // usage chunk), chat chunks with only the fields set (serving_completion.py,
        // serving_chat.py).
        let chunk = |choices: Value| {
            let mut c = json!({"id": id, "object": object, "created": 0, "model": model, "choices": choices});
            if !chat {
                c["usage"] = Value::Null;
            }
            c
        };
        if chat {
            let first = chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]),
            );
            let _ = tx.send(Ok(sse(&first))).await;
        }
        let mut generated = 0u64;
        while let Some(event) = events.recv().await {
            if event == EngineEvent::Finished {
                break;
            }
            if let Some((kind, at)) = fault {
                if generated == at {
                    match kind {
                        FaultKind::Reset => {
                            let cut = std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "injected reset",
                            );
                            let _ = tx.send(Err(cut)).await;
                            return;
                        }
                        FaultKind::Stall(d) => tokio::time::sleep(d).await,
                        FaultKind::Malformed => {
                            let _ = tx
                                .send(Ok(Bytes::from_static(
                                    b"data: {\"choices\": [{\"text\": \n\n",
                                )))
                                .await;
                        }
                        FaultKind::Status(_) | FaultKind::ContextLength => {}
                    }
                }
            }
            generated += 1;
            let finish = if generated == max_tokens {
                json!("length")
            } else {
                Value::Null
            };
            let thinking = generated <= reasoning;
            // Completions carry the reasoning as text inside <think>…</think>.
            let text = match (generated == 1 && thinking, generated == reasoning) {
                (true, true) => format!("<think>{}</think>", word(generated)),
                (true, false) => format!("<think>{}", word(generated)),
                (false, true) => format!("{}</think>", word(generated)),
                (false, false) => word(generated),
            };
            let choice = if chat {
                let delta = if thinking {
                    json!({"reasoning_content": word(generated)})
                } else {
                    json!({"content": word(generated)})
                };
                let mut c =
                    json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish});
                if generated == max_tokens {
                    c["stop_reason"] = Value::Null;
                }
                json!([c])
            } else {
                json!([{"index": 0, "text": text, "logprobs": null, "finish_reason": finish, "stop_reason": null}])
            };
            if tx.send(Ok(sse(&chunk(choice)))).await.is_err() {
                return; // the client went away; dropping `events` frees the sequence
            }
        }
        if include_usage {
            let mut last = chunk(json!([]));
            last["usage"] = json!({"prompt_tokens": prompt, "total_tokens": prompt + generated, "completion_tokens": generated});
            if !chat {
                last["usage"]["prompt_tokens_details"] = Value::Null;
            }
            let _ = tx.send(Ok(sse(&last))).await;
        }
        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(ChannelBody(rx).boxed())
        .expect("a valid response")
}

/// vLLM's 400 for a request longer than `max_model_len`, in its two current wordings: the
/// prompt alone too long, or the prompt fitting but not with `max_tokens` more.
fn context_error(max_model_len: u32, prompt: u64, max_tokens: u64) -> Response<HttpBody> {
    let max = u64::from(max_model_len);
    let message = if prompt > max {
        format!(
            "This model's maximum context length is {max} tokens. However, your request has {prompt} input tokens. Please reduce the length of the input messages."
        )
    } else {
        format!(
            "'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum context length is {max} tokens and your request has {prompt} input tokens ({max_tokens} > {max} - {prompt})."
        )
    };
    error_response(StatusCode::BAD_REQUEST, "BadRequestError", &message)
}

async fn metrics(shared: &Shared) -> String {
    let m = shared.engine.metrics().await;
    // V1's labels: the engine index and the model (finished requests also by reason).
    let label = format!("{{engine=\"0\",model_name=\"{}\"}}", shared.served_name);
    // vLLM's names, types and help texts (vllm/v1/metrics/loggers.py).
    let metrics = [
        (
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            m.running.to_string(),
        ),
        (
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            m.waiting.to_string(),
        ),
        (
            "vllm:kv_cache_usage_perc",
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
            m.kv_cache_usage.to_string(),
        ),
        (
            "vllm:num_preemptions_total",
            "counter",
            "Cumulative number of preemption from the engine.",
            m.preemptions.to_string(),
        ),
        (
            "vllm:prompt_tokens_total",
            "counter",
            "Number of prefill tokens processed.",
            m.prompt_tokens.to_string(),
        ),
        (
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            m.generation_tokens.to_string(),
        ),
        (
            "vllm:request_success_total",
            "counter",
            "Count of successfully processed requests.",
            m.finished.to_string(),
        ),
        (
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            m.prefix_queried_tokens.to_string(),
        ),
        (
            "vllm:prefix_cache_hits_total",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            m.prefix_hit_tokens.to_string(),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let label = if name == "vllm:request_success_total" {
            label.replace("engine=\"0\",", "engine=\"0\",finished_reason=\"length\",")
        } else {
            label.clone()
        };
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{label} {value}\n"
        ));
    }
    out
}

/// FNV-1a of the word, into a 32,000-entry vocabulary.
fn token_id(word: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in word.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % 32_000
}

/// The words answers are made of, the `i`-th token being `WORDS[i % 8]`.
const WORDS: [&str; 8] = [
    "lorem", "ipsum", "dolor", "sit", "amet", "jauge", "gauge", "token",
];

fn word(i: u64) -> String {
    format!(" {}", WORDS[(i % 8) as usize])
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// The request fields the simulator reads, counted as they are parsed: no JSON tree is built
/// (a prompt of a million token ids would make one of a million values).
#[derive(Debug, Default, serde::Deserialize)]
struct SimRequest {
    #[serde(default)]
    prompt: Option<Text>,
    /// llama.cpp's name for `/tokenize`'s text.
    #[serde(default)]
    content: Option<Text>,
    #[serde(default)]
    text: Option<Text>,
    #[serde(default)]
    messages: Option<Vec<Message>>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Message {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<Text>,
}

impl SimRequest {
    /// The text the request carries: `/tokenize` gets it as `prompt` (vLLM) or `content`
    /// (llama.cpp), and jauge sends both, so the first present counts, once.
    fn text(&self) -> Option<&Text> {
        self.prompt
            .as_ref()
            .or(self.content.as_ref())
            .or(self.text.as_ref())
    }

    /// Prompt tokens by the simulator's tokenizer: one per word; token-id prompts count their
    /// ids; chat adds 4 per message and 2 for the assistant's turn.
    fn prompt_tokens(&self) -> u64 {
        let text = self.text();
        if let Some(messages) = &self.messages {
            let words: u64 = messages
                .iter()
                .filter_map(|m| m.content.as_ref())
                .chain(text)
                .map(|t| t.tokens.len() as u64)
                .sum();
            return words + 4 * messages.len() as u64 + 2;
        }
        text.map_or(0, |t| t.tokens.len() as u64)
    }

    /// The token ids of its texts, without the chat template's.
    fn token_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.text().map(|t| t.tokens.clone()).unwrap_or_default();
        for m in self.messages.iter().flatten() {
            if let Some(t) = &m.content {
                ids.extend(&t.tokens);
            }
        }
        ids
    }

    /// The prompt as the engine computes it, [`SimRequest::prompt_tokens`] long: a chat's
    /// messages each between the template's two tokens before (the role, a separator) and
    /// two after, then the assistant's two; a completion's text as it is. A chat's next turn
    /// therefore starts with exactly this turn's prompt and answer.
    fn prompt_token_stream(&self) -> Vec<u32> {
        let text = self.text();
        let Some(messages) = &self.messages else {
            return text.map(|t| t.tokens.clone()).unwrap_or_default();
        };
        let (separator, end, newline) =
            (token_id("<|sep|>"), token_id("<|end|>"), token_id("<|nl|>"));
        let role = |r: Option<&str>| token_id(&format!("<|{}|>", r.unwrap_or("user")));
        let mut stream = Vec::new();
        for m in messages {
            stream.extend([role(m.role.as_deref()), separator]);
            stream.extend(m.content.iter().flat_map(|t| &t.tokens));
            stream.extend([end, newline]);
        }
        stream.extend(text.iter().flat_map(|t| &t.tokens));
        stream.extend([role(Some("assistant")), separator]);
        stream
    }
}

/// A text field tokenized as it is parsed: a string (its words' token ids), or an array of
/// token ids or of strings; anything else inside (chat content parts) is skipped.
#[derive(Debug, Default)]
struct Text {
    /// Its tokens, in order: its words' ids and the ids it gives as numbers.
    tokens: Vec<u32>,
}

impl Text {
    fn add_words(&mut self, text: &str) {
        self.tokens.extend(text.split_whitespace().map(token_id));
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct TextVisitor;
        impl<'de> serde::de::Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, or an array of token ids or strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                let mut t = Text::default();
                t.add_words(v);
                Ok(t)
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                let mut t = Text::default();
                while let Some(item) = seq.next_element::<Item>()? {
                    match item {
                        Item::Id(id) => t.tokens.push(id),
                        Item::Words(words) => t.tokens.extend(words),
                        Item::Other => {}
                    }
                }
                Ok(t)
            }
        }
        d.deserialize_any(TextVisitor)
    }
}

/// One element of a text array.
enum Item {
    Id(u32),
    Words(Vec<u32>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        struct ItemVisitor;
        impl<'de> serde::de::Visitor<'de> for ItemVisitor {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a token id or a string")
            }
            fn visit_u64<E>(self, id: u64) -> Result<Item, E> {
                // Ids past u32 are no vocabulary's; they still count as one token each.
                Ok(Item::Id(id as u32))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
                Ok(Item::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
                Ok(Item::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
                Ok(Item::Other)
            }
            fn visit_unit<E>(self) -> Result<Item, E> {
                Ok(Item::Other)
            }
            fn visit_str<E>(self, v: &str) -> Result<Item, E> {
                Ok(Item::Words(v.split_whitespace().map(token_id).collect()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Item::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Item::Other)
            }
        }
        d.deserialize_any(ItemVisitor)
    }
}

/// Reads and parses a request body within the server's limits: at most
/// `--max-request-bytes` (413 beyond, at once when `Content-Length` says so), within
/// [`BODY_READ_TIMEOUT`] (408), with the bytes of every body being read at once bounded by
/// [`BODIES_IN_FLIGHT_BYTES`] (a request waits for room rather than the server running out of
/// memory).
async fn read_request(
    req: Request<Incoming>,
    shared: &Shared,
) -> Result<SimRequest, Response<HttpBody>> {
    let limit = shared.max_request_bytes;
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadRequestError",
            &format!("the request body is larger than this server's limit of {limit} bytes (jauge serve-sim --max-request-bytes)"),
        )
    };
    let announced = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let reserve = announced.unwrap_or(limit).max(1).div_ceil(1024);
    let reading = async {
        let _room = shared
            .body_budget
            .clone()
            .acquire_many_owned(u32::try_from(reserve).unwrap_or(u32::MAX))
            .await;
        http_body_util::Limited::new(req.into_body(), limit as usize)
            .collect()
            .await
            .map(|c| c.to_bytes())
    };
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, reading).await {
        Err(_) => {
            return Err(error_response(
                StatusCode::REQUEST_TIMEOUT,
                "BadRequestError",
                "the request body did not arrive in time",
            ))
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                &format!("reading the body: {e}"),
            ))
        }
        Ok(Ok(bytes)) => bytes,
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        error_response(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            &format!("body is not a JSON request jauge-sim reads: {e}"),
        )
    })
}

fn json_response(status: StatusCode, value: &Value) -> Response<HttpBody> {
    text(status, "application/json", value.to_string())
}

/// An error in vLLM's shape: `{"object":"error","message":…,"type":…,"code":…}`.
fn error_response(status: StatusCode, kind: &str, message: &str) -> Response<HttpBody> {
    json_response(
        status,
        // vLLM's ErrorResponse: {"error": ErrorInfo}.
        &json!({"error": {"message": message, "type": kind, "param": null, "code": status.as_u16()}}),
    )
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<HttpBody> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

/// A response body fed by a channel; an `Err` item aborts the connection.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}
