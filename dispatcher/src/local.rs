//! Local mode: claim tasks from the store as room frees up, run them on the
//! runtime's executor, write outcomes back in batches, and keep the leases
//! of held tasks alive.

use crate::functions::{FunctionCache, LoadFailure};
use crate::outcome::ended;
use crate::recorder::{traced_now, Bookkeeping, Done, Held};
use faas_metrics::DispatcherMetrics;
use faas_protocol::pace::{self, Rate};
use faas_runtime::{Executor, Function, Invocation, Runtime, Ticket};
use faas_store::{Claim, Final, Report, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

/// Settings of a local dispatcher.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Invocations run at once.
    pub slots: usize,
    /// Fewest tasks claimed beyond the slots, so a slot never waits on a
    /// store round trip. Beyond it the claim-ahead follows the completion
    /// rate (see [`faas_protocol::pace`]).
    pub prefetch: usize,
    /// This dispatcher's name in the store (its consumer name).
    pub consumer: String,
    /// Longest wait for new work in one claim.
    pub claim_block: Duration,
    /// How often held tasks' leases are renewed (well within the lease).
    pub renew_every: Duration,
    /// Where it counts what it does (`--metrics-port`, `faas up`'s
    /// `/metrics`); None: not counted.
    pub metrics: Option<Arc<DispatcherMetrics>>,
}

impl LocalConfig {
    pub fn new(slots: usize) -> Self {
        LocalConfig {
            slots: slots.max(1),
            prefetch: 16,
            consumer: crate::consumer_name("local"),
            claim_block: Duration::from_secs(1),
            renew_every: Duration::from_secs(3),
            metrics: None,
        }
    }
}

/// How often the completion rate is sampled to size the window.
const PACE_EVERY: Duration = Duration::from_millis(50);
/// With the slots well fed, how long a claim waits for more room to free up
/// so that one round trip claims many tasks.
const GATHER: Duration = Duration::from_millis(1);

/// The claim-ahead window: `room` holds a permit per task this dispatcher
/// may hold at once (running, queued for a slot, or being recorded); it
/// grows and shrinks with the completion rate.
struct Window {
    room: Arc<Semaphore>,
    size: usize,
    /// Permits to take out of circulation as they come back (a shrink
    /// while they were held).
    owed: usize,
    slots: usize,
    min_ahead: usize,
    finished: Arc<AtomicU64>,
    rate: Rate,
}

impl Window {
    fn new(config: &LocalConfig) -> Self {
        let size = config.slots + config.prefetch;
        Window {
            room: Arc::new(Semaphore::new(size)),
            size,
            owed: 0,
            slots: config.slots,
            min_ahead: config.prefetch,
            finished: Arc::default(),
            rate: Rate::default(),
        }
    }

    /// Resizes to the recent completion rate, at most every PACE_EVERY.
    fn pace(&mut self) {
        if self.owed > 0 {
            self.owed -= self.room.forget_permits(self.owed);
        }
        let Some(rate) = self
            .rate
            .sample(self.finished.load(Ordering::Relaxed), PACE_EVERY)
        else {
            return;
        };
        let ahead = pace::ahead(rate, Duration::ZERO, self.min_ahead, pace::MAX_AHEAD);
        if self.slots + ahead != self.size {
            tracing::debug!(
                rate = rate as u64,
                window = self.slots + ahead,
                "claim-ahead window resized"
            );
        }
        self.resize(self.slots + ahead);
    }

    fn resize(&mut self, size: usize) {
        if size > self.size {
            let grow = size - self.size;
            let repaid = grow.min(self.owed);
            self.owed -= repaid;
            self.room.add_permits(grow - repaid);
        } else {
            let shrink = self.size - size;
            let forgotten = self.room.forget_permits(shrink);
            self.owed += shrink - forgotten;
        }
        self.size = size;
    }

    /// Whether the slots have enough queued to wait a moment for more room.
    fn fed(&self) -> bool {
        let held = self.size + self.owed - self.room.available_permits();
        self.size > self.slots + self.min_ahead && held > 2 * self.slots
    }
}

