//! The audit log as Cloud Logging shows it: every record rendered as the `LogEntry` Google
//! writes for the same event, and Cloud Logging v2 `entries.list` over them with the Logging
//! query language (`admit_model::logging_query`).
//!
//! * A GKE admission: `cloudaudit.googleapis.com%2Factivity` on `k8s_cluster`, an `AuditLog`
//!   for `io.k8s.{group}.v1.{resource}.{create|update}`; a denial answers status `Failure`, code
//!   403, reason `VIOLATES_POLICY` and Google's message ("pods \"P\" is forbidden: image policy
//!   webhook backend denied one or more images: Image I denied by projects/P/attestors/A: …");
//!   breakglass and dry run set the labels `imagepolicywebhook.image-policy.k8s.io/break-glass`,
//!   `…/dry-run` and `…/overridden-verification-result`.
//! * A Cloud Run service or job (Knative here): `cloudaudit.googleapis.com%2Fsystem_event` on
//!   `cloud_run_revision` (`cloud_run_job`), the revision's `Ready` condition with reason
//!   `ContainerImageUnauthorized` when denied, the annotations in `response.metadata`.
//! * An administrative change: `cloudaudit.googleapis.com%2Factivity` on `audited_resource`.
//! * A continuous validation finding: `binaryauthorization.googleapis.com%2Fcontinuous_validation`
//!   on `k8s_cluster`, its `ContinuousValidationEvent` as `jsonPayload` (severity WARNING); a pod
//!   that conforms again is admit's addition (a `podEvent` without verdict, severity INFO, label
//!   `admit.dev/continuous-validation: conformant`).
//!
//! admit's own record is kept as the `AuditLog`'s `metadata`, so nothing is lost.

use admit_model::logging_query::{self, Query};
use admit_store::{AuditFilter, Page};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::{Service, ServiceError};

const AUDIT_LOG: &str = "type.googleapis.com/google.cloud.audit.AuditLog";
const ACTIVITY: &str = "cloudaudit.googleapis.com%2Factivity";
const SYSTEM_EVENT: &str = "cloudaudit.googleapis.com%2Fsystem_event";
const CONTINUOUS_VALIDATION: &str = "binaryauthorization.googleapis.com%2Fcontinuous_validation";
/// How many records one `entries.list` call examines at most; past it the page is returned
/// as it is (maybe empty) with a token to go on, as Cloud Logging does.
const SCAN_LIMIT: usize = 20_000;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

fn s<'a>(r: &'a Value, k: &str) -> &'a str {
    r.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn principal_email(user: &str) -> &str {
    user.split_once(':')
        .filter(|(kind, _)| matches!(*kind, "user" | "serviceAccount" | "group"))
        .map_or(user, |(_, e)| e)
}

