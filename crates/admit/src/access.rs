//! `admit serve`'s access-control flags: who can authenticate (static tokens, an OIDC issuer)
//! and who administers every project.

use std::path::{Path, PathBuf};
use std::time::Duration;

use admit_crypto::Jwks;
use admit_service::{AccessConfig, OidcIssuer, SharedJwks};
use anyhow::{Context as _, Result, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct AccessArgs {
    /// Static bearer tokens: one `TOKEN PRINCIPAL` per line (`PRINCIPAL` is user:EMAIL or
    /// serviceAccount:EMAIL), `#` comments. gcloud sends them with auth/access_token_file.
    #[arg(long, env = "ADMIT_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Accept JWTs from this OIDC issuer (its exact `iss`), e.g. a Kubernetes API server's
    /// service-account issuer. Needs --oidc-jwks-file and --oidc-audience.
    #[arg(long, env = "ADMIT_OIDC_ISSUER", requires_all = ["oidc_jwks_file", "oidc_audience"])]
    oidc_issuer: Option<String>,
    /// The issuer's JSON Web Key Set (`kubectl get --raw /openid/v1/jwks`). Re-read every
    /// --oidc-jwks-refresh-seconds, so a key rotation needs no restart; a file that no
    /// longer parses is logged and the previous set kept.
    #[arg(long, env = "ADMIT_OIDC_JWKS_FILE", requires = "oidc_issuer")]
    oidc_jwks_file: Option<PathBuf>,
    /// How often the JWKS file is checked for changes.
    #[arg(long, env = "ADMIT_OIDC_JWKS_REFRESH_SECONDS", default_value_t = 30)]
    oidc_jwks_refresh_seconds: u64,
    /// An accepted `aud` (repeatable, or comma-separated in the environment).
    #[arg(
        long,
        env = "ADMIT_OIDC_AUDIENCE",
        value_delimiter = ',',
        requires = "oidc_issuer"
    )]
    oidc_audience: Vec<String>,
    /// Kubernetes service accounts NS/NAME authenticate as serviceAccount:POOL[NS/NAME].
    #[arg(
        long,
        env = "ADMIT_OIDC_WORKLOAD_POOL",
        default_value = "kubernetes.svc.id.goog"
    )]
    oidc_workload_pool: String,
    /// Principals that hold roles/owner on every project (repeatable, or comma-separated in
    /// the environment): the administrators who grant everyone else their roles.
    #[arg(long = "owner", env = "ADMIT_OWNERS", value_delimiter = ',')]
    owners: Vec<String>,
}

fn read_jwks(path: &Path) -> Result<Jwks> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the JWKS {}", path.display()))?;
    Jwks::from_json(&text).with_context(|| format!("{}: not a usable JWKS", path.display()))
}

/// Re-reads `path` every `every` and swaps the set in when its content changed.
fn watch_jwks(path: PathBuf, every: Duration, jwks: SharedJwks) {
    let mut last = std::fs::read(&path).ok();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Ok(bytes) = tokio::fs::read(&path).await else {
                tracing::error!(path = %path.display(), "cannot read the JWKS; keeping the previous key set");
                continue;
            };
            if last.as_deref() == Some(bytes.as_slice()) {
                continue;
            }
            let set = read_jwks(&path);
            if let Err(e) = &set {
                tracing::error!(error = %format!("{e:#}"), "keeping the previous OIDC key set");
            }
            if let Ok(set) = set {
                jwks.replace(set);
                tracing::info!(path = %path.display(), "reloaded the OIDC key set");
                last = Some(bytes);
            }
        }
    });
}

impl AccessArgs {
    /// The access configuration, or `None` when nothing is configured (no enforcement).
    /// Starts the JWKS reload task, so it is called inside the runtime.
    pub(crate) fn load(&self) -> Result<Option<AccessConfig>> {
        let mut c = AccessConfig::default();
        if let Some(f) = &self.token_file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the token file {}", f.display()))?;
            c = c
                .with_token_file(&f.display().to_string(), &text)
                .map_err(anyhow::Error::msg)?;
        }
        if let (Some(issuer), Some(jwks_file)) = (&self.oidc_issuer, &self.oidc_jwks_file) {
            let jwks = SharedJwks::new(read_jwks(jwks_file)?);
            if self.oidc_jwks_refresh_seconds == 0 {
                bail!("--oidc-jwks-refresh-seconds must be at least 1");
            }
            watch_jwks(
                jwks_file.clone(),
                Duration::from_secs(self.oidc_jwks_refresh_seconds),
                jwks.clone(),
            );
            c.oidc.push(OidcIssuer {
                issuer: issuer.clone(),
                audiences: self.oidc_audience.clone(),
                jwks,
                workload_pool: self.oidc_workload_pool.clone(),
            });
        }
        for o in &self.owners {
            admit_service::check_member(o).map_err(|e| anyhow::anyhow!("--owner: {e}"))?;
            c.owners.push(o.clone());
        }
        if !c.is_configured() {
            if !c.owners.is_empty() {
                bail!("--owner needs a way to authenticate callers: --token-file or --oidc-issuer");
            }
            return Ok(None);
        }
        if c.owners.is_empty() {
            tracing::warn!(
                "access control is on but no --owner is configured: only existing IAM policies grant anything"
            );
        }
        Ok(Some(c))
    }
}
