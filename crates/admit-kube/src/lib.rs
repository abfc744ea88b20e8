//! The Kubernetes side of admit, through kube-rs: the cluster found as kubectl finds it
//! (`KUBECONFIG` or `~/.kube/config`, else the in-cluster service account), and a watch of
//! Kritis' custom resources (`kritis.grafeas.io/v1beta1` ImageSecurityPolicy,
//! GenericAttestationPolicy, AttestationAuthority) kept in memory by reflectors and compiled
//! into [`admit_policy::KritisPolicies`] on every change, with the Secrets they name; and the
//! pods continuous validation re-evaluates, with Events and labels written back to them.
//!
//! Owns every Kubernetes type: the service and the webhook see only compiled policies and pods
//! as JSON (the webhook defines the `Cluster` port this crate implements). Must not depend on
//! storage, the service, HTTP serving or the binary.

mod error;
mod kritis;
mod pods;

pub use error::KubeError;
pub use kritis::{KritisWatch, watch_kritis};
pub use pods::{ClusterPods, KubeCluster, watch_pods};

/// A client for the cluster kubectl would talk to: `kubeconfig` when given (kubectl's
/// `--kubeconfig`), else `KUBECONFIG` (or `~/.kube/config`), else the in-cluster service
/// account.
pub async fn client(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client, KubeError> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| KubeError::Config(format!("{}: {e}", path.display())))?;
            let options = kube::config::KubeConfigOptions::default();
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| KubeError::Config(format!("{}: {e}", path.display())))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| KubeError::Config(e.to_string()))?,
    };
    kube::Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
}
