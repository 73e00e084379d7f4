//! The push worker against a minimal dispatcher written here: a real ROUTER
//! socket on a free port, speaking `faas/1` with the protocol crate.

mod common;

use common::{logs_contain, task_message, task_ref, Router, Worker, ADD, BOOM, NOOP, SPIN};
use faas_protocol::{DispatcherMessage, ResultMessage, TaskRef, TasksReply, WorkerMessage, TAG};
use faas_worker::{run_push, WorkerConfig, WorkerError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

// ---- the test dispatcher ----------------------------------------------

struct Dispatcher {
    router: Router,
    endpoint: String,
    heartbeats: usize,
}

impl Dispatcher {
    fn bind() -> Self {
        Self::bind_at("tcp://127.0.0.1:*")
    }

    fn bind_at(endpoint: &str) -> Self {
        let router = Router::bind(endpoint);
        Dispatcher {
            endpoint: router.endpoint.clone(),
            router,
            heartbeats: 0,
        }
    }

    /// The next decoded message, or None after `timeout`.
    fn recv(&mut self, timeout: Duration) -> Option<(Vec<u8>, WorkerMessage)> {
        let (id, frames) = self.router.recv(timeout)?;
        let message =
            WorkerMessage::decode(&frames).expect("the worker sends well-formed messages");
        if matches!(message, WorkerMessage::Heartbeat { .. }) {
            self.heartbeats += 1;
        }
        Some((id, message))
    }

    /// The next message other than a heartbeat (or a periodic REGISTER,
    /// unless `registers` is true).
    fn expect(&mut self, what: &str, registers: bool) -> (Vec<u8>, WorkerMessage) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some((id, message)) =
            self.recv(deadline.saturating_duration_since(Instant::now()))
        {
            match message {
                WorkerMessage::Heartbeat { .. } => continue,
                WorkerMessage::Register { .. } if !registers => continue,
                message => return (id, message),
            }
        }
        panic!("no {what} within 10 s");
    }

    fn result(&mut self) -> ResultMessage {
        match self.expect("RESULT", false) {
            (_, WorkerMessage::Result(r)) => r,
            (_, other) => panic!("expected a RESULT, got {other:?}"),
        }
    }

    fn send(&self, to: &[u8], message: &DispatcherMessage) {
        self.router.send(to, message.encode());
    }

    fn send_raw(&self, to: &[u8], frames: Vec<Vec<u8>>) {
        self.router.send(to, frames);
    }

    /// Waits for REGISTER and answers WELCOME.
    fn accept(&mut self, heartbeat_ms: u64) -> (Vec<u8>, String, u32) {
        let (id, message) = self.expect("REGISTER", true);
        let WorkerMessage::Register {
            worker,
            slots,
            running,
            ..
        } = message
        else {
            panic!("expected REGISTER first, got {message:?}");
        };
        assert!(running.is_empty());
        self.send(
            &id,
            &DispatcherMessage::Welcome {
                heartbeat_ms,
                batch: false,
            },
        );
        (id, worker, slots)
    }
}

// ---- tasks --------------------------------------------------------------

fn task(
    task: &TaskRef,
    function_id: Uuid,
    name: &str,
    wat: Option<&str>,
    payload: Value,
) -> DispatcherMessage {
    DispatcherMessage::Task {
        task: task_message(task, function_id, name, payload),
        module: wat.map(|w| w.as_bytes().to_vec()),
    }
}

// ---- tests -------------------------------------------------------------

