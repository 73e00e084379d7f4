//! Large payloads and results through every mode: 256 tasks of about
//! 1 MiB each (local `faas up`, push and pull), each echoed back by a WASI
//! command, so tasks and results both cross the worker port in batches
//! far over its 16 MiB body cap if they were not split by bytes. Every
//! task must complete with its own payload back, on its first attempt,
//! and no process may log a malformed message or a lost worker. A task
//! too large for any message fails at once with a message saying so.

mod common;

use common::cluster::{Cluster, Mode, WORKER_READY};
use common::{Api, Platform, DISPATCHER_READY, ECHO};
use faas_e2e::{free_port, Daemon, RedisServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The megabyte runs move about a GiB each through Redis and the
/// processes; one at a time, so that a shared 2-core machine serves each
/// well within the store's timeouts.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// Waits until every task is final (by its status: 256 long polls each
/// answered with a megabyte at once would only measure the REST side),
/// then reads the results one at a time: `(status, result)` in order.
async fn finish_all(api: &Api, ids: &[Uuid]) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut open: Vec<Uuid> = ids.to_vec();
    while !open.is_empty() {
        let mut still = Vec::new();
        for id in open {
            let status = api.status(id).await;
            if status != "COMPLETED" && status != "FAILED" {
                still.push(id);
            }
        }
        open = still;
        assert!(
            Instant::now() < deadline,
            "{} tasks not final after 120 s",
            open.len()
        );
        if !open.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut out = Vec::new();
    for id in ids {
        out.push(api.wait_final(*id).await);
    }
    out
}

/// Runs the 256 echoes on a platform (`start_workers` runs once they are
/// all queued, so that the first claims are as large as the workers'
/// capacity) and checks every result and what the daemons logged.
async fn echo_all(api: &Api, start_workers: impl FnOnce(), logs: impl FnOnce() -> String) {
    let f = api.register("echo", ECHO.as_bytes(), None).await;
    let payloads = payloads();
    let ids = submit(api, f, &payloads).await;
    start_workers();
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
        assert_eq!(
            task["attempts"],
            json!(1),
            "task {id}:\n{}",
            warnings(&logs)
        );
    }
    for bad in ["malformed", "worker lost", "does not hold a task"] {
        assert!(
            !logs.contains(bad),
            "a daemon logged {bad:?}:\n{}",
            tail(&logs)
        );
    }
}

fn warnings(logs: &str) -> String {
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
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

/// Redis, `faas server`, `faas dispatcher -m push|pull` with its default
/// lease (10 s; the shared `Cluster` uses 2 s, which this much data through
/// one Redis on a small machine can outlast, re-running tasks for reasons
/// that have nothing to do with the worker port), and two workers of 4
/// slots started once the tasks are queued.
async fn remote(mode: Mode) {
    let _one = ONE_AT_A_TIME.lock().await;
    common::require_binary();
    let redis = RedisServer::start();
    let (server, port) = common::start_server(&redis);
    let zmq = free_port();
    let (url, zmq) = (redis.url(), zmq.to_string());
    let mut dispatcher = Daemon::start(
        &["dispatcher", "--redis", &url, "-m", mode.name(), "-p", &zmq],
        DISPATCHER_READY,
    );
    let api = Api::new(port).with_token(server.token());
    let endpoint = format!("tcp://127.0.0.1:{zmq}");
    let workers = std::cell::RefCell::new(Vec::new());
    let start = || {
        for name in ["w0", "w1"] {
            workers.borrow_mut().push(Daemon::start(
                &["worker", mode.name(), "4", &endpoint, "--name", name],
                WORKER_READY,
            ));
        }
    };
    echo_all(&api, start, || {
        let mut all: Vec<String> = dispatcher.drain().to_vec();
        for w in workers.borrow_mut().iter_mut() {
            all.extend(w.drain().iter().cloned());
        }
        all.join("\n")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn megabyte_payloads_and_results_through_local_mode() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut p = Platform::embedded();
    let api = p.api.clone();
    echo_all(&api, || {}, || p.logs()).await;
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
