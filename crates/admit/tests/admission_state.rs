//! Issue 18, parts 1 and 2, through the webhook and the REST API of real `admit serve`
//! processes: admission state kept in memory and kept true by the store's change feed. A warm
//! review reads nothing from the database; a cold one fetches all its attestations in one
//! query; a change made through one replica is enforced by another within 100 ms, also after
//! its notification connection was killed; and a write is enforced by the next review.

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
use support::{PgDatabase, Server, digest, psql};

const P: &str = "my-proj";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn review(images: &[String]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "app", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
                   "spec": {"containers": containers}}}})
}

fn allowed(s: &Server, images: &[String]) -> bool {
    let r = s.review(&review(images));
    r["response"]["allowed"].as_bool().unwrap()
}

/// `attestors` attestors (one P-256 key each), a policy requiring them all, and `images`
/// images each attested by every attestor: what a review of `images` needs.
fn populate(s: &Server, attestors: usize, images: usize) -> Vec<String> {
    let key = OpensslKey::generate("p256");
    let mut names = Vec::new();
    let mut key_ids = Vec::new();
    for a in 0..attestors {
        s.curl(
            "POST",
            &format!("/v1/projects/{P}/notes?noteId=n{a}"),
            Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
        );
        let created = s.curl(
            "POST",
            &format!("/v1/projects/{P}/attestors?attestorId=a{a}"),
            Some(
                &json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{P}/notes/n{a}"),
                    "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem,
                        "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}})
                .to_string(),
            ),
        );
        key_ids.push(
            created["userOwnedGrafeasNote"]["publicKeys"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        names.push(format!("projects/{P}/attestors/a{a}"));
    }
    set_policy(
        s,
        &json!({"evaluationMode": "REQUIRE_ATTESTATION",
        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG", "requireAttestationsBy": names}),
    );
    let images: Vec<String> = (0..images)
        .map(|i| {
            format!(
                "us-docker.pkg.dev/{P}/prod/app{i}@{}",
                digest(&format!("app{i}"))
            )
        })
        .collect();
    for image in &images {
        let payload = admit_crypto::create_signature_payload(image).unwrap();
        let sig = b64(&key.sign(SigMode::Dgst("sha256"), payload.as_bytes()));
        for (a, key_id) in key_ids.iter().enumerate() {
            s.curl(
                "POST",
                &format!("/v1/projects/{P}/occurrences"),
                Some(
                    &json!({"resourceUri": format!("https://{image}"),
                        "noteName": format!("projects/{P}/notes/n{a}"),
                        "attestation": {"serializedPayload": b64(payload.as_bytes()),
                        "signatures": [{"publicKeyId": key_id, "signature": sig}]}})
                    .to_string(),
                ),
            );
        }
    }
    images
}

fn set_policy(s: &Server, default_rule: &Value) {
    let policy =
        json!({"globalPolicyEvaluationMode": "DISABLE", "defaultAdmissionRule": default_rule});
    s.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&policy.to_string()),
    );
}

fn always(mode: &str) -> Value {
    json!({"evaluationMode": mode, "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"})
}

/// Sums of a metric's samples whose line contains every one of `labels`.
fn metric(s: &Server, name: &str, labels: &[&str]) -> f64 {
    s.curl_text("/metrics")
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// Store calls made so far, by every operation but the audit log's.
fn store_reads(s: &Server) -> f64 {
    let text = s.curl_text("/metrics");
    text.lines()
        .filter(|l| l.starts_with("admit_store_call_duration_seconds_count"))
        .filter(|l| !l.contains("audit"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// Waits out the feed's echo of recent writes (well over SQLite's 20 ms poll period), then
/// reviews once more so whatever it invalidated is read again.
fn settle(s: &Server, images: &[String]) {
    std::thread::sleep(Duration::from_millis(200));
    assert!(allowed(s, images));
    assert!(allowed(s, &images[..1]));
}

fn wait_until_live(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(s, "admit_change_feed_up", &[]) != 1.0 {
        assert!(Instant::now() < deadline, "the change feed never went live");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn warm_reviews_read_nothing(s: &Server) {
    wait_until_live(s);
    let images = populate(s, 3, 10);
    // The first review after the writes fetches everything: its attestations in one query.
    let before = metric(
        s,
        "admit_store_call_duration_seconds_count",
        &["operation=\"attestations\""],
    );
    assert!(allowed(s, &images));
    let after = metric(
        s,
        "admit_store_call_duration_seconds_count",
        &["operation=\"attestations\""],
    );
    assert_eq!(
        after - before,
        1.0,
        "10 images × 3 attestors: 30 (note, digest) pairs in one query"
    );
    // The feed also reports this server's own writes (populate's) once more, up to a poll
    // period later, which costs one more read: let it settle, and warm up again.
    settle(s, &images);
    // Warm: nothing more from the database, however many reviews.
    let reads = store_reads(s);
    for _ in 0..5 {
        assert!(allowed(s, &images));
        assert!(allowed(s, &images[..1]));
    }
    assert_eq!(
        store_reads(s),
        reads,
        "a warm review makes no store call but its audit record's"
    );
    // A write is enforced by the very next review: it is forgotten before it is acknowledged.
    let occurrences = s.curl(
        "GET",
        &format!("/v1/projects/{P}/occurrences?pageSize=1000"),
        None,
    );
    let first = occurrences["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["resourceUri"] == format!("https://{}", images[0]).as_str()
                && o["noteName"] == format!("projects/{P}/notes/n1").as_str()
        })
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    s.curl("DELETE", &format!("/v1/{first}"), None);
    assert!(
        !allowed(s, &images[..1]),
        "the deleted attestation no longer counts"
    );
    assert!(allowed(s, &images[1..2]), "the others still do");
    set_policy(s, &always("ALWAYS_DENY"));
    assert!(!allowed(s, &images[1..2]), "the new policy, at once");
}

#[test]
fn warm_reviews_read_nothing_on_sqlite() {
    warm_reviews_read_nothing(&Server::start_webhook(&[]));
}

#[test]
fn warm_reviews_read_nothing_on_postgres() {
    let db = PgDatabase::create();
    warm_reviews_read_nothing(&Server::start_postgres_webhook(&db.url));
}

/// Two replicas of one fleet on one PostgreSQL database: what one writes, the other enforces
/// within 100 ms (it is told by the database's notifications, not by asking on every review),
/// and still after its notification connection is killed.
#[test]
fn a_change_through_one_replica_is_enforced_by_the_other() {
    let db = PgDatabase::create();
    let a = Server::start_postgres_webhook(&db.url);
    let b = Server::start_postgres_webhook(&db.url);
    wait_until_live(&a);
    wait_until_live(&b);
    let images = populate(&a, 1, 1);
    assert!(allowed(&b, &images));
    settle(&b, &images);
    let reads = store_reads(&b);
    assert!(allowed(&b, &images));
    assert_eq!(store_reads(&b), reads, "b is warm: it reads nothing");

    let enforced_within = |policy: &Value, want: bool| -> Duration {
        set_policy(&a, policy);
        let written = Instant::now();
        while allowed(&b, &images) != want {
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "b never enforced {policy}"
            );
        }
        written.elapsed()
    };
    let took = enforced_within(&always("ALWAYS_DENY"), false);
    assert!(
        took < Duration::from_millis(100),
        "b enforced a's change after {took:?}"
    );
    let took = enforced_within(&always("ALWAYS_ALLOW"), true);
    assert!(
        took < Duration::from_millis(100),
        "b enforced a's change after {took:?}"
    );

    // Kill every notification connection: each replica notices, reads through while it is
    // away, starts over when it is back, and is live again.
    let downs = metric(&b, "admit_change_feed_events_total", &["event=\"down\""]);
    let out = psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'LISTEN%'",
        db.name
    ));
    assert!(out.status.success(), "{}", support::stderr(&out));
    let took = enforced_within(&always("ALWAYS_DENY"), false);
    assert!(
        took < Duration::from_secs(1),
        "after the kill, b enforced a's change after {took:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&b, "admit_change_feed_events_total", &["event=\"down\""]) == downs {
        assert!(
            Instant::now() < deadline,
            "b never noticed its listener died"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until_live(&b);
    let took = enforced_within(&always("ALWAYS_ALLOW"), true);
    assert!(
        took < Duration::from_millis(100),
        "live again, b enforced a's change after {took:?}"
    );
}
