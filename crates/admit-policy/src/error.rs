use thiserror::Error;

/// One broken rule in a policy, naming the field as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Errors of the policy engine.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("invalid image reference `{image}`: {reason}")]
    ImageReference { image: String, reason: String },
    #[error("invalid exempt-image pattern `{pattern}`: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("invalid policy: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidPolicy(Vec<Violation>),
    #[error("invalid attestor `{attestor}`: {field}: {reason}")]
    InvalidAttestor {
        attestor: String,
        field: String,
        reason: String,
    },
}
