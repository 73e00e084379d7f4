//! `ApiJson<T>`: a JSON body extractor whose rejections follow the API's
//! error format: malformed JSON is 400, a missing or mistyped field is 422,
//! a body over the cap is 413, a body that does not arrive within the
//! body-read timeout is 408. The content type is not required; the body is
//! parsed once, straight into its type.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

impl<T> FromRequest<AppState> for ApiJson<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // Refuse a declared oversize body before reading any of it.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > state.config.body_limit as u64) {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is too large",
            ));
        }
        // The body must arrive within the body-read timeout: hyper's
        // header-read timeout ends with the headers, and a client that
        // trickles its body would otherwise hold the request forever.
        let read = Bytes::from_request(req, state);
        let bytes = match tokio::time::timeout(state.config.body_read_timeout, read).await {
            Ok(read) => read.map_err(|rejection| {
                let status = rejection.status();
                let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "request body is too large".to_string()
                } else {
                    rejection.body_text()
                };
                ApiError::new(status, detail)
            })?,
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        state.config.body_read_timeout.as_secs_f64()
                    ),
                ))
            }
        };
        parse(&bytes).map(ApiJson)
    }
}

/// Parses `bytes` straight into `T`, once (a `Value` first would hold the
/// body twice: a 32 MiB array of numbers is about half a GiB as a `Value`).
/// Syntax errors are 400 and shape errors 422, as if syntax were checked
/// first: a shape error found before the end of a body that turns out
/// malformed later (say `{"name": 5, ` cut short) is still a 400.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    let syntax =
        |e: serde_json::Error| ApiError::bad_request(format!("invalid JSON in request body: {e}"));
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(e) if e.classify() == Category::Data => {
            // Only on this error path: check the rest of the syntax
            // without building anything.
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(syntax)?;
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid request body: {e}"),
            ))
        }
        Err(e) => Err(syntax(e)),
    }
}
