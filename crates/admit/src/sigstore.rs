//! `admit serve`'s Sigstore trust root: what keyless cosign signatures are verified against,
//! fully offline, read from files at start.

use std::path::PathBuf;

use admit_crypto::sigstore::TrustRoot;
use anyhow::{Context as _, Result, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct SigstoreArgs {
    /// sigstore's `trusted_root.json` (Fulcio CAs, Rekor and CT log keys with their validity
    /// periods), as `cosign verify --trusted-root` reads it. Repeatable.
    #[arg(
        long = "sigstore-trusted-root",
        env = "ADMIT_SIGSTORE_TRUSTED_ROOT",
        value_delimiter = ','
    )]
    trusted_root: Vec<PathBuf>,
    /// PEM certificates of a Fulcio CA (its root and intermediates), as cosign's
    /// SIGSTORE_ROOT_FILE; needs --sigstore-rekor-keys and --sigstore-ctlog-keys.
    #[arg(
        long = "sigstore-fulcio-roots",
        env = "ADMIT_SIGSTORE_FULCIO_ROOTS",
        requires_all = ["rekor_keys", "ctlog_keys"]
    )]
    fulcio_roots: Option<PathBuf>,
    /// PEM public keys of the Rekor logs (SIGSTORE_REKOR_PUBLIC_KEY).
    #[arg(
        long = "sigstore-rekor-keys",
        env = "ADMIT_SIGSTORE_REKOR_KEYS",
        requires = "fulcio_roots"
    )]
    rekor_keys: Option<PathBuf>,
    /// PEM public keys of the certificate transparency logs (SIGSTORE_CT_LOG_PUBLIC_KEY_FILE).
    #[arg(
        long = "sigstore-ctlog-keys",
        env = "ADMIT_SIGSTORE_CTLOG_KEYS",
        requires = "fulcio_roots"
    )]
    ctlog_keys: Option<PathBuf>,
}

fn read(flag: &str, path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))
}

impl SigstoreArgs {
    /// The trust root, if any flag gave one (read now, so a bad file stops the start).
    pub(crate) fn trust_root(&self) -> Result<Option<TrustRoot>> {
        let mut root = TrustRoot::default();
        for f in &self.trusted_root {
            let doc = read("--sigstore-trusted-root", f)?;
            root.extend(
                TrustRoot::from_trusted_root_json(doc.as_bytes())
                    .with_context(|| format!("--sigstore-trusted-root {}", f.display()))?,
            );
        }
        if let Some(fulcio) = &self.fulcio_roots {
            let (Some(rekor), Some(ct)) = (&self.rekor_keys, &self.ctlog_keys) else {
                bail!(
                    "--sigstore-fulcio-roots needs --sigstore-rekor-keys and --sigstore-ctlog-keys"
                );
            };
            root.extend(
                TrustRoot::from_pem(
                    &read("--sigstore-fulcio-roots", fulcio)?,
                    &read("--sigstore-rekor-keys", rekor)?,
                    &read("--sigstore-ctlog-keys", ct)?,
                )
                .context("--sigstore-fulcio-roots/--sigstore-rekor-keys/--sigstore-ctlog-keys")?,
            );
        }
        if root.authorities.is_empty() && root.tlogs.is_empty() {
            return Ok(None);
        }
        Ok(Some(root))
    }
}
