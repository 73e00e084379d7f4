//! Traces: one trace per task across processes. A real Redis, `faas
//! server`, a push dispatcher and a worker (and, apart, `faas up` in local
//! mode) export over OTLP/HTTP to a receiver this test runs, which decodes
//! the protobuf as a collector would; one task's spans from every process
//! share its trace id and hang from one another.

mod common;

use common::cluster::start_push_pair;
use common::{start_server_env, Api, LISTENING, TYPED};
use faas_e2e::{free_port, Daemon, RedisServer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces`, protobuf.
struct Receiver {
    port: u16,
    spans: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let spans: Arc<Mutex<Vec<Got>>> = Arc::default();
        let kept = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let request =
                        ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                    let mut kept = kept.lock().unwrap();
                    for resource in request.resource_spans {
                        let service = resource
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|a| a.key == "service.name")
                            .and_then(|a| a.value.as_ref())
                            .map(|v| format!("{:?}", v.value))
                            .unwrap_or_default();
                        for scope in resource.scope_spans {
                            for span in scope.spans {
                                kept.push(Got {
                                    service: service.clone(),
                                    name: span.name,
                                    trace: span.trace_id,
                                    id: span.span_id,
                                    parent: span.parent_span_id,
                                });
                            }
                        }
                    }
                    // An empty ExportTraceServiceResponse.
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("an address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { port, spans }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The spans of `task`'s trace, once `names` have all arrived (or
    /// what came within 30 s).
    async fn trace(&self, task: Uuid, names: &[&str]) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans: Vec<Got> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.trace == task.as_bytes())
                .cloned()
                .collect();
            if names.iter().all(|n| spans.iter().any(|s| s.name == *n)) || Instant::now() > deadline
            {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn one<'a>(spans: &'a [Got], name: &str) -> &'a Got {
    let found: Vec<&Got> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one {name} span: {spans:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_one_trace_across_server_dispatcher_and_worker() {
    common::require_binary();
    let receiver = Receiver::start().await;
    let otlp = receiver.url();
    let env = [("FAAS_OTLP_ENDPOINT", otlp.as_str())];
    let redis = RedisServer::start();
    let (server, port) = start_server_env(&redis, &env);
    let api = Api::new(port).with_token(server.token());
    let (_dispatcher, _worker) = start_push_pair(&redis, (1, "w-traces"), (&[], &[]), &env);

    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    let task = api.execute(add, &json!([2, 3])).await;
    assert_eq!(
        api.wait_final(task).await,
        ("COMPLETED".to_string(), json!(5))
    );
    let names = [
        "faas.submit",
        "faas.store.submit",
        "faas.attempt",
        "faas.store.finish",
        "faas.worker",
        "faas.guest",
    ];
    let spans = receiver.trace(task, &names).await;
    let (submit, stored, attempt, finish, worker, guest) = (
        one(&spans, names[0]),
        one(&spans, names[1]),
        one(&spans, names[2]),
        one(&spans, names[3]),
        one(&spans, names[4]),
        one(&spans, names[5]),
    );
    // Three processes, one trace, each span under the one it belongs to.
    assert!(submit.service.contains("faas-server"), "{submit:?}");
    assert!(attempt.service.contains("faas-dispatcher"), "{attempt:?}");
    assert!(worker.service.contains("faas-worker"), "{worker:?}");
    assert!(guest.service.contains("faas-worker"), "{guest:?}");
    assert!(submit.parent.is_empty(), "the submit span is the root");
    assert_eq!(stored.parent, submit.id);
    assert_eq!(attempt.parent, submit.id);
    assert_eq!(finish.parent, attempt.id);
    assert_eq!(worker.parent, attempt.id);
    assert_eq!(guest.parent, worker.id);
    let mut ids: Vec<&Vec<u8>> = spans.iter().map(|s| &s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "span ids are distinct: {spans:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_traces_the_guest_call_under_its_attempt() {
    let receiver = Receiver::start().await;
    common::require_binary();
    let port = free_port();
    let up = Daemon::start_env(
        &["up", "--port", &port.to_string(), "-w", "1"],
        &[("FAAS_OTLP_ENDPOINT", &receiver.url())],
        LISTENING,
    );
    let api = Api::new(port).with_token(up.token());
    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    let task = api.execute(add, &json!([2, 3])).await;
    assert_eq!(
        api.wait_final(task).await,
        ("COMPLETED".to_string(), json!(5))
    );
    let spans = receiver
        .trace(task, &["faas.submit", "faas.attempt", "faas.guest"])
        .await;
    let (submit, attempt, guest) = (
        one(&spans, "faas.submit"),
        one(&spans, "faas.attempt"),
        one(&spans, "faas.guest"),
    );
    assert_eq!(attempt.parent, submit.id);
    assert_eq!(guest.parent, attempt.id);
}
