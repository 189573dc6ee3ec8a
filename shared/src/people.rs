//! People, not requests: what a person using the service sends, and when.
//!
//! A [`Workload`] describes one kind of use — a chat (conversations of several turns, each
//! resending the growing history, with reading and thinking between turns), questions over
//! shared documents (RAG), code completions, or today's fixed requests — and a [`Person`]
//! draws that person's turns from it, deterministically from a seed. Each [`Turn`] says how
//! long the person waits before sending it, its lengths, and what its context is made of (its
//! [`Content`]: the system prompt everyone shares, then a conversation, a document or a file),
//! so that an engine with prefix caching finds the blocks that earlier prompts computed.
//!
//! The workloads' figures are assumptions, stated with their reasons on each preset and
//! editable; they are not measurements of any population.
//!
//! ```
//! use jauge::people::{Person, Workload};
//! let chat = Workload::preset("chat")?;
//! let mut person = Person::new(&chat, 0, 42);
//! let first = person.next_turn();
//! let second = person.next_turn();
//! // The second turn resends the first one's prompt and answer: its context starts with the
//! // first one's, so every full block of that is shared.
//! let (a, b) = (first.content.block_hashes(16), second.content.block_hashes(16));
//! let history = first.prompt_tokens + first.output_tokens;
//! assert_eq!(a.len(), history as usize / 16);
//! assert_eq!(b[..a.len()], a[..]);
//! assert!(second.prompt_tokens > history);
//! # Ok::<(), jauge::people::WorkloadError>(())
//! ```

use crate::objectives::{Percentile, Rules, Slo};
use crate::rng::SplitMix64;
use crate::sim::{Content, Segment};

/// A range of token counts, drawn uniformly.
///
/// ```
/// let r = jauge::people::Span { min: 10, max: 20 };
/// let mut rng = jauge::rng::SplitMix64::new(1);
/// let n = r.draw(&mut rng);
/// assert!((10..=20).contains(&n));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Fewest.
    pub min: u32,
    /// Most.
    pub max: u32,
}

impl std::str::FromStr for Span {
    type Err = String;

    /// A number (`5`) or a range (`3-8`), each at least 1.
    ///
    /// ```
    /// use jauge::people::Span;
    /// assert_eq!("3-8".parse::<Span>(), Ok(Span { min: 3, max: 8 }));
    /// assert_eq!("5".parse::<Span>(), Ok(Span { min: 5, max: 5 }));
    /// assert!("8-3".parse::<Span>().unwrap_err().contains("smaller"));
    /// assert!("x".parse::<Span>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Span, String> {
        let (min, max) = text.split_once('-').unwrap_or((text, text));
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{text}`: expected a number or a range such as 3-8"))
        };
        let (min, max) = (number(min)?, number(max)?);
        if min > max {
            return Err(format!("`{text}`: the range's first number is the smaller"));
        }
        Ok(Span { min, max })
    }
}

impl std::fmt::Display for Span {
    /// `5`, or `3–8`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}–{}", self.min, self.max)
        }
    }
}

impl Span {
    /// One draw.
    pub fn draw(&self, rng: &mut SplitMix64) -> u32 {
        let (lo, hi) = (self.min.min(self.max), self.min.max(self.max));
        lo + rng.below(u64::from(hi - lo) + 1) as u32
    }

    /// The mean of the draws.
    ///
    /// ```
    /// assert_eq!(jauge::people::Span { min: 10, max: 20 }.mean(), 15.0);
    /// ```
    pub fn mean(&self) -> f64 {
        (f64::from(self.min) + f64::from(self.max)) / 2.0
    }
}

/// The kinds of use jauge knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Fixed prompts and answers, sent back to back: today's `jauge run`.
    Fixed,
    /// Conversations: each turn resends the history.
    Chat,
    /// Questions over documents from a shared pool.
    Rag,
    /// Code completions: the file being edited, then short answers wanted fast.
    Code,
}

