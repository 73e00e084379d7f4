//! The Redis backend: the source of truth for functions and tasks.
//!
//! Key layout (documented for operators in ARCHITECTURE.md):
//! `faas:function:{id}` hash, `faas:module:{sha256}` bytes,
//! `faas:task:{id}` hash, `faas:tasks` stream (consumer group `dispatchers`)
//! as the durable queue, `faas:functions` sorted set (function ids by
//! registration time) and `faas:recent_tasks` list (the latest task ids,
//! capped) for listings, `tasks` channel (a task id per new task) and
//! `faas:done` channel (a line per task that reached its final state,
//! carrying the outcome unless it is large).
//!
//! On Redis Cluster the same keys carry hash tags (`layout.rs`): a task's
//! keys its partition's, the rest one shared tag.
//!
//! State changes that must be atomic (claim, finish, renew) are Lua scripts
//! (`src/lua/`, made into `Script`s by `scripts.rs`).
//! A task's hash is the only key per task: the script that writes its final
//! state (finish, or the claim script failing it as lost) also schedules
//! its deletion from its `ttl_ms` (retire.lua); queue entries are
//! acknowledged then and trimmed in bulk, and the listing indexes are
//! capped lists whose expired ids are skipped.

use crate::error::{StoreError, StoreResult};
use crate::keys::{ApiKey, KeyCache};
use crate::layout::{Layout, DEFAULT_PARTITIONS};
use crate::model::{
    new_receipt, now_ms, Cancelled, Claim, Final, FunctionId, FunctionRecord, Notice, Report,
    TaskId, TaskOutcome, TaskRecord, TaskStatus, TaskSummary, Usage, DEFAULT_TENANT, RECENT_TASKS,
};
use crate::redis_url::{redact_url, Locator, Primary, RedisOptions, WAIT_TIMEOUT};
use crate::tenants::{LimitOverrides, OverQuota, TenantInfo};
use crate::throughput;
use crate::waiters::Waiters;
use crate::StoreConfig;
use faas_contract::{SecondStats, Stats, LATENCY_BOUNDS_MS};
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Value as RValue};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

mod scripts;
use scripts::Scripts;

pub const STREAM: &str = "faas:tasks";
pub const GROUP: &str = "dispatchers";
pub const NEW_TASK_CHANNEL: &str = "tasks";
pub const DONE_CHANNEL: &str = "faas:done";
/// What dispatchers are told: `stop {task id} ...` (cancelled tasks).
pub const CONTROL_CHANNEL: &str = "faas:control";
/// Sorted set of function ids, scored by registration time (ms).
pub const FUNCTIONS_INDEX: &str = "faas:functions";
/// List of the latest `RECENT_TASKS` task ids, newest first (and one
/// such list per tenant: `faas:recent_tasks:{tenant}`).
pub const RECENT_INDEX: &str = "faas:recent_tasks";
/// Channel of key revocations (`revoke {id} {nonce}`) and their
/// acknowledgements (`ack {nonce}`, one per server process), and of new
/// keys (`forget {id}`: drop what was cached of that id).
pub const KEYS_CHANNEL: &str = "faas:keys";
/// How long a revocation waits for every server to acknowledge it.
const REVOKE_ACK_WAIT: Duration = Duration::from_secs(2);

/// Task ids read per round trip when a status filter skips most of them.
const RECENT_SCAN_CHUNK: usize = 500;
/// Tasks per submit script call (submit_many) or per pipeline (tasks_many).
const BATCH_CHUNK: usize = 1_000;
/// Task hash fields a summary needs, in `parse_summary`'s order.
const SUMMARY_FIELDS: [&str; 9] = [
    "function_id",
    "status",
    "attempts",
    "failure_kind",
    "created_at",
    "started_at",
    "finished_at",
    "tenant",
    "usage",
];

/// What a claim yields per claimed task: task id, entry id, attempt,
/// function id, payload JSON, receipt token.
type ClaimRow = (String, String, u32, String, String, String);

/// A claim's receipt: its queue entry's id and its attempt's random token.
fn receipt(entry: &str, token: &str) -> String {
    format!("{entry}.{token}")
}

/// The entry id and token of a receipt (a receipt without a token, from
/// an older version, has an empty one).
fn split_receipt(receipt: &str) -> (&str, &str) {
    receipt.rsplit_once('.').unwrap_or((receipt, ""))
}

/// What one submission asks of the submit script, chunk after chunk.
#[derive(Clone, Copy)]
struct Submission<'a> {
    tenant: &'a str,
    function_id: FunctionId,
    retention_ms: u64,
    /// Publish the chunk's last task id on the new-task channel.
    announce: bool,
    /// "1": check the quotas for the whole batch; "0": do not; "2": do not,
    /// nor the function (Redis Cluster: admit.lua did).
    check: &'static str,
    /// Tasks in the whole batch.
    batch: usize,
}

/// How often a claim on Redis Cluster looks at every partition, announced
/// or not (entries queued again are not announced, and an announcement
/// may be missed).
const FULL_SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Which partitions of a cluster may hold unread entries: each partition's
/// count of announcements, and the count as of the last read that found it
/// drained (a read asked for more than it got). An announcement during
/// that read leaves the partition marked.
struct UnreadHints {
    announced: Vec<AtomicU64>,
    drained_at: Mutex<Vec<u64>>,
    last_full_sweep: Mutex<Option<Instant>>,
}

impl UnreadHints {
    fn new(count: usize) -> UnreadHints {
        UnreadHints {
            announced: (0..count).map(|_| AtomicU64::new(0)).collect(),
            drained_at: Mutex::new(vec![u64::MAX; count]),
            last_full_sweep: Mutex::new(None),
        }
    }

    fn announced(&self, p: usize) {
        self.announced[p].fetch_add(1, Ordering::SeqCst);
    }

