//! The embedded store: the same semantics as the Redis backend, in process
//! memory, for the one-command start. Nothing survives the process.
//! Memory stays bounded: finished tasks go when their retention ends, or
//! oldest first past `max_finished_records`, swept at the start of each
//! operation on tasks (no background thread).

use crate::error::{StoreError, StoreResult};
use crate::keys::ApiKey;
use crate::model::{
    function_deleted_message, lost_message, new_receipt, now_ms, Cancelled, Claim, Final,
    FunctionId, FunctionRecord, Notice, Report, TaskId, TaskOutcome, TaskRecord, TaskStatus,
    TaskSummary, CANCELLED, LOST_KIND, MISSING_FUNCTION, RECENT_TASKS,
};
use crate::retention::{deadline, Finished};
use crate::tenants::{Bucket, LimitOverrides, OverQuota, TenantInfo};
use crate::throughput::Throughput;
use crate::waiters::Waiters;
use crate::StoreConfig;
use faas_contract::{Stats, LATENCY_BOUNDS_MS};
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

struct Lease {
    consumer: String,
    attempt: u32,
    /// Random per attempt: only whoever was handed the claim knows it.
    receipt: String,
    expires: Instant,
}

/// A task as the embedded store holds it.
struct StoredTask {
    record: TaskRecord,
    /// How long the record is kept once the task ends.
    retention_ms: u64,
}

/// What the store keeps per tenant: limits an admin set, and usage.
#[derive(Default)]
struct Tenant {
    overrides: LimitOverrides,
    active: u64,
    module_bytes: u64,
    bucket: Option<Bucket>,
    /// Its latest submissions, newest at the front, at most `RECENT_TASKS`.
    recent: VecDeque<TaskId>,
}

#[derive(Default)]
struct State {
    functions: HashMap<FunctionId, FunctionRecord>,
    /// Functions by (created_at_ms, id): the order of Redis's sorted set.
    function_order: BTreeSet<(u64, FunctionId)>,
    modules: HashMap<String, Arc<Vec<u8>>>,
    tasks: HashMap<TaskId, StoredTask>,
    /// The tasks of `tasks` that ended, in eviction order.
    finished: Finished,
    queue: VecDeque<TaskId>,
    /// The latest submissions, newest at the front, at most `RECENT_TASKS`.
    recent: VecDeque<TaskId>,
    leases: HashMap<TaskId, Lease>,
    workers: HashMap<String, (Instant, Value)>,
    tenants: HashMap<String, Tenant>,
    keys: HashMap<String, ApiKey>,
    throughput: Throughput,
}

impl State {
    /// Whether `claim`'s receipt is its attempt's (a lapsed lease, whose
    /// entry is gone, leaves the attempt number to decide).
    fn holds(&self, claim: &Claim) -> bool {
        self.leases
            .get(&claim.task_id)
            .is_none_or(|l| l.attempt != claim.attempt || l.receipt == claim.receipt)
    }

    /// A task ended (or was lost): it no longer counts against its
    /// tenant, and its retention starts.
    /// `ran`: it ended by running (a finish), so its latency counts.
    fn task_ended(&mut self, id: TaskId, tenant: &str, retention_ms: u64, now: Instant, ran: bool) {
        if let Some(t) = self.tenants.get_mut(tenant) {
            t.active = t.active.saturating_sub(1);
        }
        if let Some(task) = self.tasks.get(&id) {
            let record = &task.record;
            let failed = record.status == TaskStatus::Failed;
            let ended_ms = record.finished_at_ms.unwrap_or_else(now_ms);
            let latency = ran.then(|| ended_ms.saturating_sub(record.created_at_ms));
            self.throughput.ended(ended_ms, failed, latency);
            if let Some(function) = self
                .functions
                .get_mut(&record.function_id)
                .filter(|_| failed)
            {
                function.failures += 1;
            }
        }
        self.finished.insert(id, deadline(now, retention_ms));
    }

    /// Drops the finished tasks whose retention ended, and the oldest
    /// finished while more than `cap` are held.
    fn evict_finished(&mut self, now: Instant, cap: usize) {
        while let Some(id) = self.finished.pop_evictable(now, cap) {
            let task = match self.tasks.entry(id) {
                Entry::Occupied(task) if task.get().record.status.is_final() => task.remove(),
                // Queued and running tasks never expire, whatever the index says.
                _ => continue,
            };
            // Evicted tasks are mostly the oldest submissions: the tails
            // of the recent lists.
            trim_gone(&mut self.recent, &self.tasks);
            if let Some(t) = self.tenants.get_mut(&task.record.tenant) {
                trim_gone(&mut t.recent, &self.tasks);
            }
        }
    }
}

