//! Push mode: a DEALER connected to the dispatcher's ROUTER. One thread (the
//! caller's) owns the socket and runs the loop: it polls the DEALER and the
//! wake-up mailbox, hands `TASK`s to [`Tasks`], starts tasks on the
//! executor, sends `RESULT`s the moment a slot posts them, and keeps the
//! heartbeat and re-registration timers. Nothing in the loop waits on a
//! task or a compile.

use crate::config::{check_url, is_ipv6_literal, routing_id, WorkerConfig, WorkerError};
use crate::functions::{spawn_loaders, LoadJob, Loaded};
use crate::tasks::{Action, Tasks};
use crate::wake::{Mailbox, Poster};
use faas_protocol::{DispatcherMessage, TaskRef, WorkerMessage, MAX_MESSAGE_BYTES};
use faas_runtime::{Executor, Outcome, Runtime};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Heartbeat interval until a `WELCOME` says otherwise.
const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(1000);
/// Bounds on the interval a dispatcher may ask for.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);
const MAX_HEARTBEAT: Duration = Duration::from_secs(60);
/// With no message from the dispatcher for this many heartbeat intervals,
/// `REGISTER` again (it may have restarted on the same address).
const SILENT_INTERVALS: u32 = 3;
/// Longest poll, so that `shutdown` is seen promptly.
const MAX_POLL: Duration = Duration::from_millis(100);
/// Messages read from the DEALER per turn before results get their turn.
const READ_BATCH: usize = 256;
/// Loader threads (the runtime compiles at most two modules at once).
const LOADERS: usize = 2;

/// What slot and loader threads tell the I/O loop.
pub(crate) enum Event {
    Finished {
        task: TaskRef,
        outcome: Outcome,
        at: Instant,
    },
    Loaded(Loaded),
}

/// Runs a push-mode worker until `shutdown` becomes true; then stops taking
/// work, sends `BYE` listing tasks received but not started, waits for
/// running tasks to finish and sends their `RESULT`s, and returns.
pub fn run_push(config: WorkerConfig, shutdown: Arc<AtomicBool>) -> Result<(), WorkerError> {
    if config.slots == 0 {
        return Err(WorkerError::NoSlots);
    }
    check_url(&config.dispatcher)?;
    let mut runtime_config = config.runtime.clone();
    let slots = u32::try_from(config.slots).unwrap_or(u32::MAX);
    runtime_config.max_concurrent_instances = runtime_config.max_concurrent_instances.max(slots);
    let function_capacity = runtime_config.cache_capacity;
    let runtime = Runtime::new(runtime_config)?;

    let (mailbox, poster) = Mailbox::<Event>::new().map_err(WorkerError::zmq("inproc wake-up socket"))?;
    // The DEALER has a context of its own: ending it (on return) waits up
    // to the linger for the last RESULTs and the BYE to go out.
    let context = zmq::Context::new();
    let socket = dealer(&context, &config)?;
    let executor = Executor::new(runtime.clone(), config.slots)?;
    let loads = spawn_loaders(runtime, LOADERS, poster.clone(), Event::Loaded)?;

    let now = Instant::now();
    let mut worker = Worker {
        socket,
        mailbox,
        poster,
        executor,
        loads,
        tasks: Tasks::new(config.slots, function_capacity),
        config,
        heartbeat: DEFAULT_HEARTBEAT,
        next_heartbeat: now + DEFAULT_HEARTBEAT,
        last_heard: now,
        last_register: now,
        welcomed: false,
        rejoining: false,
        warned_silent: false,
        backlog: VecDeque::new(),
        latency: Latency::default(),
    };
    worker.run(&shutdown);
    let Worker {
        socket,
        executor,
        latency,
        backlog,
        ..
    } = worker;
    // Every task has ended; this only joins the idle slot threads.
    executor.shutdown();
    if !backlog.is_empty() {
        tracing::warn!(
            "{} messages could not be handed to the socket before exit (the dispatcher is unreachable)",
            backlog.len()
        );
    }
    drop(socket);
    drop(context);
    tracing::info!("faas worker stopped: {}", latency.summary());
    Ok(())
}

fn dealer(context: &zmq::Context, config: &WorkerConfig) -> Result<zmq::Socket, WorkerError> {
    let socket = context.socket(zmq::DEALER).map_err(WorkerError::zmq("DEALER socket"))?;
    let option = WorkerError::zmq("socket option");
    let id = routing_id(&config.name);
    socket
        .set_identity(&id)
        .and_then(|()| socket.set_maxmsgsize(MAX_MESSAGE_BYTES as i64))
        .and_then(|()| socket.set_linger(1000))
        .and_then(|()| socket.set_reconnect_ivl(100))
        .and_then(|()| socket.set_reconnect_ivl_max(1000))
        // ZMTP heartbeats notice a dispatcher host that vanished without
        // closing the connection, so libzmq reconnects.
        .and_then(|()| socket.set_heartbeat_ivl(1000))
        .and_then(|()| socket.set_heartbeat_timeout(5000))
        .and_then(|()| socket.set_ipv6(is_ipv6_literal(&config.dispatcher)))
        .map_err(option)?;
    socket.connect(&config.dispatcher).map_err(|e| WorkerError::BadUrl {
        url: config.dispatcher.clone(),
        reason: e.to_string(),
    })?;
    tracing::debug!(id = %String::from_utf8_lossy(&id), "connecting to {}", config.dispatcher);
    Ok(socket)
}

