//! `admit serve`'s access-control flags: who can authenticate (static tokens, an OIDC issuer)
//! and who administers every project.

use std::path::PathBuf;

use admit_crypto::Jwks;
use admit_service::{AccessConfig, OidcIssuer};
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
    /// The issuer's JSON Web Key Set (`kubectl get --raw /openid/v1/jwks`).
    #[arg(long, env = "ADMIT_OIDC_JWKS_FILE", requires = "oidc_issuer")]
    oidc_jwks_file: Option<PathBuf>,
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

impl AccessArgs {
    /// The access configuration, or `None` when nothing is configured (no enforcement).
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
            let text = std::fs::read_to_string(jwks_file)
                .with_context(|| format!("cannot read the JWKS {}", jwks_file.display()))?;
            let jwks = Jwks::from_json(&text)
                .with_context(|| format!("{}: not a usable JWKS", jwks_file.display()))?;
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