/// Pops the ids of tasks no longer held off the back (oldest end) of a
/// recent list.
fn trim_gone(recent: &mut VecDeque<TaskId>, tasks: &HashMap<TaskId, StoredTask>) {
    while recent.back().is_some_and(|id| !tasks.contains_key(id)) {
        recent.pop_back();
    }
}

pub struct MemoryStore {
    state: Mutex<State>,
    new_work: Notify,
    /// Whoever asked for [`Notice`]s.
    listeners: Mutex<Vec<mpsc::UnboundedSender<Notice>>>,
    pub(crate) waiters: Waiters,
    config: StoreConfig,
}

impl MemoryStore {
    pub fn new(config: StoreConfig) -> Self {
        MemoryStore {
            state: Mutex::default(),
            new_work: Notify::new(),
            listeners: Mutex::default(),
            waiters: Waiters::default(),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below leaves the state consistent before it can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `lock`, with the finished tasks that are due evicted first: every
    /// operation on tasks takes this, so none sees a task past its
    /// retention.
    fn lock_swept(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.evict_finished(Instant::now(), self.config.max_finished_records);
        state
    }

    pub async fn put_function(&self, record: &FunctionRecord, module: &[u8]) -> StoreResult<()> {
        let mut state = self.lock();
        let defaults = self.config.default_limits;
        let tenant = state.tenants.entry(record.tenant.clone()).or_default();
        let max = tenant.overrides.apply(&defaults).max_module_bytes;
        let size = module.len() as u64;
        if tenant.module_bytes.saturating_add(size) > max {
            return Err(StoreError::OverQuota(OverQuota::module_bytes(
                &record.tenant,
                tenant.module_bytes,
                size,
                max,
            )));
        }
        tenant.module_bytes += size;
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
        drop(state);
        self.tell(Notice::FunctionRegistered(record.id));
        Ok(())
    }

    pub async fn delete_function(&self, id: FunctionId, tenant: Option<&str>) -> StoreResult<bool> {
        {
            let mut state = self.lock();
            let in_scope = |f: &FunctionRecord| tenant.is_none_or(|t| t == f.tenant);
            if !state.functions.get(&id).is_some_and(in_scope) {
                return Ok(false);
            }
            let Some(record) = state.functions.remove(&id) else {
                return Ok(false);
            };
            state
                .function_order
                .remove(&(record.created_at_ms, record.id));
            if let Some(t) = state.tenants.get_mut(&record.tenant) {
                t.module_bytes = t.module_bytes.saturating_sub(record.module_size);
            }
            let shared = state
                .functions
                .values()
                .any(|f| f.module_hash == record.module_hash);
            if !shared {
                state.modules.remove(&record.module_hash);
            }
        }
        self.tell(Notice::FunctionDeleted(id));
        Ok(true)
    }

    pub async fn functions(
        &self,
        limit: usize,
        tenant: Option<&str>,
    ) -> StoreResult<Vec<FunctionRecord>> {
        let state = self.lock();
        Ok(state
            .function_order
            .iter()
            .rev()
            .filter_map(|(_, id)| state.functions.get(id))
            .filter(|f| tenant.is_none_or(|t| f.tenant == t))
            .take(limit)
            .cloned()
            .collect())
    }

    pub async fn recent_tasks(
        &self,
        limit: usize,
        status: Option<TaskStatus>,
        tenant: Option<&str>,
    ) -> StoreResult<Vec<TaskSummary>> {
        let mut guard = self.lock_swept();
        let state = &mut *guard;
        let recent = match tenant {
            None => &mut state.recent,
            Some(t) => match state.tenants.get_mut(t) {
                Some(t) => &mut t.recent,
                None => return Ok(Vec::new()),
            },
        };
        let mut met_gone = false;
        let listed = recent
            .iter()
            .filter_map(|id| {
                let task = state.tasks.get(id);
                met_gone |= task.is_none();
                task
            })
            .map(|t| &t.record)
            .filter(|t| status.is_none_or(|s| t.status == s))
            .take(limit)
            .map(TaskSummary::from)
            .collect();
        // Ids evicted out of order stay in a list until they reach its
        // tail; a listing that meets one drops them all (a list is capped,
        // so this costs at most what listing it whole would).
        if met_gone {
            recent.retain(|id| state.tasks.contains_key(id));
        }
        Ok(listed)
    }

    pub async fn function(&self, id: FunctionId) -> StoreResult<Option<FunctionRecord>> {
        Ok(self.lock().functions.get(&id).cloned())
    }

    pub async fn module(&self, hash: &str) -> StoreResult<Option<Arc<Vec<u8>>>> {
        Ok(self.lock().modules.get(hash).cloned())
    }

    pub async fn submit_many(
        &self,
        tenant: &str,
        function_id: FunctionId,
        tasks: &[(TaskId, Value)],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let retention_ms = self.config.retention_ms(ttl);
        {
            let mut state = self.lock_swept();
            if !state.functions.contains_key(&function_id) {
                return Err(StoreError::NoFunction(function_id));
            }
            let created = now_ms();
            let asked = tasks.len() as u64;
            let depth: u64 = state.tenants.values().map(|t| t.active).sum();
            if depth.saturating_add(asked) > self.config.max_queue_depth {
                return Err(StoreError::OverQuota(OverQuota::queue_full(
                    depth,
                    asked,
                    self.config.max_queue_depth,
                )));
            }
            let defaults = self.config.default_limits;
            let t = state.tenants.entry(tenant.to_string()).or_default();
            let limits = t.overrides.apply(&defaults);
            if t.active.saturating_add(asked) > limits.max_active_tasks {
                return Err(StoreError::OverQuota(OverQuota::active(
                    tenant,
                    t.active,
                    asked,
                    limits.max_active_tasks,
                )));
            }
            let bucket = t
                .bucket
                .get_or_insert_with(|| Bucket::full(&limits, created));
            if let Err(wait_ms) = bucket.take(asked, &limits, created) {
                return Err(StoreError::OverQuota(OverQuota::rate(
                    tenant, asked, &limits, wait_ms,
                )));
            }
            t.active += asked;
            for (id, _) in tasks {
                t.recent.push_front(*id);
            }
            t.recent.truncate(RECENT_TASKS);
            for (id, payload) in tasks {
                let record = TaskRecord {
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
                    tenant: tenant.to_string(),
                    logs: String::new(),
                    usage: None,
                };
                state.tasks.insert(
                    *id,
                    StoredTask {
                        record,
                        retention_ms,
                    },
                );
                state.queue.push_back(*id);
                state.recent.push_front(*id);
            }
            state.recent.truncate(RECENT_TASKS);
            state.throughput.submitted(created, asked);
            if let Some(function) = state.functions.get_mut(&function_id) {
                function.invocations += asked;
            }
        }
        self.new_work.notify_waiters();
        Ok(())
    }

    pub async fn tasks_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskRecord>>> {
        let state = self.lock_swept();
        Ok(ids
            .iter()
            .map(|id| state.tasks.get(id).map(|t| t.record.clone()))
            .collect())
    }

    pub async fn outcomes_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskOutcome>>> {
        let state = self.lock_swept();
        Ok(ids
            .iter()
            .map(|id| {
                state.tasks.get(id).map(|t| &t.record).map(|t| TaskOutcome {
                    status: t.status,
                    result: t.result.clone(),
                    tenant: t.tenant.clone(),
                })
            })
            .collect())
    }

    pub async fn statuses_many(
        &self,
        ids: &[TaskId],
    ) -> StoreResult<Vec<Option<(TaskStatus, String)>>> {
        let state = self.lock_swept();
        Ok(ids
            .iter()
            .map(|id| {
                state
                    .tasks
                    .get(id)
                    .map(|t| (t.record.status, t.record.tenant.clone()))
            })
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
        let mut guard = self.lock_swept();
        // Fields borrowed apart: a task's record and the functions map.
        let state = &mut *guard;
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
            let Some(StoredTask {
                record: task,
                retention_ms,
            }) = state.tasks.get_mut(&id)
            else {
                continue;
            };
            let retention_ms = *retention_ms;
            if task.status.is_final() {
                continue;
            }
            task.attempts += 1;
            let ends = if !state.functions.contains_key(&task.function_id) {
                Some((MISSING_FUNCTION, function_deleted_message(task.function_id)))
            } else if task.attempts > self.config.max_attempts {
                Some((LOST_KIND, lost_message(task.attempts - 1)))
            } else {
                None
            };
            if let Some((kind, message)) = ends {
                task.attempts -= 1;
                task.status = TaskStatus::Failed;
                task.result = Value::String(message);
                task.failure_kind = Some(kind.to_string());
                task.finished_at_ms = Some(now_ms());
                let outcome = TaskOutcome {
                    status: task.status,
                    result: task.result.clone(),
                    tenant: task.tenant.clone(),
                };
                state.task_ended(id, &outcome.tenant, retention_ms, now, false);
                lost.push((id, Some(outcome)));
                continue;
            }
            task.status = TaskStatus::Running;
            task.started_at_ms = Some(now_ms());
            let claim = Claim {
                task_id: id,
                function_id: task.function_id,
                payload: task.payload.clone(),
                attempt: task.attempts,
                receipt: new_receipt(),
                queued_at_ms: task.created_at_ms,
            };
            state.leases.insert(
                id,
                Lease {
                    consumer: consumer.to_string(),
                    attempt: claim.attempt,
                    receipt: claim.receipt.clone(),
                    expires: now + self.config.lease,
                },
            );
            claims.push(claim);
        }
        drop(guard);
        self.waiters.notify_many(lost);
        claims
    }

    pub async fn renew(&self, consumer: &str, claims: &[Claim]) -> StoreResult<Vec<TaskId>> {
        let mut state = self.lock();
        let expires = Instant::now() + self.config.lease;
        let mut stop = Vec::new();
        for claim in claims {
            let Some(task) = state.tasks.get(&claim.task_id).map(|t| &t.record) else {
                continue;
            };
            // Cancelled, or running on another attempt (taken over).
            let (status, attempts) = (task.status, task.attempts);
            if task.failure_kind.as_deref() == Some(CANCELLED)
                || (status == TaskStatus::Running && attempts != claim.attempt)
            {
                stop.push(claim.task_id);
                continue;
            }
            if let Some(lease) = state.leases.get_mut(&claim.task_id) {
                if lease.consumer == consumer && lease.attempt == claim.attempt {
                    lease.expires = expires;
                }
            }
        }
        Ok(stop)
    }

    pub async fn cancel_many(
        &self,
        ids: &[TaskId],
        tenant: Option<&str>,
    ) -> StoreResult<Vec<Cancelled>> {
        let mut out = Vec::with_capacity(ids.len());
        let (mut ended, mut stop) = (Vec::new(), Vec::new());
        {
            let mut state = self.lock_swept();
            let now = Instant::now();
            for id in ids {
                let Some(task) = state
                    .tasks
                    .get_mut(id)
                    .filter(|t| tenant.is_none_or(|own| own == t.record.tenant))
                else {
                    out.push(Cancelled::Unknown);
                    continue;
                };
                let record = &mut task.record;
                if record.status.is_final() {
                    out.push(Cancelled::AlreadyEnded(record.status));
                    continue;
                }
                if record.status == TaskStatus::Running {
                    stop.push(*id);
                }
                // A queued one stays in the queue, where claims skip
                // ended tasks.
                record.status = TaskStatus::Failed;
                record.result = Value::String(CANCELLED.into());
                record.failure_kind = Some(CANCELLED.into());
                record.finished_at_ms = Some(now_ms());
                let outcome = TaskOutcome {
                    status: record.status,
                    result: record.result.clone(),
                    tenant: record.tenant.clone(),
                };
                let retention_ms = task.retention_ms;
                state.leases.remove(id);
                state.task_ended(*id, &outcome.tenant, retention_ms, now, false);
                ended.push((*id, Some(outcome)));
                out.push(Cancelled::Now);
            }
        }
        self.waiters.notify_many(ended);
        if !stop.is_empty() {
            self.tell(Notice::Stop(stop));
        }
        Ok(out)
    }

    pub fn notices(&self) -> mpsc::UnboundedReceiver<Notice> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    fn tell(&self, notice: Notice) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|listener| listener.send(notice.clone()).is_ok());
    }

