//! Pull mode: the worker asks a `dispatcher -m pull` for work with `PULL`
//! requests and gets `TASKS` answers (`docs/protocol.md`, Pull mode). One
//! thread (the caller's) owns the socket and runs the loop: it polls the
//! socket and the wake-up mailbox, feeds the tasks of each answer to
//! [`Tasks`](crate::tasks::Tasks), starts them on the executor, and sends
//! the `PULL`s [`Requests`] says are due: asking for free slots, carrying
//! results, heartbeats, module requests, and on shutdown `bye`.
//!
//! The socket is a DEALER, not a REQ. A REQ must alternate strictly, one
//! request then its answer: while the dispatcher holds a work request (up
//! to `hold_ms`, the long poll) a REQ worker could not report a finished
//! task, and if the answer is lost (the dispatcher restarted) the REQ is
//! stuck until it is closed and opened again. A DEALER sends whenever it
//! likes: a report (`free = 0`, answered at once) goes out beside a held
//! request, and a lost request is simply sent again. It writes the REQ
//! envelope by hand: every message starts with an empty delimiter frame,
//! and every answer must too (others are dropped). Answers may come in any
//! order (a report's overtakes a held request's); `seq` matches them.
//!
//! The DEALER queues messages only on a live connection (`ZMQ_IMMEDIATE`):
//! while the dispatcher is unreachable nothing piles up in the socket; what
//! is due waits in [`Requests`] and goes out, merged into one `PULL`, when
//! the connection is back.

use crate::config::{routing_id, WorkerConfig, WorkerError};
use crate::engine::{Engine, Latency};
use crate::link::{Link, READ_BATCH};
use crate::requests::Requests;
use crate::tasks::{Action, NEED_MODULE_EXPIRY};
use faas_protocol::{DispatcherMessage, TaskMessage, TaskRef, TasksReply, WorkerMessage};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Once stopping and idle, how long to wait for the dispatcher to
/// acknowledge the last results before exiting anyway.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Lost requests of a dispatcher that answers others are logged at info
/// at most this often.
const LOST_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// `PULL`s sent per turn of the loop at most (results over one `PULL`'s
/// budget go in several).
const SEND_BURST: usize = 16;

/// Runs a pull-mode worker until `shutdown` becomes true; then it asks for
/// nothing more, says `bye` returning the tasks it has not started,
/// finishes the running ones and reports them, and returns once the
/// dispatcher has acknowledged everything (or has not answered for 5 s).
pub fn run_pull(config: WorkerConfig, shutdown: Arc<AtomicBool>) -> Result<(), WorkerError> {
    let engine = Engine::start(&config)?;
    let id = routing_id(&config.name);
    let link = Link::connect(&config, &id, true)?;
    config.log_connecting("pull");
    let mut worker = Puller {
        link,
        engine,
        requests: Requests::new(config.slots, config.prefetch),
        // The routing id is built from a `String` by whole characters.
        worker: String::from_utf8_lossy(&id).into_owned(),
        config,
        waiting: HashMap::new(),
        latency: Latency::default(),
        ready: false,
        last_heard: None,
        silent: false,
        lost_logged: None,
        blocked: false,
        idle_since: None,
        refused: None,
    };
    worker.run(&shutdown);
    let Puller {
        link,
        engine,
        latency,
        refused,
        config,
        ..
    } = worker;
    engine.stop(link, &latency);
    match refused {
        Some(status) => Err(config.refused(status)),
        None => Ok(()),
    }
}

/// Tasks whose function this worker lacks, kept to be fed again with the
/// module.
struct Waiting {
    since: Instant,
    messages: Vec<TaskMessage>,
}

struct Puller {
    link: Link,
    engine: Engine,
    requests: Requests,
    config: WorkerConfig,
    /// This process's `worker` in every `PULL`.
    worker: String,
    /// By function id.
    waiting: HashMap<Uuid, Waiting>,
    latency: Latency,
    /// A `TASKS` has come at least once.
    ready: bool,
    /// When the dispatcher last answered.
    last_heard: Option<Instant>,
    /// A `PULL` was given up and nothing has been heard since.
    silent: bool,
    /// When a lost request (the dispatcher answering others) was last
    /// logged at info.
    lost_logged: Option<Instant>,
    /// A `PULL` is due but the socket does not take it (no connection).
    blocked: bool,
    /// Stopping, and no task left, since.
    idle_since: Option<Instant>,
    /// The dispatcher refused this worker's key (the ZAP status): stop.
    refused: Option<u32>,
}

