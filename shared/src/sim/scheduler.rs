//! The scheduler of a vLLM-like continuous-batching engine over a paged KV cache, as pure
//! state: `plan` admits what fits and says how long the next step lasts; `finish` applies it.
//! The discrete-event simulator drives it in virtual time, `jauge serve-sim` in real time.
//!
//! Waiting requests are admitted first come, first served while `max_num_seqs` and free KV
//! blocks allow; prompts are prefilled in chunks within `max_num_batched_tokens` (decode tokens
//! count first, as in vLLM V1); every request whose prompt is done gets one token per step.
//! Without chunked prefill (vLLM V0's default below 32k context), a step that has prompts to
//! prefill runs only them, whole, and the running decodes wait: TTFT is shorter, TPOT jumps. A
//! request that needs a block when none is free preempts the most recently admitted one, which
//! goes back to the front of the queue and recomputes its tokens later (recompute preemption).
//!
//! Prefix caching (vLLM's automatic prefix caching, on by default since V1): a request may say
//! that its prompt starts with content kept under a key ([`Prefix`]) — a chat's history, a
//! document several questions share. The full blocks of that content still in the cache are
//! not computed again, and a finished request can leave its blocks in the cache ([`Keep`]).
//! Cached blocks nobody is using count as used memory but are evicted, least recently used
//! first, before anything is refused or preempted.

use std::collections::VecDeque;

use crate::perf::StepTimer;

/// Capacity and speed of the simulated deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Step timing.
    pub timer: StepTimer,
    /// KV-cache blocks of the deployment.
    pub kv_blocks: u64,
    /// Tokens per block.
    pub block_size: u64,
    /// Most running sequences.
    pub max_num_seqs: usize,
    /// Most tokens per step.
    pub max_num_batched_tokens: u64,
    /// Prompts are prefilled in chunks beside running decodes (vLLM V1, or V0 with
    /// `--enable-chunked-prefill`); otherwise a step prefills whole prompts and pauses every
    /// decode (vLLM V0's default), which is what TTFT and TPOT of older releases show.
    pub chunked_prefill: bool,
}

/// What a step did to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// One more output token.
    Token,
    /// The last output token was the previous `Token`.
    Finished,
}

/// Counters of the engine (as `/metrics` exports them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// Requests being computed.
    pub running: usize,
    /// Requests queued.
    pub waiting: usize,
    /// KV blocks in use.
    pub used_blocks: u64,
    /// Preemptions since start.
    pub preemptions: u64,
    /// Prompt tokens computed since start (recomputation included).
    pub prompt_tokens: u64,
    /// Tokens generated since start.
    pub generation_tokens: u64,
    /// Requests finished since start.
    pub finished: u64,
    /// Prompt tokens looked up in the prefix cache since start (vLLM's
    /// `prefix_cache_queries`).
    pub prefix_queried_tokens: u64,
    /// Of those, tokens found cached and not computed again (`prefix_cache_hits`).
    pub prefix_hit_tokens: u64,
}

/// The start of a prompt that is the same content as what is kept under `key`: a chat's
/// history (key: the conversation), a shared document (key: the document).
///
/// ```
/// let p = jauge::sim::Prefix { key: 7, tokens: 1_000 };
/// assert_eq!(p.tokens, 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// What the content is (one conversation, one document).
    pub key: u64,
    /// Tokens of the prompt that are that content.
    pub tokens: u64,
}

/// What a finished request leaves in the prefix cache under its prefix's key.
///
/// ```
/// assert_ne!(jauge::sim::Keep::Context, jauge::sim::Keep::Nothing);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Keep {
    /// Nothing (a request without a prefix, or a server without prefix caching).
    #[default]
    Nothing,
    /// The prefix's blocks (a document the next question reuses).
    Prefix,
    /// Its whole context, prompt and answer (the history the next turn of a chat resends).
    Context,
}

