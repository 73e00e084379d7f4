//! `GET /metrics` (Prometheus' text format; an admin key when keys are on,
//! since it names functions of every tenant) and the middleware that
//! counts every request by route and status.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// The server's metrics (and, in `faas up`, its dispatcher's)
///
/// Prometheus' text exposition format. Needs an admin key (it names
/// every tenant's functions).
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 403, description = "Not an admin key", body = faas_contract::ErrorBody),
    )
)]
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_admin()?;
    // Read now: a gauge of what the store holds.
    if let Ok(depth) = state.store.queue_depth().await {
        state.counters.queue_depth.set(depth as i64);
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.encode(),
    )
        .into_response())
}

/// Counts each request by its route's pattern (not its path: ids would
/// make a label per task), method and status, and times it. The pattern
/// reads `/result/:task_id`: braces in a label value trip some parsers.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| {
            p.as_str().replace('{', ":").replace('}', "")
        });
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let counters = &state.counters;
    counters
        .http_seconds
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    counters
        .http_requests
        .with_label_values(&[&route, method.as_str(), response.status().as_str()])
        .inc();
    response
}
