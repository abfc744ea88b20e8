//! The transcoder: a gRPC method's request, decoded with the published descriptors, becomes
//! the REST call its `google.api.http` rule names; the REST answer becomes its response.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
    Value as PValue,
};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tower::ServiceExt as _;

use crate::GrpcError;
use crate::rule::{self, Rule};

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The largest REST answer read back (a page of occurrences is far below it).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Every service served, by its full name.
pub(crate) const SERVICES: [&str; 11] = [
    "google.cloud.binaryauthorization.v1.BinauthzManagementServiceV1",
    "google.cloud.binaryauthorization.v1.SystemPolicyV1",
    "google.cloud.binaryauthorization.v1.ValidationHelperV1",
    "google.cloud.binaryauthorization.v1beta1.BinauthzManagementServiceV1Beta1",
    "google.cloud.binaryauthorization.v1beta1.SystemPolicyV1Beta1",
    "grafeas.v1.Grafeas",
    "grafeas.v1beta1.GrafeasV1Beta1",
    "google.devtools.containeranalysis.v1beta1.ContainerAnalysisV1Beta1",
    "google.devtools.containeranalysis.v1.ContainerAnalysis",
    "google.cloud.kms.v1.KeyManagementService",
    "google.iam.v1.IAMPolicy",
];

#[derive(Debug)]
struct Route {
    rule: Rule,
    input: MessageDescriptor,
    output: MessageDescriptor,
}

#[derive(Debug)]
struct Inner {
    pool: DescriptorPool,
    routes: HashMap<String, Route>,
    /// The routes' paths, sorted (the fuzz target picks a method by index).
    order: Vec<String>,
    app: axum::Router,
}

/// Every unary method of [`SERVICES`] with an http rule, over the REST router `app`.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

fn code_of(status: &str, http: StatusCode) -> Code {
    match status {
        "CANCELLED" => Code::Cancelled,
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
        "NOT_FOUND" => Code::NotFound,
        "ALREADY_EXISTS" => Code::AlreadyExists,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "RESOURCE_EXHAUSTED" => Code::ResourceExhausted,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        "ABORTED" => Code::Aborted,
        "OUT_OF_RANGE" => Code::OutOfRange,
        "UNIMPLEMENTED" => Code::Unimplemented,
        "UNAVAILABLE" => Code::Unavailable,
        "DATA_LOSS" => Code::DataLoss,
        "UNAUTHENTICATED" => Code::Unauthenticated,
        "INTERNAL" => Code::Internal,
        _ => match http {
            StatusCode::BAD_REQUEST => Code::InvalidArgument,
            StatusCode::UNAUTHORIZED => Code::Unauthenticated,
            StatusCode::FORBIDDEN => Code::PermissionDenied,
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::CONFLICT => Code::Aborted,
            StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
            StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            _ => Code::Unknown,
        },
    }
}

impl Gateway {
    /// Loads the descriptors and the routes; `app` answers the REST calls.
    pub fn new(app: axum::Router) -> Result<Self, GrpcError> {
        let pool = DescriptorPool::decode(DESCRIPTORS)
            .map_err(|e| GrpcError::Descriptors(e.to_string()))?;
        let mut routes = HashMap::new();
        for name in SERVICES {
            let svc = pool
                .get_service_by_name(name)
                .ok_or_else(|| GrpcError::Descriptors(format!("no service {name}")))?;
            for m in svc.methods() {
                if m.is_client_streaming() || m.is_server_streaming() {
                    continue;
                }
                let Some(rule) = rule::rule_of(&m) else {
                    continue;
                };
                routes.insert(
                    format!("/{}/{}", svc.full_name(), m.name()),
                    Route {
                        rule,
                        input: m.input(),
                        output: m.output(),
                    },
                );
            }
        }
        let mut order: Vec<String> = routes.keys().cloned().collect();
        order.sort();
        Ok(Gateway {
            inner: Arc::new(Inner {
                pool,
                routes,
                order,
                app,
            }),
        })
    }

