//! `/console/images`: the vulnerability picture — every scanned image with its counts by
//! severity, and for one image its vulnerabilities (a chart by severity and the list) and the
//! attestations that name it.

use admit_store::{OccurrenceScope, Page};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::Value;

use super::enc;
use crate::auth::{Params, viewer};
use crate::layout::{Here, failed, shell};
use crate::{Console, charts};

const SEVERITIES: [&str; 6] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "MINIMAL",
    "SEVERITY_UNSPECIFIED",
];

fn strip(uri: &str) -> &str {
    uri.split_once("://").map_or(uri, |(_, r)| r)
}

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(
        c,
        "containeranalysis.occurrences.list",
        &format!("projects/{p}"),
    )
    .await?;
    let here = Here {
        path: "/console/images",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    let image = q
        .get("image")
        .map(|i| i.trim().to_owned())
        .unwrap_or_default();
    if image.is_empty() {
        let summary = c
            .service
            .vulnerability_summary(p, "")
            .await
            .map_err(|e| failed(&e))?;
        let mut rows: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
            std::collections::BTreeMap::new();
        for cnt in summary["counts"].as_array().cloned().unwrap_or_default() {
            let uri = strip(cnt["resourceUri"].as_str().unwrap_or_default()).to_owned();
            let sev = cnt["severity"].as_str().unwrap_or("TOTAL").to_owned();
            let n = cnt["totalCount"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .or_else(|| cnt["totalCount"].as_u64())
                .unwrap_or(0);
            *rows.entry(uri).or_default().entry(sev).or_default() += n;
        }
        return Ok(shell(
            StatusCode::OK,
            "Images",
            Some(here),
            &html! {
                form.filters method="get" {
                    input type="hidden" name="project" value=(p);
                    label { "Image (REPOSITORY@sha256:…)" input name="image" size="70"; }
                    button type="submit" { "Show" }
                }
                @if rows.is_empty() { p.muted { "No vulnerability scan imported yet (" code { "admit vulns import" } ")." } }
                table #scanned {
                    thead { tr { th { "Image" } @for s in &SEVERITIES[..4] { th { (s) } } th { "Total" } } }
                    tbody {
                        @for (uri, by) in &rows {
                            tr.image {
                                td.mono { a href={ "/console/images?project=" (enc(p)) "&image=" (enc(uri)) } { (uri) } }
                                @for s in &SEVERITIES[..4] { td { (by.get(*s).copied().unwrap_or(0)) } }
                                td { (by.get("TOTAL").copied().unwrap_or_else(|| by.values().sum())) }
                            }
                        }
                    }
                }
            },
        ));
    }
    let digest = image
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let list = |kind: &'static str| {
        let filter = format!("kind = \"{kind}\" AND has_suffix(resourceUrl, \"{digest}\")");
        let svc = c.service.clone();
        let scope = OccurrenceScope::Project(p.clone());
        async move {
            svc.list_occurrences(
                &scope,
                &filter,
                &Page {
                    size: Page::MAX_SIZE,
                    token: None,
                },
            )
            .await
            .map(|l| l.items)
        }
    };
    let same = |o: &Value| strip(o["resourceUri"].as_str().unwrap_or_default()) == strip(&image);
    let vulns: Vec<Value> = list("VULNERABILITY")
        .await
        .map_err(|e| failed(&e))?
        .into_iter()
        .filter(same)
        .collect();
    let attestations: Vec<Value> = list("ATTESTATION")
        .await
        .map_err(|e| failed(&e))?
        .into_iter()
        .filter(same)
        .collect();
    let mut by: Vec<(String, u64)> = SEVERITIES.iter().map(|s| ((*s).to_owned(), 0)).collect();
    for vu in &vulns {
        let sev = vu["vulnerability"]["effectiveSeverity"]
            .as_str()
            .or_else(|| vu["vulnerability"]["severity"].as_str())
            .unwrap_or("SEVERITY_UNSPECIFIED");
        if let Some(e) = by.iter_mut().find(|(s, _)| s == sev) {
            e.1 += 1;
        }
    }
    by.retain(|(s, n)| *n > 0 || s != "SEVERITY_UNSPECIFIED");
    Ok(shell(
        StatusCode::OK,
        "Image",
        Some(here),
        &html! {
            p.mono #image { (image) }
            div.card {
                h2 { "Vulnerabilities by severity" }
                (charts::bars("vulns-by-severity", &by, "#c0362c"))
            }
            table #vulnerabilities {
                thead { tr { th { "CVE" } th { "Severity" } th { "Package" } th { "Fixed in" } } }
                tbody {
                    @for vu in &vulns {
                        @let vv = &vu["vulnerability"];
                        @let pkg = &vv["packageIssue"][0];
                        tr.vulnerability {
                            td.mono { (vu["noteName"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default()) }
                            td { (vv["effectiveSeverity"].as_str().or_else(|| vv["severity"].as_str()).unwrap_or_default()) }
                            td { (pkg["affectedPackage"].as_str().unwrap_or_default()) " " (pkg["affectedVersion"]["fullName"].as_str().unwrap_or_default()) }
                            td { (pkg["fixedVersion"]["fullName"].as_str().unwrap_or(if vv["fixAvailable"] == true { "yes" } else { "no fix" })) }
                        }
                    }
                }
            }
            h2 { "Attestations (" (attestations.len()) ")" }
            table #image-attestations {
                thead { tr { th { "Note" } th { "Created" } } }
                tbody { @for a in &attestations { tr { td.mono { (a["noteName"].as_str().unwrap_or_default()) } td.mono { (a["createTime"].as_str().unwrap_or_default()) } } } }
            }
        },
    ))
}

pub(crate) async fn page(State(c): State<Console>, headers: HeaderMap, q: Params) -> Response {
    render(&c, &headers, &q).await.unwrap_or_else(|r| r)
}
