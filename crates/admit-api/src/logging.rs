//! Cloud Logging v2 `POST /v2/entries:list`: the audit log as the `LogEntry` values Google
//! writes, filtered with the Logging query language (what `gcloud logging read` calls).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use crate::extract::{object, ok};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v2/entries:list", post(list))
}

async fn list(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a ListLogEntriesRequest")?;
    // The projects are named in the body, so access is checked here, on each of them.
    for field in ["resourceNames", "projectIds"] {
        for v in req[field].as_array().map(Vec::as_slice).unwrap_or_default() {
            let name = v.as_str().unwrap_or_default();
            let project = if field == "projectIds" {
                format!("projects/{name}")
            } else {
                name.split('/').take(2).collect::<Vec<_>>().join("/")
            };
            s.authorize(&caller, "logging.logEntries.list", &project)
                .await?;
        }
    }
    let out: Value = s.list_log_entries(&req).await?;
    Ok(ok(&out))
}
