//! The simulated engine: continuous batching over a paged KV cache, in real time.
//!
//! Each loop iteration is one engine step. Waiting requests are admitted first come, first
//! served while `max_num_seqs` and free KV blocks allow; prompts are prefilled in chunks within
//! `max_num_batched_tokens` (decode tokens count first, as in vLLM V1); every admitted request
//! whose prompt is done gets one token per step. A request that needs a block when none is
//! free preempts the most recently admitted one, which goes back to the front of the queue and
//! recomputes its tokens later (vLLM's recompute preemption). The step lasts what
//! [`StepTimer`] says, divided by the time scale.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jauge::perf::StepTimer;
use tokio::sync::{mpsc, Mutex, Notify};

/// What the engine tells a request's response stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineEvent {
    /// One more output token.
    Token,
    /// All output tokens were generated.
    Finished,
}

/// Capacity and speed of the simulated deployment.
#[derive(Debug, Clone)]
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
    /// Simulated seconds per real second (1 = real time).
    pub time_scale: f64,
}

/// Counters exported on `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineMetrics {
    /// Requests being computed.
    pub running: usize,
    /// Requests queued.
    pub waiting: usize,
    /// Share of KV blocks in use, 0–1.
    pub kv_cache_usage: f64,
    /// Preemptions since start.
    pub preemptions: u64,
    /// Prompt tokens prefilled since start.
    pub prompt_tokens: u64,
    /// Tokens generated since start.
    pub generation_tokens: u64,
    /// Requests finished since start.
    pub finished: u64,
}

struct Sequence {
    prompt_tokens: u64,
    max_tokens: u64,
    generated: u64,
    /// Tokens of `prompt + generated-before-preemption` computed so far.
    computed: u64,
    /// Tokens that must be computed before decoding (the prompt, plus recomputed output).
    to_compute: u64,
    blocks: u64,
    tx: mpsc::UnboundedSender<EngineEvent>,
}

impl Sequence {
    fn in_prefill(&self) -> bool {
        self.computed < self.to_compute
    }

    fn context(&self) -> u64 {
        self.prompt_tokens + self.generated
    }
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Sequence>,
    running: Vec<Sequence>,
    used_blocks: u64,
    metrics: EngineMetrics,
}

/// A running simulated engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    config: Arc<EngineConfig>,
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
}

