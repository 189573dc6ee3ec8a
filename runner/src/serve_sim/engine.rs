//! The simulated engine in real time: jauge's [`Scheduler`] (the same one the discrete-event
//! simulator drives in virtual time), stepped by a tokio task that sleeps each step's duration
//! divided by the time scale, and streams each request's tokens to its HTTP response.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jauge::sim::{EngineConfig, Event, Request, Scheduler};
use tokio::sync::{mpsc, Mutex, Notify};

/// How late a step may start and still be caught up with by the next ones.
const MAX_CATCH_UP: Duration = Duration::from_millis(20);

/// What the engine tells a request's response stream.
pub type EngineEvent = Event;

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
    /// Prompt tokens looked up in the prefix cache since start.
    pub prefix_queried_tokens: u64,
    /// Of those, tokens found cached.
    pub prefix_hit_tokens: u64,
}

struct Inner {
    scheduler: Scheduler,
    streams: HashMap<u64, mpsc::UnboundedSender<EngineEvent>>,
    next_id: u64,
}

/// A running simulated engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Mutex<Inner>>,
    wake: Arc<Notify>,
    time_scale: f64,
    block_size: u64,
}

impl Engine {
    /// Starts the engine loop on the current tokio runtime; `time_scale` simulated seconds
    /// pass per real second.
    pub fn start(config: EngineConfig, time_scale: f64) -> Engine {
        let engine = Engine {
            inner: Arc::new(Mutex::new(Inner {
                scheduler: Scheduler::new(config.clone()),
                streams: HashMap::new(),
                next_id: 0,
            })),
            wake: Arc::new(Notify::new()),
            time_scale,
            block_size: config.block_size,
        };
        let looping = engine.clone();
        tokio::spawn(async move { looping.run().await });
        engine
    }

    /// Tokens per KV block: what the hashes given to [`Engine::submit`] cover.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// Queues a request whose context's shareable full blocks have these hashes (empty:
    /// nothing shared); its events arrive on the returned channel.
    pub async fn submit(
        &self,
        prompt_tokens: u64,
        max_tokens: u64,
        block_hashes: Vec<u64>,
    ) -> mpsc::UnboundedReceiver<EngineEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.inner.lock().await;
        let id = inner.next_id;
        inner.next_id += 1;
        inner.scheduler.submit_request(Request {
            id,
            prompt_tokens,
            max_tokens,
            block_hashes,
        });
        inner.streams.insert(id, tx);
        drop(inner);
        self.wake.notify_one();
        rx
    }

    /// The counters now.
    pub async fn metrics(&self) -> EngineMetrics {
        let inner = self.inner.lock().await;
        let c = inner.scheduler.counters();
        EngineMetrics {
            running: c.running,
            waiting: c.waiting,
            kv_cache_usage: c.used_blocks as f64 / inner.scheduler.config().kv_blocks.max(1) as f64,
            preemptions: c.preemptions,
            prompt_tokens: c.prompt_tokens,
            generation_tokens: c.generation_tokens,
            finished: c.finished,
            prefix_queried_tokens: c.prefix_queried_tokens,
            prefix_hit_tokens: c.prefix_hit_tokens,
        }
    }

    async fn run(self) {
        // When the step running now was planned to end: the next one ends its duration after
        // that, not after the moment the timer woke, so that the timer's rounding (up to a
        // millisecond a step) does not add up into a slower engine.
        let mut planned_end: Option<tokio::time::Instant> = None;
        loop {
            let seconds = {
                let mut inner = self.inner.lock().await;
                // Requests whose client went away free their blocks.
                let gone: Vec<u64> = inner
                    .streams
                    .iter()
                    .filter(|(_, tx)| tx.is_closed())
                    .map(|(id, _)| *id)
                    .collect();
                for id in gone {
                    inner.streams.remove(&id);
                    inner.scheduler.cancel(id);
                }
                inner.scheduler.plan()
            };
            let Some(seconds) = seconds else {
                planned_end = None;
                self.wake.notified().await;
                continue;
            };
            let now = tokio::time::Instant::now();
            // Catch up a late wake, but not a stall (a busy machine): then start afresh.
            let start = planned_end.filter(|end| now.duration_since(*end) < MAX_CATCH_UP);
            let end = start.unwrap_or(now) + Duration::from_secs_f64(seconds / self.time_scale);
            tokio::time::sleep_until(end).await;
            planned_end = Some(end);
            let mut inner = self.inner.lock().await;
            for (id, event) in inner.scheduler.finish() {
                let delivered = inner
                    .streams
                    .get(&id)
                    .is_some_and(|tx| tx.send(event).is_ok());
                if event == Event::Finished || !delivered {
                    inner.streams.remove(&id);
                    if !delivered && event == Event::Token {
                        inner.scheduler.cancel(id);
                    }
                }
            }
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
        let mut config = jauge::sim::engine_for(&r).unwrap();
        config.kv_blocks = kv_blocks;
        config.max_num_seqs = max_num_seqs;
        Engine::start(config, 1000.0)
    }

    async fn drain(mut rx: mpsc::UnboundedReceiver<EngineEvent>) -> u64 {
        let mut tokens = 0;
        while let Some(e) = rx.recv().await {
            match e {
                Event::Token => tokens += 1,
                Event::Finished => break,
            }
        }
        tokens
    }

    async fn run_all(e: &Engine, n: usize, prompt: u64, output: u64) -> Vec<u64> {
        let mut handles = Vec::new();
        for _ in 0..n {
            let rx = e.submit(prompt, output, Vec::new()).await;
            handles.push(tokio::spawn(drain(rx)));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn every_admitted_request_gets_all_its_tokens() {
        let e = engine(10_000, 8);
        assert!(run_all(&e, 20, 100, 30).await.iter().all(|t| *t == 30));
        let m = e.metrics().await;
        assert_eq!((m.running, m.waiting, m.finished), (0, 0, 20));
        assert_eq!(m.kv_cache_usage, 0.0);
    }

    /// 4 sequences of 100 + 60 tokens need 4 × 11 blocks; with 30 blocks some wait or are
    /// preempted, and all still finish.
    #[tokio::test]
    async fn a_small_cache_queues_and_preempts_but_finishes() {
        let e = engine(30, 8);
        assert!(run_all(&e, 4, 100, 60).await.iter().all(|t| *t == 60));
        assert_eq!(e.metrics().await.finished, 4);
    }
}
