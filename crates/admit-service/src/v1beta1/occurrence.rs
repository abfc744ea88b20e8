//! v1beta1 `Occurrence` ↔ v1 `Occurrence`.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    OCCURRENCE_DETAILS, Obj, SIDECAR, b64, content_type, field, invalid, object, one_of, only,
    string, take,
};
use crate::ServiceError;

/// A v1beta1 `Occurrence` as the v1 body to store (with the [`SIDECAR`] when needed).
pub fn occurrence_to_v1(b: &Obj) -> Result<Obj, ServiceError> {
    let mut known: Vec<&str> = vec![
        "name",
        "resource",
        "noteName",
        "kind",
        "remediation",
        "createTime",
        "updateTime",
    ];
    known.extend(OCCURRENCE_DETAILS.iter().map(|(f, _)| *f));
    only(b, &known, "occurrence")?;
    let mut out = Obj::new();
    let mut side = Obj::new();
    for f in ["name", "noteName", "kind", "remediation"] {
        if let Some(v) = field(b, f) {
            out.insert(f.into(), v.clone());
        }
    }
    let resource = object(
        field(b, "resource").ok_or_else(|| invalid("resource.uri is required"))?,
        "resource",
    )?;
    only(resource, &["name", "uri", "contentHash"], "resource")?;
    let uri = string(resource, "uri", "resource")?.unwrap_or("");
    if uri.is_empty() {
        return Err(invalid("resource.uri is required"));
    }
    out.insert("resourceUri".into(), Value::String(uri.to_owned()));
    let mut extra = Obj::new();
    for f in ["name", "contentHash"] {
        if let Some(v) = field(resource, f) {
            extra.insert(f.into(), v.clone());
        }
    }
    if !extra.is_empty() {
        side.insert("resource".into(), Value::Object(extra));
    }

    let (from, to) = one_of(b, OCCURRENCE_DETAILS, "an occurrence")?;
    let details = field(b, from).unwrap_or(&Value::Null);
    let v1 = match from {
        "attestation" => attestation_to_v1(details, &mut side)?,
        "vulnerability" => vulnerability_to_v1(details, &mut side)?,
        "build" => object(details, "build").map(|_| details.clone())?,
        wrapper => {
            let o = object(details, wrapper)?;
            only(o, &[wrapper], wrapper)?;
            let inner = field(o, wrapper)
                .ok_or_else(|| invalid(format!("{wrapper}.{wrapper} is required")))?;
            object(inner, &format!("{wrapper}.{wrapper}"))?;
            inner.clone()
        }
    };
    out.insert(to.into(), v1);
    if !side.is_empty() {
        out.insert(SIDECAR.into(), Value::Object(side));
    }
    Ok(out)
}

/// The bytes of a `PgpSignedAttestation.signature`: the armored text as sent, or the base64 of
/// an armored or binary signature (what Kritis and seed 001's `$(base64 signature.gpg)` send).
fn pgp_signature_bytes(s: &str, path: &str) -> Result<Vec<u8>, ServiceError> {
    if s.trim_start().starts_with("-----BEGIN PGP") {
        return Ok(s.as_bytes().to_vec());
    }
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&compact))
        .map_err(|_| {
            invalid(format!(
                "{path}.signature: expected an ASCII-armored OpenPGP signature \
                 (`gpg --armor --sign`) or its base64"
            ))
        })
}

fn pgp_to_v1(pgp: &Obj, path: &str) -> Result<(Value, Value), ServiceError> {
    only(pgp, &["signature", "contentType", "pgpKeyId"], path)?;
    let sig = string(pgp, "signature", path)?.unwrap_or("");
    if sig.is_empty() {
        return Err(invalid(format!("{path}.signature is required")));
    }
    let key = string(pgp, "pgpKeyId", path)?.unwrap_or("");
    if key.is_empty() {
        return Err(invalid(format!(
            "{path}.pgpKeyId is required: the key's fingerprint, as `gpg --list-keys --with-colons` prints it"
        )));
    }
    let ct = content_type(pgp, path)?;
    let bytes = pgp_signature_bytes(sig, path)?;
    let mut v1 = json!({"signatures": [{"publicKeyId": key, "signature": b64(&bytes)}]});
    if let Some(content) = admit_crypto::pgp_signed_content(&bytes) {
        v1["serializedPayload"] = Value::String(b64(&content));
    }
    let mut kept = json!({"signature": sig, "pgpKeyId": key});
    if let Some(ct) = ct {
        kept["contentType"] = Value::String(ct.into());
    }
    Ok((v1, kept))
}

