//! The embedded store: the same semantics as the Redis backend, in process
//! memory, for the one-command start. Nothing survives the process.

use crate::error::StoreResult;
use crate::model::{
    lost_message, now_ms, Claim, Final, FunctionId, FunctionRecord, TaskId, TaskOutcome,
    TaskRecord, TaskStatus, TaskSummary, LOST_KIND, RECENT_TASKS,
};
use crate::waiters::Waiters;
use crate::StoreConfig;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

struct Lease {
    consumer: String,
    attempt: u32,
    expires: Instant,
}

#[derive(Default)]
struct State {
    functions: HashMap<FunctionId, FunctionRecord>,
    /// Functions by (created_at_ms, id): the order of Redis's sorted set.
    function_order: BTreeSet<(u64, FunctionId)>,
    modules: HashMap<String, Arc<Vec<u8>>>,
    tasks: HashMap<TaskId, TaskRecord>,
    queue: VecDeque<TaskId>,
    /// The latest submissions, newest at the front, at most `RECENT_TASKS`.
    recent: VecDeque<TaskId>,
    leases: HashMap<TaskId, Lease>,
    workers: HashMap<String, (Instant, Value)>,
}

pub struct MemoryStore {
    state: Mutex<State>,
    new_work: Notify,
    pub(crate) waiters: Waiters,
    config: StoreConfig,
}