    pub async fn finish_many(&self, done: &[(Claim, Final, Report)]) -> StoreResult<Vec<bool>> {
        Ok(done
            .iter()
            .map(|(claim, outcome, report)| self.finish_one(claim, outcome, report))
            .collect())
    }

    fn finish_one(&self, claim: &Claim, outcome: &Final, report: &Report) -> bool {
        let ended = {
            let mut state = self.lock_swept();
            if !state.holds(claim) {
                return false;
            }
            let (current, retention_ms) = match state.tasks.get_mut(&claim.task_id) {
                Some(task)
                    if task.record.status == TaskStatus::Running
                        && task.record.attempts == claim.attempt =>
                {
                    (&mut task.record, task.retention_ms)
                }
                _ => return false,
            };
            current.status = outcome.status();
            current.result = outcome.result();
            current.failure_kind = outcome.kind().map(str::to_string);
            current.finished_at_ms = Some(now_ms());
            let report = report.capped();
            current.logs = report.logs;
            current.usage = report.usage;
            let ended = TaskOutcome {
                status: current.status,
                result: current.result.clone(),
                tenant: current.tenant.clone(),
            };
            state.leases.remove(&claim.task_id);
            state.task_ended(
                claim.task_id,
                &ended.tenant,
                retention_ms,
                Instant::now(),
                true,
            );
            ended
        };
        // Written once: the waiters get the outcome itself, no re-read.
        self.waiters.notify_many([(claim.task_id, Some(ended))]);
        true
    }

