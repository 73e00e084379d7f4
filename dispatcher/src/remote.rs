//! What push and pull mode share: the claimer, the modules sent over the
//! wire, the tasks a remote worker holds, and turning a worker's `RESULT`
//! into a final state.

use crate::functions::{fetch, LoadFailure};
use crate::recorder::{traced_now, Bookkeeping, Done, Held};
use crate::router::{self, Framing, Inbound, Outbox, Router};
use crate::zap::CurveServer;
use faas_metrics::DispatcherMetrics;
use faas_protocol::budget::{
    json_len, too_large, MAX_ITEM_BYTES, MAX_MODULE_FRAME_BYTES, TOO_LARGE,
};
use faas_protocol::pace::RoundTrip;
use faas_protocol::{FunctionInfo, ResultMessage, TaskMessage, TaskRef};
use faas_store::{Claim, Final, FunctionId, Report, Store, TaskId};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Why a push or pull dispatcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {endpoint}: {source}")]
    Bind {
        endpoint: String,
        source: zmq::Error,
    },
    #[error(
        "refusing to listen on {endpoint} without CURVE: any host that reaches it could \
         take tasks and report results. Keep CURVE on (workers then need the dispatcher's \
         public key and an allowed key pair), listen on loopback only, or accept the risk \
         on a trusted network with --insecure-no-auth"
    )]
    Exposed { endpoint: String },
}

