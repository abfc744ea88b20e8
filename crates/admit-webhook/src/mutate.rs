//! `POST /mutate`: the tag-resolving mutating webhook. Each image a Pod names by tag becomes
//! `image:tag@sha256:…`, the digest its registry serves now, so the validating webhook (which
//! runs after every mutation) judges exactly what the kubelet will pull. Controllers' pod
//! templates are left alone unless asked (`mutate_templates`): GitOps tools fight mutation of
//! what they own, and their Pods are resolved as they are created anyway.
//!
//! Only images whose admission needs a digest are resolved: ALWAYS_ALLOW, ALWAYS_DENY and
//! exempt images never cause a registry call. A resolution failure denies with the registry's
//! own error, except under breakglass or a dry-run rule, where the Pod goes on unresolved with
//! a warning (the validating webhook then records it). Resolutions are also reported as the
//! response's `auditAnnotations`, which kube-apiserver writes into its audit log.

use std::collections::HashMap;
use std::time::Duration;

use admit_policy::Context as PolicyContext;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::handler::deadline;
use crate::review::{self, Review};
use crate::{BREAKGLASS_ANNOTATION, BREAKGLASS_LABEL, State};

/// Where a pod spec sits in each kind this webhook mutates (JSON pointers).
fn pod_spec_paths(review: &Review, templates: bool) -> Vec<&'static str> {
    match (review.group.as_str(), review.kind.as_str()) {
        ("", "Pod") => vec!["/spec"],
        ("batch", "CronJob") if templates => vec!["/spec/jobTemplate/spec/template/spec"],
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job")
        | ("", "ReplicationController")
            if templates =>
        {
            vec!["/spec/template/spec"]
        }
        _ => vec![],
    }
}

/// `admit_model`'s field (`containers[0].image`, `volumes[2].image.reference`) as a JSON
/// pointer below the pod spec.
fn pointer_of(field: &str) -> String {
    let mut out = String::new();
    for part in field.split('.') {
        match part.split_once('[') {
            Some((list, rest)) => {
                out.push('/');
                out.push_str(list);
                out.push('/');
                out.push_str(rest.trim_end_matches(']'));
            }
            None => {
                out.push('/');
                out.push_str(part);
            }
        }
    }
    out
}

