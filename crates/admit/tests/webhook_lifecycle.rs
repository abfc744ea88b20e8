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

/// Without the on-disk log (`--no-audit-log`), a record is stored when the database has it.
#[test]
fn an_allow_whose_record_cannot_be_stored_is_one_error_record_on_stdout() {
    let s = Server::start_webhook(&["--no-audit-log"]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    let ok = s.review(&review("uid-stored"));
    assert_eq!(ok["response"]["allowed"], true, "{ok}");
    let rec = printed(&s, "uid-stored");
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0]["verdict"], "ALLOWED");
    assert_eq!(
        s.sqlite3(
            "SELECT count(*) FROM audit_records WHERE json_extract(body, '$.uid') = 'uid-stored'"
        ),
        "1",
        "the stored record is the printed one"
    );
    // The audit table is gone under the running server: the allow cannot be recorded, so it
    // is a denial, and the one line on stdout says so (not ALLOWED, then ERROR).
    s.sqlite3("DROP TABLE audit_records");
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
    let stored: Vec<String> = s.sqlite3("SELECT json_extract(body, '$.uid') FROM audit_records WHERE json_extract(body, '$.kind') = 'Pod'",
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

/// `openssl`: a CA and a client certificate it signs, in `dir` as `NAME-ca.crt`,
/// `NAME.crt`, `NAME.key`.
fn client_pki(dir: &std::path::Path, name: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is on PATH");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (ca_key, ca) = (format!("{name}-ca.key"), format!("{name}-ca.crt"));
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &ca_key,
    ]);
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &ca_key,
        "-subj",
        &format!("/CN={name} CA"),
        "-days",
        "1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
        "-out",
        &ca,
    ]);
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &key,
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        &key,
        "-subj",
        "/CN=kube-apiserver",
        "-out",
        &csr,
    ]);
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        &crt,
    ]);
}

