//! Drives one step's load: a closed loop of N users, or an open loop at a rate with
//! absolute-deadline pacing. Each request's record goes over a channel to the caller, which
//! owns the step's results; the progress bar only reads counts.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jauge::pacing::{Gaps, Pacing};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::client::{self, RequestSlot, Target};
use crate::h1::Connection;
use crate::record::RequestRecord;

/// How many requests a step sends, or for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepBound {
    /// Exactly this many requests.
    Requests(u32),
    /// Send for this long, then wait for those in flight.
    Duration(Duration),
}

/// One step's load.
#[derive(Debug, Clone)]
pub struct StepLoad {
    /// Users (closed loop) or most requests in flight (open loop).
    pub concurrency: u32,
    /// Prompt tokens asked for.
    pub prompt_tokens: u32,
    /// Output tokens asked for.
    pub output_tokens: u32,
    /// When to stop sending.
    pub bound: StepBound,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// Records are flagged warm-up.
    pub warmup: bool,
    /// Seed of the arrival gaps.
    pub seed: u64,
}

/// The records of a step, and whether it was cut short by an interruption.
pub struct StepRun {
    /// Every request's record, in completion order.
    pub records: Vec<RequestRecord>,
    /// Ctrl-C came before the step finished.
    pub interrupted: bool,
}

/// Runs a step. `bodies` (one request body per prompt) are used in turn (cycled when the step
/// outlasts them);
/// `on_record` sees each record as it completes (progress, JSONL).
pub async fn run_step(
    http: &reqwest::Client,
    target: &Target,
    load: &StepLoad,
    bodies: Arc<Vec<Bytes>>,
    cancel: &watch::Receiver<bool>,
    on_record: impl FnMut(&RequestRecord),
) -> StepRun {
    let clock = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let issued = Arc::new(AtomicU32::new(0));
    let deadline = match load.bound {
        StepBound::Duration(d) => Some(clock + d),
        StepBound::Requests(_) => None,
    };
    let limit = match load.bound {
        StepBound::Requests(n) => n,
        StepBound::Duration(_) => u32::MAX,
    };
    let (concurrency, prompt_tokens, output_tokens, warmup) = (
        load.concurrency,
        load.prompt_tokens,
        load.output_tokens,
        load.warmup,
    );
    // Captures only Copy values, so every task gets its own copy.
    let slot = move |index: u32, intended: Instant| RequestSlot {
        concurrency,
        prompt_tokens,
        output_tokens,
        index,
        warmup,
        intended,
        keep_answer: false,
    };
    match load.pacing {
        Pacing::Closed => {
            // Closed loop: each user sends its next request when the last one ends, so the
            // intended start is the actual one.
            for _ in 0..load.concurrency.max(1) {
                let (http, target, bodies, tx, issued) = (
                    http.clone(),
                    target.clone(),
                    bodies.clone(),
                    tx.clone(),
                    issued.clone(),
                );
                tasks.spawn(async move {
                    // The user's own connection, kept across its requests.
                    let mut connection = take_idle();
                    loop {
                        let index = issued.fetch_add(1, Ordering::Relaxed);
                        if index >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                            break;
                        }
                        let body = &bodies[index as usize % bodies.len()];
                        let record = client::send_on(
                            &mut connection,
                            &http,
                            &target,
                            body,
                            slot(index, Instant::now()),
                            clock,
                        )
                        .await;
                        if tx.send(record).is_err() {
                            break;
                        }
                    }
                    give_back(connection);
                });
            }
        }
        open @ Pacing::Open { .. } => {
            // Open loop: requests are due at absolute times, drawn as the simulator draws
            // them; a late send (all slots busy) keeps its due time as the intended start, so
            // queueing shows in the latency.
            let slots = Arc::new(Semaphore::new(load.concurrency.max(1) as usize));
            let (http, target, bodies, tx) =
                (http.clone(), target.clone(), bodies.clone(), tx.clone());
            let seed = load.seed;
            tasks.spawn(async move {
                let mut gaps = Gaps::new(open, seed);
                let mut senders = JoinSet::new();
                for index in 0..limit {
                    let due = clock + Duration::from_secs_f64(gaps.next_due());
                    if deadline.is_some_and(|d| due >= d) {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        break;
                    };
                    let (http, target, bodies, tx) =
                        (http.clone(), target.clone(), bodies.clone(), tx.clone());
                    let intended = due;
                    senders.spawn(async move {
                        let body = &bodies[index as usize % bodies.len()];
                        let mut connection = take_idle();
                        let record = client::send_on(
                            &mut connection,
                            &http,
                            &target,
                            body,
                            slot(index, intended),
                            clock,
                        )
                        .await;
                        give_back(connection);
                        drop(permit);
                        let _ = tx.send(record);
                    });
                }
                while senders.join_next().await.is_some() {}
            });
        }
    }
    drop(tx);
    collect(rx, tasks, cancel, on_record).await
}

/// Gathers the records the step's tasks send until they are all done, or until Ctrl-C (then
/// the tasks are stopped and the step is marked interrupted).
pub(crate) async fn collect(
    mut rx: mpsc::UnboundedReceiver<RequestRecord>,
    mut tasks: JoinSet<()>,
    cancel: &watch::Receiver<bool>,
    mut on_record: impl FnMut(&RequestRecord),
) -> StepRun {
    let mut cancel = cancel.clone();
    let mut records = Vec::new();
    loop {
        tokio::select! {
            record = rx.recv() => match record {
                Some(r) => {
                    on_record(&r);
                    records.push(r);
                }
                None => break,
            },
            _ = cancel.changed() => {
                if *cancel.borrow() {
                    tasks.abort_all();
                    return StepRun { records, interrupted: true };
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    StepRun {
        records,
        interrupted: false,
    }
}

/// Connections between requests: a closed-loop user takes one when it starts and gives it
/// back when it stops, an open-loop sender for each request, so the next step's users start
/// on open connections rather than opening thousands at once (a burst past the server's
/// listen backlog, whose dropped handshakes are retried a second later).
static IDLE: Mutex<Vec<Connection>> = Mutex::new(Vec::new());

/// An idle connection (checked before use: [`Connection::post`]), or a new one.
pub(crate) fn take_idle() -> Connection {
    // A poisoned lock only means a panic elsewhere; the list itself is still whole.
    let taken = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    taken.unwrap_or_default()
}

pub(crate) fn give_back(connection: Connection) {
    if connection.is_open() {
        IDLE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(connection);
    }
}
