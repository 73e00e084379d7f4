//! Large payloads and results through every mode: 256 tasks of about
//! 1 MiB each (local `faas up`, push and pull), each echoed back by a WASI
//! command, so tasks and results both cross the worker port in batches
//! far over its 16 MiB body cap if they were not split by bytes. Every
//! task must complete with its own payload back, on its first attempt,
//! and no process may log a malformed message or a lost worker. A task
//! too large for any message fails at once with a message saying so.

mod common;

use common::cluster::{finish_all, Cluster, Mode};
use common::{Api, Platform, ECHO};
use serde_json::{json, Value};
use uuid::Uuid;

const TASKS: usize = 256;
/// Just under 1 MiB, so that the echo fits in the 1 MiB stdout cap.
const PAYLOAD_BYTES: usize = 1024 * 1024 - 1024;
/// Payloads per `POST /execute_batch` (REST bodies are capped at 32 MiB).
const PER_REQUEST: usize = 16;

/// Distinct payloads of printable text with quotes, backslashes and
/// newlines (which JSON escapes, so their wire size is more than their
/// length).
fn payloads() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 \"\\\n{}[]:,";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..TASKS)
        .map(|i| {
            let mut text = format!("task {i:04}: ").into_bytes();
            while text.len() < PAYLOAD_BYTES {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.extend(
                    state
                        .to_le_bytes()
                        .iter()
                        .map(|b| ALPHABET[*b as usize % ALPHABET.len()]),
                );
            }
            text.truncate(PAYLOAD_BYTES);
            String::from_utf8(text).expect("ASCII")
        })
        .collect()
}

async fn submit(api: &Api, function: Uuid, payloads: &[String]) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for chunk in payloads.chunks(PER_REQUEST) {
        let body = json!({"function_id": function, "payloads": chunk});
        let reply = api.post("/execute_batch", &body).await;
        assert_eq!(reply.status, 201, "execute_batch: {}", reply.body);
        let v = reply.json();
        let got = v["task_ids"].as_array().expect("task_ids");
        ids.extend(
            got.iter()
                .map(|id| Uuid::parse_str(id.as_str().expect("a string id")).expect("a uuid")),
        );
    }
    assert_eq!(ids.len(), payloads.len());
    ids
}

/// Runs the 256 echoes on a platform and checks every result; returns
/// what the daemons logged.
async fn echo_all(api: &Api, logs: impl FnOnce() -> String) {
    let f = api.register("echo", ECHO.as_bytes(), None).await;
    let payloads = payloads();
    let ids = submit(api, f, &payloads).await;
    let results = finish_all(api, &ids).await;
    let logs = logs();
    let mut wrong = Vec::new();
    for (i, ((status, result), payload)) in results.iter().zip(&payloads).enumerate() {
        if status != "COMPLETED" || result.as_str() != Some(payload.as_str()) {
            let shown: String = match result {
                Value::String(s) => s.chars().take(200).collect(),
                other => other.to_string(),
            };
            wrong.push(format!("task {i}: {status} {shown}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {TASKS} tasks wrong:\n{}\n--- logs:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        tail(&logs)
    );
    // Each ran once: nothing was dropped and sent again.
    for id in ids.iter().step_by(17) {
        let task = api.task(*id).await;
        assert_eq!(task["attempts"], json!(1), "task {id}");
    }
    for bad in ["malformed", "worker lost", "does not hold a task"] {
        assert!(
            !logs.contains(bad),
            "a daemon logged {bad:?}:\n{}",
            tail(&logs)
        );
    }
}

fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn cluster_logs(c: &mut Cluster) -> String {
    let mut all: Vec<String> = c.dispatcher.drain().to_vec();
    for w in &mut c.workers {
        all.extend(w.drain().iter().cloned());
    }
    all.join("\n")
}

async fn remote(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    c.add_worker(4, "w0");
    c.add_worker(4, "w1");
    c.wait_for_workers(2).await;
    let api = c.api.clone();
    echo_all(&api, || cluster_logs(&mut c)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn megabyte_payloads_and_results_through_local_mode() {
    let mut p = Platform::embedded();
    let api = p.api.clone();
    echo_all(&api, || p.logs()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn megabyte_payloads_and_results_through_push_mode() {
    remote(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn megabyte_payloads_and_results_through_pull_mode() {
    remote(Mode::Pull).await;
}

/// A payload over the cap of one task's message fails its task with the
/// size and the cap, on its first attempt; the workers keep serving.
async fn too_large(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    c.add_worker(2, "w0");
    c.wait_for_workers(1).await;
    let f = c.api.register("echo", ECHO.as_bytes(), None).await;
    let huge = "x".repeat(13 * 1024 * 1024);
    let id = c.api.execute(f, &json!(huge)).await;
    drop(huge);
    let (status, result) = c.api.wait_final(id).await;
    let message = result.as_str().unwrap_or_default().to_string();
    assert_eq!(status, "FAILED", "{result}");
    assert!(
        message.contains("too large for the worker port")
            && message.contains(&(13 * 1024 * 1024 + 2).to_string())
            && message.contains("12582912"),
        "{message}"
    );
    let task = c.api.task(id).await;
    assert_eq!(
        (task["failure_kind"].clone(), task["attempts"].clone()),
        (json!("too_large"), json!(1))
    );
    assert_eq!(
        c.api.completed(f, &json!("still here")).await,
        json!("still here")
    );
    let logs = cluster_logs(&mut c);
    assert!(!logs.contains("malformed"), "{}", tail(&logs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_too_large_for_the_push_port_fails_with_its_size_and_the_cap() {
    too_large(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_too_large_for_the_pull_port_fails_with_its_size_and_the_cap() {
    too_large(Mode::Pull).await;
}
