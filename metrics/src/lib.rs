//! The Prometheus metrics the daemons export: one definition of each
//! (name, help, labels, buckets), grouped by the daemon that updates it,
//! and the text exposition format. `docs/observability.md` lists them and
//! `deploy/grafana/faas-dashboard.json` charts them.
//!
//! Plain bookkeeping on the `prometheus` crate: no I/O (the daemons serve
//! [`Metrics::encode`]'s text) and no knowledge of stores or networks.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::collections::HashSet;
use std::sync::Mutex;
use uuid::Uuid;

pub use prometheus::Error;

/// One process's metrics: every daemon in it registers its group here
/// (`faas up` puts its server's and its dispatcher's in one).
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// The text exposition format (`text/plain; version=0.0.4`).
    pub fn encode(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# cannot encode the metrics: {e}\n"))
    }

    fn register<C: prometheus::core::Collector + Clone + 'static>(&self, c: C) -> Result<C, Error> {
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, Error> {
        self.register(IntCounterVec::new(Opts::new(name, help), labels)?)
    }

    fn gauge(&self, name: &str, help: &str) -> Result<IntGauge, Error> {
        self.register(IntGauge::new(name, help)?)
    }

    fn histogram(&self, name: &str, help: &str) -> Result<Histogram, Error> {
        self.register(Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(SECONDS.to_vec()),
        )?)
    }

    fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<HistogramVec, Error> {
        self.register(HistogramVec::new(
            HistogramOpts::new(name, help).buckets(SECONDS.to_vec()),
            labels,
        )?)
    }
}

/// Buckets of every duration histogram, in seconds: 100 us to 60 s.
pub const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Functions named in a label at most; the rest are counted as `other`.
pub const FUNCTION_LABELS: usize = 20;

/// A bounded `function` label: the first [`FUNCTION_LABELS`] functions a
/// process counts keep their id, any later one reads `other`, so a
/// deployment with thousands of functions cannot swamp Prometheus.
#[derive(Default)]
pub struct FunctionLabels {
    named: Mutex<HashSet<Uuid>>,
}

impl FunctionLabels {
    pub fn label(&self, function: Uuid) -> String {
        let mut named = self.named.lock().unwrap_or_else(|e| e.into_inner());
        if named.contains(&function) || named.len() < FUNCTION_LABELS && named.insert(function) {
            function.to_string()
        } else {
            "other".to_string()
        }
    }
}

/// What the REST server counts.
pub struct ServerMetrics {
    /// `faas_http_requests_total{route, method, status}`.
    pub http_requests: IntCounterVec,
    /// `faas_http_request_duration_seconds{route}` (long polls included).
    pub http_seconds: HistogramVec,
    /// `faas_tasks_submitted_total{function}`.
    pub submitted: IntCounterVec,
    /// `faas_queue_depth`: tasks waiting to be claimed, read from the
    /// store when scraped.
    pub queue_depth: IntGauge,
    functions: FunctionLabels,
}

impl ServerMetrics {
    pub fn new(metrics: &Metrics) -> Result<Self, Error> {
        Ok(ServerMetrics {
            http_requests: metrics.counter_vec(
                "faas_http_requests_total",
                "HTTP requests answered, by route, method and status",
                &["route", "method", "status"],
            )?,
            http_seconds: metrics.histogram_vec(
                "faas_http_request_duration_seconds",
                "Time to answer an HTTP request (long polls included), by route",
                &["route"],
            )?,
            submitted: metrics.counter_vec(
                "faas_tasks_submitted_total",
                "Tasks accepted (201), by function (the first 20 by id, then other)",
                &["function"],
            )?,
            queue_depth: metrics.gauge(
                "faas_queue_depth",
                "Tasks queued and not yet claimed (Redis: also those ended within the last second)",
            )?,
            functions: FunctionLabels::default(),
        })
    }

