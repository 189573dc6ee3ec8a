//! A population of people against a server: each person follows the workload as the
//! simulator's people do (the same draws from the same seed: pauses, lengths, documents),
//! thinks, sends a turn and reads the answer. A chat's history carries the server's own
//! answers and everyone's system prompt and documents are the same text, so a server's prefix
//! cache finds what it would find in real use, and nothing more.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jauge::people::{Kind, Person, Turn, Workload};
use jauge::rng::SplitMix64;
use jauge::sim::chain;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::client::{self, RequestSlot, Target};
use crate::load::{collect, give_back, take_idle, StepRun};
use crate::openai::{encode_conversation, BodyOptions};
use crate::prompts::WORDS;
use crate::record::RequestRecord;

/// One population step.
#[derive(Debug, Clone)]
pub struct Population {
    /// People.
    pub people: u32,
    /// What they do.
    pub workload: Workload,
    /// Seed of their draws and of their own texts ([`jauge::people::population_seed`]): a
    /// population's conversations are its own, not found in the cache the population before
    /// it left (the system prompt and the documents are everyone's, in every step).
    pub seed: u64,
    /// Before the measured window: turns sent then are flagged warm-up.
    pub warmup: Duration,
    /// The measured window: its turns are the step's; nobody starts a turn after it.
    pub window: Duration,
    /// The server's time runs this much faster than the modelled deployment's (the built-in
    /// server's `--time-scale`): people think that much faster, and every time recorded is
    /// multiplied back, so that the records are in the modelled deployment's time.
    pub time_scale: f64,
}

impl Population {
    /// The window in milliseconds from the step's start, as the records' times are.
    pub fn window_ms(&self) -> (f64, f64) {
        let start = self.warmup.as_secs_f64() * 1000.0;
        (start, start + self.window.as_secs_f64() * 1000.0)
    }
}

/// Runs one population until its window ends and every turn sent is answered; each turn's
/// record goes to `on_record` as it completes.
pub async fn run(
    http: &reqwest::Client,
    target: &Target,
    population: &Population,
    options: &BodyOptions,
    cancel: &watch::Receiver<bool>,
    on_record: impl FnMut(&RequestRecord),
) -> StepRun {
    let clock = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let sent = Arc::new(AtomicU32::new(0));
    let scale = population.time_scale;
    let warmup_end = clock + population.warmup.div_f64(scale);
    let window_end = warmup_end + population.window.div_f64(scale);
    for id in 0..population.people {
        let (http, target, options, tx, sent) = (
            http.clone(),
            target.clone(),
            options.clone(),
            tx.clone(),
            sent.clone(),
        );
        let mut person = Person::new(&population.workload, id, population.seed);
        let workload = population.workload.clone();
        let (people, seed) = (population.people, population.seed);
        tasks.spawn(async move {
            let mut connection = take_idle();
            let mut history: Vec<(&'static str, String)> = Vec::new();
            let mut ready = clock;
            loop {
                let turn = person.next_turn();
                let due = ready + Duration::from_secs_f64(turn.think_s / scale);
                if due >= window_end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                if turn.turn == 0 {
                    history.clear();
                }
                let message = written(&workload, seed, id, &turn);
                let mut messages: Vec<(&'static str, &str)> = Vec::new();
                let system = text(SYSTEM_KEY, workload.system_tokens);
                if workload.system_tokens > 0 {
                    messages.push(("system", &system));
                }
                messages.extend(history.iter().map(|(role, t)| (*role, t.as_str())));
                messages.push(("user", &message));
                let body = encode_conversation(
                    target.endpoint,
                    &messages,
                    &BodyOptions {
                        max_tokens: turn.output_tokens,
                        ..options.clone()
                    },
                );
                let slot = RequestSlot {
                    concurrency: people,
                    prompt_tokens: turn.prompt_tokens,
                    output_tokens: turn.output_tokens,
                    index: sent.fetch_add(1, Ordering::Relaxed),
                    warmup: Instant::now() < warmup_end,
                    intended: due,
                    keep_answer: workload.kind == Kind::Chat,
                };
                let mut record =
                    client::send_on(&mut connection, &http, &target, &body, slot, clock).await;
                if workload.kind == Kind::Chat {
                    let answer = record.answer_text.take().unwrap_or_default();
                    history.push(("user", message));
                    history.push(("assistant", answer));
                }
                ready = Instant::now();
                if tx.send(record).is_err() {
                    break;
                }
            }
            give_back(connection);
        });
    }
    drop(tx);
    let mut run = collect(rx, tasks, cancel, on_record).await;
    if scale != 1.0 {
        run.records.iter_mut().for_each(|r| in_model_time(r, scale));
    }
    run
}

/// A record's times multiplied by the time scale: the modelled deployment's time.
pub(crate) fn in_model_time(r: &mut RequestRecord, scale: f64) {
    for t in [&mut r.intended_ms, &mut r.sent_ms, &mut r.end_ms] {
        *t *= scale;
    }
    for t in [&mut r.first_token_ms, &mut r.first_answer_ms]
        .into_iter()
        .flatten()
    {
        *t *= scale;
    }
    r.gaps_ms.iter_mut().for_each(|g| *g *= scale);
}

/// Keys of the texts: the same key, the same words. A person's keys are mixed from the
/// population's seed, so they do not meet the system prompt's or a document's.
const SYSTEM_KEY: u64 = 1;
const DOCUMENT_KEYS: u64 = 1 << 32;
const PERSON_KEYS: u64 = 1 << 48;

/// What the person writes for this turn: the chat message, the question after its document,
/// the file being edited (the same words from the start at each edit, a little longer), or
/// the fixed prompt.
fn written(workload: &Workload, seed: u64, person: u32, turn: &Turn) -> String {
    let own = chain(
        chain(PERSON_KEYS ^ seed, u64::from(person)),
        u64::from(turn.session),
    ) << 8;
    match workload.kind {
        Kind::Rag => {
            let document = DOCUMENT_KEYS + u64::from(turn.document.unwrap_or(0));
            let question = text(own + u64::from(turn.turn) + 1, turn.written_tokens);
            format!("{}\n\n{question}", text(document, workload.document_tokens))
        }
        Kind::Code => text(own, turn.written_tokens),
        Kind::Chat | Kind::Fixed => text(own + u64::from(turn.turn) + 1, turn.written_tokens),
    }
}

/// `words` common words drawn from `key`: about one token each with real tokenizers, exactly
/// one with the built-in server's; the first n words of a key are the same for any length.
pub(crate) fn text(key: u64, words: u32) -> String {
    let mut rng = SplitMix64::new(key);
    let mut out = String::with_capacity(words as usize * 7);
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_same_for_the_same_key_and_grow_from_their_start() {
        assert_eq!(text(7, 20), text(7, 20));
        assert!(text(7, 30).starts_with(&text(7, 20)));
        assert_ne!(text(7, 20), text(8, 20));
        assert_eq!(text(9, 25).split(' ').count(), 25);
        assert_eq!(text(9, 0), "");
    }

    #[test]
    fn a_rag_question_starts_with_its_whole_document() {
        let rag = Workload::preset("rag").unwrap();
        let mut person = Person::new(&rag, 3, 1);
        let turn = person.next_turn();
        let asked = written(&rag, 0, 3, &turn);
        let document = text(
            DOCUMENT_KEYS + u64::from(turn.document.unwrap()),
            rag.document_tokens,
        );
        assert!(asked.starts_with(&document));
        assert_eq!(
            asked.split_whitespace().count() as u32,
            rag.document_tokens + turn.written_tokens
        );
    }
}
