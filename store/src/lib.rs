//! The task model and the store of functions and tasks.
//!
//! `Store` has two backends with one contract (the test suite in
//! `store/tests/suite.rs` runs against both): Redis, the source of truth in a
//! deployment, and an embedded in-process store for the one-command start.
//! The store owns durability and the task lifecycle rules: a submitted task
//! is queued durably; each claim counts an attempt under a lease; an attempt
//! whose lease lapses is re-queued, up to `max_attempts`; a task's final
//! state is written once, by its current attempt, and kept for the task's
//! retention (then the task reads as unknown).
//!
//! This crate is the only one that talks to Redis. It must not run wasm or
//! know about HTTP or ZeroMQ.

mod error;
mod keys;
mod layout;
mod memory;
mod model;
mod redis_store;
mod redis_url;
mod retention;
mod tenants;
mod throughput;
mod waiters;

pub use error::{StoreError, StoreResult};
pub use keys::ApiKey;
pub use memory::MemoryStore;
pub use model::{
    now_ms, valid_tenant, Cancelled, Claim, Final, FunctionId, FunctionRecord, Notice, Report,
    Scope, TaskId, TaskOutcome, TaskRecord, TaskStatus, TaskSummary, Usage, CANCELLED,
    DEFAULT_TENANT, LOST_KIND, MAX_LOG_BYTES, MISSING_FUNCTION, RECENT_TASKS,
};
pub use redis_store::{
    RedisStore, CONTROL_CHANNEL, DONE_CHANNEL, FUNCTIONS_INDEX, GROUP, NEW_TASK_CHANNEL,
    RECENT_INDEX, STREAM,
};
pub use redis_url::{redact_url, RedisOptions};
pub use tenants::{Limit, LimitOverrides, OverQuota, TenantInfo, TenantLimits};

use faas_contract::Stats;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Task lifecycle settings shared by both backends.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A claimed task whose executor has not renewed it for this long is
    /// given to another executor.
    pub lease: Duration,
    /// Attempts before a task whose executors keep dying fails as lost.
    pub max_attempts: u32,
    /// Each tenant's limits unless an admin set others for it.
    pub default_limits: TenantLimits,
    /// How long a finished task's record (status, result, the rest) is kept
    /// after it ends, when its submission did not say; then it reads as
    /// unknown. Queued and running tasks never expire. The submitting
    /// process resolves it and stores it with the task (`ttl_ms`), so the
    /// process that ends the task applies the submitter's retention; this
    /// value also applies to tasks stored without one.
    pub result_ttl: Duration,
    /// The longest retention a submission may ask for; longer asks get this.
    pub max_result_ttl: Duration,
    /// Embedded store only: the most finished records held; past it the
    /// oldest finished are dropped first, whatever their retention.
    pub max_finished_records: usize,
    /// The most tasks the queue holds, all tenants together: a submission
    /// that would go beyond it stores nothing (`OverQuota`, a 429). Redis
    /// counts the queue stream's length, which also holds the tasks ended
    /// in the last second or so (trimmed every second); the embedded
    /// store counts tasks queued or running.
    pub max_queue_depth: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            lease: Duration::from_secs(10),
            max_attempts: 3,
            default_limits: TenantLimits::default(),
            result_ttl: Duration::from_secs(24 * 3600),
            max_result_ttl: Duration::from_secs(7 * 24 * 3600),
            max_finished_records: 1_000_000,
            max_queue_depth: 1_000_000,
        }
    }
}

/// The longest retention either backend stores (milliseconds), whatever
/// the configuration says: far beyond any real need, and far from the
/// overflow of a Redis expiry or an `Instant`.
const LONGEST_RETENTION_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

