//! Issue 14, part 2 (and issue 19's continuous-validation hooks): continuous validation against
//! a real kube-apiserver (tools/kapi; no kubelet, so pods are API objects that never run, which
//! is all this needs). Pods created with `kubectl run` are evaluated by the webhook's decision
//! path and by a bound check-based platform policy. With the schedule set to an hour, every
//! report below is caused by a change: a pod created, an attestation deleted and made again, a
//! key revoked, a platform policy created. Each is seen as a Kubernetes Event on the pod, a
//! label on it, a `ContinuousValidationEvent` read back with the real `gcloud logging read`
//! (Google's own CV query), and metrics.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::time::{Duration, Instant};

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::kapi::Kapi;
use support::{Server, digest, path_str};

const P: &str = "my-proj";
const REPO: &str = "us-docker.pkg.dev/my-proj/prod/app";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The Events recorded on `pod`: (type, reason, message), oldest first.
fn events(k: &Kapi, pod: &str) -> Vec<(String, String, String)> {
    let out = k.kubectl(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut items = v["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| {
        a["metadata"]["creationTimestamp"]
            .as_str()
            .cmp(&b["metadata"]["creationTimestamp"].as_str())
            .then(
                a["metadata"]["resourceVersion"]
                    .as_str()
                    .map(str::len)
                    .cmp(&b["metadata"]["resourceVersion"].as_str().map(str::len)),
            )
            .then(
                a["metadata"]["resourceVersion"]
                    .as_str()
                    .cmp(&b["metadata"]["resourceVersion"].as_str()),
            )
    });
    items
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("type"), s("reason"), s("message"))
        })
        .collect()
}