impl Puller {
    fn run(&mut self, shutdown: &AtomicBool) {
        loop {
            if let Some(status) = self.link.refused() {
                self.refused = Some(status);
                return;
            }
            let now = Instant::now();
            if !self.engine.tasks.draining() && shutdown.load(Ordering::Relaxed) {
                self.stop_asking(now);
            }
            if self.engine.tasks.draining() && self.done(now) {
                return;
            }
            self.timers(now);
            self.pump(now);
            let now = Instant::now();
            let due = if self.blocked {
                None
            } else {
                self.requests.due(now, self.held())
            };
            let wake = [due, self.requests.give_up_at()]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake.map_or(Duration::MAX, |at| at.saturating_duration_since(now));
            let polled = self
                .link
                .poll(Some(self.engine.mailbox()), self.blocked, timeout);
            // Results first: they are what the dispatcher waits on.
            if polled.woken {
                let requests = &mut self.requests;
                self.engine
                    .events(&mut |message, ended| route(requests, message, ended, Instant::now()));
            }
            if polled.readable {
                self.receive();
            }
        }
    }

    /// Tasks held, including those waiting for a module.
    fn held(&self) -> usize {
        self.engine.tasks.held_count()
            + self
                .waiting
                .values()
                .map(|w| w.messages.len())
                .sum::<usize>()
    }

    fn stop_asking(&mut self, now: Instant) {
        let returned = self.engine.begin_drain();
        self.requests.add_returned(returned, now);
        // `begin_drain` returned the tasks waiting for a module too.
        self.waiting.clear();
        self.requests.drain();
    }

    /// Stopping: whether to return now.
    fn done(&mut self, now: Instant) -> bool {
        if !self.engine.tasks.idle() {
            self.idle_since = None;
            return false;
        }
        // Never answered: there is nothing to hand over.
        if self.requests.settled() || self.last_heard.is_none() {
            return true;
        }
        let since = *self.idle_since.get_or_insert(now);
        if now.saturating_duration_since(since) < DRAIN_GRACE {
            return false;
        }
        tracing::warn!(
            "the dispatcher at {} did not acknowledge {} result(s) within {} s; stopping anyway",
            self.config.dispatcher,
            self.requests.unacknowledged(),
            DRAIN_GRACE.as_secs()
        );
        true
    }

