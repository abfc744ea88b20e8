//! Issue 15, part 4 (begun): a GKE platform policy's `imageFreshnessCheck`, judged from the
//! image config a real registry serves (Debian's `docker-registry`, images pushed with
//! `skopeo`), through `platforms/gke/policies/{id}:evaluate`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use serde_json::{Value, json};
use support::registry::{PASSWORD, Registry, USER};
use support::{Server, path_str};

fn evaluate(s: &Server, image: &str) -> Value {
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies/fresh:evaluate",
        Some(
            &json!({"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "c", "image": image}]}}})
            .to_string(),
        ),
    )
}

fn check_result(r: &Value) -> (&str, &str) {
    let c = &r["results"][0]["imageResults"][0]["checkSetResult"]["checkResults"]["results"][0];
    (
        c["evaluationResult"]["verdict"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}")),
        c["explanation"].as_str().unwrap_or(""),
    )
}

#[test]
fn image_freshness_is_judged_from_the_config_the_registry_serves_and_cached_by_digest() {
    let reg = Registry::start();
    // The server's clock is real: one image built a day ago, one last January.
    let (now, _) = admit_model_now();
    let recent = admit_model::rfc3339(now - 86_400, 0);
    let fresh = reg.push_created("team/app", "fresh", "one", &recent);
    let stale = reg.push_created("team/app", "stale", "two", "2026-01-01T00:00:00Z");
    let config = reg.docker_config(USER, PASSWORD);
    let s = Server::start_args(&[
        "--registry-ca-file",
        path_str(&reg.ca_file()),
        "--docker-config",
        path_str(config.path()),
    ]);
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=fresh",
        Some(
            &json!({"gkePolicy": {"checkSets": [{"displayName": "fresh", "checks": [
                {"displayName": "a week at most", "imageFreshnessCheck": {"maxUploadAgeDays": 7}}]}]}})
            .to_string(),
        ),
    );
    let fresh_image = format!("{}/team/app@{fresh}", reg.host);
    let r = evaluate(&s, &fresh_image);
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    let (v, why) = check_result(&r);
    assert_eq!(v, "CONFORMANT");
    assert!(
        why.contains(&format!(
            "built {recent} (1 days ago, by the image config's `created` time"
        )),
        "{why}"
    );

    let r = evaluate(&s, &format!("{}/team/app@{stale}", reg.host));
    assert_eq!(r["verdict"], "NON_CONFORMANT", "{r}");
    let (_, why) = check_result(&r);
    assert!(why.contains("built 2026-01-01T00:00:00Z"), "{why}");
    assert!(why.contains("older than maxUploadAgeDays 7"), "{why}");

    // A tag is not an image: the check needs the digest.
    let r = evaluate(&s, &format!("{}/team/app:fresh", reg.host));
    assert_eq!(check_result(&r).0, "NON_CONFORMANT", "{r}");
    assert!(check_result(&r).1.contains("needs a digest"), "{r}");

    // Cached by digest: with the registry gone the answer stands (no call); an image never
    // fetched is an ERROR naming the registry's failure.
    drop(reg);
    let r = evaluate(&s, &fresh_image);
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    let unknown = format!(
        "{}/team/app@sha256:{}",
        fresh_image.split('/').next().unwrap(),
        "0".repeat(64)
    );
    let r = evaluate(&s, &unknown);
    let (v, why) = check_result(&r);
    assert_eq!(v, "ERROR", "{r}");
    assert!(why.starts_with("imageFreshnessCheck: "), "{why}");
}

fn admit_model_now() -> (u64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (d.as_secs(), d.subsec_nanos())
}
