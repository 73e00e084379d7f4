//! `DELETE /functions/{id}` end to end, in every mode (embedded `faas up`;
//! Redis with a local dispatcher; push and pull workers): the function is
//! gone at once (404 to read, to submit to, to delete again); a task of it
//! running when it was deleted finishes; one still queued then ends FAILED
//! `missing_function`, saying why; and a function sharing its module keeps
//! working.

mod common;

use common::one_slot::one_slot;
use common::{Api, SLEEP, TYPED};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn delete(api: &Api, function: Uuid) -> (u16, Value) {
    let reply = api
        .send(Method::DELETE, &format!("/functions/{function}"), None)
        .await;
    let body = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

async fn running_tasks_finish_and_queued_ones_fail(mode: &str) {
    let (api, _platform) = one_slot(mode);
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let twin = api.register("sleep-too", SLEEP.as_bytes(), None).await;
    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    assert_eq!(api.completed(add, &json!([1, 2])).await, json!(3));
    // The only slot is busy 1.5 s; the rest queue behind it (a remote
    // dispatcher may claim a few ahead: those count as running).
    let running = api.execute(sleep, &json!("1500")).await;
    api.wait_status(running, "RUNNING", Duration::from_secs(30))
        .await;
    let reply = api
        .post(
            "/execute_batch",
            &json!({"function_id": sleep, "payloads": vec!["10"; 100]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let behind: Vec<Uuid> = serde_json::from_value(reply.json()["task_ids"].clone()).unwrap();
    let mut was_running = vec![running];
    for &task in &behind {
        if api.status(task).await == "RUNNING" {
            was_running.push(task);
        }
    }

    let (code, body) = delete(&api, sleep).await;
    assert_eq!((code, &body), (200, &json!({ "deleted": sleep })));
    let mut still_queued = Vec::new();
    for &task in &behind {
        if api.status(task).await == "QUEUED" {
            still_queued.push(task);
        }
    }
    assert!(
        !still_queued.is_empty(),
        "{mode}: every task was claimed before the delete; nothing checked"
    );

    let (code, body) = delete(&api, sleep).await;
    assert_eq!(code, 404, "{body}");
    api.get(&format!("/functions/{sleep}"))
        .await
        .expect_error(404);
    let refused = api.execute_reply(&sleep.to_string(), &json!("10")).await;
    assert!(
        refused.expect_error(404).contains("not found"),
        "{refused:?}"
    );
    let listed = api.get("/functions").await.json();
    assert!(
        !listed.to_string().contains(&sleep.to_string()),
        "{mode}: still listed: {listed}"
    );

    println!(
        "{mode}: {} running before the delete, {} of {} still queued after it",
        was_running.len(),
        still_queued.len(),
        behind.len()
    );
    let slept = ("COMPLETED".to_string(), json!("slept"));
    let message = format!("function {sleep} was deleted before this task started");
    let deleted = ("FAILED".to_string(), json!(message));
    for &task in behind.iter().chain([&running]) {
        let ended = api.wait_final(task).await;
        if was_running.contains(&task) {
            assert_eq!(
                ended, slept,
                "{mode}: a task running at the delete finishes"
            );
        } else if still_queued.contains(&task) {
            assert_eq!(ended, deleted, "{mode}: a task queued after the delete");
            assert_eq!(api.task(task).await["failure_kind"], "missing_function");
        } else {
            // Claimed while the delete was under way: either.
            assert!(ended == slept || ended == deleted, "{mode}: {ended:?}");
        }
    }
    // The module stays for the function that shares it.
    assert_eq!(
        api.completed(twin, &json!("10")).await,
        json!("slept"),
        "{mode}: the twin lost its module"
    );
    assert_eq!(api.completed(add, &json!([2, 3])).await, json!(5));
}

/// (The store suite checks the same on Redis.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_function_reads_as_unknown() {
    let (api, _platform) = one_slot("embedded");
    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    let reply = api
        .post("/keys", &json!({"tenant": "someone-else", "admin": false}))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let key = reply.json()["key"].as_str().unwrap().to_string();
    let stranger = api.clone().with_token(Some(key));
    let (code, body) = delete(&stranger, add).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = delete(&api, Uuid::new_v4()).await;
    assert_eq!(code, 404, "{body}");
    let reply = api
        .send(Method::DELETE, "/functions/not-a-uuid", None)
        .await;
    reply.expect_error(404);
    assert_eq!(api.completed(add, &json!([1, 1])).await, json!(2));
}

crate::each_mode!(running_tasks_finish_and_queued_ones_fail);