    pub fn queue_depth(&self) -> u64 {
        self.lock().queue.len() as u64
    }

    pub fn stats(&self, seconds: u64) -> Stats {
        let now = now_ms();
        let state = self.lock_swept();
        let running = state.leases.len() as u64;
        Stats {
            now_ms: now,
            // Not the queue's length: it holds cancelled tasks until a
            // claim skips them. Tenants count what is queued or running.
            queued: state
                .tenants
                .values()
                .map(|t| t.active)
                .sum::<u64>()
                .saturating_sub(running),
            running,
            latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
            seconds: state.throughput.last(now, seconds),
        }
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
        let ours = state.holds(claim)
            && state.tasks.get(&claim.task_id).is_some_and(|t| {
                t.record.status == TaskStatus::Running && t.record.attempts == claim.attempt
            });
        if ours {
            state.leases.remove(&claim.task_id);
            // Never queue a task twice (a lapsed lease may have queued it).
            state.queue.retain(|id| *id != claim.task_id);
            if let Some(task) = state.tasks.get_mut(&claim.task_id) {
                task.record.status = TaskStatus::Queued;
                if !count_attempt {
                    task.record.attempts -= 1;
                }
            }
            state.queue.push_front(claim.task_id);
            drop(state);
            self.new_work.notify_waiters();
        }
        Ok(())
    }

