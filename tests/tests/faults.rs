//! Fault tests on the Redis setup, each with its own `redis-server` and
//! `faas` processes: no dispatcher at submit time, a dispatcher killed
//! with -9 mid-flight, Redis stopped and restarted under a running server,
//! SIGTERM draining a dispatcher, and daemons that cannot start.

mod common;

use common::{require_binary, start_dispatcher, start_server, Api, SLEEP};
use faas_e2e::{free_port, run_faas, Daemon, RedisServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

const ADD: &[u8] = b"(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))";

/// Statuses of `tasks`, read one by one.
async fn statuses(api: &Api, tasks: &[Uuid]) -> Vec<String> {
    let mut out = Vec::with_capacity(tasks.len());
    for &task in tasks {
        out.push(api.status(task).await);
    }
    out
}

fn count(statuses: &[String], word: &str) -> usize {
    statuses.iter().filter(|s| *s == word).count()
}

/// The last lines a daemon printed, for failure messages.
fn tail(daemon: &mut Daemon) -> String {
    let log = daemon.drain();
    log[log.len().saturating_sub(15)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_queued_without_a_dispatcher_run_when_one_starts() {
    let redis = RedisServer::start();
    let (server, port) = start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let add = api.register("add", ADD, None).await;

    let mut tasks = Vec::new();
    for i in 0..50 {
        tasks.push(api.execute(add, &json!([i, i])).await);
    }
    // Nobody runs them: a long poll runs out with the task still QUEUED,
    // and so are all the others.
    let started = Instant::now();
    let v = api.result_reply(tasks[0], 1.0).await.json();
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        (v["status"].as_str(), &v["result"]),
        (Some("QUEUED"), &Value::Null),
        "{v}"
    );
    let now = statuses(&api, &tasks).await;
    assert_eq!(count(&now, "QUEUED"), tasks.len(), "{now:?}");

    let _dispatcher = start_dispatcher(&redis, 2, Some("2"));
    for (i, &task) in tasks.iter().enumerate() {
        assert_eq!(
            api.wait_final(task).await,
            ("COMPLETED".into(), json!(2 * i)),
            "task {i}"
        );
        let record = api.task(task).await;
        assert_eq!(record["attempts"], json!(1), "{record}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_flight_loses_no_task() {
    let redis = RedisServer::start();
    let (server, port) = start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let mut first = start_dispatcher(&redis, 4, Some("2"));

    let mut tasks = Vec::new();
    for _ in 0..200 {
        tasks.push(api.execute(sleep, &json!("200")).await);
    }
    // Once the first dispatcher is busy, kill it. 200 tasks of 200 ms on 4
    // slots take 10 s: most are still queued or running.
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.status(tasks[0]).await == "QUEUED" {
        assert!(
            Instant::now() < deadline,
            "the dispatcher never took a task"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    let at_kill = statuses(&api, &tasks).await;
    let was_running: Vec<Uuid> = tasks
        .iter()
        .zip(&at_kill)
        .filter(|(_, s)| *s == "RUNNING")
        .map(|(t, _)| *t)
        .collect();
    assert!(
        !was_running.is_empty(),
        "no task was running at the kill: {at_kill:?}"
    );
    assert!(
        count(&at_kill, "QUEUED") > 100,
        "too late a kill: {at_kill:?}"
    );

    let mut second = start_dispatcher(&redis, 8, Some("2"));
    let mut max_attempts = 0;
    for (i, &task) in tasks.iter().enumerate() {
        let (status, result) = api.wait_final(task).await;
        assert_eq!(
            (status.as_str(), &result),
            ("COMPLETED", &json!("slept")),
            "task {i}; second dispatcher:\n{}",
            tail(&mut second)
        );
        let attempts = api.task(task).await["attempts"].as_u64().unwrap_or(0);
        assert!((1..=3).contains(&attempts), "task {i}: {attempts} attempts");
        if was_running.contains(&task) {
            assert!(
                attempts >= 2,
                "task {i} was running at the kill but ran {attempts} time(s)"
            );
        }
        max_attempts = max_attempts.max(attempts);
    }
    assert!(max_attempts >= 2, "no task was run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_dispatchers_keep_dying_fails_as_lost() {
    let redis = RedisServer::start();
    let (server, port) = start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let task = api.execute(sleep, &json!("8000")).await;
    for attempt in 1..=3u64 {
        let mut dispatcher = start_dispatcher(&redis, 1, Some("1"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let record = api.task(task).await;
            if record["status"] == "RUNNING" && record["attempts"] == json!(attempt) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "attempt {attempt} never started: {record}\n{}",
                tail(&mut dispatcher)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        dispatcher.kill();
    }
    // The next dispatcher does not run it a fourth time: it fails it.
    let mut last = start_dispatcher(&redis, 1, Some("1"));
    let started = Instant::now();
    let (status, result) = api.wait_final(task).await;
    assert_eq!(status, "FAILED", "{result}\n{}", tail(&mut last));
    assert!(
        result
            .as_str()
            .unwrap_or("")
            .contains("worker lost 3 times"),
        "{result}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "failed only after {:?}",
        started.elapsed()
    );
    let record = api.task(task).await;
    assert_eq!(record["attempts"], json!(3), "{record}");
    // That dispatcher still serves.
    assert_eq!(api.completed(sleep, &json!("1")).await, json!("slept"));
}

/// Requests made while Redis is down answer 503 with a JSON detail, fast.
async fn assert_503_while_down(port: u16, token: Option<String>, task: Uuid, function: Uuid) {
    // A client that gives up long before a hang would end.
    let api = Api::with_timeout(port, Duration::from_secs(8)).with_token(token);
    let register = json!({ "name": "add", "payload": common::b64(ADD) });
    let execute = json!({ "function_id": function, "payload": [1, 2] });
    let requests: Vec<(&str, Option<&Value>)> = vec![
        ("/health", None),
        ("/status/TASK", None),
        ("/result/TASK", None),
        ("/result/TASK?wait=5", None),
        ("/tasks/TASK", None),
        ("/register_function", Some(&register)),
        ("/execute_function", Some(&execute)),
    ];
    for (path, body) in requests {
        let path = path.replace("TASK", &task.to_string());
        let started = Instant::now();
        let reply = match body {
            None => api.try_get(&path).await,
            Some(body) => api.try_post(&path, body).await,
        };
        let took = started.elapsed();
        let reply = reply
            .unwrap_or_else(|e| panic!("{path} with Redis down: no answer after {took:?}: {e}"));
        assert_eq!(reply.status, 503, "{path} with Redis down: {reply:?}");
        let detail = reply.detail();
        assert!(!detail.is_empty(), "{path}");
        assert!(
            took < Duration::from_secs(5),
            "{path}: the 503 took {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_503_and_the_same_server_recovers() {
    let mut redis = RedisServer::start();
    let (mut server, port) = start_server(&redis);
    let mut dispatcher = start_dispatcher(&redis, 2, Some("2"));
    let api = Api::new(port).with_token(server.token());
    let add = api.register("add", ADD, None).await;
    let task = api.execute(add, &json!([2, 3])).await;
    assert_eq!(api.wait_final(task).await, ("COMPLETED".into(), json!(5)));

    redis.stop();
    assert_503_while_down(port, api.token.clone(), task, add).await;

    redis.restart();
    // Without persistence the restarted Redis is empty: the platform must
    // work again on it, without restarting the server or the dispatcher.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let health = api.try_get("/health").await;
        if matches!(&health, Ok(r) if r.status == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/health after the restart: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let add = api.register("add", ADD, None).await;
    let task = api.execute(add, &json!([20, 22])).await;
    let started = Instant::now();
    let v = api.result_reply(task, 15.0).await.json();
    let took = started.elapsed();
    assert!(
        !server.has_exited(),
        "the server died:\n{}",
        tail(&mut server)
    );
    assert!(
        !dispatcher.has_exited(),
        "the dispatcher died:\n{}",
        tail(&mut dispatcher)
    );
    assert_eq!(
        (v["status"].as_str(), &v["result"]),
        (Some("COMPLETED"), &json!(42)),
        "a task submitted after the Redis restart did not run within 15 s: {v}\ndispatcher:\n{}",
        tail(&mut dispatcher)
    );
    assert!(
        took < Duration::from_secs(5),
        "the long poll woke late ({took:?}): no wake-up after the restart?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_with_persistence_loses_no_task() {
    let mut redis = RedisServer::start_persistent();
    let (mut server, port) = start_server(&redis);
    let mut dispatcher = start_dispatcher(&redis, 4, Some("2"));
    let api = Api::new(port).with_token(server.token());
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        tasks.push(api.execute(sleep, &json!("100")).await);
    }
    api.wait_final(tasks[0]).await;

    redis.stop();
    assert_503_while_down(port, api.token.clone(), tasks[39], sleep).await;
    redis.restart();

    for (i, &task) in tasks.iter().enumerate() {
        let (status, result) = api.wait_final(task).await;
        assert_eq!(
            (status.as_str(), &result),
            ("COMPLETED", &json!("slept")),
            "task {i}; dispatcher:\n{}",
            tail(&mut dispatcher)
        );
    }
    // The function registered before the outage is still there.
    assert_eq!(api.completed(sleep, &json!("1")).await, json!("slept"));
    assert!(!server.has_exited() && !dispatcher.has_exited());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_running_tasks_then_exits_0() {
    let redis = RedisServer::start();
    let (server, port) = start_server(&redis);
    let api = Api::new(port).with_token(server.token());
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let mut dispatcher = start_dispatcher(&redis, 4, Some("2"));

    let mut tasks = Vec::new();
    for _ in 0..12 {
        tasks.push(api.execute(sleep, &json!("1000")).await);
    }
    // The first four run (4 slots); then SIGTERM.
    for &task in &tasks[..4] {
        api.wait_status(task, "RUNNING", Duration::from_secs(20))
            .await;
    }
    let signalled = Instant::now();
    let code = tokio::task::block_in_place(|| dispatcher.terminate(Duration::from_secs(20)));
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "after SIGTERM:\n{}", tail(&mut dispatcher));
    assert!(
        took >= Duration::from_millis(300),
        "exited {took:?} after SIGTERM: it did not wait for the running tasks"
    );

    // The running ones finished; the rest went back to the queue (or were
    // run too); none is left RUNNING under a dead dispatcher, none FAILED.
    let after = statuses(&api, &tasks).await;
    for (i, status) in after.iter().enumerate().take(4) {
        assert_eq!(
            status, "COMPLETED",
            "task {i} was running at SIGTERM: {after:?}"
        );
    }
    assert_eq!(
        count(&after, "COMPLETED") + count(&after, "QUEUED"),
        tasks.len(),
        "after the drain: {after:?}"
    );
    for &task in &tasks[..4] {
        assert_eq!(
            api.wait_final(task).await,
            ("COMPLETED".into(), json!("slept"))
        );
    }

    // A new dispatcher runs what is left.
    let _next = start_dispatcher(&redis, 4, Some("2"));
    for &task in &tasks {
        assert_eq!(
            api.wait_final(task).await,
            ("COMPLETED".into(), json!("slept"))
        );
    }
}

// ------------------------------------------------------- start-up errors

const START_LIMIT: Duration = Duration::from_secs(20);

#[track_caller]
fn assert_fails_saying(args: &[&str], needle: &str) {
    require_binary();
    let out = run_faas(args, &[], START_LIMIT);
    assert!(
        !out.timed_out,
        "faas {args:?} still running after {START_LIMIT:?}: {out:?}"
    );
    assert!(
        matches!(out.code, Some(c) if c != 0),
        "faas {args:?} should fail: {out:?}"
    );
    assert!(
        out.stderr.contains(needle),
        "faas {args:?}: stderr should mention {needle:?}: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("panicked"),
        "faas {args:?} panicked: {}",
        out.stderr
    );
}

#[test]
fn server_and_dispatcher_exit_when_redis_is_unreachable() {
    let nothing = format!("redis://127.0.0.1:{}", free_port());
    let port = free_port().to_string();
    assert_fails_saying(&["server", "--redis", &nothing, "--port", &port], "Redis");
    assert_fails_saying(
        &["dispatcher", "--redis", &nothing, "-m", "local", "-w", "1"],
        "Redis",
    );
    assert_fails_saying(&["up", "--redis", &nothing, "--port", &port], "Redis");
}

#[test]
fn daemons_exit_when_their_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    assert_fails_saying(&["up", "--port", &port], "cannot listen");
    let redis = RedisServer::start();
    assert_fails_saying(
        &["server", "--redis", &redis.url(), "--port", &port],
        "cannot listen",
    );
}
