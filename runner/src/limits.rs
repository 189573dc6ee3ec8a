//! How much jauge reads from a server, and how long it waits for it.
//!
//! A load generator talks to servers it does not control: one that streams a line without end,
//! answers an error with a gigabyte, or accepts a connection and never speaks must cost jauge a
//! failed request, not its memory or the whole run. Every read is capped here and every request
//! has a time budget; each limit is a named constant with the reason for its size, and the ones
//! a real server could need more of can be raised with `--read-limit NAME=SIZE`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One line or event of a server-sent-events stream. A chunk of vLLM's or llama.cpp's stream
/// is a few hundred bytes (one token, plus logprobs when asked, which jauge never asks); 1 MiB
/// is thousands of times more.
pub const EVENT_BYTES: u64 = 1 << 20;
/// What is kept of an error answer's body: enough for any JSON error and a page of HTML; the
/// rest is not read (the connection is dropped).
pub const ERROR_BODY_BYTES: u64 = 64 << 10;
/// `/v1/models`: a list of model cards, a few hundred bytes a model; 1 MiB is thousands.
pub const MODELS_BYTES: u64 = 1 << 20;
/// `/version`: one short JSON object.
pub const VERSION_BYTES: u64 = 64 << 10;
/// `/tokenize`: the token ids of one prompt, about 7 bytes a token in JSON (more with the
/// token strings some servers add): 16 MiB covers a prompt of a million tokens.
pub const TOKENIZE_BYTES: u64 = 16 << 20;
/// `/metrics`: vLLM's exposition is some hundred kilobytes with its histograms; 8 MiB leaves
/// room for many models or adapters.
pub const METRICS_BYTES: u64 = 8 << 20;

/// Stream events a request may receive beyond twice its `max_tokens`: the servers jauge knows
/// send one event per token (sometimes an empty one while a character is incomplete), plus a
/// role chunk, a usage chunk and `[DONE]`. A stream longer than that never finishes on its own.
pub const EXTRA_EVENTS: u32 = 32;

/// The longest jauge waits for a start-up probe (`/v1/models`, `/version`, `/metrics`) or a
/// call to the server's tokenizer, when `--timeout` is longer: these answer in milliseconds
/// even under load, and a server that does not answer them in 30 s is not ready to measure.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a TCP connection may take to open, when `--timeout` is longer: on a network a
/// load test is run over, a connection opens in milliseconds or not at all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One scrape of `/metrics` during a step: scraped every second, a late one is just skipped.
pub const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

/// Most stream events one request may receive before it counts as `overlong_stream`.
pub fn max_events(max_tokens: u32) -> u32 {
    max_tokens.saturating_mul(2).saturating_add(EXTRA_EVENTS)
}

/// The caps on what is read from a server, by kind of answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// One line or event of a stream.
    pub event: u64,
    /// What is kept of an error body.
    pub error_body: u64,
    /// `/v1/models`.
    pub models: u64,
    /// `/version`.
    pub version: u64,
    /// `/tokenize`.
    pub tokenize: u64,
    /// `/metrics`.
    pub metrics: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            event: EVENT_BYTES,
            error_body: ERROR_BODY_BYTES,
            models: MODELS_BYTES,
            version: VERSION_BYTES,
            tokenize: TOKENIZE_BYTES,
            metrics: METRICS_BYTES,
        }
    }
}

impl ReadLimits {
    /// The defaults with `--read-limit` overrides applied, the last one of a name winning.
    pub fn with(overrides: &[ReadLimit]) -> ReadLimits {
        let mut limits = ReadLimits::default();
        for o in overrides {
            *limits.slot(o.what) = o.bytes;
        }
        limits
    }

    fn slot(&mut self, what: Readable) -> &mut u64 {
        match what {
            Readable::Event => &mut self.event,
            Readable::ErrorBody => &mut self.error_body,
            Readable::Models => &mut self.models,
            Readable::Version => &mut self.version,
            Readable::Tokenize => &mut self.tokenize,
            Readable::Metrics => &mut self.metrics,
        }
    }
}

