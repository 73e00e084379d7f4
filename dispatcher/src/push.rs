//! Push mode: a ROUTER that registers workers, pushes each claimed task to
//! the least-loaded live worker with a free slot, records results, and
//! re-queues the tasks of workers whose heartbeats stop.
//!
//! One async task (the scheduler) owns all worker state; the ZeroMQ thread
//! (`router.rs`), the claimer and the recorder talk to it over channels.

use crate::remote::{
    self, listen, sendable, task_message, unsent_outcome, ListenError, Plumbing, Scheduling,
};
use crate::router::{hex_id, Framing, Identity, Inbound};
use crate::workers::{self, show_key, Mode, Workers};
use crate::zap::CurveServer;
use faas_protocol::budget::Budget;
use faas_protocol::curve::CurveKey;
use faas_protocol::{
    DispatcherMessage, ResultMessage, TaskMessage, TaskRef, TasksReply, WorkerMessage,
};
use faas_store::{Claim, Final, FunctionId, Store, TaskId};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Settings of a push dispatcher.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Where the ROUTER binds, e.g. `tcp://127.0.0.1:7001`.
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
    /// Where it counts what it does; None: not counted.
    pub metrics: Option<std::sync::Arc<faas_metrics::DispatcherMetrics>>,
    /// Fewest tasks sent to a worker beyond its slots, per slot, so a slot
    /// that frees up starts the next task without a round trip to the
    /// dispatcher. A worker that completes tasks fast is sent more: the
    /// work it does in [`faas_protocol::pace::AHEAD`] (see [`faas_protocol::pace`]).
    pub prefetch_per_slot: usize,
    /// CURVE on the worker port (the dispatcher's key pair, the workers'
    /// allowed keys); `None`: plain ZMTP, loopback only unless
    /// `allow_plain_beyond_loopback`.
    pub curve: Option<CurveServer>,
    /// Without CURVE, listen on a non-loopback endpoint all the same.
    pub allow_plain_beyond_loopback: bool,
}

impl PushConfig {
    /// Listening on loopback, without CURVE.
    pub fn new(port: u16) -> Self {
        PushConfig {
            endpoint: format!("tcp://127.0.0.1:{port}"),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            consumer: crate::consumer_name("push"),
            claim_block: Duration::from_secs(1),
            renew_every: Duration::from_secs(3),
            metrics: None,
            prefetch_per_slot: 4,
            curve: None,
            allow_plain_beyond_loopback: false,
        }
    }
}

/// Most tasks in one `TASKS` message; fewer if they pass the byte budget
/// ([`faas_protocol::budget`]).
const MAX_TASKS_PER_MESSAGE: usize = 256;

/// What only push mode keeps of a worker.
struct Push {
    /// It takes `TASKS`: the tasks of one `assign` go in one message.
    batch: bool,
}

impl Mode for Push {
    type Id = Identity;
    const NAME: &'static str = "push";
    const SIGN_OF_LIFE: &'static str = "heartbeat";
    const QUIET_WHEN_IDLE: bool = false;
    fn row_id(id: &Identity) -> String {
        hex_id(id)
    }
}

type Worker = workers::Worker<Push>;

