//! Store errors: the backend is unreachable, a record cannot be read, or a
//! request is over its tenant's quota.

/// A store operation failed. Callers map `Unavailable` to "try again later"
/// (HTTP 503); it clears by itself when the backend is back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    /// The request is over one of its tenant's limits; nothing was stored.
    #[error("over quota: {}", .0.detail)]
    OverQuota(crate::tenants::OverQuota),
    /// Tasks were submitted to a function that does not exist (deleted
    /// since the caller looked it up); nothing was stored.
    #[error("function {0} not found")]
    NoFunction(crate::FunctionId),
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        if crate::redis_store::is_oom(&e) {
            return StoreError::Unavailable(
                "Redis is out of memory (at its maxmemory): it takes no new work until \
                 finished tasks' records expire or it is given more memory"
                    .into(),
            );
        }
        match e.kind() {
            redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
