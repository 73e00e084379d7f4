//! The execution side both modes share: the runtime, the executor's slots,
//! the loader threads, the mailbox they wake the I/O loop through, and the
//! task bookkeeping ([`Tasks`]). The I/O loop (`push.rs`, `pull.rs`) owns an
//! [`Engine`] and decides only what happens to the messages [`Tasks`] wants
//! sent: push mode sends each one, pull mode folds them into its next
//! `PULL`.

use crate::config::{WorkerConfig, WorkerError};
use crate::functions::{spawn_loaders, LoadJob, Loaded};
use crate::link::Link;
use crate::tasks::{Action, Tasks};
use crate::wake::{Mailbox, Poster};
use faas_metrics::WorkerMetrics;
use faas_protocol::{TaskRef, WorkerMessage};
use faas_runtime::{Executor, Invocation, Runtime, Ticket};
use faas_traces::{Attribute, Span, Step};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Loader threads (the runtime compiles at most two modules at once).
const LOADERS: usize = 2;

/// What slot and loader threads tell the I/O loop.
pub(crate) enum Event {
    Finished {
        task: TaskRef,
        invocation: Invocation,
        slot: usize,
        at: Instant,
    },
    Loaded(Loaded),
}

/// Where an [`Engine`] hands the messages [`Tasks`] wants sent; the
/// instant is when the task ended, for a `RESULT` of a task that ran.
pub(crate) type Outbox<'a> = dyn FnMut(WorkerMessage, Option<Instant>) + 'a;

pub(crate) struct Engine {
    pub tasks: Tasks,
    /// Started tasks' claim checks: one still in the executor's queue can
    /// be withdrawn (a `BYE` returns it).
    tickets: HashMap<TaskRef, (Ticket, Option<SystemTime>)>,
    slots: usize,
    mailbox: Mailbox<Event>,
    poster: Poster<Event>,
    executor: Executor,
    loads: crossbeam_channel::Sender<LoadJob>,
    metrics: Option<Arc<WorkerMetrics>>,
}

impl Engine {
    /// Checks the settings and starts the runtime, the slots and the
    /// loaders.
    pub fn start(config: &WorkerConfig) -> Result<Engine, WorkerError> {
        config.check()?;
        let mut runtime_config = config.runtime.clone();
        let slots = u32::try_from(config.slots).unwrap_or(u32::MAX);
        runtime_config.max_concurrent_instances =
            runtime_config.max_concurrent_instances.max(slots);
        let function_capacity = runtime_config.cache_capacity;
        let runtime = Runtime::new(runtime_config)?;
        let (mailbox, poster) =
            Mailbox::<Event>::new().map_err(WorkerError::zmq("inproc wake-up socket"))?;
        let executor = Executor::new(runtime.clone(), config.slots)?;
        let loads = spawn_loaders(runtime, LOADERS, poster.clone(), Event::Loaded)?;
        if let Some(m) = &config.metrics {
            m.slots.set(config.slots as i64);
        }
        Ok(Engine {
            metrics: config.metrics.clone(),
            tasks: Tasks::new(function_capacity),
            tickets: HashMap::new(),
            slots: config.slots,
            mailbox,
            poster,
            executor,
            loads,
        })
    }

    pub fn mailbox(&self) -> &Mailbox<Event> {
        &self.mailbox
    }

    /// More tasks are started than there are slots: the executor's queue
    /// is feeding them, so results keep coming and the I/O loop may let a
    /// few gather before it sends them.
    pub fn busy(&self) -> bool {
        self.tasks.started() > self.slots
    }

    /// Handles what slot and loader threads posted.
    pub fn events(&mut self, outbox: &mut Outbox<'_>) {
        let mut actions = Vec::new();
        for event in self.mailbox.drain() {
            match event {
                Event::Finished {
                    task,
                    invocation,
                    slot,
                    at,
                } => {
                    let started = self.tickets.remove(&task).and_then(|(_, at)| at);
                    if let Some(started) = started {
                        trace_run(&task, &invocation, started, at);
                    }
                    if let Some(m) = &self.metrics {
                        let status = match invocation.outcome.is_completed() {
                            true => "COMPLETED",
                            false => "FAILED",
                        };
                        m.finished.with_label_values(&[status]).inc();
                        m.run_seconds.observe(invocation.usage.run_us as f64 / 1e6);
                        m.running.set(self.tickets.len() as i64);
                    }
                    self.tasks.finished(task, invocation, slot, &mut actions);
                    self.perform(&mut actions, &mut |message, _| outbox(message, Some(at)));
                }
                Event::Loaded(loaded) => {
                    if let Some(m) = &self.metrics {
                        m.modules_loaded.inc();
                    }
                    self.tasks.loaded(loaded, &mut actions);
                    self.perform(&mut actions, outbox);
                }
            }
        }
    }

