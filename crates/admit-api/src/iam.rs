//! The IAM custom methods every resource shares: `:getIamPolicy`, `:setIamPolicy`,
//! `:testIamPermissions`.

use admit_service::Caller;
use axum::response::Response;
use serde_json::Value;

use crate::extract::ok;
use crate::{ApiError, AppState};

/// Serves `method` on `resource` when it is one of the IAM methods; `None` otherwise. The caller
/// has already checked that the resource exists.
pub(crate) async fn dispatch(
    s: &AppState,
    caller: &Caller,
    resource: &str,
    method: &str,
    req: &Value,
) -> Option<Result<Response, ApiError>> {
    Some(match method {
        "getIamPolicy" => s
            .get_iam_policy(resource)
            .await
            .map(|v| ok(&v))
            .map_err(Into::into),
        "setIamPolicy" => s
            .set_iam_policy(resource, req)
            .await
            .map(|v| ok(&v))
            .map_err(Into::into),
        "testIamPermissions" => s
            .test_iam_permissions(caller, resource, req)
            .await
            .map(|v| ok(&v))
            .map_err(Into::into),
        _ => return None,
    })
}
