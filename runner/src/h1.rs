//! The load generator's own HTTP/1.1 client, for its hot path only: one streamed `POST` at a
//! time on a kept-alive connection that a user (or an open-loop sender) owns, its answer read
//! into one reusable buffer and its body (chunked, `content-length` or close-delimited)
//! handed to the stream parser in place, without a buffer object or a string per chunk.
//! Everything else (probes, the tokenizer, metrics) goes through reqwest.
//!
//! A hostile server costs a bounded amount: the head is capped at [`HEAD_BYTES`], a chunk-size
//! line at [`SIZE_LINE_BYTES`], the trailers at [`HEAD_BYTES`]; the body's payload is never
//! held here (the stream parser caps its events).
//!
//! The request's deadline costs no timer work per token: reads are polled first, and only one
//! that would block checks the clock and, once per request, arms a timer whose wake-up is the
//! task's own ([`Deadline`]).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Write};
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::limits::CONNECT_TIMEOUT;

/// An answer's status line and headers: hyper allows about 400 KiB, but a real server's head
/// is a few hundred bytes; 64 KiB is a hundred times more.
pub const HEAD_BYTES: usize = 64 << 10;
/// One chunk-size line with its extensions (which no server jauge knows sends).
pub const SIZE_LINE_BYTES: usize = 1 << 10;
/// The read buffer a connection starts with: tokens come in a few hundred bytes; it grows
/// (to [`HEAD_BYTES`]) only for a head that does not fit.
const READ_BUFFER: usize = 8 << 10;
/// Servers close idle keep-alive connections after 5 s (uvicorn for vLLM, cpp-httplib for
/// llama.cpp); one idle longer than this is opened again rather than reused, as `server.rs`
/// tells reqwest for its pool.
const IDLE: Duration = Duration::from_secs(2);
/// After `[DONE]`, what is read of the rest of the body (its last chunk, usually in the same
/// packet) to keep the connection: at most this much, for at most [`DRAIN_GRACE`].
const DRAIN_BYTES: usize = 64 << 10;
const DRAIN_GRACE: Duration = Duration::from_millis(20);

/// Where a base URL's requests go: `http://HOST[:PORT][/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `HOST:PORT`, to connect to.
    addr: String,
    /// The `host` header.
    host: String,
    /// A path before `/v1/…`, without a trailing `/`.
    prefix: String,
}

