//! IAM v1 custom roles at project level (`projects/{p}/roles/{id}`), as seed 001's
//! `gcloud iam roles create kritisRole --permissions … --project P` makes one: a custom role
//! grants exactly its `includedPermissions`, only on resources of its project, and nothing
//! once deleted. `permissions:queryTestablePermissions` lists what a custom role may hold.

use admit_store::{Kind, Page, Precondition};
use serde_json::{Value, json};

use crate::{PERMISSIONS, Service, ServiceError, check_project};

const STAGES: &[&str] = &["ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"];

fn check_role_id(id: &str) -> Result<(), ServiceError> {
    let ok = (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "roleId `{id}`: 3-64 letters, digits, `_` or `.`"
        )))
    }
}

/// Checks the writable fields of a role; returns the normalised body.
fn role_body(name: &str, role: &Value, etag: &str) -> Result<Value, ServiceError> {
    let mut perms: Vec<String> = Vec::new();
    for (i, p) in role["includedPermissions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let p = p.as_str().ok_or_else(|| {
            ServiceError::invalid(format!("role.includedPermissions[{i}] must be a string"))
        })?;
        if !PERMISSIONS.contains(&p) {
            return Err(ServiceError::invalid(format!(
                "Permission {p} is not valid (role.includedPermissions[{i}]): see permissions:queryTestablePermissions"
            )));
        }
        if !perms.iter().any(|x| x == p) {
            perms.push(p.to_owned());
        }
    }
    perms.sort();
    let stage = role["stage"].as_str().unwrap_or("ALPHA");
    if !STAGES.contains(&stage) {
        return Err(ServiceError::invalid(format!(
            "role.stage `{stage}`: one of {}",
            STAGES.join(", ")
        )));
    }
    let id = name.rsplit('/').next().unwrap_or_default();
    let mut out = json!({"name": name, "title": role["title"].as_str().filter(|t| !t.is_empty()).unwrap_or(id),
                         "includedPermissions": perms, "stage": stage, "etag": etag});
    if let Some(d) = role["description"].as_str().filter(|d| !d.is_empty()) {
        out["description"] = json!(d);
    }
    Ok(out)
}

fn role_not_found(name: &str) -> ServiceError {
    ServiceError::not_found(format!("The role named {name} was not found."))
}

impl Service {
    pub async fn create_role(&self, project: &str, request: &Value) -> Result<Value, ServiceError> {
        check_project(project)?;
        let id = request["roleId"].as_str().unwrap_or_default();
        check_role_id(id)?;
        let name = format!("projects/{project}/roles/{id}");
        let body = role_body(&name, &request["role"], "BwX=")?;
        let doc = self
            .store
            .put(
                Kind::CustomRole,
                &name,
                &format!("projects/{project}"),
                &body,
                None,
                Precondition::MustNotExist,
                &self.now(),
            )
            .await
            .map_err(|e| match e {
                admit_store::StoreError::AlreadyExists(_) => ServiceError::new(
                    crate::Code::AlreadyExists,
                    format!("A role named {id} in projects/{project} already exists."),
                ),
                e => e.into(),
            })?;
        Ok(with_etag(doc))
    }

    pub async fn get_role(&self, name: &str) -> Result<Value, ServiceError> {
        self.store
            .get(Kind::CustomRole, name)
            .await?
            .map(with_etag)
            .ok_or_else(|| role_not_found(name))
    }

    pub async fn list_roles(
        &self,
        project: &str,
        show_deleted: bool,
        page: &Page,
    ) -> Result<admit_store::Listed<Value>, ServiceError> {
        check_project(project)?;
        let l = self
            .store
            .list(Kind::CustomRole, &format!("projects/{project}"), page)
            .await?;
        Ok(admit_store::Listed {
            items: l
                .items
                .into_iter()
                .map(with_etag)
                .filter(|r| show_deleted || r["deleted"] != true)
                .collect(),
            next_page_token: l.next_page_token,
        })
    }

    /// `PATCH roles/{r}?updateMask=…` (title, description, includedPermissions, stage), with
    /// the role's etag as the precondition when given.
    pub async fn patch_role(
        &self,
        name: &str,
        role: &Value,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        let fields: Vec<String> = if mask.is_empty() {
            role.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            mask.to_vec()
        };
        let given = role["etag"]
            .as_str()
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        let doc = self
            .rewrite(
                Kind::CustomRole,
                name,
                &format!("projects/{}", crate::project_of(name)),
                given,
                || role_not_found(name),
                |current| {
                    let mut merged = current.clone();
                    for f in &fields {
                        match f.as_str() {
                            "title" | "description" | "includedPermissions" | "stage" => {
                                merged[f.as_str()] =
                                    role.get(f.as_str()).cloned().unwrap_or(Value::Null);
                            }
                            "included_permissions" => {
                                merged["includedPermissions"] = role
                                    .get("includedPermissions")
                                    .cloned()
                                    .unwrap_or(Value::Null);
                            }
                            "etag" | "name" => {}
                            other => {
                                return Err(ServiceError::invalid(format!(
                                    "updateMask: `{other}` cannot be updated (title, description, includedPermissions, stage)"
                                )));
                            }
                        }
                    }
                    let mut body = role_body(name, &merged, "BwX=")?;
                    if current["deleted"] == true {
                        body["deleted"] = json!(true);
                    }
                    Ok(body)
                },
            )
            .await?;
        Ok(with_etag(doc))
    }

    /// Soft delete (Google keeps a deleted role 7 days, undeletable): it grants nothing.
    pub async fn delete_role(&self, name: &str, deleted: bool) -> Result<Value, ServiceError> {
        let doc = self
            .rewrite(
                Kind::CustomRole,
                name,
                &format!("projects/{}", crate::project_of(name)),
                None,
                || role_not_found(name),
                |mut body| {
                    if deleted {
                        body["deleted"] = json!(true);
                    } else if let Some(o) = body.as_object_mut() {
                        o.remove("deleted");
                    }
                    Ok(body)
                },
            )
            .await?;
        Ok(with_etag(doc))
    }

    /// The permissions `role` (a custom role's name) grants: none if it does not exist or is
    /// deleted.
    pub(crate) async fn custom_role_permissions(
        &self,
        role: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let Some(doc) = self.store.get(Kind::CustomRole, role).await? else {
            return Ok(vec![]);
        };
        if doc.body["deleted"] == true {
            return Ok(vec![]);
        }
        Ok(doc.body["includedPermissions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect())
    }
}

fn with_etag(doc: admit_store::Doc) -> Value {
    let mut b = doc.body;
    b["etag"] = json!(doc.etag);
    b
}

/// `permissions:queryTestablePermissions`: every permission this server checks, each
/// supported in custom roles.
pub fn testable_permissions() -> Value {
    let list: Vec<Value> = PERMISSIONS
        .iter()
        .map(|p| json!({"name": p, "title": p, "stage": "GA", "customRolesSupportLevel": "SUPPORTED"}))
        .collect();
    json!({ "permissions": list })
}
