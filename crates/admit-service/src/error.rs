use admit_store::StoreError;
use thiserror::Error;

/// google.rpc codes the service produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    FailedPrecondition,
    NotFound,
    AlreadyExists,
    Aborted,
    Unavailable,
    Internal,
    Unimplemented,
}

/// A failed use case: a code and a message safe to show the caller.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{code:?}: {message}")]
pub struct ServiceError {
    pub code: Code,
    pub message: String,
}

impl ServiceError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ServiceError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, message)
    }
    /// An internal error: the cause is logged once here; the caller sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(Code::Internal, "internal error")
    }
}

impl From<admit_crypto::CryptoError> for ServiceError {
    /// Key material and machine failures are internal; anything else is the request's fault.
    fn from(e: admit_crypto::CryptoError) -> Self {
        match e {
            e @ admit_crypto::CryptoError::KeyMaterial(_) => ServiceError::internal(e),
            e => ServiceError::invalid(e.to_string()),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(n) => ServiceError::not_found(format!("{n} not found")),
            StoreError::AlreadyExists(n) => {
                ServiceError::new(Code::AlreadyExists, format!("{n} already exists"))
            }
            StoreError::Aborted(n) => ServiceError::new(
                Code::Aborted,
                format!(
                    "{n} was changed since it was read (etag mismatch); read it again and retry"
                ),
            ),
            StoreError::InvalidArgument(m) => ServiceError::invalid(m),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "storage unavailable");
                ServiceError::new(Code::Unavailable, "storage is unavailable; retry later")
            }
            StoreError::Unreadable { name, message } => {
                tracing::error!(%name, error = %message, "stored resource unreadable");
                ServiceError::new(
                    Code::Internal,
                    format!("stored {name} unreadable: {message}"),
                )
            }
            e @ StoreError::Internal { .. } => {
                tracing::error!(error = %e, "storage failure");
                ServiceError::new(Code::Internal, "internal error")
            }
        }
    }
}
