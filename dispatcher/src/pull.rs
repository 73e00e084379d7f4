//! Pull mode: a ROUTER answering workers' `PULL` requests (REQ-style, see
//! `docs/protocol.md`). Each request carries results, the worker's list of
//! what it holds and how many tasks it wants; the answer carries up to that
//! many tasks, straight from tasks claimed ahead. A request that finds no
//! work is held (long poll) until work comes or the hold ends, so idle
//! workers cost one request per hold and wake the moment a task arrives.
//!
//! Tasks are leased to the worker they were sent to: every request from it
//! renews them, and a worker silent for the heartbeat timeout loses them to
//! the queue (counting an attempt). Worker state is keyed on the `worker`
//! field, not the socket, so a worker that reconnects keeps its tasks.
//!
//! One async task (the scheduler) owns all state; the ZeroMQ thread
//! (`router.rs`), the claimer and the recorder talk to it over channels.

use crate::remote::{
    self, claim_from_ref, listen, sendable, task_message, unsent_outcome, ListenError, Plumbing,
    Scheduling,
};
use crate::router::{Framing, Inbound};
use crate::workers::{self, show_key, Mode, Workers};
use crate::zap::CurveServer;
use faas_protocol::budget::Budget;
use faas_protocol::curve::CurveKey;
use faas_protocol::{DispatcherMessage, PullRequest, TaskRef, TasksReply, WorkerMessage};
use faas_store::{Claim, Final, FunctionId, Store, TaskId};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most tasks a pull worker may hold beyond its slots, per slot (its
/// prefetch), unless it completes tasks fast: then up to the work it does
/// in [`pace::AHEAD`]. A worker asking for more gets no more.
pub const MAX_PULL_PREFETCH: usize = 4;

/// Most modules sent in one answer to `need_modules`. They are not held to
/// the byte budget (a module asked for and not sent means it cannot be
/// sent, and the worker fails its tasks); `faas worker` asks for one
/// module per `PULL`, so its answers stay within the budget plus one
/// module.
const MAX_MODULES_PER_ANSWER: usize = 16;
/// Most tasks claimed ahead, whatever the workers announce.
const MAX_CLAIM_AHEAD: usize = 4096;
/// How long claimed tasks may stay beyond the target before the surplus
/// is handed back.
const OVER_TARGET_GRACE: Duration = Duration::from_millis(500);

/// Settings of a pull dispatcher.
#[derive(Debug, Clone)]
pub struct PullConfig {
    /// Where the ROUTER binds, e.g. `tcp://127.0.0.1:7001`.
    pub endpoint: String,
    /// Longest gap between a worker's requests (told to workers).
    pub heartbeat_interval: Duration,
    /// A worker silent this long is dead and its tasks are queued again.
    pub heartbeat_timeout: Duration,
    /// Longest a request that finds no work is held.
    pub hold: Duration,
    /// This dispatcher's name in the store.
    pub consumer: String,
    /// Longest wait for new work in one claim.
    pub claim_block: Duration,
    /// How often held tasks' leases are renewed in the store.
    pub renew_every: Duration,
    /// Where it counts what it does; None: not counted.
    pub metrics: Option<std::sync::Arc<faas_metrics::DispatcherMetrics>>,
    /// Tasks claimed ahead per slot of the live workers, so that a request
    /// is answered from memory instead of a store round trip.
    pub claim_ahead_per_slot: usize,
    /// CURVE on the worker port; `None`: plain ZMTP, loopback only unless
    /// `allow_plain_beyond_loopback`.
    pub curve: Option<CurveServer>,
    /// Without CURVE, listen on a non-loopback endpoint all the same.
    pub allow_plain_beyond_loopback: bool,
}

impl PullConfig {
    /// Listening on loopback, without CURVE.
    pub fn new(port: u16) -> Self {
        PullConfig {
            endpoint: format!("tcp://127.0.0.1:{port}"),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            hold: Duration::from_secs(1),
            consumer: crate::consumer_name("pull"),
            claim_block: Duration::from_secs(1),
            renew_every: Duration::from_secs(3),
            metrics: None,
            claim_ahead_per_slot: 3,
            curve: None,
            allow_plain_beyond_loopback: false,
        }
    }
}

/// A request held until work comes.
struct Waiting {
    route: Vec<Vec<u8>>,
    seq: u64,
    /// The tasks it asked for; it gets what its capacity has room for
    /// when the request is served (results may free room meanwhile).
    asked: usize,
    until: Instant,
}

/// What only pull mode keeps of a worker.
struct Pull {
    waiting: Option<Waiting>,
    /// Its tasks that were cancelled, for its next answer.
    cancel: Vec<TaskRef>,
    /// When this dispatcher first heard from it: it adopts the tasks the
    /// worker lists that it does not know only for a heartbeat timeout
    /// from then (see `pull`).
    joined: Instant,
    /// Tasks whose results it sent in that time (the worker lists them
    /// until it has the answer to the request that carried them: not to
    /// be adopted).
    reported_while_new: HashSet<uuid::Uuid>,
}

impl Mode for Pull {
    type Id = String;
    const NAME: &'static str = "pull";
    const SIGN_OF_LIFE: &'static str = "request";
    const QUIET_WHEN_IDLE: bool = true;
    fn row_id(id: &String) -> String {
        id.clone()
    }
}

type Worker = workers::Worker<Pull>;

/// Runs until `shutdown` turns true. On shutdown it stops claiming, hands
/// back tasks not yet sent, and keeps answering requests (with no tasks)
/// until the workers have reported the tasks they run, they are declared
/// dead, or 30 s pass.
pub async fn run_pull(
    store: Store,
    config: PullConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ListenError> {
    let (io, inboxes, running) =
        remote::start(store, listen!(config, Pull::NAME, Framing::Request))?;
    let scheduler = Scheduler {
        io,
        config,
        workers: Workers::default(),
        over_target_since: None,
    };
    remote::serve(scheduler, inboxes, running, shutdown).await;
    Ok(())
}

struct Scheduler {
    io: Plumbing,
    config: PullConfig,
    workers: Workers<Pull>,
    /// Since when more tasks are claimed than the target (see `tick`).
    over_target_since: Option<Instant>,
}

impl Scheduling for Scheduler {
    const TICK: Duration = Duration::from_millis(50);

    fn io(&mut self) -> &mut Plumbing {
        &mut self.io
    }

    fn into_io(self) -> Plumbing {
        self.io
    }

    async fn handle(&mut self, message: Inbound) {
        self.message(message).await;
    }

    async fn dispatch(&mut self) {
        self.serve_waiting().await;
    }

    async fn tick(&mut self, stopping: bool) {
        self.end_holds(false).await;
        self.workers
            .reap_dead(self.config.heartbeat_timeout, &self.io);
        if stopping {
            return;
        }
        // Twice the pace the worker sizes its own asks by: its sample and
        // ours differ, and a worker refused room waits.
        self.workers.pace(Self::TICK, MAX_PULL_PREFETCH, 2);
        // Hand back what is claimed beyond the target only once it has
        // stayed beyond it for OVER_TARGET_GRACE (workers left or died):
        // a paced capacity dips with one slow rate sample, and handing
        // back thousands of fast tasks then claiming them again cost Redis
        // six commands each (about 4,000 of 150,000 in a 2x2 run).
        let target = self.target();
        if self.io.pending.len() <= target {
            self.over_target_since = None;
        } else if self
            .over_target_since
            .get_or_insert_with(Instant::now)
            .elapsed()
            >= OVER_TARGET_GRACE
        {
            self.io.release_beyond(target);
            self.over_target_since = None;
        }
        self.workers.publish_on_tick(Self::TICK, &self.io);
    }

    fn wanted(&self) -> usize {
        self.target().saturating_sub(self.io.pending.len())
    }

    /// A worker's next answer names its cancelled tasks; a request it has
    /// held here is answered at once, so it hears of them now.
    async fn stop(&mut self, tasks: Vec<TaskId>) {
        let sent = self.io.stop_pending(tasks);
        let mut tell = Vec::new();
        for (key, worker) in self.workers.iter_mut() {
            let tasks = worker.assigned.refs(&sent);
            if !tasks.is_empty() {
                worker.own.cancel.extend(tasks);
                tell.extend(worker.own.waiting.take().map(|hold| (key.clone(), hold)));
            }
        }
        for (key, hold) in tell {
            self.answer(&key, hold.route, hold.seq, Vec::new(), &[])
                .await;
        }
    }

    fn busy(&self) -> bool {
        self.workers.busy()
    }

    async fn stopped(&mut self) {
        self.end_holds(true).await;
    }
}

impl Scheduler {
    async fn message(&mut self, inbound: Inbound) {
        match inbound.message {
            WorkerMessage::Pull(request) => self.pull(inbound.route, inbound.key, request).await,
            other => {
                tracing::warn!(
                    "a {} message on the pull port; only PULL is taken here",
                    other.kind()
                );
                let message = format!(
                    "this dispatcher is in pull mode and takes only PULL requests, not {}",
                    other.kind()
                );
                self.io
                    .outbox
                    .reply(&inbound.route, &DispatcherMessage::Error { message });
            }
        }
    }

    async fn pull(&mut self, route: Vec<Vec<u8>>, peer: Option<CurveKey>, request: PullRequest) {
        let key = request.worker;
        if let Some(worker) = self.workers.get(&key) {
            if worker.key != peer {
                // Another key speaking for a live worker: not a word of it
                // is applied, and it gets no answer.
                self.io.foreign_keys.count(format_args!(
                    "a PULL for worker {key:?} (key {}) came under key {}",
                    show_key(worker.key),
                    show_key(peer)
                ));
                return;
            }
        }
        let grace = self.config.heartbeat_interval * 2;
        let worker = self.workers.entry(key.clone()).or_insert_with(|| {
            tracing::info!(worker = %request.name, key = %show_key(peer), slots = request.slots, "worker joined");
            let own = Pull {
                waiting: None,
                cancel: Vec::new(),
                joined: Instant::now(),
                reported_while_new: HashSet::new(),
            };
            Worker::new(request.name.clone(), peer, own)
        });
        worker.last_seen = Instant::now();
        worker.name = request.name;
        // `slots` is the worker's word; a minimal client may send only `free`.
        let slots = if request.slots > 0 {
            request.slots
        } else {
            request.free
        };
        worker.announce(slots, MAX_PULL_PREFETCH);
        let capacity = worker.capacity;

        let new_here = worker.own.joined.elapsed() < self.config.heartbeat_timeout;
        if request.free > 0 {
            // See `Assigned::settled_below`.
            worker.assigned.settled_below = worker.assigned.settled_below.max(request.seq);
        }
        if let Some(listed) = &request.running {
            // Before the results: a task whose result is in this request is
            // still listed. Tasks it does not list that were sent long
            // enough ago not to be in flight, or in the answer to a
            // request it has settled since, were lost on the way; tasks it lists
            // that we do not know are from before a restart of this
            // dispatcher (adopted up to the worker's capacity), but only
            // while the worker is new here: a listed task we do not hold
            // may be one whose result we took from an earlier request (the
            // worker lists it until that request is answered), and adopted
            // it would be queued again as lost once it is no longer listed.
            let (adopt_up_to, mut listed) = if new_here {
                let unreported: Vec<TaskRef> = listed
                    .iter()
                    .filter(|t| !worker.own.reported_while_new.contains(&t.task_id))
                    .cloned()
                    .collect();
                (capacity, std::borrow::Cow::Owned(unreported))
            } else {
                (0, std::borrow::Cow::Borrowed(listed))
            };
            // A task whose result or return is in this very request counts
            // as listed, whether or not the worker listed it (a minimal
            // client may not).
            let reported = request.results.iter().map(|r| &r.task);
            let reported: Vec<TaskRef> = reported.chain(&request.returned).cloned().collect();
            if !reported.is_empty() {
                listed.to_mut().extend(reported);
            }
            let (lost, adopted) = worker.assigned.reconcile(&listed, grace, adopt_up_to);
            for claim in lost {
                tracing::warn!(task = %claim.task_id, worker = %worker.name, "the worker does not hold a task sent to it; queueing it again");
                self.io.lost(claim);
            }
            self.io.adopt(adopted);
        }
        if new_here {
            let ids = request.results.iter().map(|r| r.task.task_id);
            worker.own.reported_while_new.extend(ids);
        } else if !worker.own.reported_while_new.is_empty() {
            worker.own.reported_while_new = HashSet::new();
        }
        for result in request.results {
            match worker.assigned.take_result(&result) {
                Some(claim) => {
                    worker.completed += 1;
                    self.io.end_run(claim, &worker.name, result);
                }
                None => self.io.unassigned_result(&worker.name, result),
            }
        }
        for task in &request.returned {
            // Unknown here (sent before a restart): hand it back all the same,
            // unless it is held for another worker; the store checks that it
            // is still this attempt.
            match worker.assigned.take(task) {
                Some(claim) => self.io.end(claim, None),
                None if self.io.held.holds(&task.task_id) => {
                    self.io.stray_results.count(format_args!(
                        "worker {} returned task {} that it was not sent",
                        worker.name, task.task_id
                    ));
                }
                None => self.io.end(claim_from_ref(task), None),
            }
        }
        if request.bye && !worker.draining {
            tracing::info!(worker = %worker.name, returned = request.returned.len(), running = worker.assigned.len(), "worker leaving");
            worker.draining = true;
        }

        let free = (request.free as usize).min(worker.free());
        if request.free > 0 || request.bye {
            // A new request for work supersedes a held one; a leaving
            // worker wants no more.
            if let Some(old) = worker.own.waiting.take() {
                self.answer(&key, old.route, old.seq, Vec::new(), &[]).await;
            }
        }
        let take = free.min(self.io.pending.len());
        let claims: Vec<Claim> = self.io.pending.drain(..take).collect();
        if claims.is_empty() && request.free > 0 && !request.bye && request.need_modules.is_empty()
        {
            if let Some(worker) = self.workers.get_mut(&key) {
                // If this worker holds all it may by our count, the
                // request waits for its results to make room.
                worker.own.waiting = Some(Waiting {
                    route,
                    seq: request.seq,
                    asked: request.free as usize,
                    until: Instant::now() + self.config.hold,
                });
            }
            return;
        }
        // At most a few distinct functions: each is a store read.
        let mut need = request.need_modules;
        need.sort();
        need.dedup();
        need.truncate(MAX_MODULES_PER_ANSWER);
        self.answer(&key, route, request.seq, claims, &need).await;
        self.workers.forget_if_gone(&key);
    }

    /// Sends `claims` (and the modules asked for) to a worker in one
    /// `TASKS`; a module goes along the first time the worker gets a task
    /// of its function. Tasks beyond the byte budget go back to the front
    /// of the pending queue, in order, for the next request.
    async fn answer(
        &mut self,
        key: &str,
        route: Vec<Vec<u8>>,
        seq: u64,
        claims: Vec<Claim>,
        need: &[FunctionId],
    ) {
        let mut reply = TasksReply {
            seq,
            heartbeat_ms: self.config.heartbeat_interval.as_millis() as u64,
            hold_ms: self.config.hold.as_millis() as u64,
            cancel: self
                .workers
                .get_mut(key)
                .map(|w| std::mem::take(&mut w.own.cancel))
                .unwrap_or_default(),
            ..TasksReply::default()
        };
        let mut budget = Budget::default();
        let mut attached: HashSet<FunctionId> = HashSet::new();
        for &id in need {
            match self.io.functions.get(id).await {
                Ok((_, module)) => {
                    if attached.insert(id) {
                        reply.modules.push((id, module.to_vec()));
                    }
                }
                Err(failure) => self.fail_function(key, id, failure),
            }
        }
        let mut claims = claims.into_iter();
        let mut unsent = Vec::new();
        while let Some(claim) = claims.next() {
            let (info, module) = match self.io.functions.get(claim.function_id).await {
                Ok(found) => found,
                Err(failure) => {
                    self.io.end(claim, unsent_outcome(failure));
                    continue;
                }
            };
            let task = task_message(&claim, info);
            let size = match sendable(&task, &module) {
                Ok(size) => size,
                Err(failure) => {
                    self.io.end(claim, Some(failure));
                    continue;
                }
            };
            let Some(worker) = self.workers.get_mut(key) else {
                // Unreachable: the worker was just seen. Hand it back.
                unsent.push(claim);
                continue;
            };
            let with_module = !worker.assigned.functions.contains(&claim.function_id)
                && !attached.contains(&claim.function_id);
            let bytes = size + if with_module { module.len() } else { 0 };
            if !budget.fits(bytes) {
                unsent.push(claim);
                unsent.extend(claims.by_ref());
                break;
            }
            budget.take(bytes);
            if with_module {
                worker.assigned.functions.insert(claim.function_id);
                attached.insert(claim.function_id);
                reply.modules.push((claim.function_id, module.to_vec()));
            }
            reply.tasks.push(task);
            worker.assigned.sent_in_answer(claim, seq);
        }
        for claim in unsent.into_iter().rev() {
            self.io.pending.push_front(claim);
        }
        if let Some(worker) = self.workers.get_mut(key) {
            worker.assigned.functions.extend(attached);
        }
        self.io
            .outbox
            .reply(&route, &DispatcherMessage::Tasks(reply));
    }

    /// A worker asked for the module of a function that cannot be sent:
    /// its tasks of that function end with the failure (or, if the store
    /// is down, go back to the queue).
    fn fail_function(&mut self, key: &str, id: FunctionId, failure: Final) {
        let Some(worker) = self.workers.get_mut(key) else {
            return;
        };
        let ids: Vec<_> = worker
            .assigned
            .tasks()
            .filter(|c| c.function_id == id)
            .map(|c| c.task_id)
            .collect();
        for task_id in ids {
            if let Some(claim) = worker.assigned.remove(&task_id) {
                self.io.end(claim, unsent_outcome(failure.clone()));
            }
        }
    }

    /// Answers held requests from newly claimed tasks, newest first: a
    /// live idle worker asks again every hold, so the oldest held request
    /// is the likeliest to be from a worker that has died since.
    async fn serve_waiting(&mut self) {
        let mut waiting: Vec<(Instant, String)> = self
            .workers
            .iter()
            .filter_map(|(key, w)| {
                w.own
                    .waiting
                    .as_ref()
                    .filter(|_| w.free() > 0)
                    .map(|h| (h.until, key.clone()))
            })
            .collect();
        waiting.sort_by(|a, b| b.cmp(a));
        for (_, key) in waiting {
            if self.io.pending.is_empty() {
                return;
            }
            let Some(worker) = self.workers.get_mut(&key) else {
                continue;
            };
            let room = worker.free();
            let Some(hold) = worker.own.waiting.take() else {
                continue;
            };
            let take = hold.asked.min(room).min(self.io.pending.len());
            let claims: Vec<Claim> = self.io.pending.drain(..take).collect();
            self.answer(&key, hold.route, hold.seq, claims, &[]).await;
        }
    }

    /// Answers held requests whose hold is over (all of them if `all`)
    /// with no tasks: the worker asks again.
    async fn end_holds(&mut self, all: bool) {
        let now = Instant::now();
        let over: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| {
                w.own
                    .waiting
                    .as_ref()
                    .is_some_and(|h| all || h.until <= now)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in over {
            if let Some(hold) = self
                .workers
                .get_mut(&key)
                .and_then(|w| w.own.waiting.take())
            {
                self.answer(&key, hold.route, hold.seq, Vec::new(), &[])
                    .await;
            }
        }
    }

    /// Tasks to keep claimed ahead: enough to fill every live worker's
    /// slots `claim_ahead_per_slot` times over.
    fn target(&self) -> usize {
        let per_slot = self.config.claim_ahead_per_slot.max(1);
        let ahead: usize = self
            .workers
            .values()
            .filter(|w| !w.draining)
            .map(|w| (w.slots * per_slot).max(w.capacity))
            .sum();
        ahead.min(MAX_CLAIM_AHEAD)
    }
}