    /// The next claim looks at every partition.
    fn sweep_all(&self) {
        *self
            .last_full_sweep
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether this claim should look at every partition (and, if so,
    /// counts it as done now).
    fn full_sweep_due(&self) -> bool {
        let mut last = self
            .last_full_sweep
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < FULL_SWEEP_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    fn until_full_sweep(&self) -> Duration {
        match *self
            .last_full_sweep
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            Some(t) => FULL_SWEEP_EVERY.saturating_sub(t.elapsed()),
            None => Duration::ZERO,
        }
    }

    /// If partition `p` is to be read now (`full`: every one is), its
    /// announcement count before the read.
    fn maybe(&self, p: usize, full: bool) -> Option<u64> {
        let announced = self.announced[p].load(Ordering::SeqCst);
        let drained = self.drained_at.lock().unwrap_or_else(|e| e.into_inner())[p];
        (full || announced != drained).then_some(announced)
    }

    /// A read of `p` that began at `announced` found it drained.
    fn drained(&self, p: usize, announced: u64) {
        self.drained_at.lock().unwrap_or_else(|e| e.into_inner())[p] = announced;
    }
}

/// Largest result (JSON bytes) a completion notification carries; a waiter
/// reads larger ones from the task's hash.
const ANNOUNCED_RESULT_BYTES: usize = 16 * 1024;

pub struct RedisStore {
    url: String,
    /// Where the keys live: one Redis, or the partitions of a cluster.
    layout: Layout,
    /// The primary (the one a redis+sentinel:// URL's Sentinels name now).
    conn: Primary,
    /// A second connection for blocking reads, so they never hold up the
    /// multiplexed one. Created on first claim.
    blocking: tokio::sync::Mutex<Option<ConnectionManager>>,
    pub(crate) waiters: Arc<Waiters>,
    keys: Arc<KeyCache>,
    listening: AtomicBool,
    last_reclaim: Mutex<Option<Instant>>,
    /// Where each partition's next XAUTOCLAIM scan starts: Redis scans a
    /// bounded window of the pending list per call.
    reclaim_cursors: Mutex<Vec<String>>,
    /// The partition a claim looks at first (Redis Cluster), turning so
    /// that every partition is drained.
    claim_turn: AtomicUsize,
    /// Woken by each announcement of new tasks (Redis Cluster: claims wait
    /// on it, for a blocking read can watch one partition only).
    announced: Arc<tokio::sync::Notify>,
    announcements: AtomicBool,
    /// Redis Cluster: what a claim knows of each partition's unread
    /// entries, so that it reads only those that may have some.
    unread: Arc<UnreadHints>,
    config: StoreConfig,
    /// Replicas that must hold a write before it is acknowledged (0: none).
    wait_replicas: u32,
    /// Its Lua scripts (`scripts.rs`).
    scripts: Scripts,
}

/// Whether Redis answered with the error code `code` (`OOM`, `NOGROUP`,
/// ...): a command's error, or any of a pipeline's. An error a command
/// raised inside a script keeps its code (Redis 7).
pub(crate) fn has_code(e: &redis::RedisError, code: &str) -> bool {
    e.code() == Some(code)
        || e.clone()
            .into_server_errors()
            .is_some_and(|errors| errors.iter().any(|(_, error)| error.code() == code))
}

/// Whether Redis refused a write for being at its `maxmemory`.
pub(crate) fn is_oom(e: &redis::RedisError) -> bool {
    has_code(e, "OOM")
}

/// Why the first connection failed, saying what to check.
fn connect_failure(shown: &str, e: &redis::RedisError) -> String {
    let text = e.to_string();
    let hint = if e.kind() == redis::ErrorKind::AuthenticationFailed
        || has_code(e, "WRONGPASS")
        || has_code(e, "NOAUTH")
    {
        "; check the user name and password in the URL (redis://USER:PASSWORD@HOST:PORT)"
    } else if e.is_connection_refusal() {
        "; is redis-server running there? (start one with `redis-server`)"
    } else if shown.starts_with("rediss://") {
        "; check that Redis listens for TLS there, and --redis-cacert if its certificate is private"
    } else {
        ""
    };
    format!("cannot connect to Redis at {shown}: {text}{hint}")
}

fn manager_config(response_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

impl RedisStore {
    /// Connects, and fails if Redis cannot be reached now.
    pub async fn connect(url: &str, config: StoreConfig) -> StoreResult<Self> {
        Self::connect_with(url, &RedisOptions::default(), config).await
    }

    /// Connects with `options` (TLS trust), and fails if Redis cannot be
    /// reached now or refuses the URL's credentials. Messages show the URL
    /// without its password.
    pub async fn connect_with(
        url: &str,
        options: &RedisOptions,
        config: StoreConfig,
    ) -> StoreResult<Self> {
        let locator = Locator::open(url, options)?;
        let asked_partitions = locator.partitions();
        let shown = redact_url(url);
        let conn = Primary::connect(locator, manager_config(Duration::from_secs(3)))
            .await
            .map_err(|e| StoreError::Unavailable(connect_failure(&shown, &e)))?;
        let layout = if conn.is_cluster() {
            cluster_layout(&conn, asked_partitions)
                .await
                .map_err(|e| StoreError::Unavailable(connect_failure(&shown, &e)))?
        } else {
            Layout::single()
        };
        let store = RedisStore {
            url: shown,
            reclaim_cursors: Mutex::new(vec!["0-0".to_string(); layout.count()]),
            claim_turn: AtomicUsize::new(0),
            announced: Arc::new(tokio::sync::Notify::new()),
            announcements: AtomicBool::new(false),
            unread: Arc::new(UnreadHints::new(layout.count())),
            scripts: Scripts::new(&layout),
            layout,
            conn,
            blocking: tokio::sync::Mutex::new(None),
            waiters: Arc::new(Waiters::default()),
            keys: Arc::new(KeyCache::default()),
            listening: AtomicBool::new(false),
            last_reclaim: Mutex::new(None),
            config,
            wait_replicas: options.wait_replicas,
        };
        // The first command is where a missing login shows (NOAUTH).
        let mut conn = store.conn.clone();
        if let Err(e) = redis::cmd("PING").query_async::<String>(&mut conn).await {
            return Err(StoreError::Unavailable(connect_failure(&store.url, &e)));
        }
        store.ensure_group().await?;
        Ok(store)
    }

    pub fn partition_of(&self, id: &TaskId) -> usize {
        self.layout.partition_of(id)
    }

    /// The URL, its password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    /// With `wait_replicas`: Redis WAIT until that many replicas hold the
    /// writes made so far on `conn` (a pinned one: WAIT counts its own
    /// connection's writes), before they are acknowledged to a client.
    /// Fewer within WAIT_TIMEOUT: Unavailable, for the write may be lost in
    /// a failover (it may also survive: a retry can make a duplicate).
    async fn replicated(&self, conn: &mut Primary) -> StoreResult<()> {
        let wanted = self.wait_replicas;
        if wanted == 0 {
            return Ok(());
        }
        let acked: u32 = redis::cmd("WAIT")
            .arg(wanted)
            .arg(WAIT_TIMEOUT.as_millis() as u64)
            .query_async(conn)
            .await?;
        if acked < wanted {
            return Err(StoreError::Unavailable(format!(
                "the write reached {acked} of the {wanted} Redis replicas asked for \
                 (--redis-wait-replicas) within {WAIT_TIMEOUT:?}, so a failover could lose it; \
                 it may still take effect"
            )));
        }
        Ok(())
    }

    /// Creates the consumer group from the start of the stream, so tasks
    /// queued before any dispatcher existed are delivered.
    async fn ensure_group(&self) -> StoreResult<()> {
        for p in 0..self.layout.count() {
            let mut conn = self.conn.clone();
            let created: Result<String, _> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(self.layout.stream(p))
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut conn)
                .await;
            match created {
                Ok(_) => {}
                Err(e) if has_code(&e, "BUSYGROUP") => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn put_function(&self, record: &FunctionRecord, module: &[u8]) -> StoreResult<()> {
        let mut conn = self.conn.pin();
        let reply: Vec<u64> = self
            .scripts
            .put_function
            .key(self.layout.global())
            .arg(record.id.to_string())
            .arg(&record.tenant)
            .arg(&record.module_hash)
            .arg(module.len())
            .arg(self.config.default_limits.max_module_bytes)
            .arg(record.created_at_ms)
            .arg(&record.name)
            .arg(&record.entry)
            .arg(record.convention.to_string())
            .arg(module)
            .arg(record.module_size)
            .invoke_async(&mut conn)
            .await?;
        match reply.as_slice() {
            [1, used, max] => Err(StoreError::OverQuota(OverQuota::module_bytes(
                &record.tenant,
                *used,
                module.len() as u64,
                *max,
            ))),
            _ => self.replicated(&mut conn).await,
        }
    }

    pub async fn delete_function(&self, id: FunctionId, tenant: Option<&str>) -> StoreResult<bool> {
        let mut conn = self.conn.pin();
        let deleted: u32 = self
            .scripts
            .delete_function
            .key(self.layout.global())
            .arg(id.to_string())
            .arg(tenant.unwrap_or(""))
            .invoke_async(&mut conn)
            .await?;
        if deleted == 0 {
            return Ok(false);
        }
        if self.layout.is_cluster() {
            // Its tasks' counts, one hash per partition.
            let deletes = (0..self.layout.count()).map(|p| {
                let mut conn = self.conn.clone();
                let key = self.layout.function_counts(p, id);
                async move { conn.unlink::<_, ()>(key).await }
            });
            for deleted in futures::future::join_all(deletes).await {
                deleted?;
            }
        }
        self.replicated(&mut conn).await?;
        Ok(true)
    }

    pub async fn functions(
        &self,
        limit: usize,
        tenant: Option<&str>,
    ) -> StoreResult<Vec<FunctionRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let last = limit.min(isize::MAX as usize) as isize - 1;
        let mut conn = self.conn.clone();
        let index = self.layout.functions_index(tenant);
        let ids: Vec<String> = conn.zrevrange(index, 0, last).await?;
        let ids = listable_ids(&ids);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.layout.function(id));
        }
        let maps: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, map) in ids.into_iter().zip(maps) {
            // One corrupt record must not hide the others.
            match parse_function(id, &map) {
                Ok(Some(record)) => out.push(record),
                Ok(None) => {}
                Err(e) => tracing::error!("listing functions: skipping {id}: {e}"),
            }
        }
        self.add_partition_counts(&mut out).await?;
        Ok(out)
    }

    /// Redis Cluster: adds each function's counts of invocations and
    /// failures, kept per partition (on one Redis they are the function
    /// hash's own fields, already read).
    async fn add_partition_counts(&self, records: &mut [FunctionRecord]) -> StoreResult<()> {
        if !self.layout.is_cluster() || records.is_empty() {
            return Ok(());
        }
        let reads = (0..self.layout.count()).map(|p| {
            let mut pipe = redis::pipe();
            for record in records.iter() {
                pipe.cmd("HMGET")
                    .arg(self.layout.function_counts(p, record.id))
                    .arg(&["invocations", "failures"]);
            }
            let mut conn = self.conn.clone();
            async move {
                pipe.query_async::<Vec<(Option<u64>, Option<u64>)>>(&mut conn)
                    .await
            }
        });
        for counts in futures::future::join_all(reads).await {
            for (record, (invocations, failures)) in records.iter_mut().zip(counts?) {
                record.invocations += invocations.unwrap_or(0);
                record.failures += failures.unwrap_or(0);
            }
        }
        Ok(())
    }

    pub async fn function(&self, id: FunctionId) -> StoreResult<Option<FunctionRecord>> {
        let mut conn = self.conn.clone();
        let map: HashMap<String, String> = conn.hgetall(self.layout.function(id)).await?;
        let Some(record) = parse_function(id, &map)? else {
            return Ok(None);
        };
        let mut records = [record];
        self.add_partition_counts(&mut records).await?;
        let [record] = records;
        Ok(Some(record))
    }

    pub async fn module(&self, hash: &str) -> StoreResult<Option<Arc<Vec<u8>>>> {
        let mut conn = self.conn.clone();
        let bytes: Option<Vec<u8>> = conn.get(self.layout.module(hash)).await?;
        Ok(bytes.map(Arc::new))
    }

    /// Each chunk is one script call (atomic, like MULTI/EXEC: a task's
    /// record and queue entry are written together or not at all) with one
    /// short reply, where a MULTI would answer every command.
    pub async fn submit_many(
        &self,
        tenant: &str,
        function_id: FunctionId,
        tasks: &[(TaskId, Value)],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        // Long polls on these tasks here then skip their first read.
        self.ensure_listening();
        self.waiters.expect(tenant, tasks.iter().map(|(id, _)| *id));
        let retention_ms = self.config.retention_ms(ttl);
        let submitted = self
            .submit_chunks(tenant, function_id, tasks, retention_ms)
            .await;
        if submitted.is_err() {
            self.waiters.forget(tasks.iter().map(|(id, _)| *id));
        }
        submitted
    }

    async fn submit_chunks(
        &self,
        tenant: &str,
        function_id: FunctionId,
        tasks: &[(TaskId, Value)],
        retention_ms: u64,
    ) -> StoreResult<()> {
        if self.layout.is_cluster() {
            return self
                .submit_partitioned(tenant, function_id, tasks, retention_ms)
                .await;
        }
        let mut conn = self.conn.pin();
        let chunks = tasks.chunks(BATCH_CHUNK);
        let last = chunks.len();
        for (n, chunk) in chunks.enumerate() {
            let submission = Submission {
                tenant,
                function_id,
                retention_ms,
                // One announcement per batch: the last task's id.
                announce: n + 1 == last,
                // The first chunk checks the quotas for the whole batch.
                check: if n == 0 { "1" } else { "0" },
                batch: tasks.len(),
            };
            let reply = self
                .submit_chunk(&mut conn, 0, &submission, chunk.iter())
                .await?;
            self.refusal(&submission, &reply).await?;
        }
        self.replicated(&mut conn).await
    }

    /// Redis Cluster: checks the function and the quotas on the shared
    /// keys (admit.lua), then writes the tasks to their partitions, each
    /// partition's in order, the partitions side by side.
    async fn submit_partitioned(
        &self,
        tenant: &str,
        function_id: FunctionId,
        tasks: &[(TaskId, Value)],
        retention_ms: u64,
    ) -> StoreResult<()> {
        let (active, depth) = self.partition_load(tenant).await?;
        let limits = &self.config.default_limits;
        let mut conn = self.conn.clone();
        let reply: Vec<u64> = self
            .scripts
            .admit
            .key(self.layout.global())
            .arg(function_id.to_string())
            .arg(tenant)
            .arg(now_ms())
            .arg(tasks.len())
            .arg(active)
            .arg(depth)
            .arg(self.config.max_queue_depth)
            .arg(limits.max_active_tasks)
            .arg(limits.submit_rate)
            .arg(limits.submit_burst)
            .invoke_async(&mut conn)
            .await?;
        let admitted = Submission {
            tenant,
            function_id,
            retention_ms,
            announce: true,
            check: "2",
            batch: tasks.len(),
        };
        self.refusal(&admitted, &reply).await?;
        let groups = self.layout.group(tasks.iter().map(|(id, _)| id));
        let writes = groups.into_iter().map(|(p, positions)| {
            let admitted = &admitted;
            async move {
                let mut conn = self.conn.clone();
                let chunks = positions.chunks(BATCH_CHUNK);
                let last = chunks.len();
                for (n, chunk) in chunks.enumerate() {
                    let submission = Submission {
                        announce: n + 1 == last,
                        ..*admitted
                    };
                    let chunk = chunk.iter().map(|&i| &tasks[i]);
                    self.submit_chunk(&mut conn, p, &submission, chunk).await?;
                }
                Ok::<_, StoreError>(())
            }
        });
        for written in futures::future::join_all(writes).await {
            written?;
        }
        Ok(())
    }

    /// A tenant's active tasks and the queue's length, summed over the
    /// partitions.
    async fn partition_load(&self, tenant: &str) -> StoreResult<(u64, u64)> {
        let reads = (0..self.layout.count()).map(|p| {
            let mut pipe = redis::pipe();
            pipe.hget(self.layout.tenant_counts(p, tenant), "active")
                .xlen(self.layout.stream(p));
            let mut conn = self.conn.clone();
            async move { pipe.query_async::<(Option<i64>, u64)>(&mut conn).await }
        });
        let (mut active, mut depth) = (0i64, 0);
        for read in futures::future::join_all(reads).await {
            let (a, d) = read?;
            active += a.unwrap_or(0);
            depth += d;
        }
        Ok((active.max(0) as u64, depth))
    }

    /// One call of the submit script on partition `p`.
    async fn submit_chunk(
        &self,
        conn: &mut Primary,
        p: usize,
        submission: &Submission<'_>,
        chunk: impl Iterator<Item = &(TaskId, Value)>,
    ) -> StoreResult<Vec<u64>> {
        let limits = &self.config.default_limits;
        let mut invocation = self.scripts.submit.prepare_invoke();
        invocation
            .key(self.layout.prefix(p))
            .arg(self.layout.stream(p))
            .arg(self.layout.recent(p, None))
            .arg(RECENT_TASKS)
            .arg(NEW_TASK_CHANNEL)
            .arg(submission.function_id.to_string())
            .arg(now_ms())
            .arg(if submission.announce { "1" } else { "0" })
            .arg(submission.tenant)
            .arg(submission.check)
            .arg(submission.batch)
            .arg(limits.max_active_tasks)
            .arg(limits.submit_rate)
            .arg(limits.submit_burst)
            .arg(submission.retention_ms)
            .arg(self.config.max_queue_depth);
        for (id, payload) in chunk {
            invocation.arg(id.to_string()).arg(payload.to_string());
        }
        Ok(invocation.invoke_async(conn).await?)
    }

    /// The error a submit or admit script's refusal stands for, if it is one.
    async fn refusal(&self, submission: &Submission<'_>, reply: &[u64]) -> StoreResult<()> {
        let (tenant, asked) = (submission.tenant, submission.batch as u64);
        match reply {
            [4] => Err(StoreError::NoFunction(submission.function_id)),
            [1, active, max] => Err(StoreError::OverQuota(OverQuota::active(
                tenant, *active, asked, *max,
            ))),
            [3, depth, max] => Err(StoreError::OverQuota(OverQuota::queue_full(
                *depth, asked, *max,
            ))),
            [2, wait_ms] => {
                let limits = self.tenant(tenant).await?.limits;
                Err(StoreError::OverQuota(OverQuota::rate(
                    tenant, asked, &limits, *wait_ms,
                )))
            }
            _ => Ok(()),
        }
    }

    pub async fn tasks_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskRecord>>> {
        let maps: Vec<HashMap<String, String>> = self
            .read_tasks(ids, |pipe, key| {
                pipe.hgetall(key);
            })
            .await?;
        ids.iter()
            .zip(maps)
            .map(|(id, map)| {
                if map.is_empty() {
                    Ok(None)
                } else {
                    parse_task(*id, &map).map(Some)
                }
            })
            .collect()
    }

    /// `fields` of each task's hash, in order (a missing task reads as all
    /// None).
    async fn task_fields(
        &self,
        ids: &[TaskId],
        fields: &[&str],
    ) -> StoreResult<Vec<Vec<Option<String>>>> {
        self.read_tasks(ids, |pipe, key| {
            pipe.cmd("HMGET").arg(key).arg(fields);
        })
        .await
    }

    /// One reply per task of `ids`, in order: `command` adds what to ask
    /// of a task's key to a pipeline. A pipeline per BATCH_CHUNK tasks of
    /// a partition (a cluster's pipeline reaches one slot), the partitions
    /// side by side.
    async fn read_tasks<T>(
        &self,
        ids: &[TaskId],
        command: impl Fn(&mut redis::Pipeline, String) + Sync,
    ) -> StoreResult<Vec<T>>
    where
        T: redis::FromRedisValue + Default + Send,
    {
        let groups = self.layout.group(ids);
        let reads = groups.iter().map(|(p, positions)| {
            let command = &command;
            async move {
                let mut conn = self.conn.clone();
                let mut rows: Vec<T> = Vec::with_capacity(positions.len());
                for chunk in positions.chunks(BATCH_CHUNK) {
                    let mut pipe = redis::pipe();
                    for &i in chunk {
                        command(&mut pipe, self.layout.task_key(*p, ids[i]));
                    }
                    rows.extend(pipe.query_async::<Vec<T>>(&mut conn).await?);
                }
                Ok::<_, redis::RedisError>(rows)
            }
        });
        let replies = futures::future::join_all(reads).await;
        let mut out: Vec<T> = std::iter::repeat_with(T::default).take(ids.len()).collect();
        for ((_, positions), rows) in groups.iter().zip(replies) {
            for (&i, row) in positions.iter().zip(rows?) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    pub async fn outcomes_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Option<TaskOutcome>>> {
        let rows = self
            .task_fields(ids, &["status", "result", "tenant"])
            .await?;
        ids.iter()
            .zip(rows)
            .map(|(id, row)| {
                let mut fields = row.into_iter();
                let (status, result, tenant) = (
                    fields.next().flatten(),
                    fields.next().flatten(),
                    fields.next().flatten(),
                );
                let Some(status) = status else {
                    return Ok(None);
                };
                let result = match result {
                    None => Value::Null,
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("task {id} result: {e}")))?,
                };
                Ok(Some(TaskOutcome {
                    status: parse_status(*id, &status)?,
                    result,
                    tenant: tenant.unwrap_or_else(|| DEFAULT_TENANT.to_string()),
                }))
            })
            .collect()
    }

    pub async fn statuses_many(
        &self,
        ids: &[TaskId],
    ) -> StoreResult<Vec<Option<(TaskStatus, String)>>> {
        let rows = self.task_fields(ids, &["status", "tenant"]).await?;
        ids.iter()
            .zip(rows)
            .map(|(id, row)| {
                let mut fields = row.into_iter();
                let (status, tenant) = (fields.next().flatten(), fields.next().flatten());
                status
                    .map(|s| {
                        let tenant = tenant.unwrap_or_else(|| DEFAULT_TENANT.to_string());
                        Ok((parse_status(*id, &s)?, tenant))
                    })
                    .transpose()
            })
            .collect()
    }

    /// On Redis Cluster each partition lists its own latest tasks: the
    /// listing merges theirs by submission time (tasks submitted in the
    /// same millisecond to different partitions come in no set order).
    pub async fn recent_tasks(
        &self,
        limit: usize,
        status: Option<TaskStatus>,
        tenant: Option<&str>,
    ) -> StoreResult<Vec<TaskSummary>> {
        let limit = limit.min(RECENT_TASKS);
        if self.layout.count() == 1 {
            return self.recent_in(0, limit, status, tenant).await;
        }
        let reads = (0..self.layout.count()).map(|p| self.recent_in(p, limit, status, tenant));
        let mut lists = Vec::new();
        for read in futures::future::join_all(reads).await {
            lists.push(read?.into_iter().peekable());
        }
        // Merged newest first, each partition's list keeping its order.
        let mut out = Vec::with_capacity(limit);
        while out.len() < limit {
            let newest = lists
                .iter_mut()
                .enumerate()
                .filter_map(|(i, list)| list.peek().map(|t| (t.created_at_ms, i)))
                .max_by_key(|&(at, i)| (at, std::cmp::Reverse(i)));
            let Some((_, i)) = newest else { break };
            out.extend(lists[i].next());
        }
        Ok(out)
    }

    /// Up to `limit` of partition `p`'s latest tasks, newest first.
    async fn recent_in(
        &self,
        p: usize,
        limit: usize,
        status: Option<TaskStatus>,
        tenant: Option<&str>,
    ) -> StoreResult<Vec<TaskSummary>> {
        let index = self.layout.recent(p, tenant);
        // Without a filter every id is a row unless its task expired: read
        // exactly `limit` first, then more at a time.
        let mut chunk = if status.is_some() {
            limit.max(RECENT_SCAN_CHUNK)
        } else {
            limit
        };
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < limit && start < RECENT_TASKS {
            let stop = (start + chunk).min(RECENT_TASKS) - 1;
            chunk = chunk.max(RECENT_SCAN_CHUNK);
            let ids: Vec<String> = conn.lrange(&index, start as isize, stop as isize).await?;
            if ids.is_empty() {
                break;
            }
            let read = ids.len();
            let ids = listable_ids(&ids);
            if ids.is_empty() {
                start = stop + 1;
                continue;
            }
            let rows = self.task_fields(&ids, &SUMMARY_FIELDS).await?;
            for (id, fields) in ids.iter().zip(rows) {
                // A task whose hash is gone (past its retention, or deleted
                // by hand) is skipped, and one corrupt record must not hide
                // the others.
                let summary = match parse_summary(*id, &fields) {
                    Ok(Some(summary)) => summary,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::error!("listing tasks: skipping {id}: {e}");
                        continue;
                    }
                };
                if status.is_none_or(|s| summary.status == s) {
                    out.push(summary);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            if read < stop + 1 - start {
                break;
            }
            start = stop + 1;
        }
        Ok(out)
    }

    pub async fn claim(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> StoreResult<Vec<Claim>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let claimed = async {
            let expired = self.reclaim_expired(consumer, max).await?;
            // Taken over: whatever an entry carries, the hash decides.
            let (read, fresh_ok) = match expired.is_empty() {
                false => (expired, false),
                true => (self.read_new(consumer, max, block).await?, true),
            };
            let mut claimed = (Vec::new(), HashSet::new());
            for (p, entries) in read {
                let (rows, gone) = self.claim_entries(p, entries, fresh_ok).await?;
                claimed.0.extend(rows);
                claimed.1.extend(gone);
            }
            Ok::<_, redis::RedisError>(claimed)
        };
        let rows = match claimed.await {
            Ok(rows) => rows,
            // Redis came back empty (no persistence): the group is gone with
            // the stream. Make them again; new tasks will be delivered.
            Err(e) if has_code(&e, "NOGROUP") => {
                tracing::warn!("the task stream's consumer group is missing (Redis restarted empty?); recreating it");
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        let (rows, gone) = rows;
        // A corrupt record fails alone (its lease lapses and it ends as
        // lost); the rest of the batch runs.
        let claims: Vec<Claim> = rows
            .into_iter()
            .filter_map(|(task, entry, attempt, function, payload, token)| {
                let claim = (|| {
                    Ok::<_, StoreError>(Claim {
                        task_id: parse_uuid(&task)?,
                        function_id: parse_uuid(&function)?,
                        payload: serde_json::from_str(&payload).map_err(|e| {
                            StoreError::Corrupt(format!("task {task} payload: {e}"))
                        })?,
                        attempt,
                        // An entry's id starts with the ms it was added.
                        queued_at_ms: entry
                            .split('-')
                            .next()
                            .and_then(|ms| ms.parse().ok())
                            .unwrap_or(0),
                        receipt: receipt(&entry, &token),
                    })
                })();
                claim
                    .map_err(|e| tracing::error!("skipping a corrupt task: {e}"))
                    .ok()
            })
            .collect();
        if gone.is_empty() {
            return Ok(claims);
        }
        // Claimed after their function was deleted: they end here.
        let (deleted, claims): (Vec<Claim>, Vec<Claim>) = claims
            .into_iter()
            .partition(|c| gone.contains(&c.function_id.to_string()));
        let ended: Vec<(Claim, Final, Report)> = deleted
            .into_iter()
            .map(|c| {
                let outcome = Final::function_deleted(c.function_id);
                (c, outcome, Report::default())
            })
            .collect();
        if let Err(e) = self.finish_many(&ended).await {
            // Their leases lapse, and the claim script ends them then.
            tracing::warn!("cannot end the tasks of a deleted function: {e}");
        }
        Ok(claims)
    }

    /// Claims delivered entries. New ones (`fresh_ok`: not taken over)
    /// are their task's current entry with the task QUEUED (only submit
    /// and release add entries, both with the task QUEUED), and carry what
    /// the claim needs: marking them RUNNING takes one plain HSET, no
    /// script and no read. The rest have their task's hash checked.
    async fn claim_entries(
        &self,
        p: usize,
        entries: Vec<Entry>,
        fresh_ok: bool,
    ) -> redis::RedisResult<(Vec<ClaimRow>, HashSet<String>)> {
        let mut fresh = Vec::new();
        let mut check = Vec::new();
        let mut junk = Vec::new();
        for entry in entries {
            match entry {
                Entry::New(new) if fresh_ok && new.attempts_before < self.config.max_attempts => {
                    fresh.push(new)
                }
                Entry::New(new) => check.push((new.entry, new.task)),
                Entry::Check { entry, task } => check.push((entry, task)),
                Entry::Junk(entry) => junk.push(entry),
            }
        }
        let (mut rows, mut gone) = match self.claim_fresh(p, fresh).await {
            Ok(claimed) => claimed,
            // At maxmemory plain writes are refused, the claim script's
            // are not: the entries (delivered, so held) go through it.
            Err((e, fresh)) if is_oom(&e) => {
                check.extend(fresh.into_iter().map(|new| (new.entry, new.task)));
                (Vec::new(), HashSet::new())
            }
            Err((e, _)) => return Err(e),
        };
        let checked = self.claim_checked(p, &check).await?;
        if self.layout.is_cluster() && !checked.is_empty() {
            // The claim script cannot see the functions' shard.
            let functions: HashSet<&str> = checked.iter().map(|row| row.3.as_str()).collect();
            gone.extend(self.missing_functions(functions).await?);
        }
        rows.extend(checked);
        if !junk.is_empty() {
            self.drop_entries(p, &junk).await?;
        }
        Ok((rows, gone))
    }

    /// Those of `functions` that no longer exist.
    async fn missing_functions(
        &self,
        functions: HashSet<&str>,
    ) -> redis::RedisResult<HashSet<String>> {
        let functions: Vec<&str> = functions.into_iter().collect();
        let mut pipe = redis::pipe();
        for function in &functions {
            pipe.exists(self.layout.function(function));
        }
        let mut conn = self.conn.clone();
        let exists: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok(absent(functions, exists))
    }

    /// The claim script, on entries already delivered whose task's hash
    /// must be checked first (see claim.lua).
    async fn claim_checked(
        &self,
        p: usize,
        entries: &[(String, String)],
    ) -> redis::RedisResult<Vec<ClaimRow>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.claim.prepare_invoke();
        invocation
            .key(self.layout.prefix(p))
            .arg(self.config.max_attempts)
            .arg(now_ms())
            .arg(self.layout.stream(p))
            .arg(GROUP)
            .arg(self.config.default_retention_ms());
        for (entry, task) in entries {
            invocation.arg(entry).arg(task).arg(new_receipt());
        }
        let rows: Vec<ClaimRow> = invocation.invoke_async(&mut conn).await?;
        if entries.len() > rows.len() {
            tracing::debug!(
                dropped = entries.len() - rows.len(),
                "claimed entries were already final, stale or out of attempts"
            );
        }
        Ok(rows)
    }

    /// Marks new entries' tasks RUNNING: one pipeline of HSETs, no
    /// transaction (each write stands alone; a dispatcher that dies halfway
    /// leaves entries whose lease lapses and which are then checked).
    /// The pipeline first asks whether each of their functions still
    /// exists (on Redis Cluster, a pipeline of its own to the functions'
    /// shard); it returns those that do not (deleted: their tasks must
    /// end, not run).
    async fn claim_fresh(
        &self,
        p: usize,
        fresh: Vec<NewEntry>,
    ) -> Result<(Vec<ClaimRow>, HashSet<String>), (redis::RedisError, Vec<NewEntry>)> {
        if fresh.is_empty() {
            return Ok((Vec::new(), HashSet::new()));
        }
        let now = now_ms();
        let tokens: Vec<String> = fresh.iter().map(|_| new_receipt()).collect();
        let mut pipe = redis::pipe();
        let functions: Vec<&str> = fresh
            .iter()
            .map(|new| new.function.as_str())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !self.layout.is_cluster() {
            for function in &functions {
                pipe.exists(self.layout.function(function));
            }
        }
        for (new, token) in fresh.iter().zip(&tokens) {
            pipe.cmd("HSET")
                .arg(self.layout.task_key(p, &new.task))
                .arg("status")
                .arg("RUNNING")
                .arg("started_at")
                .arg(now)
                .arg("entry")
                .arg(&new.entry)
                .arg("attempts")
                .arg(new.attempts_before + 1)
                .arg("receipt")
                .arg(token)
                .ignore();
        }
        let mut conn = self.conn.clone();
        let gone = if self.layout.is_cluster() {
            let marked = pipe.query_async::<()>(&mut conn);
            let missing = self.missing_functions(functions.into_iter().collect());
            match futures::future::join(marked, missing).await {
                (Ok(()), Ok(gone)) => gone,
                (Err(e), _) | (_, Err(e)) => return Err((e, fresh)),
            }
        } else {
            match pipe.query_async(&mut conn).await {
                Ok(exists) => absent(functions, exists),
                Err(e) => return Err((e, fresh)),
            }
        };
        let rows = fresh
            .into_iter()
            .zip(tokens)
            .map(|(new, token)| {
                (
                    new.task,
                    new.entry,
                    new.attempts_before + 1,
                    new.function,
                    new.payload,
                    token,
                )
            })
            .collect();
        Ok((rows, gone))
    }

    /// Acknowledges and deletes entries that name no task.
    async fn drop_entries(&self, p: usize, entries: &[String]) -> redis::RedisResult<()> {
        tracing::warn!(
            count = entries.len(),
            "dropping queue entries that name no task"
        );
        let mut conn = self.conn.clone();
        let stream = self.layout.stream(p);
        redis::pipe()
            .cmd("XACK")
            .arg(&stream)
            .arg(GROUP)
            .arg(entries)
            .ignore()
            .cmd("XDEL")
            .arg(&stream)
            .arg(entries)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
    }

    /// Takes over entries whose lease ran out (their executor stopped
    /// renewing). Checked at most ten times per lease period, so a dead
    /// dispatcher's tasks run again soon after its lease lapses; one
    /// bounded `XAUTOCLAIM` a second (at the default lease) costs nothing
    /// that shows.
    async fn reclaim_expired(
        &self,
        consumer: &str,
        max: usize,
    ) -> redis::RedisResult<Vec<(usize, Vec<Entry>)>> {
        {
            let mut last = self.last_reclaim.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < self.config.lease / 10) {
                return Ok(Vec::new());
            }
            *last = Some(Instant::now());
        }
        let mut more = false;
        let mut reclaimed = Vec::new();
        let mut count = 0;
        for p in 0..self.layout.count() {
            if count >= max {
                more = true;
                break;
            }
            let (entries, unfinished) = self.reclaim_in(p, consumer, max - count).await?;
            more |= unfinished;
            if !entries.is_empty() {
                count += entries.len();
                reclaimed.push((p, entries));
            }
        }
        if count > 0 {
            tracing::info!(count, "reclaimed tasks whose executor stopped renewing");
        }
        if more || count > 0 {
            // A scan is not through its pending list yet, or more may be
            // waiting: look again on the next claim.
            *self.last_reclaim.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        Ok(reclaimed)
    }

    /// One bounded XAUTOCLAIM of partition `p`'s lapsed entries, from
    /// where the last one ended; and whether its scan has further to go.
    async fn reclaim_in(
        &self,
        p: usize,
        consumer: &str,
        max: usize,
    ) -> redis::RedisResult<(Vec<Entry>, bool)> {
        let mut conn = self.conn.clone();
        let start = self
            .reclaim_cursors
            .lock()
            .unwrap_or_else(|e| e.into_inner())[p]
            .clone();
        let reply: RValue = redis::cmd("XAUTOCLAIM")
            .arg(self.layout.stream(p))
            .arg(GROUP)
            .arg(consumer)
            .arg(self.config.lease.as_millis() as u64)
            .arg(&start)
            .arg("COUNT")
            .arg(max)
            .query_async(&mut conn)
            .await?;
        let (next, entries) = match reply {
            RValue::Array(mut parts) if parts.len() >= 2 => {
                let entries = Entry::parse_all(parts.swap_remove(1));
                let next: String =
                    redis::from_redis_value(parts.swap_remove(0)).unwrap_or_else(|_| "0-0".into());
                (next, entries)
            }
            _ => ("0-0".to_string(), Vec::new()),
        };
        let more = next != "0-0";
        self.reclaim_cursors
            .lock()
            .unwrap_or_else(|e| e.into_inner())[p] = next;
        Ok((entries, more))
    }

    /// Up to `max` new entries for `consumer`, by partition, waiting up to
    /// `block` while there are none. On one Redis, under load they come on
    /// the shared connection (claims in flight at once go side by side);
    /// only an empty queue takes the blocking one.
    async fn read_new(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> redis::RedisResult<Vec<(usize, Vec<Entry>)>> {
        if self.layout.is_cluster() {
            return self.read_new_partitioned(consumer, max, block).await;
        }
        let stream = self.layout.stream(0);
        let mut conn = self.conn.clone();
        let ready = read_group(&mut conn, &stream, consumer, max, None).await?;
        if !ready.is_empty() {
            return Ok(vec![(0, ready)]);
        }
        let mut guard = self.blocking.lock().await;
        if guard.is_none() {
            let conn = self
                .conn
                .client()
                .get_connection_manager_with_config(manager_config(block + Duration::from_secs(3)))
                .await?;
            *guard = Some(conn);
        }
        let Some(conn) = guard.as_mut() else {
            return Ok(Vec::new());
        };
        let read = read_group(conn, &stream, consumer, max, Some(block)).await;
        if let Err(e) = &read {
            // Made anew from the primary of then (a Sentinel may have
            // named another since).
            *guard = None;
            self.conn.failed(e);
        }
        read.map(|entries| vec![(0, entries)])
    }

    /// Redis Cluster: looks at the partitions that may hold unread entries
    /// (`UnreadHints`; every one each FULL_SWEEP_EVERY), in turn from one
    /// further along each time, taking new entries until it has `max`;
    /// with none, waits for an announcement of new tasks or the next full
    /// sweep and looks again, until `block` has passed.
    async fn read_new_partitioned(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> redis::RedisResult<Vec<(usize, Vec<Entry>)>> {
        self.ensure_announcements();
        let deadline = tokio::time::Instant::now() + block;
        let count = self.layout.count();
        let mut conn = self.conn.clone();
        loop {
            // Listening before looking: an announcement meanwhile counts.
            let announced = self.announced.notified();
            tokio::pin!(announced);
            announced.as_mut().enable();
            let turn = self.claim_turn.fetch_add(1, Ordering::Relaxed);
            let full = self.unread.full_sweep_due();
            let mut read = Vec::new();
            let mut taken = 0;
            for k in 0..count {
                let p = (turn + k) % count;
                let Some(announced) = self.unread.maybe(p, full) else {
                    continue;
                };
                let stream = self.layout.stream(p);
                let asked = max - taken;
                let ready = read_group(&mut conn, &stream, consumer, asked, None).await?;
                if ready.len() < asked {
                    self.unread.drained(p, announced);
                }
                if !ready.is_empty() {
                    taken += ready.len();
                    read.push((p, ready));
                    if taken >= max {
                        break;
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if !read.is_empty() || now >= deadline {
                return Ok(read);
            }
            let nap = (deadline - now).min(self.unread.until_full_sweep());
            let _ = tokio::time::timeout(nap, announced).await;
        }
    }

    /// Starts (once) the subscriber that wakes waiting claims when tasks
    /// are announced (Redis Cluster). When the subscription drops, claims
    /// are woken to look, and it reconnects.
    fn ensure_announcements(&self) {
        if self.announcements.swap(true, Ordering::SeqCst) {
            return;
        }
        let announced = self.announced.clone();
        let conn = self.conn.clone();
        let (unread, layout) = (self.unread.clone(), self.layout.clone());
        tokio::spawn(async move {
            loop {
                match conn.client().get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(NEW_TASK_CHANNEL).await.is_ok() {
                            // What was said meanwhile is lost: look everywhere.
                            unread.sweep_all();
                            announced.notify_waiters();
                            let mut messages = pubsub.on_message();
                            while let Some(msg) = messages.next().await {
                                let id = msg.get_payload::<String>().ok();
                                if let Some(id) = id.and_then(|id| Uuid::parse_str(&id).ok()) {
                                    unread.announced(layout.partition_of(&id));
                                }
                                announced.notify_waiters();
                            }
                        }
                    }
                    Err(e) => tracing::debug!("task announcement subscription failed: {e}"),
                }
                // Its node may be down: the next subscription tries another.
                conn.lost();
                unread.sweep_all();
                announced.notify_waiters();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }

    pub async fn renew(&self, consumer: &str, claims: &[Claim]) -> StoreResult<Vec<TaskId>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let stops = self
            .per_partition(claims.iter().map(|c| &c.task_id), |p, positions| {
                let mut invocation = self.scripts.renew.prepare_invoke();
                invocation
                    .key(self.layout.prefix(p))
                    .arg(self.layout.stream(p))
                    .arg(GROUP)
                    .arg(consumer);
                for &i in positions {
                    let claim = &claims[i];
                    invocation
                        .arg(split_receipt(&claim.receipt).0)
                        .arg(claim.task_id.to_string())
                        .arg(claim.attempt);
                }
                invocation
            })
            .await;
        let mut out = Vec::new();
        for (_, stop) in stops {
            let stop: Vec<String> = stop?;
            out.extend(stop.iter().filter_map(|id| Uuid::parse_str(id).ok()));
        }
        Ok(out)
    }

    /// Invokes the script `invocation` makes for each partition that
    /// `ids` fall in (given the partition and the positions in `ids` of
    /// its tasks), the partitions side by side; each group's positions
    /// with its reply.
    async fn per_partition<'a, 's, T>(
        &'s self,
        ids: impl IntoIterator<Item = &'a TaskId>,
        invocation: impl Fn(usize, &[usize]) -> redis::ScriptInvocation<'s>,
    ) -> Vec<(Vec<usize>, redis::RedisResult<T>)>
    where
        T: redis::FromRedisValue + Send,
    {
        let groups = self.layout.group(ids);
        let calls = groups.iter().map(|(p, positions)| {
            let call = invocation(*p, positions);
            let mut conn = self.conn.clone();
            async move { call.invoke_async::<T>(&mut conn).await }
        });
        let replies = futures::future::join_all(calls).await;
        groups
            .into_iter()
            .map(|(_, positions)| positions)
            .zip(replies)
            .collect()
    }

    pub async fn cancel_many(
        &self,
        ids: &[TaskId],
        tenant: Option<&str>,
    ) -> StoreResult<Vec<Cancelled>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let mut codes = vec![0i64; chunk.len()];
            let replies = self
                .per_partition(chunk, |p, positions| {
                    let mut invocation = self.scripts.cancel.prepare_invoke();
                    invocation
                        .key(self.layout.prefix(p))
                        .arg(self.layout.stream(p))
                        .arg(GROUP)
                        .arg(now_ms())
                        .arg(tenant.unwrap_or(""))
                        .arg(self.config.default_retention_ms());
                    for &i in positions {
                        invocation.arg(chunk[i].to_string());
                    }
                    invocation
                })
                .await;
            for (positions, reply) in replies {
                let reply: Vec<i64> = reply?;
                for (i, code) in positions.into_iter().zip(reply) {
                    codes[i] = code;
                }
            }
            out.extend(codes.into_iter().map(|code| match code {
                1 => Cancelled::Now,
                2 => Cancelled::Pending,
                3 => Cancelled::AlreadyEnded(TaskStatus::Completed),
                4 => Cancelled::AlreadyEnded(TaskStatus::Failed),
                _ => Cancelled::Unknown,
            }));
        }
        Ok(out)
    }

    /// A subscription to [`CONTROL_CHANNEL`], as notices, subscribed
    /// before this returns (unless Redis is unreachable); it reconnects
    /// when dropped and ends when the receiver is dropped.
    pub async fn notices(&self) -> mpsc::UnboundedReceiver<Notice> {
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = self.conn.clone();
        let mut subscribed = subscribe_control(&conn).await;
        tokio::spawn(async move {
            loop {
                if let Some(pubsub) = subscribed.take() {
                    forward_notices(pubsub, &tx).await;
                }
                if tx.is_closed() {
                    return;
                }
                // A dropped subscription may mean a lost primary.
                conn.lost();
                tokio::time::sleep(Duration::from_millis(250)).await;
                subscribed = subscribe_control(&conn).await;
            }
        });
        rx
    }

    pub async fn finish_many(&self, done: &[(Claim, Final, Report)]) -> StoreResult<Vec<bool>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let replies = self
            .per_partition(
                done.iter().map(|(claim, ..)| &claim.task_id),
                |p, positions| {
                    let mut invocation = self.scripts.finish.prepare_invoke();
                    invocation
                        .key(self.layout.prefix(p))
                        .arg(self.layout.stream(p))
                        .arg(GROUP)
                        .arg(now)
                        .arg(ANNOUNCED_RESULT_BYTES)
                        .arg(self.config.default_retention_ms())
                        .arg(latency_bounds());
                    for &i in positions {
                        let (claim, outcome, report) = &done[i];
                        let (entry, token) = split_receipt(&claim.receipt);
                        invocation
                            .arg(claim.task_id.to_string())
                            .arg(claim.attempt)
                            .arg(outcome.status().as_str())
                            .arg(outcome.result().to_string())
                            .arg(outcome.kind().unwrap_or(""))
                            .arg(entry)
                            .arg(token)
                            .arg(report.kept_logs())
                            .arg(report.usage.as_ref().map_or_else(String::new, usage_text));
                    }
                    invocation
                },
            )
            .await;
        let mut applied = vec![false; done.len()];
        for (positions, reply) in replies {
            let reply: Vec<i64> = reply?;
            for (i, a) in positions.into_iter().zip(reply) {
                applied[i] = a == 1;
            }
        }
        Ok(applied)
    }

    /// Deletes the records of tasks whose retention has ended, a bounded
    /// number per script call so that Redis serves others in between;
    /// returns how many.
    pub async fn sweep_expired(&self) -> StoreResult<u64> {
        const PER_CALL: u64 = 20_000;
        let mut conn = self.conn.clone();
        let mut total = 0;
        for p in 0..self.layout.count() {
            loop {
                let removed: u64 = self
                    .scripts
                    .sweep
                    .key(self.layout.prefix(p))
                    .arg(now_ms())
                    .arg(PER_CALL)
                    .invoke_async(&mut conn)
                    .await?;
                total += removed;
                if removed < PER_CALL {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// Each second's counts (tally.lua) in one pipelined round trip per
    /// partition, with the queue group's state, summed.
    pub async fn stats(&self, seconds: u64) -> StoreResult<Stats> {
        let now = now_ms();
        let window = throughput::window(now, seconds);
        let reads = (0..self.layout.count()).map(|p| self.partition_stats(p, window.clone()));
        let mut queued = 0;
        let mut running = 0;
        let mut seconds: Vec<SecondStats> = window.clone().map(SecondStats::new).collect();
        for read in futures::future::join_all(reads).await {
            let (q, r, counts) = read?;
            queued += q;
            running += r;
            for (total, part) in seconds.iter_mut().zip(counts) {
                total.add(&part);
            }
        }
        Ok(Stats {
            now_ms: now,
            queued,
            running,
            latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
            seconds,
        })
    }

    /// Partition `p`'s tasks queued and running, and its counts of each
    /// second of `window`.
    async fn partition_stats(
        &self,
        p: usize,
        window: std::ops::RangeInclusive<u64>,
    ) -> StoreResult<(u64, u64, Vec<SecondStats>)> {
        let stream = self.layout.stream(p);
        let mut pipe = redis::pipe();
        pipe.cmd("XINFO").arg("GROUPS").arg(&stream).xlen(&stream);
        for second in window.clone() {
            pipe.hgetall(self.layout.stats(p, second));
        }
        let mut conn = self.conn.clone();
        // XINFO fails before anything was ever submitted (no stream).
        let (group, length, counts) = match pipe.query_async::<Vec<RValue>>(&mut conn).await {
            Ok(mut replies) => {
                let counts = replies.split_off(2);
                let length =
                    redis::from_redis_value(replies.pop().unwrap_or(RValue::Nil)).unwrap_or(0u64);
                let group = redis::from_redis_value::<redis::streams::StreamInfoGroupsReply>(
                    replies.pop().unwrap_or(RValue::Nil),
                )
                .ok()
                .and_then(|reply| reply.groups.into_iter().find(|g| g.name == GROUP));
                (group, length, counts)
            }
            Err(e) if matches!(e.kind(), redis::ErrorKind::Server(_)) => {
                let mut pipe = redis::pipe();
                for second in window.clone() {
                    pipe.hgetall(self.layout.stats(p, second));
                }
                (None, 0, pipe.query_async(&mut conn).await?)
            }
            Err(e) => return Err(e.into()),
        };
        let running = group.as_ref().map_or(0, |g| g.pending as u64);
        let queued = match &group {
            Some(g) => match g.lag {
                Some(lag) => lag as u64,
                None => {
                    self.unread(p, &g.last_delivered_id, length, running)
                        .await?
                }
            },
            None => length,
        };
        let seconds = window
            .zip(counts)
            .map(|(second, reply)| {
                let fields: HashMap<String, u64> =
                    redis::from_redis_value(reply).unwrap_or_default();
                second_stats(second, &fields)
            })
            .collect();
        Ok((queued, running, seconds))
    }

    /// The entries of partition `p` after the group's last delivered one,
    /// counted where Redis has no lag for it: a cancellation deleted an
    /// entry no dispatcher had read yet, and none has read past it (the
    /// queue is idle or nearly). A longer queue is estimated from its
    /// length, less the pending, which counts also the ended tasks not yet
    /// trimmed.
    async fn unread(
        &self,
        p: usize,
        last_delivered: &str,
        length: u64,
        running: u64,
    ) -> StoreResult<u64> {
        const MOST: u64 = 1000;
        let mut conn = self.conn.clone();
        let unread: u64 = self
            .scripts
            .unread
            .key(self.layout.prefix(p))
            .arg(self.layout.stream(p))
            .arg(last_delivered)
            .arg(MOST)
            .invoke_async(&mut conn)
            .await?;
        Ok(if unread < MOST {
            unread
        } else {
            length.saturating_sub(running)
        })
    }

    pub async fn queue_depth(&self) -> StoreResult<u64> {
        let lengths = (0..self.layout.count()).map(|p| {
            let mut conn = self.conn.clone();
            let stream = self.layout.stream(p);
            async move { conn.xlen::<_, u64>(stream).await }
        });
        let mut depth = 0;
        for length in futures::future::join_all(lengths).await {
            depth += length?;
        }
        Ok(depth)
    }

    /// Deletes the queue's entries that every dispatcher is done with.
    pub async fn trim_queue(&self) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let mut trimmed = 0;
        for p in 0..self.layout.count() {
            trimmed += self
                .scripts
                .trim
                .key(self.layout.prefix(p))
                .arg(self.layout.stream(p))
                .invoke_async::<u64>(&mut conn)
                .await?;
        }
        Ok(trimmed)
    }

    pub async fn release(&self, claim: &Claim, count_attempt: bool) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let (entry, token) = split_receipt(&claim.receipt);
        let p = self.layout.partition_of(&claim.task_id);
        self.scripts
            .release
            .key(self.layout.prefix(p))
            .arg(claim.task_id.to_string())
            .arg(claim.attempt)
            .arg(self.layout.stream(p))
            .arg(GROUP)
            .arg(entry)
            .arg(if count_attempt { "0" } else { "1" })
            .arg(token)
            .arg(now_ms())
            .arg(self.config.default_retention_ms())
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn publish_workers(
        &self,
        dispatcher: &str,
        workers: &Value,
        ttl: Duration,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let ttl_ms = ttl.as_millis().max(1) as u64;
        if self.layout.is_cluster() {
            // One hash on the shared keys' shard (SCAN reaches one node):
            // each dispatcher's list after the ms it lapses at.
            conn.hset::<_, _, _, ()>(
                self.layout.workers(""),
                dispatcher,
                format!("{} {workers}", now_ms() + ttl_ms),
            )
            .await?;
            return Ok(());
        }
        redis::cmd("SET")
            .arg(self.layout.workers(dispatcher))
            .arg(workers.to_string())
            .arg("PX")
            .arg(ttl_ms)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Redis Cluster: the lists not lapsed; the lapsed are deleted.
    async fn cluster_workers(&self) -> StoreResult<Vec<Value>> {
        let mut conn = self.conn.clone();
        let key = self.layout.workers("");
        let lists: HashMap<String, String> = conn.hgetall(&key).await?;
        let now = now_ms();
        let mut out = Vec::new();
        let mut lapsed = Vec::new();
        for (dispatcher, text) in lists {
            let (until, list) = text.split_once(' ').unwrap_or(("0", ""));
            if until.parse::<u64>().unwrap_or(0) < now {
                lapsed.push(dispatcher);
            } else if let Ok(Value::Array(list)) = serde_json::from_str(list) {
                out.extend(list);
            }
        }
        if !lapsed.is_empty() {
            conn.hdel::<_, _, ()>(&key, lapsed).await?;
        }
        Ok(out)
    }

    pub async fn workers(&self) -> StoreResult<Vec<Value>> {
        if self.layout.is_cluster() {
            return self.cluster_workers().await;
        }
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.layout.workers("*"))
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut out = Vec::new();
        for key in keys {
            let text: Option<String> = conn.get(&key).await?;
            if let Some(Value::Array(list)) = text.and_then(|t| serde_json::from_str(&t).ok()) {
                out.extend(list);
            }
        }
        Ok(out)
    }

    pub async fn put_key(&self, key: &ApiKey, only_first: bool) -> StoreResult<bool> {
        let mut conn = self.conn.pin();
        let stored: i64 = self
            .scripts
            .put_key
            .key(self.layout.global())
            .arg(&key.id)
            .arg(if only_first { "1" } else { "0" })
            .arg(&key.hash)
            .arg(&key.tenant)
            .arg(if key.admin { "1" } else { "0" })
            .arg(key.created_at_ms)
            .invoke_async(&mut conn)
            .await?;
        if stored == 1 {
            // Someone may have presented this id before it existed (a key
            // put back after Redis lost it): no server may go on refusing it.
            self.keys.forget(&key.id);
            conn.publish::<_, _, i64>(KEYS_CHANNEL, format!("forget {}", key.id))
                .await?;
            self.replicated(&mut conn).await?;
        }
        Ok(stored == 1)
    }

    /// Read through the process's key cache (see [`KeyCache`]).
    pub async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        self.ensure_listening();
        let generation = match self.keys.get(id) {
            Ok(key) => return Ok(key),
            Err(generation) => generation,
        };
        let mut conn = self.conn.clone();
        let map: HashMap<String, String> = conn.hgetall(self.layout.api_key(id)).await?;
        let key = parse_key(id, &map);
        self.keys.fill(id, key.clone(), generation);
        Ok(key)
    }

    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.smembers(self.layout.keys_index()).await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.layout.api_key(id));
        }
        let maps: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(ids
            .iter()
            .zip(maps)
            .filter_map(|(id, map)| parse_key(id, &map))
            .collect())
    }

    /// Deletes the key, then announces the revocation and waits until
    /// every subscribed server process (this one included) acknowledges
    /// that it forgot the key.
    pub async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        self.ensure_listening();
        let nonce = Uuid::new_v4().simple().to_string();
        self.keys.expect_acks(&nonce);
        let mut conn = self.conn.pin();
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .del(self.layout.api_key(id))
            .srem(self.layout.keys_index(), id)
            .query_async(&mut conn)
            .await?;
        self.keys.forget(id);
        let receivers: i64 = conn
            .publish(KEYS_CHANNEL, format!("revoke {id} {nonce}"))
            .await?;
        let wanted = usize::try_from(receivers).unwrap_or(0);
        let acked = self.keys.wait_acks(&nonce, wanted, REVOKE_ACK_WAIT).await;
        if acked < wanted {
            tracing::warn!(
                key = id,
                "{} of {wanted} server processes did not acknowledge the revocation within {:?}",
                wanted - acked,
                REVOKE_ACK_WAIT
            );
        }
        // Last: the servers forget the key whether or not replicas confirm.
        self.replicated(&mut conn).await?;
        Ok(deleted == 1)
    }

    pub async fn touch_keys(&self, used: &[(String, u64)]) -> StoreResult<()> {
        if used.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.touch_keys.prepare_invoke();
        invocation.key(self.layout.global());
        for (id, at) in used {
            invocation.arg(id).arg(*at);
        }
        invocation.invoke_async::<i64>(&mut conn).await?;
        Ok(())
    }

    pub async fn tenant(&self, tenant: &str) -> StoreResult<TenantInfo> {
        let mut conn = self.conn.clone();
        let fields: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(self.layout.tenant(tenant))
            .arg(&[
                "max_active_tasks",
                "submit_rate",
                "submit_burst",
                "max_module_bytes",
                "active",
                "module_bytes",
            ])
            .query_async(&mut conn)
            .await?;
        let field = |i: usize| fields.get(i).copied().flatten();
        // On Redis Cluster each partition counts its own.
        let active = match self.layout.is_cluster() {
            true => Some(self.partition_load(tenant).await?.0),
            false => field(4),
        };
        let overrides = LimitOverrides {
            max_active_tasks: field(0),
            submit_rate: field(1),
            submit_burst: field(2),
            max_module_bytes: field(3),
        };
        Ok(TenantInfo {
            tenant: tenant.to_string(),
            limits: overrides.apply(&self.config.default_limits),
            active_tasks: active.unwrap_or(0),
            module_bytes: field(5).unwrap_or(0),
        })
    }

    pub async fn set_limits(&self, tenant: &str, limits: &LimitOverrides) -> StoreResult<()> {
        let fields: Vec<(&str, u64)> = [
            ("max_active_tasks", limits.max_active_tasks),
            ("submit_rate", limits.submit_rate),
            ("submit_burst", limits.submit_burst),
            ("max_module_bytes", limits.max_module_bytes),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect();
        if fields.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        conn.hset_multiple::<_, _, _, ()>(self.layout.tenant(tenant), &fields)
            .await?;
        Ok(())
    }

    /// Starts (once) the subscriber that wakes long-polls on `faas:done`.
    /// When the subscription drops, everyone is woken to re-read, and it
    /// reconnects.
    pub(crate) fn ensure_listening(&self) {
        if self.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let waiters = self.waiters.clone();
        let keys = self.keys.clone();
        let conn = self.conn.clone();
        tokio::spawn(async move {
            loop {
                match conn.client().get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        let subscribed = pubsub.subscribe(DONE_CHANNEL).await.is_ok()
                            && pubsub.subscribe(KEYS_CHANNEL).await.is_ok();
                        if subscribed {
                            waiters.set_live();
                            keys.set_live(true);
                            let mut messages = pubsub.on_message();
                            while let Some(msg) = messages.next().await {
                                let Ok(text) = msg.get_payload::<String>() else {
                                    continue;
                                };
                                if msg.get_channel_name() == KEYS_CHANNEL {
                                    on_key_message(&keys, &conn, &text);
                                } else {
                                    waiters.notify_many(text.lines().filter_map(parse_done_line));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!("announcement subscription failed: {e}");
                        conn.failed(&e);
                    }
                }
                // A dropped subscription may mean a lost primary too.
                conn.lost();
                keys.set_live(false);
                waiters.notify_all();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }
}

/// A message on the keys channel: a new key (forget what was cached of
/// its id), a revocation (forget the key, then say so) or an
/// acknowledgement (count it for whoever revoked).
fn on_key_message(keys: &Arc<KeyCache>, conn: &Primary, text: &str) {
    let mut parts = text.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("forget"), Some(id), None) => keys.forget(id),
        (Some("revoke"), Some(id), Some(nonce)) => {
            keys.forget(id);
            let mut conn = conn.clone();
            let ack = format!("ack {nonce}");
            tokio::spawn(async move {
                if let Err(e) = conn.publish::<_, _, i64>(KEYS_CHANNEL, ack).await {
                    tracing::warn!("cannot acknowledge a key revocation: {e}");
                }
            });
        }
        (Some("ack"), Some(nonce), None) => keys.ack(nonce),
        _ => tracing::debug!("ignored a message on {KEYS_CHANNEL}: {text:?}"),
    }
}

async fn subscribe_control(conn: &Primary) -> Option<redis::aio::PubSub> {
    let subscribed = async {
        let mut pubsub = conn.client().get_async_pubsub().await?;
        pubsub.subscribe(CONTROL_CHANNEL).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    subscribed
        .await
        .map_err(|e| {
            tracing::debug!("control subscription failed: {e}");
            conn.failed(&e);
        })
        .ok()
}

/// Passes on what the control channel says until the subscription drops
/// or nobody listens.
async fn forward_notices(mut pubsub: redis::aio::PubSub, tx: &mpsc::UnboundedSender<Notice>) {
    let mut messages = pubsub.on_message();
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return };
                let Ok(text) = msg.get_payload::<String>() else { continue };
                if let Some(notice) = parse_notice(&text) {
                    if tx.send(notice).is_err() {
                        return;
                    }
                }
            }
            () = tx.closed() => return,
        }
    }
}

/// A message on the control channel: `stop {task id} ...`.
fn parse_notice(text: &str) -> Option<Notice> {
    let mut words = text.split(' ');
    match words.next()? {
        "stop" => Some(Notice::Stop(
            words.filter_map(|id| Uuid::parse_str(id).ok()).collect(),
        )),
        "forget" => Some(Notice::FunctionDeleted(
            Uuid::parse_str(words.next()?).ok()?,
        )),
        "registered" => Some(Notice::FunctionRegistered(
            Uuid::parse_str(words.next()?).ok()?,
        )),
        _ => {
            tracing::debug!("ignored a message on {CONTROL_CHANNEL}: {text:?}");
            None
        }
    }
}

/// The layout of a cluster deployment: the partition count recorded by the
/// first process to use the cluster, else the URL's (or the default),
/// recorded now.
async fn cluster_layout(conn: &Primary, asked: Option<usize>) -> redis::RedisResult<Layout> {
    let key = Layout::cluster(1).partitions_key();
    let wanted = asked.unwrap_or(DEFAULT_PARTITIONS);
    let mut conn = conn.clone();
    redis::cmd("SET")
        .arg(&key)
        .arg(wanted)
        .arg("NX")
        .query_async::<()>(&mut conn)
        .await?;
    let recorded: Option<usize> = conn.get(&key).await?;
    let count = recorded.unwrap_or(wanted);
    if asked.is_some_and(|asked| asked != count) {
        tracing::warn!(
            "this cluster's tasks are spread over {count} partitions (recorded in {key}), \
             not the {} the URL asks for: using {count}",
            asked.unwrap_or(0)
        );
    }
    Ok(Layout::cluster(count))
}

/// Those of `functions` whose EXISTS answered false.
fn absent(functions: Vec<&str>, exists: Vec<bool>) -> HashSet<String> {
    functions
        .into_iter()
        .zip(exists)
        .filter(|(_, exists)| !exists)
        .map(|(function, _)| function.to_string())
        .collect()
}

/// XREADGROUP of up to `max` new entries, blocking up to `block` if given.
async fn read_group(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    stream: &str,
    consumer: &str,
    max: usize,
    block: Option<Duration>,
) -> redis::RedisResult<Vec<Entry>> {
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(GROUP)
        .arg(consumer)
        .arg("COUNT")
        .arg(max);
    if let Some(block) = block {
        cmd.arg("BLOCK").arg(block.as_millis().max(1) as u64);
    }
    let reply: RValue = cmd
        .arg("STREAMS")
        .arg(stream)
        .arg(">")
        .query_async(conn)
        .await?;
    // Reply: [[stream, [[id, [field, value, ...]], ...]]], or nil.
    let mut out = Vec::new();
    if let RValue::Array(streams) = reply {
        for stream in streams {
            if let RValue::Array(mut parts) = stream {
                if parts.len() == 2 {
                    out.extend(Entry::parse_all(parts.swap_remove(1)));
                }
            }
        }
    }
    Ok(out)
}

/// The finish script's latency buckets: their upper bounds, in ms.
fn latency_bounds() -> &'static str {
    static BOUNDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let bounds: Vec<String> = LATENCY_BOUNDS_MS.iter().map(u64::to_string).collect();
        bounds.join(" ")
    });
    &BOUNDS
}