/// Whether the object asks for breakglass (annotation or GKE's label on it or its template).
fn breakglass(object: &Value) -> bool {
    let on = |meta: &Value| {
        meta.pointer(&format!(
            "/annotations/{}",
            BREAKGLASS_ANNOTATION.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_str)
            == Some("true")
            || meta
                .pointer(&format!(
                    "/labels/{}",
                    BREAKGLASS_LABEL.replace('~', "~0").replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some("true")
    };
    on(&object["metadata"]) || on(&object["spec"]["template"]["metadata"])
}

/// One image field a mutation may pin: where it is (a JSON pointer into the object), what it
/// names, and the pod identity it runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) pointer: String,
    pub(crate) image: String,
    pub(crate) namespace: String,
    pub(crate) service_account: String,
}

/// Every image field of the review's pod specs not already pinned by digest (pure: no policy,
/// no registry), in the order they appear.
pub(crate) fn targets(review: &Review, templates: bool) -> Vec<Target> {
    let mut out = Vec::new();
    let namespace = if review.namespace.is_empty() {
        review
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
    } else {
        review.namespace.as_str()
    };
    for base in pod_spec_paths(review, templates) {
        let Some(spec) = review.object.pointer(base) else {
            continue;
        };
        // An entry without an image is the validating webhook's to refuse, naming it.
        let Ok(images) = admit_model::pod_spec_images(spec) else {
            continue;
        };
        let service_account = spec["serviceAccountName"]
            .as_str()
            .or(spec["serviceAccount"].as_str())
            .unwrap_or("default");
        for i in images.into_iter().filter(|i| !i.image.contains('@')) {
            out.push(Target {
                pointer: format!("{base}{}", pointer_of(&i.field)),
                image: i.image,
                namespace: namespace.to_owned(),
                service_account: service_account.to_owned(),
            });
        }
    }
    out
}

pub(crate) async fn mutate(
    AxState(s): AxState<State>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    // Mutations share the reviews' bound: each may wait on a registry.
    let Ok(_permit) = s.in_flight.clone().try_acquire_owned() else {
        return crate::handler::busy();
    };
    let review = match review::parse(&body) {
        Ok(r) => r,
        Err(e) => return crate::handler::invalid_review(&e),
    };
    let span = tracing::info_span!("mutation_review", uid = %review.uid, kind = %review.kind, namespace = %review.namespace);
    let limit = deadline(&q);
    let out = tracing::Instrument::instrument(respond(&s, &review, limit), span).await;
    Json(out).into_response()
}

async fn respond(s: &State, review: &Review, limit: Duration) -> Value {
    let allow = |extra: Value| {
        let mut r = review::respond(&review.api_version, &review.uid, true, None, None, &[]);
        if let (Some(resp), Some(extra)) = (r["response"].as_object_mut(), extra.as_object()) {
            resp.extend(extra.clone());
        }
        r
    };
    let Some(registry) = s.config.registry.clone() else {
        return allow(json!({}));
    };
    if !matches!(review.operation.as_str(), "CREATE" | "UPDATE") {
        return allow(json!({}));
    }
    let until = tokio::time::Instant::now() + limit;
    let mut patch = Vec::new();
    let mut resolved = Vec::new();
    let mut warnings = Vec::new();
    // The same image in several containers is resolved once.
    let mut seen: HashMap<String, admit_registry::Resolved> = HashMap::new();
    for image in targets(review, s.config.mutate_templates) {
        let context = PolicyContext {
            cluster: s.config.cluster.clone(),
            namespace: Some(image.namespace.clone()),
            service_account: Some(image.service_account.clone()),
            istio_identity: Some(format!(
                "spiffe://{}/ns/{}/sa/{}",
                s.config.istio_trust_domain, image.namespace, image.service_account
            )),
        };
        let need = match s
            .service
            .digest_need(&s.config.project, &image.image, &context)
            .await
        {
            Ok(n) => n,
            // The policy cannot be read: resolve anyway; the validating webhook, which
            // reads it again, fails closed if it still cannot.
            Err(_) => Some(true),
        };
        let Some(enforced) = need else {
            continue;
        };
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        let answer = match seen.get(&image.image) {
            Some(r) => Ok(r.clone()),
            None => registry.resolve(&image.image, left).await,
        };
        match answer {
            Ok(r) => {
                patch.push(json!({"op": "test", "path": image.pointer, "value": image.image}));
                patch.push(json!({"op": "replace", "path": image.pointer, "value": r.image}));
                resolved.push(format!("{} -> {}", image.image, r.digest));
                seen.insert(image.image.clone(), r);
            }
            Err(e) if !enforced || breakglass(&review.object) => {
                let why = if enforced {
                    "breakglass"
                } else {
                    "the rule is dry-run"
                };
                warnings.push(format!(
                    "admit could not resolve {} to a digest ({e}); left as is because {why}",
                    image.image
                ));
            }
            Err(e) => {
                let message = format!(
                    "admit denied {} {}: cannot resolve {} to a digest: {e}",
                    review.kind, review.name, image.image
                );
                tracing::info!(image = %image.image, error = %e, "tag resolution failed; denied");
                return review::respond(
                    &review.api_version,
                    &review.uid,
                    false,
                    Some(&message),
                    None,
                    &[],
                );
            }
        }
    }
    let mut extra = serde_json::Map::new();
    if !patch.is_empty() {
        let bytes = serde_json::to_vec(&patch).unwrap_or_default();
        extra.insert("patchType".into(), json!("JSONPatch"));
        extra.insert(
            "patch".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
        extra.insert(
            "auditAnnotations".into(),
            json!({"resolved-images": resolved.join(", ")}),
        );
        tracing::debug!(images = %resolved.join(", "), "tags resolved");
    }
    if !warnings.is_empty() {
        extra.insert("warnings".into(), json!(warnings));
    }
    allow(Value::Object(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_json_pointers() {
        assert_eq!(pointer_of("containers[0].image"), "/containers/0/image");
        assert_eq!(
            pointer_of("initContainers[12].image"),
            "/initContainers/12/image"
        );
        assert_eq!(
            pointer_of("volumes[2].image.reference"),
            "/volumes/2/image/reference"
        );
    }

    #[test]
    fn targets_point_at_every_unpinned_image_of_each_pod_spec() {
        let review = review::parse(
            serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": "u", "operation": "CREATE", "namespace": "prod",
                    "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                    "object": {"spec": {"template": {"spec": {"serviceAccountName": "builder",
                        "initContainers": [{"name": "i", "image": "a:1"}],
                        "containers": [{"name": "c", "image": "b@sha256:0000000000000000000000000000000000000000000000000000000000000000"},
                                       {"name": "d", "image": "c:2"}],
                        "volumes": [{"name": "v", "image": {"reference": "d:3"}}]}}}}}}))
            .unwrap()
            .as_slice(),
        )
        .unwrap();
        assert!(
            targets(&review, false).is_empty(),
            "templates only when asked"
        );
        let t = targets(&review, true);
        let got: Vec<(&str, &str)> = t
            .iter()
            .map(|t| (t.pointer.as_str(), t.image.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/spec/template/spec/initContainers/0/image", "a:1"),
                ("/spec/template/spec/containers/1/image", "c:2"),
                ("/spec/template/spec/volumes/0/image/reference", "d:3"),
            ]
        );
        for x in &t {
            assert_eq!(review.object.pointer(&x.pointer).unwrap(), x.image.as_str());
            assert_eq!(
                (x.namespace.as_str(), x.service_account.as_str()),
                ("prod", "builder")
            );
        }
    }

    #[test]
    fn breakglass_is_read_from_the_object_and_its_template() {
        assert!(breakglass(
            &json!({"metadata": {"annotations": {BREAKGLASS_ANNOTATION: "true"}}})
        ));
        assert!(breakglass(
            &json!({"spec": {"template": {"metadata": {"labels": {BREAKGLASS_LABEL: "true"}}}}})
        ));
        assert!(!breakglass(
            &json!({"metadata": {"annotations": {BREAKGLASS_ANNOTATION: "false"}}})
        ));
    }
}
