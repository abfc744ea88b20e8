//! Issue 20, part 3: the web console in a real browser. Debian's Chromium, driven by
//! playwright-core (from the npm registry, pinned, installed by the test under target/), visits
//! `admit serve`'s `/console` with access control on and a real kube-apiserver (tools/kapi) for
//! continuous validation: an unauthenticated visitor is refused, a wrong token too; signed in,
//! the overview's charts count the decisions made here, the decisions timeline filters by
//! verdict, namespace and image, a denial's "why" names the attestor and the failure, and the
//! violations, attestors, image, policy and simulator pages show what the API holds.
//! Screenshots of every page are written and checked to be real PNGs; what the pages say is
//! checked through the DOM.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::kapi::Kapi;
use support::{Server, digest, path_str};

const P: &str = "my-proj";
const TOKEN: &str = "console-owner-token";
const PLAYWRIGHT: &str = "playwright-core@1.65.1";
const REPO: &str = "us-docker.pkg.dev/my-proj/prod";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// playwright-core, pinned, under target/ (installed from the npm registry on first use).
fn playwright() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-e2e");
    let marker = dir.join("pin.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(PLAYWRIGHT) {
        return dir;
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{"private": true, "type": "module"}"#,
    )
    .unwrap();
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", PLAYWRIGHT])
        .current_dir(&dir)
        .output()
        .expect("npm (apt-get install -y nodejs npm; .ci/run does)");
    assert!(
        out.status.success(),
        "npm install {PLAYWRIGHT}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&marker, PLAYWRIGHT).unwrap();
    dir
}

fn call(s: &Server, method: &str, path: &str, body: &Value) -> Value {
    let (code, v) = s.call_as(Some(TOKEN), method, path, Some(&body.to_string()));
    assert!((200..300).contains(&code), "{method} {path}: {code} {v}");
    v
}

fn review(ns: &str, name: &str, image: &str, breakglass: bool) -> Value {
    let mut meta = json!({"name": name, "namespace": ns});
    if breakglass {
        meta["annotations"] = json!({"alpha.image-policy.k8s.io/break-glass": "true"});
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("uid-{ns}-{name}"), "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": ns, "name": name, "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                   "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 10_000)
}

