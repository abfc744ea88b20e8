//! `/console/attestors`: every attestor of the project, its keys (id, algorithm, validity
//! window, revocation) and the attestations under its note.

use admit_store::{OccurrenceScope, Page};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde_json::Value;

use crate::Console;
use crate::auth::{Params, viewer};
use crate::layout::{Here, failed, shell};

/// Attestations listed per attestor at most.
const LISTED: u32 = 50;

async fn render(c: &Console, headers: &HeaderMap, q: &Params) -> Result<Response, Response> {
    let v = viewer(c, headers, q)?;
    let p = &v.project;
    v.may(
        c,
        "binaryauthorization.attestors.list",
        &format!("projects/{p}"),
    )
    .await?;
    let attestors = c
        .service
        .list_attestors(
            p,
            &Page {
                size: Page::MAX_SIZE,
                token: None,
            },
        )
        .await
        .map_err(|e| failed(&e))?
        .items;
    let mut sections = Vec::new();
    for a in &attestors {
        let note = a
            .user_owned_grafeas_note
            .as_ref()
            .map(|n| n.note_reference.clone())
            .unwrap_or_default();
        // Attestations are shown where the visitor may read the note's occurrences.
        let occs: Option<Vec<Value>> = if c
            .service
            .authorize(&v.caller, "containeranalysis.notes.listOccurrences", &note)
            .await
            .is_ok()
        {
            c.service
                .list_occurrences(
                    &OccurrenceScope::Note(note.clone()),
                    "kind = \"ATTESTATION\"",
                    &Page {
                        size: LISTED,
                        token: None,
                    },
                )
                .await
                .ok()
                .map(|l| l.items)
        } else {
            None
        };
        sections.push((a, note, occs));
    }
    let here = Here {
        path: "/console/attestors",
        project: p,
        principal: v.caller.principal.as_deref(),
    };
    Ok(shell(
        StatusCode::OK,
        "Attestors",
        Some(here),
        &html! {
            @if attestors.is_empty() { p.muted { "No attestor in project " (p) "." } }
            @for (a, note, occs) in &sections {
                div.card.attestor data-name=(a.name) {
                    h2 { (a.name) }
                    @if !a.description.is_empty() { p { (a.description) } }
                    p.muted { "note " span.mono { (note) } }
                    table.keys {
                        thead { tr { th { "Key id" } th { "Kind" } th { "Valid" } th { "Status" } } }
                        tbody {
                            @for k in a.user_owned_grafeas_note.iter().flat_map(|n| n.public_keys.iter()) {
                                @let revoked = a.admit_revoked_keys.iter().find(|r| r.key_id == k.id);
                                tr.key {
                                    td.mono { (k.id) }
                                    td { @if let Some(x) = &k.pkix_public_key { (format!("{:?}", x.signature_algorithm)) } @else { "OpenPGP" } }
                                    td { @if let Some(w) = &k.admit_validity {
                                        (w.not_before.as_deref().unwrap_or("…")) " – " (w.not_after.as_deref().unwrap_or("…")) } @else { "always" } }
                                    td { @if let Some(r) = revoked { span.refused { "revoked " (r.revoke_time) } @if !r.reason.is_empty() { " (" (r.reason) ")" } } @else { "in use" } }
                                }
                            }
                        }
                    }
                    @match occs {
                        None => p.muted { "Attestations: reading them needs containeranalysis.notes.listOccurrences on the note." },
                        Some(o) => {
                            h2 { "Attestations (" (o.len()) @if o.len() as u32 >= LISTED { "+" } ")" }
                            table.attestations {
                                thead { tr { th { "Image" } th { "Created" } th { "Signed by" } } }
                                tbody { @for occ in o { tr {
                                    td.mono { (occ["resourceUri"].as_str().unwrap_or_default()) }
                                    td.mono { (occ["createTime"].as_str().unwrap_or_default()) }
                                    td.mono { @for s in occ["attestation"]["signatures"].as_array().cloned().unwrap_or_default() { div { (s["publicKeyId"].as_str().unwrap_or_default()) } } }
                                } } }
                            }
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