struct Worker {
    socket: zmq::Socket,
    mailbox: Mailbox<Event>,
    poster: Poster<Event>,
    executor: Executor,
    loads: crossbeam_channel::Sender<LoadJob>,
    tasks: Tasks,
    config: WorkerConfig,
    heartbeat: Duration,
    next_heartbeat: Instant,
    /// When the dispatcher last sent anything.
    last_heard: Instant,
    last_register: Instant,
    /// A `WELCOME` has come at least once.
    welcomed: bool,
    /// A `REGISTER` went out because the dispatcher asked (`REREGISTER`);
    /// no `WELCOME` yet.
    rejoining: bool,
    /// The dispatcher's silence has been logged.
    warned_silent: bool,
    /// Messages the socket would not take yet (its send queue was full).
    backlog: VecDeque<Vec<Vec<u8>>>,
    latency: Latency,
}

impl Worker {
    fn run(&mut self, shutdown: &AtomicBool) {
        self.register();
        loop {
            if !self.tasks.draining() && shutdown.load(Ordering::Relaxed) {
                let bye = self.tasks.begin_drain();
                if let WorkerMessage::Bye { returned } = &bye {
                    tracing::info!(
                        returned = returned.len(),
                        running = self.tasks.running(),
                        "faas worker stopping: returning tasks not started, finishing running ones"
                    );
                }
                self.send(bye);
            }
            self.flush_backlog();
            if self.tasks.draining() && self.tasks.idle() {
                return;
            }
            let now = Instant::now();
            self.timers(now);
            let timeout = self
                .next_heartbeat
                .saturating_duration_since(now)
                .min(MAX_POLL)
                .as_millis() as i64;
            let (net, woken) = {
                let mut events = zmq::POLLIN;
                if !self.backlog.is_empty() {
                    events |= zmq::POLLOUT;
                }
                let mut items = [self.socket.as_poll_item(events), self.mailbox.poll_item()];
                match zmq::poll(&mut items, timeout) {
                    Ok(_) => (items[0].is_readable(), items[1].is_readable()),
                    // A signal (SIGTERM, handled elsewhere) interrupted it.
                    Err(zmq::Error::EINTR) => (false, false),
                    Err(e) => {
                        tracing::warn!("poll failed: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        (false, false)
                    }
                }
            };
            // Results first: they are what the dispatcher waits on.
            if woken {
                self.events();
            }
            if net {
                self.receive();
            }
        }
    }

    fn timers(&mut self, now: Instant) {
        if now >= self.next_heartbeat {
            let running = u32::try_from(self.tasks.held_count()).unwrap_or(u32::MAX);
            self.send(WorkerMessage::Heartbeat { running });
            self.next_heartbeat = now + self.heartbeat;
            self.tasks.expire(now);
        }
        let quiet = now.saturating_duration_since(self.last_heard.max(self.last_register));
        if !self.tasks.draining() && quiet >= self.heartbeat * SILENT_INTERVALS {
            // An idle dispatcher sends nothing, so this is also the ping of
            // a healthy link: the WELCOME it draws resets the silence.
            let silent = now.saturating_duration_since(self.last_heard);
            if !self.warned_silent && silent >= self.heartbeat * SILENT_INTERVALS * 3 {
                tracing::warn!(
                    "no answer from the dispatcher at {} for {:.1} s; still trying",
                    self.config.dispatcher,
                    silent.as_secs_f64()
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
            running: self.tasks.held(),
        });
    }

    /// Reads what the DEALER holds, a batch at a time.
    fn receive(&mut self) {
        let mut actions = Vec::new();
        for _ in 0..READ_BATCH {
            let frames = match self.socket.recv_multipart(zmq::DONTWAIT) {
                Ok(frames) => frames,
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => break,
                Err(e) => {
                    tracing::warn!("cannot receive: {e}");
                    break;
                }
            };
            let now = Instant::now();
            let gap = now.saturating_duration_since(self.last_heard);
            self.last_heard = now;
            self.warned_silent = false;
            match DispatcherMessage::decode(&frames) {
                Ok(message) => self.handle(message, gap, &mut actions),
                Err(e) => tracing::warn!("dropped a malformed message from the dispatcher: {e}"),
            }
            self.perform(&mut actions);
        }
    }

    /// `gap`: how long the dispatcher had been silent before this message.
    fn handle(&mut self, message: DispatcherMessage, gap: Duration, actions: &mut Vec<Action>) {
        match message {
            DispatcherMessage::Welcome { heartbeat_ms } => {
                self.heartbeat = Duration::from_millis(heartbeat_ms).clamp(MIN_HEARTBEAT, MAX_HEARTBEAT);
                self.next_heartbeat = self.next_heartbeat.min(Instant::now() + self.heartbeat);
                if !self.welcomed {
                    tracing::info!(
                        worker = %self.config.name,
                        "faas worker ready: push mode, {} slot{}, dispatcher {}",
                        self.config.slots,
                        if self.config.slots == 1 { "" } else { "s" },
                        self.config.dispatcher
                    );
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
            DispatcherMessage::Task { task, module } => self.tasks.task(task, module, actions),
            DispatcherMessage::Reregister => {
                // Stale messages queued while the dispatcher was away each
                // draw a REREGISTER; one REGISTER answers them all.
                if self.rejoining && self.last_register.elapsed() < self.heartbeat {
                    return;
                }
                tracing::info!(
                    "the dispatcher does not know this worker (it restarted, or missed its heartbeats); registering again"
                );
                self.tasks.forget_need_module();
                self.rejoining = true;
                self.register();
                if self.tasks.draining() {
                    self.send(WorkerMessage::Bye { returned: Vec::new() });
                }
            }
        }
    }

    fn events(&mut self) {
        let mut actions = Vec::new();
        for event in self.mailbox.drain() {
            match event {
                Event::Finished { task, outcome, at } => {
                    self.tasks.finished(task, outcome, &mut actions);
                    self.perform(&mut actions);
                    self.latency.record(at.elapsed());
                }
                Event::Loaded(loaded) => {
                    self.tasks.loaded(loaded, &mut actions);
                    self.perform(&mut actions);
                }
            }
        }
    }

    /// Carries out actions in order, including those they lead to.
    fn perform(&mut self, actions: &mut Vec<Action>) {
        loop {
            let batch = std::mem::take(actions);
            if batch.is_empty() {
                return;
            }
            for action in batch {
                match action {
                    Action::Send(message) => self.send(message),
                    Action::Load(job) => {
                        let function_id = job.function_id;
                        if self.loads.send(job).is_err() {
                            let loaded = Loaded {
                                function_id,
                                result: Err("the worker's loader threads are gone".into()),
                            };
                            self.tasks.loaded(loaded, actions);
                        }
                    }
                    Action::Start(ready) => {
                        let task = ready.task.clone();
                        let poster = self.poster.clone();
                        let submitted = self.executor.submit(ready.function, ready.args, None, move |outcome| {
                            poster.post(Event::Finished {
                                task: ready.task,
                                outcome,
                                at: Instant::now(),
                            });
                        });
                        if let Err(e) = submitted {
                            self.tasks.abandon(task, e.to_string(), actions);
                        }
                    }
                }
            }
        }
    }

    /// Hands a message to the socket without blocking; if its queue is full
    /// (the dispatcher is away), results and the like wait in the backlog
    /// and heartbeats are dropped.
    fn send(&mut self, message: WorkerMessage) {
        let droppable = matches!(message, WorkerMessage::Heartbeat { .. });
        let frames = message.encode();
        if !self.backlog.is_empty() {
            if !droppable {
                self.backlog.push_back(frames);
            }
            return;
        }
        match self.socket.send_multipart(frames.iter().map(Vec::as_slice), zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) if !droppable => self.backlog.push_back(frames),
            Err(zmq::Error::EAGAIN) => {}
            Err(e) => tracing::warn!("cannot send {}: {e}", message.kind()),
        }
    }

    fn flush_backlog(&mut self) {
        while let Some(frames) = self.backlog.front() {
            match self.socket.send_multipart(frames.iter().map(Vec::as_slice), zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => return,
                Err(e) => tracing::warn!("cannot send a queued message: {e}"),
            }
            self.backlog.pop_front();
        }
    }
}

/// How long finished tasks waited for their `RESULT` to reach the socket.
#[derive(Default)]
struct Latency {
    count: u64,
    total: Duration,
    max: Duration,
}

impl Latency {
    fn record(&mut self, waited: Duration) {
        self.count += 1;
        self.total += waited;
        self.max = self.max.max(waited);
    }

    fn summary(&self) -> String {
        if self.count == 0 {
            return "no tasks run".into();
        }
        let mean = Duration::from_nanos(u64::try_from(self.total.as_nanos() / u128::from(self.count)).unwrap_or(u64::MAX));
        format!(
            "{} tasks run; each RESULT was sent {:?} on average (at most {:?}) after its task ended",
            self.count, mean, self.max
        )
    }
}
