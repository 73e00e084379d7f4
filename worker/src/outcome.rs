//! Turning the end of a task into its `RESULT` message, with the same
//! failure kinds the local dispatcher records (`dispatcher/src/outcome.rs`).

use faas_protocol::{ResultMessage, TaskRef};
use faas_runtime::{FailureKind, Outcome};
use serde_json::Value;

/// The module of a task's function could not be loaded.
pub const KIND_LOAD: &str = "load";
/// The worker itself could not run the task (its executor is gone).
pub const KIND_INTERNAL: &str = "internal";

/// The failure kind recorded for each runtime failure kind.
pub fn kind_name(kind: FailureKind) -> &'static str {
    kind.as_str()
}

/// The `RESULT` of an invocation that ran.
pub fn result_of(task: TaskRef, outcome: Outcome) -> ResultMessage {
    match outcome {
        Outcome::Completed { value } => ResultMessage {
            task,
            status: "COMPLETED".into(),
            result: value,
            kind: None,
        },
        Outcome::Failed(failure) => failed(task, kind_name(failure.kind), failure.message),
    }
}

/// A `FAILED` result of the given kind; `result` is the message.
pub fn failed(task: TaskRef, kind: &str, message: impl Into<String>) -> ResultMessage {
    ResultMessage {
        task,
        status: "FAILED".into(),
        result: Value::String(message.into()),
        kind: Some(kind.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task() -> TaskRef {
        TaskRef {
            task_id: uuid::Uuid::new_v4(),
            attempt: 2,
            receipt: "r-1".into(),
        }
    }

    #[test]
    fn completed_carries_the_value() {
        let t = task();
        let r = result_of(t.clone(), Outcome::completed(json!([1, 2])));
        assert_eq!(r.task, t);
        assert_eq!(r.status, "COMPLETED");
        assert_eq!(r.result, json!([1, 2]));
        assert_eq!(r.kind, None);
    }

    #[test]
    fn failed_carries_the_message_and_kind() {
        let r = result_of(
            task(),
            Outcome::failed(FailureKind::ExitCode, "exit code 3: boom"),
        );
        assert_eq!(r.status, "FAILED");
        assert_eq!(r.result, json!("exit code 3: boom"));
        assert_eq!(r.kind.as_deref(), Some("exit_code"));
    }

    #[test]
    fn kind_names_match_the_runtime_serde_names() {
        for kind in [
            FailureKind::Trap,
            FailureKind::Timeout,
            FailureKind::Memory,
            FailureKind::ExitCode,
            FailureKind::OutputTooLarge,
            FailureKind::BadArguments,
            FailureKind::Instantiation,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind_name(kind)));
        }
    }
}
