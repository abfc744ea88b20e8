//! Issue 20, part 1: `/metrics` in the OpenMetrics text format, scraped by a real Prometheus
//! (Debian's `prometheus`, started by the test) that then answers PromQL queries over its HTTP
//! API: admission decisions by verdict, scope and namespace, admission latency, cache lookups,
//! store call latency, audit batch sizes and build info.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(targets: &[String]) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: admit\n  static_configs:\n  - targets: [{}]\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (apt-get install prometheus; .ci/run does)");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// A PromQL instant query over Prometheus' API: the result vector.
fn query(p: &Prometheus, promql: &str) -> Vec<Value> {
    let out = Command::new("curl")
        .args(["-sS", "--get", "--data-urlencode"])
        .arg(format!("query={promql}"))
        .arg(format!("{}/api/v1/query", p.url))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

/// Polls `promql` until `done` holds for its result (Prometheus scrapes every second).
fn eventually(p: &Prometheus, promql: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let r = query(p, promql);
        if done(&r) {
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "`{promql}` never satisfied: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn review(namespace: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": namespace, "name": "p", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

#[test]
fn a_real_prometheus_scrapes_admit_and_answers_promql() {
    let s = Server::start_webhook(&[]);
    let policy = json!({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_DENY", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"},
        "admissionWhitelistPatterns": [{"namePattern": "gcr.io/ok/*"}]});
    s.curl(
        "PUT",
        &format!("/v1/projects/{}/policy", s.project),
        Some(&policy.to_string()),
    );
    for (ns, image, allowed) in [
        ("prod", "gcr.io/bad/a:1", false),
        ("prod", "gcr.io/bad/b:1", false),
        ("dev", "gcr.io/bad/c:1", false),
        ("prod", "gcr.io/ok/d:1", true),
    ] {
        let r = s.review(&review(ns, image));
        assert_eq!(r["response"]["allowed"], allowed, "{r}");
    }

    // The exposition itself.
    let text = Command::new("curl")
        .args(["-sS", "-i"])
        .arg(format!("{}/metrics", s.url))
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("application/openmetrics-text"), "{text}");
    assert!(
        text.contains(
            "admit_admission_decisions_total{verdict=\"DENIED\",scope=\"defaultAdmissionRule\",namespace=\"prod\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains("# EOF"), "{text}");

    // A real Prometheus scrapes the API port (`--health-listen` serves the same `/metrics`).
    let api = s.url.trim_start_matches("http://").to_owned();
    let p = start_prometheus(&[api]);
    eventually(&p, "up{job=\"admit\"}", |r| {
        r.len() == 1 && value(&r[0]) == 1.0
    });
    let denied = eventually(
        &p,
        "sum by (namespace) (admit_admission_decisions_total{verdict=\"DENIED\"})",
        |r| r.len() == 2,
    );
    let by_ns = |ns: &str| {
        denied
            .iter()
            .find(|x| x["metric"]["namespace"] == ns)
            .map(value)
    };
    assert_eq!(by_ns("prod"), Some(2.0));
    assert_eq!(by_ns("dev"), Some(1.0));
    let allowed = query(
        &p,
        "admit_admission_decisions_total{verdict=\"ALLOWED\",scope=\"exempt\"}",
    );
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert_eq!(value(&allowed[0]), 1.0);
    // Latency: four reviews observed, and a 99th percentile Prometheus can compute.
    let count = query(&p, "sum(admit_admission_duration_seconds_count)");
    assert_eq!(value(&count[0]), 4.0);
    let p99 = query(
        &p,
        "histogram_quantile(0.99, sum by (le) (admit_admission_duration_seconds_bucket))",
    );
    let p99 = value(&p99[0]);
    assert!(p99 > 0.0 && p99 < 13.0, "{p99}");
    // The store calls, the audit batches (one record per review at least) and the build.
    let audits = query(
        &p,
        // Copied from the on-disk log into the database (asynchronously; a list waits for it).
        "sum(admit_store_call_duration_seconds_count{operation=~\"append_audit_batch|ingest_audit\",outcome=\"ok\"})",
    );
    assert!(value(&audits[0]) >= 1.0, "{audits:?}");
    let records = query(&p, "sum(admit_audit_batch_records_sum)");
    assert!(value(&records[0]) >= 4.0, "{records:?}");
    let policy_cache = query(
        &p,
        "sum(admit_admission_cache_lookups_total{cache=\"policy\"})",
    );
    assert!(value(&policy_cache[0]) >= 4.0, "{policy_cache:?}");
    let build = query(&p, "admit_build_info");
    assert_eq!(build.len(), 1);
    assert_eq!(build[0]["metric"]["version"], env!("CARGO_PKG_VERSION"));
}
