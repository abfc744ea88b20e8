//! Issue 20, part 4: long CLI work shows progress. `admit vulns import` of a large Trivy report
//! (1,200 findings) reports its notes and occurrences on stderr as it goes, and finishes at
//! 100%; a small import stays quiet.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use serde_json::json;
use support::{Server, digest};

fn import(s: &Server, findings: usize) -> (String, String) {
    let vulns: Vec<_> = (0..findings)
        .map(|i| {
            json!({"VulnerabilityID": format!("CVE-2099-{i:05}"), "PkgName": "libc6",
                        "InstalledVersion": "2.23", "Severity": "LOW", "Status": "affected"})
        })
        .collect();
    let report = json!({"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "container_image",
        "Results": [{"Target": "x (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vulns}]});
    let file = s.write(&format!("trivy-{findings}.json"), &report.to_string());
    let image = format!(
        "us-docker.pkg.dev/my-proj/prod/big@{}",
        digest(&findings.to_string())
    );
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["vulns", "import", "--format", "trivy"])
        .arg(&file)
        .args(["--image", &image])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", "my-proj")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), err)
}

#[test]
fn bulk_imports_report_progress_and_small_ones_stay_quiet() {
    let s = Server::start();
    let (out, err) = import(&s, 1200);
    assert!(out.contains("imported 1200 vulnerabilities"), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.contains(&"vulns import: notes: 1200/1200 (100%)"),
        "{err}"
    );
    assert!(
        lines.contains(&"vulns import: occurrences: 500/1200 (41%)"),
        "{err}"
    );
    assert!(
        lines.contains(&"vulns import: occurrences: 1000/1200 (83%)"),
        "{err}"
    );
    assert_eq!(
        lines.last(),
        Some(&"vulns import: occurrences: 1200/1200 (100%)"),
        "{err}"
    );
    // At most a line per tenth of the way (or per second) for each phase: not one per item.
    assert!(lines.len() < 40, "{err}");
    let (_, quiet) = import(&s, 5);
    assert!(quiet.trim().is_empty(), "{quiet}");
}
