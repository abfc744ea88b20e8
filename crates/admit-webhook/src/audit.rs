//! The audit record of one admission decision, rendered from the engine's `Decision`.

use admit_policy::{Basis, Decision};
use admit_service::AuditEntry;
use serde::Serialize;
use serde_json::Value;

use crate::cloud_run::{self, CloudRun};
use crate::review::Review;

/// What happened, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    Denied,
    DryRun,
    Breakglass,
    Error,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "ALLOWED",
            Outcome::Denied => "DENIED",
            Outcome::DryRun => "DRY_RUN",
            Outcome::Breakglass => "BREAKGLASS",
            Outcome::Error => "ERROR_DENIED",
        }
    }
}

pub(crate) struct Context<'a> {
    pub(crate) time: String,
    pub(crate) project: &'a str,
    pub(crate) cluster: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) cloud_run: Option<&'a CloudRun>,
    /// The Kubernetes service account of a workload with images.
    pub(crate) service_account: Option<&'a str>,
}

/// The rule an image was decided by (`scope` alone when it was not a rule).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    enforcement_mode: Option<&'a admit_model::EnforcementMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation_mode: Option<&'a admit_model::EvaluationMode>,
    scope: String,
}

#[derive(Serialize)]
struct FailureRecord<'a> {
    attestor: &'a Option<String>,
    message: &'a str,
}

/// One image of the record. The fields are in the order `serde_json` writes an object's keys,
/// as when records were built as `Value`s: the lines are the same.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageRecord<'a> {
    digest: Option<&'a str>,
    failures: Vec<FailureRecord<'a>>,
    image: &'a str,
    reasons: Vec<String>,
    resolved: &'a Option<String>,
    rule: RuleRecord<'a>,
    /// Which attestation (or cosign signature) and key satisfied each attestor.
    #[serde(skip_serializing_if = "Option::is_none")]
    satisfied_by: Option<&'a Vec<admit_policy::Satisfied>>,
    verdict: &'a admit_policy::Verdict,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CloudRunRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    breakglass_justification: Option<&'a str>,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    revision: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<&'a str>,
}

/// The record, serialized straight from borrowed parts (no `Value` built on the way).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    api_group: &'a str,
    breakglass: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    breakglass_use: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_run: Option<CloudRunRecord<'a>>,
    cluster: &'a str,
    dry_run: bool,
    images: Vec<ImageRecord<'a>>,
    kind: &'a str,
    kubernetes_dry_run: bool,
    name: &'a str,
    namespace: &'a str,
    operation: &'a str,
    project: &'a str,
    reason: &'a str,
    /// The Kubernetes service account selects rules too: the simulator replays it.
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account: Option<&'a str>,
    sub_resource: &'a str,
    time: &'a str,
    uid: &'a str,
    user: &'a str,
    verdict: &'static str,
}

fn image_record(i: &admit_policy::ImageDecision) -> ImageRecord<'_> {
    let rule = match &i.basis {
        Basis::Rule {
            scope,
            evaluation_mode,
            enforcement_mode,
            ..
        } => RuleRecord {
            enforcement_mode: Some(enforcement_mode),
            evaluation_mode: Some(evaluation_mode),
            scope: scope.to_string(),
        },
        other => RuleRecord {
            enforcement_mode: None,
            evaluation_mode: None,
            scope: other.to_string(),
        },
    };
    let satisfied_by = match &i.basis {
        Basis::Rule { satisfied_by, .. } if !satisfied_by.is_empty() => Some(satisfied_by),
        _ => None,
    };
    ImageRecord {
        digest: i
            .resolved
            .as_deref()
            .and_then(|r| r.rsplit_once('@'))
            .map(|(_, d)| d),
        failures: i
            .failures
            .iter()
            .map(|f| FailureRecord {
                attestor: &f.attestor,
                message: &f.message,
            })
            .collect(),
        image: &i.image,
        reasons: i.failures.iter().map(ToString::to_string).collect(),
        resolved: &i.resolved,
        rule,
        satisfied_by,
        verdict: &i.verdict,
    }
}

/// The audit record of one decision, as it is stored: serialized once, here.
pub(crate) fn record(
    ctx: &Context<'_>,
    review: &Review,
    name: &str,
    outcome: Outcome,
    decision: Option<&Decision>,
    reason: &str,
    breakglass: Option<&Value>,
) -> AuditEntry {
    let cloud_run = ctx.cloud_run.map(|run| CloudRunRecord {
        breakglass_justification: run
            .justification
            .as_deref()
            .filter(|_| outcome == Outcome::Breakglass),
        kind: run.kind,
        policy: run.setting.as_deref(),
        revision: &run.revision,
        status_reason: (outcome == Outcome::Denied).then_some(cloud_run::DENIAL_REASON),
    });
    let rec = Record {
        api_group: &review.group,
        breakglass: outcome == Outcome::Breakglass,
        breakglass_use: breakglass,
        cloud_run,
        cluster: ctx.cluster,
        dry_run: decision.is_some_and(|d| d.dry_run_violations().next().is_some()),
        images: decision
            .map(|d| d.images.iter().map(image_record).collect())
            .unwrap_or_default(),
        kind: &review.kind,
        kubernetes_dry_run: review.kubernetes_dry_run,
        name,
        namespace: ctx.namespace,
        operation: &review.operation,
        project: ctx.project,
        reason,
        service_account: ctx.service_account,
        sub_resource: &review.sub_resource,
        time: &ctx.time,
        uid: &review.uid,
        user: &review.user,
        verdict: outcome.as_str(),
    };
    // Serializing plain data into a String cannot fail; were it to, the record would still
    // say what was decided.
    let body = serde_json::to_string(&rec).unwrap_or_else(|e| {
        serde_json::json!({"time": ctx.time, "verdict": outcome.as_str(), "reason": format!("the record could not be serialized: {e}")}).to_string()
    });
    AuditEntry {
        time: ctx.time.clone(),
        project: ctx.project.to_owned(),
        cluster: ctx.cluster.to_owned(),
        namespace: ctx.namespace.to_owned(),
        kind: review.kind.clone(),
        name: name.to_owned(),
        user: review.user.clone(),
        verdict: outcome.as_str().to_owned(),
        breakglass: rec.breakglass,
        dry_run: rec.dry_run,
        body: body.into(),
    }
}