    pub async fn put_key(&self, key: &ApiKey, only_first: bool) -> StoreResult<bool> {
        let mut state = self.lock();
        if only_first && !state.keys.is_empty() {
            return Ok(false);
        }
        state.keys.insert(key.id.clone(), key.clone());
        Ok(true)
    }

    pub async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.lock().keys.get(id).cloned())
    }

    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        Ok(self.lock().keys.values().cloned().collect())
    }

    pub async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        Ok(self.lock().keys.remove(id).is_some())
    }

    pub async fn touch_keys(&self, used: &[(String, u64)]) -> StoreResult<()> {
        let mut state = self.lock();
        for (id, at) in used {
            if let Some(key) = state.keys.get_mut(id) {
                key.last_used_ms = Some(key.last_used_ms.map_or(*at, |t| t.max(*at)));
            }
        }
        Ok(())
    }

    pub async fn tenant(&self, tenant: &str) -> StoreResult<TenantInfo> {
        let state = self.lock();
        let defaults = self.config.default_limits;
        Ok(match state.tenants.get(tenant) {
            Some(t) => TenantInfo {
                tenant: tenant.to_string(),
                limits: t.overrides.apply(&defaults),
                active_tasks: t.active,
                module_bytes: t.module_bytes,
            },
            None => TenantInfo {
                tenant: tenant.to_string(),
                limits: defaults,
                active_tasks: 0,
                module_bytes: 0,
            },
        })
    }

    pub async fn set_limits(&self, tenant: &str, limits: &LimitOverrides) -> StoreResult<()> {
        let mut state = self.lock();
        let t = state.tenants.entry(tenant.to_string()).or_default();
        t.overrides = t.overrides.merge(limits);
        Ok(())
    }
}
