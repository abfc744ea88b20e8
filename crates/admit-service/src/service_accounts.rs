//! IAM v1 service accounts (`projects/{p}/serviceAccounts/{email}`): what seeds 000 and 001
//! create with `gcloud iam service-accounts create` and bind with `add-iam-policy-binding`,
//! and Workload Identity: a Kubernetes workload's principal `serviceAccount:POOL[NS/NAME]` acts
//! as every Google service account on which it holds `iam.serviceAccounts.getAccessToken`
//! (`roles/iam.workloadIdentityUser`), as GKE's Workload Identity does.

use admit_store::{Kind, Page, Precondition};
use serde_json::{Value, json};

use crate::{Service, ServiceError, check_project};

/// `ID@PROJECT.iam.gserviceaccount.com` → (`ID`, `PROJECT`).
fn split_email(email: &str) -> Option<(&str, &str)> {
    let (id, domain) = email.split_once('@')?;
    let project = domain.strip_suffix(".iam.gserviceaccount.com")?;
    (!id.is_empty() && !project.is_empty()).then_some((id, project))
}

fn check_account_id(id: &str) -> Result<(), ServiceError> {
    let b = id.as_bytes();
    let ok = (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "accountId `{id}`: 6-30 characters, lower-case letters, digits and `-`, starting with a letter and not ending with `-`"
        )))
    }
}

/// A stable 21-digit unique id, as Google's look.
fn unique_id(email: &str) -> String {
    let h = admit_crypto::sha256(email.as_bytes());
    let mut n: u128 = 0;
    for b in &h[..9] {
        n = (n << 8) | u128::from(*b);
    }
    format!("1{:020}", n % 100_000_000_000_000_000_000)
}

/// The workload pool's project: `PROJECT.svc.id.goog[NS/NAME]` → `PROJECT`.
fn pool_project(principal: &str) -> Option<&str> {
    let rest = principal.strip_prefix("serviceAccount:")?;
    let (pool, _) = rest.split_once('[')?;
    pool.strip_suffix(".svc.id.goog")
}

fn service_account_not_found(name: &str) -> ServiceError {
    ServiceError::not_found(format!("Service account {name} does not exist."))
}

impl Service {
    /// The canonical name of `projects/{p}/serviceAccounts/{email|-}`.
    pub fn service_account_name(
        &self,
        project: &str,
        account: &str,
    ) -> Result<String, ServiceError> {
        let (_, owner) = split_email(account).ok_or_else(|| {
            ServiceError::invalid(format!(
                "`{account}` is not a service account email (ID@PROJECT.iam.gserviceaccount.com)"
            ))
        })?;
        if project != "-" && project != owner {
            return Err(ServiceError::not_found(format!(
                "service account {account} is not in project {project}"
            )));
        }
        Ok(format!("projects/{owner}/serviceAccounts/{account}"))
    }

    pub async fn create_service_account(
        &self,
        project: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        check_project(project)?;
        let id = request["accountId"].as_str().unwrap_or_default();
        check_account_id(id)?;
        let sa = &request["serviceAccount"];
        let email = format!("{id}@{project}.iam.gserviceaccount.com");
        let name = format!("projects/{project}/serviceAccounts/{email}");
        let uid = unique_id(&email);
        let mut body = json!({
            "name": name, "projectId": project, "uniqueId": uid, "email": email,
            "oauth2ClientId": uid, "etag": "MDEwMjE5MjA=",
        });
        for f in ["displayName", "description"] {
            if let Some(v) = sa.get(f).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                body[f] = json!(v);
            }
        }
        self.store
            .put(
                Kind::ServiceAccount,
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
                    format!(
                        "Service account {id} already exists within project projects/{project}."
                    ),
                ),
                e => e.into(),
            })?;
        Ok(body)
    }

    pub async fn get_service_account(&self, name: &str) -> Result<Value, ServiceError> {
        self.store
            .get(Kind::ServiceAccount, name)
            .await?
            .map(|d| d.body)
            .ok_or_else(|| service_account_not_found(name))
    }

    pub async fn list_service_accounts(
        &self,
        project: &str,
        page: &Page,
    ) -> Result<admit_store::Listed<Value>, ServiceError> {
        check_project(project)?;
        let l = self
            .store
            .list(Kind::ServiceAccount, &format!("projects/{project}"), page)
            .await?;
        Ok(admit_store::Listed {
            items: l.items.into_iter().map(|d| d.body).collect(),
            next_page_token: l.next_page_token,
        })
    }

    /// Deletes the account and, in the same transaction, its IAM policy.
    pub async fn delete_service_account(&self, name: &str) -> Result<(), ServiceError> {
        self.store.delete(Kind::ServiceAccount, name, None).await?;
        Ok(())
    }

    /// `PATCH` with `{serviceAccount, updateMask}` (displayName, description).
    pub async fn patch_service_account(
        &self,
        name: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        let sa = &request["serviceAccount"];
        let mask: Vec<&str> = request["updateMask"]
            .as_str()
            .unwrap_or("displayName,description")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        let mut fields = Vec::with_capacity(mask.len());
        for m in mask {
            fields.push(match m {
                "displayName" | "display_name" => "displayName",
                "description" => "description",
                other => {
                    return Err(ServiceError::invalid(format!(
                        "updateMask: `{other}` cannot be updated (displayName, description)"
                    )));
                }
            });
        }
        let doc = self
            .rewrite(
                Kind::ServiceAccount,
                name,
                &format!("projects/{}", crate::project_of(name)),
                None,
                || service_account_not_found(name),
                |mut body| {
                    for field in &fields {
                        match sa.get(*field).and_then(Value::as_str) {
                            Some(v) => body[*field] = json!(v),
                            None => {
                                if let Some(o) = body.as_object_mut() {
                                    o.remove(*field);
                                }
                            }
                        }
                    }
                    Ok(body)
                },
            )
            .await?;
        Ok(doc.body)
    }

    /// The Google service accounts a Workload Identity principal acts as: those of its pool's
    /// project on which it holds `iam.serviceAccounts.getAccessToken`.
    pub(crate) async fn impersonated(&self, principal: &str) -> Result<Vec<String>, ServiceError> {
        let Some(project) = pool_project(principal) else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        let mut page = Page {
            size: Page::MAX_SIZE,
            token: None,
        };
        loop {
            let l = self
                .store
                .list(Kind::ServiceAccount, &format!("projects/{project}"), &page)
                .await?;
            for d in l.items {
                let email = d.body["email"].as_str().unwrap_or_default().to_owned();
                if self
                    .holds_directly(principal, "iam.serviceAccounts.getAccessToken", &d.name)
                    .await?
                {
                    out.push(format!("serviceAccount:{email}"));
                }
            }
            match l.next_page_token {
                Some(t) => page.token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_ids_and_pools() {
        assert_eq!(
            split_email("kritis@my-proj.iam.gserviceaccount.com"),
            Some(("kritis", "my-proj"))
        );
        assert_eq!(split_email("kritis@example.com"), None);
        assert!(check_account_id("kritis").is_ok());
        for bad in ["krit", "Kritis", "1kritis", "kritis-", "k_ritis"] {
            assert!(check_account_id(bad).is_err(), "{bad}");
        }
        let u = unique_id("kritis@my-proj.iam.gserviceaccount.com");
        assert_eq!(u.len(), 21);
        assert_eq!(
            pool_project("serviceAccount:my-proj.svc.id.goog[kritis/kritis]"),
            Some("my-proj")
        );
        assert_eq!(
            pool_project("serviceAccount:kritis@my-proj.iam.gserviceaccount.com"),
            None
        );
    }
}