/// Waits until `pod` has more than `before` Events and the newest has `reason`; how long it
/// took and that Event's message.
fn next_event(k: &Kapi, pod: &str, before: usize, reason: &str) -> (Duration, String) {
    let start = Instant::now();
    loop {
        let e = events(k, pod);
        if e.len() > before
            && let Some((_, r, m)) = e.iter().skip(before).find(|(_, r, _)| r == reason)
        {
            let _ = r;
            return (start.elapsed(), m.clone());
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no {reason} Event on {pod} after 20 s: {e:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn label(k: &Kapi, pod: &str) -> Option<String> {
    let out = k.kubectl(&["get", "pod", pod, "-n", "default", "-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["metadata"]["labels"]["admit.dev/continuous-validation"]
        .as_str()
        .map(str::to_owned)
}

/// The `/metrics` exposition, as a scraper reads it.
fn metrics(s: &Server) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sS", &format!("{}/metrics", s.url)])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn attest(s: &Server, key: &OpensslKey, image: &str) -> String {
    let payload = admit_crypto::create_signature_payload(image).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    let occ = s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(
            &json!({"resourceUri": image, "noteName": format!("projects/{P}/notes/ci"),
                "attestation": {"serializedPayload": b64(payload.as_bytes()),
                "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key.public_der()), "signature": b64(&sig)}]}})
            .to_string(),
        ),
    );
    occ["name"].as_str().unwrap().to_owned()
}

#[test]
fn continuous_validation_reports_running_pods_as_trust_changes() {
    let k = Kapi::start("");
    let s = Server::start_args(&[
        "--project",
        P,
        "--cluster",
        "us-east1.prod",
        "--continuous-validation",
        "--kubeconfig",
        path_str(&k.kubeconfig),
        "--cv-interval-seconds",
        "3600",
        "--platform-policy",
        "trusted",
        "--cv-annotate-pods",
    ]);
    // The attestor `built-by-ci` (a P-256 key) and a policy requiring it.
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let key = OpensslKey::generate("p256");
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{P}/notes/ci"),
        "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors?attestorId=built-by-ci"),
        Some(&attestor.to_string()),
    );
    let policy = json!({
        "defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                                 "requireAttestationsBy": [format!("projects/{P}/attestors/built-by-ci")]},
        "admitBreakglass": {"lifetime": "1s"}});
    s.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&policy.to_string()),
    );
    let good = format!("{REPO}@{}", digest("good"));
    let bad = format!("{REPO}@{}", digest("bad"));
    let occurrence = attest(&s, &key, &good);

    // Three pods: attested, unattested, unattested but breakglassed.
    for (name, image, extra) in [
        ("good", &good, None),
        ("bad", &bad, None),
        (
            "glass",
            &bad,
            Some("--annotations=alpha.image-policy.k8s.io/break-glass=true"),
        ),
    ] {
        let mut args = vec!["run", name, "--image", image.as_str(), "--restart=Never"];
        args.extend(extra);
        let out = k.kubectl(&args);
        assert!(out.status.success(), "{}", text(&out));
    }
    // The platform policy `trusted` does not exist yet: a config error for each pod.
    let (_, msg) = next_event(&k, "good", 0, "ContinuousValidationConfigError");
    assert!(
        msg.contains("Cannot monitor cluster 'us-east1.prod'")
            && msg.contains("platforms/gke/policies/trusted"),
        "{msg}"
    );
    let (_, msg) = next_event(&k, "bad", 0, "ContinuousValidationViolation");
    assert!(
        msg.contains(&format!("violates projects/{P}/policy"))
            && msg.contains(&format!("{bad} (CONTAINER bad)")),
        "{msg}"
    );
    assert_eq!(label(&k, "bad").as_deref(), Some("violating"));
    // Breakglass admits at the door; continuous validation reports it all the same, and again
    // when the project's breakglass lifetime (1 s) is over — with no run scheduled before then.
    let (_, msg) = next_event(&k, "glass", 0, "ContinuousValidationViolation");
    assert!(msg.contains("[breakglass"), "{msg}");
    let n = events(&k, "glass").len();
    let msg = if msg.contains("breakglass in effect until") {
        next_event(&k, "glass", n, "ContinuousValidationViolation").1
    } else {
        msg // the first run came after the lifetime had already ended
    };
    assert!(msg.contains("breakglass expired at"), "{msg}");
    assert!(
        !events(&k, "good")
            .iter()
            .any(|(_, r, _)| r == "ContinuousValidationViolation"),
        "the attested pod conforms to the project policy"
    );

    // The platform policy, created: a trusted-directory check that the pods' repository fails.
    let pp = json!({"gkePolicy": {"checkSets": [{"displayName": "prod", "checks": [
        {"displayName": "only the trusted directory", "trustedDirectoryCheck": {"trustedDirPatterns": [format!("us-docker.pkg.dev/{P}/trusted/**")]}}]}]}});
    let n_good = events(&k, "good").len();
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/platforms/gke/policies?policyId=trusted"),
        Some(&pp.to_string()),
    );
    let (took, msg) = next_event(&k, "good", n_good, "ContinuousValidationViolation");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        msg.contains(&format!(
            "violates projects/{P}/platforms/gke/policies/trusted"
        )),
        "{msg}"
    );

    // The attestation deleted: the running pod no longer conforms to the project policy.
    let n_good = events(&k, "good").len();
    s.curl("DELETE", &format!("/v1/{occurrence}"), None);
    let (took, msg) = next_event(&k, "good", n_good, "ContinuousValidationViolation");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        msg.contains(&format!("violates projects/{P}/policy")),
        "{msg}"
    );

    // Attested again: conformant again, reported as such.
    let n_good = events(&k, "good").len();
    attest(&s, &key, &good);
    let (_, msg) = next_event(&k, "good", n_good, "ContinuousValidationConformant");
    assert!(
        msg.contains(&format!("conforms to projects/{P}/policy again")),
        "{msg}"
    );

    // The key revoked (admit extension on the attestor): the same pod violates again.
    let url = format!("/v1/projects/{P}/attestors/built-by-ci");
    let mut a = s.curl("GET", &url, None);
    a["admitRevokedKeys"] =
        json!([{"keyId": admit_crypto::pkix_key_id(&key.public_der()), "reason": "leaked"}]);
    let n_good = events(&k, "good").len();
    s.curl("PUT", &url, Some(&a.to_string()));
    let (took, msg) = next_event(&k, "good", n_good, "ContinuousValidationViolation");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(msg.contains("was revoked at"), "{msg}");

    // Google's own query for CV findings, with the real gcloud: the podEvents in Google's shape.
    let out = s.gcloud(&[
        "logging",
        "read",
        "--order=desc",
        "--freshness=7d",
        &format!("--project={P}"),
        "logName:\"binaryauthorization.googleapis.com%2Fcontinuous_validation\" \"policyName\"",
        "--format=json",
    ]);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let bad_event = entries
        .iter()
        .find(|e| {
            e["jsonPayload"]["podEvent"]["pod"] == "bad"
                && e["jsonPayload"]["podEvent"]["policyName"] == format!("projects/{P}/policy")
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        bad_event["logName"],
        format!("projects/{P}/logs/binaryauthorization.googleapis.com%2Fcontinuous_validation")
    );
    assert_eq!(bad_event["resource"]["type"], "k8s_cluster");
    assert_eq!(bad_event["resource"]["labels"]["cluster_name"], "prod");
    assert_eq!(bad_event["severity"], "WARNING");
    let pe = &bad_event["jsonPayload"]["podEvent"];
    assert_eq!(
        bad_event["jsonPayload"]["@type"],
        "type.googleapis.com/google.cloud.binaryauthorization.v1beta1.ContinuousValidationEvent"
    );
    assert_eq!(pe["podNamespace"], "default");
    assert_eq!(pe["verdict"], "VIOLATES_POLICY");
    assert!(pe["deployTime"].as_str().unwrap().starts_with("20"), "{pe}");
    assert_eq!(pe["images"][0]["image"], bad.as_str());
    assert_eq!(pe["images"][0]["containerType"], "CONTAINER");
    assert_eq!(pe["images"][0]["containerName"], "bad");
    assert_eq!(pe["images"][0]["result"], "DENY");
    let platform = entries
        .iter()
        .find(|e| {
            e["jsonPayload"]["podEvent"]["pod"] == "good"
                && e["jsonPayload"]["podEvent"]["policyName"]
                    == format!("projects/{P}/platforms/gke/policies/trusted")
        })
        .unwrap_or_else(|| panic!("{out}"));
    let check = &platform["jsonPayload"]["podEvent"]["images"][0]["checkResults"][0];
    assert_eq!(check["checkType"], "TrustedDirectoryCheck");
    assert_eq!(check["checkName"], "only the trusted directory");
    assert_eq!(check["checkSetName"], "prod");
    assert_eq!(check["checkSetIndex"], "0");
    assert_eq!(check["verdict"], "NON_CONFORMANT");
    let out = s.gcloud(&[
        "logging",
        "read",
        &format!("--project={P}"),
        "logName:\"binaryauthorization.googleapis.com%2Fcontinuous_validation\" \"configErrorEvent\"",
        "--format=json",
    ]);
    assert!(
        out.contains("does not exist") || out.contains("not found"),
        "{out}"
    );

    // Metrics: three violating pods in `default`, and the events counted.
    let m = metrics(&s);
    assert!(
        m.contains("admit_continuous_validation_violating_pods{namespace=\"default\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("admit_continuous_validation_events_total{event=\"conformant\"} 1"),
        "{m}"
    );

    // A deleted pod is forgotten: two violating pods remain.
    let out = k.kubectl(&["delete", "pod", "bad", "--wait=false"]);
    assert!(out.status.success(), "{}", text(&out));
    let start = Instant::now();
    loop {
        let m = metrics(&s);
        if m.contains("admit_continuous_validation_violating_pods{namespace=\"default\"} 2") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{m}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two replicas on one PostgreSQL: B watches the cluster, A takes the policy change. B's
/// continuous validation re-runs on the change it hears from the database's change feed, not
/// at its (hour-long) schedule and not only on writes made through B itself.
#[test]
fn a_policy_change_through_another_replica_is_validated_at_once() {
    let k = Kapi::start("");
    let db = support::PgDatabase::create();
    let a = Server::start_args(&["--project", P, "--database-url", &db.url]);
    let b = Server::start_args(&[
        "--project",
        P,
        "--database-url",
        &db.url,
        "--continuous-validation",
        "--kubeconfig",
        path_str(&k.kubeconfig),
        "--cv-interval-seconds",
        "3600",
    ]);
    let allow = json!({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW",
        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}});
    a.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&allow.to_string()),
    );
    let image = format!("{REPO}@{}", digest("replica"));
    let out = k.kubectl(&["run", "web", "--image", &image, "--restart=Never"]);
    assert!(out.status.success(), "{}", text(&out));
    // B has evaluated the pod (admitted: no violation reported).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !metrics(&b)
        .contains("admit_continuous_validation_violating_pods{namespace=\"default\"} 0")
    {
        assert!(Instant::now() < deadline, "B never evaluated the pod");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = events(&k, "web").len();

    let deny = json!({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_DENY",
        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}});
    let changed = Instant::now();
    a.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&deny.to_string()),
    );
    let (_, msg) = next_event(&k, "web", before, "ContinuousValidationViolation");
    let took = changed.elapsed();
    assert!(
        msg.contains(&format!("violates projects/{P}/policy")),
        "{msg}"
    );
    // The feed delivers in milliseconds, CV gathers writes for 100 ms, the Event is an API
    // call: well under the hour of its schedule.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        metrics(&b).contains("admit_continuous_validation_violating_pods{namespace=\"default\"} 1")
    );
}
