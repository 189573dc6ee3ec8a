//! A streaming server whose only job is exact timing, for measuring the load generator
//! itself: every answer's tokens leave at fixed absolute times (the first one `itl` after the
//! request was read, then one every `itl`), so whatever a client measures beyond that, it
//! added. Not an engine and not a simulator: no queue, no batching, no model.
//!
//! Requests are read by a one-thread tokio runtime; the tokens are written by one plain thread
//! that keeps every live stream in a deadline heap and sleeps until the next one is due, so
//! thousands of streams cost one wake-up per due instant rather than a task wake-up each.
//! It speaks just enough of the OpenAI API for `jauge run`: `GET /v1/models`, and streamed
//! `POST /v1/completions` and `/v1/chat/completions` that honour `max_tokens`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The model name the server lists and accepts.
pub const MODEL: &str = "tick";

/// The longest request head plus body read (jauge's largest prompts fit).
const REQUEST_BYTES: usize = 4 << 20;

/// A running tick server.
pub struct TickServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    lateness: Arc<Mutex<Lateness>>,
    threads: Vec<JoinHandle<()>>,
}

/// How late the server itself wrote its tokens: a token due at `t` and written at `t + d` is
/// `d` late. On a machine the client shares, a server that cannot keep up shows here, and the
/// client's figures are then the server's as much as its own.
#[derive(Debug, Clone)]
pub struct Lateness {
    /// Counts per 10 µs of lateness; the last bucket holds everything from 100 ms on.
    buckets: Vec<u64>,
    tokens: u64,
}

const LATENESS_BUCKET_US: u64 = 10;
const LATENESS_BUCKETS: usize = 10_000;

impl Default for Lateness {
    fn default() -> Self {
        Lateness {
            buckets: vec![0; LATENESS_BUCKETS],
            tokens: 0,
        }
    }
}

impl Lateness {
    fn record(&mut self, late: Duration) {
        let bucket = (late.as_micros() as u64 / LATENESS_BUCKET_US) as usize;
        self.buckets[bucket.min(LATENESS_BUCKETS - 1)] += 1;
        self.tokens += 1;
    }

    /// Tokens written.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// The `q` quantile of lateness in milliseconds (to the bucket's upper edge), `None`
    /// before any token.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let rank = (q.clamp(0.0, 1.0) * self.tokens as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(((i as u64 + 1) * LATENESS_BUCKET_US) as f64 / 1000.0);
            }
        }
        None
    }
}

