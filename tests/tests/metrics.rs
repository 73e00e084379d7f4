//! Prometheus metrics: the server's `/metrics` (an admin key), and
//! `--metrics-port` of a push dispatcher and its worker, scraped after
//! real tasks and read with a Prometheus text-format parser
//! (prometheus-parse): each counts what it did.

mod common;

use common::cluster::start_push_pair;
use common::{start_server, Api, TYPED};
use faas_e2e::{free_port, RedisServer};
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the text format")
}

/// The value of the counter or gauge `name` whose labels include `labels`
/// (summed over the rest), or of a histogram's count.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matches =
        |s: &&Sample| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v));
    scrape
        .samples
        .iter()
        .filter(matches)
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

async fn scrape_port(port: u16) -> Scrape {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let reply = reqwest::get(&url).await.expect("the metrics port answers");
    assert_eq!(reply.status(), 200, "{url}");
    parse(&reply.text().await.expect("a body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_the_dispatcher_and_the_worker_count_what_they_did() {
    common::require_binary();
    let redis = RedisServer::start();
    let (server, port) = start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let (dispatcher_metrics, worker_metrics) = (free_port(), free_port());
    let (_dispatcher, _worker) = start_push_pair(
        &redis,
        (2, "w-metrics"),
        (
            &["--metrics-port", &dispatcher_metrics.to_string()],
            &["--metrics-port", &worker_metrics.to_string()],
        ),
        &[],
    );

    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    let boom = api.register("boom", TYPED.as_bytes(), Some("boom")).await;
    for i in 0..4 {
        let task = api.execute(add, &json!([i, 1])).await;
        assert_eq!(api.wait_final(task).await.0, "COMPLETED");
    }
    let task = api.execute(boom, &json!([])).await;
    assert_eq!(api.wait_final(task).await.0, "FAILED");

    // The server: requests by route pattern and status, tasks submitted.
    let reply = api.get("/metrics").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let server = parse(&reply.body);
    let add_label = add.to_string();
    assert_eq!(
        value(
            &server,
            "faas_tasks_submitted_total",
            &[("function", &add_label)]
        ),
        4.0
    );
    assert_eq!(value(&server, "faas_tasks_submitted_total", &[]), 5.0);
    let executes = [("route", "/execute_function"), ("status", "201")];
    assert_eq!(value(&server, "faas_http_requests_total", &executes), 5.0);
    assert!(
        value(
            &server,
            "faas_http_requests_total",
            &[("route", "/result/:task_id")]
        ) >= 5.0
    );
    assert_eq!(
        value(
            &server,
            "faas_http_request_duration_seconds",
            &[("route", "/register_function")]
        ),
        2.0
    );
    // Redis's queue length also counts tasks ended within the last second.
    assert!(value(&server, "faas_queue_depth", &[]) <= 5.0);
    assert!(server.docs.contains_key("faas_queue_depth"));

    // The dispatcher: final states by status and kind, runs, the worker.
    // (Its recorder counts a batch once it is written: the results above
    // were read after that write.)
    let dispatcher = scrape_port(dispatcher_metrics).await;
    // Workers are counted when the dispatcher publishes its listing (every
    // few ticks).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut dispatcher = dispatcher;
    while value(&dispatcher, "faas_workers", &[]) < 1.0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        dispatcher = scrape_port(dispatcher_metrics).await;
    }
    let completed = [("status", "COMPLETED")];
    assert_eq!(
        value(&dispatcher, "faas_tasks_finished_total", &completed),
        4.0
    );
    let trapped = [("status", "FAILED"), ("kind", "trap")];
    assert_eq!(
        value(&dispatcher, "faas_tasks_finished_total", &trapped),
        1.0
    );
    assert_eq!(value(&dispatcher, "faas_task_run_seconds", &[]), 5.0);
    assert_eq!(value(&dispatcher, "faas_task_latency_seconds", &[]), 5.0);
    assert_eq!(value(&dispatcher, "faas_task_queue_wait_seconds", &[]), 5.0);
    assert_eq!(value(&dispatcher, "faas_workers", &[]), 1.0);
    assert_eq!(value(&dispatcher, "faas_worker_slots_free", &[]), 2.0);
    assert_eq!(value(&dispatcher, "faas_tasks_running", &[]), 0.0);

    // The worker: what it ran.
    let worker = scrape_port(worker_metrics).await;
    assert_eq!(value(&worker, "faas_worker_tasks_total", &completed), 4.0);
    assert_eq!(
        value(&worker, "faas_worker_tasks_total", &[("status", "FAILED")]),
        1.0
    );
    assert_eq!(value(&worker, "faas_worker_slots", &[]), 2.0);
    assert_eq!(value(&worker, "faas_worker_task_run_seconds", &[]), 5.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_metrics_need_an_admin_key() {
    let (up, port) = common::start_up(1);
    let admin = Api::new(port).with_token(up.token());
    let anonymous = Api::new(port);
    anonymous.get("/metrics").await.expect_error(401);
    let key = admin
        .post("/keys", &json!({"tenant": "someone"}))
        .await
        .json();
    let tenant = Api::new(port).with_token(key["key"].as_str().map(str::to_string));
    tenant.get("/metrics").await.expect_error(403);
    // `faas up` serves its dispatcher's metrics beside the server's.
    let text = admin.get("/metrics").await.body;
    let scrape = parse(&text);
    assert!(scrape.docs.contains_key("faas_tasks_running"), "{text}");
    assert!(
        scrape.docs.contains_key("faas_http_requests_total"),
        "{text}"
    );
}