/// A second's counts from its hash (see tally.lua).
fn second_stats(second: u64, fields: &HashMap<String, u64>) -> SecondStats {
    let mut stats = SecondStats::new(second);
    let get = |name: &str| fields.get(name).copied().unwrap_or(0);
    stats.submitted = get("s");
    stats.completed = get("c");
    stats.failed = get("f");
    for (bucket, count) in stats.latency_counts.iter_mut().enumerate() {
        *count = get(&format!("l{bucket}"));
    }
    stats
}

/// One line of a `faas:done` message: `{task id} {status} @{tenant}
/// {result json}`, or the task id alone (a result too large to announce:
/// read it).
fn parse_done_line(line: &str) -> Option<(TaskId, Option<TaskOutcome>)> {
    let mut parts = line.splitn(4, ' ');
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let status = parts.next().and_then(TaskStatus::parse);
    let tenant = parts.next().and_then(|t| t.strip_prefix('@'));
    let outcome = match (status, tenant, parts.next()) {
        (Some(status), Some(tenant), Some(result)) if status.is_final() => {
            serde_json::from_str(result).ok().map(|result| TaskOutcome {
                status,
                result,
                tenant: tenant.to_string(),
            })
        }
        _ => None,
    };
    Some((id, outcome))
}

/// A queue entry as XREADGROUP or XAUTOCLAIM delivers it.
enum Entry {
    /// Written by submit or release: carries what a claim needs.
    New(NewEntry),
    /// Names its task only (written by an older version): check the hash.
    Check { entry: String, task: String },
    /// Names no task.
    Junk(String),
}

