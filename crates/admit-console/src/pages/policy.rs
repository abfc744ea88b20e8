//! `/console/policy`: the project's policy as `gcloud … policy export` shows it, and its change
//! history from the audit log (who changed it, when).

use admit_store::AuditFilter;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

use crate::auth::{Params, viewer};
use crate::layout::{Here, failed, shell};
use crate::{Console, records};

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    let name = format!("projects/{p}/policy");
    v.may(c, "binaryauthorization.policy.get", &name).await?;
    let policy = c.service.get_policy(p).await.map_err(|e| failed(&e))?;
    let yaml = serde_json::to_value(&policy)
        .ok()
        .and_then(|v| admit_model::to_yaml(&v).ok())
        .unwrap_or_default();
    let history = if c
        .service
        .authorize(
            &v.caller,
            "logging.logEntries.list",
            &format!("projects/{p}"),
        )
        .await
        .is_ok()
    {
        let filter = AuditFilter {
            verdict: Some("ADMIN_CHANGE".into()),
            ..AuditFilter::default()
        };
        let (recs, _) = records::read(&c.service, p, &filter)
            .await
            .map_err(|e| failed(&e))?;
        Some(
            recs.into_iter()
                .filter(|r| records::s(r, "name") == name)
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let here = Here {
        path: "/console/policy",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    Ok(shell(
        StatusCode::OK,
        "Policy",
        Some(here),
        &html! {
            div.card {
                p.muted { (name) @if let Some(t) = &policy.update_time { " · updated " (t) } }
                pre #policy { (yaml) }
                p { a href={ "/console/simulate?project=" (p) } { "Try a change in the simulator" } }
            }
            h2 { "Changes" }
            @match &history {
                None => p.muted { "Reading the change history needs logging.logEntries.list." },
                Some(h) if h.is_empty() => p.muted { "No change recorded (records older than the audit retention are gone)." },
                Some(h) => table #history {
                    thead { tr { th { "Time" } th { "By" } th { "Change" } } }
                    tbody { @for r in h { tr { td.mono { (records::s(r, "time")) } td { (records::s(r, "user")) } td { (records::s(r, "permission")) } } } }
                },
            }
        },
    ))
}

pub(crate) async fn page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    render(&c, &headers, &q).await.unwrap_or_else(|r| r)
}