impl Origin {
    /// The origin of a plain `http://` base URL; `None` for anything else (credentials in the
    /// URL, a query, another scheme), which the caller sends through reqwest instead.
    pub fn parse(base_url: &str) -> Option<Origin> {
        let rest = base_url.strip_prefix("http://")?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if authority.is_empty()
            || authority.contains('@')
            || rest.contains(['?', '#'])
            || !plain(authority)
            || !plain(prefix)
        {
            return None;
        }
        // `[::1]` has colons but no port.
        let has_port = authority
            .rfind(':')
            .is_some_and(|i| !authority[i..].contains(']'));
        let addr = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Some(Origin {
            addr,
            host: authority.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum Error {
    /// The request's deadline passed.
    Timeout,
    /// The connection could not be opened.
    Connect(io::Error),
    /// The connection did not open within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// The server closed (or reset) the connection before any byte of an answer: the request
    /// can go again on a new one.
    Stale,
    /// The connection ended before the answer did.
    Closed,
    /// The connection broke.
    Io(io::Error),
    /// The answer is not HTTP/1.x as this client reads it.
    Malformed(&'static str),
    /// The answer's head went past [`HEAD_BYTES`].
    HeadTooLarge,
    /// The request cannot be written (a header value with a line break in it).
    BadRequest(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout => f.write_str("the request's time ran out"),
            Error::Connect(e) => write!(f, "connecting: {e}"),
            Error::ConnectTimeout => write!(
                f,
                "connecting: no connection within {}",
                humantime::format_duration(CONNECT_TIMEOUT)
            ),
            Error::Stale => f.write_str("the server closed the connection before answering"),
            Error::Closed => {
                f.write_str("the server closed the connection before the answer ended")
            }
            Error::Io(e) => write!(f, "the connection broke: {e}"),
            Error::Malformed(what) => write!(f, "not an HTTP/1.1 answer jauge reads: {what}"),
            Error::HeadTooLarge => write!(
                f,
                "the answer's status line and headers went past {} KiB without ending",
                HEAD_BYTES >> 10
            ),
            Error::BadRequest(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {}

/// When a request must be over, checked without a timer per read: the clock is read only by
/// a read that would block, and the timer that wakes the task at the deadline is armed once
/// (again only if the task's waker changes).
pub struct Deadline {
    at: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Waker>,
}

impl Deadline {
    /// A deadline at `at`; no timer until a read has to wait.
    pub fn new(at: Instant) -> Deadline {
        Deadline {
            at,
            sleep: None,
            armed: None,
        }
    }

    /// When it is.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// Whether the deadline passed; otherwise the task will be woken when it does. `fresh`:
    /// the caller saw the clock before the deadline a moment ago (a read that just returned),
    /// so an armed timer need not be looked at (its memory is the timer driver's, cold here).
    fn poll_passed(&mut self, cx: &mut Context<'_>, fresh: bool) -> bool {
        if let (Some(sleep), Some(waker)) = (&self.sleep, &self.armed) {
            if waker.will_wake(cx.waker()) {
                return !fresh && sleep.is_elapsed();
            }
        }
        if Instant::now() >= self.at {
            return true;
        }
        let at = self.at;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at.into())));
        if sleep.as_mut().poll(cx).is_ready() {
            return true;
        }
        self.armed = Some(cx.waker().clone());
        false
    }
}

/// A response head as far as the client needs it.
struct Head {
    status: u16,
    body: Body,
    keep_alive: bool,
}

/// How the body being read ends.
#[derive(Debug, Clone, Copy)]
enum Body {
    Chunked(Chunked),
    Length(u64),
    /// Until the server closes the connection.
    Close,
    Done,
}

/// One persistent connection and its buffers, opened when first needed and again whenever
/// the server closed it.
pub struct Connection {
    stream: Option<TcpStream>,
    /// `HOST:PORT` it is open to.
    addr: String,
    /// Read buffer: `buf[start..end]` is read and not yet used.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The request being written.
    out: Vec<u8>,
    body: Body,
    keep_alive: bool,
    /// When the last socket read returned.
    read_at: Instant,
    /// `read_at` was before the current deadline (see [`Deadline::poll_passed`]).
    fresh: bool,
    /// When the last answer ended.
    idle_since: Instant,
    opened: u32,
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new()
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .field("open", &self.stream.is_some())
            .field("opened", &self.opened)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection not yet opened.
    pub fn new() -> Connection {
        let now = Instant::now();
        Connection {
            stream: None,
            addr: String::new(),
            buf: Vec::new(),
            start: 0,
            end: 0,
            out: Vec::new(),
            body: Body::Done,
            keep_alive: false,
            read_at: now,
            fresh: false,
            idle_since: now,
            opened: 0,
        }
    }

    /// Whether it is open (it may still be found closed by the server when next used).
    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// TCP connections opened so far.
    pub fn opened(&self) -> u32 {
        self.opened
    }

    /// Sends `POST {prefix}{path}` with `body` and reads the answer's head; returns its
    /// status, the body then read with [`Connection::next`].
    ///
    /// # Errors
    /// [`Error::Stale`] when the server closed the connection before any byte of an answer
    /// (send again), the others when the exchange cannot go on.
    pub async fn post(
        &mut self,
        origin: &Origin,
        path: &str,
        bearer: Option<&str>,
        body: &[u8],
        deadline: &mut Deadline,
    ) -> Result<u16, Error> {
        if bearer.is_some_and(|k| k.bytes().any(|b| b.is_ascii_control())) {
            return Err(Error::BadRequest(
                "the API key holds a control character no header can carry",
            ));
        }
        self.keep_or_drop(origin);
        if self.stream.is_none() {
            self.connect(origin, deadline).await?;
        }
        self.out.clear();
        // Writes to a Vec cannot fail.
        let _ = write!(
            self.out,
            "POST {}{path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             accept: text/event-stream\r\ncontent-length: {}\r\n",
            origin.prefix,
            origin.host,
            body.len()
        );
        if let Some(key) = bearer {
            let _ = write!(self.out, "authorization: Bearer {key}\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.body = Body::Done;
        self.keep_alive = false;
        self.fresh = false;
        match self.write_out(deadline).await {
            Ok(()) => {}
            Err(Error::Io(e)) if is_reset(&e) => return Err(self.fail(Error::Stale)),
            Err(e) => return Err(self.fail(e)),
        }
        match self.read_head(deadline).await {
            Ok(head) => {
                self.body = head.body;
                self.keep_alive = head.keep_alive;
                Ok(head.status)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The next piece of the body's payload and when it was read; `None` at its end.
    ///
    /// # Errors
    /// The deadline, a broken or closed connection, a malformed chunked framing.
    pub async fn next(
        &mut self,
        deadline: &mut Deadline,
    ) -> Result<Option<(Instant, &[u8])>, Error> {
        let range = loop {
            let available = self.end - self.start;
            match &mut self.body {
                Body::Done => return Ok(None),
                Body::Length(0) => {
                    self.body = Body::Done;
                    return Ok(None);
                }
                Body::Length(left) => {
                    if available > 0 {
                        let take = (*left).min(available as u64) as usize;
                        *left -= take as u64;
                        self.start += take;
                        break self.start - take..self.start;
                    }
                }
                Body::Close => {
                    if available > 0 {
                        let range = self.start..self.end;
                        self.start = self.end;
                        break range;
                    }
                }
                Body::Chunked(decoder) => {
                    let step = match decoder.decode(&self.buf[self.start..self.end]) {
                        Ok(step) => step,
                        Err(what) => return Err(self.fail(Error::Malformed(what))),
                    };
                    let range = self.start + step.payload.start..self.start + step.payload.end;
                    self.start += step.consumed;
                    if decoder.is_done() {
                        self.body = Body::Done;
                    }
                    if !range.is_empty() {
                        break range;
                    }
                    if matches!(self.body, Body::Done) {
                        return Ok(None);
                    }
                }
            }
            match self.fill(deadline).await {
                Ok(0) => {
                    if matches!(self.body, Body::Close) {
                        self.body = Body::Done;
                        self.keep_alive = false;
                        return Ok(None);
                    }
                    return Err(self.fail(Error::Closed));
                }
                Ok(_) => {}
                Err(e) => return Err(self.fail(e)),
            }
        };
        Ok(Some((self.read_at, &self.buf[range])))
    }

    /// The first `limit` bytes of the body (an error answer's) and whether there was more; a
    /// connection that breaks ends the text where it broke.
    ///
    /// # Errors
    /// Only the deadline.
    pub async fn body_head(
        &mut self,
        limit: u64,
        deadline: &mut Deadline,
    ) -> Result<(Vec<u8>, bool), Error> {
        let mut head = Vec::new();
        loop {
            match self.next(deadline).await {
                Ok(Some((_, bytes))) => {
                    let room = (limit as usize).saturating_sub(head.len());
                    if bytes.len() > room {
                        head.extend_from_slice(&bytes[..room]);
                        self.close();
                        return Ok((head, true));
                    }
                    head.extend_from_slice(bytes);
                }
                Ok(None) => return Ok((head, false)),
                Err(Error::Timeout) => return Err(Error::Timeout),
                Err(_) => return Ok((head, false)),
            }
        }
    }

    /// Ends the exchange: after an answer that ended early (`[DONE]` before the body's end),
    /// reads the rest of the body when it comes at once, so the connection can serve again;
    /// otherwise closes it.
    pub async fn finish(&mut self) {
        if self.stream.is_some() && !matches!(self.body, Body::Done) && self.keep_alive {
            let mut deadline = Deadline::new(Instant::now() + DRAIN_GRACE);
            let mut drained = 0;
            while drained <= DRAIN_BYTES {
                match self.next(&mut deadline).await {
                    Ok(Some((_, bytes))) => drained += bytes.len(),
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
        }
        if !self.reusable() {
            self.close();
        }
        self.idle_since = Instant::now();
    }

    /// Closes the connection (the next request opens another).
    pub fn close(&mut self) {
        self.stream = None;
        self.start = 0;
        self.end = 0;
        self.body = Body::Done;
    }

    fn fail(&mut self, e: Error) -> Error {
        self.close();
        e
    }

    fn reusable(&self) -> bool {
        self.stream.is_some()
            && self.keep_alive
            && matches!(self.body, Body::Done)
            && self.start == self.end
    }

    /// Drops the connection unless it can carry the next request: same origin, idle for less
    /// than [`IDLE`], and nothing from the server since its last answer (not even its close).
    fn keep_or_drop(&mut self, origin: &Origin) {
        let Some(stream) = &self.stream else {
            return;
        };
        let keep = self.addr == origin.addr
            && self.reusable()
            && self.idle_since.elapsed() < IDLE
            // No syscall unless the socket was seen readable since the last answer.
            && matches!(stream.try_read(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        if !keep {
            self.close();
        }
    }

    async fn connect(&mut self, origin: &Origin, deadline: &mut Deadline) -> Result<(), Error> {
        let limit = deadline.at().min(Instant::now() + CONNECT_TIMEOUT);
        let stream =
            match tokio::time::timeout_at(limit.into(), TcpStream::connect(origin.addr.as_str()))
                .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return Err(Error::Connect(e)),
                Err(_) if limit >= deadline.at() => return Err(Error::Timeout),
                Err(_) => return Err(Error::ConnectTimeout),
            };
        let _ = stream.set_nodelay(true);
        self.stream = Some(stream);
        self.addr.clone_from(&origin.addr);
        self.opened += 1;
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUFFER];
        }
        self.start = 0;
        self.end = 0;
        Ok(())
    }

    async fn write_out(&mut self, deadline: &mut Deadline) -> Result<(), Error> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::Closed);
        };
        let out = &self.out;
        let mut written = 0;
        poll_fn(|cx| {
            while written < out.len() {
                match Pin::new(&mut *stream).poll_write(cx, &out[written..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into())))
                    }
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                    Poll::Pending if deadline.poll_passed(cx, false) => {
                        return Poll::Ready(Err(Error::Timeout))
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Reads more into the buffer (compacted or grown first when full); 0 at the end of the
    /// stream.
    async fn fill(&mut self, deadline: &mut Deadline) -> Result<usize, Error> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = (self.buf.len() * 2).clamp(READ_BUFFER, HEAD_BYTES);
                if grown <= self.buf.len() {
                    return Err(Error::HeadTooLarge);
                }
                self.buf.resize(grown, 0);
            }
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::Closed);
        };
        let free = &mut self.buf[self.end..];
        // The first poll follows the last read's look at the clock; a later one is a wake-up.
        let mut fresh = std::mem::take(&mut self.fresh);
        let n = poll_fn(|cx| {
            let mut read = ReadBuf::new(&mut *free);
            match Pin::new(&mut *stream).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(Error::Io(e))),
                Poll::Pending if deadline.poll_passed(cx, std::mem::take(&mut fresh)) => {
                    Poll::Ready(Err(Error::Timeout))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        self.end += n;
        self.read_at = Instant::now();
        // A server that never makes a read wait still cannot outlast the deadline.
        if self.read_at >= deadline.at() {
            return Err(Error::Timeout);
        }
        self.fresh = true;
        Ok(n)
    }

    /// Reads the answer's head, skipping interim (1xx) answers.
    async fn read_head(&mut self, deadline: &mut Deadline) -> Result<Head, Error> {
        let mut received = false;
        let mut scanned = 0;
        loop {
            let unread = &self.buf[self.start..self.end];
            if let Some(length) = head_end(unread, scanned) {
                let head = parse_head(&unread[..length])?;
                self.start += length;
                scanned = 0;
                if (100..200).contains(&head.status) && head.status != 101 {
                    continue;
                }
                return Ok(head);
            }
            if unread.len() >= HEAD_BYTES {
                return Err(Error::HeadTooLarge);
            }
            scanned = unread.len().saturating_sub(2);
            match self.fill(deadline).await {
                Ok(0) if received => return Err(Error::Closed),
                Ok(0) => return Err(Error::Stale),
                Ok(_) => received = true,
                Err(Error::Io(e)) if !received && is_reset(&e) => return Err(Error::Stale),
                Err(e) => return Err(e),
            }
        }
    }
}

/// A connection reset or aborted by the server (what a close with unread data gives).
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// The length of the head at the start of `bytes` (through its empty line), searching from
/// `from`.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            match bytes.get(i + 1..) {
                Some([b'\n', ..]) => return Some(i + 2),
                Some([b'\r', b'\n', ..]) => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The status and the framing of a head (its bytes through the empty line).
fn parse_head(head: &[u8]) -> Result<Head, Error> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let (minor, status) = match status_line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor, b' ', a, b, c, rest @ ..]
            if minor.is_ascii_digit()
                && [a, b, c].iter().all(|d| d.is_ascii_digit())
                && (rest.is_empty() || rest[0] == b' ') =>
        {
            let digit = |d: &u8| u16::from(d - b'0');
            (*minor, digit(a) * 100 + digit(b) * 10 + digit(c))
        }
        _ => return Err(Error::Malformed("the status line is not `HTTP/1.x NNN`")),
    };
    let mut chunked = false;
    let mut coded = false;
    let mut length: Option<u64> = None;
    let mut close = minor == b'0';
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(Error::Malformed("a folded header line"));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(Error::Malformed("a header line without a colon"));
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            coded = true;
            // Only the last coding says how the body ends.
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(Error::Malformed("a content-length that is not a number"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(Error::Malformed("two different content-lengths"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && minor == b'0' {
                    close = false;
                }
            }
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Length(0)
    } else if chunked {
        Body::Chunked(Chunked::default())
    } else if coded {
        Body::Close
    } else {
        match length {
            Some(n) => Body::Length(n),
            None => Body::Close,
        }
    };
    let keep_alive = !close && !matches!(body, Body::Close);
    Ok(Head {
        status,
        body,
        keep_alive,
    })
}

/// A chunked body's framing, decoded incrementally from whatever bytes arrive; it holds no
/// bytes itself, so a long size line or trailer costs nothing but its bound.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chunked {
    state: ChunkState,
    /// Bytes of the current size line, or of all the trailers.
    line: usize,
}

#[derive(Debug, Clone, Copy)]
enum ChunkState {
    /// In a chunk-size line: the size so far, its digits, whether they ended (whitespace or
    /// an extension followed them).
    Size {
        value: u64,
        digits: u8,
        ended: bool,
    },
    /// The size line's `\r` came; its `\n` is next.
    SizeLf {
        value: u64,
        digits: u8,
    },
    /// Payload bytes left in this chunk.
    Data(u64),
    /// The `\r\n` after a chunk's payload.
    DataCr,
    DataLf,
    /// Trailer lines; whether the current one is empty so far.
    Trailer {
        empty: bool,
    },
    Done,
}

impl Default for ChunkState {
    fn default() -> Self {
        ChunkState::Size {
            value: 0,
            digits: 0,
            ended: false,
        }
    }
}

/// What one call to [`Chunked::decode`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used (framing and payload).
    pub consumed: usize,
    /// Payload bytes, as a range of the input (empty when the input held none).
    pub payload: Range<usize>,
}

impl Chunked {
    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, ChunkState::Done)
    }

    /// Reads framing from `input` up to the first payload bytes (returned), the end of the
    /// body, or the end of the input.
    ///
    /// # Errors
    /// A phrase for framing that is not chunked encoding, or past its bounds.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, &'static str> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Data(left) => {
                    let take = left.min((input.len() - i) as u64);
                    self.state = if take == left {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data(left - take)
                    };
                    let take = take as usize;
                    return Ok(Decoded {
                        consumed: i + take,
                        payload: i..i + take,
                    });
                }
                ChunkState::Done => break,
                _ => {}
            }
            let b = input[i];
            i += 1;
            self.state = self.step(b)?;
        }
        Ok(Decoded {
            consumed: i,
            payload: i..i,
        })
    }

