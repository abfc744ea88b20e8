//! `/console/violations`: running pods that violate a policy now (continuous validation's
//! latest finding per pod and policy), a chart of them by namespace, the history of findings,
//! and every breakglass use.

use std::collections::BTreeMap;

use admit_store::AuditFilter;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::Value;

use crate::auth::{Params, viewer};
use crate::layout::{Here, badge, failed, shell};
use crate::{Console, charts, records};

fn policy_of(r: &Value) -> &str {
    r.pointer("/continuousValidation/podEvent/policyName")
        .and_then(Value::as_str)
        .unwrap_or("(configuration)")
}

/// The newest finding per (namespace, pod, policy) among `recs` (newest first) that is still a
/// violation.
pub(crate) fn current_violations(recs: &[Value]) -> Vec<Value> {
    let mut latest: BTreeMap<(String, String, String), &Value> = BTreeMap::new();
    for r in recs
        .iter()
        .filter(|r| records::s(r, "verdict").starts_with("CV_"))
    {
        let key = (
            records::s(r, "namespace").to_owned(),
            records::s(r, "name").to_owned(),
            policy_of(r).to_owned(),
        );
        latest.entry(key).or_insert(r);
    }
    latest
        .into_values()
        .filter(|r| records::s(r, "verdict") != "CV_CONFORMANT")
        .cloned()
        .collect()
}

fn why(r: &Value) -> Vec<String> {
    let e = &r["continuousValidation"];
    if let Some(d) = e
        .pointer("/configErrorEvent/description")
        .and_then(Value::as_str)
    {
        return vec![d.to_owned()];
    }
    e.pointer("/podEvent/images")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|i| i["result"] == "DENY")
        .map(|i| {
            format!(
                "{}: {}",
                records::s(i, "image"),
                records::s(i, "description")
            )
        })
        .collect()
}

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(c, "logging.logEntries.list", &format!("projects/{p}"))
        .await?;
    let (since_text, since) =
        records::since(super::now_secs(), q.get("since").or(Some(&"7d".to_owned())));
    let filter = AuditFilter {
        since: Some(since),
        ..AuditFilter::default()
    };
    let (recs, _) = records::read(&c.service, p, &filter)
        .await
        .map_err(|e| failed(&e))?;
    let now = current_violations(&recs);
    let mut by_ns: BTreeMap<String, u64> = BTreeMap::new();
    for r in &now {
        *by_ns
            .entry(records::s(r, "namespace").to_owned())
            .or_default() += 1;
    }
    let by_ns: Vec<(String, u64)> = by_ns.into_iter().collect();
    let glass: Vec<&Value> = recs
        .iter()
        .filter(|r| records::s(r, "verdict") == "BREAKGLASS")
        .collect();
    let here = Here {
        path: "/console/violations",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    Ok(shell(
        StatusCode::OK,
        "Violations",
        Some(here),
        &html! {
            p.muted { "Continuous validation's findings and breakglass uses of the last " (since_text) "." }
            div.card {
                h2 { "Violating pods by namespace" }
                (charts::bars("violations-by-namespace", &by_ns, "#c0362c"))
            }
            h2 { "Violating now (" (now.len()) ")" }
            table #violating {
                thead { tr { th { "Since" } th { "Namespace" } th { "Pod" } th { "Policy" } th { "Why" } } }
                tbody { @for r in &now { tr.violation {
                    td.mono { (records::s(r, "time")) }
                    td { (records::s(r, "namespace")) }
                    td { (records::s(r, "name")) @if let Some(g) = r["breakglassStatus"].as_str() { div.muted { (g) } } }
                    td.mono { (policy_of(r)) }
                    td { @for w in why(r) { div { (w) } } }
                } } }
            }
            h2 { "Breakglass uses (" (glass.len()) ")" }
            table #breakglass {
                thead { tr { th { "Time" } th { "Namespace" } th { "Workload" } th { "Who" } th { "Why" } th { "Until" } } }
                tbody { @for r in &glass {
                    @let b = &r["breakglassUse"];
                    tr.glass {
                        td.mono { (records::s(r, "time")) }
                        td { (records::s(r, "namespace")) }
                        td { (records::s(r, "kind")) "/" (records::s(r, "name")) }
                        td { (b["user"].as_str().unwrap_or(records::s(r, "user"))) }
                        td { (b["justification"].as_str().unwrap_or("")) @if let Some(t) = b["ticket"].as_str() { " (" (t) ")" } }
                        td.mono { (b["until"].as_str().unwrap_or("")) }
                    }
                } }
            }
            h2 { "Findings" }
            table #findings {
                thead { tr { th { "Time" } th { "Finding" } th { "Pod" } th { "Policy" } } }
                tbody { @for r in recs.iter().filter(|r| records::s(r, "verdict").starts_with("CV_")).take(200) { tr {
                    td.mono { (records::s(r, "time")) }
                    td { (badge(records::s(r, "verdict"))) }
                    td { (records::s(r, "namespace")) "/" (records::s(r, "name")) }
                    td.mono { (policy_of(r)) }
                } } }
            }
        },
    ))
}

pub(crate) async fn page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    render(&c, &headers, &q).await.unwrap_or_else(|r| r)
}
