use thiserror::Error;

/// Storage failures, in the terms callers map to google.rpc codes.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The etag the caller sent no longer matches (AIP-154).
    #[error("{0} was modified concurrently: etag does not match")]
    Aborted(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// The database cannot be reached or is busy past its timeout.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored body no longer reads as its type (or a value cannot be written as one).
    #[error("stored {name} unreadable: {message}")]
    Unreadable { name: String, message: String },
    #[error("storage failure in {step}: {message}")]
    Internal { step: &'static str, message: String },
}

impl StoreError {
    pub(crate) fn db(step: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
        move |e| match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Internal {
                step,
                message: other.to_string(),
            },
        }
    }
}
