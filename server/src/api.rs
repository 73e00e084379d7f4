//! The REST handlers: register a function, execute it, read a task's status
//! and result (with long poll), list functions and recent tasks. Bad input
//! is rejected here, before anything is stored.

use crate::auth::Caller;
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::openapi::{BadRequest, NotFound, TooLarge, TooMany};
use crate::traces::Submission;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use faas_contract::{
    BatchRequest, BatchResponse, ExecuteRequest, ExecuteResponse, Function, FunctionDeleted,
    FunctionList, FunctionQuery, FunctionRow, Health, RegisterRequest, RegisterResponse,
    ResultList, ResultQuery, ResultRow, ResultsRequest, StatusResponse, Task, TaskList, TaskLogs,
    TaskQuery, TaskResult, TaskRow, TaskStatus, WorkerList, DEFAULT_LIST_LIMIT, MAX_BATCH,
    MAX_LIST_LIMIT,
};
use faas_runtime::Convention;
use faas_store::{now_ms, FunctionRecord, StoreError, TaskRecord, TaskSummary};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// What an execute needs of a function: its name (for messages), its
/// signature, and the tenant that owns it.
#[derive(Clone)]
struct Signature {
    name: String,
    convention: Convention,
    tenant: String,
}

/// Function id -> its `Signature`, filled on first use. Bounded: past
/// `CAPACITY` entries it starts over.
#[derive(Default)]
pub struct SignatureCache(Mutex<HashMap<Uuid, Signature>>);

impl SignatureCache {
    const CAPACITY: usize = 100_000;

    fn get(&self, id: Uuid) -> Option<Signature> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    fn forget(&self, id: Uuid) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn put(&self, id: Uuid, signature: Signature) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(id, signature);
    }
}

/// Registers a function
///
/// Compiles and checks the module (never runs it) and stores it; the
/// answer is the id to execute it by.
#[utoipa::path(
    post,
    path = "/register_function",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = RegisterResponse),
        BadRequest,
        TooMany,
    )
)]
pub async fn register_function(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request("`name` must not be empty"));
    }
    let bytes = decode_base64(&req.payload)?;
    let runtime = state.runtime.clone();
    let name = req.name.clone();
    let entry = req.entry.clone();
    // Compiling can take a while (and is capped): keep it off the async threads.
    let (function, binary) = tokio::task::spawn_blocking(move || {
        let binary = runtime.binary(&bytes)?.into_owned();
        let function = runtime.load(&binary, &name, entry.as_deref())?;
        Ok::<_, faas_runtime::LoadError>((function, binary))
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("compile task failed: {e}"),
        )
    })?
    .map_err(|e| ApiError::bad_request(e.to_string()))?;

    let record = FunctionRecord {
        id: Uuid::new_v4(),
        name: req.name,
        entry: function.entry().to_string(),
        convention: serde_json::to_value(function.convention())
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
        module_hash: function.hash_hex(),
        module_size: binary.len() as u64,
        created_at_ms: now_ms(),
        tenant: caller.tenant.to_string(),
        invocations: 0,
        failures: 0,
    };
    state.store.put_function(&record, &binary).await?;
    state.signatures.put(
        record.id,
        Signature {
            name: record.name.clone(),
            convention: function.convention().clone(),
            tenant: record.tenant.clone(),
        },
    );
    tracing::debug!(function = %record.id, name = %record.name, entry = %record.entry, "registered");
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            function_id: record.id,
        }),
    ))
}

fn decode_base64(text: &str) -> Result<Vec<u8>, ApiError> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let trimmed = text.trim();
    STANDARD
        .decode(trimmed)
        .or_else(|_| URL_SAFE.decode(trimmed))
        .map_err(|e| ApiError::bad_request(format!("`payload` is not valid base64: {e}")))
}

