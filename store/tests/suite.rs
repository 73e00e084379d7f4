//! One store test suite, run against both backends: the embedded store, a
//! real `redis-server` started on a free port for each test, and a real
//! Redis Cluster of three primaries started for each test.

use faas_e2e::cluster::RedisCluster;
use faas_e2e::RedisServer;
use faas_store::{
    ApiKey, Cancelled, Claim, Final, FunctionRecord, Limit, LimitOverrides, Notice, OverQuota,
    Report, Scope, Store, StoreConfig, StoreError, TaskStatus, Usage, CANCELLED, MAX_LOG_BYTES,
    MISSING_FUNCTION, RECENT_TASKS,
};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn config() -> StoreConfig {
    StoreConfig {
        lease: Duration::from_millis(400),
        max_attempts: 3,
        ..StoreConfig::default()
    }
}

/// What keeps a fixture's backend alive.
enum Backend {
    Embedded,
    Redis(RedisServer),
    Cluster(RedisCluster),
}

/// A store plus whatever keeps its backend alive.
struct Fixture {
    store: Store,
    backend: Backend,
}

impl Fixture {
    /// Another store of the same backend with `config` (embedded: a new
    /// one; Redis: a new connection to the same server).
    async fn store_with(&self, config: StoreConfig) -> Store {
        match &self.backend {
            Backend::Embedded => Store::memory(config),
            Backend::Redis(server) => Store::redis(&server.url(), config).await.expect("connects"),
            Backend::Cluster(cluster) => Store::redis(&cluster.url(), config)
                .await
                .expect("connects"),
        }
    }
}

/// `n` new task ids that the store queues together, so they are claimed
/// and listed in the order submitted (a cluster keeps that order within
/// each of its partitions only).
fn ordered_ids(s: &Store, n: usize) -> Vec<Uuid> {
    std::iter::repeat_with(Uuid::new_v4)
        .filter(|id| s.partition_of(id) == 0)
        .take(n)
        .collect()
}

async fn memory() -> Fixture {
    Fixture {
        store: Store::memory(config()),
        backend: Backend::Embedded,
    }
}

async fn redis() -> Fixture {
    let server = RedisServer::start();
    let store = Store::redis(&server.url(), config())
        .await
        .expect("connects");
    Fixture {
        store,
        backend: Backend::Redis(server),
    }
}

async fn cluster() -> Fixture {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3, 0))
        .await
        .expect("the cluster starts");
    let store = Store::redis(&cluster.url(), config())
        .await
        .expect("connects");
    Fixture {
        store,
        backend: Backend::Cluster(cluster),
    }
}

fn function(hash: &str) -> FunctionRecord {
    FunctionRecord {
        id: Uuid::new_v4(),
        name: "add".into(),
        entry: "add".into(),
        convention: json!({"kind": "typed", "params": ["i32"], "results": ["i32"]}),
        module_hash: hash.into(),
        module_size: 3,
        created_at_ms: 1,
        tenant: T.into(),
        invocations: 0,
        failures: 0,
    }
}

/// A function registered in `s`, for tasks to be submitted to.
async fn registered(s: &Store) -> Uuid {
    let f = function("abc");
    s.put_function(&f, b"one").await.unwrap();
    f.id
}

/// The tenant the suite's tasks belong to, and a scope that sees all.
const T: &str = "t";
const ALL: Scope = Scope::All;

const NO_WAIT: Duration = Duration::from_millis(1);

