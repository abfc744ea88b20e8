//! Issue 16, part 3: gRPC beyond what the Python libraries cover — Grafeas and Container
//! Analysis v1beta1 (served since issue 13), called with tonic and messages built at run time
//! from the published descriptors, as a Go or Java tool built on the v1beta1 stubs (Kritis)
//! sends them. What is written over gRPC v1beta1 reads back the same over REST v1 and gRPC v1;
//! errors carry the status and a google.rpc.Status detail.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{Value, json};
use support::{Server, digest};

const P: &str = "wire-proj";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A gRPC caller for any served method: JSON in, JSON out (or the status and its details).
struct Caller {
    pool: DescriptorPool,
    addr: String,
    rt: tokio::runtime::Runtime,
}

impl Caller {
    fn call(&self, path: &str, request: Value) -> Result<Value, (tonic::Code, String, Value)> {
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap();
        let m = self
            .pool
            .get_service_by_name(service)
            .unwrap()
            .methods()
            .find(|m| m.name() == method)
            .unwrap();
        let msg = DynamicMessage::deserialize(m.input(), request).unwrap();
        let body = msg.encode_to_vec();
        let out = self.rt.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut g = tonic::client::Grpc::new(channel);
            g.ready().await.unwrap();
            g.unary(
                tonic::Request::new(body),
                tonic::codegen::http::uri::PathAndQuery::try_from(path).unwrap(),
                admit_grpc::RawCodec,
            )
            .await
        });
        match out {
            Ok(r) => {
                let d = DynamicMessage::decode(m.output(), r.get_ref().as_slice()).unwrap();
                Ok(d.serialize_with_options(
                    serde_json::value::Serializer,
                    &SerializeOptions::new(),
                )
                .unwrap())
            }
            Err(status) => {
                let rpc = self.pool.get_message_by_name("google.rpc.Status").unwrap();
                let details = DynamicMessage::decode(rpc, status.details())
                    .unwrap()
                    .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
                    .unwrap();
                Err((status.code(), status.message().to_owned(), details))
            }
        }
    }
}

