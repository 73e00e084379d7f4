//! The pull worker against a minimal pull dispatcher written here: a real
//! ROUTER socket on a free port that strips and adds the routing id and
//! the empty delimiter, speaking `faas/1` with the protocol crate.

mod common;

use common::{logs_contain, task_message, task_ref, Router, Worker, ADD, NOOP, SPIN};
use faas_protocol::{
    DispatcherMessage, PullRequest, ResultMessage, TaskMessage, TaskRef, TasksReply, WorkerMessage,
    TAG,
};
use faas_worker::{run_pull, WorkerConfig, WorkerError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

// ---- the test dispatcher ----------------------------------------------

struct Dispatcher {
    router: Router,
    endpoint: String,
    /// `heartbeat_ms` and `hold_ms` of every answer.
    heartbeat_ms: u64,
    hold_ms: u64,
    /// The work PULL (free > 0) it holds, if any: (routing id, seq).
    held: Option<(Vec<u8>, u64)>,
    /// The `worker` of every PULL so far.
    workers: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Dispatcher {
    fn bind(heartbeat_ms: u64, hold_ms: u64) -> Self {
        Self::bind_at("tcp://127.0.0.1:*", heartbeat_ms, hold_ms)
    }

    fn bind_at(endpoint: &str, heartbeat_ms: u64, hold_ms: u64) -> Self {
        let router = Router::bind(endpoint);
        Dispatcher {
            endpoint: router.endpoint.clone(),
            router,
            heartbeat_ms,
            hold_ms,
            held: None,
            workers: Default::default(),
        }
    }

    /// The next PULL, or None after `timeout`.
    fn recv(&self, timeout: Duration) -> Option<(Vec<u8>, PullRequest)> {
        let (id, mut frames) = self.router.recv(timeout)?;
        assert_eq!(
            frames.first().map(Vec::len),
            Some(0),
            "the REQ envelope's empty delimiter comes first"
        );
        frames.remove(0);
        match WorkerMessage::decode(&frames) {
            Ok(WorkerMessage::Pull(request)) => {
                self.workers.borrow_mut().insert(request.worker.clone());
                Some((id, request))
            }
            other => panic!("expected a PULL, got {other:?}"),
        }
    }

    /// Serves like a pull dispatcher with no work (reports answered at
    /// once, the work PULL held) until a PULL matches `what`, which it
    /// returns unanswered.
    fn until(
        &mut self,
        what: &str,
        matches: impl Fn(&PullRequest) -> bool,
    ) -> (Vec<u8>, PullRequest) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some((id, request)) =
            self.recv(deadline.saturating_duration_since(Instant::now()))
        {
            if matches(&request) {
                return (id, request);
            }
            self.serve(id, &request);
        }
        panic!("no {what} within 10 s");
    }

    /// Answers a report at once; holds a work PULL (answering the one it
    /// supersedes).
    fn serve(&mut self, id: Vec<u8>, request: &PullRequest) {
        if request.free == 0 {
            self.answer(&id, request.seq, vec![], vec![]);
        } else if let Some((old, seq)) = self.held.replace((id, request.seq)) {
            self.answer(&old, seq, vec![], vec![]);
        }
    }

    /// Answers the held work PULL (waiting for one if none is held).
    fn give(&mut self, tasks: Vec<TaskMessage>, modules: Vec<(Uuid, &str)>) {
        if self.held.is_none() {
            let (id, request) = self.until("work PULL", |r| r.free > 0);
            self.held = Some((id, request.seq));
        }
        let (id, seq) = self.held.take().expect("held");
        self.answer(&id, seq, tasks, modules);
    }

    fn answer(&self, to: &[u8], seq: u64, tasks: Vec<TaskMessage>, modules: Vec<(Uuid, &str)>) {
        let reply = DispatcherMessage::Tasks(TasksReply {
            seq,
            tasks,
            modules: modules
                .into_iter()
                .map(|(id, m)| (id, m.as_bytes().to_vec()))
                .collect(),
            heartbeat_ms: self.heartbeat_ms,
            hold_ms: self.hold_ms,
            cancel: Vec::new(),
        });
        self.send_raw(to, [vec![Vec::new()], reply.encode()].concat());
    }

    fn send_raw(&self, to: &[u8], frames: Vec<Vec<u8>>) {
        self.router.send(to, frames);
    }

    /// Serves until a PULL carries results; returns them (acknowledged).
    fn results(&mut self) -> Vec<ResultMessage> {
        let (id, request) = self.until("PULL with results", |r| !r.results.is_empty());
        self.serve(id, &request);
        request.results
    }

    /// Stops the worker, answering as a dispatcher does (the held work
    /// PULL when the bye comes), and checks it returns promptly.
    fn stop(&mut self, w: &mut Worker) {
        w.shutdown.store(true, Ordering::Relaxed);
        let start = Instant::now();
        while !w.is_finished() && start.elapsed() < Duration::from_secs(10) {
            if let Some((id, request)) = self.recv(Duration::from_millis(10)) {
                self.serve(id, &request);
                if request.bye {
                    if let Some((id, seq)) = self.held.take() {
                        self.answer(&id, seq, vec![], vec![]);
                    }
                }
            }
        }
        w.join(Duration::ZERO).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "stopped in {:?}",
            start.elapsed()
        );
    }

    fn result(&mut self) -> ResultMessage {
        match &self.results()[..] {
            [r] => r.clone(),
            other => panic!("expected one result, got {other:?}"),
        }
    }
}

