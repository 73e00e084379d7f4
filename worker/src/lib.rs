//! The worker daemon for compute nodes: it connects to a dispatcher over
//! ZeroMQ, registers its slots, and runs the tasks it is sent on the
//! runtime's executor, returning each outcome (`docs/protocol.md`).
//!
//! Push mode ([`run_push`]): a DEALER connected to the dispatcher's ROUTER.
//! The worker keeps loaded functions by function id, so a module crosses
//! the wire once per worker; it sends heartbeats, re-registers by itself
//! when the dispatcher restarts, and on shutdown hands back what it has not
//! started and finishes what it has.
//!
//! It must not talk to Redis or any store (only the dispatcher does), nor
//! touch wasmtime (only `faas-runtime` does). Nothing a peer or a guest
//! sends may panic it or end it: bad messages are logged and dropped, guest
//! failures are that task's `RESULT`.
//!
//! Files: `config.rs` (settings, errors, URL checks), `push.rs` (the I/O
//! loop), `tasks.rs` (task bookkeeping, no I/O), `functions.rs` (function
//! cache and loader threads), `wake.rs` (how other threads wake the loop),
//! `outcome.rs` (outcome -> `RESULT`).

mod config;
mod functions;
mod outcome;
mod push;
mod tasks;
mod wake;

pub use config::{default_name, WorkerConfig, WorkerError};
pub use outcome::kind_name;
pub use push::run_push;
