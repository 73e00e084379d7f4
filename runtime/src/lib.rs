//! The sandbox every executor uses: it turns module bytes into a callable
//! [`Function`] and runs invocations of it, isolated and bounded.
//!
//! This crate owns everything that touches wasmtime: one `Engine` per
//! process with the pooling allocator, a cache of compiled modules keyed by
//! content hash (and, if given a directory, their compiled code kept on
//! disk for later processes), a fresh instance per invocation, and the limits (wall-clock
//! time by epoch interruption, linear memory, stack, tables, instances,
//! stdout/stderr). Guests get WASI preview 1 with no preopened directories,
//! no environment, no sockets and no inherited stdio.
//!
//! It must not know about tasks, stores or networks: callers hand it bytes,
//! a JSON payload and a timeout, and get an [`Outcome`] back. wasmtime's
//! errors are converted here, at the boundary, into [`LoadError`],
//! [`ArgError`] and [`Failure`].
//!
//! ```
//! use faas_runtime::{Runtime, RuntimeConfig};
//! let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
//! let add = runtime
//!     .load(br#"(module (func (export "add") (param i32 i32) (result i32)
//!                  local.get 0 local.get 1 i32.add))"#, "add", None)
//!     .unwrap();
//! let args = add.parse_args(&serde_json::json!([2, 3])).unwrap();
//! let outcome = runtime.invoke(&add, args, None);
//! assert_eq!(outcome.value(), Some(&serde_json::json!(5)));
//! ```

mod cache;
mod component;
mod config;
mod disk;
mod host;
mod invoke;
mod load;
mod outcome;
mod output;
mod pool;
mod runtime;
mod signature;

pub use cache::CacheStats;
pub use config::RuntimeConfig;
pub use disk::{default_compiled_dir, prepare_compiled_dir};
pub use load::{Function, LoadError, ModuleHash, WASI_MODULE};
pub use outcome::{Failure, FailureKind, Invocation, Outcome, Usage};
pub use pool::{Executor, ExecutorClosed, OnDone, Ticket};
pub use runtime::{Runtime, RuntimeError};
pub use signature::{Arg, ArgError, Args, Convention, Signature, ValType};
