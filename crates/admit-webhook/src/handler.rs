//! `POST /validate`.

use std::time::Duration;

use admit_policy::{Context as PolicyContext, Decision, Verdict};
use admit_service::AdmissionRequest;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::answer::{Answer, Subject, record};
use crate::audit::Outcome;
use crate::cloud_run;
use crate::review::{self, Review};
use crate::{BREAKGLASS_ANNOTATION, State};

/// The API server appends `?timeout=10s`; answer within it (minus a margin for the network).
pub(crate) fn deadline(q: &std::collections::HashMap<String, String>) -> Duration {
    let given = q
        .get("timeout")
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    given
        .saturating_sub(Duration::from_millis(500))
        .max(Duration::from_millis(200))
}

pub(crate) async fn ready(AxState(s): AxState<State>) -> (StatusCode, &'static str) {
    ready_service(AxState(s.service)).await
}

/// `/readyz` where only the service is at hand (the plain health listener).
pub(crate) async fn ready_service(
    AxState(service): AxState<std::sync::Arc<admit_service::Service>>,
) -> (StatusCode, &'static str) {
    match service.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n"),
    }
}

/// Past `--webhook-max-in-flight`, a review is shed at once (503, which the API server turns
/// into its failurePolicy): a queue would only grow memory and miss every deadline.
pub(crate) fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "admit is deciding as many reviews as it is configured to; retry\n",
    )
        .into_response()
}

/// The answer to a body that is not an AdmissionReview. Without a uid there is no response
/// the API server would accept; an HTTP error is a webhook failure, which `failurePolicy:
/// Fail` turns into a denial.
pub(crate) fn invalid_review(e: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("invalid AdmissionReview: {e}\n"),
    )
        .into_response()
}

pub(crate) async fn validate(
    AxState(s): AxState<State>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Ok(_permit) = s.in_flight.clone().try_acquire_owned() else {
        return busy();
    };
    let review = match review::parse(&body) {
        Ok(r) => r,
        Err(e) => return invalid_review(&e),
    };
    if !matches!(review.operation.as_str(), "CREATE" | "UPDATE") {
        let r = review::respond(&review.api_version, &review.uid, true, None, None, &[]);
        return Json(r).into_response();
    }
    let started = std::time::Instant::now();
    let span = tracing::info_span!(
        "admission_review",
        uid = %review.uid,
        kind = %review.kind,
        namespace = %review.namespace,
        object = %review.name,
        user = %review.user,
    );
    let (answer, subject) =
        tracing::Instrument::instrument(judge(&s, &review, deadline(&q)), span.clone()).await;
    observe(&s, &answer, &subject.namespace, started);
    span.in_scope(|| {
        tracing::debug!(
            outcome = answer.outcome.as_str(),
            allowed = answer.allowed,
            millis = started.elapsed().as_millis() as u64,
            "admission decided"
        );
    });
    let message = (!answer.allowed).then_some(answer.message.as_str());
    let reason = (subject.cloud_run.is_some() && answer.outcome == Outcome::Denied)
        .then_some(cloud_run::DENIAL_REASON);
    Json(review::respond(
        &review.api_version,
        &review.uid,
        answer.allowed,
        message,
        reason,
        &answer.warnings,
    ))
    .into_response()
}

/// Decides one review and stores its record, within `limit` (the API server's deadline):
/// the answer to give and who it was about.
pub(crate) async fn judge(s: &State, review: &Review, limit: Duration) -> (Answer, Subject) {
    let until = tokio::time::Instant::now() + limit;
    let subject = Subject::of(s, review);
    // The decision gets four fifths of the time; the rest is for storing its record, which can
    // be withdrawn only while no writer has taken it (so a late review never leaves a second,
    // contradicting record behind).
    let budget = limit.saturating_sub(limit / 5);
    let answer = match tokio::time::timeout(budget, decide(s, review, &subject)).await {
        Ok(a) => a,
        Err(_) => Answer::error(format!(
            "admit could not decide within the {}ms webhook deadline; denying (fail closed)",
            limit.as_millis()
        )),
    };
    let answer = record(s, review, &subject, answer, until).await;
    (answer, subject)
}

