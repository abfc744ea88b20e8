//! The `deploy/` manifests say what the issue requires: 2+ replicas with probes, a Service, and
//! a ValidatingWebhookConfiguration that fails closed, covers every enforced kind (including
//! `pods/ephemeralcontainers`) and excludes only the webhook's own namespace.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

use serde_json::Value;

fn docs(file: &str) -> Vec<Value> {
    let path = format!("{}/../../deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn deployment_has_replicas_probes_and_the_webhook_flags() {
    let d = docs("deployment.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    assert!(d["spec"]["replicas"].as_u64().unwrap() >= 2);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    // Probes go to the plain health port: the webhook port demands a client certificate.
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "health");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "health");
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for flag in [
        "serve",
        "--webhook-listen=0.0.0.0:8443",
        "--tls-cert=/etc/admit/tls/tls.crt",
        "--tls-key=/etc/admit/tls/tls.key",
        "--webhook-client-ca=/etc/admit/client-ca/ca.crt",
        "--health-listen=0.0.0.0:8081",
        // Breakglass requires a justification in the shipped install.
        "--breakglass-justification-annotation=admit.dev/breakglass-justification",
    ] {
        assert!(args.contains(&flag), "{flag} in {args:?}");
    }
    let svc = docs("service.yaml").remove(0);
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "webhook");
}

#[test]
fn webhook_configuration_fails_closed_and_covers_every_kind() {
    let w = docs("webhook.yaml").remove(0);
    assert_eq!(w["kind"], "ValidatingWebhookConfiguration");
    let hook = &w["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert!(hook["timeoutSeconds"].as_u64().unwrap() <= 30);
    assert_eq!(hook["clientConfig"]["service"]["path"], "/validate");
    let excluded = &hook["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(excluded["operator"], "NotIn");
    assert_eq!(excluded["values"], serde_json::json!(["admit-system"]));
    let mut covered = Vec::new();
    for r in hook["rules"].as_array().unwrap() {
        let ops: Vec<&str> = r["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(ops, ["CREATE", "UPDATE"]);
        for g in r["apiGroups"].as_array().unwrap() {
            for res in r["resources"].as_array().unwrap() {
                covered.push(format!("{}/{}", g.as_str().unwrap(), res.as_str().unwrap()));
            }
        }
    }
    for want in [
        "/pods",
        "/pods/ephemeralcontainers",
        "/replicationcontrollers",
        "apps/deployments",
        "apps/replicasets",
        "apps/statefulsets",
        "apps/daemonsets",
        "batch/jobs",
        "batch/cronjobs",
        "serving.knative.dev/services",
    ] {
        assert!(
            covered.iter().any(|c| c == want),
            "{want} not in {covered:?}"
        );
    }
}
