//! The web dashboard: `GET /stats` (what the platform did, second by
//! second, and what it holds now) and the page at `/ui` that draws it
//! with the rest of the API. The page's files are compiled in (no CDN:
//! it works offline) and hold no data: they are served without a key,
//! and the page calls the API with the key its user gives it, so it
//! shows what that key may see.

use crate::api::{whole_param, Above, Params};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use faas_contract::{Stats, StatsQuery, STATS_RETENTION_SECONDS};

/// The seconds `GET /stats` returns when not told.
const DEFAULT_STATS_SECONDS: u64 = 300;

/// What the platform did, second by second
///
/// Tasks submitted, completed and failed, and ended tasks by end-to-end
/// latency, for each of the last `seconds` (default 300, at most 900),
/// counted by the store for every server and dispatcher on it; and the
/// tasks queued and running now. Needs an admin key (it counts every
/// tenant's tasks).
#[utoipa::path(
    get,
    path = "/stats",
    params(StatsQuery),
    responses(
        (status = 200, description = "The counts", body = Stats),
        (status = 400, description = "A bad parameter", body = faas_contract::ErrorBody),
        (status = 403, description = "Not an admin key", body = faas_contract::ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Params,
) -> Result<Json<Stats>, ApiError> {
    caller.require_admin()?;
    let range = (1, STATS_RETENTION_SECONDS);
    let seconds = whole_param(&params, "seconds", range, Above::Refused)?;
    let seconds = seconds.unwrap_or(DEFAULT_STATS_SECONDS);
    Ok(Json(state.store.stats(seconds).await?))
}

/// The page's files: name, content type, text.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("ui/app.css"),
    ),
];

/// The web dashboard
///
/// Live throughput, latency, queue, workers, functions and tasks. The
/// page needs no key; it asks for one and calls the API with it.
#[utoipa::path(
    get,
    path = "/ui",
    responses((status = 200, description = "The page", body = String, content_type = "text/html"))
)]
pub async fn dashboard() -> Response {
    served("text/html; charset=utf-8", include_str!("ui/index.html"))
}

/// A file of the web dashboard
#[utoipa::path(
    get,
    path = "/ui/{asset}",
    params(("asset" = String, Path, description = "The file's name, e.g. app.js")),
    responses(
        (status = 200, description = "The file", body = String, content_type = "text/plain"),
        (status = 404, description = "No such file", body = faas_contract::ErrorBody),
    )
)]
pub async fn dashboard_asset(Path(asset): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, text) = ASSETS
        .iter()
        .find(|(name, ..)| *name == asset)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such file of the dashboard"))?;
    Ok(served(content_type, text))
}

/// A file of the page, with headers that keep it to this server: it runs
/// only its own scripts and talks only to this origin.
fn served(content_type: &'static str, text: &'static str) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
