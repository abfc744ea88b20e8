//! `projects/{p}/policy`: get, update (PUT replaces the whole policy) and IAM.

use admit_model::Policy;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;

use crate::extract::{body, object, ok};
use crate::{ApiError, AppState};

pub(super) async fn get(
    State(s): State<AppState>,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.get_policy(&project).await?))
}

pub(super) async fn update(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let policy: Policy = body(&raw)?;
    Ok(ok(&s.update_policy(&project, policy).await?))
}

/// admit extension: `{"policy": PROPOSED, "since": "24h"}` → what the proposed policy would
/// deny that the current one admits, and the reverse, among running pods and audited
/// admissions.
pub(super) async fn simulate(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a simulation request")?;
    Ok(ok(&s.simulate_policy(&project, &req).await?))
}

/// admit extension: `{"image": IMAGE, "namespace": NS}` → the image's digest (resolved at
/// its registry for a tag), attestors, cosign signatures, vulnerability counts and the verdict
/// the current policy would give it (`admit images describe`).
pub(super) async fn describe_image(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "an image description request")?;
    Ok(ok(&s.describe_image(&project, &req).await?))
}

pub(super) async fn get_iam(
    State(s): State<AppState>,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .get_iam_policy(&format!("projects/{project}/policy"))
        .await?))
}

pub(super) async fn set_iam(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "an IAM request")?;
    Ok(ok(&s
        .set_iam_policy(&format!("projects/{project}/policy"), &req)
        .await?))
}

pub(super) async fn test_iam(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "an IAM request")?;
    Ok(ok(&s
        .test_iam_permissions(&caller, &format!("projects/{project}/policy"), &req)
        .await?))
}
