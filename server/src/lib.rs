//! The REST API server: registers functions, accepts tasks, answers status
//! and results (with long poll), and serves its OpenAPI document and a
//! browsable page at `/docs`, and the web dashboard at `/ui`. Every other route needs an API key (unless
//! the server runs without authentication); a key acts for one tenant,
//! whose functions and tasks are all it sees, or is an admin key.
//!
//! It validates modules and arguments with the runtime (load and signature
//! only: it never runs a guest) before storing anything, and talks to the
//! store only. It must not run tasks or talk to workers.

mod admin;
mod api;
mod auth;
mod body;
mod cancel;
mod dashboard;
mod docs;
mod error;
mod metrics;
mod openapi;
mod serve;
pub mod tls;
mod traces;

pub use auth::{key_prefix, mint, Caller, NewKey, TOKEN_PREFIX};
pub use error::ApiError;
pub use serve::serve;
pub use tls::{server_config as tls_config, TlsError};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use faas_metrics::{Metrics, ServerMetrics};
use faas_runtime::Runtime;
use faas_store::Store;
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Server settings, each with a safe default.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body, in bytes (413 beyond); at least what a
    /// registration of the largest module accepted needs.
    pub body_limit: usize,
    /// A client must send its request headers within this time.
    pub header_read_timeout: Duration,
    /// A client must send a request's whole body within this time once
    /// its headers are in (408 beyond), so a trickled body cannot hold a
    /// request forever.
    pub body_read_timeout: Duration,
    /// Longest `?wait=` a result request may hold.
    pub max_wait: Duration,
    /// Whether requests need an API key (off only with `--no-auth`).
    pub auth: bool,
    /// Open connections at most; beyond it the server accepts no more
    /// until one closes (they wait in the kernel's listen backlog).
    pub max_connections: usize,
    /// Requests being handled at once at most (long polls included);
    /// beyond it a request is answered 503 with `Retry-After` at once.
    pub max_in_flight: usize,
    /// HTTPS: the certificate and key (`tls::server_config`); None for
    /// plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// A TLS client must finish its handshake within this time.
    pub tls_handshake_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 32 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            auth: true,
            // Generous: every long poll (up to 60 s) holds a connection
            // and a request, and the benchmark's clients keep theirs open.
            max_connections: 8192,
            max_in_flight: 4096,
            tls: None,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Used to validate and inspect modules; never to run them.
    pub runtime: Runtime,
    pub config: Arc<ServerConfig>,
    /// Signatures of functions seen: records never change once stored, so
    /// an execute need not read the store to check its arguments.
    pub(crate) signatures: Arc<api::SignatureCache>,
    pub(crate) auth: Arc<auth::Auth>,
    /// This process's metrics (`GET /metrics`); a dispatcher in the same
    /// process (`faas up`) registers its own here too.
    pub metrics: Metrics,
    pub(crate) counters: Arc<ServerMetrics>,
}

impl AppState {
    /// The body limit is raised, if need be, to fit a registration of the
    /// largest module the runtime accepts (base64: 4 bytes per 3).
    pub fn new(store: Store, runtime: Runtime, mut config: ServerConfig) -> Self {
        let registration = runtime.config().max_module_bytes / 3 * 4 + 1024 * 1024;
        config.body_limit = config.body_limit.max(registration);
        let metrics = Metrics::new();
        let counters = ServerMetrics::new(&metrics)
            .expect("a new registry has none of the server's metrics yet");
        AppState {
            metrics,
            counters: Arc::new(counters),
            store,
            runtime,
            auth: Arc::new(auth::Auth::new(config.auth)),
            config: Arc::new(config),
            signatures: Arc::default(),
        }
    }
}

/// Creates an admin key if the store has none at all (a first start) and
/// returns its token, to be shown once; None if keys exist already. The
/// server remembers it, to put it back should the store lose every key.
pub async fn bootstrap_admin_key(state: &AppState) -> Result<Option<String>, ApiError> {
    let key = mint(ADMIN_TENANT, true)?;
    if !state.store.put_key(&key.record, true).await? {
        return Ok(None);
    }
    state.auth.remember_first_key(key.record);
    Ok(Some(key.token))
}

/// The tenant of the admin key a server makes on its first start.
pub const ADMIN_TENANT: &str = "admin";

/// The routes that need an API key. Each handler's `#[utoipa::path]` gives
/// its path and method, so the router and the OpenAPI document are made
/// from this one list.
fn keyed_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::register_function))
        .routes(routes!(api::execute_function))
        .routes(routes!(api::execute_batch))
        .routes(routes!(api::results))
        .routes(routes!(api::status))
        .routes(routes!(api::result))
        .routes(routes!(api::tasks))
        .routes(routes!(api::task))
        .routes(routes!(api::task_logs))
        .routes(routes!(cancel::cancel))
        .routes(routes!(cancel::cancel_many))
        .routes(routes!(api::functions))
        .routes(routes!(api::function, api::delete_function))
        .routes(routes!(api::workers))
        .routes(routes!(admin::create_key, admin::list_keys))
        .routes(routes!(admin::revoke_key))
        .routes(routes!(admin::tenant))
        .routes(routes!(admin::set_limits))
        .routes(routes!(admin::whoami))
        .routes(routes!(metrics::metrics))
        .routes(routes!(dashboard::stats))
}

/// The routes anyone may call.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::health))
        .routes(routes!(docs::openapi))
        .routes(routes!(docs::page))
        .routes(routes!(dashboard::dashboard))
        .routes(routes!(dashboard::dashboard_asset))
}

/// The API's OpenAPI document (the one `/openapi.json` serves).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::document(
        keyed_routes().into_openapi(),
        public_routes().into_openapi(),
    )
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    // Only matched routes: an unknown path is a 404 with or without a key.
    let keyed = Router::from(keyed_routes()).route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    Router::new()
        .merge(keyed)
        .merge(Router::from(public_routes()))
        .fallback(docs::not_found)
        .method_not_allowed_fallback(docs::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .with_state(state)
}
