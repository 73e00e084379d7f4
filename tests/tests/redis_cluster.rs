//! The platform on a real Redis Cluster (`--redis redis+cluster://...`):
//! three primaries with a replica each, a server, a local dispatcher and a
//! push dispatcher with a worker. Under a steady load a primary is killed
//! and its replica promoted: every task the server acknowledged completes,
//! none beyond the attempts rule.

mod common;

use common::cluster::{Mode, WORKER_READY};
use common::{Api, DISPATCHER_READY, LISTENING, SLEEP};
use faas_e2e::cluster::RedisCluster;
use faas_e2e::{free_port, Daemon};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn server(url: &str) -> (Daemon, u16) {
    let port = free_port();
    let daemon = Daemon::start(
        &["server", "--redis", url, "--port", &port.to_string()],
        LISTENING,
    );
    (daemon, port)
}

fn local_dispatcher(url: &str) -> Daemon {
    Daemon::start(
        &[
            "dispatcher",
            "--redis",
            url,
            "-m",
            "local",
            "-w",
            "2",
            "--lease",
            "3",
        ],
        DISPATCHER_READY,
    )
}

/// A push dispatcher and one worker of 2 slots named `name`.
fn push_dispatcher(url: &str, name: &str) -> (Daemon, Daemon) {
    let port = free_port().to_string();
    let dispatcher = Daemon::start(
        &[
            "dispatcher",
            "--redis",
            url,
            "-m",
            "push",
            "-p",
            &port,
            "--lease",
            "3",
        ],
        DISPATCHER_READY,
    );
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let worker = Daemon::start(
        &["worker", Mode::Push.name(), "2", &endpoint, "--name", name],
        WORKER_READY,
    );
    (dispatcher, worker)
}

/// Submits a batch; its task ids if the server acknowledged it.
async fn submit(api: &Api, function: Uuid, n: usize) -> Option<Vec<Uuid>> {
    let body = json!({"function_id": function, "payloads": vec![json!("2"); n]});
    let reply = api.try_post("/execute_batch", &body).await.ok()?;
    match reply.status {
        201 => Some(serde_json::from_value(reply.json()["task_ids"].clone()).expect("task ids")),
        // The shard of some of its partitions is failing over.
        503 | 500 => None,
        other => panic!("submission answered {other}: {}", reply.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_task_completes_through_a_primary_failover() {
    common::require_binary();
    let mut cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3, 1))
        .await
        .unwrap();
    let url = cluster.url();
    let (server, port) = server(&url);
    let api = Api::new(port).with_token(server.token());
    let _local = local_dispatcher(&url);
    let _push = push_dispatcher(&url, "push-worker");
    let f = api.register("sleep", SLEEP.as_bytes(), None).await;

    // A steady load: a batch of 50 every 40 ms, for 6 s; a primary is
    // killed 2 s in.
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    let victim = primaries[1];
    let started = Instant::now();
    let mut acknowledged = Vec::new();
    let (mut refused, mut killed_at) = (0, None);
    while started.elapsed() < Duration::from_secs(6) {
        if killed_at.is_none() && started.elapsed() >= Duration::from_secs(2) {
            cluster.kill(victim);
            killed_at = Some(Instant::now());
        }
        match submit(&api, f, 50).await {
            Some(ids) => acknowledged.extend(ids),
            None => refused += 1,
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.wait_failover(victim, Duration::from_secs(30));
        cluster
    })
    .await
    .unwrap();
    eprintln!(
        "{} tasks acknowledged, {refused} batches refused; the cluster was whole \
         again (as checked after the load) {:?} after the kill",
        acknowledged.len(),
        killed_at.map(|t| t.elapsed())
    );
    assert!(acknowledged.len() >= 1_000, "{}", acknowledged.len());

    // Every acknowledged task completes, within the attempts rule.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut attempts = HashMap::<u64, usize>::new();
    let mut pending = acknowledged.clone();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for chunk in pending.chunks(5_000) {
            let reply = api.post("/results", &json!({"task_ids": chunk})).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let results = reply.json()["results"].clone();
            for (id, result) in chunk.iter().zip(results.as_array().expect("results")) {
                match result["status"].as_str() {
                    Some("COMPLETED") => {}
                    Some("QUEUED" | "RUNNING") => still.push(*id),
                    _ => panic!("task {id} ended {result}"),
                }
            }
        }
        pending = still;
        assert!(
            Instant::now() < deadline,
            "{} of {} tasks unfinished",
            pending.len(),
            acknowledged.len()
        );
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for chunk in acknowledged.chunks(500) {
        for id in chunk {
            let record = api.task(*id).await;
            let n = record["attempts"].as_u64().expect("attempts");
            assert!((1..=3).contains(&n), "{record}");
            *attempts.entry(n).or_default() += 1;
        }
    }
    eprintln!("attempts per task: {attempts:?}");
    // The platform goes on: a new batch on the healed cluster completes.
    let ids = submit(&api, f, 100)
        .await
        .expect("accepted after the failover");
    for id in ids {
        assert_eq!(api.wait_final(id).await.0, "COMPLETED");
    }
    drop(cluster);
}
