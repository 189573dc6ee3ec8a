//! An incremental parser of server-sent events (the WHATWG `text/event-stream` format), fed
//! with whatever byte chunks the network delivers: an event may arrive split anywhere, even
//! inside a UTF-8 character or between `\r` and `\n`.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, when given.
    pub event: Option<String>,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

/// Accumulates bytes and yields complete events.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: Vec<u8>,
    data: Vec<String>,
    event: Option<String>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
}

impl Parser {
    /// A parser with nothing buffered.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feeds bytes; returns the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
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
                self.buffer.extend_from_slice(&bytes[start..i]);
                let line = std::mem::take(&mut self.buffer);
                if let Some(event) = self.line(&line) {
                    events.push(event);
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
        self.buffer.extend_from_slice(&bytes[start..]);
        events
    }

    /// Whether bytes of an unfinished event are still held (a stream that ends here was cut).
    pub fn has_partial_event(&self) -> bool {
        !self.buffer.is_empty() || !self.data.is_empty()
    }

    fn line(&mut self, line: &[u8]) -> Option<Event> {
        if line.is_empty() {
            if self.data.is_empty() && self.event.is_none() {
                return None;
            }
            return Some(Event {
                event: self.event.take(),
                data: std::mem::take(&mut self.data).join("\n"),
            });
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None; // a comment, used by servers as keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            _ => {} // id, retry and unknown fields do not matter here
        }
        None
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
        Parser::new().feed(text)
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
                let mut got = p.feed(&bytes[..cut]);
                got.extend(p.feed(&bytes[cut..]));
                assert_eq!(got, expected, "cut at {cut}");
            }
            let mut p = Parser::new();
            let got: Vec<Event> = bytes
                .iter()
                .flat_map(|b| p.feed(std::slice::from_ref(b)))
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
            let mut got = p.feed(&text[..cut]);
            got.extend(p.feed(&text[cut..]));
            assert_eq!(got[0].data, "{\"text\":\"é中\"}", "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_event_is_reported() {
        let mut p = Parser::new();
        assert!(p.feed(b"data: {\"choices\"").is_empty());
        assert!(p.has_partial_event());
    }
}
