//! A cluster with remote workers (Redis, `faas server`, `faas dispatcher
//! -m push|pull` and real `faas worker` processes), and the scenarios both
//! remote modes must pass: `push.rs` and `pull.rs` run each of them.

use super::{Api, SLEEP, TYPED};
use faas_e2e::{free_port, Daemon, RedisServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const WORKER_READY: &str = "worker ready";

/// Which remote-worker mode a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Push,
    Pull,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Push => "push",
            Mode::Pull => "pull",
        }
    }
}

/// A real Redis, `faas server`, `faas dispatcher -m push|pull` and the
/// worker daemons added to it.
pub struct Cluster {
    pub mode: Mode,
    pub redis: RedisServer,
    pub api: Api,
    pub zmq_port: u16,
    _server: Daemon,
    pub dispatcher: Daemon,
    pub workers: Vec<Daemon>,
}

impl Cluster {
    pub fn start(mode: Mode, heartbeat_timeout: &str) -> Cluster {
        super::require_binary();
        let redis = RedisServer::start();
        let (server, port) = super::start_server(&redis);
        let zmq_port = free_port();
        let dispatcher = start_dispatcher(&redis, mode, zmq_port, heartbeat_timeout);
        Cluster {
            mode,
            redis,
            api: Api::new(port).with_token(server.token()),
            zmq_port,
            _server: server,
            dispatcher,
            workers: Vec::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.zmq_port)
    }

    pub fn add_worker(&mut self, slots: usize, name: &str) {
        let url = self.url();
        let worker = Daemon::start(
            &[
                "worker",
                self.mode.name(),
                &slots.to_string(),
                &url,
                "--name",
                name,
            ],
            WORKER_READY,
        );
        self.workers.push(worker);
    }

    /// Completed-result counts per worker name, from `GET /workers`.
    pub async fn completed_by_worker(&self) -> HashMap<String, u64> {
        completed_by_worker(&self.api).await
    }

    /// Waits until the dispatcher's published listing shows `n` workers.
    pub async fn wait_for_workers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listing = self.api.get("/workers").await.json();
            if listing["workers"].as_array().map_or(0, Vec::len) == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} workers, listing: {listing}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Completed-result counts per worker name, from `GET /workers`.
