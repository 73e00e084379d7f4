//! Cancelling tasks: one (`POST /tasks/{task_id}/cancel`) or many
//! (`POST /tasks/cancel`). The store ends each queued or running task as
//! FAILED `"cancelled"` in one atomic step and tells the dispatchers to stop
//! the running ones (see `Store::cancel_many`).

use crate::api::task_ids;
use crate::auth::Caller;
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::openapi::{Conflict, NotFound, TooLarge};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use faas_contract::{CancelList, CancelRequest, CancelResponse, TaskStatus};
use faas_store::Cancelled;
use uuid::Uuid;

/// Cancel a task
///
/// A queued task never starts; a running one is stopped where it stands
/// (within one 5 ms epoch tick for a computing guest, at once for one
/// waiting in a host call), on a local slot or on a worker. Either way it
/// ends FAILED with result `"cancelled"` and failure kind `cancelled`, and
/// is never retried. 202 in the rare moment a dispatcher was claiming the
/// task: it ends the same way as soon as the claim lands.
#[utoipa::path(
    post,
    path = "/tasks/{task_id}/cancel",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "Cancelled: the task is FAILED as cancelled", body = CancelResponse),
        (status = 202, description = "Being claimed: it ends as cancelled within moments", body = CancelResponse),
        NotFound,
        Conflict,
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> Result<(StatusCode, Json<CancelResponse>), ApiError> {
    let missing = || ApiError::not_found(format!("task {task_id} not found"));
    let id = Uuid::parse_str(task_id.trim()).map_err(|_| missing())?;
    let found = state.store.cancel_many(&[id], caller.scope()).await?;
    let (code, status) = match found.first().copied().unwrap_or(Cancelled::Unknown) {
        Cancelled::Now => (StatusCode::OK, TaskStatus::Failed),
        Cancelled::Pending => (StatusCode::ACCEPTED, TaskStatus::Running),
        Cancelled::AlreadyEnded(status) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "task {id} already ended ({}): nothing to cancel",
                    status.as_str()
                ),
            ))
        }
        Cancelled::Unknown => return Err(missing()),
    };
    Ok((
        code,
        Json(CancelResponse {
            task_id: id,
            status,
        }),
    ))
}

/// Cancel many tasks
///
/// Each as `POST /tasks/{task_id}/cancel` would (at most 10,000 ids); the
/// answer sorts the ids into cancelled, already ended and unknown.
#[utoipa::path(
    post,
    path = "/tasks/cancel",
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Every id, by what became of it", body = CancelList),
        TooLarge,
    )
)]
pub async fn cancel_many(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CancelRequest>,
) -> Result<Json<CancelList>, ApiError> {
    let (parsed, ids) = task_ids(&req.task_ids)?;
    let mut found = state
        .store
        .cancel_many(&ids, caller.scope())
        .await?
        .into_iter();
    let mut answer = CancelList::default();
    for (text, id) in req.task_ids.iter().zip(parsed) {
        match id.map(|id| (id, found.next().unwrap_or(Cancelled::Unknown))) {
            Some((id, Cancelled::Now | Cancelled::Pending)) => answer.cancelled.push(id),
            Some((id, Cancelled::AlreadyEnded(_))) => answer.already_ended.push(id),
            Some((_, Cancelled::Unknown)) | None => answer.unknown.push(text.clone()),
        }
    }
    Ok(Json(answer))
}
