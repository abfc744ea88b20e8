//! Issue 18, part 3, through real `admit serve` processes, the webhook and the `admit` CLI:
//! every decision is durable in the hash-chained, signed on-disk log before it is answered,
//! reaches the store (where it is listed) idempotently, also after a crash and rows lost from
//! the database; `admit audit verify` passes an intact log and names an edited record; and
//! retention keeps the log within its bound, saying in /metrics how close it is.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, stderr};

fn review(name: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("u-{name}"), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE", "namespace": "prod", "name": name,
        "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                   "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
}

fn allow_all(s: &Server) {
    s.curl(
        "PUT",
        "/v1/projects/my-proj/policy",
        Some(r#"{"globalPolicyEvaluationMode":"DISABLE","defaultAdmissionRule":{"evaluationMode":"ALWAYS_ALLOW","enforcementMode":"ENFORCED_BLOCK_AND_AUDIT_LOG"}}"#),
    );
}

/// The names of the ALLOWED pods the store lists.
fn listed(s: &Server) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = s.curl(
            "GET",
            &format!("/admit/v1/projects/my-proj/auditRecords?filter=verdict%3DALLOWED&pageSize=1000&pageToken={token}"),
            None,
        );
        for r in page["auditRecords"].as_array().cloned().unwrap_or_default() {
            names.push(r["name"].as_str().unwrap().to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => return names,
        }
    }
}

fn verify(data: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .args(extra)
        // The servers' master key (tests/support): the log's signing key derives from it.
        .env(
            "ADMIT_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .output()
        .unwrap()
}

fn metric(s: &Server, name: &str) -> f64 {
    s.curl_text("/metrics")
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(-1.0)
}

fn segments(data: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(data.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl"))
        .collect();
    v.sort();
    v
}

#[test]
fn decisions_are_durable_listed_verified_and_recovered_after_a_crash() {
    let mut s = Server::start_webhook(&[]);
    allow_all(&s);
    for i in 0..20 {
        let r = s.review(&review(&format!("pod-{i}")));
        assert_eq!(r["response"]["allowed"], true);
    }
    // Listed at once: a list waits for what was recorded before it to reach the store.
    let mut names = listed(&s);
    names.sort();
    assert_eq!(names.len(), 20, "{names:?}");
    assert!(metric(&s, "admit_audit_log_bytes") > 0.0);
    assert_eq!(
        metric(&s, "admit_audit_log_max_bytes"),
        f64::from(1u32 << 30)
    );

    // A crash after the newest records were durable in the log but before they reached the
    // store (their rows removed here), and two rows removed from the middle of the copy:
    // ingestion restores exactly those, once each.
    s.signal("KILL");
    let _ = s.wait_exit(Duration::from_secs(5));
    let db = Command::new("sqlite3")
        .arg(s.data.path().join("admit.db"))
        .arg("DELETE FROM audit_records WHERE log_seq > (SELECT MAX(log_seq) - 3 FROM audit_records) OR log_seq IN (5, 9);")
        .output()
        .unwrap();
    assert!(db.status.success(), "{}", stderr(&db));
    s.kill_and_restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = listed(&s);
        again.sort();
        if again == names {
            break;
        }
        assert!(Instant::now() < deadline, "not restored: {again:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = s.review(&review("pod-after"));
    assert_eq!(r["response"]["allowed"], true);
    assert_eq!(listed(&s).len(), 21, "no record stored twice");

    // Offline verification, with the server's key (from the master key) or its public key.
    s.signal("KILL");
    let _ = s.wait_exit(Duration::from_secs(5));
    let ok = verify(s.data.path(), &[]);
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert_eq!(ok.status.code(), Some(0), "{out}{}", stderr(&ok));
    // 21 reviews and the policy change (an ADMIN_CHANGE record).
    assert!(out.contains("intact: 22 records (1 to 22)"), "{out}");
    // Another key (a valid Ed25519 key that did not sign this log): not intact.
    let other = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let wrong = verify(s.data.path(), &["--public-key", other]);
    assert_ne!(wrong.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&wrong.stdout).contains("signature does not verify"),
        "{}{}",
        String::from_utf8_lossy(&wrong.stdout),
        stderr(&wrong)
    );

    assert!(
        out.contains("the database's copy reaches record 22"),
        "{out}"
    );

    // The newest group commit removed together with its signed head: the chain alone would
    // pass a shorter log, but the database holds copies up to record 22. Exit 2.
    let newest = segments(s.data.path()).pop().unwrap();
    let whole = std::fs::read_to_string(&newest).unwrap();
    let heads: Vec<usize> = whole
        .match_indices("{\"head\":")
        .map(|(at, _)| at)
        .collect();
    assert!(heads.len() >= 2, "{whole}");
    let cut = heads[heads.len() - 2];
    let keep = cut + whole[cut..].find('\n').unwrap() + 1;
    std::fs::write(&newest, &whole[..keep]).unwrap();
    let truncated = verify(s.data.path(), &[]);
    let out = String::from_utf8_lossy(&truncated.stdout).to_string();
    assert_eq!(
        truncated.status.code(),
        Some(2),
        "{out}{}",
        stderr(&truncated)
    );
    assert!(
        out.contains("NOT intact")
            && out.contains("it ends at record 21, but the database holds copies of its records up to 22: the newest records were removed"),
        "{out}"
    );
    std::fs::write(&newest, &whole).unwrap();
    assert_eq!(verify(s.data.path(), &[]).status.code(), Some(0));

    // An edited decision is named: exit 2.
    let seg = segments(s.data.path()).remove(0);
    let text = std::fs::read_to_string(&seg).unwrap();
    let edited = text.replacen("\"pod-5\"", "\"pod-x\"", 1);
    assert_ne!(text, edited);
    std::fs::write(&seg, edited).unwrap();
    let bad = verify(s.data.path(), &[]);
    let out = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(2), "{out}{}", stderr(&bad));
    assert!(
        out.contains("NOT intact") && out.contains("edited"),
        "{out}"
    );
}

#[test]
fn retention_keeps_the_log_within_its_bound_and_verifiable() {
    let s = Server::start_webhook(&[
        "--audit-log-segment-bytes",
        "4096",
        "--audit-log-max-bytes",
        "16384",
        "--audit-log-retention-seconds",
        "1",
    ]);
    allow_all(&s);
    for i in 0..60 {
        s.review(&review(&format!("pod-{i}")));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&s, "admit_audit_log_bytes") > 16384.0 {
        assert!(
            Instant::now() < deadline,
            "the log never shrank: {}",
            metric(&s, "admit_audit_log_bytes")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(metric(&s, "admit_audit_log_max_bytes"), 16384.0);
    assert!(metric(&s, "admit_audit_log_segments") >= 1.0);
    assert!(s.data.path().join("audit/checkpoint.json").exists());
    // Every record reached the store before its segment went.
    assert_eq!(listed(&s).len(), 60);
    let ok = verify(s.data.path(), &[]);
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert_eq!(ok.status.code(), Some(0), "{out}{}", stderr(&ok));
    assert!(
        !out.contains("records (1 to"),
        "old records were dropped: {out}"
    );
}
