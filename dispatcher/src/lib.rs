//! The dispatcher: takes queued tasks from the store and runs them.
//!
//! Local mode (`run_local`) runs them on this process's runtime pool. It
//! claims only as many tasks as it has free slots, renews the leases of the
//! tasks it runs, and writes each outcome back through the store, which
//! keeps a task's final state to one write by its current attempt. It must
//! not serve HTTP; it talks to the store only.

mod functions;
mod local;
mod outcome;

pub use functions::{FunctionCache, LoadFailure};
pub use local::{run_local, LocalConfig};
pub use outcome::{kind_name, to_final};
