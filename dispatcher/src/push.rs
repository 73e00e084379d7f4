//! Push mode: a ROUTER that registers workers, pushes each claimed task to
//! the least-loaded live worker with a free slot, records results, and
//! re-queues the tasks of workers whose heartbeats stop.
//!
//! One async task (the scheduler) owns all worker state; the ZeroMQ thread
//! (`router.rs`), the claimer and the recorder talk to it over channels.

use crate::recorder::{Bookkeeping, Done, Held};
use crate::router::{self, hex_id, Identity, Inbound, Outbox};
use faas_protocol::{DispatcherMessage, FunctionInfo, ResultMessage, TaskMessage, TaskRef, WorkerMessage};
use faas_store::{Claim, Final, FunctionId, Store, TaskId};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Most slots one worker may announce.
const MAX_SLOTS_PER_WORKER: usize = 1024;

/// Settings of a push dispatcher.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Where the ROUTER binds, e.g. `tcp://*:7001`.
    pub endpoint: String,
    /// How often workers send heartbeats (told to them in WELCOME).
    pub heartbeat_interval: Duration,
    /// A worker silent this long is dead and its tasks are queued again.
    pub heartbeat_timeout: Duration,
    /// This dispatcher's name in the store.
    pub consumer: String,
    /// Longest wait for new work in one claim.
    pub claim_block: Duration,
    /// How often held tasks' leases are renewed.
    pub renew_every: Duration,
    /// Tasks sent to a worker beyond its slots, per slot, so a slot that
    /// frees up starts the next task without a round trip to the dispatcher.
    pub prefetch_per_slot: usize,
}

impl PushConfig {
    pub fn new(port: u16) -> Self {
        PushConfig {
            endpoint: format!("tcp://*:{port}"),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            consumer: format!("push-{}", uuid::Uuid::new_v4()),
            claim_block: Duration::from_secs(1),
            renew_every: Duration::from_secs(3),
            prefetch_per_slot: 4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("cannot listen on {endpoint}: {source}")]
    Bind { endpoint: String, source: zmq::Error },
}

struct Worker {
    name: String,
    slots: usize,
    /// Most tasks held at once: slots plus prefetch.
    capacity: usize,
    running: HashMap<TaskId, Claim>,
    /// Functions whose module this worker has been sent.
    functions: HashSet<FunctionId>,
    last_seen: Instant,
    draining: bool,
    /// Results received from it.
    completed: u64,
    /// When each held task was sent, to tell a task the worker lost from
    /// one still on its way.
    sent_at: HashMap<TaskId, Instant>,
}

impl Worker {
    fn free(&self) -> usize {
        if self.draining {
            0
        } else {
            self.capacity.saturating_sub(self.running.len())
        }
    }
}

/// Runs until `shutdown` turns true. On shutdown it stops taking work,
/// hands back tasks not yet sent, and waits (up to 30 s) for the workers'
/// results of the tasks they run.
pub async fn run_push(store: Store, config: PushConfig, shutdown: watch::Receiver<bool>) -> Result<(), PushError> {
    let (router, outbox, inbound) = router::start(&config.endpoint).map_err(|source| PushError::Bind {
        endpoint: config.endpoint.clone(),
        source,
    })?;
    tracing::info!(
        "faas dispatcher ready: mode push, listening on {}, {}",
        config.endpoint,
        store.describe()
    );
    let Bookkeeping {
        held,
        done: done_tx,
        recorder,
        renewer,
    } = Bookkeeping::start(&store, &config.consumer, config.renew_every);
    let (want_tx, want_rx) = mpsc::unbounded_channel();
    let (claims_tx, claims_rx) = mpsc::unbounded_channel();
    let claimer = tokio::spawn(claimer(store.clone(), config.clone(), want_rx, claims_tx));

    let mut scheduler = Scheduler {
        store,
        config,
        outbox,
        held,
        done: done_tx,
        workers: HashMap::new(),
        pending: VecDeque::new(),
        functions: HashMap::new(),
        claiming: false,
        want: want_tx,
        turn: 0,
    };
    scheduler.run(inbound, claims_rx, shutdown).await;

    claimer.abort();
    drop(scheduler);
    let _ = recorder.await;
    renewer.abort();
    drop(router);
    tracing::info!("dispatcher stopped");
    Ok(())
}

/// Claims on request, so that at most one claim is outstanding and the
/// scheduler never holds more than its workers can start.
async fn claimer(
    store: Store,
    config: PushConfig,
    mut want: mpsc::UnboundedReceiver<usize>,
    claims: mpsc::UnboundedSender<Vec<Claim>>,
) {
    while let Some(n) = want.recv().await {
        let got = match store.claim(&config.consumer, n, config.claim_block).await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!("cannot claim tasks: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                Vec::new()
            }
        };
        if claims.send(got).is_err() {
            return;
        }
    }
}

