//! The web dashboard and what it draws from: `GET /stats` (counted by the
//! store for every server and dispatcher on it), and the page at `/ui`
//! driven in headless Chromium (Debian's `chromium`, through Playwright
//! for Python: `tests/browser/dashboard.py`) against a real Redis, server
//! and dispatcher: tasks submitted after the page opened show in its
//! counters, its task list and a task's page with its logs. Screenshots
//! go to `target/tmp/dashboard/`.

mod common;

use common::{Api, Platform};
use serde_json::{json, Value};
use std::process::Command;

const LOGS_WAT: &str = include_str!("../../runtime/tests/fixtures/logs.wat");

/// Sums a field of every second of a `/stats` answer.
fn total(stats: &Value, field: &str) -> u64 {
    stats["seconds"]
        .as_array()
        .expect("seconds")
        .iter()
        .map(|s| s[field].as_u64().expect("a count"))
        .sum()
}

/// Every ended task of a `/stats` answer, by latency bucket.
fn latencies(stats: &Value) -> u64 {
    stats["seconds"]
        .as_array()
        .expect("seconds")
        .iter()
        .flat_map(|s| s["latency_counts"].as_array().expect("counts").clone())
        .map(|n| n.as_u64().expect("a count"))
        .sum()
}

async fn stats_count_what_every_process_did(platform: Platform) {
    let api = &platform.api;
    let module = wat::parse_str(LOGS_WAT).expect("the WAT");
    let command = api.register("logs", &module, None).await;
    let before = api.get("/stats?seconds=60").await;
    assert_eq!(before.status, 200, "{before:?}");
    let before = before.json();
    assert_eq!(before["seconds"].as_array().map(Vec::len), Some(60));
    assert_eq!(
        before["latency_bounds_ms"].as_array().map(Vec::len),
        Some(15)
    );
    assert_eq!(total(&before, "submitted"), 0, "{before}");

    let mut tasks = Vec::new();
    for payload in ["a", "b", "!"] {
        tasks.push(api.execute(command, &json!(payload)).await);
    }
    for task in &tasks {
        api.wait_final(*task).await;
    }
    let stats = api.get("/stats?seconds=60").await.json();
    assert_eq!(
        (
            total(&stats, "submitted"),
            total(&stats, "completed"),
            total(&stats, "failed"),
            latencies(&stats)
        ),
        (3, 2, 1, 3),
        "{stats}"
    );
    assert_eq!(
        (&stats["queued"], &stats["running"]),
        (&json!(0), &json!(0)),
        "{stats}"
    );
    let row = api.get("/functions").await.json()["functions"][0].clone();
    assert_eq!(
        (&row["kind"], &row["invocations"], &row["failures"]),
        (&json!("wasi_command"), &json!(3), &json!(1)),
        "{row}"
    );

    for bad in ["0", "901", "x"] {
        api.get(&format!("/stats?seconds={bad}"))
            .await
            .expect_error(400);
    }
    // The counts are every tenant's: an admin's only.
    let tenant = api
        .post("/keys", &json!({"tenant": "dashboard-tenant"}))
        .await
        .json()["key"]
        .as_str()
        .map(str::to_string);
    let tenant = Api::new(platform.port).with_token(tenant);
    tenant.get("/stats").await.expect_error(403);
    Api::new(platform.port)
        .get("/stats")
        .await
        .expect_error(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_with_the_embedded_store() {
    stats_count_what_every_process_did(Platform::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_with_redis() {
    stats_count_what_every_process_did(Platform::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_offline_and_kept_to_its_origin() {
    let platform = Platform::embedded();
    // No key needed: the page holds no data.
    let anonymous = Api::new(platform.port);
    let page = anonymous.get("/ui").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.content_type.starts_with("text/html"), "{page:?}");
    for asset in ["/ui/app.js", "/ui/app.css"] {
        assert!(page.body.contains(asset), "the page loads {asset}");
        let reply = anonymous.get(asset).await;
        assert_eq!(reply.status, 200, "{asset}: {reply:?}");
        // Nothing from elsewhere: it works offline.
        assert!(
            !reply.body.contains("https://"),
            "{asset} loads from the network"
        );
    }
    assert!(
        !page.body.contains("https://"),
        "the page loads from the network"
    );
    anonymous.get("/ui/nothing.js").await.expect_error(404);
    let headers = reqwest::get(format!("{}/ui", anonymous.base))
        .await
        .expect("the page")
        .headers()
        .clone();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap_or_default();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_live_tasks_in_chromium() {
    let platform = Platform::redis();
    let api = &platform.api;
    let module = wat::parse_str(LOGS_WAT).expect("the WAT");
    let function = api.register("logs", &module, None).await;
    let other = api.register("other", &module, None).await;
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/dashboard.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(&api.base)
        .arg(api.token.as_deref().expect("an admin key"))
        .arg(function.to_string())
        .arg(other.to_string())
        .arg(&out)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        !text.contains("No module named 'playwright'"),
        "Playwright for Python is not installed: `pip install playwright` (.ci/run does)"
    );
    assert!(run.status.success(), "the browser test failed:\n{text}");
    assert!(text.contains("all checks passed"), "{text}");
    for shot in ["overview.png", "tasks.png", "task.png"] {
        let size = std::fs::metadata(out.join(shot)).map_or(0, |m| m.len());
        assert!(size > 10_000, "{shot} is missing or empty");
    }
}