fn insert_id(r: &Value) -> String {
    let h = admit_crypto::sha256(r.to_string().as_bytes());
    h.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// `Pod` → `pods`; Kubernetes' own plural for the kinds admit admits.
fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// Google's sentence for each denied image: "Image I denied by WHO: WHY".
fn denials(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for i in r["images"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if !is_denied(i) {
            continue;
        }
        let image = s(i, "image");
        let scope = i["rule"]["scope"].as_str().unwrap_or("the policy");
        let failures = i["failures"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if failures.is_empty() {
            for reason in i["reasons"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                out.push(format!(
                    "Image {image} denied by {scope}: {}",
                    reason.as_str().unwrap_or_default()
                ));
            }
        }
        for f in failures {
            let by = f["attestor"].as_str().unwrap_or(scope);
            out.push(format!("Image {image} denied by {by}: {}", s(f, "message")));
        }
    }
    out
}

/// Whether the image failed the policy (denied, or allowed only by dry run or breakglass).
fn is_denied(image: &Value) -> bool {
    matches!(image["verdict"].as_str(), Some("DENIED" | "DRY_RUN"))
}

/// The `LogEntry` Google writes for the event `record` describes.
pub fn log_entry(record: &Value) -> Value {
    let project = s(record, "project");
    let time = s(record, "time");
    if let Some(event) = record.get("continuousValidation") {
        return cv_entry(record, event, project, time);
    }
    let verdict = s(record, "verdict");
    let mut entry = if verdict == "ADMIN_CHANGE" {
        admin_entry(record, project)
    } else if record.get("cloudRun").is_some_and(Value::is_object) {
        cloud_run_entry(record, project)
    } else {
        gke_entry(record, project)
    };
    entry["insertId"] = json!(insert_id(record));
    entry["timestamp"] = json!(time);
    entry["receiveTimestamp"] = json!(time);
    entry["protoPayload"]["@type"] = json!(AUDIT_LOG);
    entry["protoPayload"]["metadata"] = record.clone();
    let user = s(record, "user");
    if !user.is_empty() {
        entry["protoPayload"]["authenticationInfo"] =
            json!({"principalEmail": principal_email(user)});
    }
    entry
}

fn cv_entry(r: &Value, event: &Value, project: &str, time: &str) -> Value {
    let (location, cluster) = s(r, "cluster")
        .split_once('.')
        .unwrap_or(("", s(r, "cluster")));
    let conformant = s(r, "verdict") == "CV_CONFORMANT";
    let mut entry = json!({
        "logName": format!("projects/{project}/logs/{CONTINUOUS_VALIDATION}"),
        "resource": {"type": "k8s_cluster", "labels": {"project_id": project, "location": location, "cluster_name": cluster}},
        "severity": if conformant { "INFO" } else { "WARNING" },
        "jsonPayload": event,
        "insertId": insert_id(r),
        "timestamp": time,
        "receiveTimestamp": time,
    });
    if conformant {
        entry["labels"] = json!({"admit.dev/continuous-validation": "conformant"});
    }
    if let Some(g) = r.get("breakglassStatus").and_then(Value::as_str) {
        entry["labels"]["admit.dev/breakglass"] = json!(g);
    }
    entry
}

fn admin_entry(r: &Value, project: &str) -> Value {
    let permission = s(r, "permission");
    let service = match permission.split('.').next().unwrap_or_default() {
        "containeranalysis" => "containeranalysis.googleapis.com",
        "cloudkms" => "cloudkms.googleapis.com",
        "resourcemanager" => "cloudresourcemanager.googleapis.com",
        _ => "binaryauthorization.googleapis.com",
    };
    json!({
        "logName": format!("projects/{project}/logs/{ACTIVITY}"),
        "resource": {"type": "audited_resource", "labels": {"project_id": project, "service": service, "method": permission}},
        "severity": "NOTICE",
        "protoPayload": {
            "serviceName": service,
            "methodName": permission,
            "resourceName": s(r, "name"),
            "authorizationInfo": [{"permission": permission, "resource": s(r, "name"), "granted": true}],
            "status": {},
        },
    })
}

fn gke_entry(r: &Value, project: &str) -> Value {
    let kind = s(r, "kind");
    let group = match s(r, "apiGroup") {
        "" => "core",
        g => g,
    };
    let resource = plural(kind);
    let name = s(r, "name");
    let namespace = s(r, "namespace");
    let verb = s(r, "operation").to_ascii_lowercase();
    let (location, cluster) = s(r, "cluster")
        .split_once('.')
        .unwrap_or(("", s(r, "cluster")));
    let verdict = s(r, "verdict");
    let denied = matches!(verdict, "DENIED" | "ERROR_DENIED");
    let found = denials(r);
    let mut labels = serde_json::Map::new();
    let mut annotations = serde_json::Map::new();
    labels.insert(
        "authorization.k8s.io/decision".into(),
        json!(if denied { "forbid" } else { "allow" }),
    );
    if verdict == "BREAKGLASS" {
        labels.insert(
            "imagepolicywebhook.image-policy.k8s.io/break-glass".into(),
            json!("true"),
        );
        annotations.insert(
            "alpha.image-policy.k8s.io/break-glass".into(),
            json!("true"),
        );
    }
    if r["dryRun"] == true {
        labels.insert(
            "imagepolicywebhook.image-policy.k8s.io/dry-run".into(),
            json!("true"),
        );
    }
    if !denied && !found.is_empty() {
        labels.insert(
            "imagepolicywebhook.image-policy.k8s.io/overridden-verification-result".into(),
            json!(found.join("\n")),
        );
    }
    let message = if verdict == "ERROR_DENIED" {
        format!(
            "{resource} \"{name}\" is forbidden: image policy webhook backend failed: {}",
            s(r, "reason")
        )
    } else {
        format!(
            "{resource} \"{name}\" is forbidden: image policy webhook backend denied one or more images: {}",
            found.join("\n")
        )
    };
    let images: Vec<Value> = r["images"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|i| json!({"image": i["image"]}))
        .collect();
    let response = if denied {
        json!({"@type": "core.k8s.io/v1.Status", "apiVersion": "v1", "kind": "Status", "code": 403,
               "status": "Failure", "reason": if verdict == "DENIED" { "VIOLATES_POLICY" } else { "InternalError" },
               "message": message, "details": {"kind": resource, "name": name}, "metadata": {}})
    } else {
        json!({"@type": format!("{group}.k8s.io/v1.{kind}"), "kind": kind,
               "metadata": {"name": name, "namespace": namespace}})
    };
    json!({
        "logName": format!("projects/{project}/logs/{ACTIVITY}"),
        "resource": {"type": "k8s_cluster", "labels": {"project_id": project, "location": location, "cluster_name": cluster}},
        "severity": "NOTICE",
        "labels": labels,
        "operation": {"id": s(r, "uid"), "producer": "k8s.io", "first": true, "last": true},
        "protoPayload": {
            "serviceName": "k8s.io",
            "methodName": format!("io.k8s.{group}.v1.{resource}.{verb}"),
            "resourceName": format!("{group}/v1/namespaces/{namespace}/{resource}/{name}"),
            "request": {"@type": format!("{group}.k8s.io/v1.{kind}"), "kind": kind,
                        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
                        "images": images},
            "response": response,
            "status": if denied { json!({"code": 7, "message": message}) } else { json!({}) },
        },
    })
}

fn cloud_run_entry(r: &Value, project: &str) -> Value {
    let run = &r["cloudRun"];
    let job = run["kind"] == "job";
    let name = s(r, "name");
    let revision = run["revision"].as_str().unwrap_or(name);
    let verdict = s(r, "verdict");
    let denied = matches!(verdict, "DENIED" | "ERROR_DENIED");
    let found = denials(r);
    let images = r["images"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|i| is_denied(i))
        .map(|i| s(i, "image").to_owned())
        .collect::<Vec<_>>();
    let first = images.first().cloned().unwrap_or_default();
    let detail = found.join("\n");
    let message = match verdict {
        "DENIED" => format!("Container image '{first}' is not authorized by policy. {detail}"),
        "ERROR_DENIED" => format!("Container image authorization failed: {}", s(r, "reason")),
        "BREAKGLASS" => format!(
            "Container image '{first}' is not authorized by policy; deployed with breakglass: {}. {detail}",
            run["breakglassJustification"].as_str().unwrap_or_default()
        ),
        _ if r["dryRun"] == true => format!(
            "Container image '{first}' is not authorized by policy; allowed because the policy is in dry run mode. {detail}"
        ),
        _ => "Ready".to_owned(),
    };
    let mut annotations = serde_json::Map::new();
    if let Some(p) = run["policy"].as_str() {
        annotations.insert("run.googleapis.com/binary-authorization".into(), json!(p));
    }
    if let Some(j) = run["breakglassJustification"].as_str() {
        annotations.insert(
            "run.googleapis.com/binary-authorization-breakglass".into(),
            json!(j),
        );
    }
    let mut condition = json!({"type": "Ready", "status": if denied { "False" } else { "True" }, "message": message});
    if denied {
        condition["reason"] = json!("ContainerImageUnauthorized");
    }
    let (location, _) = s(r, "cluster")
        .split_once('.')
        .unwrap_or((s(r, "cluster"), ""));
    let (resource_type, labels, resource_name, method) = if job {
        (
            "cloud_run_job",
            json!({"project_id": project, "location": location, "job_name": name}),
            format!("namespaces/{project}/jobs/{name}"),
            if s(r, "operation") == "UPDATE" {
                "/Jobs.ReplaceJob"
            } else {
                "/Jobs.CreateJob"
            },
        )
    } else {
        (
            "cloud_run_revision",
            json!({"project_id": project, "location": location, "service_name": name,
                   "revision_name": revision, "configuration_name": name}),
            format!("namespaces/{project}/revisions/{revision}"),
            if s(r, "operation") == "UPDATE" {
                "/Services.ReplaceService"
            } else {
                "/Services.CreateService"
            },
        )
    };
    json!({
        "logName": format!("projects/{project}/logs/{SYSTEM_EVENT}"),
        "resource": {"type": resource_type, "labels": labels},
        "severity": if denied { "ERROR" } else if verdict == "ALLOWED" && r["dryRun"] != true { "INFO" } else { "WARNING" },
        "protoPayload": {
            "serviceName": "run.googleapis.com",
            "methodName": method,
            "resourceName": resource_name,
            "status": if denied { json!({"code": 7, "message": message}) } else { json!({"message": message}) },
            "response": {
                "apiVersion": "serving.knative.dev/v1",
                "kind": if job { "Job" } else { "Revision" },
                "metadata": {"name": if job { name } else { revision }, "namespace": project, "annotations": annotations},
                "status": {"conditions": [condition]},
            },
        },
    })
}

/// The page token: where the next page starts in the store, and how many records of that
/// store page were already examined.
fn token(store: Option<&str>, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{offset}:{}", store.unwrap_or_default()))
}

fn parse_token(t: &str) -> Result<(Option<String>, usize), ServiceError> {
    let bad = || {
        ServiceError::invalid(format!(
            "pageToken: `{t}` is not a token this server issued"
        ))
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (offset, store) = raw.split_once(':').ok_or_else(bad)?;
    let offset = offset.parse().map_err(|_| bad())?;
    Ok(((!store.is_empty()).then(|| store.to_owned()), offset))
}

fn project_of_resource(name: &str) -> Result<&str, ServiceError> {
    name.strip_prefix("projects/")
        .and_then(|r| r.split('/').next())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ServiceError::invalid(format!(
                "resourceNames: `{name}` is not projects/PROJECT (admit keeps logs per project)"
            ))
        })
}

impl Service {
    /// Cloud Logging v2 `entries.list`: `{resourceNames, filter, orderBy, pageSize, pageToken}`.
    pub async fn list_log_entries(&self, req: &Value) -> Result<Value, ServiceError> {
        let mut names: Vec<String> = Vec::new();
        for (field, prefix) in [("resourceNames", ""), ("projectIds", "projects/")] {
            match req.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => {
                    for v in a {
                        let n = v.as_str().ok_or_else(|| {
                            ServiceError::invalid(format!("{field} must be a list of strings"))
                        })?;
                        names.push(format!("{prefix}{n}"));
                    }
                }
                Some(_) => {
                    return Err(ServiceError::invalid(format!("{field} must be a list")));
                }
            }
        }
        let [name] = names.as_slice() else {
            return Err(ServiceError::invalid(
                "resourceNames: name exactly one project (projects/PROJECT)",
            ));
        };
        let project = project_of_resource(name)?.to_owned();
        let filter = req["filter"].as_str().unwrap_or_default();
        let query: Query =
            logging_query::parse(filter).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let newest_first = match req["orderBy"]
            .as_str()
            .unwrap_or("timestamp asc")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "timestamp" | "timestamp asc" => false,
            "timestamp desc" => true,
            other => {
                return Err(ServiceError::invalid(format!(
                    "orderBy: `{other}`; only `timestamp asc` and `timestamp desc` are supported"
                )));
            }
        };
        let page_size = match &req["pageSize"] {
            Value::Null => DEFAULT_PAGE,
            v => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(|n| usize::try_from(n).unwrap_or(MAX_PAGE))
                .ok_or_else(|| ServiceError::invalid("pageSize must be a number"))?,
        };
        let page_size = if page_size == 0 {
            DEFAULT_PAGE
        } else {
            page_size.min(MAX_PAGE)
        };
        let (mut store_token, mut skip) = match req["pageToken"].as_str().filter(|t| !t.is_empty())
        {
            Some(t) => parse_token(t)?,
            None => (None, 0),
        };
        let (since, until) = query.timestamp_bounds();
        let f = AuditFilter {
            since: since.map(|(s, n)| admit_model::rfc3339(s, n)),
            until: until.map(|(s, n)| admit_model::rfc3339(s, n)),
            newest_first,
            ..AuditFilter::default()
        };
        // Records reach the store from the on-disk log a moment after they are durable: a read
        // sees everything recorded before it.
        self.audit_caught_up().await;
        let mut entries = Vec::new();
        let mut examined = 0usize;
        loop {
            let page = Page {
                size: Page::MAX_SIZE,
                token: store_token.clone(),
            };
            let l = self
                .store
                .list_audit(&project, &f, &page)
                .await
                .map_err(ServiceError::from)?;
            let count = l.items.len();
            for (i, record) in l.items.into_iter().enumerate().skip(skip) {
                examined += 1;
                let entry = log_entry(&record);
                if query.matches(&entry) {
                    entries.push(entry);
                }
                let done_here = i + 1;
                if entries.len() >= page_size || examined >= SCAN_LIMIT {
                    // More may follow: in this store page, or after it.
                    let more = done_here < count || l.next_page_token.is_some();
                    let next = more.then(|| {
                        if done_here < count {
                            token(store_token.as_deref(), done_here)
                        } else {
                            token(l.next_page_token.as_deref(), 0)
                        }
                    });
                    return Ok(entries_response(entries, next));
                }
            }
            skip = 0;
            match l.next_page_token {
                Some(t) => store_token = Some(t),
                None => return Ok(entries_response(entries, None)),
            }
        }
    }
}

fn entries_response(entries: Vec<Value>, next: Option<String>) -> Value {
    let mut out = json!({ "entries": Value::Array(entries) });
    if let Some(t) = next {
        out["nextPageToken"] = json!(t);
    }
    out
}
