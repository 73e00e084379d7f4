//! `POST /execute_batch` and `POST /results` in process (router + embedded
//! store, no dispatcher: the test plays the executor through the store):
//! order, all-or-nothing validation, caps, unknown ids, and a waiting fetch.

mod common;

use common::{app, call, ADD};

use axum::http::StatusCode;
use faas_store::{Final, TaskStatus};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[track_caller]
fn error_detail(status: StatusCode, body: &Value, want: StatusCode) -> String {
    assert_eq!(status, want, "{body}");
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"))
        .to_string()
}

async fn register(app: &axum::Router) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD.encode(ADD);
    let (status, body) = call(
        app,
        "POST",
        "/register_function",
        Some(json!({"name": "add", "payload": payload})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["function_id"].as_str().expect("an id").to_string()
}

async fn batch(app: &axum::Router, function_id: &str, payloads: Vec<Value>) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/execute_batch",
        Some(json!({"function_id": function_id, "payloads": payloads})),
    )
    .await
}

fn ids(body: &Value) -> Vec<Uuid> {
    body["task_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no task_ids: {body}"))
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .expect("a uuid")
        })
        .collect()
}

#[tokio::test]
async fn a_batch_returns_task_ids_in_the_payloads_order() {
    let (app, store) = app();
    let f = register(&app).await;
    let payloads: Vec<Value> = (0..50).map(|i| json!([i, 1000])).collect();
    let (status, body) = batch(&app, &f, payloads).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ids = ids(&body);
    assert_eq!(ids.len(), 50);
    for (i, id) in ids.iter().enumerate() {
        let t = store
            .task(*id, faas_store::Scope::All)
            .await
            .expect("reads")
            .expect("stored");
        assert_eq!(
            (t.payload, t.status),
            (json!([i, 1000]), TaskStatus::Queued)
        );
    }
    // Queued in that order too.
    let claims = store
        .claim("c", 100, Duration::from_millis(1))
        .await
        .expect("claims");
    assert_eq!(claims.iter().map(|c| c.task_id).collect::<Vec<_>>(), ids);
}

#[tokio::test]
async fn one_bad_payload_rejects_the_batch_and_names_its_index() {
    let (app, store) = app();
    let f = register(&app).await;
    let mut payloads: Vec<Value> = (0..6).map(|i| json!([i, i])).collect();
    payloads[3] = json!([1]);
    payloads[5] = json!("text");
    let (status, body) = batch(&app, &f, payloads).await;
    let detail = error_detail(status, &body, StatusCode::BAD_REQUEST);
    assert!(detail.starts_with("payloads[3]: add: "), "{detail}");
    assert!(
        !detail.contains("payloads[5]"),
        "the first bad one only: {detail}"
    );
    assert!(
        store
            .recent_tasks(10, None, faas_store::Scope::All)
            .await
            .expect("lists")
            .is_empty(),
        "nothing may be submitted"
    );
    assert!(store
        .claim("c", 10, Duration::from_millis(1))
        .await
        .expect("claims")
        .is_empty());
}

