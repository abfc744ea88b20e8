//! Continuous validation: every running pod re-evaluated by the webhook's own decision path
//! (project policy, Kritis policies, breakglass rules) and by the check-based platform policies
//! bound to the cluster, on a schedule and within moments of anything that can change a verdict:
//! a write through this server (policy, attestors, keys, attestations, vulnerabilities, IAM), a
//! Kritis policy, or the pod itself. A pod that starts violating, violates differently, or
//! conforms again is recorded — as Google's `ContinuousValidationEvent` in the audit log (Cloud
//! Logging's `continuous_validation` log), as a Kubernetes Event on the pod, optionally as
//! annotations on it, and in metrics. A breakglassed pod is reported like any other until its
//! images conform; once its project's breakglass lifetime has passed the report says so.
//!
//! The cluster is behind [`Cluster`] (implemented with kube-rs in admit-kube), so this module
//! sees pods only as JSON.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use admit_service::Service;
use serde_json::{Value, json};

use crate::answer::Subject;
use crate::audit::Outcome;
use crate::review::Review;
use crate::{State, WebhookConfig, cv_event};

/// The annotation holding a violating pod's summary (`--cv-annotate-pods`), Kritis-style.
pub const VIOLATION_ANNOTATION: &str = "admit.dev/continuous-validation";
/// The label set to `violating` on a violating pod (`--cv-annotate-pods`).
pub const VIOLATION_LABEL: &str = "admit.dev/continuous-validation";
/// The user recorded for continuous validation's evaluations.
const USER: &str = "system:admit:continuous-validation";

/// A pod, as continuous validation names it to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// What continuous validation needs from the cluster.
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// Every pod now known, as Kubernetes encodes it; `None` until the first list completed.
    fn pods(&self) -> Option<Vec<Arc<Value>>>;
    /// Resolves when a pod was added, changed or deleted since the previous call.
    async fn pods_changed(&self);
    /// Records a Kubernetes Event on the pod (`Warning` or `Normal`).
    async fn event(
        &self,
        pod: &PodKey,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> Result<(), String>;
    /// Sets (`Some`) or removes (`None`) labels and annotations on the pod.
    async fn mark(
        &self,
        pod: &PodKey,
        labels: &[(&str, Option<String>)],
        annotations: &[(&str, Option<String>)],
    ) -> Result<(), String>;
}

/// How continuous validation runs.
#[derive(Debug, Clone)]
pub struct ContinuousConfig {
    /// Every pod is re-evaluated at least this often.
    pub interval: Duration,
    /// Check-based platform policies bound to the cluster (full names).
    pub platform_policies: Vec<String>,
    /// Also label and annotate violating pods.
    pub annotate_pods: bool,
}

/// What is remembered of a pod between runs.
#[derive(Debug)]
struct Known {
    resource_version: String,
    namespace: String,
    /// The summary of each violated policy (empty: conformant).
    violations: BTreeMap<String, String>,
    /// When a breakglass in effect on the pod ends (Unix seconds): a run is due then.
    breakglass_until: Option<u64>,
}

