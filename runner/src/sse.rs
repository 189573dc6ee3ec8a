//! An incremental parser of server-sent events (the WHATWG `text/event-stream` format), fed
//! with whatever byte chunks the network delivers: an event may arrive split anywhere, even
//! inside a UTF-8 character or between `\r` and `\n`. What it holds of an unfinished event is
//! capped: a line that never ends costs an error, not memory.

use crate::limits::EVENT_BYTES;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, when given.
    pub event: Option<String>,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

/// An event (or a line) grew past the parser's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The limit, bytes.
    pub limit: u64,
}

/// The events one feed completed, in a buffer that keeps its memory from one feed to the next:
/// a stream of thousands of tokens allocates for its first events only.
#[derive(Debug, Default)]
pub struct Events {
    items: Vec<Event>,
    len: usize,
}

impl Events {
    /// The events of the last feed, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.items[..self.len].iter()
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, data: &str, event: Option<String>) {
        match self.items.get_mut(self.len) {
            Some(reused) => {
                reused.data.clear();
                reused.data.push_str(data);
                reused.event = event;
            }
            None => self.items.push(Event {
                event,
                data: data.to_string(),
            }),
        }
        self.len += 1;
    }
}

/// Accumulates bytes and yields complete events.
#[derive(Debug)]
pub struct Parser {
    /// The unfinished line, when a chunk ended inside one.
    buffer: Vec<u8>,
    /// The event's `data:` lines so far, joined by `\n`.
    data: String,
    has_data: bool,
    event: Option<String>,
    /// Bytes of the lines of the event being read (without the line in `buffer`).
    event_bytes: u64,
    limit: u64,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::with_limit(EVENT_BYTES)
    }
}

impl Parser {
    /// A parser with nothing buffered, holding events of at most [`EVENT_BYTES`].
    pub fn new() -> Parser {
        Parser::default()
    }

    /// A parser that refuses an event (or a line) of more than `limit` bytes.
    pub fn with_limit(limit: u64) -> Parser {
        Parser {
            buffer: Vec::new(),
            data: String::new(),
            has_data: false,
            event: None,
            event_bytes: 0,
            limit,
            skip_lf: false,
        }
    }

