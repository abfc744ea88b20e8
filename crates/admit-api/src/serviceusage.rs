//! Service Usage v1 (`gcloud services enable|disable|list`): `projects/{p}/services/{s}`
//! `:enable`, `:disable`, get, list, `services:batchEnable`, and the operations they return.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::extract::{Params, list as list_response, object, ok, page, param, split_method};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/projects/{project}/services", get(list))
        .route(
            "/v1/projects/{project}/services:batchEnable",
            post(batch_enable),
        )
        .route(
            "/v1/projects/{project}/services/{service}",
            get(get_one).post(custom),
        )
        .route("/v1/operations/{operation}", get(operation))
}

async fn list(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s
        .list_services(&project, param(&q, "filter").unwrap_or(""), &page(&q)?)
        .await?;
    Ok(list_response("services", &l.items, l.next_page_token))
}

async fn batch_enable(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a BatchEnableServicesRequest")?;
    let ids: Vec<String> = req["serviceIds"]
        .as_array()
        .ok_or_else(|| ApiError::invalid("serviceIds is required"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::invalid("serviceIds must be strings"))
        })
        .collect::<Result<_, _>>()?;
    Ok(ok(&s.batch_enable_services(&project, &ids).await?))
}

async fn get_one(
    State(s): State<AppState>,
    Path((project, service)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match split_method(&service) {
        (id, None) => Ok(ok(&s.get_service(&project, id).await?)),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with GET"
        ))),
    }
}

async fn custom(
    State(s): State<AppState>,
    Path((project, service)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    if !raw.is_empty() {
        object(&raw, "a request message")?;
    }
    match split_method(&service) {
        (id, Some("enable")) => Ok(ok(&s.enable_service(&project, id).await?)),
        (id, Some("disable")) => Ok(ok(&s.disable_service(&project, id).await?)),
        (_, m) => Err(ApiError::not_found(format!(
            "unknown service method `{}`",
            m.unwrap_or_default()
        ))),
    }
}

/// Every operation admit returns is finished when returned.
async fn operation(Path(operation): Path<String>) -> Result<Response, ApiError> {
    let v: Value = json!({"name": format!("operations/{operation}"), "done": true});
    Ok(ok(&v))
}