struct NewEntry {
    entry: String,
    task: String,
    function: String,
    payload: String,
    attempts_before: u32,
}

impl Entry {
    /// Parses `[[id, [field, value, ...]], ...]`, skipping entries deleted
    /// meanwhile.
    fn parse_all(value: RValue) -> Vec<Entry> {
        match value {
            RValue::Array(entries) => entries.into_iter().filter_map(Entry::parse).collect(),
            _ => Vec::new(),
        }
    }

    /// Parses `[id, [field, value, ...]]`; None for an entry deleted
    /// meanwhile (a nil body).
    fn parse(value: RValue) -> Option<Entry> {
        let RValue::Array(mut parts) = value else {
            return None;
        };
        if parts.len() != 2 {
            return None;
        }
        let RValue::Array(fields) = parts.pop()? else {
            return None;
        };
        let entry: String = redis::from_redis_value(parts.pop()?).ok()?;
        let (mut task, mut function, mut payload, mut attempts) = (None, None, None, None);
        let mut fields = fields.into_iter();
        while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
            let (Ok(k), Ok(v)) = (
                redis::from_redis_value::<String>(k),
                redis::from_redis_value::<String>(v),
            ) else {
                continue;
            };
            match k.as_str() {
                "task" => task = Some(v),
                "f" => function = Some(v),
                "p" => payload = Some(v),
                "a" => attempts = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        Some(match (task, function, payload, attempts) {
            (Some(task), Some(function), Some(payload), Some(attempts_before)) => {
                Entry::New(NewEntry {
                    entry,
                    task,
                    function,
                    payload,
                    attempts_before,
                })
            }
            (Some(task), ..) => Entry::Check { entry, task },
            (None, ..) => Entry::Junk(entry),
        })
    }
}

fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("bad id {text:?}: {e}")))
}

