//! Per-task logs and usage in every mode (embedded `faas up`; Redis with a
//! local dispatcher; push and pull workers): what the guest wrote to stderr
//! (and to stdout, when stdout is not the result) is kept with its task
//! and served at `GET /tasks/{id}/logs`, for completed and failed tasks
//! alike; `GET /tasks/{id}` and `GET /tasks` carry the usage of the attempt
//! that ended it.

mod common;

use common::one_slot::one_slot;
use serde_json::{json, Value};

/// See the fixture's header: a command that logs (or exits 3 on `!`), and
/// a typed export that writes to both streams.
const LOGS_WAT: &str = include_str!("../../runtime/tests/fixtures/logs.wat");

/// Runs `payload` on `function` to its end; returns its record and its
/// logs answer.
async fn run(api: &common::Api, function: uuid::Uuid, payload: Value) -> (Value, Value) {
    let task = api.execute(function, &payload).await;
    api.wait_final(task).await;
    let logs = api.get(&format!("/tasks/{task}/logs")).await;
    assert_eq!(logs.status, 200, "{logs:?}");
    (api.task(task).await, logs.json())
}

async fn logs_and_usage_are_kept_with_each_task(mode: &str) {
    let (api, _platform) = one_slot(mode);
    let module = wat::parse_str(LOGS_WAT).expect("the WAT");
    let command = api.register("logs", &module, None).await;
    let typed = api.register("count", &module, Some("count")).await;
    let executor = if matches!(mode, "push" | "pull") {
        "worker "
    } else {
        "dispatcher "
    };

    // A command: stdout is the result, stderr the log.
    let (record, logs) = run(&api, command, json!("go")).await;
    assert_eq!(record["status"], "COMPLETED", "{mode}: {record}");
    assert_eq!(record["result"], "result\n");
    assert_eq!(
        (&logs["status"], &logs["logs"], &logs["dropped_bytes"]),
        (&json!("COMPLETED"), &json!("a log line\n"), &json!(0)),
        "{mode}: {logs}"
    );
    let usage = &record["usage"];
    assert_eq!(usage["peak_memory_bytes"], 2 * 65536, "{mode}: {usage}");
    assert_eq!(
        (&usage["output_bytes"], &usage["log_bytes"]),
        (&json!(7), &json!(11))
    );
    assert!(usage["run_us"].as_u64().is_some(), "{mode}: {usage}");
    let name = usage["executor"].as_str().unwrap_or_default();
    assert!(
        name.starts_with(executor) && name.ends_with(" slot 0"),
        "{mode}: {name}"
    );
    assert!(
        record["queue_wait_ms"].as_u64().is_some(),
        "{mode}: {record}"
    );

    // A typed export: both streams are the log, in the order written.
    let (record, logs) = run(&api, typed, json!([41])).await;
    assert_eq!(record["result"], 42, "{mode}: {record}");
    assert_eq!(logs["logs"], "to stdout\nto stderr\n", "{mode}: {logs}");

    // A failed task keeps its log too.
    let (record, logs) = run(&api, command, json!("!")).await;
    assert_eq!(
        (&record["status"], &record["failure_kind"]),
        (&json!("FAILED"), &json!("exit_code")),
        "{mode}: {record}"
    );
    assert_eq!(logs["logs"], "refused\n", "{mode}: {logs}");
    assert_eq!(record["usage"]["log_bytes"], 8, "{mode}: {record}");

    // The listing carries the usage.
    let listed = api.get("/tasks?limit=3").await.json();
    let rows = listed["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 3, "{mode}: {listed}");
    assert!(
        rows.iter().all(|r| r["usage"]["run_us"].is_u64()),
        "{mode}: {listed}"
    );

    // An unknown task has no log.
    let unknown = api
        .get(&format!("/tasks/{}/logs", uuid::Uuid::new_v4()))
        .await;
    unknown.expect_error(404);
}

crate::each_mode!(logs_and_usage_are_kept_with_each_task);
