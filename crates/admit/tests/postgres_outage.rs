//! Losing PostgreSQL mid-test: requests fail with UNAVAILABLE, admissions are denied, and the
//! server recovers by itself when the database returns. Its own test binary, because it stops
//! the machine's PostgreSQL server.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{PgDatabase, Server};

fn pg_ctl(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a Debian PostgreSQL cluster under /etc/postgresql")
        .filter_map(Result::ok)
        .map(|e| e.file_name().into_string().unwrap())
        .max()
        .unwrap();
    let out = Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &version,
            "main",
            action,
            "-m",
            "fast",
        ])
        .output()
        .expect("pg_ctlcluster");
    assert!(
        out.status.success(),
        "pg_ctlcluster {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Restarts PostgreSQL even if the test fails half-way.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("sh").args(["-c", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort | tail -1) main start"]).output();
    }
}

fn review() -> serde_json::Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "r-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "p", "userInfo": {"username": "alice"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
}

#[test]
fn the_database_stops_and_returns_and_the_server_recovers() {
    let db = PgDatabase::create();
    let s = Server::start_postgres_webhook(&db.url);
    assert_eq!(s.call("GET", "/v1/projects/my-proj/policy", None).0, 200);
    assert_eq!(s.review(&review())["response"]["allowed"], true);

    let _restart = Restart;
    pg_ctl("stop");
    let (code, v) = s.call("GET", "/v1/projects/my-proj/policy", None);
    assert_eq!(code, 503, "{v}");
    assert_eq!(v["error"]["status"], "UNAVAILABLE");
    // Warm reviews are answered from memory while the change feed vouches for it; its
    // listener's connection died with the database, and once it notices (at most two pings,
    // 1 s) every review reads the database, which fails: closed.
    let noticed = Instant::now();
    let r = loop {
        let r = s.review(&review());
        if r["response"]["allowed"] == false {
            break r;
        }
        assert!(
            noticed.elapsed() < Duration::from_secs(3),
            "still admitted from memory 3 s after the database stopped: {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r["response"]["allowed"], false, "fail closed: {r}");
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{r}"
    );
    let (code, _) = s.call("GET", "/v1/projects/my-proj/notes", None);
    assert_eq!(code, 503);

    pg_ctl("start");
    let started = Instant::now();
    loop {
        if s.call("GET", "/v1/projects/my-proj/policy", None).0 == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not recover within 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        s.review(&review())["response"]["allowed"],
        true,
        "admissions work again without a restart"
    );
    drop(db);
}
