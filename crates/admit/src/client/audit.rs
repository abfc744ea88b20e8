//! `admit audit list [--filter …]`: the audit log, read through the same Cloud Logging
//! `entries.list` query `gcloud logging read` uses. `--filter` is the Logging query language
//! over the `LogEntry` Google writes for each decision (seed 002's filters work verbatim);
//! admit's own record is `protoPayload.metadata`, and the short forms of earlier releases
//! (`verdict=DENIED AND namespace=prod`, fields verdict, namespace, cluster, kind, user,
//! breakglass, dryRun) are read as those fields of it.

use anyhow::Result;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, Format};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the server's on-disk audit log (offline, on the data directory): every record
    /// chained to the one before, every group commit's signed head. Exit 0 intact, 2 tampered
    /// (the first fault is named: file, line, what), 1 error.
    Verify(crate::audit_verify::VerifyArgs),
    /// List audit records (admission decisions and administrative changes), oldest first.
    List {
        /// A Logging query, e.g. `resource.type="k8s_cluster" protoPayload.response.reason="VIOLATES_POLICY"`
        /// or `"dry run"`; or the short form `verdict=DENIED AND namespace=prod` (verdict:
        /// ALLOWED, DENIED, DRY_RUN, BREAKGLASS, ERROR_DENIED, ADMIN_CHANGE).
        #[arg(long, default_value = "")]
        filter: String,
        /// Newest first.
        #[arg(long)]
        newest_first: bool,
        /// Print the Cloud Logging entries instead of admit's records.
        #[arg(long)]
        entries: bool,
        /// Print a table instead of YAML/JSON records.
        #[arg(long)]
        table: bool,
    },
}

const SHORT_FIELDS: &[&str] = &[
    "verdict",
    "namespace",
    "cluster",
    "kind",
    "user",
    "breakglass",
    "dryRun",
    "dry_run",
];

/// The short form of earlier releases (`field=value` terms joined by ` AND `, fields of
/// admit's record) as a Logging query over `protoPayload.metadata`; anything else unchanged.
fn logging_filter(filter: &str) -> String {
    let terms: Vec<&str> = filter
        .split(" AND ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let short: Option<Vec<String>> = terms
        .iter()
        .map(|t| {
            let (k, v) = t.split_once('=')?;
            let k = k.trim();
            let single = !v.trim().is_empty() && !v.trim().contains(char::is_whitespace);
            if !SHORT_FIELDS.contains(&k)
                || !single
                || v.contains(['"', '(', ')', ':', '<', '>', '!', '='])
            {
                return None;
            }
            let k = if k == "dry_run" { "dryRun" } else { k };
            let v = v.trim();
            Some(match k {
                "breakglass" | "dryRun" => format!("protoPayload.metadata.{k}={v}"),
                "verdict" => format!(
                    "protoPayload.metadata.verdict=\"{}\"",
                    v.to_ascii_uppercase()
                ),
                _ => format!("protoPayload.metadata.{k}=\"{v}\""),
            })
        })
        .collect();
    match short {
        Some(t) if !t.is_empty() => t.join(" AND "),
        _ => filter.to_owned(),
    }
}

pub(crate) async fn run(c: &Client, cmd: AuditCommand) -> Result<()> {
    let AuditCommand::List {
        filter,
        newest_first,
        entries,
        table,
    } = cmd
    else {
        anyhow::bail!("`admit audit verify` reads the data directory, not the server");
    };
    let order = if newest_first {
        "timestamp desc"
    } else {
        "timestamp asc"
    };
    let mut found = Vec::new();
    let mut token = String::new();
    loop {
        let mut req = json!({
            "resourceNames": [format!("projects/{}", c.project()?)],
            "filter": logging_filter(&filter),
            "orderBy": order,
            "pageSize": 1000,
        });
        if !token.is_empty() {
            req["pageToken"] = json!(token);
        }
        let v = c
            .call(Method::POST, "v2/entries:list", &[], Some(&req))
            .await?;
        for e in v["entries"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            found.push(if entries {
                e.clone()
            } else {
                e["protoPayload"]["metadata"].clone()
            });
        }
        match v["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    if !table || entries || c.format == Format::Json {
        return c.print_list(&found);
    }
    crate::offline::stdout_write(&render_table(&found))
}

fn render_table(items: &[Value]) -> String {
    let mut out = format!(
        "{:<32} {:<13} {:<16} {:<40} {:<20} {}\n",
        "TIME", "VERDICT", "NAMESPACE", "KIND/NAME", "USER", "IMAGES"
    );
    for r in items {
        let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
        let images: Vec<&str> = r["images"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["image"].as_str()).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<32} {:<13} {:<16} {:<40} {:<20} {}\n",
            s("time"),
            s("verdict"),
            s("namespace"),
            format!("{}/{}", s("kind"), s("name")),
            s("user"),
            images.join(",")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_become_metadata_queries_and_the_rest_passes_through() {
        assert_eq!(
            logging_filter("verdict=denied AND namespace=prod"),
            "protoPayload.metadata.verdict=\"DENIED\" AND protoPayload.metadata.namespace=\"prod\""
        );
        assert_eq!(
            logging_filter("breakglass=true"),
            "protoPayload.metadata.breakglass=true"
        );
        for lql in [
            "",
            "\"dry run\"",
            "resource.type=\"k8s_cluster\"",
            "verdict=DENIED OR verdict=ALLOWED",
            "colour=red",
        ] {
            assert_eq!(logging_filter(lql), lql);
        }
    }
}