/// A worker that asks strictly for its free slots (no prefetch), the
/// protocol's base case that most tests check.
fn start(slots: usize, d: &Dispatcher) -> Worker {
    Worker::start_with(run_pull, slots, &d.endpoint, |c| c.prefetch = 0)
}

// ---- tests -------------------------------------------------------------

#[test]
fn by_default_a_worker_asks_for_two_tasks_per_slot_beyond_its_free_slots() {
    let mut d = Dispatcher::bind(1000, 1000);
    let mut w = Worker::start(run_pull, 3, &d.endpoint);
    let (id, first) = d.recv(Duration::from_secs(10)).expect("a first PULL");
    assert_eq!((first.slots, first.free), (3, 9));
    d.held = Some((id, first.seq));
    d.stop(&mut w);
}

#[test]
fn runs_a_task_with_its_module_and_reports_it_in_a_pull() {
    let mut d = Dispatcher::bind(1000, 1000);
    let mut w = start(2, &d);
    let (id, first) = d.recv(Duration::from_secs(10)).expect("a first PULL");
    assert!(
        first.worker.starts_with("test-worker-"),
        "worker {:?}",
        first.worker
    );
    assert_eq!(
        (first.name.as_str(), first.slots, first.free),
        ("test-worker", 2, 2)
    );
    assert_eq!(
        first.running,
        Some(vec![]),
        "the first PULL lists what it holds"
    );
    assert!(!first.bye && first.results.is_empty());
    d.held = Some((id, first.seq));

    let add = Uuid::new_v4();
    let t1 = task_ref(2);
    d.give(
        vec![task_message(&t1, add, "add", json!([2, 3]))],
        vec![(add, ADD)],
    );
    let r = d.result();
    assert_eq!(
        (&r.task, r.status.as_str(), &r.result, &r.kind),
        (&t1, "COMPLETED", &json!(5), &None)
    );
    assert!(logs_contain(
        "faas worker ready: pull mode, 2 slots, dispatcher tcp://127.0.0.1:"
    ));

    // The function is kept: no module needed the second time. Two tasks
    // fill both slots, and both results come back.
    let (t2, t3) = (task_ref(1), task_ref(1));
    d.give(
        vec![
            task_message(&t2, add, "add", json!([40, 2])),
            task_message(&t3, add, "add", json!(["x", 1])),
        ],
        vec![],
    );
    let mut got = d.results();
    if got.len() == 1 {
        got.extend(d.results());
    }
    got.sort_by_key(|r| r.task != t2);
    assert_eq!((&got[0].task, &got[0].result), (&t2, &json!(42)));
    assert_eq!(
        (&got[1].task, got[1].kind.as_deref()),
        (&t3, Some("bad_arguments"))
    );
    assert_eq!(
        d.workers.borrow().iter().collect::<Vec<_>>(),
        vec![&first.worker],
        "one worker id throughout"
    );
    d.stop(&mut w);
}

