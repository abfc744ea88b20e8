//! The audit record of one admission decision, rendered from the engine's `Decision`.

use admit_policy::{Basis, Decision};
use serde_json::{Value, json};

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
}

pub(crate) fn record(
    ctx: &Context<'_>,
    review: &Review,
    name: &str,
    outcome: Outcome,
    decision: Option<&Decision>,
    reason: &str,
    breakglass: Option<&Value>,
) -> Value {
    let images: Vec<Value> = decision
        .map(|d| {
            d.images
                .iter()
                .map(|i| {
                    let rule = match &i.basis {
                        Basis::Rule { scope, evaluation_mode, enforcement_mode, .. } => {
                            json!({"scope": scope.to_string(), "evaluationMode": evaluation_mode, "enforcementMode": enforcement_mode})
                        }
                        other => json!({"scope": other.to_string()}),
                    };
                    let digest = i.resolved.as_deref().and_then(|r| r.rsplit_once('@')).map(|(_, d)| d.to_owned());
                    // Which attestation (or cosign signature) and key satisfied each attestor.
                    let satisfied = match &i.basis {
                        Basis::Rule { satisfied_by, .. } if !satisfied_by.is_empty() => json!(satisfied_by),
                        _ => Value::Null,
                    };
                    let mut image = json!({
                        "image": i.image,
                        "resolved": i.resolved,
                        "digest": digest,
                        "verdict": i.verdict,
                        "rule": rule,
                        "reasons": i.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "failures": i.failures.iter().map(|f| json!({"attestor": f.attestor, "message": f.message})).collect::<Vec<_>>(),
                    });
                    if !satisfied.is_null() {
                        image["satisfiedBy"] = satisfied;
                    }
                    image
                })
                .collect()
        })
        .unwrap_or_default();
    let mut rec = json!({
        "time": ctx.time,
        "project": ctx.project,
        "cluster": ctx.cluster,
        "namespace": ctx.namespace,
        "kind": review.kind,
        "name": name,
        "operation": review.operation,
        "subResource": review.sub_resource,
        "uid": review.uid,
        "user": review.user,
        "verdict": outcome.as_str(),
        "breakglass": outcome == Outcome::Breakglass,
        "dryRun": decision.is_some_and(|d| d.dry_run_violations().next().is_some()),
        "kubernetesDryRun": review.kubernetes_dry_run,
        "images": images,
        "reason": reason,
        "apiGroup": review.group,
    });
    if let Some(b) = breakglass {
        rec["breakglassUse"] = b.clone();
    }
    // The Kubernetes service account selects rules too: the simulator replays it.
    if let Ok(w) = crate::workload::extract(&review.group, &review.kind, &review.object)
        && !w.images.is_empty()
    {
        rec["serviceAccount"] = json!(w.service_account);
    }
    if let Some(run) = ctx.cloud_run {
        let mut cr = json!({"kind": run.kind, "revision": run.revision});
        if let Some(p) = &run.setting {
            cr["policy"] = json!(p);
        }
        if outcome == Outcome::Breakglass
            && let Some(j) = &run.justification
        {
            cr["breakglassJustification"] = json!(j);
        }
        if outcome == Outcome::Denied {
            cr["statusReason"] = json!(cloud_run::DENIAL_REASON);
        }
        rec["cloudRun"] = cr;
    }
    rec
}
