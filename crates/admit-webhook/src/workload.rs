//! Where the pod spec of each workload kind lives (the images in a pod spec are read by
//! `admit_model::pod_spec_images`, the one list of image-bearing fields).
//!
//! Pods (including the `ephemeralcontainers` subresource: the object is the Pod with its new
//! `spec.ephemeralContainers`), Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs,
//! ReplicationControllers and Knative Services carry a pod spec at `spec` or
//! `spec.template.spec`; CronJobs at `spec.jobTemplate.spec.template.spec`. A kind not in this
//! list is inspected at those same places (so a CRD that embeds a pod template is still
//! enforced); if it has no containers there, it cannot run an image and is admitted with a
//! warning and an audit record.

use serde_json::Value;

/// The images and identity of a workload's pods.
#[derive(Debug, Clone, Default)]
pub(crate) struct Workload {
    pub(crate) images: Vec<String>,
    pub(crate) service_account: String,
    /// Annotations of the object and of its pod template (breakglass may be on either).
    pub(crate) annotations: serde_json::Map<String, Value>,
    /// Labels of the object and of its pod template (GKE also reads a breakglass label).
    pub(crate) labels: serde_json::Map<String, Value>,
    /// Whether a pod spec was found at all.
    pub(crate) has_pod_spec: bool,
    pub(crate) known_kind: bool,
}

const KNOWN: &[(&str, &str)] = &[
    ("", "Pod"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "ReplicationController"),
    ("serving.knative.dev", "Service"),
];

fn merge(into: &mut serde_json::Map<String, Value>, meta: &Value, field: &str) {
    if let Some(a) = meta[field].as_object() {
        for (k, v) in a {
            into.insert(k.clone(), v.clone());
        }
    }
}

pub(crate) fn extract(group: &str, kind: &str, object: &Value) -> Result<Workload, String> {
    let mut w = Workload {
        known_kind: KNOWN.contains(&(group, kind)),
        ..Default::default()
    };
    merge(&mut w.annotations, &object["metadata"], "annotations");
    merge(&mut w.labels, &object["metadata"], "labels");
    let candidates: [(&Value, &Value); 3] = [
        (&object["spec"], &Value::Null),
        (
            &object["spec"]["template"]["spec"],
            &object["spec"]["template"]["metadata"],
        ),
        (
            &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            &object["spec"]["jobTemplate"]["spec"]["template"]["metadata"],
        ),
    ];
    for (spec, meta) in candidates {
        if !admit_model::is_pod_spec(spec) {
            continue;
        }
        w.has_pod_spec = true;
        merge(&mut w.annotations, meta, "annotations");
        merge(&mut w.labels, meta, "labels");
        // Every image-bearing field (containers of each kind, image volumes): one list, in
        // admit-model. A container without an image cannot be judged: refused.
        w.images = admit_model::pod_spec_images(spec)?
            .into_iter()
            .map(|i| i.image)
            .collect();
        if w.service_account.is_empty() {
            w.service_account = spec["serviceAccountName"]
                .as_str()
                .or(spec["serviceAccount"].as_str())
                .unwrap_or("default")
                .to_owned();
        }
        break;
    }
    if w.service_account.is_empty() {
        w.service_account = "default".into();
    }
    Ok(w)
}
