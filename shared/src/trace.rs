//! Request traces to replay: when each request arrives, how long its prompt and answer are, and
//! which blocks of its prompt are content shared with other prompts.
//!
//! Three formats are read, each detected from its first line by [`Trace::parse`] or named with
//! [`Trace::parse_as`]. Every format is one request a line; blank lines, a UTF-8 byte order
//! mark and CRLF line endings are accepted, and errors name the 1-based line.
//!
//! * **Mooncake** ([`TraceFormat::Mooncake`]), the FAST'25 traces of kvcache-ai/Mooncake
//!   (`FAST25-release/traces/conversation_trace.jsonl`, `toolagent_trace.jsonl`,
//!   `synthetic_trace.jsonl`, and the older `FAST25-release/arxiv-trace/mooncake_trace.jsonl`).
//!   JSON Lines such as `{"timestamp": 0, "input_length": 2290, "output_length": 316,
//!   "hash_ids": [0, 42, 43, 44, 45]}`. As `FAST25-release/README.md` ("Trace Format") says:
//!   `timestamp` is the arrival in milliseconds from the trace's start, `input_length` and
//!   `output_length` are token counts, and `hash_ids` are "remapped prefix block hashes. The
//!   block size is 512 tokens. Identical hash IDs indicate reusable prefix KV cache blocks".
//!   The last block of a prompt is partial: in `conversation_trace.jsonl` and
//!   `synthetic_trace.jsonl` every line has ⌈`input_length` / 512⌉ ids. Other fields, which
//!   some tools add, are ignored.
//! * **Azure** ([`TraceFormat::Azure`]), the Azure LLM inference traces of
//!   Azure/AzurePublicDataset: `data/AzureLLMInferenceTrace_code.csv` and `_conv.csv` (2023,
//!   `AzureLLMInferenceDataset2023.md`) and the week-long `_code_1week.csv` and `_conv_1week.csv`
//!   (2024, `AzureLLMInferenceDataset2024.md`). CSV with the header
//!   `TIMESTAMP,ContextTokens,GeneratedTokens`; the 2023 files write times as
//!   `2023-11-16 18:15:46.6805900`, the 2024 ones as `2024-05-10 00:00:00.009930+00:00` and,
//!   on whole seconds, `2024-05-12 00:00:00+00:00` (the notebook
//!   `analysis/AzureLLMInferenceDataset2024.ipynb` reads both). Times become seconds from the
//!   first row, to the nanosecond. The 2024 files have 16.8 and 27.3 million rows, more than
//!   [`MAX_REQUESTS`]: cut them into shorter traces (a day is 2 to 4 million rows).
//! * **jauge** ([`TraceFormat::Jauge`]), for traces written by hand or by other tools. JSON
//!   Lines, one object a line:
//!
//!   | field | | meaning |
//!   |---|---|---|
//!   | `at_s` | required | arrival, seconds from the trace's start (0 or more; lines in arrival order) |
//!   | `input_tokens` | required | prompt tokens, 0 to [`MAX_TOKENS`] |
//!   | `output_tokens` | required | answer tokens, 0 to [`MAX_TOKENS`] |
//!   | `session` | optional | a name for the conversation or user the request belongs to |
//!   | `blocks` | optional | ids of the prompt's blocks, from its start, as Mooncake's `hash_ids`: block *k* is tokens *k*·`block_tokens` to (*k*+1)·`block_tokens`; an id equal to another prompt's at the same position means that block *and everything before it* is the same content |
//!   | `block_tokens` | optional | tokens of one block, 1 to [`MAX_TOKENS`]; 512 (Mooncake's) when absent |
//!
//!   `null` counts as absent. Any other field is refused, so that a misspelt one is not
//!   silently dropped. The blocks may describe the prompt's start only: the tokens after them
//!   are content of this prompt alone.
//!
//! ```
//! use jauge::trace::{Trace, TraceFormat};
//!
//! let mooncake = "{\"timestamp\": 21000, \"input_length\": 2651, \"output_length\": 366, \"hash_ids\": [0, 1541, 1542, 1543, 1544, 1545]}\n";
//! let trace = Trace::parse(mooncake)?;
//! assert_eq!(trace.format, TraceFormat::Mooncake);
//! assert_eq!((trace.requests[0].at_s, trace.requests[0].input_tokens), (21.0, 2651));
//!
//! let azure = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n\
//!              2023-11-16 18:17:03.9799600,4808,10\r\n\
//!              2023-11-16 18:17:04.0319600,3180,8\r\n";
//! let trace = Trace::parse(azure)?;
//! assert_eq!(trace.format, TraceFormat::Azure);
//! assert_eq!(trace.requests[1].at_s, 0.052);
//!
//! let jauge = r#"{"at_s": 0.5, "input_tokens": 812, "output_tokens": 64, "session": "alice"}"#;
//! let trace = Trace::parse(jauge)?;
//! assert_eq!(trace.requests[0].session.as_deref(), Some("alice"));
//!
//! let err = Trace::parse("{\"timestamp\": 0, \"output_length\": 5}").unwrap_err();
//! assert!(err.to_string().starts_with("line 1: \"input_length\" is missing"));
//! # Ok::<(), jauge::trace::TraceError>(())
//! ```

use std::fmt;

use serde_json::{Map, Value};

use crate::sim::chain;

/// Most tokens a prompt, an answer or a block may have: 16,777,216 (2²⁴), beyond any model's
/// context, so that a larger count is a mistake in the file rather than a request.
///
/// ```
/// assert_eq!(jauge::trace::MAX_TOKENS, 16_777_216);
/// ```
pub const MAX_TOKENS: u32 = 1 << 24;

/// Most requests one trace may hold: 10 million, about a gigabyte in memory.
///
/// ```
/// assert_eq!(jauge::trace::MAX_REQUESTS, 10_000_000);
/// ```
pub const MAX_REQUESTS: usize = 10_000_000;

/// Longest line read, in bytes (1 MiB): a Mooncake line for a prompt of [`MAX_TOKENS`], 32,768
/// block ids, is about 300 KB, so a longer line is not a trace's.
///
/// ```
/// assert_eq!(jauge::trace::MAX_LINE_BYTES, 1 << 20);
/// ```
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Tokens of one block: Mooncake's, and jauge's when a line does not say.
///
/// ```
/// assert_eq!(jauge::trace::DEFAULT_BLOCK_TOKENS, 512);
/// ```
pub const DEFAULT_BLOCK_TOKENS: u32 = 512;

/// Longest excerpt of the input that an error message quotes, in characters.
const QUOTE_CHARS: usize = 80;

/// The formats a trace can be in; see the [module](self) documentation for each.
///
/// ```
/// use jauge::trace::TraceFormat;
/// assert_eq!(TraceFormat::Azure.name(), "azure");
/// assert_eq!("mooncake".parse::<TraceFormat>(), Ok(TraceFormat::Mooncake));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// kvcache-ai/Mooncake's JSON Lines (`timestamp` in ms, `input_length`, `output_length`,
    /// `hash_ids`).
    Mooncake,
    /// Azure/AzurePublicDataset's LLM inference CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`).
    Azure,
    /// jauge's own JSON Lines (`at_s`, `input_tokens`, `output_tokens`, optional `session`,
    /// `blocks`, `block_tokens`).
    Jauge,
}

impl TraceFormat {
    /// Every format, in the order they are documented.
    ///
    /// ```
    /// assert_eq!(jauge::trace::TraceFormat::ALL.len(), 3);
    /// ```
    pub const ALL: [TraceFormat; 3] = [
        TraceFormat::Mooncake,
        TraceFormat::Azure,
        TraceFormat::Jauge,
    ];

