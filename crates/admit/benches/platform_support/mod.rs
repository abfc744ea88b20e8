//! The pieces of the platform benchmark: key material, a real `admit serve` with its webhook,
//! `wrk`, the in-process store-scale driver, and the report.

#![allow(dead_code, reason = "each bench binary uses part of the shared pieces")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use admit_crypto::{
    MasterKey, PgpKey, PkixKey, SoftwareKeyBackend, create_signature_payload, pkix_key_id,
};
use admit_model::SignatureAlgorithm as A;
use admit_service::{AdmissionRequest, Service};
use admit_store::{OccurrenceScope, Page};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::psql;

pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn digest_of(seed: &str) -> String {
    format!("sha256:{}", hex(&admit_crypto::sha256(seed.as_bytes())))
}

fn pem(der: &[u8]) -> String {
    let b = b64(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// A P-256 attestor key.
pub(crate) struct Signer {
    kp: EcdsaKeyPair,
    pub(crate) pem: String,
    pub(crate) id: String,
}

impl Signer {
    pub(crate) fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let kp =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
                .unwrap();
        let spki = kp.public_key().as_der().unwrap();
        Signer {
            pem: pem(spki.as_ref()),
            id: pkix_key_id(spki.as_ref()),
            kp,
        }
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.kp
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    pub(crate) fn attestor(&self, note: &str) -> Value {
        json!({"userOwnedGrafeasNote": {"noteReference": note, "publicKeys": [
            {"pkixPublicKey": {"publicKeyPem": self.pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}})
    }

    /// A signed attestation occurrence of `image` (REPO@DIGEST) under `note`.
    pub(crate) fn attestation(&self, image: &str, note: &str) -> Value {
        let payload = create_signature_payload(image).unwrap();
        json!({"resourceUri": format!("https://{image}"), "noteName": note, "kind": "ATTESTATION",
               "attestation": {"serializedPayload": b64(payload.as_bytes()),
                               "signatures": [{"publicKeyId": self.id, "signature": b64(&self.sign(payload.as_bytes()))}]}})
    }
}

/// Operations per second of `f` over about 0.7 s.
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(700) {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Verifications per second with the backends admit uses; returns the P-256 rate.
pub(crate) fn crypto_floor(out: &mut Report) -> f64 {
    let msg = create_signature_payload(&format!("gcr.io/p/app@{}", digest_of("floor"))).unwrap();
    let msg = msg.as_bytes();
    let mut p256 = 0.0;
    for (name, kind, alg, mode) in [
        (
            "ECDSA P-256 SHA-256",
            "p256",
            A::EcdsaP256Sha256,
            admit_testkit::SigMode::Dgst("sha256"),
        ),
        (
            "ECDSA P-384 SHA-384",
            "p384",
            A::EcdsaP384Sha384,
            admit_testkit::SigMode::Dgst("sha384"),
        ),
        (
            "RSA-2048 PKCS#1 SHA-256",
            "rsa2048",
            A::RsaSignPkcs12048Sha256,
            admit_testkit::SigMode::Dgst("sha256"),
        ),
        (
            "RSA-2048 PSS SHA-256",
            "rsa2048",
            A::RsaPss2048Sha256,
            admit_testkit::SigMode::Pss("sha256"),
        ),
        (
            "Ed25519",
            "ed25519",
            A::EcSignEd25519,
            admit_testkit::SigMode::Raw,
        ),
    ] {
        let k = admit_testkit::OpensslKey::generate(kind);
        let key = PkixKey::from_pem(&k.public_pem, alg).unwrap();
        let sig = k.sign(mode, msg);
        key.verify(msg, &sig).unwrap();
        let r = rate(|| {
            key.verify(std::hint::black_box(msg), &sig).unwrap();
        });
        if p256 == 0.0 {
            p256 = r;
        }
        out.floor.push((format!("verify {name}"), r));
    }
    let gpg = admit_testkit::Gpg::new();
    for (uid, algo) in [("ed@bench", "ed25519"), ("rsa@bench", "rsa2048")] {
        gpg.generate(uid, algo, "sign");
        let key = PgpKey::from_armored(&gpg.export(uid)).unwrap();
        let sig = gpg.sign(uid, &["--armor", "--sign"], msg);
        key.verify(&sig, msg).unwrap();
        let r = rate(|| {
            key.verify(std::hint::black_box(&sig), msg).unwrap();
        });
        out.floor
            .push((format!("verify OpenPGP {algo} (gpg --sign, armored)"), r));
    }
    out.p256 = p256;
    p256
}

/// A running `admit serve` with the webhook, on SQLite.
pub(crate) struct BenchServer {
    child: Child,
    api: String,
    webhook: String,
    ca: std::path::PathBuf,
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Fixture {
    pub(crate) one: String,
    pub(crate) ten: String,
}

pub(crate) fn review(namespace: &str, images: &[String]) -> String {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "operation": "CREATE",
        "namespace": namespace, "name": "web", "userInfo": {"username": "bench"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": namespace},
                   "spec": {"serviceAccountName": "default", "containers": containers}}}})
    .to_string()
}

impl BenchServer {
    pub(crate) fn start(cache: bool) -> BenchServer {
        Self::start_with(cache, &[])
    }

    /// [`BenchServer::start`] with extra `admit serve` flags.
    pub(crate) fn start_with(cache: bool, extra: &[&str]) -> BenchServer {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        let out = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["webhook-cert", "--san", "127.0.0.1", "--out-dir"])
            .arg(&certs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_admit"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-listen",
            "127.0.0.1:0",
            "--project",
            "bench",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(certs.join("tls.crt"))
        .arg("--tls-key")
        .arg(certs.join("tls.key"))
        .env("ADMIT_LOG", "warn")
        .env(
            "ADMIT_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if !cache {
            cmd.arg("--no-admission-cache");
        }
        cmd.args(extra);
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let mut child = cmd.spawn().unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let api = line
            .trim()
            .strip_prefix("admit listening on ")
            .unwrap()
            .to_owned();
        line.clear();
        reader.read_line(&mut line).unwrap();
        let webhook = line
            .trim()
            .strip_prefix("admit webhook listening on ")
            .unwrap()
            .to_owned();
        // Audit lines go to stdout: drain them as a log shipper would.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        BenchServer {
            child,
            api,
            webhook,
            ca: certs.join("ca.crt"),
            _dir: dir,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.api);
        self.rt.block_on(async {
            let r = self.http.post(&url).json(body).send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert!(status.is_success(), "POST {path}: {status} {v}");
            v
        })
    }

    /// POSTs `body` to the webhook (curl, the server's CA) and says whether it was admitted.
    pub(crate) fn admitted(&self, body: &str) -> bool {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&self.ca)
            .args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ])
            .arg(self.webhook_url())
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "webhook answer: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        v["response"]["allowed"] == true
    }

    /// GET `path` of the API as text (e.g. `/metrics`).
    pub(crate) fn get_text(&self, path: &str) -> String {
        let url = format!("{}{path}", self.api);
        self.rt.block_on(async {
            self.http
                .get(&url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }

    pub(crate) fn put(&self, path: &str, body: &Value) {
        let url = format!("{}{path}", self.api);
        self.rt.block_on(async {
            let r = self.http.put(&url).json(body).send().await.unwrap();
            assert!(r.status().is_success(), "PUT {path}: {}", r.status());
        });
    }

    /// Three attestors, a policy requiring one of them in namespace `one` and all three in
    /// `ten`, ten images each attested by all three.
    pub(crate) fn populate_admission_fixture(&self) -> Fixture {
        let signers: Vec<Signer> = (0..3).map(|_| Signer::new()).collect();
        for (i, s) in signers.iter().enumerate() {
            let note = format!("projects/bench/notes/n{i}");
            self.post(
                &format!("/v1/projects/bench/notes?noteId=n{i}"),
                &json!({"attestation": {"hint": {"humanReadableName": "bench"}}}),
            );
            self.post(
                &format!("/v1/projects/bench/attestors?attestorId=a{i}"),
                &s.attestor(&note),
            );
        }
        let rule = |n: usize| {
            json!({"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
            "requireAttestationsBy": (0..n).map(|i| format!("projects/bench/attestors/a{i}")).collect::<Vec<_>>()})
        };
        self.put("/v1/projects/bench/policy", &json!({"globalPolicyEvaluationMode": "ENABLE",
            "defaultAdmissionRule": {"evaluationMode": "ALWAYS_DENY", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"},
            "kubernetesNamespaceAdmissionRules": {"one": rule(1), "ten": rule(3)}}));
        let images: Vec<String> = (0..10)
            .map(|i| {
                format!(
                    "us-docker.pkg.dev/bench/app/svc{i}@{}",
                    digest_of(&format!("svc{i}"))
                )
            })
            .collect();
        let mut occs = Vec::new();
        for im in &images {
            for (i, s) in signers.iter().enumerate() {
                occs.push(s.attestation(im, &format!("projects/bench/notes/n{i}")));
            }
        }
        self.post(
            "/v1/projects/bench/occurrences:batchCreate",
            &json!({"occurrences": occs}),
        );
        let f = Fixture {
            one: review("one", &images[..1]),
            ten: review("ten", &images),
        };
        for body in [&f.one, &f.ten] {
            let out = Command::new("curl")
                .args(["-sS", "--cacert"])
                .arg(&self.ca)
                .args([
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    body,
                    &self.webhook_url(),
                ])
                .output()
                .expect("curl");
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                v["response"]["allowed"], true,
                "the benchmark reviews must be admitted: {v}"
            );
        }
        f
    }

    /// Starts `perf record` on the server for `secs` seconds; returns the running recorder and
    /// its data file.
    pub(crate) fn perf_record(&self, secs: u64) -> (Child, std::path::PathBuf) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = self._dir.path().join(format!("perf-{n}.data"));
        // ADMIT_BENCH_PERF_CALLGRAPH=dwarf for callers through code without frame pointers.
        let graph = std::env::var("ADMIT_BENCH_PERF_CALLGRAPH").unwrap_or_else(|_| "fp".into());
        let child = Command::new("perf")
            .args(["record", "-F", "499", "--call-graph", &graph, "-o"])
            .arg(&data)
            .args([
                "-p",
                &self.child.id().to_string(),
                "--",
                "sleep",
                &secs.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("perf (apt-get install -y linux-perf)");
        (child, data)
    }

    pub(crate) fn webhook_url(&self) -> String {
        format!("{}/validate?timeout=10s", self.webhook)
    }

    /// The webhook listener's `/healthz`: TLS and HTTP and nothing else (the protocol floor).
    /// Audit records written and group commits made so far (`admit_audit_batch_records`).
    pub(crate) fn audit_commits(&self) -> (f64, f64) {
        let text = self.get_text("/metrics");
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (
            value("admit_audit_batch_records_sum "),
            value("admit_audit_batch_records_count "),
        )
    }

    pub(crate) fn healthz_url(&self) -> String {
        format!("{}/healthz", self.webhook)
    }

    fn status_kib(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    pub(crate) fn hwm_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }
}

/// Where the server's CPU went, by shared object and by symbol (self time, top entries).
pub(crate) fn perf_report((mut child, data): (Child, std::path::PathBuf)) -> String {
    let _ = child.wait();
    let mut out = String::new();
    // Kept for `perf report -i` with call graphs after the run.
    let kept = std::env::temp_dir().join(data.file_name().expect("a file name"));
    if std::fs::copy(&data, &kept).is_ok() {
        out.push_str(&format!("(perf data kept in {})\n", kept.display()));
    }
    for sort in ["dso", "sym"] {
        let r = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--percent-limit",
                "1.5",
                "--sort",
                sort,
                "-g",
                "none",
                "-i",
            ])
            .arg(&data)
            .output()
            .expect("perf report");
        for l in String::from_utf8_lossy(&r.stdout)
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            out.push_str(l.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// One `wrk` run.
pub(crate) struct WrkResult {
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    pub(crate) errors: u64,
}

/// `wrk -c C -t min(C, 2) -d SECS --latency` POSTing `body`, with a Lua `done` that prints the
/// percentiles wrk's own summary rounds away.
/// `wrk` POSTing `body` to `url` (or GETting it when `body` is empty).
pub(crate) fn wrk(url: &str, body: &str, c: u32, secs: u64) -> WrkResult {
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, body).unwrap();
    let script = dir.path().join("post.lua");
    std::fs::write(
        &script,
        format!(
            r#"{}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %f %f %f %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"#,
            if body.is_empty() {
                String::new()
            } else {
                format!(
                    "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nlocal f = io.open(\"{}\", \"rb\"); wrk.body = f:read(\"*a\"); f:close()",
                    body_file.display()
                )
            }
        ),
    )
    .unwrap();
    let threads = c.min(2);
    let out = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &c.to_string(),
            "-d",
            &format!("{secs}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk is needed: apt-get install -y wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no result: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    WrkResult {
        rps: f[0] / (f[1] / 1e6),
        p50_us: f[2],
        p99_us: f[3],
        p999_us: f[4],
        errors: f[5] as u64,
    }
}

/// Latency percentiles in microseconds.
pub(crate) struct Lat {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) rate: f64,
}

fn lat(mut v: Vec<Duration>, total: Duration) -> Lat {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    Lat {
        p50: at(0.50),
        p99: at(0.99),
        rate: v.len() as f64 / total.as_secs_f64(),
    }
}

/// The store-scale driver: a service over SQLite or PostgreSQL, in process.
pub(crate) struct ScaleBench {
    rt: tokio::runtime::Runtime,
    service: Arc<Service>,
    size: usize,
    probes: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<String>,
}

const IMAGES: usize = 100_000;
const NOTE: &str = "projects/scale/notes/att";

fn filler_image(i: usize) -> String {
    format!(
        "us-docker.pkg.dev/scale/app/svc{}@{}",
        i % 97,
        digest_of(&format!("img{}", i % IMAGES))
    )
}

impl Drop for ScaleBench {
    fn drop(&mut self) {
        if let Some(db) = &self.pg {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

impl ScaleBench {
    pub(crate) fn new(backend: &str) -> ScaleBench {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (store, dir, pg): (Arc<dyn admit_store::Store>, _, _) = match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap();
                let s = rt
                    .block_on(admit_store::SqliteStore::open(dir.path()))
                    .unwrap();
                (Arc::new(s), Some(dir), None)
            }
            "postgres" => {
                let db = format!("admit_bench_{}", std::process::id());
                let out = psql(&format!("CREATE DATABASE {db}"));
                assert!(
                    out.status.success(),
                    "PostgreSQL on 127.0.0.1:5432: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
                let s = rt
                    .block_on(admit_store::PostgresStore::connect(&url))
                    .unwrap();
                (Arc::new(s), None, Some(db))
            }
            other => panic!("unknown backend {other}"),
        };
        let clock: admit_service::Clock = Arc::new(|| {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            (d.as_secs(), d.subsec_nanos())
        });
        let service = Arc::new(Service::new(
            store,
            SoftwareKeyBackend::new(MasterKey::generate().unwrap()),
            clock,
        ));
        let signer = Signer::new();
        let probes: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    "us-docker.pkg.dev/scale/probe/p{i}@{}",
                    digest_of(&format!("probe{i}"))
                )
            })
            .collect();
        rt.block_on(async {
            service.create_note("scale", "att", json!({"attestation": {"hint": {"humanReadableName": "scale"}}})).await.unwrap();
            let attestor: admit_model::Attestor = serde_json::from_value(signer.attestor(NOTE)).unwrap();
            service.create_attestor("scale", "att", attestor).await.unwrap();
            let policy: admit_model::Policy = serde_json::from_value(json!({"globalPolicyEvaluationMode": "ENABLE",
                "defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                "requireAttestationsBy": ["projects/scale/attestors/att"]}})).unwrap();
            service.update_policy("scale", policy).await.unwrap();
            let occs: Vec<Value> = probes.iter().map(|p| signer.attestation(p, NOTE)).collect();
            service.create_occurrences("scale", occs).await.unwrap();
        });
        ScaleBench {
            rt,
            service,
            size: 200,
            probes,
            _dir: dir,
            pg,
        }
    }

    /// Adds filler attestations (valid shape, not valid signatures) spread over 100k images
    /// until the store holds `size`.
    pub(crate) fn grow_to(&mut self, size: usize) {
        let service = self.service.clone();
        let from = self.size;
        self.rt.block_on(async move {
            let mut i = from;
            while i < size {
                let n = (size - i).min(1000);
                let batch: Vec<Value> = (i..i + n)
                    .map(|j| json!({"resourceUri": format!("https://{}", filler_image(j)), "noteName": NOTE, "kind": "ATTESTATION",
                        "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "ni:///sha-256;x", "signature": "c2ln"}]}}))
                    .collect();
                service.create_occurrences("scale", batch).await.unwrap();
                i += n;
            }
        });
        self.size = size;
    }

    /// The lookup admission makes: attestations of one image under the attestor's note. `probes`:
    /// images with exactly one attestation at every size (index growth alone); otherwise random
    /// images of the 100k, whose attestation count grows with the store (10 each at 1M).
    pub(crate) fn lookups(&self, n: usize, probes: bool) -> Lat {
        let service = self.service.clone();
        let probe_images = self.probes.clone();
        self.rt.block_on(async move {
            let image_for = |k: usize| {
                if probes {
                    probe_images[k % probe_images.len()].clone()
                } else {
                    filler_image((k * 7919) % IMAGES)
                }
            };
            // Warm the page cache and let the fill's write-back settle before timing.
            for k in 0..n / 4 {
                let d = image_for(k + 1).rsplit_once('@').unwrap().1.to_owned();
                let filter = format!("has_suffix(resourceUrl, \"{d}\") AND kind = \"ATTESTATION\"");
                let _ = service
                    .list_occurrences(
                        &OccurrenceScope::Note(NOTE.into()),
                        &filter,
                        &Page {
                            size: Page::MAX_SIZE,
                            token: None,
                        },
                    )
                    .await;
            }
            let mut v = Vec::with_capacity(n);
            let start = Instant::now();
            for k in 0..n {
                let image = image_for(k);
                let d = image.rsplit_once('@').unwrap().1.to_owned();
                let filter = format!("has_suffix(resourceUrl, \"{d}\") AND kind = \"ATTESTATION\"");
                let t = Instant::now();
                let l = service
                    .list_occurrences(
                        &OccurrenceScope::Note(NOTE.into()),
                        &filter,
                        &Page {
                            size: Page::MAX_SIZE,
                            token: None,
                        },
                    )
                    .await
                    .unwrap();
                v.push(t.elapsed());
                std::hint::black_box(l);
            }
            lat(v, start.elapsed())
        })
    }

    /// Whole admissions (policy, attestor, lookup, verification — verified results cached as
    /// in a warm server) of the probe images.
    pub(crate) fn admissions(&self, n: usize) -> Lat {
        let service = self.service.clone();
        let probes = self.probes.clone();
        self.rt.block_on(async move {
            let mut v = Vec::with_capacity(n);
            let start = Instant::now();
            for k in 0..n {
                let req = AdmissionRequest {
                    project: "scale".into(),
                    images: vec![probes[k % probes.len()].clone()],
                    context: Default::default(),
                };
                let t = Instant::now();
                let d = service
                    .evaluate_admission(&req, 1_800_000_000)
                    .await
                    .unwrap();
                v.push(t.elapsed());
                assert!(d.allowed, "{}", d.summary());
            }
            lat(v, start.elapsed())
        })
    }
}

/// Collected figures.
#[derive(Default)]
pub(crate) struct Report {
    p256: f64,
    floor: Vec<(String, f64)>,
    admission: Vec<String>,
    memory: Vec<String>,
    profiles: Vec<(String, String)>,
    scale: Vec<String>,
}

impl Report {
    pub(crate) fn admission(
        &mut self,
        label: &str,
        scenario: &str,
        c: u32,
        r: &WrkResult,
        floor: f64,
        records_per_commit: Option<f64>,
    ) {
        self.admission.push(format!(
            "{:<30} {:<24} {:>4} {:>9.0} {:>8.2} {:>9.2} {:>9.2} {:>10.2} {:>6} {:>10}",
            label,
            scenario,
            c,
            r.rps,
            r.rps / floor,
            r.p50_us / 1e3,
            r.p99_us / 1e3,
            r.p999_us / 1e3,
            r.errors,
            records_per_commit.map_or_else(|| "-".to_owned(), |n| format!("{n:.1}"))
        ));
    }

    pub(crate) fn profile(&mut self, what: &str, report: &str) {
        self.profiles.push((what.to_owned(), report.to_owned()));
    }

    pub(crate) fn memory(&mut self, label: &str, idle: u64, after: u64, peak: u64) {
        self.memory.push(format!(
            "{:<30} {:>10.1} {:>14.1} {:>10.1}",
            label,
            idle as f64 / 1024.0,
            after as f64 / 1024.0,
            peak as f64 / 1024.0
        ));
    }

    /// One row: lookups (probe images with one attestation each, then random images) with
    /// their p99 growth against the smallest size, and warm admissions.
    pub(crate) fn scale(
        &mut self,
        backend: &str,
        size: usize,
        fill: Duration,
        lookups: [(&Lat, f64); 2],
        adm: &Lat,
        floor: f64,
    ) {
        let [(probe, probe_base), (any, any_base)] = lookups;
        self.scale.push(format!(
            "{:<9} {:>9} {:>7.1} {:>8.3} {:>8.3} {:>6.2} {:>8.3} {:>8.3} {:>6.2} {:>9.3} {:>9.3} {:>7.2}",
            backend,
            size,
            fill.as_secs_f64(),
            probe.p50 / 1e3,
            probe.p99 / 1e3,
            probe.p99 / probe_base,
            any.p50 / 1e3,
            any.p99 / 1e3,
            any.p99 / any_base,
            adm.p50 / 1e3,
            adm.p99 / 1e3,
            adm.rate / floor
        ));
    }

    pub(crate) fn print(&self, secs: Duration) {
        println!("## Crypto floor (one core, ~0.7 s each)\n");
        println!("{:<52} {:>10} {:>8}", "operation", "ops/s", "× P-256");
        for (n, r) in &self.floor {
            println!("{n:<52} {r:>10.0} {:>8.2}", r / self.p256);
        }
        println!(
            "\n## Admission over HTTPS on loopback (wrk, {}s per row; latency in ms)\n",
            secs.as_secs()
        );
        println!(
            "{:<30} {:<24} {:>4} {:>9} {:>8} {:>9} {:>9} {:>10} {:>6} {:>10}",
            "server",
            "review",
            "conc",
            "req/s",
            "× P-256",
            "p50",
            "p99",
            "p99.9",
            "errors",
            "rec/commit"
        );
        for l in &self.admission {
            println!("{l}");
        }
        for (what, report) in &self.profiles {
            println!("\n### CPU profile of the server: {what} (perf, self time)\n\n{report}");
        }
        println!("\n## Server memory (MiB)\n");
        println!(
            "{:<30} {:>10} {:>14} {:>10}",
            "server", "idle RSS", "RSS after load", "peak RSS"
        );
        for l in &self.memory {
            println!("{l}");
        }
        println!(
            "\n## Store scale (in process; latency in ms; lookups of images with one attestation, then of random images of the 100k; admissions warm)\n"
        );
        println!(
            "{:<9} {:>9} {:>7} {:>8} {:>8} {:>6} {:>8} {:>8} {:>6} {:>9} {:>9} {:>7}",
            "backend",
            "occurr.",
            "fill s",
            "1-att p50",
            "p99",
            "growth",
            "any p50",
            "p99",
            "growth",
            "admit p50",
            "p99",
            "× P-256"
        );
        for l in &self.scale {
            println!("{l}");
        }
    }
}
