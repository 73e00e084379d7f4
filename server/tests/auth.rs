//! API keys and tenants on the REST API, in process on an embedded store:
//! what needs a key, what a key of one tenant can see of another's, what
//! only an admin may do, revocation, quotas (429 with Retry-After), and
//! numbers from clients that once panicked a handler.

mod common;

use axum::http::StatusCode;
use base64::Engine as _;
use common::{app_with, call_as, ADD};
use faas_server::{bootstrap_admin_key, ServerConfig};
use faas_store::{Store, StoreConfig, TenantLimits};
use serde_json::{json, Value};

struct Keyed {
    app: axum::Router,
    store: Store,
    admin: String,
}

async fn keyed(limits: TenantLimits) -> Keyed {
    let (app, state) = app_with(
        ServerConfig::default(),
        StoreConfig {
            default_limits: limits,
            ..StoreConfig::default()
        },
    );
    let admin = bootstrap_admin_key(&state)
        .await
        .expect("stores")
        .expect("the first key");
    assert_eq!(
        bootstrap_admin_key(&state).await.expect("stores"),
        None,
        "only on a store without keys"
    );
    let store = state.store.clone();
    Keyed { app, store, admin }
}

impl Keyed {
    async fn call(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, value) = call_as(&self.app, Some(token), method, uri, body).await;
        (status, value)
    }

    async fn key_for(&self, tenant: &str) -> String {
        let (status, made) = self
            .call(
                &self.admin,
                "POST",
                "/keys",
                Some(json!({ "tenant": tenant })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        made["key"].as_str().expect("the key").to_string()
    }

    async fn register(&self, token: &str) -> String {
        let payload = base64::engine::general_purpose::STANDARD.encode(ADD);
        let (status, body) = self
            .call(
                token,
                "POST",
                "/register_function",
                Some(json!({"name": "add", "payload": payload})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["function_id"].as_str().expect("an id").to_string()
    }
}

#[tokio::test]
async fn every_route_but_health_and_docs_needs_a_key() {
    let k = keyed(TenantLimits::default()).await;
    for (method, uri) in [
        ("GET", "/functions"),
        ("GET", "/tasks"),
        ("GET", "/workers"),
        ("GET", "/keys"),
        ("GET", "/whoami"),
        ("POST", "/execute_function"),
        ("POST", "/register_function"),
        ("GET", "/result/00000000-0000-0000-0000-000000000000"),
    ] {
        for token in [None, Some("faas_0123456789ab_wrong"), Some("not-a-key")] {
            let (status, headers, body) = call_as(&k.app, token, method, uri, None).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}: {body}"
            );
            assert_eq!(headers["www-authenticate"], "Bearer");
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    for uri in ["/health", "/openapi.json", "/docs"] {
        let request = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(k.app.clone(), request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    }
    let (status, me) = k.call(&k.admin, "GET", "/whoami", None).await;
    assert_eq!(
        (status, &me["admin"]),
        (StatusCode::OK, &json!(true)),
        "{me}"
    );
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_functions_and_tasks() {
    let k = keyed(TenantLimits::default()).await;
    let (alice, bob) = (k.key_for("alice").await, k.key_for("bob").await);
    let function = k.register(&alice).await;
    let (status, submitted) = k
        .call(
            &alice,
            "POST",
            "/execute_function",
            Some(json!({"function_id": function, "payload": [1, 2]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let task = submitted["task_id"].as_str().unwrap().to_string();
    // Bob: every id of Alice's answers exactly as an unknown id does.
    let unknown = "7f3c1f7e-1111-4e2b-9a52-000000000000";
    for (method, path, body) in [
        ("GET", format!("/status/{task}"), None),
        ("GET", format!("/result/{task}"), None),
        ("GET", format!("/result/{task}?wait=5"), None),
        ("GET", format!("/tasks/{task}"), None),
        ("GET", format!("/functions/{function}"), None),
        (
            "POST",
            "/execute_function".into(),
            Some(json!({"function_id": function, "payload": [1, 2]})),
        ),
        (
            "POST",
            "/execute_batch".into(),
            Some(json!({"function_id": function, "payloads": [[1, 2]]})),
        ),
    ] {
        let (status, body_bob) = k.call(&bob, method, &path, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body_bob}");
        let path_unknown = path.replace(&task, unknown).replace(&function, unknown);
        let body_unknown =
            body.map(|b| serde_json::from_str(&b.to_string().replace(&function, unknown)).unwrap());
        let (status, body_none) = k.call(&bob, method, &path_unknown, body_unknown).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body_bob["detail"]
                .as_str()
                .unwrap()
                .replace(&task, unknown)
                .replace(&function, unknown),
            body_none["detail"].as_str().unwrap(),
            "no oracle"
        );
    }
    let (_, rows) = k
        .call(
            &bob,
            "POST",
            "/results",
            Some(json!({"task_ids": [task], "wait": 1})),
        )
        .await;
    assert_eq!(rows["results"][0]["error"], "unknown task");
    for (token, functions, tasks) in [(&bob, 0, 0), (&alice, 1, 1), (&k.admin, 1, 1)] {
        let (_, listed) = k.call(token, "GET", "/functions", None).await;
        assert_eq!(listed["functions"].as_array().unwrap().len(), functions);
        let (_, listed) = k.call(token, "GET", "/tasks", None).await;
        assert_eq!(listed["tasks"].as_array().unwrap().len(), tasks);
    }
    // The admin sees Alice's task.
    let (status, record) = k
        .call(&k.admin, "GET", &format!("/tasks/{task}"), None)
        .await;
    assert_eq!(
        (status, &record["tenant"]),
        (StatusCode::OK, &json!("alice"))
    );
}

#[tokio::test]
async fn only_an_admin_manages_keys_and_a_revoked_key_stops_working() {
    let k = keyed(TenantLimits::default()).await;
    let alice = k.key_for("alice").await;
    for (method, uri, body) in [
        (
            "POST",
            "/keys",
            Some(json!({"tenant": "alice", "admin": true})),
        ),
        ("GET", "/keys", None),
        ("DELETE", "/keys/faas_000000000000", None),
        (
            "PUT",
            "/tenants/alice/limits",
            Some(json!({"max_active_tasks": 1})),
        ),
    ] {
        let (status, body) = k.call(&alice, method, uri, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {body}");
    }
    let (status, _) = k.call(&alice, "GET", "/tenants/alice", None).await;
    assert_eq!(status, StatusCode::OK, "a tenant reads its own limits");
    let (status, _) = k.call(&alice, "GET", "/tenants/bob", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, bad) = k
        .call(
            &k.admin,
            "POST",
            "/keys",
            Some(json!({"tenant": "no spaces"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (_, listed) = k.call(&k.admin, "GET", "/keys", None).await;
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        !listed.to_string().contains(&alice),
        "listings never show a key"
    );
    let prefix = &alice[..17];
    assert!(keys
        .iter()
        .any(|key| key["prefix"] == prefix && key["tenant"] == "alice"));
    let (status, _) = k.call(&alice, "GET", "/functions", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = k
        .call(&k.admin, "DELETE", &format!("/keys/{prefix}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = k.call(&alice, "GET", "/functions", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoked: the next request fails"
    );
    let (status, _) = k
        .call(&k.admin, "DELETE", &format!("/keys/{prefix}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(k.store.api_key(&alice[5..17]).await.unwrap().is_none());
}

#[tokio::test]
async fn over_a_quota_is_429_with_retry_after_and_nothing_is_stored() {
    let k = keyed(TenantLimits {
        max_active_tasks: 3,
        ..TenantLimits::default()
    })
    .await;
    let alice = k.key_for("alice").await;
    let function = k.register(&alice).await;
    let (status, headers, body) = call_as(
        &k.app,
        Some(&alice),
        "POST",
        "/execute_batch",
        Some(json!({"function_id": function, "payloads": [[1, 1], [2, 2], [3, 3], [4, 4]]})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("max_active_tasks"),
        "{body}"
    );
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let (_, listed) = k.call(&alice, "GET", "/tasks", None).await;
    assert_eq!(listed["tasks"], json!([]), "all or nothing");
    // The admin raises the limit; the same batch goes through.
    let (status, info) = k
        .call(
            &k.admin,
            "PUT",
            "/tenants/alice/limits",
            Some(json!({"max_active_tasks": 10})),
        )
        .await;
    assert_eq!(
        (status, &info["limits"]["max_active_tasks"]),
        (StatusCode::OK, &json!(10))
    );
    let (status, _) = k
        .call(
            &alice,
            "POST",
            "/execute_batch",
            Some(json!({"function_id": function, "payloads": [[1, 1], [2, 2], [3, 3], [4, 4]]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, info) = k.call(&alice, "GET", "/tenants/alice", None).await;
    assert_eq!(info["active_tasks"], 4);
    // Limits are numbers; anything else is a 422, unknown names too.
    for bad in [
        json!({"max_active_tasks": -1}),
        json!({"max_tasks": 5}),
        json!({"submit_rate": "fast"}),
    ] {
        let (status, body) = k
            .call(&k.admin, "PUT", "/tenants/alice/limits", Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

#[tokio::test]
async fn huge_and_odd_waits_never_panic() {
    let k = keyed(TenantLimits::default()).await;
    let unknown = "7f3c1f7e-1111-4e2b-9a52-000000000000";
    // Any size of number is cut to the longest wait; anything else is a 400.
    for (wait, expected) in [
        ("1e20", StatusCode::NOT_FOUND),
        ("1e308", StatusCode::NOT_FOUND),
        ("18446744073709551616", StatusCode::NOT_FOUND),
        ("0.0000001", StatusCode::NOT_FOUND),
        ("-1", StatusCode::BAD_REQUEST),
        ("NaN", StatusCode::BAD_REQUEST),
        ("inf", StatusCode::BAD_REQUEST),
        ("x", StatusCode::BAD_REQUEST),
    ] {
        let uri = format!("/result/{unknown}?wait={wait}");
        let (status, body) = k.call(&k.admin, "GET", &uri, None).await;
        assert_eq!(status, expected, "wait={wait}: {body}");
    }
    let (status, body) = k
        .call(
            &k.admin,
            "POST",
            "/results",
            Some(json!({"task_ids": [unknown], "wait": 1e20})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = k
        .call(
            &k.admin,
            "POST",
            "/results",
            Some(json!({"task_ids": [unknown], "wait": -1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
