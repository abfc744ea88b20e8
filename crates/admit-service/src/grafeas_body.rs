//! Grafeas resource bodies, shared by notes and occurrences (and anything stored as a `Doc`):
//! the kind a body's detail field implies, output times from the store's columns, and update
//! masks over top-level fields. Depends on no resource module, so none of them depend on each
//! other.

use admit_model::NoteName;
use admit_store::{Doc, Kind, Resource, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ServiceError;

/// Note kind fields and the `NoteKind` each implies.
pub(crate) const NOTE_KINDS: &[(&str, &str)] = &[
    ("vulnerability", "VULNERABILITY"),
    ("build", "BUILD"),
    ("image", "IMAGE"),
    ("package", "PACKAGE"),
    ("deployment", "DEPLOYMENT"),
    ("discovery", "DISCOVERY"),
    ("attestation", "ATTESTATION"),
    ("upgrade", "UPGRADE"),
    ("compliance", "COMPLIANCE"),
    ("dsseAttestation", "DSSE_ATTESTATION"),
    ("vulnerabilityAssessment", "VULNERABILITY_ASSESSMENT"),
    ("sbomReference", "SBOM_REFERENCE"),
    ("secret", "SECRET"),
];

/// The kind implied by the single detail field of `body`; `what` names the resource.
pub(crate) fn derive_kind(
    body: &Map<String, Value>,
    what: &str,
) -> Result<&'static str, ServiceError> {
    let set: Vec<&(&str, &str)> = NOTE_KINDS
        .iter()
        .filter(|(f, _)| body.get(*f).is_some_and(|v| !v.is_null()))
        .collect();
    match set.as_slice() {
        [(_, kind)] => {
            if let Some(given) = body.get("kind").and_then(Value::as_str)
                && given != *kind
                && given != "NOTE_KIND_UNSPECIFIED"
            {
                return Err(ServiceError::invalid(format!(
                    "kind `{given}` does not match the `{}` field",
                    set[0].0
                )));
            }
            Ok(kind)
        }
        [] => Err(ServiceError::invalid(format!(
            "{what} needs exactly one kind field ({})",
            NOTE_KINDS
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        many => Err(ServiceError::invalid(format!(
            "{what} has more than one kind field: {}",
            many.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A Grafeas note as stored: its whole JSON object, so every kind round-trips losslessly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct NoteBody(pub(crate) Map<String, Value>);

impl Resource for NoteBody {
    const KIND: Kind = Kind::Note;
    type Name = NoteName;
    const OUTPUT_ONLY: &'static [&'static str] = &["createTime", "updateTime"];
}

/// A stored Grafeas body as the API shows it: with its times from the store's columns.
pub(crate) fn shown(v: Versioned<NoteBody>) -> Value {
    let mut body = v.value.0;
    body.insert("createTime".into(), Value::String(v.create_time));
    body.insert("updateTime".into(), Value::String(v.update_time));
    Value::Object(body)
}

pub(crate) fn with_times(doc: Doc) -> Value {
    let mut body = doc.body;
    if let Some(o) = body.as_object_mut() {
        o.insert("createTime".into(), Value::String(doc.create_time));
        o.insert("updateTime".into(), Value::String(doc.update_time));
    }
    body
}

/// Applies an update mask of top-level field names (empty or `*`: every field in `patch`).
pub(crate) fn apply_mask(
    current: Value,
    patch: &Map<String, Value>,
    mask: &[String],
    immutable: &[&str],
) -> Result<Map<String, Value>, ServiceError> {
    let Value::Object(mut body) = current else {
        return Err(ServiceError::new(
            crate::Code::Internal,
            "stored body is not an object",
        ));
    };
    let all = mask.is_empty() || mask.iter().any(|m| m == "*");
    let fields: Vec<String> = if all {
        patch.keys().cloned().collect()
    } else {
        mask.to_vec()
    };
    for f in fields {
        let top = f.split('.').next().unwrap_or(&f).to_owned();
        let camel = snake_to_camel(&top);
        if immutable.contains(&camel.as_str()) {
            if all {
                continue;
            }
            return Err(ServiceError::invalid(format!(
                "updateMask: `{f}` cannot be updated"
            )));
        }
        match patch.get(&camel) {
            Some(v) => {
                body.insert(camel, v.clone());
            }
            None => {
                body.remove(&camel);
            }
        }
    }
    Ok(body)
}

/// `note_name` → `noteName`: a proto field name as its JSON name.
pub fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}
