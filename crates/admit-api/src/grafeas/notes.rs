//! `projects/{p}/notes[/{n}]`: create, batchCreate, get, list, patch, delete, IAM.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::extract::{
    Params, list as list_response, object, ok, page, param, split_method, update_mask,
};
use crate::{ApiError, AppState};
use admit_service::v1beta1::strip_sidecar;

pub(super) async fn create(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id = param(&q, "noteId").ok_or_else(|| ApiError::invalid("noteId is required"))?;
    let note = object(&raw, "a Note")?;
    super::refuse_sidecar(&note)?;
    Ok(ok(&strip_sidecar(s.create_note(&project, id, note).await?)))
}

pub(super) async fn batch_create(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a request message")?;
    let Some(notes) = req.get("notes").and_then(Value::as_object) else {
        return Err(ApiError::invalid(
            "notes is required: a map of noteId to Note",
        ));
    };
    for n in notes.values() {
        super::refuse_sidecar(n)?;
    }
    let out = s.create_notes(&project, notes).await?;
    Ok(ok(&json!({"notes": super::stripped(out)})))
}

pub(super) async fn list(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s.list_notes(&project, &page(&q)?).await?;
    Ok(list_response(
        "notes",
        &super::stripped(l.items),
        l.next_page_token,
    ))
}

fn name(project: &str, note: &str) -> Result<String, ApiError> {
    match split_method(note) {
        (id, None) => Ok(format!("projects/{project}/notes/{id}")),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with this HTTP verb"
        ))),
    }
}

pub(super) async fn get(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(ok(&strip_sidecar(
        s.get_note(&name(&project, &note)?).await?,
    )))
}

pub(super) async fn patch(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let v = object(&raw, "a Note")?;
    super::refuse_sidecar(&v)?;
    Ok(ok(&strip_sidecar(
        s.patch_note(&name(&project, &note)?, v, &update_mask(&q))
            .await?,
    )))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.delete_note(&name(&project, &note)?).await?;
    Ok(ok(&json!({})))
}

/// POST `notes/{n}:getIamPolicy|setIamPolicy|testIamPermissions` (Container Analysis uses POST
/// for all three).
pub(super) async fn custom(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path((project, note)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&note);
    let resource = format!("projects/{project}/notes/{id}");
    let req = object(&raw, "a request message")?;
    let method = method.unwrap_or_default();
    s.get_note(&resource).await?;
    crate::iam::dispatch(&s, &caller, "note", &resource, method, &req).await
}