impl Engine {
    /// Starts the engine loop on the current tokio runtime.
    pub fn start(config: EngineConfig) -> Engine {
        let engine = Engine {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(State::default())),
            wake: Arc::new(Notify::new()),
        };
        let looping = engine.clone();
        tokio::spawn(async move { looping.run().await });
        engine
    }

    /// Queues a request; its events arrive on the returned channel.
    pub async fn submit(
        &self,
        prompt_tokens: u64,
        max_tokens: u64,
    ) -> mpsc::UnboundedReceiver<EngineEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.state.lock().await;
        state.waiting.push_back(Sequence {
            prompt_tokens,
            max_tokens: max_tokens.max(1),
            generated: 0,
            computed: 0,
            to_compute: prompt_tokens.max(1),
            blocks: 0,
            tx,
        });
        drop(state);
        self.wake.notify_one();
        rx
    }

    /// The counters now.
    pub async fn metrics(&self) -> EngineMetrics {
        let state = self.state.lock().await;
        EngineMetrics {
            running: state.running.len(),
            waiting: state.waiting.len(),
            kv_cache_usage: state.used_blocks as f64 / self.config.kv_blocks.max(1) as f64,
            ..state.metrics
        }
    }

    async fn run(self) {
        loop {
            let Some(seconds) = self.plan_step().await else {
                self.wake.notified().await;
                continue;
            };
            tokio::time::sleep(Duration::from_secs_f64(seconds / self.config.time_scale)).await;
            self.finish_step().await;
        }
    }

    /// Admits what fits and returns the step's duration in simulated seconds, or `None` when
    /// there is nothing to compute.
    async fn plan_step(&self) -> Option<f64> {
        let c = &self.config;
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        state.running.retain(|s| !s.tx.is_closed());
        while state.running.len() < c.max_num_seqs {
            let Some(next) = state.waiting.front() else {
                break;
            };
            // Enough blocks for the first chunk and its first token, as vLLM V1 allocates.
            let first_chunk = next.to_compute.min(c.max_num_batched_tokens) + 1;
            let needed = first_chunk.div_ceil(c.block_size);
            if state.used_blocks + needed > c.kv_blocks {
                break;
            }
            let mut seq = state.waiting.pop_front().expect("front exists");
            if seq.tx.is_closed() {
                continue;
            }
            seq.blocks = needed;
            state.used_blocks += needed;
            state.running.push(seq);
        }
        if state.running.is_empty() {
            return None;
        }
        let decode: Vec<&Sequence> = state.running.iter().filter(|s| !s.in_prefill()).collect();
        let decode_batch = decode.len() as u64;
        let decode_context: u64 = decode.iter().map(|s| s.context()).sum();
        let mut budget = c.max_num_batched_tokens.saturating_sub(decode_batch);
        let (mut prefill_tokens, mut prefill_context) = (0u64, 0u64);
        for s in state.running.iter().filter(|s| s.in_prefill()) {
            let chunk = (s.to_compute - s.computed).min(budget);
            budget -= chunk;
            prefill_tokens += chunk;
            prefill_context += chunk * (s.computed + chunk / 2);
        }
        let mean_context = prefill_context.checked_div(prefill_tokens).unwrap_or(0);
        Some(
            c.timer
                .step_s(prefill_tokens, mean_context, decode_batch, decode_context),
        )
    }

    /// Applies the step: prefill progress, one token per decoding sequence, blocks, preemption.
    async fn finish_step(&self) {
        let c = &self.config;
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let decode_count = state.running.iter().filter(|s| !s.in_prefill()).count() as u64;
        let mut budget = c.max_num_batched_tokens.saturating_sub(decode_count);
        let mut i = 0;
        while i < state.running.len() {
            let emit = {
                let s = &mut state.running[i];
                if s.in_prefill() {
                    let chunk = (s.to_compute - s.computed).min(budget);
                    budget -= chunk;
                    s.computed += chunk;
                    state.metrics.prompt_tokens += chunk;
                    // The step that completes the prompt also samples the first token.
                    !s.in_prefill()
                } else {
                    true
                }
            };
            if !emit {
                i += 1;
                continue;
            }
            let needed = (state.running[i].context() + 1).div_ceil(c.block_size);
            while state.running[i].blocks < needed {
                if state.used_blocks < c.kv_blocks {
                    state.running[i].blocks += 1;
                    state.used_blocks += 1;
                    continue;
                }
                // Out of blocks: preempt the most recently admitted sequence (maybe this one).
                let victim_index = state.running.len() - 1;
                let mut victim = state.running.remove(victim_index);
                state.used_blocks -= victim.blocks;
                victim.blocks = 0;
                victim.computed = 0;
                victim.to_compute = victim.context().max(1);
                state.metrics.preemptions += 1;
                state.waiting.push_front(victim);
                if victim_index == i {
                    break;
                }
            }
            if i >= state.running.len() || state.running[i].blocks < needed {
                continue;
            }
            let s = &mut state.running[i];
            s.generated += 1;
            s.computed = s.to_compute;
            state.metrics.generation_tokens += 1;
            let done = s.generated >= s.max_tokens;
            let delivered = s.tx.send(EngineEvent::Token).is_ok();
            if done || !delivered {
                if done {
                    let _ = s.tx.send(EngineEvent::Finished);
                    state.metrics.finished += 1;
                }
                let gone = state.running.remove(i);
                state.used_blocks -= gone.blocks;
                continue;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jauge::catalogue::Catalogue;
    use jauge::sizing::SizingRequest;

    fn engine(kv_blocks: u64, max_num_seqs: usize) -> Engine {
        let cat = Catalogue::builtin();
        let r = SizingRequest::new(
            cat.model("mistral-7b-v0.3").unwrap(),
            cat.gpu("h100-80gb").unwrap(),
        );
        Engine::start(EngineConfig {
            timer: StepTimer::new(&r).unwrap(),
            kv_blocks,
            block_size: 16,
            max_num_seqs,
            max_num_batched_tokens: 2048,
            time_scale: 1000.0,
        })
    }

    async fn drain(mut rx: mpsc::UnboundedReceiver<EngineEvent>) -> u64 {
        let mut tokens = 0;
        while let Some(e) = rx.recv().await {
            match e {
                EngineEvent::Token => tokens += 1,
                EngineEvent::Finished => break,
            }
        }
        tokens
    }

    #[tokio::test]
    async fn every_admitted_request_gets_all_its_tokens() {
        let e = engine(10_000, 8);
        let streams: Vec<_> = futures_join(&e, 20, 100, 30).await;
        for tokens in streams {
            assert_eq!(tokens, 30);
        }
        let m = e.metrics().await;
        assert_eq!((m.running, m.waiting, m.finished), (0, 0, 20));
        assert_eq!(m.kv_cache_usage, 0.0);
    }

    /// 4 sequences of 100 + 60 tokens need 4 × 11 blocks; with 30 blocks some must wait or be
    /// preempted, and all still finish.
    #[tokio::test]
    async fn a_small_cache_queues_and_preempts_but_finishes() {
        let e = engine(30, 8);
        for tokens in futures_join(&e, 4, 100, 60).await {
            assert_eq!(tokens, 60);
        }
        assert_eq!(e.metrics().await.finished, 4);
    }

    async fn futures_join(e: &Engine, n: usize, prompt: u64, output: u64) -> Vec<u64> {
        let mut handles = Vec::new();
        for _ in 0..n {
            let rx = e.submit(prompt, output).await;
            handles.push(tokio::spawn(drain(rx)));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}