    /// The format's name: `mooncake`, `azure` or `jauge`, as a command-line flag takes it.
    ///
    /// ```
    /// assert_eq!(jauge::trace::TraceFormat::Jauge.name(), "jauge");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Mooncake => "mooncake",
            TraceFormat::Azure => "azure",
            TraceFormat::Jauge => "jauge",
        }
    }

    /// What each line must hold, for error messages.
    fn needs(self) -> &'static str {
        match self {
            TraceFormat::Mooncake => {
                "each mooncake line needs \"timestamp\" (ms), \"input_length\" and \"output_length\", and may have \"hash_ids\""
            }
            TraceFormat::Azure => {
                "each azure row has the columns of the header TIMESTAMP,ContextTokens,GeneratedTokens"
            }
            TraceFormat::Jauge => {
                "each jauge line needs \"at_s\", \"input_tokens\" and \"output_tokens\", and may have \"session\", \"blocks\" and \"block_tokens\""
            }
        }
    }

    /// One well-formed line, for error messages.
    fn example(self) -> &'static str {
        match self {
            TraceFormat::Mooncake => {
                r#"{"timestamp": 0, "input_length": 2290, "output_length": 316, "hash_ids": [0, 42, 43, 44, 45]}"#
            }
            TraceFormat::Azure => "2023-11-16 18:17:03.9799600,4808,10",
            TraceFormat::Jauge => r#"{"at_s": 0.5, "input_tokens": 812, "output_tokens": 64}"#,
        }
    }
}

impl fmt::Display for TraceFormat {
    /// The [name](TraceFormat::name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TraceFormat {
    type Err = String;

    /// A format by [name](TraceFormat::name), in any case.
    ///
    /// ```
    /// use jauge::trace::TraceFormat;
    /// assert_eq!("Azure".parse::<TraceFormat>(), Ok(TraceFormat::Azure));
    /// assert!("sharegpt".parse::<TraceFormat>().unwrap_err().contains("mooncake, azure or jauge"));
    /// ```
    fn from_str(text: &str) -> Result<TraceFormat, String> {
        TraceFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown trace format `{}`: use mooncake, azure or jauge",
                    quote(text)
                )
            })
    }
}

/// Why a trace could not be read. Line numbers count from 1, blank lines included.
///
/// ```
/// use jauge::trace::{Trace, TraceError};
/// let err = Trace::parse("").unwrap_err();
/// assert_eq!(err, TraceError::Empty);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    /// No request at all.
    #[error("the trace has no requests: the text is empty, blank or only a header; a trace has one request a line")]
    Empty,
    /// The first line is none of the formats.
    #[error(
        "line {line}: not a trace jauge can read; the line is {first_line:?}, and jauge reads \
         mooncake JSON Lines ({{\"timestamp\": …, \"input_length\": …, \"output_length\": …, \"hash_ids\": […]}}), \
         azure CSV (header TIMESTAMP,ContextTokens,GeneratedTokens) and \
         jauge JSON Lines ({{\"at_s\": …, \"input_tokens\": …, \"output_tokens\": …}})"
    )]
    UnknownFormat {
        /// The first line that is not blank.
        line: usize,
        /// Its first 80 characters.
        first_line: String,
    },
    /// A line too long to be a trace's.
    #[error("line {line}: {bytes} bytes long, above the 1 MiB (1048576 bytes) a trace line may have; check that the file is a trace, one request a line")]
    LineTooLong {
        /// The line.
        line: usize,
        /// Its length in bytes.
        bytes: usize,
    },
    /// More requests than jauge holds in memory.
    #[error("line {line}: more than 10,000,000 requests, the most jauge holds in memory; cut the file into shorter traces (keeping an azure file's header line in each)")]
    TooManyRequests {
        /// The line of the request past the limit.
        line: usize,
    },
    /// A JSON Lines line that is not JSON.
    #[error("line {line}, column {column}: not JSON ({message}); each line of a {format} trace is one JSON object, such as {}", .format.example())]
    Json {
        /// The line.
        line: usize,
        /// The column (1-based, in characters) where the JSON parser stopped.
        column: usize,
        /// What the parser said.
        message: String,
        /// The format being read.
        format: TraceFormat,
    },
    /// A JSON Lines line that is JSON but not an object.
    #[error("line {line}: {found} is not a JSON object; each line of a {format} trace is one object, such as {}", .format.example())]
    NotAnObject {
        /// The line.
        line: usize,
        /// The start of what was found.
        found: String,
        /// The format being read.
        format: TraceFormat,
    },
    /// A required field is absent (or `null`).
    #[error("line {line}: \"{field}\" is missing — {}", .format.needs())]
    Missing {
        /// The line.
        line: usize,
        /// The field.
        field: &'static str,
        /// The format being read.
        format: TraceFormat,
    },
    /// A field that the jauge format does not have.
    #[error("line {line}: unknown field \"{field}\" — {}", TraceFormat::Jauge.needs())]
    UnknownField {
        /// The line.
        line: usize,
        /// The field's name (its first 80 characters).
        field: String,
    },
    /// A field or column whose value is of the wrong type or out of range.
    #[error("line {line}: \"{field}\" is {found}; expected {expected}")]
    BadValue {
        /// The line.
        line: usize,
        /// The field (`hash_ids[3]` for an element).
        field: String,
        /// The value found, as written (its first 80 characters).
        found: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A request that arrives before the line above it.
    #[error("line {line}: arrives at {at_s} s, before line {previous_line} ({previous_at_s} s); a trace's lines must be in arrival order: sort the file by its time field")]
    Backwards {
        /// The line.
        line: usize,
        /// Its arrival, seconds from the trace's start.
        at_s: f64,
        /// The request above it.
        previous_line: usize,
        /// That request's arrival.
        previous_at_s: f64,
    },
    /// An azure file whose first line is not the header jauge needs.
    #[error("line {line}: the azure header has no {missing} column; expected TIMESTAMP,ContextTokens,GeneratedTokens, found {found:?}")]
    Header {
        /// The header's line.
        line: usize,
        /// The column not found.
        missing: &'static str,
        /// The header found (its first 80 characters).
        found: String,
    },
    /// An azure row with more or fewer fields than its header.
    #[error("line {line}: {fields} comma-separated fields, the header has {columns}; each row is like {}", TraceFormat::Azure.example())]
    Fields {
        /// The line.
        line: usize,
        /// Fields in the row.
        fields: usize,
        /// Columns in the header.
        columns: usize,
    },
    /// An azure time that cannot be read.
    #[error("line {line}: TIMESTAMP {found:?} is not a date and time ({reason}); expected YYYY-MM-DD HH:MM:SS with an optional fraction of a second and UTC offset, as in 2023-11-16 18:15:46.6805900 or 2024-05-10 00:00:00.009930+00:00")]
    Timestamp {
        /// The line.
        line: usize,
        /// The time found (its first 80 characters).
        found: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A time scale that is not a finite number of 0 or more, or that takes arrivals beyond
    /// any finite time.
    #[error("time scale {time_scale}: expected a finite number of 0 or more (0.5 replays the trace twice as fast, 2 half as fast), small enough to keep every arrival finite")]
    TimeScale {
        /// The scale given.
        time_scale: f64,
    },
}

/// One request of a trace.
///
/// ```
/// let r = jauge::trace::TraceRequest::new(1.5, 812, 64);
/// assert_eq!((r.at_s, r.input_tokens, r.output_tokens), (1.5, 812, 64));
/// assert!(r.blocks.is_empty() && r.session.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRequest {
    /// Arrival, seconds from the trace's start.
    pub at_s: f64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Answer tokens.
    pub output_tokens: u32,
    /// Ids of the prompt's blocks of [`block_tokens`](TraceRequest::block_tokens) tokens, from
    /// its start (the last may be partial). Equal ids at the same position in two prompts mean
    /// equal content up to the end of that block. Empty when the trace does not say; ids past
    /// the prompt's end are kept as written and never [hashed](TraceRequest::block_hashes).
    pub blocks: Vec<u64>,
    /// Tokens of one of [`blocks`](TraceRequest::blocks).
    pub block_tokens: u32,
    /// The conversation or user the request belongs to, when the trace says.
    pub session: Option<String>,
}

impl TraceRequest {
    /// A request without blocks or session.
    ///
    /// ```
    /// let r = jauge::trace::TraceRequest::new(0.0, 100, 10);
    /// assert_eq!(r.block_tokens, jauge::trace::DEFAULT_BLOCK_TOKENS);
    /// ```
    pub fn new(at_s: f64, input_tokens: u32, output_tokens: u32) -> TraceRequest {
        TraceRequest {
            at_s,
            input_tokens,
            output_tokens,
            blocks: Vec::new(),
            block_tokens: DEFAULT_BLOCK_TOKENS,
            session: None,
        }
    }