    /// Feeds bytes; returns the events they complete, in order.
    ///
    /// # Errors
    /// [`TooLarge`] once the event being read holds more than the limit; the parser should
    /// then be dropped.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, TooLarge> {
        let mut events = Events::default();
        self.feed_into(bytes, &mut events)?;
        Ok(events.iter().cloned().collect())
    }

    /// Feeds bytes; `out` holds the events they complete, in order (and only those).
    ///
    /// # Errors
    /// As [`Parser::feed`].
    pub fn feed_into(&mut self, bytes: &[u8], out: &mut Events) -> Result<(), TooLarge> {
        out.clear();
        let mut bytes = bytes;
        if self.skip_lf && !bytes.is_empty() {
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
            self.skip_lf = false;
        }
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\n' || b == b'\r' {
                if self.buffer.is_empty() {
                    // The whole line is in this chunk: read it where it lies.
                    self.check(i - start)?;
                    self.line(&bytes[start..i], out);
                } else {
                    self.hold(&bytes[start..i])?;
                    let line = std::mem::take(&mut self.buffer);
                    self.line(&line, out);
                    self.buffer = line;
                    self.buffer.clear();
                }
                if b == b'\r' {
                    if i + 1 < bytes.len() {
                        if bytes[i + 1] == b'\n' {
                            i += 1;
                        }
                    } else {
                        self.skip_lf = true;
                    }
                }
                start = i + 1;
            }
            i += 1;
        }
        self.hold(&bytes[start..])
    }

    /// Whether `more` bytes of a line would take the event past the limit.
    fn check(&self, more: usize) -> Result<(), TooLarge> {
        let held = self.event_bytes + self.buffer.len() as u64 + more as u64;
        if held > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// Adds bytes of an unfinished line, unless they take the event past the limit.
    fn hold(&mut self, bytes: &[u8]) -> Result<(), TooLarge> {
        self.check(bytes.len())?;
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }

    /// Whether bytes of an unfinished event are still held (a stream that ends here was cut).
    pub fn has_partial_event(&self) -> bool {
        !self.buffer.is_empty() || self.has_data
    }

    fn line(&mut self, line: &[u8], out: &mut Events) {
        if line.is_empty() {
            self.event_bytes = 0;
            if !self.has_data && self.event.is_none() {
                return;
            }
            out.push(&self.data, self.event.take());
            self.data.clear();
            self.has_data = false;
            return;
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return; // a comment, used by servers as keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                self.event_bytes += line.len() as u64 + 1;
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.event_bytes += line.len() as u64 + 1;
                self.event = Some(value.to_string());
            }
            _ => {} // id, retry and unknown fields do not matter here
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vLLM completion stream as it arrives (format of vLLM's OpenAI server: one JSON chunk
    /// per `data:` line, a usage chunk, then `[DONE]`).
    const VLLM: &str = "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\" Hello\",\"finish_reason\":null}]}\n\n\
data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\" world\",\"finish_reason\":\"length\"}]}\n\n\
data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n\
data: [DONE]\n\n";

    fn all_at_once(text: &[u8]) -> Vec<Event> {
        Parser::new().feed(text).unwrap()
    }

    #[test]
    fn a_whole_stream_gives_every_event() {
        let events = all_at_once(VLLM.as_bytes());
        assert_eq!(events.len(), 4);
        assert_eq!(events[3].data, "[DONE]");
    }

    /// Every way of cutting the stream in two, and every byte on its own, gives the same events.
    #[test]
    fn cutting_the_stream_anywhere_changes_nothing() {
        for text in [
            VLLM.to_string(),
            VLLM.replace('\n', "\r\n"),
            VLLM.replace('\n', "\r"),
        ] {
            let bytes = text.as_bytes();
            let expected = all_at_once(bytes);
            for cut in 0..=bytes.len() {
                let mut p = Parser::new();
                let mut got = p.feed(&bytes[..cut]).unwrap();
                got.extend(p.feed(&bytes[cut..]).unwrap());
                assert_eq!(got, expected, "cut at {cut}");
            }
            let mut p = Parser::new();
            let got: Vec<Event> = bytes
                .iter()
                .flat_map(|b| p.feed(std::slice::from_ref(b)).unwrap())
                .collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn comments_and_multi_line_data() {
        let events = all_at_once(b": keep-alive\n\nevent: error\ndata: a\ndata: b\n\n");
        assert_eq!(
            events,
            [Event {
                event: Some("error".into()),
                data: "a\nb".into()
            }]
        );
    }

    #[test]
    fn utf8_split_inside_a_character_survives() {
        let text = "data: {\"text\":\"é中\"}\n\n".as_bytes();
        for cut in 0..=text.len() {
            let mut p = Parser::new();
            let mut got = p.feed(&text[..cut]).unwrap();
            got.extend(p.feed(&text[cut..]).unwrap());
            assert_eq!(got[0].data, "{\"text\":\"é中\"}", "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_event_is_reported() {
        let mut p = Parser::new();
        assert!(p.feed(b"data: {\"choices\"").unwrap().is_empty());
        assert!(p.has_partial_event());
    }

    /// A line that never ends is refused once it passes the limit, however it is cut.
    #[test]
    fn an_endless_line_is_refused_at_the_limit() {
        let mut p = Parser::with_limit(1024);
        let piece = [b'a'; 100];
        let mut fed = 0;
        let err = loop {
            match p.feed(&piece) {
                Ok(events) => assert!(events.is_empty()),
                Err(e) => break e,
            }
            fed += piece.len();
            assert!(fed <= 1024, "held more than the limit");
        };
        assert_eq!(err.limit, 1024);
    }

    /// Many short data lines without the blank line that ends an event count together.
    #[test]
    fn an_event_of_endless_lines_is_refused_at_the_limit() {
        let mut p = Parser::with_limit(1024);
        let line = b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
        let refused = (0..100).any(|_| p.feed(line).is_err());
        assert!(refused);
    }

    /// Events up to the limit pass, one after another, without the limit adding up across them.
    #[test]
    fn the_limit_is_per_event() {
        let mut p = Parser::with_limit(64);
        for _ in 0..1000 {
            assert_eq!(p.feed(b"data: 0123456789\n\n").unwrap().len(), 1);
        }
    }
}
