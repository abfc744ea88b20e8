//! The gRPC listener: one tonic service per served service name, all handled by the gateway.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http;
use tonic::body::Body;
use tonic::server::{NamedService, UnaryService};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::codec::RawCodec;
use crate::{Gateway, GrpcError};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One unary call of `path`.
struct Unary {
    gateway: Gateway,
    path: String,
}

impl UnaryService<Vec<u8>> for Unary {
    type Response = Vec<u8>;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let gateway = self.gateway.clone();
        let path = self.path.clone();
        Box::pin(async move {
            let out = gateway
                .unary(&path, request.metadata(), request.get_ref())
                .await?;
            Ok(Response::new(out))
        })
    }
}

fn handle(
    gateway: Gateway,
    req: http::Request<Body>,
) -> BoxFuture<Result<http::Response<Body>, Infallible>> {
    Box::pin(async move {
        let path = req.uri().path().to_owned();
        let mut grpc = tonic::server::Grpc::new(RawCodec);
        Ok(grpc.unary(Unary { gateway, path }, req).await)
    })
}

macro_rules! services {
    ($($ty:ident => $name:literal),* $(,)?) => {
        $(
            #[derive(Debug, Clone)]
            struct $ty(Gateway);

            impl NamedService for $ty {
                const NAME: &'static str = $name;
            }

            impl tower::Service<http::Request<Body>> for $ty {
                type Response = http::Response<Body>;
                type Error = Infallible;
                type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

                fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                    Poll::Ready(Ok(()))
                }

                fn call(&mut self, req: http::Request<Body>) -> Self::Future {
                    handle(self.0.clone(), req)
                }
            }
        )*
    };
}

services! {
    BinauthzV1 => "google.cloud.binaryauthorization.v1.BinauthzManagementServiceV1",
    SystemPolicyV1 => "google.cloud.binaryauthorization.v1.SystemPolicyV1",
    ValidationHelperV1 => "google.cloud.binaryauthorization.v1.ValidationHelperV1",
    BinauthzV1Beta1 => "google.cloud.binaryauthorization.v1beta1.BinauthzManagementServiceV1Beta1",
    SystemPolicyV1Beta1 => "google.cloud.binaryauthorization.v1beta1.SystemPolicyV1Beta1",
    Grafeas => "grafeas.v1.Grafeas",
    GrafeasV1Beta1 => "grafeas.v1beta1.GrafeasV1Beta1",
    ContainerAnalysisV1Beta1 => "google.devtools.containeranalysis.v1beta1.ContainerAnalysisV1Beta1",
    ContainerAnalysis => "google.devtools.containeranalysis.v1.ContainerAnalysis",
    Kms => "google.cloud.kms.v1.KeyManagementService",
    Iam => "google.iam.v1.IAMPolicy",
}

/// TLS material for a listener that is not on loopback: PEM certificate chain and key.
#[derive(Debug, Clone)]
pub struct Tls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Serves every service on `listener` until `shutdown` resolves: cleartext HTTP/2, or TLS
/// when `tls` is given.
pub async fn serve(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), GrpcError> {
    let mut builder = Server::builder();
    if let Some(t) = tls {
        let identity = tonic::transport::Identity::from_pem(t.cert_pem, t.key_pem);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| GrpcError::Serve(e.to_string()))?;
    }
    let g = gateway;
    builder
        .add_service(BinauthzV1(g.clone()))
        .add_service(SystemPolicyV1(g.clone()))
        .add_service(ValidationHelperV1(g.clone()))
        .add_service(BinauthzV1Beta1(g.clone()))
        .add_service(SystemPolicyV1Beta1(g.clone()))
        .add_service(Grafeas(g.clone()))
        .add_service(GrafeasV1Beta1(g.clone()))
        .add_service(ContainerAnalysisV1Beta1(g.clone()))
        .add_service(ContainerAnalysis(g.clone()))
        .add_service(Kms(g.clone()))
        .add_service(Iam(g))
        // TCP_NODELAY: a response in two segments must not wait for a delayed ACK (40 ms).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .map_err(|e| GrpcError::Serve(e.to_string()))
}