#[test]
fn a_batch_worker_takes_tasks_in_one_message_and_reports_every_result() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start(run_push, 2, &d.endpoint);
    let (id, message) = d.expect("REGISTER", true);
    assert!(
        matches!(message, WorkerMessage::Register { batch: true, .. }),
        "{message:?}"
    );
    d.send(
        &id,
        &DispatcherMessage::Welcome {
            heartbeat_ms: 1000,
            batch: true,
        },
    );

    // Twenty tasks in one TASKS, the module once, beside the first.
    let add = Uuid::new_v4();
    let refs: Vec<TaskRef> = (0..20).map(|_| task_ref(1)).collect();
    let tasks = refs
        .iter()
        .enumerate()
        .map(|(i, t)| task_message(t, add, "add", json!([i, 1])))
        .collect();
    d.send(
        &id,
        &DispatcherMessage::Tasks(TasksReply {
            tasks,
            modules: vec![(add, ADD.as_bytes().to_vec())],
            ..TasksReply::default()
        }),
    );
    // Results come as RESULTS (several ended together) or RESULT (alone).
    let mut got = std::collections::HashMap::new();
    while got.len() < refs.len() {
        match d.expect("RESULT or RESULTS", false) {
            (_, WorkerMessage::Result(r)) => {
                got.insert(r.task.clone(), r.result);
            }
            (_, WorkerMessage::Results(rs)) => {
                assert!(rs.len() > 1, "a lone result goes as RESULT");
                got.extend(rs.into_iter().map(|r| (r.task, r.result)));
            }
            (_, other) => panic!("expected results, got {other:?}"),
        }
    }
    for (i, t) in refs.iter().enumerate() {
        assert_eq!(got[t], json!(i + 1), "task {i}");
    }
    w.stop().expect("a clean stop");
}

#[test]
fn runs_tasks_keeps_modules_and_asks_for_the_ones_it_lacks() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start(run_push, 2, &d.endpoint);
    let (id, name, slots) = d.accept(1000);
    assert_eq!((name.as_str(), slots), ("test-worker", 2));
    assert!(
        id.starts_with(b"test-worker-"),
        "routing id {:?}",
        String::from_utf8_lossy(&id)
    );

    // With the module: RESULT 5, attempt and receipt echoed.
    let add = Uuid::new_v4();
    let t1 = task_ref(2);
    d.send(&id, &task(&t1, add, "add", Some(ADD), json!([2, 3])));
    let r = d.result();
    assert_eq!(
        (&r.task, r.status.as_str(), &r.result, &r.kind),
        (&t1, "COMPLETED", &json!(5), &None)
    );
    assert!(logs_contain(
        "faas worker ready: push mode, 2 slots, dispatcher tcp://127.0.0.1:"
    ));

    // Without the module: the worker has it.
    let t2 = task_ref(1);
    d.send(&id, &task(&t2, add, "add", None, json!([40, 2])));
    let r = d.result();
    assert_eq!((&r.task, &r.result), (&t2, &json!(42)));

    // An unknown function without module: NEED_MODULE, then it runs once
    // the module comes.
    let noop = Uuid::new_v4();
    let t3 = task_ref(1);
    d.send(&id, &task(&t3, noop, "noop", None, json!([])));
    match d.expect("NEED_MODULE", false) {
        (_, WorkerMessage::NeedModule { task, function_id }) => {
            assert_eq!((task, function_id), (t3.clone(), noop))
        }
        (_, other) => panic!("expected NEED_MODULE, got {other:?}"),
    }
    d.send(&id, &task(&t3, noop, "noop", Some(NOOP), json!([])));
    let r = d.result();
    assert_eq!(
        (&r.task, r.status.as_str(), &r.result),
        (&t3, "COMPLETED", &Value::Null)
    );

    // Failures, each with its kind.
    let t4 = task_ref(1);
    d.send(&id, &task(&t4, add, "add", None, json!(["two", 3])));
    let r = d.result();
    assert_eq!(
        (&r.task, r.status.as_str(), r.kind.as_deref()),
        (&t4, "FAILED", Some("bad_arguments"))
    );
    assert!(
        r.result.as_str().unwrap().contains("argument 0"),
        "{}",
        r.result
    );

    let t5 = task_ref(1);
    d.send(
        &id,
        &task(&t5, Uuid::new_v4(), "boom", Some(BOOM), json!([])),
    );
    let r = d.result();
    assert_eq!(
        (&r.task, r.status.as_str(), r.kind.as_deref()),
        (&t5, "FAILED", Some("trap"))
    );

    let t6 = task_ref(1);
    d.send(
        &id,
        &task(
            &t6,
            Uuid::new_v4(),
            "bad",
            Some("this is not wasm"),
            json!([]),
        ),
    );
    let r = d.result();
    assert_eq!(
        (&r.task, r.status.as_str(), r.kind.as_deref()),
        (&t6, "FAILED", Some("load"))
    );
    assert!(
        r.result
            .as_str()
            .unwrap()
            .contains("not a WebAssembly module"),
        "{}",
        r.result
    );

    // Several at once, more than the slots: all complete.
    let ts: Vec<TaskRef> = (0..20).map(|_| task_ref(1)).collect();
    for (i, t) in ts.iter().enumerate() {
        d.send(&id, &task(t, add, "add", None, json!([i, 1])));
    }
    let mut got: Vec<(TaskRef, Value)> = (0..ts.len())
        .map(|_| d.result())
        .map(|r| (r.task, r.result))
        .collect();
    got.sort_by_key(|(t, _)| ts.iter().position(|x| x == t));
    for (i, (t, v)) in got.iter().enumerate() {
        assert_eq!((t, v), (&ts[i], &json!(i + 1)));
    }

    w.stop().unwrap();
    match d.expect("BYE", false) {
        (_, WorkerMessage::Bye { returned }) => assert!(returned.is_empty()),
        (_, other) => panic!("expected BYE, got {other:?}"),
    }
}

