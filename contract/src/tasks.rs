//! Tasks: submitting them (one or a batch), their status and results, the
//! whole record, and the listing.

use crate::MAX_BATCH;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Where a task is in its lifecycle: QUEUED, then RUNNING (again QUEUED if
/// its executor is lost and it has attempts left), then COMPLETED or FAILED
/// for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Completed => "COMPLETED",
            TaskStatus::Failed => "FAILED",
        }
    }

    /// The status spelled as the API spells it; None for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "QUEUED" => Some(TaskStatus::Queued),
            "RUNNING" => Some(TaskStatus::Running),
            "COMPLETED" => Some(TaskStatus::Completed),
            "FAILED" => Some(TaskStatus::Failed),
            _ => None,
        }
    }

    /// COMPLETED or FAILED: the task will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// The schemas' `max_items` above and below repeat MAX_BATCH: the derive
// takes a literal only.
const _: () = assert!(MAX_BATCH == 10_000, "update the schemas' max_items");

/// `POST /execute_function`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecuteRequest {
    /// The function to run (an unknown id is a 404).
    pub function_id: String,
    /// The function's input: an array of numbers for a typed export, a
    /// string (its stdin) for a WASI command.
    pub payload: Value,
    /// Seconds the task's record (status, result) is kept after it ends;
    /// by default the deployment's `--result-ttl` (24 h), and at most its
    /// `--max-result-ttl` (7 days). 0: gone once it ends (a waiting long
    /// poll still gets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub ttl: Option<f64>,
}

/// The new task's id (201).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecuteResponse {
    pub task_id: Uuid,
}

/// `POST /execute_batch`: many tasks of one function, all or none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchRequest {
    pub function_id: String,
    /// Each as `payload` of `/execute_function`.
    #[schema(min_items = 1, max_items = 10000)]
    pub payloads: Vec<Value>,
    /// As `ttl` of `/execute_function`, for every task of the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub ttl: Option<f64>,
}

/// The new tasks' ids, in the order of the payloads (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub task_ids: Vec<Uuid>,
}

/// `GET /status/{task_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusResponse {
    pub task_id: Uuid,
    pub status: TaskStatus,
}

/// `GET /result/{task_id}`: the status, and the result once the task ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskResult {
    pub task_id: Uuid,
    pub status: TaskStatus,
    /// Null until the task ends; then the return value (or stdout), or
    /// for FAILED the failure message.
    #[serde(default)]
    pub result: Value,
}

/// `GET /result/{task_id}`'s query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    /// Seconds to hold the request until the task ends (long poll; cut to
    /// the server's maximum, 60 s by default). Not a number from 0: 400.
    #[param(minimum = 0)]
    pub wait: Option<f64>,
}

/// `POST /results`: many tasks' results in one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultsRequest {
    #[schema(max_items = 10000)]
    pub task_ids: Vec<String>,
    /// Seconds to hold the request until every task has ended (cut to
    /// the server's maximum, 60 s by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub wait: Option<f64>,
}

/// What a row of `POST /results` says of an id the caller has no task by.
pub const UNKNOWN_TASK: &str = "unknown task";

/// One row of `POST /results`: as `GET /result/{id}` answers, or for an
/// id with no task, no status and an `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultRow {
    /// The id as it was asked for.
    pub task_id: String,
    /// Null for an unknown task.
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub result: Value,
    /// `unknown task` when there is no such task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ResultRow {
    pub fn known(task_id: Uuid, status: TaskStatus, result: Value) -> Self {
        ResultRow {
            task_id: task_id.to_string(),
            status: Some(status),
            result,
            error: None,
        }
    }

    pub fn unknown(task_id: &str) -> Self {
        ResultRow {
            task_id: task_id.to_string(),
            status: None,
            result: Value::Null,
            error: Some(UNKNOWN_TASK.to_string()),
        }
    }
}

/// `POST /results`' answer: one row per id asked for, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultList {
    pub results: Vec<ResultRow>,
}