#[test]
fn with_a_client_ca_only_its_clients_get_decisions() {
    let pki = tempfile::tempdir().unwrap();
    client_pki(pki.path(), "apiserver");
    client_pki(pki.path(), "stranger");
    let ca = pki.path().join("apiserver-ca.crt");
    // A free port for the probes' plain health listener.
    let health = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Server::start_webhook(&[
        "--webhook-client-ca",
        ca.to_str().unwrap(),
        "--health-listen",
        &health.to_string(),
    ]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    let url = s.webhook.clone().unwrap();
    let post = |cert: Option<&str>| {
        let mut c = Command::new("curl");
        c.args(["-sS", "--max-time", "10", "--cacert"])
            .arg(s.data.path().join("ca.crt"));
        if let Some(name) = cert {
            c.arg("--cert")
                .arg(pki.path().join(format!("{name}.crt")))
                .arg("--key")
                .arg(pki.path().join(format!("{name}.key")));
        }
        c.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(review("uid-mtls").to_string())
            .arg(format!("{url}/validate?timeout=10s"))
            .output()
            .unwrap()
    };
    let ok = post(Some("apiserver"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    for who in [None, Some("stranger")] {
        let out = post(who);
        assert!(
            !out.status.success(),
            "{who:?} was served: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty(), "{who:?}");
    }
    // The kubelet's probes, with no client certificate, use the health port.
    for path in ["healthz", "readyz"] {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "5"])
            .arg(format!("http://{health}/{path}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Only the API server's review cost a record. Records reach the database from the on-disk
    // log a moment after they are durable; reading the audit log through the API waits for
    // everything recorded before the read, so the count below is final.
    let listed = s.curl(
        "POST",
        "/v2/entries:list",
        Some(r#"{"resourceNames": ["projects/my-proj"]}"#),
    );
    assert!(listed.get("entries").is_some(), "{listed}");
    let n =
        s.sqlite3("SELECT count(*) FROM audit_records WHERE json_extract(body, '$.kind') = 'Pod'");
    assert_eq!(n, "1");
}

#[test]
fn oversized_reviews_are_refused_unread() {
    let s = Server::start_webhook(&[]);
    let url = s.webhook.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(
        &big,
        format!(
            "{{\"x\":\"{}\"}}",
            "x".repeat(admit_webhook::MAX_REVIEW_BODY)
        ),
    )
    .unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(s.data.path().join("ca.crt"))
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", big.display()))
        .arg(format!("{url}/validate?timeout=10s"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
}

#[test]
fn audit_records_past_the_retention_are_deleted() {
    let mut s = Server::start_webhook(&["--audit-retention-days", "30"]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    assert_eq!(s.review(&review("uid-new"))["response"]["allowed"], true);
    // A record from long ago, as if the log had been running for years.
    s.sqlite3("INSERT INTO audit_records (time, project, cluster, namespace, kind, name, user, verdict, breakglass, dry_run, body) \
         VALUES ('2020-01-01T00:00:00Z', 'my-proj', '', 'prod', 'Pod', 'old', 'alice', 'ALLOWED', 0, 0, '{\"uid\":\"uid-old\",\"kind\":\"Pod\"}')",
    );
    s.kill_and_restart();
    let uids = || {
        s.sqlite3("SELECT json_extract(body, '$.uid') FROM audit_records WHERE json_extract(body, '$.kind') = 'Pod' ORDER BY seq",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while uids().contains("uid-old") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(uids(), "uid-new");
}

/// A review whose record is still waiting for the audit writer when its deadline passes is
/// denied, and that denial is its only record: the queued ALLOWED one is withdrawn, never
/// written beside it. (The audit table is locked in PostgreSQL so the writer stalls.)
#[test]
fn a_review_past_its_deadline_leaves_one_record() {
    let db = support::PgDatabase::create();
    // The database holds the records directly (no on-disk log), so locking its table stalls
    // a batch: the deadline's case.
    let s = Server::start_webhook(&["--database-url", &db.url, "--no-audit-log"]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    let url = s.webhook.clone().unwrap();
    let ca = s.data.path().join("ca.crt");
    let post = |uid: &str, timeout: &str| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "30", "--cacert"])
            .arg(&ca)
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(review(uid).to_string())
            .arg(format!("{url}/validate?timeout={timeout}"))
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // Hold the audit table for 6 s: the first review's batch is taken by the writer and stalls.
    let locker = Command::new("psql")
        .arg(&db.url)
        .args([
            "-q",
            "-c",
            "BEGIN; LOCK TABLE audit_records IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| post("uid-first", "4s"));
        std::thread::sleep(Duration::from_millis(400));
        // Queued behind the stalled batch; its 2 s deadline passes first.
        let started = Instant::now();
        let b = post("uid-second", "2s");
        assert!(started.elapsed() < Duration::from_secs(4), "answered late");
        (a.join().unwrap(), b)
    });
    let mut locker = locker;
    assert!(locker.wait().unwrap().success());
    assert_eq!(b["response"]["allowed"], false, "{b}");
    let msg = b["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains("before the webhook deadline"), "{msg}");
    // The first was being written when its deadline passed: its fate (stored) decided.
    assert_eq!(a["response"]["allowed"], true, "{a}");
    // Once the table is free: one record each, saying what was answered.
    let query = |uid: &str| -> Vec<String> {
        let out = Command::new("psql")
            .arg(&db.url)
            .args(["-At", "-c"])
            .arg(format!(
                "SELECT verdict FROM audit_records WHERE body::json->>'uid' = '{uid}'"
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // Wait for the first record to land, then long enough that a second would too.
    let verdicts = |uid: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while query(uid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(1));
        query(uid)
    };
    assert_eq!(verdicts("uid-first"), ["ALLOWED"]);
    assert_eq!(verdicts("uid-second"), ["ERROR_DENIED"]);
    let printed_b = printed(&s, "uid-second");
    assert_eq!(printed_b.len(), 1, "{printed_b:?}");
    assert_eq!(printed_b[0]["verdict"], "ERROR_DENIED");
}

/// With the on-disk log (the default), a record is stored once the log has it durably: when
/// the log cannot take it (here: its directory made immutable, so the next segment cannot be
/// made), the allow is a denial and the one line on stdout says so. The database is not
/// needed for it.
#[test]
fn an_allow_the_audit_log_cannot_take_is_one_error_record_on_stdout() {
    let s = Server::start_webhook(&[
        "--audit-log-segment-bytes",
        "1",
        "--audit-log-max-bytes",
        "1000000",
    ]);
    s.curl("PUT", "/v1/projects/my-proj/policy", Some(ALLOW_ALL));
    let ok = s.review(&review("uid-stored"));
    assert_eq!(ok["response"]["allowed"], true, "{ok}");
    let dir = s.data.path().join("audit");
    let chattr = |flag: &str| {
        let out = Command::new("chattr").arg(flag).arg(&dir).output().unwrap();
        assert!(
            out.status.success(),
            "chattr {flag}: {}",
            support::stderr(&out)
        );
    };
    chattr("+i");
    let denied = s.review(&review("uid-lost"));
    chattr("-i");
    assert_eq!(denied["response"]["allowed"], false, "{denied}");
    let msg = denied["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains("could not record the decision"), "{msg}");
    let rec = printed(&s, "uid-lost");
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(rec[0]["verdict"], "ERROR_DENIED");
    // Writable again: recorded again.
    let again = s.review(&review("uid-again"));
    assert_eq!(again["response"]["allowed"], true, "{again}");
}