/// What people of one kind send, and the objectives each of them expects.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `fixed`, `chat`, `rag` or `code`.
    pub name: &'static str,
    /// The kind.
    pub kind: Kind,
    /// Tokens every prompt starts with (a system prompt), the same for everyone.
    pub system_tokens: u32,
    /// What the person types (the question, the new message) or, for code, the file's
    /// context.
    pub user_tokens: Span,
    /// The answer's length.
    pub answer_tokens: Span,
    /// Turns of one conversation (chat) or edits of one file (code) before a new one starts.
    pub turns: Span,
    /// Mean seconds between an answer and the person's next request (reading, thinking,
    /// typing), drawn from an exponential distribution; 0 sends at once.
    pub think_s: f64,
    /// Documents in the shared pool (RAG).
    pub documents: u32,
    /// Tokens of one document (RAG).
    pub document_tokens: u32,
    /// Objective: the 95th percentile of each turn's time to first token, seconds.
    pub ttft_p95_s: f64,
    /// Objective: each answer's output speed after its first token, at least this many
    /// tokens per second (as read by 95 % of the answers).
    pub min_output_tok_s: f64,
}

/// A reader's changes to a preset's assumptions and objectives; `None` keeps the preset's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Edits {
    /// [`Workload::think_s`].
    pub think_s: Option<f64>,
    /// [`Workload::turns`].
    pub turns: Option<Span>,
    /// [`Workload::answer_tokens`].
    pub answer_tokens: Option<Span>,
    /// [`Workload::ttft_p95_s`].
    pub ttft_p95_s: Option<f64>,
    /// [`Workload::min_output_tok_s`].
    pub min_output_tok_s: Option<f64>,
}

/// A workload that jauge does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// Not one of the presets.
    #[error("unknown workload `{0}`: use fixed, chat, rag or code")]
    Unknown(String),
    /// A workload file that does not read.
    #[error("{0}")]
    File(String),
}

/// Reading speed: about 300 words a minute at about 1.3 tokens a word, 6.5 tokens a second.
/// An answer streamed slower than its reader reads makes the reader wait.
pub const READING_TOK_S: f64 = 6.5;