    /// Counts `n` tasks submitted to `function`.
    pub fn submitted(&self, function: Uuid, n: u64) {
        self.submitted
            .with_label_values(&[&self.functions.label(function)])
            .inc_by(n);
    }
}

/// What a dispatcher counts (any mode).
pub struct DispatcherMetrics {
    /// `faas_tasks_finished_total{status, kind}`: recorded final states
    /// (`kind` is the failure kind, empty for COMPLETED).
    pub finished: IntCounterVec,
    /// `faas_function_tasks_total{function, status}`.
    pub by_function: IntCounterVec,
    /// `faas_task_run_seconds`: a run, instance start to call end.
    pub run_seconds: Histogram,
    /// `faas_task_queue_wait_seconds`: from a task's queue entry (its
    /// submission, or its requeue) to its claim.
    pub queue_wait_seconds: Histogram,
    /// `faas_task_latency_seconds`: from a task's queue entry to its final
    /// state being recorded.
    pub latency_seconds: Histogram,
    /// `faas_tasks_running`: claims held (running, or on their way to a
    /// slot or worker).
    pub running: IntGauge,
    /// `faas_store_seconds{op}`: a store call's round trip (`finish`: a
    /// batch of final states).
    pub store_seconds: HistogramVec,
    /// `faas_store_errors_total{op}`.
    pub store_errors: IntCounterVec,
    /// `faas_workers`: live workers (push and pull).
    pub workers: IntGauge,
    /// `faas_worker_slots_free`: their free slots.
    pub free_slots: IntGauge,
    functions: FunctionLabels,
}

impl std::fmt::Debug for DispatcherMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatcherMetrics").finish_non_exhaustive()
    }
}

impl DispatcherMetrics {
    pub fn new(metrics: &Metrics) -> Result<Self, Error> {
        Ok(DispatcherMetrics {
            finished: metrics.counter_vec(
                "faas_tasks_finished_total",
                "Final states recorded, by status and failure kind",
                &["status", "kind"],
            )?,
            by_function: metrics.counter_vec(
                "faas_function_tasks_total",
                "Final states recorded, by function (the first 20 by id, then other) and status",
                &["function", "status"],
            )?,
            run_seconds: metrics.histogram(
                "faas_task_run_seconds",
                "A task's run: its instance's start to the end of its call",
            )?,
            queue_wait_seconds: metrics.histogram(
                "faas_task_queue_wait_seconds",
                "From a task's queue entry (submission or requeue) to its claim",
            )?,
            latency_seconds: metrics.histogram(
                "faas_task_latency_seconds",
                "From a task's queue entry (submission or requeue) to its final state",
            )?,
            running: metrics.gauge(
                "faas_tasks_running",
                "Tasks claimed and not yet recorded as ended",
            )?,
            store_seconds: metrics.histogram_vec(
                "faas_store_seconds",
                "A store call's round trip, by operation",
                &["op"],
            )?,
            store_errors: metrics.counter_vec(
                "faas_store_errors_total",
                "Store calls that failed, by operation",
                &["op"],
            )?,
            workers: metrics.gauge("faas_workers", "Live workers (push and pull modes)")?,
            free_slots: metrics.gauge(
                "faas_worker_slots_free",
                "Free slots of the live workers (push and pull modes)",
            )?,
            functions: FunctionLabels::default(),
        })
    }

    /// Counts `n` recorded final states of one function, status and kind.
    pub fn finished(&self, function: Uuid, status: &str, kind: &str, n: u64) {
        self.finished.with_label_values(&[status, kind]).inc_by(n);
        self.by_function
            .with_label_values(&[&self.functions.label(function), status])
            .inc_by(n);
    }
}

/// What a worker counts.
pub struct WorkerMetrics {
    /// `faas_worker_tasks_total{status}`: tasks it ran to an end.
    pub finished: IntCounterVec,
    /// `faas_worker_tasks_running`.
    pub running: IntGauge,
    /// `faas_worker_slots`.
    pub slots: IntGauge,
    /// `faas_worker_task_run_seconds`.
    pub run_seconds: Histogram,
    /// `faas_worker_modules_loaded_total`: module loads finished.
    pub modules_loaded: IntCounter,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics").finish_non_exhaustive()
    }
}

