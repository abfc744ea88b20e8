//! The crate's one error type.

/// What can go wrong talking to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No cluster could be found or its configuration is unusable.
    #[error("cannot find a Kubernetes cluster (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    Config(String),
}