struct Scheduler {
    store: Store,
    config: PushConfig,
    outbox: Outbox,
    held: Held,
    done: mpsc::UnboundedSender<Done>,
    workers: HashMap<Identity, Worker>,
    /// Claimed, not yet sent to a worker.
    pending: VecDeque<Claim>,
    functions: HashMap<FunctionId, (FunctionInfo, Arc<Vec<u8>>)>,
    claiming: bool,
    want: mpsc::UnboundedSender<usize>,
    /// Round-robin start for ties between equally loaded workers.
    turn: usize,
}

impl Scheduler {
    async fn run(
        &mut self,
        mut inbound: mpsc::UnboundedReceiver<Inbound>,
        mut claims: mpsc::UnboundedReceiver<Vec<Claim>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                Some(msg) = inbound.recv() => self.handle(msg.from, msg.message).await,
                Some(got) = claims.recv() => {
                    self.claiming = false;
                    for claim in got {
                        self.held.insert(claim.clone());
                        self.pending.push_back(claim);
                    }
                }
                _ = tick.tick() => {
                    // Messages that queued up while this loop was busy (a slow
                    // store) prove their senders alive: count them first.
                    while let Ok(msg) = inbound.try_recv() {
                        self.handle(msg.from, msg.message).await;
                    }
                    self.reap_dead();
                    self.release_excess();
                    ticks += 1;
                    if ticks % 5 == 1 {
                        self.publish_workers();
                    }
                }
                _ = shutdown.changed() => break,
            }
            self.assign().await;
            self.request_work();
        }
        self.drain(inbound, claims).await;
    }

    async fn drain(&mut self, mut inbound: mpsc::UnboundedReceiver<Inbound>, mut claims: mpsc::UnboundedReceiver<Vec<Claim>>) {
        tracing::info!("dispatcher stopping: handing back unsent tasks, waiting for running ones");
        // A claim under way has already marked its tasks RUNNING: take it
        // and hand those back too.
        if self.claiming {
            let wait = self.config.claim_block + Duration::from_secs(3);
            if let Ok(Some(got)) = tokio::time::timeout(wait, claims.recv()).await {
                self.pending.extend(got);
            }
            self.claiming = false;
        }
        for claim in self.pending.drain(..) {
            self.held.remove(&claim);
            let _ = self.done.send(Done {
                claim,
                outcome: None,
                room: None,
            });
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.workers.values().any(|w| !w.running.is_empty()) {
            match tokio::time::timeout_at(deadline, inbound.recv()).await {
                Ok(Some(msg)) => self.handle(msg.from, msg.message).await,
                _ => break,
            }
        }
    }

    /// Publishes the live workers to the store (for `GET /workers`).
    fn publish_workers(&self) {
        let list: Vec<Value> = self
            .workers
            .iter()
            .map(|(id, w)| {
                serde_json::json!({
                    "id": hex_id(id),
                    "name": w.name,
                    "slots": w.slots,
                    "running": w.running.len(),
                    "completed": w.completed,
                    "draining": w.draining,
                    "last_heartbeat_ms_ago": w.last_seen.elapsed().as_millis() as u64,
                    "dispatcher": self.config.consumer,
                    "mode": "push",
                })
            })
            .collect();
        let store = self.store.clone();
        let consumer = self.config.consumer.clone();
        tokio::spawn(async move {
            if let Err(e) = store.publish_workers(&consumer, &Value::Array(list), Duration::from_secs(3)).await {
                tracing::debug!("cannot publish workers: {e}");
            }
        });
    }

    fn request_work(&mut self) {
        if self.claiming {
            return;
        }
        let free: usize = self.workers.values().map(Worker::free).sum();
        let wanted = free.saturating_sub(self.pending.len());
        if wanted > 0 && self.want.send(wanted).is_ok() {
            self.claiming = true;
        }
    }

    async fn handle(&mut self, from: Identity, message: WorkerMessage) {
        if let Some(worker) = self.workers.get_mut(&from) {
            worker.last_seen = Instant::now();
        }
        match message {
            WorkerMessage::Register { worker, slots, running } => self.register(from, worker, slots, running),
            WorkerMessage::Heartbeat { .. } => {
                if !self.workers.contains_key(&from) {
                    self.outbox.send(&from, &DispatcherMessage::Reregister);
                }
            }
            WorkerMessage::Result(result) => self.result(from, result),
            WorkerMessage::NeedModule { task, function_id } => self.resend_with_module(from, task, function_id).await,
            WorkerMessage::Bye { returned } => self.bye(from, returned),
        }
    }

    fn register(&mut self, from: Identity, name: String, slots: u32, running: Vec<TaskRef>) {
        let known = self.workers.contains_key(&from);
        let worker = self.workers.entry(from.clone()).or_insert_with(|| Worker {
            name: name.clone(),
            slots: 0,
            capacity: 0,
            running: HashMap::new(),
            functions: HashSet::new(),
            last_seen: Instant::now(),
            draining: false,
            completed: 0,
            sent_at: HashMap::new(),
        });
        worker.name = name;
        // A worker's word sets how much this dispatcher claims for it: bound it.
        worker.slots = (slots as usize).clamp(1, MAX_SLOTS_PER_WORKER);
        worker.capacity = worker.slots * (1 + self.config.prefetch_per_slot);
        worker.draining = false;
        // Tasks we think it holds but it does not list (a TASK lost on a
        // broken connection, say), sent long enough ago not to be in
        // flight, go back to the queue: nothing may stay RUNNING unseen.
        let listed: HashSet<TaskId> = running.iter().map(|t| t.task_id).collect();
        let grace = self.config.heartbeat_interval * 2;
        let lost: Vec<TaskId> = worker
            .running
            .keys()
            .filter(|id| !listed.contains(id))
            .filter(|id| worker.sent_at.get(id).is_none_or(|t| t.elapsed() > grace))
            .copied()
            .collect();
        for id in lost {
            worker.sent_at.remove(&id);
            if let Some(claim) = worker.running.remove(&id) {
                tracing::warn!(task = %id, worker = %worker.name, "the worker does not hold a task sent to it; queueing it again");
                self.held.remove(&claim);
                let store = self.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.requeue(&claim).await {
                        tracing::warn!(task = %claim.task_id, "cannot re-queue (its lease will lapse instead): {e}");
                    }
                });
            }
        }
        let still_held: HashSet<TaskId> = worker.running.keys().copied().collect();
        worker.sent_at.retain(|id, _| still_held.contains(id));
        // Tasks it still runs from before a dispatcher restart: count them
        // against its slots and keep their leases alive.
        for task in running {
            let claim = worker
                .running
                .entry(task.task_id)
                .or_insert_with(|| claim_from_ref(&task))
                .clone();
            self.held.insert(claim);
        }
        // Idle workers re-send REGISTER as a ping: log only the first one.
        if known {
            tracing::debug!(worker = %worker.name, "worker registered again");
        } else {
            tracing::info!(
                worker = %worker.name,
                id = %hex_id(&from),
                slots = worker.slots,
                running = worker.running.len(),
                "worker registered"
            );
        }
        self.outbox.send(
            &from,
            &DispatcherMessage::Welcome {
                heartbeat_ms: self.config.heartbeat_interval.as_millis() as u64,
            },
        );
    }

    /// Forgets a worker that said BYE once it has nothing left running.
    fn forget_if_gone(&mut self, from: &Identity) {
        if self.workers.get(from).is_some_and(|w| w.draining && w.running.is_empty()) {
            if let Some(w) = self.workers.remove(from) {
                tracing::info!(worker = %w.name, "worker left");
            }
        }
    }

    fn result(&mut self, from: Identity, result: ResultMessage) {
        let claim = match self.workers.get_mut(&from) {
            Some(worker) => {
                worker.completed += 1;
                take_attempt(&mut worker.running, &result.task)
            }
            None => {
                self.outbox.send(&from, &DispatcherMessage::Reregister);
                None
            }
        }
        .unwrap_or_else(|| claim_from_ref(&result.task));
        self.held.remove(&claim);
        let outcome = match result.status.as_str() {
            "COMPLETED" => Final::Completed(result.result),
            _ => Final::Failed {
                kind: result.kind.unwrap_or_else(|| "failed".into()),
                message: match result.result {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            },
        };
        let _ = self.done.send(Done {
            claim,
            outcome: Some(outcome),
            room: None,
        });
        self.forget_if_gone(&from);
    }

    async fn resend_with_module(&mut self, from: Identity, task: TaskRef, function_id: FunctionId) {
        let claim = match self.workers.get_mut(&from) {
            Some(worker) => {
                worker.functions.remove(&function_id);
                worker.running.get(&task.task_id).cloned()
            }
            None => None,
        };
        match claim {
            Some(claim) => {
                if let Err(failure) = self.send_task(&from, &claim).await {
                    self.fail_unsent(&from, claim, failure);
                }
            }
            None => tracing::debug!("NEED_MODULE for a task this worker does not hold"),
        }
    }

    fn bye(&mut self, from: Identity, returned: Vec<TaskRef>) {
        let Some(worker) = self.workers.get_mut(&from) else { return };
        worker.draining = true;
        tracing::info!(worker = %worker.name, returned = returned.len(), "worker leaving");
        for task in returned {
            if let Some(claim) = take_attempt(&mut worker.running, &task) {
                self.held.remove(&claim);
                let _ = self.done.send(Done {
                    claim,
                    outcome: None,
                    room: None,
                });
            }
        }
        self.forget_if_gone(&from);
    }

    /// Hands back claimed tasks no worker has room for (workers left or
    /// died while a claim was under way), so they are not held here while
    /// another dispatcher could run them.
    fn release_excess(&mut self) {
        let free: usize = self.workers.values().map(Worker::free).sum();
        while self.pending.len() > free {
            let Some(claim) = self.pending.pop_back() else { break };
            self.held.remove(&claim);
            let _ = self.done.send(Done {
                claim,
                outcome: None,
                room: None,
            });
        }
    }

    /// Declares silent workers dead and queues their tasks again (counting
    /// the attempt).
    fn reap_dead(&mut self) {
        let timeout = self.config.heartbeat_timeout;
        let dead: Vec<Identity> = self
            .workers
            .iter()
            .filter(|(_, w)| w.last_seen.elapsed() > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            let Some(worker) = self.workers.remove(&id) else { continue };
            tracing::warn!(
                worker = %worker.name,
                tasks = worker.running.len(),
                "worker lost (no heartbeat for {timeout:?}); its tasks go back to the queue"
            );
            for claim in worker.running.into_values() {
                self.held.remove(&claim);
                let store = self.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.requeue(&claim).await {
                        tracing::warn!(task = %claim.task_id, "cannot re-queue (its lease will lapse instead): {e}");
                    }
                });
            }
        }
    }

    /// Sends pending tasks to the least-loaded workers while any has room.
    async fn assign(&mut self) {
        while !self.pending.is_empty() {
            let Some(to) = self.pick_worker() else { return };
            let Some(claim) = self.pending.pop_front() else { return };
            if let Some(worker) = self.workers.get_mut(&to) {
                worker.running.insert(claim.task_id, claim.clone());
                worker.sent_at.insert(claim.task_id, Instant::now());
            }
            if let Err(failure) = self.send_task(&to, &claim).await {
                self.fail_unsent(&to, claim, failure);
            }
        }
    }

    /// The live worker with the largest share of free slots; ties go to the
    /// next in turn.
    fn pick_worker(&mut self) -> Option<Identity> {
        let mut ids: Vec<&Identity> = self.workers.keys().collect();
        ids.sort();
        let n = ids.len();
        if n == 0 {
            return None;
        }
        self.turn = self.turn.wrapping_add(1);
        let mut best: Option<(&Identity, f64)> = None;
        for k in 0..n {
            let id = ids[(self.turn + k) % n];
            let w = &self.workers[id];
            let free = w.free();
            if free == 0 {
                continue;
            }
            let share = free as f64 / w.capacity as f64;
            if best.is_none_or(|(_, s)| share > s) {
                best = Some((id, share));
            }
        }
        best.map(|(id, _)| id.clone())
    }

    async fn send_task(&mut self, to: &Identity, claim: &Claim) -> Result<(), Final> {
        let (info, module) = self.function(claim.function_id).await?;
        let first_time = self
            .workers
            .get_mut(to)
            .map(|w| w.functions.insert(claim.function_id))
            .unwrap_or(true);
        let message = DispatcherMessage::Task {
            task: TaskMessage {
                task: TaskRef {
                    task_id: claim.task_id,
                    attempt: claim.attempt,
                    receipt: claim.receipt.clone(),
                },
                function_id: claim.function_id,
                function: info,
                payload: claim.payload.clone(),
            },
            module: first_time.then(|| module.to_vec()),
        };
        self.outbox.send(to, &message);
        Ok(())
    }

    fn fail_unsent(&mut self, to: &Identity, claim: Claim, failure: Final) {
        if let Some(worker) = self.workers.get_mut(to) {
            worker.running.remove(&claim.task_id);
        }
        self.held.remove(&claim);
        let outcome = match failure {
            // The store could not be read: try again later, uncounted.
            Final::Failed { ref kind, .. } if kind == "store" => None,
            other => Some(other),
        };
        let _ = self.done.send(Done {
            claim,
            outcome,
            room: None,
        });
    }

    /// A function's wire description and module, from the store once.
    async fn function(&mut self, id: FunctionId) -> Result<(FunctionInfo, Arc<Vec<u8>>), Final> {
        if let Some(found) = self.functions.get(&id) {
            return Ok(found.clone());
        }
        let failed = |kind: &str, message: String| Final::Failed {
            kind: kind.into(),
            message,
        };
        let record = match self.store.function(id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(failed("missing_function", format!("function {id} does not exist"))),
            Err(e) => return Err(failed("store", e.to_string())),
        };
        let module = match self.store.module(&record.module_hash).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(failed("missing_function", format!("module of function {id} is missing"))),
            Err(e) => return Err(failed("store", e.to_string())),
        };
        let info = FunctionInfo {
            name: record.name,
            entry: record.entry,
            module_hash: record.module_hash,
        };
        if self.functions.len() >= 1024 {
            self.functions.clear();
        }
        self.functions.insert(id, (info.clone(), module.clone()));
        Ok((info, module))
    }
}

/// Removes and returns the running claim of exactly this attempt, if held.
fn take_attempt(running: &mut HashMap<TaskId, Claim>, task: &TaskRef) -> Option<Claim> {
    let same = running
        .get(&task.task_id)
        .is_some_and(|c| c.attempt == task.attempt && c.receipt == task.receipt);
    if same {
        running.remove(&task.task_id)
    } else {
        None
    }
}

/// A claim rebuilt from what a worker echoes back: enough to finish, renew
/// or re-queue it (the store keys on task id, attempt and receipt).
fn claim_from_ref(task: &TaskRef) -> Claim {
    Claim {
        task_id: task.task_id,
        function_id: uuid::Uuid::nil(),
        payload: Value::Null,
        attempt: task.attempt,
        receipt: task.receipt.clone(),
    }
}
