//! `admit serve`'s Kubernetes flags: the cluster to talk to, Kritis' custom resources watched
//! from it, and continuous validation of its running pods.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use admit_service::Service;
use anyhow::{Result, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct KubeArgs {
    /// Watch Kritis' custom resources (deploy/crds/) through the Kubernetes API server, found
    /// as kubectl finds it (KUBECONFIG, else in-cluster), and enforce them next to the project
    /// policy as they change. Until the first list completes the webhook denies every review;
    /// a namespace without Kritis policies is left to the project policy, as in Kritis.
    /// Continuous validation applies them too.
    #[arg(long, env = "ADMIT_WATCH_KUBERNETES")]
    pub(crate) watch_kubernetes: bool,
    /// The kubeconfig file to use instead of KUBECONFIG / ~/.kube/config / in-cluster.
    #[arg(long, env = "ADMIT_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// How often Secrets named by Kritis objects are read again (seconds).
    #[arg(long, env = "ADMIT_KUBERNETES_RESYNC_SECONDS", default_value_t = 60)]
    kubernetes_resync_seconds: u64,
    /// Re-evaluate every running pod of the cluster (continuous validation) against the
    /// project policy, the Kritis policies and every --platform-policy: on a schedule and
    /// within moments of any change made through this server, recording violations as
    /// ContinuousValidationEvents (audit log and Cloud Logging API), Kubernetes Events on the
    /// pods, and metrics. Needs --project.
    #[arg(long, env = "ADMIT_CONTINUOUS_VALIDATION")]
    continuous_validation: bool,
    /// Continuous validation re-evaluates every pod at least this often (seconds).
    #[arg(long, env = "ADMIT_CV_INTERVAL_SECONDS", default_value_t = 60)]
    cv_interval_seconds: u64,
    /// A check-based GKE platform policy continuous validation also applies, as GKE's
    /// `--binauthz-policy-bindings`: `projects/P/platforms/gke/policies/NAME`, or NAME in the
    /// --project. Repeatable.
    #[arg(
        long = "platform-policy",
        env = "ADMIT_PLATFORM_POLICIES",
        value_delimiter = ','
    )]
    platform_policies: Vec<String>,
    /// Continuous validation also labels a violating pod `admit.dev/continuous-validation=violating`
    /// and annotates it with why (removed once it conforms), as Kritis' cron did.
    #[arg(long, env = "ADMIT_CV_ANNOTATE_PODS")]
    cv_annotate_pods: bool,
}

impl KubeArgs {
    /// A client when anything here needs the cluster.
    pub(crate) async fn client(&self) -> Result<Option<kube::Client>> {
        if !self.watch_kubernetes && !self.continuous_validation && self.kubeconfig.is_none() {
            return Ok(None);
        }
        Ok(Some(admit_kube::client(self.kubeconfig.as_deref()).await?))
    }

    /// The Kritis feed from the API server, when asked for.
    pub(crate) fn watch_kritis(
        &self,
        client: Option<&kube::Client>,
    ) -> Option<admit_webhook::KritisFeed> {
        let client = client.filter(|_| self.watch_kubernetes)?;
        let resync = Duration::from_secs(self.kubernetes_resync_seconds.max(1));
        tracing::info!("watching Kritis policies through the Kubernetes API server");
        Some(admit_kube::watch_kritis(client.clone(), resync).policies)
    }

    /// The pod watch continuous validation needs (when asked for), and where the policy
    /// simulator reads running pods (whenever there is a cluster).
    pub(crate) fn pods(
        &self,
        client: Option<&kube::Client>,
    ) -> (
        Option<Arc<admit_kube::KubeCluster>>,
        Option<Arc<dyn admit_service::RunningPods>>,
    ) {
        let Some(client) = client else {
            return (None, None);
        };
        let watched = self
            .continuous_validation
            .then(|| admit_kube::watch_pods(client.clone()));
        let pods: Arc<dyn admit_service::RunningPods> = Arc::new(admit_kube::ClusterPods::new(
            client.clone(),
            watched.clone(),
        ));
        (watched, Some(pods))
    }

    /// Starts continuous validation over the watched pods, when asked for.
    pub(crate) fn start_continuous_validation(
        &self,
        watched: Option<Arc<admit_kube::KubeCluster>>,
        service: Arc<Service>,
        config: Option<admit_webhook::WebhookConfig>,
    ) -> Result<()> {
        let Some(cluster) = watched else {
            return Ok(());
        };
        let Some(config) = config else {
            bail!("--continuous-validation needs --project");
        };
        let platform_policies = self
            .platform_policies
            .iter()
            .map(|p| {
                if p.starts_with("projects/") {
                    p.clone()
                } else {
                    format!("projects/{}/platforms/gke/policies/{p}", config.project)
                }
            })
            .collect();
        let cv = admit_webhook::continuous::ContinuousConfig {
            interval: Duration::from_secs(self.cv_interval_seconds.max(1)),
            platform_policies,
            annotate_pods: self.cv_annotate_pods,
        };
        tracing::info!(
            interval_seconds = cv.interval.as_secs(),
            platform_policies = ?cv.platform_policies,
            "continuous validation of the cluster's pods"
        );
        tokio::spawn(admit_webhook::continuous::run(service, config, cv, cluster));
        Ok(())
    }
}
