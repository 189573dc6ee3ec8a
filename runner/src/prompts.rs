//! Prompts of exactly the requested token count, different from each other so that prefix
//! caching does not flatter the results (unless a shared prefix is asked for).
//!
//! With a server that tokenizes (`/tokenize` in vLLM, llama.cpp and jauge-sim), a calibration
//! text is tokenized once and its token ids become the vocabulary: completions prompts are
//! random sequences of those ids (exact by construction); chat prompts are random words whose
//! count is corrected with `/tokenize` until the server counts exactly the wanted tokens (the
//! chat template then adds its own few, which `usage.prompt_tokens` reports). A local
//! `tokenizer.json` (`--tokenizer`) does the same without asking the server. Without either,
//! words are scaled by 1.3 tokens per word, and `usage` tells the truth.

use jauge::dataset::Endpoint;
use jauge::rng::SplitMix64;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Target;
use crate::fetch::EndpointError;
use crate::limits::{bounded, PROBE_TIMEOUT};
use crate::openai::Prompt;

/// The longest prompt jauge generates, tokens: 16,777,216, beyond the longest context any open
/// model accepts (Llama 4 Scout's 10 million). A prompt is held whole in memory (about 4 bytes
/// a token, 7 as a request body), so a mistyped size must be refused, not allocated.
pub const MAX_PROMPT_TOKENS: u32 = 1 << 24;

/// How prompts are made exact.
#[derive(Clone)]
pub enum Calibration {
    /// A local `tokenizer.json` and its ordinary (non-special) token ids.
    Local(Box<tokenizers::Tokenizer>, Vec<u32>),
    /// Random ids from the server's own tokenization of a text.
    TokenIds(Vec<u32>),
    /// Words, checked against `/tokenize`.
    TokenizedWords,
    /// Words at an assumed 1.3 tokens per word.
    Estimated,
}

impl Calibration {
    /// A phrase for the dataset's notes.
    pub fn describe(&self) -> &'static str {
        match self {
            Calibration::Local(..) => "prompts are random tokens of the given tokenizer.json: exact lengths before any chat template",
            Calibration::TokenIds(_) => "prompts are random token ids from the server's /tokenize: exact lengths",
            Calibration::TokenizedWords => "prompts are random words counted with the server's /tokenize: exact lengths before the chat template",
            Calibration::Estimated => "the server has no /tokenize: prompt lengths estimated at 1.3 tokens per word; usage.prompt_tokens gives the real counts",
        }
    }
}

/// Makes prompts for one run.
pub struct PromptMaker {
    calibration: Calibration,
    rng: SplitMix64,
    shared_prefix_tokens: u32,
    /// What changed while making prompts (the tokenizer stopped answering), for the dataset.
    notes: Vec<String>,
}

/// Common English words: tokenizers give them about one token each.
pub(crate) const WORDS: &[&str] = &[
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
];

