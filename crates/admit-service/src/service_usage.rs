//! Service Usage v1, the subset the seeds' `gcloud services enable|disable|list` call: a
//! project's API states are recorded and listed; nothing else changes (every API admit serves
//! answers whether or not it is enabled, as an air-gapped server has no one to bill).

use admit_store::{Kind, Page, Precondition};
use serde_json::{Value, json};

use crate::{Service, ServiceError, check_project};

fn check_service(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "`{name}` is not a service name (such as containeranalysis.googleapis.com)"
        )))
    }
}

fn body(project: &str, service: &str, state: &str) -> Value {
    let number = crate::project_number(project);
    json!({
        "name": format!("projects/{number}/services/{service}"),
        "parent": format!("projects/{number}"),
        "config": {"name": service},
        "state": state,
    })
}

/// A finished long-running operation carrying `response`.
fn done(kind: &str, response: Value) -> Value {
    let mut response = response;
    response["@type"] = json!(format!(
        "type.googleapis.com/google.api.serviceusage.v1.{kind}"
    ));
    json!({"name": "operations/noop.DONE_OPERATION", "done": true, "response": response})
}

impl Service {
    async fn set_service_state(
        &self,
        project: &str,
        service: &str,
        state: &str,
    ) -> Result<Value, ServiceError> {
        check_project(project)?;
        check_service(service)?;
        let b = body(project, service, state);
        self.store
            .put(
                Kind::Service,
                &format!("projects/{project}/services/{service}"),
                &format!("projects/{project}"),
                &b,
                None,
                Precondition::Any { etag: None },
                &self.now(),
            )
            .await?;
        Ok(b)
    }

    /// `services/{s}:enable`: a finished operation.
    pub async fn enable_service(
        &self,
        project: &str,
        service: &str,
    ) -> Result<Value, ServiceError> {
        let s = self.set_service_state(project, service, "ENABLED").await?;
        Ok(done("EnableServiceResponse", json!({ "service": s })))
    }

    /// `services:batchEnable` with `serviceIds` (at most 20, as Google allows).
    pub async fn batch_enable_services(
        &self,
        project: &str,
        ids: &[String],
    ) -> Result<Value, ServiceError> {
        if ids.is_empty() || ids.len() > 20 {
            return Err(ServiceError::invalid(
                "serviceIds: give between 1 and 20 services",
            ));
        }
        for id in ids {
            check_service(id)?;
        }
        let mut out = Vec::new();
        for id in ids {
            out.push(self.set_service_state(project, id, "ENABLED").await?);
        }
        Ok(done(
            "BatchEnableServicesResponse",
            json!({ "services": out }),
        ))
    }

    /// `services/{s}:disable`: a finished operation.
    pub async fn disable_service(
        &self,
        project: &str,
        service: &str,
    ) -> Result<Value, ServiceError> {
        let s = self.set_service_state(project, service, "DISABLED").await?;
        Ok(done("DisableServiceResponse", json!({ "service": s })))
    }

    /// `services/{s}`: its recorded state (`DISABLED` if never enabled).
    pub async fn get_service(&self, project: &str, service: &str) -> Result<Value, ServiceError> {
        check_project(project)?;
        check_service(service)?;
        Ok(
            match self
                .store
                .get(
                    Kind::Service,
                    &format!("projects/{project}/services/{service}"),
                )
                .await?
            {
                Some(doc) => doc.body,
                None => body(project, service, "DISABLED"),
            },
        )
    }

    /// `services?filter=state:ENABLED|state:DISABLED`: the services this project recorded.
    pub async fn list_services(
        &self,
        project: &str,
        filter: &str,
        page: &Page,
    ) -> Result<admit_store::Listed<Value>, ServiceError> {
        check_project(project)?;
        let want = match filter.trim() {
            "" => None,
            "state:ENABLED" | "state = ENABLED" | "state=ENABLED" => Some("ENABLED"),
            "state:DISABLED" | "state = DISABLED" | "state=DISABLED" => Some("DISABLED"),
            other => {
                return Err(ServiceError::invalid(format!(
                    "filter `{other}`: only state:ENABLED and state:DISABLED are supported"
                )));
            }
        };
        let l = self
            .store
            .list(Kind::Service, &format!("projects/{project}"), page)
            .await?;
        Ok(admit_store::Listed {
            items: l
                .items
                .into_iter()
                .map(|d| d.body)
                .filter(|b| want.is_none_or(|w| b["state"] == w))
                .collect(),
            next_page_token: l.next_page_token,
        })
    }
}
