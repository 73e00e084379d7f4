//! Converting the runtime's outcome of an invocation into a task's final state.

use faas_runtime::{FailureKind, Invocation, Outcome};
use faas_store::{Final, Report};

/// The `failure_kind` recorded for each runtime failure kind.
pub fn kind_name(kind: FailureKind) -> &'static str {
    kind.as_str()
}

/// A run's final state, and its log and usage with `executor` named.
pub fn ended(invocation: Invocation, executor: String) -> (Final, Report) {
    let Invocation {
        outcome,
        logs,
        mut usage,
    } = invocation;
    usage.executor = executor;
    (
        to_final(outcome),
        Report {
            logs,
            usage: Some(usage),
        },
    )
}

pub fn to_final(outcome: Outcome) -> Final {
    match outcome {
        Outcome::Completed { value } => Final::Completed(value),
        Outcome::Failed(failure) => Final::Failed {
            kind: kind_name(failure.kind).to_string(),
            message: failure.message,
        },
    }
}
