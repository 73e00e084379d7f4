//! API errors: a status code and a `{"detail": "..."}` body a person can act
//! on, with `Retry-After` when waiting will help.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use faas_contract::ErrorBody;
use faas_store::StoreError;
use std::time::Duration;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// Sent as `Retry-After` (whole seconds, at least 1).
    pub retry_after: Option<Duration>,
    /// The refused payload of a batch, sent as `payload_index`.
    pub payload_index: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            retry_after: None,
            payload_index: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
}

/// A store failure is a 503: the request was fine, the store was not, and
/// the same request will work when it is back. A request over its
/// tenant's quota is a 429 naming the limit, and one to a function that
/// is gone a 404.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::OverQuota(over) => ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                detail: over.detail,
                retry_after: Some(over.retry_after),
                payload_index: None,
            },
            StoreError::NoFunction(id) => ApiError::not_found(format!("function {id} not found")),
            e => {
                tracing::warn!("store error: {e}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry later"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                detail: self.detail,
                payload_index: self.payload_index,
            }),
        )
            .into_response();
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
