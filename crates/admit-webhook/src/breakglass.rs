//! Accountable breakglass: a project's `admitBreakglass` (admit extension to the policy) says
//! who may break glass (Kubernetes users and groups from the review's `userInfo`, or an admit
//! IAM permission held by `user:USERNAME`), whether a justification is required and where it
//! is, a ticket pattern it must contain, how long the breakglass stands, and namespaces where
//! it is refused. Unconfigured, GKE's behaviour stays: the annotation or label alone.

use admit_model::BreakglassPolicy;
use serde_json::{Value, json};

use crate::review::Review;

/// The default annotation holding a justification.
pub(crate) const JUSTIFICATION_ANNOTATION: &str = "admit.dev/breakglass-justification";

/// What a granted breakglass records: who, why, until when.
pub(crate) fn record(
    review: &Review,
    justification: Option<&str>,
    ticket: Option<&str>,
    until: Option<String>,
) -> Value {
    let mut r = json!({"user": review.user, "groups": review.groups});
    if let Some(j) = justification {
        r["justification"] = json!(j);
    }
    if let Some(t) = ticket {
        r["ticket"] = json!(t);
    }
    if let Some(u) = until {
        r["until"] = json!(u);
    }
    r
}

/// Who is asking, where, with which justification.
pub(crate) struct Request<'a> {
    pub(crate) review: &'a Review,
    pub(crate) namespace: &'a str,
    /// The justification found (Cloud Run's annotation value, or the configured annotation).
    pub(crate) justification: Option<&'a str>,
    /// Whether `user:USERNAME` holds the configured permission (checked by the caller).
    pub(crate) holds_permission: bool,
    pub(crate) now: u64,
}

/// Applies `policy`: the record of a granted breakglass, or why it is refused.
pub(crate) fn check(policy: &BreakglassPolicy, req: &Request<'_>) -> Result<Value, String> {
    let review = req.review;
    if policy.refused_namespaces.iter().any(|n| n == req.namespace) {
        return Err(format!(
            "breakglass is refused in namespace {} by the project's breakglass policy",
            req.namespace
        ));
    }
    let restricted = !policy.allowed_users.is_empty()
        || !policy.allowed_groups.is_empty()
        || policy.allowed_permission.is_some();
    let allowed = policy.allowed_users.contains(&review.user)
        || review
            .groups
            .iter()
            .any(|g| policy.allowed_groups.contains(g))
        || (policy.allowed_permission.is_some() && req.holds_permission);
    if restricted && !allowed {
        let who = if review.user.is_empty() {
            "an unnamed user".to_owned()
        } else {
            format!("user `{}`", review.user)
        };
        return Err(format!(
            "{who} may not break glass in this project (allowed: users {:?}, groups {:?}{})",
            policy.allowed_users,
            policy.allowed_groups,
            policy
                .allowed_permission
                .as_ref()
                .map(|p| format!(", holders of {p}"))
                .unwrap_or_default()
        ));
    }
    let justification = req.justification.map(str::trim).filter(|j| !j.is_empty());
    let annotation = policy
        .justification_annotation
        .as_deref()
        .unwrap_or(JUSTIFICATION_ANNOTATION);
    if policy.require_justification && justification.is_none() {
        return Err(format!(
            "breakglass requires a justification in the `{annotation}` annotation"
        ));
    }
    let mut ticket = None;
    if let Some(p) = &policy.ticket_pattern {
        let re = regex::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("the breakglass ticketPattern does not compile: {e}"))?;
        ticket = justification
            .and_then(|j| re.find(j))
            .map(|m| m.as_str().to_owned());
        if ticket.is_none() {
            return Err(format!(
                "breakglass requires a justification naming a ticket matching `{p}`"
            ));
        }
    }
    let until = policy
        .lifetime
        .as_deref()
        .and_then(admit_model::parse_duration)
        .map(|d| admit_model::rfc3339(req.now.saturating_add(d), 0));
    Ok(record(review, justification, ticket.as_deref(), until))
}
