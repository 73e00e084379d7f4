//! Managing access: API keys (create, list, revoke) and tenants' limits,
//! for admin keys; and `GET /whoami`, which tells any caller who its key
//! says it is.

use crate::auth::{id_from_prefix, key_prefix, mint, Caller};
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::openapi::{BadRequest, Forbidden, NotFound};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use faas_contract::{
    CreateKeyRequest, KeyList, KeyRow, LimitOverrides, NewKey, Revoked, TenantInfo, WhoAmI,
};
use faas_store::{valid_tenant, ApiKey};

/// A key as listed: never its secret.
fn key_row(k: ApiKey) -> KeyRow {
    KeyRow {
        prefix: key_prefix(&k.id),
        tenant: k.tenant,
        admin: k.admin,
        created_at_ms: k.created_at_ms,
        last_used_ms: k.last_used_ms,
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

/// Creates an API key (admin)
///
/// A new key for a tenant; the answer is the only time its token is shown.
#[utoipa::path(
    post,
    path = "/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created", body = NewKey),
        BadRequest,
        Forbidden,
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
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
    let row = key_row(key.record);
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            key: key.token,
            prefix: row.prefix,
            tenant: row.tenant,
            admin: row.admin,
            created_at_ms: row.created_at_ms,
        }),
    ))
}

/// Lists API keys (admin)
///
/// Every key, oldest first, without its secret.
#[utoipa::path(
    get,
    path = "/keys",
    responses(
        (status = 200, description = "The keys", body = KeyList),
        Forbidden,
    )
)]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeyList>, ApiError> {
    caller.require_admin()?;
    let keys = state
        .store
        .api_keys()
        .await?
        .into_iter()
        .map(key_row)
        .collect();
    Ok(Json(KeyList { keys }))
}

/// Revokes an API key (admin)
///
/// The key stops working on every server before this answers.
#[utoipa::path(
    delete,
    path = "/keys/{prefix}",
    params(("prefix" = String, Path, description = "The key's prefix, `faas_<id>`")),
    responses(
        (status = 200, description = "Revoked", body = Revoked),
        Forbidden,
        NotFound,
    )
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(prefix): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    caller.require_admin()?;
    let id = id_from_prefix(&prefix);
    if !state.store.revoke_key(id).await? {
        return Err(ApiError::not_found(format!("no key {prefix}")));
    }
    tracing::info!(key = %key_prefix(id), "API key revoked");
    Ok(Json(Revoked {
        revoked: key_prefix(id),
    }))
}

/// A tenant's limits and usage
///
/// For an admin, or the tenant's own keys.
#[utoipa::path(
    get,
    path = "/tenants/{tenant}",
    params(("tenant" = String, Path, description = "The tenant's name")),
    responses(
        (status = 200, description = "Its limits and usage", body = TenantInfo),
        BadRequest,
        NotFound,
    )
)]
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

/// Sets a tenant's limits (admin)
///
/// Sets the limits given; the others keep their values.
#[utoipa::path(
    put,
    path = "/tenants/{tenant}/limits",
    params(("tenant" = String, Path, description = "The tenant's name")),
    request_body = LimitOverrides,
    responses(
        (status = 200, description = "Its limits and usage now", body = TenantInfo),
        BadRequest,
        Forbidden,
    )
)]
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

/// Who the caller's key says it is
///
/// The tenant it acts for, and whether it is an admin key.
#[utoipa::path(
    get,
    path = "/whoami",
    responses((status = 200, description = "The caller", body = WhoAmI))
)]
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        tenant: caller.tenant.to_string(),
        admin: caller.admin,
        auth: state.auth.enabled(),
    })
}