/// Whether an endpoint is reachable from this host only: a TCP endpoint
/// on a loopback address (`127.0.0.0/8`, `::1`, `localhost`), `ipc://` or
/// `inproc://`. `tcp://*:PORT`, `0.0.0.0` and interface names are not.
pub fn is_loopback_endpoint(endpoint: &str) -> bool {
    let Some((transport, address)) = endpoint.split_once("://") else {
        return false;
    };
    match transport {
        "ipc" | "inproc" => true,
        "tcp" => {
            let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// Most slots one worker may announce: its word sets how much a dispatcher
/// claims for it.
pub const MAX_SLOTS_PER_WORKER: usize = 1024;

/// What a push or pull scheduler works with: the store, the way to the
/// workers, the claims it holds and the tasks claimed but not yet sent.
pub struct Plumbing {
    pub store: Store,
    pub outbox: Outbox,
    pub held: Held,
    pub functions: WireFunctions,
    /// Claimed, not yet sent to a worker.
    pub pending: VecDeque<Claim>,
    /// Results ignored: the sender was not sent that task.
    pub stray_results: Tally,
    /// Messages dropped: they came under another key than the worker's.
    pub foreign_keys: Tally,
    done: mpsc::UnboundedSender<Done>,
    want: mpsc::UnboundedSender<usize>,
    consumer: String,
    /// Claims under way (at most CLAIMS_IN_FLIGHT), and the tasks they
    /// asked for in all.
    claiming: usize,
    claiming_for: usize,
    claim_block: Duration,
    /// Where workers and their free slots are counted.
    pub metrics: Option<Arc<DispatcherMetrics>>,
}

/// What the scheduler's loop reads: workers' messages and landed claims.
pub struct Inboxes {
    pub inbound: mpsc::UnboundedReceiver<Inbound>,
    /// Landed claims: how many tasks each asked for, and what it got.
    pub claims: mpsc::UnboundedReceiver<(usize, Vec<Claim>)>,
    /// Held tasks to stop (cancelled).
    pub stops: mpsc::UnboundedReceiver<Vec<TaskId>>,
    /// Functions deleted: dropped from `Plumbing::functions`.
    pub deleted: mpsc::UnboundedReceiver<FunctionId>,
}

/// The threads and tasks behind a [`Plumbing`], stopped by [`Running::stop`].
pub struct Running {
    router: Router,
    claimer: JoinHandle<()>,
    recorder: JoinHandle<()>,
    renewer: JoinHandle<()>,
}

/// Where and how a push or pull dispatcher listens and claims.
pub struct Listen<'a> {
    pub mode: &'a str,
    pub endpoint: &'a str,
    /// CURVE on the worker port; `None`: plain ZMTP.
    pub curve: Option<&'a CurveServer>,
    /// Without CURVE, listen beyond loopback all the same.
    pub allow_plain_beyond_loopback: bool,
    pub framing: Framing,
    pub consumer: &'a str,
    pub claim_block: Duration,
    pub renew_every: Duration,
    pub metrics: Option<Arc<DispatcherMetrics>>,
}

/// The [`Listen`] of a `PushConfig` or `PullConfig` (which name these
/// fields alike) in mode `$mode`.
macro_rules! listen {
    ($config:expr, $mode:expr, $framing:expr) => {
        $crate::remote::Listen {
            mode: $mode,
            endpoint: &$config.endpoint,
            curve: $config.curve.as_ref(),
            allow_plain_beyond_loopback: $config.allow_plain_beyond_loopback,
            framing: $framing,
            consumer: &$config.consumer,
            claim_block: $config.claim_block,
            renew_every: $config.renew_every,
            metrics: $config.metrics.clone(),
        }
    };
}
pub(crate) use listen;

/// Binds the ROUTER and starts the recorder, the lease renewer and the
/// claimer; logs the ready line.
pub fn start(
    store: Store,
    listen: Listen<'_>,
) -> Result<(Plumbing, Inboxes, Running), ListenError> {
    if listen.curve.is_none()
        && !listen.allow_plain_beyond_loopback
        && !is_loopback_endpoint(listen.endpoint)
    {
        return Err(ListenError::Exposed {
            endpoint: listen.endpoint.to_string(),
        });
    }
    let (router, outbox, inbound) = router::start(listen.endpoint, listen.framing, listen.curve)
        .map_err(|source| ListenError::Bind {
            endpoint: listen.endpoint.to_string(),
            source,
        })?;
    let security = match listen.curve {
        Some(curve) => format!(
            "CURVE on (public key {}, {} allowed worker key{})",
            curve.keys.public,
            curve.allowed.len(),
            if curve.allowed.len() == 1 { "" } else { "s" }
        ),
        None => "CURVE off: plain, unauthenticated ZMTP".to_string(),
    };
    if listen.curve.is_none() && !is_loopback_endpoint(listen.endpoint) {
        tracing::warn!(
            "the worker port {} is not authenticated or encrypted (--insecure-no-auth): \
             anyone who reaches it can take tasks and report results",
            listen.endpoint
        );
    }
    tracing::info!(
        "faas dispatcher ready: mode {}, listening on {}, {security}, {}",
        listen.mode,
        listen.endpoint,
        store.describe()
    );
    let Bookkeeping {
        held,
        done,
        recorder,
        renewer,
        stops,
        deleted,
        registered: _,
    } = Bookkeeping::start(
        &store,
        listen.consumer,
        listen.renew_every,
        listen.metrics.clone(),
    );
    let (want, want_rx) = mpsc::unbounded_channel();
    let (claims_tx, claims) = mpsc::unbounded_channel();
    let claimer = tokio::spawn(claimer(
        store.clone(),
        listen.consumer.to_string(),
        listen.claim_block,
        want_rx,
        claims_tx,
    ));
    let plumbing = Plumbing {
        functions: WireFunctions::new(store.clone()),
        store,
        outbox,
        held,
        pending: VecDeque::new(),
        stray_results: Tally::new(
            "ignored a RESULT from a worker that was not sent that task (or not this attempt)",
        ),
        foreign_keys: Tally::new("dropped a message sent under another key than its worker's"),
        done,
        want,
        consumer: listen.consumer.to_string(),
        claiming: 0,
        claiming_for: 0,
        claim_block: listen.claim_block,
        metrics: listen.metrics,
    };
    let running = Running {
        router,
        claimer,
        recorder,
        renewer,
    };
    Ok((
        plumbing,
        Inboxes {
            inbound,
            claims,
            stops,
            deleted,
        },
        running,
    ))
}

impl Running {
    /// Stops claiming, lets the recorder write what it has, and closes the
    /// ROUTER.
    pub async fn stop(self, plumbing: Plumbing) {
        self.claimer.abort();
        let (stray, foreign) = (plumbing.stray_results.total, plumbing.foreign_keys.total);
        let refused = self
            .router
            .refused
            .load(std::sync::atomic::Ordering::Relaxed);
        if stray + foreign + refused > 0 {
            tracing::info!(
                "worker port totals: {refused} connections refused (key not allowed), \
                 {foreign} messages under another key than their worker's, {stray} results \
                 from workers not sent that task"
            );
        }
        drop(plumbing);
        let _ = self.recorder.await;
        self.renewer.abort();
        drop(self.router);
        tracing::info!("dispatcher stopped");
    }
}

impl Plumbing {
    /// This dispatcher's name in the store.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Room for `wanted` more tasks: asks the claimer for what claims
    /// under way do not already cover, if that is at least `floor` and
    /// fewer than CLAIMS_IN_FLIGHT claims are under way.
    pub fn want(&mut self, wanted: usize, floor: usize) {
        let n = wanted.saturating_sub(self.claiming_for);
        if self.claiming < CLAIMS_IN_FLIGHT && n >= floor.max(1) && self.want.send(n).is_ok() {
            self.claiming += 1;
            self.claiming_for += n;
        }
    }

    /// A claim for `asked` tasks landed: hold its tasks, queue them to be sent.
    pub fn claimed(&mut self, asked: usize, got: Vec<Claim>) {
        self.claiming = self.claiming.saturating_sub(1);
        self.claiming_for = self.claiming_for.saturating_sub(asked);
        for claim in got {
            self.held.insert(claim.clone());
            self.pending.push_back(claim);
        }
    }

    /// Ends an attempt: its outcome goes to the store (`None`: back to the
    /// queue, uncounted). Its lease is renewed until the recorder has
    /// written it, so a slow write cannot let it lapse.
    pub fn end(&self, claim: Claim, outcome: Option<Final>) {
        self.end_reported(claim, outcome, Report::default());
    }

    /// Ends an attempt with the `RESULT` `worker` sent for it.
    pub fn end_run(&self, claim: Claim, worker: &str, result: ResultMessage) {
        let (outcome, report) = ended_of(worker, result);
        self.end_reported(claim, Some(outcome), report);
    }

    fn end_reported(&self, claim: Claim, outcome: Option<Final>, report: Report) {
        let _ = self.done.send(Done {
            claim,
            outcome,
            report,
            room: None,
            ended: traced_now(),
        });
    }

    /// Holds tasks a worker says it runs that this dispatcher did not know
    /// (it restarted): their leases are renewed at once, since the last
    /// renewal was the previous dispatcher's.
    pub fn adopt(&self, claims: Vec<Claim>) {
        if claims.is_empty() {
            return;
        }
        for claim in &claims {
            self.held.insert(claim.clone());
        }
        let (store, consumer) = (self.store.clone(), self.consumer.clone());
        tokio::spawn(async move {
            if let Err(e) = store.renew(&consumer, &claims).await {
                tracing::warn!("cannot renew adopted tasks: {e}");
            }
        });
    }

    /// A result from a worker that does not hold its task by this
    /// dispatcher's count. If another worker holds it, or it is claimed and
    /// not yet sent, the result is ignored and counted: only the worker a
    /// task was sent to reports it. If this dispatcher does not hold the
    /// task at all (it was sent by an earlier run of this dispatcher, or it
    /// already ended), the store records it only if it is still the task's
    /// current attempt and receipt (the receipt is random per attempt, so
    /// only a worker that was sent the task knows it).
    pub fn unassigned_result(&mut self, worker: &str, result: ResultMessage) {
        if self.held.holds(&result.task.task_id) {
            self.stray_results.count(format_args!(
                "worker {worker}, task {} attempt {}",
                result.task.task_id, result.task.attempt
            ));
        } else {
            self.end_run(claim_from_ref(&result.task), worker, result);
        }
    }

    /// A worker lost this task: queue it again, counting the attempt.
    pub fn lost(&self, claim: Claim) {
        self.held.remove(&claim);
        requeue_later(&self.store, claim);
    }

    /// On shutdown: waits for the claims under way (their tasks are
    /// already RUNNING) and hands back every task not sent.
    pub async fn hand_back_unsent(
        &mut self,
        claims: &mut mpsc::UnboundedReceiver<(usize, Vec<Claim>)>,
    ) {
        let deadline = tokio::time::Instant::now() + self.claim_block + Duration::from_secs(3);
        while self.claiming > 0 {
            match tokio::time::timeout_at(deadline, claims.recv()).await {
                Ok(Some((_, got))) => self.pending.extend(got),
                _ => break,
            }
            self.claiming -= 1;
        }
        self.claiming = 0;
        self.claiming_for = 0;
        for claim in std::mem::take(&mut self.pending) {
            self.end(claim, None);
        }
    }

    /// Ends the tasks among `stop` that are claimed and not yet sent (the
    /// store has them as cancelled already); returns the rest, which
    /// workers hold.
    pub fn stop_pending(&mut self, stop: Vec<TaskId>) -> HashSet<TaskId> {
        let mut stop: HashSet<TaskId> = stop.into_iter().collect();
        let (unsent, kept) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|c| stop.contains(&c.task_id));
        self.pending = kept;
        for claim in unsent {
            stop.remove(&claim.task_id);
            self.end(claim, Some(Final::cancelled()));
        }
        stop
    }

    /// Hands back claimed tasks beyond `keep` (workers left or died while a
    /// claim was under way), so another dispatcher can run them.
    pub fn release_beyond(&mut self, keep: usize) {
        while self.pending.len() > keep {
            let Some(claim) = self.pending.pop_back() else {
                break;
            };
            self.end(claim, None);
        }
    }
}

/// Counts something a worker should not have sent, and logs it: the first
/// at once, then at most one line per 10 s saying how many came since.
pub struct Tally {
    what: &'static str,
    pub total: u64,
    since_log: u64,
    logged: Option<Instant>,
}

impl Tally {
    pub fn new(what: &'static str) -> Self {
        Tally {
            what,
            total: 0,
            since_log: 0,
            logged: None,
        }
    }

    /// One more; `detail` says which (worker, task).
    pub fn count(&mut self, detail: std::fmt::Arguments<'_>) {
        self.total += 1;
        self.since_log += 1;
        if self
            .logged
            .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        tracing::warn!(
            "{}: {detail}; {} since the last such line, {} in all",
            self.what,
            self.since_log,
            self.total
        );
        self.since_log = 0;
        self.logged = Some(Instant::now());
    }
}

/// The mode-specific half of a push or pull dispatcher; [`serve`] runs
/// the loop both share.
#[allow(async_fn_in_trait)] // used with concrete types only
pub trait Scheduling {
    /// How often `tick` runs.
    const TICK: Duration;
    fn io(&mut self) -> &mut Plumbing;
    /// Its plumbing, for [`Running::stop`] once the drain is over.
    fn into_io(self) -> Plumbing;
    async fn handle(&mut self, message: Inbound);
    /// Sends pending tasks that can go now.
    async fn dispatch(&mut self);
    /// Timers: silent workers, held requests, the workers listing.
    /// `stopping`: only what the drain needs.
    async fn tick(&mut self, stopping: bool);
    /// More tasks to claim now.
    fn wanted(&self) -> usize;
    /// The fewest worth a claim now: above 1 while the workers are well
    /// fed, so that one round trip to the store claims many tasks.
    fn claim_floor(&self) -> usize {
        1
    }
    /// Stops held tasks (cancelled): those not sent yet end here, workers
    /// are told of the others.
    async fn stop(&mut self, tasks: Vec<TaskId>);
    /// Some worker still runs tasks of this dispatcher.
    fn busy(&self) -> bool;
    /// The drain is over.
    async fn stopped(&mut self) {}
}

/// Runs a scheduler until `shutdown` turns true; then stops claiming,
/// hands back tasks not yet sent, handles workers' messages until they
/// have reported what they run, they are declared dead, or 30 s pass, and
/// stops what [`start`] started.
pub async fn serve<S: Scheduling>(
    mut s: S,
    inboxes: Inboxes,
    running: Running,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Inboxes {
        mut inbound,
        mut claims,
        mut stops,
        mut deleted,
    } = inboxes;
    let mut tick = tokio::time::interval(S::TICK);
    loop {
        tokio::select! {
            Some(msg) = inbound.recv() => s.handle(msg).await,
            Some((asked, got)) = claims.recv() => s.io().claimed(asked, got),
            Some(tasks) = stops.recv() => s.stop(tasks).await,
            Some(function) = deleted.recv() => {
                let io = s.io();
                io.functions.forget(function, &io.pending);
            }
            _ = tick.tick() => {
                // Messages that queued up while this loop was busy (a slow
                // store) prove their senders alive: count them first.
                while let Ok(msg) = inbound.try_recv() {
                    s.handle(msg).await;
                }
                s.tick(false).await;
                let io = s.io();
                io.functions.tidy(&io.pending);
            }
            _ = shutdown.changed() => break,
        }
        s.dispatch().await;
        let (wanted, floor) = (s.wanted(), s.claim_floor());
        s.io().want(wanted, floor);
    }
    tracing::info!("dispatcher stopping: handing back unsent tasks, waiting for running ones");
    s.io().hand_back_unsent(&mut claims).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while s.busy() {
        tokio::select! {
            msg = inbound.recv() => match msg {
                Some(msg) => s.handle(msg).await,
                None => break,
            },
            _ = tick.tick() => {
                // Count queued messages before declaring anyone dead: the
                // hand-back above may have kept this loop away a while.
                while let Ok(msg) = inbound.try_recv() {
                    s.handle(msg).await;
                }
                s.tick(true).await;
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    s.stopped().await;
    running.stop(s.into_io()).await;
}

/// Claims in flight at once: while one waits on the store, the next is
/// asked for, so the workers never wait on a single round-trip chain.
const CLAIMS_IN_FLIGHT: usize = 2;

/// Claims on request, each as its own task (the scheduler keeps at most
/// CLAIMS_IN_FLIGHT under way), so that a dispatcher never holds more than
/// its workers can start soon.
pub async fn claimer(
    store: Store,
    consumer: String,
    block: Duration,
    mut want: mpsc::UnboundedReceiver<usize>,
    claims: mpsc::UnboundedSender<(usize, Vec<Claim>)>,
) {
    // Dropped with the claimer (aborted on stop), it aborts claims in it.
    let mut in_flight = tokio::task::JoinSet::new();
    while let Some(n) = want.recv().await {
        let (store, consumer, claims) = (store.clone(), consumer.clone(), claims.clone());
        in_flight.spawn(async move {
            let got = match store.claim(&consumer, n, block).await {
                Ok(got) => got,
                Err(e) => {
                    tracing::warn!("cannot claim tasks: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Vec::new()
                }
            };
            let _ = claims.send((n, got));
        });
        while in_flight.try_join_next().is_some() {}
    }
}

/// Functions' wire descriptions and module bytes, read from the store once.
pub struct WireFunctions {
    store: Store,
    loaded: HashMap<FunctionId, (FunctionInfo, Arc<Vec<u8>>)>,
    /// Deleted functions kept while claims taken before the deletion
    /// (running, by the store's account) still wait to be sent.
    deleted: HashSet<FunctionId>,
}

impl WireFunctions {
    pub fn new(store: Store) -> Self {
        WireFunctions {
            store,
            loaded: HashMap::new(),
            deleted: HashSet::new(),
        }
    }

    /// Drops a deleted function once no claim in `pending` needs it.
    pub fn forget(&mut self, id: FunctionId, pending: &VecDeque<Claim>) {
        self.deleted.insert(id);
        self.tidy(pending);
    }

    /// Drops the deleted functions no claim in `pending` needs any more.
    pub fn tidy(&mut self, pending: &VecDeque<Claim>) {
        if self.deleted.is_empty() {
            return;
        }
        let needed: HashSet<FunctionId> = pending.iter().map(|c| c.function_id).collect();
        let loaded = &mut self.loaded;
        self.deleted.retain(|id| {
            let keep = needed.contains(id);
            if !keep {
                loaded.remove(id);
            }
            keep
        });
    }

    /// A function's description and module, or the final state its task
    /// gets (kind `store` when the store could not be read: try later).
    pub async fn get(&mut self, id: FunctionId) -> Result<(FunctionInfo, Arc<Vec<u8>>), Final> {
        if let Some(found) = self.loaded.get(&id) {
            return Ok(found.clone());
        }
        let (record, module) = match fetch(&self.store, id).await {
            Ok(found) => found,
            Err(LoadFailure::Final(outcome)) => return Err(outcome),
            Err(LoadFailure::Transient(message)) => {
                return Err(Final::Failed {
                    kind: STORE_FAILURE.into(),
                    message,
                })
            }
        };
        let info = FunctionInfo {
            name: record.name,
            entry: record.entry,
            module_hash: record.module_hash,
        };
        if self.loaded.len() >= 1024 {
            self.loaded.clear();
        }
        self.loaded.insert(id, (info.clone(), module.clone()));
        Ok((info, module))
    }
}

/// The failure kind of [`WireFunctions::get`] that is not final.
pub const STORE_FAILURE: &str = "store";

/// What a task that could not be sent gets: `None` (back to the queue,
/// uncounted) if the store was down, else its final failure.
pub fn unsent_outcome(failure: Final) -> Option<Final> {
    match failure {
        Final::Failed { ref kind, .. } if kind == STORE_FAILURE => None,
        other => Some(other),
    }
}

/// The tasks sent to one worker and not yet ended, with when each was sent
/// (to tell a task the worker lost from one still on its way, and to learn
/// the link's round trip).
#[derive(Default)]
pub struct Assigned {
    running: HashMap<TaskId, Claim>,
    sent_at: HashMap<TaskId, Instant>,
    /// Between here and the worker: the time from sending a task to its
    /// result, less the time the worker held it (`held_us`).
    round_trip: RoundTrip,
    /// Pull mode: the `seq` of the `PULL` whose answer carried each task.
    answer_of: HashMap<TaskId, u64>,
    /// Pull mode: the `seq` of the worker's latest work `PULL` (`free > 0`).
    /// A worker has at most one unanswered, and tasks come only in their
    /// answers, so when it built that one it had received (or given up)
    /// every answer to an earlier request: a listing sent after it that
    /// lacks a task from such an answer proves the task lost, however long
    /// the answer took to arrive (megabytes of tasks and results on a busy
    /// host can take longer than the grace).
    pub settled_below: u64,
    /// Functions whose module this worker has been sent.
    pub functions: HashSet<FunctionId>,
}

/// A task sent in the answer to a request the worker has not provably
/// settled yet counts as lost, if unlisted, only after this many times the
/// grace (a backstop for peers that stop asking).
const UNSETTLED_GRACES: u32 = 5;

impl Assigned {
    /// The attempts held here of `tasks`, as the worker knows them.
    pub fn refs(&self, tasks: &HashSet<TaskId>) -> Vec<TaskRef> {
        tasks
            .iter()
            .filter_map(|id| self.running.get(id))
            .map(task_ref)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    pub fn sent(&mut self, claim: Claim) {
        self.sent_at.insert(claim.task_id, Instant::now());
        self.running.insert(claim.task_id, claim);
    }

    /// Pull mode: sent in the answer to the `PULL` numbered `seq` (0: the
    /// worker does not number its requests; only the time counts).
    pub fn sent_in_answer(&mut self, claim: Claim, seq: u64) {
        if seq > 0 {
            self.answer_of.insert(claim.task_id, seq);
        }
        self.sent(claim);
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Claim> {
        self.running.values()
    }

    pub fn get(&self, id: &TaskId) -> Option<&Claim> {
        self.running.get(id)
    }

    /// Removes and returns the claim of the attempt `result` ends, if
    /// held, learning the round trip from it.
    pub fn take_result(&mut self, result: &ResultMessage) -> Option<Claim> {
        if let (Some(sent), Some(held)) = (self.sent_at.get(&result.task.task_id), result.held_us) {
            let since = sent.elapsed();
            let held = Duration::from_micros(held);
            if since >= held {
                self.round_trip.sample(since - held);
            }
        }
        self.take(&result.task)
    }

    /// The link's round trip to this worker, as recently measured.
    pub fn round_trip(&self) -> Duration {
        self.round_trip.get()
    }

    /// Removes and returns the claim of exactly this attempt, if held.
    pub fn take(&mut self, task: &TaskRef) -> Option<Claim> {
        let same = self
            .running
            .get(&task.task_id)
            .is_some_and(|c| c.attempt == task.attempt && c.receipt == task.receipt);
        if !same {
            return None;
        }
        self.remove(&task.task_id)
    }

    pub fn remove(&mut self, id: &TaskId) -> Option<Claim> {
        self.sent_at.remove(id);
        self.answer_of.remove(id);
        self.running.remove(id)
    }

    /// Everything, emptying it (the worker is gone).
    pub fn drain(&mut self) -> Vec<Claim> {
        self.sent_at.clear();
        self.answer_of.clear();
        self.running.drain().map(|(_, c)| c).collect()
    }

    /// Checks the worker's own list of what it holds against ours. Returns
    /// the tasks it lost (not listed, and sent more than `grace` ago or, in
    /// pull mode, in the answer to a request it has settled since: queue
    /// them again) and the listed tasks we did not know (a restart: hold
    /// them, their results will come).
    /// At most `capacity` tasks are held in all.
    pub fn reconcile(
        &mut self,
        listed: &[TaskRef],
        grace: Duration,
        capacity: usize,
    ) -> (Vec<Claim>, Vec<Claim>) {
        let ids: HashSet<TaskId> = listed.iter().map(|t| t.task_id).collect();
        let lost_ids: Vec<TaskId> = self
            .running
            .keys()
            .filter(|id| !ids.contains(id))
            .filter(|id| {
                let age = self.sent_at.get(id).map(Instant::elapsed);
                match self.answer_of.get(id) {
                    Some(&seq) if seq < self.settled_below => true,
                    Some(_) => age.is_none_or(|age| age > grace * UNSETTLED_GRACES),
                    None => age.is_none_or(|age| age > grace),
                }
            })
            .copied()
            .collect();
        let lost = lost_ids.iter().filter_map(|id| self.remove(id)).collect();
        let mut adopted = Vec::new();
        for task in listed {
            if self.running.len() >= capacity {
                break;
            }
            if let std::collections::hash_map::Entry::Vacant(entry) =
                self.running.entry(task.task_id)
            {
                adopted.push(entry.insert(claim_from_ref(task)).clone());
            }
        }
        (lost, adopted)
    }
}

/// The final state a worker's `RESULT` records, and its log and usage
/// (named `worker ID slot N`).
fn ended_of(worker: &str, result: ResultMessage) -> (Final, Report) {
    let report = Report {
        logs: result.logs.clone(),
        usage: result.usage.clone().map(|mut usage| {
            usage.executor = format!("worker {worker} {}", usage.executor);
            usage
        }),
    };
    (final_of(result), report)
}

/// The final state a worker's `RESULT` records.
fn final_of(result: ResultMessage) -> Final {
    match result.status.as_str() {
        "COMPLETED" => Final::Completed(result.result),
        _ => Final::Failed {
            kind: result.kind.unwrap_or_else(|| "failed".into()),
            message: match result.result {
                Value::String(s) => s,
                other => other.to_string(),
            },
        },
    }
}

/// The bytes a task's entry adds to a `TASK` or `TASKS` body, or the
/// final failure of a task that can never be sent: its entry is over
/// [`MAX_ITEM_BYTES`] (its payload, mostly), or its function's module is
/// over the frame cap.
pub fn sendable(task: &TaskMessage, module: &[u8]) -> Result<usize, Final> {
    let size = task.wire_size();
    let failure = if size > MAX_ITEM_BYTES {
        too_large("its payload", json_len(&task.payload))
    } else if module.len() > MAX_MODULE_FRAME_BYTES {
        format!(
            "too large for the worker port: its function's module is {} bytes, and a frame \
             may be at most {MAX_MODULE_FRAME_BYTES} bytes",
            module.len()
        )
    } else {
        return Ok(size);
    };
    tracing::warn!(task = %task.task.task_id, "{failure}");
    Err(Final::Failed {
        kind: TOO_LARGE.into(),
        message: failure,
    })
}

/// The wire form of a claimed task.
/// A claim's attempt as its worker knows it.
pub fn task_ref(claim: &Claim) -> TaskRef {
    TaskRef {
        task_id: claim.task_id,
        attempt: claim.attempt,
        receipt: claim.receipt.clone(),
    }
}

pub fn task_message(claim: &Claim, function: FunctionInfo) -> TaskMessage {
    TaskMessage {
        task: task_ref(claim),
        function_id: claim.function_id,
        function,
        payload: claim.payload.clone(),
    }
}

/// A claim rebuilt from what a worker echoes back: enough to finish, renew
/// or re-queue it (the store keys on task id, attempt and receipt).
pub fn claim_from_ref(task: &TaskRef) -> Claim {
    Claim {
        task_id: task.task_id,
        function_id: uuid::Uuid::nil(),
        payload: Value::Null,
        attempt: task.attempt,
        receipt: task.receipt.clone(),
        queued_at_ms: 0,
    }
}

/// Queues a task a worker lost again, counting the attempt, without
/// waiting; if the store is down, its lease lapses instead.
fn requeue_later(store: &Store, claim: Claim) {
    let store = store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.requeue(&claim).await {
            tracing::warn!(task = %claim.task_id, "cannot re-queue (its lease will lapse instead): {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskRef {
        TaskRef {
            task_id: uuid::Uuid::new_v4(),
            attempt: 1,
            receipt: "1-0".into(),
        }
    }

    #[test]
    fn reconcile_requeues_unlisted_old_tasks_and_adopts_unknown_ones() {
        let mut assigned = Assigned::default();
        let (old, fresh, listed, unknown) = (task(), task(), task(), task());
        for t in [&old, &fresh, &listed] {
            assigned.sent(claim_from_ref(t));
        }
        assigned
            .sent_at
            .insert(old.task_id, Instant::now() - Duration::from_secs(10));
        let (lost, adopted) = assigned.reconcile(
            &[listed.clone(), unknown.clone()],
            Duration::from_secs(2),
            10,
        );
        assert_eq!(
            lost.iter().map(|c| c.task_id).collect::<Vec<_>>(),
            vec![old.task_id]
        );
        assert_eq!(
            adopted.iter().map(|c| c.task_id).collect::<Vec<_>>(),
            vec![unknown.task_id]
        );
        assert_eq!(
            assigned.len(),
            3,
            "fresh (maybe in flight), listed and unknown"
        );
    }

    #[test]
    fn in_pull_mode_a_task_is_lost_once_its_answer_is_settled_not_after_a_time() {
        let mut assigned = Assigned::default();
        let (first, second, unnumbered) = (task(), task(), task());
        assigned.sent_in_answer(claim_from_ref(&first), 3);
        assigned.sent_in_answer(claim_from_ref(&second), 5);
        assigned.sent_in_answer(claim_from_ref(&unnumbered), 0);
        for t in [&first, &second, &unnumbered] {
            // Long ago, as when megabyte answers queue up on a busy host.
            assigned
                .sent_at
                .insert(t.task_id, Instant::now() - Duration::from_secs(3));
        }
        // A listing built before the worker had the answers: only the
        // unnumbered task goes by the time.
        assigned.settled_below = 3;
        let (lost, _) = assigned.reconcile(&[], Duration::from_secs(2), 10);
        let ids = |claims: Vec<Claim>| claims.iter().map(|c| c.task_id).collect::<Vec<_>>();
        assert_eq!(ids(lost), vec![unnumbered.task_id]);
        // A work PULL numbered 4 came: the answer to 3 was settled.
        assigned.settled_below = 4;
        let (lost, _) = assigned.reconcile(&[], Duration::from_secs(2), 10);
        assert_eq!(ids(lost), vec![first.task_id]);
        assert_eq!(assigned.len(), 1);
        // The backstop: unsettled, but very old.
        assigned
            .sent_at
            .insert(second.task_id, Instant::now() - Duration::from_secs(11));
        let (lost, _) = assigned.reconcile(&[], Duration::from_secs(2), 10);
        assert_eq!(ids(lost), vec![second.task_id]);
    }

    #[test]
    fn loopback_endpoints() {
        for local in [
            "tcp://127.0.0.1:7001",
            "tcp://127.1.2.3:7001",
            "tcp://[::1]:7001",
            "tcp://localhost:7001",
            "ipc:///tmp/x",
        ] {
            assert!(is_loopback_endpoint(local), "{local}");
        }
        for exposed in [
            "tcp://*:7001",
            "tcp://0.0.0.0:7001",
            "tcp://[::]:7001",
            "tcp://10.0.0.5:7001",
            "tcp://eth0:7001",
            "nonsense",
        ] {
            assert!(!is_loopback_endpoint(exposed), "{exposed}");
        }
    }

    #[test]
    fn a_task_too_large_for_any_message_gets_its_final_failure() {
        let claim = |payload: Value| Claim {
            payload,
            ..claim_from_ref(&task())
        };
        let info = FunctionInfo {
            name: "echo".into(),
            entry: "_start".into(),
            module_hash: "ab".repeat(32),
        };
        let small = task_message(&claim(Value::String("x".repeat(1000))), info.clone());
        assert_eq!(sendable(&small, b"\0asm"), Ok(small.wire_size()));
        let big = "x".repeat(MAX_ITEM_BYTES);
        let big = task_message(&claim(Value::String(big)), info);
        match sendable(&big, b"\0asm") {
            Err(Final::Failed { kind, message }) => {
                assert_eq!(kind, TOO_LARGE);
                let size = (MAX_ITEM_BYTES + 2).to_string();
                assert!(
                    message.contains(&format!("its payload is {size} bytes"))
                        && message.contains(&MAX_ITEM_BYTES.to_string()),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn take_matches_the_attempt() {
        let mut assigned = Assigned::default();
        let t = task();
        assigned.sent(claim_from_ref(&t));
        let mut other = t.clone();
        other.attempt = 2;
        assert!(assigned.take(&other).is_none());
        assert!(assigned.take(&t).is_some());
        assert!(assigned.is_empty());
    }
}
