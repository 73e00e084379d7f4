//! Push mode: a DEALER connected to the dispatcher's ROUTER. One thread (the
//! caller's) owns the socket and runs the loop: it polls the DEALER and the
//! wake-up mailbox, hands `TASK`s to [`Tasks`](crate::tasks::Tasks), starts tasks on the
//! executor, sends `RESULT`s the moment a slot posts them, and keeps the
//! heartbeat and re-registration timers. Nothing in the loop waits on a
//! task or a compile.

use crate::config::{routing_id, WorkerConfig, WorkerError};
use crate::engine::{Engine, Latency};
use crate::link::{heartbeat_interval, Link, DEFAULT_HEARTBEAT, READ_BATCH};
use crate::outcome::sendable;
use crate::tasks::Action;
use faas_protocol::budget::Budget;
use faas_protocol::{DispatcherMessage, ResultMessage, WorkerMessage};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// With no message from the dispatcher for this many heartbeat intervals,
/// `REGISTER` again (it may have restarted on the same address).
const SILENT_INTERVALS: u32 = 3;
/// Most results in one `RESULTS` message; fewer if they pass the byte
/// budget ([`faas_protocol::budget`]).
const MAX_RESULTS_PER_MESSAGE: usize = 256;
/// While the executor's queue feeds the slots, how long results may gather
/// before they go out: one message (and one wake-up on each side) for
/// many. An idle worker sends each result at once.
const GATHER: Duration = Duration::from_millis(1);

/// Runs a push-mode worker until `shutdown` becomes true; then stops taking
/// work, sends `BYE` listing tasks received but not started, waits for
/// running tasks to finish and sends their `RESULT`s, and returns.
pub fn run_push(config: WorkerConfig, shutdown: Arc<AtomicBool>) -> Result<(), WorkerError> {
    let engine = Engine::start(&config)?;
    let link = Link::connect(&config, &routing_id(&config.name), false)?;
    config.log_connecting("push");
    let now = Instant::now();
    let mut worker = Worker {
        link,
        engine,
        config,
        heartbeat: DEFAULT_HEARTBEAT,
        next_heartbeat: now + DEFAULT_HEARTBEAT,
        last_heard: now,
        last_register: now,
        welcomed: false,
        batch_results: false,
        rejoining: false,
        warned_silent: false,
        backlog: VecDeque::new(),
        latency: Latency::default(),
        gather_until: None,
        refused: None,
    };
    worker.run(&shutdown);
    let Worker {
        link,
        engine,
        latency,
        backlog,
        refused,
        config,
        ..
    } = worker;
    if let Some(status) = refused {
        engine.stop(link, &latency);
        return Err(config.refused(status));
    }
    if !backlog.is_empty() {
        tracing::warn!(
            "{} messages could not be handed to the socket before exit (the dispatcher is unreachable)",
            backlog.len()
        );
    }
    // Every task has ended; this only joins the idle slot threads.
    engine.stop(link, &latency);
    Ok(())
}

struct Worker {
    link: Link,
    engine: Engine,
    config: WorkerConfig,
    heartbeat: Duration,
    next_heartbeat: Instant,
    /// When the dispatcher last sent anything.
    last_heard: Instant,
    last_register: Instant,
    /// A `WELCOME` has come at least once.
    welcomed: bool,
    /// The dispatcher takes `RESULTS`: results that end together go in one
    /// message.
    batch_results: bool,
    /// A `REGISTER` went out because the dispatcher asked (`REREGISTER`);
    /// no `WELCOME` yet.
    rejoining: bool,
    /// The dispatcher's silence has been logged.
    warned_silent: bool,
    /// Messages the socket would not take yet (its send queue was full).
    backlog: VecDeque<Vec<Vec<u8>>>,
    latency: Latency,
    /// Results are left to gather in the mailbox until then.
    gather_until: Option<Instant>,
    /// The dispatcher refused this worker's key (the ZAP status): stop.
    refused: Option<u32>,
}

