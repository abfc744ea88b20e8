//! The project policy (`projects/{p}/policy`) and the system policy (`locations/{l}/policy`).

use admit_model::{Attestor, AttestorName, Policy, PolicyName, ProjectId};
use admit_policy::{default_project_policy, system_policy, validate};
use admit_store::{Precondition, Repo, Versioned, repo};

use crate::{Service, ServiceError};

/// The name of `project`'s policy, the project checked.
pub(crate) fn parse_name(project: &str) -> Result<PolicyName, ServiceError> {
    ProjectId::parse(project)
        .map(PolicyName::of)
        .map_err(|e| ServiceError::invalid(e.to_string()))
}

/// The policy as the API shows it: named, with its etag and update time.
fn shown(name: &PolicyName, v: Versioned<Policy>) -> Policy {
    let mut p = v.value;
    p.name = Some(name.to_string());
    p.etag = Some(v.version);
    p.update_time = Some(v.update_time);
    p
}

impl Service {
    fn policies(&self) -> Repo<'_, Policy> {
        repo(self.store.as_ref())
    }

    /// The stored policy, or the documented default for a project that never set one.
    pub async fn get_policy(&self, project: &str) -> Result<Policy, ServiceError> {
        self.project_policy(&parse_name(project)?).await
    }

    /// The policy `name` as enforced and shown: the stored one (with its etag) or the default.
    pub(crate) async fn project_policy(&self, name: &PolicyName) -> Result<Policy, ServiceError> {
        Ok(match self.policies().get(name).await? {
            Some(v) => shown(name, v),
            None => default_project_policy(name.project.as_str()),
        })
    }

    /// Replaces the whole policy. Output-only fields echoed back are ignored; a stale etag is
    /// ABORTED; every violation and every missing attestor is reported. Without an etag the
    /// write is conditional on the policy the extensions were carried over from, and redone on
    /// a concurrent update, so a kept extension is always the one stored when it is written.
    pub async fn update_policy(
        &self,
        project: &str,
        mut policy: Policy,
    ) -> Result<Policy, ServiceError> {
        let name = parse_name(project)?;
        if let Some(given) = &policy.name
            && !given.is_empty()
            && *given != name.to_string()
        {
            return Err(ServiceError::invalid(format!(
                "name `{given}` does not match the URL ({name})"
            )));
        }
        let given = policy.etag.take().filter(|e| !e.is_empty());
        let (name, policy, given) = (&name, &policy, &given);
        crate::raced::redo_when_raced(given.is_none(), move || async move {
            let mut next = policy.clone();
            let stored = self.policies().get(name).await?;
            let pre = match given {
                Some(etag) => Precondition::Any {
                    etag: Some(etag.clone()),
                },
                None => Precondition::Unchanged {
                    etag: stored.as_ref().map(|s| s.version.clone()),
                },
            };
            self.check_policy_over(&mut next, stored.map(|s| s.value).as_ref())
                .await?;
            let v = self.policies().write(name, next, pre, &self.now()).await?;
            Ok(shown(name, v))
        })
        .await
    }

    /// Checks a policy as `update_policy` stores it (rules valid, every required attestor
    /// existing) after carrying over the stored admit extensions; clears server-set fields.
    pub(crate) async fn check_policy(
        &self,
        project: &str,
        policy: &mut Policy,
    ) -> Result<(), ServiceError> {
        let stored = self.policies().get(&parse_name(project)?).await?;
        self.check_policy_over(policy, stored.map(|s| s.value).as_ref())
            .await
    }

    /// `check_policy` with the stored policy at hand.
    async fn check_policy_over(
        &self,
        policy: &mut Policy,
        stored: Option<&Policy>,
    ) -> Result<(), ServiceError> {
        policy.name = None;
        policy.update_time = None;
        Self::keep_extensions(policy, stored)?;
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
                    let exists = match AttestorName::parse(a) {
                        Ok(n) => repo::<Attestor>(self.store.as_ref())
                            .version(&n)
                            .await?
                            .is_some(),
                        Err(_) => false,
                    };
                    if !exists {
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
    fn keep_extensions(policy: &mut Policy, stored: Option<&Policy>) -> Result<(), ServiceError> {
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
                policy.admit_breakglass = stored.and_then(|s| s.admit_breakglass.clone());
            }
        }
        for p in &mut policy.admission_whitelist_patterns {
            match p.admit_expire_time.as_deref() {
                Some("never") => {
                    p.admit_expire_time = None;
                }
                Some(_) => {}
                None => {
                    if let Some(old) = stored.and_then(|s| {
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
        Ok(self
            .project_policy(&parse_name(project)?)
            .await?
            .admit_breakglass)
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