impl Workload {
    /// The workloads jauge knows, by name.
    pub const NAMES: [&'static str; 4] = ["fixed", "chat", "rag", "code"];

    /// A preset by name.
    ///
    /// * `chat`: a 500-token system prompt; messages of 20–200 tokens; answers of 100–500;
    ///   conversations of 3–8 turns; 30 s on average between an answer and the next message
    ///   (reading it at 6.5 tokens a second takes 46 s for 300 tokens; people also skim and
    ///   leave); TTFT p95 ≤ 2 s, answers at reading speed or faster.
    /// * `rag`: a 300-token system prompt, one of 200 documents of 3,000 tokens, a question
    ///   of 20–100 tokens, an answer of 50–300, one turn, 60 s between questions; TTFT p95 ≤
    ///   4 s (the prompt is long), reading speed.
    /// * `code`: the file's context, 500–2,000 tokens, then completions of 10–100 tokens,
    ///   5–20 edits of one file, 10 s between requests; TTFT p95 ≤ 1 s and 30 tokens a second
    ///   (a completion is read at a glance, not word by word).
    /// * `fixed`: 512 tokens in, 128 out, no pause, no shared prefix; TTFT p95 ≤ 2 s, reading
    ///   speed — today's `jauge run` as people.
    ///
    /// # Errors
    /// [`WorkloadError::Unknown`] for any other name.
    ///
    /// ```
    /// let rag = jauge::people::Workload::preset("rag")?;
    /// assert_eq!(rag.document_tokens, 3000);
    /// assert!(jauge::people::Workload::preset("gossip").is_err());
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn preset(name: &str) -> Result<Workload, WorkloadError> {
        let base = Workload {
            name: "fixed",
            kind: Kind::Fixed,
            system_tokens: 0,
            user_tokens: Span { min: 512, max: 512 },
            answer_tokens: Span { min: 128, max: 128 },
            turns: Span { min: 1, max: 1 },
            think_s: 0.0,
            documents: 0,
            document_tokens: 0,
            ttft_p95_s: 2.0,
            min_output_tok_s: READING_TOK_S,
        };
        match name {
            "fixed" => Ok(base),
            "chat" => Ok(Workload {
                name: "chat",
                kind: Kind::Chat,
                system_tokens: 500,
                user_tokens: Span { min: 20, max: 200 },
                answer_tokens: Span { min: 100, max: 500 },
                turns: Span { min: 3, max: 8 },
                think_s: 30.0,
                ..base
            }),
            "rag" => Ok(Workload {
                name: "rag",
                kind: Kind::Rag,
                system_tokens: 300,
                user_tokens: Span { min: 20, max: 100 },
                answer_tokens: Span { min: 50, max: 300 },
                think_s: 60.0,
                documents: 200,
                document_tokens: 3000,
                ttft_p95_s: 4.0,
                ..base
            }),
            "code" => Ok(Workload {
                name: "code",
                kind: Kind::Code,
                system_tokens: 0,
                user_tokens: Span {
                    min: 500,
                    max: 2000,
                },
                answer_tokens: Span { min: 10, max: 100 },
                turns: Span { min: 5, max: 20 },
                think_s: 10.0,
                ttft_p95_s: 1.0,
                min_output_tok_s: 30.0,
                ..base
            }),
            other => Err(WorkloadError::Unknown(other.to_string())),
        }
    }

    /// The assumptions in a sentence, as `jauge people` and the site show them under the
    /// answer.
    ///
    /// ```
    /// let chat = jauge::people::Workload::preset("chat")?;
    /// assert!(chat.describe().contains("3–8 turns a conversation"));
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn describe(&self) -> String {
        let typed = match self.kind {
            Kind::Code => format!(
                "a file's context of {} tokens, growing 10 a request",
                self.user_tokens
            ),
            Kind::Chat => format!("messages of {} tokens", self.user_tokens),
            Kind::Rag => format!("questions of {} tokens", self.user_tokens),
            Kind::Fixed => format!("prompts of {} tokens", self.user_tokens),
        };
        let mut parts = vec![typed, format!("answers of {}", self.answer_tokens)];
        if self.system_tokens > 0 {
            parts.push(format!("a {}-token system prompt", self.system_tokens));
        }
        if self.turns.max > 1 {
            let unit = match self.kind {
                Kind::Code => "requests per file",
                _ => "turns a conversation",
            };
            parts.push(format!("{} {unit}", self.turns));
        }
        if self.documents > 0 {
            parts.push(format!(
                "{} shared documents of {} tokens",
                self.documents, self.document_tokens
            ));
        }
        parts.push(if self.think_s > 0.0 {
            format!(
                "{} s between an answer and the next request on average",
                self.think_s
            )
        } else {
            "no pause between requests".into()
        });
        parts.join(", ")
    }

    /// A workload written as JSON: the preset it starts from (`"workload"`) and any of its
    /// figures changed — `system_tokens`, `user_tokens`, `answer_tokens`, `turns` (a number or
    /// a range such as `"3-8"`), `think_s`, `documents`, `document_tokens`, `ttft_p95_s`,
    /// `min_output_tok_s`. Anything else is refused, so that a misspelt field is not ignored.
    ///
    /// # Errors
    /// [`WorkloadError::File`] naming the field and what it wants, or
    /// [`WorkloadError::Unknown`] for a preset that does not exist.
    ///
    /// ```
    /// use jauge::people::Workload;
    /// let w = Workload::from_json(r#"{"workload": "rag", "documents": 40, "user_tokens": "10-30", "think_s": 20}"#)?;
    /// assert_eq!((w.name, w.documents, w.user_tokens.max, w.think_s), ("rag", 40, 30, 20.0));
    /// assert!(Workload::from_json(r#"{"workload": "rag", "document": 40}"#).is_err());
    /// assert!(Workload::from_json(r#"{"workload": "chat", "think_s": -1}"#).is_err());
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Workload, WorkloadError> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum SpanField {
            Number(u32),
            Text(String),
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            workload: String,
            system_tokens: Option<u32>,
            user_tokens: Option<SpanField>,
            answer_tokens: Option<SpanField>,
            turns: Option<SpanField>,
            think_s: Option<f64>,
            documents: Option<u32>,
            document_tokens: Option<u32>,
            ttft_p95_s: Option<f64>,
            min_output_tok_s: Option<f64>,
        }
        let bad = |m: String| WorkloadError::File(m);
        let file: File = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let span = |field: &str, value: Option<SpanField>| -> Result<Option<Span>, WorkloadError> {
            match value {
                None => Ok(None),
                Some(SpanField::Number(n)) => format!("{n}").parse().map(Some),
                Some(SpanField::Text(t)) => t.parse().map(Some),
            }
            .map_err(|e: String| bad(format!("{field}: {e}")))
        };
        let mut w = Workload::preset(&file.workload)?;
        if let Some(s) = span("user_tokens", file.user_tokens)? {
            w.user_tokens = s;
        }
        if let Some(s) = span("answer_tokens", file.answer_tokens)? {
            w.answer_tokens = s;
        }
        if let Some(s) = span("turns", file.turns)? {
            w.turns = s;
        }
        w.system_tokens = file.system_tokens.unwrap_or(w.system_tokens);
        w.documents = file.documents.unwrap_or(w.documents);
        w.document_tokens = file.document_tokens.unwrap_or(w.document_tokens);
        for (field, value, slot) in [
            ("think_s", file.think_s, &mut w.think_s),
            ("ttft_p95_s", file.ttft_p95_s, &mut w.ttft_p95_s),
            (
                "min_output_tok_s",
                file.min_output_tok_s,
                &mut w.min_output_tok_s,
            ),
        ] {
            if let Some(v) = value {
                if !(0.0..=1e7).contains(&v) {
                    return Err(bad(format!(
                        "{field}: {v} is not a number of seconds or tokens per second from 0"
                    )));
                }
                *slot = v;
            }
        }
        if w.kind == Kind::Rag && (w.documents == 0 || w.document_tokens == 0) {
            return Err(bad(
                "a rag workload needs documents and document_tokens of at least 1".into(),
            ));
        }
        Ok(w)
    }

