//! Who is looking: the bearer token from the console's cookie (or an Authorization header),
//! authenticated as the API does, and each page's permission checked with the API's IAM.

use std::collections::HashMap;

use admit_service::{Caller, Code};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::Console;
use crate::layout;

/// The cookie holding the token.
const COOKIE: &str = "admit_console";

/// An authenticated visitor and the project they look at.
#[derive(Debug)]
pub(crate) struct Viewer {
    pub(crate) caller: Caller,
    pub(crate) project: String,
}

fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(a) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return a.strip_prefix("Bearer ").map(str::to_owned);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The visitor, or the page to answer instead (sign in, or pick a project).
pub(crate) fn viewer(
    c: &Console,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Viewer, Response> {
    let bearer = token(headers).map(|t| format!("Bearer {t}"));
    let caller = c
        .service
        .authenticate(bearer.as_deref())
        .map_err(|e| refused(StatusCode::UNAUTHORIZED, &e.message))?;
    if c.service.access_enforced() && caller.principal.is_none() {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "sign in with a token to see this server's console",
        ));
    }
    let project = query
        .get("project")
        .filter(|p| !p.is_empty())
        .cloned()
        .or_else(|| c.default_project.clone())
        .ok_or_else(|| {
            layout::shell(
                StatusCode::OK,
                "Choose a project",
                None,
                &html! {
                    form method="get" {
                        label { "Project " input name="project" required; }
                        button { "Open" }
                    }
                },
            )
        })?;
    if admit_model::ProjectId::parse(&project).is_err() {
        return Err(layout::shell(
            StatusCode::BAD_REQUEST,
            "Bad project",
            None,
            &html! { p { "`" (project) "` is not a project id." } },
        ));
    }
    Ok(Viewer { caller, project })
}

impl Viewer {
    /// Checks one permission; the refusal page otherwise.
    pub(crate) async fn may(
        &self,
        c: &Console,
        permission: &str,
        resource: &str,
    ) -> Result<(), Response> {
        c.service
            .authorize(&self.caller, permission, resource)
            .await
            .map_err(|e| {
                let status = if e.code == Code::Unauthenticated {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                refused(status, &e.message)
            })
    }
}

/// The sign-in page, with why the visitor is here.
fn refused(status: StatusCode, why: &str) -> Response {
    layout::shell(
        status,
        "Sign in",
        None,
        &html! {
            p.refused { (why) }
            (login_form())
        },
    )
}

fn login_form() -> maud::Markup {
    html! {
        form.login method="post" action="/console/login" {
            label { "Token " input type="password" name="token" autocomplete="off" required; }
            button type="submit" { "Sign in" }
        }
        p.hint { "A token of this server's --token-file, or an OIDC ID token it accepts." }
    }
}

pub(crate) async fn login_page() -> Response {
    layout::shell(StatusCode::OK, "Sign in", None, &login_form())
}

/// `token=…` from the form: checked now, then kept in the cookie.
pub(crate) async fn login(State(c): State<Console>, body: Bytes) -> Response {
    let form = String::from_utf8_lossy(&body);
    let token = form
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .trim()
                .to_owned()
        })
        .unwrap_or_default();
    // A cookie value must not carry separators; a token never does.
    if token.is_empty() || token.contains([';', ',', ' ', '"']) {
        return refused(StatusCode::UNAUTHORIZED, "that is not a token");
    }
    match c.service.authenticate(Some(&format!("Bearer {token}"))) {
        Ok(caller) if caller.principal.is_some() || !c.service.access_enforced() => (
            [(
                header::SET_COOKIE,
                format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict"),
            )],
            Redirect::to("/console"),
        )
            .into_response(),
        Ok(_) => refused(StatusCode::UNAUTHORIZED, "the token names nobody"),
        Err(e) => refused(StatusCode::UNAUTHORIZED, &e.message),
    }
}

pub(crate) async fn logout() -> Response {
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Redirect::to("/console/login"),
    )
        .into_response()
}

/// The query string as a map (every page takes `project` and its filters).
pub(crate) type Params = Query<HashMap<String, String>>;