impl Worker {
    fn run(&mut self, shutdown: &AtomicBool) {
        self.register();
        loop {
            if let Some(status) = self.link.refused() {
                self.refused = Some(status);
                return;
            }
            if !self.engine.tasks.draining() && shutdown.load(Ordering::Relaxed) {
                let returned = self.engine.begin_drain();
                self.send(WorkerMessage::Bye { returned });
            }
            self.flush_backlog();
            if self.engine.tasks.draining() && self.engine.tasks.idle() {
                return;
            }
            let now = Instant::now();
            self.timers(now);
            let mut timeout = self.next_heartbeat.saturating_duration_since(now);
            let gathering = self.gather_until.filter(|until| *until > now);
            if let Some(until) = gathering {
                timeout = timeout.min(until - now);
            }
            let mailbox = if gathering.is_some() {
                None
            } else {
                Some(self.engine.mailbox())
            };
            let mut polled = self.link.poll(mailbox, !self.backlog.is_empty(), timeout);
            if gathering.is_some_and(|until| Instant::now() >= until) {
                self.gather_until = None;
                polled.woken = true;
            }
            // Results first: they are what the dispatcher waits on.
            if polled.woken {
                // Busy: the next results come in microseconds, so let them
                // gather after this drain.
                self.gather_until = self.engine.busy().then(|| Instant::now() + GATHER);
                let (link, backlog, latency) = (&self.link, &mut self.backlog, &mut self.latency);
                let mut results = Vec::new();
                let batch = self.batch_results;
                self.engine.events(&mut |message, ended| {
                    match message {
                        WorkerMessage::Result(result) => {
                            let (result, size) = sendable(result);
                            if batch {
                                results.push((result, size));
                            } else {
                                send(link, backlog, WorkerMessage::Result(result));
                            }
                        }
                        message => send(link, backlog, message),
                    }
                    if let Some(ended) = ended {
                        latency.record(ended.elapsed());
                    }
                });
                send_results(link, backlog, results);
            }
            if polled.readable {
                self.receive();
            }
        }
    }

    fn timers(&mut self, now: Instant) {
        if now >= self.next_heartbeat {
            let running = u32::try_from(self.engine.tasks.held_count()).unwrap_or(u32::MAX);
            self.send(WorkerMessage::Heartbeat { running });
            self.next_heartbeat = now + self.heartbeat;
            self.engine.tasks.expire(now);
        }
        let quiet = now.saturating_duration_since(self.last_heard.max(self.last_register));
        if !self.engine.tasks.draining() && quiet >= self.heartbeat * SILENT_INTERVALS {
            // An idle dispatcher sends nothing, so this is also the ping of
            // a healthy link: the WELCOME it draws resets the silence.
            let silent = now.saturating_duration_since(self.last_heard);
            if !self.warned_silent && silent >= self.heartbeat * SILENT_INTERVALS * 3 {
                tracing::warn!(
                    "no answer from the dispatcher at {} for {:.1} s; still trying{}",
                    self.config.dispatcher,
                    silent.as_secs_f64(),
                    self.config.silence_hint()
                );
                self.warned_silent = true;
            }
            self.register();
        }
    }

    fn register(&mut self) {
        self.last_register = Instant::now();
        self.send(WorkerMessage::Register {
            worker: self.config.name.clone(),
            slots: u32::try_from(self.config.slots).unwrap_or(u32::MAX),
            running: self.engine.tasks.held(),
            batch: true,
        });
    }

    /// Reads what the DEALER holds, a batch at a time.
    fn receive(&mut self) {
        let mut actions = Vec::new();
        for _ in 0..READ_BATCH {
            let Some(frames) = self.link.recv() else {
                break;
            };
            let now = Instant::now();
            let gap = now.saturating_duration_since(self.last_heard);
            self.last_heard = now;
            self.warned_silent = false;
            match DispatcherMessage::decode(&frames) {
                Ok(message) => self.handle(message, gap, &mut actions),
                Err(e) => tracing::warn!("dropped a malformed message from the dispatcher: {e}"),
            }
            let (link, backlog) = (&self.link, &mut self.backlog);
            self.engine
                .perform(&mut actions, &mut |message, _| send(link, backlog, message));
        }
    }