/// Runs until `shutdown` turns true. On shutdown it stops taking work,
/// hands back tasks not yet sent, and waits (up to 30 s) for the workers'
/// results of the tasks they run.
pub async fn run_push(
    store: Store,
    config: PushConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ListenError> {
    let (io, inboxes, running) = remote::start(store, listen!(config, Push::NAME, Framing::Push))?;
    let scheduler = Scheduler {
        io,
        config,
        workers: Workers::default(),
        turn: 0,
    };
    remote::serve(scheduler, inboxes, running, shutdown).await;
    Ok(())
}

struct Scheduler {
    io: Plumbing,
    config: PushConfig,
    workers: Workers<Push>,
    /// Round-robin start for ties between equally loaded workers.
    turn: usize,
}

impl Scheduling for Scheduler {
    const TICK: Duration = Duration::from_millis(200);

    fn io(&mut self) -> &mut Plumbing {
        &mut self.io
    }

    fn into_io(self) -> Plumbing {
        self.io
    }

    async fn handle(&mut self, message: Inbound) {
        self.message(message.from, message.key, message.message)
            .await;
    }

    async fn dispatch(&mut self) {
        self.assign().await;
    }

    async fn tick(&mut self, stopping: bool) {
        self.workers
            .reap_dead(self.config.heartbeat_timeout, &self.io);
        if stopping {
            return;
        }
        self.workers
            .pace(Self::TICK, self.config.prefetch_per_slot, 1);
        // Hand back claimed tasks no worker has room for (workers left or
        // died while a claim was under way), so they are not held here
        // while another dispatcher could run them.
        self.io.release_beyond(self.workers.free());
        self.workers.publish_on_tick(Self::TICK, &self.io);
    }

    fn wanted(&self) -> usize {
        self.workers.free().saturating_sub(self.io.pending.len())
    }

    async fn stop(&mut self, tasks: Vec<TaskId>) {
        let sent = self.io.stop_pending(tasks);
        for (id, worker) in self.workers.iter() {
            let tasks = worker.assigned.refs(&sent);
            if !tasks.is_empty() {
                self.io
                    .outbox
                    .send(id, &DispatcherMessage::Cancel { tasks });
            }
        }
    }

    fn busy(&self) -> bool {
        self.workers.busy()
    }

    /// With every slot's next task already queued behind it, wait for room
    /// for a quarter of the workers' capacity before claiming: results
    /// keep arriving, so the room grows within a millisecond or two.
    fn claim_floor(&self) -> usize {
        let live = self.workers.values().filter(|w| !w.draining);
        let (slots, capacity, held) = live.fold((0, 0, 0), |(s, c, h), w| {
            (s + w.slots, c + w.capacity, h + w.assigned.len())
        });
        if held + self.io.pending.len() > 2 * slots {
            (capacity / 4).max(1)
        } else {
            1
        }
    }
}

impl Scheduler {
    async fn message(&mut self, from: Identity, key: Option<CurveKey>, message: WorkerMessage) {
        if let Some(worker) = self.workers.get_mut(&from) {
            if worker.key != key {
                // Its routing id now comes from a connection under another
                // key (possible only once its own connection is gone: no
                // handover with CURVE). Nothing more goes to that id for
                // this worker: its tasks go back to the queue.
                self.io.foreign_keys.count(format_args!(
                    "routing id {} of worker {} (key {}) used by key {}",
                    hex_id(&from),
                    worker.name,
                    show_key(worker.key),
                    show_key(key)
                ));
                let why = format_args!("its routing id was taken by another key");
                self.workers.drop_worker(&from, why, &self.io);
                return;
            }
            worker.last_seen = Instant::now();
        }
        match message {
            WorkerMessage::Register {
                worker,
                slots,
                running,
                batch,
            } => self.register(from, key, worker, slots, running, batch),
            WorkerMessage::Heartbeat { .. } => {
                if !self.workers.contains_key(&from) {
                    self.io.outbox.send(&from, &DispatcherMessage::Reregister);
                }
            }
            WorkerMessage::Result(result) => self.result(from, result),
            WorkerMessage::Results(results) => {
                for result in results {
                    self.result(from.clone(), result);
                }
            }
            WorkerMessage::NeedModule { task, function_id } => {
                self.resend_with_module(from, task, function_id).await
            }
            WorkerMessage::Bye { returned } => self.bye(from, returned),
            WorkerMessage::Pull(_) => {
                tracing::warn!("dropped a PULL: this dispatcher is in push mode")
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        from: Identity,
        key: Option<CurveKey>,
        name: String,
        slots: u32,
        running: Vec<TaskRef>,
        batch: bool,
    ) {
        let known = self.workers.contains_key(&from);
        let worker = self
            .workers
            .entry(from.clone())
            .or_insert_with(|| Worker::new(name.clone(), key, Push { batch: false }));
        worker.name = name;
        worker.own.batch = batch;
        worker.announce(slots, self.config.prefetch_per_slot);
        worker.draining = false;
        // Tasks we think it holds but it does not list (a TASK lost on a
        // broken connection, say), sent long enough ago not to be in
        // flight, go back to the queue: nothing may stay RUNNING unseen.
        // Tasks it still runs from before a dispatcher restart count
        // against its slots and keep their leases alive.
        let capacity = worker.capacity;
        let (lost, adopted) =
            worker
                .assigned
                .reconcile(&running, self.config.heartbeat_interval * 2, capacity);
        for claim in lost {
            tracing::warn!(task = %claim.task_id, worker = %worker.name, "the worker does not hold a task sent to it; queueing it again");
            self.io.lost(claim);
        }
        self.io.adopt(adopted);
        // Idle workers re-send REGISTER as a ping: log only the first one.
        if known {
            tracing::debug!(worker = %worker.name, "worker registered again");
        } else {
            tracing::info!(
                worker = %worker.name,
                id = %hex_id(&from),
                key = %show_key(worker.key),
                slots = worker.slots,
                running = worker.assigned.len(),
                "worker registered"
            );
        }
        self.io.outbox.send(
            &from,
            &DispatcherMessage::Welcome {
                heartbeat_ms: self.config.heartbeat_interval.as_millis() as u64,
                batch: true,
            },
        );
    }

    /// Records a result if the sender holds that task (this attempt); see
    /// [`Plumbing::unassigned_result`](crate::remote::Plumbing::unassigned_result) otherwise.
    fn result(&mut self, from: Identity, result: ResultMessage) {
        let (claim, name) = match self.workers.get_mut(&from) {
            Some(worker) => {
                let claim = worker.assigned.take_result(&result);
                if claim.is_some() {
                    worker.completed += 1;
                }
                (claim, worker.name.clone())
            }
            None => {
                self.io.outbox.send(&from, &DispatcherMessage::Reregister);
                (None, hex_id(&from))
            }
        };
        match claim {
            Some(claim) => self.io.end_run(claim, &name, result),
            None => self.io.unassigned_result(&name, result),
        }
        self.workers.forget_if_gone(&from);
    }

    async fn resend_with_module(&mut self, from: Identity, task: TaskRef, function_id: FunctionId) {
        let claim = match self.workers.get_mut(&from) {
            Some(worker) => {
                worker.assigned.functions.remove(&function_id);
                worker.assigned.get(&task.task_id).cloned()
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
        let Some(worker) = self.workers.get_mut(&from) else {
            return;
        };
        worker.draining = true;
        tracing::info!(worker = %worker.name, returned = returned.len(), "worker leaving");
        for task in returned {
            if let Some(claim) = worker.assigned.take(&task) {
                self.io.end(claim, None);
            }
        }
        self.workers.forget_if_gone(&from);
    }

    /// Sends pending tasks to the least-loaded workers while any has room:
    /// one `TASK` each, or for a worker that takes `TASKS`, all of its
    /// tasks of this round in as few messages as the byte budget allows
    /// (in order: a module goes in the message of the first task that
    /// needs it).
    async fn assign(&mut self) {
        let mut batches: HashMap<Identity, (TasksReply, Budget)> = HashMap::new();
        while !self.io.pending.is_empty() {
            let Some(to) = self.pick_worker() else { break };
            let Some(claim) = self.io.pending.pop_front() else {
                break;
            };
            let batch = match self.workers.get_mut(&to) {
                Some(worker) => {
                    worker.assigned.sent(claim.clone());
                    worker.own.batch
                }
                None => false,
            };
            let (task, module, bytes) = match self.prepare(&to, &claim).await {
                Ok(prepared) => prepared,
                Err(failure) => {
                    self.fail_unsent(&to, claim, failure);
                    continue;
                }
            };
            if !batch {
                self.io
                    .outbox
                    .send(&to, &DispatcherMessage::Task { task, module });
                continue;
            }
            let (tasks, budget) = batches.entry(to.clone()).or_default();
            if !budget.fits(bytes) || tasks.tasks.len() >= MAX_TASKS_PER_MESSAGE {
                let full = std::mem::take(tasks);
                *budget = Budget::default();
                self.io.outbox.send(&to, &DispatcherMessage::Tasks(full));
            }
            budget.take(bytes);
            tasks
                .modules
                .extend(module.map(|bytes| (claim.function_id, bytes)));
            tasks.tasks.push(task);
        }
        for (to, (tasks, _)) in batches {
            if !tasks.tasks.is_empty() {
                self.io.outbox.send(&to, &DispatcherMessage::Tasks(tasks));
            }
        }
    }

    /// The task's message for `to`, its module if this worker has not had
    /// the function yet, and the bytes both add to a message; or the
    /// failure of a task that cannot be sent (its function is gone, it is
    /// too large).
    async fn prepare(
        &mut self,
        to: &Identity,
        claim: &Claim,
    ) -> Result<(TaskMessage, Option<Vec<u8>>, usize), Final> {
        let (info, module) = self.io.functions.get(claim.function_id).await?;
        let task = task_message(claim, info);
        let bytes = sendable(&task, &module)?;
        let first_time = self
            .workers
            .get_mut(to)
            .map(|w| w.assigned.functions.insert(claim.function_id))
            .unwrap_or(true);
        let module = first_time.then(|| module.to_vec());
        let bytes = bytes + module.as_ref().map_or(0, Vec::len);
        Ok((task, module, bytes))
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
        let (task, module, _) = self.prepare(to, claim).await?;
        self.io
            .outbox
            .send(to, &DispatcherMessage::Task { task, module });
        Ok(())
    }

    fn fail_unsent(&mut self, to: &Identity, claim: Claim, failure: Final) {
        if let Some(worker) = self.workers.get_mut(to) {
            worker.assigned.remove(&claim.task_id);
        }
        self.io.end(claim, unsent_outcome(failure));
    }
}
