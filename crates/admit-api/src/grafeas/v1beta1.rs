//! Container Analysis / Grafeas `v1beta1` (`grafeas.v1beta1.GrafeasV1Beta1`): the same notes
//! and occurrences as `v1`, converted at the edge (`admit_service::v1beta1`) so a record written
//! through either version reads back through both and is enforced the same.

use admit_service::v1beta1::{
    SIDECAR, note_from_v1, note_to_v1, occurrence_from_v1, occurrence_to_v1, summary_from_v1,
};
use admit_store::OccurrenceScope;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::extract::{
    Params, list as list_response, object, ok, page, param, split_method, update_mask,
};
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1beta1/projects/{project}/notes",
            get(list_notes).post(create_note),
        )
        .route(
            "/v1beta1/projects/{project}/notes:batchCreate",
            post(batch_create_notes),
        )
        .route(
            "/v1beta1/projects/{project}/notes/{note}",
            get(get_note)
                .patch(patch_note)
                .delete(super::notes::delete)
                .post(super::notes::custom),
        )
        .route(
            "/v1beta1/projects/{project}/notes/{note}/occurrences",
            get(list_note_occurrences),
        )
        .route(
            "/v1beta1/projects/{project}/occurrences",
            get(list_occurrences).post(create_occurrence),
        )
        .route(
            "/v1beta1/projects/{project}/occurrences:batchCreate",
            post(batch_create_occurrences),
        )
        .route(
            "/v1beta1/projects/{project}/occurrences:vulnerabilitySummary",
            get(summary),
        )
        .route(
            "/v1beta1/projects/{project}/occurrences/{occurrence}",
            get(get_occurrence)
                .patch(patch_occurrence)
                .delete(super::occurrences::delete)
                .post(super::occurrences::custom),
        )
        .route(
            "/v1beta1/projects/{project}/occurrences/{occurrence}/notes",
            get(occurrence_note),
        )
}

fn as_object(v: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::invalid(format!("{what} must be a JSON object"))),
    }
}

/// Names the batch entry a conversion error is about: `notes[id]: …`, keeping the code.
fn at(entry: &str) -> impl Fn(admit_service::ServiceError) -> ApiError + '_ {
    move |e| {
        ApiError::from(admit_service::ServiceError::new(
            e.code,
            format!("{entry}: {}", e.message),
        ))
    }
}

fn occurrences_out(items: &[Value]) -> Vec<Value> {
    items.iter().map(occurrence_from_v1).collect()
}

fn name(project: &str, collection: &str, id: &str) -> Result<String, ApiError> {
    match split_method(id) {
        (id, None) => Ok(format!("projects/{project}/{collection}/{id}")),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with this HTTP verb"
        ))),
    }
}

/// Applies a v1beta1 update mask (top-level fields; empty or `*`: every field sent) to the
/// v1beta1 view of the stored record.
fn apply_beta_mask(view: &mut Map<String, Value>, patch: &Map<String, Value>, mask: &[String]) {
    let all = mask.is_empty() || mask.iter().any(|m| m == "*");
    let fields: Vec<String> = if all {
        patch.keys().cloned().collect()
    } else {
        mask.iter()
            .map(|m| m.split('.').next().unwrap_or(m).to_owned())
            .collect()
    };
    for f in fields {
        let camel = camel(&f);
        let sent = patch.get(&f).or_else(|| patch.get(&camel)).cloned();
        view.remove(&f);
        match sent {
            Some(v) => {
                view.insert(camel, v);
            }
            None => {
                view.remove(&camel);
            }
        }
    }
}

/// `note_name` → `noteName` (a field name only; the v1beta1 name, not the v1 one).
fn camel(f: &str) -> String {
    admit_service::snake_to_camel(f)
}

/// The v1 update mask that takes the stored body from `current` to `next`: every field that
/// differs, never the output-only ones. An immutable field is named only when it changed, so
/// the service refuses it.
fn v1_mask(current: &Value, next: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = next.keys().cloned().collect();
    if let Some(c) = current.as_object() {
        keys.extend(c.keys().cloned());
    }
    keys.sort();
    keys.dedup();
    keys.retain(|k| {
        !["name", "kind", "createTime", "updateTime"].contains(&k.as_str())
            && next.get(k) != current.get(k)
    });
    // A field that only the sidecar changed still needs the sidecar written.
    if next.get(SIDECAR) != current.get(SIDECAR) && !keys.iter().any(|k| k == SIDECAR) {
        keys.push(SIDECAR.to_owned());
    }
    keys
}

// ---------------------------------------------------------------------------------------------
// Notes

async fn create_note(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id = param(&q, "noteId").ok_or_else(|| ApiError::invalid("noteId is required"))?;
    let note = note_to_v1(&as_object(object(&raw, "a Note")?, "a Note")?)?;
    let created = s.create_note(&project, id, Value::Object(note)).await?;
    Ok(ok(&note_from_v1(&created)))
}

