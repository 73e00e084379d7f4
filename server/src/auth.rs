//! API keys on the REST API: the token format, minting a key, and the
//! layer that makes every request but `/health`, `/docs` and
//! `/openapi.json` show a valid key (`Authorization: Bearer <key>`), and
//! hands the handlers the [`Caller`] it belongs to.
//!
//! A token is `faas_<id>_<secret>`: `id` (12 hex digits) names the key in
//! listings and revocations, `secret` is 256 random bits. The store keeps
//! only the SHA-256 of the whole token; a presented token's hash is
//! compared with it in constant time.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use faas_store::{now_ms, ApiKey, Scope, DEFAULT_TENANT};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "faas_";

/// How often a server writes when its keys were last used.
const TOUCH_EVERY: Duration = Duration::from_secs(10);

/// Who makes a request: the tenant it acts for, and whether it may see
/// and manage everything.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Arc<str>,
    pub admin: bool,
}

impl Caller {
    /// What a server without authentication treats every request as.
    fn anonymous_admin() -> Caller {
        Caller {
            tenant: Arc::from(DEFAULT_TENANT),
            admin: true,
        }
    }

    /// What this caller may read: everything for an admin, else its own.
    pub fn scope(&self) -> Scope<'_> {
        if self.admin {
            Scope::All
        } else {
            Scope::Tenant(&self.tenant)
        }
    }

    /// 403 unless an admin key made the request.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this needs an admin key",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no caller: the route is outside the authentication layer",
            )
        })
    }
}

/// A key just made: the token (shown once) and what the store keeps.
pub struct NewKey {
    pub token: String,
    pub record: ApiKey,
}

/// The public name of a key in listings: `faas_<id>`.
pub fn key_prefix(id: &str) -> String {
    format!("{TOKEN_PREFIX}{id}")
}

/// A new random key for `tenant`.
pub fn mint(tenant: &str, admin: bool) -> Result<NewKey, ApiError> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no randomness for a new key: {e}"),
            )
        })?;
    let id = hex::encode(id);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let token = format!("{TOKEN_PREFIX}{id}_{secret}");
    let record = ApiKey {
        hash: hash(&token),
        id,
        tenant: tenant.to_string(),
        admin,
        created_at_ms: now_ms(),
        last_used_ms: None,
    };
    Ok(NewKey { token, record })
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The key id a token names, if it has the token's shape.
fn token_id(token: &str) -> Option<&str> {
    let (id, secret) = token.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some(id)
}

/// The key id named by what a person typed: `faas_<id>`, `<id>`, or a
/// whole token.
pub fn id_from_prefix(text: &str) -> &str {
    let text = text.trim();
    let rest = text.strip_prefix(TOKEN_PREFIX).unwrap_or(text);
    rest.split('_').next().unwrap_or(rest)
}

/// The server's side of authentication: on or off, when keys were last
/// used (written to the store every `TOUCH_EVERY`), and the admin key this
/// server made on its first start, if it did.
pub struct Auth {
    enabled: bool,
    used: Mutex<Used>,
    first_key: Mutex<Option<FirstKey>>,
}

/// The first admin key's record, put back if the store loses every key
/// (a Redis restarted without persistence), at most every `RESTORE_EVERY`.
struct FirstKey {
    record: ApiKey,
    tried: Option<Instant>,
}

const RESTORE_EVERY: Duration = Duration::from_secs(1);

struct Used {
    since: Instant,
    keys: HashMap<String, u64>,
}

impl Auth {
    pub fn new(enabled: bool) -> Auth {
        Auth {
            enabled,
            used: Mutex::new(Used {
                since: Instant::now(),
                keys: HashMap::new(),
            }),
            first_key: Mutex::new(None),
        }
    }

    /// Remembers the admin key this server made at start.
    pub fn remember_first_key(&self, record: ApiKey) {
        *self.first_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(FirstKey {
            record,
            tried: None,
        });
    }

    /// The first key's record, if it is time to try to put it back.
    fn first_key_to_restore(&self) -> Option<ApiKey> {
        let mut first = self.first_key.lock().unwrap_or_else(|e| e.into_inner());
        let first = first.as_mut()?;
        if first.tried.is_some_and(|t| t.elapsed() < RESTORE_EVERY) {
            return None;
        }
        first.tried = Some(Instant::now());
        Some(first.record.clone())
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Notes that key `id` was used now; every `TOUCH_EVERY` returns what
    /// to write.
    fn note_use(&self, id: &str) -> Option<Vec<(String, u64)>> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms();
        match used.keys.get_mut(id) {
            Some(at) => *at = now,
            None => {
                used.keys.insert(id.to_string(), now);
            }
        }
        if used.since.elapsed() < TOUCH_EVERY {
            return None;
        }
        used.since = Instant::now();
        Some(used.keys.drain().collect())
    }
}

/// A store that lost every key (Redis restarted empty) would lock everyone
/// out until a server restart: put back the admin key this server made at
/// start, if the store has no key at all, and look `id` up again.
async fn restore_first_key(state: &AppState, id: &str) -> Option<ApiKey> {
    let first = state.auth.first_key_to_restore()?;
    match state.store.put_key(&first, true).await {
        Ok(true) => {
            tracing::warn!(
                key = %key_prefix(&first.id),
                "the store has no API key (restarted empty?): restored the admin key made at start"
            );
            state.store.api_key(id).await.ok().flatten()
        }
        _ => None,
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The layer: finds the request's key, or answers 401.
pub async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !state.auth.enabled {
        req.extensions_mut().insert(Caller::anonymous_admin());
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(token) = token else {
        return unauthorized(
            "an API key is required: send `Authorization: Bearer <key>` \
             (the faas CLI reads --token, FAAS_TOKEN or its credentials file)",
        );
    };
    let Some(id) = token_id(token) else {
        return unauthorized("unknown or revoked API key");
    };
    let mut key = match state.store.api_key(id).await {
        Ok(key) => key,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if key.is_none() {
        key = restore_first_key(&state, id).await;
    }
    let presented = hash(token);
    let Some(key) = key.filter(|k| bool::from(k.hash.as_bytes().ct_eq(presented.as_bytes())))
    else {
        return unauthorized("unknown or revoked API key");
    };
    if let Some(used) = state.auth.note_use(&key.id) {
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_keys(&used).await {
                tracing::debug!("cannot record when keys were last used: {e}");
            }
        });
    }
    req.extensions_mut().insert(Caller {
        tenant: Arc::from(key.tenant),
        admin: key.admin,
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_names_its_key_and_hashes_to_its_record() {
        let key = mint("t", false).unwrap();
        assert!(key.token.starts_with("faas_"));
        assert_eq!(token_id(&key.token), Some(key.record.id.as_str()));
        assert_eq!(hash(&key.token), key.record.hash);
        assert_eq!(id_from_prefix(&key_prefix(&key.record.id)), key.record.id);
        assert_eq!(id_from_prefix(&key.token), key.record.id);
        assert_eq!(id_from_prefix(&key.record.id), key.record.id);
        let other = mint("t", false).unwrap();
        assert_ne!(key.token, other.token);
        for bad in [
            "",
            "faas_",
            "faas_abc_x",
            "bearer",
            "faas_zzzzzzzzzzzz_x",
            "faas_0123456789ab_",
        ] {
            assert_eq!(token_id(bad), None, "{bad:?}");
        }
    }
}
