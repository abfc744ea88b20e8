//! `admit policy simulate PROPOSED [--since 24h]`: what a proposed policy would change, from
//! the server's `policy:simulate` (an admit extension). A table by default, the server's JSON
//! with `--format json`. Exit 2 when the proposed policy would deny anything the current one
//! admits, 0 otherwise.

use std::path::Path;

use admit_model::{Format as DocFormat, Policy, decode};
use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, Format};
use crate::Outcome;

pub(crate) async fn run(c: &Client, file: &Path, since: &str) -> Result<Outcome> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let format = DocFormat::from_path_or_sniff(&file.to_string_lossy(), &text);
    let policy: Policy = decode(&text, format).with_context(|| file.display().to_string())?;
    let project = c.project()?;
    let v = c
        .call(
            Method::POST,
            &format!("v1/projects/{project}/policy:simulate"),
            &[],
            Some(&json!({"policy": policy, "since": since})),
        )
        .await?;
    if c.format == Format::Json {
        crate::offline::stdout_write(&admit_model::to_json_pretty(&v)?)?;
    } else {
        crate::offline::stdout_write(&render(&v))?;
    }
    let denies = ["running", "admissions"].iter().any(|k| {
        v[*k]["newlyDenied"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    Ok(if denies { Outcome::Denied } else { Outcome::Ok })
}

fn rows(section: &Value, admissions: bool) -> Vec<[String; 6]> {
    let mut out = Vec::new();
    for key in ["newlyDenied", "newlyAllowed"] {
        for i in section[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            let images: Vec<&str> = i["images"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let mut name = format!("{}/{}", s("kind"), s("name"));
            if admissions {
                name.push_str(&format!(" (×{})", i["admissions"].as_u64().unwrap_or(1)));
            }
            let why: Vec<&str> = i["why"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            out.push([
                s("change"),
                s("namespace"),
                name,
                images.join(","),
                format!("{} → {}", s("current"), s("proposed")),
                why.join("; "),
            ]);
        }
    }
    out
}

fn table(rows: &[[String; 6]]) -> String {
    let header = [
        "CHANGE",
        "NAMESPACE",
        "WORKLOAD",
        "IMAGES",
        "VERDICT",
        "WHY",
    ]
    .map(str::to_owned);
    let width = |c: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..5).map(width).collect();
    let mut out = String::new();
    for r in std::iter::once(&header).chain(rows) {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        ));
    }
    out
}

fn render(v: &Value) -> String {
    let mut out = String::new();
    let running = &v["running"];
    if let Some(note) = running["note"].as_str() {
        out.push_str(&format!("Running workloads: not evaluated ({note}).\n"));
    } else {
        let r = rows(running, false);
        out.push_str(&format!(
            "Running workloads: {} evaluated, {} would change.\n",
            running["evaluated"].as_u64().unwrap_or(0),
            r.len()
        ));
        if !r.is_empty() {
            out.push_str(&table(&r));
        }
    }
    let adm = &v["admissions"];
    let r = rows(adm, true);
    out.push_str(&format!(
        "\nAdmissions since {}: {} records, {} distinct workloads evaluated, {} would change.\n",
        adm["since"].as_str().unwrap_or_default(),
        adm["records"].as_u64().unwrap_or(0),
        adm["evaluated"].as_u64().unwrap_or(0),
        r.len()
    ));
    if let Some(t) = adm["truncated"].as_str() {
        out.push_str(&format!("({t})\n"));
    }
    if !r.is_empty() {
        out.push_str(&table(&r));
    }
    out
}
