//! Converting the runtime's outcome of an invocation into a task's final state.

use faas_runtime::{FailureKind, Outcome};
use faas_store::Final;

/// The `failure_kind` recorded for each runtime failure kind.
pub fn kind_name(kind: FailureKind) -> &'static str {
    kind.as_str()
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
