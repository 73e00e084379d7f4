//! The task model: function and task records, statuses, and what an executor
//! claims and reports back.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

pub type FunctionId = Uuid;
pub type TaskId = Uuid;

/// Where a task is in its lifecycle (the API's type: one definition of
/// the spelling on the wire and in the store).
pub use faas_contract::TaskStatus;

/// What the attempt that ended a task used (the API's type).
pub use faas_contract::Usage;

/// Most bytes of a guest's log kept with its task: the last ones.
pub use faas_contract::MAX_LOG_BYTES;

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
    /// The tenant that registered it.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Tasks submitted to it, and those that ended FAILED: counted by the
    /// store (ignored when a function is stored).
    #[serde(default)]
    pub invocations: u64,
    #[serde(default)]
    pub failures: u64,
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
    /// The tenant that submitted it.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// What the guest logged in the attempt that ended it (the last
    /// `MAX_LOG_BYTES` at most); empty until then.
    #[serde(default)]
    pub logs: String,
    /// What that attempt used; None until it ends, and for a task that
    /// ended without running (lost, cancelled while queued).
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// A task's status and result, without the rest of its record: what a
/// batched result fetch needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub status: TaskStatus,
    /// The result value, or a failure message; null until the task ends.
    pub result: Value,
    /// The tenant that submitted it (what a scoped read checks).
    pub tenant: String,
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
    #[serde(default = "default_tenant")]
    pub tenant: String,
    #[serde(default)]
    pub usage: Option<Usage>,
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
            tenant: t.tenant.clone(),
            usage: t.usage.clone(),
        }
    }
}

/// The tenant of records written without one (by `--no-auth` servers, and
/// by versions before tenants existed).
pub const DEFAULT_TENANT: &str = "default";

fn default_tenant() -> String {
    DEFAULT_TENANT.to_string()
}

/// Who a read is for: everything (an admin key, or a server without
/// authentication), or one tenant's own records. Records of other tenants
/// read as missing, exactly like unknown ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    All,
    Tenant(&'a str),
}

impl Scope<'_> {
    pub fn allows(&self, tenant: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Tenant(own) => *own == tenant,
        }
    }

    /// The tenant a listing is limited to, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Tenant(t) => Some(t),
        }
    }
}

/// Whether `name` may name a tenant: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_tenant(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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
    /// What `finish` needs back: backend bookkeeping (a stream entry id)
    /// and a random token of this attempt, so it cannot be guessed.
    pub receipt: String,
    /// When its queue entry was made, ms since the Unix epoch: its
    /// submission, or (Redis) its requeue after a lost attempt. 0 where
    /// unknown (a claim rebuilt from a worker's report).
    pub queued_at_ms: u64,
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

/// What an executor tells besides how an attempt ended: the guest's log and
/// what it used. Empty for an attempt that never reached the guest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub logs: String,
    pub usage: Option<Usage>,
}

/// Most characters of an executor's name kept (a worker names itself).
const MAX_EXECUTOR_CHARS: usize = 100;

impl Report {
    /// The log as it is stored: its last `MAX_LOG_BYTES` at most (a
    /// worker's report comes from the network), cut at a character.
    pub fn kept_logs(&self) -> &str {
        let text = self.logs.as_str();
        if text.len() <= MAX_LOG_BYTES {
            return text;
        }
        let mut start = text.len() - MAX_LOG_BYTES;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        &text[start..]
    }

    /// The executor's name as it is stored: its first 100 characters.
    pub fn kept_executor(usage: &Usage) -> &str {
        match usage.executor.char_indices().nth(MAX_EXECUTOR_CHARS) {
            Some((end, _)) => &usage.executor[..end],
            None => &usage.executor,
        }
    }

    /// The report as it is stored (`kept_logs`, `kept_executor`).
    pub fn capped(&self) -> Report {
        Report {
            logs: self.kept_logs().to_string(),
            usage: self.usage.as_ref().map(|u| Usage {
                executor: Report::kept_executor(u).to_string(),
                ..u.clone()
            }),
        }
    }
}

/// The failure kind of a task whose executors kept dying.
pub const LOST_KIND: &str = "lost";

/// The failure kind, and the result, of a cancelled task.
pub const CANCELLED: &str = "cancelled";

/// The failure kind of a task whose function is gone (deleted).
pub const MISSING_FUNCTION: &str = "missing_function";

impl Final {
    /// How a cancelled task ends.
    pub fn cancelled() -> Final {
        Final::Failed {
            kind: CANCELLED.into(),
            message: CANCELLED.into(),
        }
    }

    /// How a task ends whose function was deleted before it started.
    pub fn function_deleted(function: FunctionId) -> Final {
        Final::Failed {
            kind: MISSING_FUNCTION.into(),
            message: function_deleted_message(function),
        }
    }
}

pub fn function_deleted_message(function: FunctionId) -> String {
    format!("function {function} was deleted before this task started")
}

/// What a cancellation found, per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// It was queued or running, and is now FAILED as cancelled.
    Now,
    /// A dispatcher was claiming it at that moment: it ends as cancelled
    /// (FAILED) as soon as the claim lands, and never runs to its end.
    Pending,
    /// It had already ended: nothing changed.
    AlreadyEnded(TaskStatus),
    /// No such task in the caller's scope.
    Unknown,
}

/// What the store tells dispatchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// These tasks were cancelled: stop them wherever they run.
    Stop(Vec<TaskId>),
    /// This function was deleted: drop what is cached of it (its tasks
    /// already running finish).
    FunctionDeleted(FunctionId),
    /// This function was registered: a dispatcher that runs tasks itself
    /// may compile it now, ahead of its first task.
    FunctionRegistered(FunctionId),
}

pub(crate) fn lost_message(times: u32) -> String {
    format!("worker lost {times} times")
}

/// A random token for one attempt (64 bits, hex): part of every claim's
/// receipt, so only the executor that was handed a claim can finish it.
pub(crate) fn new_receipt() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
