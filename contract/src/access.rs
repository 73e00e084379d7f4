//! Access: API keys (made, listed and revoked by admins), tenants' limits
//! and usage, and who a key says its caller is.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// 1 to 64 letters, digits, `.`, `_` or `-`.
    pub tenant: String,
    /// An admin key sees and manages everything.
    #[serde(default)]
    pub admin: bool,
}

/// A new key (201): the only time its token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewKey {
    /// The token, `faas_<id>_<secret>`, to send as `Authorization: Bearer`.
    pub key: String,
    /// What names the key in listings and revocation (`faas_<id>`).
    pub prefix: String,
    pub tenant: String,
    pub admin: bool,
    pub created_at_ms: u64,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyRow {
    pub prefix: String,
    pub tenant: String,
    pub admin: bool,
    pub created_at_ms: u64,
    /// When it last authenticated a request (to within a few seconds).
    pub last_used_ms: Option<u64>,
}

/// `GET /keys`: every key, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyRow>,
}

/// `DELETE /keys/{prefix}`: the key no longer works on any server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    pub revoked: String,
}

/// The limits one tenant works under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantLimits {
    /// Most of its tasks queued or running at once.
    pub max_active_tasks: u64,
    /// Tasks it may submit per second, sustained (0: no limit).
    pub submit_rate: u64,
    /// Tasks it may submit at once after a quiet spell (the token bucket's
    /// size; a batch larger than this can never be accepted).
    pub submit_burst: u64,
    /// Most module bytes it may register in all (each registration counts
    /// its module's size).
    pub max_module_bytes: u64,
}

impl Default for TenantLimits {
    fn default() -> Self {
        TenantLimits {
            max_active_tasks: 1_000_000,
            submit_rate: 100_000,
            submit_burst: 200_000,
            max_module_bytes: 1 << 30,
        }
    }
}

/// `PUT /tenants/{tenant}/limits`: a field left out keeps its current value
/// (the deployment's default unless set before).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active_tasks: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_rate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_burst: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_module_bytes: Option<u64>,
}

impl LimitOverrides {
    /// `defaults` with these overrides applied.
    pub fn apply(&self, defaults: &TenantLimits) -> TenantLimits {
        TenantLimits {
            max_active_tasks: self.max_active_tasks.unwrap_or(defaults.max_active_tasks),
            submit_rate: self.submit_rate.unwrap_or(defaults.submit_rate),
            submit_burst: self.submit_burst.unwrap_or(defaults.submit_burst),
            max_module_bytes: self.max_module_bytes.unwrap_or(defaults.max_module_bytes),
        }
    }

    /// `self` with the fields `newer` sets replaced.
    pub fn merge(&self, newer: &LimitOverrides) -> LimitOverrides {
        LimitOverrides {
            max_active_tasks: newer.max_active_tasks.or(self.max_active_tasks),
            submit_rate: newer.submit_rate.or(self.submit_rate),
            submit_burst: newer.submit_burst.or(self.submit_burst),
            max_module_bytes: newer.max_module_bytes.or(self.max_module_bytes),
        }
    }
}

/// `GET /tenants/{tenant}`: a tenant's limits in force and what it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantInfo {
    pub tenant: String,
    pub limits: TenantLimits,
    /// Its tasks queued or running now.
    pub active_tasks: u64,
    /// Module bytes it has registered.
    pub module_bytes: u64,
}

/// `GET /whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The tenant the caller's key acts for.
    pub tenant: String,
    pub admin: bool,
    /// Whether the server asks for keys at all (off with `--no-auth`).
    pub auth: bool,
}
