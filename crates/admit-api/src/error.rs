//! google.rpc.Status errors with the canonical HTTP mapping.

use admit_service::{Code, ServiceError};
use axum::Json;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error: rendered as `{"error":{"code","message","status"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            name: "INVALID_ARGUMENT",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            name: "NOT_FOUND",
            message: message.into(),
        }
    }

    pub fn unimplemented(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_IMPLEMENTED,
            name: "UNIMPLEMENTED",
            message: message.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, name) = match e.code {
            Code::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            Code::FailedPrecondition => (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
            Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
            Code::Aborted => (StatusCode::CONFLICT, "ABORTED"),
            Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
            Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "UNIMPLEMENTED"),
        };
        ApiError {
            status,
            name,
            message: e.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.status.as_u16(), "message": self.message, "status": self.name}});
        (self.status, Json(body)).into_response()
    }
}

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such method or resource: {}", uri.path()))
}

/// A path this server serves, with an HTTP method it does not: Google's answer (404, a
/// google.rpc.Status naming the method), never an empty 405.
pub(crate) async fn method_not_served(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("method {method} is not served on {}", uri.path()))
}

/// The answer to a request whose handler panicked: INTERNAL with a generic message; the
/// panic itself is logged once.
#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature CatchPanicLayer::custom calls"
)]
pub(crate) fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a request handler panicked");
    ApiError::from(ServiceError::new(Code::Internal, "internal error")).into_response()
}