async fn batch_create_notes(
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
    let mut v1 = Map::new();
    for (id, n) in notes {
        let n = n
            .as_object()
            .ok_or_else(|| ApiError::invalid(format!("notes[{id}] must be a Note object")))?;
        let converted = note_to_v1(n).map_err(at(&format!("notes[{id}]")))?;
        v1.insert(id.clone(), Value::Object(converted));
    }
    let out = s.create_notes(&project, &v1).await?;
    let shown: Vec<Value> = out.iter().map(note_from_v1).collect();
    Ok(ok(&json!({ "notes": shown })))
}

async fn list_notes(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s.list_notes(&project, &page(&q)?).await?;
    let shown: Vec<Value> = l.items.iter().map(note_from_v1).collect();
    Ok(list_response("notes", &shown, l.next_page_token))
}

async fn get_note(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let n = s.get_note(&name(&project, "notes", &note)?).await?;
    Ok(ok(&note_from_v1(&n)))
}

async fn patch_note(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let name = name(&project, "notes", &note)?;
    let patch = as_object(object(&raw, "a Note")?, "a Note")?;
    let current = s.get_note(&name).await?;
    let mut view = as_object(note_from_v1(&current), "the stored note")?;
    apply_beta_mask(&mut view, &patch, &update_mask(&q));
    let next = note_to_v1(&view)?;
    let mask = v1_mask(&current, &next);
    let updated = s.patch_note(&name, Value::Object(next), &mask).await?;
    Ok(ok(&note_from_v1(&updated)))
}

async fn list_note_occurrences(
    State(s): State<AppState>,
    Path((project, note)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let scope = super::occurrences::note_scope(&s, &project, &note).await?;
    let l = super::occurrences::listed(&s, scope, &q).await?;
    Ok(list_response(
        "occurrences",
        &occurrences_out(&l.items),
        l.next_page_token,
    ))
}

// ---------------------------------------------------------------------------------------------
// Occurrences

async fn create_occurrence(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let occ = occurrence_to_v1(&as_object(object(&raw, "an Occurrence")?, "an Occurrence")?)?;
    let occ = Value::Object(occ);
    super::occurrences::check_attach(&s, &caller, std::slice::from_ref(&occ)).await?;
    let created = s.create_occurrences(&project, vec![occ]).await?;
    Ok(ok(&created
        .first()
        .map(occurrence_from_v1)
        .unwrap_or_default()))
}

async fn batch_create_occurrences(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a request message")?;
    let Some(list) = req.get("occurrences").and_then(Value::as_array) else {
        return Err(ApiError::invalid("occurrences is required"));
    };
    let mut v1 = Vec::with_capacity(list.len().min(admit_service::MAX_BATCH + 1));
    for (i, o) in list.iter().enumerate() {
        let o = o.as_object().ok_or_else(|| {
            ApiError::invalid(format!("occurrences[{i}] must be an Occurrence object"))
        })?;
        let converted = occurrence_to_v1(o).map_err(at(&format!("occurrences[{i}]")))?;
        v1.push(Value::Object(converted));
    }
    super::occurrences::check_attach(&s, &caller, &v1).await?;
    let created = s.create_occurrences(&project, v1).await?;
    Ok(ok(&json!({ "occurrences": occurrences_out(&created) })))
}

async fn list_occurrences(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = super::occurrences::listed(&s, OccurrenceScope::Project(project), &q).await?;
    Ok(list_response(
        "occurrences",
        &occurrences_out(&l.items),
        l.next_page_token,
    ))
}

async fn get_occurrence(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let o = s
        .get_occurrence(&name(&project, "occurrences", &occurrence)?)
        .await?;
    Ok(ok(&occurrence_from_v1(&o)))
}

async fn occurrence_note(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let n = s
        .get_occurrence_note(&name(&project, "occurrences", &occurrence)?)
        .await?;
    Ok(ok(&note_from_v1(&n)))
}

async fn patch_occurrence(
    State(s): State<AppState>,
    Path((project, occurrence)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let name = name(&project, "occurrences", &occurrence)?;
    let patch = as_object(object(&raw, "an Occurrence")?, "an Occurrence")?;
    let current = s.get_occurrence(&name).await?;
    let mut view = as_object(occurrence_from_v1(&current), "the stored occurrence")?;
    apply_beta_mask(&mut view, &patch, &update_mask(&q));
    let next = occurrence_to_v1(&view)?;
    let mask = v1_mask(&current, &next);
    let updated = s
        .patch_occurrence(&name, Value::Object(next), &mask)
        .await?;
    Ok(ok(&occurrence_from_v1(&updated)))
}

async fn summary(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let v1 = s
        .vulnerability_summary(&project, param(&q, "filter").unwrap_or(""))
        .await?;
    Ok(ok(&summary_from_v1(&v1)))
}