    fn timers(&mut self, now: Instant) {
        let patience = self.requests.patience();
        let lost = self.requests.give_up(now);
        if lost > 0 {
            // Nothing heard for as long as a request may wait: the
            // dispatcher is gone (or restarting), not just one answer.
            let silent = self
                .last_heard
                .is_none_or(|at| now.saturating_duration_since(at) >= patience);
            if self.silent {
                tracing::debug!(lost, "no answer from the dispatcher yet; asking again");
            } else if silent {
                tracing::info!(
                    "no answer from the dispatcher at {} for {:.1} s; asking again{}",
                    self.config.dispatcher,
                    patience.as_secs_f64(),
                    self.config.silence_hint()
                );
                self.silent = true;
            } else if self
                .lost_logged
                .is_none_or(|at| now.saturating_duration_since(at) >= LOST_LOG_INTERVAL)
            {
                // It restarted quickly, or dropped a request.
                tracing::info!(
                    lost,
                    "no answer from the dispatcher at {} to a request in {:.1} s, though it answers others; asking again",
                    self.config.dispatcher,
                    patience.as_secs_f64()
                );
                self.lost_logged = Some(now);
            } else {
                tracing::debug!(lost, "a request got no answer; asking again");
            }
        }
        let expired: Vec<Uuid> = self
            .waiting
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.since) >= NEED_MODULE_EXPIRY)
            .map(|(id, _)| *id)
            .collect();
        let mut actions = Vec::new();
        for function_id in expired {
            let why = format!(
                "the dispatcher did not send the module of function {function_id} in {} s",
                NEED_MODULE_EXPIRY.as_secs()
            );
            self.module_missing(function_id, &why, &mut actions);
        }
        self.perform(&mut actions);
    }

    /// Sends the `PULL`s that are due, while the socket takes them.
    fn pump(&mut self, now: Instant) {
        self.blocked = false;
        for _ in 0..SEND_BURST {
            let held = self.held();
            if self.requests.due(now, held).is_none_or(|at| at > now) {
                return;
            }
            if !self.link.writable() {
                self.blocked = true;
                return;
            }
            let (tasks, waiting) = (&self.engine.tasks, &self.waiting);
            let frames = self.requests.build(
                now,
                &self.worker,
                &self.config.name,
                held,
                || running(tasks.held(), waiting),
                &mut self.latency,
            );
            // The REQ envelope: an empty delimiter frame first.
            let mut message = Vec::with_capacity(frames.len() + 1);
            message.push(Vec::new());
            message.extend(frames);
            match self.link.send(&message) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => {
                    self.requests.retract(now);
                    self.blocked = true;
                    return;
                }
                // Not expected of a DEALER; the PULL counts as sent and
                // lost, so it is given up and its content sent again.
                Err(e) => tracing::warn!("cannot send a PULL: {e}"),
            }
        }
    }

    /// Reads what the DEALER holds, a batch at a time.
    fn receive(&mut self) {
        for _ in 0..READ_BATCH {
            let Some(mut frames) = self.link.recv() else {
                break;
            };
            if frames.first().is_none_or(|delimiter| !delimiter.is_empty()) {
                tracing::warn!(
                    "dropped a message from the dispatcher without the empty delimiter frame"
                );
                continue;
            }
            frames.remove(0);
            match DispatcherMessage::decode(&frames) {
                Ok(DispatcherMessage::Tasks(reply)) => self.answer(reply),
                Ok(DispatcherMessage::Error { message }) => {
                    let now = Instant::now();
                    self.heard(now);
                    let matched = self.requests.refused(now);
                    let message: String = message.chars().take(500).collect();
                    tracing::warn!(
                        "the dispatcher refused a PULL: {message}{}",
                        if matched {
                            "; what it carried is sent again"
                        } else {
                            ""
                        }
                    );
                }
                Ok(other) => tracing::warn!(
                    "dropped a {} message: push mode's, not pull mode's",
                    other.kind()
                ),
                Err(e) => tracing::warn!("dropped a malformed message from the dispatcher: {e}"),
            }
        }
    }

    fn heard(&mut self, now: Instant) {
        if self.silent {
            let gap = self
                .last_heard
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
            tracing::info!(
                "the dispatcher at {} answers again after {:.1} s of silence",
                self.config.dispatcher,
                gap.as_secs_f64()
            );
            self.silent = false;
        }
        self.last_heard = Some(now);
    }

    /// A `TASKS` answer: settle its `PULL`, run its tasks, and feed the
    /// tasks that waited for its modules.
    fn answer(&mut self, reply: TasksReply) {
        let now = Instant::now();
        self.heard(now);
        if !self.ready {
            self.config.log_ready("pull");
            self.ready = true;
        }
        let TasksReply {
            seq,
            tasks,
            modules,
            heartbeat_ms,
            hold_ms,
            cancel,
        } = reply;
        self.cancel(&cancel);
        // A cancellation frees room as tasks do: ask again at once.
        let busy = !tasks.is_empty() || !cancel.is_empty();
        let settled = self
            .requests
            .answered(seq, heartbeat_ms, hold_ms, busy, now);
        if settled.is_none() {
            tracing::debug!(seq, tasks = tasks.len(), "an answer to a PULL given up");
        }
        let listed: Vec<Uuid> = modules.iter().map(|(id, _)| *id).collect();
        let mut modules: HashMap<Uuid, Vec<u8>> = modules.into_iter().collect();
        for message in tasks {
            let module = modules.remove(&message.function_id);
            self.feed(message, module, now);
        }
        for function_id in listed {
            let Some(w) = self.waiting.remove(&function_id) else {
                continue;
            };
            for message in w.messages {
                // The first gets the module (unless a new task took it and
                // it is loading already); the rest wait for its load.
                let module = modules.remove(&function_id);
                self.feed(message, module, now);
            }
        }
        // Asked for and not sent: the dispatcher cannot send it (and has
        // failed those tasks itself); so do they here, and stop holding them.
        let mut actions = Vec::new();
        for function_id in settled.map(|s| s.asked_modules).unwrap_or_default() {
            let why = format!(
                "the dispatcher did not send the module of function {function_id} when asked"
            );
            self.module_missing(function_id, &why, &mut actions);
        }
        self.perform(&mut actions);
    }

    /// Stops cancelled tasks, including those waiting here for a module
    /// (the `NEED_MODULE` [`Tasks`](crate::tasks::Tasks) keeps for them
    /// ends them, with one `RESULT` each).
    fn cancel(&mut self, tasks: &[TaskRef]) {
        if tasks.is_empty() {
            return;
        }
        for w in self.waiting.values_mut() {
            w.messages.retain(|m| !tasks.contains(&m.task));
        }
        self.waiting.retain(|_, w| !w.messages.is_empty());
        let mut actions = Vec::new();
        self.engine.cancel(tasks, &mut actions);
        self.perform(&mut actions);
    }

    /// Fails the tasks waiting for a function's module, if any.
    fn module_missing(&mut self, function_id: Uuid, why: &str, actions: &mut Vec<Action>) {
        let Some(w) = self.waiting.remove(&function_id) else {
            return;
        };
        tracing::warn!("{why}; failing {} task(s)", w.messages.len());
        for message in w.messages {
            self.engine.tasks.module_missing(message.task, why, actions);
        }
    }

    /// One task to [`Tasks`](crate::tasks::Tasks). If its function is
    /// missing, it waits here and the next `PULL` asks for the module.
    fn feed(&mut self, message: TaskMessage, module: Option<Vec<u8>>, now: Instant) {
        // Tasks needs the message again only when no module came with it.
        let copy = module.is_none().then(|| message.clone());
        let mut actions = Vec::new();
        self.engine.tasks.task(message, module, &mut actions);
        if let Some(copy) = copy {
            if matches!(
                actions.last(),
                Some(Action::Send(WorkerMessage::NeedModule { .. }))
            ) {
                actions.pop();
                self.wait_for_module(copy, now);
            }
        }
        self.perform(&mut actions);
    }

    fn wait_for_module(&mut self, message: TaskMessage, now: Instant) {
        let function_id = message.function_id;
        match self.waiting.entry(function_id) {
            Entry::Occupied(mut waiting) => {
                let messages = &mut waiting.get_mut().messages;
                if !messages.iter().any(|m| m.task == message.task) {
                    messages.push(message);
                }
            }
            Entry::Vacant(entry) => {
                tracing::debug!(function = %function_id, task = %message.task.task_id, "asking for a module");
                entry.insert(Waiting {
                    since: now,
                    messages: vec![message],
                });
                self.requests.ask_module(function_id);
            }
        }
    }

    fn perform(&mut self, actions: &mut Vec<Action>) {
        let requests = &mut self.requests;
        self.engine.perform(actions, &mut |message, ended| {
            route(requests, message, ended, Instant::now())
        });
    }
}

/// Every task held: those [`Tasks`](crate::tasks::Tasks) holds and those
/// waiting for a module.
fn running(mut held: Vec<TaskRef>, waiting: &HashMap<Uuid, Waiting>) -> Vec<TaskRef> {
    held.extend(
        waiting
            .values()
            .flat_map(|w| w.messages.iter().map(|m| m.task.clone())),
    );
    held
}

/// Where a message the task bookkeeping wants sent goes in pull mode: into
/// the next `PULL`.
fn route(requests: &mut Requests, message: WorkerMessage, ended: Option<Instant>, now: Instant) {
    match message {
        WorkerMessage::Result(result) => requests.add_result(result, ended, now),
        WorkerMessage::Bye { returned } => requests.add_returned(returned, now),
        // NEED_MODULE is turned into `need_modules` by `feed`.
        other => tracing::debug!("not sent in pull mode: {}", other.kind()),
    }
}