/// Submits a task
///
/// Checks the payload against the function's signature and queues one
/// task; the answer is its id.
#[utoipa::path(
    post,
    path = "/execute_function",
    request_body = ExecuteRequest,
    responses(
        (status = 201, description = "Queued", body = ExecuteResponse),
        BadRequest,
        NotFound,
        TooMany,
    )
)]
pub async fn execute_function(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> Result<(StatusCode, Json<ExecuteResponse>), ApiError> {
    let mut traced = Submission::start();
    let (function_id, signature) = signature(&state, &req.function_id, &caller).await?;
    signature
        .convention
        .parse_args(&req.payload)
        .map_err(|e| ApiError::bad_request(format!("{}: {e}", signature.name)))?;
    let ttl = retention(req.ttl)?;
    let task_id = Uuid::new_v4();
    if let Some(t) = &mut traced {
        t.stored_from = SystemTime::now();
    }
    let submitted = state
        .store
        .submit(&caller.tenant, task_id, function_id, &req.payload, ttl)
        .await;
    submitted.map_err(|e| submit_failure(&state, e))?;
    state.counters.submitted(function_id, 1);
    if let Some(t) = traced {
        t.stored(std::iter::once(task_id), function_id, &caller.tenant);
    }
    Ok((StatusCode::CREATED, Json(ExecuteResponse { task_id })))
}

/// A submission's store error; a function deleted since its signature
/// was cached is dropped from the cache.
fn submit_failure(state: &AppState, e: StoreError) -> ApiError {
    if let StoreError::NoFunction(id) = e {
        state.signatures.forget(id);
    }
    e.into()
}

/// A submission's `ttl`: seconds from 0 (the store cuts it to the
/// deployment's maximum); None if it gives none.
fn retention(ttl: Option<f64>) -> Result<Option<Duration>, ApiError> {
    ttl.map(|seconds| {
        // Cut before it becomes a duration: any size is valid, as the
        // store caps it anyway.
        let cut = seconds.min(MAX_TTL.as_secs_f64());
        Duration::try_from_secs_f64(cut).map_err(|_| {
            ApiError::bad_request(format!(
                "`ttl` must be a number of seconds from 0, got {seconds}"
            ))
        })
    })
    .transpose()
}

/// Above any deployment's `--max-result-ttl`: a longer `ttl` is cut to it
/// here, then to the deployment's maximum by the store.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A function's id and signature, from the cache or the store; 404 if
/// there is no such function, or the caller may not see it.
async fn signature(
    state: &AppState,
    text: &str,
    caller: &Caller,
) -> Result<(Uuid, Signature), ApiError> {
    let not_found = || ApiError::not_found(format!("function {text} not found"));
    let function_id = Uuid::parse_str(text.trim()).map_err(|_| not_found())?;
    let signature = match state.signatures.get(function_id) {
        Some(signature) => signature,
        None => {
            let function = state
                .store
                .function(function_id)
                .await?
                .ok_or_else(not_found)?;
            let convention: Convention = serde_json::from_value(function.convention.clone())
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("function {function_id} has an unreadable signature: {e}"),
                    )
                })?;
            let signature = Signature {
                name: function.name,
                convention,
                tenant: function.tenant,
            };
            state.signatures.put(function_id, signature.clone());
            signature
        }
    };
    if !caller.scope().allows(&signature.tenant) {
        return Err(not_found());
    }
    Ok((function_id, signature))
}

/// Submits many tasks of one function
///
/// Every payload is checked first, and one bad payload rejects the whole
/// batch: all are queued or none (at most 10,000).
#[utoipa::path(
    post,
    path = "/execute_batch",
    request_body = BatchRequest,
    responses(
        (status = 201, description = "All queued, ids in the payloads' order", body = BatchResponse),
        BadRequest,
        NotFound,
        TooLarge,
        TooMany,
    )
)]
pub async fn execute_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<BatchRequest>,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let mut traced = Submission::start();
    if req.payloads.is_empty() {
        return Err(ApiError::bad_request("`payloads` must not be empty"));
    }
    if req.payloads.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "at most {MAX_BATCH} payloads per batch, got {}; split it",
                req.payloads.len()
            ),
        ));
    }
    let ttl = retention(req.ttl)?;
    let (function_id, signature) = signature(&state, &req.function_id, &caller).await?;
    for (index, payload) in req.payloads.iter().enumerate() {
        signature
            .convention
            .parse_args(payload)
            .map_err(|e| ApiError {
                payload_index: Some(index),
                ..ApiError::bad_request(format!("payloads[{index}]: {}: {e}", signature.name))
            })?;
    }
    let tasks: Vec<(Uuid, Value)> = req
        .payloads
        .into_iter()
        .map(|p| (Uuid::new_v4(), p))
        .collect();
    if let Some(t) = &mut traced {
        t.stored_from = SystemTime::now();
    }
    let submitted = state
        .store
        .submit_many(&caller.tenant, function_id, &tasks, ttl)
        .await;
    submitted.map_err(|e| submit_failure(&state, e))?;
    state.counters.submitted(function_id, tasks.len() as u64);
    if let Some(t) = traced {
        t.stored(tasks.iter().map(|(id, _)| *id), function_id, &caller.tenant);
    }
    let task_ids = tasks.into_iter().map(|(id, _)| id).collect();
    Ok((StatusCode::CREATED, Json(BatchResponse { task_ids })))
}

