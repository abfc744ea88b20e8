//! Read-modify-write updates through the REST API, raced: an update that carries over what is
//! stored (an attestor's key revocations, the policy's admit extensions) must carry over what
//! is stored when it is written, not what was stored when it was read. Several clients update
//! at once, none sending an etag (as `gcloud` does not); nothing one of them did may be lost.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use admit_testkit::OpensslKey;
use serde_json::{Value, json};
use support::Server;

/// At most this many writers: each attempt that loses a race loses it to a writer that
/// finished, so every one of them gets through within the server's eight attempts.
const WRITERS: usize = 8;

#[test]
fn concurrent_attestor_updates_lose_no_revocation() {
    let s = Server::start();
    let p = s.project.clone();
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let key = OpensslKey::generate("p256");
    let note = json!({
        "noteReference": format!("projects/{p}/notes/ci"),
        "publicKeys": [{"pkixPublicKey": {
            "publicKeyPem": key.public_pem,
            "signatureAlgorithm": "ECDSA_P256_SHA256"}}]
    });
    let created = s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=qa"),
        Some(&json!({ "userOwnedGrafeasNote": note }).to_string()),
    );
    let key_id = created["userOwnedGrafeasNote"]["publicKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/projects/{p}/attestors/qa");

    // Each writer revokes a key id of its own, sending the attestor without an etag.
    let codes: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let body = json!({
                    "userOwnedGrafeasNote": note,
                    "admitRevokedKeys": [{"keyId": format!("retired-{i}"), "reason": "rotated"}]
                })
                .to_string();
                let (s, path) = (&s, &path);
                scope.spawn(move || s.call("PUT", path, Some(&body)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (code, body) in &codes {
        assert_eq!(*code, 200, "{body}");
    }

    let stored = s.curl("GET", &path, None);
    let mut revoked: Vec<&str> = stored["admitRevokedKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["keyId"].as_str().unwrap())
        .collect();
    revoked.sort_unstable();
    let mut want: Vec<String> = (0..WRITERS).map(|i| format!("retired-{i}")).collect();
    want.sort_unstable();
    assert_eq!(revoked, want, "{stored}");
    // The key itself is untouched, and the last answer is what is stored.
    assert_eq!(
        stored["userOwnedGrafeasNote"]["publicKeys"][0]["id"],
        json!(key_id)
    );
    let etags: Vec<&Value> = codes.iter().map(|(_, b)| &b["etag"]).collect();
    assert!(etags.contains(&&stored["etag"]), "{etags:?} {stored}");

    // With a stale etag the caller asked for exactly that version: ABORTED, not redone.
    let stale = created["etag"].as_str().unwrap();
    let (code, body) = s.call(
        "PUT",
        &path,
        Some(&json!({ "userOwnedGrafeasNote": note, "etag": stale }).to_string()),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["status"], "ABORTED", "{body}");
}

#[test]
fn a_policy_update_racing_a_breakglass_change_keeps_the_breakglass() {
    let s = Server::start();
    let p = s.project.clone();
    let path = format!("/v1/projects/{p}/policy");
    let plain = |i: usize| {
        json!({
            "globalPolicyEvaluationMode": "ENABLE",
            "admissionWhitelistPatterns": [{"namePattern": format!("registry.example/tools/{i}")}],
            "defaultAdmissionRule": {
                "evaluationMode": "ALWAYS_ALLOW",
                "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"
            }
        })
    };
    let breakglass = json!({"allowedUsers": ["oncall@example.com"], "requireJustification": true});
    // Rounds: in each, one client sets the breakglass policy while the others replace the
    // policy without it (which keeps the stored one); afterwards it must be there.
    for round in 0..4 {
        let mut with_breakglass = plain(100 + round);
        with_breakglass["admitBreakglass"] = breakglass.clone();
        let bodies: Vec<String> = (0..WRITERS)
            .map(|i| {
                if i == WRITERS / 2 {
                    with_breakglass.to_string()
                } else {
                    plain(i).to_string()
                }
            })
            .collect();
        let codes: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|b| {
                    let (s, path) = (&s, &path);
                    scope.spawn(move || s.call("PUT", path, Some(b)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (code, body) in &codes {
            assert_eq!(*code, 200, "round {round}: {body}");
        }
        let stored = s.curl("GET", &path, None);
        assert_eq!(
            stored["admitBreakglass"], breakglass,
            "round {round}: {stored}"
        );
        // Clear it for the next round (`{}` clears).
        let mut cleared = plain(0);
        cleared["admitBreakglass"] = json!({});
        let after = s.curl("PUT", &path, Some(&cleared.to_string()));
        assert!(after.get("admitBreakglass").is_none(), "{after}");
    }
}
