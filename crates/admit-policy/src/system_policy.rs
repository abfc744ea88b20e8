//! The system policy (`locations/global/policy`): images every Kubernetes cluster needs to
//! start, exempted when a project sets `globalPolicyEvaluationMode: ENABLE`. It is the
//! self-hosted counterpart of Google's list (which names GKE's images): the control-plane,
//! DNS, networking-proxy, metrics and CSI-sidecar images published by the Kubernetes project
//! on `registry.k8s.io` and its predecessor `k8s.gcr.io`. Only repositories the Kubernetes
//! project itself publishes are listed, each as an exact repository or a directory it owns.

use admit_model::{
    AdmissionRule, AdmissionWhitelistPattern, EnforcementMode, EvaluationMode,
    GlobalPolicyEvaluationMode, Policy,
};

/// Repository paths under each upstream registry.
const UPSTREAM_PATHS: &[&str] = &[
    "pause",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "etcd",
    "coredns/coredns",
    "coredns",
    "dns/k8s-dns-node-cache",
    "metrics-server/metrics-server",
    "cpa/cluster-proportional-autoscaler",
    "node-problem-detector/node-problem-detector",
    "kas-network-proxy/*",
    "sig-storage/*",
    "cloud-provider-gcp/*",
    "provider-aws/*",
    "provider-os/*",
];

const UPSTREAM_REGISTRIES: &[&str] = &["registry.k8s.io", "k8s.gcr.io"];

/// Every exempt pattern of the system policy.
pub fn system_patterns() -> Vec<String> {
    UPSTREAM_REGISTRIES
        .iter()
        .flat_map(|r| UPSTREAM_PATHS.iter().map(move |p| format!("{r}/{p}")))
        .collect()
}

/// The system policy as the API returns it for `locations/{location}/policy`: the exempt list,
/// and a default rule that denies everything else (the project policy decides those).
pub fn system_policy(location: &str) -> Policy {
    Policy {
        name: Some(format!("locations/{location}/policy")),
        description:
            "admit system policy: images Kubernetes needs to run its own control plane and add-ons"
                .into(),
        global_policy_evaluation_mode: GlobalPolicyEvaluationMode::Unspecified,
        admission_whitelist_patterns: system_patterns()
            .into_iter()
            .map(|name_pattern| AdmissionWhitelistPattern {
                name_pattern,
                ..Default::default()
            })
            .collect(),
        default_admission_rule: Some(AdmissionRule {
            evaluation_mode: EvaluationMode::AlwaysDeny,
            require_attestations_by: vec![],
            enforcement_mode: EnforcementMode::EnforcedBlockAndAuditLog,
        }),
        ..Policy::default()
    }
}

/// The policy a project has before it sets one: the publicly documented default
/// (system policy on, allow everything, the Kubernetes system registries exempt).
pub fn default_project_policy(project: &str) -> Policy {
    Policy {
        name: Some(format!("projects/{project}/policy")),
        global_policy_evaluation_mode: GlobalPolicyEvaluationMode::Enable,
        admission_whitelist_patterns: [
            "gcr.io/google_containers/*",
            "gcr.io/google-containers/*",
            "registry.k8s.io/*",
            "k8s.gcr.io/*",
            "gke.gcr.io/*",
            "gcr.io/stackdriver-agents/*",
        ]
        .iter()
        .map(|p| AdmissionWhitelistPattern {
            name_pattern: (*p).to_owned(),
            ..Default::default()
        })
        .collect(),
        default_admission_rule: Some(AdmissionRule {
            evaluation_mode: EvaluationMode::AlwaysAllow,
            require_attestations_by: vec![],
            enforcement_mode: EnforcementMode::EnforcedBlockAndAuditLog,
        }),
        ..Policy::default()
    }
}
