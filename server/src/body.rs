//! `ApiJson<T>`: a JSON body extractor whose rejections follow the API's
//! error format: malformed JSON is 400, a missing or mistyped field is 422,
//! a body over the cap is 413. The content type is not required.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "request body is too large".to_string()
            } else {
                rejection.body_text()
            };
            ApiError::new(status, detail)
        })?;
        // Syntax first (400), then shape (422): a truncated body must not be
        // reported as a missing field.
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON in request body: {e}")))?;
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid request body: {e}")))
    }
}
