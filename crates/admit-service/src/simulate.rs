//! Policy simulation (an admit extension): what a proposed policy would change before it is
//! imported. The running workloads (pods, from the cluster the server watches) and the
//! admissions of the audit log over a period are evaluated under the current and the proposed
//! policy, with the evidence admission would gather now, by the same engine; what one denies
//! and the other admits is reported both ways.

use std::collections::BTreeMap;

use admit_model::{Format, Policy};
use admit_policy::{CompiledPolicy, Context, Decision};
use admit_store::{AuditFilter, Page};
use serde_json::{Value, json};

use crate::{AdmissionRequest, Service, ServiceError};

/// The cluster's running pods, for the simulator (implemented with kube-rs by admit-kube).
#[async_trait::async_trait]
pub trait RunningPods: Send + Sync + std::fmt::Debug {
    /// Every pod, as Kubernetes encodes it.
    async fn running_pods(&self) -> Result<Vec<Value>, String>;
}

/// What the server knows of the cluster it serves: its `location.name` and its pods.
#[derive(Debug, Default, Clone)]
pub(crate) struct ClusterView {
    pub(crate) name: Option<String>,
    /// The SPIFFE trust domain of Istio identities, as the webhook builds them.
    pub(crate) trust_domain: String,
    pub(crate) pods: Option<std::sync::Arc<dyn RunningPods>>,
}

/// At most this many audit records are examined (newest first); past it the answer says so.
const MAX_AUDIT_RECORDS: usize = 100_000;

/// A workload as the engine sees it: namespace, kind, name, service account, images.
type Workload = (String, String, String, String, Vec<String>);

/// One workload or admission the two policies judge differently.
struct Change {
    key: Workload,
    item: Value,
}

fn verdict(d: &Decision) -> &'static str {
    if d.allowed { "ALLOWED" } else { "DENIED" }
}

fn why(d: &Decision) -> Vec<String> {
    d.images
        .iter()
        .filter(|i| !matches!(i.verdict, admit_policy::Verdict::Allowed))
        .flat_map(|i| i.failures.iter().map(move |f| format!("{}: {f}", i.image)))
        .collect()
}

impl Service {
    /// `POST /v1/projects/{p}/policy:simulate` with `{"policy": …, "since": "24h"}`.
    pub async fn simulate_policy(
        &self,
        project: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        let cluster = self.cluster.name.as_deref();
        let pods = self.cluster.pods.as_ref();
        let Some(raw) = request.get("policy").filter(|p| p.is_object()) else {
            return Err(ServiceError::invalid("policy: required (a Policy object)"));
        };
        let mut proposed: Policy = admit_model::decode(&raw.to_string(), Format::Json)
            .map_err(|e| ServiceError::invalid(format!("policy: {e}")))?;
        proposed.etag = None;
        self.check_policy(project, &mut proposed)
            .await
            .map_err(|e| ServiceError::new(e.code, format!("policy: {}", e.message)))?;
        let since_text = request
            .get("since")
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| "24h".to_owned());
        let since = admit_model::parse_duration(&since_text).ok_or_else(|| {
            ServiceError::invalid(format!(
                "since: `{since_text}` is not a duration such as 90s, 30m, 24h or 7d"
            ))
        })?;
        let proposed = CompiledPolicy::new(proposed)
            .map_err(|e| ServiceError::invalid(format!("policy: {e}")))?;
        let current = self.current_policy(project).await?;
        let now = (self.clock)().0;

        let mut out = json!({});
        match pods {
            None => {
                out["running"] = json!({"note": "the server watches no cluster (start it with --kubeconfig, --watch-kubernetes or --continuous-validation) so no running workload was evaluated"});
            }
            Some(source) => {
                let pods = source.running_pods().await.map_err(|e| {
                    ServiceError::new(
                        crate::Code::Unavailable,
                        format!("cannot list the cluster's pods: {e}"),
                    )
                })?;
                let mut evaluated = 0;
                let mut changes = Vec::new();
                for pod in pods.iter().filter(|p| {
                    !matches!(
                        p.pointer("/status/phase").and_then(Value::as_str),
                        Some("Succeeded" | "Failed")
                    )
                }) {
                    let meta = &pod["metadata"];
                    let ns = meta["namespace"].as_str().unwrap_or("default");
                    let sa = pod["spec"]["serviceAccountName"]
                        .as_str()
                        .unwrap_or("default");
                    let Ok(images) = admit_model::pod_spec_images(&pod["spec"]) else {
                        continue;
                    };
                    let images: Vec<String> = images.into_iter().map(|i| i.image).collect();
                    if images.is_empty() {
                        continue;
                    }
                    evaluated += 1;
                    let who = (
                        ns.to_owned(),
                        "Pod".to_owned(),
                        meta["name"].as_str().unwrap_or_default().to_owned(),
                        sa.to_owned(),
                        images,
                    );
                    if let Some(c) = self
                        .compare(project, cluster, &current, &proposed, who, now)
                        .await?
                    {
                        changes.push(c);
                    }
                }
                out["running"] = split(evaluated, changes);
            }
        }

