//! Cloud Logging filters from `entries.list` (`gcloud logging read`): the parse, the timestamp
//! bounds and the match against a representative entry; never a panic, a deep stack or a
//! runaway regular expression.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = admit_model::logging_query::parse(text) else {
        return;
    };
    let _ = q.timestamp_bounds();
    let entry = serde_json::json!({
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "prod"}},
        "severity": "NOTICE", "timestamp": "2026-11-30T10:00:00.000000000Z",
        "labels": {"imagepolicywebhook.image-policy.k8s.io/dry-run": "true"},
        "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "response": {"code": 403, "reason": "VIOLATES_POLICY", "status": {"conditions": [{"reason": "ContainerImageUnauthorized"}]}},
            "metadata": {"images": [{"image": "a"}, {"image": "b"}], "dryRun": true}}
    });
    let _ = q.matches(&entry);
});
