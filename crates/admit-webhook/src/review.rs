//! AdmissionReview requests and responses, both API versions.

use serde_json::{Value, json};

/// The parts of an AdmissionReview request the webhook uses.
#[derive(Debug, Clone)]
pub(crate) struct Review {
    pub(crate) api_version: String,
    pub(crate) uid: String,
    pub(crate) kind: String,
    pub(crate) group: String,
    pub(crate) sub_resource: String,
    pub(crate) operation: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) user: String,
    /// `userInfo.groups`.
    pub(crate) groups: Vec<String>,
    pub(crate) kubernetes_dry_run: bool,
    pub(crate) object: Value,
    /// The object before an UPDATE (`null` otherwise).
    pub(crate) old_object: Value,
}

/// Parses a review; the message names the missing or malformed field.
pub(crate) fn parse(body: &[u8]) -> Result<Review, String> {
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let api_version = v["apiVersion"].as_str().unwrap_or_default();
    if !matches!(
        api_version,
        "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
    ) {
        return Err(format!(
            "apiVersion: expected admission.k8s.io/v1 or v1beta1, got `{api_version}`"
        ));
    }
    if v["kind"] != "AdmissionReview" {
        return Err("kind: expected AdmissionReview".into());
    }
    let r = &v["request"];
    let s = |p: &str| {
        r.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let uid = s("/uid");
    if uid.is_empty() {
        return Err("request.uid is required".into());
    }
    let operation = s("/operation");
    if operation.is_empty() {
        return Err("request.operation is required".into());
    }
    let mut review = Review {
        api_version: api_version.to_owned(),
        uid,
        kind: s("/kind/kind"),
        group: s("/kind/group"),
        sub_resource: s("/subResource"),
        operation,
        namespace: s("/namespace"),
        name: s("/name"),
        user: s("/userInfo/username"),
        groups: r
            .pointer("/userInfo/groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        kubernetes_dry_run: r["dryRun"].as_bool().unwrap_or(false),
        object: Value::Null,
        old_object: Value::Null,
    };
    // Moved out, not copied: the object is most of the review.
    if let Some(r) = v.get_mut("request") {
        review.object = r.get_mut("object").map(Value::take).unwrap_or_default();
        review.old_object = r.get_mut("oldObject").map(Value::take).unwrap_or_default();
    }
    Ok(review)
}

/// The response, echoing the request's uid and apiVersion.
pub(crate) fn respond(
    api_version: &str,
    uid: &str,
    allowed: bool,
    message: Option<&str>,
    reason: Option<&str>,
    warnings: &[String],
) -> Value {
    let mut response = json!({"uid": uid, "allowed": allowed});
    if let Some(m) = message {
        response["status"] = if allowed {
            json!({"code": 200, "message": m})
        } else {
            json!({"code": 403, "reason": reason.unwrap_or("Forbidden"), "message": m})
        };
    }
    if !warnings.is_empty() {
        response["warnings"] = json!(warnings);
    }
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}
