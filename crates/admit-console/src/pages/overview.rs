//! `/console`: the last 24 hours at a glance — decisions per hour by verdict, current
//! continuous-validation violations by namespace, and the totals.

use std::collections::BTreeMap;

use admit_store::AuditFilter;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

use crate::auth::{Params, viewer};
use crate::layout::{Here, badge, failed, shell};
use crate::pages::violations::current_violations;
use crate::{Console, charts, records};

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(c, "logging.logEntries.list", &format!("projects/{p}"))
        .await?;
    let now = super::now_secs();
    let filter = AuditFilter {
        since: Some(admit_model::rfc3339(now.saturating_sub(86_400), 0)),
        ..AuditFilter::default()
    };
    let (recs, more) = records::read(&c.service, p, &filter)
        .await
        .map_err(|e| failed(&e))?;
    let admissions: Vec<_> = recs
        .iter()
        .filter(|r| super::is_admission(r))
        .cloned()
        .collect();
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &admissions {
        *totals.entry(records::s(r, "verdict")).or_default() += 1;
    }
    let buckets = super::per_hour(&admissions, &super::hours(now, 24));
    let violating = current_violations(&recs);
    let mut by_ns: BTreeMap<String, u64> = BTreeMap::new();
    for r in &violating {
        *by_ns
            .entry(records::s(r, "namespace").to_owned())
            .or_default() += 1;
    }
    let by_ns: Vec<(String, u64)> = by_ns.into_iter().collect();
    let here = Here {
        path: "/console",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    Ok(shell(
        StatusCode::OK,
        "Overview",
        Some(here),
        &html! {
            div.row {
                @for verdict in ["ALLOWED", "DENIED", "DRY_RUN", "BREAKGLASS", "ERROR_DENIED"] {
                    div.card {
                        div.stat data-total=(verdict) { (totals.get(verdict).copied().unwrap_or(0)) }
                        div.stat-label { (badge(verdict)) " in the last 24 hours" }
                    }
                }
            }
            div.card {
                h2 { "Decisions per hour, last 24 hours" }
                (charts::stacked("decisions-over-time", &buckets))
                @if more { p.muted { "Only the newest " (records::SCAN) " records were read." } }
            }
            div.card {
                h2 { "Running pods violating a policy, by namespace" }
                (charts::bars("violations-by-namespace", &by_ns, "#c0362c"))
                p.muted { a href={ "/console/violations?project=" (p) } { "Every violation" } }
            }
        },
    ))
}

pub(crate) async fn page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    render(&c, &headers, &q).await.unwrap_or_else(|r| r)
}
