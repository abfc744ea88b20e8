//! The `deploy/` kustomize layout says what the issues require: the HA overlay (postgres) runs
//! 2+ webhook replicas with probes, a PDB and exactly one continuous-validation monitor; the
//! sqlite overlay one StatefulSet replica on a persistent volume, with continuous validation;
//! both breakglass with a justification, watch Kritis' CRDs and run non-root on a read-only
//! root; the components add the API server's client CA and a token-guarded API; and the
//! ValidatingWebhookConfiguration fails closed, covers every enforced kind (including
//! `pods/ephemeralcontainers`) and excludes only the webhook's own namespace. (The overlays
//! against a real API server: `getting_started.rs`.)

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn docs(file: &str) -> Vec<Value> {
    let path = deploy().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `kubectl kustomize DIR` (kubectl's built-in kustomize).
fn build(dir: &Path) -> Vec<Value> {
    let out = std::process::Command::new("kubectl")
        .args(["kustomize"])
        .arg(dir)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_multiple::<Value>(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn args(workload: &Value) -> Vec<String> {
    workload["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// What every webhook replica has, whichever overlay.
fn webhook_replica(w: &Value) {
    let pod = &w["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    // Probes go to the plain health port: the webhook port may demand a client certificate.
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "health");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "health");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    let a = args(w);
    for flag in [
        "serve",
        // The management API stays inside the pod unless the api-tokens component is used.
        "--listen=127.0.0.1:8080",
        "--webhook-listen=0.0.0.0:8443",
        "--tls-cert=/etc/admit/tls/tls.crt",
        "--tls-key=/etc/admit/tls/tls.key",
        "--health-listen=0.0.0.0:8081",
        // Breakglass requires a justification in the shipped install.
        "--breakglass-justification-annotation=admit.dev/breakglass-justification",
        "--watch-kubernetes",
    ] {
        assert!(a.iter().any(|x| x == flag), "{flag} in {a:?}");
    }
    let env: Vec<&str> = c["envFrom"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["configMapRef"]["name"].as_str())
        .collect();
    assert_eq!(env, ["admit-config"]);
}

#[test]
fn the_postgres_overlay_runs_replicas_and_one_monitor() {
    let d = build(&deploy().join("overlays/postgres"));
    let w = find(&d, "Deployment", "admit");
    assert!(w["spec"]["replicas"].as_u64().unwrap() >= 2);
    webhook_replica(w);
    assert!(!args(w).iter().any(|a| a == "--continuous-validation"));
    let db = &w["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(db.to_string().contains("ADMIT_DATABASE_URL"), "{db}");
    let m = find(&d, "Deployment", "admit-monitor");
    assert_eq!(m["spec"]["replicas"], 1);
    assert!(args(m).iter().any(|a| a == "--continuous-validation"));
    assert!(!args(m).iter().any(|a| a.starts_with("--webhook-listen")));
    let pdb = find(&d, "PodDisruptionBudget", "admit");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    // The Service reaches the webhook replicas only, not the monitor.
    let svc = find(&d, "Service", "admit-webhook");
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/component"],
        "webhook"
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "webhook");
}

#[test]
fn the_sqlite_overlay_is_one_stateful_replica() {
    let d = build(&deploy().join("overlays/sqlite"));
    let s = find(&d, "StatefulSet", "admit");
    assert_eq!(s["spec"]["replicas"], 1);
    webhook_replica(s);
    assert!(args(s).iter().any(|a| a == "--continuous-validation"));
    assert!(args(s).iter().any(|a| a == "--data-dir=/var/lib/admit"));
    assert_eq!(
        s["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    let mounts = s["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].to_string();
    assert!(mounts.contains("/var/lib/admit"), "{mounts}");
    // What admit may do in the cluster, and nothing else.
    let role = find(&d, "ClusterRole", "admit-webhook");
    let rules = role["rules"].to_string();
    for want in ["attestationauthorities", "secrets", "pods", "events"] {
        assert!(rules.contains(want), "{want} in {rules}");
    }
    assert!(!rules.contains("\"*\""), "no wildcard: {rules}");
}

#[test]
fn components_add_the_client_ca_and_a_token_guarded_api() {
    let dir = tempfile::tempdir().unwrap();
    let rel = |p: &str| support::relative_to(dir.path(), &deploy().join(p));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "resources: [{}]\ncomponents: [{}, {}]\n",
            rel("overlays/sqlite").display(),
            rel("components/apiserver-client-ca").display(),
            rel("components/api-tokens").display()
        ),
    )
    .unwrap();
    let d = build(dir.path());
    let a = args(find(&d, "StatefulSet", "admit"));
    assert!(
        a.iter()
            .any(|x| x == "--webhook-client-ca=/etc/admit/client-ca/ca.crt"),
        "{a:?}"
    );
    assert!(a.iter().any(|x| x == "--listen=0.0.0.0:8080"), "{a:?}");
    assert!(
        a.iter()
            .any(|x| x == "--token-file=/etc/admit/api-tokens/tokens"),
        "{a:?}"
    );
    assert!(!a.iter().any(|x| x == "--listen=127.0.0.1:8080"), "{a:?}");
    find(&d, "Service", "admit-api");
}

#[test]
fn the_resolve_tags_component_adds_the_mutating_webhook_and_registry_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let rel = |p: &str| support::relative_to(dir.path(), &deploy().join(p));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "resources: [{}]\ncomponents: [{}]\n",
            rel("overlays/sqlite").display(),
            rel("components/resolve-tags").display()
        ),
    )
    .unwrap();
    let d = build(dir.path());
    let sts = find(&d, "StatefulSet", "admit");
    assert!(
        args(sts)
            .iter()
            .any(|x| x == "--docker-config=/etc/admit/docker"),
        "{:?}",
        args(sts)
    );
    let volume = sts["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "registry-credentials")
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], "admit-registry-credentials");
    assert_eq!(volume["secret"]["optional"], true);
    assert_eq!(volume["secret"]["items"][0]["path"], "config.json");
    let m = find(&d, "MutatingWebhookConfiguration", "admit-resolve-tags");
    let hook = &m["webhooks"][0];
    assert_eq!(hook["clientConfig"]["service"]["path"], "/mutate");
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["rules"][0]["resources"], serde_json::json!(["pods"]));
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"][0]["values"],
        serde_json::json!(["admit-system"])
    );
}

#[test]
fn webhook_configuration_fails_closed_and_covers_every_kind() {
    let w = docs("base/webhook.yaml").remove(0);
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
