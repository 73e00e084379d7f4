//! Turning the end of a task into its `RESULT` message, with the same
//! failure kinds the local dispatcher records (`dispatcher/src/outcome.rs`).

use faas_protocol::budget::{json_len, too_large, MAX_ITEM_BYTES, TOO_LARGE};
use faas_protocol::{ResultMessage, TaskRef};
use faas_runtime::{FailureKind, Invocation, Outcome};
use serde_json::Value;

/// The module of a task's function could not be loaded.
pub const KIND_LOAD: &str = "load";
/// The worker itself could not run the task (its executor is gone).
pub const KIND_INTERNAL: &str = "internal";

/// The failure kind recorded for each runtime failure kind.
pub fn kind_name(kind: FailureKind) -> &'static str {
    kind.as_str()
}

/// The `RESULT` of an invocation that ran on `slot`, with its log and
/// usage (named `slot N`: the dispatcher adds which worker).
pub fn result_of(task: TaskRef, invocation: Invocation, slot: usize) -> ResultMessage {
    let Invocation {
        outcome,
        logs,
        mut usage,
    } = invocation;
    usage.executor = format!("slot {slot}");
    ResultMessage {
        logs,
        usage: Some(usage),
        ..outcome_result(task, outcome)
    }
}

/// The `RESULT` of `outcome`, without a log or usage.
pub fn outcome_result(task: TaskRef, outcome: Outcome) -> ResultMessage {
    match outcome {
        Outcome::Completed { value } => ResultMessage {
            task,
            status: "COMPLETED".into(),
            result: value,
            kind: None,
            logs: String::new(),
            usage: None,
            held_us: None,
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
        logs: String::new(),
        usage: None,
        held_us: None,
    }
}

/// A result as it is sent, and the bytes it adds to a message: one too
/// large for any message becomes its task's `too_large` failure (else the
/// dispatcher would drop it as malformed, and the task would be retried
/// as lost).
pub fn sendable(result: ResultMessage) -> (ResultMessage, usize) {
    let size = result.wire_size();
    if size <= MAX_ITEM_BYTES {
        return (result, size);
    }
    let message = too_large("its result", json_len(&result.result));
    tracing::warn!(task = %result.task.task_id, "{message}");
    let failure = failed(result.task, TOO_LARGE, message);
    let size = failure.wire_size();
    (failure, size)
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
        let r = outcome_result(t.clone(), Outcome::completed(json!([1, 2])));
        assert_eq!(r.task, t);
        assert_eq!(r.status, "COMPLETED");
        assert_eq!(r.result, json!([1, 2]));
        assert_eq!(r.kind, None);
    }

    #[test]
    fn failed_carries_the_message_and_kind() {
        let r = outcome_result(
            task(),
            Outcome::failed(FailureKind::ExitCode, "exit code 3: boom"),
        );
        assert_eq!(r.status, "FAILED");
        assert_eq!(r.result, json!("exit code 3: boom"));
        assert_eq!(r.kind.as_deref(), Some("exit_code"));
    }

    #[test]
    fn a_run_carries_its_log_and_usage_named_by_its_slot() {
        let invocation = Invocation {
            outcome: Outcome::completed(json!(1)),
            logs: "hello\n".into(),
            usage: faas_protocol::Usage {
                run_us: 12,
                ..Default::default()
            },
        };
        let r = result_of(task(), invocation, 3);
        assert_eq!(r.result, json!(1));
        assert_eq!(r.logs, "hello\n");
        let usage = r.usage.expect("usage");
        assert_eq!((usage.run_us, usage.executor.as_str()), (12, "slot 3"));
    }

    #[test]
    fn a_result_too_large_for_any_message_becomes_a_failure() {
        let small = outcome_result(task(), Outcome::completed(json!("x".repeat(1000))));
        let (sent, size) = sendable(small.clone());
        assert_eq!((sent, size), (small.clone(), small.wire_size()));
        let t = task();
        let big = outcome_result(
            t.clone(),
            Outcome::completed(json!("\n".repeat(MAX_ITEM_BYTES / 2))),
        );
        let (sent, size) = sendable(big);
        assert_eq!((sent.task, sent.status.as_str()), (t, "FAILED"));
        assert_eq!(sent.kind.as_deref(), Some(TOO_LARGE));
        let message = sent.result.as_str().unwrap().to_string();
        assert!(
            message.contains("its result is") && message.contains(&MAX_ITEM_BYTES.to_string()),
            "{message}"
        );
        assert!(size < 1024);
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