    /// Prompt tokens that [`blocks`](TraceRequest::blocks) describe: the blocks' tokens, at
    /// most the prompt's.
    ///
    /// ```
    /// let mut r = jauge::trace::TraceRequest::new(0.0, 1300, 10);
    /// r.blocks = vec![7, 8, 9];
    /// assert_eq!(r.block_covered_tokens(), 1300); // the third block is partial
    /// r.blocks.truncate(2);
    /// assert_eq!(r.block_covered_tokens(), 1024);
    /// ```
    pub fn block_covered_tokens(&self) -> u32 {
        let blocks = u64::try_from(self.blocks.len()).unwrap_or(u64::MAX);
        let covered = blocks.saturating_mul(u64::from(self.block_tokens));
        // At most input_tokens, so it fits.
        covered.min(u64::from(self.input_tokens)) as u32
    }

    /// Hashes of the prompt's full `block_size`-token blocks that the trace's blocks describe,
    /// for a paged KV cache with prefix caching (vLLM's blocks are 16 tokens).
    ///
    /// Hash *i* covers tokens *i*·`block_size` to (*i*+1)·`block_size`; there is one for each
    /// such block that ends within both the prompt and the trace's blocks, so a partial last
    /// block, and the tokens the trace says nothing about, get none. Each hash mixes the
    /// previous one, *i*, and the ids of the trace blocks the `block_size` tokens lie in (two
    /// when they straddle a boundary), so two prompts' hashes at *i* are equal exactly when
    /// their trace blocks up to there are (but for 64-bit collisions), which means equal
    /// content from the start. The trace's block size and `block_size` are mixed into the
    /// first, so hashes of different block sizes never match. A `block_size` of 0 gives none.
    ///
    /// ```
    /// use jauge::trace::TraceRequest;
    /// let mut a = TraceRequest::new(0.0, 2651, 366);
    /// a.blocks = vec![0, 1541, 1542, 1543, 1544, 1545];
    /// let mut b = TraceRequest::new(0.0, 3024, 111);
    /// b.blocks = vec![0, 1541, 1542, 1543, 1544, 3753];
    /// let (ha, hb) = (a.block_hashes(16), b.block_hashes(16));
    /// assert_eq!(ha.len(), 2651 / 16); // the last 11 tokens are a partial block
    /// // Five shared blocks of 512 tokens are 160 blocks of 16.
    /// assert_eq!(ha[..160], hb[..160]);
    /// assert!(ha[160..].iter().zip(&hb[160..]).all(|(x, y)| x != y));
    /// ```
    pub fn block_hashes(&self, block_size: u64) -> Vec<u64> {
        let block_tokens = u64::from(self.block_tokens);
        if block_size == 0 || block_tokens == 0 {
            return Vec::new();
        }
        let count = u64::from(self.block_covered_tokens()) / block_size;
        // count ≤ input_tokens / block_size: at most 2²⁴ hashes for a parsed request.
        let mut hashes = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut hash = chain(chain(HASH_SEED, block_tokens), block_size);
        for i in 0..count {
            let start = i * block_size;
            let end = start + block_size;
            hash = chain(hash, i);
            for j in start / block_tokens..=(end - 1) / block_tokens {
                // j < blocks.len(): end ≤ the tokens the blocks cover.
                if let Some(id) = usize::try_from(j).ok().and_then(|j| self.blocks.get(j)) {
                    hash = chain(hash, *id);
                }
            }
            hashes.push(hash);
        }
        hashes
    }
}

/// The first hash of every chain, before the block sizes are mixed in: any constant would do;
/// this one is the fractional part of π.
const HASH_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// A trace: its requests in arrival order, and the format they were read from.
///
/// ```
/// use jauge::trace::Trace;
/// let trace = Trace::parse("{\"at_s\": 0, \"input_tokens\": 10, \"output_tokens\": 5}\n\
///                           {\"at_s\": 2.5, \"input_tokens\": 20, \"output_tokens\": 5}\n")?;
/// assert_eq!((trace.len(), trace.duration_s()), (2, 2.5));
/// # Ok::<(), jauge::trace::TraceError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The format the trace was read from.
    pub format: TraceFormat,
    /// The requests, in arrival order (`at_s` never decreases).
    pub requests: Vec<TraceRequest>,
}

impl Trace {
    /// Reads a trace in any of the [formats](TraceFormat), told apart by the first line that
    /// is not blank (see [`Trace::detect`]).
    ///
    /// # Errors
    /// [`TraceError::UnknownFormat`] when that line is none of them, [`TraceError::Empty`]
    /// when there is no request, and any error of [`Trace::parse_as`].
    ///
    /// ```
    /// use jauge::trace::{Trace, TraceFormat};
    /// let t = Trace::parse("TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00.009930+00:00,2162,5\n")?;
    /// assert_eq!(t.format, TraceFormat::Azure);
    /// assert!(Trace::parse("hello\n").unwrap_err().to_string().contains("\"hello\""));
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        Trace::parse_as(text, Trace::detect(text)?)
    }

    /// The format of a trace, from its first line that is not blank: a JSON object with
    /// `at_s` or `input_tokens` is jauge's, one with `timestamp`, `input_length` or `hash_ids`
    /// is Mooncake's, and a CSV header with a `TIMESTAMP` column is Azure's.
    ///
    /// # Errors
    /// [`TraceError::Empty`] for a blank text, [`TraceError::UnknownFormat`] when the line is
    /// none of these, and [`TraceError::LineTooLong`].
    ///
    /// ```
    /// use jauge::trace::{Trace, TraceFormat};
    /// assert_eq!(Trace::detect("\n{\"timestamp\": 0}")?, TraceFormat::Mooncake);
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn detect(text: &str) -> Result<TraceFormat, TraceError> {
        let (line, first) = lines(text).next().ok_or(TraceError::Empty)??;
        let trimmed = first.trim();
        if trimmed.starts_with('{') {
            let parsed = serde_json::from_str::<Value>(trimmed);
            let has = |keys: &[&str]| match &parsed {
                Ok(Value::Object(map)) => keys.iter().any(|k| map.contains_key(*k)),
                // A first line that is broken JSON is still recognised by its field names,
                // so that the error is the precise one parse_as gives for that line.
                _ => keys.iter().any(|k| trimmed.contains(&format!("\"{k}\""))),
            };
            if has(&["at_s", "input_tokens"]) {
                return Ok(TraceFormat::Jauge);
            }
            if has(&["timestamp", "input_length", "hash_ids"]) {
                return Ok(TraceFormat::Mooncake);
            }
        } else if csv_fields(trimmed).any(|f| f.eq_ignore_ascii_case("TIMESTAMP")) {
            return Ok(TraceFormat::Azure);
        }
        Err(TraceError::UnknownFormat {
            line,
            first_line: quote(first),
        })
    }

    /// Reads a trace in the given format.
    ///
    /// # Errors
    /// The first problem found, naming its line: a line that is not JSON, a field missing, of
    /// the wrong type or out of range, a time before the line above's, a line over
    /// [`MAX_LINE_BYTES`], more than [`MAX_REQUESTS`] requests, or no request at all.
    ///
    /// ```
    /// use jauge::trace::{Trace, TraceFormat};
    /// let line = "{\"timestamp\": 1500, \"input_length\": 10, \"output_length\": 2}";
    /// assert_eq!(Trace::parse_as(line, TraceFormat::Mooncake)?.requests[0].at_s, 1.5);
    /// let err = Trace::parse_as(line, TraceFormat::Jauge).unwrap_err();
    /// assert!(err.to_string().contains("unknown field"));
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn parse_as(text: &str, format: TraceFormat) -> Result<Trace, TraceError> {
        parse_bounded(text, format, MAX_REQUESTS)
    }

    /// Requests in the trace.
    ///
    /// ```
    /// let t = jauge::trace::Trace::parse("{\"at_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1}")?;
    /// assert_eq!(t.len(), 1);
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether the trace has no request (a [window](Trace::window) can be empty; a parsed
    /// trace never is).
    ///
    /// ```
    /// let t = jauge::trace::Trace::parse("{\"at_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1}")?;
    /// assert!(!t.is_empty() && t.take(0).is_empty());
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Seconds from the trace's start to its last arrival: the least a replay lasts. 0 for an
    /// empty trace.
    ///
    /// ```
    /// let t = jauge::trace::Trace::parse("{\"timestamp\": 250, \"input_length\": 1, \"output_length\": 1}\n\
    ///                                     {\"timestamp\": 3000, \"input_length\": 1, \"output_length\": 1}")?;
    /// assert_eq!(t.duration_s(), 3.0);
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn duration_s(&self) -> f64 {
        self.requests.last().map_or(0.0, |r| r.at_s)
    }

    /// The requests arriving from `start_s` (included) to `end_s` (excluded), their times
    /// counted from `start_s`, so that a replay of the window waits as long for its first
    /// request as the trace did after `start_s`.
    ///
    /// ```
    /// let t = jauge::trace::Trace::parse("{\"at_s\": 1, \"input_tokens\": 1, \"output_tokens\": 1}\n\
    ///                                     {\"at_s\": 5, \"input_tokens\": 2, \"output_tokens\": 1}\n\
    ///                                     {\"at_s\": 9, \"input_tokens\": 3, \"output_tokens\": 1}")?;
    /// let w = t.window(4.0, 9.0);
    /// assert_eq!(w.len(), 1);
    /// assert_eq!((w.requests[0].at_s, w.requests[0].input_tokens), (1.0, 2));
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn window(&self, start_s: f64, end_s: f64) -> Trace {
        let requests = self
            .requests
            .iter()
            .filter(|r| r.at_s >= start_s && r.at_s < end_s)
            .map(|r| TraceRequest {
                at_s: r.at_s - start_s,
                ..r.clone()
            })
            .collect();
        Trace {
            format: self.format,
            requests,
        }
    }

    /// The first `n` requests (all of them when there are fewer).
    ///
    /// ```
    /// let t = jauge::trace::Trace::parse(include_str!("../../tests/data/traces/mooncake-sample.jsonl"))?;
    /// assert_eq!(t.take(2).len(), 2);
    /// assert_eq!(t.take(100).len(), t.len());
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn take(&self, n: usize) -> Trace {
        Trace {
            format: self.format,
            requests: self.requests.iter().take(n).cloned().collect(),
        }
    }

    /// The trace with every arrival time multiplied by `time_scale`: 0.5 sends the same
    /// requests twice as fast, 2 half as fast, 0 all at once.
    ///
    /// # Errors
    /// [`TraceError::TimeScale`] when `time_scale` is negative, not finite, or so large that
    /// an arrival would not be.
    ///
    /// ```
    /// let t = jauge::trace::Trace::parse("{\"at_s\": 3, \"input_tokens\": 1, \"output_tokens\": 1}")?;
    /// assert_eq!(t.scaled(0.5)?.duration_s(), 1.5);
    /// assert!(t.scaled(-1.0).is_err());
    /// # Ok::<(), jauge::trace::TraceError>(())
    /// ```
    pub fn scaled(&self, time_scale: f64) -> Result<Trace, TraceError> {
        // Every arrival is at most the last, so a finite last arrival keeps them all finite.
        let usable = time_scale.is_finite()
            && time_scale >= 0.0
            && (self.duration_s() * time_scale).is_finite();
        if !usable {
            return Err(TraceError::TimeScale { time_scale });
        }
        let requests = self
            .requests
            .iter()
            .map(|r| TraceRequest {
                at_s: r.at_s * time_scale,
                ..r.clone()
            })
            .collect();
        Ok(Trace {
            format: self.format,
            requests,
        })
    }
}

