//! The `Executor`: N slots, each a dedicated OS thread, that run invocations
//! from one shared queue and hand each outcome to a callback.
//!
//! Dedicated threads rather than rayon: an invocation blocks its thread for
//! its whole run (up to its timeout), the jobs are independent so work
//! stealing buys nothing, and each slot keeps thread-local state (its timer
//! runtime). A panic inside a job is caught and becomes that job's failure.

use crate::invoke::Retired;
use crate::load::Function;
use crate::outcome::{FailureKind, Invocation, Outcome};
use crate::runtime::Runtime;
use crate::signature::Args;
use crossbeam_channel::{Receiver, Sender};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Called once with a submitted invocation's end, on a slot thread, with
/// the number of the slot that ran it.
pub type OnDone = Box<dyn FnOnce(Invocation, usize) + Send + 'static>;

struct Job {
    function: Function,
    args: Args,
    timeout: Option<Duration>,
    on_done: OnDone,
    ticket: Option<Ticket>,
}

const WAITING: u8 = 0;
const STARTED: u8 = 1;
const WITHDRAWN: u8 = 2;

/// An invocation's claim check. Exactly one of [`Ticket::cancel`] (before
/// a slot takes it) and the slot's start wins, so a caller can take back
/// work that never started without racing the slots; [`Ticket::stop`]
/// ends it wherever it is.
#[derive(Clone, Debug, Default)]
pub struct Ticket(Arc<TicketState>);

#[derive(Debug, Default)]
struct TicketState {
    state: AtomicU8,
    stop: AtomicBool,
    /// Wakes an invocation blocked in a host call (a sleep), which the
    /// epoch does not reach.
    woken: tokio::sync::Notify,
}

impl Ticket {
    pub fn new() -> Self {
        Ticket::default()
    }

    /// Withdraws the invocation if no slot has started it: it will never
    /// run and its `on_done` is never called. False if it started.
    pub fn cancel(&self) -> bool {
        self.0
            .state
            .compare_exchange(WAITING, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Stops the invocation wherever it is: one not started yet never
    /// runs, one running is interrupted within one epoch tick (at once if
    /// it waits in a host call). Either way `on_done` gets
    /// [`Outcome::cancelled`], unless it already ended another way.
    pub fn stop(&self) {
        self.0.stop.store(true, Ordering::Release);
        self.0.woken.notify_one();
    }

    /// Whether [`Ticket::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stop.load(Ordering::Acquire)
    }

    /// Resolves once [`Ticket::stop`] is called.
    pub(crate) async fn stopped(&self) {
        loop {
            let woken = self.0.woken.notified();
            if self.is_stopped() {
                return;
            }
            woken.await;
        }
    }

    fn start(&self) -> bool {
        self.0
            .state
            .compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The executor has shut down and takes no more work.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the executor has shut down")]
pub struct ExecutorClosed;

/// Runs invocations on a fixed number of slots.
pub struct Executor {
    queue: Option<Sender<Job>>,
    slots: Vec<JoinHandle<()>>,
    running: Arc<AtomicUsize>,
}

impl Executor {
    /// Starts `slots` threads (at least one) running invocations on `runtime`.
    pub fn new(runtime: Runtime, slots: usize) -> std::io::Result<Self> {
        let slots = slots.max(1);
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let running = Arc::new(AtomicUsize::new(0));
        let threads = (0..slots)
            .map(|i| {
                let runtime = runtime.clone();
                let jobs = jobs.clone();
                let running = running.clone();
                std::thread::Builder::new()
                    .name(format!("faas-slot-{i}"))
                    .spawn(move || slot_loop(runtime, jobs, running, i))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Executor {
            queue: Some(queue),
            slots: threads,
            running,
        })
    }

    /// Queues an invocation; `on_done` gets its outcome on a slot thread.
    pub fn submit(
        &self,
        function: Function,
        args: Args,
        timeout: Option<Duration>,
        on_done: impl FnOnce(Invocation, usize) + Send + 'static,
    ) -> Result<(), ExecutorClosed> {
        self.enqueue(Job {
            function,
            args,
            timeout,
            on_done: Box::new(on_done),
            ticket: None,
        })
    }

    /// `submit`, under `ticket`: it can withdraw the invocation until a
    /// slot starts it (callers can keep the queue full, so no slot waits on
    /// them between tasks, and still hand back exactly what never ran), or
    /// stop it wherever it is.
    pub fn submit_with_ticket(
        &self,
        function: Function,
        args: Args,
        timeout: Option<Duration>,
        ticket: Ticket,
        on_done: impl FnOnce(Invocation, usize) + Send + 'static,
    ) -> Result<(), ExecutorClosed> {
        self.enqueue(Job {
            function,
            args,
            timeout,
            on_done: Box::new(on_done),
            ticket: Some(ticket),
        })
    }

    fn enqueue(&self, job: Job) -> Result<(), ExecutorClosed> {
        self.queue
            .as_ref()
            .ok_or(ExecutorClosed)?
            .send(job)
            .map_err(|_| ExecutorClosed)
    }

    /// Queues an invocation and waits for its end.
    pub fn run(&self, function: Function, args: Args, timeout: Option<Duration>) -> Invocation {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let submitted = self.submit(function, args, timeout, move |invocation, _slot| {
            let _ = tx.send(invocation);
        });
        match submitted.ok().and_then(|()| rx.recv().ok()) {
            Some(invocation) => invocation,
            None => Invocation::unrun(Outcome::failed(
                FailureKind::Instantiation,
                ExecutorClosed.to_string(),
            )),
        }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Invocations running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Invocations waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queue.as_ref().map_or(0, Sender::len)
    }

    /// Stops taking work, runs what is queued, and waits for the slots.
    pub fn shutdown(mut self) {
        self.close_and_join();
    }

    fn close_and_join(&mut self) {
        self.queue = None;
        for slot in self.slots.drain(..) {
            let _ = slot.join();
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.close_and_join();
    }
}

fn slot_loop(runtime: Runtime, jobs: Receiver<Job>, running: Arc<AtomicUsize>, slot: usize) {
    while let Ok(job) = jobs.recv() {
        let Job {
            function,
            args,
            timeout,
            on_done,
            ticket,
        } = job;
        if let Some(ticket) = &ticket {
            if !ticket.start() {
                continue; // withdrawn before it started
            }
            if ticket.is_stopped() {
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    on_done(Invocation::unrun(Outcome::cancelled()), slot)
                }));
                continue;
            }
        }
        running.fetch_add(1, Ordering::Relaxed);
        let mut retired = Retired::default();
        let invocation = catch_unwind(AssertUnwindSafe(|| {
            runtime.invoke_retiring(&function, args, timeout, ticket.as_ref(), &mut retired)
        }))
        .unwrap_or_else(|panic| {
            Invocation::unrun(Outcome::failed(
                FailureKind::Trap,
                format!(
                    "the host panicked while running the task: {}",
                    panic_message(&panic)
                ),
            ))
        });
        running.fetch_sub(1, Ordering::Relaxed);
        // A callback that panics loses its own outcome, not the slot.
        let _ = catch_unwind(AssertUnwindSafe(|| on_done(invocation, slot)));
        // Reset after the outcome is on its way.
        drop(retired);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
