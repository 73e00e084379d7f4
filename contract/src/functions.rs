//! Functions: registering a module, and reading what is registered.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `POST /register_function`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// A name for people; need not be unique.
    pub name: String,
    /// base64 of the .wasm bytes (WAT text is accepted too).
    #[schema(format = Byte)]
    pub payload: String,
    /// The export a task calls; by default the module's only function
    /// export, or `_start` for a WASI command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// The new function's id (201).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    pub function_id: Uuid,
}

/// `GET /functions/{function_id}`: a function's record, without its
/// module bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Function {
    pub id: Uuid,
    pub name: String,
    /// The export a task calls.
    pub entry: String,
    /// How a task's payload becomes the call's arguments and its result:
    /// `{"kind": "typed", "params", "results"}`, `{"kind": "wasi_command"}`
    /// or `{"kind": "handler"}` (a `faas:function/handler` component).
    pub convention: Value,
    /// Hex SHA-256 of the module binary.
    pub module_hash: String,
    pub module_size: u64,
    /// Registration time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// The tenant that registered it.
    pub tenant: String,
}

/// `DELETE /functions/{function_id}`: the function is gone. Its tasks
/// already running finish; queued ones end FAILED (`missing_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FunctionDeleted {
    pub deleted: Uuid,
}

/// One row of `GET /functions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FunctionRow {
    pub function_id: Uuid,
    pub name: String,
    /// The export a task calls.
    pub entry: String,
    /// Hex SHA-256 of the module binary.
    #[serde(default)]
    pub module_hash: String,
    #[serde(default)]
    pub module_size: u64,
    /// Registration time, ms since the Unix epoch.
    #[serde(default)]
    pub created_at_ms: u64,
    #[serde(default)]
    pub tenant: String,
    /// How its tasks' payloads are taken: `typed`, `wasi_command` or
    /// `handler` (the `kind` of the function's `convention`).
    #[serde(default)]
    pub kind: String,
    /// Tasks submitted to it.
    #[serde(default)]
    pub invocations: u64,
    /// Its tasks that ended FAILED (cancelled and lost ones included).
    #[serde(default)]
    pub failures: u64,
}

/// `GET /functions`' query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunctionQuery {
    /// Most rows to return: a whole number from 1 (default 100; above
    /// 1000 it is cut to 1000). Anything else: 400.
    #[param(minimum = 1)]
    pub limit: Option<u64>,
}

/// `GET /functions`: registered functions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FunctionList {
    pub functions: Vec<FunctionRow>,
}
