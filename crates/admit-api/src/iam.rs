//! The IAM custom methods every resource shares: `:getIamPolicy`, `:setIamPolicy`,
//! `:testIamPermissions`.

use admit_service::Caller;
use axum::response::Response;
use serde_json::Value;

use crate::extract::ok;
use crate::{ApiError, AppState};

/// Serves `method` on `resource` (a `what`: attestor, note, …), which the caller has already
/// found to exist; any other method is NOT_FOUND.
pub(crate) async fn dispatch(
    s: &AppState,
    caller: &Caller,
    what: &str,
    resource: &str,
    method: &str,
    req: &Value,
) -> Result<Response, ApiError> {
    match method {
        "getIamPolicy" => s.get_iam_policy(resource).await.map(|v| ok(&v)),
        "setIamPolicy" => s.set_iam_policy(resource, req).await.map(|v| ok(&v)),
        "testIamPermissions" => s
            .test_iam_permissions(caller, resource, req)
            .await
            .map(|v| ok(&v)),
        _ => {
            return Err(ApiError::not_found(format!(
                "unknown {what} method `{method}`"
            )));
        }
    }
    .map_err(Into::into)
}
