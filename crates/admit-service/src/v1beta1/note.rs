//! v1beta1 `Note` ↔ v1 `Note`.

use serde_json::Value;

use super::occurrence::{location_from_v1, location_to_v1};
use super::{NOTE_TYPES, Obj, SIDECAR, field, invalid, object, one_of, only, take};
use crate::ServiceError;

const NOTE_COMMON: &[&str] = &[
    "name",
    "shortDescription",
    "longDescription",
    "kind",
    "relatedUrl",
    "expirationTime",
    "createTime",
    "updateTime",
    "relatedNoteNames",
];

const VULN_DETAIL_RENAMES: &[(&str, &str)] = &[
    ("cpeUri", "affectedCpeUri"),
    ("package", "affectedPackage"),
    ("minAffectedVersion", "affectedVersionStart"),
    ("maxAffectedVersion", "affectedVersionEnd"),
];

fn vulnerability_note_to_v1(v: &Value) -> Result<Value, ServiceError> {
    let mut o = object(v, "vulnerability")?.clone();
    if let Some(details) = take(&mut o, "details") {
        let list = details
            .as_array()
            .ok_or_else(|| invalid("vulnerability.details must be a list"))?;
        let mut out = Vec::with_capacity(list.len());
        for (i, d) in list.iter().enumerate() {
            let path = format!("vulnerability.details[{i}]");
            let mut d = object(d, &path)?.clone();
            let mut v1 = Obj::new();
            for (beta, v1f) in VULN_DETAIL_RENAMES {
                if let Some(x) = take(&mut d, beta) {
                    v1.insert((*v1f).into(), x);
                }
            }
            if let Some(fixed) = take(&mut d, "fixedLocation") {
                location_to_v1(&fixed, "fixed", &mut v1, &format!("{path}.fixedLocation"))?;
            }
            v1.extend(d);
            out.push(Value::Object(v1));
        }
        o.insert("details".into(), Value::Array(out));
    }
    Ok(Value::Object(o))
}

fn vulnerability_note_from_v1(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return v.clone();
    };
    let mut o = o.clone();
    if let Some(Value::Array(list)) = o.remove("details") {
        let out: Vec<Value> = list
            .into_iter()
            .map(|d| {
                let Value::Object(mut d) = d else { return d };
                let mut beta = Obj::new();
                for (b, v1f) in VULN_DETAIL_RENAMES {
                    if let Some(x) = d.remove(*v1f) {
                        beta.insert((*b).into(), x);
                    }
                }
                if let Some(l) = location_from_v1(&d, "fixed") {
                    beta.insert("fixedLocation".into(), l);
                }
                for f in ["fixedCpeUri", "fixedPackage", "fixedVersion"] {
                    d.remove(f);
                }
                beta.extend(d);
                Value::Object(beta)
            })
            .collect();
        o.insert("details".into(), Value::Array(out));
    }
    Value::Object(o)
}

/// A v1beta1 `Note` as the v1 body to store.
pub fn note_to_v1(b: &Obj) -> Result<Obj, ServiceError> {
    let mut known: Vec<&str> = NOTE_COMMON.to_vec();
    known.extend(NOTE_TYPES.iter().map(|(f, _)| *f));
    only(b, &known, "note")?;
    let mut out = Obj::new();
    for f in NOTE_COMMON {
        if let Some(v) = field(b, f) {
            out.insert((*f).into(), v.clone());
        }
    }
    let (from, to) = one_of(b, NOTE_TYPES, "a note")?;
    let v = field(b, from).unwrap_or(&Value::Null);
    object(v, from)?;
    let mut side = Obj::new();
    let v1 = match from {
        "vulnerability" => vulnerability_note_to_v1(v)?,
        "build" => {
            let mut o = object(v, "build")?.clone();
            if let Some(sig) = take(&mut o, "signature") {
                side.insert("buildSignature".into(), sig);
            }
            Value::Object(o)
        }
        _ => v.clone(),
    };
    out.insert(to.into(), v1);
    if !side.is_empty() {
        out.insert(SIDECAR.into(), Value::Object(side));
    }
    Ok(out)
}

/// A stored v1 note as v1beta1 shows it.
pub fn note_from_v1(v1: &Value) -> Value {
    let Some(o) = v1.as_object() else {
        return v1.clone();
    };
    let empty = Obj::new();
    let side = o.get(SIDECAR).and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Obj::new();
    for f in NOTE_COMMON {
        if let Some(v) = o.get(*f) {
            out.insert((*f).into(), v.clone());
        }
    }
    for (beta, v1f) in NOTE_TYPES {
        let Some(d) = o.get(*v1f) else { continue };
        let shown = match *beta {
            "vulnerability" => vulnerability_note_from_v1(d),
            "build" => {
                let mut d = d.clone();
                if let (Some(sig), Some(m)) = (side.get("buildSignature"), d.as_object_mut()) {
                    m.insert("signature".into(), sig.clone());
                }
                d
            }
            _ => d.clone(),
        };
        out.insert((*beta).into(), shown);
    }
    Value::Object(out)
}
