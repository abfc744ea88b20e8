//! Issue 16, part 1 (the REST half, begun): Google's own Python client libraries from PyPI —
//! google-cloud-binary-authorization, google-cloud-containeranalysis, grafeas and
//! google-cloud-kms, pinned, in a virtualenv
//! the test creates (once, under target/) — run against `admit serve` with their REST transport
//! and anonymous credentials. They send enums as numbers, which proto3 JSON allows and admit
//! must accept. The script checks every result (`tests/data/clients/rest_conformance.py`).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::Server;

const PINS: &[&str] = &[
    "google-cloud-binary-authorization==1.20.0",
    "google-cloud-kms==3.18.0",
    "google-cloud-containeranalysis==2.23.0",
    "grafeas==1.25.0",
    "google-api-core==2.44.0",
    "google-crc32c==1.9.0",
    "cryptography==50.0.2",
    "grpcio==1.85.3",
    "grpcio-status==1.85.3",
];

/// The virtualenv with the pinned libraries.
fn venv() -> PathBuf {
    support::python_venv("py-clients", PINS)
}

/// The `host:port` of the server's gRPC listener, from its `admit grpc listening on` line.
fn grpc_addr(s: &Server) -> String {
    let start = std::time::Instant::now();
    loop {
        if let Some(l) = s
            .stdout
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.strip_prefix("admit grpc listening on grpc://"))
        {
            return l.to_owned();
        }
        assert!(start.elapsed().as_secs() < 10, "no gRPC line");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn googles_python_client_libraries_over_grpc() {
    let python = venv();
    let s = Server::start_args(&["--grpc-listen", "127.0.0.1:0"]);
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/clients/rest_conformance.py");
    let out = Command::new(python)
        .arg(script)
        .env("ADMIT_ENDPOINT", &s.url)
        .env("ADMIT_TRANSPORT", "grpc")
        .env("ADMIT_GRPC", grpc_addr(&s))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("39 checks passed"), "{stdout}");
    // The same stored result as over REST: enums sent as protobuf numbers stored as names.
    let listed = s.curl(
        "GET",
        "/v1/projects/client-proj/occurrences?filter=kind%3D%22VULNERABILITY%22",
        None,
    );
    let v = &listed["occurrences"][0]["vulnerability"];
    assert_eq!(v["severity"], "HIGH", "{listed}");
    assert_eq!(v["effectiveSeverity"], "CRITICAL");
}

#[test]
fn grpc_authenticates_by_bearer_metadata_and_answers_rpc_status_details() {
    let python = venv();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "owner-token-0123456789 user:owner@example.com\nnobody-token-0123456789 user:nobody@example.com\n",
    )
    .unwrap();
    let s = Server::start_args(&[
        "--grpc-listen",
        "127.0.0.1:0",
        "--token-file",
        tokens.to_str().unwrap(),
        "--owner",
        "user:owner@example.com",
    ]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/clients/grpc_auth.py");
    let out = Command::new(python)
        .arg(script)
        .env("ADMIT_GRPC", grpc_addr(&s))
        .env("OWNER", "owner-token-0123456789")
        .env("NOBODY", "nobody-token-0123456789")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["owner"]["ok"], "projects/grpc-proj/policy", "{r}");
    assert_eq!(r["nobody"]["code"], "PERMISSION_DENIED", "{r}");
    assert_eq!(r["anonymous"]["code"], "UNAUTHENTICATED", "{r}");
    // The google.rpc.Status in the details says the same as the status.
    assert_eq!(r["nobody"]["details"][0]["code"], 7, "{r}");
    assert!(
        r["nobody"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("binaryauthorization.policy.get"),
        "{r}"
    );
}

#[test]
fn googles_python_client_libraries_over_rest() {
    let python = venv();
    let s = Server::start();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/clients/rest_conformance.py");
    let out = Command::new(python)
        .arg(script)
        .env("ADMIT_ENDPOINT", &s.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    // What the libraries sent as numbers is stored as names, which admission reads.
    let listed = s.curl(
        "GET",
        "/v1/projects/client-proj/occurrences?filter=kind%3D%22VULNERABILITY%22",
        None,
    );
    let v = &listed["occurrences"][0]["vulnerability"];
    assert_eq!(v["severity"], "HIGH", "{listed}");
    assert_eq!(v["effectiveSeverity"], "CRITICAL");
    assert_eq!(v["packageIssue"][0]["effectiveSeverity"], "MEDIUM");
}
