//! The web console at `/console`: server-rendered HTML (maud, no JavaScript) over the
//! service's read use cases, behind the same authentication and IAM as the API — a decisions
//! timeline with filters and each decision's "why", the policy with its change history and the
//! simulator's diff, attestors with their keys and attestations, the vulnerability picture per
//! image, continuous-validation violations and breakglass uses, with SVG charts of decisions
//! over time and violations by namespace.
//!
//! A browser signs in with a bearer token (the API's `--token-file` tokens or an OIDC JWT),
//! kept in an HttpOnly, SameSite=Strict cookie scoped to `/console`; with access control off
//! (a laptop) every visitor is let in, as on the API. Must not depend on storage backends, the
//! webhook, Kubernetes or the binary.

#![allow(
    clippy::result_large_err,
    reason = "a handler's refusal is the page it answers with, built once per request"
)]

mod auth;
mod charts;
mod layout;
mod pages;
mod records;

use std::sync::Arc;

use admit_service::Service;
use axum::Router;
use axum::routing::{get, post};

/// What every page handler shares.
#[derive(Debug, Clone)]
struct Console {
    service: Arc<Service>,
    /// The project shown when the URL names none (`admit serve --project`).
    default_project: Option<String>,
}

/// The console's routes, to merge into the API server's router (they authenticate
/// themselves: they sit outside the API's authorization layer).
pub fn routes(service: Arc<Service>, default_project: Option<String>) -> Router {
    Router::new()
        .route("/console", get(pages::overview::page))
        .route("/console/login", get(auth::login_page).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/decisions", get(pages::decisions::page))
        .route("/console/decision", get(pages::decision::page))
        .route("/console/policy", get(pages::policy::page))
        .route(
            "/console/simulate",
            get(pages::simulate::form_page).post(pages::simulate::run),
        )
        .route("/console/attestors", get(pages::attestors::page))
        .route("/console/images", get(pages::images::page))
        .route("/console/violations", get(pages::violations::page))
        .route("/console/console.css", get(layout::css))
        .with_state(Console {
            service,
            default_project,
        })
}
