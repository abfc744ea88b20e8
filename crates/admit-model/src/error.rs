use thiserror::Error;

/// Everything that can go wrong while decoding or naming a wire resource.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The document is not well-formed JSON/YAML, or a field has the wrong shape.
    /// `path` is the dotted field path (`defaultAdmissionRule.evaluationMode`), `.` for the root.
    #[error("invalid {format} at `{path}`: {message}")]
    Decode {
        format: &'static str,
        path: String,
        message: String,
    },
    /// An enum string that is not one of the proto's values.
    #[error("unknown {what} `{value}`; expected one of: {expected}")]
    UnknownEnumValue {
        what: &'static str,
        value: String,
        expected: String,
    },
    /// A resource name that does not have the documented shape.
    #[error("invalid {kind} name `{value}`: expected `{pattern}`")]
    ResourceName {
        kind: &'static str,
        value: String,
        pattern: &'static str,
    },
    /// A bytes field that is not base64 in either alphabet.
    #[error("invalid base64: {0}")]
    Base64(String),
    /// A filter that does not parse, or is over a bound; the message names the offset.
    #[error("{0}")]
    InvalidFilter(String),
    /// Encoding a value failed (only possible for non-string map keys; kept for completeness).
    #[error("cannot encode {format}: {message}")]
    Encode {
        format: &'static str,
        message: String,
    },
}
