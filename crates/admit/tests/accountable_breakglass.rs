//! Issue 19, part 3: accountable breakglass, configured per project in the policy
//! (`admitBreakglass`, imported with `admit policy import`), exercised with real
//! AdmissionReviews: who may (users, groups, an admit IAM permission), a required justification
//! with a ticket, a lifetime, refused namespaces; every use recorded with who, why and until
//! when. The extensions survive a gcloud import of the policy that omits them.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{Server, path_str};

const P: &str = "my-proj";
const IMAGE: &str = "gcr.io/untrusted/app:1";
const GLASS: &str = "alpha.image-policy.k8s.io/break-glass";
const WHY: &str = "admit.dev/breakglass-justification";

fn review(user: &str, groups: &[&str], namespace: &str, annotations: &Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("u-{user}-{namespace}"), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE", "namespace": namespace, "name": "fix",
        "userInfo": {"username": user, "groups": groups},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fix", "annotations": annotations},
                   "spec": {"containers": [{"name": "c", "image": IMAGE}]}}}})
}

fn decide(s: &Server, r: &Value) -> (bool, String) {
    let out = s.review(r);
    (
        out["response"]["allowed"].as_bool().unwrap(),
        out["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn admit_cli(s: &Server, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(args)
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .output()
        .unwrap()
}

const POLICY: &str = "defaultAdmissionRule:
  evaluationMode: ALWAYS_DENY
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
admissionWhitelistPatterns:
- namePattern: gcr.io/legacy/*
  admitExpireTime: \"2100-01-01T00:00:00Z\"
  admitReason: legacy registry, INC-9
admitBreakglass:
  allowedUsers: [alice@example.com]
  allowedGroups: [sre]
  requireJustification: true
  ticketPattern: \"INC-[0-9]+\"
  lifetime: 4h
  refusedNamespaces: [payments]
";

#[test]
fn breakglass_follows_the_projects_rules_and_is_recorded() {
    let s = Server::start_webhook(&[]);
    let file = s.write("policy.yaml", POLICY);
    let out = admit_cli(&s, &["policy", "import", path_str(&file)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let glass = |why: Option<&str>| {
        let mut a = json!({GLASS: "true"});
        if let Some(w) = why {
            a[WHY] = json!(w);
        }
        a
    };
    // Who may: a listed user, a member of a listed group; nobody else.
    let (ok, msg) = decide(
        &s,
        &review(
            "bob@example.com",
            &["dev"],
            "prod",
            &glass(Some("INC-7 hotfix")),
        ),
    );
    assert!(!ok);
    assert!(
        msg.contains("user `bob@example.com` may not break glass"),
        "{msg}"
    );
    let (ok, msg) = decide(
        &s,
        &review(
            "carol@example.com",
            &["sre"],
            "prod",
            &glass(Some("INC-42: outage, rolling back")),
        ),
    );
    assert!(ok, "{msg}");
    // What they must say.
    let (ok, msg) = decide(&s, &review("alice@example.com", &[], "prod", &glass(None)));
    assert!(!ok);
    assert!(
        msg.contains(&format!(
            "requires a justification in the `{WHY}` annotation"
        )),
        "{msg}"
    );
    let (ok, msg) = decide(
        &s,
        &review("alice@example.com", &[], "prod", &glass(Some("trust me"))),
    );
    assert!(!ok);
    assert!(
        msg.contains("naming a ticket matching `INC-[0-9]+`"),
        "{msg}"
    );
    // Where it is refused, whoever asks.
    let (ok, msg) = decide(
        &s,
        &review("alice@example.com", &[], "payments", &glass(Some("INC-1"))),
    );
    assert!(!ok);
    assert!(msg.contains("refused in namespace payments"), "{msg}");
    // Without the annotation nothing is broken: the rule denies.
    assert!(
        !decide(
            &s,
            &review("alice@example.com", &[], "prod", &json!({WHY: "INC-1"}))
        )
        .0
    );

    // Recorded: who, why, the ticket, until when.
    let out = admit_cli(
        &s,
        &[
            "audit",
            "list",
            "--filter",
            "verdict=BREAKGLASS",
            "--format",
            "json",
        ],
    );
    let records: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let used = &records[0]["breakglassUse"];
    assert_eq!(used["user"], "carol@example.com");
    assert_eq!(used["groups"], json!(["sre"]));
    assert_eq!(used["justification"], "INC-42: outage, rolling back");
    assert_eq!(used["ticket"], "INC-42");
    let time = admit_model::parse_rfc3339(records[0]["time"].as_str().unwrap()).unwrap();
    let until = admit_model::parse_rfc3339(used["until"].as_str().unwrap()).unwrap();
    assert_eq!(until.0 - time.0, 4 * 3600);

    // gcloud's export shows the extensions; its import refuses fields it does not know, so a
    // user removes them (or uses `admit policy import`). What gcloud imports without them keeps
    // them: an expiring exception never silently becomes a permanent one.
    let exported = s.gcloud(&["container", "binauthz", "policy", "export"]);
    assert!(exported.contains("admitBreakglass"), "{exported}");
    let refused = s.gcloud_raw(&[
        "container",
        "binauthz",
        "policy",
        "import",
        path_str(&s.write("exported.yaml", &exported)),
    ]);
    assert!(!refused.status.success());
    let mut plain: Value = serde_saphyr::from_str(&exported).unwrap();
    plain.as_object_mut().unwrap().remove("admitBreakglass");
    for p in plain["admissionWhitelistPatterns"].as_array_mut().unwrap() {
        let p = p.as_object_mut().unwrap();
        p.remove("admitExpireTime");
        p.remove("admitReason");
    }
    let round = s.write("plain.json", &plain.to_string());
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "import",
        path_str(&round),
    ]);
    let stored = s.curl("GET", &format!("/v1/projects/{P}/policy"), None);
    assert_eq!(
        stored["admitBreakglass"]["ticketPattern"], "INC-[0-9]+",
        "{stored}"
    );
    assert_eq!(
        stored["admissionWhitelistPatterns"][0]["admitExpireTime"],
        "2100-01-01T00:00:00Z"
    );
    // Cleared only when asked: `admitBreakglass: {}` and `admitExpireTime: never`.
    let mut cleared = stored;
    cleared["admitBreakglass"] = json!({});
    cleared["admissionWhitelistPatterns"][0]["admitExpireTime"] = json!("never");
    let after = s.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&cleared.to_string()),
    );
    assert!(after.get("admitBreakglass").is_none(), "{after}");
    assert!(
        after["admissionWhitelistPatterns"][0]
            .get("admitExpireTime")
            .is_none(),
        "{after}"
    );
    // Unconfigured again: GKE's behaviour, the annotation alone.
    assert!(
        decide(
            &s,
            &review("bob@example.com", &[], "payments", &glass(None))
        )
        .0
    );

    // Bad configuration is refused naming the field.
    for (patch, needle) in [
        (
            json!({"ticketPattern": "INC-("}),
            "admitBreakglass.ticketPattern",
        ),
        (json!({"lifetime": "forever"}), "admitBreakglass.lifetime"),
        (
            json!({"allowedPermission": "admit.everything"}),
            "admitBreakglass.allowedPermission",
        ),
    ] {
        let mut p = after.clone();
        p["admitBreakglass"] = patch;
        let (code, err) = s.call(
            "PUT",
            &format!("/v1/projects/{P}/policy"),
            Some(&p.to_string()),
        );
        assert_eq!(code, 400, "{err}");
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn an_admit_permission_can_be_what_allows_breakglass() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "owner-token-0123456789 user:owner@example.com\n").unwrap();
    let s = Server::start_webhook(&[
        "--token-file",
        tokens.to_str().unwrap(),
        "--owner",
        "user:owner@example.com",
    ]);
    let owner = Some("owner-token-0123456789");
    let policy = json!({
        "defaultAdmissionRule": {"evaluationMode": "ALWAYS_DENY", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"},
        "admitBreakglass": {"allowedPermission": "admit.breakglass.use"}});
    let (code, v) = s.call_as(
        owner,
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&policy.to_string()),
    );
    assert_eq!(code, 200, "{v}");
    let (code, v) = s.call_as(
        owner,
        "POST",
        &format!("/v1/projects/{P}:setIamPolicy"),
        Some(&json!({"policy": {"bindings": [{"role": "roles/admit.breakglassUser", "members": ["user:dave@example.com"]}]}}).to_string()),
    );
    assert_eq!(code, 200, "{v}");
    let glass = json!({GLASS: "true"});
    assert!(decide(&s, &review("dave@example.com", &[], "prod", &glass)).0);
    let (ok, msg) = decide(&s, &review("erin@example.com", &[], "prod", &glass));
    assert!(!ok);
    assert!(msg.contains("holders of admit.breakglass.use"), "{msg}");
}