#[test]
fn the_console_in_a_real_browser() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "Debian's chromium is missing: apt-get install -y chromium (.ci/run does)"
    );
    let modules = playwright();
    let k = Kapi::start("");
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN} user:owner@example.com\n")).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let s = Server::start_webhook(&[
        "--token-file",
        path_str(&tokens),
        "--owner",
        "user:owner@example.com",
        "--kubeconfig",
        path_str(&k.kubeconfig),
        "--continuous-validation",
        "--cv-interval-seconds",
        "3600",
    ]);

    // An attestor, a policy requiring it, one attested image and a scan of it.
    call(
        &s,
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=ci"),
        &json!({"attestation": {"hint": {"humanReadableName": "ci"}}}),
    );
    let key = OpensslKey::generate("p256");
    let key_id = admit_crypto::pkix_key_id(&key.public_der());
    call(
        &s,
        "POST",
        &format!("/v1/projects/{P}/attestors?attestorId=built-by-ci"),
        &json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{P}/notes/ci"),
            "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}}),
    );
    call(
        &s,
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        &json!({"defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
            "requireAttestationsBy": [format!("projects/{P}/attestors/built-by-ci")]}}),
    );
    let web = format!("{REPO}/web@{}", digest("web"));
    let api = format!("{REPO}/api@{}", digest("api"));
    let payload = admit_crypto::create_signature_payload(&web).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    call(
        &s,
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        &json!({"resourceUri": web, "noteName": format!("projects/{P}/notes/ci"),
            "attestation": {"serializedPayload": b64(payload.as_bytes()),
                "signatures": [{"publicKeyId": key_id, "signature": b64(&sig)}]}}),
    );
    let report = json!({"SchemaVersion": 2, "ArtifactName": "web", "ArtifactType": "container_image",
        "Results": [{"Target": "web (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.1", "FixedVersion": "3.0.2", "Status": "fixed", "Severity": "HIGH"},
            {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "InstalledVersion": "1.2", "Severity": "LOW", "Status": "affected"}]}]});
    let report_file = dir.path().join("scan.json");
    std::fs::write(&report_file, report.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "vulns",
            "import",
            "--format",
            "trivy",
            path_str(&report_file),
            "--image",
            &web,
        ])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .env("ADMIT_TOKEN_FILE", &token_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Decisions: allowed, denied twice, breakglassed.
    for (ns, name, image, glass, allowed) in [
        ("prod", "web", &web, false, true),
        ("prod", "api", &api, false, false),
        ("dev", "tool", &api, false, false),
        ("prod", "hotfix", &api, true, true),
    ] {
        let r = s.review(&review(ns, name, image, glass));
        assert_eq!(r["response"]["allowed"], allowed, "{r}");
    }
    // A running pod continuous validation finds in violation.
    let out = k.kubectl(&["run", "api", "--image", &api, "--restart=Never"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    loop {
        let (_, v) = s.call_as(
            Some(TOKEN),
            "GET",
            &format!("/admit/v1/projects/{P}/auditRecords?filter=verdict%3DCV_VIOLATION"),
            None,
        );
        if v.to_string().contains("CV_VIOLATION") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no CV violation: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The browser.
    let shots = dir.path().join("shots");
    std::fs::create_dir(&shots).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/console/drive.mjs");
    std::fs::copy(&script, modules.join("drive.mjs")).unwrap();
    let out = Command::new("node")
        .arg(modules.join("drive.mjs"))
        .env("ADMIT_URL", &s.url)
        .env("ADMIT_PROJECT", P)
        .env("ADMIT_TOKEN", TOKEN)
        .env("SHOTS", &shots)
        .env("CHROMIUM", chromium)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "drive.mjs: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let strs = |k: &str| -> Vec<String> {
        r[k].as_array()
            .unwrap_or_else(|| panic!("{k}: {r}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };

    // Refused without a token, with a wrong one, and after signing out.
    assert_eq!(r["refusedStatus"], 401, "{r}");
    assert_eq!(r["loginForms"], 1);
    assert_eq!(r["refusedTableRows"], 0, "nothing of the log leaks");
    assert!(
        r["wrongTokenText"].as_str().unwrap().contains("Sign in"),
        "{r}"
    );
    assert_eq!(r["afterLogoutStatus"], 401);
    // Signed in: the overview counts what happened here, and its chart agrees.
    assert_eq!(r["afterLogin"], "/console");
    assert!(
        r["who"]
            .as_str()
            .unwrap()
            .contains("user:owner@example.com"),
        "{r}"
    );
    assert_eq!(r["totals"]["ALLOWED"], 1, "{r}");
    assert_eq!(r["totals"]["DENIED"], 2, "{r}");
    assert_eq!(r["totals"]["BREAKGLASS"], 1, "{r}");
    let mut charted = std::collections::BTreeMap::new();
    for b in r["overTime"].as_array().unwrap() {
        assert!(b["height"].as_f64().unwrap() > 0.0, "{b}");
        *charted
            .entry(b["series"].as_str().unwrap().to_owned())
            .or_insert(0) += b["count"].as_u64().unwrap();
    }
    assert_eq!(charted.get("DENIED"), Some(&2), "{r}");
    assert_eq!(charted.get("ALLOWED"), Some(&1), "{r}");
    assert_eq!(
        r["byNamespace"],
        json!([{"label": "default", "count": 1}]),
        "{r}"
    );
    // The timeline and its filters.
    let mut all = strs("allVerdicts");
    all.sort();
    assert_eq!(all, ["ALLOWED", "BREAKGLASS", "DENIED", "DENIED"], "{r}");
    assert_eq!(strs("deniedVerdicts"), ["DENIED", "DENIED"], "{r}");
    assert!(
        r["deniedQuery"]
            .as_str()
            .unwrap()
            .contains("verdict=DENIED")
    );
    assert_eq!(strs("devRows"), ["dev"], "{r}");
    let image_rows = strs("imageRows");
    assert_eq!(image_rows.len(), 2, "denied api in prod and dev: {r}");
    // The "why": the rule and the exact failure.
    assert!(r["whySummary"].as_str().unwrap().contains("DENIED"), "{r}");
    let failures = strs("whyFailures").join("\n");
    assert!(
        failures.contains(&format!(
            "no attestation by projects/{P}/attestors/built-by-ci"
        )),
        "{failures}"
    );
    assert!(strs("whyRule")[0].contains("REQUIRE_ATTESTATION"), "{r}");
    // And of an admission: the attestor, the occurrence and the key that satisfied it.
    let satisfied = strs("whySatisfied");
    assert_eq!(satisfied.len(), 1, "{r}");
    assert!(
        satisfied[0].contains(&format!(
            "projects/{P}/attestors/built-by-ci satisfied by projects/{P}/occurrences/"
        )) && satisfied[0].contains(&key_id),
        "{satisfied:?}"
    );
    // Violations and breakglass uses.
    assert_eq!(strs("violating"), ["api"], "{r}");
    assert!(strs("violationWhy")[0].contains("no attestation by"), "{r}");
    assert_eq!(strs("breakglass"), ["Pod/hotfix"], "{r}");
    assert_eq!(
        r["violationBars"],
        json!([{"label": "default", "count": 1}])
    );
    // Attestors with their keys and attestations.
    assert_eq!(
        strs("attestors"),
        [format!("projects/{P}/attestors/built-by-ci")]
    );
    assert_eq!(strs("keys"), [key_id]);
    assert_eq!(strs("attestations"), std::slice::from_ref(&web));
    // The image's vulnerabilities.
    assert!(strs("scanned").iter().any(|s| s == &web), "{r}");
    let mut cves = strs("cves");
    cves.sort();
    assert_eq!(cves, ["CVE-2024-0001", "CVE-2024-0002"], "{r}");
    let high = r["severityBars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == "HIGH")
        .unwrap();
    assert_eq!(high["count"], 1);
    // The policy, its history, and the simulator's diff.
    assert!(
        r["policy"]
            .as_str()
            .unwrap()
            .contains("REQUIRE_ATTESTATION"),
        "{r}"
    );
    assert!(
        strs("history")
            .iter()
            .any(|h| h == "binaryauthorization.policy.update"),
        "{r}"
    );
    assert!(
        r["simulateDefault"]
            .as_str()
            .unwrap()
            .contains("REQUIRE_ATTESTATION")
    );
    assert_eq!(strs("newlyAllowedRunning"), ["Pod/api"], "{r}");
    let mut admitted = strs("newlyAllowedAdmissions");
    admitted.sort();
    // The breakglassed admission counts too: the policy itself denied it.
    assert_eq!(
        admitted,
        ["Pod/api ×1", "Pod/hotfix ×1", "Pod/tool ×1"],
        "{r}"
    );
    assert!(
        r["simulateError"]
            .as_str()
            .unwrap()
            .contains("the proposed policy"),
        "{r}"
    );
    // Screenshots of every page, real PNGs.
    for name in [
        "refused",
        "overview",
        "decisions-denied",
        "why",
        "why-allowed",
        "violations",
        "attestors",
        "image",
        "policy",
        "simulate",
    ] {
        let f = shots.join(format!("{name}.png"));
        assert!(is_png(&f), "{} is not a screenshot", f.display());
    }
}
