//! The dispatcher: takes queued tasks from the store and runs them.
//!
//! Local mode (`run_local`) runs them on this process's runtime pool; push
//! mode (`run_push`) sends them to worker daemons over ZeroMQ, and pull mode
//! (`run_pull`) hands them to worker daemons that ask (protocol in
//! `docs/protocol.md`). Either way it claims only what it can start soon,
//! renews the leases of the tasks it holds, and writes outcomes back
//! through the store, which keeps a task's final state to one write by its
//! current attempt. It must not serve HTTP; workers never see the store.
//!
//! The worker port is CURVE-encrypted, and only workers whose public key
//! is on the allow-list connect (`CurveServer`); keys come in the configs,
//! this crate reads no files.

mod functions;
mod local;
mod outcome;
mod pull;
mod push;
mod recorder;
mod remote;
mod router;
mod workers;
mod zap;

pub use functions::{FunctionCache, LoadFailure};
pub use local::{run_local, LocalConfig};
pub use outcome::{kind_name, to_final};
pub use pull::{run_pull, PullConfig, MAX_PULL_PREFETCH};
pub use push::{run_push, PushConfig};
pub use recorder::{Done, Held};
pub use remote::{is_loopback_endpoint, ListenError};
pub use zap::{AllowList, CurveServer};

/// A dispatcher's name on the queue's consumer group (and in a task's
/// `usage`): its mode and 48 random bits, short enough that a task's usage
/// stays small in the store.
pub(crate) fn consumer_name(mode: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{mode}-{}", &id[..12])
}
