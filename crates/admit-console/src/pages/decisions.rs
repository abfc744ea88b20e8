//! `/console/decisions`: the timeline of admission decisions, filtered by verdict, namespace,
//! image and period, with a chart of the filtered decisions per hour; each row links to its
//! "why".

use admit_store::AuditFilter;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::Value;

use super::enc;
use crate::auth::{Params, viewer};
use crate::layout::{Here, badge, failed, shell};
use crate::{Console, charts, records};

/// Rows shown at most.
const ROWS: usize = 500;

fn images(r: &Value) -> Vec<String> {
    r["images"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i["image"].as_str().map(str::to_owned))
        .collect()
}

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(c, "logging.logEntries.list", &format!("projects/{p}"))
        .await?;
    let get = |k: &str| {
        q.get(k)
            .map(String::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let (verdict, namespace, image) = (get("verdict"), get("namespace"), get("image"));
    let now = super::now_secs();
    let (since_text, since) = records::since(now, q.get("since"));
    let filter = AuditFilter {
        verdict: (!verdict.is_empty()).then(|| verdict.clone()),
        namespace: (!namespace.is_empty()).then(|| namespace.clone()),
        since: Some(since),
        ..AuditFilter::default()
    };
    let (recs, more) = records::read(&c.service, p, &filter)
        .await
        .map_err(|e| failed(&e))?;
    let shown: Vec<&Value> = recs
        .iter()
        .filter(|r| super::is_admission(r))
        .filter(|r| image.is_empty() || images(r).iter().any(|i| i.contains(image.as_str())))
        .collect();
    let secs = admit_model::parse_duration(&since_text).unwrap_or(86_400);
    let buckets = super::per_hour(
        &shown.iter().map(|r| (*r).clone()).collect::<Vec<_>>(),
        &super::hours(now, secs.div_ceil(3600).clamp(1, 168)),
    );
    let here = Here {
        path: "/console/decisions",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    Ok(shell(
        StatusCode::OK,
        "Decisions",
        Some(here),
        &html! {
            form.filters method="get" {
                input type="hidden" name="project" value=(p);
                label { "Verdict"
                    select name="verdict" {
                        option value="" { "any" }
                        @for o in ["ALLOWED", "DENIED", "DRY_RUN", "BREAKGLASS", "ERROR_DENIED"] {
                            option value=(o) selected[o == verdict] { (o) }
                        }
                    }
                }
                label { "Namespace" input name="namespace" value=(namespace); }
                label { "Image contains" input name="image" value=(image); }
                label { "Period" input name="since" value=(since_text) size="5"; }
                button type="submit" { "Filter" }
            }
            div.card {
                h2 { "Per hour" }
                (charts::stacked("filtered-over-time", &buckets))
            }
            p.muted #count { (shown.len()) " decisions"
                @if shown.len() > ROWS { ", the newest " (ROWS) " shown" }
                @if more { " (only the newest " (records::SCAN) " records were read)" } }
            table #decisions {
                thead { tr { th { "Time" } th { "Verdict" } th { "Namespace" } th { "Workload" } th { "Images" } th { "User" } th {} } }
                tbody {
                    @for r in shown.iter().take(ROWS) {
                        @let imgs = images(r);
                        tr.decision {
                            td.mono { (records::s(r, "time")) }
                            td.verdict { (badge(records::s(r, "verdict"))) }
                            td { (records::s(r, "namespace")) }
                            td { (records::s(r, "kind")) "/" (records::s(r, "name")) }
                            td.mono { @for i in &imgs { div { (i) } } }
                            td { (records::s(r, "user")) }
                            td { a.why href={ "/console/decision?project=" (enc(p)) "&time=" (enc(records::s(r, "time"))) "&uid=" (enc(records::s(r, "uid"))) } { "why" } }
                        }
                    }
                }
            }
        },
    ))
}

pub(crate) async fn page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    render(&c, &headers, &q).await.unwrap_or_else(|r| r)
}