pub async fn completed_by_worker(api: &Api) -> HashMap<String, u64> {
    let listing = api.get("/workers").await.json();
    listing["workers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or_default().to_string(),
                w["completed"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

pub fn start_dispatcher(
    redis: &RedisServer,
    mode: Mode,
    port: u16,
    heartbeat_timeout: &str,
) -> Daemon {
    Daemon::start(
        &[
            "dispatcher",
            "--redis",
            &redis.url(),
            "-m",
            mode.name(),
            "-p",
            &port.to_string(),
            "--heartbeat-timeout",
            heartbeat_timeout,
            "--lease",
            "2",
        ],
        "dispatcher ready",
    )
}

/// A push dispatcher on `redis` and one worker of `slots` named `name`,
/// each with its own extra arguments, and `env`.
pub fn start_push_pair(
    redis: &RedisServer,
    (slots, name): (usize, &str),
    (dispatcher_args, worker_args): (&[&str], &[&str]),
    env: &[(&str, &str)],
) -> (Daemon, Daemon) {
    let port = free_port().to_string();
    let url = redis.url();
    let mut args = vec!["dispatcher", "--redis", &url, "-m", "push", "-p", &port];
    args.extend_from_slice(dispatcher_args);
    let dispatcher = Daemon::start_env(&args, env, "dispatcher ready");
    let (slots, endpoint) = (slots.to_string(), format!("tcp://127.0.0.1:{port}"));
    let mut args = vec!["worker", "push", &slots, &endpoint, "--name", name];
    args.extend_from_slice(worker_args);
    let worker = Daemon::start_env(&args, env, WORKER_READY);
    (dispatcher, worker)
}

/// A Python peer from `tests/interop/`, killed on drop; its stdout lines
/// are readable as they come.
pub struct Python {
    child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Python {
    /// Runs `tests/interop/SCRIPT ARGS` and waits for a stdout line
    /// containing `ready`.
    pub fn start(script: &str, args: &[&str], ready: &str) -> Python {
        let ok = std::process::Command::new("python3")
            .args(["-c", "import zmq, wasmtime"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "the interop tests need python3 with pyzmq and wasmtime (pip install pyzmq wasmtime; .ci/run does)"
        );
        let script = format!("{}/interop/{script}", env!("CARGO_MANIFEST_DIR"));
        // The keys the cluster's dispatcher made (see `test_config_dir`).
        let keys = faas_e2e::test_config_dir();
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .args(args)
            .env("FAAS_DISPATCHER_KEY", keys.join("dispatcher.pub"))
            .env("FAAS_WORKER_KEY_FILE", keys.join("worker.key"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{script} did not start"));
        assert!(first.contains(ready), "{script} printed {first:?}");
        Python { child, lines }
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Submits tasks concurrently and returns their ids in order.
pub async fn submit_all(api: &Api, function: Uuid, payloads: Vec<Value>) -> Vec<Uuid> {
    let handles: Vec<_> = payloads
        .into_iter()
        .map(|p| {
            let api = api.clone();
            tokio::spawn(async move { api.execute(function, &p).await })
        })
        .collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.expect("submit"));
    }
    ids
}

/// Waits for every task and returns (status, result) in order.
pub async fn finish_all(api: &Api, ids: &[Uuid]) -> Vec<(String, Value)> {
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            let (api, id) = (api.clone(), *id);
            tokio::spawn(async move { api.wait_final(id).await })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("wait"));
    }
    out
}

pub fn fib(n: u64) -> u64 {
    (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0
}

pub async fn five_hundred_tasks_over_three_workers_all_complete_and_all_share(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    for (i, slots) in [2, 2, 2].iter().enumerate() {
        c.add_worker(*slots, &format!("w{i}"));
    }
    c.wait_for_workers(3).await;
    let f = c.api.register("fib", TYPED.as_bytes(), Some("fib")).await;
    let payloads: Vec<Value> = (0..500).map(|i| json!([i % 25])).collect();
    let ids = submit_all(&c.api, f, payloads).await;
    let results = finish_all(&c.api, &ids).await;
    for (i, (status, result)) in results.iter().enumerate() {
        assert_eq!(status, "COMPLETED", "task {i}: {result}");
        assert_eq!(result, &json!(fib(i as u64 % 25)), "task {i}");
    }
    // Listings are published every second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let done = c.completed_by_worker().await;
    assert_eq!(done.values().sum::<u64>(), 500, "{done:?}");
    assert!(
        done.values().all(|n| *n > 0),
        "a worker got nothing: {done:?}"
    );
}

pub async fn a_worker_with_four_slots_gets_about_twice_the_work_of_one_with_two(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    c.add_worker(4, "big");
    c.add_worker(2, "small");
    c.wait_for_workers(2).await;
    let f = c.api.register("sleep", SLEEP.as_bytes(), None).await;
    // 30 ms tasks, many more than the slots: a steady load.
    let ids = submit_all(&c.api, f, (0..240).map(|_| json!("30")).collect()).await;
    for (status, result) in finish_all(&c.api, &ids).await {
        assert_eq!((status.as_str(), result), ("COMPLETED", json!("slept")));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let done = c.completed_by_worker().await;
    let (big, small) = (done["big"] as f64, done["small"] as f64);
    let ratio = big / small;
    assert!(
        (1.5..=2.8).contains(&ratio),
        "4-slot/2-slot work ratio {ratio:.2} ({done:?})"
    );
}

pub async fn killing_a_worker_mid_run_loses_nothing_and_reruns_only_what_it_held(mode: Mode) {
    let mut c = Cluster::start(mode, "2");
    for i in 0..3 {
        c.add_worker(2, &format!("w{i}"));
    }
    c.wait_for_workers(3).await;
    let f = c.api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = submit_all(&c.api, f, (0..300).map(|_| json!("40")).collect()).await;

    // Let the run get going, then kill -9 one worker.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed_at = Instant::now();
    c.workers[1].kill();
    let line = c
        .dispatcher
        .wait_for_line("worker lost", Duration::from_secs(10));
    let failover = killed_at.elapsed();
    let held: usize = line
        .split("tasks=")
        .nth(1)
        .and_then(|rest| rest.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no task count in {line:?}"));
    assert!(held > 0, "the killed worker held nothing: {line}");
    // Heartbeat timeout 2 s, plus one second.
    assert!(
        failover < Duration::from_secs(3),
        "failover took {failover:?}"
    );

    let results = finish_all(&c.api, &ids).await;
    assert!(
        results
            .iter()
            .all(|(s, r)| s == "COMPLETED" && r == "slept"),
        "{results:?}"
    );
    let mut reruns = 0;
    for id in &ids {
        let attempts = c.api.task(*id).await["attempts"].as_u64().unwrap_or(0);
        assert!(attempts >= 1);
        reruns += attempts - 1;
    }
    assert_eq!(
        reruns as usize, held,
        "re-runs must equal what the dead worker held"
    );
}

pub async fn a_worker_started_after_the_tasks_were_queued_takes_its_share(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    let f = c.api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = submit_all(&c.api, f, (0..60).map(|_| json!("20")).collect()).await;
    for id in &ids {
        assert_eq!(c.api.status(*id).await, "QUEUED");
    }
    c.add_worker(2, "late");
    let results = finish_all(&c.api, &ids).await;
    assert!(results.iter().all(|(s, _)| s == "COMPLETED"), "{results:?}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(c.completed_by_worker().await.get("late"), Some(&60));
}

pub async fn a_dispatcher_killed_and_restarted_mid_run_loses_nothing(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    c.add_worker(2, "a");
    c.add_worker(2, "b");
    c.wait_for_workers(2).await;
    let f = c.api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = submit_all(&c.api, f, (0..150).map(|_| json!("30")).collect()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.dispatcher.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.dispatcher = start_dispatcher(&c.redis, mode, c.zmq_port, "3");
    let results = finish_all(&c.api, &ids).await;
    assert!(
        results
            .iter()
            .all(|(s, r)| s == "COMPLETED" && r == "slept"),
        "{results:?}"
    );
    // The workers re-joined the new dispatcher by themselves.
    c.wait_for_workers(2).await;
}

pub async fn sigterm_makes_a_worker_hand_back_unstarted_tasks_and_finish_running_ones(mode: Mode) {
    let mut c = Cluster::start(mode, "3");
    c.add_worker(2, "leaving");
    c.wait_for_workers(1).await;
    let f = c.api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = submit_all(&c.api, f, (0..8).map(|_| json!("700")).collect()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let code = c.workers[0].terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "worker exit code");

    // The two that were running finished; the rest went back to the queue.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for id in &ids {
            *counts.entry(c.api.status(*id).await).or_default() += 1;
        }
        if counts.get("COMPLETED") == Some(&2) && counts.get("QUEUED") == Some(&6) {
            break;
        }
        assert!(Instant::now() < deadline, "after SIGTERM: {counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.add_worker(2, "next");
    let results = finish_all(&c.api, &ids).await;
    assert!(
        results
            .iter()
            .all(|(s, r)| s == "COMPLETED" && r == "slept"),
        "{results:?}"
    );
    for id in &ids {
        assert_eq!(
            c.api.task(*id).await["attempts"],
            json!(1),
            "a handed-back task counts no attempt"
        );
    }
}
