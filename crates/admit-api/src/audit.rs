//! admit's own API: `GET /admit/v1/projects/{p}/auditRecords?filter=…` (the admission audit log).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;

use crate::extract::{Params, list as list_response, page, param};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/admit/v1/projects/{project}/auditRecords", get(list))
}

async fn list(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s
        .list_audit(&project, param(&q, "filter").unwrap_or(""), &page(&q)?)
        .await?;
    Ok(list_response("auditRecords", &l.items, l.next_page_token))
}