async fn functions_and_modules_round_trip(f: Fixture) {
    let s = &f.store;
    let a = function("abc");
    let b = function("abc");
    s.put_function(&a, b"one").await.unwrap();
    s.put_function(&b, b"two").await.unwrap();
    assert_eq!(s.function(a.id).await.unwrap(), Some(a.clone()));
    // Stored once per hash: the second put did not replace the bytes.
    assert_eq!(
        s.module("abc").await.unwrap().as_deref(),
        Some(&b"one".to_vec())
    );
    assert_eq!(s.function(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(s.module("nope").await.unwrap(), None);
}

async fn submitted_tasks_are_queued_and_claimed_in_order(f: Fixture) {
    let s = &f.store;
    let fid = registered(s).await;
    let ids = ordered_ids(s, 5);
    for (i, id) in ids.iter().enumerate() {
        s.submit(T, *id, fid, &json!([i]), None).await.unwrap();
    }
    let t = s.task(ids[0], ALL).await.unwrap().unwrap();
    assert_eq!(
        (t.status, t.attempts, t.function_id),
        (TaskStatus::Queued, 0, fid)
    );
    assert_eq!(t.result, serde_json::Value::Null);

    let first = s.claim("c1", 3, NO_WAIT).await.unwrap();
    let rest = s.claim("c2", 10, NO_WAIT).await.unwrap();
    let order: Vec<Uuid> = first.iter().chain(&rest).map(|c| c.task_id).collect();
    assert_eq!(order, ids);
    assert_eq!(first[1].payload, json!([1]));
    assert!(first.iter().all(|c| c.attempt == 1 && c.function_id == fid));
    let t = s.task(ids[0], ALL).await.unwrap().unwrap();
    assert_eq!((t.status, t.attempts), (TaskStatus::Running, 1));
    assert!(s.claim("c1", 10, NO_WAIT).await.unwrap().is_empty());
}

async fn claim_blocks_then_wakes_on_submit(f: Fixture) {
    let s = f.store.clone();
    let started = Instant::now();
    assert!(s
        .claim("c", 1, Duration::from_millis(200))
        .await
        .unwrap()
        .is_empty());
    assert!(started.elapsed() >= Duration::from_millis(150));

    let waiting = tokio::spawn({
        let s = s.clone();
        async move { s.claim("c", 1, Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = Uuid::new_v4();
    let submitted = Instant::now();
    s.submit(T, id, registered(&s).await, &json!([]), None)
        .await
        .unwrap();
    let got = waiting.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].task_id, id);
    assert!(submitted.elapsed() < Duration::from_secs(1), "woke late");
}

async fn final_state_is_written_once_by_the_current_attempt(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let claim = s.claim("c", 1, NO_WAIT).await.unwrap().remove(0);
    assert!(s
        .finish(&claim, &Final::Completed(json!(42)))
        .await
        .unwrap());
    let failed = Final::Failed {
        kind: "trap".into(),
        message: "late".into(),
    };
    assert!(
        !s.finish(&claim, &failed).await.unwrap(),
        "second finish must not apply"
    );
    let t = s.task(id, ALL).await.unwrap().unwrap();
    assert_eq!(
        (t.status, t.result.clone()),
        (TaskStatus::Completed, json!(42))
    );
    assert!(t.finished_at_ms.is_some() && t.started_at_ms.is_some());
    assert!(s.claim("c", 1, NO_WAIT).await.unwrap().is_empty());
}

async fn a_finished_task_keeps_its_log_and_usage(f: Fixture) {
    let s = &f.store;
    let function = registered(s).await;
    let ids = [Uuid::new_v4(), Uuid::new_v4()];
    for id in ids {
        s.submit(T, id, function, &json!([]), None).await.unwrap();
    }
    let claims = s.claim("c", 2, NO_WAIT).await.unwrap();
    let usage = Usage {
        run_us: 1234,
        peak_memory_bytes: 65536,
        output_bytes: 2,
        log_bytes: 70_000,
        executor: "worker w 1 slot 0".into(),
    };
    // A log over the cap (from a worker, say) keeps its last bytes; an
    // attempt that never reached the guest reports nothing.
    let long_log = format!(
        "{}{}",
        "x".repeat(70_000 - MAX_LOG_BYTES),
        "y".repeat(MAX_LOG_BYTES)
    );
    let done = vec![
        (
            claims[0].clone(),
            Final::Completed(json!(42)),
            Report {
                logs: long_log,
                usage: Some(usage.clone()),
            },
        ),
        (
            claims[1].clone(),
            Final::Failed {
                kind: "trap".into(),
                message: "boom".into(),
            },
            Report::default(),
        ),
    ];
    assert_eq!(s.finish_many(&done).await.unwrap(), vec![true, true]);
    let by_id = |i: usize| {
        let id = claims[i].task_id;
        async move { s.task(id, ALL).await.unwrap().unwrap() }
    };
    let ran = by_id(0).await;
    assert_eq!(ran.logs, "y".repeat(MAX_LOG_BYTES));
    assert_eq!(ran.usage, Some(usage.clone()));
    let unrun = by_id(1).await;
    assert_eq!((unrun.logs.as_str(), unrun.usage), ("", None));
    let listed = s.recent_tasks(10, None, ALL).await.unwrap();
    let row = listed.iter().find(|t| t.id == claims[0].task_id).unwrap();
    assert_eq!(row.usage, Some(usage));
}

async fn a_lapsed_lease_is_re_run_and_the_old_attempt_cannot_finish(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let old = s.claim("dead", 1, NO_WAIT).await.unwrap().remove(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let new = s.claim("alive", 1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(new.len(), 1, "lapsed task was not handed out again");
    let new = &new[0];
    assert_eq!((new.task_id, new.attempt), (id, 2));
    assert!(!s
        .finish(&old, &Final::Completed(json!("old")))
        .await
        .unwrap());
    assert!(s
        .finish(new, &Final::Completed(json!("new")))
        .await
        .unwrap());
    let t = s.task(id, ALL).await.unwrap().unwrap();
    assert_eq!((t.result, t.attempts), (json!("new"), 2));
}

async fn renewed_leases_are_not_taken(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let claim = s.claim("busy", 1, NO_WAIT).await.unwrap();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.renew("busy", &claim).await.unwrap();
        assert!(s.claim("thief", 1, NO_WAIT).await.unwrap().is_empty());
    }
    assert!(s
        .finish(&claim[0], &Final::Completed(json!(1)))
        .await
        .unwrap());
}

async fn a_task_whose_executors_keep_dying_fails_as_lost(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    for attempt in 1..=3 {
        let c = s.claim("dies", 1, Duration::from_secs(2)).await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].attempt, attempt);
        tokio::time::sleep(Duration::from_millis(450)).await;
    }
    assert!(s
        .claim("dies", 1, Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    let t = s.task(id, ALL).await.unwrap().unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    assert_eq!(t.result, json!("worker lost 3 times"));
    assert_eq!(t.failure_kind.as_deref(), Some("lost"));
}

async fn wait_final_returns_on_completion_or_timeout(f: Fixture) {
    let s = f.store.clone();
    let id = Uuid::new_v4();
    s.submit(T, id, registered(&s).await, &json!([]), None)
        .await
        .unwrap();
    let t = s
        .wait_final(id, Duration::from_millis(200), ALL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.status, TaskStatus::Queued);

    let claim = s.claim("c", 1, NO_WAIT).await.unwrap().remove(0);
    let waiter = tokio::spawn({
        let s = s.clone();
        async move { s.wait_final(id, Duration::from_secs(60), ALL).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let finished = Instant::now();
    s.finish(&claim, &Final::Completed(json!("done")))
        .await
        .unwrap();
    let t = waiter.await.unwrap().unwrap().unwrap();
    assert_eq!((t.status, t.result), (TaskStatus::Completed, json!("done")));
    // Woken by the end, not by its 60 s running out.
    assert!(
        finished.elapsed() < Duration::from_secs(10),
        "long poll woke late"
    );
    assert_eq!(
        s.wait_final(Uuid::new_v4(), NO_WAIT, ALL).await.unwrap(),
        None
    );
}

async fn released_claims_go_back_without_counting(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let claim = s.claim("leaving", 1, NO_WAIT).await.unwrap().remove(0);
    s.release(&claim).await.unwrap();
    let t = s.task(id, ALL).await.unwrap().unwrap();
    assert_eq!((t.status, t.attempts), (TaskStatus::Queued, 0));
    let again = s.claim("next", 1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 1);
}

async fn requeued_claims_go_back_and_count(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    for attempt in 1..=3 {
        let claim = s
            .claim("w", 1, Duration::from_secs(1))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(claim.attempt, attempt);
        s.requeue(&claim).await.unwrap();
        assert!(
            !s.finish(&claim, &Final::Completed(json!(1))).await.unwrap(),
            "requeued attempt is stale"
        );
    }
    assert!(s
        .claim("w", 1, Duration::from_millis(200))
        .await
        .unwrap()
        .is_empty());
    let t = s.task(id, ALL).await.unwrap().unwrap();
    assert_eq!(
        (t.status, t.result),
        (TaskStatus::Failed, json!("worker lost 3 times"))
    );
}

async fn functions_are_listed_newest_first(f: Fixture) {
    let s = &f.store;
    assert!(s.functions(10, ALL).await.unwrap().is_empty());
    let mut records = Vec::new();
    for created in [10, 30, 20] {
        let mut r = function("abc");
        r.created_at_ms = created;
        r.name = format!("f{created}");
        s.put_function(&r, b"bytes").await.unwrap();
        records.push(r);
    }
    let listed = s.functions(10, ALL).await.unwrap();
    assert_eq!(
        listed,
        vec![records[1].clone(), records[2].clone(), records[0].clone()]
    );
    let names: Vec<String> = s
        .functions(2, ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["f30", "f20"]);
    assert!(s.functions(0, ALL).await.unwrap().is_empty());
    // Putting a record again does not list it twice.
    s.put_function(&records[0], b"bytes").await.unwrap();
    assert_eq!(s.functions(10, ALL).await.unwrap().len(), 3);
}

async fn recent_tasks_are_listed_newest_first_and_filtered(f: Fixture) {
    let s = &f.store;
    assert!(s.recent_tasks(10, None, ALL).await.unwrap().is_empty());
    let fid = registered(s).await;
    let ids = ordered_ids(s, 5);
    for id in &ids {
        s.submit(T, *id, fid, &json!([1]), None).await.unwrap();
    }
    let claims = s.claim("c", 2, NO_WAIT).await.unwrap();
    assert!(s
        .finish(&claims[0], &Final::Completed(json!(1)))
        .await
        .unwrap());
    let failed = Final::Failed {
        kind: "trap".into(),
        message: "boom".into(),
    };
    assert!(s.finish(&claims[1], &failed).await.unwrap());

    let all = s.recent_tasks(10, None, ALL).await.unwrap();
    let order: Vec<Uuid> = all.iter().map(|t| t.id).collect();
    let newest_first: Vec<Uuid> = ids.iter().rev().copied().collect();
    assert_eq!(order, newest_first);
    assert!(all
        .iter()
        .all(|t| t.function_id == fid && t.created_at_ms > 0));
    let t1 = &all[3];
    assert_eq!(
        (t1.status, t1.attempts, t1.failure_kind.as_deref()),
        (TaskStatus::Failed, 1, Some("trap"))
    );
    assert!(t1.started_at_ms.is_some() && t1.finished_at_ms.is_some());
    let t4 = &all[0];
    assert_eq!(
        (t4.status, t4.attempts, t4.started_at_ms),
        (TaskStatus::Queued, 0, None)
    );

    let ids_of =
        |tasks: Vec<faas_store::TaskSummary>| tasks.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(s.recent_tasks(2, None, ALL).await.unwrap()),
        newest_first[..2]
    );
    assert_eq!(
        ids_of(
            s.recent_tasks(10, Some(TaskStatus::Queued), ALL)
                .await
                .unwrap()
        ),
        newest_first[..3]
    );
    assert_eq!(
        ids_of(
            s.recent_tasks(1, Some(TaskStatus::Queued), ALL)
                .await
                .unwrap()
        ),
        [ids[4]]
    );
    assert_eq!(
        ids_of(
            s.recent_tasks(10, Some(TaskStatus::Failed), ALL)
                .await
                .unwrap()
        ),
        [ids[1]]
    );
    assert_eq!(
        ids_of(
            s.recent_tasks(10, Some(TaskStatus::Completed), ALL)
                .await
                .unwrap()
        ),
        [ids[0]]
    );
    assert!(s
        .recent_tasks(10, Some(TaskStatus::Running), ALL)
        .await
        .unwrap()
        .is_empty());
    assert!(s.recent_tasks(0, None, ALL).await.unwrap().is_empty());
}

/// Submits `n` tasks of one function, 100 at a time.
/// A new task id queued with those of `ordered_ids`.
fn task_id(s: &Store) -> Uuid {
    ordered_ids(s, 1)[0]
}

/// Submits `n` tasks, one a call, all queued together (`ordered_ids`).
async fn submit_many(s: &Store, n: usize) {
    let fid = registered(s).await;
    let payload = json!([]);
    let ids = ordered_ids(s, n);
    for start in (0..n).step_by(100) {
        let batch = (start..n.min(start + 100)).map(|i| s.submit(T, ids[i], fid, &payload, None));
        for done in futures::future::join_all(batch).await {
            done.unwrap();
        }
    }
}

async fn the_recent_task_index_is_capped(f: Fixture) {
    let s = &f.store;
    let first = ordered_ids(s, 1)[0];
    s.submit(T, first, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let claim = s.claim("c", 1, NO_WAIT).await.unwrap();
    assert_eq!(claim[0].task_id, first);
    // A filter finds a match far down the index (past one read's worth).
    submit_many(s, 1_200).await;
    let running = s
        .recent_tasks(10, Some(TaskStatus::Running), ALL)
        .await
        .unwrap();
    assert_eq!(running.iter().map(|t| t.id).collect::<Vec<_>>(), [first]);
    // Past the cap, the oldest submissions are no longer listed (but still readable).
    submit_many(s, RECENT_TASKS - 1_200).await;
    let all = s.recent_tasks(RECENT_TASKS + 10, None, ALL).await.unwrap();
    assert_eq!(all.len(), RECENT_TASKS);
    assert!(all.iter().all(|t| t.id != first));
    assert!(s
        .recent_tasks(10, Some(TaskStatus::Running), ALL)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.task(first, ALL).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
}

async fn a_batch_is_stored_indexed_and_claimed_in_order(f: Fixture) {
    let s = &f.store;
    let fid = registered(s).await;
    // More than one Redis chunk (1,000 per MULTI).
    let tasks: Vec<(Uuid, serde_json::Value)> = ordered_ids(s, 2_500)
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, json!([i])))
        .collect();
    s.submit_many(T, fid, &tasks, None).await.unwrap();
    s.submit_many(T, fid, &[], None).await.unwrap();
    let ids: Vec<Uuid> = tasks.iter().map(|(id, _)| *id).collect();

    let read = s.tasks_many(&ids, ALL).await.unwrap();
    assert_eq!(read.len(), ids.len());
    for ((id, payload), record) in tasks.iter().zip(&read) {
        let t = record.as_ref().expect("stored");
        assert_eq!((t.id, t.function_id, &t.payload), (*id, fid, payload));
        assert_eq!(
            (t.status, t.attempts, &t.result),
            (TaskStatus::Queued, 0, &serde_json::Value::Null)
        );
    }
    // Unknown ids read as None, in their place.
    let unknown = Uuid::new_v4();
    let mixed = s.tasks_many(&[ids[7], unknown, ids[0]], ALL).await.unwrap();
    let mixed: Vec<Option<Uuid>> = mixed.iter().map(|t| t.as_ref().map(|t| t.id)).collect();
    assert_eq!(mixed, [Some(ids[7]), None, Some(ids[0])]);
    assert!(s.tasks_many(&[], ALL).await.unwrap().is_empty());

    // The recent index: the batch's last task is the newest.
    let recent = s.recent_tasks(3, None, ALL).await.unwrap();
    let recent: Vec<Uuid> = recent.iter().map(|t| t.id).collect();
    assert_eq!(recent, [ids[2_499], ids[2_498], ids[2_497]]);

    // Claimable, in the batch's order.
    let mut claimed = Vec::new();
    while claimed.len() < ids.len() {
        let got = s.claim("c", 500, NO_WAIT).await.unwrap();
        assert!(
            !got.is_empty(),
            "claimed only {} of {}",
            claimed.len(),
            ids.len()
        );
        claimed.extend(got);
    }
    assert_eq!(claimed.iter().map(|c| c.task_id).collect::<Vec<_>>(), ids);
    assert_eq!(claimed[3].payload, json!([3]));
    assert!(s.claim("c", 1, NO_WAIT).await.unwrap().is_empty());
}

async fn a_batch_wakes_a_blocked_claim(f: Fixture) {
    let s = f.store.clone();
    let claimer = tokio::spawn({
        let s = s.clone();
        async move { s.claim("c", 10, Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = Uuid::new_v4();
    let sent = Instant::now();
    s.submit_many(T, registered(&s).await, &[(id, json!([]))], None)
        .await
        .unwrap();
    let got = claimer.await.unwrap().unwrap();
    assert_eq!(got.iter().map(|c| c.task_id).collect::<Vec<_>>(), [id]);
    assert!(sent.elapsed() < Duration::from_secs(2), "claim woke late");
}

async fn wait_final_many_returns_when_all_are_final_or_on_timeout(f: Fixture) {
    let s = f.store.clone();
    let tasks: Vec<(Uuid, serde_json::Value)> = ordered_ids(&s, 3)
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, json!([i])))
        .collect();
    s.submit_many(T, registered(&s).await, &tasks, None)
        .await
        .unwrap();
    let ids: Vec<Uuid> = tasks.iter().map(|(id, _)| *id).collect();
    let unknown = Uuid::new_v4();
    let asked = [ids[0], unknown, ids[1], ids[2]];

    // Timeout: the latest records, unfinished.
    let started = Instant::now();
    let read = s
        .wait_final_many(&asked, Duration::from_millis(200), ALL)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(read[1].is_none());
    assert!(read
        .iter()
        .flatten()
        .all(|t| t.status == TaskStatus::Queued));

    let claims = s.claim("c", 3, NO_WAIT).await.unwrap();
    let waiter = tokio::spawn({
        let s = s.clone();
        async move {
            s.wait_final_many(&asked, Duration::from_secs(60), ALL)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.finish(&claims[0], &Final::Completed(json!("a")))
        .await
        .unwrap();
    s.finish(&claims[1], &Final::Completed(json!("b")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "returned before every task ended");
    let finished = Instant::now();
    s.finish(
        &claims[2],
        &Final::Failed {
            kind: "trap".into(),
            message: "c".into(),
        },
    )
    .await
    .unwrap();
    let read = waiter.await.unwrap().unwrap();
    // Woken by the end, not by its 60 s running out.
    assert!(
        finished.elapsed() < Duration::from_secs(10),
        "long poll woke late"
    );
    let got: Vec<Option<(Uuid, TaskStatus, serde_json::Value)>> = read
        .into_iter()
        .map(|t| t.map(|t| (t.id, t.status, t.result)))
        .collect();
    assert_eq!(
        got,
        [
            Some((ids[0], TaskStatus::Completed, json!("a"))),
            None,
            Some((ids[1], TaskStatus::Completed, json!("b"))),
            Some((ids[2], TaskStatus::Failed, json!("c"))),
        ]
    );
}

async fn outcomes_and_the_trimmed_queue_leave_results_readable(f: Fixture) {
    let s = f.store.clone();
    let tasks: Vec<(Uuid, serde_json::Value)> = ordered_ids(&s, 4)
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, json!([i])))
        .collect();
    s.submit_many(T, registered(&s).await, &tasks, None)
        .await
        .unwrap();
    let ids: Vec<Uuid> = tasks.iter().map(|(id, _)| *id).collect();
    let claims = s.claim("c", 2, NO_WAIT).await.unwrap();
    s.finish(&claims[0], &Final::Completed(json!({"n": 0})))
        .await
        .unwrap();
    s.finish(
        &claims[1],
        &Final::Failed {
            kind: "trap".into(),
            message: "boom".into(),
        },
    )
    .await
    .unwrap();
    // The queue's ended entries go; the two never claimed stay claimable.
    s.trim_queue().await.unwrap();
    let unknown = Uuid::new_v4();
    let read = s
        .outcomes_many(&[ids[0], unknown, ids[1], ids[3]], ALL)
        .await
        .unwrap();
    let got: Vec<Option<(TaskStatus, serde_json::Value)>> = read
        .into_iter()
        .map(|o| o.map(|o| (o.status, o.result)))
        .collect();
    assert_eq!(
        got,
        [
            Some((TaskStatus::Completed, json!({"n": 0}))),
            None,
            Some((TaskStatus::Failed, json!("boom"))),
            Some((TaskStatus::Queued, json!(null))),
        ]
    );
    let waited = s
        .wait_outcomes_many(&ids[..2], Duration::from_secs(5), ALL)
        .await
        .unwrap();
    assert!(
        waited
            .iter()
            .all(|o| o.as_ref().is_some_and(|o| o.status.is_final())),
        "{waited:?}"
    );
    let rest = s.claim("c", 10, NO_WAIT).await.unwrap();
    assert_eq!(rest.iter().map(|c| c.task_id).collect::<Vec<_>>(), ids[2..]);
}

async fn reads_and_listings_are_scoped_to_the_tenant(f: Fixture) {
    let s = &f.store;
    let mut mine = function("m");
    mine.tenant = "a".into();
    let mut theirs = function("t");
    theirs.tenant = "b".into();
    s.put_function(&mine, b"m").await.unwrap();
    s.put_function(&theirs, b"t").await.unwrap();
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    s.submit("a", x, mine.id, &json!([1]), None).await.unwrap();
    s.submit("b", y, theirs.id, &json!([2]), None)
        .await
        .unwrap();
    let (a, b) = (Scope::Tenant("a"), Scope::Tenant("b"));
    assert_eq!(s.task(x, a).await.unwrap().unwrap().tenant, "a");
    assert_eq!(
        s.task(y, a).await.unwrap(),
        None,
        "another tenant's task reads as unknown"
    );
    assert_eq!(
        s.statuses_many(&[x, y], a).await.unwrap(),
        vec![Some(TaskStatus::Queued), None]
    );
    let outcomes = s.outcomes_many(&[x, y], b).await.unwrap();
    assert!(outcomes[0].is_none() && outcomes[1].is_some());
    // Waiting on another tenant's task answers at once, as for an unknown
    // id, rather than waiting out its hour.
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        s.wait_outcomes_many(&[y], Duration::from_secs(3600), a),
    )
    .await
    .expect("another tenant's task is not waited for")
    .unwrap();
    assert_eq!(waited, vec![None]);
    let ids = |scope| async move {
        s.recent_tasks(10, None, scope)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(a).await, vec![x]);
    assert_eq!(ids(b).await, vec![y]);
    assert_eq!(ids(ALL).await, vec![y, x]);
    let functions = |scope| async move {
        s.functions(10, scope)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(functions(a).await, vec![mine.id]);
    assert_eq!(functions(ALL).await.len(), 2);
    assert!(s
        .functions(10, Scope::Tenant("nobody"))
        .await
        .unwrap()
        .is_empty());
}

fn over_quota(e: StoreError) -> OverQuota {
    match e {
        StoreError::OverQuota(q) => q,
        other => panic!("expected over quota, got {other}"),
    }
}

async fn active_tasks_are_capped_per_tenant_and_counted_down_as_they_end(f: Fixture) {
    let s = &f.store;
    let info = s
        .set_limits(
            "q",
            &LimitOverrides {
                max_active_tasks: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(info.limits.max_active_tasks, 3);
    let fid = registered(s).await;
    let batch = |n: usize| (0..n).map(|i| (task_id(s), json!([i]))).collect::<Vec<_>>();
    let four = batch(4);
    let err = over_quota(s.submit_many("q", fid, &four, None).await.unwrap_err());
    assert_eq!(err.limit, Limit::ActiveTasks);
    assert!(
        err.detail.contains("max_active_tasks is 3"),
        "{}",
        err.detail
    );
    assert_eq!(
        s.task(four[0].0, ALL).await.unwrap(),
        None,
        "nothing of a refused batch is stored"
    );
    s.submit_many("q", fid, &batch(3), None).await.unwrap();
    assert_eq!(s.tenant("q").await.unwrap().active_tasks, 3);
    // Other tenants are not affected.
    s.submit_many("other", fid, &batch(4), None).await.unwrap();
    over_quota(
        s.submit("q", task_id(s), fid, &json!([]), None)
            .await
            .unwrap_err(),
    );
    // One ends: room for one more.
    let claims = s.claim("c", 1, NO_WAIT).await.unwrap();
    let owner = s
        .task(claims[0].task_id, ALL)
        .await
        .unwrap()
        .unwrap()
        .tenant;
    assert!(s
        .finish(&claims[0], &Final::Completed(json!(1)))
        .await
        .unwrap());
    assert_eq!(
        s.tenant(&owner).await.unwrap().active_tasks,
        if owner == "q" { 2 } else { 3 }
    );
    assert_eq!(owner, "q", "tasks are claimed in order");
    s.submit("q", task_id(s), fid, &json!([]), None)
        .await
        .unwrap();
    assert_eq!(s.tenant("q").await.unwrap().active_tasks, 3);
}

async fn submissions_are_rate_limited_per_tenant(f: Fixture) {
    let s = &f.store;
    s.set_limits(
        "r",
        &LimitOverrides {
            // Slow enough that a refill never lets the refused batch in,
            // however slow the machine.
            submit_rate: Some(1),
            submit_burst: Some(20),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let fid = registered(s).await;
    let batch = |n: usize| {
        (0..n)
            .map(|i| (Uuid::new_v4(), json!([i])))
            .collect::<Vec<_>>()
    };
    let err = over_quota(s.submit_many("r", fid, &batch(21), None).await.unwrap_err());
    assert_eq!(err.limit, Limit::SubmitRate);
    assert!(err.detail.contains("split the batch"), "{}", err.detail);
    s.submit_many("r", fid, &batch(20), None).await.unwrap();
    let refused = batch(5);
    let err = over_quota(s.submit_many("r", fid, &refused, None).await.unwrap_err());
    // Five tokens at one a second: due within five seconds, not now.
    assert!(
        err.retry_after > Duration::ZERO && err.retry_after <= Duration::from_secs(5),
        "{:?}",
        err.retry_after
    );
    assert_eq!(s.task(refused[0].0, ALL).await.unwrap(), None);
    assert_eq!(s.tenant("r").await.unwrap().active_tasks, 20);
}

async fn module_bytes_are_capped_per_tenant(f: Fixture) {
    let s = &f.store;
    s.set_limits(
        "m",
        &LimitOverrides {
            max_module_bytes: Some(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut one = function("h1");
    one.tenant = "m".into();
    s.put_function(&one, b"123456").await.unwrap();
    let mut two = function("h2");
    two.tenant = "m".into();
    let err = over_quota(s.put_function(&two, b"12345").await.unwrap_err());
    assert_eq!(err.limit, Limit::ModuleBytes);
    assert_eq!(s.function(two.id).await.unwrap(), None);
    assert_eq!(s.tenant("m").await.unwrap().module_bytes, 6);
}

async fn a_receipt_with_a_guessed_token_changes_nothing(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let claim = s.claim("c", 1, NO_WAIT).await.unwrap().remove(0);
    let mut guessed = claim.clone();
    // Everything right but the random part.
    guessed.receipt = match claim.receipt.rsplit_once('.') {
        Some((entry, _)) => format!("{entry}.0000000000000000"),
        None => "0000000000000000".into(),
    };
    assert!(!s
        .finish(&guessed, &Final::Completed(json!("forged")))
        .await
        .unwrap());
    s.release(&guessed).await.unwrap();
    assert_eq!(
        s.task(id, ALL).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    assert!(s
        .finish(&claim, &Final::Completed(json!("real")))
        .await
        .unwrap());
    assert_eq!(
        s.task(id, ALL).await.unwrap().unwrap().result,
        json!("real")
    );
}

fn api_key(id: &str, tenant: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        hash: format!("hash-of-{id}"),
        tenant: tenant.into(),
        admin: false,
        created_at_ms: 5,
        last_used_ms: None,
    }
}

async fn keys_are_stored_listed_touched_and_revoked(f: Fixture) {
    let s = &f.store;
    assert!(
        s.put_key(&api_key("k1", "a"), true).await.unwrap(),
        "the first key"
    );
    assert!(
        !s.put_key(&api_key("k0", "a"), true).await.unwrap(),
        "only the first"
    );
    assert!(s.put_key(&api_key("k2", "b"), false).await.unwrap());
    assert_eq!(s.api_key("k1").await.unwrap(), Some(api_key("k1", "a")));
    assert_eq!(s.api_key("nope").await.unwrap(), None);
    s.touch_keys(&[("k2".into(), 77)]).await.unwrap();
    let listed = s.api_keys().await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    assert_eq!(listed[1].last_used_ms, Some(77));
    assert!(s.revoke_key("k1").await.unwrap());
    assert!(!s.revoke_key("k1").await.unwrap());
    assert_eq!(s.api_key("k1").await.unwrap(), None);
    // A revoked key is not brought back by a late touch.
    s.touch_keys(&[("k1".into(), 78)]).await.unwrap();
    assert_eq!(s.api_key("k1").await.unwrap(), None);
    assert_eq!(s.api_keys().await.unwrap().len(), 1);
}

/// Whether the task reads as unknown (past its retention) within `limit`,
/// checked every 50 ms, after a sweep as the dispatchers do every second.
async fn gone_within(s: &Store, id: Uuid, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        s.sweep_expired().await.unwrap();
        if s.task(id, ALL).await.unwrap().is_none() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Retentions in these tests: short, and the waits for them generous.
const SHORT_TTL: Option<Duration> = Some(Duration::from_secs(1));
const PATIENCE: Duration = Duration::from_secs(10);

async fn a_finished_task_is_gone_after_its_ttl_and_unfinished_ones_stay(f: Fixture) {
    let s = &f.store;
    let fid = registered(s).await;
    let (done, running, kept, queued) = (task_id(s), task_id(s), task_id(s), task_id(s));
    s.submit(T, done, fid, &json!([]), SHORT_TTL).await.unwrap();
    s.submit(T, running, fid, &json!([]), SHORT_TTL)
        .await
        .unwrap();
    s.submit(T, kept, fid, &json!([]), None).await.unwrap();
    let claims = s.claim("c", 3, NO_WAIT).await.unwrap();
    assert_eq!(claims.len(), 3);
    s.submit(T, queued, fid, &json!([]), SHORT_TTL)
        .await
        .unwrap();
    for claim in [&claims[0], &claims[2]] {
        assert!(s.finish(claim, &Final::Completed(json!(7))).await.unwrap());
    }
    assert_eq!(
        s.task(done, ALL).await.unwrap().map(|t| t.status),
        Some(TaskStatus::Completed),
        "kept for its retention"
    );
    assert!(gone_within(s, done, PATIENCE).await, "never expired");
    // Gone everywhere, as an unknown id is.
    assert_eq!(s.outcomes_many(&[done], ALL).await.unwrap(), vec![None]);
    assert_eq!(s.statuses_many(&[done], ALL).await.unwrap(), vec![None]);
    assert_eq!(s.tasks_many(&[done], ALL).await.unwrap(), vec![None]);
    assert_eq!(s.wait_outcome(done, NO_WAIT, ALL).await.unwrap(), None);
    assert_eq!(s.wait_final(done, NO_WAIT, ALL).await.unwrap(), None);
    // A late finish of it changes nothing and brings nothing back.
    assert!(!s
        .finish(&claims[0], &Final::Completed(json!(8)))
        .await
        .unwrap());
    assert_eq!(s.task(done, ALL).await.unwrap(), None);
    // Their ttl has passed, but they have not ended: still there.
    let status = |id| async move { s.task(id, ALL).await.unwrap().map(|t| t.status) };
    assert_eq!(status(running).await, Some(TaskStatus::Running));
    assert_eq!(status(queued).await, Some(TaskStatus::Queued));
    // The deployment's retention (a day here) keeps the other one.
    assert_eq!(status(kept).await, Some(TaskStatus::Completed));
    // A retention starts when the task ends.
    assert!(s
        .finish(&claims[1], &Final::Completed(json!(9)))
        .await
        .unwrap());
    assert_eq!(status(running).await, Some(TaskStatus::Completed));
    assert!(gone_within(s, running, PATIENCE).await);
    assert_eq!(status(queued).await, Some(TaskStatus::Queued));
}

async fn a_ttl_past_the_maximum_is_capped(f: Fixture) {
    let s = f
        .store_with(StoreConfig {
            max_result_ttl: Duration::from_secs(1),
            ..config()
        })
        .await;
    let (id, kept) = (Uuid::new_v4(), Uuid::new_v4());
    let fid = registered(&s).await;
    let a_day = Some(Duration::from_secs(24 * 3600));
    s.submit(T, id, fid, &json!([]), a_day).await.unwrap();
    // The cap is on what a submission asks; the deployment's own
    // retention (a day) is not cut by it.
    s.submit(T, kept, fid, &json!([]), None).await.unwrap();
    for claim in s.claim("c", 2, NO_WAIT).await.unwrap() {
        assert!(s.finish(&claim, &Final::Completed(json!(1))).await.unwrap());
    }
    assert!(gone_within(&s, id, PATIENCE).await, "kept past the cap");
    assert!(s.task(kept, ALL).await.unwrap().is_some());
}

async fn a_ttl_of_zero_is_gone_when_the_task_ends(f: Fixture) {
    let s = f.store.clone();
    let id = Uuid::new_v4();
    s.submit(
        T,
        id,
        registered(&s).await,
        &json!([]),
        Some(Duration::ZERO),
    )
    .await
    .unwrap();
    let claim = s.claim("c", 1, NO_WAIT).await.unwrap().remove(0);
    // A long poll already waiting still gets the outcome it is woken with.
    let waiter = tokio::spawn({
        let s = s.clone();
        async move { s.wait_outcome(id, PATIENCE, ALL).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(s.finish(&claim, &Final::Completed(json!(5))).await.unwrap());
    assert_eq!(s.task(id, ALL).await.unwrap(), None);
    let outcome = waiter.await.unwrap().unwrap().expect("the outcome");
    assert_eq!(
        (outcome.status, outcome.result),
        (TaskStatus::Completed, json!(5))
    );
}

async fn a_lost_task_expires_too(f: Fixture) {
    let s = &f.store;
    let id = Uuid::new_v4();
    s.submit(T, id, registered(s).await, &json!([]), SHORT_TTL)
        .await
        .unwrap();
    for _ in 1..=3 {
        let claimed = s.claim("dies", 1, Duration::from_secs(2)).await.unwrap();
        assert_eq!(claimed.len(), 1);
        tokio::time::sleep(Duration::from_millis(450)).await;
    }
    // This claim finds the attempts spent and fails the task as lost.
    assert!(s
        .claim("dies", 1, Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    let t = s.task(id, ALL).await.unwrap();
    assert!(
        t.is_none() || t.is_some_and(|t| t.failure_kind.as_deref() == Some("lost")),
        "failed as lost, or already gone"
    );
    assert!(
        gone_within(s, id, PATIENCE).await,
        "a lost task never expired"
    );
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 0);
}

async fn recent_tasks_skip_expired_ids(f: Fixture) {
    let s = &f.store;
    let fid = registered(s).await;
    // The oldest outlive the newest: expired ids sit at the top of the
    // list, where a listing starts.
    let kept: Vec<Uuid> = (0..2).map(|_| task_id(s)).collect();
    let short: Vec<Uuid> = (0..3).map(|_| task_id(s)).collect();
    for id in &kept {
        s.submit(T, *id, fid, &json!([]), None).await.unwrap();
    }
    let first = s.claim("c", 1, NO_WAIT).await.unwrap().remove(0);
    assert!(s.finish(&first, &Final::Completed(json!(1))).await.unwrap());
    for id in &short {
        s.submit(T, *id, fid, &json!([]), SHORT_TTL).await.unwrap();
    }
    for claim in s.claim("c", 10, NO_WAIT).await.unwrap() {
        if claim.task_id != kept[1] {
            assert!(s.finish(&claim, &Final::Completed(json!(2))).await.unwrap());
        }
    }
    for id in &short {
        assert!(gone_within(s, *id, PATIENCE).await);
    }
    let ids =
        |tasks: Vec<faas_store::TaskSummary>| tasks.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let newest_first = [kept[1], kept[0]];
    assert_eq!(
        ids(s.recent_tasks(10, None, ALL).await.unwrap()),
        newest_first
    );
    assert_eq!(ids(s.recent_tasks(1, None, ALL).await.unwrap()), [kept[1]]);
    assert_eq!(
        ids(s.recent_tasks(10, None, Scope::Tenant(T)).await.unwrap()),
        newest_first
    );
    assert_eq!(
        ids(s
            .recent_tasks(10, Some(TaskStatus::Completed), ALL)
            .await
            .unwrap()),
        [kept[0]]
    );
    // Listing again (after any clean-up the first listing did) agrees.
    assert_eq!(
        ids(s.recent_tasks(10, None, ALL).await.unwrap()),
        newest_first
    );
}

/// Reads a task's status, result and failure kind.
async fn ending(s: &Store, id: Uuid) -> (TaskStatus, serde_json::Value, Option<String>) {
    let t = s.task(id, ALL).await.unwrap().expect("the task exists");
    (t.status, t.result, t.failure_kind)
}

fn cancelled_ending() -> (TaskStatus, serde_json::Value, Option<String>) {
    (TaskStatus::Failed, json!(CANCELLED), Some(CANCELLED.into()))
}

async fn a_cancelled_queued_task_never_starts(f: Fixture) {
    let s = &f.store;
    let (doomed, kept) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [doomed, kept] {
        s.submit(T, id, registered(s).await, &json!([]), None)
            .await
            .unwrap();
    }
    let other = Scope::Tenant("someone-else");
    assert_eq!(
        s.cancel_many(&[doomed], other).await.unwrap(),
        [Cancelled::Unknown],
        "another tenant's task reads as unknown"
    );
    let unknown = Uuid::new_v4();
    assert_eq!(
        s.cancel_many(&[doomed, unknown], Scope::Tenant(T))
            .await
            .unwrap(),
        [Cancelled::Now, Cancelled::Unknown]
    );
    assert_eq!(ending(s, doomed).await, cancelled_ending());
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 1);
    let claims = s.claim("c", 10, NO_WAIT).await.unwrap();
    assert_eq!(
        claims.iter().map(|c| c.task_id).collect::<Vec<_>>(),
        [kept],
        "the cancelled task is never handed out"
    );
    assert_eq!(
        s.cancel_many(&[doomed], ALL).await.unwrap(),
        [Cancelled::AlreadyEnded(TaskStatus::Failed)],
        "cancelling again changes nothing"
    );
    assert!(s
        .finish(&claims[0], &Final::Completed(json!(1)))
        .await
        .unwrap());
    assert_eq!(
        s.cancel_many(&[kept], ALL).await.unwrap(),
        [Cancelled::AlreadyEnded(TaskStatus::Completed)]
    );
    assert_eq!(ending(s, kept).await.0, TaskStatus::Completed);
    // Its long poll ends with the cancellation.
    let waited = s
        .wait_final(doomed, Duration::from_secs(5), ALL)
        .await
        .unwrap();
    assert_eq!(waited.map(|t| t.status), Some(TaskStatus::Failed));
}

async fn a_cancelled_running_task_ends_at_once_and_its_holder_is_told(f: Fixture) {
    let s = &f.store;
    let function = registered(s).await;
    let mut notices = s.notices().await;
    let id = Uuid::new_v4();
    s.submit(T, id, function, &json!([]), None).await.unwrap();
    let claim = s.claim("c", 1, NO_WAIT).await.unwrap().remove(0);
    assert_eq!(s.cancel_many(&[id], ALL).await.unwrap(), [Cancelled::Now]);
    assert_eq!(ending(s, id).await, cancelled_ending());
    let told = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await;
    assert_eq!(told.ok().flatten(), Some(Notice::Stop(vec![id])));
    // A holder that missed the notice hears it at its next renewal.
    assert_eq!(
        s.renew("c", std::slice::from_ref(&claim)).await.unwrap(),
        [id]
    );
    // The attempt's own end is dropped, and it is never run again.
    assert!(!s.finish(&claim, &Final::Completed(json!(1))).await.unwrap());
    s.requeue(&claim).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await; // past the lease
    assert!(s.claim("c", 1, NO_WAIT).await.unwrap().is_empty());
    assert_eq!(ending(s, id).await, cancelled_ending());
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 0);
}

async fn a_submission_beyond_the_queue_depth_stores_nothing(f: Fixture) {
    let s = f
        .store_with(StoreConfig {
            max_queue_depth: 3,
            ..config()
        })
        .await;
    let function = registered(&s).await;
    let two: Vec<(Uuid, serde_json::Value)> = (0..2).map(|_| (Uuid::new_v4(), json!([]))).collect();
    s.submit_many(T, function, &two, None).await.unwrap();
    let over = s.submit_many(T, function, &two, None).await.unwrap_err();
    let over = over_quota(over);
    assert_eq!(over.limit, Limit::QueueDepth);
    assert!(over.detail.contains("queue is full"), "{}", over.detail);
    assert_eq!(
        s.tenant(T).await.unwrap().active_tasks,
        2,
        "nothing of it stored"
    );
    s.submit(T, Uuid::new_v4(), function, &json!([]), None)
        .await
        .unwrap();
}

async fn a_deleted_function_fails_its_queued_tasks_and_refuses_new_ones(f: Fixture) {
    let s = &f.store;
    let mut notices = s.notices().await;
    let (doomed, twin) = (function("shared"), function("shared"));
    s.put_function(&doomed, b"one").await.unwrap();
    s.put_function(&twin, b"one").await.unwrap();
    for registered in [doomed.id, twin.id] {
        let told = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await;
        assert_eq!(
            told.ok().flatten(),
            Some(Notice::FunctionRegistered(registered)),
            "dispatchers may compile a new function ahead of its tasks"
        );
    }
    assert_eq!(s.tenant(T).await.unwrap().module_bytes, 6);
    let (running, lapsing, queued) = (task_id(s), task_id(s), task_id(s));
    for id in [running, lapsing] {
        s.submit(T, id, doomed.id, &json!([]), None).await.unwrap();
    }
    let claims = s.claim("c", 2, NO_WAIT).await.unwrap();
    assert_eq!(claims.len(), 2);
    s.submit(T, queued, doomed.id, &json!([]), None)
        .await
        .unwrap();

    let other = Scope::Tenant("someone-else");
    assert!(!s.delete_function(doomed.id, other).await.unwrap());
    assert!(s
        .delete_function(doomed.id, Scope::Tenant(T))
        .await
        .unwrap());
    assert!(!s.delete_function(doomed.id, ALL).await.unwrap(), "gone");
    let told = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await;
    assert_eq!(
        told.ok().flatten(),
        Some(Notice::FunctionDeleted(doomed.id))
    );
    assert_eq!(s.function(doomed.id).await.unwrap(), None);
    let listed: Vec<Uuid> = s
        .functions(10, ALL)
        .await
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(listed, [twin.id]);
    assert!(
        s.module("shared").await.unwrap().is_some(),
        "its twin uses it"
    );
    assert_eq!(s.tenant(T).await.unwrap().module_bytes, 3);
    let refused = s.submit(T, task_id(s), doomed.id, &json!([]), None).await;
    assert!(
        matches!(refused, Err(StoreError::NoFunction(id)) if id == doomed.id),
        "{refused:?}"
    );

    // The queued task is never handed out: it ends, saying why.
    assert!(s.claim("c", 10, NO_WAIT).await.unwrap().is_empty());
    let message = format!(
        "function {} was deleted before this task started",
        doomed.id
    );
    let deleted_ending = (
        TaskStatus::Failed,
        json!(message),
        Some(MISSING_FUNCTION.to_string()),
    );
    assert_eq!(ending(s, queued).await, deleted_ending);
    // One that was running finishes.
    assert!(s
        .finish(&claims[0], &Final::Completed(json!(1)))
        .await
        .unwrap());
    assert_eq!(ending(s, running).await.0, TaskStatus::Completed);
    // One whose attempt was lost is not run again.
    tokio::time::sleep(Duration::from_millis(500)).await; // past the lease
    assert!(s.claim("c", 10, NO_WAIT).await.unwrap().is_empty());
    assert_eq!(ending(s, lapsing).await, deleted_ending);
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 0);

    // The last function of a module takes it along.
    assert!(s.delete_function(twin.id, ALL).await.unwrap());
    assert_eq!(s.module("shared").await.unwrap(), None);
    assert_eq!(s.tenant(T).await.unwrap().module_bytes, 0);
    assert!(s.functions(10, ALL).await.unwrap().is_empty());
}

async fn stats_count_submissions_endings_and_latency(f: Fixture) {
    let s = &f.store;
    let fid = registered(s).await;
    let quiet = s.stats(30).await.unwrap();
    assert_eq!(quiet.seconds.len(), 30);
    assert_eq!((quiet.queued, quiet.running), (0, 0));
    assert!(quiet.seconds.iter().all(|sec| sec.submitted == 0));
    let mut ids = ordered_ids(s, 4);
    let doomed = ids.pop().unwrap();
    let batch: Vec<(Uuid, serde_json::Value)> = ids.into_iter().map(|id| (id, json!([]))).collect();
    s.submit_many(T, fid, &batch, None).await.unwrap();
    s.submit(T, doomed, fid, &json!([]), None).await.unwrap();
    let claims = s.claim("c", 3, NO_WAIT).await.unwrap();
    assert_eq!(claims.len(), 3);
    let now = s.stats(30).await.unwrap();
    assert_eq!((now.queued, now.running), (1, 3), "{now:?}");
    let failed = Final::Failed {
        kind: "trap".into(),
        message: "boom".into(),
    };
    let report = Report::default();
    let done = [
        (
            claims[0].clone(),
            Final::Completed(json!(1)),
            report.clone(),
        ),
        (
            claims[1].clone(),
            Final::Completed(json!(2)),
            report.clone(),
        ),
        (claims[2].clone(), failed, report),
    ];
    s.finish_many(&done).await.unwrap();
    s.cancel_many(&[doomed], ALL).await.unwrap();
    let stats = s.stats(30).await.unwrap();
    let sum = |field: fn(&faas_contract::SecondStats) -> u64| {
        stats.seconds.iter().map(field).sum::<u64>()
    };
    assert_eq!(
        (
            sum(|x| x.submitted),
            sum(|x| x.completed),
            sum(|x| x.failed)
        ),
        (4, 2, 2),
        "{stats:?}"
    );
    // The cancelled task did not run: its latency is not counted.
    let latencies: u64 = stats.seconds.iter().flat_map(|x| &x.latency_counts).sum();
    assert_eq!(latencies, 3);
    assert_eq!((stats.queued, stats.running), (0, 0), "{stats:?}");
    assert_eq!(
        stats.seconds.last().map(|x| x.second),
        Some(stats.now_ms / 1000)
    );
    let function = s.function(fid).await.unwrap().unwrap();
    assert_eq!((function.invocations, function.failures), (4, 2));
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test] async fn $name() { super::$name(super::memory().await).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $name() { super::$name(super::redis().await).await })*
        }
        mod cluster {
            $(#[tokio::test] async fn $name() { super::$name(super::cluster().await).await })*
        }
    };
}

suite!(
    functions_and_modules_round_trip,
    submitted_tasks_are_queued_and_claimed_in_order,
    claim_blocks_then_wakes_on_submit,
    final_state_is_written_once_by_the_current_attempt,
    a_finished_task_keeps_its_log_and_usage,
    a_lapsed_lease_is_re_run_and_the_old_attempt_cannot_finish,
    renewed_leases_are_not_taken,
    a_task_whose_executors_keep_dying_fails_as_lost,
    wait_final_returns_on_completion_or_timeout,
    released_claims_go_back_without_counting,
    requeued_claims_go_back_and_count,
    functions_are_listed_newest_first,
    recent_tasks_are_listed_newest_first_and_filtered,
    the_recent_task_index_is_capped,
    a_batch_is_stored_indexed_and_claimed_in_order,
    a_batch_wakes_a_blocked_claim,
    wait_final_many_returns_when_all_are_final_or_on_timeout,
    outcomes_and_the_trimmed_queue_leave_results_readable,
    reads_and_listings_are_scoped_to_the_tenant,
    active_tasks_are_capped_per_tenant_and_counted_down_as_they_end,
    submissions_are_rate_limited_per_tenant,
    module_bytes_are_capped_per_tenant,
    a_receipt_with_a_guessed_token_changes_nothing,
    keys_are_stored_listed_touched_and_revoked,
    a_finished_task_is_gone_after_its_ttl_and_unfinished_ones_stay,
    a_ttl_past_the_maximum_is_capped,
    a_ttl_of_zero_is_gone_when_the_task_ends,
    a_lost_task_expires_too,
    recent_tasks_skip_expired_ids,
    a_cancelled_queued_task_never_starts,
    a_cancelled_running_task_ends_at_once_and_its_holder_is_told,
    a_submission_beyond_the_queue_depth_stores_nothing,
    a_deleted_function_fails_its_queued_tasks_and_refuses_new_ones,
    stats_count_submissions_endings_and_latency,
);

/// Two processes sharing one Redis: a key one of them has cached (it is
/// in use) stops working there the moment a revocation through the other
/// returns.
#[tokio::test]
async fn redis_a_revocation_reaches_every_store_before_it_returns() {
    let server = RedisServer::start();
    let one = Store::redis(&server.url(), config()).await.unwrap();
    let two = Store::redis(&server.url(), config()).await.unwrap();
    one.put_key(&api_key("k", "a"), false).await.unwrap();
    // Both read it (and cache it once their subscription is live).
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..50 {
        assert!(two.api_key("k").await.unwrap().is_some());
        assert!(one.api_key("k").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(Instant::now() < deadline);
    }
    assert!(one.revoke_key("k").await.unwrap());
    assert_eq!(
        two.api_key("k").await.unwrap(),
        None,
        "revoked everywhere at once"
    );
    assert_eq!(one.api_key("k").await.unwrap(), None);
}

#[tokio::test]
async fn redis_unreachable_at_start_is_a_clear_error() {
    let port = faas_e2e::free_port();
    let err = Store::redis(&format!("redis://127.0.0.1:{port}"), config())
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("cannot connect to Redis"), "{err}");
}

/// Credentials Redis refuses, wrong (WRONGPASS) or missing (NOAUTH), are
/// an error that says to check them.
#[tokio::test]
async fn redis_a_wrong_or_missing_password_is_a_clear_error() {
    let server = RedisServer::start_with(faas_e2e::RedisOptions {
        user: Some(("faas".into(), "s3cret".into())),
        ..faas_e2e::RedisOptions::default()
    });
    for url in [server.url_as(Some("faas:wrong")), server.url_as(None)] {
        let err = Store::redis(&url, config()).await.err().expect("must fail");
        assert!(
            err.to_string().contains("check the user name and password"),
            "{url}: {err}"
        );
    }
    Store::redis(&server.url(), config())
        .await
        .expect("the right password works");
}

/// Redis restarted empty (no persistence) has lost the queue's consumer
/// group with the stream: a claim that finds it missing (NOGROUP) makes it
/// again, and new tasks are delivered.
#[tokio::test]
async fn redis_a_lost_consumer_group_is_made_again() {
    let server = RedisServer::start();
    let s = Store::redis(&server.url(), config()).await.unwrap();
    assert_eq!(faas_e2e::redis_cli(server.port, &[], "FLUSHALL\n"), "OK\n");
    assert!(s.claim("c", 1, NO_WAIT).await.unwrap().is_empty());
    let id = Uuid::new_v4();
    s.submit(T, id, registered(&s).await, &json!([1]), None)
        .await
        .unwrap();
    let claims = s.claim("c", 1, NO_WAIT).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].task_id, id);
}

/// Receipts come back from workers over the network: one naming another
/// task's queue entry must not touch that entry (Redis keeps the entry id).
#[tokio::test]
async fn redis_a_wrong_receipt_changes_nothing() {
    let f = redis().await;
    let s = &f.store;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    s.submit(T, a, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    s.submit(T, b, registered(s).await, &json!([]), None)
        .await
        .unwrap();
    let claims = s.claim("c", 2, NO_WAIT).await.unwrap();
    let (ca, cb) = (&claims[0], &claims[1]);
    let forged = faas_store::Claim {
        receipt: cb.receipt.clone(),
        ..ca.clone()
    };
    assert!(!s
        .finish(&forged, &Final::Completed(json!("forged")))
        .await
        .unwrap());
    s.release(&forged).await.unwrap();
    assert_eq!(
        s.task(a, ALL).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    assert!(s.finish(cb, &Final::Completed(json!("b"))).await.unwrap());
    assert!(s.finish(ca, &Final::Completed(json!("a"))).await.unwrap());
    assert_eq!(s.task(a, ALL).await.unwrap().unwrap().result, json!("a"));
}

/// The embedded store holds at most `max_finished_records` finished
/// tasks: past it, the oldest finished go first, whatever their retention,
/// and unfinished tasks never count.
#[tokio::test]
async fn embedded_the_finished_record_cap_drops_the_oldest_finished_first() {
    let s = Store::memory(StoreConfig {
        max_finished_records: 3,
        ..config()
    });
    let fid = registered(&s).await;
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        s.submit(T, *id, fid, &json!([]), None).await.unwrap();
    }
    let queued = Uuid::new_v4();
    let mut claims = s.claim("c", 5, NO_WAIT).await.unwrap();
    s.submit(T, queued, fid, &json!([]), None).await.unwrap();
    // Finished in another order than submitted: 2, 0, 1, 3, 4.
    claims.swap(0, 2);
    claims.swap(1, 2);
    let finished_order: Vec<Uuid> = claims.iter().map(|c| c.task_id).collect();
    assert_eq!(finished_order, [ids[2], ids[0], ids[1], ids[3], ids[4]]);
    for claim in &claims {
        assert!(s.finish(claim, &Final::Completed(json!(1))).await.unwrap());
    }
    let held = s.tasks_many(&ids, ALL).await.unwrap();
    let held: Vec<bool> = held.iter().map(Option::is_some).collect();
    assert_eq!(
        held,
        [false, true, false, true, true],
        "the last 3 finished stay"
    );
    assert_eq!(
        s.task(queued, ALL).await.unwrap().map(|t| t.status),
        Some(TaskStatus::Queued)
    );
    let listed: Vec<Uuid> = s
        .recent_tasks(10, None, ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [queued, ids[4], ids[3], ids[1]]);
}

/// What Redis holds per task once its retention ends: nothing but its
/// id in the capped listing indexes. A finished task's hash is listed
/// for deletion at the second its retention ends (the deployment's when
/// the submission named none); unfinished ones are not.
#[tokio::test]
async fn redis_nothing_per_task_outlives_its_retention() {
    let f = redis().await;
    let s = &f.store;
    let Backend::Redis(server) = &f.backend else {
        panic!("a Redis fixture")
    };
    let client = ::redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let fid = registered(s).await;
    let short: Vec<(Uuid, serde_json::Value)> =
        (0..50).map(|_| (Uuid::new_v4(), json!([]))).collect();
    s.submit_many(T, fid, &short, SHORT_TTL).await.unwrap();
    let (kept, queued) = (Uuid::new_v4(), Uuid::new_v4());
    s.submit(T, kept, fid, &json!([]), None).await.unwrap();
    let claims = s.claim("c", 100, NO_WAIT).await.unwrap();
    assert_eq!(claims.len(), 51);
    s.submit(T, queued, fid, &json!([]), None).await.unwrap();
    // The second a task's record is to be deleted at, if it is scheduled.
    let due = |id: Uuid| {
        let mut conn = conn.clone();
        async move {
            let seconds: Vec<i64> = ::redis::cmd("ZRANGE")
                .arg("faas:expiring")
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .unwrap();
            for second in seconds {
                let keys: Vec<String> = ::redis::cmd("LRANGE")
                    .arg(format!("faas:expiring:{second}"))
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if keys.contains(&format!("faas:task:{id}")) {
                    return Some(second);
                }
            }
            None
        }
    };
    assert_eq!(due(kept).await, None, "a running task is not scheduled");
    let done: Vec<_> = claims
        .into_iter()
        .map(|c| (c, Final::Completed(json!(1)), Report::default()))
        .collect();
    assert!(s.finish_many(&done).await.unwrap().iter().all(|a| *a));
    let in_a_day = (faas_store::now_ms() / 1000) as i64 + 24 * 3600;
    let kept_due = due(kept).await.expect("a finished task is scheduled");
    assert!(
        (in_a_day - 60..=in_a_day + 1).contains(&kept_due),
        "the default retention: due at {kept_due}, a day is {in_a_day}"
    );
    assert_eq!(due(queued).await, None, "a queued task is not scheduled");
    // No key carries an expiry: every access to one would cost Redis.
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("faas:task:{kept}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ttl, -1);
    assert!(gone_within(s, short[0].0, PATIENCE).await);
    s.trim_queue().await.unwrap();
    let tasks: Vec<String> = ::redis::cmd("KEYS")
        .arg("faas:task:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut left: Vec<String> = tasks;
    left.sort();
    let mut expected = vec![format!("faas:task:{kept}"), format!("faas:task:{queued}")];
    expected.sort();
    assert_eq!(left, expected, "only the unexpired tasks' hashes");
    // Every ended task's queue entry is acknowledged (then trimmed in bulk).
    let pending: ::redis::Value = ::redis::cmd("XPENDING")
        .arg(faas_store::STREAM)
        .arg(faas_store::GROUP)
        .query_async(&mut conn)
        .await
        .unwrap();
    let ::redis::Value::Array(summary) = pending else {
        panic!("XPENDING answered {pending:?}");
    };
    assert_eq!(summary.first(), Some(&::redis::Value::Int(0)));
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter().all(|k| !k.contains(&short[0].0.to_string())),
        "no other key names an expired task: {keys:?}"
    );
}

/// The moment between a dispatcher reading a queue entry and marking its
/// task RUNNING (a plain HSET, no script): a cancellation then flags the
/// task, and whichever script ends it next ends it as cancelled, whatever
/// the attempt reports; a flagged task whose dispatcher died ends so when
/// its lease lapses.
#[tokio::test]
async fn redis_a_task_cancelled_while_being_claimed_ends_cancelled() {
    let f = redis().await;
    let s = &f.store;
    let Backend::Redis(server) = &f.backend else {
        panic!("a Redis fixture")
    };
    let url = server.url();
    let mut conn = ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (finished, abandoned) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [finished, abandoned] {
        s.submit(T, id, registered(s).await, &json!([]), None)
            .await
            .unwrap();
    }
    // Read both entries as a dispatcher would, without marking them.
    let read: ::redis::Value = ::redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(faas_store::GROUP)
        .arg("c")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg(faas_store::STREAM)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(format!("{read:?}").contains(&finished.to_string()));
    assert_eq!(
        s.cancel_many(&[finished, abandoned], ALL).await.unwrap(),
        [Cancelled::Pending, Cancelled::Pending]
    );
    // The first one's claim lands (the dispatcher's HSET) and it runs to
    // completion all the same: it ends as cancelled.
    let key = format!("faas:task:{finished}");
    let entry: String = ::redis::cmd("HGET")
        .arg(&key)
        .arg("entry")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = ::redis::cmd("HSET")
        .arg(&key)
        .arg("status")
        .arg("RUNNING")
        .arg("attempts")
        .arg(1)
        .arg("receipt")
        .arg("tok")
        .query_async(&mut conn)
        .await
        .unwrap();
    let claim = Claim {
        task_id: finished,
        function_id: Uuid::new_v4(),
        payload: json!([]),
        attempt: 1,
        receipt: format!("{entry}.tok"),
        queued_at_ms: 0,
    };
    assert!(s.finish(&claim, &Final::Completed(json!(1))).await.unwrap());
    assert_eq!(ending(s, finished).await, cancelled_ending());
    // The second one's dispatcher died: taken over after the lease, it
    // ends as cancelled instead of running.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.claim("other", 10, NO_WAIT).await.unwrap().is_empty());
    assert_eq!(ending(s, abandoned).await, cancelled_ending());
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 0);
}

/// Redis at `maxmemory` with `noeviction`: a submission fails whole, with
/// a message that says so; tasks already accepted are still claimed (new
/// and taken-over ones), renewed, cancelled and finished; and once memory
/// is back, submissions work again.
#[tokio::test]
async fn redis_at_maxmemory_submissions_fail_and_accepted_tasks_finish() {
    let server = RedisServer::start();
    let s = Store::redis(&server.url(), config()).await.unwrap();
    let fid = registered(&s).await;
    let tasks: Vec<(Uuid, serde_json::Value)> =
        (0..4).map(|i| (Uuid::new_v4(), json!([i]))).collect();
    s.submit_many(T, fid, &tasks, None).await.unwrap();
    let first = s.claim("c", 1, NO_WAIT).await.unwrap();
    assert_eq!(first.len(), 1);
    let lapsing = s.claim("c", 1, NO_WAIT).await.unwrap();
    assert_eq!(lapsing.len(), 1);

    let config_set = |memory: &str| {
        let out = faas_e2e::redis_cli(
            server.port,
            &[],
            &format!("CONFIG SET maxmemory-policy noeviction\nCONFIG SET maxmemory {memory}\n"),
        );
        assert_eq!(out, "OK\nOK\n");
    };
    config_set("1");
    let refused = s
        .submit(T, Uuid::new_v4(), fid, &json!([9]), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("out of memory")),
        "{refused}"
    );
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 4, "nothing stored");

    // New entries, claimed by the script when the plain claim is refused.
    let rest = s.claim("c", 10, NO_WAIT).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(s.renew("c", &first).await.unwrap(), Vec::<Uuid>::new());
    assert_eq!(
        s.cancel_many(&[rest[1].task_id], ALL).await.unwrap(),
        [Cancelled::Now]
    );
    for claim in [&first[0], &rest[0]] {
        assert!(s.finish(claim, &Final::Completed(json!(1))).await.unwrap());
    }
    // A lapsed lease is taken over, and its task finishes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let retaken = s.claim("c", 10, NO_WAIT).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].task_id, lapsing[0].task_id);
    assert!(s
        .finish(&retaken[0], &Final::Completed(json!(2)))
        .await
        .unwrap());
    for (id, _) in &tasks {
        let ended = ending(&s, *id).await.0;
        assert!(ended.is_final(), "{id} is {ended:?}");
    }
    assert_eq!(s.tenant(T).await.unwrap().active_tasks, 0);

    config_set("0");
    s.submit(T, Uuid::new_v4(), fid, &json!([9]), None)
        .await
        .unwrap();
}
