//! Issue 13, part 3: every decision as the `LogEntry` Google writes for it, and the real
//! `gcloud logging read` (Cloud Logging v2 `entries.list`, `api_endpoint_overrides/logging`)
//! answering seed 002's filters verbatim, Google's own GKE audit-log queries, timestamp ranges,
//! order and paging; `admit audit list` reads the same query.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{Server, digest, path_str};

const P: &str = "my-proj";
const IMAGE_REPO: &str = "asia-east1-docker.pkg.dev/my-proj/allow-repo/nginx";

fn review(object: &Value, namespace: &str) -> Value {
    let kind = object["kind"].as_str().unwrap();
    let group = object["apiVersion"]
        .as_str()
        .unwrap()
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("uid-{}-{namespace}", object["metadata"]["name"].as_str().unwrap()),
        "kind": {"group": group, "version": "v1", "kind": kind},
        "operation": "CREATE", "namespace": namespace,
        "name": object["metadata"]["name"], "userInfo": {"username": "dev@example.com"},
        "object": object}})
}

fn ksvc(name: &str, image: &str, annotations: &Value) -> Value {
    json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}}})
}

fn pod(name: &str, image: &str, annotations: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"containers": [{"name": "c", "image": image}]}})
}

/// `gcloud logging read FILTER --format=json [extra]`: the entries.
fn read(s: &Server, filter: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["logging", "read", filter, "--format=json"];
    args.extend_from_slice(extra);
    let out = s.gcloud(&args);
    serde_json::from_str::<Value>(&out)
        .unwrap_or_else(|e| panic!("{e}: {out}"))
        .as_array()
        .unwrap()
        .clone()
}

