//! IAM policies on resources (projects, Binary Authorization policy and attestors, Grafeas
//! notes and occurrences, KMS key rings and keys): stored and returned with etags. Enforcement
//! is in `access`.

use admit_model::Bytes;
use admit_store::{Kind, Precondition};
use serde_json::{Value, json};

use crate::{Service, ServiceError};

impl Service {
    pub async fn get_iam_policy(&self, resource: &str) -> Result<Value, ServiceError> {
        Ok(match self.store.get(Kind::IamPolicy, resource).await? {
            Some(doc) => {
                let mut p = doc.body;
                p["etag"] = Value::String(doc.etag);
                p
            }
            // An empty policy with a valid base64 etag, as the real services return.
            None => json!({"version": 1, "etag": "ACAB"}),
        })
    }

    /// `setIamPolicy`: `request` is `{policy: {...}, updateMask?}`.
    pub async fn set_iam_policy(
        &self,
        resource: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        let mut policy = request.get("policy").cloned().unwrap_or(Value::Null);
        let Some(obj) = policy.as_object_mut() else {
            return Err(ServiceError::invalid("policy is required"));
        };
        let stale = || {
            ServiceError::new(
                crate::Code::Aborted,
                format!(
                    "the IAM policy of {resource} was changed since it was read (etag mismatch)"
                ),
            )
        };
        let pre = match obj.remove("etag") {
            // The etag of "no policy yet": only valid while there is none, which the store
            // checks in the same statement that creates it (two first grants cannot both win).
            Some(Value::String(e)) if e == "ACAB" => Precondition::MustNotExist,
            Some(Value::String(e)) if !e.is_empty() => {
                Bytes::from_base64(&e)
                    .map_err(|_| ServiceError::invalid("policy.etag must be base64"))?;
                Precondition::Any { etag: Some(e) }
            }
            _ => Precondition::Any { etag: None },
        };
        for (i, b) in obj
            .get("bindings")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let role = b.get("role").and_then(Value::as_str).unwrap_or("");
            if let Some(rest) = role.strip_prefix("projects/") {
                // A custom role: it must exist, and grants only within its own project.
                let owner = rest.split('/').next().unwrap_or_default();
                if owner != crate::project_of(resource) {
                    return Err(ServiceError::invalid(format!(
                        "policy.bindings[{i}].role `{role}` is a custom role of project {owner}: it can only be granted on resources of that project"
                    )));
                }
                let exists = self
                    .store
                    .get(Kind::CustomRole, role)
                    .await?
                    .is_some_and(|d| d.body["deleted"] != true);
                if !exists {
                    return Err(ServiceError::invalid(format!(
                        "policy.bindings[{i}].role: Role {role} is not supported for this resource (it does not exist)"
                    )));
                }
            } else if crate::grants(role, "").is_none() {
                return Err(ServiceError::invalid(format!(
                    "policy.bindings[{i}].role `{role}` is not a role this server knows (custom roles are projects/PROJECT/roles/ID); known roles: {}",
                    crate::known_roles().join(", ")
                )));
            }
            for (j, m) in b
                .get("members")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                crate::check_member(m.as_str().unwrap_or("")).map_err(|e| {
                    ServiceError::invalid(format!("policy.bindings[{i}].members[{j}]: {e}"))
                })?;
            }
        }
        let doc = self
            .store
            .put(
                Kind::IamPolicy,
                resource,
                resource,
                &policy,
                None,
                pre,
                &self.now(),
            )
            .await
            .map_err(|e| match e {
                admit_store::StoreError::AlreadyExists(_) => stale(),
                e => e.into(),
            })?;
        let mut out = doc.body;
        out["etag"] = Value::String(doc.etag);
        Ok(out)
    }

    pub async fn get_cv_config(&self, project: &str) -> Result<Value, ServiceError> {
        crate::check_project(project)?;
        let name = format!("projects/{project}/continuousValidationConfig");
        Ok(
            match self
                .store
                .get(Kind::ContinuousValidationConfig, &name)
                .await?
            {
                Some(doc) => {
                    let mut v = doc.body;
                    v["updateTime"] = Value::String(doc.update_time);
                    v
                }
                None => json!({"name": name, "enforcementPolicyConfig": {}}),
            },
        )
    }

    pub async fn update_cv_config(
        &self,
        project: &str,
        mut body: Value,
    ) -> Result<Value, ServiceError> {
        crate::check_project(project)?;
        let name = format!("projects/{project}/continuousValidationConfig");
        let enabled = body
            .pointer("/enforcementPolicyConfig/enabled")
            .cloned()
            .unwrap_or(Value::Bool(false));
        if !enabled.is_boolean() {
            return Err(ServiceError::invalid(
                "enforcementPolicyConfig.enabled must be a boolean",
            ));
        }
        body = json!({"name": name, "enforcementPolicyConfig": {"enabled": enabled}});
        let doc = self
            .store
            .put(
                Kind::ContinuousValidationConfig,
                &name,
                &format!("projects/{project}"),
                &body,
                None,
                Precondition::Any { etag: None },
                &self.now(),
            )
            .await?;
        let mut v = doc.body;
        v["updateTime"] = Value::String(doc.update_time);
        Ok(v)
    }
}
