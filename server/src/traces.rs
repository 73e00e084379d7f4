//! The server's spans of a task (see `faas-traces`): the request that
//! stored it, the trace's root, and the store's write within it.

use faas_traces::{Attribute, Span, Step};
use std::time::SystemTime;
use uuid::Uuid;

/// When a submission started and when its store write did.
pub(crate) struct Submission {
    pub started: SystemTime,
    pub stored_from: SystemTime,
}

impl Submission {
    /// Now, as the request starts; None when no traces are exported.
    pub fn start() -> Option<Submission> {
        faas_traces::exporter()?;
        let now = SystemTime::now();
        Some(Submission {
            started: now,
            stored_from: now,
        })
    }

    /// Reports each task's submit span and its store write (ending now).
    pub fn stored(self, tasks: impl Iterator<Item = Uuid>, function: Uuid, tenant: &str) {
        let Some(exporter) = faas_traces::exporter() else {
            return;
        };
        let end = SystemTime::now();
        for task in tasks {
            exporter.report(Span {
                task,
                attempt: 0,
                step: Step::Submit,
                parent: None,
                start: self.started,
                end,
                attributes: vec![
                    Attribute::new("faas.function_id", function.to_string()),
                    Attribute::new("faas.tenant", tenant.to_string()),
                ],
                error: None,
            });
            exporter.report(Span {
                task,
                attempt: 0,
                step: Step::StoreSubmit,
                parent: Some((0, Step::Submit)),
                start: self.stored_from,
                end,
                attributes: Vec::new(),
                error: None,
            });
        }
    }
}