fn names(entries: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = entries
        .iter()
        .map(|e| {
            e["protoPayload"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    n.sort();
    n
}

#[test]
fn gcloud_logging_read_answers_seed_002_and_googles_gke_queries() {
    let s = Server::start_webhook(&["--cluster", "us-east1.prod"]);
    let policy = s.write(
        "policy.yaml",
        "defaultAdmissionRule:
  evaluationMode: ALWAYS_DENY
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
admissionWhitelistPatterns:
- namePattern: gcr.io/example-project/helloworld:*
kubernetesNamespaceAdmissionRules:
  dry:
    evaluationMode: ALWAYS_DENY
    enforcementMode: DRYRUN_AUDIT_LOG_ONLY
",
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "import",
        path_str(&policy),
    ]);
    let image = format!("{IMAGE_REPO}@{}", digest("nginx"));
    let glass = json!({"run.googleapis.com/binary-authorization-breakglass": "INC-42 hotfix"});
    let decisions = [
        (ksvc("run-denied", &image, &json!({})), "default", false),
        (ksvc("run-dry", &image, &json!({})), "dry", true),
        (ksvc("run-glass", &image, &glass), "default", true),
        (
            ksvc("run-ok", "gcr.io/example-project/helloworld:v1", &json!({})),
            "default",
            true,
        ),
        (pod("pod-denied", &image, &json!({})), "default", false),
        (pod("pod-dry", &image, &json!({})), "dry", true),
        (
            pod(
                "pod-glass",
                &image,
                &json!({"alpha.image-policy.k8s.io/break-glass": "true"}),
            ),
            "default",
            true,
        ),
    ];
    for (object, ns, allowed) in &decisions {
        let r = s.review(&review(object, ns));
        assert_eq!(r["response"]["allowed"], *allowed, "{r}");
    }

    // Seed 002, verbatim.
    let denied = read(
        &s,
        r#"resource.type="cloud_run_revision"
logName:"cloudaudit.googleapis.com%2Fsystem_event"
protoPayload.response.status.conditions.reason="ContainerImageUnauthorized""#,
        &[],
    );
    assert_eq!(names(&denied), ["run-denied"]);
    let e = &denied[0];
    assert_eq!(
        e["logName"],
        "projects/my-proj/logs/cloudaudit.googleapis.com%2Fsystem_event"
    );
    assert_eq!(e["resource"]["labels"]["service_name"], "run-denied");
    assert_eq!(e["resource"]["labels"]["revision_name"], "run-denied-00001");
    assert!(
        e["protoPayload"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "Container image '{image}' is not authorized by policy"
            )),
        "{e}"
    );
    let dry = read(
        &s,
        r#"resource.type="cloud_run_revision"
logName:"cloudaudit.googleapis.com%2Fsystem_event"
"dry run""#,
        &[],
    );
    assert_eq!(names(&dry), ["run-dry"]);
    let glass = read(
        &s,
        r#"protoPayload.@type="type.googleapis.com/google.cloud.audit.AuditLog"
"run.googleapis.com/binary-authorization-breakglass""#,
        &[],
    );
    assert_eq!(names(&glass), ["run-glass"]);
    assert_eq!(
        glass[0]["protoPayload"]["response"]["metadata"]["annotations"]["run.googleapis.com/binary-authorization-breakglass"],
        "INC-42 hotfix"
    );

    // Google's GKE queries (Binary Authorization's "View audit logs for GKE").
    let violations = read(
        &s,
        r#"resource.type="k8s_cluster" logName:"cloudaudit.googleapis.com%2Factivity" (protoPayload.methodName="io.k8s.core.v1.pods.create" OR protoPayload.methodName="io.k8s.core.v1.pods.update") protoPayload.response.status="Failure" (protoPayload.response.reason="VIOLATES_POLICY" OR protoPayload.response.reason="Forbidden")"#,
        &["--order=desc", "--freshness=7d"],
    );
    assert_eq!(names(&violations), ["pod-denied"]);
    let v = &violations[0];
    assert_eq!(v["resource"]["labels"]["cluster_name"], "prod");
    assert_eq!(v["resource"]["labels"]["location"], "us-east1");
    assert_eq!(v["protoPayload"]["response"]["code"], 403);
    assert_eq!(
        v["protoPayload"]["authenticationInfo"]["principalEmail"],
        "dev@example.com"
    );
    let message = v["protoPayload"]["response"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "pods \"pod-denied\" is forbidden: image policy webhook backend denied one or more images: Image {image} denied by"
        )),
        "{message}"
    );
    let broke = read(
        &s,
        r#"resource.type="k8s_cluster" AND logName:"cloudaudit.googleapis.com%2Factivity" AND (protoPayload.methodName="io.k8s.core.v1.pods.create" OR protoPayload.methodName="io.k8s.core.v1.pods.update") AND "image-policy.k8s.io/break-glass""#,
        &[],
    );
    assert_eq!(names(&broke), ["pod-glass"]);
    assert_eq!(
        broke[0]["labels"]["imagepolicywebhook.image-policy.k8s.io/break-glass"],
        "true"
    );
    assert!(
        broke[0]["labels"]["imagepolicywebhook.image-policy.k8s.io/overridden-verification-result"]
            .as_str()
            .unwrap()
            .contains(&format!("Image {image} denied by")),
        "{}",
        broke[0]
    );
    let gke_dry = read(
        &s,
        r#"labels."imagepolicywebhook.image-policy.k8s.io/dry-run"="true""#,
        &[],
    );
    assert_eq!(names(&gke_dry), ["pod-dry"]);

    // Administrative changes are activity entries on audited_resource.
    let admin = read(
        &s,
        r#"resource.type="audited_resource" protoPayload.methodName="binaryauthorization.policy.update""#,
        &[],
    );
    assert_eq!(admin.len(), 1, "{admin:?}");

    // Order, limits and time ranges.
    let all = read(&s, "", &["--order=asc"]);
    assert_eq!(all.len(), 8, "{all:?}");
    let times: Vec<&str> = all
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted);
    let newest = read(&s, "", &["--limit=2"]);
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0]["timestamp"], all[7]["timestamp"]);
    let middle = times[4];
    let since = read(&s, &format!("timestamp>=\"{middle}\""), &["--order=asc"]);
    assert_eq!(since.len(), 4, "{since:?}");
    assert_eq!(since[0]["timestamp"], middle);
    let before = read(&s, &format!("timestamp<\"{middle}\""), &[]);
    assert_eq!(before.len(), 4);
    assert!(read(&s, "", &["--freshness=1s", "--order=asc"]).len() <= 8);

    // Paging through the API: every entry exactly once, in order, across pages of one.
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let mut req = json!({"resourceNames": [format!("projects/{P}")], "pageSize": 1,
                             "filter": "resource.type=\"k8s_cluster\"", "orderBy": "timestamp desc"});
        if !token.is_empty() {
            req["pageToken"] = json!(token);
        }
        let v = s.curl("POST", "/v2/entries:list", Some(&req.to_string()));
        paged.extend(v["entries"].as_array().cloned().unwrap_or_default());
        match v["nextPageToken"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    let mut expected = names(&read(&s, "resource.type=\"k8s_cluster\"", &[]));
    expected.sort();
    assert_eq!(names(&paged), expected);
    assert_eq!(paged.len(), 3);

    // Bad requests name what is wrong.
    for (body, needle) in [
        (
            json!({"resourceNames": ["projects/my-proj"], "filter": "resource.type=("}),
            "filter at offset",
        ),
        (
            json!({"resourceNames": ["projects/my-proj"], "orderBy": "severity"}),
            "orderBy",
        ),
        (json!({"resourceNames": []}), "resourceNames"),
        (
            json!({"resourceNames": ["projects/my-proj"], "pageToken": "nope"}),
            "pageToken",
        ),
    ] {
        let (code, err) = s.call("POST", "/v2/entries:list", Some(&body.to_string()));
        assert_eq!(code, 400, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{needle}: {err}"
        );
    }

    // `admit audit list` is a client of the same query.
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "audit",
            "list",
            "--format",
            "json",
            "--filter",
            r#"resource.type="cloud_run_revision" "dry run""#,
        ])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records[0]["name"], "run-dry");
    assert_eq!(records.as_array().map(Vec::len), Some(1));
}