fn attestation_to_v1(details: &Value, side: &mut Obj) -> Result<Value, ServiceError> {
    let o = object(details, "attestation")?;
    only(o, &["attestation"], "attestation")?;
    let att = object(
        field(o, "attestation").ok_or_else(|| invalid("attestation.attestation is required"))?,
        "attestation.attestation",
    )?;
    only(
        att,
        &["pgpSignedAttestation", "genericSignedAttestation"],
        "attestation.attestation",
    )?;
    let (which, _) = one_of(
        att,
        &[
            ("pgpSignedAttestation", ""),
            ("genericSignedAttestation", ""),
        ],
        "attestation.attestation",
    )?;
    let path = format!("attestation.attestation.{which}");
    let inner = object(field(att, which).unwrap_or(&Value::Null), &path)?;
    if which == "pgpSignedAttestation" {
        let (v1, kept) = pgp_to_v1(inner, &path)?;
        side.insert("pgpSignedAttestation".into(), kept);
        return Ok(v1);
    }
    only(
        inner,
        &["contentType", "serializedPayload", "signatures"],
        &path,
    )?;
    let mut v1 = Obj::new();
    if let Some(p) = field(inner, "serializedPayload") {
        v1.insert("serializedPayload".into(), p.clone());
    }
    if let Some(s) = field(inner, "signatures") {
        v1.insert("signatures".into(), s.clone());
    }
    match content_type(inner, &path)? {
        Some("SIMPLE_SIGNING_JSON") => {}
        // Unset and CONTENT_TYPE_UNSPECIFIED read back as sent; v1 has no such field.
        ct => {
            side.insert(
                "contentType".into(),
                ct.map_or(Value::Null, |c| Value::String(c.into())),
            );
        }
    }
    Ok(Value::Object(v1))
}