/// [`Trace::parse_as`] with the most requests as a parameter, so that tests can reach the
/// limit without ten million lines.
fn parse_bounded(
    text: &str,
    format: TraceFormat,
    max_requests: usize,
) -> Result<Trace, TraceError> {
    let mut requests = Requests {
        list: Vec::new(),
        previous: None,
        max: max_requests,
    };
    match format {
        TraceFormat::Mooncake => read_json_lines(text, format, &mut requests, mooncake_request)?,
        TraceFormat::Jauge => read_json_lines(text, format, &mut requests, jauge_request)?,
        TraceFormat::Azure => read_azure(text, &mut requests)?,
    }
    if requests.list.is_empty() {
        return Err(TraceError::Empty);
    }
    Ok(Trace {
        format,
        requests: requests.list,
    })
}

/// The requests read so far, and the checks every format shares: arrival order and the limit.
struct Requests {
    list: Vec<TraceRequest>,
    /// The line and arrival of the last request.
    previous: Option<(usize, f64)>,
    max: usize,
}

impl Requests {
    fn push(&mut self, line: usize, request: TraceRequest) -> Result<(), TraceError> {
        if self.list.len() >= self.max {
            return Err(TraceError::TooManyRequests { line });
        }
        if let Some((previous_line, previous_at_s)) = self.previous {
            if request.at_s < previous_at_s {
                return Err(TraceError::Backwards {
                    line,
                    at_s: request.at_s,
                    previous_line,
                    previous_at_s,
                });
            }
        }
        self.previous = Some((line, request.at_s));
        self.list.push(request);
        Ok(())
    }
}

/// The lines that are not blank, with their 1-based numbers, without a leading byte order mark
/// or a trailing carriage return; an error for a line over [`MAX_LINE_BYTES`].
fn lines(text: &str) -> impl Iterator<Item = Result<(usize, &str), TraceError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n').enumerate().filter_map(|(index, raw)| {
        let line = index + 1;
        if raw.len() > MAX_LINE_BYTES {
            return Some(Err(TraceError::LineTooLong {
                line,
                bytes: raw.len(),
            }));
        }
        let content = raw.strip_suffix('\r').unwrap_or(raw);
        (!content.trim().is_empty()).then_some(Ok((line, content)))
    })
}

/// The first [`QUOTE_CHARS`] characters of `text`, with `…` when there were more.
fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let mut quoted: String = chars.by_ref().take(QUOTE_CHARS).collect();
    if chars.next().is_some() {
        quoted.push('…');
    }
    quoted
}

type LineReader = fn(usize, &Map<String, Value>) -> Result<TraceRequest, TraceError>;

fn read_json_lines(
    text: &str,
    format: TraceFormat,
    requests: &mut Requests,
    read: LineReader,
) -> Result<(), TraceError> {
    for item in lines(text) {
        let (line, content) = item?;
        let object = match serde_json::from_str::<Value>(content) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                return Err(TraceError::NotAnObject {
                    line,
                    found: quote(&other.to_string()),
                    format,
                })
            }
            Err(e) => return Err(json_error(line, format, &e)),
        };
        requests.push(line, read(line, &object)?)?;
    }
    Ok(())
}

fn json_error(line: usize, format: TraceFormat, error: &serde_json::Error) -> TraceError {
    // serde_json ends its message with the position in the text it was given, which is this
    // one line: the line number would be wrong, so keep only the message and the column.
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
    TraceError::Json {
        line,
        column: error.column(),
        message,
        format,
    }
}

/// A field's value; `null` counts as absent.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

fn required<'a>(
    line: usize,
    format: TraceFormat,
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a Value, TraceError> {
    field(object, name).ok_or(TraceError::Missing {
        line,
        field: name,
        format,
    })
}

fn bad_value(line: usize, field: &str, found: &Value, expected: &'static str) -> TraceError {
    TraceError::BadValue {
        line,
        field: field.to_string(),
        found: quote(&found.to_string()),
        expected,
    }
}

/// A JSON number that is a whole number of 0 or more: written as an integer, or as a float
/// with no fraction (`512.0`, as some tools write counts) up to 2⁵³, where floats stop being
/// exact integers.
fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let x = value.as_f64()?;
        // The range check makes the cast exact.
        ((0.0..=9_007_199_254_740_992.0).contains(&x) && x.fract() == 0.0).then_some(x as u64)
    })
}

const TOKENS_EXPECTED: &str = "a whole number of tokens from 0 to 16777216";

fn tokens(line: usize, name: &str, value: &Value) -> Result<u32, TraceError> {
    whole(value)
        .filter(|n| *n <= u64::from(MAX_TOKENS))
        // ≤ MAX_TOKENS, so it fits.
        .map(|n| n as u32)
        .ok_or_else(|| bad_value(line, name, value, TOKENS_EXPECTED))
}

/// A time of 0 or more, divided by `per_second` (1000 for milliseconds).
fn time_s(
    line: usize,
    name: &str,
    value: &Value,
    per_second: f64,
    expected: &'static str,
) -> Result<f64, TraceError> {
    // as_f64 is exact for integers up to 2⁵³ ms (285,000 years), then rounds: never fails.
    match value.as_f64() {
        Some(x) if x >= 0.0 && x.is_finite() => Ok(x / per_second),
        _ => Err(bad_value(line, name, value, expected)),
    }
}