    fn step(&mut self, b: u8) -> Result<ChunkState, &'static str> {
        Ok(match self.state {
            ChunkState::Size {
                value,
                digits,
                ended,
            } => {
                self.line += 1;
                if self.line > SIZE_LINE_BYTES {
                    return Err("a chunk-size line went past 1 KiB");
                }
                match b {
                    b'\n' => self.size_line_end(value, digits)?,
                    b'\r' => ChunkState::SizeLf { value, digits },
                    b';' | b' ' | b'\t' => ChunkState::Size {
                        value,
                        digits,
                        ended: true,
                    },
                    _ if ended => ChunkState::Size {
                        value,
                        digits,
                        ended,
                    },
                    _ => {
                        let digit = (b as char)
                            .to_digit(16)
                            .ok_or("a chunk size that is not hexadecimal")?;
                        let value = value
                            .checked_mul(16)
                            .map(|v| v + u64::from(digit))
                            .ok_or("a chunk size beyond 64 bits")?;
                        ChunkState::Size {
                            value,
                            digits: digits.saturating_add(1),
                            ended,
                        }
                    }
                }
            }
            ChunkState::SizeLf { value, digits } => match b {
                b'\n' => self.size_line_end(value, digits)?,
                _ => return Err("a chunk-size line with a bare carriage return"),
            },
            ChunkState::DataCr => match b {
                b'\r' => ChunkState::DataLf,
                b'\n' => self.next_size(),
                _ => return Err("a chunk longer than its size"),
            },
            ChunkState::DataLf => match b {
                b'\n' => self.next_size(),
                _ => return Err("a chunk longer than its size"),
            },
            ChunkState::Trailer { empty } => {
                self.line += 1;
                if self.line > HEAD_BYTES {
                    return Err("the trailers went past 64 KiB");
                }
                match b {
                    b'\n' if empty => ChunkState::Done,
                    b'\n' => ChunkState::Trailer { empty: true },
                    b'\r' => ChunkState::Trailer { empty },
                    _ => ChunkState::Trailer { empty: false },
                }
            }
            state @ (ChunkState::Data(_) | ChunkState::Done) => state,
        })
    }

    fn next_size(&mut self) -> ChunkState {
        self.line = 0;
        ChunkState::default()
    }

    fn size_line_end(&mut self, value: u64, digits: u8) -> Result<ChunkState, &'static str> {
        if digits == 0 {
            return Err("a chunk-size line without a size");
        }
        self.line = 0;
        Ok(if value == 0 {
            ChunkState::Trailer { empty: true }
        } else {
            ChunkState::Data(value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{Events, Parser};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn chunked(payloads: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        for p in payloads {
            body.extend_from_slice(format!("{:x}\r\n{p}\r\n", p.len()).as_bytes());
        }
        body.extend_from_slice(b"0\r\n\r\n");
        body
    }

    /// The payload of `body` decoded in the given pieces, and whether the end was reached.
    fn decode_in(body: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, bool), &'static str> {
        let mut decoder = Chunked::default();
        let mut payload = Vec::new();
        let mut from = 0;
        for to in cuts.iter().copied().chain([body.len()]) {
            let mut piece = &body[from..to];
            while !piece.is_empty() && !decoder.is_done() {
                let step = decoder.decode(piece)?;
                payload.extend_from_slice(&piece[step.payload.clone()]);
                piece = &piece[step.consumed..];
            }
            from = to;
        }
        Ok((payload, decoder.is_done()))
    }

    fn events_of(payload_pieces: &[Vec<u8>]) -> Vec<String> {
        let mut parser = Parser::new();
        let mut events = Events::default();
        let mut all = Vec::new();
        for p in payload_pieces {
            parser.feed_into(p, &mut events).unwrap();
            all.extend(events.iter().map(|e| e.data.clone()));
        }
        all
    }

    #[test]
    fn every_split_point_of_a_chunked_stream_gives_the_same_events() {
        let body = chunked(&[
            "data: {\"choices\":[{\"text\":\"a\"}]}\n\n",
            "data: {\"choices\":[{\"text\":\"é\"}]}\r\n\r\ndata: x",
            "yz\n\n",
            "data: [DONE]\n\n",
        ]);
        let (whole, done) = decode_in(&body, &[]).unwrap();
        assert!(done);
        let expected = events_of(&[whole]);
        assert_eq!(expected.len(), 4, "{expected:?}");
        for a in 0..=body.len() {
            for b in a..=body.len() {
                // Each piece's payload goes to the parser as it comes.
                let mut decoder = Chunked::default();
                let mut pieces = Vec::new();
                let mut from = 0;
                for to in [a, b, body.len()] {
                    let mut piece = &body[from..to];
                    while !piece.is_empty() && !decoder.is_done() {
                        let step = decoder.decode(piece).unwrap();
                        pieces.push(piece[step.payload.clone()].to_vec());
                        piece = &piece[step.consumed..];
                    }
                    from = to;
                }
                assert!(decoder.is_done(), "cut at {a}, {b}");
                assert_eq!(events_of(&pieces), expected, "cut at {a}, {b}");
            }
        }
    }

    #[test]
    fn size_lines_take_extensions_and_trailers_are_read() {
        let body = b"5;name=\"v\"\r\nhello\r\nA \r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        assert_eq!(
            decode_in(body, &[]).unwrap(),
            (b"hello0123456789".to_vec(), true)
        );
        // Bare line feeds, as lenient servers send them.
        assert_eq!(
            decode_in(b"3\nabc\n0\n\n", &[]).unwrap(),
            (b"abc".to_vec(), true)
        );
    }

    #[test]
    fn bad_or_endless_framing_is_refused() {
        assert!(decode_in(b"zz\r\n", &[]).is_err());
        assert!(decode_in(b"\r\n", &[]).is_err());
        assert!(decode_in(b"3\r\nabcd\r\n", &[]).is_err());
        assert!(decode_in(b"11111111111111111\r\n", &[]).is_err());
        let mut endless = b"5;".to_vec();
        endless.resize(10_000, b'x');
        assert_eq!(
            decode_in(&endless, &[100, 5000]),
            Err("a chunk-size line went past 1 KiB")
        );
        let mut trailers = b"0\r\n".to_vec();
        trailers.resize(100_000, b'x');
        assert_eq!(
            decode_in(&trailers, &[]),
            Err("the trailers went past 64 KiB")
        );
    }

    #[test]
    fn heads_give_status_and_framing() {
        let head = |s: &str| parse_head(s.as_bytes());
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(h.status, 200);
        assert!(matches!(h.body, Body::Chunked(_)) && h.keep_alive);
        let h =
            head("HTTP/1.1 400 Bad\r\ncontent-length: 12\r\nconnection: close\r\n\r\n").unwrap();
        assert!(matches!(h.body, Body::Length(12)) && !h.keep_alive);
        let h = head("HTTP/1.1 200 OK\ncontent-type: text/event-stream\n\n").unwrap();
        assert!(matches!(h.body, Body::Close) && !h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
        assert!(head("HTTP/2 200\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n").is_err());
        assert_eq!(
            head_end(b"HTTP/1.1 200 OK\r\na: b\r\n\r\nrest", 0),
            Some(25)
        );
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n", 0), None);
    }

    #[test]
    fn origins_are_plain_http_urls() {
        let o = Origin::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(
            (o.addr.as_str(), o.host.as_str(), o.prefix.as_str()),
            ("127.0.0.1:8000", "127.0.0.1:8000", "")
        );
        let o = Origin::parse("http://gpu-node/proxy/").unwrap();
        assert_eq!(
            (o.addr.as_str(), o.prefix.as_str()),
            ("gpu-node:80", "/proxy")
        );
        assert_eq!(Origin::parse("http://[::1]").unwrap().addr, "[::1]:80");
        assert_eq!(Origin::parse("http://[::1]:9").unwrap().addr, "[::1]:9");
        assert!(Origin::parse("http://user:pw@host:1").is_none());
        assert!(Origin::parse("https://host:1").is_none());
        assert!(Origin::parse("http://host:1/?key=x").is_none());
    }

    /// A server answering each request of a connection with `answer`, closing the connection
    /// after `per_connection` answers; counts the connections.
    async fn serve(
        answer: Vec<u8>,
        per_connection: usize,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    for _ in 0..per_connection {
                        // One request: its head and the body its content-length announces.
                        loop {
                            if let Some(end) = head_end(&request, 0) {
                                let text =
                                    String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                                let length: usize = text
                                    .lines()
                                    .find_map(|l| l.strip_prefix("content-length:"))
                                    .map_or(0, |v| v.trim().parse().unwrap());
                                if request.len() >= end + length {
                                    request.drain(..end + length);
                                    break;
                                }
                            }
                            let n = socket.read(&mut buf).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            request.extend_from_slice(&buf[..n]);
                        }
                        if socket.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, count)
    }

    async fn exchange(conn: &mut Connection, url: &str) -> Result<(u16, Vec<u8>), Error> {
        let origin = Origin::parse(url).unwrap();
        let mut deadline = Deadline::new(Instant::now() + Duration::from_secs(5));
        let status = conn
            .post(&origin, "/v1/completions", Some("k"), b"{}", &mut deadline)
            .await?;
        let mut body = Vec::new();
        while let Some((_, bytes)) = conn.next(&mut deadline).await? {
            body.extend_from_slice(bytes);
        }
        conn.finish().await;
        Ok((status, body))
    }

    #[tokio::test]
    async fn a_connection_is_reused_and_opened_again_once_closed() {
        let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        answer.extend(chunked(&["data: a\n\n", "data: [DONE]\n\n"]));
        let (url, connections) = serve(answer, 2).await;
        let mut conn = Connection::new();
        for round in 1..=3 {
            let (status, body) = exchange(&mut conn, &url).await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(body, b"data: a\n\ndata: [DONE]\n\n", "round {round}");
        }
        // Two answers on the first connection; the server then closed it.
        assert_eq!(conn.opened(), 2);
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn length_and_close_delimited_bodies_are_read() {
        let (url, _) = serve(
            b"HTTP/1.1 400 Bad\r\ncontent-length: 5\r\n\r\nhello".to_vec(),
            2,
        )
        .await;
        let mut conn = Connection::new();
        for _ in 0..2 {
            assert_eq!(
                exchange(&mut conn, &url).await.unwrap(),
                (400, b"hello".to_vec())
            );
        }
        assert_eq!(conn.opened(), 1);
        let (url, _) = serve(b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec(), 1).await;
        let mut conn = Connection::new();
        for _ in 0..2 {
            assert_eq!(
                exchange(&mut conn, &url).await.unwrap(),
                (200, b"until the end".to_vec())
            );
        }
        assert_eq!(conn.opened(), 2);
    }

    #[tokio::test]
    async fn a_head_past_its_limit_is_refused() {
        let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
        while answer.len() < HEAD_BYTES + 100 {
            answer.extend_from_slice(b"x-filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let (url, _) = serve(answer, 1).await;
        let mut conn = Connection::new();
        let e = exchange(&mut conn, &url).await.unwrap_err();
        assert!(matches!(e, Error::HeadTooLarge), "{e}");
        assert!(conn.buf.len() <= HEAD_BYTES);
    }

    #[tokio::test]
    async fn a_silent_server_times_out_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(socket);
        });
        let origin = Origin::parse(&url).unwrap();
        let mut conn = Connection::new();
        let started = Instant::now();
        let mut deadline = Deadline::new(started + Duration::from_millis(200));
        let e = conn
            .post(&origin, "/v1/completions", None, b"{}", &mut deadline)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Timeout), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
