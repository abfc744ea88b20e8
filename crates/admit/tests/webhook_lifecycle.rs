//! The webhook's record of each decision and its shutdown, against a real `admit serve`: one
//! decision gives one record, the same on every sink, rendered from the final outcome; SIGTERM
//! answers every review in flight, leaves every answer recorded and exits 0.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;

const ALLOW_ALL: &str = r#"{"defaultAdmissionRule":{"evaluationMode":"ALWAYS_ALLOW","enforcementMode":"ENFORCED_BLOCK_AND_AUDIT_LOG"}}"#;

fn review(uid: &str) -> Value {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": uid, "namespace": "prod"},
                     "spec": {"containers": [{"name": "c", "image": "us-docker.pkg.dev/my-proj/prod/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"}]}});
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": uid, "namespace": "prod", "operation": "CREATE",
        "userInfo": {"username": "alice@example.com"}, "object": pod, "dryRun": false}})
}

fn sqlite3(s: &Server, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(s.data.path().join("admit.db"))
        .arg(sql)
        .output()
        .expect("sqlite3 is on PATH (apt-get install -y sqlite3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The stdout records of `uid`, once at least one has been read from the pipe (then a little
/// longer, so that a second record would be seen too).
fn printed(s: &Server, uid: &str) -> Vec<Value> {
    let read = || -> Vec<Value> {
        s.stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["uid"] == uid)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while read().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    read()
}

#[test]
fn an_allow_whose_record_cannot_be_stored_is_one_error_record_on_stdout() {
    let s = Server::start_webhook(&[]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    let ok = s.review(&review("uid-stored"));
    assert_eq!(ok["response"]["allowed"], true, "{ok}");
    let rec = printed(&s, "uid-stored");
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0]["verdict"], "ALLOWED");
    assert_eq!(
        sqlite3(
            &s,
            "SELECT count(*) FROM audit_records WHERE json_extract(body, '$.uid') = 'uid-stored'"
        ),
        "1",
        "the stored record is the printed one"
    );
    // The audit table is gone under the running server: the allow cannot be recorded, so it
    // is a denial, and the one line on stdout says so (not ALLOWED, then ERROR).
    sqlite3(&s, "DROP TABLE audit_records");
    let denied = s.review(&review("uid-lost"));
    assert_eq!(denied["response"]["allowed"], false, "{denied}");
    let msg = denied["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains("could not record the decision"), "{msg}");
    let rec = printed(&s, "uid-lost");
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0]["verdict"], "ERROR_DENIED");
    assert_eq!(rec[0]["reason"], msg);
}

#[test]
fn sigterm_answers_every_review_in_flight_records_each_and_exits_0() {
    let mut s = Server::start_webhook(&[]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    let url = s.webhook.clone().unwrap();
    let ca = s.data.path().join("ca.crt");
    let answered = std::sync::Mutex::new(Vec::new());
    let stop_at = Instant::now() + Duration::from_millis(1500);
    std::thread::scope(|sc| {
        for t in 0..6 {
            let (url, ca, answered) = (&url, &ca, &answered);
            sc.spawn(move || {
                let mut i = 0;
                // Keep reviews in flight across the signal, until the listener is gone.
                while Instant::now() < stop_at + Duration::from_secs(3) {
                    let uid = format!("uid-{t}-{i}");
                    i += 1;
                    let out = Command::new("curl")
                        .args(["-sS", "--max-time", "10", "--cacert"])
                        .arg(ca)
                        .args(["-H", "Content-Type: application/json", "--data-binary"])
                        .arg(review(&uid).to_string())
                        .arg(format!("{url}/validate?timeout=10s"))
                        .output()
                        .unwrap();
                    match serde_json::from_slice::<Value>(&out.stdout) {
                        Ok(v) if v["response"]["uid"] == uid.as_str() => {
                            assert_eq!(v["response"]["allowed"], true, "{v}");
                            answered.lock().unwrap().push(uid);
                        }
                        // Refused or reset once the server stops accepting: not answered.
                        _ => {
                            if Instant::now() > stop_at {
                                break;
                            }
                        }
                    }
                }
            });
        }
        while Instant::now() < stop_at {
            std::thread::sleep(Duration::from_millis(20));
        }
        s.signal("TERM");
    });
    let status = s
        .wait_exit(Duration::from_secs(25))
        .expect("the server exits within its grace period after SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let answered = answered.into_inner().unwrap();
    assert!(
        answered.len() > 10,
        "only {} reviews answered",
        answered.len()
    );
    // Every answered review is recorded, once, in the store and on stdout; nothing else is.
    let stored: Vec<String> = sqlite3(
        &s,
        "SELECT json_extract(body, '$.uid') FROM audit_records WHERE json_extract(body, '$.kind') = 'Pod'",
    )
        .lines()
        .map(str::to_owned)
        .collect();
    let mut a = answered;
    a.sort();
    let mut st = stored;
    st.sort();
    assert_eq!(st, a, "stored records vs answered reviews");
    let lines = s.stdout.lock().unwrap().clone();
    let mut printed: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["uid"].as_str().map(str::to_owned))
        .collect();
    printed.sort();
    assert_eq!(printed, a, "stdout records vs answered reviews");
}
