//! `locations/{l}/policy`: the system policy.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::extract::ok;
use crate::{ApiError, AppState};

pub(super) async fn get(
    State(s): State<AppState>,
    Path(location): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.get_system_policy(&location)?))
}
