//! Binary Authorization's `attestors/{a}:validateAttestationOccurrence`: one attestation,
//! sent in the request, checked against an attestor as admission would check it.

use admit_model::{AttestationOccurrence, Attestor, Occurrence};
use admit_policy::{CompiledAttestor, ImageRef};
use serde_json::Value;

use crate::{Service, ServiceError};

impl Service {
    /// `attestors/{a}:validateAttestationOccurrence`.
    pub async fn validate_attestation_occurrence(
        &self,
        attestor: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        let mut a = self.get_attestor(attestor).await?;
        let keys = crate::kms_lifecycle::kms_backed_keys(&a);
        let (unusable, _) = self.kms_unusable_keys(&keys).await?;
        a.admit_revoked_keys.extend(unusable);
        let att: AttestationOccurrence =
            serde_json::from_value(request.get("attestation").cloned().unwrap_or(Value::Null))
                .map_err(|e| ServiceError::invalid(format!("attestation: {e}")))?;
        let note = request
            .get("occurrenceNote")
            .and_then(Value::as_str)
            .unwrap_or("");
        let uri = request
            .get("occurrenceResourceUri")
            .and_then(Value::as_str)
            .unwrap_or("");
        Ok(
            match validate_attestation(&a, &att, note, uri, &self.now()) {
                Ok(()) => serde_json::json!({"result": "VERIFIED"}),
                Err(reason) => {
                    serde_json::json!({"result": "ATTESTATION_NOT_VERIFIABLE", "denialReason": reason})
                }
            },
        )
    }
}

/// Verifies one attestation against an attestor with the engine: the note must be the
/// attestor's, the resource a digest reference, and some signature must verify and bind.
/// `now` stands for the time the attestation would be recorded (key validity windows).
pub fn validate_attestation(
    attestor: &Attestor,
    att: &AttestationOccurrence,
    note: &str,
    resource_uri: &str,
    now: &str,
) -> Result<(), String> {
    let compiled = CompiledAttestor::compile(attestor).map_err(|e| e.to_string())?;
    if note != compiled.note.to_string() {
        return Err(format!(
            "occurrenceNote `{note}` is not the attestor's note {}",
            compiled.note
        ));
    }
    let stripped = resource_uri
        .split_once("://")
        .map_or(resource_uri, |(_, r)| r);
    let image = ImageRef::parse(stripped).map_err(|e| e.to_string())?;
    let occ = Occurrence {
        name: "request".into(),
        resource_uri: resource_uri.to_owned(),
        note_name: note.to_owned(),
        kind: admit_model::NoteKind::Attestation,
        attestation: Some(att.clone()),
        create_time: Some(now.to_owned()),
        ..Default::default()
    };
    compiled
        .check(&image, std::slice::from_ref(&occ))
        .map(|_| ())
        .map_err(|r| r.join("; "))
}
