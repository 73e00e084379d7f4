//! The OpenAPI document and the browsable `/docs` page built from it
//! (self-contained: no CDN), and JSON answers for unknown routes and
//! methods.

use crate::error::ApiError;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use std::sync::LazyLock;

const PAGE: &str = include_str!("docs.html");

/// The document as served, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    crate::openapi_document()
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// This API's OpenAPI document
///
/// Generated from the handlers and the contract's types.
#[utoipa::path(
    get,
    path = "/openapi.json",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json"))
)]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// A page to read and try the API
///
/// Built in the browser from /openapi.json; needs no network beyond the
/// server.
#[utoipa::path(
    get,
    path = "/docs",
    responses((status = 200, description = "The page", body = String, content_type = "text/html"))
)]
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
