//! Issue 20, part 2: OTLP export. `admit serve --otlp-endpoint` sends its spans over OTLP/gRPC
//! to a receiver the test starts: oteltest's otelsink from PyPI, which decodes each Export
//! request with the official `opentelemetry-proto` messages (`tests/data/otlp/sink.py`; no
//! OpenTelemetry Collector, Jaeger or Tempo is installable here). The test checks what a
//! tracing backend would show: a review's spans in the caller's trace (W3C `traceparent`, as
//! kube-apiserver sends to webhooks), the parent chain from the server span to the review and
//! its stages, the review's uid, the resource, the standard `OTEL_*` variables, the caller's
//! sampling decision, and TLS to the collector verified against `--otlp-ca-file`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use support::{Server, path_str};

const PINS: &[&str] = &[
    "oteltest==0.49.0",
    "opentelemetry-proto==1.45.2",
    "protobuf==7.36.2",
    "grpcio==1.85.3",
];

/// The virtualenv with the pinned libraries.
fn venv() -> PathBuf {
    support::python_venv("otel-sink", PINS)
}

/// The running receiver and every Export request it printed.
struct Sink {
    child: Child,
    addr: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// One exported span, flattened: ids in hex, attributes as a map, its resource's attributes.
#[derive(Debug, Clone)]
struct Span {
    trace: String,
    id: String,
    parent: Option<String>,
    name: String,
    kind: String,
    attrs: serde_json::Map<String, Value>,
    resource: serde_json::Map<String, Value>,
}

fn hex(b64: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 id")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// OTLP attributes (`[{key, value: {stringValue|intValue|…}}]`) as a map of plain values.
fn attributes(list: &Value) -> serde_json::Map<String, Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let v = a["value"]
                .as_object()
                .and_then(|o| o.values().next().cloned());
            (
                a["key"].as_str().unwrap().to_owned(),
                v.unwrap_or(Value::Null),
            )
        })
        .collect()
}

impl Sink {
    fn start(tls: Option<(&Path, &Path)>) -> Sink {
        let python = venv();
        let mut cmd = Command::new(python);
        cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/otlp/sink.py"));
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OTLP sink");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("otlp sink listening on ")
            .unwrap_or_else(|| panic!("sink said {first:?}"))
            .to_owned();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).is_ok_and(|n| n > 0) {
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).expect("sink JSON"));
                line.clear();
            }
        });
        Sink {
            child,
            addr,
            requests,
        }
    }

    fn spans(&self) -> Vec<Span> {
        let mut spans = Vec::new();
        for r in self.requests.lock().unwrap().iter() {
            assert_eq!(r["signal"], "traces", "admit exports traces only: {r}");
            for rs in r["pbreq"]["resourceSpans"].as_array().unwrap() {
                let resource = attributes(&rs["resource"]["attributes"]);
                for ss in rs["scopeSpans"].as_array().unwrap() {
                    assert_eq!(ss["scope"]["name"], "admit");
                    for s in ss["spans"].as_array().unwrap() {
                        spans.push(Span {
                            trace: hex(s["traceId"].as_str().unwrap()),
                            id: hex(s["spanId"].as_str().unwrap()),
                            parent: s["parentSpanId"].as_str().map(hex),
                            name: s["name"].as_str().unwrap().to_owned(),
                            kind: s["kind"].as_str().unwrap().to_owned(),
                            attrs: attributes(&s["attributes"]),
                            resource: resource.clone(),
                        });
                    }
                }
            }
        }
        spans
    }

    /// Waits (up to 20 s: the batch exporter sends every 5 s) for a span satisfying `want`.
    fn wait_for(&self, what: &str, want: impl Fn(&Span) -> bool) -> Span {
        let start = Instant::now();
        loop {
            if let Some(s) = self.spans().into_iter().find(|s| want(s)) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {what} among {:#?}",
                self.spans()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pod_review(uid: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "web", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                   "spec": {"containers": [{"name": "c", "image": "gcr.io/x/y:1"}]}}}})
}