/// The ids of an index, skipping (and logging) any that is not a uuid.
fn listable_ids(ids: &[String]) -> Vec<Uuid> {
    ids.iter()
        .filter_map(|id| {
            parse_uuid(id)
                .map_err(|e| tracing::error!("skipping a bad index entry: {e}"))
                .ok()
        })
        .collect()
}

/// A function hash, or None if there is none.
fn parse_function(
    id: FunctionId,
    map: &HashMap<String, String>,
) -> StoreResult<Option<FunctionRecord>> {
    if map.is_empty() {
        return Ok(None);
    }
    let get = |k: &str| {
        map.get(k)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("function {id} has no `{k}`")))
    };
    Ok(Some(FunctionRecord {
        id,
        name: get("name")?,
        entry: get("entry")?,
        convention: serde_json::from_str(&get("convention")?)
            .map_err(|e| StoreError::Corrupt(format!("function {id}: {e}")))?,
        module_hash: get("module")?,
        module_size: get("module_size")?.parse().unwrap_or(0),
        created_at_ms: get("created_at")?.parse().unwrap_or(0),
        tenant: map
            .get("tenant")
            .cloned()
            .unwrap_or_else(|| DEFAULT_TENANT.to_string()),
        invocations: map
            .get("invocations")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        failures: map
            .get("failures")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    }))
}

