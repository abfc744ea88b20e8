//! `admit policy import|export` (as `gcloud container binauthz policy import|export`).

use std::path::Path;

use admit_model::{Format as DocFormat, Policy, decode};
use anyhow::{Context as _, Result};
use reqwest::Method;

use super::Client;

pub(crate) async fn export(c: &Client) -> Result<()> {
    let v = c
        .get(&format!("v1/projects/{}/policy", c.project()?), &[])
        .await?;
    c.print(&v)
}

/// Parses the file strictly (as gcloud does), then PUTs it with `name` set.
pub(crate) async fn import(c: &Client, file: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let format = DocFormat::from_path_or_sniff(&file.to_string_lossy(), &text);
    let policy: Policy = decode(&text, format).with_context(|| file.display().to_string())?;
    let mut body = serde_json::to_value(&policy)?;
    let project = c.project()?;
    body["name"] = serde_json::Value::String(format!("projects/{project}/policy"));
    let v = c
        .call(
            Method::PUT,
            &format!("v1/projects/{project}/policy"),
            &[],
            Some(&body),
        )
        .await?;
    c.print(&v)
}
