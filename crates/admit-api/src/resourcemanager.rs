//! Cloud Resource Manager `v1`, the part gcloud uses around IAM: `projects.get` (so
//! `gcloud projects describe P --format='value(projectNumber)'` finds the number Binary
//! Authorization's service agent is named after) and the project's IAM policy
//! (`gcloud projects add-iam-policy-binding`). Projects exist implicitly: any valid id.

use admit_service::Caller;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::extract::{object, ok, split_method};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/projects/{project}", get(describe).post(custom))
}

fn valid(project: &str) -> Result<(), ApiError> {
    admit_model::ProjectId::parse(project)
        .map(|_| ())
        .map_err(|e| ApiError::invalid(e.to_string()))
}

async fn describe(Path(project): Path<String>) -> Result<Response, ApiError> {
    if let (_, Some(m)) = split_method(&project) {
        return Err(ApiError::not_found(format!(
            "method `{m}` is not served with GET"
        )));
    }
    valid(&project)?;
    Ok(ok(&json!({
        "projectId": project,
        "projectNumber": admit_service::project_number(&project).to_string(),
        "name": project,
        "lifecycleState": "ACTIVE",
    })))
}

async fn custom(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&project);
    valid(id)?;
    let method = method.unwrap_or_default();
    let req = object(&raw, "an IAM request")?;
    crate::iam::dispatch(
        &s,
        &caller,
        "project",
        &format!("projects/{id}"),
        method,
        &req,
    )
    .await
}