    /// `gap`: how long the dispatcher had been silent before this message.
    fn handle(&mut self, message: DispatcherMessage, gap: Duration, actions: &mut Vec<Action>) {
        match message {
            DispatcherMessage::Welcome {
                heartbeat_ms,
                batch,
            } => {
                self.batch_results = batch;
                self.heartbeat = heartbeat_interval(heartbeat_ms);
                self.next_heartbeat = self.next_heartbeat.min(Instant::now() + self.heartbeat);
                if !self.welcomed {
                    self.config.log_ready("push");
                } else if gap >= self.heartbeat * SILENT_INTERVALS * 2 {
                    tracing::info!(
                        "the dispatcher at {} answers again after {:.1} s of silence; registered",
                        self.config.dispatcher,
                        gap.as_secs_f64()
                    );
                } else {
                    tracing::debug!("welcomed by the dispatcher");
                }
                self.welcomed = true;
                self.rejoining = false;
            }
            DispatcherMessage::Task { task, module } => {
                self.engine.tasks.task(task, module, actions)
            }
            DispatcherMessage::Tasks(reply) => {
                // Each module comes once, beside the first task that needs it.
                let mut modules: HashMap<Uuid, Vec<u8>> = reply.modules.into_iter().collect();
                for task in reply.tasks {
                    let module = modules.remove(&task.function_id);
                    self.engine.tasks.task(task, module, actions);
                }
            }
            DispatcherMessage::Cancel { tasks } => self.engine.cancel(&tasks, actions),
            DispatcherMessage::Error { .. } => {
                tracing::warn!(
                    "dropped a {} message: pull mode's, not push mode's",
                    message.kind()
                );
            }
            DispatcherMessage::Reregister => {
                // Stale messages queued while the dispatcher was away each
                // draw a REREGISTER; one REGISTER answers them all.
                if self.rejoining && self.last_register.elapsed() < self.heartbeat {
                    return;
                }
                tracing::info!(
                    "the dispatcher does not know this worker (it restarted, or missed its heartbeats); registering again"
                );
                self.engine.tasks.forget_need_module();
                self.rejoining = true;
                self.register();
                if self.engine.tasks.draining() {
                    self.send(WorkerMessage::Bye {
                        returned: Vec::new(),
                    });
                }
            }
        }
    }

    fn send(&mut self, message: WorkerMessage) {
        send(&self.link, &mut self.backlog, message);
    }

    fn flush_backlog(&mut self) {
        while let Some(frames) = self.backlog.front() {
            match self.link.send(frames) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => return,
                Err(e) => tracing::warn!("cannot send a queued message: {e}"),
            }
            self.backlog.pop_front();
        }
    }
}

/// Sends results in as few messages as the count and byte budget allow
/// (one alone goes as `RESULT`).
fn send_results(
    link: &Link,
    backlog: &mut VecDeque<Vec<Vec<u8>>>,
    results: Vec<(ResultMessage, usize)>,
) {
    let flush = |batch: Vec<ResultMessage>, backlog: &mut VecDeque<Vec<Vec<u8>>>| {
        let message = match <[ResultMessage; 1]>::try_from(batch) {
            Ok([one]) => WorkerMessage::Result(one),
            Err(many) => WorkerMessage::Results(many),
        };
        send(link, backlog, message);
    };
    let mut batch = Vec::new();
    let mut budget = Budget::default();
    for (result, size) in results {
        if !budget.fits(size) || batch.len() >= MAX_RESULTS_PER_MESSAGE {
            flush(std::mem::take(&mut batch), backlog);
            budget = Budget::default();
        }
        budget.take(size);
        batch.push(result);
    }
    if !batch.is_empty() {
        flush(batch, backlog);
    }
}

/// Hands a message to the socket without blocking; if its queue is full
/// (the dispatcher is away), results and the like wait in the backlog and
/// heartbeats are dropped.
fn send(link: &Link, backlog: &mut VecDeque<Vec<Vec<u8>>>, message: WorkerMessage) {
    let droppable = matches!(message, WorkerMessage::Heartbeat { .. });
    let frames = message.encode();
    if !backlog.is_empty() {
        if !droppable {
            backlog.push_back(frames);
        }
        return;
    }
    match link.send(&frames) {
        Ok(()) => {}
        Err(zmq::Error::EAGAIN) if !droppable => backlog.push_back(frames),
        Err(zmq::Error::EAGAIN) => {}
        Err(e) => tracing::warn!("cannot send {}: {e}", message.kind()),
    }
}
