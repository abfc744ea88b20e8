//! The project policy (`projects/{p}/policy`) and the system policy (`locations/{l}/policy`).

use admit_model::Policy;
use admit_policy::{default_project_policy, system_policy, validate};
use admit_store::{Kind, Precondition};

use crate::{Service, ServiceError, check_project};

fn policy_name(project: &str) -> String {
    format!("projects/{project}/policy")
}

impl Service {
    /// The stored policy, or the documented default for a project that never set one.
    pub async fn get_policy(&self, project: &str) -> Result<Policy, ServiceError> {
        check_project(project)?;
        let name = policy_name(project);
        match self.store.get(Kind::Policy, &name).await? {
            Some(doc) => {
                let mut p: Policy = serde_json::from_value(doc.body).map_err(|e| {
                    ServiceError::new(
                        crate::Code::Internal,
                        format!("stored policy unreadable: {e}"),
                    )
                })?;
                p.name = Some(name);
                p.etag = Some(doc.etag);
                p.update_time = Some(doc.update_time);
                Ok(p)
            }
            None => Ok(default_project_policy(project)),
        }
    }

    /// Replaces the whole policy. Output-only fields echoed back are ignored; a stale etag is
    /// ABORTED; every violation and every missing attestor is reported.
    pub async fn update_policy(
        &self,
        project: &str,
        mut policy: Policy,
    ) -> Result<Policy, ServiceError> {
        check_project(project)?;
        let name = policy_name(project);
        if let Some(given) = &policy.name
            && !given.is_empty()
            && *given != name
        {
            return Err(ServiceError::invalid(format!(
                "name `{given}` does not match the URL ({name})"
            )));
        }
        let etag = policy.etag.take().filter(|e| !e.is_empty());
        policy.name = None;
        policy.update_time = None;
        let mut problems: Vec<String> = validate(&policy).iter().map(ToString::to_string).collect();
        if problems.is_empty() {
            let rules = policy
                .default_admission_rule
                .iter()
                .map(|r| ("defaultAdmissionRule".to_owned(), r))
                .chain(
                    policy
                        .cluster_admission_rules
                        .iter()
                        .map(|(k, r)| (format!("clusterAdmissionRules[{k:?}]"), r)),
                )
                .chain(
                    policy
                        .kubernetes_namespace_admission_rules
                        .iter()
                        .map(|(k, r)| (format!("kubernetesNamespaceAdmissionRules[{k:?}]"), r)),
                )
                .chain(
                    policy
                        .kubernetes_service_account_admission_rules
                        .iter()
                        .map(|(k, r)| {
                            (format!("kubernetesServiceAccountAdmissionRules[{k:?}]"), r)
                        }),
                )
                .chain(
                    policy
                        .istio_service_identity_admission_rules
                        .iter()
                        .map(|(k, r)| (format!("istioServiceIdentityAdmissionRules[{k:?}]"), r)),
                );
            for (field, rule) in rules {
                for (i, a) in rule.require_attestations_by.iter().enumerate() {
                    if self.store.get(Kind::Attestor, a).await?.is_none() {
                        problems.push(format!(
                            "{field}.requireAttestationsBy[{i}]: attestor `{a}` does not exist"
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(ServiceError::invalid(format!(
                "invalid policy: {}",
                problems.join("; ")
            )));
        }
        let body = serde_json::to_value(&policy)
            .map_err(|e| ServiceError::new(crate::Code::Internal, e.to_string()))?;
        let doc = self
            .store
            .put(
                Kind::Policy,
                &name,
                &format!("projects/{project}"),
                &body,
                None,
                Precondition::Any { etag },
                &self.now(),
            )
            .await?;
        policy.name = Some(name);
        policy.etag = Some(doc.etag);
        policy.update_time = Some(doc.update_time);
        Ok(policy)
    }

    /// The system policy for `location`.
    pub fn get_system_policy(&self, location: &str) -> Result<Policy, ServiceError> {
        let ok = !location.is_empty()
            && location
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(ServiceError::invalid(format!(
                "invalid location `{location}`"
            )));
        }
        Ok(system_policy(location))
    }
}
