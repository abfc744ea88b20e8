//! Cloud Run's contract, on its analogues here: a Knative Service (or Configuration) is a Cloud
//! Run service, and a `batch` Job carrying a `run.googleapis.com/binary-authorization*`
//! annotation is a Cloud Run job.
//!
//! * `run.googleapis.com/binary-authorization`: `default` (the project policy) or the name of a
//!   Cloud Run platform policy of this project, `projects/P/platforms/cloudRun/policies/NAME`,
//!   which is then evaluated instead. Missing, the project policy applies: there is no opt-out.
//! * `run.googleapis.com/binary-authorization-breakglass: JUSTIFICATION`: a non-empty
//!   justification is the breakglass, recorded with the decision.
//! * A denial carries the reason `ContainerImageUnauthorized`, as Cloud Run reports it.
//! * A policy applies to new revisions, never retroactively: an update that leaves the revision
//!   template (`spec.template`) as it was creates no revision and is not re-evaluated.

use serde_json::Value;

use crate::review::Review;

pub(crate) const POLICY_ANNOTATION: &str = "run.googleapis.com/binary-authorization";
pub(crate) const BREAKGLASS_ANNOTATION: &str = "run.googleapis.com/binary-authorization-breakglass";
/// The condition reason Cloud Run reports for an image the policy refuses.
pub(crate) const DENIAL_REASON: &str = "ContainerImageUnauthorized";

/// A Cloud Run workload's Binary Authorization settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloudRun {
    /// `service` or `job`.
    pub(crate) kind: &'static str,
    /// The annotation's value as given (`None`: absent).
    pub(crate) setting: Option<String>,
    /// The breakglass justification, when non-empty.
    pub(crate) justification: Option<String>,
    /// The revision this admission creates: the template's name, else Knative's
    /// `NAME-0000G` for the next generation.
    pub(crate) revision: String,
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

impl CloudRun {
    /// Whether `review` is a Cloud Run workload, and its settings.
    pub(crate) fn of(review: &Review) -> Option<CloudRun> {
        let object = &review.object;
        let kind = match (review.group.as_str(), review.kind.as_str()) {
            ("serving.knative.dev", "Service" | "Configuration") => "service",
            ("batch", "Job")
                if annotation(object, POLICY_ANNOTATION).is_some()
                    || annotation(object, BREAKGLASS_ANNOTATION).is_some() =>
            {
                "job"
            }
            _ => return None,
        };
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(&review.name);
        let generation = review
            .old_object
            .pointer("/metadata/generation")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + 1;
        let revision = object
            .pointer("/spec/template/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("{name}-{generation:05}"), str::to_owned);
        Some(CloudRun {
            kind,
            revision,
            setting: annotation(object, POLICY_ANNOTATION).map(str::to_owned),
            justification: annotation(object, BREAKGLASS_ANNOTATION)
                .map(str::trim)
                .filter(|j| !j.is_empty())
                .map(str::to_owned),
        })
    }

    /// The platform policy to evaluate instead of the project policy, if one is named; an
    /// unusable value is refused (fail closed), naming what is accepted.
    pub(crate) fn platform_policy(&self, project: &str) -> Result<Option<&str>, String> {
        let Some(v) = self.setting.as_deref() else {
            return Ok(None);
        };
        if v == "default" {
            return Ok(None);
        }
        let prefix = format!("projects/{project}/platforms/cloudRun/policies/");
        match v.strip_prefix(&prefix) {
            Some(id) if !id.is_empty() && !id.contains('/') => Ok(Some(v)),
            _ => Err(format!(
                "annotation {POLICY_ANNOTATION}: `{v}` is neither `default` nor a Cloud Run platform policy of project {project} ({prefix}NAME)"
            )),
        }
    }

    /// For an update that creates no revision, why it is admitted without evaluation.
    pub(crate) fn no_new_revision(&self, review: &Review) -> Option<String> {
        if review.operation != "UPDATE" || self.kind != "service" {
            return None;
        }
        let template = |o: &Value| o.pointer("/spec/template").cloned();
        let new = template(&review.object)?;
        (Some(new) == template(&review.old_object)).then(|| {
            "the revision template is unchanged: no new revision, and a policy applies to new revisions only".to_owned()
        })
    }
}