/// Runs until `shutdown` turns true, then stops claiming and waits for the
/// tasks it holds to finish and be recorded.
pub async fn run_local(
    store: Store,
    runtime: Runtime,
    config: LocalConfig,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let executor = Arc::new(Executor::new(runtime.clone(), config.slots)?);
    let functions = Arc::new(FunctionCache::new(store.clone(), runtime));
    let mut window = Window::new(&config);
    // Cancelled tasks are stopped through their tickets in `held`.
    let Bookkeeping {
        held,
        done: done_tx,
        recorder,
        renewer,
        stops: _,
        mut deleted,
        mut registered,
    } = Bookkeeping::start(
        &store,
        &config.consumer,
        config.renew_every,
        config.metrics.clone(),
    );
    // These end with the renewer, which holds the senders.
    {
        let functions = functions.clone();
        tokio::spawn(async move {
            while let Some(id) = deleted.recv().await {
                functions.forget(id);
            }
        });
    }
    {
        // Compiling off the task's path, one function at a time: a task
        // that arrives meanwhile waits for this compile, not another.
        let functions = functions.clone();
        tokio::spawn(async move {
            while let Some(id) = registered.recv().await {
                match functions.get(id).await {
                    Ok(_) => {
                        tracing::debug!(function = %id, "loaded a new function ahead of its tasks")
                    }
                    Err(LoadFailure::Final(why)) => {
                        tracing::debug!(function = %id, "a new function does not load: {why:?}")
                    }
                    Err(LoadFailure::Transient(why)) => tracing::debug!(function = %id, "{why}"),
                }
            }
        });
    }

    let starter = Starter {
        store: store.clone(),
        executor: executor.clone(),
        functions: functions.clone(),
        held: held.clone(),
        done: done_tx.clone(),
        finished: window.finished.clone(),
        name: config.consumer.as_str().into(),
    };
    // One claim at a time. Two in flight (as push and pull do) did not
    // raise no-op throughput measurably here and doubled the single-task
    // round trip (p50 0.5 -> 1.3 ms): with the queue empty both sat in
    // blocking reads.
    while !*shutdown.borrow() {
        window.pace();
        let first = tokio::select! {
            permit = window.room.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        if window.fed() {
            tokio::time::sleep(GATHER).await;
        }
        let mut permits = vec![first];
        while let Ok(p) = window.room.clone().try_acquire_owned() {
            permits.push(p);
        }
        starter
            .claim_and_start(&config.consumer, config.claim_block, permits)
            .await;
    }
    drop(starter);

    tracing::info!("dispatcher stopping: draining tasks in flight");
    // Every task in flight holds a sender: the recorder ends once the last
    // one is recorded.
    drop(done_tx);
    let _ = recorder.await;
    renewer.abort();
    tracing::info!("dispatcher stopped");
    Ok(())
}

/// What a claim needs to start the tasks it gets.
struct Starter {
    store: Store,
    executor: Arc<Executor>,
    functions: Arc<FunctionCache>,
    held: Held,
    done: mpsc::UnboundedSender<Done>,
    finished: Arc<AtomicU64>,
    /// This dispatcher's consumer name, for the tasks' usage.
    name: Arc<str>,
}

impl Starter {
    /// Claims a task per permit (fewer if fewer are queued) and starts each.
    async fn claim_and_start(
        &self,
        consumer: &str,
        block: Duration,
        mut permits: Vec<OwnedSemaphorePermit>,
    ) {
        let started = std::time::Instant::now();
        let claims = match self.store.claim(consumer, permits.len(), block).await {
            Ok(claims) => {
                let took_us = started.elapsed().as_micros() as u64;
                tracing::trace!(
                    asked = permits.len(),
                    got = claims.len(),
                    took_us,
                    "claimed"
                );
                claims
            }
            Err(e) => {
                tracing::warn!("cannot claim tasks: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                return;
            }
        };
        for claim in claims {
            let Some(permit) = permits.pop() else { break };
            let ticket = Ticket::new();
            self.held.insert_with(claim.clone(), Some(ticket.clone()));
            let (function_id, task_id) = (claim.function_id, claim.task_id);
            let finish = Finish {
                pending: Some((claim, permit)),
                done: self.done.clone(),
                finished: self.finished.clone(),
                ticket,
                dispatcher: self.name.clone(),
            };
            // The common case starts the task right here; a function not
            // loaded yet is fetched and compiled off this loop.
            match self.functions.cached(function_id) {
                Some(function) => start(&self.executor, function, finish),
                None => {
                    let (executor, functions) = (self.executor.clone(), self.functions.clone());
                    tokio::spawn(async move {
                        match functions.get(function_id).await {
                            Ok(function) => start(&executor, function, finish),
                            Err(LoadFailure::Final(failure)) => finish.record(Some(failure)),
                            Err(LoadFailure::Transient(why)) => {
                                tracing::warn!(task = %task_id, "not running the task now: {why}");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                finish.record(None);
                            }
                        }
                    });
                }
            }
        }
    }
}

/// What a started task needs to report its end. Dropped unrecorded (the
/// executor stopped before running the task), it records an internal
/// failure, so no claim is held and renewed forever.
struct Finish {
    /// The claim and its room in the window, until recorded.
    pending: Option<(Claim, OwnedSemaphorePermit)>,
    done: mpsc::UnboundedSender<Done>,
    finished: Arc<AtomicU64>,
    /// Stops the invocation if the task is cancelled.
    ticket: Ticket,
    /// This dispatcher's consumer name, for the task's usage.
    dispatcher: Arc<str>,
}

impl Finish {
    /// Hands the outcome to the recorder (None: never started, queue it
    /// again uncounted); the room frees once it is recorded.
    fn record(mut self, outcome: Option<Final>) {
        self.send(outcome, Report::default());
    }

    /// Hands a run's end to the recorder, with its log and usage.
    fn record_run(mut self, invocation: Invocation, slot: usize) {
        let executor = format!("dispatcher {} slot {slot}", self.dispatcher);
        let (outcome, report) = ended(invocation, executor);
        self.send(Some(outcome), report);
    }

    fn send(&mut self, outcome: Option<Final>, report: Report) {
        if let Some((claim, permit)) = self.pending.take() {
            self.finished.fetch_add(1, Ordering::Relaxed);
            let _ = self.done.send(Done {
                claim,
                outcome,
                report,
                room: Some(permit),
                ended: traced_now(),
            });
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.send(
            Some(Final::Failed {
                kind: "internal".into(),
                message: "the executor stopped before running the task".into(),
            }),
            Report::default(),
        );
    }
}

/// Queues the task on the executor; its outcome goes straight from the slot
/// thread to the recorder (no task of its own, no hop through this loop).
fn start(executor: &Executor, function: Function, finish: Finish) {
    let Some((claim, _)) = &finish.pending else {
        return;
    };
    let args = match function.parse_args(&claim.payload) {
        Ok(args) => args,
        Err(e) => {
            return finish.record(Some(Final::Failed {
                kind: "bad_arguments".into(),
                message: e.to_string(),
            }))
        }
    };
    // If the executor is closed, the closure (and `finish` in it) is
    // dropped, which records the failure.
    let ticket = finish.ticket.clone();
    let _ = executor.submit_with_ticket(function, args, None, ticket, move |invocation, slot| {
        finish.record_run(invocation, slot)
    });
}
