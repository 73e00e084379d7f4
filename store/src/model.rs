//! The task model: function and task records, statuses, and what an executor
//! claims and reports back.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

pub type FunctionId = Uuid;
pub type TaskId = Uuid;

/// The seed lifecycle: QUEUED -> RUNNING -> COMPLETED | FAILED. A task that
/// loses its executor goes back to QUEUED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "QUEUED" => Some(TaskStatus::Queued),
            "RUNNING" => Some(TaskStatus::Running),
            "COMPLETED" => Some(TaskStatus::Completed),
            "FAILED" => Some(TaskStatus::Failed),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered function. The module bytes are stored once per content hash,
/// apart from this record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub id: FunctionId,
    pub name: String,
    /// The export a task calls, resolved at registration.
    pub entry: String,
    /// The calling convention and signature, as the runtime describes it
    /// (opaque JSON here: the store does not interpret it).
    pub convention: Value,
    /// Hex SHA-256 of the module binary.
    pub module_hash: String,
    pub module_size: u64,
    pub created_at_ms: u64,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: TaskId,
    pub function_id: FunctionId,
    pub payload: Value,
    pub status: TaskStatus,
    /// The result value, or a failure message; null until the task ends.
    pub result: Value,
    /// The failure kind of a FAILED task ("trap", "timeout", "lost", ...).
    pub failure_kind: Option<String>,
    /// How many times an executor has taken the task.
    pub attempts: u32,
    pub created_at_ms: u64,
    pub started_at_ms: Option<u64>,
    pub finished_at_ms: Option<u64>,
}

/// A task's status and result, without the rest of its record: what a
/// batched result fetch needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub status: TaskStatus,
    /// The result value, or a failure message; null until the task ends.
    pub result: Value,
}

/// A task without its payload and result: what a listing shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub id: TaskId,
    pub function_id: FunctionId,
    pub status: TaskStatus,
    pub attempts: u32,
    pub failure_kind: Option<String>,
    pub created_at_ms: u64,
    pub started_at_ms: Option<u64>,
    pub finished_at_ms: Option<u64>,
}

impl From<&TaskRecord> for TaskSummary {
    fn from(t: &TaskRecord) -> Self {
        TaskSummary {
            id: t.id,
            function_id: t.function_id,
            status: t.status,
            attempts: t.attempts,
            failure_kind: t.failure_kind.clone(),
            created_at_ms: t.created_at_ms,
            started_at_ms: t.started_at_ms,
            finished_at_ms: t.finished_at_ms,
        }
    }
}

/// How many of the latest submitted tasks a store keeps listable
/// (`Store::recent_tasks`); older tasks stay readable by id.
pub const RECENT_TASKS: usize = 10_000;

/// A task handed to an executor for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub task_id: TaskId,
    pub function_id: FunctionId,
    pub payload: Value,
    /// 1 for the first run; a re-run after a lost executor counts up.
    pub attempt: u32,
    /// Backend bookkeeping that `finish` needs back (a stream entry id).
    pub receipt: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Final {
    Completed(Value),
    Failed { kind: String, message: String },
}

impl Final {
    pub fn status(&self) -> TaskStatus {
        match self {
            Final::Completed(_) => TaskStatus::Completed,
            Final::Failed { .. } => TaskStatus::Failed,
        }
    }

    /// The `result` field the REST API shows.
    pub fn result(&self) -> Value {
        match self {
            Final::Completed(value) => value.clone(),
            Final::Failed { message, .. } => Value::String(message.clone()),
        }
    }

    pub fn kind(&self) -> Option<&str> {
        match self {
            Final::Completed(_) => None,
            Final::Failed { kind, .. } => Some(kind),
        }
    }
}

/// The failure kind of a task whose executors kept dying.
pub const LOST_KIND: &str = "lost";

pub(crate) fn lost_message(times: u32) -> String {
    format!("worker lost {times} times")
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