#[test]
fn grafeas_and_container_analysis_v1beta1_over_grpc() {
    let s = Server::start_args(&["--grpc-listen", "127.0.0.1:0"]);
    let start = std::time::Instant::now();
    let addr = loop {
        if let Some(a) = s
            .stdout
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.strip_prefix("admit grpc listening on grpc://"))
        {
            break a.to_owned();
        }
        assert!(start.elapsed().as_secs() < 10, "no gRPC line");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let c = Caller {
        pool: admit_grpc::Gateway::descriptors().unwrap(),
        addr,
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    };

    // A v1beta1 attestation authority note, as Kritis creates one.
    let note = c
        .call(
            "/grafeas.v1beta1.GrafeasV1Beta1/CreateNote",
            json!({"parent": format!("projects/{P}"), "noteId": "kritis-authority",
                   "note": {"shortDescription": "Kritis", "attestationAuthority": {"hint": {"humanReadableName": "Kritis"}}}}),
        )
        .unwrap();
    assert_eq!(
        note["name"],
        format!("projects/{P}/notes/kritis-authority"),
        "{note}"
    );
    assert_eq!(note["kind"], "ATTESTATION", "{note}");
    // The same note over REST v1 and gRPC v1.
    let rest = s.curl(
        "GET",
        &format!("/v1/projects/{P}/notes/kritis-authority"),
        None,
    );
    assert_eq!(
        rest["attestation"]["hint"]["humanReadableName"], "Kritis",
        "{rest}"
    );
    let v1 = c
        .call(
            "/grafeas.v1.Grafeas/GetNote",
            json!({"name": format!("projects/{P}/notes/kritis-authority")}),
        )
        .unwrap();
    assert_eq!(
        v1["attestation"]["hint"]["humanReadableName"], "Kritis",
        "{v1}"
    );

    // A v1beta1 generic signed attestation on an image.
    let image = format!("gcr.io/{P}/app@{}", digest("wire"));
    let occ = c
        .call(
            "/grafeas.v1beta1.GrafeasV1Beta1/CreateOccurrence",
            json!({"parent": format!("projects/{P}"), "occurrence": {
                "resource": {"uri": format!("https://{image}")},
                "noteName": format!("projects/{P}/notes/kritis-authority"),
                "attestation": {"attestation": {"genericSignedAttestation": {
                    "contentType": "SIMPLE_SIGNING_JSON",
                    "serializedPayload": b64(b"{\"critical\":{}}"),
                    "signatures": [{"publicKeyId": "//ci/key", "signature": b64(b"sig")}]}}}}}),
        )
        .unwrap();
    let name = occ["name"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("projects/{P}/occurrences/")),
        "{occ}"
    );
    let listed = c
        .call(
            "/grafeas.v1beta1.GrafeasV1Beta1/ListOccurrences",
            json!({"parent": format!("projects/{P}"), "filter": format!("resourceUrl=\"https://{image}\"")}),
        )
        .unwrap();
    assert_eq!(
        listed["occurrences"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    assert_eq!(
        listed["occurrences"][0]["attestation"]["attestation"]["genericSignedAttestation"]["signatures"]
            [0]["publicKeyId"],
        "//ci/key"
    );
    // Over REST v1: the same attestation.
    let rest = s.curl("GET", &format!("/v1/{name}"), None);
    assert_eq!(
        rest["attestation"]["signatures"][0]["publicKeyId"], "//ci/key",
        "{rest}"
    );
    // The note's occurrences, and its IAM policy through Container Analysis v1beta1.
    let of_note = c
        .call(
            "/grafeas.v1beta1.GrafeasV1Beta1/ListNoteOccurrences",
            json!({"name": format!("projects/{P}/notes/kritis-authority")}),
        )
        .unwrap();
    assert_eq!(of_note["occurrences"].as_array().unwrap().len(), 1);
    let iam = c
        .call(
            "/google.devtools.containeranalysis.v1beta1.ContainerAnalysisV1Beta1/GetIamPolicy",
            json!({"resource": format!("projects/{P}/notes/kritis-authority")}),
        )
        .unwrap();
    assert!(iam["etag"].is_string(), "{iam}");

    // Deleted over gRPC, gone over REST; a second delete is NOT_FOUND with its detail.
    c.call(
        "/grafeas.v1beta1.GrafeasV1Beta1/DeleteOccurrence",
        json!({"name": name}),
    )
    .unwrap();
    let (code, _) = s.call("GET", &format!("/v1/{name}"), None);
    assert_eq!(code, 404);
    let (code, message, details) = c
        .call(
            "/grafeas.v1beta1.GrafeasV1Beta1/DeleteOccurrence",
            json!({"name": name}),
        )
        .unwrap_err();
    assert_eq!(code, tonic::Code::NotFound);
    assert_eq!(details["code"], 5, "{details}");
    assert_eq!(details["message"], message.as_str());
    // A request without the resource it names is refused before any REST call.
    let (code, message, _) = c
        .call("/grafeas.v1beta1.GrafeasV1Beta1/GetNote", json!({}))
        .unwrap_err();
    assert_eq!(code, tonic::Code::InvalidArgument, "{message}");
    assert!(message.contains("name: required"), "{message}");
    // A name of another kind is refused too: it would route to another REST method.
    let (code, message, _) = c
        .call(
            "/grafeas.v1beta1.GrafeasV1Beta1/GetNote",
            json!({"name": format!("projects/{P}/occurrences/x")}),
        )
        .unwrap_err();
    assert_eq!(code, tonic::Code::InvalidArgument, "{message}");
    assert!(
        message.contains("is not of the form projects/*/notes/*"),
        "{message}"
    );
}