impl MemoryStore {
    pub fn new(config: StoreConfig) -> Self {
        MemoryStore {
            state: Mutex::default(),
            new_work: Notify::new(),
            waiters: Waiters::default(),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below leaves the state consistent before it can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn put_function(&self, record: &FunctionRecord, module: &[u8]) -> StoreResult<()> {
        let mut state = self.lock();
        state
            .modules
            .entry(record.module_hash.clone())
            .or_insert_with(|| Arc::new(module.to_vec()));
        if let Some(old) = state.functions.insert(record.id, record.clone()) {
            state.function_order.remove(&(old.created_at_ms, old.id));
        }
        state
            .function_order
            .insert((record.created_at_ms, record.id));
        Ok(())
    }

    pub async fn functions(&self, limit: usize) -> StoreResult<Vec<FunctionRecord>> {
        let state = self.lock();
        Ok(state
            .function_order
            .iter()
            .rev()
            .filter_map(|(_, id)| state.functions.get(id).cloned())
            .take(limit)
            .collect())
    }

    pub async fn recent_tasks(
        &self,
        limit: usize,
        status: Option<TaskStatus>,
    ) -> StoreResult<Vec<TaskSummary>> {
        let state = self.lock();
        Ok(state
            .recent
            .iter()
            .filter_map(|id| state.tasks.get(id))
            .filter(|t| status.is_none_or(|s| t.status == s))
            .take(limit)
            .map(TaskSummary::from)
            .collect())
    }

    pub async fn function(&self, id: FunctionId) -> StoreResult<Option<FunctionRecord>> {
        Ok(self.lock().functions.get(&id).cloned())
    }

    pub async fn module(&self, hash: &str) -> StoreResult<Option<Arc<Vec<u8>>>> {
        Ok(self.lock().modules.get(hash).cloned())
    }

    pub async fn submit_many(
        &self,
        function_id: FunctionId,
        tasks: &[(TaskId, Value)],
    ) -> StoreResult<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        {
            let mut state = self.lock();
            let created = now_ms();
            for (id, payload) in tasks {
                state.tasks.insert(
                    *id,
                    TaskRecord {
                        id: *id,
                        function_id,
                        payload: payload.clone(),
                        status: TaskStatus::Queued,
                        result: Value::Null,
                        failure_kind: None,
                        attempts: 0,
                        created_at_ms: created,
                        started_at_ms: None,
                        finished_at_ms: None,
                    },
                );
                state.queue.push_back(*id);
                state.recent.push_front(*id);
            }
            state.recent.truncate(RECENT_TASKS);
        }
        self.new_work.notify_waiters();
        Ok(())
    }

    pub async fn task(&self, id: TaskId) -> StoreResult<Option<TaskRecord>> {
        Ok(self.lock().tasks.get(&id).cloned())
    }

    pub async fn tasks_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskRecord>>> {
        let state = self.lock();
        Ok(ids.iter().map(|id| state.tasks.get(id).cloned()).collect())
    }

    pub async fn outcomes_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskOutcome>>> {
        let state = self.lock();
        Ok(ids
            .iter()
            .map(|id| {
                state.tasks.get(id).map(|t| TaskOutcome {
                    status: t.status,
                    result: t.result.clone(),
                })
            })
            .collect())
    }

    pub async fn statuses_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskStatus>>> {
        let state = self.lock();
        Ok(ids
            .iter()
            .map(|id| state.tasks.get(id).map(|t| t.status))
            .collect())
    }

    pub async fn claim(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> StoreResult<Vec<Claim>> {
        let deadline = Instant::now() + block;
        loop {
            let notified = self.new_work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let claims = self.take(consumer, max);
            let now = Instant::now();
            if !claims.is_empty() || now >= deadline {
                return Ok(claims);
            }
            // Wake for new work, or in time to reclaim expired leases.
            let nap = (deadline - now).min(self.config.lease / 2);
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    fn take(&self, consumer: &str, max: usize) -> Vec<Claim> {
        let mut state = self.lock();
        let now = Instant::now();
        let expired: Vec<TaskId> = state
            .leases
            .iter()
            .filter(|(_, lease)| lease.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            state.leases.remove(&id);
            state.queue.push_front(id);
        }

        let mut claims = Vec::new();
        let mut lost: Vec<(TaskId, Option<TaskOutcome>)> = Vec::new();
        while claims.len() < max {
            let Some(id) = state.queue.pop_front() else {
                break;
            };
            let Some(task) = state.tasks.get_mut(&id) else {
                continue;
            };
            if task.status.is_final() {
                continue;
            }
            task.attempts += 1;
            if task.attempts > self.config.max_attempts {
                task.attempts -= 1;
                task.status = TaskStatus::Failed;
                task.result = Value::String(lost_message(task.attempts));
                task.failure_kind = Some(LOST_KIND.to_string());
                task.finished_at_ms = Some(now_ms());
                lost.push((
                    id,
                    Some(TaskOutcome {
                        status: task.status,
                        result: task.result.clone(),
                    }),
                ));
                continue;
            }
            task.status = TaskStatus::Running;
            task.started_at_ms = Some(now_ms());
            let claim = Claim {
                task_id: id,
                function_id: task.function_id,
                payload: task.payload.clone(),
                attempt: task.attempts,
                receipt: String::new(),
            };
            state.leases.insert(
                id,
                Lease {
                    consumer: consumer.to_string(),
                    attempt: claim.attempt,
                    expires: now + self.config.lease,
                },
            );
            claims.push(claim);
        }
        drop(state);
        self.waiters.notify_many(lost);
        claims
    }

    pub async fn renew(&self, consumer: &str, claims: &[Claim]) -> StoreResult<()> {
        let mut state = self.lock();
        let expires = Instant::now() + self.config.lease;
        for claim in claims {
            if let Some(lease) = state.leases.get_mut(&claim.task_id) {
                if lease.consumer == consumer && lease.attempt == claim.attempt {
                    lease.expires = expires;
                }
            }
        }
        Ok(())
    }

    pub async fn finish_many(&self, done: &[(Claim, Final)]) -> StoreResult<Vec<bool>> {
        Ok(done
            .iter()
            .map(|(claim, outcome)| self.finish_one(claim, outcome))
            .collect())
    }

    fn finish_one(&self, claim: &Claim, outcome: &Final) -> bool {
        let ended = {
            let mut state = self.lock();
            let current = match state.tasks.get_mut(&claim.task_id) {
                Some(task)
                    if task.status == TaskStatus::Running && task.attempts == claim.attempt =>
                {
                    task
                }
                _ => return false,
            };
            current.status = outcome.status();
            current.result = outcome.result();
            current.failure_kind = outcome.kind().map(str::to_string);
            current.finished_at_ms = Some(now_ms());
            let ended = TaskOutcome {
                status: current.status,
                result: current.result.clone(),
            };
            state.leases.remove(&claim.task_id);
            ended
        };
        // Written once: the waiters get the outcome itself, no re-read.
        self.waiters.notify_many([(claim.task_id, Some(ended))]);
        true
    }

    pub async fn publish_workers(
        &self,
        dispatcher: &str,
        workers: &Value,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.lock().workers.insert(
            dispatcher.to_string(),
            (Instant::now() + ttl, workers.clone()),
        );
        Ok(())
    }

    pub async fn workers(&self) -> StoreResult<Vec<Value>> {
        let mut state = self.lock();
        let now = Instant::now();
        state.workers.retain(|_, (expires, _)| *expires > now);
        Ok(state
            .workers
            .values()
            .filter_map(|(_, v)| v.as_array().cloned())
            .flatten()
            .collect())
    }

    pub async fn release(&self, claim: &Claim, count_attempt: bool) -> StoreResult<()> {
        let mut state = self.lock();
        let ours = state
            .tasks
            .get(&claim.task_id)
            .is_some_and(|t| t.status == TaskStatus::Running && t.attempts == claim.attempt);
        if ours {
            state.leases.remove(&claim.task_id);
            // Never queue a task twice (a lapsed lease may have queued it).
            state.queue.retain(|id| *id != claim.task_id);
            if let Some(task) = state.tasks.get_mut(&claim.task_id) {
                task.status = TaskStatus::Queued;
                if !count_attempt {
                    task.attempts -= 1;
                }
            }
            state.queue.push_front(claim.task_id);
            drop(state);
            self.new_work.notify_waiters();
        }
        Ok(())
    }
}
