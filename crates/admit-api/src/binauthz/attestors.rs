//! `projects/{p}/attestors[/{a}]`: CRUD, IAM and `:validateAttestationOccurrence`.
//! v1 names the note field `userOwnedGrafeasNote` and carries `pkixPublicKey.keyId`;
//! v1beta1/v1alpha2 call it `userOwnedDrydockNote` and have no `keyId`.

use admit_model::Attestor;
use admit_service::Caller;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::Value;

use crate::extract::{
    ApiVersion, Params, body, list as list_response, object, ok, page, param, split_method,
};
use crate::{ApiError, AppState};

fn wire(a: &Attestor, v: ApiVersion) -> Value {
    let mut j = serde_json::to_value(a).unwrap_or_default();
    if v != ApiVersion::V1
        && let Some(o) = j.as_object_mut()
        && let Some(mut note) = o.remove("userOwnedGrafeasNote")
    {
        if let Some(keys) = note.get_mut("publicKeys").and_then(Value::as_array_mut) {
            for k in keys {
                if let Some(p) = k.get_mut("pkixPublicKey").and_then(Value::as_object_mut) {
                    p.remove("keyId");
                }
            }
        }
        o.insert("userOwnedDrydockNote".into(), note);
    }
    j
}

pub(super) async fn create(
    State(s): State<AppState>,
    v: ApiVersion,
    Path(project): Path<String>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id = param(&q, "attestorId").ok_or_else(|| ApiError::invalid("attestorId is required"))?;
    let a: Attestor = body(&raw)?;
    Ok(ok(&wire(&s.create_attestor(&project, id, a).await?, v)))
}

pub(super) async fn list(
    State(s): State<AppState>,
    v: ApiVersion,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s.list_attestors(&project, &page(&q)?).await?;
    let items: Vec<Value> = l.items.iter().map(|a| wire(a, v)).collect();
    Ok(list_response("attestors", &items, l.next_page_token))
}

fn name(project: &str, attestor: &str) -> Result<String, ApiError> {
    match split_method(attestor) {
        (id, None) => Ok(format!("projects/{project}/attestors/{id}")),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with this HTTP verb"
        ))),
    }
}

pub(super) async fn get(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    v: ApiVersion,
    Path((project, attestor)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if let (id, Some(method)) = split_method(&attestor) {
        let resource = format!("projects/{project}/attestors/{id}");
        s.get_attestor(&resource).await?;
        return crate::iam::dispatch(&s, &caller, "attestor", &resource, method, &Value::Null)
            .await;
    }
    Ok(ok(&wire(
        &s.get_attestor(&name(&project, &attestor)?).await?,
        v,
    )))
}

pub(super) async fn update(
    State(s): State<AppState>,
    v: ApiVersion,
    Path((project, attestor)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let a: Attestor = body(&raw)?;
    Ok(ok(&wire(
        &s.update_attestor(&name(&project, &attestor)?, a).await?,
        v,
    )))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    Path((project, attestor)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.delete_attestor(&name(&project, &attestor)?).await?;
    Ok(ok(&serde_json::json!({})))
}

/// POST `attestors/{a}:method`.
pub(super) async fn custom(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, attestor)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&attestor);
    let resource = format!("projects/{project}/attestors/{id}");
    let req = object(&raw, "a request message")?;
    let method = method.unwrap_or_default();
    if method == "validateAttestationOccurrence" {
        return Ok(ok(&s
            .validate_attestation_occurrence(&resource, &req)
            .await?));
    }
    s.get_attestor(&resource).await?;
    crate::iam::dispatch(&s, &caller, "attestor", &resource, method, &req).await
}

/// v1alpha2 `attestors/{a}/attestations/{id}:testIamPermissions`.
pub(super) async fn attestation_test_iam(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, attestor, attestation)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    match split_method(&attestation) {
        (id, Some("testIamPermissions")) => {
            let req = object(&raw, "a request message")?;
            let resource = format!("projects/{project}/attestors/{attestor}/attestations/{id}");
            Ok(ok(&s
                .test_iam_permissions(&caller, &resource, &req)
                .await?))
        }
        (_, m) => Err(ApiError::not_found(format!(
            "unknown attestation method {m:?}"
        ))),
    }
}
