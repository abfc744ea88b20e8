//! The crate's one error type.

/// What can go wrong setting up the gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The embedded descriptor set does not load (a build problem).
    #[error("the embedded protobuf descriptors do not load: {0}")]
    Descriptors(String),
    /// The listener could not be served.
    #[error("gRPC server: {0}")]
    Serve(String),
}
