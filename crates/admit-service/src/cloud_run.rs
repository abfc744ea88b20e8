//! Cloud Run platform policies (`projects/{p}/platforms/cloudRun/policies/{id}`), evaluated when
//! a Knative Service (Cloud Run's analogue here) names one in `run.googleapis.com/binary-authorization`.
//! The inline rule, allowlist and attestors become an engine policy and engine attestors, so the
//! one engine decides; attestations are read as for the project policy, bounded, and a note in
//! another project needs the policy project's service agent to be allowed to read it.

use admit_model::{Attestor, Occurrence, Policy};
use admit_policy::{CompiledPolicy, Context, Decision, Evidence, ImageRef, Request};
use admit_store::OccurrenceScope;
use serde_json::{Value, json};

use crate::{Service, ServiceError};

/// `projects/P/platforms/cloudRun/policies/ID` → `P`.
fn cloud_run_project(name: &str) -> Result<&str, ServiceError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", p, "platforms", "cloudRun", "policies", id]
            if !p.is_empty() && !id.is_empty() =>
        {
            Ok(p)
        }
        _ => Err(ServiceError::invalid(format!(
            "`{name}` is not a Cloud Run platform policy name (projects/PROJECT/platforms/cloudRun/policies/ID)"
        ))),
    }
}

fn bad(name: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid(format!("Cloud Run policy {name} cannot be evaluated: {e}"))
}

/// The engine policy and attestors an `InlineCloudRunPolicy` stands for; an error names the
/// field. Also the validation applied when the policy is stored.
pub(crate) fn compile(
    project: &str,
    inline: &Value,
) -> Result<(CompiledPolicy, Vec<Attestor>), String> {
    let rule = &inline["rule"];
    if !rule.is_object() {
        return Err("cloudRunPolicy.rule is required".into());
    }
    let mut attestors = Vec::new();
    let listed = match &rule["requiredAttestors"] {
        Value::Null => &[][..],
        Value::Array(a) => a.as_slice(),
        _ => return Err("cloudRunPolicy.rule.requiredAttestors must be a list".into()),
    };
    for (i, a) in listed.iter().enumerate() {
        let field = format!("cloudRunPolicy.rule.requiredAttestors[{i}]");
        let id = a["id"].as_str().unwrap_or_default();
        crate::check_id(&format!("{field}.id"), id).map_err(|e| e.message)?;
        let note = a["attestationNote"].as_str().unwrap_or_default();
        admit_model::NoteName::parse(note).map_err(|e| format!("{field}.attestationNote: {e}"))?;
        let attestor: Attestor = serde_json::from_value(json!({
            "name": format!("projects/{project}/attestors/{id}"),
            "userOwnedGrafeasNote": {"noteReference": note, "publicKeys": a["publicKeys"]},
        }))
        .map_err(|e| format!("{field}: {e}"))?;
        admit_policy::CompiledAttestor::compile(&attestor).map_err(|e| format!("{field}: {e}"))?;
        if attestors.iter().any(|x: &Attestor| x.name == attestor.name) {
            return Err(format!("{field}.id: `{id}` is given twice"));
        }
        attestors.push(attestor);
    }
    let policy: Policy = serde_json::from_value(json!({
        "globalPolicyEvaluationMode": "DISABLE",
        "admissionWhitelistPatterns": inline.get("allowlistPatterns").cloned().unwrap_or(Value::Array(vec![])),
        "defaultAdmissionRule": {
            "evaluationMode": rule["evaluationMode"],
            "enforcementMode": rule["enforcementMode"],
            "requireAttestationsBy": attestors.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        },
    }))
    .map_err(|e| format!("cloudRunPolicy: {e}"))?;
    let compiled = CompiledPolicy::new(policy).map_err(|e| format!("cloudRunPolicy: {e}"))?;
    Ok((compiled, attestors))
}

impl Service {
    /// Decides `images` under the Cloud Run platform policy `name` (an unknown policy is
    /// NOT_FOUND; the caller denies).
    #[tracing::instrument(level = "debug", skip_all, fields(policy = name))]
    pub async fn evaluate_cloud_run_policy(
        &self,
        name: &str,
        images: &[String],
        now: u64,
    ) -> Result<Decision, ServiceError> {
        let project = cloud_run_project(name)?.to_owned();
        let stored = self.get_platform_policy(name).await?;
        let Some(inline) = stored.get("cloudRunPolicy").filter(|v| v.is_object()) else {
            return Err(bad(name, "it has no cloudRunPolicy"));
        };
        let (compiled, attestors) = compile(&project, inline).map_err(|e| bad(name, e))?;
        let request = Request {
            images: images.to_vec(),
            context: Context::default(),
        };
        let required = compiled.required_attestors(&request);
        let mut evidence = Evidence::new();
        for attestor in attestors.iter().filter(|a| required.contains(&a.name)) {
            evidence.add_attestor(attestor);
            let note = attestor
                .user_owned_grafeas_note
                .as_ref()
                .map(|n| n.note_reference.clone())
                .unwrap_or_default();
            let note_project = crate::project_of(&note).to_owned();
            let unreadable = self
                .unreadable_projects(&project, std::slice::from_ref(&note_project))
                .await?;
            for raw in images {
                let Ok(image) = ImageRef::parse(raw) else {
                    continue;
                };
                let Some(digest) = image.digest() else {
                    continue;
                };
                if compiled.is_exempt(&image) {
                    continue;
                }
                if !unreadable.is_empty() {
                    evidence.add_verified(
                        &attestor.name,
                        &image,
                        Err(vec![format!(
                            "project {project}'s service agent ({}) may not read the occurrences of project {note_project}: grant it roles/containeranalysis.occurrences.viewer there",
                            crate::service_agent(&project).trim_start_matches("serviceAccount:")
                        )]),
                    );
                    continue;
                }
                let filter =
                    format!("has_suffix(resourceUrl, \"{digest}\") AND kind = \"ATTESTATION\"");
                for v in self
                    .bounded_occurrences(&OccurrenceScope::Note(note.clone()), &filter)
                    .await?
                {
                    if let Ok(o) = serde_json::from_value::<Occurrence>(v) {
                        evidence.add_occurrence(o);
                    }
                }
            }
        }
        Ok(compiled.evaluate(&request, &evidence, now))
    }
}