impl PromptMaker {
    /// Uses a local `tokenizer.json`.
    ///
    /// # Errors
    /// When the file cannot be read or is not a tokenizer, or has no ordinary tokens.
    pub fn with_tokenizer(
        path: &std::path::Path,
        seed: u64,
        shared_prefix_tokens: u32,
    ) -> Result<PromptMaker, String> {
        let tokenizer = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| format!("--tokenizer {}: {e}", path.display()))?;
        let special: std::collections::HashSet<u32> = tokenizer
            .get_added_tokens_decoder()
            .keys()
            .copied()
            .collect();
        let mut ids: Vec<u32> = tokenizer
            .get_vocab(false)
            .into_values()
            .filter(|id| !special.contains(id))
            .collect();
        ids.sort_unstable();
        if ids.is_empty() {
            return Err(format!(
                "--tokenizer {}: no ordinary tokens in its vocabulary",
                path.display()
            ));
        }
        Ok(PromptMaker {
            calibration: Calibration::Local(Box::new(tokenizer), ids),
            rng: SplitMix64::new(seed),
            shared_prefix_tokens,
            notes: Vec::new(),
        })
    }

    /// Chooses the calibration by asking the server.
    pub async fn calibrate(
        http: &reqwest::Client,
        target: &Target,
        seed: u64,
        shared_prefix_tokens: u32,
    ) -> PromptMaker {
        let mut rng = SplitMix64::new(seed);
        let text = random_words(&mut rng, 400);
        let mut notes = Vec::new();
        let calibration = match tokenize(http, target, &text).await {
            Ok(Some((_, Some(ids))))
                if target.endpoint == Endpoint::Completions && !ids.is_empty() =>
            {
                Calibration::TokenIds(ids)
            }
            Ok(Some(_)) => Calibration::TokenizedWords,
            Ok(None) => Calibration::Estimated,
            Err(e) => {
                notes.push(format!("Prompts: the tokenizer was not used: {e}."));
                Calibration::Estimated
            }
        };
        PromptMaker {
            calibration,
            rng,
            shared_prefix_tokens,
            notes,
        }
    }

    /// What changed while making prompts since the last call (for the dataset's notes).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// How lengths are made exact.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// A prompt of `tokens` tokens.
    pub async fn make(&mut self, http: &reqwest::Client, target: &Target, tokens: u32) -> Prompt {
        let prefix = self.shared_prefix_tokens.min(tokens);
        match &self.calibration {
            Calibration::TokenIds(vocabulary) => {
                Prompt::Tokens(random_ids(&mut self.rng, vocabulary, tokens, prefix))
            }
            Calibration::Local(tokenizer, vocabulary) => {
                let mut ids = random_ids(&mut self.rng, vocabulary, tokens, prefix);
                if target.endpoint == Endpoint::Completions {
                    return Prompt::Tokens(ids);
                }
                // Text for chat: decoded ids re-encode to about as many tokens; trim or extend
                // until the tokenizer counts exactly.
                let mut text = tokenizer.decode(&ids, true).unwrap_or_default();
                for _ in 0..8 {
                    let count = tokenizer
                        .encode(text.as_str(), false)
                        .map_or(0, |e| e.len()) as i64;
                    let diff = i64::from(tokens) - count;
                    if diff == 0 {
                        break;
                    }
                    if diff > 0 {
                        ids.extend(random_ids(&mut self.rng, vocabulary, diff as u32, 0));
                    } else {
                        ids.truncate((ids.len() as i64 + diff).max(1) as usize);
                    }
                    text = tokenizer.decode(&ids, true).unwrap_or_default();
                }
                Prompt::Text(text)
            }
            Calibration::Estimated => Prompt::Text(self.words(tokens, prefix, 1.0 / 1.3)),
            Calibration::TokenizedWords => {
                let mut words = tokens;
                let mut text = self.words(words, prefix, 1.0);
                // Correct the word count by the difference until the server counts exactly.
                for _ in 0..6 {
                    let count = match tokenize(http, target, &text).await {
                        Ok(Some((count, _))) => count,
                        Ok(None) => break,
                        Err(e) => {
                            // A tokenizer that stopped answering would cost every later
                            // prompt its time budget: estimate from here on, and say so.
                            self.notes.push(format!(
                                "Prompts: the tokenizer stopped answering ({e}); later prompts are estimated at 1.3 tokens per word, and usage.prompt_tokens gives the real counts."
                            ));
                            self.calibration = Calibration::Estimated;
                            break;
                        }
                    };
                    if count == u64::from(tokens) {
                        break;
                    }
                    let diff = i64::from(tokens) - count as i64;
                    words = (i64::from(words) + diff).max(1) as u32;
                    text = self.words(words, prefix, 1.0);
                }
                Prompt::Text(text)
            }
        }
    }

    fn words(&mut self, tokens: u32, prefix: u32, words_per_token: f64) -> String {
        let count = ((f64::from(tokens) * words_per_token).round() as u32).max(1);
        let prefix = ((f64::from(prefix) * words_per_token).round() as u32).min(count);
        let mut prefix_rng = SplitMix64::new(0x5eed);
        let mut out = random_words(&mut prefix_rng, prefix as usize);
        if !out.is_empty() && count > prefix {
            out.push(' ');
        }
        out.push_str(&random_words(&mut self.rng, (count - prefix) as usize));
        out
    }
}

/// `tokens` ids from `vocabulary`; the first `prefix` are the same for every prompt.
fn random_ids(rng: &mut SplitMix64, vocabulary: &[u32], tokens: u32, prefix: u32) -> Vec<u32> {
    // The prefix comes from a generator seeded the same way for every prompt.
    let mut prefix_rng = SplitMix64::new(0x5eed);
    (0..tokens)
        .map(|i| {
            let rng = if i < prefix {
                &mut prefix_rng
            } else {
                &mut *rng
            };
            vocabulary[rng.below(vocabulary.len() as u64) as usize]
        })
        .collect()
}

fn random_words(rng: &mut SplitMix64, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// `(count, token ids)` from the server's `/tokenize`; `None` when it has none (an error
/// status, or an answer that is not a tokenization).
///
/// # Errors
/// When the server does not answer within the probe budget, or answers more than
/// `--read-limit tokenize`: the caller stops asking.
pub async fn tokenize(
    http: &reqwest::Client,
    target: &Target,
    text: &str,
) -> Result<Option<(u64, Option<Vec<u32>>)>, EndpointError> {
    let body = json!({"model": target.model, "prompt": text, "content": text, "add_special_tokens": false});
    let (status, bytes) = crate::fetch::call(
        target
            .request(http, Method::POST, "/tokenize")
            .header("content-type", "application/json")
            .body(body.to_string()),
        target.endpoint(&Method::POST, "/tokenize"),
        target.limits.tokenize,
        bounded(target.timeout, PROBE_TIMEOUT),
    )
    .await?;
    if !status.is_success() {
        return Ok(None);
    }
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(None);
    };
    // Ids beyond 32 bits are no vocabulary's: such an answer is not used.
    let ids: Option<Vec<u32>> = value.get("tokens").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_u64)
            .filter_map(|n| u32::try_from(n).ok())
            .collect()
    });
    let count = value
        .get("count")
        .and_then(Value::as_u64)
        .or(ids.as_ref().map(|i| i.len() as u64));
    Ok(count.map(|c| (c, ids)))
}
