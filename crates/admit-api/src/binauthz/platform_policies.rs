//! v1 `projects/{p}/platforms[/{platform}/policies[/{id}]]`, and `:evaluate` on GKE policies.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use crate::extract::{Params, list as list_response, object, ok, page, param, split_method};
use crate::{ApiError, AppState};

pub(super) async fn platforms(
    State(s): State<AppState>,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.list_platforms(&project)?))
}

pub(super) async fn create(
    State(s): State<AppState>,
    Path((project, platform)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id = param(&q, "policyId").ok_or_else(|| ApiError::invalid("policyId is required"))?;
    let p = object(&raw, "a PlatformPolicy")?;
    Ok(ok(&s
        .create_platform_policy(&project, &platform, id, p)
        .await?))
}

pub(super) async fn list(
    State(s): State<AppState>,
    Path((project, platform)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s
        .list_platform_policies(&project, &platform, &page(&q)?)
        .await?;
    Ok(list_response(
        "platformPolicies",
        &l.items,
        l.next_page_token,
    ))
}

fn name(project: &str, platform: &str, policy: &str) -> Result<String, ApiError> {
    match split_method(policy) {
        (id, None) => Ok(format!(
            "projects/{project}/platforms/{platform}/policies/{id}"
        )),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with this HTTP verb"
        ))),
    }
}

pub(super) async fn get(
    State(s): State<AppState>,
    Path((project, platform, policy)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .get_platform_policy(&name(&project, &platform, &policy)?)
        .await?))
}

pub(super) async fn replace(
    State(s): State<AppState>,
    Path((project, platform, policy)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    name(&project, &platform, &policy)?;
    let p = object(&raw, "a PlatformPolicy")?;
    Ok(ok(&s
        .replace_platform_policy(&project, &platform, &policy, p)
        .await?))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    Path((project, platform, policy)): Path<(String, String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    s.delete_platform_policy(&name(&project, &platform, &policy)?, param(&q, "etag"))
        .await?;
    Ok(ok(&json!({})))
}

/// POST `policies/{id}:evaluate`.
pub(super) async fn custom(
    State(s): State<AppState>,
    Path((project, platform, policy)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&policy);
    if method != Some("evaluate") {
        return Err(ApiError::not_found(format!(
            "unknown policy method {method:?}"
        )));
    }
    if platform != "gke" {
        return Err(ApiError::invalid(
            "only gke platform policies can be evaluated",
        ));
    }
    let req = object(&raw, "an EvaluateGkePolicyRequest")?;
    Ok(ok(&s
        .evaluate_gke_policy(
            &format!("projects/{project}/platforms/{platform}/policies/{id}"),
            &req,
        )
        .await?))
}