impl StoreConfig {
    /// The retention of a task submitted asking for `asked` (None: the
    /// deployment's `result_ttl`), in milliseconds: an ask is capped at
    /// `max_result_ttl`. 0 means the record goes when the task ends (a
    /// long poll already waiting still gets the outcome it was woken with).
    pub fn retention_ms(&self, asked: Option<Duration>) -> u64 {
        let ttl = match asked {
            None => self.result_ttl,
            Some(asked) => asked.min(self.max_result_ttl),
        };
        millis(ttl)
    }

    /// `result_ttl` in milliseconds: the retention of a task stored
    /// without one.
    pub(crate) fn default_retention_ms(&self) -> u64 {
        millis(self.result_ttl)
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .min(LONGEST_RETENTION_MS)
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub enum Store {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Memory($s) => $e,
            Store::Redis($s) => $e,
        }
    };
}

impl Store {
    /// The embedded store.
    pub fn memory(config: StoreConfig) -> Store {
        Store::Memory(Arc::new(MemoryStore::new(config)))
    }

    /// Connects to Redis; fails if it is unreachable now.
    pub async fn redis(url: &str, config: StoreConfig) -> StoreResult<Store> {
        Self::redis_with(url, &RedisOptions::default(), config).await
    }

    /// Connects to Redis at `url` (`redis://[USER:PASSWORD@]HOST:PORT`, or
    /// `rediss://` for TLS) with `options`; fails if it is unreachable now
    /// or refuses the credentials.
    pub async fn redis_with(
        url: &str,
        options: &RedisOptions,
        config: StoreConfig,
    ) -> StoreResult<Store> {
        Ok(Store::Redis(Arc::new(
            RedisStore::connect_with(url, options, config).await?,
        )))
    }

    /// "embedded" or the Redis URL (its password as `***`), for logs.
    pub fn describe(&self) -> String {
        match self {
            Store::Memory(_) => "embedded store".to_string(),
            Store::Redis(r) => format!("Redis at {}", r.url()),
        }
    }