/// One request for [`Scheduler::submit_request`].
///
/// ```
/// let r = jauge::sim::Request::plain(1, 512, 64);
/// assert_eq!((r.prefix, r.keep), (None, jauge::sim::Keep::Nothing));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The caller's id, given back in events.
    pub id: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub max_tokens: u64,
    /// The prompt's reusable start, if any.
    pub prefix: Option<Prefix>,
    /// What it leaves cached when done (only with a prefix: the key is the prefix's).
    pub keep: Keep,
}

impl Request {
    /// A request that shares nothing with any other.
    pub fn plain(id: u64, prompt_tokens: u64, max_tokens: u64) -> Request {
        Request {
            id,
            prompt_tokens,
            max_tokens,
            prefix: None,
            keep: Keep::Nothing,
        }
    }
}

/// Blocks kept for a key: `pins` running sequences use them; none, and they may be evicted.
#[derive(Debug, Clone)]
struct Cached {
    key: u64,
    blocks: u64,
    pins: u32,
    used_at: u64,
}

#[derive(Debug, Clone)]
struct Sequence {
    id: u64,
    prompt_tokens: u64,
    max_tokens: u64,
    generated: u64,
    /// Tokens of the prompt (and of output being recomputed) computed so far.
    computed: u64,
    /// Tokens to compute before decoding: the prompt, plus output after a preemption.
    to_compute: u64,
    /// Blocks of its own.
    blocks: u64,
    /// Blocks it reads from the prefix cache (pinned there while it runs).
    shared_blocks: u64,
    prefix: Option<Prefix>,
    keep: Keep,
}

impl Sequence {
    fn in_prefill(&self) -> bool {
        self.computed < self.to_compute
    }

    fn context(&self) -> u64 {
        self.prompt_tokens + self.generated
    }
}

/// How a step's token budget is shared among the prompts being prefilled, in order: chunks of
/// whatever budget the decodes leave, or (without chunked prefill) whole prompts while they
/// fit, the first one always.
struct Chunks {
    budget: u64,
    chunked: bool,
    first: bool,
    stopped: bool,
}

impl Chunks {
    fn new(scheduler: &Scheduler, decode_batch: u64) -> Chunks {
        let c = &scheduler.config;
        Chunks {
            budget: c.max_num_batched_tokens.saturating_sub(decode_batch),
            chunked: c.chunked_prefill,
            first: true,
            stopped: false,
        }
    }

    fn take(&mut self, s: &Sequence) -> u64 {
        let remaining = s.to_compute - s.computed;
        let chunk = if self.chunked {
            remaining.min(self.budget)
        } else if !self.stopped && (self.first || remaining <= self.budget) {
            remaining
        } else {
            self.stopped = true;
            0
        };
        self.first = false;
        self.budget = self.budget.saturating_sub(chunk);
        chunk
    }
}

/// The scheduler's state.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::perf::StepTimer;
/// use jauge::sim::{EngineConfig, Event, Scheduler};
/// use jauge::sizing::SizingRequest;
///
/// let cat = Catalogue::builtin();
/// let r = SizingRequest::new(cat.model("mistral-7b-v0.3")?, cat.gpu("a100-40gb")?);
/// let config = EngineConfig { timer: StepTimer::new(&r)?, kv_blocks: 100, block_size: 16, max_num_seqs: 8, max_num_batched_tokens: 2048, chunked_prefill: true };
/// let mut s = Scheduler::new(config);
/// s.submit(7, 100, 2);
/// let mut events = Vec::new();
/// while let Some(seconds) = s.plan() {
///     assert!(seconds > 0.0);
///     events.extend(s.finish());
/// }
/// assert_eq!(events, [(7, Event::Token), (7, Event::Token), (7, Event::Finished)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Scheduler {
    config: EngineConfig,
    waiting: VecDeque<Sequence>,
    running: Vec<Sequence>,
    counters: Counters,
    planned: bool,
    /// The planned step prefills whole prompts and decodes nothing.
    prefill_only: bool,
    cache: Vec<Cached>,
    /// Steps planned so far: the prefix cache's clock for "least recently used".
    clock: u64,
}

