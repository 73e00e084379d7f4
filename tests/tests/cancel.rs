//! Cancellation end to end, in every mode (embedded `faas up`; Redis with a
//! local dispatcher; push and pull workers): a queued task never runs, a
//! running infinite loop is stopped where it stands (its slot is free again
//! long before the task's 10 s timeout), each ends FAILED `"cancelled"`,
//! and cancelling an ended task changes nothing (409).

mod common;

use common::one_slot::one_slot;
use common::{Api, TYPED};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

async fn cancel(api: &Api, task: Uuid) -> (u16, Value) {
    let reply = api.post(&format!("/tasks/{task}/cancel"), &json!({})).await;
    let body = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

/// Waits for the task's end (one cancelled while a dispatcher claimed it
/// ends a moment after the cancel), then checks it is the cancellation.
async fn assert_cancelled(api: &Api, task: Uuid) {
    api.wait_final(task).await;
    let record = api.task(task).await;
    assert_eq!(
        (
            &record["status"],
            &record["result"],
            &record["failure_kind"]
        ),
        (&json!("FAILED"), &json!("cancelled"), &json!("cancelled")),
        "{record}"
    );
}

async fn a_running_loop_is_stopped_and_a_queued_task_never_runs(mode: &str) {
    let (api, _platform) = one_slot(mode);
    let spin = api.register("spin", TYPED.as_bytes(), Some("spin")).await;
    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    // Warm the slot (and a worker's function cache), then fill it.
    assert_eq!(api.completed(add, &json!([1, 2])).await, json!(3));
    let looping = api.execute(spin, &json!([])).await;
    api.wait_status(looping, "RUNNING", Duration::from_secs(30))
        .await;
    // Another loop queued behind it: if it ever started, it would hold
    // the slot past the bound below.
    let queued = api.execute(spin, &json!([])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (code, body) = cancel(&api, queued).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "FAILED", "{body}");
    let asked = Instant::now();
    let (code, body) = cancel(&api, looping).await;
    assert_eq!((code, &body["status"]), (200, &json!("FAILED")), "{body}");
    // The loop would hold the only slot for its whole 10 s timeout.
    let next = api.completed(add, &json!([3, 4])).await;
    let freed = asked.elapsed();
    assert_eq!(next, json!(7));
    println!("{mode}: the slot ran the next task {freed:?} after the cancel");
    assert!(
        freed < Duration::from_secs(5),
        "{mode}: the cancelled loop held its slot for {freed:?}"
    );
    for task in [looping, queued] {
        assert_cancelled(&api, task).await;
        // Its long poll has the same answer, and a second cancel changes nothing.
        assert_eq!(
            api.wait_final(task).await,
            ("FAILED".into(), json!("cancelled"))
        );
        let (code, body) = cancel(&api, task).await;
        assert_eq!(code, 409, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("already ended (FAILED)"),
            "{body}"
        );
    }
    // Never retried: it stays cancelled after the lease would have lapsed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_cancelled(&api, looping).await;
}

async fn many_at_once_and_the_wrong_ids(mode: &str) {
    let (api, _platform) = one_slot(mode);
    let spin = api.register("spin", TYPED.as_bytes(), Some("spin")).await;
    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    let done = api.execute(add, &json!([1, 1])).await;
    assert_eq!(api.wait_final(done).await.0, "COMPLETED");
    let loops: Vec<Uuid> = {
        let reply = api
            .post(
                "/execute_batch",
                &json!({"function_id": spin, "payloads": [[], [], [], [], []]}),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        serde_json::from_value(reply.json()["task_ids"].clone()).unwrap()
    };
    api.wait_status(loops[0], "RUNNING", Duration::from_secs(30))
        .await;
    let unknown = Uuid::new_v4();
    let mut ids: Vec<Value> = loops.iter().map(|id| json!(id)).collect();
    ids.extend([json!(done), json!(unknown), json!("not-a-uuid")]);
    let reply = api.post("/tasks/cancel", &json!({ "task_ids": ids })).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let answer = reply.json();
    assert_eq!(answer["cancelled"], json!(loops), "{answer}");
    assert_eq!(answer["already_ended"], json!([done]), "{answer}");
    assert_eq!(
        answer["unknown"],
        json!([unknown, "not-a-uuid"]),
        "{answer}"
    );
    for task in &loops {
        assert_cancelled(&api, *task).await;
    }
    assert_eq!(api.completed(add, &json!([2, 3])).await, json!(5));
    let (code, body) = cancel(&api, unknown).await;
    assert_eq!(code, 404, "{body}");
    let (code, _) = cancel(&api, done).await;
    assert_eq!(code, 409);
}

crate::each_mode!(
    a_running_loop_is_stopped_and_a_queued_task_never_runs,
    many_at_once_and_the_wrong_ids
);
