//! `GET /functions` and `GET /tasks` in process (router + embedded store, no
//! dispatcher, so every task stays QUEUED): rows, order, limits, filters and
//! their 400s.

mod common;

use common::{app, call, ADD};

use axum::http::StatusCode;
use serde_json::{json, Value};

async fn get(app: &axum::Router, uri: &str) -> Value {
    let (status, body) = call(app, "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

#[track_caller]
fn error_detail(status: StatusCode, body: &Value, want: StatusCode) -> String {
    assert_eq!(status, want, "{body}");
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"))
        .to_string()
}

async fn register(app: &axum::Router, name: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD.encode(ADD);
    let (status, body) = call(
        app,
        "POST",
        "/register_function",
        Some(json!({"name": name, "payload": payload})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["function_id"].as_str().expect("an id").to_string()
}

async fn execute(app: &axum::Router, function_id: &str) -> String {
    let body = json!({"function_id": function_id, "payload": [1, 2]});
    let (status, body) = call(app, "POST", "/execute_function", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["task_id"].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn functions_are_listed_newest_first_with_a_limit() {
    let (app, _store) = app();
    assert_eq!(get(&app, "/functions").await, json!({"functions": []}));
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        ids.push(register(&app, name).await);
    }
    let rows = get(&app, "/functions").await["functions"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(rows.len(), 3);
    let row = rows
        .iter()
        .find(|r| r["function_id"] == json!(ids[0]))
        .expect("listed");
    assert_eq!(
        (row["name"].as_str(), row["entry"].as_str()),
        (Some("one"), Some("add")),
        "{row}"
    );
    assert!(row["module_size"].as_u64().is_some_and(|n| n > 8), "{row}");
    assert_eq!(row["module_hash"].as_str().map(str::len), Some(64), "{row}");
    let created: Vec<u64> = rows
        .iter()
        .map(|r| r["created_at_ms"].as_u64().expect("ms"))
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );

    assert_eq!(
        get(&app, "/functions?limit=2").await["functions"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        get(&app, "/functions?limit=5000").await["functions"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        get(&app, "/functions?limit=").await["functions"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    for bad in ["0", "-1", "abc", "1.5", "99999999999999999999999"] {
        let (status, body) = call(&app, "GET", &format!("/functions?limit={bad}"), None).await;
        let detail = error_detail(status, &body, StatusCode::BAD_REQUEST);
        assert!(detail.contains("limit"), "{detail}");
    }
    // The record of one function is still where it was.
    let one = get(&app, &format!("/functions/{}", ids[0])).await;
    assert_eq!(one["id"], json!(ids[0]), "{one}");
}

#[tokio::test]
async fn tasks_are_listed_newest_first_filtered_by_status() {
    let (app, _store) = app();
    assert_eq!(get(&app, "/tasks").await, json!({"tasks": []}));
    let f = register(&app, "add").await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(execute(&app, &f).await);
    }
    let newest_first: Vec<Value> = tasks.iter().rev().map(|t| json!(t)).collect();
    let ids = |body: Value| -> Vec<Value> {
        body["tasks"]
            .as_array()
            .expect("array")
            .iter()
            .map(|r| r["task_id"].clone())
            .collect()
    };
    let body = get(&app, "/tasks").await;
    let row = &body["tasks"][0];
    assert_eq!(row["function_id"], json!(f), "{row}");
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_u64()),
        (Some("QUEUED"), Some(0)),
        "{row}"
    );
    assert!(
        row["created_at_ms"].as_u64().is_some_and(|t| t > 0),
        "{row}"
    );
    assert!(
        row.get("payload").is_none() && row.get("result").is_none(),
        "rows are summaries: {row}"
    );
    assert_eq!(ids(body), newest_first);

    assert_eq!(ids(get(&app, "/tasks?limit=2").await), newest_first[..2]);
    assert_eq!(
        ids(get(&app, "/tasks?status=QUEUED&limit=3").await),
        newest_first[..3]
    );
    assert_eq!(ids(get(&app, "/tasks?status=queued").await), newest_first);
    assert!(ids(get(&app, "/tasks?status=COMPLETED").await).is_empty());
    assert!(ids(get(&app, "/tasks?status=FAILED&limit=1000").await).is_empty());

    let (status, body) = call(&app, "GET", "/tasks?status=DONE", None).await;
    let detail = error_detail(status, &body, StatusCode::BAD_REQUEST);
    for word in ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "DONE"] {
        assert!(detail.contains(word), "{detail}");
    }
    let (status, body) = call(&app, "GET", "/tasks?limit=none", None).await;
    error_detail(status, &body, StatusCode::BAD_REQUEST);
    // The record of one task is still where it was.
    let one = get(&app, &format!("/tasks/{}", tasks[0])).await;
    assert_eq!(
        (one["id"].as_str(), one["payload"].clone()),
        (Some(tasks[0].as_str()), json!([1, 2]))
    );
}
