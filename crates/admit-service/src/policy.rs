//! The project policy (`projects/{p}/policy`) and the system policy (`locations/{l}/policy`).

use admit_model::Policy;
use admit_policy::{default_project_policy, system_policy, validate};
use admit_store::{Kind, Precondition};

use crate::{Service, ServiceError, check_project};

pub(crate) fn policy_name(project: &str) -> String {
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
        self.check_policy(project, &mut policy).await?;
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

    /// Checks a policy as `update_policy` stores it (rules valid, every required attestor
    /// existing) after carrying over the stored admit extensions; clears server-set fields.
    pub(crate) async fn check_policy(
        &self,
        project: &str,
        policy: &mut Policy,
    ) -> Result<(), ServiceError> {
        policy.name = None;
        policy.update_time = None;
        self.keep_extensions(project, policy).await?;
        let mut problems: Vec<String> = validate(policy).iter().map(ToString::to_string).collect();
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
        Ok(())
    }

    /// admit's policy extensions survive clients that do not know them (gcloud's export and
    /// import drop them): an omitted `admitBreakglass` keeps the stored one (`{}` clears it),
    /// and an exempt pattern sent without `admitExpireTime` keeps the stored expiry of the
    /// same pattern (`never` clears it). So an expiring exception cannot silently become a
    /// permanent one.
    async fn keep_extensions(
        &self,
        project: &str,
        policy: &mut Policy,
    ) -> Result<(), ServiceError> {
        let stored = match self.store.get(Kind::Policy, &policy_name(project)).await? {
            Some(doc) => serde_json::from_value::<Policy>(doc.body).ok(),
            None => None,
        };
        match policy.admit_breakglass.take() {
            Some(b) if b == admit_model::BreakglassPolicy::default() => {}
            Some(b) => {
                if let Some(p) = &b.allowed_permission
                    && !crate::PERMISSIONS.contains(&p.as_str())
                {
                    return Err(ServiceError::invalid(format!(
                        "admitBreakglass.allowedPermission: `{p}` is not a permission this server checks"
                    )));
                }
                policy.admit_breakglass = Some(b);
            }
            None => {
                policy.admit_breakglass = stored.as_ref().and_then(|s| s.admit_breakglass.clone());
            }
        }
        for p in &mut policy.admission_whitelist_patterns {
            match p.admit_expire_time.as_deref() {
                Some("never") => {
                    p.admit_expire_time = None;
                }
                Some(_) => {}
                None => {
                    if let Some(old) = stored.as_ref().and_then(|s| {
                        s.admission_whitelist_patterns
                            .iter()
                            .find(|o| o.name_pattern == p.name_pattern)
                    }) {
                        p.admit_expire_time.clone_from(&old.admit_expire_time);
                        if p.admit_reason.is_none() {
                            p.admit_reason.clone_from(&old.admit_reason);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The project's breakglass policy (admit extension), if it has one.
    pub async fn breakglass_policy(
        &self,
        project: &str,
    ) -> Result<Option<admit_model::BreakglassPolicy>, ServiceError> {
        Ok(self.get_policy(project).await?.admit_breakglass)
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