/// A key's hash, or None if there is none (or it is unreadable: a key
/// that cannot be read cannot be used).
fn parse_key(id: &str, map: &HashMap<String, String>) -> Option<ApiKey> {
    let num = |k: &str| map.get(k).and_then(|v| v.parse::<u64>().ok());
    Some(ApiKey {
        id: id.to_string(),
        hash: map.get("hash")?.clone(),
        tenant: map.get("tenant")?.clone(),
        admin: map.get("admin").is_some_and(|a| a == "1"),
        created_at_ms: num("created_at").unwrap_or(0),
        last_used_ms: num("last_used"),
    })
}

fn parse_status(id: TaskId, text: &str) -> StoreResult<TaskStatus> {
    TaskStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("task {id}: bad status {text:?}")))
}

/// A task's `SUMMARY_FIELDS`, or None if the task hash does not exist.
fn parse_summary(id: TaskId, fields: &[Option<String>]) -> StoreResult<Option<TaskSummary>> {
    let field = |i: usize| fields.get(i).and_then(|f| f.as_deref());
    let num = |i: usize| field(i).and_then(|v| v.parse::<u64>().ok());
    let (Some(function_id), Some(status)) = (field(0), field(1)) else {
        return Ok(None);
    };
    let status = parse_status(id, status)?;
    Ok(Some(TaskSummary {
        id,
        function_id: parse_uuid(function_id)?,
        status,
        attempts: num(2).unwrap_or(0) as u32,
        failure_kind: field(3).map(str::to_string),
        created_at_ms: num(4).unwrap_or(0),
        started_at_ms: num(5),
        finished_at_ms: num(6),
        tenant: field(7).unwrap_or(DEFAULT_TENANT).to_string(),
        usage: field(8).and_then(parse_usage),
    }))
}