    /// The workload with a reader's edits: what `jauge people` and the site predict with.
    ///
    /// ```
    /// use jauge::people::{Edits, Workload};
    /// let chat = Workload::preset("chat")?.edited(&Edits { think_s: Some(5.0), ..Edits::default() });
    /// assert_eq!((chat.think_s, chat.turns.max), (5.0, 8));
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn edited(mut self, edits: &Edits) -> Workload {
        if let Some(t) = edits.think_s {
            self.think_s = t;
        }
        if let Some(t) = edits.turns {
            self.turns = t;
        }
        if let Some(a) = edits.answer_tokens {
            self.answer_tokens = a;
        }
        if let Some(t) = edits.ttft_p95_s {
            self.ttft_p95_s = t;
        }
        if let Some(s) = edits.min_output_tok_s {
            self.min_output_tok_s = s;
        }
        self
    }

    /// The objectives every person's turns are judged by, as a step is judged: TTFT at the
    /// 95th percentile within `ttft_p95_s`, and time per output token at the 95th percentile
    /// within what `min_output_tok_s` allows (the answer speed 95 % of answers reach), with
    /// the usual error budget.
    ///
    /// ```
    /// let chat = jauge::people::Workload::preset("chat")?;
    /// let rules = chat.rules();
    /// assert_eq!(rules.slo.ttft_ms, Some(2000.0));
    /// assert_eq!(rules.slo.tpot_ms, Some(1000.0 / 6.5));
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn rules(&self) -> Rules {
        let slo = Slo {
            ttft_ms: Some(self.ttft_p95_s * 1000.0),
            tpot_ms: (self.min_output_tok_s > 0.0).then(|| 1000.0 / self.min_output_tok_s),
        };
        Rules::objectives(slo, Percentile::P95)
    }

    /// Mean prompt tokens of one turn over a whole conversation (the row a measured
    /// population's steps are filed under).
    ///
    /// ```
    /// let rag = jauge::people::Workload::preset("rag")?;
    /// assert_eq!(rag.mean_prompt_tokens(), 3360);
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn mean_prompt_tokens(&self) -> u32 {
        (self.mean_context_tokens() - self.answer_tokens.mean()).round() as u32
    }

    /// Mean tokens of one turn's prompt and answer over a whole conversation (an estimate for
    /// sizing, exact for `fixed`).
    ///
    /// ```
    /// let fixed = jauge::people::Workload::preset("fixed")?;
    /// assert_eq!(fixed.mean_context_tokens(), 640.0);
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn mean_context_tokens(&self) -> f64 {
        let turn = self.user_tokens.mean() + self.answer_tokens.mean();
        let system = f64::from(self.system_tokens);
        match self.kind {
            // Turn k carries k − 1 earlier turns: (turns − 1) / 2 on average.
            Kind::Chat => system + turn * (1.0 + (self.turns.mean() - 1.0) / 2.0),
            Kind::Rag => system + f64::from(self.document_tokens) + turn,
            Kind::Fixed | Kind::Code => system + turn,
        }
    }
}