const SEVERITIES: &[&str] = &["MINIMAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

pub(super) fn location_to_v1(
    loc: &Value,
    prefix: &str,
    out: &mut Obj,
    path: &str,
) -> Result<(), ServiceError> {
    let o = object(loc, path)?;
    only(o, &["cpeUri", "package", "version"], path)?;
    for (f, to) in [
        ("cpeUri", "CpeUri"),
        ("package", "Package"),
        ("version", "Version"),
    ] {
        if let Some(v) = field(o, f) {
            out.insert(format!("{prefix}{to}"), v.clone());
        }
    }
    Ok(())
}

pub(super) fn location_from_v1(o: &Obj, prefix: &str) -> Option<Value> {
    let mut loc = Obj::new();
    for (f, from) in [
        ("cpeUri", "CpeUri"),
        ("package", "Package"),
        ("version", "Version"),
    ] {
        if let Some(v) = o.get(&format!("{prefix}{from}")) {
            loc.insert(f.into(), v.clone());
        }
    }
    (!loc.is_empty()).then_some(Value::Object(loc))
}

fn vulnerability_to_v1(details: &Value, side: &mut Obj) -> Result<Value, ServiceError> {
    let mut v = object(details, "vulnerability")?.clone();
    let issues = take(&mut v, "packageIssue");
    let mut names: Vec<Value> = Vec::new();
    let mut fixable_any = false;
    if let Some(issues) = issues {
        let list = issues
            .as_array()
            .ok_or_else(|| invalid("vulnerability.packageIssue must be a list"))?;
        let mut out = Vec::with_capacity(list.len());
        for (i, issue) in list.iter().enumerate() {
            let path = format!("vulnerability.packageIssue[{i}]");
            let o = object(issue, &path)?;
            only(
                o,
                &["affectedLocation", "fixedLocation", "severityName"],
                &path,
            )?;
            let mut v1 = Obj::new();
            if let Some(l) = field(o, "affectedLocation") {
                location_to_v1(l, "affected", &mut v1, &format!("{path}.affectedLocation"))?;
            }
            let mut fixable = false;
            if let Some(l) = field(o, "fixedLocation") {
                location_to_v1(l, "fixed", &mut v1, &format!("{path}.fixedLocation"))?;
                // Kritis' rule: a fix exists unless the fixed version is the MAXIMUM sentinel.
                fixable = l.pointer("/version/kind").and_then(Value::as_str) != Some("MAXIMUM");
            }
            v1.insert("fixAvailable".into(), Value::Bool(fixable));
            fixable_any |= fixable;
            let name = string(o, "severityName", &path)?.unwrap_or("");
            if SEVERITIES.contains(&name) {
                v1.insert("effectiveSeverity".into(), Value::String(name.into()));
            }
            names.push(Value::String(name.into()));
            out.push(Value::Object(v1));
        }
        v.insert("packageIssue".into(), Value::Array(out));
        v.insert("fixAvailable".into(), Value::Bool(fixable_any));
    }
    let restorable = names.iter().all(|n| {
        n.as_str()
            .is_some_and(|s| s.is_empty() || SEVERITIES.contains(&s))
    });
    if !restorable {
        side.insert("severityNames".into(), Value::Array(names));
    }
    Ok(Value::Object(v))
}

/// Fields of a v1 `VulnerabilityOccurrence` that v1beta1's `Details` does not have.
const V1_ONLY_VULNERABILITY: &[&str] = &[
    "fixAvailable",
    "cvssv3",
    "cvssVersion",
    "vexAssessment",
    "extraDetails",
    "cvssV2",
];

fn vulnerability_from_v1(v1: &Value, side: &Obj) -> Value {
    let Some(o) = v1.as_object() else {
        return v1.clone();
    };
    let mut out = Obj::new();
    for (k, v) in o {
        if k != "packageIssue" && !V1_ONLY_VULNERABILITY.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(issues) = o.get("packageIssue").and_then(Value::as_array) {
        let names = side
            .get("severityNames")
            .and_then(Value::as_array)
            .filter(|n| n.len() == issues.len());
        let list: Vec<Value> = issues
            .iter()
            .enumerate()
            .map(|(i, issue)| {
                let mut p = Obj::new();
                if let Some(io) = issue.as_object() {
                    if let Some(l) = location_from_v1(io, "affected") {
                        p.insert("affectedLocation".into(), l);
                    }
                    if let Some(l) = location_from_v1(io, "fixed") {
                        p.insert("fixedLocation".into(), l);
                    }
                    let name = names
                        .and_then(|n| n.get(i))
                        .or_else(|| io.get("effectiveSeverity"))
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty());
                    if let Some(n) = name {
                        p.insert("severityName".into(), Value::String(n.into()));
                    }
                }
                Value::Object(p)
            })
            .collect();
        out.insert("packageIssue".into(), Value::Array(list));
    }
    Value::Object(out)
}

fn attestation_from_v1(v1: &Value, side: &Obj) -> Value {
    if let Some(pgp) = side.get("pgpSignedAttestation").and_then(Value::as_object)
        && let Ok((derived, _)) = pgp_to_v1(pgp, "pgpSignedAttestation")
        && &derived == v1
    {
        return json!({"attestation": {"pgpSignedAttestation": pgp}});
    }
    let mut generic = Obj::new();
    match side.get("contentType") {
        Some(Value::String(ct)) => {
            generic.insert("contentType".into(), Value::String(ct.clone()));
        }
        Some(_) => {}
        None => {
            generic.insert(
                "contentType".into(),
                Value::String("SIMPLE_SIGNING_JSON".into()),
            );
        }
    }
    for f in ["serializedPayload", "signatures"] {
        if let Some(v) = v1.get(f) {
            generic.insert(f.into(), v.clone());
        }
    }
    json!({"attestation": {"genericSignedAttestation": generic}})
}

/// A stored v1 occurrence (with its [`SIDECAR`], if any) as v1beta1 shows it.
pub fn occurrence_from_v1(v1: &Value) -> Value {
    let Some(o) = v1.as_object() else {
        return v1.clone();
    };
    let empty = Obj::new();
    let side = o.get(SIDECAR).and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Obj::new();
    if let Some(v) = o.get("name") {
        out.insert("name".into(), v.clone());
    }
    let mut resource = Obj::new();
    if let Some(extra) = side.get("resource").and_then(Value::as_object) {
        resource.extend(extra.clone());
    }
    if let Some(uri) = o.get("resourceUri") {
        resource.insert("uri".into(), uri.clone());
    }
    out.insert("resource".into(), Value::Object(resource));
    for f in [
        "noteName",
        "kind",
        "remediation",
        "createTime",
        "updateTime",
    ] {
        if let Some(v) = o.get(f) {
            out.insert(f.into(), v.clone());
        }
    }
    for (beta, v1f) in OCCURRENCE_DETAILS {
        let Some(d) = o.get(*v1f) else { continue };
        let shown = match *beta {
            "attestation" => attestation_from_v1(d, side),
            "vulnerability" => vulnerability_from_v1(d, side),
            "build" => d.clone(),
            wrapper => {
                let mut w = Obj::new();
                w.insert(wrapper.into(), d.clone());
                Value::Object(w)
            }
        };
        out.insert((*beta).into(), shown);
    }
    Value::Object(out)
}
