//! The in-process harness of the server's tests: the router on an embedded
//! store (no dispatcher), and one request at a time through it.

#![allow(dead_code)] // each test file uses its own part

use axum::body::Body;
use axum::http::{Request, StatusCode};
use faas_runtime::{Runtime, RuntimeConfig};
use faas_server::{router, AppState, ServerConfig};
use faas_store::{Store, StoreConfig};
use serde_json::Value;
use tower::ServiceExt;

pub const ADD: &str =
    "(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))";

/// The router (without API keys: these tests are about the contract)
/// and the store behind it.
pub fn app() -> (axum::Router, Store) {
    let (app, state) = app_with(
        ServerConfig {
            auth: false,
            ..ServerConfig::default()
        },
        StoreConfig::default(),
    );
    (app, state.store)
}

/// The router with this configuration, on an embedded store, and its state.
pub fn app_with(config: ServerConfig, store_config: StoreConfig) -> (axum::Router, AppState) {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_instances: 2,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let state = AppState::new(Store::memory(store_config), runtime, config);
    (router(state.clone()), state)
}

/// One request; the status and the JSON body.
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, value) = call_as(app, None, method, uri, body).await;
    (status, value)
}

/// One request with `Authorization: Bearer <token>` if given; the status,
/// the headers and the JSON body.
pub async fn call_as(
    app: &axum::Router,
    token: Option<&str>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {bytes:?}"));
    (status, headers, value)
}