    /// Carries out actions in order, including those they lead to.
    pub fn perform(&mut self, actions: &mut Vec<Action>, outbox: &mut Outbox<'_>) {
        loop {
            let batch = std::mem::take(actions);
            if batch.is_empty() {
                return;
            }
            for action in batch {
                match action {
                    Action::Send(message) => outbox(message, None),
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
                        let ticket = Ticket::new();
                        let submitted = self.executor.submit_with_ticket(
                            ready.function,
                            ready.args,
                            None,
                            ticket.clone(),
                            move |invocation, slot| {
                                poster.post(Event::Finished {
                                    task: ready.task,
                                    invocation,
                                    slot,
                                    at: Instant::now(),
                                });
                            },
                        );
                        match submitted {
                            Ok(()) => {
                                let now = faas_traces::exporter().map(|_| SystemTime::now());
                                self.tickets.insert(task, (ticket, now));
                                if let Some(m) = &self.metrics {
                                    m.running.set(self.tickets.len() as i64);
                                }
                            }
                            Err(e) => self.tasks.abandon(task, e.to_string(), actions),
                        }
                    }
                }
            }
        }
    }

    /// Stops cancelled tasks: a started one through its ticket (its slot
    /// reports it cancelled, within one epoch tick if it runs), one still
    /// waiting for its function at once. Tasks not held are ignored (they
    /// ended already).
    pub fn cancel(&mut self, tasks: &[TaskRef], actions: &mut Vec<Action>) {
        for task in tasks {
            match self.tickets.get(task) {
                Some((ticket, _)) => ticket.stop(),
                None => {
                    self.tasks.cancel_waiting(task, actions);
                }
            }
        }
    }

    /// Stops taking work: returns the tasks received but not started, to
    /// hand back; running ones finish.
    pub fn begin_drain(&mut self) -> Vec<TaskRef> {
        let withdrawn: Vec<TaskRef> = self
            .tickets
            .iter()
            .filter(|(_, (ticket, _))| ticket.cancel())
            .map(|(task, _)| task.clone())
            .collect();
        for task in &withdrawn {
            self.tickets.remove(task);
        }
        let WorkerMessage::Bye { returned } = self.tasks.begin_drain(&withdrawn) else {
            return Vec::new();
        };
        tracing::info!(
            returned = returned.len(),
            running = self.tasks.started(),
            "faas worker stopping: returning tasks not started, finishing running ones"
        );
        returned
    }

    /// Joins the slot threads (every task has ended), closes the link
    /// (waiting up to its linger for the last messages to go out) and logs
    /// the last line.
    pub fn stop(self, link: Link, latency: &Latency) {
        self.executor.shutdown();
        drop(link);
        tracing::info!("faas worker stopped: {}", latency.summary());
    }
}

/// How long finished tasks waited for their `RESULT` to reach the socket.
#[derive(Default)]
pub(crate) struct Latency {
    count: u64,
    total: Duration,
    max: Duration,
}

impl Latency {
    pub fn record(&mut self, waited: Duration) {
        self.count += 1;
        self.total += waited;
        self.max = self.max.max(waited);
    }

    fn summary(&self) -> String {
        if self.count == 0 {
            return "no tasks run".into();
        }
        let mean = Duration::from_nanos(
            u64::try_from(self.total.as_nanos() / u128::from(self.count)).unwrap_or(u64::MAX),
        );
        format!(
            "{} tasks run; each RESULT was sent {:?} on average (at most {:?}) after its task ended",
            self.count, mean, self.max
        )
    }
}

/// Reports the worker's spans of a run (see `faas-traces`): from its start
/// here to its result, and the guest's call within it.
fn trace_run(task: &TaskRef, invocation: &Invocation, started: SystemTime, ended: Instant) {
    let Some(exporter) = faas_traces::exporter() else {
        return;
    };
    let now = SystemTime::now();
    let end = now.checked_sub(ended.elapsed()).unwrap_or(now);
    let error = match &invocation.outcome {
        faas_runtime::Outcome::Completed { .. } => None,
        failed => Some(format!("{failed:?}")),
    };
    exporter.report(Span {
        task: task.task_id,
        attempt: task.attempt,
        step: Step::Worker,
        parent: Some((task.attempt, Step::Attempt)),
        start: started,
        end: now,
        attributes: Vec::new(),
        error: error.clone(),
    });
    exporter.report(Span {
        task: task.task_id,
        attempt: task.attempt,
        step: Step::Guest,
        parent: Some((task.attempt, Step::Worker)),
        start: end
            .checked_sub(Duration::from_micros(invocation.usage.run_us))
            .unwrap_or(end),
        end,
        attributes: vec![
            Attribute::new(
                "faas.peak_memory_bytes",
                invocation.usage.peak_memory_bytes as i64,
            ),
            Attribute::new("faas.output_bytes", invocation.usage.output_bytes as i64),
        ],
        error,
    });
}
