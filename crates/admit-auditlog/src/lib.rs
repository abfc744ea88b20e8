//! The audit trail on disk: an append-only log of JSON records in segment files, each record
//! chained to the one before by its SHA-256 hash, each group commit sealed by a signed head
//! (Ed25519, a key derived from the server's master key) and made durable by one `fdatasync`
//! before any of its records is acknowledged. `verify` detects an edited, removed, inserted or
//! reordered record; retention drops whole old segments by age and size, leaving a signed
//! checkpoint from which the rest still verifies.
//!
//! Owns: the files under one directory and their format. Blocking I/O only (callers run it off
//! their async workers). Must not depend on: the store, the service, or an async runtime.

mod chain;
mod log;
mod verify;

use std::path::PathBuf;

pub use chain::{Signer, Verifier};
pub use log::{AuditLog, Limits, Usage, read};
pub use verify::{Report, verify};

/// What can go wrong with the log.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    #[error("audit log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The files do not hold what this process (or `verify`) requires: tampering, or damage.
    #[error("audit log {}, line {line}: {reason}", path.display())]
    Tampered {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("audit log: {0}")]
    Invalid(String),
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AuditLogError + '_ {
    move |source| AuditLogError::Io {
        path: path.to_path_buf(),
        source,
    }
}