#[test]
fn a_result_beside_a_held_pull_goes_in_a_report_at_once() {
    // A hold far longer than the test: only a report can carry results.
    let mut d = Dispatcher::bind(1000, 10_000);
    let mut w = start(2, &d);
    let noop = Uuid::new_v4();
    d.give(
        vec![task_message(&task_ref(1), noop, "noop", json!([]))],
        vec![(noop, NOOP)],
    );
    d.result();
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = task_ref(1);
        // The task goes in the answer to the work PULL; the next work PULL
        // is then held while the task runs.
        let start = Instant::now();
        d.give(vec![task_message(&t, noop, "noop", json!([]))], vec![]);
        let (id, report) = d.until("report", |r| !r.results.is_empty());
        times.push(start.elapsed());
        assert_eq!(
            report.results.iter().map(|r| &r.task).collect::<Vec<_>>(),
            vec![&t]
        );
        if report.free == 0 {
            d.answer(&id, report.seq, vec![], vec![]);
        } else {
            // The task ended before the next work PULL left: it carries
            // the result itself.
            d.held = Some((id, report.seq));
        }
    }
    times.sort();
    eprintln!(
        "task answer -> report: p50 {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    assert!(
        times[times.len() / 2] < Duration::from_millis(20),
        "p50 {:?}",
        times[times.len() / 2]
    );
    assert!(
        times[times.len() - 1] < Duration::from_secs(1),
        "max {:?}",
        times[times.len() - 1]
    );
    d.stop(&mut w);
}

#[test]
fn a_task_without_its_module_asks_for_it_and_runs_once_it_comes() {
    let mut d = Dispatcher::bind(1000, 1000);
    let mut w = start(1, &d);
    let add = Uuid::new_v4();
    let t = task_ref(1);
    d.give(vec![task_message(&t, add, "add", json!([1, 2]))], vec![]);
    let (id, asking) = d.until("need_modules", |r| !r.need_modules.is_empty());
    assert_eq!(asking.need_modules, vec![add]);
    assert_eq!(
        asking.free, 0,
        "the task waiting for its module takes the only slot"
    );
    // Answered with the module alone.
    d.answer(&id, asking.seq, vec![], vec![(add, ADD)]);
    let r = d.result();
    assert_eq!((&r.task, &r.result), (&t, &json!(3)));
    // A module the dispatcher cannot send (its answer lacks it): the task
    // fails at once rather than wait.
    let gone = Uuid::new_v4();
    let t = task_ref(1);
    d.give(vec![task_message(&t, gone, "gone", json!([]))], vec![]);
    let (id, asking) = d.until("need_modules", |r| !r.need_modules.is_empty());
    assert_eq!(asking.need_modules, vec![gone]);
    d.answer(&id, asking.seq, vec![], vec![]);
    let r = d.result();
    assert_eq!((&r.task, r.kind.as_deref()), (&t, Some("load")));
    assert!(
        r.result
            .as_str()
            .unwrap()
            .contains("did not send the module"),
        "{}",
        r.result
    );
    d.stop(&mut w);
}