/// What a read limit applies to, by its `--read-limit` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    /// `event`: one line or event of a stream.
    Event,
    /// `error-body`: what is kept of an error answer.
    ErrorBody,
    /// `models`: `/v1/models`.
    Models,
    /// `version`: `/version`.
    Version,
    /// `tokenize`: `/tokenize`.
    Tokenize,
    /// `metrics`: `/metrics`.
    Metrics,
}

impl Readable {
    const ALL: [(Readable, &'static str); 6] = [
        (Readable::Event, "event"),
        (Readable::ErrorBody, "error-body"),
        (Readable::Models, "models"),
        (Readable::Version, "version"),
        (Readable::Tokenize, "tokenize"),
        (Readable::Metrics, "metrics"),
    ];

    /// Its `--read-limit` name.
    pub fn name(self) -> &'static str {
        Readable::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("?", |(_, n)| n)
    }
}

/// One `--read-limit NAME=SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimit {
    /// What it caps.
    pub what: Readable,
    /// At most this many bytes.
    pub bytes: u64,
}

impl FromStr for ReadLimit {
    type Err = String;

    /// `event=4MiB`, `metrics=32MiB`, `tokenize=100000000`.
    fn from_str(text: &str) -> Result<ReadLimit, String> {
        let names = Readable::ALL.map(|(_, n)| n).join(", ");
        let (name, size) = text.split_once('=').ok_or_else(|| {
            format!("expected NAME=SIZE (e.g. event=4MiB) with NAME one of {names}")
        })?;
        let what = Readable::ALL
            .iter()
            .find(|(_, n)| *n == name.trim())
            .map(|(r, _)| *r)
            .ok_or_else(|| format!("unknown limit `{name}`: one of {names}"))?;
        let bytes = parse_size(size)?;
        if bytes < 1024 {
            return Err(format!(
                "{name}={size}: at least 1KiB, or no real answer gets through"
            ));
        }
        Ok(ReadLimit { what, bytes })
    }
}

/// `64KiB`, `4MiB`, `1GiB`, `2MB`, `1000`: bytes.
///
/// # Errors
/// A phrase when it is not a size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 64KiB, 4MiB or 1000000"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{other}` is not a size unit: B, KiB, MiB, GiB, KB, MB or GB"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is more bytes than a computer holds"))
}

/// A size for messages: `1 MiB`, `64 KiB`, `1500 B`.
pub struct ShowBytes(pub u64);

impl fmt::Display for ShowBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        match b {
            _ if b >= 1 << 30 && b % (1 << 30) == 0 => write!(f, "{} GiB", b >> 30),
            _ if b >= 1 << 20 && b % (1 << 20) == 0 => write!(f, "{} MiB", b >> 20),
            _ if b >= 1 << 10 && b % (1 << 10) == 0 => write!(f, "{} KiB", b >> 10),
            _ => write!(f, "{b} B"),
        }
    }
}

/// `--timeout`, bounded by a cap for the requests that should never take long.
pub fn bounded(timeout: Duration, cap: Duration) -> Duration {
    timeout.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_and_decimal_units() {
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn overrides_replace_one_limit_each() {
        let limits = ReadLimits::with(&[
            "event=4MiB".parse().unwrap(),
            "metrics=32MiB".parse().unwrap(),
        ]);
        assert_eq!(limits.event, 4 << 20);
        assert_eq!(limits.metrics, 32 << 20);
        assert_eq!(limits.models, MODELS_BYTES);
    }

    #[test]
    fn a_bad_override_says_what_is_allowed() {
        let err = "events=1MiB".parse::<ReadLimit>().unwrap_err();
        assert!(err.contains("event, error-body, models"), "{err}");
        assert!("event=10".parse::<ReadLimit>().is_err());
        assert!("event".parse::<ReadLimit>().is_err());
    }

    #[test]
    fn a_stream_may_hold_twice_its_tokens_and_a_few_more_events() {
        assert_eq!(max_events(8), 48);
        assert_eq!(max_events(u32::MAX), u32::MAX);
    }

    #[test]
    fn sizes_show_in_their_unit() {
        assert_eq!(ShowBytes(1 << 20).to_string(), "1 MiB");
        assert_eq!(ShowBytes(65_536).to_string(), "64 KiB");
        assert_eq!(ShowBytes(1500).to_string(), "1500 B");
    }
}