impl WorkerMetrics {
    pub fn new(metrics: &Metrics) -> Result<Self, Error> {
        Ok(WorkerMetrics {
            finished: metrics.counter_vec(
                "faas_worker_tasks_total",
                "Tasks this worker ran to an end, by status",
                &["status"],
            )?,
            running: metrics.gauge("faas_worker_tasks_running", "Tasks running on this worker")?,
            slots: metrics.gauge("faas_worker_slots", "This worker's slots")?,
            run_seconds: metrics.histogram(
                "faas_worker_task_run_seconds",
                "A task's run on this worker: its instance's start to the end of its call",
            )?,
            modules_loaded: metrics.register(IntCounter::new(
                "faas_worker_modules_loaded_total",
                "Module loads this worker finished (compiled, or read from its disk cache; failures included)",
            )?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_label_is_bounded() {
        let labels = FunctionLabels::default();
        let ids: Vec<Uuid> = (0..FUNCTION_LABELS + 5).map(|_| Uuid::new_v4()).collect();
        for id in &ids[..FUNCTION_LABELS] {
            assert_eq!(labels.label(*id), id.to_string());
        }
        assert_eq!(labels.label(ids[FUNCTION_LABELS]), "other");
        assert_eq!(
            labels.label(ids[0]),
            ids[0].to_string(),
            "a named one stays named"
        );
    }

    /// Every `faas_*` name the Grafana dashboard charts is one of these.
    #[test]
    fn the_dashboard_charts_only_metrics_that_exist() {
        let metrics = Metrics::new();
        let server = ServerMetrics::new(&metrics).unwrap();
        let dispatcher = DispatcherMetrics::new(&metrics).unwrap();
        WorkerMetrics::new(&metrics).unwrap();
        // A labelled family shows once it has a child.
        server.submitted(Uuid::nil(), 1);
        server
            .http_requests
            .with_label_values(&["/", "GET", "200"])
            .inc();
        server.http_seconds.with_label_values(&["/"]).observe(0.1);
        dispatcher.finished(Uuid::nil(), "COMPLETED", "", 1);
        dispatcher
            .store_seconds
            .with_label_values(&["finish"])
            .observe(0.1);
        dispatcher.store_errors.with_label_values(&["finish"]).inc();
        let known: HashSet<String> = metrics
            .registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/grafana/faas-dashboard.json"
        );
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut charted = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for (at, _) in expr.match_indices("faas_") {
                    let name: String = expr[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| name.strip_suffix(s))
                        .unwrap_or(&name);
                    assert!(
                        known.contains(base),
                        "the dashboard charts {name}, which is not a metric"
                    );
                    charted += 1;
                }
            }
        }
        assert!(charted > 10, "{charted}");
    }

    #[test]
    fn each_group_registers_once_and_encodes_as_text() {
        let metrics = Metrics::new();
        let server = ServerMetrics::new(&metrics).unwrap();
        let dispatcher = DispatcherMetrics::new(&metrics).unwrap();
        assert!(
            ServerMetrics::new(&metrics).is_err(),
            "a second server group clashes"
        );
        server.submitted(Uuid::nil(), 3);
        dispatcher.finished(Uuid::nil(), "FAILED", "trap", 1);
        dispatcher.run_seconds.observe(0.002);
        let text = metrics.encode();
        assert!(
            text.contains("# TYPE faas_tasks_submitted_total counter"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "faas_tasks_submitted_total{{function=\"{}\"}} 3",
                Uuid::nil()
            )),
            "{text}"
        );
        assert!(
            text.contains("faas_tasks_finished_total{kind=\"trap\",status=\"FAILED\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("faas_task_run_seconds_bucket{le=\"0.0025\"} 1"),
            "{text}"
        );
    }
}
