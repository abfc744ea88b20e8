//! Issue 20, part 2: structured logs correlated by the review's uid. With `--log-format json`
//! every event is one JSON object carrying the fields of its spans: a review's `uid`, kind,
//! namespace and user; an API request's method and path.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;

/// Waits for a logged JSON event satisfying `want`.
fn event(s: &Server, want: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(v) = s
            .stderr
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| want(v))
        {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no such event in: {:?}",
            s.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_event_of_a_review_carries_its_uid_and_requests_their_path() {
    let s = Server::start_webhook(&[
        "--log-format",
        "json",
        "--log",
        "admit_webhook=debug,admit_service=debug,tower_http=debug,info",
    ]);
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "trace-me-123", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "web", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                   "spec": {"containers": [{"name": "c", "image": "gcr.io/x/y:1"}]}}}});
    let r = s.review(&review);
    assert_eq!(r["response"]["uid"], "trace-me-123");

    // The decision event, inside the review's span.
    let decided = event(&s, |v| v["fields"]["message"] == "admission decided");
    assert_eq!(decided["span"]["uid"], "trace-me-123", "{decided}");
    assert_eq!(decided["span"]["namespace"], "prod");
    assert_eq!(decided["span"]["user"], "dev@example.com");
    assert_eq!(decided["fields"]["allowed"], true);
    assert_eq!(decided["level"], "DEBUG");
    // Deeper stages close with their own time, nested in the review's span: the service's
    // evaluation says which review it was for.
    let nested = event(&s, |v| v["span"]["name"] == "evaluate_admission");
    assert_eq!(nested["spans"][0]["uid"], "trace-me-123", "{nested}");
    assert_eq!(nested["span"]["project"], "my-proj");
    assert!(nested["fields"]["time.busy"].is_string(), "{nested}");

    // An API request: its method and path on the response event.
    s.curl("GET", "/v1/projects/my-proj/policy", None);
    let finished = event(&s, |v| {
        v["span"]["name"] == "request" && v["span"]["path"] == "/v1/projects/my-proj/policy"
    });
    assert_eq!(finished["span"]["method"], "GET", "{finished}");
}
