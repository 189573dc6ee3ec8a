//! A hostile OpenAI-compatible server, one mode per attack, written on raw TCP so that it can
//! do what no well-behaved HTTP library lets a server do: never end a line, never answer,
//! trickle a byte at a time, answer a gigabyte.
//!
//! Outside the attacked endpoint it behaves like a small vLLM: `/v1/models` lists one model,
//! `/v1/completions` streams the tokens asked for, with usage and `[DONE]`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Behaves: a baseline.
    Healthy,
    /// A stream whose first `data:` line never ends, sent as fast as the socket takes it.
    EndlessSseLine,
    /// HTTP 500 with a body that never ends.
    EndlessErrorBody,
    /// `/v1/models` answers with a body that never ends.
    EndlessModels,
    /// `/metrics` answers valid metrics that never end.
    EndlessMetrics,
    /// Accepts connections, reads requests, never answers.
    Silent,
    /// Answers `/v1/models` at once, then trickles each stream one byte every 50 ms.
    Trickle,
    /// Answers `/v1/models` one byte a second.
    TrickleModels,
    /// Answers every request for text with 401 and the key it was sent, in words.
    EchoKey,
    /// Streams a normal answer whose usage says 4,294,967,297 prompt tokens.
    HugeUsage,
    /// Says its context is 0 tokens long.
    ZeroContext,
    /// Streams text chunks without end: no `finish_reason`, no `[DONE]`.
    NoFinish,
    /// `/tokenize` answers with a body that never ends.
    EndlessTokenize,
    /// `/tokenize` never answers.
    SilentTokenize,
}

impl Attack {
    /// Every attack, for the report.
    pub const ALL: [Attack; 13] = [
        Attack::EndlessSseLine,
        Attack::EndlessErrorBody,
        Attack::EndlessModels,
        Attack::EndlessMetrics,
        Attack::Silent,
        Attack::Trickle,
        Attack::TrickleModels,
        Attack::EchoKey,
        Attack::HugeUsage,
        Attack::ZeroContext,
        Attack::NoFinish,
        Attack::EndlessTokenize,
        Attack::SilentTokenize,
    ];
}

/// The key the [`Attack::EchoKey`] tests send; it must never reach any output.
pub const SECRET: &str = "sk-hostile-0123456789abcdef";

/// A running hostile server; stops when dropped.
pub struct Hostile {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Bytes written to clients so far (how much a client took before it hung up).
    pub sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Hostile {
    /// Starts the server on its own thread and runtime.
    pub fn start(attack: Attack) -> Hostile {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent2, stop2) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let mut held = Vec::new();
                while !stop2.load(Ordering::SeqCst) {
                    let accepted =
                        tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
                    let Ok(Ok((socket, _))) = accepted else {
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    let conn = Conn {
                        socket,
                        sent: sent2.clone(),
                        stop: stop2.clone(),
                    };
                    held.push(tokio::spawn(conn.serve(attack)));
                }
                for task in held {
                    task.abort();
                }
            });
        });
        Hostile { url, sent, stop }
    }
}

struct Conn {
    socket: TcpStream,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// One request as read off the socket.
struct Request {
    path: String,
    authorization: String,
    body: Vec<u8>,
}

impl Conn {
    async fn serve(mut self, attack: Attack) {
        while let Some(request) = self.read_request().await {
            if !self.answer(attack, &request).await {
                return;
            }
        }
    }

    async fn read_request(&mut self) -> Option<Request> {
        let mut data = Vec::new();
        let mut buf = [0u8; 16 << 10];
        let head_end = loop {
            if let Some(end) = find(&data, b"\r\n\r\n") {
                break end;
            }
            let n = self.socket.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        let mut body = data[head_end + 4..].to_vec();
        while body.len() < length {
            let n = self.socket.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&buf[..n]);
        }
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/")
            .to_string();
        Some(Request {
            path,
            authorization: header("authorization"),
            body,
        })
    }