/// One request a person sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Seconds the person waits after the previous answer (or, for the first, after
    /// arriving) before sending it.
    pub think_s: f64,
    /// Prompt tokens, history and shared content included.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Tokens the person wrote for it: the chat message, the question, the file (code), the
    /// whole prompt (fixed); the rest of the prompt is the system prompt, the history or the
    /// document.
    pub written_tokens: u32,
    /// The document it asks about (RAG), from 0.
    pub document: Option<u32>,
    /// What the start of its context is made of, to find it in a prefix cache: the system
    /// prompt, then the conversation (prompt and answer), the document or the file.
    pub content: Content,
    /// Which conversation (or file, or question) of this person it belongs to, from 0.
    pub session: u32,
    /// Its place in that conversation, from 0.
    pub turn: u32,
}

/// The seed a population of `people` draws its people from: each population its own (a
/// measured run's next population meets no conversation the last one left in the server's
/// cache), the same for the simulator and for a measured run.
///
/// ```
/// use jauge::people::population_seed;
/// assert_eq!(population_seed(0, 8), population_seed(0, 8));
/// assert_ne!(population_seed(0, 8), population_seed(0, 9));
/// ```
pub fn population_seed(seed: u64, people: u32) -> u64 {
    crate::pacing::step_seed(seed, people, 0)
}

/// One person following a workload.
#[derive(Debug, Clone)]
pub struct Person {
    workload: Workload,
    id: u32,
    rng: SplitMix64,
    session: u32,
    turn: u32,
    turns: u32,
    /// Tokens of the conversation so far (prompt and answer of the last turn).
    history: u32,
    /// Tokens of the file being edited (code).
    file: u32,
}

/// Keys of shared content: the system prompt alone, each document, each person's
/// conversations; distinct by construction.
const SYSTEM_KEY: u64 = 1;
const DOCUMENT_KEYS: u64 = 1 << 32;
const PERSON_KEYS: u64 = 1 << 48;

impl Person {
    /// Person number `id` (their keys and draws are their own), drawing from `seed`.
    pub fn new(workload: &Workload, id: u32, seed: u64) -> Person {
        let mut rng = SplitMix64::new(seed ^ (u64::from(id) << 20) ^ 0x9e37_79b9);
        let turns = workload.turns.draw(&mut rng);
        let file = workload.user_tokens.draw(&mut rng);
        Person {
            workload: workload.clone(),
            id,
            rng,
            session: 0,
            turn: 0,
            turns,
            history: 0,
            file,
        }
    }

    /// The next request, and moves on.
    pub fn next_turn(&mut self) -> Turn {
        let w = &self.workload;
        let rng = &mut self.rng;
        let think_s = if w.think_s > 0.0 {
            rng.exponential(w.think_s)
        } else {
            0.0
        };
        let answer = w.answer_tokens.draw(rng);
        let conversation = PERSON_KEYS + (u64::from(self.id) << 16) + u64::from(self.session);
        let system = Segment {
            key: SYSTEM_KEY,
            tokens: u64::from(w.system_tokens),
        };
        let segment = |key: u64, tokens: u32| Segment {
            key,
            tokens: u64::from(tokens),
        };
        let (prompt, written, document, own) = match w.kind {
            Kind::Fixed => {
                let prompt = w.user_tokens.draw(rng);
                (w.system_tokens + prompt, prompt, None, None)
            }
            Kind::Chat => {
                let message = w.user_tokens.draw(rng);
                let before = if self.turn == 0 {
                    w.system_tokens
                } else {
                    self.history
                };
                let prompt = before + message;
                self.history = prompt + answer;
                // The conversation is one stream after the system prompt: this turn's
                // message and answer extend what the last turn's prompt and answer were.
                let own = segment(conversation, self.history - w.system_tokens);
                (prompt, message, None, Some(own))
            }
            Kind::Rag => {
                let document = rng.below(u64::from(w.documents.max(1)));
                let question = w.user_tokens.draw(rng);
                let shared = w.system_tokens + w.document_tokens;
                let own = segment(DOCUMENT_KEYS + document, w.document_tokens);
                (
                    shared + question,
                    question,
                    Some(document as u32),
                    Some(own),
                )
            }
            Kind::Code => {
                // The file, a little longer at each edit; only what was there at the first
                // request is the same content each time (edits land anywhere in it).
                let grown = self.file + 10 * self.turn;
                let own = segment(conversation, self.file);
                (w.system_tokens + grown, grown, None, Some(own))
            }
        };
        let turn = Turn {
            think_s,
            prompt_tokens: prompt,
            output_tokens: answer,
            written_tokens: written,
            document,
            content: match own {
                Some(own) => Content::of(&[system, own]),
                None => Content::of(&[system]),
            },
            session: self.session,
            turn: self.turn,
        };
        self.turn += 1;
        if self.turn >= self.turns {
            self.session += 1;
            self.turn = 0;
            self.history = 0;
            self.turns = w.turns.draw(&mut self.rng);
            self.file = w.user_tokens.draw(&mut self.rng);
        }
        turn
    }

