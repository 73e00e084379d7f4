//! The OpenAPI document, the browsable `/docs` page (self-contained: no CDN),
//! and JSON answers for unknown routes and methods.

use crate::error::ApiError;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};

const OPENAPI: &str = include_str!("openapi.json");
const PAGE: &str = include_str!("docs.html");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see /docs")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint; see /docs",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_document_is_valid_json() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.0.3");
        for path in [
            "/register_function",
            "/execute_function",
            "/status/{task_id}",
            "/result/{task_id}",
            "/functions",
            "/tasks",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
    }
}
