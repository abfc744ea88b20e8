//! `admit audit verify`: checks the on-disk audit log of a data directory, offline. The key
//! the heads are checked with is the server's (derived from its master key), or one given
//! with `--public-key` (what `admit serve` logs at start), so a verifier needs no secret.
//!
//! The chain and the signed heads find any record edited, removed, inserted or reordered
//! before the last head. The newest records removed together with their heads leave a log that
//! only looks shorter: the database's copy of the log is the witness for that. It holds every
//! record up to some number; the log must reach at least as far.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use zeroize::Zeroizing;

use crate::Outcome;

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The server's data directory (its audit log is DATA_DIR/audit).
    #[arg(long, env = "ADMIT_DATA_DIR", default_value = "./admit-data")]
    data_dir: PathBuf,
    /// The log's public key (base64, as `admit serve` logs it). Without it, the key is derived
    /// from the master key (ADMIT_MASTER_KEY, --master-key-file, or DATA_DIR/master.key).
    #[arg(long)]
    public_key: Option<String>,
    /// A file holding the base64 master key.
    #[arg(long, env = "ADMIT_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// The server's PostgreSQL database, whose copy of the log shows whether its newest records
    /// were removed. Without it, DATA_DIR/admit.db when it exists.
    #[arg(long, env = "ADMIT_DATABASE_URL")]
    database_url: Option<String>,
}

/// How far the database's copy of log `log_id` reaches (the highest record number it holds),
/// or `None` when there is no database to ask (no `--database-url` and no `admit.db`).
fn witness(args: &VerifyArgs, log_id: &str) -> Result<Option<u64>> {
    let sqlite = args.data_dir.join("admit.db");
    if args.database_url.is_none() && !sqlite.exists() {
        return Ok(None);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store: Box<dyn admit_store::Store> = match &args.database_url {
            Some(url) => Box::new(
                admit_store::PostgresStore::connect(url)
                    .await
                    .context("cannot open the database (--database-url)")?,
            ),
            None => Box::new(
                admit_store::SqliteStore::open_file(&sqlite)
                    .await
                    .with_context(|| format!("cannot open the database {}", sqlite.display()))?,
            ),
        };
        let copied = store
            .audit_copied(log_id)
            .await
            .context("cannot read the database's copy of the audit log")?;
        Ok(Some(copied.highest))
    })
}

/// The id of the log in `dir` (its `log.json`), if it has one.
fn log_id(dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("log.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("logId")?.as_str().map(str::to_owned)
}

fn verifier(args: &VerifyArgs) -> Result<admit_auditlog::Verifier> {
    if let Some(k) = &args.public_key {
        return admit_auditlog::Verifier::from_base64(k).context("--public-key");
    }
    let (text, origin) = match (std::env::var("ADMIT_MASTER_KEY"), &args.master_key_file) {
        (Ok(v), _) => (Zeroizing::new(v), "ADMIT_MASTER_KEY".to_owned()),
        (Err(_), file) => {
            let path = file
                .clone()
                .unwrap_or_else(|| args.data_dir.join("master.key"));
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the master key {} (or give --public-key)",
                    path.display()
                )
            })?;
            (Zeroizing::new(text), path.display().to_string())
        }
    };
    let master = crate::serve::decode_key(&text, &origin)?;
    Ok(admit_auditlog::Signer::from_master(master.expose_bytes())?.verifier())
}

pub(crate) fn run(args: &VerifyArgs) -> Result<Outcome> {
    let key = verifier(args)?;
    let dir = args.data_dir.join("audit");
    // Read before the log: the database only ever copies records already durable in the log,
    // so a server appending meanwhile cannot make an intact log look truncated.
    let copied = match log_id(&dir) {
        Some(id) => witness(args, &id)?,
        None => None,
    };
    match admit_auditlog::verify(&dir, &key) {
        Ok(r) if copied.is_some_and(|n| n > r.last_signed_seq) => {
            crate::offline::stdout_line(&format!(
                "audit log NOT intact: audit log {}: it ends at record {}, but the database holds copies of its records up to {}: the newest records were removed",
                r.log_id,
                r.last_signed_seq,
                copied.unwrap_or_default()
            ))?;
            Ok(Outcome::Denied)
        }
        Ok(r) => {
            let against = match copied {
                Some(n) => format!("; the database's copy reaches record {n}"),
                None => "; no database to compare its end with".to_owned(),
            };
            crate::offline::stdout_line(&format!(
                "audit log {} intact: {} records ({} to {}) in {} segments, every one under a signed head (key {}){against}",
                r.log_id,
                r.records,
                r.first_seq,
                r.last_signed_seq,
                r.segments,
                key.to_base64()
            ))?;
            Ok(Outcome::Ok)
        }
        Err(e @ admit_auditlog::AuditLogError::Tampered { .. }) => {
            crate::offline::stdout_line(&format!("audit log NOT intact: {e}"))?;
            Ok(Outcome::Denied)
        }
        Err(e) => Err(e.into()),
    }
}
