//! `POST /imagepolicy`: the kube-apiserver's ImagePolicyWebhook admission plugin, which is how
//! GKE calls Binary Authorization. It sends an `imagepolicy.k8s.io/v1alpha1` ImageReview (the
//! pod's images, its namespace, and those of its annotations that match
//! `*.image-policy.k8s.io/*`, so `alpha.image-policy.k8s.io/break-glass` arrives) and reads
//! `status.allowed`, `status.reason` and `status.auditAnnotations`, which it adds to the audit
//! event prefixed with `imagepolicywebhook.image-policy.k8s.io/`: the labels GKE's audit log
//! shows (`…/break-glass`, `…/dry-run`, `…/overridden-verification-result`).
//!
//! The decision is the validating webhook's, on a Pod made of the review: same engine, same
//! breakglass and dry-run rules, same audit record.

use std::sync::atomic::{AtomicU64, Ordering};

use admit_policy::Verdict;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::State;
use crate::answer::Answer;
use crate::audit::Outcome;
use crate::handler::{deadline, judge};
use crate::review::Review;

const API_VERSION: &str = "imagepolicy.k8s.io/v1alpha1";

/// Reads an ImageReview as a Pod review; the message names the field at fault.
fn parse(body: &[u8]) -> Result<Review, String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if v["apiVersion"] != API_VERSION {
        return Err(format!(
            "apiVersion: expected {API_VERSION}, got {}",
            v["apiVersion"]
        ));
    }
    if v["kind"] != "ImageReview" {
        return Err("kind: expected ImageReview".into());
    }
    let spec = &v["spec"];
    let containers = spec["containers"]
        .as_array()
        .ok_or("spec.containers is required")?;
    let mut pod_containers = Vec::with_capacity(containers.len());
    for (i, c) in containers.iter().enumerate() {
        let image = c["image"]
            .as_str()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| format!("spec.containers[{i}].image is required"))?;
        pod_containers.push(json!({"name": format!("container-{i}"), "image": image}));
    }
    let annotations = match &spec["annotations"] {
        Value::Null => Map::new(),
        Value::Object(a) => {
            if let Some((k, _)) = a.iter().find(|(_, v)| !v.is_string()) {
                return Err(format!("spec.annotations.{k} must be a string"));
            }
            a.clone()
        }
        _ => return Err("spec.annotations must be a map of strings".into()),
    };
    let namespace = match &spec["namespace"] {
        Value::Null => "default".to_owned(),
        Value::String(n) if !n.is_empty() => n.clone(),
        _ => return Err("spec.namespace must be a non-empty string".into()),
    };
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Review {
        api_version: API_VERSION.to_owned(),
        // ImageReview carries no uid: one for the audit record.
        uid: format!("imagereview-{}-{}-{n}", now.as_secs(), now.subsec_nanos()),
        kind: "Pod".into(),
        group: String::new(),
        sub_resource: String::new(),
        operation: "CREATE".into(),
        namespace: namespace.clone(),
        name: String::new(),
        user: String::new(),
        groups: Vec::new(),
        kubernetes_dry_run: false,
        object: json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": namespace, "annotations": annotations},
            "spec": {"containers": pod_containers}}),
        old_object: Value::Null,
    })
}

/// What breakglass or dry run let through: "'I': Image I denied by WHO: WHY", one per image.
fn overridden(answer: &Answer) -> String {
    let Some(d) = &answer.decision else {
        return String::new();
    };
    d.images
        .iter()
        .filter(|i| matches!(i.verdict, Verdict::Denied | Verdict::DryRun))
        .map(|i| {
            let why = i
                .failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            format!(
                "'{}': Image {} denied by {}: {why}",
                i.image, i.image, i.basis
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) async fn image_review(
    AxState(s): AxState<State>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Ok(_permit) = s.in_flight.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "admit is deciding as many reviews as it is configured to; retry\n",
        )
            .into_response();
    };
    let review = match parse(&body) {
        Ok(r) => r,
        // The plugin then applies its defaultAllow (false in every sane configuration).
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid ImageReview: {e}\n"),
            )
                .into_response();
        }
    };
    let started = std::time::Instant::now();
    let span = tracing::info_span!(
        "image_review",
        uid = %review.uid,
        namespace = %review.namespace,
    );
    let (answer, subject) =
        tracing::Instrument::instrument(judge(&s, &review, deadline(&q)), span).await;
    crate::handler::observe(&s, &answer, &subject.namespace, started);
    let mut audit = Map::new();
    match answer.outcome {
        Outcome::Breakglass => {
            audit.insert("break-glass".into(), json!("true"));
            audit.insert(
                "overridden-verification-result".into(),
                json!(overridden(&answer)),
            );
        }
        Outcome::DryRun => {
            audit.insert("dry-run".into(), json!("true"));
            audit.insert(
                "overridden-verification-result".into(),
                json!(overridden(&answer)),
            );
        }
        _ => {}
    }
    let mut status = json!({"allowed": answer.allowed});
    if !answer.allowed {
        status["reason"] = json!(answer.message);
    }
    if !audit.is_empty() {
        status["auditAnnotations"] = Value::Object(audit);
    }
    Json(json!({"apiVersion": API_VERSION, "kind": "ImageReview", "status": status}))
        .into_response()
}