    /// Answers one request; false when the connection is done.
    async fn answer(&mut self, attack: Attack, request: &Request) -> bool {
        let path = request.path.as_str();
        match (attack, path) {
            (Attack::Silent, _) | (Attack::SilentTokenize, "/tokenize") => {
                // Holds the connection open and says nothing until the test ends.
                while !self.stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                false
            }
            (Attack::EndlessModels, "/v1/models") => {
                self.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"object\":\"list\",\"data\":[")
                    .await;
                self.endless(b"{\"id\":\"m\",\"object\":\"model\"},").await;
                false
            }
            (Attack::TrickleModels, "/v1/models") => {
                let body = models(Some(4096));
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                self.write(head.as_bytes()).await;
                self.trickle(body.as_bytes(), Duration::from_secs(1)).await
            }
            (_, "/v1/models") => {
                let max_model_len = match attack {
                    Attack::ZeroContext => Some(0),
                    _ => Some(4096),
                };
                self.json(200, &models(max_model_len)).await
            }
            (Attack::EndlessMetrics, "/metrics") => {
                self.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\r\n")
                    .await;
                self.endless(b"vllm:num_requests_running{model_name=\"m\"} 1.0\n")
                    .await;
                false
            }
            (Attack::EndlessTokenize, "/tokenize") => {
                self.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"count\":3,\"tokens\":[")
                    .await;
                self.endless(b"101,").await;
                false
            }
            (_, "/v1/completions" | "/v1/chat/completions") => self.generate(attack, request).await,
            _ => self.json(404, r#"{"error":{"message":"not found"}}"#).await,
        }
    }

    async fn generate(&mut self, attack: Attack, request: &Request) -> bool {
        let max_tokens = serde_json::from_slice::<serde_json::Value>(&request.body)
            .ok()
            .and_then(|v| v.get("max_tokens").and_then(|m| m.as_u64()))
            .unwrap_or(16);
        let stream_head =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        match attack {
            Attack::EndlessSseLine => {
                self.write(stream_head).await;
                self.write(b"data: ").await;
                self.endless(&[b'a'; 64 << 10]).await;
                false
            }
            Attack::EndlessErrorBody => {
                self.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n")
                    .await;
                self.endless(&[b'e'; 64 << 10]).await;
                false
            }
            Attack::EchoKey => {
                let key = request
                    .authorization
                    .strip_prefix("Bearer ")
                    .unwrap_or(&request.authorization);
                let body = format!(
                    r#"{{"error":{{"message":"Incorrect API key provided: {key}. You can find your API key at https://example.invalid/keys.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
                );
                self.json(401, &body).await
            }
            Attack::NoFinish => {
                self.write(stream_head).await;
                let chunk = b"data: {\"choices\":[{\"index\":0,\"text\":\" again\",\"finish_reason\":null}]}\n\n";
                self.endless(chunk).await;
                false
            }
            Attack::Trickle => {
                self.write(stream_head).await;
                let body = stream(max_tokens, 5);
                self.trickle(body.as_bytes(), Duration::from_millis(50))
                    .await
            }
            Attack::HugeUsage => {
                self.write(stream_head).await;
                self.write(stream(max_tokens, 4_294_967_297).as_bytes())
                    .await;
                false
            }
            _ => {
                self.write(stream_head).await;
                self.write(stream(max_tokens, 5).as_bytes()).await;
                false
            }
        }
    }

    async fn json(&mut self, status: u16, body: &str) -> bool {
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.write(head.as_bytes()).await && self.write(body.as_bytes()).await
    }

    async fn write(&mut self, bytes: &[u8]) -> bool {
        if self.socket.write_all(bytes).await.is_err() {
            return false;
        }
        self.sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        true
    }

    /// Writes `piece` again and again until the client hangs up or the test ends.
    async fn endless(&mut self, piece: &[u8]) {
        let mut block = Vec::with_capacity(64 << 10);
        while block.len() + piece.len() <= 64 << 10 || block.is_empty() {
            block.extend_from_slice(piece);
        }
        while !self.stop.load(Ordering::SeqCst) && self.write(&block).await {}
    }

    /// Writes `bytes` one at a time, `gap` apart.
    async fn trickle(&mut self, bytes: &[u8], gap: Duration) -> bool {
        for b in bytes {
            if self.stop.load(Ordering::SeqCst) || !self.write(std::slice::from_ref(b)).await {
                return false;
            }
            tokio::time::sleep(gap).await;
        }
        true
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn models(max_model_len: Option<i64>) -> String {
    let mut card =
        serde_json::json!({"id": "hostile-model", "object": "model", "owned_by": "vllm"});
    if let Some(len) = max_model_len {
        card["max_model_len"] = len.into();
    }
    serde_json::json!({"object": "list", "data": [card]}).to_string()
}

/// A complete completions stream of `tokens` tokens whose usage says `prompt_tokens`.
fn stream(tokens: u64, prompt_tokens: u64) -> String {
    let mut out = String::new();
    for i in 1..=tokens {
        let finish = if i == tokens { "\"length\"" } else { "null" };
        out.push_str(&format!(
            "data: {{\"choices\":[{{\"index\":0,\"text\":\" t{i}\",\"finish_reason\":{finish}}}]}}\n\n"
        ));
    }
    out.push_str(&format!(
        "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{tokens}}}}}\n\n"
    ));
    out.push_str("data: [DONE]\n\n");
    out
}