/// Many tasks' results
///
/// In order, each as `GET /result/{task_id}` shows it; an unknown id gets
/// `"error": "unknown task"` in its place. With `wait`, holds until every
/// task has ended or the wait runs out (at most 10,000 ids).
#[utoipa::path(
    post,
    path = "/results",
    request_body = ResultsRequest,
    responses(
        (status = 200, description = "One row per id, in order", body = ResultList),
        BadRequest,
        TooLarge,
    )
)]
pub async fn results(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ResultsRequest>,
) -> Result<Json<ResultList>, ApiError> {
    let (parsed, known) = task_ids(&req.task_ids)?;
    let wait = match req.wait {
        None => Duration::ZERO,
        Some(w) => wait_time(w, state.config.max_wait)
            .ok_or_else(|| ApiError::bad_request(format!("{WAIT_RULE}, got {w}")))?,
    };
    let scope = caller.scope();
    let outcomes = if wait > Duration::ZERO {
        state.store.wait_outcomes_many(&known, wait, scope).await?
    } else {
        state.store.outcomes_many(&known, scope).await?
    };
    let mut outcomes = outcomes.into_iter();
    let results = req
        .task_ids
        .iter()
        .zip(&parsed)
        .map(
            |(text, id)| match id.zip(id.and_then(|_| outcomes.next().flatten())) {
                Some((id, task)) => ResultRow::known(id, task.status, task.result),
                None => ResultRow::unknown(text),
            },
        )
        .collect();
    Ok(Json(ResultList { results }))
}

/// Task ids as a request lists them (at most [`MAX_BATCH`], else 413):
/// each parsed (None: not an id, so unknown), and the ids among them.
pub(crate) fn task_ids(asked: &[String]) -> Result<(Vec<Option<Uuid>>, Vec<Uuid>), ApiError> {
    if asked.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "at most {MAX_BATCH} task ids per request, got {}; split it",
                asked.len()
            ),
        ));
    }
    let parsed: Vec<Option<Uuid>> = asked
        .iter()
        .map(|t| Uuid::parse_str(t.trim()).ok())
        .collect();
    let known = parsed.iter().flatten().copied().collect();
    Ok((parsed, known))
}

/// What `wait` must be, for error messages.
const WAIT_RULE: &str = "`wait` must be a number of seconds from 0";

/// A requested wait of `seconds`, cut to `max`; None unless it is a
/// number from 0 (any size: it is cut before it becomes a duration).
fn wait_time(seconds: f64, max: Duration) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(max.as_secs_f64())))
}

fn parse_task_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| ApiError::not_found(format!("task {text} not found")))
}

async fn find_task(state: &AppState, text: &str, caller: &Caller) -> Result<TaskRecord, ApiError> {
    let id = parse_task_id(text)?;
    state
        .store
        .task(id, caller.scope())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {text} not found")))
}

/// A task's status
#[utoipa::path(
    get,
    path = "/status/{task_id}",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "Its status", body = StatusResponse),
        NotFound,
    )
)]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> Result<Json<StatusResponse>, ApiError> {
    let id = parse_task_id(&task_id)?;
    let status = state
        .store
        .statuses_many(&[id], caller.scope())
        .await?
        .pop()
        .flatten();
    let status = status.ok_or_else(|| ApiError::not_found(format!("task {task_id} not found")))?;
    Ok(Json(StatusResponse {
        task_id: id,
        status,
    }))
}

/// A task's status and result
///
/// The result is null until the task ends. With `wait`, holds the request
/// until the task ends or the wait runs out (long poll).
#[utoipa::path(
    get,
    path = "/result/{task_id}",
    params(("task_id" = String, Path, description = "The task's id"), ResultQuery),
    responses(
        (status = 200, description = "Its status and result", body = TaskResult),
        BadRequest,
        NotFound,
    )
)]
pub async fn result(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
    Query(params): Params,
) -> Result<Json<TaskResult>, ApiError> {
    let wait = match param(&params, "wait") {
        None | Some("") => Duration::ZERO,
        Some(text) => text
            .parse::<f64>()
            .ok()
            .and_then(|w| wait_time(w, state.config.max_wait))
            .ok_or_else(|| ApiError::bad_request(format!("{WAIT_RULE}, got {text:?}")))?,
    };
    let id = parse_task_id(&task_id)?;
    // Status and result only: a long poll usually gets them straight from
    // the completion notification, without reading the task.
    let scope = caller.scope();
    let outcome = if wait > Duration::ZERO {
        state.store.wait_outcome(id, wait, scope).await?
    } else {
        state
            .store
            .outcomes_many(&[id], scope)
            .await?
            .pop()
            .flatten()
    };
    let task = outcome.ok_or_else(|| ApiError::not_found(format!("task {task_id} not found")))?;
    Ok(Json(TaskResult {
        task_id: id,
        status: task.status,
        result: task.result,
    }))
}

