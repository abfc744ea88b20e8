//! gRPC against REST on the same server, per call: an attestation lookup (Grafeas
//! `ListOccurrences` with the filter Kritis and voucher send) and a Cloud KMS `AsymmetricSign`
//! (P-256), each sequentially (c=1, latency) and from 16 concurrent callers (throughput), over
//! one keep-alive connection per caller. REST with reqwest (HTTP/1.1), gRPC with tonic (HTTP/2,
//! cleartext on loopback). Figures are ratios to the P-256 verify rate of the same run.
//!
//! Run: `cargo bench -p admit --bench grpc`. Knob: ADMIT_BENCH_SECONDS (per concurrent row,
//! default 3).

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

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use platform_support::*;
use serde_json::json;
use support::{Server, digest};
use tonic::codegen::http::uri::PathAndQuery;

const P: &str = "bench-proj";

/// grafeas.v1.ListOccurrencesRequest.
#[derive(Clone, PartialEq, prost::Message)]
struct ListOccurrencesRequest {
    #[prost(string, tag = "1")]
    parent: String,
    #[prost(string, tag = "2")]
    filter: String,
}

/// grafeas.v1.Occurrence, its name only (the rest is skipped on decode).
#[derive(Clone, PartialEq, prost::Message)]
struct Occurrence {
    #[prost(string, tag = "1")]
    name: String,
}

/// grafeas.v1.ListOccurrencesResponse.
#[derive(Clone, PartialEq, prost::Message)]
struct ListOccurrencesResponse {
    #[prost(message, repeated, tag = "1")]
    occurrences: Vec<Occurrence>,
}

/// google.cloud.kms.v1.Digest.
#[derive(Clone, PartialEq, prost::Message)]
struct Digest {
    #[prost(bytes = "vec", tag = "1")]
    sha256: Vec<u8>,
}

/// google.cloud.kms.v1.AsymmetricSignRequest.
#[derive(Clone, PartialEq, prost::Message)]
struct AsymmetricSignRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "3")]
    digest: Option<Digest>,
}

/// google.cloud.kms.v1.AsymmetricSignResponse, the signature only.
#[derive(Clone, PartialEq, prost::Message)]
struct AsymmetricSignResponse {
    #[prost(bytes = "vec", tag = "1")]
    signature: Vec<u8>,
}

/// One call, by transport.
#[derive(Clone)]
enum Call {
    RestLookup(reqwest::Client, String),
    RestSign(reqwest::Client, String, serde_json::Value),
    GrpcLookup(
        tonic::client::Grpc<tonic::transport::Channel>,
        ListOccurrencesRequest,
    ),
    GrpcSign(
        tonic::client::Grpc<tonic::transport::Channel>,
        AsymmetricSignRequest,
    ),
}

