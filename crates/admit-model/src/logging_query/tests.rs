//! Query tests.

#![allow(clippy::unwrap_used, reason = "tests abort loudly")]

use serde_json::json;

use super::*;

fn entry() -> Value {
    json!({
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "web"}},
        "severity": "ERROR",
        "timestamp": "2026-11-30T10:00:00.000000000Z",
        "labels": {"imagepolicywebhook.image-policy.k8s.io/dry-run": "true"},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {"code": 7, "message": "Container image 'x' is not authorized; dry run"},
            "response": {"metadata": {"annotations": {"run.googleapis.com/binary-authorization-breakglass": "INC-1"}},
                         "status": {"conditions": [{"type": "Ready", "reason": "ContainerImageUnauthorized"}]}}
        }
    })
}

fn m(f: &str) -> bool {
    parse(f)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .matches(&entry())
}

#[test]
fn seed_002_filters_match() {
    assert!(m(
        r#"resource.type="cloud_run_revision" logName:"cloudaudit.googleapis.com%2Fsystem_event" protoPayload.response.status.conditions.reason="ContainerImageUnauthorized""#
    ));
    assert!(m(
        r#"resource.type="cloud_run_revision" logName:"cloudaudit.googleapis.com%2Fsystem_event" "dry run""#
    ));
    assert!(m(
        r#"protoPayload.@type="type.googleapis.com/google.cloud.audit.AuditLog" "run.googleapis.com/binary-authorization-breakglass""#
    ));
    assert!(!m(r#"resource.type="k8s_cluster" "dry run""#));
}

#[test]
fn operators_and_precedence() {
    assert!(m("severity>=WARNING"));
    assert!(!m("severity<ERROR"));
    assert!(m("severity=error"));
    assert!(m(
        r#"labels."imagepolicywebhook.image-policy.k8s.io/dry-run"="true""#
    ));
    assert!(m("labels:*"));
    assert!(!m("httpRequest:*"));
    assert!(m(
        "protoPayload.status.code=7 AND NOT protoPayload.status.code=0"
    ));
    assert!(m("-resource.type=k8s_cluster"));
    assert!(m(
        r#"resource.type=("k8s_cluster" OR "cloud_run_revision")"#
    ));
    assert!(m(r#"resource.labels.service_name=~"^w.b$""#));
    assert!(m(r#"resource.labels.service_name!~"^x""#));
    assert!(m(
        r#"timestamp>="2026-11-30T09:00:00Z" timestamp<"2026-11-30T11:00:00+00:00""#
    ));
    assert!(!m(r#"timestamp>"2026-11-30T10:00:00Z""#));
    assert!(m("nosuchfield!=3"));
    // OR binds tighter than AND: ("ERROR" OR "nomatch") AND "nomatch2" is false (it would
    // be true the SQL way round).
    assert!(!m(r#""ERROR" OR "nomatch" AND "nomatch2""#));
    assert!(m(
        r#""nomatch" OR NOT "nomatch2" AND "nomatch3" OR "ERROR""#
    ));
    assert!(!m(r#"("nomatch" OR NOT "ERROR") AND "ERROR""#));
}

#[test]
fn timestamp_bounds_come_from_the_top_level_conjunction() {
    let q = parse(
        r#"resource.type="x" timestamp>="2026-11-30T00:00:00Z" timestamp<="2026-12-01T00:00:00Z""#,
    )
    .unwrap();
    let (a, b) = q.timestamp_bounds();
    assert_eq!(a, crate::time::parse_rfc3339("2026-11-30T00:00:00Z"));
    assert_eq!(b, crate::time::parse_rfc3339("2026-12-01T00:00:00Z"));
    let q = parse(r#"timestamp>="2026-11-30T00:00:00Z" OR resource.type="x""#).unwrap();
    assert_eq!(q.timestamp_bounds(), (None, None));
}

#[test]
fn bad_filters_are_refused_with_the_offset() {
    for (f, needle) in [
        ("a = ", "expected a value"),
        ("(a = b", "not closed"),
        ("a = b)", "unbalanced"),
        (r#"a = "b"#, "unterminated"),
        ("a =~ \"(\"", "regular expression"),
        (&"(".repeat(100), "nested deeper"),
        (&"NOT ".repeat(100), "nested deeper"),
        (&"a=b ".repeat(300), "more than 256"),
        (&"x".repeat(MAX_LENGTH + 1), "at most"),
    ] {
        let e = parse(f).unwrap_err().to_string();
        assert!(e.contains(needle), "{f}: {e}");
    }
}