    /// The partition holding a task (Redis Cluster spreads tasks over
    /// partitions; elsewhere there is one, 0). Each partition queues its
    /// tasks in the order submitted; the partitions are claimed in turn.
    pub fn partition_of(&self, id: &TaskId) -> usize {
        match self {
            Store::Memory(_) => 0,
            Store::Redis(r) => r.partition_of(id),
        }
    }

    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Redis(r) => r.ping().await,
        }
    }

    pub async fn function(&self, id: FunctionId) -> StoreResult<Option<FunctionRecord>> {
        each!(self, s => s.function(id).await)
    }

    /// Stores a function record, and its module bytes once per content
    /// hash, counting the module against its tenant's `max_module_bytes`
    /// (over it: `OverQuota`, nothing stored). Dispatchers are told
    /// ([`Notice::FunctionRegistered`]), so they may compile it ahead of
    /// its first task.
    pub async fn put_function(&self, record: &FunctionRecord, module: &[u8]) -> StoreResult<()> {
        each!(self, s => s.put_function(record, module).await)
    }

    /// Deletes a function in `scope`: its record at once, its module when
    /// no other function shares it, and its bytes from its tenant's
    /// `module_bytes`. Tasks already running finish; a queued one fails
    /// when a dispatcher claims it (`missing_function`), and submissions
    /// to it are refused (`NoFunction`). Dispatchers are told
    /// ([`Notice::FunctionDeleted`]) to drop what they cached of it.
    /// False if there is no such function in `scope`.
    pub async fn delete_function(&self, id: FunctionId, scope: Scope<'_>) -> StoreResult<bool> {
        each!(self, s => s.delete_function(id, scope.tenant()).await)
    }

    /// Up to `limit` registered functions in `scope`, newest first (by
    /// `created_at_ms`; ties by id, highest first).
    pub async fn functions(
        &self,
        limit: usize,
        scope: Scope<'_>,
    ) -> StoreResult<Vec<FunctionRecord>> {
        each!(self, s => s.functions(limit, scope.tenant()).await)
    }

    /// Module bytes by hex SHA-256.
    pub async fn module(&self, hash: &str) -> StoreResult<Option<Arc<Vec<u8>>>> {
        each!(self, s => s.module(hash).await)
    }

    /// Records a QUEUED task of `tenant`, queues it durably and announces
    /// it on the `tasks` channel, atomically. When this returns Ok the task
    /// is stored. Once it ends, its record is kept for `ttl` (None: the
    /// deployment's `result_ttl`; capped at `max_result_ttl`; see
    /// [`StoreConfig::retention_ms`]).
    pub async fn submit(
        &self,
        tenant: &str,
        id: TaskId,
        function_id: FunctionId,
        payload: &Value,
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        self.submit_many(tenant, function_id, &[(id, payload.clone())], ttl)
            .await
    }

    /// `submit` for many tasks of one function, in few round trips (Redis:
    /// one atomic script call per 1,000 tasks, so each task's record and queue entry are
    /// written together), announced once on the `tasks` channel. Tasks are
    /// queued and indexed in the slice's order. The tenant's quotas
    /// (`max_active_tasks`, `submit_rate`) are checked for the whole batch
    /// first: over one, `OverQuota` and nothing is stored. Chunks commit
    /// one by one: if the store fails mid-batch (an Err), earlier chunks
    /// stay queued. Every task of the batch is kept for `ttl` after it
    /// ends, as in `submit`.
    pub async fn submit_many(
        &self,
        tenant: &str,
        function_id: FunctionId,
        tasks: &[(TaskId, Value)],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        each!(self, s => s.submit_many(tenant, function_id, tasks, ttl).await)
    }

    /// A task's whole record, if it exists in `scope` (a finished task
    /// past its retention does not: it reads as an unknown id).
    pub async fn task(&self, id: TaskId, scope: Scope<'_>) -> StoreResult<Option<TaskRecord>> {
        Ok(self.tasks_many(&[id], scope).await?.pop().flatten())
    }

    /// `task` for many ids, in order, in one round trip per 1,000 ids.
    pub async fn tasks_many(
        &self,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<TaskRecord>>> {
        let records = each!(self, s => s.tasks_many(ids).await)?;
        Ok(records
            .into_iter()
            .map(|r| r.filter(|r| scope.allows(&r.tenant)))
            .collect())
    }

    /// Only the status and result of many tasks, in order (None: no such
    /// task in `scope`).
    pub async fn outcomes_many(
        &self,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<TaskOutcome>>> {
        let outcomes = each!(self, s => s.outcomes_many(ids).await)?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.filter(|o| scope.allows(&o.tenant)))
            .collect())
    }

    /// Only the statuses of many tasks, in order (None: no such task in
    /// `scope`): what a long poll checks before reading a whole record.
    pub async fn statuses_many(
        &self,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<TaskStatus>>> {
        let statuses = each!(self, s => s.statuses_many(ids).await)?;
        Ok(statuses
            .into_iter()
            .map(|s| s.filter(|(_, tenant)| scope.allows(tenant)).map(|(s, _)| s))
            .collect())
    }

    /// Up to `limit` of the most recently submitted tasks in `scope`,
    /// newest first, only those in `status` if given. Only the latest
    /// [`RECENT_TASKS`] submissions (of each tenant) are listed, less
    /// those past their retention.
    pub async fn recent_tasks(
        &self,
        limit: usize,
        status: Option<TaskStatus>,
        scope: Scope<'_>,
    ) -> StoreResult<Vec<TaskSummary>> {
        each!(self, s => s.recent_tasks(limit, status, scope.tenant()).await)
    }

    /// Stores a new API key. With `only_first`, only if the store has no
    /// key at all (a server's first start); returns whether it was stored.
    pub async fn put_key(&self, key: &ApiKey, only_first: bool) -> StoreResult<bool> {
        each!(self, s => s.put_key(key, only_first).await)
    }

    /// The key named `id`, if it exists (not revoked).
    pub async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        each!(self, s => s.api_key(id).await)
    }

    /// Every key, oldest first.
    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut keys = each!(self, s => s.api_keys().await)?;
        keys.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(keys)
    }

    /// Deletes a key; returns whether it existed. When this returns, every
    /// server process sharing the store has stopped accepting it (Redis:
    /// each acknowledges the revocation; one that does not within 2 s is
    /// logged).
    pub async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        each!(self, s => s.revoke_key(id).await)
    }

    /// Records when keys were last used (batched by the caller).
    pub async fn touch_keys(&self, used: &[(String, u64)]) -> StoreResult<()> {
        each!(self, s => s.touch_keys(used).await)
    }

    /// A tenant's limits in force and its usage.
    pub async fn tenant(&self, tenant: &str) -> StoreResult<TenantInfo> {
        each!(self, s => s.tenant(tenant).await)
    }

    /// Sets some of a tenant's limits (the rest keep their values).
    pub async fn set_limits(
        &self,
        tenant: &str,
        limits: &LimitOverrides,
    ) -> StoreResult<TenantInfo> {
        each!(self, s => s.set_limits(tenant, limits).await)?;
        self.tenant(tenant).await
    }

    /// Takes up to `max` queued tasks for `consumer` (marking them RUNNING
    /// and counting an attempt), waiting up to `block` for one to arrive.
    /// Tasks whose lease lapsed are taken first.
    pub async fn claim(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> StoreResult<Vec<Claim>> {
        each!(self, s => s.claim(consumer, max, block).await)
    }

    /// Extends the leases of claims still running. Call well within the
    /// lease. Returns the tasks among `claims` that their holder should
    /// stop: cancelled, or no longer on that attempt (ended, or taken over
    /// after the lease lapsed), so a missed [`Notice::Stop`] costs at most
    /// one renewal period.
    pub async fn renew(&self, consumer: &str, claims: &[Claim]) -> StoreResult<Vec<TaskId>> {
        each!(self, s => s.renew(consumer, claims).await)
    }

    /// Cancels tasks in `scope`, in order, one atomic step per task: a
    /// queued task is FAILED as cancelled (result `"cancelled"`,
    /// failure kind `cancelled`) and will never start; a running one too,
    /// and every dispatcher is told to stop it ([`Notice::Stop`]); its
    /// attempt's late result is dropped, and it is never retried. A task
    /// that already ended is left as it is.
    pub async fn cancel_many(
        &self,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Cancelled>> {
        each!(self, s => s.cancel_many(ids, scope.tenant()).await)
    }

    /// What the store tells dispatchers, from the moment this returns.
    /// Best effort: a dropped Redis subscription loses what was said
    /// meanwhile (lease renewal catches up, see [`Store::renew`]).
    pub async fn notices(&self) -> tokio::sync::mpsc::UnboundedReceiver<Notice> {
        match self {
            Store::Memory(m) => m.notices(),
            Store::Redis(r) => r.notices().await,
        }
    }

    /// Records how an attempt ended. Returns false (and changes nothing) if
    /// the task already ended or the attempt is no longer the current one.
    pub async fn finish(&self, claim: &Claim, outcome: &Final) -> StoreResult<bool> {
        let applied = self
            .finish_many(&[(claim.clone(), outcome.clone(), Report::default())])
            .await?;
        Ok(applied.first().copied().unwrap_or(false))
    }

    /// `finish` for many attempts in one round trip, each with its
    /// executor's report (kept with the task: its log cut to the last
    /// `MAX_LOG_BYTES`); one flag per entry.
    pub async fn finish_many(&self, done: &[(Claim, Final, Report)]) -> StoreResult<Vec<bool>> {
        each!(self, s => s.finish_many(done).await)
    }

    /// Tasks queued and not yet claimed (Redis: the queue stream's length,
    /// which also counts tasks ended since its last trim, at most about a
    /// second's worth).
    pub async fn queue_depth(&self) -> StoreResult<u64> {
        match self {
            Store::Memory(m) => Ok(m.queue_depth()),
            Store::Redis(r) => r.queue_depth().await,
        }
    }

    /// What the platform did over the last `seconds` (at most
    /// `STATS_RETENTION_SECONDS`), counted by every server and dispatcher
    /// on this store, and the tasks queued and running now.
    pub async fn stats(&self, seconds: u64) -> StoreResult<Stats> {
        match self {
            Store::Memory(m) => Ok(m.stats(seconds)),
            Store::Redis(r) => r.stats(seconds).await,
        }
    }

    /// Deletes the records of finished tasks whose retention has ended
    /// (Redis; the dispatchers call it every second). The embedded store
    /// evicts them as it goes, so there it does nothing.
    pub async fn sweep_expired(&self) -> StoreResult<u64> {
        match self {
            Store::Memory(_) => Ok(0),
            Store::Redis(r) => r.sweep_expired().await,
        }
    }

    /// Frees the queue of the entries of ended tasks (Redis acknowledges
    /// them as they end and deletes them here, in bulk). Every dispatcher
    /// calls it now and then; it is idempotent.
    pub async fn trim_queue(&self) -> StoreResult<u64> {
        match self {
            Store::Memory(_) => Ok(0),
            Store::Redis(r) => r.trim_queue().await,
        }
    }

    /// Hands back a claim that was never started (a shutting-down executor),
    /// without counting the attempt.
    pub async fn release(&self, claim: &Claim) -> StoreResult<()> {
        each!(self, s => s.release(claim, false).await)
    }

    /// Queues again a claim whose executor was lost mid-run: the attempt
    /// counts, so a task whose workers keep dying ends as lost.
    pub async fn requeue(&self, claim: &Claim) -> StoreResult<()> {
        each!(self, s => s.release(claim, true).await)
    }

    /// Publishes a dispatcher's live workers (a JSON array), kept for `ttl`:
    /// a dispatcher that stops publishing disappears from the list.
    pub async fn publish_workers(
        &self,
        dispatcher: &str,
        workers: &Value,
        ttl: Duration,
    ) -> StoreResult<()> {
        each!(self, s => s.publish_workers(dispatcher, workers, ttl).await)
    }

    /// Live workers of every dispatcher.
    pub async fn workers(&self) -> StoreResult<Vec<Value>> {
        each!(self, s => s.workers().await)
    }

    /// `wait_final` for many tasks: waits until every one is final (or
    /// unknown) or `timeout` passes, and returns their latest records in
    /// order. A completion notification re-reads only the tasks it woke;
    /// every second, all unfinished ones are re-read in case one was missed.
    pub async fn wait_final_many(
        &self,
        ids: &[TaskId],
        timeout: Duration,
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<TaskRecord>>> {
        self.wait_final_as(ids, timeout, scope).await
    }

    /// `wait_final_many` reading only each task's status and result: what
    /// `POST /results` answers, at a fraction of the whole record's cost.
    pub async fn wait_outcomes_many(
        &self,
        ids: &[TaskId],
        timeout: Duration,
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<TaskOutcome>>> {
        self.wait_final_as(ids, timeout, scope).await
    }

    async fn wait_final_as<T: FinalRead>(
        &self,
        ids: &[TaskId],
        timeout: Duration,
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<T>>> {
        let waiters = match self {
            Store::Memory(m) => &m.waiters,
            Store::Redis(r) => {
                r.ensure_listening();
                &*r.waiters
            }
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // Register before the first read, so no completion is missed.
        let (wake, mut woken) = tokio::sync::mpsc::unbounded_channel::<waiters::Wake>();
        let known = waiters.register_known(ids, &wake, scope);
        // Submitted here and not announced: no need to read them first.
        let unfinished: std::collections::HashSet<TaskId> = ids
            .iter()
            .zip(known)
            .filter_map(|(id, known)| known.then_some(*id))
            .collect();
        let result = self
            .gather_final(
                ids,
                &unfinished,
                deadline,
                (&wake, &mut woken),
                waiters,
                scope,
            )
            .await;
        drop((wake, woken));
        waiters.prune(ids);
        result
    }

    /// The loop of `wait_final_many`: checks every task once (a queued
    /// task's record is not worth reading whole), then settles each as its
    /// notification arrives, from the outcome it carries or by reading it.
    async fn gather_final<T: FinalRead>(
        &self,
        ids: &[TaskId],
        known_unfinished: &std::collections::HashSet<TaskId>,
        deadline: tokio::time::Instant,
        (wake, woken): (
            &tokio::sync::mpsc::UnboundedSender<waiters::Wake>,
            &mut tokio::sync::mpsc::UnboundedReceiver<waiters::Wake>,
        ),
        waiters: &waiters::Waiters,
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Option<T>>> {
        let mut records: Vec<Option<T>> = vec![None; ids.len()];
        // Where each waited-on id sits in `ids` (an id may be asked twice).
        let mut pending: HashMap<TaskId, Vec<usize>> = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            pending.entry(*id).or_default().push(i);
        }
        let mut settle =
            |pending: &mut HashMap<TaskId, Vec<usize>>, id: &TaskId, record: Option<T>| {
                for i in pending.remove(id).unwrap_or_default() {
                    records[i] = record.clone();
                }
            };
        let mut to_check: Vec<TaskId> = pending
            .keys()
            .filter(|id| !known_unfinished.contains(id))
            .copied()
            .collect();
        loop {
            // Every task still registered: check them all (first, and
            // every second in case a notification was missed).
            for (id, checked) in to_check.iter().zip(T::check(self, &to_check, scope).await?) {
                if let Checked::Ended(record) = checked {
                    settle(&mut pending, id, record);
                }
            }
            let mut now = tokio::time::Instant::now();
            // Wait for wake-ups; every second re-check all.
            while !pending.is_empty() && now < deadline {
                let nap = (deadline - now).min(Duration::from_secs(1));
                let Ok(Some(first)) = tokio::time::timeout(nap, woken.recv()).await else {
                    break;
                };
                if pending.len() > 1 {
                    // Let a burst of completions gather (a single task's
                    // waiter goes at once: that is a round trip's latency).
                    tokio::time::sleep(
                        Duration::from_millis(2).min(deadline.saturating_duration_since(now)),
                    )
                    .await;
                }
                let mut reread = Vec::new();
                let mut wakes = vec![first];
                while let Ok(more) = woken.try_recv() {
                    wakes.push(more);
                }
                for (id, outcome) in wakes {
                    if !pending.contains_key(&id) {
                        continue;
                    }
                    // An outcome of another tenant's task cannot get here
                    // (checked before waiting), but never show one.
                    match outcome
                        .filter(|o| scope.allows(&o.tenant))
                        .and_then(T::from_outcome)
                    {
                        Some(record) => settle(&mut pending, &id, Some(record)),
                        None => reread.push(id),
                    }
                }
                reread.sort_unstable();
                reread.dedup();
                // Woken without the outcome: read it; one not final after
                // all (a spurious wake-up) waits again.
                let mut unfinished = Vec::new();
                for (id, record) in reread.iter().zip(T::read(self, &reread, scope).await?) {
                    if record.as_ref().is_some_and(|r| !r.status().is_final()) {
                        unfinished.push(*id);
                    } else {
                        settle(&mut pending, id, record);
                    }
                }
                waiters.register(unfinished, wake);
                now = tokio::time::Instant::now();
            }
            if pending.is_empty() || now >= deadline {
                break;
            }
            to_check = pending.keys().copied().collect();
        }
        // Still unfinished at the deadline: report their latest records.
        let late: Vec<TaskId> = pending.keys().copied().collect();
        for (id, record) in late.iter().zip(T::read(self, &late, scope).await?) {
            settle(&mut pending, id, record);
        }
        Ok(records)
    }

    /// Waits until the task is final or `timeout` passes, and returns its
    /// latest record (None if there is no such task). Woken by the store's
    /// completion notifications; re-reads at least every second in case one
    /// was missed.
    pub async fn wait_final(
        &self,
        id: TaskId,
        timeout: Duration,
        scope: Scope<'_>,
    ) -> StoreResult<Option<TaskRecord>> {
        let mut records = self.wait_final_many(&[id], timeout, scope).await?;
        Ok(records.pop().flatten())
    }

    /// `wait_final` for only the status and result: what `GET /result`
    /// answers, usually straight from the completion notification.
    pub async fn wait_outcome(
        &self,
        id: TaskId,
        timeout: Duration,
        scope: Scope<'_>,
    ) -> StoreResult<Option<TaskOutcome>> {
        let mut outcomes = self.wait_outcomes_many(&[id], timeout, scope).await?;
        Ok(outcomes.pop().flatten())
    }
}

/// What one check of a waited-on task found.
enum Checked<T> {
    /// Final, or unknown (None): no need to wait.
    Ended(Option<T>),
    /// Queued or running.
    Waiting,
}

/// What a long poll reads of the tasks that ended: whole records, or only
/// their outcomes.
trait FinalRead: Clone + Send + Sized {
    fn status(&self) -> TaskStatus;
    /// Reads tasks known to have ended.
    fn read(
        store: &Store,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> impl std::future::Future<Output = StoreResult<Vec<Option<Self>>>> + Send;
    /// Checks tasks that may not have ended yet, reading as little as it can.
    fn check(
        store: &Store,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> impl std::future::Future<Output = StoreResult<Vec<Checked<Self>>>> + Send;
    /// The answer built from a notification's outcome, if that is all it needs.
    fn from_outcome(outcome: TaskOutcome) -> Option<Self>;
}

impl FinalRead for TaskRecord {
    fn status(&self) -> TaskStatus {
        self.status
    }

    fn read(
        store: &Store,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> impl std::future::Future<Output = StoreResult<Vec<Option<Self>>>> + Send {
        store.tasks_many(ids, scope)
    }

    /// Statuses first; whole records only of the tasks that ended.
    async fn check(
        store: &Store,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Checked<Self>>> {
        let statuses = store.statuses_many(ids, scope).await?;
        let ended: Vec<TaskId> = ids
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| s.is_none_or(|s| s.is_final()))
            .map(|(id, _)| *id)
            .collect();
        let mut records = store.tasks_many(&ended, scope).await?.into_iter();
        Ok(statuses
            .iter()
            .map(|s| match s {
                Some(s) if !s.is_final() => Checked::Waiting,
                _ => Checked::Ended(records.next().flatten()),
            })
            .collect())
    }

    fn from_outcome(_: TaskOutcome) -> Option<Self> {
        None
    }
}

impl FinalRead for TaskOutcome {
    fn status(&self) -> TaskStatus {
        self.status
    }

    fn read(
        store: &Store,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> impl std::future::Future<Output = StoreResult<Vec<Option<Self>>>> + Send {
        store.outcomes_many(ids, scope)
    }

    /// An outcome is as small as a status: read it at once.
    async fn check(
        store: &Store,
        ids: &[TaskId],
        scope: Scope<'_>,
    ) -> StoreResult<Vec<Checked<Self>>> {
        Ok(store
            .outcomes_many(ids, scope)
            .await?
            .into_iter()
            .map(|o| match o {
                Some(o) if !o.status.is_final() => Checked::Waiting,
                o => Checked::Ended(o),
            })
            .collect())
    }

    fn from_outcome(outcome: TaskOutcome) -> Option<Self> {
        Some(outcome)
    }
}
