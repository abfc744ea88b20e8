//! IAM v1, the subset the seeds' `gcloud iam` commands call: service accounts (create, get,
//! list, patch, delete, get/setIamPolicy), custom roles at project level (create, get, list,
//! patch, delete, undelete) and `permissions:queryTestablePermissions`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use crate::extract::{
    Params, bool_param, list as list_response, object, ok, page, split_method, update_mask,
};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/projects/{project}/serviceAccounts",
            get(list_accounts).post(create_account),
        )
        .route(
            "/v1/projects/{project}/serviceAccounts/{account}",
            get(get_account)
                .patch(patch_account)
                .delete(delete_account)
                .post(account_custom),
        )
        .route(
            "/v1/projects/{project}/roles",
            get(list_roles).post(create_role),
        )
        .route(
            "/v1/projects/{project}/roles/{role}",
            get(get_role)
                .patch(patch_role)
                .delete(delete_role)
                .post(role_custom),
        )
        .route("/v1/permissions:queryTestablePermissions", post(testable))
}

fn plain<'a>(segment: &'a str, verb: &str) -> Result<&'a str, ApiError> {
    match split_method(segment) {
        (id, None) => Ok(id),
        (_, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with {verb}"
        ))),
    }
}

async fn create_account(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a CreateServiceAccountRequest")?;
    Ok(ok(&s.create_service_account(&project, &req).await?))
}

async fn list_accounts(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s.list_service_accounts(&project, &page(&q)?).await?;
    Ok(list_response("accounts", &l.items, l.next_page_token))
}

async fn get_account(
    State(s): State<AppState>,
    Path((project, account)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let name = s.service_account_name(&project, plain(&account, "GET")?)?;
    Ok(ok(&s.get_service_account(&name).await?))
}

async fn patch_account(
    State(s): State<AppState>,
    Path((project, account)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let name = s.service_account_name(&project, plain(&account, "PATCH")?)?;
    let req = object(&raw, "a PatchServiceAccountRequest")?;
    Ok(ok(&s.patch_service_account(&name, &req).await?))
}

async fn delete_account(
    State(s): State<AppState>,
    Path((project, account)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let name = s.service_account_name(&project, plain(&account, "DELETE")?)?;
    s.get_service_account(&name).await?;
    s.delete_service_account(&name).await?;
    Ok(ok(&serde_json::json!({})))
}

/// `:getIamPolicy` / `:setIamPolicy` / `:testIamPermissions` on a service account.
async fn account_custom(
    State(s): State<AppState>,
    Extension(caller): Extension<admit_service::Caller>,
    Path((project, account)): Path<(String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (email, method) = split_method(&account);
    let name = s.service_account_name(&project, email)?;
    s.get_service_account(&name).await?;
    let req = if raw.is_empty() {
        serde_json::json!({})
    } else {
        object(&raw, "a request message")?
    };
    crate::iam::dispatch(
        &s,
        &caller,
        "service account",
        &name,
        method.unwrap_or_default(),
        &req,
    )
    .await
}

async fn create_role(
    State(s): State<AppState>,
    Path(project): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req = object(&raw, "a CreateRoleRequest")?;
    Ok(ok(&s.create_role(&project, &req).await?))
}

async fn list_roles(
    State(s): State<AppState>,
    Path(project): Path<String>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s
        .list_roles(&project, bool_param(&q, "showDeleted")?, &page(&q)?)
        .await?;
    Ok(list_response("roles", &l.items, l.next_page_token))
}

async fn get_role(
    State(s): State<AppState>,
    Path((project, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = plain(&role, "GET")?;
    Ok(ok(&s
        .get_role(&format!("projects/{project}/roles/{id}"))
        .await?))
}

async fn patch_role(
    State(s): State<AppState>,
    Path((project, role)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id = plain(&role, "PATCH")?;
    let body = object(&raw, "a Role")?;
    Ok(ok(&s
        .patch_role(
            &format!("projects/{project}/roles/{id}"),
            &body,
            &update_mask(&q),
        )
        .await?))
}

async fn delete_role(
    State(s): State<AppState>,
    Path((project, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = plain(&role, "DELETE")?;
    Ok(ok(&s
        .delete_role(&format!("projects/{project}/roles/{id}"), true)
        .await?))
}

async fn role_custom(
    State(s): State<AppState>,
    Path((project, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match split_method(&role) {
        (id, Some("undelete")) => Ok(ok(&s
            .delete_role(&format!("projects/{project}/roles/{id}"), false)
            .await?)),
        (_, m) => Err(ApiError::not_found(format!(
            "unknown role method `{}`",
            m.unwrap_or_default()
        ))),
    }
}

async fn testable(raw: Bytes) -> Result<Response, ApiError> {
    object(&raw, "a QueryTestablePermissionsRequest")?;
    Ok(ok(&admit_service::testable_permissions()))
}
