//! Store faults with the real Redis: `kill -9` of Redis (AOF,
//! `appendfsync always`) in the middle of 100,000 tasks, in local mode
//! and with push workers; Redis unreachable for 30 s under all three
//! dispatch modes; and a Sentinel failover under load, without and with
//! `--redis-wait-replicas`; and Redis at its `maxmemory`. Each test
//! prints what it measured (run with
//! `--nocapture` to see it); docs/store-faults.md reports the numbers.

mod common;

use common::cluster::{self, Mode, WORKER_READY};
use common::{require_binary, start_dispatcher, start_server, Api, LISTENING, SLEEP};
use faas_e2e::{free_port, redis_cli, run_faas, Daemon, RedisServer, Sentinels};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const ADD: &[u8] = b"(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))";
/// Attempts a task may have (the store's default `max_attempts`).
const MAX_ATTEMPTS: u64 = 3;

/// The last lines a daemon printed, for failure messages.
fn tail(daemon: &mut Daemon) -> String {
    let log = daemon.drain();
    log[log.len().saturating_sub(20)..].join("\n")
}

/// An acknowledged task: its id and the `i` of its payload `[i, i]`.
type Acked = (Uuid, i64);

/// Submits `add [i, i]` for every `i` in `numbers` as one batch; the ids
/// on a 201, else what came back instead.
async fn submit_batch(api: &Api, add: Uuid, numbers: &[i64]) -> Result<Vec<Acked>, String> {
    let payloads: Vec<Value> = numbers.iter().map(|i| json!([i, i])).collect();
    let body = json!({ "function_id": add, "payloads": payloads });
    match api.try_post("/execute_batch", &body).await {
        Ok(reply) if reply.status == 201 => {
            let ids = reply.json()["task_ids"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(ids.len(), numbers.len(), "{}", reply.body);
            Ok(ids
                .iter()
                .zip(numbers)
                .map(|(id, &i)| (Uuid::parse_str(id.as_str().unwrap_or("")).unwrap(), i))
                .collect())
        }
        Ok(reply) => Err(format!("{} {}", reply.status, reply.body)),
        Err(e) => Err(format!("no answer: {e}")),
    }
}

/// Waits (POST /results, long-polled, 10,000 ids a request) until every
/// task has ended or `limit` has passed; (status or "unknown", result)
/// in order.
async fn final_results(api: &Api, ids: &[Uuid], limit: Duration) -> Vec<(String, Value)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        loop {
            let body = json!({ "task_ids": chunk, "wait": 20 });
            let rows = match api.try_post("/results", &body).await {
                Ok(reply) if reply.status == 200 => reply.json()["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                other => {
                    assert!(Instant::now() < deadline, "POST /results: {other:?}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let read: Vec<(String, Value)> = rows
                .iter()
                .map(|r| {
                    let status = r["status"].as_str().unwrap_or("unknown").to_string();
                    (status, r["result"].clone())
                })
                .collect();
            let open = read
                .iter()
                .filter(|(s, _)| s == "QUEUED" || s == "RUNNING")
                .count();
            if open == 0 || Instant::now() >= deadline {
                out.extend(read);
                break;
            }
        }
    }
    out
}

/// Each task's `attempts` as its record in Redis holds it (0: none).
fn attempts(redis_port: u16, ids: &[Uuid]) -> Vec<u64> {
    let mut input = String::with_capacity(ids.len() * 60);
    for id in ids {
        input.push_str(&format!("HGET faas:task:{id} attempts\n"));
    }
    let out = redis_cli(redis_port, &[], &input);
    let counts: Vec<u64> = out.lines().map(|l| l.trim().parse().unwrap_or(0)).collect();
    assert_eq!(counts.len(), ids.len(), "redis-cli answered {out:.300}");
    counts
}

/// How many of `values` are each value, as "value: count" pairs.
fn histogram(values: &[u64]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for v in values {
        *counts.entry(*v).or_insert(0u64) += 1;
    }
    format!("{counts:?}")
}

/// Checks that every acknowledged task completed with 2i and ran at most
/// MAX_ATTEMPTS times; prints the attempts seen.
async fn assert_all_completed(api: &Api, redis_port: u16, acked: &[Acked], what: &str) {
    let ids: Vec<Uuid> = acked.iter().map(|(id, _)| *id).collect();
    let started = Instant::now();
    let results = final_results(api, &ids, Duration::from_secs(90)).await;
    let mut wrong = Vec::new();
    for ((id, i), (status, result)) in acked.iter().zip(&results) {
        if status != "COMPLETED" || result != &json!(2 * i) {
            wrong.push(format!("{id} [{i}, {i}]: {status} {result}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} acknowledged tasks did not complete right, e.g.\n{}",
        wrong.len(),
        acked.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
    let counts = attempts(redis_port, &ids);
    eprintln!(
        "{what}: all {} acknowledged tasks COMPLETED with the right result (read in {:.1?}); \
         attempts per task: {}",
        acked.len(),
        started.elapsed(),
        histogram(&counts)
    );
    let over: Vec<_> = counts
        .iter()
        .zip(&ids)
        .filter(|(n, _)| !(1..=MAX_ATTEMPTS).contains(*n))
        .collect();
    assert!(over.is_empty(), "{what}: attempts out of 1..=3: {over:?}");
}

// ------------------------------------------- kill -9 mid-run, AOF always

const TOTAL: i64 = 100_000;
const BATCH: i64 = 1_000;
/// Batches in flight at once.
const IN_FLIGHT: usize = 2;
/// Acknowledged tasks at which Redis is killed.
const KILL_AT: usize = 30_000;

/// Submits `add [i, i]` for i in 0..TOTAL in batches (a batch that is not
/// acknowledged goes again, with new ids), while another thread kills
/// Redis with -9 once KILL_AT tasks were acknowledged and restarts it a
/// second later on its AOF. Returns the acknowledged tasks and Redis.
async fn hundred_thousand_with_a_kill(
    api: &Api,
    add: Uuid,
    mut redis: RedisServer,
) -> (Vec<Acked>, RedisServer) {
    let acked_count = Arc::new(AtomicUsize::new(0));
    let killer = {
        let acked_count = acked_count.clone();
        std::thread::spawn(move || {
            while acked_count.load(Ordering::SeqCst) < KILL_AT {
                std::thread::sleep(Duration::from_millis(2));
            }
            let at = acked_count.load(Ordering::SeqCst);
            redis.stop(); // SIGKILL
            let killed = Instant::now();
            std::thread::sleep(Duration::from_secs(1));
            redis.restart();
            (redis, at, killed)
        })
    };
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (api, next, acked_count, refused) = (
            api.clone(),
            next.clone(),
            acked_count.clone(),
            refused.clone(),
        );
        senders.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let first = next.fetch_add(BATCH as usize, Ordering::SeqCst) as i64;
                if first >= TOTAL {
                    return mine;
                }
                let numbers: Vec<i64> = (first..(first + BATCH).min(TOTAL)).collect();
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    match submit_batch(&api, add, &numbers).await {
                        Ok(ids) => {
                            acked_count.fetch_add(ids.len(), Ordering::SeqCst);
                            mine.extend(ids);
                            break;
                        }
                        Err(why) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                            assert!(
                                Instant::now() < deadline,
                                "a batch was refused for 60 s: {why}"
                            );
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        });
    }
    let mut acked = Vec::with_capacity(TOTAL as usize);
    while let Some(mine) = senders.join_next().await {
        acked.extend(mine.expect("a sender"));
    }
    let submitted_in = started.elapsed();
    let (redis, at, killed) = tokio::task::spawn_blocking(move || killer.join())
        .await
        .expect("join")
        .expect("the killer thread");
    eprintln!(
        "submitted {} tasks in {submitted_in:.1?} ({} batch submissions refused while Redis was down); \
         Redis killed at {at} acknowledged, {:.1?} after the start",
        acked.len(),
        refused.load(Ordering::SeqCst),
        killed.duration_since(started)
    );
    (acked, redis)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_with_aof_always_loses_no_task_in_local_mode() {
    let redis = RedisServer::start_persistent();
    let redis_port = redis.port;
    let (mut server, port) = start_server(&redis);
    let mut dispatcher = start_dispatcher(&redis, 2, None);
    let api = Api::new(port).with_token(server.token());
    let add = api.register("add", ADD, None).await;

    let started = Instant::now();
    let (acked, _redis) = hundred_thousand_with_a_kill(&api, add, redis).await;
    assert_all_completed(&api, redis_port, &acked, "local mode").await;
    eprintln!("local mode: the whole run took {:.1?}", started.elapsed());
    assert!(!server.has_exited(), "server:\n{}", tail(&mut server));
    assert!(
        !dispatcher.has_exited(),
        "dispatcher:\n{}",
        tail(&mut dispatcher)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_with_aof_always_loses_no_task_with_push_workers() {
    require_binary();
    let redis = RedisServer::start_persistent();
    let redis_port = redis.port;
    let (mut server, port) = start_server(&redis);
    let zmq_port = free_port();
    let mut dispatcher = cluster::start_dispatcher(&redis, Mode::Push, zmq_port, "3");
    let endpoint = format!("tcp://127.0.0.1:{zmq_port}");
    let mut worker = Daemon::start(&["worker", "push", "2", &endpoint], WORKER_READY);
    let api = Api::new(port).with_token(server.token());
    let add = api.register("add", ADD, None).await;

    let started = Instant::now();
    let (acked, _redis) = hundred_thousand_with_a_kill(&api, add, redis).await;
    assert_all_completed(&api, redis_port, &acked, "push workers").await;
    eprintln!("push workers: the whole run took {:.1?}", started.elapsed());
    for (name, daemon) in [
        ("server", &mut server),
        ("dispatcher", &mut dispatcher),
        ("worker", &mut worker),
    ] {
        assert!(!daemon.has_exited(), "{name}:\n{}", tail(daemon));
    }
}

// ------------------------------------------------- 30 s without Redis

const OUTAGE: Duration = Duration::from_secs(30);
/// The longest a request may take to answer while Redis is down.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);

/// Probes the server while Redis is down, every second for `outage`:
/// a submission (single and batch) answers 503 within ANSWER_LIMIT, a
/// long poll answers (503, or 200 when its wait ran out) within its wait
/// and ANSWER_LIMIT. Returns the slowest answers seen (submission, poll).
async fn probe_while_down(
    api: &Api,
    add: Uuid,
    task: Uuid,
    outage: Duration,
) -> (Duration, Duration) {
    let api = Api::with_timeout(
        api.base.rsplit(':').next().unwrap().parse().unwrap(),
        Duration::from_secs(15),
    )
    .with_token(api.token.clone());
    let until = Instant::now() + outage;
    let (mut slowest_submit, mut slowest_poll) = (Duration::ZERO, Duration::ZERO);
    let single = json!({ "function_id": add, "payload": [1, 2] });
    let batch = json!({ "function_id": add, "payloads": [[1, 2], [3, 4]] });
    while Instant::now() < until {
        for (path, body) in [("/execute_function", &single), ("/execute_batch", &batch)] {
            let asked = Instant::now();
            let reply = api.try_post(path, body).await;
            let took = asked.elapsed();
            let reply =
                reply.unwrap_or_else(|e| panic!("{path} with Redis down: {e} after {took:?}"));
            assert_eq!(reply.status, 503, "{path} with Redis down: {reply:?}");
            assert!(took < ANSWER_LIMIT, "{path}: the 503 took {took:?}");
            slowest_submit = slowest_submit.max(took);
        }
        let asked = Instant::now();
        let poll = api.try_get(&format!("/result/{task}?wait=3")).await;
        let took = asked.elapsed();
        let poll = poll.unwrap_or_else(|e| panic!("long poll with Redis down: {e} after {took:?}"));
        assert!(
            poll.status == 503 || poll.status == 200,
            "long poll with Redis down: {poll:?}"
        );
        assert!(
            took < Duration::from_secs(3) + ANSWER_LIMIT,
            "long poll: {took:?}"
        );
        slowest_poll = slowest_poll.max(took);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (slowest_submit, slowest_poll)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seconds_without_redis_every_mode_reconnects_and_finishes_the_backlog() {
    require_binary();
    let mut redis = RedisServer::start_persistent();
    let redis_port = redis.port;
    let (server, port) = start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let local = start_dispatcher(&redis, 2, Some("10"));
    let (push_port, pull_port) = (free_port(), free_port());
    let push = cluster::start_dispatcher(&redis, Mode::Push, push_port, "3");
    let pull = cluster::start_dispatcher(&redis, Mode::Pull, pull_port, "3");
    let mut daemons = vec![
        ("server", server),
        ("local", local),
        ("push", push),
        ("pull", pull),
    ];
    for (mode, zmq_port) in [("push", push_port), ("pull", pull_port)] {
        let endpoint = format!("tcp://127.0.0.1:{zmq_port}");
        let name = format!("{mode}-worker");
        let worker = Daemon::start(
            &["worker", mode, "2", &endpoint, "--name", &name],
            WORKER_READY,
        );
        daemons.push((
            if mode == "push" {
                "push worker"
            } else {
                "pull worker"
            },
            worker,
        ));
    }
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let add = api.register("add", ADD, None).await;
    // Every mode has done work before the outage.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut warm = Vec::new();
    loop {
        for _ in 0..20 {
            warm.push(api.execute(sleep, &json!("20")).await);
        }
        for &task in &warm {
            api.wait_final(task).await;
        }
        let done = cluster::completed_by_worker(&api).await;
        if ["push-worker", "pull-worker"]
            .iter()
            .all(|w| done.get(*w).copied().unwrap_or(0) > 0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "a worker got no task: {done:?}");
    }
    let before = cluster::completed_by_worker(&api).await;

    // The backlog: 300 tasks of 100 ms on 6 slots, 5 s of work; Redis goes
    // down with most of it queued and some running.
    let mut backlog = Vec::new();
    for _ in 0..300 {
        backlog.push(api.execute(sleep, &json!("100")).await);
    }
    let batch_body = json!({ "function_id": add, "payloads": (0..100).map(|i| json!([i, i])).collect::<Vec<_>>() });
    let reply = api.post("/execute_batch", &batch_body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let added: Vec<Uuid> = reply.json()["task_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Uuid::parse_str(v.as_str().unwrap()).unwrap())
        .collect();
    // A long poll in flight when Redis goes: it must answer.
    let last = *backlog.last().unwrap();
    let poller = {
        let api = api.clone();
        tokio::spawn(async move {
            let asked = Instant::now();
            let reply = api.try_get(&format!("/result/{last}?wait=10")).await;
            (reply.map(|r| r.status), asked.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.stop();
    let down = Instant::now();
    let (slowest_submit, slowest_poll) = probe_while_down(&api, add, last, OUTAGE).await;
    let (poll_status, poll_took) = poller.await.expect("poller");
    eprintln!(
        "Redis down {:.1?}: slowest 503 to a submission {slowest_submit:?}, slowest long poll \
         (wait=3) {slowest_poll:?}; the long poll in flight at the stop answered {poll_status:?} \
         after {poll_took:.1?}",
        down.elapsed()
    );
    assert!(
        poll_status.is_ok() && poll_took < Duration::from_secs(10) + ANSWER_LIMIT,
        "the long poll in flight: {poll_status:?} after {poll_took:?}"
    );
    for (name, daemon) in daemons.iter_mut() {
        assert!(
            !daemon.has_exited(),
            "{name} exited while Redis was down:\n{}",
            tail(daemon)
        );
    }

    redis.restart();
    let back = Instant::now();
    // The server's connection comes back by itself; until then a client
    // retries its 503s.
    loop {
        let health = api.try_get("/health").await;
        if matches!(&health, Ok(r) if r.status == 200) {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "/health after the restart: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "the server answered again {:.1?} after Redis was back",
        back.elapsed()
    );
    for (i, &task) in backlog.iter().enumerate() {
        let (status, result) = api.wait_final(task).await;
        assert_eq!(
            (status.as_str(), &result),
            ("COMPLETED", &json!("slept")),
            "backlog task {i}"
        );
    }
    let acked: Vec<Acked> = added.into_iter().zip(0..).collect();
    assert_all_completed(&api, redis_port, &acked, "after the outage").await;
    let backlog_counts = attempts(redis_port, &backlog);
    eprintln!(
        "backlog of 300 finished {:.1?} after Redis came back; attempts: {}",
        back.elapsed(),
        histogram(&backlog_counts)
    );
    assert!(backlog_counts
        .iter()
        .all(|n| (1..=MAX_ATTEMPTS).contains(n)));

    // Each remote mode ran tasks after the outage: new ones, spread over
    // every executor.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut fresh = Vec::new();
        for _ in 0..30 {
            fresh.push(api.execute(sleep, &json!("20")).await);
        }
        for &task in &fresh {
            assert_eq!(api.wait_final(task).await.0, "COMPLETED");
        }
        let now = cluster::completed_by_worker(&api).await;
        let grew = ["push-worker", "pull-worker"]
            .iter()
            .all(|w| now.get(*w).copied().unwrap_or(0) > before.get(*w).copied().unwrap_or(0));
        if grew {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a remote mode ran nothing after the outage: before {before:?}, now {now:?}"
        );
    }
    // And the local dispatcher alone runs tasks too.
    for (name, daemon) in daemons.iter_mut() {
        if matches!(*name, "push" | "pull") {
            daemon.kill();
        }
    }
    for i in 0..10 {
        assert_eq!(api.completed(add, &json!([i, 1])).await, json!(i + 1));
    }
    for (name, daemon) in daemons.iter_mut() {
        if !matches!(*name, "push" | "pull") {
            assert!(!daemon.has_exited(), "{name}:\n{}", tail(daemon));
        }
    }
}

// ------------------------------------------------------- Sentinel failover

/// What a run under load through a failover saw.
struct Failover {
    /// The function the load ran.
    acked_function: Uuid,
    acked: Vec<Acked>,
    /// From the kill to the first submission acknowledged after it.
    refused_for: Duration,
    refusals: usize,
    /// A refusal's detail, for the report.
    refusal: Option<String>,
}

/// A server and a local dispatcher on the Sentinels' URL (the server
/// with `server_args` added), load from two submitters, `kill -9` of the
/// primary after 3 s, the old primary started again (the Sentinels make
/// it a replica of the new one) once the platform writes again, and 5 s
/// more of load.
async fn failover_under_load(
    set: &mut Sentinels,
    server_args: &[&str],
) -> (Failover, Api, Vec<Daemon>) {
    require_binary();
    let url = set.url();
    let port = free_port();
    let config_dir = faas_e2e::fresh_config_dir();
    let mut args = vec!["server", "--redis", &url];
    let port_text = port.to_string();
    args.extend(["--port", &port_text]);
    args.extend(server_args);
    let server = Daemon::start_env(
        &args,
        &[("FAAS_CONFIG_DIR", &config_dir.to_string_lossy())],
        LISTENING,
    );
    let dispatcher = Daemon::start(
        &[
            "dispatcher",
            "--redis",
            &url,
            "-m",
            "local",
            "-w",
            "2",
            "--lease",
            "2",
        ],
        common::DISPATCHER_READY,
    );
    let api = Api::with_timeout(port, Duration::from_secs(15)).with_token(server.token());
    let add = api.register("add", ADD, None).await;

    let stop = Arc::new(AtomicBool::new(false));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let first_after: Arc<Mutex<Option<Instant>>> = Arc::default();
    let refusal: Arc<Mutex<Option<String>>> = Arc::default();
    let refusals = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (api, stop, killed_at, first_after, refusal, refusals, next) = (
            api.clone(),
            stop.clone(),
            killed_at.clone(),
            first_after.clone(),
            refusal.clone(),
            refusals.clone(),
            next.clone(),
        );
        load.spawn(async move {
            let mut mine = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let first = next.fetch_add(50, Ordering::SeqCst) as i64;
                let numbers: Vec<i64> = (first..first + 50).collect();
                match submit_batch(&api, add, &numbers).await {
                    Ok(ids) => {
                        if killed_at.lock().unwrap().is_some() {
                            first_after.lock().unwrap().get_or_insert_with(Instant::now);
                        }
                        mine.extend(ids);
                        // A steady load, not a flood: 2 x 50 tasks per 10 ms at most.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(why) => {
                        refusals.fetch_add(1, Ordering::SeqCst);
                        refusal.lock().unwrap().get_or_insert(why);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            mine
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let old_primary = set.primary.port;
    set.primary.stop(); // SIGKILL
    *killed_at.lock().unwrap() = Some(Instant::now());
    let killed = Instant::now();
    tokio::task::block_in_place(|| set.wait_failover(Duration::from_secs(30)));
    let failed_over = killed.elapsed();
    let acknowledged_again = |limit: Duration| {
        let first_after = first_after.clone();
        async move {
            let deadline = Instant::now() + limit;
            while first_after.lock().unwrap().is_none() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // The old primary comes back (empty) once the platform has moved or
    // 5 s have passed (with WAIT it cannot write until a replica is
    // back); the Sentinels make it a replica of the new primary.
    acknowledged_again(Duration::from_secs(5)).await;
    tokio::task::block_in_place(|| set.primary.restart());
    let restarted = killed.elapsed();
    acknowledged_again(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    while let Some(mine) = load.join_next().await {
        acked.extend(mine.expect("a submitter"));
    }
    let refused_for = first_after
        .lock()
        .unwrap()
        .map(|t| t.duration_since(killed))
        .unwrap_or(Duration::MAX);
    eprintln!(
        "primary {old_primary} killed; the Sentinels named {} after {failed_over:.1?}; \
         the old primary restarted {restarted:.1?} after the kill; first submission \
         acknowledged {refused_for:.1?} after the kill",
        set.replica.port
    );
    let failover = Failover {
        acked_function: add,
        acked,
        refused_for,
        refusals: refusals.load(Ordering::SeqCst),
        refusal: refusal.lock().unwrap().clone(),
    };
    (failover, api, vec![server, dispatcher])
}

/// The acknowledged tasks' outcomes after a failover: (lost, wrong),
/// lost being those the store no longer knows, and checks the rest ran
/// right and within their attempts.
async fn count_lost(api: &Api, set: &Sentinels, failover: &Failover, what: &str) -> usize {
    let ids: Vec<Uuid> = failover.acked.iter().map(|(id, _)| *id).collect();
    let results = final_results(api, &ids, Duration::from_secs(60)).await;
    let mut lost = 0;
    let mut wrong = Vec::new();
    for ((id, i), (status, result)) in failover.acked.iter().zip(&results) {
        match status.as_str() {
            "unknown" => lost += 1,
            "COMPLETED" if result == &json!(2 * i) => {}
            _ => wrong.push(format!("{id} [{i}, {i}]: {status} {result}")),
        }
    }
    let primary = set.primary_port().expect("a primary");
    let counts = attempts(primary, &ids);
    eprintln!(
        "{what}: {} tasks acknowledged, {lost} lost in the failover; submissions refused {} \
         times, for {:.1?} after the kill (e.g. {:?}); attempts per task: {}",
        ids.len(),
        failover.refusals,
        failover.refused_for,
        failover.refusal,
        histogram(&counts)
    );
    assert!(
        wrong.is_empty(),
        "{what}: {} tasks ended wrong, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    assert!(counts.iter().all(|n| *n <= MAX_ATTEMPTS), "{what}");
    lost
}

/// After the failover the platform works as before: a new task runs and
/// its long poll wakes at once (the pub/sub subscription moved too), and
/// `faas keys create` on the Sentinel URL makes a key the server takes.
async fn assert_platform_follows(api: &Api, set: &Sentinels, daemons: &mut [Daemon]) {
    let add = api.register("add", ADD, None).await;
    let task = api.execute(add, &json!([20, 22])).await;
    let asked = Instant::now();
    let v = api.result_reply(task, 20.0).await.json();
    assert_eq!(
        (v["status"].as_str(), &v["result"]),
        (Some("COMPLETED"), &json!(42)),
        "{v}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the long poll woke after {:?}: no announcement from the new primary?",
        asked.elapsed()
    );
    // The server's subscription to announcements moved to the new primary.
    let primary = set.primary_port().expect("a primary");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = redis_cli(primary, &["PUBSUB", "NUMSUB", "faas:done", "faas:keys"], "");
        let counts: Vec<&str> = out.lines().collect();
        if counts.len() == 4 && counts[1] != "0" && counts[3] != "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no subscriber on the new primary {primary}: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = run_faas(
        &[
            "keys",
            "create",
            "--tenant",
            "after-failover",
            "--redis",
            &set.url(),
            "--json",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let made: Value = serde_json::from_str(out.stdout.trim()).expect("keys create --json");
    let key = made["key"].as_str().expect("a key").to_string();
    let port: u16 = api.base.rsplit(':').next().unwrap().parse().unwrap();
    let tenant_api = Api::new(port).with_token(Some(key));
    assert_eq!(tenant_api.get("/tasks").await.status, 200);
    for daemon in daemons.iter_mut() {
        assert!(!daemon.has_exited(), "{}", tail(daemon));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_is_followed_and_says_what_asynchronous_replication_lost() {
    let mut set = Sentinels::start();
    let (failover, api, mut daemons) = failover_under_load(&mut set, &[]).await;
    assert!(
        failover.refused_for < Duration::from_secs(30),
        "no submission was acknowledged within 30 s of the kill: {:?}\n{}",
        failover.refusal,
        tail(&mut daemons[0])
    );
    let lost = count_lost(&api, &set, &failover, "without --redis-wait-replicas").await;
    // Asynchronous replication: whatever is lost is reported, not failed on.
    assert!(lost <= failover.acked.len());
    assert_platform_follows(&api, &set, &mut daemons).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_wait_replicas_a_sentinel_failover_loses_no_acknowledged_task() {
    let mut set = Sentinels::start();
    let (failover, api, mut daemons) =
        failover_under_load(&mut set, &["--redis-wait-replicas", "1"]).await;
    // Writes wait for a replica: the old primary's return (about 24 s).
    assert!(
        failover.refused_for < Duration::from_secs(45),
        "no submission was acknowledged within 45 s of the kill: {:?}\n{}",
        failover.refusal,
        tail(&mut daemons[0])
    );
    let lost = count_lost(&api, &set, &failover, "with --redis-wait-replicas 1").await;
    assert_eq!(lost, 0, "acknowledged tasks lost despite WAIT");
    assert_platform_follows(&api, &set, &mut daemons).await;
    // With no replica to confirm it, a submission is refused, saying why.
    tokio::task::block_in_place(|| set.primary.stop());
    let add = api.register_reply("add", ADD, None).await;
    assert_eq!(add.status, 503, "{add:?}");
    let asked = Instant::now();
    let function = failover.acked_function;
    let reply = api
        .post(
            "/execute_function",
            &json!({ "function_id": function, "payload": [1, 2] }),
        )
        .await;
    let detail = reply.expect_error(503);
    assert!(detail.contains("replicas"), "{detail}");
    assert!(asked.elapsed() < ANSWER_LIMIT, "{:?}", asked.elapsed());
    eprintln!(
        "with no replica: 503 after {:.1?}: {detail}",
        asked.elapsed()
    );
}

/// Redis at `maxmemory` with `noeviction`: a submission gets a 503 that
/// says so, and nothing of it is stored; every task accepted before (some
/// already claimed, most still queued) runs and completes; once Redis has
/// memory again, submissions work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_maxmemory_submissions_get_503_and_accepted_tasks_complete() {
    let redis = RedisServer::start();
    let (mut server, port) = start_server(&redis);
    let mut dispatcher = start_dispatcher(&redis, 1, None);
    let api = Api::new(port).with_token(server.token());
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let reply = api
        .post(
            "/execute_batch",
            &json!({"function_id": sleep, "payloads": vec!["50"; 40]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let accepted: Vec<Uuid> = serde_json::from_value(reply.json()["task_ids"].clone()).unwrap();

    let set_maxmemory = |bytes: &str| {
        let out = redis_cli(
            redis.port,
            &[],
            &format!("CONFIG SET maxmemory-policy noeviction\nCONFIG SET maxmemory {bytes}\n"),
        );
        assert_eq!(out, "OK\nOK\n");
    };
    set_maxmemory("1");
    let refused = api.execute_reply(&sleep.to_string(), &json!("1")).await;
    let detail = refused.expect_error(503);
    assert!(detail.contains("out of memory"), "{detail}");
    let refused = api
        .post(
            "/execute_batch",
            &json!({"function_id": sleep, "payloads": ["1", "1"]}),
        )
        .await;
    refused.expect_error(503);
    let listed = api.get("/tasks?limit=1000").await.json();
    assert_eq!(
        listed["tasks"].as_array().map(Vec::len),
        Some(accepted.len()),
        "nothing of a refused submission is stored"
    );

    let results = final_results(&api, &accepted, Duration::from_secs(120)).await;
    for (id, (status, result)) in accepted.iter().zip(&results) {
        assert_eq!(
            (status.as_str(), result),
            ("COMPLETED", &json!("slept")),
            "task {id}; dispatcher:\n{}",
            tail(&mut dispatcher)
        );
    }

    set_maxmemory("0");
    let (status, result) = api.run(sleep, &json!("1")).await;
    assert_eq!((status.as_str(), result), ("COMPLETED", json!("slept")));
    assert!(!server.has_exited(), "server:\n{}", tail(&mut server));
}