/// Counts the decision and its latency (`admit_admission_*`).
pub(crate) fn observe(s: &State, answer: &Answer, namespace: &str, started: std::time::Instant) {
    let scope = answer
        .decision
        .as_ref()
        .and_then(|d| {
            d.images
                .iter()
                .find(|i| i.verdict != Verdict::Allowed)
                .or_else(|| d.images.first())
        })
        .map_or_else(
            || "none".to_owned(),
            |i| match &i.basis {
                admit_policy::Basis::Rule { scope, .. } => scope.to_string(),
                admit_policy::Basis::ExemptImage { .. } => "exempt".to_owned(),
                admit_policy::Basis::SystemPolicy { .. } => "system_policy".to_owned(),
                other => other.to_string(),
            },
        );
    s.service.metrics().observe_admission(
        &admit_service::metrics::DecisionLabels {
            verdict: answer.outcome.as_str().to_owned(),
            scope,
            namespace: namespace.to_owned(),
        },
        started.elapsed().as_secs_f64(),
    );
}

fn joined(failures: &[impl ToString]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decides one CREATE or UPDATE: no side effects, so it can be cancelled at the deadline.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn decide(s: &State, review: &Review, subject: &Subject) -> Answer {
    let name = &subject.name;
    let w = match &subject.workload {
        Ok(w) => w,
        Err(e) => return Answer::denied(format!("admit denied {} {name}: {e}", review.kind), None),
    };
    if w.images.is_empty() {
        let note = if w.known_kind || w.has_pod_spec {
            "no container images to check".to_owned()
        } else {
            format!(
                "admit does not know kind {}/{} and found no containers in it; nothing to enforce",
                review.group, review.kind
            )
        };
        let warnings = if w.known_kind {
            vec![]
        } else {
            vec![note.clone()]
        };
        return Answer {
            outcome: Outcome::Allowed,
            allowed: true,
            message: note,
            warnings,
            decision: None,
            breakglass: None,
        };
    }

    let run = subject.cloud_run.as_ref();
    if let Some(note) = run.and_then(|r| r.no_new_revision(review)) {
        return Answer {
            outcome: Outcome::Allowed,
            allowed: true,
            message: note,
            warnings: vec![],
            decision: None,
            breakglass: None,
        };
    }
    let platform_policy = match run.map(|r| r.platform_policy(&s.config.project)) {
        Some(Err(e)) => {
            return Answer::denied(format!("admit denied {} {name}: {e}", review.kind), None);
        }
        Some(Ok(p)) => p,
        None => None,
    };
    let namespace = &subject.namespace;
    let request = AdmissionRequest {
        project: s.config.project.clone(),
        images: w.images.clone(),
        context: PolicyContext {
            cluster: s.config.cluster.clone(),
            namespace: Some(namespace.clone()),
            service_account: Some(w.service_account.clone()),
            istio_identity: Some(format!(
                "spiffe://{}/ns/{namespace}/sa/{}",
                s.config.istio_trust_domain, w.service_account
            )),
        },
    };
    let evaluated = match platform_policy {
        Some(p) => {
            s.service
                .evaluate_cloud_run_policy(p, &w.images, subject.secs)
                .await
        }
        None => s.service.evaluate_admission(&request, subject.secs).await,
    };
    let mut decision = match evaluated {
        Ok(d) => d,
        Err(e) => {
            return Answer::error(format!(
                "admit could not evaluate the policy{} ({}); denying (fail closed)",
                platform_policy.map(|p| format!(" {p}")).unwrap_or_default(),
                e.message
            ));
        }
    };
    if let Some(feed) = &s.config.kritis {
        let current = feed.borrow().clone();
        let Some(kritis) = current else {
            return Answer::error(
                "admit has not yet listed the Kritis policies from the Kubernetes API server; denying (fail closed)"
                    .to_owned(),
            );
        };
        match s
            .service
            .evaluate_kritis(
                &kritis,
                &s.config.project,
                namespace,
                &w.images,
                !review.kubernetes_dry_run,
            )
            .await
        {
            Ok(violations) => {
                for (image, messages) in violations {
                    decision.deny_image(&image, "Kritis", &messages);
                }
            }
            Err(e) => {
                return Answer::error(format!(
                    "admit could not evaluate the Kritis policies ({}); denying (fail closed)",
                    e.message
                ));
            }
        }
    }

    let dry_run: Vec<String> = decision
        .dry_run_violations()
        .map(|i| {
            format!(
                "admit dry-run: {} would be denied: {}",
                i.image,
                joined(&i.failures)
            )
        })
        .collect();
    if decision.allowed {
        return Answer {
            outcome: if dry_run.is_empty() {
                Outcome::Allowed
            } else {
                Outcome::DryRun
            },
            allowed: true,
            message: String::new(),
            warnings: dry_run,
            decision: Some(decision),
            breakglass: None,
        };
    }

    let summary = decision
        .images
        .iter()
        .filter(|i| i.verdict == Verdict::Denied)
        .map(|i| {
            let by = platform_policy.map_or_else(|| i.basis.to_string(), str::to_owned);
            let failures = joined(&i.failures);
            if run.is_some() {
                format!(
                    "Container image '{}' is not authorized by policy. Image {} denied by {by}: {failures}",
                    i.image, i.image
                )
            } else {
                format!("image {} denied by {by}: {failures}", i.image)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let run_glass = run.and_then(|r| r.justification.as_deref());
    let breakglass = run_glass.is_some()
        || w.annotations
            .get(BREAKGLASS_ANNOTATION)
            .and_then(Value::as_str)
            == Some("true")
        || w.labels
            .get(crate::BREAKGLASS_LABEL)
            .and_then(Value::as_str)
            == Some("true");
    if !breakglass {
        let reason = if run.is_some() {
            format!(" ({})", cloud_run::DENIAL_REASON)
        } else {
            String::new()
        };
        return Answer::denied(
            format!("admit denied {} {name}{reason}:\n{summary}", review.kind),
            Some(decision),
        );
    }
    // The project's breakglass policy, if it has one; otherwise GKE's rule, with the optional
    // justification flag. Cloud Run's breakglass annotation is its own justification.
    let policy = match s.service.breakglass_policy(&s.config.project).await {
        Ok(p) => p,
        Err(e) => {
            return Answer::error(format!(
                "admit could not read the breakglass policy ({}); denying (fail closed)",
                e.message
            ));
        }
    };
    let configured = policy
        .as_ref()
        .and_then(|p| p.justification_annotation.clone())
        .or_else(|| s.config.breakglass_justification_annotation.clone())
        .unwrap_or_else(|| crate::breakglass::JUSTIFICATION_ANNOTATION.to_owned());
    let justification =
        run_glass.or_else(|| w.annotations.get(&configured).and_then(Value::as_str));
    let refuse = |why: String, decision: Decision| {
        Answer::denied(
            format!("admit denied {} {name}: {why}\n{summary}", review.kind),
            Some(decision),
        )
    };
    let used = match &policy {
        Some(p) => {
            let holds = match (&p.allowed_permission, review.user.contains('@')) {
                (Some(perm), true) => s
                    .service
                    .principal_holds(
                        &format!("user:{}", review.user),
                        perm,
                        &format!("projects/{}", s.config.project),
                    )
                    .await
                    .unwrap_or(false),
                _ => false,
            };
            let req = crate::breakglass::Request {
                review,
                namespace,
                justification,
                holds_permission: holds,
                now: subject.secs,
            };
            match crate::breakglass::check(p, &req) {
                Ok(r) => r,
                Err(why) => return refuse(why, decision),
            }
        }
        None => {
            if run_glass.is_none()
                && s.config.breakglass_justification_annotation.is_some()
                && justification.is_none_or(|j| j.trim().is_empty())
            {
                return refuse(
                    format!("breakglass requires a justification in the `{configured}` annotation"),
                    decision,
                );
            }
            crate::breakglass::record(review, justification, None, None)
        }
    };
    let mut warnings = vec![format!(
        "admit: breakglass used; this deployment violates the policy and was recorded: {summary}"
    )];
    warnings.extend(dry_run);
    Answer {
        outcome: Outcome::Breakglass,
        allowed: true,
        message: format!("admit breakglass by {}: {summary}", review.user),
        warnings,
        decision: Some(decision),
        breakglass: Some(used),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_honours_the_api_servers_timeout_minus_a_margin() {
        let q = |t: &str| std::iter::once(("timeout".to_owned(), t.to_owned())).collect();
        assert_eq!(deadline(&q("10s")), Duration::from_millis(9_500));
        assert_eq!(deadline(&q("3s")), Duration::from_millis(2_500));
        assert_eq!(deadline(&q("0s")), Duration::from_millis(200));
        assert_eq!(
            deadline(&std::collections::HashMap::new()),
            Duration::from_millis(9_500)
        );
        assert_eq!(deadline(&q("garbage")), Duration::from_millis(9_500));
    }
}