#[test]
fn garbage_from_the_dispatcher_is_dropped_and_the_worker_keeps_serving() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start(run_push, 1, &d.endpoint);
    let (id, _, _) = d.accept(1000);
    let body = |v: Value| serde_json::to_vec(&v).unwrap();
    let garbage: Vec<Vec<Vec<u8>>> = vec![
        vec![b"hello".to_vec()],
        vec![Vec::new()],
        vec![b"faas/2".to_vec(), b"TASK".to_vec(), b"{}".to_vec()],
        vec![TAG.to_vec(), b"NOPE".to_vec(), b"{}".to_vec()],
        vec![TAG.to_vec(), vec![0xff, 0xfe], b"{}".to_vec()],
        vec![TAG.to_vec(), b"TASK".to_vec(), b"not json".to_vec()],
        vec![
            TAG.to_vec(),
            b"TASK".to_vec(),
            body(json!({"task_id": "nope"})),
        ],
        vec![
            TAG.to_vec(),
            b"TASK".to_vec(),
            b"{}".to_vec(),
            b"m".to_vec(),
            b"extra".to_vec(),
        ],
        vec![
            TAG.to_vec(),
            b"WELCOME".to_vec(),
            body(json!({"heartbeat_ms": -1})),
        ],
        vec![TAG.to_vec(), b"REGISTER".to_vec(), b"{}".to_vec()],
        vec![TAG.to_vec(), b"TASK".to_vec(), vec![b' '; 17 * 1024 * 1024]],
        // Well-formed but odd: a zero heartbeat (clamped), a task for a
        // function whose entry does not exist, payloads of every shape.
        DispatcherMessage::Welcome {
            heartbeat_ms: 0,
            batch: false,
        }
        .encode(),
    ];
    for frames in garbage {
        d.send_raw(&id, frames);
    }
    let odd = task_ref(1);
    d.send(
        &id,
        &task(&odd, Uuid::new_v4(), "missing", Some(ADD), json!({"a": 1})),
    );
    let r = d.result();
    assert_eq!((&r.task, r.kind.as_deref()), (&odd, Some("load")));
    for payload in [
        json!(null),
        json!("x"),
        json!([1]),
        json!([1, 2, 3]),
        json!([1e300, 1]),
        json!({"a": 1}),
    ] {
        let t = task_ref(1);
        d.send(&id, &task(&t, Uuid::new_v4(), "add", Some(ADD), payload));
        let r = d.result();
        assert_eq!((&r.task, r.kind.as_deref()), (&t, Some("bad_arguments")));
    }

    // Still serving.
    d.send(
        &id,
        &DispatcherMessage::Welcome {
            heartbeat_ms: 1000,
            batch: false,
        },
    );
    let t = task_ref(3);
    d.send(
        &id,
        &task(&t, Uuid::new_v4(), "add", Some(ADD), json!([2, 3])),
    );
    let r = d.result();
    assert_eq!((&r.task, &r.result), (&t, &json!(5)));
    assert!(logs_contain(
        "dropped a malformed message from the dispatcher"
    ));
    w.stop().unwrap();
}

