//! `/console/simulate`: paste a proposed policy and see the simulator's diff — the running
//! workloads and audited admissions it would deny that the current policy admits, and the
//! reverse.

use std::collections::HashMap;

use admit_model::{Format, Policy};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use crate::Console;
use crate::auth::{Params, viewer};
use crate::layout::{Here, failed, shell};

fn form(p: &str, text: &str, since: &str) -> Markup {
    html! {
        form #simulate method="post" action={ "/console/simulate?project=" (p) } {
            label { "Proposed policy (YAML or JSON)" textarea name="policy" { (text) } }
            p { label { "Replay admissions of the last " input name="since" value=(since) size="5"; }
                " " button type="submit" { "Simulate" } }
        }
    }
}

fn changes(title: &str, id: &str, items: &Value) -> Markup {
    let rows = items.as_array().cloned().unwrap_or_default();
    html! {
        h2 { (title) " (" (rows.len()) ")" }
        @if rows.is_empty() { p.muted { "none" } } @else {
            table id=(id) {
                thead { tr { th { "Namespace" } th { "Workload" } th { "Images" } th { "Verdict" } th { "Why" } } }
                tbody {
                    @for r in &rows {
                        tr.change data-change=(r["change"].as_str().unwrap_or_default()) {
                            td { (r["namespace"].as_str().unwrap_or_default()) }
                            td { (r["kind"].as_str().unwrap_or_default()) "/" (r["name"].as_str().unwrap_or_default())
                                @if let Some(n) = r["admissions"].as_u64() { span.muted { " ×" (n) } } }
                            td.mono { @for i in r["images"].as_array().cloned().unwrap_or_default() { div { (i.as_str().unwrap_or_default()) } } }
                            td { (r["current"].as_str().unwrap_or_default()) " → " (r["proposed"].as_str().unwrap_or_default()) }
                            td { @for w in r["why"].as_array().cloned().unwrap_or_default() { div { (w.as_str().unwrap_or_default()) } } }
                        }
                    }
                }
            }
        }
    }
}

async fn shown(
    c: &Console,
    headers: &HeaderMap,
    q: &Params,
    body: Option<&Bytes>,
) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(
        c,
        "binaryauthorization.policy.get",
        &format!("projects/{p}/policy"),
    )
    .await?;
    let here = Here {
        path: "/console/simulate",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    let Some(body) = body else {
        let current = c.service.get_policy(p).await.map_err(|e| failed(&e))?;
        let mut value = serde_json::to_value(&current).unwrap_or_default();
        if let Some(o) = value.as_object_mut() {
            for k in ["name", "etag", "updateTime"] {
                o.remove(k);
            }
        }
        let yaml = admit_model::to_yaml(&value).unwrap_or_default();
        return Ok(shell(
            StatusCode::OK,
            "Simulate a policy change",
            Some(here),
            &form(p, &yaml, "24h"),
        ));
    };
    let fields: HashMap<String, String> = String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let d = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect();
    let text = fields.get("policy").cloned().unwrap_or_default();
    let since = fields.get("since").cloned().unwrap_or_else(|| "24h".into());
    let result = match admit_model::decode::<Policy>(&text, Format::sniff(&text)) {
        Err(e) => Err(format!("the proposed policy: {e}")),
        Ok(policy) => c
            .service
            .simulate_policy(p, &json!({"policy": policy, "since": since}))
            .await
            .map_err(|e| e.message),
    };
    let body = match result {
        Err(why) => html! { p.refused #error { (why) } (form(p, &text, &since)) },
        Ok(r) => html! {
            @if let Some(note) = r["running"]["note"].as_str() { p.muted { (note) } } @else {
                p.muted { "Running workloads evaluated: " (r["running"]["evaluated"]) }
                (changes("Running workloads newly denied", "running-denied", &r["running"]["newlyDenied"]))
                (changes("Running workloads newly allowed", "running-allowed", &r["running"]["newlyAllowed"]))
            }
            p.muted { "Admissions since " (r["admissions"]["since"].as_str().unwrap_or_default()) ": "
                (r["admissions"]["records"]) " records, " (r["admissions"]["evaluated"]) " distinct workloads" }
            (changes("Admissions newly denied", "admissions-denied", &r["admissions"]["newlyDenied"]))
            (changes("Admissions newly allowed", "admissions-allowed", &r["admissions"]["newlyAllowed"]))
            h2 { "Proposed policy" }
            (form(p, &text, &since))
        },
    };
    Ok(shell(
        StatusCode::OK,
        "Simulated policy change",
        Some(here),
        &body,
    ))
}

pub(crate) async fn form_page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    shown(&c, &headers, &q, None).await.unwrap_or_else(|r| r)
}

pub(crate) async fn run(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Params,
    body: Bytes,
) -> Response {
    shown(&c, &headers, &q, Some(&body))
        .await
        .unwrap_or_else(|r| r)
}