/// A task's `usage` field: run_us, peak memory, output bytes and log
/// bytes, then the executor's name, separated by spaces (a third of the
/// bytes of its JSON: it is kept with every finished task).
/// A task's `usage` as stored: `run peak output log executor`, space
/// separated, the executor's `dispatcher ID slot N` as `d:ID#N` (`worker`:
/// `w:`). Short, so that a small task's hash stays within Redis's
/// `hash-max-listpack-value` (64 bytes) and keeps its compact encoding:
/// one longer field turns the whole hash into a hash table, which costs
/// Redis about 2 us more per task.
fn usage_text(usage: &Usage) -> String {
    format!(
        "{} {} {} {} {}",
        usage.run_us,
        usage.peak_memory_bytes,
        usage.output_bytes,
        usage.log_bytes,
        short_executor(Report::kept_executor(usage))
    )
}

const EXECUTOR_KINDS: [(&str, &str); 2] = [("dispatcher ", "d:"), ("worker ", "w:")];

/// The short form, where it reads back as the same text (a worker's
/// part of the name is its own, and may hold anything); else as given.
fn short_executor(executor: &str) -> String {
    for (long, short) in EXECUTOR_KINDS {
        if let Some(rest) = executor.strip_prefix(long) {
            let shortened = match rest.rsplit_once(" slot ") {
                Some((id, slot)) => format!("{short}{id}#{slot}"),
                None => format!("{short}{rest}"),
            };
            if long_executor(&shortened) == executor {
                return shortened;
            }
        }
    }
    executor.to_string()
}