impl TickServer {
    /// Starts listening on `127.0.0.1:port` (0 picks a free port), one token every `itl`.
    ///
    /// # Errors
    /// The port cannot be bound or a thread cannot start.
    pub fn start(port: u16, itl: Duration) -> std::io::Result<TickServer> {
        let stop = Arc::new(AtomicBool::new(false));
        let lateness = Arc::new(Mutex::new(Lateness::default()));
        let (streams, incoming) = mpsc::channel::<NewStream>();
        let ticker = {
            let (stop, lateness) = (stop.clone(), lateness.clone());
            std::thread::Builder::new()
                .name("tick-writer".into())
                .spawn(move || write_tokens(incoming, itl, &stop, &lateness))?
        };
        let (bound, bound_at) = mpsc::channel::<std::io::Result<SocketAddr>>();
        let reader = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("tick-reader".into())
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = bound.send(Err(e));
                            return;
                        }
                    };
                    runtime.block_on(async move {
                        match listen(port) {
                            Ok(listener) => {
                                let _ = bound.send(listener.local_addr());
                                accept(listener, streams, stop).await;
                            }
                            Err(e) => {
                                let _ = bound.send(Err(e));
                            }
                        }
                    });
                })?
        };
        let addr = match bound_at.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(std::io::Error::other(
                    "the tick server's reader thread ended",
                ))
            }
        };
        Ok(TickServer {
            addr,
            stop,
            lateness,
            threads: vec![ticker, reader],
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How late its tokens went since the last call (or the start), and a fresh count.
    pub fn take_lateness(&self) -> Lateness {
        std::mem::take(&mut *self.lateness.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops both threads and waits for them.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A stream handed from the reader to the writer, and the way back for its connection.
struct NewStream {
    socket: std::net::TcpStream,
    read_at: Instant,
    tokens: u32,
    chat: bool,
    back: oneshot::Sender<std::net::TcpStream>,
}

/// Thousands of clients connect in the same millisecond when a step starts: a listen backlog
/// that holds them all (the kernel caps it at `net.core.somaxconn`), since a dropped handshake
/// is retried only a second later and would be timed as the server's.
const BACKLOG: u32 = 4096;

fn listen(port: u16) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(BACKLOG)
}

async fn accept(listener: TcpListener, streams: mpsc::Sender<NewStream>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        let Ok(Ok((socket, _))) = accepted else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(serve(socket, streams.clone()));
    }
}

/// One connection: requests one after another (keep-alive), each stream handed to the writer
/// and the connection taken back when it ends.
async fn serve(mut socket: TcpStream, streams: mpsc::Sender<NewStream>) {
    let mut buffer = Vec::with_capacity(8 << 10);
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let read_at = Instant::now();
        let route = (request.method.as_str(), request.path.as_str());
        let chat = match route {
            ("POST", "/v1/completions") => false,
            ("POST", "/v1/chat/completions") => true,
            ("GET", "/v1/models") => {
                let body = format!(
                    "{{\"object\":\"list\",\"data\":[{{\"id\":\"{MODEL}\",\"object\":\"model\",\"owned_by\":\"jauge-tick\",\"max_model_len\":1048576}}]}}"
                );
                if respond(&mut socket, "200 OK", &body).await.is_err() {
                    return;
                }
                continue;
            }
            _ => {
                if respond(&mut socket, "404 Not Found", "{\"error\":\"not found\"}")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let tokens = number_after(&request.body, b"\"max_tokens\"")
            .unwrap_or(16)
            .max(1);
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let Ok(std_socket) = socket.into_std() else {
            return;
        };
        let (back, returned) = oneshot::channel();
        let handed = streams.send(NewStream {
            socket: std_socket,
            read_at,
            tokens,
            chat,
            back,
        });
        if handed.is_err() {
            return;
        }
        let Ok(std_socket) = returned.await else {
            return;
        };
        match TcpStream::from_std(std_socket) {
            Ok(s) => socket = s,
            Err(_) => return,
        }
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (head, then a `content-length` body); `None` when the
/// connection ends or the request is not one this server reads.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    buffer.clear();
    let head_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > REQUEST_BYTES || read_more(socket, buffer).await? == 0 {
            return None;
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let mut first = head.lines().next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    if length > REQUEST_BYTES {
        return None;
    }
    while buffer.len() < head_end + length {
        if read_more(socket, buffer).await? == 0 {
            return None;
        }
    }
    Some(Request {
        method,
        path,
        body: buffer[head_end..head_end + length].to_vec(),
    })
}

async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 16 << 10];
    let n = socket.read(&mut chunk).await.ok()?;
    buffer.extend_from_slice(&chunk[..n]);
    Some(n)
}

async fn respond(socket: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(answer.as_bytes()).await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The unsigned number after `"key"` and its colon in a JSON body, by a byte scan.
fn number_after(body: &[u8], key: &[u8]) -> Option<u32> {
    let at = find(body, key)? + key.len();
    let rest = body[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == b':');
    let digits: Vec<u8> = rest.take_while(|b| b.is_ascii_digit()).copied().collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// A stream being written.
struct Live {
    socket: std::net::TcpStream,
    sent: u32,
    /// Whether the last step produced a token (rather than only flushing queued bytes).
    sent_at_step: bool,
    tokens: u32,
    chat: bool,
    /// Bytes the socket did not take yet: the schedule goes on, the bytes queue.
    pending: Vec<u8>,
    back: oneshot::Sender<std::net::TcpStream>,
}

/// The writer thread: every stream's next token in a deadline heap.
fn write_tokens(
    incoming: mpsc::Receiver<NewStream>,
    itl: Duration,
    stop: &AtomicBool,
    shared_lateness: &Mutex<Lateness>,
) {
    // Counted here and handed over every 100 ms, so the lock is off the per-token path.
    let mut lateness = Lateness::default();
    let mut handed_at = Instant::now();
    let mut live: Vec<Option<Live>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let frames = Frames::new();
    while !stop.load(Ordering::Relaxed) {
        let wait = due
            .peek()
            .map_or(Duration::from_millis(50), |Reverse((t, _))| {
                t.saturating_duration_since(Instant::now())
            });
        let arrival = if wait.is_zero() {
            incoming.try_recv().ok()
        } else {
            incoming.recv_timeout(wait).ok()
        };
        for new in arrival.into_iter().chain(incoming.try_iter()) {
            if new.socket.set_nonblocking(true).is_err() {
                continue;
            }
            let stream = Live {
                socket: new.socket,
                sent: 0,
                sent_at_step: false,
                tokens: new.tokens,
                chat: new.chat,
                pending: Vec::new(),
                back: new.back,
            };
            let slot = match free.pop() {
                Some(i) => {
                    live[i] = Some(stream);
                    i
                }
                None => {
                    live.push(Some(stream));
                    live.len() - 1
                }
            };
            due.push(Reverse((new.read_at + itl, slot)));
        }
        let now = Instant::now();
        if now.duration_since(handed_at) >= Duration::from_millis(100) {
            hand_over(&mut lateness, shared_lateness);
            handed_at = now;
        }
        while let Some(&Reverse((at, slot))) = due.peek() {
            if at > now {
                break;
            }
            due.pop();
            let Some(stream) = live[slot].as_mut() else {
                continue;
            };
            let step = stream.step(&frames);
            if matches!(step, Step::More | Step::Flush | Step::Done) && stream.sent_at_step {
                lateness.record(Instant::now().saturating_duration_since(at));
            }
            match step {
                Step::More => due.push(Reverse((at + itl, slot))),
                Step::Flush => due.push(Reverse((now + Duration::from_micros(500), slot))),
                Step::Done | Step::Gone => {
                    if let Some(ended) = live[slot].take() {
                        // Still non-blocking, as tokio wants the socket back.
                        if ended.sent == ended.tokens && ended.pending.is_empty() {
                            let _ = ended.back.send(ended.socket);
                        }
                    }
                    free.push(slot);
                }
            }
        }
    }
    hand_over(&mut lateness, shared_lateness);
}

fn hand_over(counted: &mut Lateness, shared: &Mutex<Lateness>) {
    if counted.tokens == 0 {
        return;
    }
    let mut shared = shared.lock().unwrap_or_else(|p| p.into_inner());
    for (total, n) in shared.buckets.iter_mut().zip(&counted.buckets) {
        *total += n;
    }
    shared.tokens += counted.tokens;
    counted.buckets.fill(0);
    counted.tokens = 0;
}

enum Step {
    /// A token went (or queued); the next is due one `itl` later.
    More,
    /// Every token has been sent but bytes are still queued.
    Flush,
    /// The answer is complete.
    Done,
    /// The client went away.
    Gone,
}

impl Live {
    fn step(&mut self, frames: &Frames) -> Step {
        self.sent_at_step = self.sent < self.tokens;
        if self.sent < self.tokens {
            self.sent += 1;
            let last = self.sent == self.tokens;
            let frame = match (self.chat, last) {
                (false, false) => &frames.text,
                (false, true) => &frames.text_last,
                (true, false) => &frames.chat,
                (true, true) => &frames.chat_last,
            };
            self.pending.extend_from_slice(frame);
            if last {
                self.pending.extend_from_slice(&frames.usage(self.tokens));
                self.pending.extend_from_slice(&frames.done);
            }
        }
        while !self.pending.is_empty() {
            match self.socket.write(&self.pending) {
                Ok(0) => return Step::Gone,
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Step::Gone,
            }
        }
        match (self.sent < self.tokens, self.pending.is_empty()) {
            (true, _) => Step::More,
            (false, false) => Step::Flush,
            (false, true) => Step::Done,
        }
    }
}

/// The bytes of each kind of token, built once, in HTTP chunked framing.
struct Frames {
    text: Vec<u8>,
    text_last: Vec<u8>,
    chat: Vec<u8>,
    chat_last: Vec<u8>,
    done: Vec<u8>,
}

impl Frames {
    fn new() -> Frames {
        let text = |finish: &str| {
            chunked(&format!(
                "data: {{\"id\":\"t\",\"object\":\"text_completion\",\"model\":\"{MODEL}\",\"choices\":[{{\"index\":0,\"text\":\" tick\",\"finish_reason\":{finish}}}]}}\n\n"
            ))
        };
        let chat = |finish: &str| {
            chunked(&format!(
                "data: {{\"id\":\"t\",\"object\":\"chat.completion.chunk\",\"model\":\"{MODEL}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" tick\"}},\"finish_reason\":{finish}}}]}}\n\n"
            ))
        };
        let mut done = chunked("data: [DONE]\n\n");
        done.extend_from_slice(b"0\r\n\r\n");
        Frames {
            text: text("null"),
            text_last: text("\"length\""),
            chat: chat("null"),
            chat_last: chat("\"length\""),
            done,
        }
    }

    fn usage(&self, tokens: u32) -> Vec<u8> {
        chunked(&format!(
            "data: {{\"id\":\"t\",\"choices\":[],\"usage\":{{\"completion_tokens\":{tokens}}}}}\n\n"
        ))
    }
}

fn chunked(payload: &str) -> Vec<u8> {
    format!("{:x}\r\n{payload}\r\n", payload.len()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tokens_is_read_by_a_byte_scan() {
        assert_eq!(
            number_after(
                br#"{"model":"tick","max_tokens": 64,"stream":true}"#,
                b"\"max_tokens\""
            ),
            Some(64)
        );
        assert_eq!(number_after(b"{}", b"\"max_tokens\""), None);
    }

    /// A whole answer: every token, the usage, `[DONE]`, then the connection serves again.
    #[tokio::test]
    async fn a_stream_carries_every_token_and_the_connection_is_kept() {
        let server = TickServer::start(0, Duration::from_millis(1)).unwrap();
        let http = reqwest::Client::new();
        let text = |request: reqwest::RequestBuilder| async move {
            request.send().await.unwrap().text().await.unwrap()
        };
        for _ in 0..2 {
            let completion = http
                .post(format!("{}/v1/completions", server.url()))
                .body(r#"{"model":"tick","prompt":"hi","max_tokens":5,"stream":true}"#);
            let body = text(completion).await;
            assert_eq!(body.matches("\"text\":\" tick\"").count(), 5, "{body}");
            assert!(body.contains("\"completion_tokens\":5"));
            assert!(body.ends_with("data: [DONE]\n\n"));
        }
        let models = text(http.get(format!("{}/v1/models", server.url()))).await;
        assert!(models.contains("\"id\":\"tick\""));
        server.stop();
    }

    #[test]
    fn lateness_quantiles_come_from_the_buckets() {
        let mut late = Lateness::default();
        assert_eq!(late.quantile_ms(0.99), None);
        for us in [0, 5, 15, 1_000] {
            late.record(Duration::from_micros(us));
        }
        late.record(Duration::from_secs(1));
        assert_eq!(late.tokens(), 5);
        assert_eq!(late.quantile_ms(0.4), Some(0.01));
        assert_eq!(late.quantile_ms(0.6), Some(0.02));
        assert_eq!(late.quantile_ms(0.8), Some(1.01));
        // Beyond the last bucket: reported as its edge, 100 ms.
        assert_eq!(late.quantile_ms(1.0), Some(100.0));
    }

    /// The server counts every token it writes, and a take starts the count again.
    #[tokio::test]
    async fn the_server_counts_its_own_lateness() {
        let server = TickServer::start(0, Duration::from_millis(1)).unwrap();
        let body = reqwest::Client::new()
            .post(format!("{}/v1/completions", server.url()))
            .body(r#"{"model":"tick","prompt":"hi","max_tokens":7,"stream":true}"#)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.ends_with("data: [DONE]\n\n"));
        // The writer hands its count over every 100 ms.
        let mut counted = 0;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            counted += server.take_lateness().tokens();
            if counted >= 7 {
                break;
            }
        }
        assert_eq!(counted, 7);
        assert_eq!(server.take_lateness().tokens(), 0);
        server.stop();
    }
}
