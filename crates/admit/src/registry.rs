//! `admit serve`'s registry flags: how the mutating webhook reaches registries to resolve tags.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// docker's configuration directory, whose `config.json` (auths, credHelpers, credsStore)
    /// holds registry credentials. Default: $DOCKER_CONFIG, else ~/.docker.
    #[arg(long = "docker-config", env = "ADMIT_DOCKER_CONFIG")]
    docker_config: Option<PathBuf>,
    /// PEM CA certificates registries' TLS certificates may chain to, besides the system's.
    #[arg(long = "registry-ca-file", env = "ADMIT_REGISTRY_CA_FILE")]
    registry_ca_file: Option<PathBuf>,
    /// How long a tag's resolved digest is reused before its registry is asked again.
    #[arg(
        long = "registry-tag-cache-seconds",
        env = "ADMIT_REGISTRY_TAG_CACHE_SECONDS",
        default_value_t = 10
    )]
    registry_tag_cache_seconds: u64,
    /// A registry (`host:port`) reached over plain HTTP, e.g. one inside the cluster.
    /// Repeatable; every other registry is HTTPS.
    #[arg(
        long = "registry-plain-http",
        env = "ADMIT_REGISTRY_PLAIN_HTTP",
        value_delimiter = ','
    )]
    registry_plain_http: Vec<String>,
    /// `/mutate` also pins the pod templates of Deployments, ReplicaSets, StatefulSets,
    /// DaemonSets, Jobs, CronJobs and ReplicationControllers (off: only Pods, since GitOps
    /// tools fight mutation of what they own).
    #[arg(long = "mutate-pod-templates", env = "ADMIT_MUTATE_POD_TEMPLATES")]
    pub(crate) mutate_templates: bool,
}

impl RegistryArgs {
    /// The registry client (reads the CA file now, so a bad one stops the start).
    pub(crate) fn client(&self) -> Result<Arc<admit_registry::Registry>> {
        let extra_ca_pem = match &self.registry_ca_file {
            Some(f) => Some(
                std::fs::read(f).with_context(|| format!("--registry-ca-file {}", f.display()))?,
            ),
            None => None,
        };
        let registry = admit_registry::Registry::new(admit_registry::RegistryConfig {
            docker_config_dir: self
                .docker_config
                .clone()
                .or_else(admit_registry::docker_config_dir),
            extra_ca_pem,
            tag_ttl: Duration::from_secs(self.registry_tag_cache_seconds),
            plain_http: self.registry_plain_http.clone(),
        })
        .with_context(|| {
            self.registry_ca_file
                .as_ref()
                .map_or_else(String::new, |f| {
                    format!("--registry-ca-file {}", f.display())
                })
        })?;
        Ok(Arc::new(registry))
    }
}
