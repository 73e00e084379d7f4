//! Several dispatchers on one store: a local, a push and a pull dispatcher
//! (the last two with a worker each) share one Redis. Tasks are spread over
//! all three, each runs once, and a dispatcher killed with tasks in hand
//! loses them to the others when its lease lapses.

mod common;

use common::cluster::{Mode, WORKER_READY};
use common::{Api, DISPATCHER_READY, SLEEP};
use faas_e2e::{free_port, Daemon, RedisServer};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The lease every dispatcher here holds its tasks for.
const LEASE: Duration = Duration::from_secs(3);

fn local_dispatcher(redis: &RedisServer) -> Daemon {
    let lease = LEASE.as_secs().to_string();
    common::start_dispatcher(redis, 2, Some(&lease))
}

/// A push or pull dispatcher and one worker of 2 slots named `name`.
fn remote_dispatcher(redis: &RedisServer, mode: Mode, name: &str) -> (Daemon, Daemon) {
    let (url, port) = (redis.url(), free_port().to_string());
    let lease = LEASE.as_secs().to_string();
    let dispatcher = Daemon::start(
        &[
            "dispatcher",
            "--redis",
            &url,
            "-m",
            mode.name(),
            "-p",
            &port,
            "--lease",
            &lease,
        ],
        DISPATCHER_READY,
    );
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let worker = Daemon::start(
        &["worker", mode.name(), "2", &endpoint, "--name", name],
        WORKER_READY,
    );
    (dispatcher, worker)
}

async fn submit(api: &Api, function: Uuid, payloads: Vec<serde_json::Value>) -> Vec<Uuid> {
    let reply = api
        .post(
            "/execute_batch",
            &json!({"function_id": function, "payloads": payloads}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    serde_json::from_value(reply.json()["task_ids"].clone()).expect("task ids")
}

/// Who ran a task, from its usage: `local`, or the worker's name.
fn ran_on(record: &serde_json::Value) -> String {
    let executor = record["usage"]["executor"].as_str().unwrap_or_default();
    match executor.strip_prefix("worker ") {
        Some(rest) => rest.split(' ').next().unwrap_or_default().to_string(),
        None if executor.starts_with("dispatcher ") => "local".to_string(),
        None => panic!("unknown executor: {record}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchers_of_three_modes_share_the_work_and_run_each_task_once() {
    common::require_binary();
    let redis = RedisServer::start();
    let (server, port) = common::start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let _local = local_dispatcher(&redis);
    let _push = remote_dispatcher(&redis, Mode::Push, "push-worker");
    let _pull = remote_dispatcher(&redis, Mode::Pull, "pull-worker");
    let f = api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = submit(&api, f, vec![json!("5"); 600]).await;
    let mut by = std::collections::HashMap::<String, usize>::new();
    for id in &ids {
        let (status, result) = api.wait_final(*id).await;
        assert_eq!(status, "COMPLETED", "{result}");
        let record = api.task(*id).await;
        assert_eq!(record["attempts"], 1, "{record}");
        *by.entry(ran_on(&record)).or_default() += 1;
    }
    for who in ["local", "push-worker", "pull-worker"] {
        assert!(
            by.get(who).copied().unwrap_or(0) > 0,
            "{who} ran nothing: {by:?}"
        );
    }
    assert_eq!(by.values().sum::<usize>(), 600, "{by:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_s_tasks_go_to_the_others_when_its_lease_lapses() {
    common::require_binary();
    let redis = RedisServer::start();
    let (server, port) = common::start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let f = api.register("sleep", SLEEP.as_bytes(), None).await;
    // The push dispatcher alone first, so that it holds both tasks.
    let (mut doomed, _its_worker) = remote_dispatcher(&redis, Mode::Push, "doomed-worker");
    let ids = submit(&api, f, vec![json!("4000"); 2]).await;
    for id in &ids {
        api.wait_status(*id, "RUNNING", Duration::from_secs(10))
            .await;
    }
    let _local = local_dispatcher(&redis);
    let _pull = remote_dispatcher(&redis, Mode::Pull, "pull-worker");
    let killed = Instant::now();
    doomed.kill();
    // Taken over: a second attempt, RUNNING, on one of the others.
    loop {
        let mut again = 0;
        for id in &ids {
            let record = api.task(*id).await;
            if record["attempts"] == 2 && record["status"] == "RUNNING" {
                again += 1;
            }
        }
        if again == ids.len() {
            break;
        }
        assert!(
            killed.elapsed() < LEASE + Duration::from_secs(10),
            "not taken over after {:?}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let handed_over = killed.elapsed();
    eprintln!("a killed dispatcher's tasks ran again elsewhere after {handed_over:?}");
    // The lease lapses at most LEASE after the last renewal; the others
    // look for lapsed leases every tenth of it, and a claim waits 1 s.
    assert!(
        handed_over <= LEASE + Duration::from_secs(2),
        "handed over after {handed_over:?}"
    );
    for id in &ids {
        let (status, result) = api.wait_final(*id).await;
        assert_eq!(status, "COMPLETED", "{result}");
        let record = api.task(*id).await;
        assert_eq!(record["attempts"], 2, "{record}");
        assert_ne!(ran_on(&record), "doomed-worker", "{record}");
    }
}