#[test]
fn heartbeats_come_at_the_welcomed_interval() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start(run_push, 1, &d.endpoint);
    let (id, _, _) = d.accept(50);
    let start = Instant::now();
    d.heartbeats = 0;
    let mut registers = 0;
    while start.elapsed() < Duration::from_millis(1000) {
        if let Some((_, WorkerMessage::Register { .. })) = d.recv(Duration::from_millis(50)) {
            // The worker pings with REGISTER after 3 silent intervals; a
            // live dispatcher answers.
            registers += 1;
            d.send(
                &id,
                &DispatcherMessage::Welcome {
                    heartbeat_ms: 50,
                    batch: false,
                },
            );
        }
    }
    assert!(
        (12..=25).contains(&d.heartbeats),
        "{} heartbeats in 1 s at 50 ms",
        d.heartbeats
    );
    assert!(
        registers >= 2,
        "{registers} registrations during 1 s of silence at 50 ms"
    );
    w.stop().unwrap();
}

#[test]
fn registers_again_when_asked_listing_what_it_runs() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start_with(run_push, 1, &d.endpoint, |c| {
        c.runtime.default_timeout = Duration::from_millis(1500)
    });
    let (id, _, _) = d.accept(1000);
    let t = task_ref(1);
    d.send(
        &id,
        &task(&t, Uuid::new_v4(), "spin", Some(SPIN), json!([])),
    );
    // Give the load a moment: the task is held either way (loading or
    // running), so it is listed.
    d.send(&id, &DispatcherMessage::Reregister);
    match d.expect("REGISTER", true) {
        (again, WorkerMessage::Register { running, slots, .. }) => {
            assert_eq!(again, id, "same routing id");
            assert_eq!((running, slots), (vec![t.clone()], 1));
        }
        (_, other) => panic!("expected REGISTER, got {other:?}"),
    }
    d.send(
        &id,
        &DispatcherMessage::Welcome {
            heartbeat_ms: 1000,
            batch: false,
        },
    );
    let r = d.result();
    assert_eq!((&r.task, r.kind.as_deref()), (&t, Some("timeout")));
    w.stop().unwrap();
}

#[test]
fn rejoins_a_dispatcher_restarted_on_the_same_address() {
    let mut d = Dispatcher::bind();
    let endpoint = d.endpoint.clone();
    let mut w = Worker::start(run_push, 1, &endpoint);
    let (id, _, _) = d.accept(100);
    drop(d);
    let mut d = Dispatcher::bind_at(&endpoint);
    // Unknown to the new dispatcher, the worker registers again by itself
    // (within 3 silent heartbeat intervals), under the same routing id.
    let deadline = Instant::now() + Duration::from_secs(10);
    let again = loop {
        assert!(
            Instant::now() < deadline,
            "no REGISTER to the restarted dispatcher"
        );
        if let Some((from, WorkerMessage::Register { .. })) = d.recv(Duration::from_secs(1)) {
            break from;
        }
    };
    assert_eq!(again, id);
    d.send(
        &id,
        &DispatcherMessage::Welcome {
            heartbeat_ms: 100,
            batch: false,
        },
    );
    let t = task_ref(1);
    d.send(
        &id,
        &task(&t, Uuid::new_v4(), "add", Some(ADD), json!([1, 2])),
    );
    assert_eq!(d.result().result, json!(3));
    w.stop().unwrap();
}

#[test]
fn shutdown_returns_unstarted_tasks_finishes_running_ones_and_returns() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start_with(run_push, 1, &d.endpoint, |c| {
        c.runtime.default_timeout = Duration::from_millis(700)
    });
    let (id, _, _) = d.accept(100);
    // Load `spin` first (a task with bad arguments fails at once), so the
    // next task starts the moment it arrives.
    let spin = Uuid::new_v4();
    let load = task_ref(1);
    d.send(&id, &task(&load, spin, "spin", Some(SPIN), json!([1])));
    assert_eq!(d.result().kind.as_deref(), Some("bad_arguments"));
    let (running, waiting) = (task_ref(1), task_ref(1));
    d.send(&id, &task(&running, spin, "spin", None, json!([])));
    d.send(&id, &task(&waiting, spin, "spin", None, json!([])));
    // Both held (one running, one queued for the single slot) before the
    // shutdown: a REREGISTER shows it.
    d.send(&id, &DispatcherMessage::Reregister);
    match d.expect("REGISTER", true) {
        (_, WorkerMessage::Register { running: held, .. }) => assert_eq!(held.len(), 2, "{held:?}"),
        (_, other) => panic!("expected REGISTER, got {other:?}"),
    }
    d.send(
        &id,
        &DispatcherMessage::Welcome {
            heartbeat_ms: 100,
            batch: false,
        },
    );

    // Give the slot time to start `running` (a start and a withdrawal race
    // by design, and a loaded machine may delay the start): it spins for
    // 700 ms, so 200 ms later it is certainly running.
    std::thread::sleep(Duration::from_millis(200));
    w.shutdown.store(true, Ordering::Relaxed);
    match d.expect("BYE", false) {
        (_, WorkerMessage::Bye { returned }) => assert_eq!(returned, vec![waiting.clone()]),
        (_, other) => panic!("expected BYE, got {other:?}"),
    }
    // Work sent while it drains goes straight back.
    let late = task_ref(1);
    d.send(&id, &task(&late, spin, "spin", None, json!([])));
    match d.expect("BYE", false) {
        (_, WorkerMessage::Bye { returned }) => assert_eq!(returned, vec![late]),
        (_, other) => panic!("expected BYE, got {other:?}"),
    }
    let r = d.result();
    assert_eq!((&r.task, r.kind.as_deref()), (&running, Some("timeout")));
    assert!(
        r.result.as_str().unwrap().contains("timed out"),
        "{}",
        r.result
    );
    w.stop().unwrap();
}

