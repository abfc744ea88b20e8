//! `projects/{p}/occurrences[/{o}]`: create, batchCreate, get, list (filters), patch, delete,
//! `/notes`, `:vulnerabilitySummary`, IAM; and `notes/{n}/occurrences`.

use admit_store::OccurrenceScope;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::extract::{
    Params, list as list_response, object, ok, page, param, split_method, update_mask,
};
use crate::{ApiError, AppState};

use super::stripped;
use admit_service::v1beta1::strip_sidecar;

/// Creating an occurrence attaches it to a note, maybe in another project: the caller needs
/// `containeranalysis.notes.attachOccurrence` there as well.
pub(super) async fn check_attach(
    s: &AppState,
    caller: &admit_service::Caller,
    occurrences: &[Value],
) -> Result<(), ApiError> {
    for o in occurrences {
        if let Some(note) = o
            .get("noteName")
            .or_else(|| o.get("note_name"))
            .and_then(Value::as_str)
        {
            s.authorize(caller, "containeranalysis.notes.attachOccurrence", note)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn create(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let occ = object(&raw, "an Occurrence")?;
    super::refuse_sidecar(&occ)?;
    check_attach(&s, &caller, std::slice::from_ref(&occ)).await?;
    let mut created = s.create_occurrences(&project, vec![occ]).await?;
    Ok(ok(&strip_sidecar(created.pop().unwrap_or_default())))
}

pub(super) async fn batch_create(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a request message")?;
    let Some(list) = req.get("occurrences").and_then(Value::as_array) else {
        return Err(ApiError::invalid("occurrences is required"));
    };
    for o in list {
        super::refuse_sidecar(o)?;
    }
    check_attach(&s, &caller, list).await?;
    let created = s.create_occurrences(&project, list.clone()).await?;
    Ok(ok(&json!({"occurrences": stripped(created)})))
}

pub(super) async fn list(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = listed(&s, OccurrenceScope::Project(project), &q).await?;
    Ok(list_response(
        "occurrences",
        &stripped(l.items),
        l.next_page_token,
    ))
}

pub(super) async fn list_for_note(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = listed(&s, note_scope(&s, &project, &note).await?, &q).await?;
    Ok(list_response(
        "occurrences",
        &stripped(l.items),
        l.next_page_token,
    ))
}

/// One page of the occurrences in `scope` that match the request's `filter` (v1 and v1beta1).
pub(super) async fn listed(
    s: &AppState,
    scope: OccurrenceScope,
    q: &Params,
) -> Result<admit_store::Listed<Value>, ApiError> {
    Ok(
        s.list_occurrences(&scope, param(q, "filter").unwrap_or(""), &page(q)?)
            .await?,
    )
}

/// The scope of a note's occurrences, once the note is known to exist (NOT_FOUND otherwise).
pub(super) async fn note_scope(
    s: &AppState,
    project: &str,
    note: &str,
) -> Result<OccurrenceScope, ApiError> {
    let name = format!("projects/{project}/notes/{note}");
    s.get_note(&name).await?;
    Ok(OccurrenceScope::Note(name))
}

pub(super) async fn summary(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .vulnerability_summary(&project, param(&q, "filter").unwrap_or(""))
        .await?))
}

fn name(project: &str, occurrence: &str) -> Result<String, ApiError> {
    match split_method(occurrence) {
        (id, None) => Ok(format!("projects/{project}/occurrences/{id}")),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with this HTTP verb"
        ))),
    }
}

pub(super) async fn get(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(ok(&strip_sidecar(
        s.get_occurrence(&name(&project, &occurrence)?).await?,
    )))
}

pub(super) async fn note(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(ok(&strip_sidecar(
        s.get_occurrence_note(&name(&project, &occurrence)?).await?,
    )))
}

pub(super) async fn patch(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let v = object(&raw, "an Occurrence")?;
    super::refuse_sidecar(&v)?;
    Ok(ok(&strip_sidecar(
        s.patch_occurrence(&name(&project, &occurrence)?, v, &update_mask(&q))
            .await?,
    )))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.delete_occurrence(&name(&project, &occurrence)?).await?;
    Ok(ok(&json!({})))
}

pub(super) async fn custom(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path((project, occurrence)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&occurrence);
    let resource = format!("projects/{project}/occurrences/{id}");
    let req = object(&raw, "a request message")?;
    let method = method.unwrap_or_default();
    s.get_occurrence(&resource).await?;
    crate::iam::dispatch(&s, &caller, "occurrence", &resource, method, &req).await
}