fn long_executor(stored: &str) -> String {
    for (long, short) in EXECUTOR_KINDS {
        if let Some(rest) = stored.strip_prefix(short) {
            return match rest.rsplit_once('#') {
                Some((id, slot)) => format!("{long}{id} slot {slot}"),
                None => format!("{long}{rest}"),
            };
        }
    }
    // Written before the short form, or by no dispatcher of ours.
    stored.to_string()
}

/// `usage_text` read back; None if it is not that.
fn parse_usage(text: &str) -> Option<Usage> {
    let mut parts = text.splitn(5, ' ');
    let mut num = || parts.next()?.parse::<u64>().ok();
    let (run_us, peak_memory_bytes, output_bytes, log_bytes) = (num()?, num()?, num()?, num()?);
    Some(Usage {
        run_us,
        peak_memory_bytes,
        output_bytes,
        log_bytes,
        executor: long_executor(parts.next().unwrap_or("")),
    })
}

fn parse_task(id: TaskId, map: &HashMap<String, String>) -> StoreResult<TaskRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("task {id}: {what}"));
    let num = |k: &str| map.get(k).and_then(|v| v.parse::<u64>().ok());
    let status = parse_status(id, map.get("status").map_or("", String::as_str))?;
    Ok(TaskRecord {
        id,
        function_id: parse_uuid(
            map.get("function_id")
                .ok_or_else(|| corrupt("no function_id"))?,
        )?,
        payload: map
            .get("payload")
            .map(|p| serde_json::from_str(p))
            .transpose()
            .map_err(|e| corrupt(&format!("payload: {e}")))?
            .unwrap_or(Value::Null),
        status,
        result: map
            .get("result")
            .map(|r| serde_json::from_str(r))
            .transpose()
            .map_err(|e| corrupt(&format!("result: {e}")))?
            .unwrap_or(Value::Null),
        failure_kind: map.get("failure_kind").cloned(),
        attempts: num("attempts").unwrap_or(0) as u32,
        created_at_ms: num("created_at").unwrap_or(0),
        started_at_ms: num("started_at"),
        finished_at_ms: num("finished_at"),
        tenant: map
            .get("tenant")
            .cloned()
            .unwrap_or_else(|| DEFAULT_TENANT.to_string()),
        logs: map.get("logs").cloned().unwrap_or_default(),
        usage: map.get("usage").and_then(|u| parse_usage(u)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_stored_short_and_read_back_whole() {
        for executor in [
            "dispatcher local-6ad70400c2c1 slot 1",
            "worker w-1f2e slot 12",
            "worker w-1f2e",
            "something else",
            "worker w-1 a#b",
            "worker w-1 slot 2#3",
            "",
        ] {
            let usage = Usage {
                run_us: 183,
                peak_memory_bytes: 131_072,
                output_bytes: 7,
                log_bytes: 11,
                executor: executor.into(),
            };
            assert_eq!(parse_usage(&usage_text(&usage)), Some(usage));
        }
        let local = Usage {
            run_us: 1_234_567,
            peak_memory_bytes: 1_048_576,
            output_bytes: 20_000,
            log_bytes: 65_536,
            executor: "dispatcher local-6ad70400c2c1 slot 15".into(),
        };
        assert!(usage_text(&local).len() <= 64, "{}", usage_text(&local));
        // As the previous version wrote it.
        assert_eq!(
            parse_usage("5 6 7 8 dispatcher local-x slot 0").map(|u| u.executor),
            Some("dispatcher local-x slot 0".into())
        );
    }

    #[test]
    fn a_done_line_carries_the_outcome_or_only_the_id() {
        let id = Uuid::new_v4();
        let (got, outcome) =
            parse_done_line(&format!("{id} COMPLETED @t1 {{\"a\": [1, \"x y\"]}}")).unwrap();
        assert_eq!(got, id);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.status, TaskStatus::Completed);
        assert_eq!(outcome.result, serde_json::json!({"a": [1, "x y"]}));
        assert_eq!(outcome.tenant, "t1");
        // A line without the tenant (an older dispatcher): read it.
        assert_eq!(
            parse_done_line(&format!("{id} COMPLETED 5")),
            Some((id, None))
        );
        assert_eq!(
            parse_done_line(&format!("{id} FAILED @default \"worker lost 3 times\""))
                .unwrap()
                .1
                .unwrap()
                .result,
            serde_json::json!("worker lost 3 times")
        );
        // Too large to announce, or unreadable: wake the waiter to read it.
        assert_eq!(parse_done_line(&id.to_string()), Some((id, None)));
        assert_eq!(
            parse_done_line(&format!("{id} COMPLETED @t {{broken")),
            Some((id, None))
        );
        assert_eq!(
            parse_done_line(&format!("{id} RUNNING @t null")),
            Some((id, None))
        );
        assert_eq!(parse_done_line("not-a-uuid COMPLETED null"), None);
    }
}
