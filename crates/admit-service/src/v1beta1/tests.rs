//! Conversion tests.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests abort loudly")]

use serde_json::{Value, json};

use super::*;

fn obj(v: Value) -> Obj {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn generic_attestation_round_trips_and_maps_to_v1_signatures() {
    let beta = json!({
        "resource": {"uri": "https://gcr.io/p/a@sha256:00", "name": "a", "contentHash": {"type": "SHA256", "value": "AA=="}},
        "noteName": "projects/p/notes/n",
        "attestation": {"attestation": {"genericSignedAttestation": {
            "contentType": "SIMPLE_SIGNING_JSON", "serializedPayload": "e30=",
            "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]}}}
    });
    let v1 = occurrence_to_v1(&obj(beta.clone())).unwrap();
    assert_eq!(v1["resourceUri"], "https://gcr.io/p/a@sha256:00");
    assert_eq!(v1["attestation"]["serializedPayload"], "e30=");
    assert_eq!(v1["attestation"]["signatures"][0]["publicKeyId"], "k");
    let back = occurrence_from_v1(&Value::Object(v1));
    assert_eq!(back, beta);
}

#[test]
fn snake_case_proto_names_are_accepted() {
    let beta = json!({
        "resource": {"uri": "https://gcr.io/p/a@sha256:00"},
        "note_name": "projects/p/notes/n",
        "attestation": {"attestation": {"generic_signed_attestation": {
            "content_type": 1, "serialized_payload": "e30=",
            "signatures": [{"public_key_id": "k", "signature": "c2ln"}]}}}
    });
    let v1 = occurrence_to_v1(&obj(beta)).unwrap();
    assert_eq!(v1["noteName"], "projects/p/notes/n");
    assert_eq!(v1["attestation"]["serializedPayload"], "e30=");
    assert!(v1.get(SIDECAR).is_none(), "{v1:?}");
}

#[test]
fn vulnerability_package_issues_map_both_ways() {
    let beta = json!({
        "resource": {"uri": "https://gcr.io/p/a@sha256:00"},
        "noteName": "providers/goog-vulnz/notes/CVE-1",
        "vulnerability": {"severity": "HIGH", "cvssScore": 7.5, "packageIssue": [
            {"affectedLocation": {"cpeUri": "cpe:/o:debian", "package": "libc6", "version": {"name": "2.23", "kind": "NORMAL"}},
             "fixedLocation": {"cpeUri": "cpe:/o:debian", "package": "libc6", "version": {"kind": "MAXIMUM"}},
             "severityName": "Negligible"},
            {"affectedLocation": {"cpeUri": "cpe:/o:debian", "package": "zlib", "version": {"name": "1", "kind": "NORMAL"}},
             "fixedLocation": {"cpeUri": "cpe:/o:debian", "package": "zlib", "version": {"name": "2", "kind": "NORMAL"}},
             "severityName": "HIGH"}]}
    });
    let v1 = occurrence_to_v1(&obj(beta.clone())).unwrap();
    let issues = v1["vulnerability"]["packageIssue"].as_array().unwrap();
    assert_eq!(issues[0]["affectedPackage"], "libc6");
    assert_eq!(issues[0]["fixAvailable"], false);
    assert_eq!(issues[1]["fixAvailable"], true);
    assert_eq!(issues[1]["effectiveSeverity"], "HIGH");
    assert_eq!(v1["vulnerability"]["fixAvailable"], true);
    assert_eq!(occurrence_from_v1(&Value::Object(v1)), beta);
}

#[test]
fn wrapped_details_unwrap_to_v1_fields() {
    let beta = json!({
        "resource": {"uri": "https://gcr.io/p/a@sha256:00"},
        "noteName": "projects/p/notes/n",
        "derivedImage": {"derivedImage": {"fingerprint": {"v1Name": "x"}, "distance": 2}}
    });
    let v1 = occurrence_to_v1(&obj(beta.clone())).unwrap();
    assert_eq!(v1["image"]["distance"], 2);
    assert_eq!(occurrence_from_v1(&Value::Object(v1)), beta);
}

#[test]
fn bad_bodies_name_the_field() {
    let cases = [
        (
            json!({"noteName": "projects/p/notes/n", "attestation": {}}),
            "resource.uri",
        ),
        (
            json!({"resource": {"uri": "u"}, "noteName": "n", "bogus": 1, "build": {}}),
            "unknown field `bogus`",
        ),
        (
            json!({"resource": {"uri": "u"}, "noteName": "n", "attestation": {"attestation": {}}}),
            "pgpSignedAttestation",
        ),
        (
            json!({"resource": {"uri": "u"}, "noteName": "n", "attestation": {"attestation": {"pgpSignedAttestation": {"signature": "!!", "pgpKeyId": "K"}}}}),
            "pgpSignedAttestation.signature",
        ),
        (
            json!({"resource": {"uri": "u"}, "noteName": "n", "attestation": {"attestation": {"pgpSignedAttestation": {"signature": "c2ln"}}}}),
            "pgpKeyId is required",
        ),
        (
            json!({"resource": {"uri": "u"}, "noteName": "n", "vulnerability": {"packageIssue": [{"affectedLocation": 3}]}}),
            "packageIssue[0].affectedLocation must be an object",
        ),
    ];
    for (body, needle) in cases {
        let e = occurrence_to_v1(&obj(body.clone())).unwrap_err();
        assert!(e.message.contains(needle), "{body}: {}", e.message);
    }
}

#[test]
fn notes_map_authority_and_vulnerability_details() {
    let beta = json!({"shortDescription": "s", "attestationAuthority": {"hint": {"humanReadableName": "QA"}}});
    let v1 = note_to_v1(&obj(beta.clone())).unwrap();
    assert_eq!(v1["attestation"]["hint"]["humanReadableName"], "QA");
    assert_eq!(note_from_v1(&Value::Object(v1)), beta);

    let beta = json!({"vulnerability": {"severity": "LOW", "details": [{"cpeUri": "cpe:/o:x", "package": "p",
        "minAffectedVersion": {"kind": "MINIMUM"}, "fixedLocation": {"cpeUri": "cpe:/o:x", "package": "p", "version": {"name": "2", "kind": "NORMAL"}},
        "severityName": "LOW", "isObsolete": false}]}});
    let v1 = note_to_v1(&obj(beta.clone())).unwrap();
    assert_eq!(
        v1["vulnerability"]["details"][0]["affectedCpeUri"],
        "cpe:/o:x"
    );
    assert_eq!(
        v1["vulnerability"]["details"][0]["fixedVersion"]["name"],
        "2"
    );
    assert_eq!(note_from_v1(&Value::Object(v1)), beta);

    let beta =
        json!({"build": {"builderVersion": "1", "signature": {"keyId": "k", "signature": "c2ln"}}});
    let v1 = note_to_v1(&obj(beta.clone())).unwrap();
    assert!(v1["build"].get("signature").is_none());
    assert_eq!(note_from_v1(&Value::Object(v1)), beta);
}
