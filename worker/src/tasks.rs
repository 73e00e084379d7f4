//! The worker's task bookkeeping, without sockets or threads: what happens
//! to a `TASK` (run it, load its module first, ask for the module, or turn
//! it down), when a slot frees up, and what a `REGISTER`, `HEARTBEAT` or
//! `BYE` says. The I/O loop feeds it messages and events and carries out the
//! [`Action`]s it returns (pull mode folds the messages into its `PULL`s:
//! a `NEED_MODULE` becomes `need_modules`, a `BYE` becomes `returned`).
//!
//! A task is *held* from its `TASK` until its `RESULT` (or its return in a
//! `BYE`), in exactly one state: waiting for its function's load, or
//! started (handed to the executor, whose queue feeds the slots in arrival
//! order, so a slot that frees up takes its next task without a round trip
//! through the I/O loop). The dispatcher may send several tasks per slot
//! (see `docs/protocol.md`, Capacity). A `BYE` returns what never ran: the
//! tasks waiting for a load, and those the engine withdrew from the
//! executor's queue before a slot took them (its tickets say which).

use crate::functions::{FunctionCache, LoadJob, Loaded};
use crate::outcome::{failed, kind_name, outcome_result, result_of, KIND_INTERNAL, KIND_LOAD};
use faas_protocol::{TaskMessage, TaskRef, WorkerMessage};
use faas_runtime::{Args, FailureKind, Function, Invocation, Outcome};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A task whose `NEED_MODULE` got no answer this long is forgotten (push
/// mode) or failed (pull mode).
pub(crate) const NEED_MODULE_EXPIRY: Duration = Duration::from_secs(60);

/// A task ready for a slot.
pub struct Ready {
    pub task: TaskRef,
    pub function: Function,
    pub args: Args,
}

/// What the I/O loop must do next.
pub enum Action {
    Send(WorkerMessage),
    Load(LoadJob),
    Start(Ready),
}

struct Waiting {
    task: TaskRef,
    payload: Value,
    arrived: Instant,
}

struct Load {
    /// The module hash the dispatcher announced.
    announced: String,
    waiting: Vec<Waiting>,
}

pub struct Tasks {
    functions: FunctionCache,
    loading: HashMap<Uuid, Load>,
    /// The tasks waiting in `loading`: a duplicate `TASK` is found in
    /// constant time however many are held.
    not_started: HashSet<TaskRef>,
    /// Handed to the executor: queued there or running; with when each
    /// arrived (its result says how long it was here: `held_us`).
    started: HashMap<TaskRef, Instant>,
    /// Tasks answered with `NEED_MODULE`: not held, but returned in a `BYE`
    /// because the dispatcher still counts them on this worker.
    need_module: HashMap<TaskRef, Instant>,
    draining: bool,
}

impl Tasks {
    pub fn new(function_capacity: usize) -> Self {
        Tasks {
            functions: FunctionCache::new(function_capacity),
            loading: HashMap::new(),
            not_started: HashSet::new(),
            started: HashMap::new(),
            need_module: HashMap::new(),
            draining: false,
        }
    }

    /// A `TASK` arrived, with or without its module.
    pub fn task(&mut self, message: TaskMessage, module: Option<Vec<u8>>, out: &mut Vec<Action>) {
        let TaskMessage {
            task,
            function_id,
            function,
            payload,
        } = message;
        let arrived = Instant::now();
        tracing::trace!(
            task = %task.task_id,
            attempt = task.attempt,
            function = %function_id,
            module = module.is_some(),
            held = self.held_count(),
            "TASK"
        );
        if self.draining {
            out.push(Action::Send(WorkerMessage::Bye {
                returned: vec![task],
            }));
            return;
        }
        if self.holds(&task) {
            tracing::debug!(task = %task.task_id, attempt = task.attempt, "ignoring a TASK already held");
            return;
        }
        self.need_module.remove(&task);
        if let Some(load) = self.loading.get_mut(&function_id) {
            self.not_started.insert(task.clone());
            load.waiting.push(Waiting {
                task,
                payload,
                arrived,
            });
            return;
        }
        if let Some(f) = self.functions.get(&function_id, &function.module_hash) {
            self.accept(task, f, &payload, arrived, out);
            return;
        }
        match module {
            Some(module) => {
                self.not_started.insert(task.clone());
                self.loading.insert(
                    function_id,
                    Load {
                        announced: function.module_hash,
                        waiting: vec![Waiting {
                            task,
                            payload,
                            arrived,
                        }],
                    },
                );
                out.push(Action::Load(LoadJob {
                    function_id,
                    name: function.name,
                    entry: function.entry,
                    module,
                }));
            }
            None => {
                self.need_module.insert(task.clone(), Instant::now());
                out.push(Action::Send(WorkerMessage::NeedModule {
                    task,
                    function_id,
                }));
            }
        }
    }

    /// A load finished: cache the function and accept the tasks that
    /// waited for it, or fail them with the load error.
    pub fn loaded(&mut self, loaded: Loaded, out: &mut Vec<Action>) {
        let load = self.loading.remove(&loaded.function_id);
        let (announced, waiting) = load.map(|l| (l.announced, l.waiting)).unwrap_or_default();
        match loaded.result {
            Ok(function) => {
                if !announced.is_empty() && !function.hash_hex().eq_ignore_ascii_case(&announced) {
                    tracing::warn!(
                        function = %loaded.function_id,
                        "the dispatcher announced module {announced} but sent a module hashing to {}",
                        function.hash_hex()
                    );
                }
                self.functions
                    .insert(loaded.function_id, function.clone(), announced);
                for w in waiting {
                    self.accept(w.task, function.clone(), &w.payload, w.arrived, out);
                }
            }
            Err(message) => {
                tracing::warn!(function = %loaded.function_id, "{message}");
                for w in waiting {
                    self.not_started.remove(&w.task);
                    out.push(Action::Send(WorkerMessage::Result(failed(
                        w.task,
                        KIND_LOAD,
                        message.clone(),
                    ))));
                }
            }
        }
    }

    /// A started task ended: its `RESULT`.
    pub fn finished(
        &mut self,
        task: TaskRef,
        invocation: Invocation,
        slot: usize,
        out: &mut Vec<Action>,
    ) {
        self.end(task, |task| result_of(task, invocation, slot), out);
    }

    /// A started task could not be handed to the executor.
    pub fn abandon(&mut self, task: TaskRef, why: String, out: &mut Vec<Action>) {
        self.end(task, |task| failed(task, KIND_INTERNAL, why), out);
    }

    fn end(
        &mut self,
        task: TaskRef,
        result: impl FnOnce(TaskRef) -> faas_protocol::ResultMessage,
        out: &mut Vec<Action>,
    ) {
        let arrived = self.started.remove(&task);
        if arrived.is_none() {
            tracing::warn!(task = %task.task_id, "a task ended that was not started");
        }
        let mut result = result(task);
        result.held_us =
            arrived.map(|a| u64::try_from(a.elapsed().as_micros()).unwrap_or(u64::MAX));
        out.push(Action::Send(WorkerMessage::Result(result)));
    }

    fn accept(
        &mut self,
        task: TaskRef,
        function: Function,
        payload: &Value,
        arrived: Instant,
        out: &mut Vec<Action>,
    ) {
        self.not_started.remove(&task);
        match function.parse_args(payload) {
            Ok(args) => {
                self.started.insert(task.clone(), arrived);
                out.push(Action::Start(Ready {
                    task,
                    function,
                    args,
                }));
            }
            Err(e) => out.push(Action::Send(WorkerMessage::Result(failed(
                task,
                kind_name(FailureKind::BadArguments),
                e.to_string(),
            )))),
        }
    }

    /// A held task that was cancelled and is not handed to the executor
    /// (waiting for its function's load or module): it ends here, failed
    /// as cancelled. Started ones are the engine's to stop. False if it is
    /// not held here that way.
    pub fn cancel_waiting(&mut self, task: &TaskRef, out: &mut Vec<Action>) -> bool {
        let waited = if self.not_started.remove(task) {
            for load in self.loading.values_mut() {
                load.waiting.retain(|w| w.task != *task);
            }
            true
        } else {
            self.need_module.remove(task).is_some()
        };
        if waited {
            out.push(Action::Send(WorkerMessage::Result(outcome_result(
                task.clone(),
                Outcome::cancelled(),
            ))));
        }
        waited
    }

    fn holds(&self, task: &TaskRef) -> bool {
        self.started.contains_key(task) || self.not_started.contains(task)
    }

    /// Every task held: what a `REGISTER` lists as running.
    pub fn held(&self) -> Vec<TaskRef> {
        let mut all: Vec<TaskRef> = self.started.keys().cloned().collect();
        all.extend(
            self.loading
                .values()
                .flat_map(|l| l.waiting.iter().map(|w| w.task.clone())),
        );
        all
    }

    /// How many tasks are held: what a `HEARTBEAT` reports.
    pub fn held_count(&self) -> usize {
        self.started.len()
            + self
                .loading
                .values()
                .map(|l| l.waiting.len())
                .sum::<usize>()
    }

    /// Tasks handed to the executor (queued there or running).
    pub fn started(&self) -> usize {
        self.started.len()
    }

    /// Stops taking work: the `BYE` returning every task that will not
    /// run: `withdrawn` (started tasks the engine took back from the
    /// executor's queue before a slot took them), those waiting for a
    /// load, and those whose module was asked for.
    pub fn begin_drain(&mut self, withdrawn: &[TaskRef]) -> WorkerMessage {
        self.draining = true;
        self.not_started.clear();
        let mut returned: Vec<TaskRef> = withdrawn
            .iter()
            .filter(|t| self.started.remove(*t).is_some())
            .cloned()
            .collect();
        for load in self.loading.values_mut() {
            returned.extend(load.waiting.drain(..).map(|w| w.task));
        }
        returned.extend(self.need_module.drain().map(|(task, _)| task));
        WorkerMessage::Bye { returned }
    }

    pub fn draining(&self) -> bool {
        self.draining
    }

    /// Nothing left to finish (after `begin_drain`).
    pub fn idle(&self) -> bool {
        self.held_count() == 0
    }

    /// The dispatcher asked for a new `REGISTER`: it does not know this
    /// worker (it restarted, or declared it dead), so it will not answer
    /// earlier `NEED_MODULE`s.
    pub fn forget_need_module(&mut self) {
        self.need_module.clear();
    }

    /// Pull mode: the module a task waited for never came; it fails with
    /// `why` (unless it was handed back or fed again meanwhile).
    pub fn module_missing(&mut self, task: TaskRef, why: &str, out: &mut Vec<Action>) {
        if self.need_module.remove(&task).is_some() {
            out.push(Action::Send(WorkerMessage::Result(failed(
                task, KIND_LOAD, why,
            ))));
        }
    }

    /// Forgets `NEED_MODULE`s that were never answered.
    pub fn expire(&mut self, now: Instant) {
        self.need_module
            .retain(|_, asked| now.saturating_duration_since(*asked) < NEED_MODULE_EXPIRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faas_protocol::FunctionInfo;
    use faas_runtime::{Runtime, RuntimeConfig};
    use serde_json::json;

    const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

    fn runtime() -> Runtime {
        Runtime::new(RuntimeConfig {
            max_concurrent_instances: 2,
            ..RuntimeConfig::default()
        })
        .unwrap()
    }

    fn task_ref() -> TaskRef {
        TaskRef {
            task_id: Uuid::new_v4(),
            attempt: 1,
            receipt: "r".into(),
        }
    }

    fn message(task: &TaskRef, function_id: Uuid, hash: &str, payload: Value) -> TaskMessage {
        TaskMessage {
            task: task.clone(),
            function_id,
            function: FunctionInfo {
                name: "add".into(),
                entry: "add".into(),
                module_hash: hash.into(),
            },
            payload,
        }
    }

    fn sends(out: &[Action]) -> Vec<&WorkerMessage> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn started(out: &[Action]) -> Vec<TaskRef> {
        out.iter()
            .filter_map(|a| match a {
                Action::Start(r) => Some(r.task.clone()),
                _ => None,
            })
            .collect()
    }

    /// Runs a load the way a loader thread would.
    fn load(rt: &Runtime, out: &[Action]) -> Loaded {
        let job = out
            .iter()
            .find_map(|a| match a {
                Action::Load(job) => Some(job),
                _ => None,
            })
            .expect("a load");
        Loaded {
            function_id: job.function_id,
            result: rt
                .load(&job.module, &job.name, Some(&job.entry))
                .map_err(|e| e.to_string()),
        }
    }

    #[test]
    fn a_task_with_its_module_loads_then_runs_and_later_tasks_reuse_it() {
        let rt = runtime();
        let mut tasks = Tasks::new(16);
        let f = Uuid::new_v4();
        let (t1, t2) = (task_ref(), task_ref());
        let mut out = Vec::new();
        tasks.task(
            message(&t1, f, "", json!([2, 3])),
            Some(ADD.as_bytes().to_vec()),
            &mut out,
        );
        assert_eq!(tasks.held(), vec![t1.clone()]);
        let loaded = load(&rt, &out);
        // A second task for the same function arrives while it loads.
        let mut out = Vec::new();
        tasks.task(message(&t2, f, "", json!([1, 1])), None, &mut out);
        assert!(out.is_empty(), "it waits for the load, no NEED_MODULE");
        tasks.loaded(loaded, &mut out);
        assert_eq!(started(&out), vec![t1.clone(), t2.clone()]);
        assert_eq!(tasks.started(), 2);

        let mut out = Vec::new();
        tasks.finished(
            t1.clone(),
            Invocation::unrun(Outcome::completed(json!(5))),
            0,
            &mut out,
        );
        match sends(&out)[..] {
            [WorkerMessage::Result(r)] => {
                assert_eq!(
                    (&r.task, r.status.as_str(), &r.result),
                    (&t1, "COMPLETED", &json!(5))
                );
            }
            ref other => panic!("{other:?}"),
        }
        // Cached: no module, no load.
        let t3 = task_ref();
        let mut out = Vec::new();
        tasks.task(message(&t3, f, "", json!([1, 1])), None, &mut out);
        assert_eq!(started(&out), vec![t3]);
    }

    #[test]
    fn an_unknown_function_without_module_asks_for_it() {
        let mut tasks = Tasks::new(16);
        let (t, f) = (task_ref(), Uuid::new_v4());
        let mut out = Vec::new();
        tasks.task(message(&t, f, "", json!([])), None, &mut out);
        assert_eq!(
            sends(&out),
            vec![&WorkerMessage::NeedModule {
                task: t.clone(),
                function_id: f
            }]
        );
        assert!(tasks.held().is_empty());
        // It is still handed back in a BYE: the dispatcher counts it here.
        assert_eq!(
            tasks.begin_drain(&[]),
            WorkerMessage::Bye { returned: vec![t] }
        );
    }

    #[test]
    fn a_cached_function_with_another_module_hash_is_not_used() {
        let rt = runtime();
        let mut tasks = Tasks::new(16);
        let f = Uuid::new_v4();
        let add = rt.load(ADD.as_bytes(), "add", None).unwrap();
        let mut out = Vec::new();
        tasks.task(
            message(&task_ref(), f, &add.hash_hex(), json!([1, 2])),
            Some(ADD.as_bytes().to_vec()),
            &mut out,
        );
        let loaded = load(&rt, &out);
        tasks.loaded(loaded, &mut out);
        let mut out = Vec::new();
        tasks.task(
            message(&task_ref(), f, "00ff", json!([1, 2])),
            None,
            &mut out,
        );
        assert!(matches!(
            sends(&out)[..],
            [WorkerMessage::NeedModule { .. }]
        ));
    }

    #[test]
    fn load_and_argument_errors_fail_the_task_with_their_kind() {
        let rt = runtime();
        let mut tasks = Tasks::new(16);
        let (t1, f1) = (task_ref(), Uuid::new_v4());
        let mut out = Vec::new();
        tasks.task(
            message(&t1, f1, "", json!([1, 2])),
            Some(b"garbage".to_vec()),
            &mut out,
        );
        let loaded = load(&rt, &out);
        let mut out = Vec::new();
        tasks.loaded(loaded, &mut out);
        match sends(&out)[..] {
            [WorkerMessage::Result(r)] => {
                assert_eq!(
                    (r.status.as_str(), r.kind.as_deref()),
                    ("FAILED", Some("load"))
                );
                assert!(
                    r.result
                        .as_str()
                        .unwrap()
                        .contains("not a WebAssembly module"),
                    "{}",
                    r.result
                );
            }
            ref other => panic!("{other:?}"),
        }
        assert!(tasks.idle());

        let (t2, f2) = (task_ref(), Uuid::new_v4());
        let mut out = Vec::new();
        tasks.task(
            message(&t2, f2, "", json!(["x"])),
            Some(ADD.as_bytes().to_vec()),
            &mut out,
        );
        let loaded = load(&rt, &out);
        let mut out = Vec::new();
        tasks.loaded(loaded, &mut out);
        match sends(&out)[..] {
            [WorkerMessage::Result(r)] => {
                assert_eq!(r.task, t2);
                assert_eq!(r.kind.as_deref(), Some("bad_arguments"));
            }
            ref other => panic!("{other:?}"),
        }
        assert!(started(&out).is_empty());
    }

    #[test]
    fn tasks_start_on_arrival_and_a_bye_returns_what_did_not_run() {
        let rt = runtime();
        let mut tasks = Tasks::new(16);
        let f = Uuid::new_v4();
        let ts: Vec<TaskRef> = (0..4).map(|_| task_ref()).collect();
        let mut out = Vec::new();
        tasks.task(
            message(&ts[0], f, "", json!([1, 2])),
            Some(ADD.as_bytes().to_vec()),
            &mut out,
        );
        let loaded = load(&rt, &out);
        let mut out = Vec::new();
        tasks.loaded(loaded, &mut out);
        tasks.task(message(&ts[1], f, "", json!([1, 2])), None, &mut out);
        tasks.task(message(&ts[2], f, "", json!([1, 2])), None, &mut out);
        // Every task goes to the executor at once: its queue feeds the slots.
        assert_eq!(started(&out), ts[..3].to_vec());
        assert_eq!(tasks.held_count(), 3);
        let mut out = Vec::new();
        // A duplicate TASK (same attempt) is ignored.
        tasks.task(message(&ts[1], f, "", json!([1, 2])), None, &mut out);
        assert!(out.is_empty());
        tasks.finished(
            ts[0].clone(),
            Invocation::unrun(Outcome::completed(json!(3))),
            0,
            &mut out,
        );
        assert_eq!(tasks.held_count(), 2);

        // ts[2] was withdrawn from the executor's queue, ts[1] runs on; a
        // withdrawn task that was not held is not returned twice.
        assert_eq!(
            tasks.begin_drain(&[ts[2].clone(), ts[3].clone()]),
            WorkerMessage::Bye {
                returned: vec![ts[2].clone()]
            }
        );
        assert!(!tasks.idle());
        // New work while draining goes straight back.
        let late = task_ref();
        let mut out = Vec::new();
        tasks.task(message(&late, f, "", json!([1, 2])), None, &mut out);
        assert_eq!(
            sends(&out),
            vec![&WorkerMessage::Bye {
                returned: vec![late]
            }]
        );
        let mut out = Vec::new();
        tasks.finished(
            ts[1].clone(),
            Invocation::unrun(Outcome::completed(json!(3))),
            0,
            &mut out,
        );
        assert!(started(&out).is_empty());
        assert!(tasks.idle());
    }

    #[test]
    fn a_task_whose_module_never_comes_fails_once() {
        let mut tasks = Tasks::new(16);
        let t = task_ref();
        let mut out = Vec::new();
        tasks.task(message(&t, Uuid::new_v4(), "", json!([])), None, &mut out);
        let mut out = Vec::new();
        tasks.module_missing(t.clone(), "no module", &mut out);
        match sends(&out)[..] {
            [WorkerMessage::Result(r)] => {
                assert_eq!(
                    (&r.task, r.kind.as_deref(), &r.result),
                    (&t, Some("load"), &json!("no module"))
                );
            }
            ref other => panic!("{other:?}"),
        }
        let mut out = Vec::new();
        tasks.module_missing(t, "no module", &mut out);
        assert!(out.is_empty(), "failed once");
        assert_eq!(
            tasks.begin_drain(&[]),
            WorkerMessage::Bye { returned: vec![] }
        );
    }

    #[test]
    fn unanswered_need_modules_expire() {
        let mut tasks = Tasks::new(16);
        let mut out = Vec::new();
        tasks.task(
            message(&task_ref(), Uuid::new_v4(), "", json!([])),
            None,
            &mut out,
        );
        tasks.expire(Instant::now() + NEED_MODULE_EXPIRY);
        assert_eq!(
            tasks.begin_drain(&[]),
            WorkerMessage::Bye { returned: vec![] }
        );
    }
}
