//! `v1alpha2/projects/{p}/continuousValidationConfig`: stored and returned; it always carries
//! `enforcementPolicyConfig` (gcloud crashes without it).

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;

use crate::extract::{object, ok};
use crate::{ApiError, AppState};

pub(super) async fn get(
    State(s): State<AppState>,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.get_cv_config(&project).await?))
}

pub(super) async fn update(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let v = object(&raw, "a ContinuousValidationConfig")?;
    Ok(ok(&s.update_cv_config(&project, v).await?))
}

fn resource(project: &str) -> String {
    format!("projects/{project}/continuousValidationConfig")
}

pub(super) async fn get_iam(
    State(s): State<AppState>,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.get_iam_policy(&resource(&project)).await?))
}

pub(super) async fn set_iam(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "an IAM request")?;
    Ok(ok(&s.set_iam_policy(&resource(&project), &req).await?))
}

pub(super) async fn test_iam(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "an IAM request")?;
    Ok(ok(&s
        .test_iam_permissions(
            &caller,
            &format!("projects/{project}/continuousValidationConfig"),
            &req,
        )
        .await?))
}
