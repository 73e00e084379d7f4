//! The OpenAPI document a real `faas up` serves: valid OpenAPI 3 (checked
//! by openapi-spec-validator, PyPI; `.ci/run` installs it), listing exactly
//! the API's operations, each of which the server routes to a handler
//! whose answer the document lists.
//!
//! The router and the document are built from the same route lists in the
//! server (`keyed_routes`, `public_routes`), so a route cannot be served
//! without being documented; this test checks the other half, from
//! outside: every documented operation is served.

mod common;

use common::{start_up, Api, Reply, LISTENING};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;

/// The REST contract's operations: the seed's, and those added since.
const OPERATIONS: &[&str] = &[
    "DELETE /functions/{function_id}",
    "DELETE /keys/{prefix}",
    "GET /docs",
    "GET /functions",
    "GET /functions/{function_id}",
    "GET /health",
    "GET /keys",
    "GET /metrics",
    "GET /openapi.json",
    "GET /result/{task_id}",
    "GET /stats",
    "GET /status/{task_id}",
    "GET /tasks",
    "GET /tasks/{task_id}",
    "GET /tasks/{task_id}/logs",
    "GET /tenants/{tenant}",
    "GET /ui",
    "GET /ui/{asset}",
    "GET /whoami",
    "GET /workers",
    "POST /execute_batch",
    "POST /execute_function",
    "POST /keys",
    "POST /register_function",
    "POST /results",
    "POST /tasks/cancel",
    "POST /tasks/{task_id}/cancel",
    "PUT /tenants/{tenant}/limits",
];

/// Checks `doc` with openapi-spec-validator; panics with its report.
fn validate(doc: &str) {
    let path = std::env::temp_dir().join(format!("faas-openapi-{}.json", std::process::id()));
    std::fs::write(&path, doc).expect("write the document");
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e})"));
    let _ = std::fs::remove_file(&path);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named"),
        "openapi-spec-validator is not installed: `pip install openapi-spec-validator`\n{text}"
    );
    assert!(
        out.status.success(),
        "not a valid OpenAPI document:\n{text}"
    );
}

/// `path` with each `{parameter}` filled with a value of the right shape
/// that names nothing.
fn concrete(path: &str) -> String {
    path.replace("{task_id}", &uuid::Uuid::new_v4().to_string())
        .replace("{function_id}", &uuid::Uuid::new_v4().to_string())
        .replace("{prefix}", "faas_000000000000")
        .replace("{tenant}", "openapi-test")
        .replace("{asset}", "app.js")
}

/// Whether `reply` is the router's own answer for a path or method it does
/// not serve (rather than a handler's).
fn unrouted(reply: &Reply) -> bool {
    reply.status == 405 || (reply.status == 404 && reply.body.contains("no such endpoint"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_valid_openapi_and_every_operation_is_served() {
    let (up, port) = start_up(1);
    assert!(up.log.iter().any(|l| l.contains(LISTENING)));
    let api = Api::new(port).with_token(up.token());

    let reply = api.get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    validate(&reply.body);
    let doc: Value = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "{}",
        doc["openapi"]
    );

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let name = format!("{} {path}", method.to_uppercase());
            let method: reqwest::Method = method.to_uppercase().parse().expect("a method");
            let body = operation.get("requestBody").map(|_| json!({}));
            let reply = api.send(method, &concrete(path), body.as_ref()).await;
            assert!(
                !unrouted(&reply),
                "{name} is documented but not served: {reply:?}"
            );
            let listed = &operation["responses"];
            assert!(
                listed.get(reply.status.to_string()).is_some(),
                "{name} answered {}, which its document does not list ({:?}): {reply:?}",
                reply.status,
                listed.as_object().map(|o| o.keys().collect::<Vec<_>>())
            );
            // Every error the document lists has the API's error body.
            for (status, response) in listed.as_object().expect("responses") {
                if status.starts_with(['4', '5']) {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{name} {status}: {response}"
                    );
                }
            }
            documented.insert(name);
        }
    }
    let expected: BTreeSet<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(documented, expected, "the documented operations");

    // And what is not an operation is answered by the router, as such.
    assert!(unrouted(&api.get("/no/such/route").await));
    assert!(unrouted(
        &api.send(reqwest::Method::DELETE, "/tasks", None).await
    ));
}
