//! `POST /validate`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use admit_policy::{Context as PolicyContext, Verdict};
use admit_service::AdmissionRequest;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::audit::{self, Outcome};
use crate::review::{self, Review};
use crate::{BREAKGLASS_ANNOTATION, State, workload};

/// The API server appends `?timeout=10s`; answer within it (minus a margin for the network).
fn deadline(q: &std::collections::HashMap<String, String>) -> Duration {
    let given = q
        .get("timeout")
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    given
        .saturating_sub(Duration::from_millis(500))
        .max(Duration::from_millis(200))
}

fn now() -> (u64, String) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        d.as_secs(),
        admit_model::rfc3339(d.as_secs(), d.subsec_nanos()),
    )
}

pub(crate) async fn ready(AxState(s): AxState<State>) -> (StatusCode, &'static str) {
    match s.service.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n"),
    }
}

pub(crate) async fn validate(
    AxState(s): AxState<State>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let review = match review::parse(&body) {
        Ok(r) => r,
        // Without a uid there is no response the API server would accept; an HTTP error is a
        // webhook failure, which `failurePolicy: Fail` turns into a denial.
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid AdmissionReview: {e}\n"),
            )
                .into_response();
        }
    };
    let limit = deadline(&q);
    let response = match tokio::time::timeout(limit, decide(&s, &review)).await {
        Ok(v) => v,
        Err(_) => {
            let msg = format!(
                "admit could not decide within the {}ms webhook deadline; denying (fail closed)",
                limit.as_millis()
            );
            let (_, time) = now();
            let ctx = audit::Context {
                time,
                project: &s.config.project,
                cluster: s.config.cluster.as_deref().unwrap_or(""),
                namespace: &review.namespace,
            };
            emit(
                &s,
                &audit::record(&ctx, &review, &review.name, Outcome::Error, None, &msg),
            )
            .await;
            review::respond(&review.api_version, &review.uid, false, Some(&msg), &[])
        }
    };
    Json(response).into_response()
}

/// Writes the record as a JSON line on stdout and to the store; true when it was stored.
async fn emit(s: &State, record: &Value) -> bool {
    use std::io::Write as _;
    let line = format!("{record}\n");
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
    match s.service.record_audit(record).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "cannot store the audit record");
            false
        }
    }
}

async fn decide(s: &State, review: &Review) -> Value {
    let (secs, time) = now();
    let object = &review.object;
    let name = review
        .object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .or_else(|| {
            object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
        })
        .unwrap_or(&review.name)
        .to_owned();
    let namespace = if review.namespace.is_empty() {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned()
    } else {
        review.namespace.clone()
    };
    let cluster = s.config.cluster.clone().unwrap_or_default();
    let ctx = audit::Context {
        time,
        project: &s.config.project,
        cluster: &cluster,
        namespace: &namespace,
    };
    let deny = |msg: &str| review::respond(&review.api_version, &review.uid, false, Some(msg), &[]);

    if !matches!(review.operation.as_str(), "CREATE" | "UPDATE") {
        return review::respond(&review.api_version, &review.uid, true, None, &[]);
    }
    let w = match workload::extract(&review.group, &review.kind, object) {
        Ok(w) => w,
        Err(e) => {
            let msg = format!("admit denied {} {name}: {e}", review.kind);
            emit(
                s,
                &audit::record(&ctx, review, &name, Outcome::Denied, None, &msg),
            )
            .await;
            return deny(&msg);
        }
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
        emit(
            s,
            &audit::record(&ctx, review, &name, Outcome::Allowed, None, &note),
        )
        .await;
        let warnings = if w.known_kind { vec![] } else { vec![note] };
        return review::respond(&review.api_version, &review.uid, true, None, &warnings);
    }

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
    let mut decision = match s.service.evaluate_admission(&request, secs).await {
        Ok(d) => d,
        Err(e) => {
            let msg = format!(
                "admit could not evaluate the policy ({}); denying (fail closed)",
                e.message
            );
            emit(
                s,
                &audit::record(&ctx, review, &name, Outcome::Error, None, &msg),
            )
            .await;
            return deny(&msg);
        }
    };

    if let Some(kritis) = &s.config.kritis {
        match s
            .service
            .evaluate_kritis(kritis, &s.config.project, &namespace, &w.images)
            .await
        {
            Ok(violations) => {
                for (image, messages) in violations {
                    decision.deny_image(&image, "Kritis", &messages);
                }
            }
            Err(e) => {
                let msg = format!(
                    "admit could not evaluate the Kritis policies ({}); denying (fail closed)",
                    e.message
                );
                emit(
                    s,
                    &audit::record(&ctx, review, &name, Outcome::Error, None, &msg),
                )
                .await;
                return deny(&msg);
            }
        }
    }

    let dry_run: Vec<String> = decision
        .dry_run_violations()
        .map(|i| {
            format!(
                "admit dry-run: {} would be denied: {}",
                i.image,
                i.failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
        .collect();
    if decision.allowed {
        let outcome = if dry_run.is_empty() {
            Outcome::Allowed
        } else {
            Outcome::DryRun
        };
        if !emit(
            s,
            &audit::record(&ctx, review, &name, outcome, Some(&decision), ""),
        )
        .await
        {
            return deny(
                "admit could not record the decision in its audit log; denying (fail closed)",
            );
        }
        return review::respond(&review.api_version, &review.uid, true, None, &dry_run);
    }

    let denied: Vec<String> = decision
        .images
        .iter()
        .filter(|i| i.verdict == Verdict::Denied)
        .map(|i| {
            format!(
                "image {} denied by {}: {}",
                i.image,
                i.basis,
                i.failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
        .collect();
    let summary = denied.join("\n");
    let breakglass = w
        .annotations
        .get(BREAKGLASS_ANNOTATION)
        .and_then(Value::as_str)
        == Some("true");
    if breakglass {
        let justified = match &s.config.breakglass_justification_annotation {
            None => true,
            Some(a) => w
                .annotations
                .get(a)
                .and_then(Value::as_str)
                .is_some_and(|j| !j.trim().is_empty()),
        };
        if justified {
            let msg = format!("admit breakglass by {}: {summary}", review.user);
            if !emit(
                s,
                &audit::record(
                    &ctx,
                    review,
                    &name,
                    Outcome::Breakglass,
                    Some(&decision),
                    &msg,
                ),
            )
            .await
            {
                return deny(
                    "admit could not record the breakglass in its audit log; denying (fail closed)",
                );
            }
            let mut warnings = vec![format!(
                "admit: breakglass used; this deployment violates the policy and was recorded: {summary}"
            )];
            warnings.extend(dry_run);
            return review::respond(&review.api_version, &review.uid, true, None, &warnings);
        }
        let a = s
            .config
            .breakglass_justification_annotation
            .as_deref()
            .unwrap_or_default();
        let msg = format!(
            "admit denied {} {name}: breakglass requires a justification in the `{a}` annotation\n{summary}",
            review.kind
        );
        emit(
            s,
            &audit::record(&ctx, review, &name, Outcome::Denied, Some(&decision), &msg),
        )
        .await;
        return deny(&msg);
    }
    let msg = format!("admit denied {} {name}:\n{summary}", review.kind);
    emit(
        s,
        &audit::record(&ctx, review, &name, Outcome::Denied, Some(&decision), &msg),
    )
    .await;
    deny(&msg)
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