fn block_ids(line: usize, name: &str, value: &Value) -> Result<Vec<u64>, TraceError> {
    const EXPECTED: &str = "a list of block ids, whole numbers of 0 or more";
    let Value::Array(items) = value else {
        return Err(bad_value(line, name, value, EXPECTED));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            whole(item).ok_or_else(|| bad_value(line, &format!("{name}[{i}]"), item, EXPECTED))
        })
        .collect()
}

/// What every JSON line gives under its format's names: the arrival (in units of
/// `per_second`, described by `unit`), the input and the output tokens.
fn arrival_and_lengths(
    line: usize,
    format: TraceFormat,
    object: &Map<String, Value>,
    [time, input, output]: [&'static str; 3],
    (per_second, unit): (f64, &'static str),
) -> Result<(f64, u32, u32), TraceError> {
    let at_s = time_s(
        line,
        time,
        required(line, format, object, time)?,
        per_second,
        unit,
    )?;
    let input_tokens = tokens(line, input, required(line, format, object, input)?)?;
    let output_tokens = tokens(line, output, required(line, format, object, output)?)?;
    Ok((at_s, input_tokens, output_tokens))
}

fn mooncake_request(line: usize, object: &Map<String, Value>) -> Result<TraceRequest, TraceError> {
    let (at_s, input_tokens, output_tokens) = arrival_and_lengths(
        line,
        TraceFormat::Mooncake,
        object,
        ["timestamp", "input_length", "output_length"],
        (1000.0, "milliseconds from the trace's start, 0 or more"),
    )?;
    let blocks = match field(object, "hash_ids") {
        Some(ids) => block_ids(line, "hash_ids", ids)?,
        None => Vec::new(),
    };
    Ok(TraceRequest {
        at_s,
        input_tokens,
        output_tokens,
        blocks,
        block_tokens: DEFAULT_BLOCK_TOKENS,
        session: None,
    })
}

const JAUGE_FIELDS: [&str; 6] = [
    "at_s",
    "input_tokens",
    "output_tokens",
    "session",
    "blocks",
    "block_tokens",
];

fn jauge_request(line: usize, object: &Map<String, Value>) -> Result<TraceRequest, TraceError> {
    let format = TraceFormat::Jauge;
    if let Some(unknown) = object.keys().find(|k| !JAUGE_FIELDS.contains(&k.as_str())) {
        return Err(TraceError::UnknownField {
            line,
            field: quote(unknown),
        });
    }
    let (at_s, input_tokens, output_tokens) = arrival_and_lengths(
        line,
        format,
        object,
        ["at_s", "input_tokens", "output_tokens"],
        (1.0, "seconds from the trace's start, 0 or more"),
    )?;
    let session = match field(object, "session") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(bad_value(
                line,
                "session",
                other,
                "a string naming the conversation or user (or null)",
            ))
        }
        None => None,
    };
    let blocks = match field(object, "blocks") {
        Some(ids) => block_ids(line, "blocks", ids)?,
        None => Vec::new(),
    };
    let block_tokens = match field(object, "block_tokens") {
        Some(v) => whole(v)
            .filter(|n| (1..=u64::from(MAX_TOKENS)).contains(n))
            // ≤ MAX_TOKENS, so it fits.
            .map(|n| n as u32)
            .ok_or_else(|| {
                bad_value(
                    line,
                    "block_tokens",
                    v,
                    "a whole number of tokens from 1 to 16777216",
                )
            })?,
        None => DEFAULT_BLOCK_TOKENS,
    };
    Ok(TraceRequest {
        at_s,
        input_tokens,
        output_tokens,
        blocks,
        block_tokens,
        session,
    })
}

/// The fields of a CSV line, trimmed and unquoted. The Azure files quote nothing and have no
/// comma inside a field; a tool that rewrote them may have quoted every field.
fn csv_fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|f| {
        let f = f.trim();
        f.strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .unwrap_or(f)
    })
}

/// The Azure columns jauge reads, in the order the header names must be looked up.
const AZURE_COLUMNS: [&str; 3] = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"];

fn read_azure(text: &str, requests: &mut Requests) -> Result<(), TraceError> {
    let mut rows = lines(text);
    let (header_line, header) = rows.next().ok_or(TraceError::Empty)??;
    // Where each of AZURE_COLUMNS is: the published files have exactly these three, in this
    // order, but looking them up by name costs nothing and accepts a reordered copy.
    let mut at = [0usize; 3];
    for (slot, name) in at.iter_mut().zip(AZURE_COLUMNS) {
        *slot = csv_fields(header)
            .position(|f| f.eq_ignore_ascii_case(name))
            .ok_or_else(|| TraceError::Header {
                line: header_line,
                missing: name,
                found: quote(header),
            })?;
    }
    let columns = csv_fields(header).count();
    let mut first: Option<Moment> = None;
    for row in rows {
        let (line, content) = row?;
        let mut picked = [""; 3];
        let mut fields = 0;
        for (i, value) in csv_fields(content).enumerate() {
            fields += 1;
            for (slot, column) in picked.iter_mut().zip(at) {
                if column == i {
                    *slot = value;
                }
            }
        }
        if fields != columns {
            return Err(TraceError::Fields {
                line,
                fields,
                columns,
            });
        }
        let [stamp, context, generated] = picked;
        let moment = Moment::parse(stamp).map_err(|reason| TraceError::Timestamp {
            line,
            found: quote(stamp),
            reason,
        })?;
        let start = *first.get_or_insert(moment);
        let request = TraceRequest::new(
            moment.seconds_since(start),
            csv_tokens(line, "ContextTokens", context)?,
            csv_tokens(line, "GeneratedTokens", generated)?,
        );
        requests.push(line, request)?;
    }
    Ok(())
}

fn csv_tokens(line: usize, name: &str, text: &str) -> Result<u32, TraceError> {
    let parsed = text.parse::<u64>().ok().or_else(|| {
        let x = text.parse::<f64>().ok()?;
        ((0.0..=f64::from(MAX_TOKENS)).contains(&x) && x.fract() == 0.0).then_some(x as u64)
    });
    parsed
        .filter(|n| *n <= u64::from(MAX_TOKENS))
        // ≤ MAX_TOKENS, so it fits.
        .map(|n| n as u32)
        .ok_or_else(|| TraceError::BadValue {
            line,
            field: name.to_string(),
            found: format!("{:?}", quote(text)),
            expected: TOKENS_EXPECTED,
        })
}

/// An instant in UTC: whole seconds since 1970-01-01 00:00:00 and nanoseconds. Kept as
/// integers because an f64 of seconds since 1970 (1.7 × 10⁹) has steps of 240 ns, which would
/// blur the Azure files' 100 ns; only differences become f64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Moment {
    seconds: i64,
    nanos: u32,
}