    /// A gateway with no REST API behind it, for [`Gateway::inspect`].
    #[doc(hidden)]
    pub fn detached() -> Result<Self, GrpcError> {
        Self::new(axum::Router::new())
    }

    /// What the network reaches before any REST call, exposed for the fuzz target (`fuzz/`):
    /// the request bytes of the `index`-th method (modulo their number) decoded and transcoded
    /// into the REST call, rendered as text; or the refusal.
    #[doc(hidden)]
    pub fn inspect(&self, index: usize, body: &[u8]) -> Result<String, String> {
        let n = self.inner.order.len();
        let path = self.inner.order.get(index % n.max(1)).ok_or("no method")?;
        let route = &self.inner.routes[path];
        let (uri, json) = Self::transcode(route, body).map_err(|s| s.message().to_owned())?;
        Ok(format!(
            "{} {uri} {}",
            route.rule.verb,
            json.unwrap_or_default()
        ))
    }

    /// The REST call a request makes: its URI and JSON body.
    fn transcode(
        route: &Route,
        body: &[u8],
    ) -> Result<(String, Option<serde_json::Value>), Status> {
        let msg = DynamicMessage::decode(route.input.clone(), body)
            .map_err(|e| Status::invalid_argument(format!("the request does not decode: {e}")))?;
        let json = msg
            .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
            .map_err(|e| Status::internal(e.to_string()))?;
        rule::call(&route.rule, &route.input, json)
    }

    /// The descriptors the gateway serves, for clients that build messages at run time (the
    /// tests' and benchmarks' gRPC callers).
    pub fn descriptors() -> Result<DescriptorPool, GrpcError> {
        DescriptorPool::decode(DESCRIPTORS).map_err(|e| GrpcError::Descriptors(e.to_string()))
    }

    /// How many methods are served.
    pub fn methods(&self) -> usize {
        self.inner.routes.len()
    }

    /// One unary call: `path` is `/package.Service/Method`.
    pub(crate) async fn unary(
        &self,
        path: &str,
        metadata: &MetadataMap,
        body: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let route = self
            .inner
            .routes
            .get(path)
            .ok_or_else(|| Status::unimplemented(format!("{path} is not served by admit")))?;
        let (uri, json_body) = Self::transcode(route, body)?;
        let mut req = Request::builder()
            .method(route.rule.verb.clone())
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        // The caller's credentials, and its W3C trace context for the server's spans.
        for name in ["authorization", "traceparent", "tracestate"] {
            if let Some(v) = metadata.get(name).and_then(|v| v.to_str().ok()) {
                req = req.header(name, v);
            }
        }
        let body = match &json_body {
            Some(b) => {
                Body::from(serde_json::to_vec(b).map_err(|e| Status::internal(e.to_string()))?)
            }
            None => Body::empty(),
        };
        let req = req
            .body(body)
            .map_err(|e| Status::internal(e.to_string()))?;
        let resp = match self.inner.app.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), MAX_ANSWER)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        if status.is_success() {
            let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else {
                &bytes
            };
            let mut de = serde_json::Deserializer::from_slice(text);
            let out = DynamicMessage::deserialize_with_options(
                route.output.clone(),
                &mut de,
                &DeserializeOptions::new().deny_unknown_fields(false),
            )
            .map_err(|e| {
                Status::internal(format!(
                    "the answer does not fit {}: {e}",
                    route.output.full_name()
                ))
            })?;
            return Ok(out.encode_to_vec());
        }
        let err: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let message = err["error"]["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_owned,
        );
        let code = code_of(err["error"]["status"].as_str().unwrap_or_default(), status);
        Err(self.status(code, message))
    }

    /// A gRPC status whose details carry the same `google.rpc.Status`.
    fn status(&self, code: Code, message: String) -> Status {
        let details = self
            .inner
            .pool
            .get_message_by_name("google.rpc.Status")
            .map(|d| {
                let mut s = DynamicMessage::new(d);
                s.set_field_by_name("code", PValue::I32(code as i32));
                s.set_field_by_name("message", PValue::String(message.clone()));
                s.encode_to_vec()
            })
            .unwrap_or_default();
        Status::with_details(code, message, details.into())
    }
}
