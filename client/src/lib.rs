//! faas-client: the async Rust client of the faas REST API.
//!
//! [`Client`] registers functions, queues tasks one at a time or in
//! batches, reads status and results (long polls included), lists and
//! cancels; [`Client::map`] runs a function over any number of payloads and
//! streams the results back in input order. [`Client::from_env`] finds the
//! server and key the way the `faas` command does ([`credentials`]).
//!
//! It talks HTTP only: nothing here runs wasm or reaches Redis, and its
//! dependency tree holds neither (checked by `tests/tree.rs`). The request
//! and response types are the REST contract's (`faas-contract`), re-exported.

mod client;
pub mod credentials;
mod error;
mod map;

pub use client::{Client, ClientOptions, DEFAULT_URL, LONG_POLL_MAX};
pub use error::ClientError;
pub use map::{MapOptions, MapResults};

pub use faas_contract::{
    CancelList, Function, FunctionDeleted, FunctionRow as FunctionInfo, KeyRow, LimitOverrides,
    NewKey, ResultRow, Revoked, SecondStats, Stats, Task, TaskLogs, TaskResult,
    TaskRow as TaskInfo, TaskStatus, TenantInfo, Usage, WorkerRow, MAX_BATCH,
};
