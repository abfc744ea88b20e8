//! `admit images describe IMAGE`: what `gcloud container images describe` answers (the digest,
//! `image_summary`) plus what admit knows of the image: attestors satisfied or not, cosign
//! signatures, vulnerability counts, and the verdict of the current policy. Exit 0 when the
//! policy would admit it, 2 when it would deny it.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, Connection, Format};

#[derive(Debug, Subcommand)]
pub(crate) enum ImagesCommand {
    /// Describe one image (`REPO:TAG`, `REPO@sha256:…`; a tag is resolved at its registry by
    /// the server).
    Describe(DescribeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    image: String,
    /// The namespace the verdict is for (its namespace rules apply).
    #[arg(long, default_value = "default")]
    namespace: String,
    /// `yaml`, `json`, or gcloud's projections `get(a.b)` / `value(a.b)` (one field, bare).
    #[arg(long, default_value = "yaml")]
    format: String,
    #[command(flatten)]
    conn: Connection,
}

/// A projection path `a.b.c` out of `get(a.b.c)` or `value(a.b.c)`.
fn projection(format: &str) -> Option<&str> {
    ["get(", "value("]
        .iter()
        .find_map(|p| format.strip_prefix(p))
        .and_then(|rest| rest.strip_suffix(')'))
}

/// Runs the command; `Ok(true)` when the policy would admit the image.
pub(crate) async fn run(command: ImagesCommand) -> Result<bool> {
    let ImagesCommand::Describe(args) = command;
    let format = match args.format.as_str() {
        "yaml" => Format::Yaml,
        "json" => Format::Json,
        f if projection(f).is_some() => Format::Json,
        other => bail!("--format `{other}`: use yaml, json, get(FIELD.PATH) or value(FIELD.PATH)"),
    };
    let c = Client::connect(&args.conn, format)?;
    let project = c.project()?.to_owned();
    let v = c
        .call(
            Method::POST,
            &format!("/v1/projects/{project}/policy:describeImage"),
            &[],
            Some(&json!({"image": args.image, "namespace": args.namespace})),
        )
        .await?;
    match projection(&args.format) {
        Some(path) => {
            let mut at = &v;
            for part in path.split('.').filter(|p| !p.is_empty()) {
                at = &at[part];
            }
            let text = match at {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            crate::offline::stdout_line(&text)?;
        }
        None => c.print(&v)?,
    }
    Ok(v["verdict"]["verdict"] != "DENIED")
}