        // Admissions over the period, newest first; identical ones are evaluated once.
        let from = admit_model::rfc3339(now.saturating_sub(since), 0);
        let filter = AuditFilter {
            since: Some(from.clone()),
            newest_first: true,
            ..AuditFilter::default()
        };
        let mut page = Page {
            size: Page::MAX_SIZE,
            token: None,
        };
        // Each distinct workload: how many admissions, and the newest one's time.
        let mut seen: BTreeMap<Workload, (usize, String)> = BTreeMap::new();
        let mut examined = 0;
        let mut admissions_seen = 0;
        let mut truncated = false;
        // Every admission recorded before the simulation is replayed.
        self.audit_caught_up().await;
        loop {
            let listed = self.store.list_audit(project, &filter, &page).await?;
            for r in &listed.items {
                examined += 1;
                if r["verdict"] == "ADMIN_CHANGE" || r.get("continuousValidation").is_some() {
                    continue;
                }
                let images: Vec<String> = r["images"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|i| i["image"].as_str().map(str::to_owned))
                    .collect();
                if images.is_empty() {
                    continue;
                }
                admissions_seen += 1;
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                let key = (
                    s("namespace"),
                    s("kind"),
                    s("name"),
                    r["serviceAccount"].as_str().unwrap_or("default").to_owned(),
                    images,
                );
                let e = seen.entry(key).or_insert((0, s("time")));
                e.0 += 1;
            }
            if examined >= MAX_AUDIT_RECORDS {
                truncated = listed.next_page_token.is_some();
                break;
            }
            match listed.next_page_token {
                Some(t) => page.token = Some(t),
                None => break,
            }
        }
        let mut changes = Vec::new();
        let distinct = seen.len();
        for (key, (count, latest)) in seen {
            if let Some(mut c) = self
                .compare(project, cluster, &current, &proposed, key, now)
                .await?
            {
                c.item["admissions"] = json!(count);
                c.item["latest"] = json!(latest);
                changes.push(c);
            }
        }
        let mut admissions = split(distinct, changes);
        admissions["since"] = json!(from);
        admissions["records"] = json!(admissions_seen);
        if truncated {
            admissions["truncated"] = json!(format!(
                "only the newest {MAX_AUDIT_RECORDS} records were examined"
            ));
        }
        out["admissions"] = admissions;
        Ok(out)
    }

    /// The two verdicts on one workload, when they differ.
    async fn compare(
        &self,
        project: &str,
        cluster: Option<&str>,
        current: &CompiledPolicy,
        proposed: &CompiledPolicy,
        key: Workload,
        now: u64,
    ) -> Result<Option<Change>, ServiceError> {
        let (ns, kind, name, sa, images) = &key;
        let req = AdmissionRequest {
            project: project.to_owned(),
            images: images.clone(),
            context: Context {
                cluster: cluster.map(str::to_owned),
                namespace: Some(ns.clone()),
                service_account: Some(sa.clone()),
                istio_identity: Some(format!(
                    "spiffe://{}/ns/{ns}/sa/{sa}",
                    self.cluster.trust_domain
                )),
            },
        };
        let before = self.evaluate_with(current, &req, now).await?;
        let after = self.evaluate_with(proposed, &req, now).await?;
        if before.allowed == after.allowed {
            return Ok(None);
        }
        let item = json!({
            "change": if after.allowed { "NEWLY_ALLOWED" } else { "NEWLY_DENIED" },
            "namespace": ns, "kind": kind, "name": name, "serviceAccount": sa, "images": images,
            "current": verdict(&before), "proposed": verdict(&after),
            "why": if after.allowed { why(&before) } else { why(&after) },
        });
        Ok(Some(Change { key, item }))
    }
}

/// `{"evaluated", "newlyDenied": [...], "newlyAllowed": [...]}`, each sorted.
fn split(evaluated: usize, mut changes: Vec<Change>) -> Value {
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    let (denied, allowed): (Vec<_>, Vec<_>) = changes
        .into_iter()
        .map(|c| c.item)
        .partition(|i| i["change"] == "NEWLY_DENIED");
    json!({"evaluated": evaluated, "newlyDenied": denied, "newlyAllowed": allowed})
}
