//! What an invocation ended with: a JSON value, or a failure of a named kind
//! with a message a person can act on.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Why an invocation failed. Each kind is the guest's own doing (or its
/// arguments'); none of them harms the process or other invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The guest trapped: `unreachable`, a bad memory access, stack overflow...
    Trap,
    /// The wall-clock limit ran out.
    Timeout,
    /// The guest declared or grew linear memory past the cap.
    Memory,
    /// A WASI command exited with a non-zero code.
    ExitCode,
    /// stdout or stderr went past its cap.
    OutputTooLarge,
    /// The payload does not fit the function's signature.
    BadArguments,
    /// The instance could not be created (a table or instance limit, or the
    /// instance pool is exhausted).
    Instantiation,
    /// Someone cancelled the task: it was stopped where it stood.
    Cancelled,
    /// A handler returned an error (or a result that is not JSON).
    Error,
}

impl FailureKind {
    /// The kind's stable name, as stores and wire messages record it (the
    /// same as its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Timeout => "timeout",
            FailureKind::Memory => "memory",
            FailureKind::ExitCode => "exit_code",
            FailureKind::OutputTooLarge => "output_too_large",
            FailureKind::BadArguments => "bad_arguments",
            FailureKind::Instantiation => "instantiation",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Error => "error",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Trap => "trap",
            FailureKind::Timeout => "timeout",
            FailureKind::Memory => "memory",
            FailureKind::ExitCode => "exit code",
            FailureKind::OutputTooLarge => "output too large",
            FailureKind::BadArguments => "bad arguments",
            FailureKind::Instantiation => "instantiation",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Error => "error",
        })
    }
}

/// A failed invocation: its kind and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the guest used, as the runtime measured it (the executor's name
/// is for whoever ran it to fill in).
pub use faas_contract::Usage;

/// An invocation's outcome, with what the guest logged and used.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub outcome: Outcome,
    /// The guest's stderr (and stdout, unless stdout is the result): the
    /// last `RuntimeConfig::max_log_bytes` of it.
    pub logs: String,
    pub usage: Usage,
}

impl Invocation {
    /// An invocation that never reached the guest (cancelled before it
    /// started, or the host failed): nothing logged, nothing used.
    pub fn unrun(outcome: Outcome) -> Self {
        Invocation {
            outcome,
            logs: String::new(),
            usage: Usage::default(),
        }
    }
}

/// The end of one invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The typed results (a value, an array, or null) or a command's stdout.
    Completed {
        value: Value,
    },
    Failed(Failure),
}

impl Outcome {
    pub fn completed(value: Value) -> Self {
        Outcome::Completed { value }
    }

    pub fn failed(kind: FailureKind, message: impl Into<String>) -> Self {
        Outcome::Failed(Failure::new(kind, message))
    }

    /// How a cancelled task ends: its result reads `"cancelled"`.
    pub fn cancelled() -> Self {
        Outcome::failed(FailureKind::Cancelled, "cancelled")
    }

    pub fn is_completed(&self) -> bool {
        matches!(self, Outcome::Completed { .. })
    }

    /// The value of a completed invocation.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Completed { value } => Some(value),
            Outcome::Failed(_) => None,
        }
    }

    /// The failure of a failed invocation.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Completed { .. } => None,
            Outcome::Failed(failure) => Some(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailureKind;

    #[test]
    fn names_are_the_serde_names() {
        use FailureKind::*;
        for kind in [
            Trap,
            Timeout,
            Memory,
            ExitCode,
            OutputTooLarge,
            BadArguments,
            Instantiation,
            Cancelled,
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