impl Moment {
    /// `YYYY-MM-DD HH:MM:SS`, a `T` allowed for the space, then optionally `.` and 1 or more
    /// digits of fraction (past nine ignored), then optionally `Z` or an offset `+HH:MM`,
    /// `+HHMM` or `+HH` (or `-`).
    fn parse(text: &str) -> Result<Moment, String> {
        let b = text.as_bytes();
        let number = |from: usize, to: usize| -> Option<i64> {
            let digits = b.get(from..to)?;
            digits.iter().all(u8::is_ascii_digit).then(|| {
                digits
                    .iter()
                    .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))
            })
        };
        let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
        let shape_ok = separators.iter().all(|(i, c)| b.get(*i) == Some(c))
            && matches!(b.get(10), Some(b' ' | b'T'));
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second), true) = (
            number(0, 4),
            number(5, 7),
            number(8, 10),
            number(11, 13),
            number(14, 16),
            number(17, 19),
            shape_ok,
        ) else {
            return Err("not in the form YYYY-MM-DD HH:MM:SS".into());
        };
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} is not 1 to 12"));
        }
        let days_in_month = match month {
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if !(1..=days_in_month).contains(&day) {
            return Err(format!(
                "day {day} is not 1 to {days_in_month} in month {month} of {year}"
            ));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(format!(
                "{hour:02}:{minute:02}:{second:02} is not a time of day"
            ));
        }
        // Bytes 0..19 are ASCII, so 19 is a character boundary.
        let mut rest = text.get(19..).unwrap_or("");
        let mut nanos = 0u32;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err("no digit after the decimal point".into());
            }
            // Digits past the ninth are below a nanosecond: read the first nine, padded.
            let mut scale = 100_000_000;
            for d in fraction.bytes().take(digits.min(9)) {
                nanos += u32::from(d - b'0') * scale;
                scale /= 10;
            }
            rest = fraction.get(digits..).unwrap_or("");
        }
        let offset_s = Moment::offset_s(rest)?;
        let seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
                - offset_s;
        Ok(Moment { seconds, nanos })
    }

    /// Seconds east of UTC of a suffix: empty or `Z` for UTC, else `+HH:MM`, `+HHMM`, `+HH`.
    fn offset_s(suffix: &str) -> Result<i64, String> {
        let unexpected = || format!("unexpected {:?} after the time", quote(suffix));
        let sign = match suffix.as_bytes().first() {
            None => return Ok(0),
            Some(b'Z' | b'z') if suffix.len() == 1 => return Ok(0),
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return Err(unexpected()),
        };
        let digits = suffix.get(1..).unwrap_or("").replacen(':', "", 1);
        if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|d| d.is_ascii_digit())
        {
            return Err(unexpected());
        }
        let hours: i64 = digits
            .get(..2)
            .and_then(|h| h.parse().ok())
            .ok_or_else(unexpected)?;
        let minutes: i64 = digits
            .get(2..)
            .filter(|m| !m.is_empty())
            .map_or(Ok(0), |m| m.parse().map_err(|_| unexpected()))?;
        if hours > 23 || minutes > 59 {
            return Err(format!(
                "UTC offset {:?} is not a time zone's",
                quote(suffix)
            ));
        }
        Ok(sign * (hours * 3_600 + minutes * 60))
    }

    /// Seconds from `start` to this instant (negative when earlier).
    fn seconds_since(self, start: Moment) -> f64 {
        let nanos = i128::from(self.seconds - start.seconds) * 1_000_000_000
            + i128::from(self.nanos)
            - i128::from(start.nanos);
        // One rounding of an exact count (exact below 2⁵³ ns, 104 days), so that 52,000,000 ns
        // is exactly the f64 nearest 0.052.
        nanos as f64 / 1e9
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`, from his "chrono-Compatible Low-Level Date Algorithms"): eras of 400
/// years, each 146,097 days, with years starting in March so that February's leap day is last.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    const MOONCAKE: &str = include_str!("../../tests/data/traces/mooncake-sample.jsonl");
    const AZURE: &str = include_str!("../../tests/data/traces/azure-code-sample.csv");
    const JAUGE: &str = include_str!("../../tests/data/traces/jauge-sample.jsonl");

    fn error(text: &str) -> TraceError {
        Trace::parse(text).unwrap_err()
    }

    fn mooncake_line(timestamp: &str, input: &str, output: &str) -> String {
        format!("{{\"timestamp\": {timestamp}, \"input_length\": {input}, \"output_length\": {output}, \"hash_ids\": [0]}}")
    }

    #[test]
    fn the_mooncake_sample_is_read_exactly() {
        let t = Trace::parse(MOONCAKE).unwrap();
        assert_eq!(t.format, TraceFormat::Mooncake);
        let got: Vec<_> = t
            .requests
            .iter()
            .map(|r| (r.at_s, r.input_tokens, r.output_tokens))
            .collect();
        assert_eq!(
            got,
            [
                (0.0, 6758, 500),
                (0.0, 2290, 316),
                (21.0, 2651, 366),
                (48.0, 3024, 111)
            ]
        );
        assert_eq!(t.requests[0].blocks, (0..14).collect::<Vec<u64>>());
        assert_eq!(t.requests[3].blocks, [0, 1541, 1542, 1543, 1544, 3753]);
        assert!(t
            .requests
            .iter()
            .all(|r| r.block_tokens == 512 && r.session.is_none()));
        // The published traces give every prompt ⌈input / 512⌉ blocks.
        for r in &t.requests {
            assert_eq!(r.blocks.len(), r.input_tokens.div_ceil(512) as usize);
            assert_eq!(r.block_covered_tokens(), r.input_tokens);
        }
        assert_eq!(t.duration_s(), 48.0);
    }

    #[test]
    fn mooncake_milliseconds_keep_their_fraction() {
        // The two requests of Mooncake's FAST25-release/README.md ("Trace Format"), one a line.
        let text = "{\"timestamp\": 27482, \"input_length\": 6955, \"output_length\": 52, \"hash_ids\": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2353, 2354]}\n\
                    {\"timestamp\": 30535, \"input_length\": 6472, \"output_length\": 26, \"hash_ids\": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2366]}\n";
        let t = Trace::parse(text).unwrap();
        assert_eq!((t.requests[0].at_s, t.requests[1].at_s), (27.482, 30.535));
        // "the two sample requests share the first 12 hash IDs, so they can share prefix
        // caching for the first 12 * 512 = 6144 tokens"
        let (a, b) = (
            t.requests[0].block_hashes(16),
            t.requests[1].block_hashes(16),
        );
        let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        assert_eq!(shared * 16, 6144);
        // A float timestamp and integral floats for counts, as some tools write them.
        let t = Trace::parse(&mooncake_line("1.5", "512.0", "3")).unwrap();
        assert_eq!(
            (t.requests[0].at_s, t.requests[0].input_tokens),
            (0.0015, 512)
        );
    }

    #[test]
    fn the_azure_sample_is_read_exactly() {
        let t = Trace::parse(AZURE).unwrap();
        assert_eq!(t.format, TraceFormat::Azure);
        let got: Vec<_> = t
            .requests
            .iter()
            .map(|r| (r.at_s, r.input_tokens, r.output_tokens))
            .collect();
        // 18:17:03.9799600 is the start; the others are 04.0319600, 04.0781490, 04.1206440,
        // 04.4249540.
        assert_eq!(
            got,
            [
                (0.0, 4808, 10),
                (0.052, 3180, 8),
                (0.098189, 110, 27),
                (0.140684, 7433, 14),
                (0.444994, 34, 12)
            ]
        );
        assert!(t
            .requests
            .iter()
            .all(|r| r.blocks.is_empty() && r.session.is_none()));
    }

    #[test]
    fn azure_2024_times_and_calendar_boundaries() {
        // The 2024 release's first rows as analysis/AzureLLMInferenceDataset2024.ipynb shows
        // them (the CSV itself is not in the repository), then a row on a whole second, which
        // the notebook says the files also have.
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2024-05-10 00:00:00.009930+00:00,2162,5\n\
                    2024-05-10 00:00:00.017335+00:00,2399,6\n\
                    2024-05-10 00:00:01+00:00,76,15\n";
        let t = Trace::parse(text).unwrap();
        let times: Vec<f64> = t.requests.iter().map(|r| r.at_s).collect();
        assert_eq!(times, [0.0, 0.007405, 0.99007]);

        let at = |a: &str, b: &str| {
            Moment::parse(b)
                .unwrap()
                .seconds_since(Moment::parse(a).unwrap())
        };
        assert_eq!(at("2023-12-31 23:59:59.5", "2024-01-01 00:00:00.25"), 0.75);
        assert_eq!(
            at("2024-02-28 12:00:00", "2024-03-01 12:00:00"),
            2.0 * 86_400.0
        );
        assert_eq!(at("2023-02-28 12:00:00", "2023-03-01 12:00:00"), 86_400.0);
        assert_eq!(
            at("2000-02-28 00:00:00", "2000-03-01 00:00:00"),
            2.0 * 86_400.0
        );
        assert_eq!(at("1900-02-28 00:00:00", "1900-03-01 00:00:00"), 86_400.0);
        assert_eq!(at("2023-11-30 23:00:00", "2023-12-01T01:00:00Z"), 7_200.0);
        assert_eq!(at("2024-05-10 00:00:00+02:00", "2024-05-09 22:00:00"), 0.0);
        assert_eq!(at("2024-05-10 00:00:00-0700", "2024-05-10 07:00:00"), 0.0);
        assert_eq!(
            at("2024-05-10 00:00:00+05", "2024-05-10 00:00:00"),
            18_000.0
        );
        // Digits past the nanosecond are dropped, not rounded.
        assert_eq!(
            at("2024-01-01 00:00:00", "2024-01-01 00:00:00.1234567899"),
            0.123456789
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2023, 11, 16), 19_677);
        assert_eq!(days_from_civil(1969, 12, 31), -1);

        for bad in [
            "2023-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2023-04-31 00:00:00",
            "2023-11-16 24:00:00",
            "2023-11-16 18:60:00",
            "2023-11-16 18:15:46.",
            "2023-11-16 18:15:46.5 UTC",
            "2023-11-16 18:15:46+25:00",
            "2023-11-16 18:15:46+0",
            "2023/11/16 18:15:46",
            "16-11-2023 18:15:46",
            "2023-11-16",
            "",
            "2023-11-16 18:15:4é",
        ] {
            assert!(Moment::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_jauge_sample_is_read_exactly() {
        let t = Trace::parse(JAUGE).unwrap();
        assert_eq!(t.format, TraceFormat::Jauge);
        let got: Vec<_> = t
            .requests
            .iter()
            .map(|r| {
                (
                    r.at_s,
                    r.input_tokens,
                    r.output_tokens,
                    r.session.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (0.0, 812, 64, None),
                (0.5, 1300, 128, Some("alice")),
                (0.5, 600, 32, Some("bob")),
                (12.25, 1700, 200, Some("alice"))
            ]
        );
        assert_eq!(t.requests[3].blocks, [7, 8, 9, 10]);
        // Alice's second turn shares her first's two blocks; Bob's shares the first only.
        let h: Vec<_> = t.requests.iter().map(|r| r.block_hashes(16)).collect();
        assert_eq!(h[1].len(), 64);
        assert_eq!(h[3][..64], h[1][..]);
        assert_eq!(h[2][..32], h[1][..32]);
        assert_eq!(h[3].len(), 1700 / 16);
        let t = Trace::parse("{\"at_s\": 1, \"input_tokens\": 100, \"output_tokens\": 1, \"blocks\": [1, 2], \"block_tokens\": 64, \"session\": null}").unwrap();
        assert_eq!(
            (
                t.requests[0].block_tokens,
                t.requests[0].block_covered_tokens()
            ),
            (64, 100)
        );
    }

    #[test]
    fn formats_are_detected_from_the_first_line() {
        for (text, format) in [
            (MOONCAKE, TraceFormat::Mooncake),
            (AZURE, TraceFormat::Azure),
            (JAUGE, TraceFormat::Jauge),
        ] {
            assert_eq!(Trace::detect(text).unwrap(), format);
            assert_eq!(
                Trace::parse(text).unwrap(),
                Trace::parse_as(text, format).unwrap()
            );
        }
        assert_eq!(
            Trace::detect("\n\n{\"input_length\": 3").unwrap(),
            TraceFormat::Mooncake
        );
        assert_eq!(Trace::detect("{\"at_s\": ").unwrap(), TraceFormat::Jauge);
        assert_eq!(
            Trace::detect("\u{feff}\"TIMESTAMP\",x\r\n").unwrap(),
            TraceFormat::Azure
        );
        let long = format!("{{\"prompt\": \"{}\"}}", "x".repeat(200));
        let TraceError::UnknownFormat { line, first_line } = error(&format!("\n{long}\n")) else {
            panic!("expected an unknown format");
        };
        assert_eq!(line, 2);
        assert_eq!(first_line.chars().count(), 81);
        assert!(first_line.ends_with('…'));
        let message = error("time,in,out\n1,2,3").to_string();
        assert!(
            message.starts_with("line 1: not a trace jauge can read; the line is \"time,in,out\""),
            "{message}"
        );
        assert!(
            message.contains("TIMESTAMP,ContextTokens,GeneratedTokens")
                && message.contains("\"at_s\"")
        );
        // A format given explicitly is read as that format, whatever the lines look like.
        let message = Trace::parse_as(JAUGE, TraceFormat::Mooncake)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("line 1: \"timestamp\" is missing"),
            "{message}"
        );
        let message = Trace::parse_as(MOONCAKE, TraceFormat::Azure)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("line 1: the azure header has no TIMESTAMP column"),
            "{message}"
        );
    }

    #[test]
    fn each_error_names_its_line() {
        let ok = mooncake_line("0", "10", "2");
        let with = |bad: &str| format!("{ok}\n\n{bad}\n{ok}");
        let cases = [
            (with("{\"timestamp\": 5, \"output_length\": 1}"), "line 3: \"input_length\" is missing — each mooncake line needs \"timestamp\" (ms), \"input_length\" and \"output_length\""),
            (with("{\"timestamp\": 5, \"input_length\": 1, \"output_length\": null}"), "line 3: \"output_length\" is missing"),
            (with(&mooncake_line("5", "-3", "1")), "line 3: \"input_length\" is -3; expected a whole number of tokens from 0 to 16777216"),
            (with(&mooncake_line("5", "2.5", "1")), "line 3: \"input_length\" is 2.5; expected a whole number"),
            (with(&mooncake_line("5", "16777217", "1")), "line 3: \"input_length\" is 16777217; expected"),
            (with(&mooncake_line("5", "1", "\"7\"")), "line 3: \"output_length\" is \"7\"; expected"),
            (with(&mooncake_line("-1", "1", "1")), "line 3: \"timestamp\" is -1; expected milliseconds from the trace's start, 0 or more"),
            (with("{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1, -2]}"), "line 3: \"hash_ids[1]\" is -2; expected a list of block ids"),
            (with("{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": 4}"), "line 3: \"hash_ids\" is 4; expected a list"),
            (with("{\"timestamp\": 5, \"input_length\": 1,"), "line 3, column 35: not JSON (EOF while parsing a value); each line of a mooncake trace is one JSON object, such as {\"timestamp\""),
            (with("[1, 2]"), "line 3: [1,2] is not a JSON object"),
            (format!("{}\n{}", mooncake_line("2000", "1", "1"), mooncake_line("1500", "1", "1")), "line 2: arrives at 1.5 s, before line 1 (2 s); a trace's lines must be in arrival order"),
            ("{\"at_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1, \"sesion\": \"a\"}".to_string(), "line 1: unknown field \"sesion\" — each jauge line needs \"at_s\""),
            ("{\"at_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1, \"session\": 3}".to_string(), "line 1: \"session\" is 3; expected a string"),
            ("{\"at_s\": 0, \"input_tokens\": 1, \"output_tokens\": 1, \"block_tokens\": 0}".to_string(), "line 1: \"block_tokens\" is 0; expected a whole number of tokens from 1"),
            ("{\"at_s\": \"soon\", \"input_tokens\": 1, \"output_tokens\": 1}".to_string(), "line 1: \"at_s\" is \"soon\"; expected seconds"),
            ("{\"at_s\": 1, \"output_tokens\": 1}".to_string(), "line 1: \"input_tokens\" is missing — each jauge line needs"),
            ("TIMESTAMP,ContextTokens\r\n".to_string(), "line 1: the azure header has no GeneratedTokens column"),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808\r\n".to_string(), "line 2: 2 comma-separated fields, the header has 3"),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,4808,10\n2023-11-16 18:17:04,-1,10\n".to_string(), "line 3: \"ContextTokens\" is \"-1\"; expected a whole number of tokens"),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,4808,10\n2023-11-16 18:17:04,4808,ten\n".to_string(), "line 3: \"GeneratedTokens\" is \"ten\""),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,4808,10\n2023-11-31 18:17:04,1,1\n".to_string(), "line 3: TIMESTAMP \"2023-11-31 18:17:04\" is not a date and time (day 31 is not 1 to 30 in month 11 of 2023)"),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,4808,10\n2023-11-16 18:17:02.5,1,1\n".to_string(), "line 3: arrives at -0.5 s, before line 2 (0 s)"),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\r\n\r\n".to_string(), "the trace has no requests"),
            ("\n \r\n\t\n".to_string(), "the trace has no requests"),
        ];
        for (text, start) in cases {
            let message = error(&text).to_string();
            assert!(
                message.starts_with(start),
                "{message}\n  expected to start with\n{start}"
            );
        }
    }

    #[test]
    fn memory_is_bounded() {
        let long_line = format!("{{\"at_s\": 0, \"x\": \"{}\"}}", "y".repeat(MAX_LINE_BYTES));
        let long = format!("{}\n{long_line}\r\n", mooncake_line("0", "1", "1"));
        assert_eq!(
            error(&long),
            TraceError::LineTooLong {
                line: 2,
                bytes: long_line.len() + 1
            }
        );
        let eight = vec![mooncake_line("0", "1", "1"); 8].join("\n");
        let err = parse_bounded(&eight, TraceFormat::Mooncake, 7).unwrap_err();
        assert_eq!(err, TraceError::TooManyRequests { line: 8 });
        assert!(err.to_string().contains("10,000,000"));
        assert_eq!(
            parse_bounded(&eight, TraceFormat::Mooncake, 8)
                .unwrap()
                .len(),
            8
        );
        let err = parse_bounded(AZURE, TraceFormat::Azure, 2).unwrap_err();
        assert_eq!(err, TraceError::TooManyRequests { line: 4 });
    }

    #[test]
    fn bom_crlf_and_blank_lines_change_nothing() {
        for text in [MOONCAKE, JAUGE, AZURE] {
            let plain = Trace::parse(text).unwrap();
            let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
            let padded = format!("\u{feff}\r\n\n{}\n\n  \n", crlf.replace("\r\n", "\r\n\r\n"));
            assert_eq!(Trace::parse(&padded).unwrap(), plain);
            assert_eq!(Trace::parse(&text.replace("\r\n", "\n")).unwrap(), plain);
        }
        // Line numbers count the blank lines.
        let err = error("\n\n{\"at_s\": 0, \"input_tokens\": 1}");
        assert!(err.to_string().starts_with("line 3:"), "{err}");
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = SplitMix64::new(2024);
        // Random bytes, mostly printable and with the characters the formats use.
        let alphabet = b"{}[]\",:0123456789.-+eE \n\r\tabcTIMESTAMP_\xef\xbb\xbfnull";
        for _ in 0..2_000 {
            let len = rng.below(120) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.below(4) == 0 {
                        rng.next_u64() as u8
                    } else {
                        alphabet[rng.below(alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            for format in TraceFormat::ALL {
                let _ = Trace::parse_as(&text, format);
            }
            let _ = Trace::parse(&text);
        }
        // Every cut of every sample, and each sample with one byte swapped.
        for text in [MOONCAKE, AZURE, JAUGE] {
            for (cut, _) in text.char_indices() {
                let head = &text[..cut];
                let _ = Trace::parse(head);
                let _ = Trace::parse(&text[cut..]);
                for format in TraceFormat::ALL {
                    let _ = Trace::parse_as(head, format);
                }
            }
            for _ in 0..300 {
                let mut bytes = text.as_bytes().to_vec();
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] = alphabet[rng.below(alphabet.len() as u64) as usize];
                let _ = Trace::parse(&String::from_utf8_lossy(&bytes));
            }
        }
        // Extremes.
        for text in [
            "{\"timestamp\": 1e308, \"input_length\": 1, \"output_length\": 1}",
            "{\"timestamp\": 0, \"input_length\": 18446744073709551616, \"output_length\": 1}",
            "{\"at_s\": 0, \"input_tokens\": 16777216, \"output_tokens\": 0, \"blocks\": [18446744073709551615], \"block_tokens\": 16777216}",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n9999-12-31 23:59:59.999999999999+23:59,1,1\n0000-01-01 00:00:00-23:59,1,1",
            "TIMESTAMP\n2023-01-01 00:00:00",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n,,",
            &"[".repeat(10_000),
            &"{\"a\":".repeat(10_000),
        ] {
            let _ = Trace::parse(text);
        }
        let big = Trace::parse(
            "{\"at_s\": 0, \"input_tokens\": 16777216, \"output_tokens\": 0, \"blocks\": [1, 2], \"block_tokens\": 16777216}",
        )
        .unwrap();
        for size in [0, 1 << 23, u64::MAX] {
            let _ = big.requests[0].block_hashes(size);
        }
        assert_eq!(big.scaled(f64::MAX), Ok(big.clone()));
        assert!(big.take(1).window(f64::NAN, 1.0).is_empty());
    }

    #[test]
    fn hashes_are_equal_for_shared_blocks_and_differ_after() {
        let t = Trace::parse(MOONCAKE).unwrap();
        let (a, b) = (&t.requests[2], &t.requests[3]);
        let (ha, hb) = (a.block_hashes(16), b.block_hashes(16));
        // 2651 = 165 × 16 + 11 and 3024 = 189 × 16: the partial block has no hash.
        assert_eq!((ha.len(), hb.len()), (165, 189));
        assert_eq!(ha[..160], hb[..160]);
        assert!(ha[160..].iter().all(|h| !hb.contains(h)));
        // Deterministic, and distinct within a prompt.
        assert_eq!(a.block_hashes(16), ha);
        let mut sorted = hb.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), hb.len());
        // Only the shared first block (0) in common with the other prompts.
        let first = t.requests[0].block_hashes(16);
        assert_eq!(first[..32], ha[..32]);
        assert_ne!(first[32], ha[32]);
        // Another block size gives other hashes.
        assert!(a.block_hashes(32).iter().all(|h| !ha.contains(h)));
        // No blocks, or a block size of 0: nothing to hash.
        assert!(TraceRequest::new(0.0, 4096, 1).block_hashes(16).is_empty());
        assert!(a.block_hashes(0).is_empty());
    }

    #[test]
    fn hashes_are_for_full_blocks_the_trace_describes() {
        let mut r = TraceRequest::new(0.0, 1000, 1);
        r.blocks = vec![5, 6];
        // 1000 tokens: 62 full blocks of 16, the 63rd has 8 tokens.
        assert_eq!(r.block_hashes(16).len(), 62);
        // Only the first block of 512 described: 32 hashes.
        r.blocks = vec![5];
        assert_eq!(r.block_hashes(16).len(), 32);
        // Blocks past the prompt's end change nothing.
        r.blocks = vec![5, 6, 7, 8];
        let mut two = r.clone();
        two.blocks.truncate(2);
        assert_eq!(r.block_hashes(16), two.block_hashes(16));
        // A block of 1024 spans two trace blocks.
        assert_eq!(r.block_hashes(1024), Vec::<u64>::new());
        r.input_tokens = 1024;
        assert_eq!(r.block_hashes(1024).len(), 1);
    }

    #[test]
    fn a_block_straddling_two_trace_blocks_hashes_both() {
        // 48 does not divide 512: block 10 is tokens 480..528, across trace blocks 0 and 1.
        let request = |second| {
            let mut r = TraceRequest::new(0.0, 1024, 1);
            r.blocks = vec![1, second];
            r.block_hashes(48)
        };
        let (a, b) = (request(2), request(3));
        assert_eq!(a.len(), 1024 / 48);
        assert_eq!(a[..10], b[..10]);
        assert_ne!(a[10], b[10]);
        assert_eq!(request(2), a);
        // And equal when both ids are.
        let mut c = TraceRequest::new(5.0, 600, 9);
        c.blocks = vec![1, 2];
        assert_eq!(c.block_hashes(48)[..], a[..600 / 48]);
    }

    #[test]
    fn windows_takes_and_scales() {
        let t = Trace::parse(MOONCAKE).unwrap();
        let w = t.window(10.0, 48.0);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w.requests[0].at_s, w.requests[0].input_tokens),
            (11.0, 2651)
        );
        assert_eq!(w.format, TraceFormat::Mooncake);
        assert_eq!(t.window(0.0, f64::INFINITY), t);
        assert!(t.window(100.0, 200.0).is_empty());
        assert_eq!(t.take(3).requests, t.requests[..3]);
        let fast = t.scaled(0.25).unwrap();
        assert_eq!(fast.duration_s(), 12.0);
        assert_eq!(fast.requests[2].blocks, t.requests[2].blocks);
        assert_eq!(t.scaled(0.0).unwrap().duration_s(), 0.0);
        for bad in [-0.5, f64::NAN, f64::INFINITY] {
            let err = t.scaled(bad).unwrap_err();
            assert!(err.to_string().starts_with("time scale"), "{err}");
        }
        assert!(t.scaled(f64::MAX).is_err());
        let empty = t.take(0);
        assert_eq!((empty.len(), empty.duration_s()), (0, 0.0));
    }

    #[test]
    fn format_names_round_trip() {
        for f in TraceFormat::ALL {
            assert_eq!(f.name().parse::<TraceFormat>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert!(" JAUGE ".parse::<TraceFormat>().is_ok());
    }
}
