//! Issue 19, part 2: exceptions that expire, through the files users write. An exempt-image
//! pattern in a policy imported with `admit policy import`; `allowlistCVEs` entries of a Kritis
//! ImageSecurityPolicy (`--kritis-policy-dir`) and of the signer's VulnzSigningPolicy; an
//! `allowedCves` entry of a platform policy. Once expired they no longer exempt, and the
//! denial says which exception expired and why it had been granted.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{Server, digest};

const P: &str = "my-proj";

fn admit(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(args)
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .env_remove("ATTESTATION_POLICY_PATH")
        .env_remove("ATTESTATION_NOTE_NAME")
        .current_dir(s.data.path())
        .output()
        .unwrap()
}

fn pod(namespace: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": namespace, "name": "app", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
                   "spec": {"containers": [{"name": "app", "image": image}]}}}})
}

fn verdict(s: &Server, namespace: &str, image: &str) -> (bool, String) {
    let r = s.review(&pod(namespace, image));
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn scans() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/scans"))
}

fn import_scan(s: &Server, image: &str) {
    let out = admit(
        s,
        &[
            "vulns",
            "import",
            "--format",
            "trivy",
            scans().join("trivy-web.json").to_str().unwrap(),
            "--image",
            image,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exempt_patterns_expire_and_the_denial_says_so() {
    let s = Server::start_webhook(&[]);
    let policy = s.write(
        "policy.yaml",
        "defaultAdmissionRule:
  evaluationMode: ALWAYS_DENY
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
admissionWhitelistPatterns:
- namePattern: gcr.io/legacy/*
  admitExpireTime: \"2020-06-30T00:00:00Z\"
  admitReason: migration off the legacy registry, INC-1
- namePattern: gcr.io/tools/*
  admitExpireTime: \"2100-01-01T00:00:00Z\"
  admitReason: build tools until the 2100 rewrite
- namePattern: gcr.io/forever/*
",
    );
    let out = admit(&s, &["policy", "import", policy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, msg) = verdict(&s, "prod", "gcr.io/legacy/app:1");
    assert!(!ok);
    assert!(
        msg.contains(
            "the exemption `gcr.io/legacy/*` expired at 2020-06-30T00:00:00Z (it was for: migration off the legacy registry, INC-1)"
        ),
        "{msg}"
    );
    assert!(verdict(&s, "prod", "gcr.io/tools/make:1").0);
    assert!(verdict(&s, "prod", "gcr.io/forever/x:1").0);
    // Exported as imported, extensions included.
    let out = admit(&s, &["policy", "export", "--format", "json"]);
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        exported["admissionWhitelistPatterns"][0]["admitReason"],
        "migration off the legacy registry, INC-1"
    );
    // A time that is not one is refused naming the field, and the policy stays as it was.
    let bad = s.write(
        "bad.yaml",
        "defaultAdmissionRule:
  evaluationMode: ALWAYS_ALLOW
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
admissionWhitelistPatterns:
- namePattern: gcr.io/x/*
  admitExpireTime: next week
",
    );
    let out = admit(&s, &["policy", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("admissionWhitelistPatterns[0].admitExpireTime"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!verdict(&s, "prod", "gcr.io/legacy/app:1").0);
}

#[test]
fn cve_allowlist_entries_expire_for_kritis_the_signer_and_platform_policies() {
    let image = format!("us-docker.pkg.dev/{P}/prod/web@{}", digest("web v1"));
    // Kritis: CVE-2024-24790 (CRITICAL, fixable) and CVE-2024-45338 (CRITICAL, unfixable) are
    // allowlisted; everything else in the report is within HIGH. The first entry has expired.
    let isp = |expiry: &str| {
        format!(
            "apiVersion: kritis.grafeas.io/v1beta1
kind: ImageSecurityPolicy
metadata:
  name: isp
  namespace: prod
spec:
  packageVulnerabilityRequirements:
    maximumSeverity: HIGH
    allowlistCVEs:
    - providers/goog-vulnz/notes/CVE-2024-24790
    - CVE-2024-45338
    admitAllowlistExpiry:
      providers/goog-vulnz/notes/CVE-2024-24790:
        expireTime: \"{expiry}\"
        reason: vendor fix pending, SEC-77
"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("isp.yaml"), isp("2020-01-01T00:00:00Z")).unwrap();
    let s = Server::start_webhook(&["--kritis-policy-dir", dir.path().to_str().unwrap()]);
    import_scan(&s, &image);
    let (ok, msg) = verdict(&s, "prod", &image);
    assert!(!ok);
    assert!(
        msg.contains("CVE-2024-24790")
            && msg.contains(
                "its allowlist entry `providers/goog-vulnz/notes/CVE-2024-24790` expired at 2020-01-01T00:00:00Z (granted for: vendor fix pending, SEC-77)"
            ),
        "{msg}"
    );
    assert!(!msg.contains("CVE-2024-45338"), "{msg}");
    // Still valid: admitted.
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::write(dir2.path().join("isp.yaml"), isp("2100-01-01T00:00:00Z")).unwrap();
    let s2 = Server::start_webhook(&["--kritis-policy-dir", dir2.path().to_str().unwrap()]);
    import_scan(&s2, &image);
    let (ok, msg) = verdict(&s2, "prod", &image);
    assert!(ok, "{msg}");
    // A broken expiry stops the server at start, naming the field.
    let dir3 = tempfile::tempdir().unwrap();
    std::fs::write(dir3.path().join("isp.yaml"), isp("someday")).unwrap();
    let certs = tempfile::tempdir().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["webhook-cert", "--san", "127.0.0.1", "--out-dir"])
        .arg(certs.path())
        .output()
        .unwrap();
    assert!(made.status.success());
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-listen",
            "127.0.0.1:0",
        ])
        .args(["--project", P, "--data-dir"])
        .arg(data.path())
        .arg("--tls-cert")
        .arg(certs.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(certs.path().join("tls.key"))
        .args(["--kritis-policy-dir", dir3.path().to_str().unwrap()])
        .env(
            "ADMIT_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "spec.packageVulnerabilityRequirements.admitAllowlistExpiry.providers/goog-vulnz/notes/CVE-2024-24790.expireTime"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The signer: with the entry expired it refuses to sign, saying why.
    let vsp = |expiry: &str| {
        format!(
            "apiVersion: kritis.grafeas.io/v1beta1
kind: VulnzSigningPolicy
metadata:
  name: vsp
spec:
  imageVulnerabilityRequirements:
    maximumFixableSeverity: HIGH
    maximumUnfixableSeverity: ALLOW_ALL
    allowlistCVEs: [CVE-2024-24790]
    admitAllowlistExpiry:
      CVE-2024-24790: {{expireTime: \"{expiry}\", reason: vendor fix pending}}
"
        )
    };
    for (expiry, signs) in [
        ("2020-01-01T00:00:00Z", false),
        ("2100-01-01T00:00:00Z", true),
    ] {
        std::fs::write(s.data.path().join("vsp.yaml"), vsp(expiry)).unwrap();
        let out = admit(
            &s,
            &[
                "signer",
                "-mode",
                "check-only",
                "-image",
                &image,
                "-policy",
                "vsp.yaml",
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        if signs {
            assert_eq!(out.status.code(), Some(0), "{err}");
        } else {
            assert_ne!(out.status.code(), Some(0), "{err}");
            assert!(
                err.contains("its allowlist entry `CVE-2024-24790` expired at 2020-01-01T00:00:00Z (granted for: vendor fix pending)"),
                "{err}"
            );
        }
    }

    // A platform policy's allowedCves entry, through the REST API.
    let platform = |expiry: &str| {
        json!({"gkePolicy": {"checkSets": [{"displayName": "vulns", "checks": [{"displayName": "no criticals",
            "vulnerabilityCheck": {"maximumFixableSeverity": "HIGH", "maximumUnfixableSeverity": "HIGH",
                "allowedCves": ["CVE-2024-24790", "CVE-2024-45338"],
                "admitAllowedCveExpiry": {"CVE-2024-24790": {"expireTime": expiry, "reason": "SEC-77"}},
                "containerAnalysisVulnerabilityProjects": [format!("projects/{P}")]}}]}]}})
    };
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/platforms/gke/policies?policyId=vulns"),
        Some(&platform("2020-01-01T00:00:00Z").to_string()),
    );
    let evaluate = || {
        s.curl(
            "POST",
            &format!("/v1/projects/{P}/platforms/gke/policies/vulns:evaluate"),
            Some(&json!({"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"image": image}]}}}).to_string()),
        )
    };
    let r = evaluate();
    assert_eq!(r["verdict"], "NON_CONFORMANT", "{r}");
    assert!(
        r.to_string().contains(
            "its allowedCves entry expired at 2020-01-01T00:00:00Z (granted for: SEC-77)"
        ),
        "{r}"
    );
    s.curl(
        "PUT",
        &format!("/v1/projects/{P}/platforms/gke/policies/vulns"),
        Some(&platform("2100-01-01T00:00:00Z").to_string()),
    );
    assert_eq!(evaluate()["verdict"], "CONFORMANT");
    let (code, err) = s.call(
        "PUT",
        &format!("/v1/projects/{P}/platforms/gke/policies/vulns"),
        Some(&platform("soon").to_string()),
    );
    assert_eq!(code, 400);
    assert!(
        err.to_string()
            .contains("admitAllowedCveExpiry.CVE-2024-24790.expireTime"),
        "{err}"
    );
}
