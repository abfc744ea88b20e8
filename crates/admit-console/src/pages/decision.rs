//! `/console/decision?time=T&uid=U`: why one decision went as it did — the rule that applied to
//! each image, the attestors it required and every failure (which attestor, which key, what
//! exactly), breakglass and dry run.

use admit_store::AuditFilter;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::Value;

use crate::auth::{Params, viewer};
use crate::layout::{Here, badge, failed, shell};
use crate::{Console, records};

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(c, "logging.logEntries.list", &format!("projects/{p}"))
        .await?;
    let time = q.get("time").cloned().unwrap_or_default();
    let uid = q.get("uid").cloned().unwrap_or_default();
    let filter = AuditFilter {
        since: Some(time.clone()),
        until: Some(time.clone()),
        ..AuditFilter::default()
    };
    let (recs, _) = records::read(&c.service, p, &filter)
        .await
        .map_err(|e| failed(&e))?;
    let here = Here {
        path: "/console/decisions",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    let Some(r) = recs.iter().find(|r| records::s(r, "uid") == uid) else {
        return Ok(shell(
            StatusCode::NOT_FOUND,
            "Decision not found",
            Some(here),
            &html! { p { "No decision " (uid) " at " (time) " in project " (p) "." } },
        ));
    };
    let imgs = r["images"].as_array().cloned().unwrap_or_default();
    Ok(shell(
        StatusCode::OK,
        "Why",
        Some(here),
        &html! {
            div.card #summary {
                p { (badge(records::s(r, "verdict"))) " "
                    strong { (records::s(r, "kind")) " " (records::s(r, "namespace")) "/" (records::s(r, "name")) }
                    " · " (records::s(r, "operation")) " by " (records::s(r, "user"))
                    " · " span.mono { (records::s(r, "time")) } }
                @if !records::s(r, "reason").is_empty() {
                    p #reason { (records::s(r, "reason")) }
                }
                @if r["dryRun"] == true { p { "A dry-run rule would have denied: the workload was admitted and this recorded." } }
                @if let Some(b) = r.get("breakglassUse").filter(|b| b.is_object()) {
                    p #breakglass { "Breakglass by " (records::s(b, "user"))
                        @if let Some(j) = b["justification"].as_str() { ": “" (j) "”" }
                        @if let Some(t) = b["ticket"].as_str() { " (ticket " (t) ")" }
                        @if let Some(u) = b["until"].as_str() { ", until " (u) } }
                }
            }
            table #images {
                thead { tr { th { "Image" } th { "Verdict" } th { "Rule" } th { "Why" } } }
                tbody {
                    @for i in &imgs {
                        tr.image {
                            td.mono { (records::s(i, "image"))
                                @if let Some(d) = i["resolved"].as_str().filter(|d| *d != records::s(i, "image")) { div.muted { "resolved: " (d) } } }
                            td { (badge(records::s(i, "verdict"))) }
                            td { (rule(&i["rule"])) }
                            td {
                                @let failures = i["failures"].as_array().cloned().unwrap_or_default();
                                @let satisfied = i["satisfiedBy"].as_array().cloned().unwrap_or_default();
                                @if failures.is_empty() && satisfied.is_empty() { span.muted { "no failure" } }
                                ul.satisfied-by {
                                    @for s in &satisfied {
                                        li.satisfied {
                                            strong { (records::s(s, "attestor")) } " satisfied by "
                                            span.mono { (records::s(s, "occurrence")) }
                                            " (key " span.mono { (records::s(s, "keyId")) } ")"
                                        }
                                    }
                                }
                                ul.failures {
                                    @for f in &failures {
                                        li.failure {
                                            @if let Some(a) = f["attestor"].as_str() { strong { (a) } ": " }
                                            (records::s(f, "message"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn rule(r: &Value) -> maud::Markup {
    html! {
        (records::s(r, "scope"))
        @if let Some(m) = r["evaluationMode"].as_str() { div.muted { (m) } }
        @if let Some(m) = r["enforcementMode"].as_str() { div.muted { (m) } }
    }
}

pub(crate) async fn page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    render(&c, &headers, &q).await.unwrap_or_else(|r| r)
}