#[test]
fn an_unanswered_pull_is_given_up_and_its_results_are_sent_again() {
    // Give-up after hold + 2 x heartbeat = 300 ms.
    let mut d = Dispatcher::bind(100, 100);
    let mut w = start(1, &d);
    let noop = Uuid::new_v4();
    let t = task_ref(1);
    d.give(
        vec![task_message(&t, noop, "noop", json!([]))],
        vec![(noop, NOOP)],
    );
    // The dispatcher falls silent: it ignores the PULL carrying the result
    // and the heartbeats after it...
    let (id, ignored) = d.until("PULL with results", |r| !r.results.is_empty());
    let ignored_at = Instant::now();
    let (again_id, again) = loop {
        match d.recv(Duration::from_secs(5)) {
            Some((id, r)) if !r.results.is_empty() => break (id, r),
            Some(_) => continue,
            None => panic!("the results were not sent again"),
        }
    };
    // ... and the worker sends them again in a new PULL listing what it
    // holds.
    let waited = ignored_at.elapsed();
    assert_eq!(again.results, ignored.results);
    assert!(again.seq > ignored.seq);
    assert!(
        again.running.is_some(),
        "the PULL after a lost answer lists running"
    );
    assert!(
        waited >= Duration::from_millis(250),
        "given up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "given up after {waited:?}");
    assert!(logs_contain(
        "no answer from the dispatcher at tcp://127.0.0.1:"
    ));
    d.serve(again_id, &again);
    // A late answer to the given-up PULL still counts: its task runs.
    let late = task_ref(1);
    d.answer(
        &id,
        ignored.seq,
        vec![task_message(&late, noop, "noop", json!([]))],
        vec![],
    );
    let r = d.result();
    assert_eq!(r.task, late);
    assert!(logs_contain("answers again after"));
    d.stop(&mut w);
}

#[test]
fn a_restarted_dispatcher_hears_what_the_worker_holds_and_gets_its_results() {
    let mut d = Dispatcher::bind(100, 100);
    let endpoint = d.endpoint.clone();
    let mut w = Worker::start_with(run_pull, 1, &endpoint, |c| {
        c.prefetch = 0;
        c.runtime.default_timeout = Duration::from_millis(800)
    });
    let spin = Uuid::new_v4();
    let t = task_ref(1);
    d.give(
        vec![task_message(&t, spin, "spin", json!([]))],
        vec![(spin, SPIN)],
    );
    // Killed with requests in flight, and started again on the same port.
    let (id, listed) = d.until("running listed", |r| {
        r.running.as_ref().is_some_and(|l| !l.is_empty())
    });
    drop((id, listed));
    drop(d);
    let mut d = Dispatcher::bind_at(&endpoint, 100, 100);
    // The new dispatcher learns what the worker holds, then its result.
    let (id, first) = d.until("running listed", |r| {
        r.running.as_ref().is_some_and(|l| !l.is_empty())
    });
    assert_eq!(first.running, Some(vec![t.clone()]));
    d.serve(id, &first);
    let r = d.result();
    assert_eq!((&r.task, r.kind.as_deref()), (&t, Some("timeout")));
    d.stop(&mut w);
}

#[test]
fn shutdown_says_bye_returns_unstarted_tasks_and_finishes_running_ones() {
    let mut d = Dispatcher::bind(100, 100);
    let mut w = Worker::start_with(run_pull, 1, &d.endpoint, |c| {
        c.prefetch = 0;
        c.runtime.default_timeout = Duration::from_millis(700)
    });
    // Load `spin` first (a task with bad arguments fails at once), so the
    // next task starts the moment it arrives.
    let spin = Uuid::new_v4();
    d.give(
        vec![task_message(&task_ref(1), spin, "spin", json!([1]))],
        vec![(spin, SPIN)],
    );
    assert_eq!(d.result().kind.as_deref(), Some("bad_arguments"));
    let (running, waiting) = (task_ref(1), task_ref(1));
    d.give(
        vec![
            task_message(&running, spin, "spin", json!([])),
            task_message(&waiting, spin, "spin", json!([])),
        ],
        vec![],
    );
    // Both held (one running, one queued for the single slot) before the
    // shutdown: a heartbeat lists them.
    let (id, listed) = d.until("running listed", |r| {
        r.running.as_ref().is_some_and(|l| l.len() == 2)
    });
    d.serve(id, &listed);

    // Give the slot time to start `running` (a start and a withdrawal race
    // by design, and a loaded machine may delay the start): it spins for
    // 700 ms, so 200 ms later it is certainly running.
    std::thread::sleep(Duration::from_millis(200));
    w.shutdown.store(true, Ordering::Relaxed);
    let (id, bye) = d.until("bye", |r| r.bye);
    assert_eq!(
        (bye.free, &bye.returned, &bye.running),
        (0, &vec![waiting], &Some(vec![running.clone()]))
    );
    d.serve(id, &bye);
    // The running task's result still comes, in a PULL saying bye and
    // asking for nothing; once it is acknowledged the worker returns.
    let (id, last) = d.until("last result", |r| !r.results.is_empty());
    assert!(last.bye && last.free == 0);
    assert_eq!(
        (&last.results[0].task, last.results[0].kind.as_deref()),
        (&running, Some("timeout"))
    );
    assert!(!w.is_finished(), "it waits for the acknowledgement");
    d.serve(id, &last);
    // A held work PULL from before the bye is answered too (a real
    // dispatcher answers it when the bye comes).
    if let Some((id, seq)) = d.held.take() {
        d.answer(&id, seq, vec![], vec![]);
    }
    w.join(Duration::from_secs(3)).unwrap();
    assert!(logs_contain("faas worker stopped: "));
}

#[test]
fn garbage_from_the_dispatcher_is_dropped_and_the_worker_keeps_serving() {
    let mut d = Dispatcher::bind(1000, 1000);
    let mut w = start(1, &d);
    let (id, first) = d.until("first PULL", |_| true);
    let body = |v: Value| serde_json::to_vec(&v).unwrap();
    let e = Vec::new;
    let garbage: Vec<Vec<Vec<u8>>> = vec![
        // No empty delimiter.
        DispatcherMessage::Tasks(TasksReply::default()).encode(),
        vec![b"hello".to_vec()],
        vec![e()],
        vec![e(), b"faas/2".to_vec(), b"TASKS".to_vec(), b"{}".to_vec()],
        vec![e(), TAG.to_vec(), b"NOPE".to_vec(), b"{}".to_vec()],
        vec![e(), TAG.to_vec(), vec![0xff, 0xfe], b"{}".to_vec()],
        vec![e(), TAG.to_vec(), b"TASKS".to_vec(), b"not json".to_vec()],
        vec![
            e(),
            TAG.to_vec(),
            b"TASKS".to_vec(),
            body(json!({"seq": -1})),
        ],
        vec![
            e(),
            TAG.to_vec(),
            b"TASKS".to_vec(),
            body(json!({"tasks": [{"task_id": "nope"}]})),
        ],
        vec![
            e(),
            TAG.to_vec(),
            b"TASKS".to_vec(),
            body(json!({"modules": [Uuid::new_v4()]})),
        ],
        vec![
            e(),
            TAG.to_vec(),
            b"TASKS".to_vec(),
            b"{}".to_vec(),
            b"module".to_vec(),
        ],
        vec![e(), TAG.to_vec(), b"ERROR".to_vec(), b"{}".to_vec()],
        vec![
            e(),
            TAG.to_vec(),
            b"TASKS".to_vec(),
            vec![b' '; 17 * 1024 * 1024],
        ],
        // Push mode's messages.
        [
            vec![e()],
            DispatcherMessage::Welcome {
                heartbeat_ms: 0,
                batch: false,
            }
            .encode(),
        ]
        .concat(),
        [vec![e()], DispatcherMessage::Reregister.encode()].concat(),
        // Refused: the first PULL is sent again after a pause.
        [
            vec![e()],
            DispatcherMessage::Error {
                message: "test refusal".into(),
            }
            .encode(),
        ]
        .concat(),
    ];
    for frames in garbage {
        d.send_raw(&id, frames);
    }
    // Well-formed but odd: an answer to a PULL never sent, with tasks of
    // every shape (they are real: they run and fail as they should).
    let add = Uuid::new_v4();
    let odd: Vec<TaskRef> = (0..3).map(|_| task_ref(1)).collect();
    d.answer(
        &id,
        9999,
        vec![
            task_message(&odd[0], add, "add", json!({"a": 1})),
            task_message(&odd[1], add, "add", json!(null)),
            task_message(&odd[2], Uuid::new_v4(), "missing", json!([])),
        ],
        vec![(add, ADD)],
    );
    // The third lacks its module: it is asked for, and is not a module.
    let mut got: Vec<ResultMessage> = Vec::new();
    while got.len() < 3 {
        let (id, request) = d.until("results", |r| {
            !r.results.is_empty() || !r.need_modules.is_empty()
        });
        got.extend(request.results.iter().cloned());
        if let Some(f) = request.need_modules.first() {
            d.answer(&id, request.seq, vec![], vec![(*f, "not wasm")]);
        } else {
            d.serve(id, &request);
        }
    }
    got.sort_by_key(|r| odd.iter().position(|t| *t == r.task));
    let kinds: Vec<Option<&str>> = got.iter().map(|r| r.kind.as_deref()).collect();
    assert_eq!(
        kinds,
        vec![Some("bad_arguments"), Some("bad_arguments"), Some("load")],
        "{got:?}"
    );

    // Still serving, on its first PULL even.
    let t = task_ref(3);
    d.answer(
        &id,
        first.seq,
        vec![task_message(&t, add, "add", json!([2, 3]))],
        vec![],
    );
    let r = d.result();
    assert_eq!((&r.task, &r.result), (&t, &json!(5)));
    assert!(logs_contain("without the empty delimiter frame"));
    assert!(logs_contain(
        "dropped a malformed message from the dispatcher"
    ));
    assert!(logs_contain("dropped a WELCOME message"));
    assert!(logs_contain("the dispatcher refused a PULL: test refusal"));
    d.stop(&mut w);
}

#[test]
fn an_idle_worker_asks_about_once_per_hold_and_costs_next_to_nothing() {
    let mut d = Dispatcher::bind(1000, 200);
    let mut w = start(2, &d);
    // The first answer says hold_ms = 200; from then on each work PULL is
    // held 200 ms and answered empty. Counted from 100 ms on.
    let (id, first) = d.until("first PULL", |_| true);
    d.answer(&id, first.seq, vec![], vec![]);
    let begin = Instant::now();
    let (mut requests, mut cpu_before) = (0, None);
    let mut held: Option<(Vec<u8>, u64, Instant)> = None;
    while begin.elapsed() < Duration::from_millis(1600) {
        if cpu_before.is_none() && begin.elapsed() >= Duration::from_millis(100) {
            cpu_before = Some(w.cpu());
        }
        let wait = held
            .as_ref()
            .map_or(Duration::from_millis(20), |(_, _, at)| {
                at.saturating_duration_since(Instant::now())
            });
        if let Some((id, request)) = d.recv(wait.min(Duration::from_millis(20))) {
            if cpu_before.is_some() {
                requests += 1;
            }
            assert_eq!(
                request.free, 2,
                "an idle worker asks for every slot, without reports in between"
            );
            assert!(held.is_none(), "a second work PULL while one is held");
            held = Some((id, request.seq, Instant::now() + Duration::from_millis(200)));
        }
        if let Some((id, seq, _)) = held.take_if(|(_, _, at)| Instant::now() >= *at) {
            d.answer(&id, seq, vec![], vec![]);
        }
    }
    let cpu = w
        .cpu()
        .zip(cpu_before.flatten())
        .map(|(after, before)| after.saturating_sub(before));
    eprintln!("idle for 1.5 s at hold_ms 200: {requests} requests, I/O thread CPU {cpu:?}");
    assert!(
        (5..=9).contains(&requests),
        "{requests} requests in 1.5 s at hold_ms 200"
    );
    if let Some(cpu) = cpu {
        // Clock ticks are 10 ms: 30 ms in 1.5 s is 2 %.
        assert!(
            cpu <= Duration::from_millis(20),
            "I/O thread CPU {cpu:?} in 1.5 s"
        );
    }
    d.held = held.map(|(id, seq, _)| (id, seq));
    d.stop(&mut w);
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
        let e = run_pull(WorkerConfig::new(1, url), shutdown.clone()).unwrap_err();
        assert!(matches!(e, WorkerError::BadUrl { .. }), "{url}: {e}");
    }
    let e = run_pull(WorkerConfig::new(0, "tcp://127.0.0.1:7001"), shutdown).unwrap_err();
    assert!(matches!(e, WorkerError::NoSlots), "{e}");
}

#[test]
fn stopping_without_a_dispatcher_returns_promptly() {
    common::init_logs();
    // Nothing listens there: nothing was ever handed over, nothing waits.
    let d = Dispatcher::bind(1000, 1000);
    let endpoint = d.endpoint.clone();
    drop(d);
    let mut w = Worker::start_with(run_pull, 1, &endpoint, |c| c.prefetch = 0);
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    w.stop().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
