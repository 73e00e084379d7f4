//! Shared by every dispatch mode: writing ended attempts to the store in
//! batches, and renewing the leases of the tasks a dispatcher holds.

use faas_metrics::DispatcherMetrics;
use faas_runtime::Ticket;
use faas_store::{now_ms, Claim, Final, FunctionId, Notice, Report, Store, StoreError, TaskId};
use faas_traces::{Attribute, Span, Step};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// The claims a dispatcher holds (running or about to run), whose leases it
/// keeps alive; in local mode with the ticket that stops each one.
#[derive(Clone, Default)]
pub struct Held {
    claims: Arc<Mutex<HashMap<TaskId, HeldClaim>>>,
    /// Counts what is held (`faas_tasks_running`) and each claim's wait.
    metrics: Option<Arc<DispatcherMetrics>>,
}

/// A held claim, the ticket of its invocation (local mode), and when it
/// was claimed (when traces are exported).
type HeldClaim = (Claim, Option<Ticket>, Option<SystemTime>);

/// Now, if traces are exported (else no clock is read).
pub fn traced_now() -> Option<SystemTime> {
    faas_traces::exporter().map(|_| SystemTime::now())
}

impl Held {
    pub fn new(metrics: Option<Arc<DispatcherMetrics>>) -> Self {
        Held {
            claims: Arc::default(),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TaskId, HeldClaim>> {
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, held: usize) {
        if let Some(m) = &self.metrics {
            m.running.set(held as i64);
        }
    }

    /// Holds `claim`, unless a later attempt of the same task is held.
    pub fn insert(&self, claim: Claim) {
        self.insert_with(claim, None);
    }

    /// `insert`, with the ticket of its invocation.
    pub fn insert_with(&self, claim: Claim, ticket: Option<Ticket>) {
        let mut held = self.lock();
        if held
            .get(&claim.task_id)
            .is_some_and(|(h, ..)| h.attempt > claim.attempt)
        {
            return;
        }
        if let (Some(m), true) = (&self.metrics, claim.queued_at_ms > 0) {
            let waited_ms = now_ms().saturating_sub(claim.queued_at_ms);
            m.queue_wait_seconds.observe(waited_ms as f64 / 1e3);
        }
        held.insert(claim.task_id, (claim, ticket, traced_now()));
        self.count(held.len());
    }

    /// Stops holding `claim`: only that attempt (same attempt and receipt),
    /// never a newer claim of the same task.
    pub fn remove(&self, claim: &Claim) {
        let mut held = self.lock();
        if held
            .get(&claim.task_id)
            .is_some_and(|(h, ..)| h.attempt == claim.attempt && h.receipt == claim.receipt)
        {
            held.remove(&claim.task_id);
        }
        self.count(held.len());
    }

    pub fn all(&self) -> Vec<Claim> {
        self.lock().values().map(|(c, ..)| c.clone()).collect()
    }

    /// Whether this dispatcher holds (claimed, not yet ended) the task.
    pub fn holds(&self, task: &TaskId) -> bool {
        self.lock().contains_key(task)
    }

    /// Of `tasks`, those held here; stops the invocations of those with a
    /// ticket.
    pub fn stop(&self, tasks: &[TaskId]) -> Vec<TaskId> {
        let held = self.lock();
        tasks
            .iter()
            .filter(|id| match held.get(id) {
                Some((_, ticket, _)) => {
                    if let Some(ticket) = ticket {
                        ticket.stop();
                    }
                    true
                }
                None => false,
            })
            .copied()
            .collect()
    }

    /// When this attempt of the task was claimed, if traces are exported.
    pub fn claimed_at(&self, claim: &Claim) -> Option<SystemTime> {
        self.lock()
            .get(&claim.task_id)
            .filter(|(h, ..)| h.attempt == claim.attempt)
            .and_then(|(.., at)| *at)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// An ended attempt on its way to the store. `outcome: None` means it never
/// started and goes back to the queue uncounted. `room`, if any, is freed
/// once the outcome is recorded.
pub struct Done {
    pub claim: Claim,
    pub outcome: Option<Final>,
    /// The guest's log and usage, kept with the task.
    pub report: Report,
    pub room: Option<OwnedSemaphorePermit>,
    /// When it ended here (when traces are exported).
    pub ended: Option<SystemTime>,
}

/// A batch this large means the platform is busy: the next one gathers
/// for GATHER first.
const BUSY: usize = 16;
const GATHER: Duration = Duration::from_millis(1);
/// Batches on their way to the store at once.
const WRITES_IN_FLIGHT: usize = 2;

/// Writes ended attempts to the store, as many per round trip as have
/// piled up. Retries while the store is unreachable: a result is not dropped
/// because Redis blinked. If it never comes back, the leases lapse and the
/// tasks run again (at-least-once).
pub async fn record_outcomes(
    store: Store,
    held: Held,
    mut done: mpsc::UnboundedReceiver<Done>,
    metrics: Option<Arc<DispatcherMetrics>>,
) {
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    let mut busy = false;
    let writers = Arc::new(tokio::sync::Semaphore::new(WRITES_IN_FLIGHT));
    let mut in_flight = tokio::task::JoinSet::new();
    while done.recv_many(&mut batch, BATCH).await > 0 {
        if busy && batch.len() < BATCH {
            // Under load, let outcomes gather a moment: one store call per
            // many tasks. A lone outcome (an idle platform) goes at once.
            tokio::time::sleep(GATHER).await;
            while batch.len() < BATCH {
                match done.try_recv() {
                    Ok(d) => batch.push(d),
                    Err(_) => break,
                }
            }
        }
        busy = batch.len() >= BUSY;
        let (finished, unstarted): (Vec<_>, Vec<_>) =
            batch.drain(..).partition(|d| d.outcome.is_some());
        // While one batch is on its way to the store, the next gathers and
        // goes too: writes of different tasks do not depend on each other.
        let Ok(writer) = writers.clone().acquire_owned().await else {
            break;
        };
        let (store, held, metrics) = (store.clone(), held.clone(), metrics.clone());
        in_flight.spawn(async move {
            let mut finished = finished;
            for d in &unstarted {
                // Hand it back; if that fails too, its lease lapses.
                let _ = store.release(&d.claim).await;
            }
            // Moved, not copied: the claims stay for `held.remove` below.
            let writes: Vec<(Claim, Final, Report)> = finished
                .iter_mut()
                .filter_map(|d| {
                    let outcome = d.outcome.take()?;
                    Some((d.claim.clone(), outcome, std::mem::take(&mut d.report)))
                })
                .collect();
            let started = std::time::Instant::now();
            let write_from = traced_now();
            write_with_retry(&store, &writes, metrics.as_deref()).await;
            if let Some(from) = write_from {
                trace_attempts(&held, &finished, &writes, from);
            }
            tracing::trace!(
                tasks = writes.len(),
                took_us = started.elapsed().as_micros() as u64,
                "recorded"
            );
            if let Some(m) = &metrics {
                m.store_seconds
                    .with_label_values(&["finish"])
                    .observe(started.elapsed().as_secs_f64());
                observe_ended(m, &writes);
            }
            for d in finished.iter().chain(&unstarted) {
                held.remove(&d.claim);
            }
            drop(writer);
            // Dropping the batch frees its room for new claims.
        });
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
}

/// Reports each attempt's spans: claimed to recorded, the store's write,
/// and (local mode) the guest's call; a worker reports its own.
fn trace_attempts(
    held: &Held,
    finished: &[Done],
    writes: &[(Claim, Final, Report)],
    from: SystemTime,
) {
    let Some(exporter) = faas_traces::exporter() else {
        return;
    };
    let end = SystemTime::now();
    for (done, (claim, outcome, report)) in finished.iter().zip(writes) {
        let (task, attempt) = (claim.task_id, claim.attempt);
        let executor = report.usage.as_ref().map_or("", |u| u.executor.as_str());
        let mut attributes = vec![
            Attribute::new("faas.function_id", claim.function_id.to_string()),
            Attribute::new("faas.status", outcome.status().as_str()),
            Attribute::new("faas.executor", executor.to_string()),
        ];
        if let Some(kind) = outcome.kind() {
            attributes.push(Attribute::new("faas.failure_kind", kind.to_string()));
        }
        let error = match outcome {
            Final::Failed { message, .. } => Some(message.clone()),
            Final::Completed(_) => None,
        };
        exporter.report(Span {
            task,
            attempt,
            step: Step::Attempt,
            parent: Some((0, Step::Submit)),
            start: held.claimed_at(claim).unwrap_or(from),
            end,
            attributes,
            error: error.clone(),
        });
        exporter.report(Span {
            task,
            attempt,
            step: Step::StoreFinish,
            parent: Some((attempt, Step::Attempt)),
            start: from,
            end,
            attributes: Vec::new(),
            error: None,
        });
        if let (Some(usage), Some(ended)) = (&report.usage, done.ended) {
            if usage.executor.starts_with("dispatcher ") {
                exporter.report(Span {
                    task,
                    attempt,
                    step: Step::Guest,
                    parent: Some((attempt, Step::Attempt)),
                    start: ended
                        .checked_sub(Duration::from_micros(usage.run_us))
                        .unwrap_or(ended),
                    end: ended,
                    attributes: vec![
                        Attribute::new("faas.peak_memory_bytes", usage.peak_memory_bytes as i64),
                        Attribute::new("faas.output_bytes", usage.output_bytes as i64),
                    ],
                    error,
                });
            }
        }
    }
}

/// Counts recorded final states (a batch's counts by function, status and
/// kind at once), their runs and their latency.
fn observe_ended(metrics: &DispatcherMetrics, writes: &[(Claim, Final, Report)]) {
    let now = now_ms();
    let mut counts: HashMap<(FunctionId, &str, &str), u64> = HashMap::new();
    for (claim, outcome, report) in writes {
        let key = (
            claim.function_id,
            outcome.status().as_str(),
            outcome.kind().unwrap_or(""),
        );
        *counts.entry(key).or_default() += 1;
        if let Some(usage) = &report.usage {
            metrics.run_seconds.observe(usage.run_us as f64 / 1e6);
        }
        if claim.queued_at_ms > 0 {
            let ms = now.saturating_sub(claim.queued_at_ms);
            metrics.latency_seconds.observe(ms as f64 / 1e3);
        }
    }
    for ((function, status, kind), n) in counts {
        metrics.finished(function, status, kind, n);
    }
}

async fn write_with_retry(
    store: &Store,
    writes: &[(Claim, Final, Report)],
    metrics: Option<&DispatcherMetrics>,
) {
    let mut delay = Duration::from_millis(100);
    for _ in 0..60 {
        match store.finish_many(writes).await {
            Ok(applied) => {
                let stale = applied.iter().filter(|a| !**a).count();
                if stale > 0 {
                    tracing::info!(
                        stale,
                        "results dropped: those tasks ended elsewhere or were re-run"
                    );
                }
                return;
            }
            Err(StoreError::Corrupt(e)) => {
                tracing::error!("cannot record results: {e}");
                return;
            }
            Err(e) => {
                if let Some(m) = metrics {
                    m.store_errors.with_label_values(&["finish"]).inc();
                }
                tracing::warn!("cannot record {} results yet: {e}", writes.len());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// What every dispatch mode runs beside its loop: the held claims, the
/// recorder fed by `done`, the lease renewer, and the tasks to stop.
pub struct Bookkeeping {
    pub held: Held,
    pub done: mpsc::UnboundedSender<Done>,
    pub recorder: tokio::task::JoinHandle<()>,
    /// Renews leases and listens for cancellations; abort it to stop.
    pub renewer: tokio::task::JoinHandle<()>,
    /// Held tasks that were cancelled (or ended elsewhere): local mode's
    /// tickets are already stopped; remote modes tell their workers.
    pub stops: mpsc::UnboundedReceiver<Vec<TaskId>>,
    /// Functions deleted: drop what is cached of them.
    pub deleted: mpsc::UnboundedReceiver<FunctionId>,
    /// Functions registered: local mode compiles them ahead of their first
    /// task (remote modes drop this: their workers get a module with its
    /// first task).
    pub registered: mpsc::UnboundedReceiver<FunctionId>,
}

impl Bookkeeping {
    pub fn start(
        store: &Store,
        consumer: &str,
        renew_every: Duration,
        metrics: Option<Arc<DispatcherMetrics>>,
    ) -> Self {
        let held = Held::new(metrics.clone());
        let (done, done_rx) = mpsc::unbounded_channel();
        let (stop_tx, stops) = mpsc::unbounded_channel();
        let (deleted_tx, deleted) = mpsc::unbounded_channel();
        let (registered_tx, registered) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record_outcomes(
            store.clone(),
            held.clone(),
            done_rx,
            metrics,
        ));
        let renewer = tokio::spawn(renew_leases(
            store.clone(),
            consumer.to_string(),
            renew_every,
            held.clone(),
            Told {
                stops: stop_tx,
                deleted: deleted_tx,
                registered: registered_tx,
            },
        ));
        Bookkeeping {
            held,
            done,
            recorder,
            renewer,
            stops,
            deleted,
            registered,
        }
    }
}

/// Where the renewer passes on what the store tells it.
pub struct Told {
    pub stops: mpsc::UnboundedSender<Vec<TaskId>>,
    pub deleted: mpsc::UnboundedSender<FunctionId>,
    pub registered: mpsc::UnboundedSender<FunctionId>,
}

/// How often the queue is trimmed of ended tasks' entries, and the records
/// past their retention deleted.
const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Renews the leases of everything in `held` every `every`, trims the
/// queue and sweeps expired records every TRIM_EVERY, and stops the held
/// tasks the store says to stop (cancelled: at once from its notices, or
/// at the next renewal if a notice was missed), and passes on deleted
/// functions, forever (abort the task to stop).
pub async fn renew_leases(store: Store, consumer: String, every: Duration, held: Held, told: Told) {
    let mut renew = tokio::time::interval(every);
    let mut trim = tokio::time::interval(TRIM_EVERY);
    trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut notices = store.notices().await;
    let stop = |ids: &[TaskId]| {
        let ours = held.stop(ids);
        if !ours.is_empty() {
            tracing::info!(tasks = ours.len(), "stopping cancelled tasks");
            let _ = told.stops.send(ours);
        }
    };
    loop {
        tokio::select! {
            Some(notice) = notices.recv() => match notice {
                Notice::Stop(ids) => stop(&ids),
                Notice::FunctionDeleted(id) => {
                    let _ = told.deleted.send(id);
                }
                Notice::FunctionRegistered(id) => {
                    let _ = told.registered.send(id);
                }
            },
            _ = renew.tick() => {
                let claims = held.all();
                match store.renew(&consumer, &claims).await {
                    Ok(ended) => stop(&ended),
                    Err(e) => tracing::warn!("cannot renew leases: {e}"),
                }
            }
            _ = trim.tick() => {
                if let Err(e) = store.trim_queue().await {
                    tracing::debug!("cannot trim the task queue: {e}");
                }
                if let Err(e) = store.sweep_expired().await {
                    tracing::debug!("cannot delete expired task records: {e}");
                }
            }
        }
    }
}
