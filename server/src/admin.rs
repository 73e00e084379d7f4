//! Managing access: API keys (create, list, revoke) and tenants' limits,
//! for admin keys; and `GET /whoami`, which tells any caller who its key
//! says it is.

use crate::auth::{id_from_prefix, key_prefix, mint, Caller};
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use faas_store::{valid_tenant, ApiKey, LimitOverrides, TenantInfo};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    tenant: String,
    #[serde(default)]
    admin: bool,
}

/// A key as listed: never its secret.
#[derive(Serialize)]
pub struct KeyRow {
    prefix: String,
    tenant: String,
    admin: bool,
    created_at_ms: u64,
    last_used_ms: Option<u64>,
}

impl From<ApiKey> for KeyRow {
    fn from(k: ApiKey) -> Self {
        KeyRow {
            prefix: key_prefix(&k.id),
            tenant: k.tenant,
            admin: k.admin,
            created_at_ms: k.created_at_ms,
            last_used_ms: k.last_used_ms,
        }
    }
}

fn check_tenant(name: &str) -> Result<(), ApiError> {
    if valid_tenant(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "a tenant name is 1 to 64 letters, digits, `.`, `_` or `-`, got {name:?}"
        )))
    }
}

/// `POST /keys`: a new key for a tenant; the only time its token is shown.
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin()?;
    check_tenant(&req.tenant)?;
    let key = mint(&req.tenant, req.admin)?;
    state.store.put_key(&key.record, false).await?;
    tracing::info!(
        key = %key_prefix(&key.record.id),
        tenant = %req.tenant,
        admin = req.admin,
        "API key created"
    );
    let row = KeyRow::from(key.record);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "key": key.token,
            "prefix": row.prefix,
            "tenant": row.tenant,
            "admin": row.admin,
            "created_at_ms": row.created_at_ms,
        })),
    ))
}

/// `GET /keys`: every key, oldest first.
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let keys: Vec<KeyRow> = state
        .store
        .api_keys()
        .await?
        .into_iter()
        .map(KeyRow::from)
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

/// `DELETE /keys/{prefix}`: the key stops working on every server before
/// this answers.
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(prefix): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let id = id_from_prefix(&prefix);
    if !state.store.revoke_key(id).await? {
        return Err(ApiError::not_found(format!("no key {prefix}")));
    }
    tracing::info!(key = %key_prefix(id), "API key revoked");
    Ok(Json(json!({ "revoked": key_prefix(id) })))
}

/// `GET /tenants/{tenant}`: its limits and usage (an admin, or the tenant
/// itself).
pub async fn tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<TenantInfo>, ApiError> {
    check_tenant(&tenant)?;
    if !caller.scope().allows(&tenant) {
        return Err(ApiError::not_found(format!("tenant {tenant} not found")));
    }
    Ok(Json(state.store.tenant(&tenant).await?))
}

/// `PUT /tenants/{tenant}/limits`: sets the limits given; the others keep
/// their values.
pub async fn set_limits(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    ApiJson(limits): ApiJson<LimitOverrides>,
) -> Result<Json<TenantInfo>, ApiError> {
    caller.require_admin()?;
    check_tenant(&tenant)?;
    let info = state.store.set_limits(&tenant, &limits).await?;
    tracing::info!(tenant = %tenant, limits = ?info.limits, "tenant limits set");
    Ok(Json(info))
}

/// `GET /whoami`: the tenant the caller's key acts for, and whether it is
/// an admin key.
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> Json<Value> {
    Json(json!({
        "tenant": &*caller.tenant,
        "admin": caller.admin,
        "auth": state.auth.enabled(),
    }))
}
