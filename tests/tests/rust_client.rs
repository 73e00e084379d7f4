//! faas-client, the Rust client library, against a real `faas up` and a
//! real `faas server` + dispatcher on Redis: `map` streams 10,000 results
//! back in input order; a failed task is a FAILED result, not an error; a
//! refused batch names the refused payload; an unknown function ends the
//! stream with one error.

mod common;

use common::{Platform, TYPED};
use faas_client::{Client, ClientError, ClientOptions, MapOptions, TaskStatus};
use serde_json::{json, Value};
use uuid::Uuid;

fn client(platform: &Platform) -> Client {
    let options = ClientOptions {
        token: platform.api.token.clone(),
        ..ClientOptions::default()
    };
    Client::with_options(&platform.api.base, &options).expect("a client")
}

/// `id64` returns its argument, so every result says which payload it was.
async fn map_in_order(platform: Platform) {
    let client = client(&platform);
    let id64 = client
        .register_function("id64", TYPED.as_bytes(), Some("id64"))
        .await
        .expect("registered");
    const N: i64 = 10_000;
    // Small batches and a small window: many batches, each collected in
    // turn, while later ones are submitted.
    let options = MapOptions {
        batch: 700,
        in_flight: 2_100,
        ..MapOptions::default()
    };
    let mut results = client.map_with(id64, (0..N).map(|i| json!([i])), options);
    let mut next = 0;
    while let Some(done) = results.next().await {
        let done = done.unwrap_or_else(|e| panic!("result {next}: {e}"));
        assert_eq!(
            done.status,
            TaskStatus::Completed,
            "result {next}: {done:?}"
        );
        assert_eq!(done.result, json!(next), "result {next} out of order");
        next += 1;
    }
    assert_eq!(next, N, "every payload's result, and no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_streams_ten_thousand_results_in_order_through_faas_up() {
    map_in_order(Platform::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_streams_ten_thousand_results_in_order_through_redis() {
    map_in_order(Platform::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_results_and_refusals_are_errors() {
    let platform = Platform::embedded();
    let client = client(&platform);
    let boom = client
        .register_function("boom", TYPED.as_bytes(), Some("boom"))
        .await
        .expect("registered");
    // A trap is the task's outcome: a FAILED result with its message.
    let mut results = client.map(boom, vec![json!([]), json!([])]);
    for _ in 0..2 {
        let done = results
            .next()
            .await
            .expect("a result")
            .expect("not an error");
        assert_eq!(done.status, TaskStatus::Failed);
        assert!(
            done.result
                .as_str()
                .is_some_and(|m| m.contains("unreachable")),
            "{done:?}"
        );
    }
    assert!(results.next().await.is_none());

    // A batch the server refuses for one payload says which one.
    let add = client
        .register_function("add", TYPED.as_bytes(), Some("add"))
        .await
        .expect("registered");
    let payloads = [json!([1, 2]), json!([3, 4]), json!(["x"]), json!([5, 6])];
    match client.execute_batch(add, &payloads).await {
        Err(ClientError::Http {
            status: 400,
            payload_index,
            detail,
        }) => {
            assert_eq!(payload_index, Some(2), "{detail}");
        }
        other => panic!("expected a 400 naming payload 2, got {other:?}"),
    }

    // An unknown function: one error, then the stream ends.
    let mut results = client.map(Uuid::new_v4(), (0..5).map(|i| Value::from(vec![i])));
    match results.next().await {
        Some(Err(ClientError::Http { status: 404, .. })) => {}
        other => panic!("expected a 404, got {other:?}"),
    }
    assert!(results.next().await.is_none());
}
