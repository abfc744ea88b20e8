//! Continuous validation's findings in Google's shape: `ContinuousValidationEvent`
//! (google/cloud/binaryauthorization/v1beta1/continuous_validation_logging.proto) as JSON — a
//! `podEvent` per policy a pod violates (pod, namespace, policy, deploy time, and per image the
//! container, its type, the result and, for platform policies, each failing check), or a
//! `configErrorEvent` for a policy that cannot be evaluated.

use admit_model::ImageField;
use admit_policy::{Decision, Verdict};
use serde_json::{Value, json};

pub(crate) const EVENT_TYPE: &str =
    "type.googleapis.com/google.cloud.binaryauthorization.v1beta1.ContinuousValidationEvent";

/// One container of a pod: its name, `ContainerType` and image.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) image: String,
}

/// Every container of a pod spec (read through `admit_model::pod_spec_images`, the one list
/// of image-bearing fields), with the proto's container types. An image volume is reported as
/// a CONTAINER named after the volume: the proto has no type for it. A spec with an entry that
/// names no image gives no containers; the decision itself says why.
pub(crate) fn containers(pod: &Value) -> Vec<Container> {
    admit_model::pod_spec_images(&pod["spec"])
        .unwrap_or_default()
        .into_iter()
        .map(|i| Container {
            kind: match i.kind {
                ImageField::InitContainer => "INIT_CONTAINER",
                ImageField::EphemeralContainer => "EPHEMERAL_CONTAINER",
                ImageField::Container | ImageField::ImageVolume => "CONTAINER",
            },
            name: i.name,
            image: i.image,
        })
        .collect()
}

/// The pod fields every `podEvent` carries.
fn pod_event(pod: &Value, policy: &str, images: &[Value]) -> Value {
    let meta = &pod["metadata"];
    let mut e = json!({
        "pod": meta["name"],
        "podNamespace": meta["namespace"],
        "policyName": policy,
        "verdict": "VIOLATES_POLICY",
        "images": images,
    });
    if let Some(t) = meta["creationTimestamp"].as_str() {
        e["deployTime"] = json!(t);
    }
    if let Some(t) = meta["deletionTimestamp"].as_str() {
        e["endTime"] = json!(t);
    }
    json!({"@type": EVENT_TYPE, "podEvent": e})
}

/// The project policy's finding for a pod, if it violates it: every image with ALLOW or DENY
/// and, when denied, why (dry-run denials count: continuous validation reports what the policy
/// says, whatever its enforcement mode).
pub(crate) fn from_decision(pod: &Value, policy: &str, decision: &Decision) -> Option<Value> {
    if decision
        .images
        .iter()
        .all(|i| matches!(i.verdict, Verdict::Allowed))
    {
        return None;
    }
    let images: Vec<Value> = containers(pod)
        .into_iter()
        .map(|c| {
            let found = decision.images.iter().find(|i| i.image == c.image);
            let denied = found.is_some_and(|i| !matches!(i.verdict, Verdict::Allowed));
            let mut d = json!({
                "image": c.image,
                "containerName": c.name,
                "containerType": c.kind,
                "result": if denied { "DENY" } else { "ALLOW" },
            });
            if let Some(i) = found.filter(|_| denied) {
                d["description"] = json!(
                    i.failures
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            d
        })
        .collect();
    Some(pod_event(pod, policy, &images))
}

/// A pod refused before any image was judged (its spec cannot be read): every image DENY.
pub(crate) fn all_denied(pod: &Value, policy: &str, why: &str) -> Value {
    let images: Vec<Value> = containers(pod)
        .into_iter()
        .map(|c| json!({"image": c.image, "containerName": c.name, "containerType": c.kind, "result": "DENY", "description": why}))
        .collect();
    pod_event(pod, policy, &images)
}

/// A platform policy's finding for a pod (`evaluate_gke_policy`'s answer), if it violates it:
/// each image's failing checks as `checkResults`.
pub(crate) fn from_platform(pod: &Value, policy: &str, evaluation: &Value) -> Option<Value> {
    if evaluation["verdict"] == "CONFORMANT" {
        return None;
    }
    let results = evaluation["results"][0]["imageResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let images: Vec<Value> = containers(pod)
        .into_iter()
        .map(|c| {
            let r = results
                .iter()
                .find(|r| r["imageUri"] == c.image.as_str())
                .cloned()
                .unwrap_or(Value::Null);
            let conformant = r["verdict"] == "CONFORMANT";
            let mut d = json!({
                "image": c.image,
                "containerName": c.name,
                "containerType": c.kind,
                "result": if conformant { "ALLOW" } else { "DENY" },
            });
            if !conformant {
                let set = &r["checkSetResult"];
                let checks: Vec<Value> = set["checkResults"]["results"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter(|k| k["evaluationResult"]["verdict"] != "CONFORMANT")
                    .map(|k| {
                        let mut cr = json!({
                            "checkSetIndex": set["index"],
                            "checkSetName": set["displayName"],
                            "checkIndex": k["index"],
                            "checkName": k["displayName"],
                            "checkType": k["type"],
                            // The proto's one verdict; an ERROR check says so in its explanation.
                            "verdict": "NON_CONFORMANT",
                            "explanation": k["explanation"],
                        });
                        if set["scope"].is_object() {
                            cr["checkSetScope"] = set["scope"].clone();
                        }
                        cr
                    })
                    .collect();
                d["checkResults"] = json!(checks);
                let why = r["explanation"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        format!("verdict {}", r["verdict"].as_str().unwrap_or("ERROR"))
                    });
                d["description"] = json!(why);
            }
            d
        })
        .collect();
    Some(pod_event(pod, policy, &images))
}

/// A policy that cannot be evaluated, as Google words it.
pub(crate) fn config_error(cluster: &str, description: &str) -> Value {
    json!({"@type": EVENT_TYPE, "configErrorEvent": {
        "description": format!("Cannot monitor cluster '{cluster}': {description}")
    }})
}

/// One line saying why a pod violates, for a Kubernetes Event and annotations.
pub(crate) fn summary(event: &Value) -> String {
    if let Some(d) = event
        .pointer("/configErrorEvent/description")
        .and_then(Value::as_str)
    {
        return d.to_owned();
    }
    let e = &event["podEvent"];
    let denied: Vec<String> = e["images"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|i| i["result"] == "DENY")
        .map(|i| {
            format!(
                "{} ({} {}): {}",
                i["image"].as_str().unwrap_or_default(),
                i["containerType"].as_str().unwrap_or_default(),
                i["containerName"].as_str().unwrap_or_default(),
                i["description"].as_str().unwrap_or_default()
            )
        })
        .collect();
    format!(
        "violates {}: {}",
        e["policyName"].as_str().unwrap_or_default(),
        denied.join("; ")
    )
}
