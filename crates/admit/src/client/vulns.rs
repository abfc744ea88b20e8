//! `admit vulns import`: a Trivy or Grype report for one image digest becomes Grafeas
//! VULNERABILITY occurrences (and the CVE notes they need) plus a DISCOVERY occurrence saying
//! the analysis finished, which is what the signer waits for and admission reads.
//!
//! Re-importing replaces: the new findings are created in one batch first, then the image's
//! previous VULNERABILITY occurrences are deleted, so at no moment does the server hold fewer
//! findings than either scan found.

use std::path::PathBuf;

use admit_model::{ScanFormat, parse_scan_report};
use admit_policy::ImageRef;
use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::Client;

/// The note DISCOVERY occurrences for vulnerability scans hang off, as in Container Analysis.
pub(crate) const DISCOVERY_NOTE: &str = "projects/goog-analysis/notes/PACKAGE_VULNERABILITY";

#[derive(Debug, Subcommand)]
pub(crate) enum VulnsCommand {
    /// Import a scanner report for IMAGE (a digest reference) into the current project.
    Import {
        /// The report (`trivy image -f json`, or `grype -o json`).
        report: PathBuf,
        /// Report format: trivy or grype.
        #[arg(long)]
        format: String,
        /// The image scanned, as REPOSITORY@sha256:DIGEST.
        #[arg(long)]
        image: String,
        /// Project holding the CVE notes.
        #[arg(long, default_value = "goog-vulnz")]
        note_project: String,
    },
}

/// `https://` + the image as written (Container Analysis' resourceUri form), or an error when
/// the reference is not pinned by digest.
pub(crate) fn resource_uri(image: &str) -> Result<String> {
    let bare = image.split_once("://").map_or(image, |(_, r)| r);
    let r = ImageRef::parse(bare).with_context(|| format!("image `{image}`"))?;
    if r.digest().is_none() {
        bail!("image `{image}` must be a digest reference (REPOSITORY@sha256:…)");
    }
    Ok(format!("https://{bare}"))
}

/// Occurrences of `kind` in `project` for exactly this image (same repository and digest).
pub(crate) async fn occurrences_for(
    c: &Client,
    project: &str,
    uri: &str,
    kind: &str,
) -> Result<Vec<Value>> {
    let digest = uri.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let filter = format!("kind = \"{kind}\" AND has_suffix(resourceUrl, \"{digest}\")");
    let canonical = |u: &str| {
        ImageRef::parse(u.split_once("://").map_or(u, |(_, r)| r))
            .ok()
            .map(|r| r.canonical())
    };
    let want = canonical(uri);
    Ok(c.list_all(
        &format!("v1/projects/{project}/occurrences"),
        "occurrences",
        &[("filter", &filter)],
    )
    .await?
    .into_iter()
    .filter(|o| want.is_some() && o["resourceUri"].as_str().and_then(canonical) == want)
    .collect())
}

/// Creates `note` (`projects/P/notes/N`) with `body` unless it exists.
pub(crate) async fn ensure_note(c: &Client, note: &str, body: &Value) -> Result<()> {
    let name = admit_model::NoteName::parse(note)?;
    let (parent, id) = (format!("projects/{}", name.project), name.note.as_str());
    match c.get(&format!("v1/{note}"), &[]).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().starts_with("NOT_FOUND") => {
            match c
                .call(
                    Method::POST,
                    &format!("v1/{parent}/notes"),
                    &[("noteId", id)],
                    Some(body),
                )
                .await
            {
                // Another importer won the race: fine.
                Err(e) if e.to_string().starts_with("ALREADY_EXISTS") => Ok(()),
                other => other.map(|_| ()),
            }
        }
        Err(e) => Err(e),
    }
}

pub(crate) async fn run(c: &Client, cmd: VulnsCommand) -> Result<()> {
    let VulnsCommand::Import {
        report,
        format,
        image,
        note_project,
    } = cmd;
    let format: ScanFormat = format.parse().map_err(anyhow::Error::msg)?;
    let project = c.project()?.to_owned();
    let uri = resource_uri(&image)?;
    let text = std::fs::read_to_string(&report).with_context(|| report.display().to_string())?;
    let import = parse_scan_report(format, &text, &uri, &note_project)
        .with_context(|| report.display().to_string())?;
    let mut notes = super::progress::Progress::new("vulns import: notes", import.notes.len());
    for (id, body) in &import.notes {
        ensure_note(c, &format!("projects/{note_project}/notes/{id}"), body).await?;
        notes.advance(1);
    }
    let before = occurrences_for(c, &project, &uri, "VULNERABILITY").await?;
    let mut created = 0;
    let mut written =
        super::progress::Progress::new("vulns import: occurrences", import.occurrences.len());
    for chunk in import.occurrences.chunks(500) {
        let v = c
            .call(
                Method::POST,
                &format!("v1/projects/{project}/occurrences:batchCreate"),
                &[],
                Some(&json!({"occurrences": chunk})),
            )
            .await?;
        created += v["occurrences"].as_array().map_or(0, Vec::len);
        written.advance(chunk.len());
    }
    for old in &before {
        if let Some(name) = old["name"].as_str() {
            c.call(Method::DELETE, &format!("v1/{name}"), &[], None)
                .await?;
        }
    }
    // The scan is finished: create or update the image's DISCOVERY occurrence.
    ensure_note(
        c,
        DISCOVERY_NOTE,
        &json!({"discovery": {"analysisKind": "VULNERABILITY"}}),
    )
    .await?;
    let discovery = json!({
        "analysisStatus": "FINISHED_SUCCESS",
        "continuousAnalysis": "ACTIVE",
        "analysisCompleted": {"analysisType": [import.scanner]},
    });
    match occurrences_for(c, &project, &uri, "DISCOVERY")
        .await?
        .first()
    {
        Some(d) => {
            c.call(
                Method::PATCH,
                &format!("v1/{}", d["name"].as_str().unwrap_or_default()),
                &[("updateMask", "discovery")],
                Some(&json!({"discovery": discovery})),
            )
            .await?;
        }
        None => {
            c.call(
                Method::POST,
                &format!("v1/projects/{project}/occurrences"),
                &[],
                Some(&json!({"resourceUri": uri, "noteName": DISCOVERY_NOTE, "kind": "DISCOVERY", "discovery": discovery})),
            )
            .await?;
        }
    }
    crate::offline::stdout_line(&format!(
        "imported {created} vulnerabilities ({} replaced) for {uri} from {}",
        before.len(),
        import.scanner
    ))
}
