//! `admit audit verify`: checks the on-disk audit log of a data directory, offline. The key
//! the heads are checked with is the server's (derived from its master key), or one given
//! with `--public-key` (what `admit serve` logs at start), so a verifier needs no secret.

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
    match admit_auditlog::verify(&dir, &key) {
        Ok(r) => {
            crate::offline::stdout_line(&format!(
                "audit log {} intact: {} records ({} to {}) in {} segments, every one under a signed head (key {})",
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