/// Runs until the cluster's pod feed ends.
pub async fn run(
    service: Arc<Service>,
    config: WebhookConfig,
    cv: ContinuousConfig,
    cluster: Arc<dyn Cluster>,
) {
    let mut writes = service.resource_writes();
    let mut kritis = config.kritis.clone();
    let state = State {
        service,
        config: Arc::new(config),
        in_flight: Arc::new(tokio::sync::Semaphore::new(1)),
    };
    let mut known: HashMap<String, Known> = HashMap::new();
    // Every namespace a gauge was set for, so that one left without pods reads 0.
    let mut reported: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut tick = tokio::time::interval(cv.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (now, _) = crate::answer::now();
        let due = known
            .values()
            .filter_map(|k| k.breakglass_until)
            .filter(|u| *u >= now)
            .min()
            .map(|u| Duration::from_secs(u - now + 1));
        let everything = tokio::select! {
            _ = tick.tick() => true,
            () = async {
                match due {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            } => true,
            r = writes.changed() => {
                if r.is_err() {
                    return;
                }
                // A burst of writes (an import, a batch) makes one run, not one per write.
                tokio::time::sleep(Duration::from_millis(100)).await;
                writes.borrow_and_update();
                true
            }
            changed = async {
                match &mut kritis {
                    Some(k) => k.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => {
                if !changed {
                    kritis = None; // fixed policies: they never change
                }
                changed
            }
            () = cluster.pods_changed() => false,
        };
        let Some(pods) = cluster.pods() else {
            continue;
        };
        let started = Instant::now();
        run_once(&state, &cv, cluster.as_ref(), &pods, everything, &mut known).await;
        let mut violating: BTreeMap<String, i64> = BTreeMap::new();
        for k in known.values() {
            *violating.entry(k.namespace.clone()).or_default() +=
                i64::from(!k.violations.is_empty());
        }
        for ns in &reported {
            violating.entry(ns.clone()).or_default();
        }
        reported.extend(violating.keys().cloned());
        state
            .service
            .metrics()
            .continuous_validation_run(&violating, started.elapsed().as_secs_f64());
    }
}

fn is_running(pod: &Value) -> bool {
    !matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

fn key(pod: &Value) -> PodKey {
    let m = &pod["metadata"];
    let s = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
    PodKey {
        namespace: s("namespace"),
        name: s("name"),
        uid: s("uid"),
    }
}

async fn run_once(
    s: &State,
    cv: &ContinuousConfig,
    cluster: &dyn Cluster,
    pods: &[Arc<Value>],
    everything: bool,
    known: &mut HashMap<String, Known>,
) {
    let mut seen = std::collections::HashSet::new();
    for pod in pods.iter().filter(|p| is_running(p)) {
        let k = key(pod);
        seen.insert(k.uid.clone());
        let rv = pod
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let before = known.get(&k.uid);
        if !everything && before.is_some_and(|b| b.resource_version == rv) {
            continue;
        }
        let findings = evaluate(s, cv, pod).await;
        let glass = breakglass(s, pod).await;
        let previous = before.map(|b| b.violations.clone()).unwrap_or_default();
        let now: BTreeMap<String, String> = findings
            .iter()
            .map(|(policy, event)| {
                let mut summary = cv_event::summary(event);
                if let Some((note, _)) = &glass {
                    summary.push_str(&format!(" [{note}]"));
                }
                (policy.clone(), summary)
            })
            .collect();
        if now != previous {
            let note = glass.as_ref().map(|(n, _)| n.as_str());
            record(s, cv, cluster, pod, &k, &findings, &previous, &now, note).await;
        }
        known.insert(
            k.uid.clone(),
            Known {
                resource_version: rv.to_owned(),
                namespace: k.namespace.clone(),
                violations: now,
                breakglass_until: glass.and_then(|(_, until)| until),
            },
        );
    }
    known.retain(|uid, _| seen.contains(uid));
}

/// Every policy the pod violates, with its event (a `podEvent`, or a `configErrorEvent` when
/// the policy cannot be evaluated).
async fn evaluate(s: &State, cv: &ContinuousConfig, pod: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let k = key(pod);
    let cluster = s.config.cluster.clone().unwrap_or_default();
    let review = Review {
        api_version: "admission.k8s.io/v1".into(),
        uid: k.uid.clone(),
        kind: "Pod".into(),
        group: String::new(),
        sub_resource: String::new(),
        operation: "CREATE".into(),
        namespace: k.namespace.clone(),
        name: k.name.clone(),
        user: USER.into(),
        groups: vec![],
        kubernetes_dry_run: true,
        object: pod.clone(),
        old_object: Value::Null,
    };
    let subject = Subject::of(s, &review);
    let policy = format!("projects/{}/policy", s.config.project);
    let answer = crate::handler::decide(s, &review, &subject).await;
    match (&answer.decision, answer.outcome) {
        (_, Outcome::Error) => {
            out.push((policy, cv_event::config_error(&cluster, &answer.message)));
        }
        (Some(d), _) => {
            if let Some(e) = cv_event::from_decision(pod, &policy, d) {
                out.push((policy, e));
            }
        }
        (None, _) if !answer.allowed => {
            out.push((
                policy.clone(),
                cv_event::all_denied(pod, &policy, &answer.message),
            ));
        }
        (None, _) => {}
    }
    for name in &cv.platform_policies {
        match s
            .service
            .evaluate_gke_policy(name, &json!({"resource": pod}))
            .await
        {
            Ok(v) => {
                if let Some(e) = cv_event::from_platform(pod, name, &v) {
                    out.push((name.clone(), e));
                }
            }
            Err(e) => out.push((name.clone(), cv_event::config_error(&cluster, &e.message))),
        }
    }
    out
}

/// How a breakglassed pod stands: `None` when it is not breakglassed, else a sentence and,
/// while the project's breakglass lifetime runs, when it ends.
async fn breakglass(s: &State, pod: &Value) -> Option<(String, Option<u64>)> {
    let meta = &pod["metadata"];
    let glass = meta["annotations"][crate::BREAKGLASS_ANNOTATION] == "true"
        || meta["labels"][crate::BREAKGLASS_LABEL] == "true";
    if !glass {
        return None;
    }
    let lifetime = s
        .service
        .breakglass_policy(&s.config.project)
        .await
        .ok()
        .flatten()
        .and_then(|p| p.lifetime);
    let created = meta["creationTimestamp"]
        .as_str()
        .and_then(admit_model::parse_rfc3339)
        .map(|(secs, _)| secs);
    let (now, _) = crate::answer::now();
    Some(
        match (
            lifetime.as_deref().and_then(admit_model::parse_duration),
            created,
        ) {
            (Some(d), Some(c)) if c.saturating_add(d) <= now => (
                format!(
                    "breakglass expired at {} (lifetime {})",
                    admit_model::rfc3339(c.saturating_add(d), 0),
                    lifetime.unwrap_or_default()
                ),
                None,
            ),
            (Some(d), Some(c)) => (
                format!(
                    "breakglass in effect until {}",
                    admit_model::rfc3339(c.saturating_add(d), 0)
                ),
                Some(c.saturating_add(d)),
            ),
            _ => (
                "breakglass in effect (no lifetime configured)".to_owned(),
                None,
            ),
        },
    )
}

#[allow(
    clippy::too_many_arguments,
    reason = "one transition, recorded in every place it is reported"
)]
async fn record(
    s: &State,
    cv: &ContinuousConfig,
    cluster: &dyn Cluster,
    pod: &Value,
    k: &PodKey,
    findings: &[(String, Value)],
    previous: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    glass: Option<&str>,
) {
    let (_, time) = crate::answer::now();
    let project = s.config.project.clone();
    let base = |verdict: &str, event: &Value| {
        let mut r = json!({
            "time": time, "project": project, "cluster": s.config.cluster.clone().unwrap_or_default(),
            "namespace": k.namespace, "kind": "Pod", "name": k.name, "uid": k.uid, "user": USER,
            "verdict": verdict, "breakglass": glass.is_some(),
            "continuousValidation": event,
        });
        if let Some(g) = glass {
            r["breakglassStatus"] = json!(g);
        }
        r
    };
    let metrics = s.service.metrics();
    for (policy, event) in findings {
        if previous.get(policy) == now.get(policy) {
            continue;
        }
        let config_error = event.get("configErrorEvent").is_some();
        let verdict = if config_error {
            "CV_CONFIG_ERROR"
        } else {
            "CV_VIOLATION"
        };
        if let Err(e) = s.service.record_audit(&base(verdict, event)).await {
            tracing::error!(error = %e.message, pod = %k.name, "cannot record a continuous validation event");
        }
        metrics.continuous_validation_event(if config_error {
            "config_error"
        } else {
            "violation"
        });
        let message = format!("admit continuous validation: {}", now[policy]);
        let reason = if config_error {
            "ContinuousValidationConfigError"
        } else {
            "ContinuousValidationViolation"
        };
        if let Err(e) = cluster.event(k, true, reason, &message).await {
            tracing::warn!(error = %e, pod = %k.name, "cannot record a Kubernetes Event");
        }
        tracing::warn!(namespace = %k.namespace, pod = %k.name, %policy, "{message}");
    }
    for policy in previous.keys().filter(|p| !now.contains_key(*p)) {
        let event = json!({"@type": cv_event::EVENT_TYPE, "podEvent": {
            "pod": k.name, "podNamespace": k.namespace, "policyName": policy,
            "deployTime": pod.pointer("/metadata/creationTimestamp"),
        }});
        if let Err(e) = s.service.record_audit(&base("CV_CONFORMANT", &event)).await {
            tracing::error!(error = %e.message, pod = %k.name, "cannot record a continuous validation event");
        }
        metrics.continuous_validation_event("conformant");
        let message = format!("admit continuous validation: conforms to {policy} again");
        if let Err(e) = cluster
            .event(k, false, "ContinuousValidationConformant", &message)
            .await
        {
            tracing::warn!(error = %e, pod = %k.name, "cannot record a Kubernetes Event");
        }
        tracing::info!(namespace = %k.namespace, pod = %k.name, %policy, "{message}");
    }
    if cv.annotate_pods {
        let summary =
            (!now.is_empty()).then(|| now.values().cloned().collect::<Vec<_>>().join("\n"));
        let label = summary.as_ref().map(|_| "violating".to_owned());
        if let Err(e) = cluster
            .mark(
                k,
                &[(VIOLATION_LABEL, label)],
                &[(VIOLATION_ANNOTATION, summary)],
            )
            .await
        {
            tracing::warn!(error = %e, pod = %k.name, "cannot label the pod");
        }
    }
}
