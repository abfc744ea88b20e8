//! Container Analysis / Grafeas `v1beta1` bodies, converted to and from the `v1` bodies the
//! store keeps, so one occurrence is the same record through either version.
//!
//! The field mapping follows the public protos (googleapis
//! `google/devtools/containeranalysis/v1beta1/{grafeas,attestation,vulnerability}/*.proto` and
//! `grafeas/v1/{grafeas,attestation,vulnerability,image,package,deployment,discovery}.proto`):
//!
//! | v1beta1 | v1 |
//! |---|---|
//! | `resource.uri` | `resourceUri` |
//! | `attestation.attestation.genericSignedAttestation {serializedPayload, signatures}` | `attestation {serializedPayload, signatures}` |
//! | `attestation.attestation.pgpSignedAttestation {signature, pgpKeyId}` | `attestation.signatures[0] {signature, publicKeyId}`, `serializedPayload` the signed content |
//! | `vulnerability.packageIssue[].affectedLocation {cpeUri, package, version}` | `vulnerability.packageIssue[].affected{CpeUri,Package,Version}` (likewise `fixed…`) |
//! | `derivedImage.derivedImage`, `installation.installation`, `deployment.deployment`, `discovered.discovered` | `image`, `package`, `deployment`, `discovery` |
//! | note `attestationAuthority`, `baseImage`, `deployable` | note `attestation`, `image`, `deployment` |
//! | note `vulnerability.details[] {cpeUri, package, minAffectedVersion, maxAffectedVersion, fixedLocation}` | `details[] {affectedCpeUri, affectedPackage, affectedVersionStart, affectedVersionEnd, fixed…}` |
//!
//! What v1 has no field for (`resource.name` and `contentHash`, the PGP signature exactly as
//! sent, a generic attestation's `contentType`, a package issue's free-text `severityName`, a
//! build note's `signature`) is kept beside the v1 body under [`SIDECAR`], never shown through
//! v1, and used on a v1beta1 read only while the v1 fields it was derived from are unchanged.
//! A PGP attestation stays enforceable through v1: its signature is the `gpg --sign` message
//! (armored or binary; Kritis and seed 001 send it base64-encoded, which is accepted too).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::ServiceError;

mod note;
mod occurrence;

pub use note::{note_from_v1, note_to_v1};
pub use occurrence::{occurrence_from_v1, occurrence_to_v1};

/// The key, inside a stored v1 body, of what only v1beta1 can say.
pub const SIDECAR: &str = "admitV1beta1Only";

type Obj = Map<String, Value>;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::invalid(msg)
}

/// `lowerCamel` → `lower_camel`: proto3 JSON parsers accept the proto field name too.
fn snake(camel: &str) -> String {
    let mut s = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// A field by its JSON name or its proto name; `null` counts as absent.
fn field<'a>(o: &'a Obj, camel: &str) -> Option<&'a Value> {
    o.get(camel)
        .or_else(|| o.get(&snake(camel)))
        .filter(|v| !v.is_null())
}

/// Removes a field given under either name.
fn take(o: &mut Obj, camel: &str) -> Option<Value> {
    let a = o.remove(camel);
    let b = o.remove(&snake(camel));
    a.or(b).filter(|v| !v.is_null())
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Obj, ServiceError> {
    v.as_object()
        .ok_or_else(|| invalid(format!("{path} must be an object")))
}

fn string<'a>(o: &'a Obj, camel: &str, path: &str) -> Result<Option<&'a str>, ServiceError> {
    match field(o, camel) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{path}.{camel} must be a string"))),
    }
}

/// Rejects fields a message does not have, as Google's JSON parser does, naming the first.
fn only(o: &Obj, known: &[&str], path: &str) -> Result<(), ServiceError> {
    for k in o.keys() {
        if !known.iter().any(|f| f == k || snake(f) == *k) {
            return Err(invalid(format!(
                "{path}: unknown field `{k}` (Grafeas v1beta1 has {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// The `ContentType` enum of both attestation wrappers, normalised to its name.
fn content_type(o: &Obj, path: &str) -> Result<Option<&'static str>, ServiceError> {
    match field(o, "contentType") {
        None => Ok(None),
        Some(v) if v == "SIMPLE_SIGNING_JSON" || v == 1 => Ok(Some("SIMPLE_SIGNING_JSON")),
        Some(v) if v == "CONTENT_TYPE_UNSPECIFIED" || v == 0 => {
            Ok(Some("CONTENT_TYPE_UNSPECIFIED"))
        }
        Some(v) => Err(invalid(format!(
            "{path}.contentType: `{v}` is not SIMPLE_SIGNING_JSON or CONTENT_TYPE_UNSPECIFIED"
        ))),
    }
}

const OCCURRENCE_DETAILS: &[(&str, &str)] = &[
    ("vulnerability", "vulnerability"),
    ("build", "build"),
    ("derivedImage", "image"),
    ("installation", "package"),
    ("deployment", "deployment"),
    ("discovered", "discovery"),
    ("attestation", "attestation"),
];

const NOTE_TYPES: &[(&str, &str)] = &[
    ("vulnerability", "vulnerability"),
    ("build", "build"),
    ("baseImage", "image"),
    ("package", "package"),
    ("deployable", "deployment"),
    ("discovery", "discovery"),
    ("attestationAuthority", "attestation"),
];

/// The v1beta1 detail field set in `o`: exactly one, as the `oneof` demands.
fn one_of<'a>(
    o: &Obj,
    table: &'a [(&'a str, &'a str)],
    what: &str,
) -> Result<(&'a str, &'a str), ServiceError> {
    let set: Vec<&(&str, &str)> = table
        .iter()
        .filter(|(f, _)| field(o, f).is_some())
        .collect();
    match set.as_slice() {
        [one] => Ok(**one),
        [] => Err(invalid(format!(
            "{what} needs exactly one of {}",
            table.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
        ))),
        many => Err(invalid(format!(
            "{what} has more than one of {}",
            many.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A stored body as v1 shows it: without the [`SIDECAR`].
pub fn strip_sidecar(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove(SIDECAR);
    }
    v
}

/// A v1 `vulnerabilitySummary` answer as v1beta1 words it (`resource.uri`).
pub fn summary_from_v1(v1: &Value) -> Value {
    let counts: Vec<Value> = v1["counts"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|e| {
                    let mut e = e.clone();
                    if let Some(o) = e.as_object_mut()
                        && let Some(uri) = o.remove("resourceUri")
                    {
                        o.insert("resource".into(), json!({ "uri": uri }));
                    }
                    e
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "counts": counts })
}

#[cfg(test)]
mod tests;