/// What the attempt that ended a task used, as its executor measured it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Microseconds from the start of its instance to the end of the call.
    pub run_us: u64,
    /// The largest linear memory the guest had, in bytes.
    pub peak_memory_bytes: u64,
    /// Bytes of the result: a string's text (a command's stdout), any
    /// other value's JSON; 0 for a failed run.
    pub output_bytes: u64,
    /// Bytes the guest wrote to its log (stderr; stdout too unless stdout
    /// is the result), before the cap on what is kept.
    pub log_bytes: u64,
    /// What ran it: `worker ID slot N`, or `dispatcher ID slot N` in
    /// local mode.
    pub executor: String,
}

/// `GET /tasks/{task_id}/logs`: what the guest wrote, kept with the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskLogs {
    pub task_id: Uuid,
    pub status: TaskStatus,
    /// The guest's stderr (and stdout, unless stdout is the result) of the
    /// attempt that ended the task: its last bytes, up to the executor's
    /// cap (64 KiB by default). Empty until the task ends.
    pub logs: String,
    /// Bytes written before what `logs` holds, dropped for the cap.
    pub dropped_bytes: u64,
}

/// `GET /tasks/{task_id}`: the whole task record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub function_id: Uuid,
    pub payload: Value,
    pub status: TaskStatus,
    pub result: Value,
    /// For FAILED: trap, timeout, memory, exit_code, output_too_large,
    /// lost, ...
    pub failure_kind: Option<String>,
    /// Times an executor has taken the task.
    pub attempts: u32,
    /// Submission time, ms since the Unix epoch.
    pub created_at_ms: u64,
    pub started_at_ms: Option<u64>,
    pub finished_at_ms: Option<u64>,
    /// The tenant that submitted it.
    pub tenant: String,
    /// Milliseconds from submission to the start of its latest attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_ms: Option<u64>,
    /// What its last attempt used, once it ended by running (absent for a
    /// task lost or cancelled before it ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One row of `GET /tasks`: a task without its payload and result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskRow {
    pub task_id: Uuid,
    pub function_id: Uuid,
    pub status: TaskStatus,
    /// Times an executor has taken the task.
    #[serde(default)]
    pub attempts: u32,
    /// For FAILED: trap, timeout, memory, exit_code, output_too_large,
    /// lost, ...
    #[serde(default)]
    pub failure_kind: Option<String>,
    #[serde(default)]
    pub created_at_ms: u64,
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    #[serde(default)]
    pub finished_at_ms: Option<u64>,
    #[serde(default)]
    pub tenant: String,
    /// As in `GET /tasks/{task_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_ms: Option<u64>,
    /// As in `GET /tasks/{task_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// `GET /tasks`' query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Most rows to return: a whole number from 1 (default 100; above
    /// 1000 it is cut to 1000). Anything else: 400.
    #[param(minimum = 1)]
    pub limit: Option<u64>,
    /// Only tasks in this status (any case). Anything else: 400.
    pub status: Option<TaskStatus>,
}

/// `GET /tasks`: the most recently submitted tasks, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskRow>,
}

/// `POST /tasks/{task_id}/cancel`: the task's status after the cancel:
/// FAILED (its result `"cancelled"`, failure kind `cancelled`), or, in
/// the moment a dispatcher was claiming it (202), still QUEUED or RUNNING
/// and sure to end as cancelled without running to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CancelResponse {
    pub task_id: Uuid,
    pub status: TaskStatus,
}

/// `POST /tasks/cancel`: cancel many tasks at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CancelRequest {
    #[schema(max_items = 10000)]
    pub task_ids: Vec<String>,
}

/// `POST /tasks/cancel`'s answer: every id asked for, in one of three
/// lists, in the order asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CancelList {
    /// Queued or running: now FAILED as cancelled (or about to be, for
    /// one a dispatcher was claiming at that moment). Never retried.
    pub cancelled: Vec<Uuid>,
    /// Already COMPLETED or FAILED: left as they were.
    pub already_ended: Vec<Uuid>,
    /// No such task (as asked for).
    pub unknown: Vec<String>,
}