#[tokio::test]
async fn batch_errors_unknown_function_empty_list_caps_and_shape() {
    let (app, _store) = app();
    let f = register(&app).await;
    let (status, body) = batch(&app, &Uuid::new_v4().to_string(), vec![json!([1, 2])]).await;
    assert!(error_detail(status, &body, StatusCode::NOT_FOUND).contains("not found"));
    let (status, body) = batch(&app, "not-a-uuid", vec![json!([1, 2])]).await;
    error_detail(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = batch(&app, &f, vec![]).await;
    assert!(error_detail(status, &body, StatusCode::BAD_REQUEST).contains("empty"));
    let (status, body) = batch(&app, &f, vec![json!([1, 2]); 10_001]).await;
    let detail = error_detail(status, &body, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        detail.contains("10000") && detail.contains("10001"),
        "{detail}"
    );
    let (status, body) = batch(&app, &f, vec![json!([1, 2]); 10_000]).await;
    assert_eq!((status, ids(&body).len()), (StatusCode::CREATED, 10_000));
    let (status, body) = call(
        &app,
        "POST",
        "/execute_batch",
        Some(json!({"function_id": f})),
    )
    .await;
    error_detail(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = call(
        &app,
        "POST",
        "/execute_batch",
        Some(json!({"function_id": f, "payloads": 3})),
    )
    .await;
    error_detail(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn results_come_in_order_with_unknown_ids_in_place() {
    let (app, store) = app();
    let f = register(&app).await;
    let (_, body) = batch(&app, &f, vec![json!([1, 2]), json!([3, 4])]).await;
    let ids = ids(&body);
    let claims = store
        .claim("c", 1, Duration::from_millis(1))
        .await
        .expect("claims");
    store
        .finish(&claims[0], &Final::Completed(json!(3)))
        .await
        .expect("finishes");

    let unknown = Uuid::new_v4().to_string();
    let asked = json!([ids[1], unknown, ids[0], "junk"]);
    let (status, body) = call(&app, "POST", "/results", Some(json!({ "task_ids": asked }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"results": [
            {"task_id": ids[1], "status": "QUEUED", "result": null},
            {"task_id": unknown, "status": null, "result": null, "error": "unknown task"},
            {"task_id": ids[0], "status": "COMPLETED", "result": 3},
            {"task_id": "junk", "status": null, "result": null, "error": "unknown task"},
        ]})
    );
    // The same shape as GET /result/{id}.
    let (_, one) = call(&app, "GET", &format!("/result/{}", ids[0]), None).await;
    assert_eq!(one, body["results"][2]);

    let (status, body) = call(&app, "POST", "/results", Some(json!({"task_ids": []}))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"results": []})));
    let too_many: Vec<String> = (0..10_001).map(|_| Uuid::new_v4().to_string()).collect();
    let (status, body) = call(
        &app,
        "POST",
        "/results",
        Some(json!({ "task_ids": too_many })),
    )
    .await;
    assert!(error_detail(status, &body, StatusCode::PAYLOAD_TOO_LARGE).contains("10000"));
    let (status, body) = call(
        &app,
        "POST",
        "/results",
        Some(json!({"task_ids": [ids[0]], "wait": -1})),
    )
    .await;
    assert!(error_detail(status, &body, StatusCode::BAD_REQUEST).contains("wait"));
    let (status, body) = call(&app, "POST", "/results", Some(json!({"wait": 1}))).await;
    error_detail(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn results_with_wait_return_when_every_task_is_done() {
    let (app, store) = app();
    let f = register(&app).await;
    let (_, body) = batch(&app, &f, vec![json!([1, 2]); 3]).await;
    let ids = ids(&body);

    // Nothing ends: the wait runs out and the rows say so.
    let started = Instant::now();
    let (status, body) = call(
        &app,
        "POST",
        "/results",
        Some(json!({"task_ids": ids, "wait": 0.3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        body["results"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["status"] == "QUEUED"),
        "{body}"
    );

    let claims = store
        .claim("c", 3, Duration::from_millis(1))
        .await
        .expect("claims");
    let waiting = tokio::spawn({
        let app = app.clone();
        let ids = ids.clone();
        async move {
            call(
                &app,
                "POST",
                "/results",
                Some(json!({"task_ids": ids, "wait": 30})),
            )
            .await
        }
    });
    for (n, claim) in claims.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "answered before every task ended");
        store
            .finish(claim, &Final::Completed(json!(n)))
            .await
            .expect("finishes");
    }
    let finished = Instant::now();
    let (status, body) = waiting.await.expect("joins");
    // Ended by the last task, not by its 30 s wait.
    assert!(
        finished.elapsed() < Duration::from_secs(10),
        "the wait ended late"
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let results: Vec<Value> = body["results"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["result"].clone())
        .collect();
    assert_eq!(results, [json!(0), json!(1), json!(2)]);
}
