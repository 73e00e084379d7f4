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
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        match e.kind() {
            redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