/// A task's whole record
///
/// Payload, result, attempts and timestamps included.
#[utoipa::path(
    get,
    path = "/tasks/{task_id}",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = Task),
        NotFound,
    )
)]
pub async fn task(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(task_of(find_task(&state, &task_id, &caller).await?)))
}

/// A task's log
///
/// What the guest wrote to stderr (and to stdout, unless stdout is its
/// result) in the attempt that ended the task: the last 64 KiB at most.
/// Empty while the task is queued or running.
#[utoipa::path(
    get,
    path = "/tasks/{task_id}/logs",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task's log", body = TaskLogs),
        NotFound,
    )
)]
pub async fn task_logs(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> Result<Json<TaskLogs>, ApiError> {
    let t = find_task(&state, &task_id, &caller).await?;
    let dropped_bytes = t
        .usage
        .as_ref()
        .map_or(0, |u| u.log_bytes.saturating_sub(t.logs.len() as u64));
    Ok(Json(TaskLogs {
        task_id: t.id,
        status: t.status,
        logs: t.logs,
        dropped_bytes,
    }))
}

/// Milliseconds from a task's submission to the start of its latest attempt.
fn queue_wait_ms(created_at_ms: u64, started_at_ms: Option<u64>) -> Option<u64> {
    started_at_ms.map(|started| started.saturating_sub(created_at_ms))
}

fn task_of(t: TaskRecord) -> Task {
    Task {
        queue_wait_ms: queue_wait_ms(t.created_at_ms, t.started_at_ms),
        usage: t.usage,
        id: t.id,
        function_id: t.function_id,
        payload: t.payload,
        status: t.status,
        result: t.result,
        failure_kind: t.failure_kind,
        attempts: t.attempts,
        created_at_ms: t.created_at_ms,
        started_at_ms: t.started_at_ms,
        finished_at_ms: t.finished_at_ms,
        tenant: t.tenant,
    }
}

/// A function's record
///
/// Without its module bytes.
#[utoipa::path(
    get,
    path = "/functions/{function_id}",
    params(("function_id" = String, Path, description = "The function's id")),
    responses(
        (status = 200, description = "The function", body = Function),
        NotFound,
    )
)]
pub async fn function(
    State(state): State<AppState>,
    caller: Caller,
    Path(function_id): Path<String>,
) -> Result<Json<Function>, ApiError> {
    let not_found = || ApiError::not_found(format!("function {function_id} not found"));
    let id = Uuid::parse_str(function_id.trim()).map_err(|_| not_found())?;
    let record = state.store.function(id).await?;
    let record = record.filter(|f| caller.scope().allows(&f.tenant));
    Ok(Json(function_of(record.ok_or_else(not_found)?)))
}

/// Deletes a function
///
/// Its tasks already running finish; its queued tasks end FAILED with
/// failure kind `missing_function`, and new submissions to it get 404.
/// Its module is deleted with the last function that uses it.
#[utoipa::path(
    delete,
    path = "/functions/{function_id}",
    params(("function_id" = String, Path, description = "The function's id")),
    responses(
        (status = 200, description = "Deleted", body = FunctionDeleted),
        NotFound,
    )
)]
pub async fn delete_function(
    State(state): State<AppState>,
    caller: Caller,
    Path(function_id): Path<String>,
) -> Result<Json<FunctionDeleted>, ApiError> {
    let not_found = || ApiError::not_found(format!("function {function_id} not found"));
    let id = Uuid::parse_str(function_id.trim()).map_err(|_| not_found())?;
    state.signatures.forget(id);
    if !state.store.delete_function(id, caller.scope()).await? {
        return Err(not_found());
    }
    tracing::info!(function = %id, tenant = %caller.tenant, "function deleted");
    Ok(Json(FunctionDeleted { deleted: id }))
}

fn function_of(f: FunctionRecord) -> Function {
    Function {
        id: f.id,
        name: f.name,
        entry: f.entry,
        convention: f.convention,
        module_hash: f.module_hash,
        module_size: f.module_size,
        created_at_ms: f.created_at_ms,
        tenant: f.tenant,
    }
}