#[test]
fn bad_settings_fail_at_start() {
    common::init_logs();
    let shutdown = Arc::new(AtomicBool::new(false));
    for url in [
        "localhost:7001",
        "tcp://no-such-host.invalid:7001",
        "tcp://127.0.0.1:0",
    ] {
        let e = run_push(WorkerConfig::new(1, url), shutdown.clone()).unwrap_err();
        assert!(matches!(e, WorkerError::BadUrl { .. }), "{url}: {e}");
        assert!(e.to_string().contains(url), "{e}");
    }
    let e = run_push(WorkerConfig::new(0, "tcp://127.0.0.1:7001"), shutdown).unwrap_err();
    assert!(matches!(e, WorkerError::NoSlots), "{e}");
}

/// Round trip of a no-op task (TASK out, RESULT back), sequentially: it
/// bounds how long a finished task waits before its RESULT leaves.
#[test]
fn a_no_op_result_goes_out_at_once() {
    let mut d = Dispatcher::bind();
    let mut w = Worker::start(run_push, 2, &d.endpoint);
    let (id, _, _) = d.accept(1000);
    let noop = Uuid::new_v4();
    let first = task_ref(1);
    d.send(&id, &task(&first, noop, "noop", Some(NOOP), json!([])));
    d.result();
    let mut times = Vec::new();
    for _ in 0..500 {
        let t = task_ref(1);
        let start = Instant::now();
        d.send(&id, &task(&t, noop, "noop", None, json!([])));
        let r = d.result();
        times.push(start.elapsed());
        assert_eq!(r.task, t);
    }
    times.sort();
    let pct = |p: usize| times[(times.len() - 1) * p / 100];
    eprintln!(
        "no-op round trip over TCP: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        pct(50),
        pct(90),
        pct(99),
        times[times.len() - 1]
    );
    assert!(pct(50) < Duration::from_millis(2), "p50 {:?}", pct(50));
    w.stop().unwrap();
    assert!(logs_contain("each RESULT was sent"));
}

/// No-op throughput with the dispatcher's window of `2 x slots` tasks in
/// flight: what one worker can turn around, wire included.
#[test]
fn pipelined_no_op_throughput() {
    let slots = 2;
    let mut d = Dispatcher::bind();
    let mut w = Worker::start(run_push, slots, &d.endpoint);
    let (id, _, _) = d.accept(1000);
    let noop = Uuid::new_v4();
    let first = task_ref(1);
    d.send(&id, &task(&first, noop, "noop", Some(NOOP), json!([])));
    d.result();
    let total = 5000;
    let (mut sent, mut done) = (0, 0);
    let start = Instant::now();
    while done < total {
        while sent < total && sent - done < 2 * slots {
            d.send(&id, &task(&task_ref(1), noop, "noop", None, json!([])));
            sent += 1;
        }
        let r = d.result();
        assert_eq!(r.status, "COMPLETED");
        done += 1;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    eprintln!(
        "pipelined no-op throughput, {slots} slots, window {}: {rate:.0} tasks/s",
        2 * slots
    );
    assert!(rate > 1000.0, "{rate:.0} tasks/s");
    w.stop().unwrap();
}
