//! The worker daemon for compute nodes: it connects to a dispatcher over
//! ZeroMQ and runs the tasks it gets on the runtime's executor, returning
//! each outcome (`docs/protocol.md`).
//!
//! Push mode ([`run_push`]): a DEALER connected to the dispatcher's ROUTER
//! registers its slots and is sent tasks. The worker keeps loaded functions
//! by function id, so a module crosses the wire once per worker; it sends
//! heartbeats, re-registers by itself when the dispatcher restarts, and on
//! shutdown hands back what it has not started and finishes what it has.
//!
//! Pull mode ([`run_pull`]): the same DEALER asks for work with `PULL`
//! requests (REQ-style envelope) and gets `TASKS` answers; results ride on
//! the next request, an idle worker's request is held by the dispatcher
//! (the long poll), and requests whose answer is lost are sent again.
//!
//! With CURVE (`WorkerConfig::curve`, the default of `faas worker`) the
//! connection is encrypted and the worker proves its key to the dispatcher,
//! and checks the dispatcher's: keys come in the config, this crate reads
//! no files.
//!
//! It must not talk to Redis or any store (only the dispatcher does), nor
//! touch wasmtime (only `faas-runtime` does). Nothing a peer or a guest
//! sends may panic it or end it: bad messages are logged and dropped, guest
//! failures are that task's `RESULT`.
//!
//! Files: `config.rs` (settings, errors, URL checks), `push.rs` and
//! `pull.rs` (the I/O loop of each mode), `requests.rs` (pull mode's
//! requests in flight, no I/O), `link.rs` (the DEALER and its poll),
//! `engine.rs` (what both modes share: executor, loaders, mailbox, task
//! bookkeeping), `tasks.rs` (task bookkeeping, no I/O), `functions.rs`
//! (function cache and loader threads), `wake.rs` (how other threads wake
//! the loop), `outcome.rs` (outcome -> `RESULT`).

mod config;
mod engine;
mod functions;
mod link;
mod outcome;
mod pull;
mod push;
mod requests;
mod tasks;
mod wake;

pub use config::{default_name, CurveClient, WorkerConfig, WorkerError, DEFAULT_PULL_PREFETCH};
pub use outcome::kind_name;
pub use pull::run_pull;
pub use push::run_push;