/// Query parameters as pairs: unknown ones are ignored, a repeated one takes
/// its last value, and nothing here can be rejected outside the API's
/// error format.
pub(crate) type Params = Query<Vec<(String, String)>>;

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
}

/// Whether a whole-number parameter above its highest is cut to it or refused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Above {
    Cut,
    Refused,
}

/// The whole number `name` gives, from `lowest` to `highest` (None when
/// absent or empty); anything else is a 400 that says so.
pub(crate) fn whole_param(
    params: &[(String, String)],
    name: &str,
    (lowest, highest): (u64, u64),
    above: Above,
) -> Result<Option<u64>, ApiError> {
    let Some(text) = param(params, name).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(n) if n >= lowest && n <= highest => Ok(Some(n)),
        Ok(n) if n > highest && above == Above::Cut => Ok(Some(highest)),
        _ => Err(ApiError::bad_request(format!(
            "`{name}` must be a whole number from {lowest} to {highest}, got {text:?}"
        ))),
    }
}

/// `limit`: a whole number from 1; above `MAX_LIST_LIMIT` it is cut to it.
fn list_limit(params: &[(String, String)]) -> Result<usize, ApiError> {
    let limit = whole_param(params, "limit", (1, MAX_LIST_LIMIT as u64), Above::Cut)?;
    Ok(limit.map_or(DEFAULT_LIST_LIMIT, |n| n as usize))
}

/// Registered functions
///
/// Newest first; the caller's own (an admin's: everyone's).
#[utoipa::path(
    get,
    path = "/functions",
    params(FunctionQuery),
    responses(
        (status = 200, description = "The functions", body = FunctionList),
        BadRequest,
    )
)]
pub async fn functions(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Params,
) -> Result<Json<FunctionList>, ApiError> {
    let limit = list_limit(&params)?;
    let functions = state
        .store
        .functions(limit, caller.scope())
        .await?
        .into_iter()
        .map(|f| FunctionRow {
            function_id: f.id,
            name: f.name,
            entry: f.entry,
            module_hash: f.module_hash,
            module_size: f.module_size,
            created_at_ms: f.created_at_ms,
            kind: f.convention["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            tenant: f.tenant,
            invocations: f.invocations,
            failures: f.failures,
        })
        .collect();
    Ok(Json(FunctionList { functions }))
}

fn task_row(t: TaskSummary) -> TaskRow {
    TaskRow {
        queue_wait_ms: queue_wait_ms(t.created_at_ms, t.started_at_ms),
        usage: t.usage,
        task_id: t.id,
        function_id: t.function_id,
        status: t.status,
        attempts: t.attempts,
        failure_kind: t.failure_kind,
        created_at_ms: t.created_at_ms,
        started_at_ms: t.started_at_ms,
        finished_at_ms: t.finished_at_ms,
        tenant: t.tenant,
    }
}

/// Recent tasks
///
/// The most recently submitted tasks, newest first, optionally only those
/// in one `status`; the caller's own (an admin's: everyone's).
#[utoipa::path(
    get,
    path = "/tasks",
    params(TaskQuery),
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        BadRequest,
    )
)]
pub async fn tasks(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Params,
) -> Result<Json<TaskList>, ApiError> {
    let limit = list_limit(&params)?;
    let status = match param(&params, "status") {
        None | Some("") => None,
        Some(text) => Some(
            TaskStatus::parse(&text.to_ascii_uppercase()).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`status` must be one of QUEUED, RUNNING, COMPLETED, FAILED, got {text:?}"
                ))
            })?,
        ),
    };
    let tasks = state
        .store
        .recent_tasks(limit, status, caller.scope())
        .await?
        .into_iter()
        .map(task_row)
        .collect();
    Ok(Json(TaskList { tasks }))
}

/// Live workers
///
/// Of all dispatchers (push and pull modes), as they last reported them.
#[utoipa::path(
    get,
    path = "/workers",
    responses((status = 200, description = "The workers", body = WorkerList))
)]
pub async fn workers(State(state): State<AppState>) -> Result<Json<WorkerList>, ApiError> {
    let workers = state
        .store
        .workers()
        .await?
        .into_iter()
        // A row a dispatcher of another version wrote differently is left out.
        .filter_map(|row| serde_json::from_value(row).ok())
        .collect();
    Ok(Json(WorkerList { workers }))
}

/// Whether the server and its store are up
///
/// Needs no key.
#[utoipa::path(
    get,
    path = "/health",
    responses((status = 200, description = "Up, and the store answers", body = Health))
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await?;
    Ok(Json(Health {
        status: "ok".to_string(),
        store: state.store.describe(),
    }))
}
