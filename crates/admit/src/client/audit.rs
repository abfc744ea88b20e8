//! `admit audit list [--filter …]`: the admission audit log, as seed 002 queries it
//! (`verdict=DENIED`, `dryRun=true`, `breakglass=true`, `namespace=…`, joined by ` AND `).

use anyhow::Result;
use clap::Subcommand;

use super::{Client, Format};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List admission decisions, oldest first.
    List {
        /// e.g. `verdict=DENIED AND namespace=prod`; fields: verdict (ALLOWED, DENIED, DRY_RUN,
        /// BREAKGLASS, ERROR_DENIED), namespace, cluster, kind, user, breakglass, dryRun.
        #[arg(long, default_value = "")]
        filter: String,
        /// Print a table instead of YAML/JSON records.
        #[arg(long)]
        table: bool,
    },
}

pub(crate) async fn run(c: &Client, cmd: AuditCommand) -> Result<()> {
    let AuditCommand::List { filter, table } = cmd;
    let items = c
        .list_all(
            &format!("admit/v1/projects/{}/auditRecords", c.project()?),
            "auditRecords",
            &[("filter", &filter)],
        )
        .await?;
    if !table || c.format == Format::Json {
        return c.print_list(&items);
    }
    let mut out = format!(
        "{:<32} {:<13} {:<16} {:<40} {:<20} {}\n",
        "TIME", "VERDICT", "NAMESPACE", "KIND/NAME", "USER", "IMAGES"
    );
    for r in &items {
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
    crate::offline::stdout_write(&out)
}
