//! The engine's answer: per image, the verdict, the rule that applied and why, and every
//! failed check. The webhook's deny message, its warnings and the audit record are all
//! rendered from this.

use admit_model::{EnforcementMode, EvaluationMode};
use serde::Serialize;

use crate::attest::Satisfied;
use crate::rules::RuleScope;

/// What happens to one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Allowed,
    Denied,
    /// Allowed because the rule is dry-run, but it would have been denied.
    DryRun,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Allowed => "ALLOWED",
            Verdict::Denied => "DENIED",
            Verdict::DryRun => "DRY-RUN (would deny)",
        })
    }
}

/// Why the verdict was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Basis {
    /// Exempt by the system policy (`globalPolicyEvaluationMode: ENABLE`).
    SystemPolicy { pattern: String },
    /// Exempt by the project's `admissionWhitelistPatterns`.
    ExemptImage { pattern: String },
    /// A rule was evaluated.
    #[serde(rename_all = "camelCase")]
    Rule {
        #[serde(flatten)]
        scope: RuleScope,
        evaluation_mode: EvaluationMode,
        enforcement_mode: EnforcementMode,
        satisfied_by: Vec<Satisfied>,
    },
    /// The image reference could not be parsed, so no rule could be trusted to apply.
    InvalidImage,
    /// The policy has no applicable rule (never true of a validated policy).
    NoRule,
}

impl std::fmt::Display for Basis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Basis::SystemPolicy { pattern } => write!(f, "system policy exempts `{pattern}`"),
            Basis::ExemptImage { pattern } => write!(f, "exempt image pattern `{pattern}`"),
            Basis::Rule {
                scope,
                evaluation_mode,
                enforcement_mode,
                ..
            } => {
                write!(f, "{scope}: {evaluation_mode}, {enforcement_mode}")
            }
            Basis::InvalidImage => f.write_str("invalid image reference"),
            Basis::NoRule => f.write_str("no applicable rule"),
        }
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The attestor the check was for, when it was an attestation check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestor: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.attestor {
            Some(a) => write!(f, "{a}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The decision for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDecision {
    /// As written in the request.
    pub image: String,
    /// Fully qualified (`docker.io/library/nginx:latest`), when it parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    pub verdict: Verdict,
    pub basis: Basis,
    pub failures: Vec<Failure>,
}

/// The decision for a whole request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// True when no image is denied (dry-run images are allowed).
    pub allowed: bool,
    /// Seconds since the Unix epoch, as passed in by the caller.
    pub evaluated_at: u64,
    pub images: Vec<ImageDecision>,
}

impl Decision {
    /// Denies `image` for reasons found outside the project policy (Kritis' policies), which
    /// no dry-run softens. Every entry for that image is denied.
    pub fn deny_image(&mut self, image: &str, source: &str, messages: &[String]) {
        for i in self.images.iter_mut().filter(|i| i.image == image) {
            i.verdict = Verdict::Denied;
            i.failures.extend(messages.iter().map(|m| Failure {
                attestor: Some(source.to_owned()),
                message: m.clone(),
            }));
            self.allowed = false;
        }
    }

    /// Images that a dry-run rule would have denied.
    pub fn dry_run_violations(&self) -> impl Iterator<Item = &ImageDecision> {
        self.images.iter().filter(|i| i.verdict == Verdict::DryRun)
    }

    /// One line per non-allowed image, for a deny message or a warning.
    pub fn summary(&self) -> String {
        self.images
            .iter()
            .filter(|i| i.verdict != Verdict::Allowed)
            .map(|i| {
                let reasons: Vec<String> = i.failures.iter().map(ToString::to_string).collect();
                format!(
                    "{} {} by {}: {}",
                    i.image,
                    i.verdict,
                    i.basis,
                    reasons.join("; ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
