//! One trace per task, across every process it passes through, exported
//! over OTLP (HTTP/protobuf) when a daemon is given `--otlp-endpoint`.
//!
//! No trace context travels with a task: its trace id *is* its id (a
//! random UUID, 128 bits like a trace id), and each span's id is derived
//! from the task, its attempt and the span's [`Step`], so the server, a
//! dispatcher and a worker each name their spans and their parents alike
//! without a field on the wire or in the store. Each process reports its
//! spans once it knows how long they took (start and end times given), so
//! tracing costs nothing on the way and one atomic load when it is off.
//!
//! The spans of a task:
//!
//! ```text
//! faas.submit (server: the request that stored it)        attempt 0
//! ├─ faas.store.submit (server: the store's write)
//! └─ faas.attempt (dispatcher: claimed to recorded)       one per attempt
//!    ├─ faas.guest (local mode: the call in the sandbox)
//!    ├─ faas.worker (push/pull: on the worker, received to answered)
//!    │  └─ faas.guest
//!    └─ faas.store.finish (dispatcher: writing the final state)
//! ```

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

pub use opentelemetry::KeyValue as Attribute;

/// What a span of a task stands for; with the task and attempt, its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Submit,
    StoreSubmit,
    Attempt,
    Worker,
    Guest,
    StoreFinish,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Submit => "faas.submit",
            Step::StoreSubmit => "faas.store.submit",
            Step::Attempt => "faas.attempt",
            Step::Worker => "faas.worker",
            Step::Guest => "faas.guest",
            Step::StoreFinish => "faas.store.finish",
        }
    }

    fn kind(self) -> SpanKind {
        match self {
            Step::Submit => SpanKind::Server,
            Step::StoreSubmit | Step::StoreFinish => SpanKind::Client,
            Step::Attempt => SpanKind::Consumer,
            Step::Worker | Step::Guest => SpanKind::Internal,
        }
    }
}

/// The span id of `step` of `attempt` of `task` (never zero).
pub fn span_id(task: Uuid, attempt: u32, step: Step) -> SpanId {
    let (high, low) = task.as_u64_pair();
    let mut x = high ^ low.rotate_left(17) ^ ((attempt as u64) << 8) ^ step as u64;
    // splitmix64's finaliser: nearby inputs give unrelated ids.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    SpanId::from(x.max(1))
}

/// The task's trace id: its own 128 bits.
pub fn trace_id(task: Uuid) -> TraceId {
    TraceId::from(task.as_u128())
}

/// Where a process sends its spans.
pub struct Exporter {
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// The exporter, if this process was given an endpoint.
pub fn exporter() -> Option<&'static Exporter> {
    EXPORTER.get()
}

/// Starts exporting this process's spans to `endpoint`, an OTLP/HTTP
/// collector (`http://host:4318`: `/v1/traces` is added to a URL with no
/// path), as `service` (`faas-server`, `faas-dispatcher`, `faas-worker`).
/// Spans leave in batches, at least every second; a collector that is
/// down loses spans; the export runs on a thread of its own.
pub fn install(endpoint: &str, service: &str) -> Result<(), String> {
    let url = traces_url(endpoint)?;
    let service = service.to_string();
    // The blocking HTTP client must be made (and later dropped) off any
    // async runtime.
    let processor = std::thread::spawn(move || {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot make the OTLP exporter: {e}"))?;
        let config = BatchConfigBuilder::default()
            .with_scheduled_delay(Duration::from_secs(1))
            .with_max_queue_size(65_536)
            .build();
        let mut processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(config)
            .build();
        processor.set_resource(&Resource::builder().with_service_name(service).build());
        Ok::<_, String>(processor)
    })
    .join()
    .map_err(|_| "the OTLP exporter's setup panicked".to_string())??;
    let exporter = Exporter {
        processor,
        scope: InstrumentationScope::builder("faas")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    };
    EXPORTER
        .set(exporter)
        .map_err(|_| "traces are already being exported".to_string())
}

/// Sends what is left (on the way out); waits at most a few seconds.
pub fn flush() {
    if let Some(exporter) = exporter() {
        let _ = std::thread::scope(|s| s.spawn(|| exporter.processor.force_flush()).join());
    }
}

/// `endpoint` with `/v1/traces` if it has no path.
fn traces_url(endpoint: &str) -> Result<String, String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or_else(|| format!("--otlp-endpoint must be an http:// URL, got {endpoint:?}"))?;
    if endpoint.starts_with("https://") {
        return Err(format!(
            "--otlp-endpoint {endpoint}: only plain http:// is supported (run a collector beside the daemon)"
        ));
    }
    Ok(match rest.find('/') {
        Some(at) if rest[at..].len() > 1 => endpoint.to_string(),
        _ => format!("http://{}/v1/traces", rest.trim_end_matches('/')),
    })
}

/// One span of a task to report.
pub struct Span {
    pub task: Uuid,
    pub attempt: u32,
    pub step: Step,
    /// The span it belongs under (None: the trace's root).
    pub parent: Option<(u32, Step)>,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    /// A failure message, if the step failed.
    pub error: Option<String>,
}

impl Exporter {
    pub fn report(&self, span: Span) {
        let trace = trace_id(span.task);
        let context = SpanContext::new(
            trace,
            span_id(span.task, span.attempt, span.step),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let parent = span.parent.map_or(SpanId::INVALID, |(attempt, step)| {
            span_id(span.task, attempt, step)
        });
        let mut attributes = span.attributes;
        attributes.push(KeyValue::new("faas.task_id", span.task.to_string()));
        if span.step != Step::Submit && span.step != Step::StoreSubmit {
            attributes.push(KeyValue::new("faas.attempt", span.attempt as i64));
        }
        self.processor.on_end(SpanData {
            span_context: context,
            parent_span_id: parent,
            // Reported by another process (or another part of this one).
            parent_span_is_remote: span.parent.is_some(),
            span_kind: span.step.kind(),
            name: Cow::Borrowed(span.step.name()),
            start_time: span.start,
            end_time: span.end.max(span.start),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: match span.error {
                Some(message) => Status::error(message),
                None => Status::Ok,
            },
            instrumentation_scope: self.scope.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_derived_from_the_task_attempt_and_step() {
        let task = Uuid::new_v4();
        assert_eq!(trace_id(task).to_bytes(), *task.as_bytes());
        let steps = [
            Step::Submit,
            Step::StoreSubmit,
            Step::Attempt,
            Step::Worker,
            Step::Guest,
            Step::StoreFinish,
        ];
        let mut ids: Vec<SpanId> = steps
            .iter()
            .flat_map(|s| [span_id(task, 1, *s), span_id(task, 2, *s)])
            .collect();
        assert_eq!(span_id(task, 1, Step::Guest), span_id(task, 1, Step::Guest));
        ids.sort_by_key(|id| id.to_bytes());
        ids.dedup();
        assert_eq!(ids.len(), 12, "every step of every attempt has its own id");
        assert!(ids.iter().all(|id| *id != SpanId::INVALID));
    }

    #[test]
    fn an_endpoint_without_a_path_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector/otlp/v1/traces").unwrap(),
            "http://collector/otlp/v1/traces"
        );
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("https://collector").is_err());
    }
}
