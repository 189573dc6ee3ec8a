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
//! Prefix caching (vLLM's automatic prefix caching, on by default since V1): a request names
//! the full blocks of its context by chained hashes ([`Request::block_hashes`], see
//! [`blocks`](super::blocks)) — a chat's history, a
//! document several questions share. The leading blocks already cached are not computed
//! again; blocks are cached as soon as they are computed, prompt and answer, and stay after the
//! request ends. Cached blocks nobody reads count as free memory (as vLLM's `kv_cache_usage`
//! counts them) and are evicted, least recently freed first, when memory is wanted.

use std::collections::VecDeque;

use super::blocks::PrefixCache;
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
    /// KV blocks in use by running requests.
    pub used_blocks: u64,
    /// KV blocks that only the prefix cache holds: free memory, evicted when wanted.
    pub cached_blocks: u64,
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

/// One request for [`Scheduler::submit_request`].
///
/// ```
/// let r = jauge::sim::Request::plain(1, 512, 64);
/// assert!(r.block_hashes.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The caller's id, given back in events.
    pub id: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub max_tokens: u64,
    /// The hashes of the full blocks of its context that other requests may share, from the
    /// start ([`Content::block_hashes`](crate::sim::Content::block_hashes),
    /// [`token_block_hashes`](crate::sim::token_block_hashes)): the prompt's, and the answer's
    /// when a later prompt will resend it. Empty: nothing shared, nothing kept.
    pub block_hashes: Vec<u64>,
}

impl Request {
    /// A request that shares nothing with any other.
    pub fn plain(id: u64, prompt_tokens: u64, max_tokens: u64) -> Request {
        Request {
            id,
            prompt_tokens,
            max_tokens,
            block_hashes: Vec::new(),
        }
    }
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
    /// Its leading blocks that are in the prefix cache (pinned there while it runs).
    shared_blocks: u64,
    /// The hashes of its context's shareable full blocks.
    hashes: Vec<u64>,
    /// Its lookup has been counted (a preempted sequence looks up again, uncounted).
    queried: bool,
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
    cache: PrefixCache,
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
            cache: PrefixCache::default(),
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
    /// use jauge::sim::{Content, Request, Scheduler, Segment};
    /// let mut s = Scheduler::new(config);
    /// // A conversation's turn: its context (prompt and answer) is the conversation so far.
    /// let turn = |id, prompt: u64| Request { id, prompt_tokens: prompt, max_tokens: 8, block_hashes: Content::of(&[Segment { key: 1, tokens: prompt + 8 }]).block_hashes(16) };
    /// s.submit_request(turn(1, 100));
    /// while s.plan().is_some() { s.finish(); }
    /// // The second turn resends the first's 108 tokens: 6 full blocks (96 tokens) are cached.
    /// s.submit_request(turn(2, 150));
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
            hashes: request.block_hashes,
            queried: false,
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
            self.release(&mut gone);
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
            cached_blocks: self.cache.evictable(),
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
            self.pin(&mut next, hit / c.block_size);
            if !self.make_room(needed) {
                self.unpin(&mut next);
                next.computed = 0;
                self.waiting.push_front(next);
                break;
            }
            if !next.hashes.is_empty() && !next.queried {
                next.queried = true;
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
                    let computed = s.computed;
                    self.cache_computed(i, computed);
                    // The step that completes the prompt also samples the first token.
                    !self.running[i].in_prefill()
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
                if self.make_room(1) {
                    self.running[i].blocks += 1;
                    self.counters.used_blocks += 1;
                    continue;
                }
                // Out of blocks: preempt the most recently admitted sequence (maybe this one).
                let victim_index = self.running.len() - 1;
                let mut victim = self.running.remove(victim_index);
                self.release(&mut victim);
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
                // Its answer's blocks too, but for the last token's, not computed.
                let context = self.running[i].context() - 1;
                self.cache_computed(i, context);
                let mut gone = self.running.remove(i);
                self.release(&mut gone);
                continue;
            }
            i += 1;
        }
        events
    }

    /// Prompt tokens of `seq` found in the prefix cache: its leading full blocks that are
    /// cached, and never the whole prompt (the last token is always computed, to sample from).
    fn look_up(&self, seq: &Sequence) -> u64 {
        let block_size = self.config.block_size;
        let usable = seq.to_compute.saturating_sub(1) / block_size;
        let hashes = &seq.hashes[..seq.hashes.len().min(usable as usize)];
        self.cache.hits(hashes) * block_size
    }

    /// Frees cached blocks nobody reads until `blocks` more fit; false when they cannot.
    fn make_room(&mut self, blocks: u64) -> bool {
        let kv_blocks = self.config.kv_blocks;
        while self.counters.used_blocks + self.cache.evictable() + blocks > kv_blocks {
            if !self.cache.evict_one() {
                return false;
            }
        }
        true
    }

    /// Reads the first `blocks` of `seq`'s context from the cache.
    fn pin(&mut self, seq: &mut Sequence, blocks: u64) {
        for hash in &seq.hashes[..blocks as usize] {
            self.cache.pin(*hash, &mut self.counters.used_blocks);
        }
        seq.shared_blocks = blocks;
        seq.computed = blocks * self.config.block_size;
    }

    /// Stops reading its cached blocks, the last first so that they are evicted first (as
    /// vLLM frees a request's blocks).
    fn unpin(&mut self, seq: &mut Sequence) {
        for hash in seq.hashes[..seq.shared_blocks as usize].iter().rev() {
            self.cache.unpin(*hash, &mut self.counters.used_blocks);
        }
        seq.shared_blocks = 0;
    }

    /// A sequence leaves the running batch (finished, preempted, cancelled): its own blocks
    /// are freed, its cached ones left to the cache.
    fn release(&mut self, seq: &mut Sequence) {
        self.unpin(seq);
        self.counters.used_blocks -= seq.blocks;
        seq.blocks = 0;
    }

    /// Running sequence `i` has computed `tokens` of its context: its full blocks among them
    /// that have a hash become cached (or, when the same content was cached meanwhile, it
    /// reads that copy and frees its own).
    fn cache_computed(&mut self, i: usize, tokens: u64) {
        let block_size = self.config.block_size;
        let seq = &mut self.running[i];
        let full = (tokens / block_size).min(seq.hashes.len() as u64);
        while seq.shared_blocks < full && seq.blocks > 0 {
            let hash = seq.hashes[seq.shared_blocks as usize];
            if !self.cache.insert(hash, &mut self.counters.used_blocks) {
                self.counters.used_blocks -= 1;
            }
            seq.shared_blocks += 1;
            seq.blocks -= 1;
        }
    }
}
