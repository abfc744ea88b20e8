//! Which rule applies to a request.
//!
//! Precedence follows the Binary Authorization v1 API reference, which defines
//! `Policy.defaultAdmissionRule` as the "default admission rule for a cluster without a
//! per-cluster, per-kubernetes-service-account, or per-istio-service-identity admission rule":
//! a matching specific rule wins over the default. The service allows only one kind of specific
//! rule per policy (see `validate`), so the order between kinds matters only for policies that
//! were never validated; there the most specific scope wins: Istio identity, then service
//! account, then namespace, then cluster.

use admit_model::{AdmissionRule, Policy};
use serde::Serialize;

use crate::validate::parse_istio_identity;

/// Where a workload is being admitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// `location.name` of the cluster (the key of `clusterAdmissionRules`).
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    /// The service account name (without namespace).
    pub service_account: Option<String>,
    /// `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` (scheme optional).
    pub istio_identity: Option<String>,
}

/// The scope of the rule that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", content = "key", rename_all = "camelCase")]
pub enum RuleScope {
    Default,
    Cluster(String),
    Namespace(String),
    ServiceAccount(String),
    IstioIdentity(String),
}

impl std::fmt::Display for RuleScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleScope::Default => f.write_str("defaultAdmissionRule"),
            RuleScope::Cluster(k) => write!(f, "clusterAdmissionRules[{k}]"),
            RuleScope::Namespace(k) => write!(f, "kubernetesNamespaceAdmissionRules[{k}]"),
            RuleScope::ServiceAccount(k) => {
                write!(f, "kubernetesServiceAccountAdmissionRules[{k}]")
            }
            RuleScope::IstioIdentity(k) => write!(f, "istioServiceIdentityAdmissionRules[{k}]"),
        }
    }
}

/// The applicable rule and its scope; `None` only when the policy has no default rule
/// (which validation forbids; the engine then denies).
pub fn select_rule<'p>(
    policy: &'p Policy,
    ctx: &Context,
) -> Option<(RuleScope, &'p AdmissionRule)> {
    if let Some(id) = ctx.istio_identity.as_deref().and_then(parse_istio_identity) {
        for (k, rule) in &policy.istio_service_identity_admission_rules {
            if parse_istio_identity(k).as_ref() == Some(&id) {
                return Some((RuleScope::IstioIdentity(k.clone()), rule));
            }
        }
    }
    if let (Some(ns), Some(sa)) = (&ctx.namespace, &ctx.service_account) {
        let key = format!("{ns}:{sa}");
        if let Some(rule) = policy.kubernetes_service_account_admission_rules.get(&key) {
            return Some((RuleScope::ServiceAccount(key), rule));
        }
    }
    if let Some(ns) = &ctx.namespace
        && let Some(rule) = policy.kubernetes_namespace_admission_rules.get(ns)
    {
        return Some((RuleScope::Namespace(ns.clone()), rule));
    }
    if let Some(c) = &ctx.cluster
        && let Some(rule) = policy.cluster_admission_rules.get(c)
    {
        return Some((RuleScope::Cluster(c.clone()), rule));
    }
    policy
        .default_admission_rule
        .as_ref()
        .map(|r| (RuleScope::Default, r))
}
