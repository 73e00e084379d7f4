//! The REST contract: every request and response body of the API, and the
//! numbers a client must know (batch and listing caps), in one place. The
//! server's handlers take and return these types, the Rust client sends and
//! reads them, and the server's `/openapi.json` is generated from them.
//!
//! Plain data only: serde and schema derives, no I/O. Changing a field
//! here changes the API: extend, never change what exists.

mod access;
mod functions;
mod stats;
mod tasks;

pub use access::{
    CreateKeyRequest, KeyList, KeyRow, LimitOverrides, NewKey, Revoked, TenantInfo, TenantLimits,
    WhoAmI,
};
pub use functions::{
    Function, FunctionDeleted, FunctionList, FunctionQuery, FunctionRow, RegisterRequest,
    RegisterResponse,
};
pub use stats::{
    latency_bucket, latency_quantile, SecondStats, Stats, StatsQuery, LATENCY_BOUNDS_MS,
    LATENCY_BUCKETS, STATS_RETENTION_SECONDS,
};
pub use tasks::{
    BatchRequest, BatchResponse, CancelList, CancelRequest, CancelResponse, ExecuteRequest,
    ExecuteResponse, ResultList, ResultQuery, ResultRow, ResultsRequest, StatusResponse, Task,
    TaskList, TaskLogs, TaskQuery, TaskResult, TaskRow, TaskStatus, Usage, UNKNOWN_TASK,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most payloads in one `POST /execute_batch`, and most ids in one
/// `POST /results` (413 beyond).
pub const MAX_BATCH: usize = 10_000;

/// Most bytes of a guest's log kept with its task (the last ones).
pub const MAX_LOG_BYTES: usize = 64 * 1024;

/// Rows a listing returns unless `limit` says otherwise.
pub const DEFAULT_LIST_LIMIT: usize = 100;

/// Most rows a listing returns; a larger `limit` is cut to this.
pub const MAX_LIST_LIMIT: usize = 1000;

/// Every error's body: what went wrong, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    /// A batch refused for one payload (`POST /execute_batch`, 400): that
    /// payload's index in `payloads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_index: Option<usize>,
}

/// `GET /health`: the server is up and its store answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` (a store that does not answer is a 503).
    pub status: String,
    /// Which store the server uses (`memory`, or the Redis URL with its
    /// password hidden).
    pub store: String,
}

/// One live worker of a dispatcher (push and pull modes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkerRow {
    /// The worker's id on its dispatcher's port.
    pub id: String,
    pub name: String,
    /// Tasks it runs at once at most.
    pub slots: u64,
    /// Tasks it runs now.
    pub running: u64,
    /// Tasks it has finished since it registered.
    pub completed: u64,
    /// Whether it is finishing its tasks before it leaves.
    pub draining: bool,
    pub last_heartbeat_ms_ago: u64,
    /// The dispatcher it works for.
    pub dispatcher: String,
    /// `push` or `pull`.
    pub mode: String,
}

/// `GET /workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkerList {
    pub workers: Vec<WorkerRow>,
}