    /// The same person without prefix caching: every prompt computed whole.
    ///
    /// ```
    /// let chat = jauge::people::Workload::preset("chat")?;
    /// let mut p = jauge::people::Person::new(&chat, 0, 1);
    /// p.next_turn();
    /// assert!(jauge::people::Person::uncached(p.next_turn()).content.is_empty());
    /// # Ok::<(), jauge::people::WorkloadError>(())
    /// ```
    pub fn uncached(turn: Turn) -> Turn {
        Turn {
            content: Content::default(),
            ..turn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(name: &str, n: usize) -> Vec<Turn> {
        let w = Workload::preset(name).unwrap();
        let mut p = Person::new(&w, 3, 7);
        (0..n).map(|_| p.next_turn()).collect()
    }

    #[test]
    fn a_chat_resends_its_history_and_starts_over_after_its_last_turn() {
        let ts = turns("chat", 40);
        for pair in ts.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (ha, hb) = (a.content.block_hashes(16), b.content.block_hashes(16));
            let system_blocks = 500 / 16;
            // Everyone's system prompt is the same content.
            assert_eq!(ha[..system_blocks], hb[..system_blocks]);
            if b.session == a.session {
                assert_eq!(b.turn, a.turn + 1);
                let history = a.prompt_tokens + a.output_tokens;
                assert_eq!(b.prompt_tokens, history + b.written_tokens);
                assert_eq!(hb[..ha.len()], ha[..], "the history's blocks are shared");
            } else {
                assert_eq!((b.session, b.turn), (a.session + 1, 0));
                assert_eq!(b.prompt_tokens, 500 + b.written_tokens);
                assert_ne!(ha[system_blocks], hb[system_blocks]);
            }
            let context = b.prompt_tokens + b.output_tokens;
            assert_eq!(b.content.tokens(), u64::from(context));
            assert!(b.think_s >= 0.0);
        }
        assert!(ts.iter().any(|t| t.session > 0));
    }

    #[test]
    fn rag_questions_share_their_documents_blocks_and_nothing_after() {
        let ts = turns("rag", 50);
        for t in &ts {
            assert_eq!(t.content.tokens(), 3300);
            assert_eq!(t.prompt_tokens, 3300 + t.written_tokens);
            assert!((20..=100).contains(&t.written_tokens));
            assert!(t.document.is_some_and(|d| d < 200));
        }
        let same = |a: &Turn, b: &Turn| a.content.block_hashes(16) == b.content.block_hashes(16);
        for a in &ts {
            for b in &ts {
                assert_eq!(same(a, b), a.document == b.document);
            }
        }
    }

    #[test]
    fn fixed_is_todays_load() {
        for t in turns("fixed", 5) {
            assert_eq!(
                (t.prompt_tokens, t.output_tokens, t.think_s),
                (512, 128, 0.0)
            );
            assert!(t.content.is_empty());
        }
    }

    #[test]
    fn people_are_deterministic_and_distinct() {
        let w = Workload::preset("chat").unwrap();
        let draw = |id, seed| {
            let mut p = Person::new(&w, id, seed);
            (0..10).map(|_| p.next_turn()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 5), draw(1, 5));
        assert_ne!(draw(1, 5), draw(2, 5));
    }
}