/// POSTs a review to the webhook with a `traceparent` header, as kube-apiserver does when its
/// tracing is on.
fn review_in_trace(s: &Server, review: &Value, traceparent: &str) -> Value {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(s.data.path().join("ca.crt"))
        .args(["-H", "Content-Type: application/json"])
        .args(["-H", &format!("traceparent: {traceparent}")])
        .args(["--data-binary", &review.to_string()])
        .arg(format!(
            "{}/validate?timeout=10s",
            s.webhook.as_ref().unwrap()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_review_is_exported_inside_the_callers_trace_with_its_stages() {
    let sink = Sink::start(None);
    let endpoint = format!("http://{}", sink.addr);
    let s = Server::start_webhook_env(
        &["--otlp-endpoint", &endpoint],
        &[
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=platform-team"),
            ("OTEL_RESOURCE_ATTRIBUTES", "k8s.cluster.name=test-cluster"),
        ],
    );

    // The caller decided not to sample this one: nothing of it may be exported.
    let unsampled = "5d0c3e1f0a9b8c7d6e5f4a3b2c1d0e9f";
    let r = review_in_trace(
        &s,
        &pod_review("otlp-unsampled"),
        &format!("00-{unsampled}-1111111111111111-00"),
    );
    assert_eq!(r["response"]["uid"], "otlp-unsampled");

    let trace = "0af7651916cd43dd8448eb211c80319c";
    let caller = "b7ad6b7169203331";
    let r = review_in_trace(
        &s,
        &pod_review("otlp-review-1"),
        &format!("00-{trace}-{caller}-01"),
    );
    assert_eq!(r["response"]["uid"], "otlp-review-1");
    // An API call without trace context starts a trace of its own.
    s.curl("GET", "/v1/projects/my-proj/policy", None);

    // The server span continues the caller's trace.
    let server = sink.wait_for("server span of the review", |sp| {
        sp.trace == trace && sp.name == "POST /validate"
    });
    assert_eq!(server.parent.as_deref(), Some(caller), "{server:#?}");
    assert_eq!(server.kind, "SPAN_KIND_SERVER");
    assert_eq!(server.attrs["http.request.method"], "POST");
    assert_eq!(server.attrs["http.response.status_code"], "200");

    // The review is its child and carries the uid the API server logs.
    let review = sink.wait_for("admission_review span", |sp| {
        sp.trace == trace && sp.name == "admission_review"
    });
    assert_eq!(review.parent.as_deref(), Some(server.id.as_str()));
    assert_eq!(review.attrs["uid"], "otlp-review-1", "{review:#?}");
    assert_eq!(review.attrs["namespace"], "prod");

    // Its stages hang below it: decide, the policy evaluation and the audit record.
    let spans = sink.spans();
    let in_trace: Vec<&Span> = spans.iter().filter(|sp| sp.trace == trace).collect();
    let under_review = |sp: &Span| {
        let mut at = sp.parent.clone();
        while let Some(p) = at {
            if p == review.id {
                return true;
            }
            at = in_trace
                .iter()
                .find(|x| x.id == p)
                .and_then(|x| x.parent.clone());
        }
        false
    };
    for stage in ["decide", "evaluate_admission", "record"] {
        let sp = sink.wait_for(stage, |sp| sp.trace == trace && sp.name == stage);
        assert!(
            under_review(&sp),
            "{stage} is not below the review: {in_trace:#?}"
        );
    }

    // The API call: a root server span with the API's request span below it.
    let api = sink.wait_for("API server span", |sp| {
        sp.name == "GET /v1/projects/my-proj/policy"
    });
    assert_eq!(api.parent, None, "{api:#?}");
    assert_ne!(api.trace, trace);
    let request = sink.wait_for("API request span", |sp| {
        sp.name == "request" && sp.parent.as_deref() == Some(api.id.as_str())
    });
    assert_eq!(request.attrs["path"], "/v1/projects/my-proj/policy");

    // The resource, and the standard variables the exporter honours.
    assert_eq!(review.resource["service.name"], "admit");
    assert_eq!(
        review.resource["service.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(review.resource["k8s.cluster.name"], "test-cluster");
    for r in sink.requests.lock().unwrap().iter() {
        assert_eq!(
            r["headers"]["x-tenant"], "platform-team",
            "{}",
            r["headers"]
        );
    }

    // Nothing of the unsampled trace, although its review was answered first.
    assert!(
        sink.spans().iter().all(|sp| sp.trace != unsampled),
        "the caller's sampling decision was ignored"
    );
}

#[test]
fn spans_reach_a_tls_collector_trusted_through_the_ca_file_only() {
    // A CA and a certificate for 127.0.0.1, as the webhook gets them.
    let certs = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["webhook-cert", "--san", "127.0.0.1", "--out-dir"])
        .arg(certs.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let (ca, cert, key) = (
        certs.path().join("ca.crt"),
        certs.path().join("tls.crt"),
        certs.path().join("tls.key"),
    );

    // Not trusted by the system's roots: nothing is delivered, and the log says why.
    let sink = Sink::start(Some((&cert, &key)));
    let endpoint = format!("https://{}", sink.addr);
    let untrusted = Server::start_args(&["--otlp-endpoint", &endpoint, "--log", "warn"]);
    untrusted.curl("GET", "/v1/projects/p/policy", None);
    let start = Instant::now();
    while !untrusted
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("opentelemetry") && l.to_lowercase().contains("export"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no export failure logged: {:?}",
            untrusted.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        sink.spans().is_empty(),
        "spans went to an untrusted collector"
    );
    drop(untrusted);

    // With the CA file, the same collector receives them.
    let trusted = Server::start_args(&[
        "--otlp-endpoint",
        &endpoint,
        "--otlp-ca-file",
        path_str(&ca),
    ]);
    trusted.curl("GET", "/v1/projects/p/policy", None);
    let sp = sink.wait_for("server span over TLS", |sp| {
        sp.name == "GET /v1/projects/p/policy"
    });
    assert_eq!(sp.kind, "SPAN_KIND_SERVER");
}

#[test]
fn bad_otlp_settings_are_refused_at_start_naming_the_flag() {
    for (args, want) in [
        (
            vec!["--otlp-endpoint", "collector:4317"],
            "--otlp-endpoint `collector:4317`: must start with http:// or https://",
        ),
        (
            vec![
                "--otlp-endpoint",
                "http://127.0.0.1:4317",
                "--otlp-sample-ratio",
                "1.5",
            ],
            "--otlp-sample-ratio 1.5: must be between 0.0 and 1.0",
        ),
        (
            vec![
                "--otlp-endpoint",
                "http://127.0.0.1:4317",
                "--otlp-filter",
                "admit=loud",
            ],
            "--otlp-filter / ADMIT_OTLP_FILTER `admit=loud`",
        ),
        (
            vec![
                "--otlp-endpoint",
                "http://127.0.0.1:4317",
                "--otlp-ca-file",
                "/nonexistent",
            ],
            "--otlp-ca-file needs an https:// --otlp-endpoint",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = support::stderr(&out);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_grpc_call_continues_the_trace_in_its_metadata() {
    let sink = Sink::start(None);
    let endpoint = format!("http://{}", sink.addr);
    let s = Server::start_args(&["--otlp-endpoint", &endpoint, "--grpc-listen", "127.0.0.1:0"]);
    let start = Instant::now();
    let addr = loop {
        let found = s.stdout.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("admit grpc listening on grpc://")
                .map(str::to_owned)
        });
        if let Some(a) = found {
            break a;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no gRPC line");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    // GetPolicyRequest { name: "projects/p/policy" }, as protobuf.
    let name = b"projects/p/policy";
    let mut body = vec![0x0a, u8::try_from(name.len()).unwrap()];
    body.extend_from_slice(name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut g = tonic::client::Grpc::new(channel);
        g.ready().await.unwrap();
        let mut req = tonic::Request::new(body);
        req.metadata_mut().insert(
            "traceparent",
            format!("00-{trace}-{caller}-01").parse().unwrap(),
        );
        g.unary(
            req,
            tonic::codegen::http::uri::PathAndQuery::from_static(
                "/google.cloud.binaryauthorization.v1.BinauthzManagementServiceV1/GetPolicy",
            ),
            admit_grpc::RawCodec,
        )
        .await
    });
    assert!(answer.is_ok(), "{answer:?}");
    let sp = sink.wait_for("the gRPC call's server span", |sp| {
        sp.trace == trace && sp.kind == "SPAN_KIND_SERVER"
    });
    assert_eq!(sp.name, "GET /v1/projects/p/policy");
    assert_eq!(sp.parent.as_deref(), Some(caller), "{sp:#?}");
}

#[test]
fn spans_still_queued_at_shutdown_are_delivered_before_exit() {
    let sink = Sink::start(None);
    let endpoint = format!("http://{}", sink.addr);
    let mut s = Server::start_args(&["--otlp-endpoint", &endpoint]);
    s.curl("GET", "/v1/projects/last-words/policy", None);
    // The batch exporter sends every 5 s; stop the server well before that.
    s.signal("TERM");
    let st = s.wait_exit(Duration::from_secs(20)).expect("admit exits");
    assert!(st.success(), "{st:?}");
    // The sink prints each request as it decodes it; give its reader thread a moment.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        sink.spans()
            .iter()
            .any(|sp| sp.name == "GET /v1/projects/last-words/policy"),
        "the span queued at shutdown was lost: {:#?}",
        sink.spans()
    );
}
