//! Admission of a cosign-signed image (issue 15): a policy whose attestor key is a cosign key
//! (`admitCosign`), the signature stored in a real registry (Debian's `docker-registry`, TLS and
//! htpasswd; pushed with `skopeo`). Warm: the registry lookup is cached (a long tag cache), so
//! a review costs no registry call; cold: `--registry-tag-cache-seconds 0`, every review fetches
//! the `.sig` manifest and payload. Ratios are to the P-256 verify rate of the same run; the
//! registry calls per review come from admit's own `cosign_signatures` cache counters.
//!
//! Run: `cargo bench -p admit --bench cosign` (needs `wrk`, `docker-registry`, `skopeo`,
//! `htpasswd`). Knob: ADMIT_BENCH_SECONDS (per wrk run, default 5).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench binary: set-up failures abort, results go to stdout"
)]

mod platform_support;
#[path = "../tests/support/mod.rs"]
mod support;

use base64::Engine as _;
use platform_support::*;
use serde_json::json;
use support::registry::{PASSWORD, Registry, USER};

/// `cosign_signatures` cache lookups that missed (each one a registry round trip).
fn misses(server: &BenchServer) -> f64 {
    server
        .get_text("/metrics")
        .lines()
        .filter(|l| l.contains("cache=\"cosign_signatures\"") && l.contains("result=\"miss\""))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

fn main() {
    let secs: u64 = env_or("ADMIT_BENCH_SECONDS", 5);
    let mut floor_report = Report::default();
    let floor = crypto_floor(&mut floor_report);

    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let repo = format!("{}/team/app", reg.host);
    let key = admit_testkit::OpensslKey::generate("p256");
    let payload = json!({"critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature"}, "optional": null})
    .to_string()
    .into_bytes();
    let sig = key.sign(admit_testkit::SigMode::Dgst("sha256"), &payload);
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "dev.cosignproject.cosign/signature".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(sig)),
    );
    reg.push_cosign("team/app", &digest, &[(payload, annotations)]);
    let docker = reg.docker_config(USER, PASSWORD);
    let body = review("prod", &[format!("{repo}@{digest}")]);

    let mut rows = Vec::new();
    for (label, ttl) in [
        ("warm (lookup cached)", "3600"),
        ("cold (registry every review)", "0"),
    ] {
        let server = BenchServer::start_with(
            true,
            &[
                "--registry-ca-file",
                reg.ca_file().to_str().unwrap(),
                "--docker-config",
                docker.path().to_str().unwrap(),
                "--registry-tag-cache-seconds",
                ttl,
            ],
        );
        server.post(
            "/v1/projects/bench/notes?noteId=release",
            &json!({"attestation": {"hint": {"humanReadableName": "release"}}}),
        );
        server.post(
            "/v1/projects/bench/attestors?attestorId=release",
            &json!({"userOwnedGrafeasNote": {"noteReference": "projects/bench/notes/release",
                "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}, "admitCosign": true}]}}),
        );
        server.put(
            "/v1/projects/bench/policy",
            &json!({"defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION",
                "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG", "requireAttestationsBy": ["projects/bench/attestors/release"]}}),
        );
        // One review first, so the warm rows start warm, and it must be admitted.
        assert!(server.admitted(&body), "the signed image was not admitted");
        for c in [1u32, 16, 64] {
            let before = misses(&server);
            let r = wrk(&server.webhook_url(), &body, c, secs);
            let reviews = r.rps * secs as f64;
            let calls = (misses(&server) - before) / reviews.max(1.0);
            rows.push(format!(
                "{:<30} {:>4} {:>9.0} {:>8.2} {:>9.2} {:>9.2} {:>10.2} {:>14.3} {:>6}",
                label,
                c,
                r.rps,
                r.rps / floor,
                r.p50_us / 1e3,
                r.p99_us / 1e3,
                r.p999_us / 1e3,
                calls,
                r.errors
            ));
        }
    }
    println!("P-256 verify rate (one core): {floor:.0}/s\n");
    println!(
        "## Admission of a cosign-signed image (1 image × 1 cosign key; wrk, {secs}s per row; latency in ms)\n"
    );
    println!(
        "{:<30} {:>4} {:>9} {:>8} {:>9} {:>9} {:>10} {:>14} {:>6}",
        "server", "conc", "req/s", "× P-256", "p50", "p99", "p99.9", "registry/review", "errors"
    );
    for r in rows {
        println!("{r}");
    }
}