impl Call {
    async fn once(&mut self) {
        match self {
            Call::RestLookup(c, url) => {
                let v: serde_json::Value = c
                    .get(url.as_str())
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(v["occurrences"].as_array().map(Vec::len), Some(1), "{v}");
            }
            Call::RestSign(c, url, body) => {
                let v: serde_json::Value = c
                    .post(url.as_str())
                    .json(body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(v["signature"].is_string(), "{v}");
            }
            Call::GrpcLookup(g, req) => {
                g.ready().await.unwrap();
                let r: tonic::Response<ListOccurrencesResponse> = g
                    .unary(
                        tonic::Request::new(req.clone()),
                        PathAndQuery::from_static("/grafeas.v1.Grafeas/ListOccurrences"),
                        tonic_prost::ProstCodec::default(),
                    )
                    .await
                    .unwrap();
                assert_eq!(r.get_ref().occurrences.len(), 1);
            }
            Call::GrpcSign(g, req) => {
                g.ready().await.unwrap();
                let r: tonic::Response<AsymmetricSignResponse> = g
                    .unary(
                        tonic::Request::new(req.clone()),
                        PathAndQuery::from_static(
                            "/google.cloud.kms.v1.KeyManagementService/AsymmetricSign",
                        ),
                        tonic_prost::ProstCodec::default(),
                    )
                    .await
                    .unwrap();
                assert!(!r.get_ref().signature.is_empty());
            }
        }
    }
}

/// Sequential calls: (calls/s, p50 ms, p99 ms).
async fn sequential(call: &mut Call, n: usize) -> (f64, f64, f64) {
    for _ in 0..50 {
        call.once().await;
    }
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        call.once().await;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    (rate, lat[n / 2], lat[n * 99 / 100])
}

/// `c` callers for `secs`: calls/s.
async fn concurrent(make: impl Fn() -> Call, c: usize, secs: u64) -> f64 {
    let until = Instant::now() + Duration::from_secs(secs);
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..c {
        let mut call = make();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                call.once().await;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(std::sync::atomic::Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let secs: u64 = env_or("ADMIT_BENCH_SECONDS", 3);
    let mut report = Report::default();
    let floor = crypto_floor(&mut report);

    let s = Server::start_args(&["--grpc-listen", "127.0.0.1:0"]);
    let grpc_addr = {
        let start = Instant::now();
        loop {
            if let Some(a) = s
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix("admit grpc listening on grpc://"))
            {
                break a.to_owned();
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no gRPC line");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // An attestation to look up, and a signing key.
    let signer = Signer::new();
    let note = format!("projects/{P}/notes/ci");
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let image = format!("us-docker.pkg.dev/{P}/app/web@{}", digest("bench"));
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(&signer.attestation(&image, &note).to_string()),
    );
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/locations/global/keyRings?keyRingId=bench"),
        Some("{}"),
    );
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/locations/global/keyRings/bench/cryptoKeys?cryptoKeyId=signer"),
        Some(r#"{"purpose":"ASYMMETRIC_SIGN","versionTemplate":{"algorithm":"EC_SIGN_P256_SHA256"}}"#),
    );
    let version = format!(
        "projects/{P}/locations/global/keyRings/bench/cryptoKeys/signer/cryptoKeyVersions/1"
    );
    let filter = format!("kind=\"ATTESTATION\" AND resourceUrl=\"https://{image}\"");
    let sha = admit_crypto::sha256(b"payload");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = s.url.clone();
    let rows = rt.block_on(async {
        let rest = || reqwest::Client::builder().build().unwrap();
        let lookup_url = format!(
            "{url}/v1/projects/{P}/occurrences?filter={}",
            percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC)
        );
        let sign_url = format!("{url}/v1/{version}:asymmetricSign");
        let sign_body =
            json!({"digest": {"sha256": base64::engine::general_purpose::STANDARD.encode(sha)}});
        let channel = || {
            let ep =
                tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}")).unwrap();
            tonic::client::Grpc::new(ep.connect_lazy())
        };
        let lookup_req = ListOccurrencesRequest {
            parent: format!("projects/{P}"),
            filter: filter.clone(),
        };
        let sign_req = AsymmetricSignRequest {
            name: version.clone(),
            digest: Some(Digest {
                sha256: sha.to_vec(),
            }),
        };
        let mut rows = Vec::new();
        for (what, transport) in [
            ("attestation lookup (ListOccurrences)", "REST"),
            ("attestation lookup (ListOccurrences)", "gRPC"),
            ("AsymmetricSign, EC P-256", "REST"),
            ("AsymmetricSign, EC P-256", "gRPC"),
        ] {
            let make = || match (what.starts_with("attestation"), transport) {
                (true, "REST") => Call::RestLookup(rest(), lookup_url.clone()),
                (true, _) => Call::GrpcLookup(channel(), lookup_req.clone()),
                (false, "REST") => Call::RestSign(rest(), sign_url.clone(), sign_body.clone()),
                (false, _) => Call::GrpcSign(channel(), sign_req.clone()),
            };
            let (rate1, p50, p99) = sequential(&mut make(), 2000).await;
            let rate16 = concurrent(make, 16, secs).await;
            rows.push((what, transport, rate1, p50, p99, rate16));
        }
        rows
    });
    println!("P-256 verify rate this run: {floor:.0}/s\n");
    println!(
        "| call | transport | c=1 calls/s | ×P-256 | p50 ms | p99 ms | c=16 calls/s | ×P-256 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (what, transport, rate1, p50, p99, rate16) in rows {
        println!(
            "| {what} | {transport} | {rate1:.0} | {:.3} | {p50:.3} | {p99:.3} | {rate16:.0} | {:.3} |",
            rate1 / floor,
            rate16 / floor
        );
    }
}