impl Scheduler {
    /// An idle engine.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// assert_eq!(jauge::sim::Scheduler::new(config).counters().running, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: EngineConfig) -> Scheduler {
        Scheduler {
            config,
            waiting: VecDeque::new(),
            running: Vec::new(),
            counters: Counters::default(),
            planned: false,
            prefill_only: false,
            cache: Vec::new(),
            clock: 0,
        }
    }

    /// The engine's configuration.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// assert_eq!(jauge::sim::Scheduler::new(config).config().kv_blocks, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Queues a request.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// let mut s = jauge::sim::Scheduler::new(config);
    /// s.submit(1, 32, 8);
    /// assert_eq!(s.counters().waiting, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit(&mut self, id: u64, prompt_tokens: u64, max_tokens: u64) {
        self.submit_request(Request::plain(id, prompt_tokens, max_tokens));
    }

    /// Queues a request that may reuse, and leave, cached blocks.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 100, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// use jauge::sim::{Keep, Prefix, Request, Scheduler};
    /// let mut s = Scheduler::new(config);
    /// let turn = |id, prompt, history| Request { id, prompt_tokens: prompt, max_tokens: 8, prefix: Some(Prefix { key: 1, tokens: history }), keep: Keep::Context };
    /// s.submit_request(turn(1, 100, 0));
    /// while s.plan().is_some() { s.finish(); }
    /// // The second turn resends the first's 108 tokens: 6 full blocks (96 tokens) are cached.
    /// s.submit_request(turn(2, 150, 108));
    /// while s.plan().is_some() { s.finish(); }
    /// assert_eq!(s.counters().prefix_hit_tokens, 96);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_request(&mut self, request: Request) {
        self.waiting.push_back(Sequence {
            id: request.id,
            prompt_tokens: request.prompt_tokens,
            max_tokens: request.max_tokens.max(1),
            generated: 0,
            computed: 0,
            to_compute: request.prompt_tokens.max(1),
            blocks: 0,
            shared_blocks: 0,
            prefix: request.prefix,
            keep: if request.prefix.is_some() {
                request.keep
            } else {
                Keep::Nothing
            },
        });
    }

    /// Forgets a request (its client went away), freeing its blocks.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// let mut s = jauge::sim::Scheduler::new(config);
    /// s.submit(1, 32, 8);
    /// s.cancel(1);
    /// assert_eq!(s.plan(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&mut self, id: u64) {
        self.waiting.retain(|s| s.id != id);
        if let Some(i) = self.running.iter().position(|s| s.id == id) {
            let mut gone = self.running.remove(i);
            self.unpin(&mut gone);
            self.counters.used_blocks -= gone.blocks;
        }
    }

    /// The counters now.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// assert_eq!(jauge::sim::Scheduler::new(config).counters().preemptions, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counters(&self) -> Counters {
        Counters {
            running: self.running.len(),
            waiting: self.waiting.len(),
            ..self.counters
        }
    }

    /// Admits what fits and returns the next step's duration in seconds, or `None` when there
    /// is nothing to compute. Call [`Scheduler::finish`] after it.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// let mut s = jauge::sim::Scheduler::new(config);
    /// assert_eq!(s.plan(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan(&mut self) -> Option<f64> {
        self.clock += 1;
        while self.running.len() < self.config.max_num_seqs {
            let Some(mut next) = self.waiting.pop_front() else {
                break;
            };
            let hit = self.look_up(&next);
            let c = &self.config;
            // Enough blocks for the first chunk and its first token, as vLLM V1 allocates (the
            // whole prompt when it is not chunked), beyond the cached ones.
            let first_chunk = if c.chunked_prefill {
                (next.to_compute - hit).min(c.max_num_batched_tokens)
            } else {
                next.to_compute - hit
            } + 1;
            let needed = (hit + first_chunk).div_ceil(c.block_size) - hit / c.block_size;
            // Pinned first, so that making room does not evict the blocks it reads.
            let queried = next.prefix.is_some() && next.computed == 0;
            self.pin(&mut next, hit);
            while self.counters.used_blocks + needed > self.config.kv_blocks && self.evict_one() {}
            if self.counters.used_blocks + needed > self.config.kv_blocks {
                self.unpin(&mut next);
                next.computed = 0;
                self.waiting.push_front(next);
                break;
            }
            if queried {
                self.counters.prefix_queried_tokens += next.to_compute;
                self.counters.prefix_hit_tokens += hit;
            }
            next.blocks = needed;
            self.counters.used_blocks += needed;
            self.running.push(next);
        }
        let c = &self.config;
        if self.running.is_empty() {
            self.planned = false;
            return None;
        }
        self.prefill_only = !c.chunked_prefill && self.running.iter().any(Sequence::in_prefill);
        let (decode_batch, decode_context) = if self.prefill_only {
            (0, 0)
        } else {
            let decode = self.running.iter().filter(|s| !s.in_prefill());
            decode.fold((0u64, 0u64), |(n, ctx), s| (n + 1, ctx + s.context()))
        };
        let mut chunks = Chunks::new(self, decode_batch);
        let (mut prefill_tokens, mut prefill_context) = (0u64, 0u64);
        for s in self.running.iter().filter(|s| s.in_prefill()) {
            let chunk = chunks.take(s);
            prefill_tokens += chunk;
            prefill_context += chunk * (s.computed + chunk / 2);
        }
        let mean_context = prefill_context.checked_div(prefill_tokens).unwrap_or(0);
        self.planned = true;
        Some(
            c.timer
                .step_s(prefill_tokens, mean_context, decode_batch, decode_context),
        )
    }

    /// Applies the planned step: prefill progress, one token per decoding sequence, blocks,
    /// preemptions. Returns what happened to each request, in order.
    ///
    /// ```
    /// # use jauge::catalogue::Catalogue;
    /// # let cat = Catalogue::builtin();
    /// # let r = jauge::sizing::SizingRequest::new(cat.model("llama-3-8b")?, cat.gpu("l4")?);
    /// # let config = jauge::sim::EngineConfig { timer: jauge::perf::StepTimer::new(&r)?, kv_blocks: 10, block_size: 16, max_num_seqs: 4, max_num_batched_tokens: 512, chunked_prefill: true };
    /// let mut s = jauge::sim::Scheduler::new(config);
    /// assert!(s.finish().is_empty()); // nothing planned
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(&mut self) -> Vec<(u64, Event)> {
        let mut events = Vec::new();
        if !self.planned {
            return events;
        }
        self.planned = false;
        let block_size = self.config.block_size;
        let kv_blocks = self.config.kv_blocks;
        let decode_count = if self.prefill_only {
            0
        } else {
            self.running.iter().filter(|s| !s.in_prefill()).count() as u64
        };
        let mut chunks = Chunks::new(self, decode_count);
        let prefill_only = self.prefill_only;
        let mut i = 0;
        while i < self.running.len() {
            let emit = {
                let s = &mut self.running[i];
                if s.in_prefill() {
                    let chunk = chunks.take(s);
                    s.computed += chunk;
                    self.counters.prompt_tokens += chunk;
                    // The step that completes the prompt also samples the first token.
                    !s.in_prefill()
                } else {
                    // Decodes wait while whole prompts are prefilled.
                    !prefill_only
                }
            };
            if !emit {
                i += 1;
                continue;
            }
            let needed = (self.running[i].context() + 1).div_ceil(block_size)
                - self.running[i].shared_blocks;
            while self.running[i].blocks < needed {
                if self.counters.used_blocks < kv_blocks || self.evict_one() {
                    self.running[i].blocks += 1;
                    self.counters.used_blocks += 1;
                    continue;
                }
                // Out of blocks: preempt the most recently admitted sequence (maybe this one).
                let victim_index = self.running.len() - 1;
                let mut victim = self.running.remove(victim_index);
                self.unpin(&mut victim);
                self.counters.used_blocks -= victim.blocks;
                victim.blocks = 0;
                victim.computed = 0;
                victim.to_compute = victim.context().max(1);
                self.counters.preemptions += 1;
                self.waiting.push_front(victim);
                if victim_index == i {
                    break;
                }
            }
            if i >= self.running.len() || self.running[i].blocks < needed {
                continue;
            }
            let s = &mut self.running[i];
            s.generated += 1;
            s.computed = s.to_compute;
            self.counters.generation_tokens += 1;
            events.push((s.id, Event::Token));
            if s.generated >= s.max_tokens {
                events.push((s.id, Event::Finished));
                self.counters.finished += 1;
                let gone = self.running.remove(i);
                self.retire(gone);
                continue;
            }
            i += 1;
        }
        events
    }

    /// Prompt tokens of `seq` found in the prefix cache: the full blocks of its prefix that
    /// are cached, and never the whole prompt (the last token is always computed, to sample
    /// from).
    fn look_up(&mut self, seq: &Sequence) -> u64 {
        let Some(prefix) = seq.prefix.filter(|_| seq.computed == 0) else {
            return 0;
        };
        let block_size = self.config.block_size;
        let cached = self
            .cache
            .iter()
            .find(|c| c.key == prefix.key)
            .map_or(0, |c| c.blocks * block_size);
        let usable = cached
            .min(prefix.tokens)
            .min(seq.to_compute.saturating_sub(1));
        usable / block_size * block_size
    }

    fn pin(&mut self, seq: &mut Sequence, hit: u64) {
        if hit == 0 {
            return;
        }
        let key = seq.prefix.map(|p| p.key);
        if let Some(entry) = self.cache.iter_mut().find(|c| Some(c.key) == key) {
            entry.pins += 1;
            entry.used_at = self.clock;
            seq.shared_blocks = hit / self.config.block_size;
            seq.computed = hit;
        }
    }

    fn unpin(&mut self, seq: &mut Sequence) {
        if seq.shared_blocks == 0 {
            return;
        }
        let key = seq.prefix.map(|p| p.key);
        if let Some(entry) = self.cache.iter_mut().find(|c| Some(c.key) == key) {
            entry.pins -= 1;
            entry.used_at = self.clock;
        }
        seq.shared_blocks = 0;
    }

    /// Frees the blocks of the least recently used cached content nobody is using; false when
    /// there is none.
    fn evict_one(&mut self) -> bool {
        let oldest = (0..self.cache.len())
            .filter(|&i| self.cache[i].pins == 0)
            .min_by_key(|&i| self.cache[i].used_at);
        match oldest {
            Some(i) => {
                let gone = self.cache.swap_remove(i);
                self.counters.used_blocks -= gone.blocks;
                true
            }
            None => false,
        }
    }

    /// A finished sequence: its blocks go back, or stay cached under its prefix's key as
    /// [`Keep`] says.
    fn retire(&mut self, seq: Sequence) {
        let block_size = self.config.block_size;
        let keep_tokens = match (seq.keep, seq.prefix) {
            (Keep::Context, Some(_)) => seq.context(),
            (Keep::Prefix, Some(p)) => p.tokens.min(seq.context()),
            _ => 0,
        };
        let wanted = keep_tokens / block_size;
        let key = seq.prefix.map(|p| p.key);
        let pinned = seq.shared_blocks > 0;
        let existing = self.cache.iter().position(|c| Some(c.key) == key);
        match (key, existing) {
            (Some(_), Some(i)) => {
                if pinned {
                    self.cache[i].pins -= 1;
                }
                let entry = &mut self.cache[i];
                entry.used_at = self.clock;
                if pinned && entry.pins == 0 && wanted > entry.blocks {
                    // The next turn's history: this sequence extends what it read.
                    let held = seq.blocks + entry.blocks;
                    entry.blocks = wanted.min(held);
                    self.counters.used_blocks -= held - entry.blocks;
                } else {
                    self.counters.used_blocks -= seq.blocks;
                }
            }
            (Some(key), None) if wanted > 0 => {
                let kept = wanted.min(seq.blocks);
                self.cache.push(Cached {
                    key,
                    blocks: kept,
                    pins: 0,
                    used_at: self.clock,
                });
                self.counters.used_blocks -= seq.blocks - kept;
            }
            _ => self.counters.used_blocks -= seq.blocks,
        }
    }
}
